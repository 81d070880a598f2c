package calib

import (
	"math"
	"math/rand"
	"sort"
	"testing"
)

// TestHistogram: the histogram's ranges on values whose distribution is
// known: min-max exact, the percentile within a bin of the exact one
// (the range grows past the first batch's, merging bins), entropy's
// threshold inside the values and above most of them.
func TestHistogram(t *testing.T) {
	h := newHist()
	rng := rand.New(rand.NewSource(1))
	var all []float64
	for b := 0; b < 4; b++ {
		x := make([]float32, 50000)
		for i := range x {
			// the spread grows, so the range doubles on the way
			x[i] = float32(math.Abs(rng.NormFloat64()) * float64(b+1))
			all = append(all, float64(x[i]))
		}
		if err := h.add(x); err != nil {
			t.Fatal(err)
		}
	}
	hi := 0.0
	for _, v := range all {
		hi = math.Max(hi, v)
	}
	if h.min < 0 || h.max != hi {
		t.Fatalf("min %g max %g, want max %g", h.min, h.max, hi)
	}
	width := h.r / halfBins
	_, p := h.percentile(99)
	exact := quantile(all, 0.99)
	if p < exact || p > exact+width {
		t.Errorf("99th percentile %g, exact %g (bin width %g)", p, exact, width)
	}
	elo, ehi := h.entropy()
	if elo != h.min || !(ehi > quantile(all, 0.9)) || ehi > hi {
		t.Errorf("entropy range [%g, %g], max %g, 90th percentile %g", elo, ehi, hi, quantile(all, 0.9))
	}
	t.Logf("max %g, 99th percentile %g (exact %g), entropy %g", hi, p, exact, ehi)
	if err := h.add([]float32{float32(math.NaN())}); err == nil {
		t.Error("NaN counted")
	}
}

func quantile(v []float64, q float64) float64 {
	s := append([]float64(nil), v...)
	sortFloats(s)
	return s[int(q*float64(len(s)-1))]
}

func sortFloats(s []float64) { sort.Float64s(s) }

// TestMerge: statistics gathered in two parts and merged are those
// gathered in one, bin for bin, whichever part saw the wider range.
func TestMerge(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	a, b := make([]float32, 10000), make([]float32, 10000)
	for i := range a {
		a[i] = float32(rng.NormFloat64())
		b[i] = float32(rng.NormFloat64() * 40)
	}
	whole, p, q := newHist(), newHist(), newHist()
	for _, err := range []error{whole.add(a), whole.add(b), p.add(a), q.add(b)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	p.merge(q)
	if p.r != whole.r || p.n != whole.n || p.min != whole.min || p.max != whole.max {
		t.Fatalf("merged r %g n %d [%g, %g], whole r %g n %d [%g, %g]", p.r, p.n, p.min, p.max, whole.r, whole.n, whole.min, whole.max)
	}
	for i := range p.bins {
		if p.bins[i] != whole.bins[i] {
			t.Fatalf("bin %d: merged %d, whole %d", i, p.bins[i], whole.bins[i])
		}
	}
}
