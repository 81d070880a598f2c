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

// CheckInput reports whether an H×W input can pass through the network.
func (n *Net) CheckInput(h, w int) error {
	sz := func(s int, p Pool) int { return kernels.PoolOutSize(s, p.K, p.Stride, p.Pad, p.Pad, p.Ceil) }
	conv1 := func(s int) int { return (s+2*3-7)/2 + 1 }
	s := [2]int{h, w}
	var at4a, at4d [2]int
	for i := range s {
		if s[i] < 7-6 {
			return fmt.Errorf("input %dx%d is too small", h, w)
		}
		x := conv1(s[i])
		x = sz(x, n.Pool1)
		x = sz(x, n.Pool2)
		x = sz(x, n.Pool3)
		at4a[i], at4d[i] = x, x
		x = sz(x, n.Pool4)
		if x < 1 {
			return fmt.Errorf("input %dx%d is too small for GoogLeNet: the feature map vanishes before the last stage", h, w)
		}
	}
	if n.HasAux() && !n.Aux1.Adaptive {
		p := n.Aux1.Pool
		oh := kernels.PoolOutSize(at4a[0], p.K, p.Stride, 0, 0, false)
		ow := kernels.PoolOutSize(at4a[1], p.K, p.Stride, 0, 0, false)
		if oh*ow*128 != n.Aux1.FC1.In {
			return fmt.Errorf("input %dx%d does not fit the tutorial layout's aux heads: their fc1 expects %d = 128·4·4 inputs, "+
				"but the %dx%d feature map they read pools to 128·%d·%d; use a 224x224 input (or one that gives a 14x14 map at inception4a), or drop the aux heads",
				h, w, n.Aux1.FC1.In, at4a[0], at4a[1], oh, ow)
		}
	}
	if n.HasAux() && (at4d[0] < 1 || at4d[1] < 1) {
		return fmt.Errorf("input %dx%d is too small for the aux heads", h, w)
	}
	return nil
}

// Forward runs the network in eval mode (dropout is identity) on an NCHW
// batch x of shape n×3×h×w and returns the logits, then aux1 and aux2 when
// withAux is set.
func (n *Net) Forward(x []float32, batch, h, w int, withAux bool) ([]Output, error) {
	if miss := n.MissingWeights(); len(miss) > 0 {
		if len(miss) > 6 {
			miss = append(miss[:6], fmt.Sprintf("and %d more", len(miss)-6))
		}
		return nil, fmt.Errorf("the network lacks weights (%s): it was loaded non-strictly from a checkpoint without them", strings.Join(miss, ", "))
	}
	if withAux && !n.HasAux() {
		return nil, fmt.Errorf("the network has no aux heads")
	}
	if len(x) != batch*3*h*w {
		return nil, fmt.Errorf("input has %d values, want %d×3×%d×%d", len(x), batch, h, w)
	}
	if err := n.CheckInput(h, w); err != nil {
		return nil, err
	}
	outs := []Output{{"logits", []int{batch, n.Classes}, make([]float32, batch*n.Classes)}}
	if withAux {
		outs = append(outs, Output{"aux1", []int{batch, n.Classes}, make([]float32, batch*n.Classes)},
			Output{"aux2", []int{batch, n.Classes}, make([]float32, batch*n.Classes)})
	}
	// images are independent: with a batch of at least one image per core,
	// each core takes its images through the whole network
	size := 3 * h * w
	kernels.SplitBatch(batch, func(share, lo, hi int) {
		f := &pass{input: x[lo*size : hi*size]}
		if n.acts != nil {
			f.bufs = n.acts.For(share)
		} else {
			f.bufs = &kernels.Buffers{} // a Net not built by newNet
		}
		logits, aux1, aux2 := f.run(n, Activation{hi - lo, 3, h, w, f.input}, withAux)
		for i, o := range [][]float32{logits, aux1, aux2}[:len(outs)] {
			copy(outs[i].Data[lo*n.Classes:hi*n.Classes], o)
		}
	})
	return outs, nil
}

// run takes a batch through the network.
func (f *pass) run(n *Net, a Activation, withAux bool) (logits, aux1, aux2 []float32) {
	if n.TransformInput {
		a = f.transformInput(a)
	}
	a = f.conv(a, n.Conv1)
	a = f.pool(a, n.Pool1)
	if n.LRN {
		a = f.lrn(a)
	}
	a = f.conv(a, n.Conv2)
	a = f.conv(a, n.Conv3)
	if n.LRN {
		a = f.lrn(a)
	}
	a = f.pool(a, n.Pool2)
	for i, u := range n.Inception {
		if i == 2 {
			a = f.pool(a, n.Pool3)
		}
		if i == 7 {
			a = f.pool(a, n.Pool4)
		}
		a = f.inception(a, u)
		if withAux && i == aux1After {
			aux1 = f.auxHead(a, n.Aux1)
		}
		if withAux && i == aux2After {
			aux2 = f.auxHead(a, n.Aux2)
		}
	}
	g := make([]float32, a.N*a.C)
	kernels.AdaptiveAvgPool2D(a.Data, a.N, a.C, a.H, a.W, 1, 1, g)
	f.done(a)
	return linear(g, a.N, n.FC), aux1, aux2
}

