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

// winograd4Vectors: F(4x4, 3x3)'s transforms have no vector code here.
func winograd4Vectors() bool { return false }

// winograd4InputVec: no vector transform here; winograd4Input does
// every tile.
func winograd4InputVec(phases []float32, plane, qw, first, tiles int, v []float32, kstride int) int {
	return 0
}

func winograd4OutRows(m []float32, kstride, tiles int, out []float32, w, rows int, scale, shift, floor float32) {
	winograd4OutRowsGo(m, kstride, tiles, out, w, rows, scale, shift, floor)
}

func deinterleave4(d *[4][]float32, src []float32) { deinterleave4Go(d, src) }
