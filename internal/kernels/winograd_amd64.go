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

//go:noescape
func winograd4BtAVX2(dst, src *[6]*float32, n int)

//go:noescape
func winograd4AtAVX2(dst *[4]*float32, src *[6]*float32, n int)

//go:noescape
func winograd4RowAVX2(row *float32, src *[6]*float32, n int, scale, shift, floor float32)

// winograd4Bt is winograd4BtGo, blocks of eight tiles in vector
// registers where the CPU can.
func winograd4Bt(dst, src *[6][]float32, n int) {
	v := 0
	if hasAVX2 {
		if v = n &^ 7; v > 0 {
			var d, s [6]*float32
			for i := range d {
				d[i], s[i] = &dst[i][:n][0], &src[i][:n][0]
			}
			winograd4BtAVX2(&d, &s, v)
		}
	}
	if v < n {
		var d, s [6][]float32
		for i := range d {
			d[i], s[i] = dst[i][v:n], src[i][v:n]
		}
		winograd4BtGo(&d, &s, n-v)
	}
}

// winograd4At is winograd4AtGo, blocks of eight tiles in vector
// registers where the CPU can.
func winograd4At(dst *[4][]float32, src *[6][]float32, n int) {
	v := 0
	if hasAVX2 {
		if v = n &^ 7; v > 0 {
			var d [4]*float32
			var s [6]*float32
			for i := range d {
				d[i] = &dst[i][:n][0]
			}
			for i := range s {
				s[i] = &src[i][:n][0]
			}
			winograd4AtAVX2(&d, &s, v)
		}
	}
	if v < n {
		var d [4][]float32
		var s [6][]float32
		for i := range d {
			d[i] = dst[i][v:n]
		}
		for i := range s {
			s[i] = src[i][v:n]
		}
		winograd4AtGo(&d, &s, n-v)
	}
}

// winograd4Row is winograd4RowGo, blocks of eight tiles in vector
// registers where the CPU can: straight into the row while a block's 32
// values fit in it, the last block through a buffer (src must then hold
// whole blocks of eight past the row's last tile).
func winograd4Row(row []float32, src *[6][]float32, tiles int, scale, shift, floor float32) {
	tiles = min(tiles, (len(row)+3)/4)
	if !hasAVX2 || tiles == 0 {
		winograd4RowGo(row, src, tiles, scale, shift, floor)
		return
	}
	var s [6]*float32
	for i := range s {
		s[i] = &src[i][:(tiles+7)&^7][0]
	}
	whole := min(tiles, len(row)/4) &^ 7 // blocks whose 32 values fit
	if whole > 0 {
		winograd4RowAVX2(&row[0], &s, whole, scale, shift, floor)
	}
	if whole < tiles {
		for i := range s {
			s[i] = &src[i][whole]
		}
		var buf [32]float32
		winograd4RowAVX2(&buf[0], &s, 8, scale, shift, floor)
		copy(row[4*whole:min(len(row), 4*tiles)], buf[:])
	}
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
