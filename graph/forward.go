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
	a := Activation{batch, 3, h, w, x}
	if n.TransformInput {
		a = transformInput(a)
	}
	a = conv(a, n.Conv1)
	a = pool(a, n.Pool1)
	if n.LRN {
		a = lrn(a)
	}
	a = conv(a, n.Conv2)
	a = conv(a, n.Conv3)
	if n.LRN {
		a = lrn(a)
	}
	a = pool(a, n.Pool2)
	var aux1, aux2 []float32
	for i, u := range n.Inception {
		if i == 2 {
			a = pool(a, n.Pool3)
		}
		if i == 7 {
			a = pool(a, n.Pool4)
		}
		a = inception(a, u)
		if withAux && i == aux1After {
			aux1 = auxHead(a, n.Aux1)
		}
		if withAux && i == aux2After {
			aux2 = auxHead(a, n.Aux2)
		}
	}
	g := make([]float32, a.N*a.C)
	kernels.AdaptiveAvgPool2D(a.Data, a.N, a.C, a.H, a.W, 1, 1, g)
	outs := []Output{{"logits", []int{batch, n.Classes}, linear(g, batch, n.FC)}}
	if withAux {
		outs = append(outs, Output{"aux1", []int{batch, n.Classes}, aux1}, Output{"aux2", []int{batch, n.Classes}, aux2})
	}
	return outs, nil
}

func transformInput(a Activation) Activation {
	scale, shift := TransformInputCoeffs()
	out := make([]float32, len(a.Data))
	plane := a.H * a.W
	for i := 0; i < a.N; i++ {
		for c := 0; c < 3; c++ {
			o := (i*3 + c) * plane
			for j, v := range a.Data[o : o+plane] {
				out[o+j] = v*scale[c] + shift[c]
			}
		}
	}
	a.Data = out
	return a
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

func conv(a Activation, c *Conv) Activation {
	oh, ow := convParams(a, c).OutSize()
	out := Activation{a.N, c.Out, oh, ow, make([]float32, a.N*c.Out*oh*ow)}
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
	c.packOnce.Do(func() { c.packed = kernels.PackConvWeights(p, c.Weight) })
	plane := out.H * out.W
	kernels.Conv2DInto(a.Data, a.N, p, c.packed, ConvEpilogue(c), out.Data[first*plane:], out.C*plane)
}

func pool(a Activation, p Pool) Activation {
	pp := kernels.PoolParams{C: a.C, H: a.H, W: a.W, KH: p.K, KW: p.K, StrideH: p.Stride, StrideW: p.Stride,
		PadT: p.Pad, PadL: p.Pad, PadB: p.Pad, PadR: p.Pad, CountIncludePad: p.CountIncludePad}
	pp.OH = kernels.PoolOutSize(a.H, p.K, p.Stride, p.Pad, p.Pad, p.Ceil)
	pp.OW = kernels.PoolOutSize(a.W, p.K, p.Stride, p.Pad, p.Pad, p.Ceil)
	out := make([]float32, a.N*a.C*pp.OH*pp.OW)
	if p.Max {
		kernels.MaxPool2D(a.Data, a.N, pp, out)
	} else {
		kernels.AvgPool2D(a.Data, a.N, pp, out)
	}
	return Activation{a.N, a.C, pp.OH, pp.OW, out}
}

func lrn(a Activation) Activation {
	out := make([]float32, len(a.Data))
	kernels.LRN(a.Data, a.N, a.C, a.H*a.W, LRNSize, LRNAlpha, LRNBeta, LRNBias, out)
	a.Data = out
	return a
}

// inception runs the four branches, each writing its channels of the
// concatenated output directly.
func inception(a Activation, u *Inception) Activation {
	out := Activation{a.N, u.Out(), a.H, a.W, make([]float32, a.N*u.Out()*a.H*a.W)}
	convInto(a, u.Branch1, out, 0)
	convInto(conv(a, u.Branch2[0]), u.Branch2[1], out, u.Ch[0])
	convInto(conv(a, u.Branch3[0]), u.Branch3[1], out, u.Ch[0]+u.Ch[2])
	convInto(pool(a, u.Pool), u.Branch4, out, u.Ch[0]+u.Ch[2]+u.Ch[4])
	return out
}

func auxHead(a Activation, x *Aux) []float32 {
	if x.Adaptive {
		out := make([]float32, a.N*a.C*16)
		kernels.AdaptiveAvgPool2D(a.Data, a.N, a.C, a.H, a.W, 4, 4, out)
		a = Activation{a.N, a.C, 4, 4, out}
	} else {
		a = pool(a, x.Pool)
	}
	a = conv(a, x.Conv)
	h := linear(a.Data, a.N, x.FC1)
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
