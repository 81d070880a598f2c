package verify

import (
	"fmt"
	"math"

	"github.com/gnconv/gnconv/graph"
)

// The weights of a quantized file, held against the reference's. An
// output bound loose enough for int8's rounding cannot see one altered
// weight among millions, so a quantized file's weights are compared
// directly: every weight read through DequantizeLinear must be the
// reference's (batch norm folded) within half its quantization step, on
// a step fine enough to mean something, and every DequantizeLinear that
// reads a QuantizeLinear must undo it with the same scale and zero point.

// QuantCheck is that comparison.
type QuantCheck struct {
	// Weights and Biases are the quantized tensors compared with the
	// reference's of the same name (the state-dict key gnconv names them
	// by); Unmatched counts quantized initializers with no such tensor.
	Weights   int `json:"weights"`
	Biases    int `json:"biases"`
	Unmatched int `json:"unmatched"`
	// Pairs is the QuantizeLinear and DequantizeLinear pairs compared.
	Pairs int `json:"pairs"`
	// Worst is the largest weight or bias error, in steps.
	Worst float64 `json:"worst_steps"`
	// Failures say what is wrong (at most maxQuantFailures).
	Failures []string `json:"failures,omitempty"`
	Pass     bool     `json:"pass"`
}

const maxQuantFailures = 8

// Bounds of the weight check. A weight rounded to the nearest step is
// within half a step; the slack covers the float32 arithmetic of
// dequantizing and of folding batch norm (a few ulps of the weight, far
// below 1e-4 of a step at 8 bits). A weight step may be at most 1/63 of
// the channel's largest magnitude (7-bit weights, which some quantizers
// use on processors without VNNI, pass; a coarser step would let the
// half-step test pass values that are not the reference's). A bias step
// may be at most 2^-7 of the layer's largest bias.
const (
	halfStepSlack = 0.5 + 1e-4
	maxWeightStep = 1.0 / 63
	maxBiasStep   = 1.0 / 128
)

type refTensor struct {
	data []float32
	out  int
	bias bool
}

// referenceTensors are the reference's weights and biases by state-dict
// key, batch norm folded in (W·γ/√(σ²+ε), and β − (μ − b)·γ/√(σ²+ε) as
// the reference pass computes its shift).
func referenceTensors(net *graph.Net) map[string]refTensor {
	refs := map[string]refTensor{}
	for _, c := range net.Convs() {
		w, b := c.Weight, c.Bias
		if !c.HasBias {
			b = nil
		}
		if c.BN != nil {
			scale, shift := graph.BatchNormScaleShift(c)
			per := len(c.Weight) / c.Out
			w = make([]float32, len(c.Weight))
			for i, v := range c.Weight {
				w[i] = float32(float64(v) * float64(scale[i/per]))
			}
			b = shift
		}
		refs[c.Module+".weight"] = refTensor{w, c.Out, false}
		if b != nil {
			refs[c.Module+".bias"] = refTensor{b, c.Out, true}
		}
	}
	var walk func([]*graph.Layer)
	walk = func(layers []*graph.Layer) {
		for _, l := range layers {
			if l.Linear != nil {
				refs[l.Linear.Name+".weight"] = refTensor{l.Linear.Weight, l.Linear.Out, false}
				refs[l.Linear.Name+".bias"] = refTensor{l.Linear.Bias, l.Linear.Out, true}
			}
			for _, br := range l.Branches {
				walk(br)
			}
		}
	}
	walk(net.Body)
	for _, h := range net.Aux {
		walk(h.Layers)
	}
	return refs
}

