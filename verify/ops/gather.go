package ops

// Gather takes the entries of data along axis at the given indices
// (negative ones count from the end).
var Gather = &Op{
	Attrs: map[string]AttrKind{"axis": aInt},
	MinIn: 2, MaxIn: 2, MaxOut: 1,
	Shape: func(c *Ctx, a Attrs, in []*Value) ([]int, error) {
		data := in[0]
		idx, err := intInput(in[1], "Gather indices")
		if err != nil {
			return nil, err
		}
		axis, err := normAxis(a.Int("axis", 0), len(data.Shape))
		if err != nil {
			return nil, err
		}
		dim := int64(data.Shape[axis])
		for _, ix := range idx {
			if ix < -dim || ix >= dim {
				return nil, errorf("Gather: index %d out of range for dimension %d", ix, dim)
			}
		}
		shape := append(append(append([]int{}, data.Shape[:axis]...), in[1].Shape...), data.Shape[axis+1:]...)
		if len(shape) > maxRank {
			return nil, errorf("Gather: output rank %d", len(shape))
		}
		n, ok := Elements(shape)
		if !ok {
			n = maxCount
		}
		return shape, c.work(n)
	},
	Run: func(c *Ctx, a Attrs, in []*Value, shape []int) (*Value, error) {
		data, idx := in[0], in[1].I
		axis, _ := normAxis(a.Int("axis", 0), len(data.Shape))
		dim := data.Shape[axis]
		outer, inner := numel(data.Shape[:axis]), numel(data.Shape[axis+1:])
		out := &Value{Shape: shape, Int: data.Int}
		n := numel(shape)
		if data.Int {
			out.I = make([]int64, 0, n)
		} else {
			out.F = make([]float32, 0, n)
		}
		for o := 0; o < outer; o++ {
			for _, ix := range idx {
				if ix < 0 {
					ix += int64(dim)
				}
				base := (o*dim + int(ix)) * inner
				if data.Int {
					out.I = append(out.I, data.I[base:base+inner]...)
				} else {
					out.F = append(out.F, data.F[base:base+inner]...)
				}
			}
		}
		return out, nil
	},
	Batch: func(n *BatchNode) (BatchInfo, bool) {
		x := n.Ins[0]
		if !n.OnlyFirst() || n.Ins[1].Rank < 0 || x.Rank < 0 {
			return BatchInfo{}, false
		}
		return BatchInfo{true, x.Rank - 1 + n.Ins[1].Rank}, NotBatchAxis(n.Attrs.Int("axis", 0), x.Rank)
	},
}
