package ops

import "github.com/gnconv/gnconv/internal/kernels"

// Gemm is alpha·A'·B' + beta·C, A' and B' transposed or not, C
// broadcast to the product's shape.
var Gemm = &Op{
	Attrs: map[string]AttrKind{"alpha": aFloat, "beta": aFloat, "transA": aInt, "transB": aInt},
	MinIn: 2, MaxIn: 3, MaxOut: 1,
	Shape: func(c *Ctx, a Attrs, in []*Value) ([]int, error) {
		m, k, err := matrixShape(in[0], a.Int("transA", 0) != 0)
		if err != nil {
			return nil, errorf("Gemm A: %w", err)
		}
		k2, n, err := matrixShape(in[1], a.Int("transB", 0) != 0)
		if err != nil {
			return nil, errorf("Gemm B: %w", err)
		}
		if k != k2 {
			return nil, errorf("Gemm: A is %dx%d but B gives %d rows", m, k, k2)
		}
		if len(in) == 3 && in[2] != nil {
			cv := in[2]
			if cv.Int {
				return nil, errorf("Gemm: C must be float32")
			}
			cs := cv.Shape
			for len(cs) < 2 {
				cs = append([]int{1}, cs...)
			}
			if len(cs) != 2 || (cs[0] != 1 && cs[0] != m) || (cs[1] != 1 && cs[1] != n) {
				return nil, errorf("Gemm: C of shape %v does not broadcast to %dx%d", cv.Shape, m, n)
			}
		}
		// the transposed copies of A and B
		if err := c.scratch("Gemm's operands", int64(len(in[0].F))+int64(len(in[1].F))); err != nil {
			return nil, err
		}
		return []int{m, n}, c.work(workOf(int64(m), int64(n), int64(k)))
	},
	Run: func(c *Ctx, a Attrs, in []*Value, shape []int) (*Value, error) {
		am, m, k := matrix(in[0], a.Int("transA", 0) != 0)
		// B is needed as N×K for MatMulBT: transposed unless transB is set.
		bm, n, _ := matrix(in[1], a.Int("transB", 0) == 0)
		out := &Value{Shape: shape, F: make([]float32, m*n)}
		kernels.MatMulBT(m, n, k, am, bm, out.F)
		alpha, beta := a.Float("alpha", 1), a.Float("beta", 1)
		if alpha != 1 {
			for i := range out.F {
				out.F[i] *= alpha
			}
		}
		if len(in) == 3 && in[2] != nil && beta != 0 {
			cv := in[2]
			cs := cv.Shape
			for len(cs) < 2 {
				cs = append([]int{1}, cs...)
			}
			for i := 0; i < m; i++ {
				for j := 0; j < n; j++ {
					ci := 0
					if cs[0] != 1 {
						ci = i * cs[1]
					}
					if cs[1] != 1 {
						ci += j
					}
					out.F[i*n+j] += beta * cv.F[ci]
				}
			}
		}
		return out, nil
	},
	// a bias of one row (or fewer dimensions) broadcasts over the batch
	Batch: func(n *BatchNode) (BatchInfo, bool) {
		if !n.OnlyFirst() || n.Attrs.Int("transA", 0) != 0 {
			return BatchInfo{}, false
		}
		if n.has(2) {
			// a constant of one row, or a value computed from constants
			// (a dequantized bias) of rank 1 at most
			if c, ok := n.Consts[n.Names[2]]; ok {
				if len(c.Shape) == 2 && c.Shape[0] != 1 {
					return BatchInfo{}, false
				}
			} else if r := n.Ins[2].Rank; r < 0 || r > 1 {
				return BatchInfo{}, false
			}
		}
		return BatchInfo{true, 2}, true
	},
}

// matrixShape is a float matrix's rows and columns, swapped when trans.
func matrixShape(v *Value, trans bool) (int, int, error) {
	if v.Int || len(v.Shape) != 2 {
		return 0, 0, errorf("want a float32 matrix, got shape %v", v.Shape)
	}
	if trans {
		return v.Shape[1], v.Shape[0], nil
	}
	return v.Shape[0], v.Shape[1], nil
}

// matrix returns v as rows×cols, transposed when trans is set.
func matrix(v *Value, trans bool) ([]float32, int, int) {
	r, c := v.Shape[0], v.Shape[1]
	if !trans {
		return v.F, r, c
	}
	t := make([]float32, len(v.F))
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			t[j*r+i] = v.F[i*c+j]
		}
	}
	return t, c, r
}
