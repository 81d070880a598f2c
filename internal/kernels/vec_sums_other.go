//go:build !amd64 || purego

package kernels

// The vector sums of Winograd's transforms as plain loops: amd64 has
// AVX2 versions (vec_amd64.s), arm64 none yet.

// vecAdd sets dst[i] to a[i] + b[i]; dst may be a or b.
func vecAdd(dst, a, b []float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	for i := range dst {
		dst[i] = a[i] + b[i]
	}
}

// vecSub sets dst[i] to a[i] − b[i]; dst may be a or b.
func vecSub(dst, a, b []float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	for i := range dst {
		dst[i] = a[i] - b[i]
	}
}
