package graph

import (
	"fmt"
	"math"
	"strings"

	"github.com/gnconv/gnconv/internal/kernels"
)

// Activation is an NCHW float32 batch.
type Activation struct {
	N, C, H, W int
	Data       []float32
}

// Output is one named output of the network: logits, aux1 or aux2, each
// batch×classes.
type Output struct {
	Name  string
	Shape []int
	Data  []float32
}

// ImageNet statistics used by transform_input.
var (
	ImageNetMean = [3]float32{0.485, 0.456, 0.406}
	ImageNetStd  = [3]float32{0.229, 0.224, 0.225}
)

// TransformInputCoeffs are torchvision's transform_input per channel:
// x·Scale[c] + Shift[c], with Scale = std/0.5 and Shift = (mean−0.5)/0.5.
func TransformInputCoeffs() (scale, shift [3]float32) {
	for c := 0; c < 3; c++ {
		scale[c] = ImageNetStd[c] / 0.5
		shift[c] = (ImageNetMean[c] - 0.5) / 0.5
	}
	return
}

// Forward runs the network in eval mode (dropout is identity) on an NCHW
// batch x of shape batch×InChannels×h×w and returns the logits, then each
// aux head's output when withAux is set.
func (n *Net) Forward(x []float32, batch, h, w int, withAux bool) ([]Output, error) {
	outs, size, err := n.prepare(x, batch, h, w, withAux)
	if err != nil {
		return nil, err
	}
	// images are independent: with a batch of at least one image per core,
	// each core takes its images through the whole network
	kernels.SplitBatch(batch, func(share, lo, hi int) {
		f := &pass{input: x[lo*size : hi*size]}
		if n.acts != nil {
			f.bufs = n.acts.For(share)
		} else {
			f.bufs = &kernels.Buffers{} // a Net not built by build
		}
		dst := make([][]float32, len(outs))
		for i := range outs {
			dst[i] = outs[i].Data[lo*n.Classes : hi*n.Classes]
		}
		f.run(n, Activation{hi - lo, n.InChannels, h, w, f.input}, withAux, dst)
	})
	return outs, nil
}

// prepare checks a forward pass's arguments and makes its outputs; size
// is the values of one image.
func (n *Net) prepare(x []float32, batch, h, w int, withAux bool) (outs []Output, size int, err error) {
	if miss := n.MissingWeights(); len(miss) > 0 {
		if len(miss) > 6 {
			miss = append(miss[:6], fmt.Sprintf("and %d more", len(miss)-6))
		}
		return nil, 0, fmt.Errorf("the network lacks weights (%s): it was loaded non-strictly from a checkpoint without them", strings.Join(miss, ", "))
	}
	if withAux && !n.HasAux() {
		return nil, 0, fmt.Errorf("the network has no aux heads")
	}
	if err := n.CheckInput(h, w); err != nil {
		return nil, 0, err
	}
	size, ok := checkedMul(1<<40, n.InChannels, h, w)
	if !ok || batch <= 0 || len(x)/size != batch || len(x)%size != 0 {
		return nil, 0, fmt.Errorf("input has %d values, want %d×%d×%d×%d", len(x), batch, n.InChannels, h, w)
	}
	for _, name := range n.OutputNames(withAux) {
		outs = append(outs, Output{name, []int{batch, n.Classes}, make([]float32, batch*n.Classes)})
	}
	return outs, size, nil
}

// run takes a batch through the network and copies its outputs to dst
// (logits, then the aux heads').
func (f *pass) run(n *Net, a Activation, withAux bool, dst [][]float32) {
	if n.TransformInput {
		a = f.transformInput(a)
		f.reportAs(nil, "transform_input", a)
	}
	f.last, f.output = n.Body[len(n.Body)-1], "logits"
	for i, l := range n.Body {
		a = f.apply(a, l, false)
		if !withAux {
			continue
		}
		for j, h := range n.Aux {
			if h.After == i {
				last, output, flat := f.last, f.output, f.flat
				f.last, f.output, f.head = h.Layers[len(h.Layers)-1], h.Name, h.Name
				o := f.chain(a, h.Layers, true)
				f.last, f.output, f.head, f.flat = last, output, "", flat
				copy(dst[1+j], o.Data)
				f.done(o)
			}
		}
	}
	copy(dst[0], a.Data)
	f.done(a)
}

