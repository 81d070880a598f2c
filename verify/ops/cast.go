package ops

import (
	"math"

	"github.com/gnconv/gnconv/internal/half"
	"github.com/gnconv/gnconv/internal/onnxpb"
)

// Cast converts between float32, float16 and the integer types (int32
// values are held as int64), and from uint8; float to integer truncates
// toward zero, float to float16 rounds to nearest even. The output is
// always a new Value: the input's type flags must not change under a
// reader that still holds it.
var Cast = &Op{
	Attrs: map[string]AttrKind{"to": aInt, "saturate": aInt},
	MinIn: 1, MaxIn: 1, MaxOut: 1,
	Check: func(a Attrs, _, _ int) error {
		switch onnxpb.TensorProto_DataType(a.Int("to", 0)) {
		case onnxpb.TensorProto_FLOAT, onnxpb.TensorProto_FLOAT16, onnxpb.TensorProto_INT64, onnxpb.TensorProto_INT32:
			return nil
		}
		return errorf("Cast to %s is not supported (float32, float16, int64 and int32 are)", onnxpb.TensorProto_DataType(a.Int("to", 0)))
	},
	Shape: sameShape,
	Run: func(_ *Ctx, a Attrs, in []*Value, _ []int) (*Value, error) {
		x := in[0]
		to := onnxpb.TensorProto_DataType(a.Int("to", 0))
		if to == onnxpb.TensorProto_FLOAT || to == onnxpb.TensorProto_FLOAT16 {
			out := &Value{Shape: x.Shape, Half: to == onnxpb.TensorProto_FLOAT16}
			switch {
			case x.Int:
				out.F = make([]float32, len(x.I))
				for i, v := range x.I {
					out.F[i] = float32(v)
					if out.Half {
						out.F[i] = half.Round(out.F[i])
					}
				}
			case out.Half && !x.Half:
				out.F = make([]float32, len(x.F))
				for i, v := range x.F {
					out.F[i] = half.Round(v)
				}
			default:
				// float16 to float32 is exact, and a cast to the same type
				// changes nothing: the values are shared, whole
				out.F = x.F
			}
			return out, nil
		}
		out := &Value{Shape: x.Shape, Int: true}
		if x.Int {
			out.I = x.I
		} else {
			out.I = make([]int64, len(x.F))
			for i, v := range x.F {
				if math.IsNaN(float64(v)) || math.Abs(float64(v)) >= 1<<63 {
					return nil, errorf("Cast: %g does not fit int64", v)
				}
				out.I[i] = int64(v)
			}
		}
		if to == onnxpb.TensorProto_INT32 {
			for _, v := range out.I {
				if v != int64(int32(v)) {
					return nil, errorf("Cast: %d does not fit int32", v)
				}
			}
		}
		return out, nil
	},
	Batch: sameBatch,
}
