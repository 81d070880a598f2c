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

// winograd4Vectors reports whether F(4x4, 3x3)'s transforms run in
// vector registers here (winograd4Fits runs it only then).
func winograd4Vectors() bool { return hasAVX2 }

//go:noescape
func winograd4InAVX2(base *float32, offs *[36]int, v *float32, kstride, n int)

// winograd4InputVec runs winograd4Input in vector registers where the
// CPU can, and returns how many tiles it did: all of them but for fewer
// than 8 (a ragged end is done as the last 8 again, which writes the
// same values twice).
func winograd4InputVec(phases []float32, plane, qw, first, tiles int, v []float32, kstride int) int {
	if !hasAVX2 || tiles < 8 {
		return 0
	}
	// the last values either side reads or writes
	_ = phases[15*plane+first+tiles-1+qw+1]
	_ = v[35*kstride+tiles-1]
	var offs [36]int // position (i, j) at 6j+i, in bytes
	for j := 0; j < 6; j++ {
		for i := 0; i < 6; i++ {
			offs[6*j+i] = 4 * ((4*(i%4)+j%4)*plane + (i/4)*qw + j/4)
		}
	}
	winograd4InAVX2(&phases[first], &offs, &v[0], kstride, tiles&^7)
	if tiles%8 != 0 {
		t := tiles - 8
		winograd4InAVX2(&phases[first+t], &offs, &v[t], kstride, 8)
	}
	return tiles
}

//go:noescape
func winograd4OutAVX2(m *float32, kstride int, out *float32, w, rows, tiles int, scale, shift, floor float32)

// winograd4OutRows writes Aᵀ·m·A of one row of tiles of one output
// channel (position k of tile t at m[k·kstride+t]) through max(y·scale +
// shift, floor), NaN kept: the first rows output rows of w values from
// out on; m must hold whole blocks of eight tiles past the row's last.
func winograd4OutRows(m []float32, kstride, tiles int, out []float32, w, rows int, scale, shift, floor float32) {
	if !hasAVX2 {
		winograd4OutRowsGo(m, kstride, tiles, out, w, rows, scale, shift, floor)
		return
	}
	_ = m[35*kstride+(tiles+7)&^7-1]
	_ = out[rows*w-1]
	winograd4OutAVX2(&m[0], kstride, &out[0], w, rows, tiles, scale, shift, floor)
}

//go:noescape
func deinterleave4AVX2(d0, d1, d2, d3, src *float32, n int)

// deinterleave4 sets d[c][i] to src[4i+c] for i < len(d[0]) (each d[c]
// as long), blocks of eight in vector registers where the CPU can (a
// ragged end as the last eight again, which writes the same values
// twice).
func deinterleave4(d *[4][]float32, src []float32) {
	n := len(d[0])
	if !hasAVX2 || n < 8 {
		deinterleave4Go(d, src)
		return
	}
	_ = src[4*n-1]
	p := func(i int) (*float32, *float32, *float32, *float32, *float32) {
		return &d[0][:n][i], &d[1][:n][i], &d[2][:n][i], &d[3][:n][i], &src[4*i]
	}
	d0, d1, d2, d3, s := p(0)
	deinterleave4AVX2(d0, d1, d2, d3, s, n&^7)
	if n%8 != 0 {
		d0, d1, d2, d3, s = p(n - 8)
		deinterleave4AVX2(d0, d1, d2, d3, s, 8)
	}
}
