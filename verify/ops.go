package verify

import (
	"fmt"
	"math"

	"github.com/gnconv/gnconv/internal/kernels"
	"github.com/gnconv/gnconv/internal/onnxpb"
)

type attrKind = onnxpb.AttributeProto_AttributeType

const (
	aInt    = onnxpb.AttributeProto_INT
	aInts   = onnxpb.AttributeProto_INTS
	aFloat  = onnxpb.AttributeProto_FLOAT
	aFloats = onnxpb.AttributeProto_FLOATS
	aString = onnxpb.AttributeProto_STRING
	aTensor = onnxpb.AttributeProto_TENSOR
)

// opSpec is what the interpreter knows of an operator: its attributes,
// how many inputs and outputs it takes, and how to run it.
type opSpec struct {
	attrs        map[string]attrKind
	minIn, maxIn int
	maxOut       int
	check        func(a attrs, opset int) error
	run          func(a attrs, in []*Value, opset int) (*Value, error)
	// runInto, where set, is run with the output's values from alloc, so
	// that the interpreter can recycle them
	runInto func(a attrs, in []*Value, alloc func(int) []float32) (*Value, error)
}

var poolAttrs = map[string]attrKind{"auto_pad": aString, "ceil_mode": aInt, "dilations": aInts, "kernel_shape": aInts, "pads": aInts, "strides": aInts}

var ops map[string]opSpec

func init() {
	avgAttrs := map[string]attrKind{"count_include_pad": aInt}
	for k, v := range poolAttrs {
		avgAttrs[k] = v
	}
	maxAttrs := map[string]attrKind{"storage_order": aInt}
	for k, v := range poolAttrs {
		maxAttrs[k] = v
	}
	binary := func(f func(a, b float32) float32, g func(a, b int64) int64) opSpec {
		return opSpec{minIn: 2, maxIn: 2, maxOut: 1, run: func(_ attrs, in []*Value, _ int) (*Value, error) { return broadcast(in[0], in[1], f, g) }}
	}
	ops = map[string]opSpec{
		"Conv": {attrs: map[string]attrKind{"auto_pad": aString, "dilations": aInts, "group": aInt, "kernel_shape": aInts, "pads": aInts, "strides": aInts},
			minIn: 2, maxIn: 3, maxOut: 1, check: checkConv,
			runInto: func(a attrs, in []*Value, alloc func(int) []float32) (*Value, error) {
				return runConv(a, in, false, alloc)
			}},
		"MaxPool": {attrs: maxAttrs, minIn: 1, maxIn: 1, maxOut: 1, check: checkPool,
			runInto: func(a attrs, in []*Value, alloc func(int) []float32) (*Value, error) {
				return runPool(a, in[0], true, alloc)
			}},
		"AveragePool": {attrs: avgAttrs, minIn: 1, maxIn: 1, maxOut: 1, check: checkPool,
			runInto: func(a attrs, in []*Value, alloc func(int) []float32) (*Value, error) {
				return runPool(a, in[0], false, alloc)
			}},
		"GlobalAveragePool": {minIn: 1, maxIn: 1, maxOut: 1, run: runGlobalAveragePool},
		"Relu":              {minIn: 1, maxIn: 1, maxOut: 1, run: runRelu},
		"Concat":            {attrs: map[string]attrKind{"axis": aInt}, minIn: 1, maxIn: 1 << 20, maxOut: 1, runInto: runConcat},
		"Flatten":           {attrs: map[string]attrKind{"axis": aInt}, minIn: 1, maxIn: 1, maxOut: 1, run: runFlatten},
		"Gemm": {attrs: map[string]attrKind{"alpha": aFloat, "beta": aFloat, "transA": aInt, "transB": aInt},
			minIn: 2, maxIn: 3, maxOut: 1, run: runGemm},
		"MatMul": {minIn: 2, maxIn: 2, maxOut: 1, run: runMatMul},
		"Add":    binary(func(a, b float32) float32 { return a + b }, func(a, b int64) int64 { return a + b }),
		"Sub":    binary(func(a, b float32) float32 { return a - b }, func(a, b int64) int64 { return a - b }),
		"Mul":    binary(func(a, b float32) float32 { return a * b }, func(a, b int64) int64 { return a * b }),
		"Div": binary(func(a, b float32) float32 { return a / b }, func(a, b int64) int64 {
			if b == 0 {
				return 0
			}
			return a / b
		}),
		"BatchNormalization": {attrs: map[string]attrKind{"epsilon": aFloat, "momentum": aFloat, "training_mode": aInt, "spatial": aInt},
			minIn: 5, maxIn: 5, maxOut: 1, check: checkBatchNorm, run: runBatchNorm},
		"Dropout":    {attrs: map[string]attrKind{"seed": aInt, "ratio": aFloat, "is_test": aInt}, minIn: 1, maxIn: 3, maxOut: 1, run: runDropout},
		"Identity":   {minIn: 1, maxIn: 1, maxOut: 1, run: func(_ attrs, in []*Value, _ int) (*Value, error) { return in[0], nil }},
		"Reshape":    {attrs: map[string]attrKind{"allowzero": aInt}, minIn: 2, maxIn: 2, maxOut: 1, run: runReshape},
		"Unsqueeze":  {attrs: map[string]attrKind{"axes": aInts}, minIn: 1, maxIn: 2, maxOut: 1, run: runUnsqueeze},
		"Gather":     {attrs: map[string]attrKind{"axis": aInt}, minIn: 2, maxIn: 2, maxOut: 1, run: runGather},
		"Slice":      {minIn: 3, maxIn: 5, maxOut: 1, run: runSlice},
		"ReduceMean": {attrs: map[string]attrKind{"axes": aInts, "keepdims": aInt}, minIn: 1, maxIn: 1, maxOut: 1, run: runReduceMean},
		"Softmax":    {attrs: map[string]attrKind{"axis": aInt}, minIn: 1, maxIn: 1, maxOut: 1, run: runSoftmax},
		"LRN":        {attrs: map[string]attrKind{"size": aInt, "alpha": aFloat, "beta": aFloat, "bias": aFloat}, minIn: 1, maxIn: 1, maxOut: 1, check: checkLRN, run: runLRN},
		"Constant":   {attrs: map[string]attrKind{"value": aTensor, "value_float": aFloat, "value_floats": aFloats, "value_int": aInt, "value_ints": aInts}, minIn: 0, maxIn: 0, maxOut: 1, check: checkConstant, run: runConstant},
		"Cast":       {attrs: map[string]attrKind{"to": aInt, "saturate": aInt}, minIn: 1, maxIn: 1, maxOut: 1, check: checkCast, run: runCast},
		"Squeeze":    {attrs: map[string]attrKind{"axes": aInts}, minIn: 1, maxIn: 2, maxOut: 1, run: runSqueeze},
		"Pad":        {attrs: map[string]attrKind{"mode": aString}, minIn: 2, maxIn: 3, maxOut: 1, check: checkPad, run: runPad},
		"Shape":      {attrs: map[string]attrKind{"start": aInt, "end": aInt}, minIn: 1, maxIn: 1, maxOut: 1, run: runShape},
	}
}

