//go:build amd64 && !purego

package kernels

//go:noescape
func winogradInputAVX2(p0, p1, p2, p3 *float32, qw int, v *float32, kstride, n int)

//go:noescape
func winogradOutputAVX2(m *float32, kstride int, out0, out1 *float32, cols int, scale, shift, floor float32)

// winogradInputVec runs winogradInput in vector registers where the CPU
// can, and returns how many tiles it did: all of them but for fewer than
// 8 (a ragged end is done as the last 8 again, which writes the same
// values twice).
func winogradInputVec(phases []float32, plane, qw, first, tiles int, v []float32, kstride int) int {
	if !hasAVX2 || tiles < 8 {
		return 0
	}
	// the last values either side reads or writes
	_ = phases[3*plane+first+tiles-1+qw+1]
	_ = v[15*kstride+tiles-1]
	p := func(ph, t int) *float32 { return &phases[ph*plane+first+t] }
	n := tiles &^ 7
	winogradInputAVX2(p(0, 0), p(1, 0), p(2, 0), p(3, 0), qw, &v[0], kstride, n)
	if n < tiles {
		t := tiles - 8
		winogradInputAVX2(p(0, t), p(1, t), p(2, t), p(3, t), qw, &v[t], kstride, 8)
	}
	return tiles
}

// winogradOutputVec runs winogradOutputRow in vector registers where the
// CPU can, and returns how many tiles it did: all of them, unless m ends
// within 8 tiles of the row's last (the vector code reads whole blocks
// of 8), when the whole blocks.
func winogradOutputVec(m []float32, kstride, tiles int, even, odd []float32, scale, shift, floor float32) int {
	cols := min(len(even), len(odd), 2*tiles)
	if !hasAVX2 || cols == 0 {
		return 0
	}
	if (cols+15)/16*8 > len(m)-15*kstride {
		cols &^= 15
		if cols == 0 {
			return 0
		}
	}
	_ = m[15*kstride+(cols+15)/16*8-1]
	winogradOutputAVX2(&m[0], kstride, &even[0], &odd[0], cols, scale, shift, floor)
	return (cols + 1) / 2
}
