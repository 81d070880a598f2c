package verify

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand"
	"strings"

	"github.com/gnconv/gnconv/graph"
	"github.com/gnconv/gnconv/internal/onnxpb"
	pixnorm "github.com/gnconv/gnconv/internal/preprocess"
	"google.golang.org/protobuf/proto"
)

// The edges of a file as verify sees them: which reference output each of
// the file's outputs is, what its input takes (float32 or float16 NCHW, or
// uint8 pixels normalised inside the file), and which bound its type
// calls for.

// Default tolerances of a file that computes in float16, from the errors
// measured against the float32 reference pass (TestFloat16Error; the
// derivation is in docs/verify.md, "float16 files"): over both fixture
// layouts with their aux heads, float and uint8 inputs (normalised in the
// file), 8 batches of 2, the interpreter (which rounds every operator's
// output to float16) differed from the reference by at most 1.34e-3 of
// the largest reference value on logits, and by at most 5.05e-3 absolute
// on probabilities; onnxruntime stays below both (interop tests). RTol
// 5e-3 is 3.7 times the first; ATol 1e-2 is 2 times the second before
// RTol's share.
const (
	DefaultATolFloat16 = 1e-2
	DefaultRTolFloat16 = 5e-3
)

// DefaultTolerances are the bounds for m when none are given: the float16
// ones when any value of the file is float16.
func DefaultTolerances(m *Model) (atol, rtol float64) {
	if m.Float16() {
		return DefaultATolFloat16, DefaultRTolFloat16
	}
	return DefaultATol, DefaultRTol
}

// referenceName is the reference output that a file output of this name
// computes: logits, aux1 and aux2 by their names, and the probabilities
// import --softmax names after them (probabilities, aux1_probabilities,
// aux2_probabilities). Other names return "".
func referenceName(name string) string {
	switch name {
	case "logits", "aux1", "aux2":
		return name
	case "probabilities":
		return "logits"
	case "aux1_probabilities":
		return "aux1"
	case "aux2_probabilities":
		return "aux2"
	}
	return ""
}

// feed is what the file's one input takes.
type feed struct {
	in     IO
	ch     int
	h, w   int           // -1: symbolic
	pixels *pixnorm.Spec // uint8 pixels normalised in the file; nil: the network's own input
}

// newFeed reads the file's input: an NCHW float batch with the network's
// channels, or, for a uint8 input, the pixels whose normalisation the
// file's metadata records (preprocess, mean, std, input_layout). The
// metadata drives the reference's normalisation and the interpreter runs
// the file's nodes, so a file whose nodes normalise otherwise than its
// metadata says fails the comparison.
func newFeed(m *Model, ch int) (*feed, error) {
	if len(m.Inputs) != 1 {
		return nil, fmt.Errorf("the model has %d inputs; verify runs files with one image input", len(m.Inputs))
	}
	in := m.Inputs[0]
	f := &feed{in: in, ch: ch}
	if in.Elem != onnxpb.TensorProto_UINT8 {
		if len(in.Shape) != 4 || (in.Shape[1] != ch && in.Shape[1] != -1) {
			return nil, fmt.Errorf("the model's inputs %v are not one NCHW image batch with the network's %d channels", m.Inputs, ch)
		}
		f.h, f.w = in.Shape[2], in.Shape[3]
		return f, nil
	}
	meta := map[string]string{}
	for _, p := range m.Proto.GetMetadataProps() {
		if len(meta) < 4096 {
			meta[p.GetKey()] = p.GetValue()
		}
	}
	spec, ok, err := pixnorm.FromMetadata(meta, ch)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("the model's input %q is uint8 pixels, but the file records no preprocessing (metadata preprocess, mean, std, input_layout): verify cannot tell what the network is fed", in.Name)
	}
	f.pixels = &spec
	want := spec.Shape(-1, -1, -1)
	if len(in.Shape) != 4 {
		return nil, fmt.Errorf("the model's uint8 input has shape %v, not a %s image batch", in.Shape, strings.ToUpper(spec.Layout))
	}
	for d := range want {
		if want[d] >= 0 && in.Shape[d] != want[d] && in.Shape[d] != -1 {
			return nil, fmt.Errorf("the model's uint8 input has shape %v, not %s with the network's %d channels", in.Shape, strings.ToUpper(spec.Layout), ch)
		}
	}
	if spec.Layout == pixnorm.NCHW {
		f.h, f.w = in.Shape[2], in.Shape[3]
	} else {
		f.h, f.w = in.Shape[1], in.Shape[2]
	}
	return f, nil
}

