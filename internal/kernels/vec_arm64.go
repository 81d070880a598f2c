//go:build arm64 && !purego

package kernels

// hasNEON is set when the vector helpers below run their assembly: the
// kernel in use is the NEON one (setVectorISA), so that a forced plain-Go
// kernel runs no assembly at all.
var hasNEON bool

// setVectorISA sets the helpers' instruction set to isa's (KernelEnv's
// values).
func setVectorISA(isa string) {
	hasNEON = isa == "neon"
}

//go:noescape
func maxVecNEON(dst, a, b *float32, n int)

//go:noescape
func packRowsNEON(dst, src *float32, rows, stride, vecs int)

//go:noescape
func deinterleaveNEON(even, odd, src *float32, n int)

// packRows copies rows rows of w values, row r from src[r·stride:], to dst
// one after another.
func packRows(dst, src []float32, rows, stride, w int) {
	if rows == 0 {
		return
	}
	_ = src[(rows-1)*stride+w-1]
	_ = dst[rows*w-1]
	if hasNEON && w%4 == 0 {
		packRowsNEON(&dst[0], &src[0], rows, stride, w/4)
		return
	}
	packRowsGo(dst, src, rows, stride, w)
}

// poolMax is the vector maximum for pooling x: maxVec, whose FMAX
// carries NaN through at no cost.
func poolMax(x []float32) func(dst, a, b []float32) { return maxVec }

// maxVec sets dst[i] to the larger of a[i] and b[i], NaN if either is.
// dst may be a or b (at the same offset).
func maxVec(dst, a, b []float32) {
	n := len(dst)
	a, b = a[:n], b[:n]
	if !hasNEON || n < 4 {
		for i := range dst {
			dst[i] = fmax(a[i], b[i])
		}
		return
	}
	v := n &^ 3
	maxVecNEON(&dst[0], &a[0], &b[0], v)
	if v < n {
		// the last 4 again, overlapping: the maximum is idempotent, so
		// values already written (even where dst is a or b) stay right
		maxVecNEON(&dst[n-4], &a[n-4], &b[n-4], 4)
	}
}

// deinterleave sets even[i] to src[2i] and odd[i] to src[2i+1] for i <
// len(even) (odd as long).
func deinterleave(even, odd, src []float32) {
	n := len(even)
	odd, src = odd[:n], src[:2*n]
	v := 0
	if hasNEON {
		v = n &^ 3
		if v > 0 {
			deinterleaveNEON(&even[0], &odd[0], &src[0], v)
		}
	}
	for i := v; i < n; i++ {
		even[i], odd[i] = src[2*i], src[2*i+1]
	}
}

//go:noescape
func packMaskedNEON(dst *float32, panelStride int, src *float32, masks *uint32, panels int)

// maskedPack reports whether packMasked runs as vector loads and stores
// for panels of nr values.
func maskedPack(nr int) bool { return nr == 16 && hasNEON }

// packMasked sets dst[p·panelStride + i], for p < len(masks) and i < nr,
// to src[off + nr·p + i] where bit i of masks[p] is set and to 0
// elsewhere; masked-out values of src are never read (off may reach
// before src). NEON has no masked loads: a 16-value panel that lies
// wholly inside src is loaded whole and masked in registers, the panels
// that reach past either end of src value by value.
func packMasked(nr int, dst []float32, panelStride int, src []float32, off int, masks []uint32) {
	n := len(masks)
	if n == 0 {
		return
	}
	if nr != 16 || !hasNEON {
		packMaskedGo(nr, dst, panelStride, src, off, masks)
		return
	}
	_ = dst[(n-1)*panelStride+nr-1]
	// panels [lo, hi) start at or after src[0] and end at or before its end
	lo := 0
	if off < 0 {
		lo = min((-off+15)/16, n)
	}
	hi := max(min(n, floorDiv(len(src)-off-16, 16)+1), lo)
	packMaskedGo(16, dst, panelStride, src, off, masks[:lo])
	if hi > lo {
		packMaskedNEON(&dst[lo*panelStride], panelStride, &src[off+16*lo], &masks[lo], hi-lo)
	}
	if hi < n {
		packMaskedGo(16, dst[hi*panelStride:], panelStride, src, off+16*hi, masks[hi:])
	}
}

// pool3s2Fits says whether pool3s2 runs: never, without the assembly.
func pool3s2Fits(h, ow int, rows [][2]int) bool { return false }

// pool3s2 is not reached without the assembly (pool3s2Fits).
func pool3s2(dst, src []float32, ow int, rows [][2]int) bool { return false }
