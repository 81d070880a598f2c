package verify

import (
	"math"

	"github.com/gnconv/gnconv/verify/ops"
)

// intNode is a quantized layer the interpreter computes in integers (see
// ops.IntConv): the Conv, Gemm or GlobalAveragePool node whose inputs are
// dequantized and whose output is quantized runs as one operator from the
// quantized input to the quantized output, and the nodes it stands for
// (the Relu a zero-point-0 output makes redundant, the QuantizeLinear,
// the weights' DequantizeLinear) are skipped. The file's other nodes,
// the dequantized activations among them, run as written.
type intNode struct {
	op     *ops.Op
	input  string // the quantized input
	output string // the QuantizeLinear's output
	skip   []int  // the nodes it stands for
}

// qparam is a per-tensor or per-channel scale and zero point read from
// initializers.
type qparam struct {
	scale []float32
	zero  []int64 // nil: 0
	lo    int64   // the quantized type's range
	hi    int64
	axis  int64
}

// intPlans finds the layers to compute in integers. A pattern that
// differs in anything (a parameter that is not an initializer, a bias at
// another scale than x_scale·w_scale, a Relu before an output whose zero
// point is not its type's least value, a value read elsewhere) stays on
// the float path the file's nodes describe.
func (m *Model) intPlans() map[int]*intNode {
	if !m.int8 {
		return nil
	}
	producer := map[string]int{}
	readers := map[string][]int{}
	for i, n := range m.order {
		producer[n.Output[0]] = i
		for _, in := range n.Input {
			readers[in] = append(readers[in], i)
		}
	}
	for _, o := range m.Outputs {
		readers[o.Name] = append(readers[o.Name], -1) // read by the caller
	}
	// dq is the DequantizeLinear that makes name, with its parameters.
	dq := func(name string) (int, qparam, bool) {
		i, ok := producer[name]
		if !ok || m.order[i].GetOpType() != "DequantizeLinear" {
			return 0, qparam{}, false
		}
		p, ok := m.qparamOf(i)
		return i, p, ok
	}
	// only: name is read by node i alone
	only := func(name string, i int) bool {
		r := readers[name]
		return len(r) == 1 && r[0] == i
	}
	// quantizedBy follows a layer's output through an optional Relu to
	// the QuantizeLinear that alone reads it.
	quantizedBy := func(i int) (q int, p qparam, skip []int, ok bool) {
		out := m.order[i].Output[0]
		r := readers[out]
		if len(r) != 1 || r[0] < 0 {
			return 0, p, nil, false
		}
		next := r[0]
		relu := m.order[next].GetOpType() == "Relu"
		if relu {
			skip = append(skip, next)
			r = readers[m.order[next].Output[0]]
			if len(r) != 1 || r[0] < 0 {
				return 0, p, nil, false
			}
			next = r[0]
		}
		if m.order[next].GetOpType() != "QuantizeLinear" {
			return 0, p, nil, false
		}
		p, ok = m.qparamOf(next)
		if !ok || len(p.scale) != 1 || relu && p.zeroAt(0) != p.lo {
			return 0, p, nil, false
		}
		return next, p, append(skip, next), true
	}
	plans := map[int]*intNode{}
	for i, n := range m.order {
		kind := n.GetOpType()
		if kind != "Conv" && kind != "Gemm" && kind != "GlobalAveragePool" {
			continue
		}
		xi, xp, ok := dq(n.Input[0])
		if !ok || len(xp.scale) != 1 {
			continue
		}
		if _, isInit := m.inits[m.order[xi].Input[0]]; isInit {
			continue
		}
		qi, yp, skip, ok := quantizedBy(i)
		if !ok {
			continue
		}
		plan := &intNode{input: m.order[xi].Input[0], output: m.order[qi].Output[0]}
		if kind == "GlobalAveragePool" {
			if xp.lo != yp.lo {
				continue // QLinearGlobalAveragePool keeps the type
			}
			g := &ops.IntGlobalAveragePool{XZero: xp.zeroAt(0), XScale: xp.scale[0], YScale: yp.scale[0], Zero: yp.zeroAt(0), Lo: yp.lo, Hi: yp.hi}
			plan.op, plan.skip = g.Op(), skip
			plans[i] = plan
			continue
		}
		// the weights and the bias: quantized initializers
		if len(n.Input) < 2 {
			continue
		}
		wi, wp, ok := dq(n.Input[1])
		if !ok {
			continue
		}
		w, isInit := m.inits[m.order[wi].Input[0]]
		if !isInit || !w.Byte && !w.Int8 || len(w.Shape) == 0 {
			continue
		}
		out := w.Shape[0]
		if len(wp.scale) != 1 && (len(wp.scale) != out || wp.axis != 0) {
			continue
		}
		if only(n.Input[1], i) {
			skip = append(skip, wi)
		}
		req := ops.Requant{Mult: make([]float32, len(wp.scale)), Zero: yp.zeroAt(0), Lo: yp.lo, Hi: yp.hi}
		for c, s := range wp.scale {
			req.Mult[c] = xp.scale[0] * s / yp.scale[0]
		}
		var bias []int64
		if len(n.Input) > 2 && n.Input[2] != "" {
			bi, bp, ok := dq(n.Input[2])
			if !ok {
				continue
			}
			b, isInit := m.inits[m.order[bi].Input[0]]
			if !isInit || !b.Int || b.Byte || b.Int8 || len(b.I) != out || !bp.biasOf(xp.scale[0], wp.scale, out) {
				continue
			}
			bias = b.I
			if only(n.Input[2], i) {
				skip = append(skip, bi)
			}
		}
		// the weights minus their zero point, and each channel's Σ|w|
		per := w.Numel() / max(out, 1)
		wz := make([]int64, len(w.I))
		abs := make([]int64, out)
		for j, v := range w.I {
			c := j / per
			z := int64(0)
			if len(wp.zero) == 1 {
				z = wp.zero[0]
			} else if wp.zero != nil {
				z = wp.zero[c]
			}
			wz[j] = v - z
			abs[c] += max(wz[j], -wz[j])
		}
		a := m.attrs[i]
		switch kind {
		case "Conv":
			wf := &ops.Value{Shape: w.Shape, F: make([]float32, len(wz))}
			for j, v := range wz {
				wf.F[j] = float32(v)
			}
			c := &ops.IntConv{Attrs: a, XZero: xp.zeroAt(0), W: wf, AbsSum: abs, Bias: bias, Req: req}
			plan.op = c.Op()
		case "Gemm":
			if len(w.Shape) != 2 || a.Float("alpha", 1) != 1 || a.Float("beta", 1) != 1 || a.Int("transA", 0) != 0 || a.Int("transB", 0) != 1 {
				continue
			}
			g := &ops.IntGemm{XZero: xp.zeroAt(0), W: wz, N: out, K: w.Shape[1], Bias: bias, Req: req}
			plan.op = g.Op()
		}
		plan.skip = skip
		plans[i] = plan
	}
	return plans
}