// CheckQuantized compares a quantized file's weights and its quantize
// and dequantize pairs as above; nil for a file that is not quantized.
func CheckQuantized(m *Model, net *graph.Net) *QuantCheck {
	if !m.Int8() {
		return nil
	}
	qc := &QuantCheck{}
	fail := func(format string, args ...any) {
		if len(qc.Failures) < maxQuantFailures {
			qc.Failures = append(qc.Failures, fmt.Sprintf(format, args...))
		}
	}
	refs := referenceTensors(net)
	producer := map[string]int{}
	for i, n := range m.order {
		producer[n.Output[0]] = i
	}
	for i, n := range m.order {
		if n.GetOpType() != "DequantizeLinear" {
			continue
		}
		x, xok := m.inits[n.Input[0]]
		scale, sok := m.inits[n.Input[1]]
		var zero *Value
		zok := len(n.Input) < 3 || n.Input[2] == ""
		if !zok {
			zero, zok = m.inits[n.Input[2]]
		}
		if !xok {
			// an activation: its scale and zero point must be those of
			// the QuantizeLinear that made it
			p, ok := producer[n.Input[0]]
			if !ok || m.order[p].GetOpType() != "QuantizeLinear" {
				continue
			}
			q := m.order[p]
			qs, qsok := m.inits[q.Input[1]]
			var qz *Value
			qzok := len(q.Input) < 3 || q.Input[2] == ""
			if !qzok {
				qz, qzok = m.inits[q.Input[2]]
			}
			qc.Pairs++
			if !sok || !qsok || !zok || !qzok || !sameValues(scale, qs) || !sameValues(zero, qz) || m.attrs[i].Int("axis", 1) != m.attrs[p].Int("axis", 1) {
				fail("value %q is dequantized with other parameters than it was quantized with", n.Input[0])
			}
			continue
		}
		ref, ok := refs[n.Input[0]]
		if !ok || len(ref.data) != x.Numel() || len(x.Shape) == 0 || x.Shape[0] != ref.out {
			qc.Unmatched++
			continue
		}
		if !sok || !zok || scale.Int || (len(scale.F) != 1 && len(scale.F) != ref.out) ||
			(len(scale.F) > 1 && m.attrs[i].Int("axis", 1) != 0) || (zero != nil && len(zero.I) != len(scale.F)) {
			fail("%q: its scale is not one per tensor or one per output channel", n.Input[0])
			continue
		}
		if ref.bias {
			qc.Biases++
		} else {
			qc.Weights++
		}
		per := len(ref.data) / ref.out
		largest := 0.0
		for _, v := range ref.data {
			largest = math.Max(largest, math.Abs(float64(v)))
		}
		for o := 0; o < ref.out; o++ {
			k := 0
			if len(scale.F) > 1 {
				k = o
			}
			s, zp := float64(scale.F[k]), int64(0)
			if zero != nil {
				zp = zero.I[k]
			}
			chanMax := 0.0
			for _, v := range ref.data[o*per : (o+1)*per] {
				chanMax = math.Max(chanMax, math.Abs(float64(v)))
			}
			limit := chanMax * maxWeightStep
			if len(scale.F) == 1 {
				limit = largest * maxWeightStep
			}
			if ref.bias {
				limit = largest * maxBiasStep
			}
			if !(s > 0) || (limit > 0 && s > limit*(1+1e-6)) {
				fail("%q: output channel %d's step %.3g is coarser than the check admits (%.3g)", n.Input[0], o, s, limit)
				continue
			}
			for j := o * per; j < (o+1)*per; j++ {
				got := float64(float32(x.I[j]-zp) * scale.F[k])
				e := math.Abs(got-float64(ref.data[j])) / s
				if math.IsNaN(e) || math.IsInf(e, 0) {
					fail("%q[%d]: not a finite number", n.Input[0], j)
					break
				}
				qc.Worst = math.Max(qc.Worst, e)
				if e > halfStepSlack {
					fail("%q[%d]: %.6g, the reference's is %.6g (%.3g steps away)", n.Input[0], j, got, ref.data[j], e)
					break
				}
			}
		}
	}
	qc.Pass = len(qc.Failures) == 0
	if qc.Weights == 0 && qc.Unmatched > 0 {
		qc.Pass = false
		fail("no quantized weight has the name and shape of the reference's (%d do not): the weights cannot be checked", qc.Unmatched)
	}
	return qc
}

// sameValues reports whether two quantization parameters hold the same
// values (nil: absent, the default zero point 0 of uint8).
func sameValues(a, b *Value) bool {
	if a == nil || b == nil {
		return a == b || isZeroUint8(a) || isZeroUint8(b)
	}
	if a.Int != b.Int || a.Byte != b.Byte || a.Int8 != b.Int8 || len(a.F) != len(b.F) || len(a.I) != len(b.I) {
		return false
	}
	for i := range a.F {
		if math.Float32bits(a.F[i]) != math.Float32bits(b.F[i]) {
			return false
		}
	}
	for i := range a.I {
		if a.I[i] != b.I[i] {
			return false
		}
	}
	return true
}

func isZeroUint8(v *Value) bool {
	if v == nil || !v.Byte {
		return false
	}
	for _, x := range v.I {
		if x != 0 {
			return false
		}
	}
	return true
}