// attrs are a node's attributes by name.
type attrs map[string]*onnxpb.AttributeProto

func (a attrs) int(name string, def int64) int64 {
	if x, ok := a[name]; ok {
		return x.GetI()
	}
	return def
}

func (a attrs) ints(name string, def []int64) []int64 {
	if x, ok := a[name]; ok {
		return x.Ints
	}
	return def
}

func (a attrs) float(name string, def float32) float32 {
	if x, ok := a[name]; ok {
		return x.GetF()
	}
	return def
}

func (a attrs) str(name, def string) string {
	if x, ok := a[name]; ok {
		return string(x.GetS())
	}
	return def
}

func nodeAttrs(n *onnxpb.NodeProto) attrs {
	a := attrs{}
	for _, x := range n.Attribute {
		a[x.GetName()] = x
	}
	return a
}

// checkNode refuses any operator, attribute or attribute value the
// interpreter does not run exactly.
func checkNode(n *onnxpb.NodeProto, opset int) error {
	spec, ok := ops[n.GetOpType()]
	if !ok {
		return fmt.Errorf("node %s: operator %s is not supported by the interpreter", nodeLabel(n), n.GetOpType())
	}
	if len(n.Input) < spec.minIn || len(n.Input) > spec.maxIn {
		return fmt.Errorf("node %s: %d inputs, %s takes %d to %d", nodeLabel(n), len(n.Input), n.GetOpType(), spec.minIn, spec.maxIn)
	}
	if len(n.Output) != 1 {
		used := 0
		for _, o := range n.Output {
			if o != "" {
				used++
			}
		}
		if len(n.Output) == 0 || used > spec.maxOut || n.Output[0] == "" {
			return fmt.Errorf("node %s: %d outputs; the interpreter computes only the first output of %s", nodeLabel(n), len(n.Output), n.GetOpType())
		}
	}
	a := nodeAttrs(n)
	for name, x := range a {
		kind, ok := spec.attrs[name]
		if !ok {
			return fmt.Errorf("node %s: attribute %s is not supported for %s", nodeLabel(n), name, n.GetOpType())
		}
		if x.GetType() != kind {
			return fmt.Errorf("node %s: attribute %s is a %s, want %s", nodeLabel(n), name, x.GetType(), kind)
		}
	}
	if spec.check != nil {
		if err := spec.check(a, opset); err != nil {
			return fmt.Errorf("node %s: %w", nodeLabel(n), err)
		}
	}
	if n.GetOpType() == "Unsqueeze" {
		_, hasAttr := a["axes"]
		if opset >= 13 && (hasAttr || len(n.Input) != 2) {
			return fmt.Errorf("node %s: Unsqueeze at opset %d takes its axes as an input", nodeLabel(n), opset)
		}
		if opset < 13 && (!hasAttr || len(n.Input) != 1) {
			return fmt.Errorf("node %s: Unsqueeze at opset %d takes its axes as an attribute", nodeLabel(n), opset)
		}
	}
	return nil
}

func allOnes(v []int64) bool {
	for _, x := range v {
		if x != 1 {
			return false
		}
	}
	return true
}

func checkAutoPad(a attrs) error {
	switch p := a.str("auto_pad", "NOTSET"); p {
	case "NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER":
		if p != "NOTSET" && len(a.ints("pads", nil)) > 0 {
			return fmt.Errorf("auto_pad %s with explicit pads", p)
		}
		return nil
	default:
		return fmt.Errorf("auto_pad %q is not supported", p)
	}
}

func checkConv(a attrs, _ int) error {
	if g := a.int("group", 1); g != 1 {
		return fmt.Errorf("group %d is not supported (only 1)", g)
	}
	if !allOnes(a.ints("dilations", nil)) {
		return fmt.Errorf("dilations %v are not supported (only 1)", a.ints("dilations", nil))
	}
	return checkAutoPad(a)
}

func checkPool(a attrs, _ int) error {
	if len(a.ints("kernel_shape", nil)) != 2 {
		return fmt.Errorf("kernel_shape %v: only 2-D pooling is supported", a.ints("kernel_shape", nil))
	}
	if !allOnes(a.ints("dilations", nil)) {
		return fmt.Errorf("dilations %v are not supported (only 1)", a.ints("dilations", nil))
	}
	if s := a.int("storage_order", 0); s != 0 {
		return fmt.Errorf("storage_order %d is not supported", s)
	}
	if c := a.int("ceil_mode", 0); c != 0 && c != 1 {
		return fmt.Errorf("ceil_mode %d is neither 0 nor 1", c)
	}
	return checkAutoPad(a)
}

