package ops

// Unsqueeze inserts axes of size 1: axes an attribute before opset 13,
// an input from 13.
var Unsqueeze = &Op{
	Attrs: map[string]AttrKind{"axes": aInts},
	MinIn: 1, MaxIn: 2, MaxOut: 1, View: true,
	Check: func(a Attrs, opset, inputs int) error {
		_, hasAttr := a["axes"]
		if opset >= 13 && (hasAttr || inputs != 2) {
			return errorf("Unsqueeze at opset %d takes its axes as an input", opset)
		}
		if opset < 13 && (!hasAttr || inputs != 1) {
			return errorf("Unsqueeze at opset %d takes its axes as an attribute", opset)
		}
		return nil
	},
	Shape: func(c *Ctx, a Attrs, in []*Value) ([]int, error) {
		axes := a.Ints("axes", nil)
		if c.Opset >= 13 {
			if len(in) < 2 || in[1] == nil {
				return nil, errorf("Unsqueeze: no axes")
			}
			var err error
			if axes, err = intInput(in[1], "Unsqueeze axes"); err != nil {
				return nil, err
			}
		}
		if len(axes) > maxRank {
			return nil, errorf("Unsqueeze: %d axes", len(axes))
		}
		rank := len(in[0].Shape) + len(axes)
		insert := make([]bool, rank)
		for _, ax := range axes {
			d, err := normAxis(ax, rank)
			if err != nil || insert[d] {
				return nil, errorf("Unsqueeze: axes %v for output rank %d", axes, rank)
			}
			insert[d] = true
		}
		shape := make([]int, 0, rank)
		j := 0
		for d := 0; d < rank; d++ {
			if insert[d] {
				shape = append(shape, 1)
			} else {
				shape = append(shape, in[0].Shape[j])
				j++
			}
		}
		return shape, nil
	},
	Run: func(_ *Ctx, _ Attrs, in []*Value, shape []int) (*Value, error) {
		return reshaped(in[0], shape), nil
	},
	Batch: squeezeBatch(true),
}

// maxRank bounds the rank of any value an operator makes.
const maxRank = 64

// squeezeBatch: axes known, none of them the batch's.
func squeezeBatch(unsqueeze bool) func(n *BatchNode) (BatchInfo, bool) {
	return func(n *BatchNode) (BatchInfo, bool) {
		axes := n.Attrs.Ints("axes", nil)
		if n.has(1) {
			var ok bool
			if axes, ok = n.ConstInts(1); !ok {
				return BatchInfo{}, false
			}
		}
		x := n.Ins[0]
		if len(axes) == 0 || !n.OnlyFirst() || x.Rank < 0 {
			return BatchInfo{}, false // Squeeze without axes may drop a batch of one
		}
		rank := x.Rank - len(axes)
		if unsqueeze {
			rank = x.Rank + len(axes)
		}
		for _, ax := range axes {
			r := x.Rank
			if unsqueeze {
				r = rank
			}
			if !NotBatchAxis(ax, r) {
				return BatchInfo{}, false
			}
		}
		return BatchInfo{true, rank}, true
	}
}
