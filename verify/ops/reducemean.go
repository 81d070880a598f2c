package ops

// ReduceMean averages over axes (every axis when none are given), keeping
// them as size 1 unless keepdims is 0.
var ReduceMean = &Op{
	Attrs: map[string]AttrKind{"axes": aInts, "keepdims": aInt},
	MinIn: 1, MaxIn: 1, MaxOut: 1,
	Shape: func(c *Ctx, a Attrs, in []*Value) ([]int, error) {
		x := in[0]
		if err := floatInput(x, "ReduceMean input"); err != nil {
			return nil, err
		}
		reduce, err := reduceAxes(a, len(x.Shape))
		if err != nil {
			return nil, err
		}
		keep := a.Int("keepdims", 1) == 1
		shape := []int{}
		for d, s := range x.Shape {
			switch {
			case !reduce[d]:
				shape = append(shape, s)
			case keep:
				shape = append(shape, 1)
			}
		}
		return shape, c.work(int64(len(x.F)))
	},
	Run: func(c *Ctx, a Attrs, in []*Value, shape []int) (*Value, error) {
		x := in[0]
		rank := len(x.Shape)
		reduce, _ := reduceAxes(a, rank)
		var kept []int
		count := 1
		for d, s := range x.Shape {
			if reduce[d] {
				count *= s
				kept = append(kept, 1)
			} else {
				kept = append(kept, s)
			}
		}
		sums := make([]float64, numel(kept))
		outStride := make([]int, rank)
		acc := 1
		for d := rank - 1; d >= 0; d-- {
			if !reduce[d] {
				outStride[d] = acc
			}
			acc *= kept[d]
		}
		idx := make([]int, rank)
		o := 0
		for _, v := range x.F {
			sums[o] += float64(v)
			for d := rank - 1; d >= 0; d-- {
				idx[d]++
				o += outStride[d]
				if idx[d] < x.Shape[d] {
					break
				}
				o -= idx[d] * outStride[d]
				idx[d] = 0
			}
		}
		out := &Value{Shape: shape, F: make([]float32, len(sums))}
		for i, s := range sums {
			out.F[i] = float32(s / float64(count))
		}
		return out, nil
	},
	Batch: func(n *BatchNode) (BatchInfo, bool) {
		axes := n.Attrs.Ints("axes", nil)
		if len(axes) == 0 || !n.OnlyFirst() {
			return BatchInfo{}, false // all axes, the batch's too
		}
		x := n.Ins[0]
		for _, ax := range axes {
			if !NotBatchAxis(ax, x.Rank) {
				return BatchInfo{}, false
			}
		}
		rank := x.Rank
		if n.Attrs.Int("keepdims", 1) == 0 && rank >= 0 {
			rank -= len(axes)
		}
		return BatchInfo{true, rank}, true
	},
}

func reduceAxes(a Attrs, rank int) ([]bool, error) {
	reduce := make([]bool, rank)
	axes := a.Ints("axes", nil)
	if len(axes) == 0 {
		for d := range reduce {
			reduce[d] = true
		}
	}
	for _, ax := range axes {
		d, err := normAxis(ax, rank)
		if err != nil {
			return nil, errorf("ReduceMean: %w", err)
		}
		reduce[d] = true
	}
	return reduce, nil
}