func checkBatchNorm(a attrs, _ int) error {
	if a.int("training_mode", 0) != 0 {
		return fmt.Errorf("training_mode 1 is not supported (inference only)")
	}
	if a.int("spatial", 1) != 1 {
		return fmt.Errorf("spatial 0 is not supported")
	}
	return nil
}

func checkLRN(a attrs, _ int) error {
	if _, ok := a["size"]; !ok || a.int("size", 0) <= 0 {
		return fmt.Errorf("LRN needs a positive size")
	}
	return nil
}

func checkConstant(a attrs, _ int) error {
	if len(a) != 1 {
		return fmt.Errorf("Constant needs exactly one value attribute, has %d", len(a))
	}
	return nil
}

func normAxis(axis int64, rank int) (int, error) {
	if axis < 0 {
		axis += int64(rank)
	}
	if axis < 0 || axis >= int64(rank) {
		return 0, fmt.Errorf("axis %d out of range for rank %d", axis, rank)
	}
	return int(axis), nil
}

func floatInput(v *Value, what string) error {
	if v.Int {
		return fmt.Errorf("%s must be float32, is int64", what)
	}
	return nil
}

// convPads resolves explicit pads or auto_pad for one spatial axis.
func convPads(a attrs, axis, in, k, stride int) (int, int, error) {
	switch a.str("auto_pad", "NOTSET") {
	case "VALID":
		return 0, 0, nil
	case "SAME_UPPER", "SAME_LOWER":
		out := (in + stride - 1) / stride
		total := max((out-1)*stride+k-in, 0)
		if a.str("auto_pad", "") == "SAME_UPPER" {
			return total / 2, total - total/2, nil
		}
		return total - total/2, total / 2, nil
	}
	pads := a.ints("pads", []int64{0, 0, 0, 0})
	if len(pads) != 4 {
		return 0, 0, fmt.Errorf("pads %v: want 4 values", pads)
	}
	b, e := int(pads[axis]), int(pads[axis+2])
	if b < 0 || e < 0 {
		return 0, 0, fmt.Errorf("negative pads %v", pads)
	}
	return b, e, nil
}

func strides2(a attrs) (int, int, error) {
	s := a.ints("strides", []int64{1, 1})
	if len(s) != 2 || s[0] <= 0 || s[1] <= 0 {
		return 0, 0, fmt.Errorf("strides %v: want two positive values", s)
	}
	return int(s[0]), int(s[1]), nil
}

// runConv runs a convolution; relu applies a following Relu in the same
// pass (the interpreter fuses a Conv whose only reader is a Relu).
// convOut places a convolution's n×c×h×w output: its value, where image
// i's values go (dst[i·stride:]), and the stride.
type convOut func(n, c, h, w int) (v *Value, dst []float32, stride int)

// ownBuffer is the convOut of an output with a buffer of its own.
func ownBuffer(alloc func(int) []float32) convOut {
	return func(n, c, h, w int) (*Value, []float32, int) {
		v := &Value{Shape: []int{n, c, h, w}, F: alloc(n * c * h * w)}
		return v, v.F, c * h * w
	}
}

func runConv(a attrs, in []*Value, relu bool, alloc func(int) []float32) (*Value, error) {
	return runConvInto(a, in, relu, ownBuffer(alloc))
}

func runConvInto(a attrs, in []*Value, relu bool, place convOut) (*Value, error) {
	x, w := in[0], in[1]
	if err := floatInput(x, "Conv input"); err != nil {
		return nil, err
	}
	if len(x.Shape) != 4 || len(w.Shape) != 4 || w.Int {
		return nil, fmt.Errorf("Conv: only 2-D float convolutions are supported (input %v, weight %v)", x.Shape, w.Shape)
	}
	if w.Shape[1] != x.Shape[1] {
		return nil, fmt.Errorf("Conv: weight %v does not match %d input channels", w.Shape, x.Shape[1])
	}
	if ks := a.ints("kernel_shape", nil); ks != nil && (len(ks) != 2 || int(ks[0]) != w.Shape[2] || int(ks[1]) != w.Shape[3]) {
		return nil, fmt.Errorf("Conv: kernel_shape %v does not match weight %v", ks, w.Shape)
	}
	sh, sw, err := strides2(a)
	if err != nil {
		return nil, err
	}
	p := kernels.ConvParams{InC: x.Shape[1], H: x.Shape[2], W: x.Shape[3], OutC: w.Shape[0], KH: w.Shape[2], KW: w.Shape[3], StrideH: sh, StrideW: sw}
	if p.PadT, p.PadB, err = convPads(a, 0, p.H, p.KH, sh); err != nil {
		return nil, err
	}
	if p.PadL, p.PadR, err = convPads(a, 1, p.W, p.KW, sw); err != nil {
		return nil, err
	}
	if err := p.Check(); err != nil {
		return nil, err
	}
	ep := kernels.Epilogue{ReLU: relu}
	if len(in) == 3 && in[2] != nil {
		if in[2].Int || in[2].Numel() != p.OutC {
			return nil, fmt.Errorf("Conv: bias %v does not match %d output channels", in[2].Shape, p.OutC)
		}
		ep.Shift = in[2].F
	}
	oh, ow := p.OutSize()
	out, dst, stride := place(x.Shape[0], p.OutC, oh, ow)
	w.packOnce.Do(func() { w.packed = kernels.PackConvWeights(p, w.F) })
	kernels.Conv2DInto(x.F, x.Shape[0], p, w.packed, ep, dst, stride)
	return out, nil
}

