//go:build !amd64 || purego

package kernels

// winogradInputVec: no vector transform here; winogradInput does every
// tile.
func winogradInputVec(phases []float32, plane, qw, first, tiles int, v []float32, kstride int) int {
	return 0
}

// winogradOutputVec: no vector transform here; winogradOutputRow does
// every tile.
func winogradOutputVec(m []float32, kstride, tiles int, even, odd []float32, scale, shift, floor float32) int {
	return 0
}