// aliases reports whether a layer passes its input's buffer on as its
// output (flatten, dropout): such a layer neither frees nor owns it.
func aliases(l *Layer) bool { return l.Kind == KindFlatten || l.Kind == KindDropout }

// chain runs a list of layers; keep leaves the input for other readers.
func (f *pass) chain(a Activation, layers []*Layer, keep bool) Activation {
	for _, l := range layers {
		a = f.apply(a, l, keep)
		if !aliases(l) {
			keep = false
		}
	}
	return a
}

// apply runs one layer; unless keep is set, a's buffer goes back once read.
func (f *pass) apply(a Activation, l *Layer, keep bool) Activation {
	var out Activation
	switch l.Kind {
	case KindConv:
		oh, ow := convParams(l.Conv, a.H, a.W).OutSize()
		out = f.alloc(a.N, l.Conv.Out, oh, ow)
		convInto(a, l.Conv, out, 0)
	case KindMaxPool, KindAvgPool:
		out = f.poolKeep(a, l.Pool)
	case KindAdaptiveAvgPool:
		out = f.alloc(a.N, a.C, l.Pool.Out[0], l.Pool.Out[1])
		kernels.AdaptiveAvgPool2D(a.Data, a.N, a.C, a.H, a.W, l.Pool.Out[0], l.Pool.Out[1], out.Data)
	case KindLRN:
		out = f.alloc(a.N, a.C, a.H, a.W)
		kernels.LRN(a.Data, a.N, a.C, a.H*a.W, l.LRN.Size, l.LRN.Alpha, l.LRN.Beta, l.LRN.Bias, out.Data)
	case KindInception:
		out = f.inception(a, l)
	case KindFlatten:
		out = Activation{a.N, a.C * a.H * a.W, 1, 1, a.Data}
		f.flat = true
		f.report(l, out)
		return out
	case KindDropout:
		f.report(l, a)
		return a
	case KindLinear:
		out = f.alloc(a.N, l.Linear.Out, 1, 1)
		linear(a.Data, a.N, l.Linear, out.Data)
	}
	f.report(l, out)
	if !keep {
		f.done(a)
	}
	return out
}

// pass is one forward pass: its activations come from the network's
// buffers and go back to them as soon as the next layer has read them.
type pass struct {
	bufs  *kernels.Buffers
	input []float32 // the caller's, never recycled

	// ForwardLayers only: visit sees each layer's output
	visit  func(LayerOutput)
	head   string // the aux head being run
	last   *Layer // the layer that makes the network output named output
	output string
	flat   bool // the activation has been flattened
}

func (f *pass) alloc(n, c, h, w int) Activation {
	return Activation{n, c, h, w, f.bufs.Get(n * c * h * w)}
}

// done hands a's buffer back: nothing reads it any more.
func (f *pass) done(a Activation) {
	if len(a.Data) > 0 && (len(f.input) == 0 || &a.Data[0] != &f.input[0]) {
		f.bufs.Put(a.Data)
	}
}

// doneUnless hands t's buffer back unless it is a's, which others read.
func (f *pass) doneUnless(t, a Activation) {
	if len(t.Data) > 0 && len(a.Data) > 0 && &t.Data[0] == &a.Data[0] {
		return
	}
	f.done(t)
}

func (f *pass) transformInput(a Activation) Activation {
	scale, shift := TransformInputCoeffs()
	out := f.alloc(a.N, a.C, a.H, a.W)
	plane := a.H * a.W
	for i := 0; i < a.N; i++ {
		for c := 0; c < 3; c++ {
			o := (i*3 + c) * plane
			for j, v := range a.Data[o : o+plane] {
				out.Data[o+j] = v*scale[c] + shift[c]
			}
		}
	}
	return out
}

// ConvEpilogue is what follows a conv block's convolution: its bias, its
// batch norm as y = x·s + (β − μ·s + b·s) with s = γ/√(σ²+ε), then ReLU.
func ConvEpilogue(c *Conv) kernels.Epilogue {
	if c.BN == nil {
		return kernels.Epilogue{Shift: c.Bias, ReLU: c.ReLU}
	}
	scale, shift := BatchNormScaleShift(c)
	return kernels.Epilogue{Scale: scale, Shift: shift, ReLU: c.ReLU}
}

