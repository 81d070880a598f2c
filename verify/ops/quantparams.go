package ops

import (
	"math"

	"github.com/gnconv/gnconv/internal/kernels"
)

// The scale and zero point shared by QuantizeLinear and DequantizeLinear:
// one pair for the whole tensor, or (opset 13 on) one per index of axis.

// quantAxis is where a node's scale applies: per is the number of
// scales (1: per tensor), and each value's scale is its index along
// axis, found as (i / inner) % per.
type quantAxis struct {
	per, inner int
}

// eachBlock runs f over the blocks of one scale in a tensor of n values
// (block b is values [b·inner, (b+1)·inner), of channel b % per), the
// blocks shared out over the cores.
func (q quantAxis) eachBlock(n int, f func(lo, hi, ch int)) {
	kernels.Parallel(n/max(q.inner, 1), 1, func(bl, bh int) {
		for b := bl; b < bh; b++ {
			f(b*q.inner, (b+1)*q.inner, b%q.per)
		}
	})
}

// quantParams checks x's scale and zero point (absent: nil) and where
// they apply. Scales must be float32, finite and positive: a zero or
// negative scale makes infinities or flips signs, which no file gnconv
// writes has and which verify would rather refuse than run.
func quantParams(c *Ctx, a Attrs, x, scale, zero *Value, op string) (quantAxis, error) {
	if scale.Int || scale.Half {
		return quantAxis{}, errorf("%s: the scale must be float32", op)
	}
	q := quantAxis{per: 1, inner: 1}
	switch {
	case len(scale.Shape) == 0, len(scale.Shape) == 1 && scale.Shape[0] == 1:
	case len(scale.Shape) == 1:
		if c.Opset < 13 {
			return q, errorf("%s: a per-axis scale needs opset 13", op)
		}
		axis, err := normAxis(a.Int("axis", 1), len(x.Shape))
		if err != nil {
			return q, errorf("%s: %w", op, err)
		}
		if x.Shape[axis] != scale.Shape[0] {
			return q, errorf("%s: %d scales for axis %d of shape %v", op, scale.Shape[0], axis, x.Shape)
		}
		q.per, q.inner = scale.Shape[0], numel(x.Shape[axis+1:])
	default:
		return q, errorf("%s: the scale has shape %v, not a scalar or one value per index of an axis", op, scale.Shape)
	}
	if len(scale.F) != q.per {
		return q, errorf("%s: %d scale values for shape %v", op, len(scale.F), scale.Shape)
	}
	for _, s := range scale.F {
		if !(s > 0) || math.IsInf(float64(s), 0) {
			return q, errorf("%s: a scale is zero, negative or not finite", op)
		}
	}
	if zero != nil {
		if !zero.Int || len(zero.Shape) != len(scale.Shape) || len(zero.I) != q.per {
			return q, errorf("%s: the zero point must be an integer tensor of the scale's shape %v", op, scale.Shape)
		}
	}
	return q, c.work(2 * int64(x.Numel()))
}

// quantRange is the range of a quantized type: the zero point's, uint8
// when there is none (as ONNX says).
func quantRange(zero *Value) (lo, hi int64, signed bool) {
	if zero != nil && zero.Int8 {
		return -128, 127, true
	}
	return 0, 255, false
}

// quantBatch is the batch rule of both: each image on its own unless the
// scales run along the batch axis.
func quantBatch(n *BatchNode) (BatchInfo, bool) {
	return BatchInfo{true, n.Ins[0].Rank}, n.OnlyFirst() && NotBatchAxis(n.Attrs.Int("axis", 1), n.Ins[0].Rank)
}
