// Package verify executes ONNX files with its own interpreter and compares
// their outputs with gnconv's reference forward pass of the same weights.
// The interpreter follows the file's nodes and attributes; it shares only
// numeric kernels with the reference, so a wrong pad, ceil_mode, epsilon or
// transB in a file shows up as a mismatch.
package verify

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync"
	"unsafe"

	"github.com/gnconv/gnconv/internal/kernels"

	"github.com/gnconv/gnconv/internal/onnxpb"
	"github.com/gnconv/gnconv/tensor"
	"google.golang.org/protobuf/proto"
)

// Opsets the interpreter runs: the default domain from 11 (what
// torch.onnx.export writes by default in torch 1.x) to 17.
const (
	MinOpset = 11
	MaxOpset = 17
)

// Value is a tensor during interpretation: float32 or int64.
type Value struct {
	Shape []int
	F     []float32 // when !Int
	I     []int64   // when Int
	Int   bool

	// a convolution output written into its Concat's buffer (F is nil)
	view *view

	// a convolution weight packed for the GEMM, made on first use (an
	// initializer is packed once for every run)
	packOnce sync.Once
	packed   *kernels.PackedMatrix
}

// Numel is the element count.
func (v *Value) Numel() int { return numel(v.Shape) }

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Model is a parsed ONNX model ready to run.
type Model struct {
	Proto    *onnxpb.ModelProto
	Opset    int
	Inputs   []IO // graph inputs that are not initializers
	Outputs  []IO
	inits    map[string]*Value
	order    []*onnxpb.NodeProto  // topological
	acts     *kernels.BufferSets  // activations, recycled from run to run, per share of the batch
	split    bool                 // the batch may be shared out (separable)
	fused    []int                // Conv and Relu pairs (fusions)
	concats  map[int]concatMember // convolutions that write into their Concat
	concatAt map[int]*concatPlan  // the planned Concats by node index
}

// IO is a graph input or output: its name and declared shape (-1 for a
// symbolic dimension, nil when the shape is not declared).
type IO struct {
	Name  string
	Shape []int
}

// Parse decodes and checks an ONNX model: its opset, that every node is an
// operator the interpreter runs with attributes it understands, and that
// the graph is acyclic.
func Parse(data []byte) (*Model, error) {
	pm := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, pm); err != nil {
		return nil, fmt.Errorf("not an ONNX model: %v", err)
	}
	return FromProto(pm)
}

// FromProto checks and prepares a decoded model.
func FromProto(pm *onnxpb.ModelProto) (*Model, error) {
	g := pm.GetGraph()
	if g == nil || len(g.Node) == 0 {
		return nil, fmt.Errorf("the ONNX model has no graph")
	}
	m := &Model{Proto: pm, inits: map[string]*Value{}, acts: &kernels.BufferSets{}}
	for _, o := range pm.OpsetImport {
		switch o.GetDomain() {
		case "", "ai.onnx":
			m.Opset = int(o.GetVersion())
		default:
			return nil, fmt.Errorf("operator set domain %q is not supported (only the default ONNX domain)", o.GetDomain())
		}
	}
	if m.Opset < MinOpset || m.Opset > MaxOpset {
		return nil, fmt.Errorf("opset %d is not supported: the interpreter runs opsets %d to %d", m.Opset, MinOpset, MaxOpset)
	}
	for _, t := range g.Initializer {
		v, err := tensorValue(t)
		if err != nil {
			return nil, fmt.Errorf("initializer %s: %w", t.GetName(), err)
		}
		m.inits[t.GetName()] = v
	}
	for _, in := range g.Input {
		if _, ok := m.inits[in.GetName()]; ok {
			continue
		}
		io, err := ioOf(in)
		if err != nil {
			return nil, err
		}
		m.Inputs = append(m.Inputs, io)
	}
	for _, out := range g.Output {
		io, err := ioOf(out)
		if err != nil {
			return nil, err
		}
		m.Outputs = append(m.Outputs, io)
	}
	for _, n := range g.Node {
		if n.GetDomain() != "" && n.GetDomain() != "ai.onnx" {
			return nil, fmt.Errorf("node %s: operator %s of domain %q is not supported", nodeLabel(n), n.GetOpType(), n.GetDomain())
		}
		if err := checkNode(n, m.Opset); err != nil {
			return nil, err
		}
	}
	order, err := topoSort(g, m)
	if err != nil {
		return nil, err
	}
	m.order = order
	m.split = m.separable()
	m.fused = m.fusions()
	m.concats = m.planConcats()
	m.concatAt = map[int]*concatPlan{}
	for _, c := range m.concats {
		m.concatAt[c.plan.node] = c.plan
	}
	return m, nil
}

func nodeLabel(n *onnxpb.NodeProto) string {
	if n.GetName() != "" {
		return fmt.Sprintf("%q (%s)", n.GetName(), n.GetOpType())
	}
	if len(n.Output) > 0 {
		return fmt.Sprintf("producing %q (%s)", n.Output[0], n.GetOpType())
	}
	return n.GetOpType()
}

