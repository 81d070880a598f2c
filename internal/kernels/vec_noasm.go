//go:build !(amd64 || arm64) || purego

package kernels

// maxVec sets dst[i] to the larger of a[i] and b[i], NaN if either is.
// dst may be a or b.
func maxVec(dst, a, b []float32) {
	n := len(dst)
	a, b = a[:n], b[:n]
	for i := range dst {
		dst[i] = fmax(a[i], b[i])
	}
}

// poolMax is the vector maximum for pooling x: maxVec, there being no
// faster one without the assembly.
func poolMax(x []float32) func(dst, a, b []float32) { return maxVec }

// packRows copies rows rows of w values, row r from src[r·stride:], to dst
// one after another.
func packRows(dst, src []float32, rows, stride, w int) {
	packRowsGo(dst, src, rows, stride, w)
}

// deinterleave sets even[i] to src[2i] and odd[i] to src[2i+1] for i <
// len(even) (odd as long).
func deinterleave(even, odd, src []float32) {
	odd, src = odd[:len(even)], src[:2*len(even)]
	for i := range even {
		even[i], odd[i] = src[2*i], src[2*i+1]
	}
}

// maskedPack reports whether packMasked runs as vector loads and stores
// for panels of nr values: never without the assembly.
func maskedPack(nr int) bool { return false }

// setVectorISA has no assembly to switch here.
func setVectorISA(string) {}

// packMasked sets dst[p·panelStride + i], for p < len(masks) and i < nr,
// to src[off + nr·p + i] where bit i of masks[p] is set and to 0
// elsewhere; masked-out values of src are never read (off may reach
// before src).
func packMasked(nr int, dst []float32, panelStride int, src []float32, off int, masks []uint32) {
	packMaskedGo(nr, dst, panelStride, src, off, masks)
}

// pool3s2Fits says whether pool3s2 runs: never, without the assembly.
func pool3s2Fits(h, ow int, rows [][2]int) bool { return false }

// pool3s2 is not reached without the assembly (pool3s2Fits).
func pool3s2(dst, src []float32, ow int, rows [][2]int) bool { return false }