func runPool(a attrs, x *Value, isMax bool, alloc func(int) []float32) (*Value, error) {
	if err := floatInput(x, "pooling input"); err != nil {
		return nil, err
	}
	if len(x.Shape) != 4 {
		return nil, fmt.Errorf("pooling: input %v is not NCHW", x.Shape)
	}
	ks := a.ints("kernel_shape", nil)
	sh, sw, err := strides2(a)
	if err != nil {
		return nil, err
	}
	p := kernels.PoolParams{C: x.Shape[1], H: x.Shape[2], W: x.Shape[3], KH: int(ks[0]), KW: int(ks[1]), StrideH: sh, StrideW: sw,
		CountIncludePad: a.int("count_include_pad", 0) == 1}
	if p.KH <= 0 || p.KW <= 0 {
		return nil, fmt.Errorf("pooling: kernel_shape %v", ks)
	}
	if p.PadT, p.PadB, err = convPads(a, 0, p.H, p.KH, sh); err != nil {
		return nil, err
	}
	if p.PadL, p.PadR, err = convPads(a, 1, p.W, p.KW, sw); err != nil {
		return nil, err
	}
	if p.PadT >= p.KH || p.PadB >= p.KH || p.PadL >= p.KW || p.PadR >= p.KW {
		return nil, fmt.Errorf("pooling: pads %d,%d,%d,%d are not smaller than the kernel %dx%d", p.PadT, p.PadL, p.PadB, p.PadR, p.KH, p.KW)
	}
	ceil := a.int("ceil_mode", 0) == 1
	// with ceil_mode, a last window that would start in the end padding is
	// dropped, as onnxruntime and PyTorch do
	p.OH = kernels.PoolOutSize(p.H, p.KH, sh, p.PadT, p.PadB, ceil)
	p.OW = kernels.PoolOutSize(p.W, p.KW, sw, p.PadL, p.PadR, ceil)
	if p.OH <= 0 || p.OW <= 0 {
		return nil, fmt.Errorf("pooling: kernel %dx%d does not fit input %dx%d", p.KH, p.KW, p.H, p.W)
	}
	out := &Value{Shape: []int{x.Shape[0], p.C, p.OH, p.OW}}
	out.F = alloc(out.Numel())
	if isMax {
		kernels.MaxPool2D(x.F, x.Shape[0], p, out.F)
	} else {
		kernels.AvgPool2D(x.F, x.Shape[0], p, out.F)
	}
	return out, nil
}

func runGlobalAveragePool(_ attrs, in []*Value, _ int) (*Value, error) {
	x := in[0]
	if err := floatInput(x, "GlobalAveragePool input"); err != nil {
		return nil, err
	}
	if len(x.Shape) != 4 {
		return nil, fmt.Errorf("GlobalAveragePool: input %v is not NCHW", x.Shape)
	}
	out := &Value{Shape: []int{x.Shape[0], x.Shape[1], 1, 1}}
	out.F = make([]float32, x.Shape[0]*x.Shape[1])
	kernels.AdaptiveAvgPool2D(x.F, x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3], 1, 1, out.F)
	return out, nil
}

func runRelu(_ attrs, in []*Value, _ int) (*Value, error) {
	if err := floatInput(in[0], "Relu input"); err != nil {
		return nil, err
	}
	out := &Value{Shape: in[0].Shape, F: append([]float32(nil), in[0].F...)}
	kernels.ReLU(out.F)
	return out, nil
}

func runConcat(a attrs, in []*Value, alloc func(int) []float32) (*Value, error) {
	if _, ok := a["axis"]; !ok {
		return nil, fmt.Errorf("Concat needs an axis")
	}
	rank := len(in[0].Shape)
	axis, err := normAxis(a.int("axis", 0), rank)
	if err != nil {
		return nil, err
	}
	shape := append([]int(nil), in[0].Shape...)
	shape[axis] = 0
	for _, v := range in {
		if len(v.Shape) != rank || v.Int != in[0].Int {
			return nil, fmt.Errorf("Concat: inputs of different ranks or types")
		}
		for d := range v.Shape {
			if d != axis && v.Shape[d] != in[0].Shape[d] {
				return nil, fmt.Errorf("Concat: shapes %v and %v differ off axis %d", in[0].Shape, v.Shape, axis)
			}
		}
		shape[axis] += v.Shape[axis]
	}
	outer := numel(shape[:axis])
	inner := numel(shape[axis+1:])
	out := &Value{Shape: shape, Int: in[0].Int}
	if out.Int {
		out.I = make([]int64, 0, numel(shape))
	} else {
		out.F = alloc(numel(shape))[:0]
	}
	for o := 0; o < outer; o++ {
		for _, v := range in {
			n := v.Shape[axis] * inner
			if out.Int {
				out.I = append(out.I, v.I[o*n:(o+1)*n]...)
			} else {
				out.F = append(out.F, v.F[o*n:(o+1)*n]...)
			}
		}
	}
	return out, nil
}

func reshaped(v *Value, shape []int) *Value {
	return &Value{Shape: shape, F: v.F, I: v.I, Int: v.Int}
}

func runFlatten(a attrs, in []*Value, _ int) (*Value, error) {
	x := in[0]
	rank := len(x.Shape)
	axis := a.int("axis", 1)
	if axis < 0 {
		axis += int64(rank)
	}
	if axis < 0 || axis > int64(rank) {
		return nil, fmt.Errorf("Flatten: axis %d for rank %d", a.int("axis", 1), rank)
	}
	return reshaped(x, []int{numel(x.Shape[:axis]), numel(x.Shape[axis:])}), nil
}

