package verify

import (
	"fmt"
	"sort"

	onnxgo "github.com/owulveryck/onnx-go"
	"gonum.org/v1/gonum/graph"
	"gonum.org/v1/gonum/graph/simple"
	"gorgonia.org/tensor"
)

// Structure is what a file holds, as read by our decoder and, a second
// time, by onnx-go's (an independent reader of the same bytes).
type Structure struct {
	Nodes        int      `json:"nodes"`
	Initializers int      `json:"initializers"`
	Inputs       []string `json:"inputs"`
	Outputs      []string `json:"outputs"`
	OnnxGo       struct {
		Nodes        int      `json:"nodes"`
		Initializers int      `json:"initializers"`
		Inputs       []string `json:"inputs"`
		Outputs      []string `json:"outputs"`
	} `json:"onnx_go"`
	Pass   bool   `json:"pass"`
	Detail string `json:"detail,omitempty"`
}

// countingBackend is an onnx-go backend that only records what the
// decoder builds: nodes, the operations applied, the tensors set.
type countingBackend struct {
	*simple.WeightedDirectedGraph
	ops int
}

type countingNode struct {
	id     int64
	name   string
	tensor tensor.Tensor
}

func (n *countingNode) ID() int64                       { return n.id }
func (n *countingNode) SetName(s string)                { n.name = s }
func (n *countingNode) GetName() string                 { return n.name }
func (n *countingNode) SetTensor(t tensor.Tensor) error { n.tensor = t; return nil }
func (n *countingNode) GetTensor() tensor.Tensor        { return n.tensor }

func (b *countingBackend) NewNode() graph.Node {
	return &countingNode{id: b.WeightedDirectedGraph.NewNode().ID()}
}

func (b *countingBackend) ApplyOperation(onnxgo.Operation, ...graph.Node) error {
	b.ops++
	return nil
}

// CheckStructure decodes data with onnx-go and compares what it found with
// the model as our decoder read it.
func CheckStructure(data []byte, m *Model) (st Structure) {
	g := m.Proto.GetGraph()
	st.Nodes, st.Initializers = len(g.Node), len(g.Initializer)
	for _, in := range m.Inputs {
		st.Inputs = append(st.Inputs, in.Name)
	}
	for _, o := range m.Outputs {
		st.Outputs = append(st.Outputs, o.Name)
	}
	defer func() {
		if p := recover(); p != nil {
			st.Pass, st.Detail = false, fmt.Sprintf("onnx-go's decoder panicked: %v", p)
		}
	}()
	b := &countingBackend{WeightedDirectedGraph: simple.NewWeightedDirectedGraph(0, 0)}
	model := onnxgo.NewModel(b)
	if err := model.UnmarshalBinary(data); err != nil {
		st.Detail = "onnx-go's decoder: " + err.Error()
		return st
	}
	st.OnnxGo.Nodes = b.ops
	name := func(id int64) string {
		if n, ok := b.Node(id).(*countingNode); ok {
			return n.name
		}
		return ""
	}
	for _, id := range model.Input {
		st.OnnxGo.Inputs = append(st.OnnxGo.Inputs, name(id))
	}
	for _, id := range model.Output {
		st.OnnxGo.Outputs = append(st.OnnxGo.Outputs, name(id))
	}
	for _, t := range g.Initializer {
		if n, ok := model.GetNodeByName(t.GetName()); ok {
			if cn, ok := n.(*countingNode); ok && cn.tensor != nil {
				st.OnnxGo.Initializers++
			}
		}
	}
	var diffs []string
	if st.OnnxGo.Nodes != st.Nodes {
		diffs = append(diffs, fmt.Sprintf("%d nodes, onnx-go %d", st.Nodes, st.OnnxGo.Nodes))
	}
	if st.OnnxGo.Initializers != st.Initializers {
		diffs = append(diffs, fmt.Sprintf("%d initializers, onnx-go %d", st.Initializers, st.OnnxGo.Initializers))
	}
	if !sameSet(st.Inputs, st.OnnxGo.Inputs) {
		diffs = append(diffs, fmt.Sprintf("inputs %v, onnx-go %v", st.Inputs, st.OnnxGo.Inputs))
	}
	if !sameSet(st.Outputs, st.OnnxGo.Outputs) {
		diffs = append(diffs, fmt.Sprintf("outputs %v, onnx-go %v", st.Outputs, st.OnnxGo.Outputs))
	}
	st.Pass = len(diffs) == 0
	if !st.Pass {
		st.Detail = fmt.Sprint(diffs)
	}
	return st
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	x, y := append([]string(nil), a...), append([]string(nil), b...)
	sort.Strings(x)
	sort.Strings(y)
	for i := range x {
		if x[i] != y[i] {
			return false
		}
	}
	return true
}
