//go:build !amd64 || purego

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

// packRows copies rows rows of w values, row r from src[r·stride:], to dst
// one after another.
func packRows(dst, src []float32, rows, stride, w int) {
	packRowsGo(dst, src, rows, stride, w)
}