// matrix returns v as rows×cols, transposed when trans is set.
func matrix(v *Value, trans bool) ([]float32, int, int, error) {
	if v.Int || len(v.Shape) != 2 {
		return nil, 0, 0, fmt.Errorf("want a float32 matrix, got shape %v", v.Shape)
	}
	r, c := v.Shape[0], v.Shape[1]
	if !trans {
		return v.F, r, c, nil
	}
	t := make([]float32, len(v.F))
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			t[j*r+i] = v.F[i*c+j]
		}
	}
	return t, c, r, nil
}

func runGemm(a attrs, in []*Value, _ int) (*Value, error) {
	am, m, k, err := matrix(in[0], a.int("transA", 0) != 0)
	if err != nil {
		return nil, fmt.Errorf("Gemm A: %w", err)
	}
	// B is needed as N×K for MatMulBT: transposed unless transB is set.
	bm, n, k2, err := matrix(in[1], a.int("transB", 0) == 0)
	if err != nil {
		return nil, fmt.Errorf("Gemm B: %w", err)
	}
	if k != k2 {
		return nil, fmt.Errorf("Gemm: A is %dx%d but B gives %d rows", m, k, k2)
	}
	out := &Value{Shape: []int{m, n}, F: make([]float32, m*n)}
	kernels.MatMulBT(m, n, k, am, bm, out.F)
	alpha, beta := a.float("alpha", 1), a.float("beta", 1)
	if alpha != 1 {
		for i := range out.F {
			out.F[i] *= alpha
		}
	}
	if len(in) == 3 && in[2] != nil && beta != 0 {
		c := in[2]
		if c.Int {
			return nil, fmt.Errorf("Gemm: C must be float32")
		}
		cs := c.Shape
		for len(cs) < 2 {
			cs = append([]int{1}, cs...)
		}
		if len(cs) != 2 || (cs[0] != 1 && cs[0] != m) || (cs[1] != 1 && cs[1] != n) {
			return nil, fmt.Errorf("Gemm: C of shape %v does not broadcast to %dx%d", c.Shape, m, n)
		}
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				ci := 0
				if cs[0] != 1 {
					ci = i * cs[1]
				}
				if cs[1] != 1 {
					ci += j
				}
				out.F[i*n+j] += beta * c.F[ci]
			}
		}
	}
	return out, nil
}

func runMatMul(_ attrs, in []*Value, _ int) (*Value, error) {
	am, m, k, err := matrix(in[0], false)
	if err != nil {
		return nil, fmt.Errorf("MatMul: only 2-D operands are supported: %w", err)
	}
	bm, n, k2, err := matrix(in[1], true)
	if err != nil {
		return nil, fmt.Errorf("MatMul: only 2-D operands are supported: %w", err)
	}
	if k != k2 {
		return nil, fmt.Errorf("MatMul: %dx%d times %dx%d", m, k, k2, n)
	}
	out := &Value{Shape: []int{m, n}, F: make([]float32, m*n)}
	kernels.MatMulBT(m, n, k, am, bm, out.F)
	return out, nil
}

// broadcast applies a binary operator with numpy broadcasting.
func broadcast(x, y *Value, f func(a, b float32) float32, g func(a, b int64) int64) (*Value, error) {
	if x.Int != y.Int {
		return nil, fmt.Errorf("operands of different types (float32 and int64)")
	}
	rank := max(len(x.Shape), len(y.Shape))
	pad := func(s []int) []int {
		out := make([]int, rank)
		for i := range out {
			out[i] = 1
		}
		copy(out[rank-len(s):], s)
		return out
	}
	xs, ys := pad(x.Shape), pad(y.Shape)
	shape := make([]int, rank)
	for i := range shape {
		switch {
		case xs[i] == ys[i] || ys[i] == 1:
			shape[i] = xs[i]
		case xs[i] == 1:
			shape[i] = ys[i]
		default:
			return nil, fmt.Errorf("shapes %v and %v do not broadcast", x.Shape, y.Shape)
		}
	}
	strides := func(s []int) []int {
		st := make([]int, rank)
		acc := 1
		for i := rank - 1; i >= 0; i-- {
			if s[i] != 1 {
				st[i] = acc
			}
			acc *= s[i]
		}
		return st
	}
	xst, yst := strides(xs), strides(ys)
	n := numel(shape)
	out := &Value{Shape: shape, Int: x.Int}
	if out.Int {
		out.I = make([]int64, n)
	} else {
		out.F = make([]float32, n)
	}
	idx := make([]int, rank)
	xi, yi := 0, 0
	for i := 0; i < n; i++ {
		if out.Int {
			out.I[i] = g(x.I[xi], y.I[yi])
		} else {
			out.F[i] = f(x.F[xi], y.F[yi])
		}
		for d := rank - 1; d >= 0; d-- {
			idx[d]++
			xi += xst[d]
			yi += yst[d]
			if idx[d] < shape[d] {
				break
			}
			xi -= idx[d] * xst[d]
			yi -= idx[d] * yst[d]
			idx[d] = 0
		}
	}
	return out, nil
}

func runBatchNorm(a attrs, in []*Value, _ int) (*Value, error) {
	x := in[0]
	if err := floatInput(x, "BatchNormalization input"); err != nil {
		return nil, err
	}
	if len(x.Shape) < 2 {
		return nil, fmt.Errorf("BatchNormalization: input %v has no channel axis", x.Shape)
	}
	c := x.Shape[1]
	for i, v := range in[1:] {
		if v.Int || v.Numel() != c {
			return nil, fmt.Errorf("BatchNormalization: input %d has shape %v, want [%d]", i+1, v.Shape, c)
		}
	}
	eps := float64(a.float("epsilon", 1e-5))
	scale, shift := make([]float32, c), make([]float32, c)
	for i := 0; i < c; i++ {
		s := float64(in[1].F[i]) / math.Sqrt(float64(in[4].F[i])+eps)
		scale[i] = float32(s)
		shift[i] = float32(float64(in[2].F[i]) - float64(in[3].F[i])*s)
	}
	out := &Value{Shape: x.Shape, F: append([]float32(nil), x.F...)}
	plane := numel(x.Shape[2:])
	for b := 0; b < x.Shape[0]; b++ {
		kernels.Epilogue{Scale: scale, Shift: shift}.Apply(out.F[b*c*plane:(b+1)*c*plane], c, plane)
	}
	return out, nil
}

