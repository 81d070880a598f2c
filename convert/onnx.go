package convert

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"unsafe"

	"github.com/gnconv/gnconv/graph"
	"github.com/gnconv/gnconv/internal/half"
	"github.com/gnconv/gnconv/internal/kernels"
	"github.com/gnconv/gnconv/internal/onnxpb"
	"github.com/gnconv/gnconv/internal/preprocess"
	"github.com/gnconv/gnconv/tensor"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// Opsets gnconv can emit: the range Debian's onnx 1.12 checker knows,
// starting where Slice, ReduceMean and Softmax take their modern forms.
const (
	MinOpset     = 13
	MaxOpset     = 17
	DefaultOpset = 17
	irVersion    = 8
)

// ONNXOptions steer EmitONNX.
type ONNXOptions struct {
	Opset int // 0: DefaultOpset
	// Aux adds the aux heads' outputs aux1 and aux2.
	Aux bool
	// KeepBN keeps BatchNormalization nodes instead of folding them into
	// the preceding convolutions.
	KeepBN bool
	// Softmax appends a Softmax to each output.
	Softmax bool
	// Batch fixes the batch dimension; 0 leaves it symbolic ("batch").
	Batch int
	// Height and Width of the input (0: the layout's).
	Height, Width int
	// Dynamic leaves the input's height and width symbolic: any size from
	// MinInputSize up runs (aux outputs are refused; onnx_size.go).
	Dynamic bool

	// Provenance, recorded in doc_string and metadata_props.
	SourceFile, SourceSHA256, Version string
	// Assumed lists what the network took on the layout's or the user's
	// word rather than the file's (graph.LoadReport.Assumed), recorded
	// in the metadata.
	Assumed []string

	// Labels are the class names, in class order, recorded in the
	// metadata under labels.MetadataKey (one per class, or none).
	Labels []string
	// Preprocess, when set, makes the input uint8 pixels ("image") and
	// puts the normalisation in the graph (onnx_edges.go).
	Preprocess *preprocess.Spec
	// Float16 stores the weights and computes in float16; the input and
	// outputs stay float32 (Casts at the edges) unless Float16IO.
	Float16, Float16IO bool
	// Int8, when set, makes the file statically quantized in QDQ form
	// from these calibration ranges (onnx_int8.go).
	Int8 *Int8
}

// ONNX is an emitted model and what it holds.
type ONNX struct {
	Model        *onnxpb.ModelProto
	Nodes        int
	Initializers int
	Parameters   int
	Outputs      []string
	OpCounts     map[string]int
}

// Marshal serialises the model.
func (o *ONNX) Marshal() ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(o.Model)
}

// WriteTo streams the serialised model to w one initializer at a time, so
// the weights are never held twice. The bytes are a valid ModelProto with
// the graph field last (protobuf readers accept fields in any order).
func (o *ONNX) WriteTo(w io.Writer) (int64, error) {
	mo := proto.MarshalOptions{Deterministic: true}
	m, og := o.Model, o.Model.Graph
	// shallow copies without the graph and without the initializers
	head := &onnxpb.ModelProto{IrVersion: m.IrVersion, OpsetImport: m.OpsetImport, ProducerName: m.ProducerName,
		ProducerVersion: m.ProducerVersion, Domain: m.Domain, ModelVersion: m.ModelVersion, DocString: m.DocString,
		MetadataProps: m.MetadataProps}
	g := &onnxpb.GraphProto{Node: og.Node, Name: og.Name, DocString: og.DocString, Input: og.Input, Output: og.Output, ValueInfo: og.ValueInfo}
	inits := og.Initializer
	var n int64
	write := func(b []byte) error {
		k, err := w.Write(b)
		n += int64(k)
		return err
	}
	b, err := mo.Marshal(head)
	if err != nil {
		return n, err
	}
	if err := write(b); err != nil {
		return n, err
	}
	gb, err := mo.Marshal(g)
	if err != nil {
		return n, err
	}
	size := len(gb)
	for _, t := range o.Model.Graph.Initializer {
		s := mo.Size(t)
		size += protowire.SizeTag(5) + protowire.SizeBytes(s)
	}
	hdr := protowire.AppendTag(nil, 7, protowire.BytesType)
	hdr = protowire.AppendVarint(hdr, uint64(size))
	if err := write(append(hdr, gb...)); err != nil {
		return n, err
	}
	for _, t := range inits {
		if len(t.FloatData)+len(t.Int64Data)+len(t.Int32Data)+len(t.DoubleData)+len(t.ExternalData) > 0 {
			return n, fmt.Errorf("initializer %s keeps its values outside raw_data", t.GetName())
		}
		// the tensor's small fields through protobuf, then its raw_data
		// (field 9) straight from the weights
		meta := &onnxpb.TensorProto{Dims: t.Dims, DataType: t.DataType, Name: t.Name, DocString: t.DocString}
		tb, err := mo.Marshal(meta)
		if err != nil {
			return n, err
		}
		raw := t.RawData
		rawHdr := protowire.AppendTag(nil, 9, protowire.BytesType)
		rawHdr = protowire.AppendVarint(rawHdr, uint64(len(raw)))
		h := protowire.AppendTag(nil, 5, protowire.BytesType)
		h = protowire.AppendVarint(h, uint64(len(tb)+len(rawHdr)+len(raw)))
		h = append(append(h, tb...), rawHdr...)
		if err := write(h); err != nil {
			return n, err
		}
		if err := write(raw); err != nil {
			return n, err
		}
	}
	return n, nil
}

