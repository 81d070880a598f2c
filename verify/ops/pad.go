package ops

// Pad with a constant (opset 11 and later: the pads and the value are
// inputs).
var Pad = &Op{
	Attrs: map[string]AttrKind{"mode": aString},
	MinIn: 2, MaxIn: 3, MaxOut: 1,
	Check: func(a Attrs, _, _ int) error {
		if m := a.Str("mode", "constant"); m != "constant" {
			return errorf("Pad mode %q is not supported (only constant)", m)
		}
		return nil
	},
	Shape: func(c *Ctx, _ Attrs, in []*Value) ([]int, error) {
		x := in[0]
		if err := floatInput(x, "Pad input"); err != nil {
			return nil, err
		}
		pads, err := intInput(in[1], "Pad pads")
		if err != nil {
			return nil, err
		}
		rank := len(x.Shape)
		if len(pads) != 2*rank {
			return nil, errorf("Pad: %d pads for rank %d", len(pads), rank)
		}
		if len(in) > 2 && in[2] != nil && (in[2].Int || in[2].Numel() != 1) {
			return nil, errorf("Pad: the constant must be one float32")
		}
		shape := make([]int, rank)
		for d := range shape {
			if pads[d] < 0 || pads[d+rank] < 0 || pads[d] > maxWindow || pads[d+rank] > maxWindow {
				return nil, errorf("Pad: pads %v are not supported (negative or over 2^30)", pads)
			}
			shape[d] = x.Shape[d] + int(pads[d]+pads[d+rank])
		}
		n, ok := Elements(shape)
		if !ok {
			n = maxCount
		}
		return shape, c.work(n)
	},
	Run: func(c *Ctx, _ Attrs, in []*Value, shape []int) (*Value, error) {
		x, pads := in[0], in[1].I
		rank := len(x.Shape)
		var value float32
		if len(in) > 2 && in[2] != nil {
			value = in[2].F[0]
		}
		out := &Value{Shape: shape, F: make([]float32, numel(shape))}
		if value != 0 {
			for i := range out.F {
				out.F[i] = value
			}
		}
		n := x.Numel()
		if n == 0 {
			return out, nil
		}
		// copy each innermost row of x to its place in out
		inner := x.Shape[rank-1]
		idx := make([]int, rank)
		for start := 0; start < n; start += inner {
			o := 0
			for d := 0; d < rank; d++ {
				o = o*shape[d] + idx[d] + int(pads[d])
			}
			copy(out.F[o:o+inner], x.F[start:start+inner])
			for d := rank - 2; d >= 0; d-- {
				idx[d]++
				if idx[d] < x.Shape[d] {
					break
				}
				idx[d] = 0
			}
		}
		return out, nil
	},
	// no padding of the batch axis, pads known
	Batch: func(n *BatchNode) (BatchInfo, bool) {
		pads, ok := n.ConstInts(1)
		if !ok || !n.OnlyFirst() || n.has(3) || len(pads)%2 != 0 || len(pads) == 0 {
			return BatchInfo{}, false
		}
		return BatchInfo{true, n.Ins[0].Rank}, pads[0] == 0 && pads[len(pads)/2] == 0
	},
}