func runDropout(a attrs, in []*Value, opset int) (*Value, error) {
	if len(in) == 3 && in[2] != nil {
		if t := in[2]; t.Numel() != 1 || (t.Int && t.I[0] != 0) || (!t.Int && t.F[0] != 0) {
			return nil, fmt.Errorf("Dropout: training_mode is not supported")
		}
	}
	if _, ok := a["is_test"]; ok && a.int("is_test", 1) == 0 {
		return nil, fmt.Errorf("Dropout: is_test 0 (training) is not supported")
	}
	return in[0], nil
}

func intInput(v *Value, what string) ([]int64, error) {
	if !v.Int {
		return nil, fmt.Errorf("%s must be int64", what)
	}
	return v.I, nil
}

func runReshape(a attrs, in []*Value, _ int) (*Value, error) {
	target, err := intInput(in[1], "Reshape shape")
	if err != nil {
		return nil, err
	}
	allowZero := a.int("allowzero", 0) == 1
	shape := make([]int, len(target))
	infer := -1
	known := 1
	for i, d := range target {
		switch {
		case d == -1:
			if infer >= 0 {
				return nil, fmt.Errorf("Reshape: two -1 dimensions in %v", target)
			}
			infer = i
			continue
		case d == 0 && !allowZero:
			if i >= len(in[0].Shape) {
				return nil, fmt.Errorf("Reshape: 0 at %d copies a dimension the input lacks", i)
			}
			shape[i] = in[0].Shape[i]
		case d < 0:
			return nil, fmt.Errorf("Reshape: invalid dimension %d", d)
		default:
			shape[i] = int(d)
		}
		known *= shape[i]
	}
	n := in[0].Numel()
	if infer >= 0 {
		if known == 0 || n%known != 0 {
			return nil, fmt.Errorf("Reshape: cannot infer -1 in %v from %d elements", target, n)
		}
		shape[infer] = n / known
	} else if known != n {
		return nil, fmt.Errorf("Reshape: %v holds %d elements, the input %d", target, known, n)
	}
	return reshaped(in[0], shape), nil
}

func runUnsqueeze(a attrs, in []*Value, opset int) (*Value, error) {
	axes := a.ints("axes", nil)
	if opset >= 13 {
		var err error
		if axes, err = intInput(in[1], "Unsqueeze axes"); err != nil {
			return nil, err
		}
	}
	rank := len(in[0].Shape) + len(axes)
	insert := make([]bool, rank)
	for _, ax := range axes {
		d, err := normAxis(ax, rank)
		if err != nil || insert[d] {
			return nil, fmt.Errorf("Unsqueeze: axes %v for output rank %d", axes, rank)
		}
		insert[d] = true
	}
	shape := make([]int, 0, rank)
	j := 0
	for d := 0; d < rank; d++ {
		if insert[d] {
			shape = append(shape, 1)
		} else {
			shape = append(shape, in[0].Shape[j])
			j++
		}
	}
	return reshaped(in[0], shape), nil
}

func runGather(a attrs, in []*Value, _ int) (*Value, error) {
	data := in[0]
	idx, err := intInput(in[1], "Gather indices")
	if err != nil {
		return nil, err
	}
	rank := len(data.Shape)
	axis, err := normAxis(a.int("axis", 0), rank)
	if err != nil {
		return nil, err
	}
	dim := data.Shape[axis]
	shape := append(append(append([]int(nil), data.Shape[:axis]...), in[1].Shape...), data.Shape[axis+1:]...)
	outer, inner := numel(data.Shape[:axis]), numel(data.Shape[axis+1:])
	out := &Value{Shape: shape, Int: data.Int}
	for o := 0; o < outer; o++ {
		for _, ix := range idx {
			if ix < 0 {
				ix += int64(dim)
			}
			if ix < 0 || ix >= int64(dim) {
				return nil, fmt.Errorf("Gather: index %d out of range for dimension %d", ix, dim)
			}
			base := (o*dim + int(ix)) * inner
			if data.Int {
				out.I = append(out.I, data.I[base:base+inner]...)
			} else {
				out.F = append(out.F, data.F[base:base+inner]...)
			}
		}
	}
	return out, nil
}

