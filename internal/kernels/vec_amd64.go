//go:build amd64 && !purego

package kernels

import "golang.org/x/sys/cpu"

// hasAVX2 and hasAVX512 are set when the vector helpers below run their
// assembly: the CPU has the instructions and the kernel in use is of that
// instruction set or a later one (setVectorISA), so that a forced AVX2 or
// plain-Go kernel runs as it would on a CPU without the later ones.
var hasAVX2, hasAVX512 bool

// setVectorISA sets the helpers' instruction set to isa's (KernelEnv's
// values).
func setVectorISA(isa string) {
	hasAVX512 = isa == "avx512" && cpu.X86.HasAVX512F
	hasAVX2 = isa != "go" && cpu.X86.HasAVX2
}

//go:noescape
func maxVecAVX2(dst, a, b *float32, n int)

//go:noescape
func maxVecNoNaNAVX2(dst, a, b *float32, n int)

//go:noescape
func anyNaNAVX2(x *float32, n int) bool

// poolMax is the vector maximum for pooling x: maxVec, or where x holds
// no NaN (checked here, in one pass) and the CPU has AVX2, one that skips
// maxVec's NaN handling.
func poolMax(x []float32) func(dst, a, b []float32) {
	if !hasAVX2 {
		return maxVec
	}
	v := len(x) &^ 31
	if v > 0 && anyNaNAVX2(&x[0], v) {
		return maxVec
	}
	for _, f := range x[v:] {
		if f != f {
			return maxVec
		}
	}
	return maxVecNoNaN
}

// maxVecNoNaN is maxVec for inputs without NaN.
func maxVecNoNaN(dst, a, b []float32) { maxVecBy(maxVecNoNaNAVX2, dst, a, b) }

//go:noescape
func maxPool3s2AVX2(dst, src *float32, w, ow int, rows *[2]int, oh int) bool

// pool3s2Fits says whether pool3s2 runs planes of h rows of 2·ow values
// with the windows of rows down: the CPU has AVX2, there are at least 9
// outputs a row, and every window holds one to three rows of the plane.
func pool3s2Fits(h, ow int, rows [][2]int) bool {
	if !hasAVX2 || ow < 9 || len(rows) == 0 {
		return false
	}
	for _, rw := range rows {
		if rw[0] < 0 || rw[1] <= rw[0] || rw[1]-rw[0] > 3 || rw[1] > h {
			return false
		}
	}
	return true
}

// pool3s2 sets dst (len(rows) rows of ow values) to the stem's max pool
// of src, a plane of rows of 2·ow values (windows 3 wide, stride 2
// across, the last clipped; rows down), in one pass over the plane, where
// pool3s2Fits. It reports false, dst then unfinished, where the plane
// holds NaN (the maxima it takes do not carry NaN).
func pool3s2(dst, src []float32, ow int, rows [][2]int) bool {
	_ = dst[len(rows)*ow-1]
	_ = src[len(src)-1]
	return !maxPool3s2AVX2(&dst[0], &src[0], 2*ow, ow, &rows[0], len(rows))
}

//go:noescape
func packRowsAVX(dst, src *float32, rows, stride, vecs int)

// packRows copies rows rows of w values, row r from src[r·stride:], to dst
// one after another.
func packRows(dst, src []float32, rows, stride, w int) {
	if rows == 0 {
		return
	}
	_ = src[(rows-1)*stride+w-1]
	_ = dst[rows*w-1]
	if hasAVX2 && w%8 == 0 {
		packRowsAVX(&dst[0], &src[0], rows, stride, w/8)
		return
	}
	packRowsGo(dst, src, rows, stride, w)
}

// maxVec sets dst[i] to the larger of a[i] and b[i], NaN if either is.
// dst may be a or b (at the same offset).
func maxVec(dst, a, b []float32) {
	if !hasAVX2 {
		maxVecBy(nil, dst, a, b)
		return
	}
	maxVecBy(maxVecAVX2, dst, a, b)
}

// maxVecBy runs vec, a vector maximum of n values (n a multiple of 8),
// over dst, the last 8 values again where n is not: the maximum is
// idempotent, so values already written (even where dst is a or b) stay
// right. Fewer than 8 values, or a nil vec, go through fmax.
func maxVecBy(vec func(dst, a, b *float32, n int), dst, a, b []float32) {
	n := len(dst)
	a, b = a[:n], b[:n]
	if vec == nil || n < 8 {
		for i := range dst {
			dst[i] = fmax(a[i], b[i])
		}
		return
	}
	v := n &^ 7
	vec(&dst[0], &a[0], &b[0], v)
	if v < n {
		vec(&dst[n-8], &a[n-8], &b[n-8], 8)
	}
}

//go:noescape
func deinterleaveAVX512(even, odd, src *float32, n int)

//go:noescape
func deinterleaveAVX2(even, odd, src *float32, n int)

// deinterleave sets even[i] to src[2i] and odd[i] to src[2i+1] for i <
// len(even) (odd as long).
func deinterleave(even, odd, src []float32) {
	n := len(even)
	odd, src = odd[:n], src[:2*n]
	v := 0
	switch {
	case hasAVX512:
		v = n &^ 15
		if v > 0 {
			deinterleaveAVX512(&even[0], &odd[0], &src[0], v)
		}
	case hasAVX2:
		v = n &^ 7
		if v > 0 {
			deinterleaveAVX2(&even[0], &odd[0], &src[0], v)
		}
	}
	for i := v; i < n; i++ {
		even[i], odd[i] = src[2*i], src[2*i+1]
	}
}

//go:noescape
func packMaskedAVX512(dst *float32, panelStride int, src *float32, off int, masks *uint32, panels int)

//go:noescape
func packMaskedAVX2(dst *float32, panelStride int, src *float32, off int, masks *uint32, panels int)

// maskedPack reports whether packMasked runs as vector loads and stores
// for panels of nr values.
func maskedPack(nr int) bool {
	return nr == 32 && hasAVX512 || nr == 16 && hasAVX2
}

// packMasked sets dst[p·panelStride + i], for p < len(masks) and i < nr
// (16 or 32), to src[off + nr·p + i] where bit i of masks[p] is set and to
// 0 elsewhere; masked-out values of src are never read (off may reach
// before src).
func packMasked(nr int, dst []float32, panelStride int, src []float32, off int, masks []uint32) {
	if len(masks) == 0 {
		return
	}
	_ = dst[(len(masks)-1)*panelStride+nr-1]
	switch {
	case nr == 32 && hasAVX512:
		packMaskedAVX512(&dst[0], panelStride, &src[0], off, &masks[0], len(masks))
	case nr == 16 && hasAVX2:
		packMaskedAVX2(&dst[0], panelStride, &src[0], off, &masks[0], len(masks))
	default:
		packMaskedGo(nr, dst, panelStride, src, off, masks)
	}
}
