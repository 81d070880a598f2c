package calib

import (
	"fmt"
	"math"
)

// hist is a tensor's values over a calibration, in bounded memory: its
// minimum and maximum, and a histogram of 2·halfBins equal bins over
// [−r, r]. r is a power of two that doubles when a value falls outside,
// merging the bins pairwise, so no value is ever stored and every bin
// edge stays exact.
type hist struct {
	r        float64
	bins     []uint64
	min, max float64
	n        uint64
}

const halfBins = 2048

func newHist() *hist {
	return &hist{bins: make([]uint64, 2*halfBins), min: math.Inf(1), max: math.Inf(-1)}
}

// add counts values; a NaN or an infinity is an error, since no range
// could hold it and the network that made it is broken.
func (h *hist) add(data []float32) error {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range data {
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("a value is not finite")
		}
		lo, hi = math.Min(lo, f), math.Max(hi, f)
	}
	if len(data) == 0 {
		return nil
	}
	h.min, h.max = math.Min(h.min, lo), math.Max(h.max, hi)
	m := math.Max(-lo, hi)
	if h.r == 0 {
		// the smallest power of two at or above m (2^-40 for zeros)
		h.r = math.Ldexp(1, max(math.Ilogb(math.Max(m, 0x1p-40))+1, -40))
	}
	for m > h.r {
		h.grow()
	}
	width := h.r / halfBins
	last := len(h.bins) - 1
	for _, v := range data {
		i := int((float64(v) + h.r) / width)
		h.bins[min(max(i, 0), last)]++
	}
	h.n += uint64(len(data))
	return nil
}

// grow doubles r: old bins 2k and 2k+1 make new bin halfBins/2 + k.
func (h *hist) grow() {
	merged := make([]uint64, len(h.bins))
	for k := 0; k < halfBins; k++ {
		merged[halfBins/2+k] = h.bins[2*k] + h.bins[2*k+1]
	}
	h.bins, h.r = merged, 2*h.r
}

// merge adds o's counts to h (o is left as it was or grown): the one of
// smaller range grows to the other's, so the bins line up exactly.
func (h *hist) merge(o *hist) {
	if o.n == 0 {
		return
	}
	if h.n == 0 {
		*h = hist{r: o.r, bins: append([]uint64(nil), o.bins...), min: o.min, max: o.max, n: o.n}
		return
	}
	for h.r < o.r {
		h.grow()
	}
	for o.r < h.r {
		o.grow()
	}
	for i, c := range o.bins {
		h.bins[i] += c
	}
	h.min, h.max, h.n = math.Min(h.min, o.min), math.Max(h.max, o.max), h.n+o.n
}

// edge is bin i's lower edge.
func (h *hist) edge(i int) float64 { return -h.r + float64(i)*h.r/halfBins }

// percentile is the range from the (100−p)th to the pth percentile, each
// end the edge of the bin where it falls (outward, so the range holds at
// least p% of the values), within the values seen.
func (h *hist) percentile(p float64) (lo, hi float64) {
	if h.n == 0 {
		return 0, 0
	}
	cut := uint64(math.Floor(float64(h.n) * (1 - p/100)))
	var acc uint64
	lo, hi = h.min, h.max
	for i, c := range h.bins {
		acc += c
		if acc > cut {
			lo = math.Max(h.min, h.edge(i))
			break
		}
	}
	acc = 0
	for i := len(h.bins) - 1; i >= 0; i-- {
		acc += h.bins[i]
		if acc > cut {
			hi = math.Min(h.max, h.edge(i+1))
			break
		}
	}
	return lo, hi
}

// entropy is the range whose quantization to levels steps loses the
// least information: over the histogram of magnitudes, the threshold T
// minimising the Kullback-Leibler divergence between the values clipped
// at T and the same values quantized to the levels (the search TensorRT
// describes for its int8 calibration). A tensor with no negative values
// gets all 256 levels on [0, T]; otherwise 128 a side, [−T, T], each end
// kept within the values seen.
func (h *hist) entropy() (lo, hi float64) {
	if h.n == 0 {
		return 0, 0
	}
	mag := make([]float64, halfBins)
	for i, c := range h.bins {
		j := i - halfBins
		if j < 0 {
			j = -j - 1
		}
		mag[j] += float64(c)
	}
	levels := 128
	if h.min >= 0 {
		levels = 256
	}
	// the last bin holding a value bounds the search: beyond it nothing
	// is clipped
	top := halfBins
	for top > 0 && mag[top-1] == 0 {
		top--
	}
	best, bestKL := top, math.Inf(1)
	ref := make([]float64, halfBins)
	q := make([]float64, halfBins)
	for t := levels; t <= top; t++ {
		copy(ref, mag[:t])
		for _, c := range mag[t:top] {
			ref[t-1] += c
		}
		// each level merges t/levels bins (the boundaries rounded), and
		// spreads its count back evenly over the bins that held values
		for k := 0; k < levels; k++ {
			a, b := k*t/levels, (k+1)*t/levels
			sum, nz := 0.0, 0
			for i := a; i < b; i++ {
				sum += mag[i]
				if mag[i] > 0 {
					nz++
				}
			}
			for i := a; i < b; i++ {
				q[i] = 0
				if mag[i] > 0 {
					q[i] = sum / float64(nz)
				}
			}
		}
		if kl := divergence(ref[:t], q[:t]); kl < bestKL {
			best, bestKL = t, kl
		}
	}
	if top < levels {
		best = top
	}
	T := float64(best) * h.r / halfBins
	if h.min >= 0 {
		return h.min, math.Min(h.max, T)
	}
	return math.Max(h.min, -T), math.Min(h.max, T)
}

// divergence is KL(p‖q) of two unnormalised histograms; a bin where p
// has values and q none is counted as a large finite penalty.
func divergence(p, q []float64) float64 {
	sp, sq := 0.0, 0.0
	for i := range p {
		sp += p[i]
		sq += q[i]
	}
	if sp == 0 || sq == 0 {
		return math.Inf(1)
	}
	kl := 0.0
	for i := range p {
		if p[i] == 0 {
			continue
		}
		pi := p[i] / sp
		if q[i] == 0 {
			kl += pi * 1e3
			continue
		}
		kl += pi * math.Log(pi/(q[i]/sq))
	}
	return kl
}
