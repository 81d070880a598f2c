package verify

// A graph whose every node computes each image of the batch from that
// image alone can run image by image, one share of the batch per core,
// with no synchronisation between nodes (kernels.SplitBatch). separable
// decides it from the graph alone, conservatively: any operator or
// attribute it cannot vouch for keeps the batch whole.

// batchInfo is what separable knows of a value: whether axis 0 is the
// batch, and its rank (-1 when unknown).
type batchInfo struct {
	batched bool
	rank    int
}

// separable reports whether the model's batch can be split: every graph
// input and output carries the batch on axis 0, and every node keeps the
// images apart.
func (m *Model) separable() bool {
	if len(m.Inputs) == 0 {
		return false
	}
	vals := map[string]batchInfo{"": {}}
	consts := map[string]*Value{}
	for k, v := range m.inits {
		vals[k] = batchInfo{false, len(v.Shape)}
		consts[k] = v
	}
	for _, in := range m.Inputs {
		if len(in.Shape) == 0 {
			return false
		}
		vals[in.Name] = batchInfo{true, len(in.Shape)}
	}
	for _, n := range m.order {
		ins := make([]batchInfo, len(n.Input))
		anyBatched := false
		for i, name := range n.Input {
			v, ok := vals[name]
			if !ok {
				return false
			}
			ins[i] = v
			anyBatched = anyBatched || v.batched
		}
		if len(n.Output) != 1 {
			return false
		}
		a := nodeAttrs(n)
		if n.GetOpType() == "Constant" {
			v, err := runConstant(a, nil, m.Opset)
			if err != nil {
				return false
			}
			consts[n.Output[0]] = v
			vals[n.Output[0]] = batchInfo{false, len(v.Shape)}
			continue
		}
		if !anyBatched {
			// a function of constants: the same in every share
			vals[n.Output[0]] = batchInfo{false, -1}
			continue
		}
		out, ok := m.separableNode(n.GetOpType(), a, n.Input, ins, consts)
		if !ok {
			return false
		}
		vals[n.Output[0]] = out
	}
	for _, o := range m.Outputs {
		if !vals[o.Name].batched {
			return false
		}
	}
	return true
}

// notBatchAxis reports whether axis, of a value of the given rank, is
// known to be other than axis 0.
func notBatchAxis(axis int64, rank int) bool {
	if axis < 0 {
		if rank < 0 {
			return false
		}
		axis += int64(rank)
	}
	return axis > 0 && (rank < 0 || axis < int64(rank))
}

// constInts is an int64 constant input's values, if the input is one.
func constInts(consts map[string]*Value, name string) ([]int64, bool) {
	v, ok := consts[name]
	if !ok || !v.Int {
		return nil, false
	}
	return v.I, true
}