// qparamOf reads a QuantizeLinear's or DequantizeLinear's scale and zero
// point, when both are initializers of a per-tensor or per-channel form.
func (m *Model) qparamOf(i int) (qparam, bool) {
	n := m.order[i]
	s, ok := m.inits[n.Input[1]]
	if !ok || s.Int || s.Half || len(s.Shape) > 1 || len(s.F) == 0 {
		return qparam{}, false
	}
	for _, v := range s.F {
		if !(v > 0) || math.IsInf(float64(v), 0) {
			return qparam{}, false
		}
	}
	p := qparam{scale: s.F, lo: 0, hi: 255, axis: m.attrs[i].Int("axis", 1)}
	if len(n.Input) > 2 && n.Input[2] != "" {
		z, ok := m.inits[n.Input[2]]
		if !ok || !z.Int || len(z.I) != len(s.F) {
			return qparam{}, false
		}
		p.zero = z.I
		switch {
		case z.Int8:
			p.lo, p.hi = -128, 127
		case !z.Byte:
			p.lo, p.hi = math.MinInt32, math.MaxInt32
		}
	}
	return p, true
}

func (p qparam) zeroAt(c int) int64 {
	switch {
	case p.zero == nil:
		return 0
	case len(p.zero) == 1:
		return p.zero[0]
	}
	return p.zero[c]
}

// biasOf reports whether p is the parameters of an int32 bias the
// integer sums can take as they are: zero point 0 and scale
// x_scale·w_scale in float32, channel by channel.
func (p qparam) biasOf(xScale float32, wScale []float32, out int) bool {
	if p.lo != math.MinInt32 && p.zero != nil || len(p.scale) != 1 && len(p.scale) != out {
		return false
	}
	for c := 0; c < out; c++ {
		if p.zeroAt(c) != 0 {
			return false
		}
		ws := wScale[0]
		if len(wScale) > 1 {
			ws = wScale[c]
		}
		bs := p.scale[0]
		if len(p.scale) > 1 {
			bs = p.scale[c]
		}
		if math.Float32bits(bs) != math.Float32bits(xScale*ws) {
			return false
		}
	}
	return true
}
