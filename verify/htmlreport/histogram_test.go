package htmlreport

import (
	"math"
	"testing"
)

func TestHistogramEdges(t *testing.T) {
	// a value on an edge opens that bin, the float just below it closes
	// the bin before, whatever Log10 rounds to
	for i := 0; i < Bins; i++ {
		var h Histogram
		h.Add(Edge(i))
		if h.Counts[i] != 1 {
			t.Fatalf("Edge(%d) = %g not in bin %d", i, Edge(i), i)
		}
		h = Histogram{}
		h.Add(math.Nextafter(Edge(i+1), 0))
		if h.Counts[i] != 1 {
			t.Fatalf("just below Edge(%d) not in bin %d", i+1, i)
		}
	}
	if Edge(0) != 1e-12 || math.Abs(Edge(Bins)-1e4) > 1e-9 {
		t.Fatalf("range %g to %g", Edge(0), Edge(Bins))
	}
}

func TestHistogramSpecialValues(t *testing.T) {
	var h Histogram
	for _, v := range []float64{0, math.Copysign(0, -1), math.NaN(), math.Inf(1), math.Inf(-1), 1e-13, 5e-324, 1e4, 1e300, -2e-7, 2e-7} {
		h.Add(v)
	}
	if h.Zero != 2 || h.NaN != 1 || h.Inf != 2 || h.Below != 2 || h.Above != 2 {
		t.Fatalf("zero %d NaN %d Inf %d below %d above %d", h.Zero, h.NaN, h.Inf, h.Below, h.Above)
	}
	// -2e-7 counts as 2e-7: bin [1.78e-7, 3.16e-7)
	if i := (-7-MinExp)*PerDecade + 1; h.Counts[i] != 2 {
		t.Fatalf("bin %d holds %d", i, h.Counts[i])
	}
	if h.Total() != 11 {
		t.Fatalf("total %d", h.Total())
	}
	var m Histogram
	m.Merge(&h)
	m.Merge(&h)
	if m.Total() != 22 || m.Zero != 4 || m.Counts[(-7-MinExp)*PerDecade+1] != 4 {
		t.Fatalf("merged %+v", m)
	}
}

func TestHistogramAddAllocatesNothing(t *testing.T) {
	var h Histogram
	v := 1e-9
	if n := testing.AllocsPerRun(1000, func() { h.Add(v); v *= 1.01 }); n != 0 {
		t.Fatalf("%v allocations per Add", n)
	}
}

func BenchmarkHistogramAdd(b *testing.B) {
	var h Histogram
	v := 1e-9
	for b.Loop() {
		h.Add(v)
		v *= 1.0001
		if v > 1 {
			v = 1e-9
		}
	}
}