func ioOf(v *onnxpb.ValueInfoProto) (IO, error) {
	io := IO{Name: v.GetName()}
	tt := v.GetType().GetTensorType()
	if tt == nil {
		return io, fmt.Errorf("graph value %s is not a tensor", v.GetName())
	}
	if tt.GetElemType() != int32(onnxpb.TensorProto_FLOAT) {
		return io, fmt.Errorf("graph value %s has element type %s; the interpreter runs float32 inputs and outputs",
			v.GetName(), onnxpb.TensorProto_DataType(tt.GetElemType()))
	}
	if tt.Shape != nil {
		io.Shape = []int{} // declared, possibly rank 0; nil means unknown
	}
	for _, d := range tt.GetShape().GetDim() {
		if d.GetDimParam() != "" || d.Value == nil {
			io.Shape = append(io.Shape, -1)
		} else {
			io.Shape = append(io.Shape, int(d.GetDimValue()))
		}
	}
	return io, nil
}

// maxElements bounds any one tensor the interpreter builds from a file.
const maxElements = 1 << 30

// tensorValue decodes an initializer or Constant value.
func tensorValue(t *onnxpb.TensorProto) (*Value, error) {
	if t.GetDataLocation() == onnxpb.TensorProto_EXTERNAL || len(t.ExternalData) > 0 {
		return nil, fmt.Errorf("external data is not supported")
	}
	v := &Value{}
	n := 1
	for _, d := range t.Dims {
		if d < 0 || (d > 0 && int64(n) > maxElements/d) {
			return nil, fmt.Errorf("invalid dimensions %v", t.Dims)
		}
		v.Shape = append(v.Shape, int(d))
		n *= int(d)
	}
	raw := t.GetRawData()
	switch onnxpb.TensorProto_DataType(t.GetDataType()) {
	case onnxpb.TensorProto_FLOAT:
		switch {
		case raw != nil:
			if len(raw) != 4*n {
				return nil, fmt.Errorf("raw_data has %d bytes for %d float32 values", len(raw), n)
			}
			if n > 0 && tensor.NativeLittleEndian && uintptr(unsafe.Pointer(&raw[0]))%4 == 0 {
				// the decoded message owns raw: read it in place
				v.F = unsafe.Slice((*float32)(unsafe.Pointer(&raw[0])), n)
				break
			}
			v.F = make([]float32, n)
			for i := range v.F {
				v.F[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			}
		case len(t.FloatData) == n:
			v.F = make([]float32, n)
			copy(v.F, t.FloatData)
		default:
			return nil, fmt.Errorf("%d float values for %d elements", len(t.FloatData), n)
		}
	case onnxpb.TensorProto_INT64:
		v.Int = true
		switch {
		case raw != nil:
			if len(raw) != 8*n {
				return nil, fmt.Errorf("raw_data has %d bytes for %d int64 values", len(raw), n)
			}
			v.I = make([]int64, n)
			for i := range v.I {
				v.I[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
			}
		case len(t.Int64Data) == n:
			v.I = append([]int64(nil), t.Int64Data...)
		default:
			return nil, fmt.Errorf("%d int64 values for %d elements", len(t.Int64Data), n)
		}
	case onnxpb.TensorProto_INT32:
		v.Int = true
		if (raw != nil && len(raw) != 4*n) || (raw == nil && len(t.Int32Data) != n) {
			return nil, fmt.Errorf("%d bytes or %d int32 values for %d elements", len(raw), len(t.Int32Data), n)
		}
		v.I = make([]int64, n)
		switch {
		case raw != nil:
			for i := range v.I {
				v.I[i] = int64(int32(binary.LittleEndian.Uint32(raw[4*i:])))
			}
		case len(t.Int32Data) == n:
			for i, x := range t.Int32Data {
				v.I[i] = int64(x)
			}
		default:
			return nil, fmt.Errorf("%d int32 values for %d elements", len(t.Int32Data), n)
		}
	default:
		return nil, fmt.Errorf("data type %s is not supported (float32, int64 and int32 are)", onnxpb.TensorProto_DataType(t.GetDataType()))
	}
	return v, nil
}

// topoSort orders the nodes so each runs after the producers of its
// inputs, and checks that every input has a producer.
func topoSort(g *onnxpb.GraphProto, m *Model) ([]*onnxpb.NodeProto, error) {
	avail := map[string]bool{"": true} // an empty name is an omitted optional input
	for k := range m.inits {
		avail[k] = true
	}
	for _, in := range m.Inputs {
		avail[in.Name] = true
	}
	producer := map[string]int{}
	for i, n := range g.Node {
		for _, o := range n.Output {
			if _, dup := producer[o]; dup || avail[o] && o != "" {
				return nil, fmt.Errorf("value %q is produced twice", o)
			}
			producer[o] = i
		}
	}
	state := make([]int, len(g.Node)) // 0 new, 1 visiting, 2 done
	var order []*onnxpb.NodeProto
	var visit func(i int) error
	visit = func(i int) error {
		switch state[i] {
		case 1:
			return fmt.Errorf("the graph has a cycle through node %s", nodeLabel(g.Node[i]))
		case 2:
			return nil
		}
		state[i] = 1
		for _, in := range g.Node[i].Input {
			if avail[in] {
				continue
			}
			p, ok := producer[in]
			if !ok {
				return fmt.Errorf("node %s reads %q, which nothing produces", nodeLabel(g.Node[i]), in)
			}
			if err := visit(p); err != nil {
				return err
			}
		}
		state[i] = 2
		order = append(order, g.Node[i])
		return nil
	}
	for i := range g.Node {
		if err := visit(i); err != nil {
			return nil, err
		}
	}
	for _, o := range m.Outputs {
		if _, ok := producer[o.Name]; !ok && !avail[o.Name] {
			return nil, fmt.Errorf("graph output %q is produced by no node", o.Name)
		}
	}
	return order, nil
}