// random is one random batch: standard normal values for a float input;
// uniform pixels 0 to 255 for a uint8 one, the reference's input being
// their normalisation.
func (f *feed) random(rng *rand.Rand, n, h, w int) Batch {
	b := Batch{N: n, H: h, W: w}
	if f.pixels == nil {
		b.Data = make([]float32, n*f.ch*h*w)
		for j := range b.Data {
			b.Data[j] = float32(rng.NormFloat64())
		}
		return b
	}
	px := make([]float32, n*f.ch*h*w)
	for j := range px {
		px[j] = float32(rng.Intn(256))
	}
	return f.withPixels(b, px)
}

func (f *feed) withPixels(b Batch, px []float32) Batch {
	b.Pixels, b.PixelShape = px, f.pixels.Shape(b.N, b.H, b.W)
	b.Data = f.pixels.Normalize(px, b.N, b.H, b.W)
	return b
}

// fromImages turns a batch of images, normalised with mean and std per
// channel, into the pixels a uint8 input takes: the resized and cropped
// image's values scaled back to 0..255 and rounded, as a deploy app's
// decoder and resizer would hand them over.
func (f *feed) fromImages(b Batch, mean, std []float32) (Batch, error) {
	if f.pixels == nil || b.Pixels != nil {
		return b, nil
	}
	c, hw := f.ch, b.H*b.W
	if len(mean) == 0 && len(std) == 0 {
		// ToTensor alone: values in [0, 1]
		mean, std = make([]float32, c), make([]float32, c)
		for i := range std {
			std[i] = 1
		}
	}
	if len(mean) != c || len(std) != c {
		return b, fmt.Errorf("the images were prepared for %d channels, the file's input has %d", len(mean), c)
	}
	px := make([]float32, len(b.Data))
	for i := 0; i < b.N; i++ {
		for ch := 0; ch < c; ch++ {
			for j := 0; j < hw; j++ {
				v := float64(b.Data[(i*c+ch)*hw+j])*float64(std[ch]) + float64(mean[ch])
				p := math.Max(0, math.Min(255, math.Round(v*255)))
				y, x := j/b.W, j%b.W
				if f.pixels.Layout == pixnorm.NCHW {
					px[(i*c+ch)*hw+j] = float32(p)
				} else {
					px[((i*b.H+y)*b.W+x)*c+ch] = float32(p)
				}
			}
		}
	}
	return f.withPixels(b, px), nil
}

// inputValue is the interpreter's input for a batch of a run's file: its
// pixels when it has them (a uint8 input), else its NCHW values.
func inputValue(b Batch, net *graph.Net) *Value {
	if b.Pixels != nil {
		return &Value{Shape: b.PixelShape, F: b.Pixels}
	}
	ch := b.C
	if ch == 0 {
		ch = net.InChannels
	}
	return &Value{Shape: []int{b.N, ch, b.H, b.W}, F: b.Data}
}

// structureData is the file as onnx-go's decoder is given it for the
// structure check: itself, or for a float16 file a copy whose float16
// tensors and declared types are widened to float32, since onnx-go does
// not decode float16 ("Not Yet Implemented"). Nodes, names and counts,
// which are what the check compares, are the file's own.
func structureData(data []byte, m *Model) []byte {
	if !m.Float16() {
		return data
	}
	pm := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, pm); err != nil {
		return data // Parse read it; the check will say what onnx-go makes of it
	}
	g := pm.GetGraph()
	for _, t := range g.GetInitializer() {
		if onnxpb.TensorProto_DataType(t.GetDataType()) != onnxpb.TensorProto_FLOAT16 {
			continue
		}
		if v, ok := m.inits[t.GetName()]; ok && v.Half {
			raw := make([]byte, 4*len(v.F))
			for i, x := range v.F {
				binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(x))
			}
			t.DataType, t.RawData, t.Int32Data = proto.Int32(int32(onnxpb.TensorProto_FLOAT)), raw, nil
		}
	}
	for _, vs := range [][]*onnxpb.ValueInfoProto{g.GetInput(), g.GetOutput(), g.GetValueInfo()} {
		for _, v := range vs {
			if tt := v.GetType().GetTensorType(); tt != nil && onnxpb.TensorProto_DataType(tt.GetElemType()) == onnxpb.TensorProto_FLOAT16 {
				tt.ElemType = proto.Int32(int32(onnxpb.TensorProto_FLOAT))
			}
		}
	}
	out, err := proto.Marshal(pm)
	if err != nil {
		return data
	}
	return out
}
