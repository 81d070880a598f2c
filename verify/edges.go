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

// Default tolerances of a quantized (int8) file, from the errors measured
// against the float32 reference pass on the photo folder's images (the
// derivation is in docs/verify.md, "int8 files"): over both fixture
// layouts calibrated by minmax and by percentile on the folder, the
// logits differed from the reference's by at most 0.133 of the largest
// reference value (the tutorial layout, percentile: its clipped tails);
// RTol 0.25 is 1.9 times that. ATol 0.05 covers probabilities' small
// values before RTol's share. An int8 file's error is its quantization's,
// far above float rounding, so its weights are checked one by one as
// well (CheckQuantized); this bound catches what moves the outputs
// grossly.
const (
	DefaultATolInt8 = 0.05
	DefaultRTolInt8 = 0.25
)

// DefaultTolerances are the bounds for m when none are given: the int8
// ones for a quantized file, the float16 ones when any value of the file
// is float16.
func DefaultTolerances(m *Model) (atol, rtol float64) {
	if m.Int8() {
		return DefaultATolInt8, DefaultRTolInt8
	}
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
	// an int8 file's input range: what its input's QuantizeLinear
	// represents (lo < hi); random inputs are kept within it
	lo, hi float32
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
		f.lo, f.hi = inputRange(m, in.Name)
		return f, nil
	}
	spec, ok, err := pixnorm.FromMetadata(m.metadata(), ch)
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

// inputRange is the range of values the QuantizeLinear that reads a
// float graph input directly represents, (0 − zero point)·scale to
// (255 − zero point)·scale for uint8; 0, 0 when there is none. Beyond it
// an int8 file saturates its input, which the float32 reference does
// not: that difference is the input's range, chosen by calibration, not
// an error of the file, so random inputs stay inside it.
func inputRange(m *Model, input string) (lo, hi float32) {
	for _, n := range m.order {
		if n.GetOpType() != "QuantizeLinear" || n.Input[0] != input {
			continue
		}
		s, ok := m.inits[n.Input[1]]
		if !ok || len(s.F) != 1 || !(s.F[0] > 0) {
			return 0, 0
		}
		zp, qlo, qhi := int64(0), int64(0), int64(255)
		if len(n.Input) > 2 && n.Input[2] != "" {
			z, ok := m.inits[n.Input[2]]
			if !ok || len(z.I) != 1 {
				return 0, 0
			}
			zp = z.I[0]
			if z.Int8 {
				qlo, qhi = -128, 127
			}
		}
		return float32(qlo-zp) * s.F[0], float32(qhi-zp) * s.F[0]
	}
	return 0, 0
}

// random is one random batch: standard normal values for a float input
// (within an int8 file's input range);
// uniform pixels 0 to 255 for a uint8 one, the reference's input being
// their normalisation.
func (f *feed) random(rng *rand.Rand, n, h, w int) Batch {
	b := Batch{N: n, H: h, W: w}
	if f.pixels == nil {
		b.Data = make([]float32, n*f.ch*h*w)
		for j := range b.Data {
			b.Data[j] = float32(rng.NormFloat64())
			if f.lo < f.hi {
				b.Data[j] = min(max(b.Data[j], f.lo), f.hi)
			}
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
// structure check: itself, or for a float16 or quantized file a copy
// whose float16, int8 and uint8 initializers and declared float16 types
// are widened to float32, since onnx-go decodes none of them ("Not Yet
// Implemented"). Nodes, names and counts, which are what the check
// compares, are the file's own.
func structureData(data []byte, m *Model) []byte {
	if !m.Float16() && !m.Int8() {
		return data
	}
	pm := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, pm); err != nil {
		return data // Parse read it; the check will say what onnx-go makes of it
	}
	g := pm.GetGraph()
	for _, t := range g.GetInitializer() {
		switch onnxpb.TensorProto_DataType(t.GetDataType()) {
		case onnxpb.TensorProto_INT8, onnxpb.TensorProto_UINT8:
			if v, ok := m.inits[t.GetName()]; ok && (v.Int8 || v.Byte) {
				raw := make([]byte, 4*len(v.I))
				for i, x := range v.I {
					binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(float32(x)))
				}
				t.DataType, t.RawData, t.Int32Data = proto.Int32(int32(onnxpb.TensorProto_FLOAT)), raw, nil
			}
			continue
		case onnxpb.TensorProto_FLOAT16:
		default:
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
