package ops

// Concat joins its inputs along an axis. The interpreter may have the
// convolutions that feed a channel Concat write into its output directly
// (verify's concat plan); this is the copying form.
var Concat = &Op{
	Attrs: map[string]AttrKind{"axis": aInt},
	MinIn: 1, MaxIn: 1 << 20, MaxOut: 1,
	Check: func(a Attrs, _, _ int) error {
		if _, ok := a["axis"]; !ok {
			return errorf("Concat needs an axis")
		}
		return nil
	},
	Shape: func(c *Ctx, a Attrs, in []*Value) ([]int, error) {
		rank := len(in[0].Shape)
		axis, err := normAxis(a.Int("axis", 0), rank)
		if err != nil {
			return nil, err
		}
		shape := append([]int(nil), in[0].Shape...)
		total := int64(0)
		for _, v := range in {
			if v == nil {
				return nil, errorf("Concat: an input is missing")
			}
			if len(v.Shape) != rank || v.Int != in[0].Int {
				return nil, errorf("Concat: inputs of different ranks or types")
			}
			for d := range v.Shape {
				if d != axis && v.Shape[d] != in[0].Shape[d] {
					return nil, errorf("Concat: shapes %v and %v differ off axis %d", in[0].Shape, v.Shape, axis)
				}
			}
			if total += int64(v.Shape[axis]); total > maxCount/2 {
				return nil, errorf("Concat: the joined axis is too long")
			}
		}
		shape[axis] = int(total)
		n, ok := Elements(shape)
		if !ok {
			n = maxCount
		}
		return shape, c.work(n)
	},
	Run: func(c *Ctx, a Attrs, in []*Value, shape []int) (*Value, error) {
		axis, _ := normAxis(a.Int("axis", 0), len(shape))
		outer := numel(shape[:axis])
		inner := numel(shape[axis+1:])
		out := &Value{Shape: shape, Int: in[0].Int}
		if out.Int {
			out.I = make([]int64, 0, numel(shape))
		} else {
			out.F = c.floats(numel(shape))[:0]
		}
		for o := 0; o < outer; o++ {
			for _, v := range in {
				n := v.Shape[axis] * inner
				if out.Int {
					out.I = append(out.I, v.I[o*n:(o+1)*n]...)
				} else {
					out.F = append(out.F, v.F[o*n:(o+1)*n]...)
				}
			}
		}
		return out, nil
	},
	// along any axis but the batch, when every input is batched
	Batch: func(n *BatchNode) (BatchInfo, bool) {
		for _, v := range n.Ins {
			if !v.Batched {
				return BatchInfo{}, false
			}
		}
		return BatchInfo{true, n.Ins[0].Rank}, NotBatchAxis(n.Attrs.Int("axis", 0), n.Ins[0].Rank)
	},
}
