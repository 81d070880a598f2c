package ops

// Transpose permutes the axes of its input (perm; reversed when absent),
// on float or integer values.
var Transpose = &Op{
	Attrs: map[string]AttrKind{"perm": aInts},
	MinIn: 1, MaxIn: 1, MaxOut: 1,
	Shape: func(c *Ctx, a Attrs, in []*Value) ([]int, error) {
		perm, err := transposePerm(a, len(in[0].Shape))
		if err != nil {
			return nil, err
		}
		shape := make([]int, len(perm))
		for i, p := range perm {
			shape[i] = in[0].Shape[p]
		}
		n, ok := Elements(shape)
		if !ok {
			n = maxCount
		}
		return shape, c.work(n)
	},
	Run: func(c *Ctx, a Attrs, in []*Value, shape []int) (*Value, error) {
		x := in[0]
		perm, _ := transposePerm(a, len(x.Shape))
		rank := len(shape)
		// the input's stride along each output axis
		inStride := make([]int, len(x.Shape))
		acc := 1
		for d := len(x.Shape) - 1; d >= 0; d-- {
			inStride[d] = acc
			acc *= x.Shape[d]
		}
		st := make([]int, rank)
		for i, p := range perm {
			st[i] = inStride[p]
		}
		n := numel(shape)
		out := &Value{Shape: shape, Int: x.Int}
		if x.Int {
			out.I = make([]int64, n)
		} else {
			out.F = c.floats(n)
		}
		idx := make([]int, rank)
		src := 0
		for i := 0; i < n; i++ {
			if x.Int {
				out.I[i] = x.I[src]
			} else {
				out.F[i] = x.F[src]
			}
			for d := rank - 1; d >= 0; d-- {
				idx[d]++
				src += st[d]
				if idx[d] < shape[d] {
					break
				}
				src -= idx[d] * st[d]
				idx[d] = 0
			}
		}
		return out, nil
	},
	Batch: func(n *BatchNode) (BatchInfo, bool) {
		perm := n.Attrs.Ints("perm", nil)
		return BatchInfo{true, n.Ins[0].Rank}, n.OnlyFirst() && len(perm) > 0 && perm[0] == 0
	},
}

// transposePerm is the node's permutation of rank axes, checked to be one.
func transposePerm(a Attrs, rank int) ([]int, error) {
	p := a.Ints("perm", nil)
	perm := make([]int, rank)
	if p == nil {
		for i := range perm {
			perm[i] = rank - 1 - i
		}
		return perm, nil
	}
	if len(p) != rank {
		return nil, errorf("Transpose: perm has %d axes for rank %d", len(p), rank)
	}
	seen := make([]bool, rank)
	for i, v := range p {
		if v < 0 || v >= int64(rank) || seen[v] {
			return nil, errorf("Transpose: perm %v is not a permutation of %d axes", p, rank)
		}
		seen[v] = true
		perm[i] = int(v)
	}
	return perm, nil
}