// onnxBuilder collects nodes and initializers in graph order.
type onnxBuilder struct {
	opset  int
	half   bool // float weights are written as float16
	nodes  []*onnxpb.NodeProto
	inits  []*onnxpb.TensorProto
	names  map[string]bool
	params int
	ops    map[string]int
}

// initF32 adds a weight of the network, in the network's float type.
func (b *onnxBuilder) initF32(name string, dims []int, data []float32) string {
	return b.initFloat(name, dims, data, b.half)
}

// initFloat adds a float initializer, as float16 when asked: each value
// rounded to the nearest float16, after any folding was done in float32.
func (b *onnxBuilder) initFloat(name string, dims []int, data []float32, f16 bool) string {
	if b.names[name] {
		panic("duplicate initializer " + name)
	}
	b.names[name] = true
	raw, dt := float32Bytes(data), onnxpb.TensorProto_FLOAT
	if f16 {
		raw, dt = make([]byte, 2*len(data)), onnxpb.TensorProto_FLOAT16
		for i, v := range data {
			binary.LittleEndian.PutUint16(raw[2*i:], half.FromFloat32(v))
		}
	}
	b.inits = append(b.inits, &onnxpb.TensorProto{Name: proto.String(name), Dims: int64s(dims),
		DataType: proto.Int32(int32(dt)), RawData: raw})
	b.params += len(data)
	return name
}

// float32Bytes is data as little-endian bytes: the same memory on a
// little-endian machine (the weights are not copied again), else a copy.
func float32Bytes(data []float32) []byte {
	if len(data) == 0 {
		return []byte{}
	}
	if tensor.NativeLittleEndian {
		return unsafe.Slice((*byte)(unsafe.Pointer(&data[0])), 4*len(data))
	}
	raw := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	return raw
}

func (b *onnxBuilder) initI64(name string, data []int64) string {
	b.names[name] = true
	raw := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
	}
	b.inits = append(b.inits, &onnxpb.TensorProto{Name: proto.String(name), Dims: []int64{int64(len(data))},
		DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), RawData: raw})
	return name
}

func (b *onnxBuilder) node(op, name string, inputs []string, output string, attrs ...*onnxpb.AttributeProto) string {
	b.nodes = append(b.nodes, &onnxpb.NodeProto{OpType: proto.String(op), Name: proto.String(name),
		Input: inputs, Output: []string{output}, Attribute: attrs})
	b.ops[op]++
	return output
}

func attrInts(name string, v ...int) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: int64s(v)}
}

func attrInt(name string, v int) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(int64(v))}
}

func attrFloat(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(v)}
}

func int64s(v []int) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}

// nodeName turns a module path into a node name: inception4a.branch2.1
// becomes inception4a/branch2/1.
func nodeName(module string) string { return strings.ReplaceAll(module, ".", "/") }

