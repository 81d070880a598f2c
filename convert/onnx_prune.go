package convert

import (
	"fmt"

	"github.com/gnconv/gnconv/internal/onnxpb"
)

// PruneONNXOutputs removes the named graph outputs and every node and
// initializer that only they needed. Every name must be an output, and at
// least one output must remain.
func PruneONNXOutputs(m *onnxpb.ModelProto, drop []string) (removedNodes, removedInits int, err error) {
	g := m.GetGraph()
	if g == nil {
		return 0, 0, fmt.Errorf("the model has no graph")
	}
	dropSet := map[string]bool{}
	for _, d := range drop {
		dropSet[d] = true
	}
	var keep []*onnxpb.ValueInfoProto
	found := 0
	for _, o := range g.Output {
		if dropSet[o.GetName()] {
			found++
			continue
		}
		keep = append(keep, o)
	}
	if found != len(dropSet) {
		return 0, 0, fmt.Errorf("the model lacks some of the outputs %v", drop)
	}
	if len(keep) == 0 {
		return 0, 0, fmt.Errorf("pruning %v would leave the model without outputs", drop)
	}
	needed := map[string]bool{}
	for _, o := range keep {
		needed[o.GetName()] = true
	}
	live := make([]bool, len(g.Node))
	for i := len(g.Node) - 1; i >= 0; i-- { // nodes are in topological order
		n := g.Node[i]
		for _, o := range n.Output {
			if needed[o] {
				live[i] = true
			}
		}
		if live[i] {
			for _, in := range n.Input {
				needed[in] = true
			}
		}
	}
	var nodes []*onnxpb.NodeProto
	for i, n := range g.Node {
		if live[i] {
			nodes = append(nodes, n)
		}
	}
	var inits []*onnxpb.TensorProto
	for _, t := range g.Initializer {
		if needed[t.GetName()] {
			inits = append(inits, t)
		}
	}
	var vi []*onnxpb.ValueInfoProto
	for _, v := range g.ValueInfo {
		if needed[v.GetName()] {
			vi = append(vi, v)
		}
	}
	removedNodes, removedInits = len(g.Node)-len(nodes), len(g.Initializer)-len(inits)
	g.Node, g.Initializer, g.Output, g.ValueInfo = nodes, inits, keep, vi
	return removedNodes, removedInits, nil
}
