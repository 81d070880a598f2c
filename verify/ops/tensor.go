package ops

import (
	"encoding/binary"
	"math"
	"unsafe"

	"github.com/gnconv/gnconv/internal/onnxpb"
	"github.com/gnconv/gnconv/tensor"
)

// TensorValue decodes an initializer or a Constant's value. Its values
// must be in the message itself, so their count is bounded by the file's
// size; no dimension or product may exceed maxElements.
func TensorValue(t *onnxpb.TensorProto, maxElements int64) (*Value, error) {
	if t.GetDataLocation() == onnxpb.TensorProto_EXTERNAL || len(t.ExternalData) > 0 {
		return nil, errorf("external data is not supported")
	}
	ext := make([]int64, len(t.Dims))
	for i, d := range t.Dims {
		ext[i] = max(d, 1)
		if d < 0 {
			ext[i] = -1
		}
	}
	n64, ok := Elements64(t.Dims)
	if e, eok := Elements64(ext); !ok || !eok || e > maxElements || len(t.Dims) > maxRank {
		return nil, errorf("invalid or too large dimensions %v (at most %d elements)", t.Dims, maxElements)
	}
	v := &Value{Shape: make([]int, len(t.Dims))}
	for i, d := range t.Dims {
		v.Shape[i] = int(d)
	}
	n := int(n64)
	raw := t.GetRawData()
	switch onnxpb.TensorProto_DataType(t.GetDataType()) {
	case onnxpb.TensorProto_FLOAT:
		switch {
		case raw != nil:
			if len(raw) != 4*n {
				return nil, errorf("raw_data has %d bytes for %d float32 values", len(raw), n)
			}
			if n > 0 && tensor.NativeLittleEndian && uintptr(unsafe.Pointer(&raw[0]))%4 == 0 {
				// the decoded message owns raw: read it in place
				v.F = unsafe.Slice((*float32)(unsafe.Pointer(&raw[0])), n)
				break
			}
			v.F = make([]float32, n)
			for i := range v.F {
				v.F[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			}
		case len(t.FloatData) == n:
			v.F = make([]float32, n)
			copy(v.F, t.FloatData)
		default:
			return nil, errorf("%d float values for %d elements", len(t.FloatData), n)
		}
	case onnxpb.TensorProto_FLOAT16:
		if raw == nil {
			// int32_data holds one float16's bits per element
			if len(t.Int32Data) != n {
				return nil, errorf("%d float16 values for %d elements", len(t.Int32Data), n)
			}
			raw = make([]byte, 2*n)
			for i, x := range t.Int32Data {
				if x < 0 || x > 0xffff {
					return nil, errorf("int32_data holds %d, not float16 bits", x)
				}
				binary.LittleEndian.PutUint16(raw[2*i:], uint16(x))
			}
		}
		if len(raw) != 2*n {
			return nil, errorf("raw_data has %d bytes for %d float16 values", len(raw), n)
		}
		v.Half, v.F = true, make([]float32, n)
		for i := range v.F {
			v.F[i] = tensor.HalfToFloat32(binary.LittleEndian.Uint16(raw[2*i:]))
		}
	case onnxpb.TensorProto_INT64:
		v.Int = true
		switch {
		case raw != nil:
			if len(raw) != 8*n {
				return nil, errorf("raw_data has %d bytes for %d int64 values", len(raw), n)
			}
			v.I = make([]int64, n)
			for i := range v.I {
				v.I[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
			}
		case len(t.Int64Data) == n:
			v.I = append([]int64{}, t.Int64Data...)
		default:
			return nil, errorf("%d int64 values for %d elements", len(t.Int64Data), n)
		}
	case onnxpb.TensorProto_INT32:
		v.Int = true
		if (raw != nil && len(raw) != 4*n) || (raw == nil && len(t.Int32Data) != n) {
			return nil, errorf("%d bytes or %d int32 values for %d elements", len(raw), len(t.Int32Data), n)
		}
		v.I = make([]int64, n)
		if raw != nil {
			for i := range v.I {
				v.I[i] = int64(int32(binary.LittleEndian.Uint32(raw[4*i:])))
			}
		} else {
			for i, x := range t.Int32Data {
				v.I[i] = int64(x)
			}
		}
	case onnxpb.TensorProto_INT8, onnxpb.TensorProto_UINT8:
		// one byte each in raw_data, or one value per int32_data entry
		signed := onnxpb.TensorProto_DataType(t.GetDataType()) == onnxpb.TensorProto_INT8
		v.Int, v.Int8, v.Byte = true, signed, !signed
		if (raw != nil && len(raw) != n) || (raw == nil && len(t.Int32Data) != n) {
			return nil, errorf("%d bytes or %d int32 values for %d elements", len(raw), len(t.Int32Data), n)
		}
		v.I = make([]int64, n)
		lo, hi := int64(0), int64(255)
		if signed {
			lo, hi = -128, 127
		}
		for i := range v.I {
			switch {
			case raw != nil && signed:
				v.I[i] = int64(int8(raw[i]))
			case raw != nil:
				v.I[i] = int64(raw[i])
			default:
				x := int64(t.Int32Data[i])
				if x < lo || x > hi {
					return nil, errorf("int32_data holds %d, out of the type's range", x)
				}
				v.I[i] = x
			}
		}
	default:
		return nil, errorf("data type %s is not supported (float32, float16, int64, int32, int8 and uint8 are)", onnxpb.TensorProto_DataType(t.GetDataType()))
	}
	return v, nil
}
