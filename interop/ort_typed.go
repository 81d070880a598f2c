package interop

import (
	"encoding/binary"
	"fmt"

	"github.com/gnconv/gnconv/internal/half"
	"github.com/gnconv/gnconv/tensor"
	ort "github.com/yalue/onnxruntime_go"
)

// Elem is an input's or output's element type in RunTyped.
type Elem int

// Element types RunTyped passes and reads.
const (
	Float32 Elem = iota
	Float16      // given and returned as float32 values, rounded to float16 on the way in
	Uint8        // given and returned as float32 whole numbers 0 to 255
)

// Typed is one input or output of RunTyped.
type Typed struct {
	Elem  Elem
	Shape []int64
	Data  []float32
}

// RunTyped runs the model on inputs of the types given and returns each
// output, whose types and shapes the caller states (outputs are made
// before the run: onnxruntime_go copies an output it allocates itself by
// its element count, not its bytes, which loses half of a float16 one).
func (s *Session) RunTyped(ins []Typed, outs []Typed) ([][]float32, error) {
	values := make([]ort.Value, len(ins))
	for i, in := range ins {
		v, err := typedValue(in)
		if err != nil {
			return nil, fmt.Errorf("input %d: %w", i, err)
		}
		defer v.Destroy()
		values[i] = v
	}
	outValues := make([]ort.Value, len(outs))
	for i, o := range outs {
		n := int64(1)
		for _, d := range o.Shape {
			n *= d
		}
		var v ort.Value
		var err error
		switch o.Elem {
		case Float32:
			v, err = ort.NewEmptyTensor[float32](ort.NewShape(o.Shape...))
		case Float16:
			v, err = ort.NewCustomDataTensor(ort.NewShape(o.Shape...), make([]byte, 2*n), ort.TensorElementDataTypeFloat16)
		case Uint8:
			v, err = ort.NewEmptyTensor[uint8](ort.NewShape(o.Shape...))
		default:
			err = fmt.Errorf("unknown element type %d", o.Elem)
		}
		if err != nil {
			return nil, fmt.Errorf("output %d: %w", i, err)
		}
		defer v.Destroy()
		outValues[i] = v
	}
	if err := s.s.Run(values, outValues); err != nil {
		return nil, err
	}
	res := make([][]float32, len(outs))
	for i, v := range outValues {
		switch t := v.(type) {
		case *ort.Tensor[float32]:
			res[i] = append([]float32(nil), t.GetData()...)
		case *ort.Tensor[uint8]:
			res[i] = make([]float32, len(t.GetData()))
			for j, b := range t.GetData() {
				res[i][j] = float32(b)
			}
		case *ort.CustomDataTensor:
			b := t.GetData()
			res[i] = make([]float32, len(b)/2)
			for j := range res[i] {
				res[i][j] = tensor.HalfToFloat32(binary.LittleEndian.Uint16(b[2*j:]))
			}
		}
	}
	return res, nil
}

func typedValue(in Typed) (ort.Value, error) {
	shape := ort.NewShape(in.Shape...)
	switch in.Elem {
	case Float32:
		return ort.NewTensor(shape, in.Data)
	case Float16:
		b := make([]byte, 2*len(in.Data))
		for i, x := range in.Data {
			binary.LittleEndian.PutUint16(b[2*i:], half.FromFloat32(x))
		}
		return ort.NewCustomDataTensor(shape, b, ort.TensorElementDataTypeFloat16)
	case Uint8:
		px := make([]uint8, len(in.Data))
		for i, x := range in.Data {
			if x < 0 || x > 255 || x != float32(int(x)) {
				return nil, fmt.Errorf("value %d is not a uint8", i)
			}
			px[i] = uint8(x)
		}
		return ort.NewTensor(shape, px)
	}
	return nil, fmt.Errorf("unknown element type %d", in.Elem)
}