// EmitONNX builds the ONNX model of a network.
func EmitONNX(net *graph.Net, opts ONNXOptions) (*ONNX, error) {
	if opts.Opset == 0 {
		opts.Opset = DefaultOpset
	}
	if opts.Opset < MinOpset || opts.Opset > MaxOpset {
		return nil, fmt.Errorf("opset %d is not supported: gnconv emits opsets %d to %d (opset 12 and older take Slice, ReduceMean and Softmax in forms gnconv does not write; 18 and newer move ReduceMean's axes to an input, which Debian's onnx 1.12 checker does not know)",
			opts.Opset, MinOpset, MaxOpset)
	}
	if opts.Height == 0 {
		opts.Height = net.Size[0]
	}
	if opts.Width == 0 {
		opts.Width = net.Size[1]
	}
	if opts.Batch < 0 || opts.Height < 0 || opts.Width < 0 {
		return nil, fmt.Errorf("batch and input size must be positive")
	}
	if opts.Aux && !net.HasAux() {
		return nil, fmt.Errorf("aux outputs asked for, but the network has no aux heads (the checkpoint holds none)")
	}
	check := net
	if !opts.Aux {
		check = net.WithoutAux()
	}
	if err := checkSize(check, opts); err != nil {
		return nil, err
	}
	if miss := check.MissingWeights(); len(miss) > 0 {
		return nil, fmt.Errorf("cannot emit a network without weights for %s (loaded non-strictly)", strings.Join(miss, ", "))
	}
	if err := checkEdges(net, opts); err != nil {
		return nil, err
	}
	if err := checkInt8(net, opts); err != nil {
		return nil, err
	}
	b := &onnxBuilder{opset: opts.Opset, names: map[string]bool{}, ops: map[string]int{}}
	e := &emitter{b: b, opts: opts, values: map[string]int{}, quant: map[string]qparams{}, pin: map[*graph.Layer]qparams{}}
	x, input := e.inputEdge(net)
	if net.TransformInput {
		scale, shift := graph.TransformInputCoeffs()
		s := b.initF32("transform_input.scale", []int{1, 3, 1, 1}, scale[:])
		t := b.initF32("transform_input.shift", []int{1, 3, 1, 1}, shift[:])
		x = b.node("Mul", "transform_input/mul", []string{x, s}, "transform_input.scaled")
		x = b.node("Add", "transform_input/add", []string{x, t}, "transform_input")
	}
	if opts.Int8 != nil {
		x = e.quantizeInput(x)
	}
	s := graph.Shape{C: net.InChannels, H: opts.Height, W: opts.Width}
	var outputs, auxOut []string
	for i, l := range net.Body {
		out := ""
		if i == len(net.Body)-1 {
			out = "logits"
		}
		x, s = e.layer(x, s, l, out)
		if !opts.Aux {
			continue
		}
		for _, h := range net.Aux {
			if h.After == i {
				auxOut = append(auxOut, e.chain(x, s, h.Layers, h.Name))
			}
		}
	}
	outputs = append(outputs, x)
	outputs = append(outputs, auxOut...)
	outputs = e.outputEdges(outputs)

	batchDim := &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "batch"}}
	if opts.Batch > 0 {
		batchDim = &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(opts.Batch)}}
	}
	valueInfo := func(name string, elem onnxpb.TensorProto_DataType, doc string, dims ...int) *onnxpb.ValueInfoProto {
		shape := &onnxpb.TensorShapeProto{Dim: []*onnxpb.TensorShapeProto_Dimension{batchDim}}
		for _, d := range dims {
			shape.Dim = append(shape.Dim, dimension(d))
		}
		return &onnxpb.ValueInfoProto{Name: proto.String(name), DocString: proto.String(doc), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
			TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(elem)), Shape: shape}}}}
	}
	g := &onnxpb.GraphProto{
		Name:        proto.String("googlenet"),
		Node:        b.nodes,
		Initializer: b.inits,
		Input:       []*onnxpb.ValueInfoProto{valueInfo(input.name, input.elem, input.doc, input.dims...)},
	}
	outElem := onnxpb.TensorProto_FLOAT
	if opts.Float16 && opts.Float16IO {
		outElem = onnxpb.TensorProto_FLOAT16
	}
	for _, o := range outputs {
		g.Output = append(g.Output, valueInfo(o, outElem, outputDoc(o, opts.Softmax), net.Classes))
	}
	doc := fmt.Sprintf("GoogLeNet, %s layout, %d classes, converted by gnconv %s", net.Layout.Name, net.Classes, opts.Version)
	if opts.SourceFile != "" {
		doc += fmt.Sprintf(" from %s (sha256 %s)", opts.SourceFile, opts.SourceSHA256)
	}
	g.DocString = proto.String(doc)
	meta := map[string]string{
		"layout":          net.Layout.Name,
		"layout_source":   net.Layout.Source,
		"classes":         fmt.Sprint(net.Classes),
		"input_channels":  fmt.Sprint(net.InChannels),
		"input_size":      fmt.Sprintf("%d,%d", opts.Height, opts.Width),
		"gnconv_version":  opts.Version,
		"source_file":     opts.SourceFile,
		"source_sha256":   opts.SourceSHA256,
		"transform_input": fmt.Sprint(net.TransformInput),
		"lrn":             fmt.Sprint(net.Switches.LRN),
		"batch_norm":      "none",
		"aux_outputs":     fmt.Sprint(opts.Aux),
		"softmax":         fmt.Sprint(opts.Softmax),
	}
	for _, c := range net.Convs() {
		if c.BN != nil {
			meta["batch_norm"] = map[bool]string{true: "kept", false: "folded"}[opts.KeepBN]
			break
		}
	}
	if len(opts.Assumed) > 0 {
		meta["assumed"] = strings.Join(opts.Assumed, "; ")
	}
	edgeMetadata(meta, net, opts)
	int8Metadata(meta, opts)
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	m := &onnxpb.ModelProto{
		IrVersion:       proto.Int64(irVersion),
		OpsetImport:     []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(int64(opts.Opset))}},
		ProducerName:    proto.String("gnconv"),
		ProducerVersion: proto.String(opts.Version),
		DocString:       proto.String(doc),
		Graph:           g,
	}
	for _, k := range keys {
		m.MetadataProps = append(m.MetadataProps, &onnxpb.StringStringEntryProto{Key: proto.String(k), Value: proto.String(meta[k])})
	}
	return &ONNX{Model: m, Nodes: len(b.nodes), Initializers: len(b.inits), Parameters: b.params, Outputs: outputs, OpCounts: b.ops}, nil
}

