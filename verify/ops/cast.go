package ops

import "github.com/gnconv/gnconv/internal/onnxpb"

// Cast converts between float32 and the integer types (int32 values are
// held as int64); float to integer truncates toward zero.
var Cast = &Op{
	Attrs: map[string]AttrKind{"to": aInt, "saturate": aInt},
	MinIn: 1, MaxIn: 1, MaxOut: 1,
	Check: func(a Attrs, _, _ int) error {
		switch onnxpb.TensorProto_DataType(a.Int("to", 0)) {
		case onnxpb.TensorProto_FLOAT, onnxpb.TensorProto_INT64, onnxpb.TensorProto_INT32:
			return nil
		}
		return errorf("Cast to %s is not supported (float32, int64 and int32 are)", onnxpb.TensorProto_DataType(a.Int("to", 0)))
	},
	Shape: sameShape,
	Run: func(_ *Ctx, a Attrs, in []*Value, _ []int) (*Value, error) {
		x := in[0]
		to := onnxpb.TensorProto_DataType(a.Int("to", 0))
		if to == onnxpb.TensorProto_FLOAT {
			if !x.Int {
				return x, nil
			}
			out := &Value{Shape: x.Shape, F: make([]float32, len(x.I))}
			for i, v := range x.I {
				out.F[i] = float32(v)
			}
			return out, nil
		}
		out := &Value{Shape: x.Shape, Int: true}
		if x.Int {
			out.I = x.I
		} else {
			out.I = make([]int64, len(x.F))
			for i, v := range x.F {
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
