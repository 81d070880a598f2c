package ops

// Reshape gives its input another shape of the same element count: 0
// copies an input dimension (unless allowzero), -1 is inferred.
var Reshape = &Op{
	Attrs: map[string]AttrKind{"allowzero": aInt},
	MinIn: 2, MaxIn: 2, MaxOut: 1, View: true,
	Shape: func(_ *Ctx, a Attrs, in []*Value) ([]int, error) {
		target, err := intInput(in[1], "Reshape shape")
		if err != nil {
			return nil, err
		}
		if len(in[1].Shape) > 1 {
			return nil, errorf("Reshape: the shape input has rank %d, want 1", len(in[1].Shape))
		}
		allowZero := a.Int("allowzero", 0) == 1
		shape := make([]int, len(target))
		infer := -1
		known := int64(1)
		n := int64(len(in[0].F) + len(in[0].I))
		for i, d := range target {
			switch {
			case d == -1:
				if infer >= 0 {
					return nil, errorf("Reshape: two -1 dimensions in %v", target)
				}
				infer = i
				continue
			case d == 0 && !allowZero:
				if i >= len(in[0].Shape) {
					return nil, errorf("Reshape: 0 at %d copies a dimension the input lacks", i)
				}
				shape[i] = in[0].Shape[i]
			case d < 0 || d > maxCount:
				return nil, errorf("Reshape: invalid dimension %d", d)
			default:
				shape[i] = int(d)
			}
			var ok bool
			if known, ok = mul(known, int64(shape[i])); !ok {
				return nil, errorf("Reshape: the dimensions %v overflow", target)
			}
		}
		if infer >= 0 {
			if known == 0 || n%known != 0 {
				return nil, errorf("Reshape: cannot infer -1 in %v from %d elements", target, n)
			}
			shape[infer] = int(n / known)
		} else if known != n {
			return nil, errorf("Reshape: %v holds %d elements, the input %d", target, known, n)
		}
		return shape, nil
	},
	Run: func(_ *Ctx, _ Attrs, in []*Value, shape []int) (*Value, error) {
		return reshaped(in[0], shape), nil
	},
	// 0 copies the batch; -1 takes up whatever the other dimensions
	// leave, which for contiguous rows is the batch's share of them
	Batch: func(n *BatchNode) (BatchInfo, bool) {
		shape, ok := n.ConstInts(1)
		if !ok || !n.OnlyFirst() || len(shape) == 0 || n.Attrs.Int("allowzero", 0) != 0 {
			return BatchInfo{}, false
		}
		return BatchInfo{true, len(shape)}, shape[0] == 0 || shape[0] == -1
	},
}
