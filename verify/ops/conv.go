package ops

import "github.com/gnconv/gnconv/internal/kernels"

// Conv: 2-D, group 1, dilation 1, explicit pads or auto_pad, optional
// bias. The interpreter may fuse a following Relu (Ctx.ReLU) and have
// the output written into a Concat's buffer (Ctx.Place).
var Conv = &Op{
	Attrs: map[string]AttrKind{"auto_pad": aString, "dilations": aInts, "group": aInt, "kernel_shape": aInts, "pads": aInts, "strides": aInts},
	MinIn: 2, MaxIn: 3, MaxOut: 1,
	Check: func(a Attrs, _, _ int) error {
		if g := a.Int("group", 1); g != 1 {
			return errorf("group %d is not supported (only 1)", g)
		}
		if !allOnes(a.Ints("dilations", nil)) {
			return errorf("dilations %v are not supported (only 1)", a.Ints("dilations", nil))
		}
		return checkAutoPad(a)
	},
	Shape: func(c *Ctx, a Attrs, in []*Value) ([]int, error) {
		p, err := convParams(a, in)
		if err != nil {
			return nil, err
		}
		oh, ow := p.OutSize()
		n := int64(in[0].Shape[0])
		// the columns of one image (im2col), one per core at most
		if err := c.scratch("Conv's columns", workOf(int64(p.InC), int64(p.KH), int64(p.KW), int64(oh), int64(ow))); err != nil {
			return nil, err
		}
		if err := c.work(workOf(n, int64(p.OutC), int64(oh), int64(ow), int64(p.InC), int64(p.KH), int64(p.KW))); err != nil {
			return nil, err
		}
		return []int{in[0].Shape[0], p.OutC, oh, ow}, nil
	},
	Run: func(c *Ctx, a Attrs, in []*Value, _ []int) (*Value, error) {
		place := c.Place
		if place == nil {
			place = OwnBuffer(c.floats)
		}
		return runConv(a, in, c.ReLU, place)
	},
	Batch: sameBatch,
}

// ConvOut places a convolution's n×c×h×w output: its value, where image
// i's values go (dst[i·stride:]), and the stride.
type ConvOut func(n, c, h, w int) (v *Value, dst []float32, stride int)

// OwnBuffer is the ConvOut of an output with a buffer of its own.
func OwnBuffer(alloc func(int) []float32) ConvOut {
	return func(n, c, h, w int) (*Value, []float32, int) {
		v := &Value{Shape: []int{n, c, h, w}, F: alloc(n * c * h * w)}
		return v, v.F, c * h * w
	}
}

// convParams checks a convolution's input, weight and attributes.
func convParams(a Attrs, in []*Value) (kernels.ConvParams, error) {
	x, w := in[0], in[1]
	var p kernels.ConvParams
	if err := floatInput(x, "Conv input"); err != nil {
		return p, err
	}
	if len(x.Shape) != 4 || len(w.Shape) != 4 || w.Int {
		return p, errorf("Conv: only 2-D float convolutions are supported (input %v, weight %v)", x.Shape, w.Shape)
	}
	if x.Shape[2] < 1 || x.Shape[3] < 1 {
		return p, errorf("Conv: input %v has no pixels", x.Shape)
	}
	if w.Shape[1] != x.Shape[1] {
		return p, errorf("Conv: weight %v does not match %d input channels", w.Shape, x.Shape[1])
	}
	if ks := a.Ints("kernel_shape", nil); ks != nil && (len(ks) != 2 || ks[0] != int64(w.Shape[2]) || ks[1] != int64(w.Shape[3])) {
		return p, errorf("Conv: kernel_shape %v does not match weight %v", ks, w.Shape)
	}
	sh, sw, err := strides2(a)
	if err != nil {
		return p, err
	}
	p = kernels.ConvParams{InC: x.Shape[1], H: x.Shape[2], W: x.Shape[3], OutC: w.Shape[0], KH: w.Shape[2], KW: w.Shape[3], StrideH: sh, StrideW: sw}
	if p.PadT, p.PadB, err = convPads(a, 0, p.H, p.KH, sh); err != nil {
		return p, err
	}
	if p.PadL, p.PadR, err = convPads(a, 1, p.W, p.KW, sw); err != nil {
		return p, err
	}
	if err := p.Check(); err != nil {
		return p, err
	}
	if len(in) == 3 && in[2] != nil && (in[2].Int || in[2].Numel() != p.OutC) {
		return p, errorf("Conv: bias %v does not match %d output channels", in[2].Shape, p.OutC)
	}
	return p, nil
}

func runConv(a Attrs, in []*Value, relu bool, place ConvOut) (*Value, error) {
	p, err := convParams(a, in)
	if err != nil {
		return nil, err
	}
	x, w := in[0], in[1]
	ep := kernels.Epilogue{ReLU: relu}
	if len(in) == 3 && in[2] != nil {
		ep.Shift = in[2].F
	}
	oh, ow := p.OutSize()
	out, dst, stride := place(x.Shape[0], p.OutC, oh, ow)
	w.packOnce.Do(func() { w.packed = kernels.PackConvWeights(p, w.F) })
	kernels.Conv2DInto(x.F, x.Shape[0], p, w.packed, ep, dst, stride)
	return out, nil
}

func checkAutoPad(a Attrs) error {
	switch p := a.Str("auto_pad", "NOTSET"); p {
	case "NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER":
		if p != "NOTSET" && len(a.Ints("pads", nil)) > 0 {
			return errorf("auto_pad %s with explicit pads", p)
		}
		return nil
	default:
		return errorf("auto_pad %q is not supported", p)
	}
}

// maxWindow bounds kernel sizes, strides and pads (each then fits in an
// int with room for the sums of a window's arithmetic).
const maxWindow = 1 << 30

// convPads resolves explicit pads or auto_pad for one spatial axis.
func convPads(a Attrs, axis, in, k, stride int) (int, int, error) {
	switch a.Str("auto_pad", "NOTSET") {
	case "VALID":
		return 0, 0, nil
	case "SAME_UPPER", "SAME_LOWER":
		out := (in + stride - 1) / stride
		total := max((out-1)*stride+k-in, 0)
		if a.Str("auto_pad", "") == "SAME_UPPER" {
			return total / 2, total - total/2, nil
		}
		return total - total/2, total / 2, nil
	}
	pads := a.Ints("pads", []int64{0, 0, 0, 0})
	if len(pads) != 4 {
		return 0, 0, errorf("pads %v: want 4 values", pads)
	}
	b, e := pads[axis], pads[axis+2]
	if b < 0 || e < 0 || b > maxWindow || e > maxWindow {
		return 0, 0, errorf("pads %v are not supported (negative or over 2^30)", pads)
	}
	return int(b), int(e), nil
}

func strides2(a Attrs) (int, int, error) {
	s := a.Ints("strides", []int64{1, 1})
	if len(s) != 2 || s[0] <= 0 || s[1] <= 0 || s[0] > maxWindow || s[1] > maxWindow {
		return 0, 0, errorf("strides %v: want two positive values", s)
	}
	return int(s[0]), int(s[1]), nil
}
