package verify

import (
	"fmt"
	"os"

	"github.com/gnconv/gnconv/internal/kernels"
	"github.com/gnconv/gnconv/internal/onnxpb"
	"github.com/gnconv/gnconv/internal/safeopen"
	"github.com/gnconv/gnconv/verify/ops"
	"google.golang.org/protobuf/proto"
)

// Opsets the interpreter runs: the default domain from 11 (what
// torch.onnx.export writes by default in torch 1.x) to 17.
const (
	MinOpset = 11
	MaxOpset = 17
)

// Value is a tensor during interpretation: float32 or int64.
type Value = ops.Value

// Model is a parsed ONNX model ready to run.
type Model struct {
	Proto    *onnxpb.ModelProto
	Opset    int
	Inputs   []IO // graph inputs that are not initializers
	Outputs  []IO
	inits    map[string]*Value
	order    []*onnxpb.NodeProto  // topological
	ops      []*ops.Op            // each node's operator, in order
	attrs    []ops.Attrs          // each node's attributes, in order
	acts     *kernels.BufferSets  // activations, recycled from run to run, per share of the batch
	split    bool                 // the batch may be shared out (separable)
	fused    []int                // Conv and Relu pairs (fusions), and the nodes an intNode stands for (-1)
	ints     map[int]*intNode     // layers computed in integers, by node index (intPlans)
	concats  map[int]concatMember // convolutions that write into their Concat
	concatAt map[int]*concatPlan  // the planned Concats by node index
	limits   Limits
	half     bool  // some value may be float16 (hasFloat16)
	int8     bool  // the graph quantizes (hasQuantization)
	weights  int64 // elements of all initializers
	largest  int64 // elements of the largest initializer
}

// IO is a graph input or output: its name, declared shape (-1 for a
// symbolic dimension, nil when the shape is not declared) and element
// type (float32, float16, or uint8 for an input).
type IO struct {
	Name  string
	Shape []int
	Elem  onnxpb.TensorProto_DataType
}

// Parse decodes and checks an ONNX model under the default limits: its
// opset, that every node is an operator the interpreter runs with
// attributes it understands, that the graph is acyclic, and that its
// counts and declared shapes are within the limits.
func Parse(data []byte) (*Model, error) {
	return ParseLimits(data, Limits{})
}

// ParseLimits is Parse under the given limits (zero fields: defaults).
func ParseLimits(data []byte, l Limits) (*Model, error) {
	l = l.withDefaults()
	if int64(len(data)) > l.MaxFileBytes {
		return nil, fmt.Errorf("the file has %d bytes, over the limit of %d (see Limits in docs/verify.md)", len(data), l.MaxFileBytes)
	}
	if err := l.checkCounts(prescan(data)); err != nil {
		return nil, err
	}
	pm := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, pm); err != nil {
		return nil, fmt.Errorf("not an ONNX model: %v", err)
	}
	return fromProto(pm, l)
}

// ReadFile reads an ONNX file for Parse: anything but a regular file, or
// a file over l's MaxFileBytes, is refused before it is read.
func ReadFile(path string, l Limits) ([]byte, error) {
	l = l.withDefaults()
	if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() && st.Size() > l.MaxFileBytes {
		return nil, fmt.Errorf("%s has %d bytes, over the limit of %d (see Limits in docs/verify.md)", path, st.Size(), l.MaxFileBytes)
	}
	return safeopen.ReadFile(path, l.MaxFileBytes)
}

// FromProto checks and prepares a decoded model under the default limits.
func FromProto(pm *onnxpb.ModelProto) (*Model, error) {
	l := Limits{}.withDefaults()
	g := pm.GetGraph()
	if err := l.checkCounts(counts{len(g.GetNode()), len(g.GetInitializer()), len(g.GetInput()) + len(g.GetOutput()) + len(g.GetValueInfo())}); err != nil {
		return nil, err
	}
	return fromProto(pm, l)
}

