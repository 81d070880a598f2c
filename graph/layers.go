package graph

import "github.com/gnconv/gnconv/internal/kernels"

// LayerOutput is one layer's output during ForwardLayers.
type LayerOutput struct {
	// Layer is the layer; nil for transform_input.
	Layer *Layer
	// Name is the layer's module path ("inception4a.branch2.1"), its kind
	// for a layer without one ("flatten"), or "transform_input".
	Name string
	// Head is the aux head the layer belongs to ("" on the main path).
	Head string
	// Output is the network output the layer makes ("logits", "aux1"),
	// for the last layer of the main path and of each aux head.
	Output string
	// Shape is batch first: N×C×H×W, or N×F once flattened.
	Shape []int
	// Data holds the values; it is valid only during the call (the pass
	// recycles it), so a visitor that keeps them copies them.
	Data []float32
}

// ForwardLayers is Forward that also hands every layer's output to visit,
// in network order: transform_input when the network applies it, then
// each layer of the main path (an Inception unit's branches, each of
// their layers in order, before the unit itself), each aux head's layers
// right after the layer it reads (withAux). This is the order in which
// the ONNX emitter names its values. The whole batch goes through one
// pass; an Inception branch whose last conv block writes straight into
// the unit's output has its channels copied out for visit.
func (n *Net) ForwardLayers(x []float32, batch, h, w int, withAux bool, visit func(LayerOutput)) ([]Output, error) {
	outs, _, err := n.prepare(x, batch, h, w, withAux)
	if err != nil {
		return nil, err
	}
	f := &pass{input: x, visit: visit}
	if n.acts != nil {
		f.bufs = n.acts.For(0)
	} else {
		f.bufs = &kernels.Buffers{}
	}
	dst := make([][]float32, len(outs))
	for i := range outs {
		dst[i] = outs[i].Data
	}
	f.run(n, Activation{batch, n.InChannels, h, w, x}, withAux, dst)
	return outs, nil
}

// report hands a layer's output to the visitor, if any.
func (f *pass) report(l *Layer, a Activation) {
	if f.visit == nil {
		return
	}
	name := l.Name
	if name == "" {
		name = l.Kind.String()
	}
	f.reportAs(l, name, a)
}

func (f *pass) reportAs(l *Layer, name string, a Activation) {
	if f.visit == nil {
		return
	}
	o := LayerOutput{Layer: l, Name: name, Head: f.head, Shape: []int{a.N, a.C, a.H, a.W}, Data: a.Data}
	if f.flat {
		o.Shape = o.Shape[:2]
	}
	if l != nil && l == f.last {
		o.Output = f.output
	}
	f.visit(o)
}
