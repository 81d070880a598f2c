package ops

// Slice takes starts, ends and optional axes and steps as inputs (opset
// 10 and later), clamped as numpy does.
var Slice = &Op{
	MinIn: 3, MaxIn: 5, MaxOut: 1,
	Shape: func(c *Ctx, _ Attrs, in []*Value) ([]int, error) {
		_, _, shape, err := sliceParams(in)
		if err != nil {
			return nil, err
		}
		n, _ := Elements(shape)
		return shape, c.work(n)
	},
	Run: func(c *Ctx, _ Attrs, in []*Value, shape []int) (*Value, error) {
		data := in[0]
		rank := len(data.Shape)
		begin, step, _, _ := sliceParams(in)
		n := numel(shape)
		out := &Value{Shape: shape, Int: data.Int}
		if n == 0 {
			return out, nil
		}
		srcStride := make([]int, rank)
		acc := 1
		for d := rank - 1; d >= 0; d-- {
			srcStride[d] = acc
			acc *= data.Shape[d]
		}
		idx := make([]int, rank)
		for i := 0; i < n; i++ {
			src := 0
			for d := 0; d < rank; d++ {
				src += (begin[d] + idx[d]*step[d]) * srcStride[d]
			}
			if data.Int {
				out.I = append(out.I, data.I[src])
			} else {
				out.F = append(out.F, data.F[src])
			}
			for d := rank - 1; d >= 0; d-- {
				idx[d]++
				if idx[d] < shape[d] {
					break
				}
				idx[d] = 0
			}
		}
		return out, nil
	},
	Batch: func(n *BatchNode) (BatchInfo, bool) {
		if !n.has(3) || !n.OnlyFirst() {
			return BatchInfo{}, false // no axes: starts and ends apply from axis 0
		}
		axes, ok := n.ConstInts(3)
		if !ok {
			return BatchInfo{}, false
		}
		for _, ax := range axes {
			if !NotBatchAxis(ax, n.Ins[0].Rank) {
				return BatchInfo{}, false
			}
		}
		return BatchInfo{true, n.Ins[0].Rank}, true
	},
}

// sliceParams is each axis's first index and step, and the output shape.
func sliceParams(in []*Value) (begin, step, shape []int, err error) {
	data := in[0]
	rank := len(data.Shape)
	starts, err := intInput(in[1], "Slice starts")
	if err != nil {
		return nil, nil, nil, err
	}
	ends, err := intInput(in[2], "Slice ends")
	if err != nil {
		return nil, nil, nil, err
	}
	axes := make([]int64, len(starts))
	for i := range axes {
		axes[i] = int64(i)
	}
	if len(in) > 3 && in[3] != nil {
		if axes, err = intInput(in[3], "Slice axes"); err != nil {
			return nil, nil, nil, err
		}
	}
	steps := make([]int64, len(starts))
	for i := range steps {
		steps[i] = 1
	}
	if len(in) > 4 && in[4] != nil {
		if steps, err = intInput(in[4], "Slice steps"); err != nil {
			return nil, nil, nil, err
		}
	}
	if len(ends) != len(starts) || len(axes) != len(starts) || len(steps) != len(starts) {
		return nil, nil, nil, errorf("Slice: starts, ends, axes and steps differ in length")
	}
	begin = make([]int, rank)
	step = make([]int, rank)
	shape = append([]int(nil), data.Shape...)
	for d := range step {
		step[d] = 1
	}
	seen := make([]bool, rank)
	for i := range starts {
		d, err := normAxis(axes[i], rank)
		if err != nil || seen[d] {
			return nil, nil, nil, errorf("Slice: axes %v for rank %d", axes, rank)
		}
		seen[d] = true
		dim := int64(data.Shape[d])
		st := steps[i]
		if st == 0 || st < -maxCount || st > maxCount {
			return nil, nil, nil, errorf("Slice: step %d", st)
		}
		s, e := clamp(starts[i], -maxCount, maxCount), clamp(ends[i], -maxCount, maxCount)
		if s < 0 {
			s += dim
		}
		if e < 0 {
			e += dim
		}
		if st > 0 {
			s, e = clamp(s, 0, dim), clamp(e, 0, dim)
			shape[d] = int(max(0, (e-s+st-1)/st))
		} else {
			s, e = clamp(s, 0, dim-1), clamp(e, -1, dim-1)
			shape[d] = int(max(0, (s-e-st-1)/(-st)))
		}
		begin[d], step[d] = int(s), int(st)
	}
	return begin, step, shape, nil
}