// renameOutput renames the node output (and every use of) a value.
func renameOutput(b *onnxBuilder, from, to string) {
	for _, n := range b.nodes {
		for i, o := range n.Output {
			if o == from {
				n.Output[i] = to
			}
		}
		for i, in := range n.Input {
			if in == from {
				n.Input[i] = to
			}
		}
	}
}

type emitter struct {
	b      *onnxBuilder
	opts   ONNXOptions
	values map[string]int // value names used, for modules used twice
	// int8 only: the parameters of each dequantized value, and those a
	// layer's output must take (onnx_int8.go)
	quant map[string]qparams
	pin   map[*graph.Layer]qparams
}

// value is a unique value name for a module's output.
func (e *emitter) value(name string) string {
	n := e.values[name]
	e.values[name] = n + 1
	if n == 0 {
		return name
	}
	return fmt.Sprintf("%s_%d", name, n+1)
}

// chain emits a list of layers; the last one's output is named out.
func (e *emitter) chain(x string, s graph.Shape, layers []*graph.Layer, out string) string {
	for i, l := range layers {
		name := ""
		if i == len(layers)-1 {
			name = out
		}
		x, s = e.layer(x, s, l, name)
	}
	return x
}

// layer emits one layer; out, when set, names its output.
func (e *emitter) layer(x string, s graph.Shape, l *graph.Layer, out string) (string, graph.Shape) {
	next, err := l.OutShape(s)
	if err != nil {
		panic(err) // CheckInput walked the same layers
	}
	name := l.Name
	if name == "" {
		name = l.Kind.String()
	}
	if out == "" {
		out = e.value(name)
	}
	b := e.b
	in := x
	switch l.Kind {
	case graph.KindConv:
		x = e.conv(x, l.Conv, out)
	case graph.KindMaxPool, graph.KindAvgPool:
		x = e.pool(x, l.Pool, out)
	case graph.KindAdaptiveAvgPool:
		x = e.adaptive(x, s, l.Pool.Out, out)
	case graph.KindLRN:
		x = b.node("LRN", nodeName(out), []string{x}, out, attrInt("size", l.LRN.Size),
			attrFloat("alpha", l.LRN.Alpha), attrFloat("beta", l.LRN.Beta), attrFloat("bias", l.LRN.Bias))
	case graph.KindInception:
		if e.opts.Int8 != nil {
			e.pinBranches(l, out)
		}
		var parts []string
		for _, br := range l.Branches {
			parts = append(parts, e.chain(x, s, br, ""))
		}
		x = b.node("Concat", nodeName(out)+"/concat", parts, out, attrInt("axis", 1))
	case graph.KindFlatten:
		x = b.node("Flatten", nodeName(out), []string{x}, out, attrInt("axis", 1))
	case graph.KindDropout:
		// identity in eval mode: no node
	case graph.KindLinear:
		x = e.linear(x, l.Linear, out)
	}
	if e.opts.Int8 != nil {
		x = e.quantizeLayer(l, in, x)
	}
	return x, next
}

