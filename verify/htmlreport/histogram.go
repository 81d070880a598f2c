package htmlreport

import "math"

// Histogram bins absolute errors on a log scale: PerDecade bins per power
// of ten from 10^MinExp to 10^MaxExp, with the values below and above that
// range, zeros, NaNs and infinities counted apart. Its zero value is
// empty and ready; Add is O(1) and keeps no values, so an images run can
// stream every output value through it.
type Histogram struct {
	// Counts[i] counts values in [Edge(i), Edge(i+1)).
	Counts [Bins]uint64
	// Below counts values in (0, 10^MinExp), Above those ≥ 10^MaxExp.
	Below, Above   uint64
	Zero, NaN, Inf uint64
}

// The histogram's fixed range: float32 errors worth telling apart lie
// far inside 1e-12 to 1e4, and four bins a decade resolve the factor of
// 3 to 5 between measured errors and the default bound.
const (
	MinExp    = -12
	MaxExp    = 4
	PerDecade = 4
	Bins      = (MaxExp - MinExp) * PerDecade
)

// edges holds 10^(MinExp + i/PerDecade), so that bin tests compare with
// exactly the edges the page prints.
var edges = func() (e [Bins + 1]float64) {
	for i := range e {
		e[i] = math.Pow(10, MinExp+float64(i)/PerDecade)
	}
	return
}()

// Edge is the lower edge of bin i (Edge(Bins) is the upper edge of the
// last).
func Edge(i int) float64 { return edges[i] }

// Add counts one absolute error; a negative value counts as its
// magnitude.
func (h *Histogram) Add(absErr float64) {
	v := math.Abs(absErr)
	switch {
	case v == 0:
		h.Zero++
	case math.IsNaN(v):
		h.NaN++
	case math.IsInf(v, 0):
		h.Inf++
	case v < edges[0]:
		h.Below++
	case v >= edges[Bins]:
		h.Above++
	default:
		i := int(math.Floor((math.Log10(v) - MinExp) * PerDecade))
		// Log10 can round across an edge; the stored edges decide
		i = max(0, min(i, Bins-1))
		if v < edges[i] {
			i--
		} else if v >= edges[i+1] {
			i++
		}
		h.Counts[i]++
	}
}

// Merge adds another histogram's counts, for runs that bin in parallel.
func (h *Histogram) Merge(o *Histogram) {
	for i := range h.Counts {
		h.Counts[i] += o.Counts[i]
	}
	h.Below += o.Below
	h.Above += o.Above
	h.Zero += o.Zero
	h.NaN += o.NaN
	h.Inf += o.Inf
}

// Total is the number of values added.
func (h *Histogram) Total() uint64 {
	n := h.Below + h.Above + h.Zero + h.NaN + h.Inf
	for _, c := range h.Counts {
		n += c
	}
	return n
}
