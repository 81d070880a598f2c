package verify

import "github.com/gnconv/gnconv/verify/ops"

// A graph whose every node computes each image of the batch from that
// image alone can run image by image, one share of the batch per core,
// with no synchronisation between nodes (kernels.SplitBatch). separable
// decides it from the graph alone, conservatively, by each operator's
// batch-splitting rule (ops.Op.Batch): any operator or attribute a rule
// cannot vouch for keeps the batch whole.

// separable reports whether the model's batch can be split: every graph
// input and output carries the batch on axis 0, and every node keeps the
// images apart.
func (m *Model) separable() bool {
	if len(m.Inputs) == 0 {
		return false
	}
	vals := map[string]ops.BatchInfo{"": {}}
	consts := map[string]*Value{}
	for k, v := range m.inits {
		vals[k] = ops.BatchInfo{Batched: false, Rank: len(v.Shape)}
		consts[k] = v
	}
	for _, in := range m.Inputs {
		if len(in.Shape) == 0 {
			return false
		}
		vals[in.Name] = ops.BatchInfo{Batched: true, Rank: len(in.Shape)}
	}
	for i, n := range m.order {
		ins := make([]ops.BatchInfo, len(n.Input))
		anyBatched := false
		for j, name := range n.Input {
			v, ok := vals[name]
			if !ok {
				return false
			}
			ins[j] = v
			anyBatched = anyBatched || v.Batched
		}
		if len(n.Output) != 1 {
			return false
		}
		if n.GetOpType() == "Constant" {
			v, err := ops.ConstantValue(m.attrs[i])
			if err != nil {
				return false
			}
			consts[n.Output[0]] = v
			vals[n.Output[0]] = ops.BatchInfo{Batched: false, Rank: len(v.Shape)}
			continue
		}
		if !anyBatched {
			// a function of constants: the same in every share; of its
			// input's rank where the operator keeps the shape
			rank := -1
			switch n.GetOpType() {
			case "DequantizeLinear", "QuantizeLinear", "Cast", "Identity":
				rank = ins[0].Rank
			}
			vals[n.Output[0]] = ops.BatchInfo{Batched: false, Rank: rank}
			continue
		}
		op := m.ops[i]
		if op.Batch == nil {
			return false
		}
		out, ok := op.Batch(&ops.BatchNode{Attrs: m.attrs[i], Opset: m.Opset, Names: n.Input, Ins: ins, Consts: consts})
		if !ok {
			return false
		}
		vals[n.Output[0]] = out
	}
	for _, o := range m.Outputs {
		if !vals[o.Name].Batched {
			return false
		}
	}
	return true
}