// conv emits a conv block: Conv (+ BatchNormalization unless folded),
// then Relu when the block has one; its last node's output is out.
func (e *emitter) conv(x string, c *graph.Conv, out string) string {
	b := e.b
	name := nodeName(out)
	dims := []int{c.Out, c.In, c.K[0], c.K[1]}
	attrs := []*onnxpb.AttributeProto{attrInts("kernel_shape", c.K[0], c.K[1]), attrInts("strides", c.Stride[0], c.Stride[1]),
		attrInts("pads", c.Pad[0], c.Pad[1], c.Pad[0], c.Pad[1]), attrInts("dilations", 1, 1), attrInt("group", 1)}
	convOut, bnOut := out+".conv", out+".bn"
	last := func(v string) string {
		if c.ReLU {
			return v
		}
		return out
	}
	var y string
	switch {
	case e.opts.Int8 != nil:
		w, bias := c.Weight, c.Bias
		if c.BN != nil {
			w, bias = FoldBatchNorm(c)
		} else if !c.HasBias {
			bias = nil
		}
		wt, bq := e.int8Weights(c.Module, dims, w, bias, x)
		ins := []string{x, wt}
		if bq != "" {
			ins = append(ins, bq)
		}
		y = b.node("Conv", name+"/conv", ins, last(convOut), attrs...)
	case c.BN == nil:
		ins := []string{x, b.initF32(c.Module+".weight", dims, c.Weight)}
		if c.HasBias {
			ins = append(ins, b.initF32(c.Module+".bias", []int{c.Out}, c.Bias))
		}
		y = b.node("Conv", name+"/conv", ins, last(convOut), attrs...)
	case e.opts.KeepBN:
		ins := []string{x, b.initF32(c.Module+".weight", dims, c.Weight)}
		if c.HasBias {
			ins = append(ins, b.initF32(c.Module+".bias", []int{c.Out}, c.Bias))
		}
		y = b.node("Conv", name+"/conv", ins, convOut, attrs...)
		bn := c.BN.Module + "."
		ins = []string{y,
			b.initF32(bn+"weight", []int{c.Out}, c.BN.Weight),
			b.initF32(bn+"bias", []int{c.Out}, c.BN.Bias),
			b.initF32(bn+"running_mean", []int{c.Out}, c.BN.Mean),
			b.initF32(bn+"running_var", []int{c.Out}, c.BN.Var)}
		y = b.node("BatchNormalization", name+"/bn", ins, last(bnOut), attrFloat("epsilon", c.BN.Eps), attrFloat("momentum", 0.9))
	default:
		fw, fb := FoldBatchNorm(c)
		wt := b.initF32(c.Module+".weight", dims, fw)
		bias := b.initF32(c.Module+".bias", []int{c.Out}, fb)
		y = b.node("Conv", name+"/conv", []string{x, wt, bias}, last(convOut), attrs...)
	}
	if c.ReLU {
		y = b.node("Relu", name+"/relu", []string{y}, out)
	}
	return y
}

