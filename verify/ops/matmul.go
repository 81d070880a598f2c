package ops

import "github.com/gnconv/gnconv/internal/kernels"

// MatMul of two matrices (2-D operands only).
var MatMul = &Op{
	MinIn: 2, MaxIn: 2, MaxOut: 1,
	Shape: func(c *Ctx, _ Attrs, in []*Value) ([]int, error) {
		m, k, err := matrixShape(in[0], false)
		if err != nil {
			return nil, errorf("MatMul: only 2-D operands are supported: %w", err)
		}
		k2, n, err := matrixShape(in[1], false)
		if err != nil {
			return nil, errorf("MatMul: only 2-D operands are supported: %w", err)
		}
		if k != k2 {
			return nil, errorf("MatMul: %dx%d times %dx%d", m, k, k2, n)
		}
		if err := c.scratch("MatMul's transposed operand", int64(len(in[1].F))); err != nil {
			return nil, err
		}
		return []int{m, n}, c.work(workOf(int64(m), int64(n), int64(k)))
	},
	Run: func(c *Ctx, _ Attrs, in []*Value, shape []int) (*Value, error) {
		am, m, k := matrix(in[0], false)
		bm, n, _ := matrix(in[1], true)
		out := &Value{Shape: shape, F: make([]float32, m*n)}
		kernels.MatMulBT(m, n, k, am, bm, out.F)
		return out, nil
	},
	Batch: func(n *BatchNode) (BatchInfo, bool) {
		return BatchInfo{true, n.Ins[0].Rank}, n.OnlyFirst() && n.Ins[1].Rank == 2
	},
}