// BatchNormScaleShift is a conv block's bias and batch norm as one scale
// and shift per output channel, computed in float64 and rounded once.
func BatchNormScaleShift(c *Conv) (scale, shift []float32) {
	scale = make([]float32, c.Out)
	shift = make([]float32, c.Out)
	for o := range scale {
		s := float64(c.BN.Weight[o]) / math.Sqrt(float64(c.BN.Var[o])+float64(c.BN.Eps))
		mean := float64(c.BN.Mean[o])
		if c.HasBias {
			mean -= float64(c.Bias[o])
		}
		scale[o] = float32(s)
		shift[o] = float32(float64(c.BN.Bias[o]) - mean*s)
	}
	return
}

// convInto runs a conv block into channels [first, first+c.Out) of out.
func convInto(a Activation, c *Conv, out Activation, first int) {
	p := convParams(c, a.H, a.W)
	c.packOnce.Do(func() { c.packed, c.ep = kernels.PackConvWeights(p, c.Weight), ConvEpilogue(c) })
	plane := out.H * out.W
	kernels.Conv2DInto(a.Data, a.N, p, c.packed, c.ep, out.Data[first*plane:], out.C*plane)
}

// poolKeep pools an input that is read again later.
func (f *pass) poolKeep(a Activation, p *Pool) Activation {
	pp := kernels.PoolParams{C: a.C, H: a.H, W: a.W, KH: p.K[0], KW: p.K[1], StrideH: p.Stride[0], StrideW: p.Stride[1],
		PadT: p.Pad[0], PadL: p.Pad[1], PadB: p.Pad[0], PadR: p.Pad[1], CountIncludePad: p.CountIncludePad}
	pp.OH = kernels.PoolOutSize(a.H, p.K[0], p.Stride[0], p.Pad[0], p.Pad[0], p.Ceil)
	pp.OW = kernels.PoolOutSize(a.W, p.K[1], p.Stride[1], p.Pad[1], p.Pad[1], p.Ceil)
	out := f.alloc(a.N, a.C, pp.OH, pp.OW)
	if p.Max {
		kernels.MaxPool2D(a.Data, a.N, pp, out.Data)
	} else {
		kernels.AvgPool2D(a.Data, a.N, pp, out.Data)
	}
	return out
}

// inception runs the branches, each writing its channels of the
// concatenated output: a branch that ends in a conv block writes them
// directly, any other is copied in.
func (f *pass) inception(a Activation, l *Layer) Activation {
	s, _ := l.OutShape(Shape{C: a.C, H: a.H, W: a.W})
	out := f.alloc(a.N, s.C, s.H, s.W)
	first := 0
	for _, br := range l.Branches {
		last := br[len(br)-1]
		var c int
		if last.Kind == KindConv {
			t := a
			if len(br) > 1 {
				t = f.chain(a, br[:len(br)-1], true)
			}
			convInto(t, last.Conv, out, first)
			f.doneUnless(t, a)
			c = last.Conv.Out
			if f.visit != nil {
				// the branch's channels of the unit's output, copied out
				// for the visitor only
				b := f.alloc(a.N, c, s.H, s.W)
				plane := s.H * s.W
				for i := 0; i < a.N; i++ {
					copy(b.Data[i*c*plane:(i+1)*c*plane], out.Data[(i*s.C+first)*plane:(i*s.C+first+c)*plane])
				}
				f.report(last, b)
				f.done(b)
			}
		} else {
			t := f.chain(a, br, true)
			plane := t.H * t.W
			for i := 0; i < a.N; i++ {
				copy(out.Data[(i*s.C+first)*plane:(i*s.C+first+t.C)*plane], t.Data[i*t.C*plane:(i+1)*t.C*plane])
			}
			c = t.C
			f.doneUnless(t, a)
		}
		first += c
	}
	return out
}

func linear(x []float32, batch int, l *Linear, out []float32) {
	kernels.MatMulBT(batch, l.Out, l.In, x, l.Weight, out)
	for i := 0; i < batch; i++ {
		row := out[i*l.Out : (i+1)*l.Out]
		for j := range row {
			row[j] += l.Bias[j]
		}
	}
	if l.ReLU {
		kernels.ReLU(out)
	}
}
