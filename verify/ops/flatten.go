package ops

// Flatten views its input as a matrix: the axes before axis, and the rest.
var Flatten = &Op{
	Attrs: map[string]AttrKind{"axis": aInt},
	MinIn: 1, MaxIn: 1, MaxOut: 1, View: true,
	Shape: func(_ *Ctx, a Attrs, in []*Value) ([]int, error) {
		x := in[0]
		rank := len(x.Shape)
		axis := a.Int("axis", 1)
		if axis < 0 {
			axis += int64(rank)
		}
		if axis < 0 || axis > int64(rank) {
			return nil, errorf("Flatten: axis %d for rank %d", a.Int("axis", 1), rank)
		}
		return []int{numel(x.Shape[:axis]), numel(x.Shape[axis:])}, nil
	},
	Run: func(_ *Ctx, _ Attrs, in []*Value, shape []int) (*Value, error) {
		return reshaped(in[0], shape), nil
	},
	Batch: func(n *BatchNode) (BatchInfo, bool) {
		return BatchInfo{true, 2}, n.OnlyFirst() && NotBatchAxis(n.Attrs.Int("axis", 1), n.Ins[0].Rank)
	},
}
