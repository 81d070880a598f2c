package ops

import "math"

// Softmax along axis (default -1 from opset 13, 1 before, when it
// normalises over every axis from axis on).
var Softmax = &Op{
	Attrs: map[string]AttrKind{"axis": aInt},
	MinIn: 1, MaxIn: 1, MaxOut: 1,
	Shape: func(c *Ctx, a Attrs, in []*Value) ([]int, error) {
		x := in[0]
		if err := floatInput(x, "Softmax input"); err != nil {
			return nil, err
		}
		if _, err := normAxis(a.Int("axis", softmaxAxis(c.Opset)), len(x.Shape)); err != nil {
			return nil, errorf("Softmax: %w", err)
		}
		return x.Shape, c.work(3 * int64(len(x.F)))
	},
	Run: func(c *Ctx, a Attrs, in []*Value, _ []int) (*Value, error) {
		x := in[0]
		axis, _ := normAxis(a.Int("axis", softmaxAxis(c.Opset)), len(x.Shape))
		outer, n, inner := numel(x.Shape[:axis]), x.Shape[axis], numel(x.Shape[axis+1:])
		if c.Opset < 13 {
			n, inner = numel(x.Shape[axis:]), 1
		}
		out := &Value{Shape: x.Shape, F: make([]float32, len(x.F))}
		for o := 0; o < outer; o++ {
			for i := 0; i < inner; i++ {
				base := o*n*inner + i
				m := math.Inf(-1)
				for j := 0; j < n; j++ {
					m = math.Max(m, float64(x.F[base+j*inner]))
				}
				s := 0.0
				for j := 0; j < n; j++ {
					s += math.Exp(float64(x.F[base+j*inner]) - m)
				}
				for j := 0; j < n; j++ {
					out.F[base+j*inner] = float32(math.Exp(float64(x.F[base+j*inner])-m) / s)
				}
			}
		}
		return out, nil
	},
	Batch: func(n *BatchNode) (BatchInfo, bool) {
		return BatchInfo{true, n.Ins[0].Rank}, n.OnlyFirst() && NotBatchAxis(n.Attrs.Int("axis", softmaxAxis(n.Opset)), n.Ins[0].Rank)
	},
}

func softmaxAxis(opset int) int64 {
	if opset < 13 {
		return 1
	}
	return -1
}
