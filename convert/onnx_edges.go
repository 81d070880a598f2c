package convert

import (
	"fmt"
	"strings"

	"github.com/gnconv/gnconv/graph"
	"github.com/gnconv/gnconv/internal/labels"
	"github.com/gnconv/gnconv/internal/onnxpb"
	"github.com/gnconv/gnconv/internal/preprocess"
)

// The edges of the emitted graph: what a deploy app feeds (float32, float16
// or uint8 pixels normalised in the graph) and reads (logits or
// probabilities, float32 or float16), and the metadata that says so.

// Output names of a file whose outputs end in Softmax: the logits are
// still computed under their own names, inside the graph.
const (
	ProbabilitiesOutput = "probabilities"
	probabilitiesSuffix = "_probabilities" // aux1_probabilities, aux2_probabilities
)

// ProbabilitiesName is the output name of a network output's softmax.
func ProbabilitiesName(output string) string {
	if output == "logits" {
		return ProbabilitiesOutput
	}
	return output + probabilitiesSuffix
}

// graphInput is the graph's one input as declared.
type graphInput struct {
	name string
	elem onnxpb.TensorProto_DataType
	doc  string
	dims []int // after the batch
}

func checkEdges(net *graph.Net, opts ONNXOptions) error {
	if opts.Float16IO && !opts.Float16 {
		return fmt.Errorf("float16 inputs and outputs need float16 weights (--dtype float16)")
	}
	if len(opts.Labels) > 0 {
		if err := labels.Check(opts.Labels, net.Classes); err != nil {
			return err
		}
	}
	if p := opts.Preprocess; p != nil {
		if err := p.Check(net.InChannels); err != nil {
			return err
		}
	}
	return nil
}

// inputEdge emits the nodes between the graph input and the network's
// first layer: the preprocessing (in float32), then a Cast to float16 when
// the network computes in float16 from a float32 or uint8 input. It
// returns the value the network reads and the graph input.
func (e *emitter) inputEdge(net *graph.Net) (string, graphInput) {
	b, opts := e.b, e.opts
	c, h, w := net.InChannels, opts.Height, opts.Width
	size := fmt.Sprintf("%dx%d", h, w)
	if opts.Dynamic {
		mh, mw := MinInputSize(net)
		h, w, size = dimHeight, dimWidth, fmt.Sprintf("any size from %dx%d", mh, mw)
	}
	in := graphInput{name: "input", elem: onnxpb.TensorProto_FLOAT, dims: []int{c, h, w},
		doc: fmt.Sprintf("images, NCHW, %d channels of %s, normalised as the network was trained", c, size)}
	x := in.name
	if p := opts.Preprocess; p != nil {
		in = graphInput{name: "image", elem: onnxpb.TensorProto_UINT8,
			doc: fmt.Sprintf("uint8 pixels, %s, %d channels of %s (decoded, resized and cropped by the caller), normalised inside as (x/255 - mean)/std with mean %s and std %s",
				strings.ToUpper(p.Layout), c, size, p.Metadata()[preprocess.KeyMean], p.Metadata()[preprocess.KeyStd])}
		in.dims = []int{h, w, c}
		if p.Layout == preprocess.NCHW {
			in.dims = []int{c, h, w}
		}
		x = b.node("Cast", "preprocess/cast", []string{in.name}, "image.float", attrInt("to", int(onnxpb.TensorProto_FLOAT)))
		if p.Layout == preprocess.NHWC {
			x = b.node("Transpose", "preprocess/transpose", []string{x}, "image.nchw", attrInts("perm", 0, 3, 1, 2))
		}
		// the same arithmetic, in the same order, as preprocess.Normalize
		scale := b.initFloat("preprocess.scale", nil, []float32{255}, false)
		mean := b.initFloat("preprocess.mean", []int{1, c, 1, 1}, p.Mean, false)
		std := b.initFloat("preprocess.std", []int{1, c, 1, 1}, p.Std, false)
		x = b.node("Div", "preprocess/scale", []string{x, scale}, "image.unit")
		x = b.node("Sub", "preprocess/mean", []string{x, mean}, "image.centred")
		x = b.node("Div", "preprocess/std", []string{x, std}, "input")
	}
	if opts.Float16 {
		b.half = true
		if opts.Float16IO && opts.Preprocess == nil {
			in.elem = onnxpb.TensorProto_FLOAT16
		} else {
			x = b.node("Cast", "input/float16", []string{x}, "input.float16", attrInt("to", int(onnxpb.TensorProto_FLOAT16)))
		}
	}
	return x, in
}

// outputEdges emits the nodes after the network's outputs: a Cast back to
// float32 when the network computes in float16 and the outputs are
// float32, then Softmax when asked (in the outputs' type, so a float32
// file's probabilities are computed in float32). It returns the graph's
// output names.
func (e *emitter) outputEdges(outputs []string) []string {
	b, opts := e.b, e.opts
	out := make([]string, len(outputs))
	for i, o := range outputs {
		if opts.Float16 && !opts.Float16IO {
			renameOutput(b, o, o+".float16")
			o = b.node("Cast", nodeName(o)+"/float32", []string{o + ".float16"}, o, attrInt("to", int(onnxpb.TensorProto_FLOAT)))
		}
		if opts.Softmax {
			o = b.node("Softmax", nodeName(o)+"/softmax", []string{o}, ProbabilitiesName(o), attrInt("axis", 1))
		}
		out[i] = o
	}
	return out
}

// outputDoc describes an output for readers such as Netron.
func outputDoc(name string, softmax bool) string {
	what := "class scores (logits)"
	if softmax {
		what = "class probabilities (softmax over the classes)"
	}
	switch {
	case strings.HasPrefix(name, "aux1"):
		what += " of the aux head on inception4a"
	case strings.HasPrefix(name, "aux2"):
		what += " of the aux head on inception4d"
	}
	return what + ", batch x classes"
}

// edgeMetadata records the edges' choices in metadata_props.
func edgeMetadata(meta map[string]string, net *graph.Net, opts ONNXOptions) {
	if opts.Dynamic {
		mh, mw := MinInputSize(net)
		meta["input_size"] = "dynamic"
		meta["min_input_size"] = fmt.Sprintf("%d,%d", mh, mw)
	}
	meta["dtype"], meta["input_dtype"], meta["output_dtype"] = "float32", "float32", "float32"
	if opts.Float16 {
		meta["dtype"] = "float16"
		if opts.Float16IO {
			meta["input_dtype"], meta["output_dtype"] = "float16", "float16"
		}
	}
	meta[preprocess.KeyPreprocess] = "none"
	if p := opts.Preprocess; p != nil {
		for k, v := range p.Metadata() {
			meta[k] = v
		}
		meta["input_dtype"] = "uint8"
	}
	if len(opts.Labels) > 0 {
		meta[labels.MetadataKey] = labels.Encode(opts.Labels)
	}
}
