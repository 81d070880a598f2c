package ops

import "github.com/gnconv/gnconv/internal/kernels"

// Relu is max(x, 0).
var Relu = &Op{
	MinIn: 1, MaxIn: 1, MaxOut: 1,
	Shape: func(c *Ctx, _ Attrs, in []*Value) ([]int, error) {
		if err := floatInput(in[0], "Relu input"); err != nil {
			return nil, err
		}
		return in[0].Shape, c.work(int64(len(in[0].F)))
	},
	Run: func(c *Ctx, _ Attrs, in []*Value, shape []int) (*Value, error) {
		out := &Value{Shape: shape, F: c.floats(len(in[0].F))}
		copy(out.F, in[0].F)
		kernels.ReLU(out.F)
		return out, nil
	},
	Batch: sameBatch,
}