func runSlice(_ attrs, in []*Value, _ int) (*Value, error) {
	data := in[0]
	rank := len(data.Shape)
	starts, err := intInput(in[1], "Slice starts")
	if err != nil {
		return nil, err
	}
	ends, err := intInput(in[2], "Slice ends")
	if err != nil {
		return nil, err
	}
	axes := make([]int64, len(starts))
	for i := range axes {
		axes[i] = int64(i)
	}
	if len(in) > 3 && in[3] != nil {
		if axes, err = intInput(in[3], "Slice axes"); err != nil {
			return nil, err
		}
	}
	steps := make([]int64, len(starts))
	for i := range steps {
		steps[i] = 1
	}
	if len(in) > 4 && in[4] != nil {
		if steps, err = intInput(in[4], "Slice steps"); err != nil {
			return nil, err
		}
	}
	if len(ends) != len(starts) || len(axes) != len(starts) || len(steps) != len(starts) {
		return nil, fmt.Errorf("Slice: starts, ends, axes and steps differ in length")
	}
	begin := make([]int, rank)
	step := make([]int, rank)
	shape := append([]int(nil), data.Shape...)
	for d := range step {
		step[d] = 1
	}
	seen := make([]bool, rank)
	for i := range starts {
		d, err := normAxis(axes[i], rank)
		if err != nil || seen[d] {
			return nil, fmt.Errorf("Slice: axes %v for rank %d", axes, rank)
		}
		seen[d] = true
		dim := int64(data.Shape[d])
		st := steps[i]
		if st == 0 {
			return nil, fmt.Errorf("Slice: step 0")
		}
		s, e := starts[i], ends[i]
		if s < 0 {
			s += dim
		}
		if e < 0 {
			e += dim
		}
		if st > 0 {
			s, e = clamp(s, 0, dim), clamp(e, 0, dim)
			shape[d] = int(max(0, (e-s+st-1)/st))
		} else {
			s, e = clamp(s, 0, dim-1), clamp(e, -1, dim-1)
			shape[d] = int(max(0, (s-e-st-1)/(-st)))
		}
		begin[d], step[d] = int(s), int(st)
	}
	n := numel(shape)
	out := &Value{Shape: shape, Int: data.Int}
	if n == 0 {
		return out, nil
	}
	srcStride := make([]int, rank)
	acc := 1
	for d := rank - 1; d >= 0; d-- {
		srcStride[d] = acc
		acc *= data.Shape[d]
	}
	idx := make([]int, rank)
	for i := 0; i < n; i++ {
		src := 0
		for d := 0; d < rank; d++ {
			src += (begin[d] + idx[d]*step[d]) * srcStride[d]
		}
		if data.Int {
			out.I = append(out.I, data.I[src])
		} else {
			out.F = append(out.F, data.F[src])
		}
		for d := rank - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < shape[d] {
				break
			}
			idx[d] = 0
		}
	}
	return out, nil
}

func clamp(v, lo, hi int64) int64 { return min(max(v, lo), hi) }

func runReduceMean(a attrs, in []*Value, _ int) (*Value, error) {
	x := in[0]
	if err := floatInput(x, "ReduceMean input"); err != nil {
		return nil, err
	}
	rank := len(x.Shape)
	reduce := make([]bool, rank)
	axes := a.ints("axes", nil)
	if len(axes) == 0 {
		for d := range reduce {
			reduce[d] = true
		}
	}
	for _, ax := range axes {
		d, err := normAxis(ax, rank)
		if err != nil {
			return nil, fmt.Errorf("ReduceMean: %w", err)
		}
		reduce[d] = true
	}
	keep := a.int("keepdims", 1) == 1
	var shape, kept []int
	count := 1
	for d, s := range x.Shape {
		if reduce[d] {
			count *= s
			if keep {
				shape = append(shape, 1)
			}
			kept = append(kept, 1)
		} else {
			shape = append(shape, s)
			kept = append(kept, s)
		}
	}
	sums := make([]float64, numel(kept))
	outStride := make([]int, rank)
	acc := 1
	for d := rank - 1; d >= 0; d-- {
		if !reduce[d] {
			outStride[d] = acc
		}
		acc *= kept[d]
	}
	idx := make([]int, rank)
	o := 0
	for _, v := range x.F {
		sums[o] += float64(v)
		for d := rank - 1; d >= 0; d-- {
			idx[d]++
			o += outStride[d]
			if idx[d] < x.Shape[d] {
				break
			}
			o -= idx[d] * outStride[d]
			idx[d] = 0
		}
	}
	out := &Value{Shape: shape, F: make([]float32, len(sums))}
	for i, s := range sums {
		out.F[i] = float32(s / float64(count))
	}
	return out, nil
}

func runSoftmax(a attrs, in []*Value, opset int) (*Value, error) {
	x := in[0]
	if err := floatInput(x, "Softmax input"); err != nil {
		return nil, err
	}
	rank := len(x.Shape)
	def := int64(-1)
	if opset < 13 {
		def = 1
	}
	axis, err := normAxis(a.int("axis", def), rank)
	if err != nil {
		return nil, fmt.Errorf("Softmax: %w", err)
	}
	// Before opset 13 Softmax normalises over all axes from axis on.
	outer, n, inner := numel(x.Shape[:axis]), x.Shape[axis], numel(x.Shape[axis+1:])
	if opset < 13 {
		n, inner = numel(x.Shape[axis:]), 1
	}
	out := &Value{Shape: x.Shape, F: make([]float32, len(x.F))}
	for o := 0; o < outer; o++ {
		for i := 0; i < inner; i++ {
			base := o*n*inner + i
			m := math.Inf(-1)
			for j := 0; j < n; j++ {
				m = math.Max(m, float64(x.F[base+j*inner]))
			}
			s := 0.0
			for j := 0; j < n; j++ {
				s += math.Exp(float64(x.F[base+j*inner]) - m)
			}
			for j := 0; j < n; j++ {
				out.F[base+j*inner] = float32(math.Exp(float64(x.F[base+j*inner])-m) / s)
			}
		}
	}
	return out, nil
}

func runLRN(a attrs, in []*Value, _ int) (*Value, error) {
	x := in[0]
	if err := floatInput(x, "LRN input"); err != nil {
		return nil, err
	}
	if len(x.Shape) < 2 {
		return nil, fmt.Errorf("LRN: input %v has no channel axis", x.Shape)
	}
	out := &Value{Shape: x.Shape, F: make([]float32, len(x.F))}
	kernels.LRN(x.F, x.Shape[0], x.Shape[1], numel(x.Shape[2:]), int(a.int("size", 0)),
		a.float("alpha", 1e-4), a.float("beta", 0.75), a.float("bias", 1), out.F)
	return out, nil
}