// separableNode decides one node with at least one batched input: whether
// it keeps the images apart, and what its output is.
func (m *Model) separableNode(op string, a attrs, names []string, ins []batchInfo, consts map[string]*Value) (batchInfo, bool) {
	x := ins[0]
	// only the first input may carry the batch
	onlyFirst := func() bool {
		for _, v := range ins[1:] {
			if v.batched {
				return false
			}
		}
		return x.batched
	}
	switch op {
	case "Conv", "MaxPool", "AveragePool", "GlobalAveragePool", "LRN", "Relu", "Identity", "Cast",
		"BatchNormalization", "Dropout":
		return batchInfo{true, x.rank}, onlyFirst()
	case "Concat":
		for _, v := range ins {
			if !v.batched {
				return batchInfo{}, false
			}
		}
		return batchInfo{true, x.rank}, notBatchAxis(a.int("axis", 0), x.rank)
	case "Flatten":
		return batchInfo{true, 2}, onlyFirst() && notBatchAxis(a.int("axis", 1), x.rank)
	case "Gemm":
		if !onlyFirst() || a.int("transA", 0) != 0 {
			return batchInfo{}, false
		}
		// a bias of one row (or fewer dimensions) broadcasts over the batch
		if len(names) == 3 && names[2] != "" {
			c, ok := consts[names[2]]
			if !ok || (len(c.Shape) == 2 && c.Shape[0] != 1) {
				return batchInfo{}, false
			}
		}
		return batchInfo{true, 2}, true
	case "MatMul":
		return batchInfo{true, x.rank}, onlyFirst() && ins[1].rank == 2
	case "Add", "Sub", "Mul", "Div":
		y := ins[1]
		rank := max(x.rank, y.rank)
		if x.rank < 0 || y.rank < 0 {
			return batchInfo{}, false
		}
		if x.batched && y.batched {
			return batchInfo{true, rank}, x.rank == y.rank
		}
		// the constant side must not reach axis 0 with more than one row
		c, cname := y, names[1]
		if y.batched {
			c, cname = x, names[0]
		}
		b := x
		if y.batched {
			b = y
		}
		if c.rank < b.rank {
			return batchInfo{true, rank}, true
		}
		cv, ok := consts[cname]
		return batchInfo{true, rank}, ok && c.rank == b.rank && len(cv.Shape) > 0 && cv.Shape[0] == 1
	case "Softmax":
		def := int64(-1)
		if m.Opset < 13 {
			def = 1
		}
		return batchInfo{true, x.rank}, onlyFirst() && notBatchAxis(a.int("axis", def), x.rank)
	case "ReduceMean":
		axes := a.ints("axes", nil)
		if len(names) > 1 && names[1] != "" {
			var ok bool
			if axes, ok = constInts(consts, names[1]); !ok {
				return batchInfo{}, false
			}
		}
		if len(axes) == 0 || !onlyFirst() {
			return batchInfo{}, false // all axes, the batch's too
		}
		for _, ax := range axes {
			if !notBatchAxis(ax, x.rank) {
				return batchInfo{}, false
			}
		}
		rank := x.rank
		if a.int("keepdims", 1) == 0 && rank >= 0 {
			rank -= len(axes)
		}
		return batchInfo{true, rank}, true
	case "Reshape":
		// 0 copies the batch; -1 takes up whatever the other dimensions
		// leave, which for contiguous rows is the batch's share of them
		shape, ok := constInts(consts, names[1])
		if !ok || !onlyFirst() || len(shape) == 0 || a.int("allowzero", 0) != 0 {
			return batchInfo{}, false
		}
		return batchInfo{true, len(shape)}, shape[0] == 0 || shape[0] == -1
	case "Squeeze", "Unsqueeze":
		axes := a.ints("axes", nil)
		if len(names) > 1 && names[1] != "" {
			var ok bool
			if axes, ok = constInts(consts, names[1]); !ok {
				return batchInfo{}, false
			}
		}
		if len(axes) == 0 || !onlyFirst() || x.rank < 0 {
			return batchInfo{}, false // Squeeze without axes may drop a batch of one
		}
		rank := x.rank - len(axes)
		if op == "Unsqueeze" {
			rank = x.rank + len(axes)
		}
		for _, ax := range axes {
			r := x.rank
			if op == "Unsqueeze" {
				r = rank
			}
			if !notBatchAxis(ax, r) {
				return batchInfo{}, false
			}
		}
		return batchInfo{true, rank}, true
	case "Slice":
		if len(names) < 4 || names[3] == "" || !onlyFirst() {
			return batchInfo{}, false // no axes: starts and ends apply from axis 0
		}
		axes, ok := constInts(consts, names[3])
		if !ok {
			return batchInfo{}, false
		}
		for _, ax := range axes {
			if !notBatchAxis(ax, x.rank) {
				return batchInfo{}, false
			}
		}
		return batchInfo{true, x.rank}, true
	case "Pad":
		pads, ok := constInts(consts, names[1])
		if !ok || !onlyFirst() || (len(names) > 3 && names[3] != "") || len(pads)%2 != 0 || len(pads) == 0 {
			return batchInfo{}, false
		}
		return batchInfo{true, x.rank}, pads[0] == 0 && pads[len(pads)/2] == 0
	case "Gather":
		if !onlyFirst() || ins[1].rank < 0 || x.rank < 0 {
			return batchInfo{}, false
		}
		return batchInfo{true, x.rank - 1 + ins[1].rank}, notBatchAxis(a.int("axis", 0), x.rank)
	}
	return batchInfo{}, false
}
