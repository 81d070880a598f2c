package ops

import "github.com/gnconv/gnconv/internal/kernels"

// LRN normalises across size neighbouring channels.
var LRN = &Op{
	Attrs: map[string]AttrKind{"size": aInt, "alpha": aFloat, "beta": aFloat, "bias": aFloat},
	MinIn: 1, MaxIn: 1, MaxOut: 1,
	Check: func(a Attrs, _, _ int) error {
		if s, ok := a["size"]; !ok || s.GetI() <= 0 || s.GetI() > maxWindow {
			return errorf("LRN needs a positive size")
		}
		return nil
	},
	Shape: func(c *Ctx, a Attrs, in []*Value) ([]int, error) {
		x := in[0]
		if err := floatInput(x, "LRN input"); err != nil {
			return nil, err
		}
		if len(x.Shape) < 2 {
			return nil, errorf("LRN: input %v has no channel axis", x.Shape)
		}
		return x.Shape, c.work(workOf(int64(len(x.F)), min(a.Int("size", 1), int64(x.Shape[1]))+1))
	},
	Run: func(c *Ctx, a Attrs, in []*Value, _ []int) (*Value, error) {
		x := in[0]
		out := &Value{Shape: x.Shape, F: make([]float32, len(x.F))}
		kernels.LRN(x.F, x.Shape[0], x.Shape[1], numel(x.Shape[2:]), int(a.Int("size", 0)),
			a.Float("alpha", 1e-4), a.Float("beta", 0.75), a.Float("bias", 1), out.F)
		return out, nil
	},
	Batch: sameBatch,
}