// pass is one forward pass: its activations come from the network's
// buffers and go back to them as soon as the next layer has read them.
type pass struct {
	bufs  *kernels.Buffers
	input []float32 // the caller's, never recycled
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

// ConvEpilogue is what follows a conv block's convolution: its bias, or
// its batch norm as y = x·s + (β − μ·s) with s = γ/√(σ²+ε); then ReLU.
func ConvEpilogue(c *Conv) kernels.Epilogue {
	if c.BN == nil {
		return kernels.Epilogue{Shift: c.Bias, ReLU: true}
	}
	scale := make([]float32, c.Out)
	shift := make([]float32, c.Out)
	for o := range scale {
		s := float64(c.BN.Weight[o]) / math.Sqrt(float64(c.BN.Var[o])+float64(c.BN.Eps))
		scale[o] = float32(s)
		shift[o] = float32(float64(c.BN.Bias[o]) - float64(c.BN.Mean[o])*s)
	}
	return kernels.Epilogue{Scale: scale, Shift: shift, ReLU: true}
}

// conv runs a conv block and hands its input back.
func (f *pass) conv(a Activation, c *Conv) Activation {
	out := f.convKeep(a, c)
	f.done(a)
	return out
}

// convKeep runs a conv block on an input that is read again later.
func (f *pass) convKeep(a Activation, c *Conv) Activation {
	oh, ow := convParams(a, c).OutSize()
	out := f.alloc(a.N, c.Out, oh, ow)
	convInto(a, c, out, 0)
	return out
}

func convParams(a Activation, c *Conv) kernels.ConvParams {
	return kernels.ConvParams{InC: a.C, H: a.H, W: a.W, OutC: c.Out, KH: c.K, KW: c.K,
		StrideH: c.Stride, StrideW: c.Stride, PadT: c.Pad, PadL: c.Pad, PadB: c.Pad, PadR: c.Pad}
}

// convInto runs a conv block into channels [first, first+c.Out) of out.
func convInto(a Activation, c *Conv, out Activation, first int) {
	p := convParams(a, c)
	c.packOnce.Do(func() { c.packed, c.ep = kernels.PackConvWeights(p, c.Weight), ConvEpilogue(c) })
	plane := out.H * out.W
	kernels.Conv2DInto(a.Data, a.N, p, c.packed, c.ep, out.Data[first*plane:], out.C*plane)
}

// pool pools and hands its input back.
func (f *pass) pool(a Activation, p Pool) Activation {
	out := f.poolKeep(a, p)
	f.done(a)
	return out
}

// poolKeep pools an input that is read again later.
func (f *pass) poolKeep(a Activation, p Pool) Activation {
	pp := kernels.PoolParams{C: a.C, H: a.H, W: a.W, KH: p.K, KW: p.K, StrideH: p.Stride, StrideW: p.Stride,
		PadT: p.Pad, PadL: p.Pad, PadB: p.Pad, PadR: p.Pad, CountIncludePad: p.CountIncludePad}
	pp.OH = kernels.PoolOutSize(a.H, p.K, p.Stride, p.Pad, p.Pad, p.Ceil)
	pp.OW = kernels.PoolOutSize(a.W, p.K, p.Stride, p.Pad, p.Pad, p.Ceil)
	out := f.alloc(a.N, a.C, pp.OH, pp.OW)
	if p.Max {
		kernels.MaxPool2D(a.Data, a.N, pp, out.Data)
	} else {
		kernels.AvgPool2D(a.Data, a.N, pp, out.Data)
	}
	return out
}

func (f *pass) lrn(a Activation) Activation {
	out := f.alloc(a.N, a.C, a.H, a.W)
	kernels.LRN(a.Data, a.N, a.C, a.H*a.W, LRNSize, LRNAlpha, LRNBeta, LRNBias, out.Data)
	f.done(a)
	return out
}

// inception runs the four branches, each writing its channels of the
// concatenated output directly.
func (f *pass) inception(a Activation, u *Inception) Activation {
	out := f.alloc(a.N, u.Out(), a.H, a.W)
	convInto(a, u.Branch1, out, 0)
	t := f.convKeep(a, u.Branch2[0])
	convInto(t, u.Branch2[1], out, u.Ch[0])
	f.done(t)
	t = f.convKeep(a, u.Branch3[0])
	convInto(t, u.Branch3[1], out, u.Ch[0]+u.Ch[2])
	f.done(t)
	t = f.poolKeep(a, u.Pool)
	convInto(t, u.Branch4, out, u.Ch[0]+u.Ch[2]+u.Ch[4])
	f.done(t)
	f.done(a)
	return out
}

// auxHead runs an aux head on the output of an Inception unit, which the
// next unit reads too.
func (f *pass) auxHead(a Activation, x *Aux) []float32 {
	if x.Adaptive {
		p := f.alloc(a.N, a.C, 4, 4)
		kernels.AdaptiveAvgPool2D(a.Data, a.N, a.C, a.H, a.W, 4, 4, p.Data)
		a = p
	} else {
		a = f.poolKeep(a, x.Pool)
	}
	a = f.conv(a, x.Conv)
	h := linear(a.Data, a.N, x.FC1)
	f.done(a)
	kernels.ReLU(h)
	return linear(h, a.N, x.FC2)
}

func linear(x []float32, batch int, l *Linear) []float32 {
	out := make([]float32, batch*l.Out)
	kernels.MatMulBT(batch, l.Out, l.In, x, l.Weight, out)
	for i := 0; i < batch; i++ {
		row := out[i*l.Out : (i+1)*l.Out]
		for j := range row {
			row[j] += l.Bias[j]
		}
	}
	return out
}