func runConstant(a attrs, _ []*Value, _ int) (*Value, error) {
	for name, x := range a {
		switch name {
		case "value":
			return tensorValue(x.GetT())
		case "value_float":
			return &Value{Shape: []int{}, F: []float32{x.GetF()}}, nil
		case "value_floats":
			return &Value{Shape: []int{len(x.Floats)}, F: append([]float32(nil), x.Floats...)}, nil
		case "value_int":
			return &Value{Shape: []int{}, I: []int64{x.GetI()}, Int: true}, nil
		case "value_ints":
			return &Value{Shape: []int{len(x.Ints)}, I: append([]int64(nil), x.Ints...), Int: true}, nil
		}
	}
	return nil, fmt.Errorf("Constant has no value")
}

func runShape(a attrs, in []*Value, _ int) (*Value, error) {
	rank := int64(len(in[0].Shape))
	start, end := a.int("start", 0), a.int("end", rank)
	if start < 0 {
		start += rank
	}
	if end < 0 {
		end += rank
	}
	start, end = clamp(start, 0, rank), clamp(end, 0, rank)
	out := &Value{Int: true, Shape: []int{int(max(0, end-start))}}
	for _, d := range in[0].Shape[start:max(start, end)] {
		out.I = append(out.I, int64(d))
	}
	return out, nil
}

func checkPad(a attrs, _ int) error {
	if m := a.str("mode", "constant"); m != "constant" {
		return fmt.Errorf("Pad mode %q is not supported (only constant)", m)
	}
	return nil
}

// runPad pads with a constant (opset 11+: pads and the value are inputs).
func runPad(_ attrs, in []*Value, _ int) (*Value, error) {
	x := in[0]
	if err := floatInput(x, "Pad input"); err != nil {
		return nil, err
	}
	pads, err := intInput(in[1], "Pad pads")
	if err != nil {
		return nil, err
	}
	rank := len(x.Shape)
	if len(pads) != 2*rank {
		return nil, fmt.Errorf("Pad: %d pads for rank %d", len(pads), rank)
	}
	var value float32
	if len(in) > 2 && in[2] != nil {
		if in[2].Int || in[2].Numel() != 1 {
			return nil, fmt.Errorf("Pad: the constant must be one float32")
		}
		value = in[2].F[0]
	}
	shape := make([]int, rank)
	total := 1
	for d := range shape {
		if pads[d] < 0 || pads[d+rank] < 0 || pads[d] > maxElements || pads[d+rank] > maxElements {
			return nil, fmt.Errorf("Pad: pads %v are not supported (negative or huge)", pads)
		}
		shape[d] = x.Shape[d] + int(pads[d]+pads[d+rank])
		if shape[d] > 0 && total > maxElements/shape[d] {
			return nil, fmt.Errorf("Pad: the padded shape is too large")
		}
		total *= shape[d]
	}
	out := &Value{Shape: shape, F: make([]float32, numel(shape))}
	if value != 0 {
		for i := range out.F {
			out.F[i] = value
		}
	}
	n := x.Numel()
	if n == 0 {
		return out, nil
	}
	// copy each innermost row of x to its place in out
	inner := x.Shape[rank-1]
	idx := make([]int, rank)
	for start := 0; start < n; start += inner {
		o := 0
		for d := 0; d < rank; d++ {
			o = o*shape[d] + idx[d] + int(pads[d])
		}
		copy(out.F[o:o+inner], x.F[start:start+inner])
		for d := rank - 2; d >= 0; d-- {
			idx[d]++
			if idx[d] < x.Shape[d] {
				break
			}
			idx[d] = 0
		}
	}
	return out, nil
}

func checkCast(a attrs, _ int) error {
	switch onnxpb.TensorProto_DataType(a.int("to", 0)) {
	case onnxpb.TensorProto_FLOAT, onnxpb.TensorProto_INT64, onnxpb.TensorProto_INT32:
		return nil
	}
	return fmt.Errorf("Cast to %s is not supported (float32, int64 and int32 are)", onnxpb.TensorProto_DataType(a.int("to", 0)))
}

// runCast converts between float32 and the integer types (int32 values are
// held as int64); float to integer truncates toward zero.
func runCast(a attrs, in []*Value, _ int) (*Value, error) {
	x := in[0]
	to := onnxpb.TensorProto_DataType(a.int("to", 0))
	if to == onnxpb.TensorProto_FLOAT {
		if !x.Int {
			return x, nil
		}
		out := &Value{Shape: x.Shape, F: make([]float32, len(x.I))}
		for i, v := range x.I {
			out.F[i] = float32(v)
		}
		return out, nil
	}
	out := &Value{Shape: x.Shape, Int: true}
	if x.Int {
		out.I = x.I
	} else {
		out.I = make([]int64, len(x.F))
		for i, v := range x.F {
			out.I[i] = int64(v)
		}
	}
	if to == onnxpb.TensorProto_INT32 {
		for _, v := range out.I {
			if v != int64(int32(v)) {
				return nil, fmt.Errorf("Cast: %d does not fit int32", v)
			}
		}
	}
	return out, nil
}

func runSqueeze(a attrs, in []*Value, opset int) (*Value, error) {
	x := in[0]
	axes := a.ints("axes", nil)
	if opset >= 13 && len(in) > 1 && in[1] != nil {
		var err error
		if axes, err = intInput(in[1], "Squeeze axes"); err != nil {
			return nil, err
		}
	}
	rank := len(x.Shape)
	drop := make([]bool, rank)
	if len(axes) == 0 {
		for d, s := range x.Shape {
			drop[d] = s == 1
		}
	}
	for _, ax := range axes {
		d, err := normAxis(ax, rank)
		if err != nil || x.Shape[d] != 1 {
			return nil, fmt.Errorf("Squeeze: axis %d of shape %v is not 1", ax, x.Shape)
		}
		drop[d] = true
	}
	var shape []int
	for d, s := range x.Shape {
		if !drop[d] {
			shape = append(shape, s)
		}
	}
	if shape == nil {
		shape = []int{}
	}
	return reshaped(x, shape), nil
}
