//go:build amd64 && !purego

package kernels

import "golang.org/x/sys/cpu"

var hasMaxVec = cpu.X86.HasAVX2

//go:noescape
func maxVecAVX2(dst, a, b *float32, n int)

// maxVec sets dst[i] to the larger of a[i] and b[i], NaN if either is.
// dst may be a or b (at the same offset).
func maxVec(dst, a, b []float32) {
	n := len(dst)
	a, b = a[:n], b[:n]
	if !hasMaxVec || n < 8 {
		for i := range dst {
			dst[i] = fmax(a[i], b[i])
		}
		return
	}
	v := n &^ 7
	maxVecAVX2(&dst[0], &a[0], &b[0], v)
	if v < n {
		// the last 8 again, overlapping: the maximum is idempotent, so
		// values already written (even where dst is a or b) stay right
		maxVecAVX2(&dst[n-8], &a[n-8], &b[n-8], 8)
	}
}
