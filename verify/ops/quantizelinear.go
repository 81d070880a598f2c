package ops

import (
	"math"
	"sync/atomic"
)

// QuantizeLinear is saturate(round(x / scale) + zero_point), rounding
// half to even, in uint8 or int8 as the zero point is (uint8 without
// one). x / scale is a float32 division, as onnxruntime computes it. A
// NaN is an error: quantized, it would become an ordinary number and a
// broken file's NaNs would pass unseen.
var QuantizeLinear = &Op{
	Attrs: map[string]AttrKind{"axis": aInt},
	MinIn: 2, MaxIn: 3, MaxOut: 1,
	Shape: func(c *Ctx, a Attrs, in []*Value) ([]int, error) {
		x := in[0]
		if err := floatInput(x, "QuantizeLinear input"); err != nil {
			return nil, err
		}
		zero := optional(in, 2)
		if zero != nil && !zero.Byte && !zero.Int8 {
			return nil, errorf("QuantizeLinear: the zero point must be uint8 or int8")
		}
		_, err := quantParams(c, a, x, in[1], zero, "QuantizeLinear")
		return x.Shape, err
	},
	Run: func(c *Ctx, a Attrs, in []*Value, shape []int) (*Value, error) {
		x, scale, zero := in[0], in[1], optional(in, 2)
		q, err := quantParams(&Ctx{Opset: c.Opset}, a, x, scale, zero, "QuantizeLinear")
		if err != nil {
			return nil, err
		}
		qlo, qhi, signed := quantRange(zero)
		out := &Value{Shape: shape, I: make([]int64, len(x.F)), Int: true, Int8: signed, Byte: !signed}
		var nan atomic.Int64
		nan.Store(-1)
		q.eachBlock(len(x.F), func(lo, hi, ch int) {
			zp, s := int64(0), scale.F[ch]
			if zero != nil {
				zp = zero.I[ch]
			}
			// clamped to the range about the zero point before rounding
			// (the bounds are whole numbers, so it saturates the same),
			// which also converts an infinity safely
			fl, fh := float32(qlo-zp), float32(qhi-zp)
			dst := out.I[lo:hi]
			for i, v := range x.F[lo:hi] {
				r := v / s
				if r != r {
					nan.CompareAndSwap(-1, int64(lo+i))
					return
				}
				dst[i] = int64(math.RoundToEven(float64(min(max(r, fl), fh)))) + zp
			}
		})
		if i := nan.Load(); i >= 0 {
			return nil, errorf("QuantizeLinear: value %d is NaN", i)
		}
		return out, nil
	},
	Batch: quantBatch,
}

// optional is input i when the node gives it.
func optional(in []*Value, i int) *Value {
	if i < len(in) {
		return in[i]
	}
	return nil
}