func fromProto(pm *onnxpb.ModelProto, l Limits) (*Model, error) {
	g := pm.GetGraph()
	if g == nil || len(g.Node) == 0 {
		return nil, fmt.Errorf("the ONNX model has no graph")
	}
	m := &Model{Proto: pm, inits: map[string]*Value{}, acts: &kernels.BufferSets{}, limits: l}
	if len(pm.OpsetImport) > 64 {
		return nil, fmt.Errorf("%d operator set imports", len(pm.OpsetImport))
	}
	for _, o := range pm.OpsetImport {
		switch o.GetDomain() {
		case "", "ai.onnx":
			m.Opset = int(max(min(o.GetVersion(), 1<<20), -1))
		default:
			return nil, fmt.Errorf("operator set domain %q is not supported (only the default ONNX domain)", o.GetDomain())
		}
	}
	if m.Opset < MinOpset || m.Opset > MaxOpset {
		return nil, fmt.Errorf("opset %d is not supported: the interpreter runs opsets %d to %d", m.Opset, MinOpset, MaxOpset)
	}
	for _, t := range g.Initializer {
		v, err := ops.TensorValue(t, l.MaxTensorElements)
		if err != nil {
			return nil, fmt.Errorf("initializer %s: %w", t.GetName(), err)
		}
		m.inits[t.GetName()] = v
		n := int64(v.Numel())
		m.weights += n
		m.largest = max(m.largest, n)
	}
	// every declared shape is checked before anything (onnx-go's second
	// reading included) allocates from it
	declared := int64(0)
	declare := func(v *onnxpb.ValueInfoProto, what string) error {
		n, err := m.declaredElements(v, what)
		declared += n
		if err == nil && declared > 4*m.inputLimit() {
			err = errLimit("the graph's declared shapes together", declared, 4*m.inputLimit())
		}
		return err
	}
	for _, in := range g.Input {
		if err := declare(in, "graph input"); err != nil {
			return nil, err
		}
		if _, ok := m.inits[in.GetName()]; ok {
			continue
		}
		io, err := ioOf(in, true)
		if err != nil {
			return nil, err
		}
		m.Inputs = append(m.Inputs, io)
	}
	for _, v := range g.ValueInfo {
		if err := declare(v, "value_info"); err != nil {
			return nil, err
		}
	}
	for _, out := range g.Output {
		if err := declare(out, "graph output"); err != nil {
			return nil, err
		}
		io, err := ioOf(out, false)
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
	for _, n := range order {
		op, _ := ops.Lookup(n.GetOpType())
		m.ops = append(m.ops, op)
		m.attrs = append(m.attrs, ops.NodeAttrs(n))
	}
	m.split = m.separable()
	m.half = m.hasFloat16()
	m.int8 = m.hasQuantization()
	m.ints = m.intPlans()
	m.fused = m.fusions()
	m.concats = map[int]concatMember{}
	if !m.half {
		// a convolution written into its Concat's buffer is never a value
		// of its own that the float16 rounding could reach
		m.concats = m.planConcats()
	}
	m.concatAt = map[int]*concatPlan{}
	for _, c := range m.concats {
		m.concatAt[c.plan.node] = c.plan
	}
	return m, nil
}

// declaredElements checks a declared shape: no negative dimension, and
// the product of its fixed dimensions within the input limit. It returns
// that product (the elements a reader that allocates declared tensors,
// like onnx-go, would allocate).
func (m *Model) declaredElements(v *onnxpb.ValueInfoProto, what string) (int64, error) {
	dims := v.GetType().GetTensorType().GetShape().GetDim()
	if len(dims) > 64 {
		return 0, fmt.Errorf("%s %q has rank %d", what, v.GetName(), len(dims))
	}
	n := int64(1)
	var shape []int64
	for _, d := range dims {
		x, ok := d.Value.(*onnxpb.TensorShapeProto_Dimension_DimValue)
		if !ok {
			shape = append(shape, -1)
			continue
		}
		if x.DimValue == -1 {
			shape = append(shape, -1) // read as symbolic, as before
			continue
		}
		if x.DimValue < 0 {
			return 0, fmt.Errorf("%s %q declares a negative dimension %d", what, v.GetName(), x.DimValue)
		}
		shape = append(shape, x.DimValue)
		n = prod(n, max(x.DimValue, 1))
	}
	if limit := m.inputLimit(); n > limit {
		return n, fmt.Errorf("%s %q declares shape %v: %w", what, v.GetName(), shape, errLimit("it", n, limit))
	}
	return n, nil
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

func ioOf(v *onnxpb.ValueInfoProto, input bool) (IO, error) {
	io := IO{Name: v.GetName()}
	tt := v.GetType().GetTensorType()
	if tt == nil {
		return io, fmt.Errorf("graph value %s is not a tensor", v.GetName())
	}
	io.Elem = onnxpb.TensorProto_DataType(tt.GetElemType())
	switch {
	case io.Elem == onnxpb.TensorProto_FLOAT, io.Elem == onnxpb.TensorProto_FLOAT16:
	case io.Elem == onnxpb.TensorProto_UINT8 && input:
	case (io.Elem == onnxpb.TensorProto_UINT8 || io.Elem == onnxpb.TensorProto_INT8) && !input:
	default:
		return io, fmt.Errorf("graph value %q has element type %s; the interpreter runs float32 and float16 inputs and outputs, uint8 inputs and uint8 and int8 outputs",
			v.GetName(), io.Elem)
	}
	if tt.Shape != nil {
		io.Shape = []int{} // declared, possibly rank 0; nil means unknown
	}
	for _, d := range tt.GetShape().GetDim() {
		if d.GetDimParam() != "" || d.Value == nil {
			io.Shape = append(io.Shape, -1)
		} else {
			io.Shape = append(io.Shape, int(d.GetDimValue())) // checked by declaredElements
		}
	}
	return io, nil
}

// checkNode refuses any operator, attribute or attribute value the
// interpreter does not run exactly.
func checkNode(n *onnxpb.NodeProto, opset int) error {
	op, ok := ops.Lookup(n.GetOpType())
	if !ok {
		return fmt.Errorf("node %s: operator %s is not supported by the interpreter", nodeLabel(n), n.GetOpType())
	}
	if len(n.Input) < op.MinIn || len(n.Input) > op.MaxIn {
		return fmt.Errorf("node %s: %d inputs, %s takes %d to %d", nodeLabel(n), len(n.Input), n.GetOpType(), op.MinIn, op.MaxIn)
	}
	if len(n.Output) != 1 {
		used := 0
		for _, o := range n.Output {
			if o != "" {
				used++
			}
		}
		if len(n.Output) == 0 || used > op.MaxOut || n.Output[0] == "" {
			return fmt.Errorf("node %s: %d outputs; the interpreter computes only the first output of %s", nodeLabel(n), len(n.Output), n.GetOpType())
		}
	}
	a := ops.NodeAttrs(n)
	for name, x := range a {
		kind, ok := op.Attrs[name]
		if !ok {
			return fmt.Errorf("node %s: attribute %s is not supported for %s", nodeLabel(n), name, n.GetOpType())
		}
		if x.GetType() != kind {
			return fmt.Errorf("node %s: attribute %s is a %s, want %s", nodeLabel(n), name, x.GetType(), kind)
		}
	}
	if op.Check != nil {
		if err := op.Check(a, opset, len(n.Input)); err != nil {
			return fmt.Errorf("node %s: %w", nodeLabel(n), err)
		}
	}
	return nil
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

// hasFloat16 reports whether any value of the graph may be float16: an
// initializer, a graph input or output, or a Cast to float16 (a Constant
// holding float16 makes its reader's output float16 too).
func (m *Model) hasFloat16() bool {
	for _, v := range m.inits {
		if v.Half {
			return true
		}
	}
	for _, io := range append(append([]IO{}, m.Inputs...), m.Outputs...) {
		if io.Elem == onnxpb.TensorProto_FLOAT16 {
			return true
		}
	}
	for i, n := range m.order {
		switch n.GetOpType() {
		case "Cast":
			if onnxpb.TensorProto_DataType(m.attrs[i].Int("to", 0)) == onnxpb.TensorProto_FLOAT16 {
				return true
			}
		case "Constant":
			if v, err := ops.ConstantValue(m.attrs[i]); err != nil || v.Half {
				return true
			}
		}
	}
	return false
}

// Metadata is the value of a metadata_props key, the first where a file
// repeats it; false when the file has none.
func (m *Model) Metadata(key string) (string, bool) {
	for _, p := range m.Proto.GetMetadataProps() {
		if p.GetKey() == key {
			return p.GetValue(), true
		}
	}
	return "", false
}

// metadata is the file's metadata_props as a map (the first value of a
// repeated key, as Metadata reads it), at most maxMetadata keys.
func (m *Model) metadata() map[string]string {
	meta := map[string]string{}
	for _, p := range m.Proto.GetMetadataProps() {
		if _, seen := meta[p.GetKey()]; !seen && len(meta) < maxMetadata {
			meta[p.GetKey()] = p.GetValue()
		}
	}
	return meta
}

// maxMetadata bounds the metadata keys read into a map.
const maxMetadata = 4096

// Float16 reports whether the model computes any value in float16.
func (m *Model) Float16() bool { return m.half }

// hasQuantization reports whether the graph holds QuantizeLinear or
// DequantizeLinear: some of its values pass through 8-bit integers.
func (m *Model) hasQuantization() bool {
	for _, n := range m.order {
		if t := n.GetOpType(); t == "QuantizeLinear" || t == "DequantizeLinear" {
			return true
		}
	}
	return false
}

// Int8 reports whether the model is quantized (computes through 8-bit
// integers between QuantizeLinear and DequantizeLinear).
func (m *Model) Int8() bool { return m.int8 }
