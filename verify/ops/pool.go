package ops

import "github.com/gnconv/gnconv/internal/kernels"

var poolAttrs = map[string]AttrKind{"auto_pad": aString, "ceil_mode": aInt, "dilations": aInts, "kernel_shape": aInts, "pads": aInts, "strides": aInts}

// MaxPool: 2-D, dilation 1, ceil_mode, explicit pads or auto_pad; only
// the first output (no indices).
var MaxPool = &Op{
	Attrs: withAttrs(poolAttrs, "storage_order", aInt),
	MinIn: 1, MaxIn: 1, MaxOut: 1,
	Check: checkPool,
	Shape: poolShape,
	Run: func(c *Ctx, a Attrs, in []*Value, shape []int) (*Value, error) {
		return runPool(c, a, in[0], true)
	},
	Batch: sameBatch,
}

// AveragePool: as MaxPool, with count_include_pad.
var AveragePool = &Op{
	Attrs: withAttrs(poolAttrs, "count_include_pad", aInt),
	MinIn: 1, MaxIn: 1, MaxOut: 1,
	Check: checkPool,
	Shape: poolShape,
	Run: func(c *Ctx, a Attrs, in []*Value, shape []int) (*Value, error) {
		return runPool(c, a, in[0], false)
	},
	Batch: sameBatch,
}

func withAttrs(base map[string]AttrKind, name string, kind AttrKind) map[string]AttrKind {
	m := map[string]AttrKind{name: kind}
	for k, v := range base {
		m[k] = v
	}
	return m
}

func checkPool(a Attrs, _, _ int) error {
	if len(a.Ints("kernel_shape", nil)) != 2 {
		return errorf("kernel_shape %v: only 2-D pooling is supported", a.Ints("kernel_shape", nil))
	}
	if !allOnes(a.Ints("dilations", nil)) {
		return errorf("dilations %v are not supported (only 1)", a.Ints("dilations", nil))
	}
	if s := a.Int("storage_order", 0); s != 0 {
		return errorf("storage_order %d is not supported", s)
	}
	if c := a.Int("ceil_mode", 0); c != 0 && c != 1 {
		return errorf("ceil_mode %d is neither 0 nor 1", c)
	}
	return checkAutoPad(a)
}

// poolParams checks a pooling's input and attributes.
func poolParams(a Attrs, x *Value) (kernels.PoolParams, error) {
	var p kernels.PoolParams
	if err := floatInput(x, "pooling input"); err != nil {
		return p, err
	}
	if len(x.Shape) != 4 {
		return p, errorf("pooling: input %v is not NCHW", x.Shape)
	}
	if x.Shape[2] < 1 || x.Shape[3] < 1 {
		return p, errorf("pooling: input %v has no pixels", x.Shape)
	}
	ks := a.Ints("kernel_shape", nil)
	sh, sw, err := strides2(a)
	if err != nil {
		return p, err
	}
	if ks[0] <= 0 || ks[1] <= 0 || ks[0] > maxWindow || ks[1] > maxWindow {
		return p, errorf("pooling: kernel_shape %v", ks)
	}
	p = kernels.PoolParams{C: x.Shape[1], H: x.Shape[2], W: x.Shape[3], KH: int(ks[0]), KW: int(ks[1]), StrideH: sh, StrideW: sw,
		CountIncludePad: a.Int("count_include_pad", 0) == 1}
	if p.PadT, p.PadB, err = convPads(a, 0, p.H, p.KH, sh); err != nil {
		return p, err
	}
	if p.PadL, p.PadR, err = convPads(a, 1, p.W, p.KW, sw); err != nil {
		return p, err
	}
	if p.PadT >= p.KH || p.PadB >= p.KH || p.PadL >= p.KW || p.PadR >= p.KW {
		return p, errorf("pooling: pads %d,%d,%d,%d are not smaller than the kernel %dx%d", p.PadT, p.PadL, p.PadB, p.PadR, p.KH, p.KW)
	}
	ceil := a.Int("ceil_mode", 0) == 1
	// with ceil_mode, a last window that would start in the end padding is
	// dropped, as onnxruntime and PyTorch do
	p.OH = kernels.PoolOutSize(p.H, p.KH, sh, p.PadT, p.PadB, ceil)
	p.OW = kernels.PoolOutSize(p.W, p.KW, sw, p.PadL, p.PadR, ceil)
	if p.OH <= 0 || p.OW <= 0 {
		return p, errorf("pooling: kernel %dx%d does not fit input %dx%d", p.KH, p.KW, p.H, p.W)
	}
	return p, nil
}

func poolShape(c *Ctx, a Attrs, in []*Value) ([]int, error) {
	p, err := poolParams(a, in[0])
	if err != nil {
		return nil, err
	}
	n := int64(in[0].Shape[0])
	// the kernels' per-plane scratch: a few rows and planes
	if err := c.scratch("pooling's scratch", workOf(3, int64(p.H), int64(max(p.W, p.OW*p.StrideW+p.KW)))); err != nil {
		return nil, err
	}
	// separable windows: about (KH + KW) steps per output, and a pass
	// over the input
	if err := c.work(workOf(n, int64(p.C), int64(p.OH), int64(p.OW), int64(p.KH)+int64(p.KW)) + workOf(n, int64(p.C), int64(p.H), int64(p.W))); err != nil {
		return nil, err
	}
	return []int{in[0].Shape[0], p.C, p.OH, p.OW}, nil
}

func runPool(c *Ctx, a Attrs, x *Value, isMax bool) (*Value, error) {
	p, err := poolParams(a, x)
	if err != nil {
		return nil, err
	}
	out := &Value{Shape: []int{x.Shape[0], p.C, p.OH, p.OW}}
	out.F = c.floats(out.Numel())
	if isMax {
		kernels.MaxPool2D(x.F, x.Shape[0], p, out.F)
	} else {
		kernels.AvgPool2D(x.F, x.Shape[0], p, out.F)
	}
	return out, nil
}

// GlobalAveragePool averages each NCHW plane.
var GlobalAveragePool = &Op{
	MinIn: 1, MaxIn: 1, MaxOut: 1,
	Shape: func(c *Ctx, _ Attrs, in []*Value) ([]int, error) {
		x := in[0]
		if err := floatInput(x, "GlobalAveragePool input"); err != nil {
			return nil, err
		}
		if len(x.Shape) != 4 {
			return nil, errorf("GlobalAveragePool: input %v is not NCHW", x.Shape)
		}
		return []int{x.Shape[0], x.Shape[1], 1, 1}, c.work(int64(x.Numel()))
	},
	Run: func(c *Ctx, _ Attrs, in []*Value, shape []int) (*Value, error) {
		x := in[0]
		out := &Value{Shape: shape, F: c.floats(x.Shape[0] * x.Shape[1])}
		kernels.AdaptiveAvgPool2D(x.F, x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3], 1, 1, out.F)
		return out, nil
	},
	Batch: sameBatch,
}