// FoldBatchNorm folds a conv block's bias and batch norm into its
// convolution: W' = W·s and b' = β − (μ − b)·s per output channel, with
// s = γ/√(σ²+ε), computed in float64 and rounded once.
func FoldBatchNorm(c *graph.Conv) (weight, bias []float32) {
	per := c.In * c.K[0] * c.K[1]
	weight = make([]float32, len(c.Weight))
	_, bias = graph.BatchNormScaleShift(c)
	for o := 0; o < c.Out; o++ {
		s := float64(c.BN.Weight[o]) / math.Sqrt(float64(c.BN.Var[o])+float64(c.BN.Eps))
		for i := o * per; i < (o+1)*per; i++ {
			weight[i] = float32(float64(c.Weight[i]) * s)
		}
	}
	return
}

func (e *emitter) pool(x string, p *graph.Pool, out string) string {
	attrs := []*onnxpb.AttributeProto{attrInts("kernel_shape", p.K[0], p.K[1]), attrInts("strides", p.Stride[0], p.Stride[1]),
		attrInts("pads", p.Pad[0], p.Pad[1], p.Pad[0], p.Pad[1])}
	if p.Ceil {
		attrs = append(attrs, attrInt("ceil_mode", 1))
	}
	op := "MaxPool"
	if !p.Max {
		op = "AveragePool"
		if p.CountIncludePad {
			attrs = append(attrs, attrInt("count_include_pad", 1))
		}
	}
	return e.b.node(op, nodeName(out), []string{x}, out, attrs...)
}

// adaptive emits an adaptive average pooling: GlobalAveragePool to 1x1,
// an AveragePool when the map divides evenly, else its exact windows
// [⌊i·in/out⌋, ⌈(i+1)·in/out⌉): rows first (Slice + ReduceMean per
// window, Concat), then columns; the mean of a rectangle is the mean of
// its rows' means, so the result is exact. (torch.onnx.export refuses
// the uneven case, torchvision's 14 → 4 aux pool among them.)
func (e *emitter) adaptive(x string, s graph.Shape, size [2]int, out string) string {
	b := e.b
	switch {
	case size == [2]int{1, 1}:
		return b.node("GlobalAveragePool", nodeName(out), []string{x}, out)
	case s.H%size[0] == 0 && s.W%size[1] == 0:
		kh, kw := s.H/size[0], s.W/size[1]
		return b.node("AveragePool", nodeName(out), []string{x}, out, attrInts("kernel_shape", kh, kw), attrInts("strides", kh, kw))
	}
	pooled := x
	for _, ax := range []struct {
		axis, in, out int
		tag           string
	}{{2, s.H, size[0], "rows"}, {3, s.W, size[1], "cols"}} {
		var parts []string
		for i := 0; i < ax.out; i++ {
			st, en := kernels.AdaptiveWindow(i, ax.in, ax.out)
			base := fmt.Sprintf("%s.%s%d", out, ax.tag, i)
			starts := b.initI64(base+".starts", []int64{int64(st)})
			ends := b.initI64(base+".ends", []int64{int64(en)})
			axes := b.initI64(base+".axes", []int64{int64(ax.axis)})
			sl := b.node("Slice", nodeName(base)+"/slice", []string{pooled, starts, ends, axes}, base+".slice")
			parts = append(parts, b.node("ReduceMean", nodeName(base)+"/mean", []string{sl}, base,
				attrInts("axes", ax.axis), attrInt("keepdims", 1)))
		}
		name := out + "." + ax.tag
		if ax.tag == "cols" {
			name = out
		}
		pooled = b.node("Concat", nodeName(out)+"/"+ax.tag, parts, name, attrInt("axis", ax.axis))
	}
	return pooled
}

func (e *emitter) linear(x string, l *graph.Linear, out string) string {
	b := e.b
	var wt, bias string
	if e.opts.Int8 != nil {
		wt, bias = e.int8Weights(l.Name, []int{l.Out, l.In}, l.Weight, l.Bias, x)
	} else {
		wt = b.initF32(l.Name+".weight", []int{l.Out, l.In}, l.Weight)
		bias = b.initF32(l.Name+".bias", []int{l.Out}, l.Bias)
	}
	y := out
	if l.ReLU {
		y = out + ".linear"
	}
	y = b.node("Gemm", nodeName(l.Name), []string{x, wt, bias}, y,
		attrFloat("alpha", 1), attrFloat("beta", 1), attrInt("transB", 1))
	if l.ReLU {
		y = b.node("Relu", nodeName(l.Name)+"/relu", []string{y}, out)
	}
	return y
}
