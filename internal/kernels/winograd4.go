package kernels

// Winograd's F(4x4, 3x3) for the 3x3 "same" convolutions on large planes
// (conv2 at 56x56 and the 28x28 units): each 4x4 block of output comes
// from a 6x6 block of input, 36 products per tile where the direct
// convolution takes 144 and F(2x2, 3x3) 64 for the same outputs. The
// interpolation points are 0, ±1, ±2 and ∞:
//
//	Bᵀ = | 4  0 -5  0  1  0 |    G = |  1/4     0     0  |    Aᵀ = | 1  1  1  1  1  0 |
//	     | 0 -4 -4  1  1  0 |        | -1/6  -1/6  -1/6 |         | 0  1 -1  2 -2  0 |
//	     | 0  4 -4 -1  1  0 |        | -1/6   1/6  -1/6 |         | 0  1  1  4  4  0 |
//	     | 0 -2 -1  2  1  0 |        | 1/24  1/12   1/6 |         | 0  1 -1  8 -8  1 |
//	     | 0  2 -1 -2  1  0 |        | 1/24 -1/12   1/6 |
//	     | 0  4  0 -5  0  1 |        |   0     0     1  |
//
// Larger constants than F(2x2, 3x3)'s round more (the error is measured
// against the exact convolution in the tests, at every GoogLeNet shape it
// runs); the transforms multiply only by powers of two but for the 5s of
// Bᵀ, so the vector code and the Go twin round alike, value for value.
//
// Layout as for F(2x2, 3x3): the padded input is split into its 16
// phases (rows and columns mod 4), so that value (i, j) of consecutive
// tiles is a contiguous run of phase (i mod 4, j mod 4), offset by
// (i/4, j/4); planes are tw+1 wide, each row of tiles carrying one tile
// more than the image has.

// winograd4MinSide is the least plane side F(4x4, 3x3) runs at: below,
// rows of 4 tiles or fewer leave its GEMMs too few columns, and
// F(2x2, 3x3) measured faster (BenchmarkWinograd).
const winograd4MinSide = 28

// winograd4Fits reports whether a convolution Winograd runs is one for
// F(4x4, 3x3): planes large enough, and its transforms in vector
// registers (in scalar code they cost more than F(2x2, 3x3)'s), unless
// F(2x2, 3x3) is asked for.
func winograd4Fits(p ConvParams) bool {
	return winogradMode() != winogradF2Only && winograd4Vectors() && p.H >= winograd4MinSide && p.W >= winograd4MinSide
}

// packWinograd4 transforms and packs OutC×InC×3×3 weights for
// F(4x4, 3x3): U = G·g·Gᵀ, computed in float64 and rounded once.
func packWinograd4(p ConvParams, w []float32) *winogradWeights {
	g := [6][3]float64{
		{1.0 / 4, 0, 0},
		{-1.0 / 6, -1.0 / 6, -1.0 / 6},
		{-1.0 / 6, 1.0 / 6, -1.0 / 6},
		{1.0 / 24, 1.0 / 12, 1.0 / 6},
		{1.0 / 24, -1.0 / 12, 1.0 / 6},
		{0, 0, 1},
	}
	var u [36][]float32
	for k := range u {
		u[k] = make([]float32, p.OutC*p.InC)
	}
	for oc := 0; oc < p.OutC; oc++ {
		for ic := 0; ic < p.InC; ic++ {
			at := oc*p.InC + ic
			f := w[at*9 : at*9+9]
			// G·f: 6 rows of 3
			var gf [6][3]float64
			for i := 0; i < 6; i++ {
				for j := 0; j < 3; j++ {
					gf[i][j] = g[i][0]*float64(f[j]) + g[i][1]*float64(f[3+j]) + g[i][2]*float64(f[6+j])
				}
			}
			// (G·f)·Gᵀ: 6x6
			for i := 0; i < 6; i++ {
				for j := 0; j < 6; j++ {
					u[6*i+j][at] = float32(gf[i][0]*g[j][0] + gf[i][1]*g[j][1] + gf[i][2]*g[j][2])
				}
			}
		}
	}
	ww := &winogradWeights{tile: 4, u: make([]*PackedMatrix, 36)}
	for k := range u {
		ww.u[k] = PackMatrix(p.OutC, p.InC, u[k])
	}
	return ww
}

// winograd4OutRowsGo is winograd4OutRows in Go: Aᵀ·m of the row's tiles,
// then each output row from it.
func winograd4OutRowsGo(m []float32, kstride, tiles int, out []float32, w, rows int, scale, shift, floor float32) {
	astride := tiles + 8
	a := getScratch(24 * astride)
	defer putScratch(a)
	winograd4Output(m, kstride, tiles, a, astride)
	for i := 0; i < rows; i++ {
		var src [6][]float32
		for j := range src {
			src[j] = a[(6*i+j)*astride : (6*i+j+1)*astride]
		}
		winograd4RowGo(out[i*w:(i+1)*w], &src, tiles, scale, shift, floor)
	}
}

// winograd4Phases splits one channel (h×w), padded by one on every side,
// into its 16 phases: phase 4a+b holds the padded rows ≡ a and columns ≡
// b (mod 4), th+1 rows of qw values, at phases[(4a+b)·plane:]. row is
// scratch of 4·qw values.
func winograd4Phases(src []float32, h, w, th, qw, plane int, phases, row []float32) {
	padded := row[:4*qw]
	clear(padded)
	for r := 0; r <= th; r++ {
		for a := 0; a < 4; a++ {
			var dst [4][]float32
			for b := range dst {
				at := (4*a+b)*plane + r*qw
				dst[b] = phases[at : at+qw]
			}
			y := 4*r + a - 1 // the image row of padded row 4r+a
			if y < 0 || y >= h {
				for b := range dst {
					clear(dst[b])
				}
				continue
			}
			copy(padded[1:1+w], src[y*w:(y+1)*w])
			deinterleave4(&dst, padded)
		}
	}
	for k := 0; k < 16; k++ {
		phases[k*plane+plane-1] = 0
	}
}

// deinterleave4Go sets d[c][i] to src[4i+c] for i < len(d[0]).
func deinterleave4Go(d *[4][]float32, src []float32) {
	for c := range d {
		dc := d[c]
		for i := range dc {
			dc[i] = src[4*i+c]
		}
	}
}

// winograd4Input writes Bᵀ·d·B of tiles [first, first+tiles) of one
// channel from its phases: position k of tile t goes to
// v[k·kstride+t−first]. r is scratch of 36·tiles values.
func winograd4Input(phases []float32, plane, qw, first, tiles int, r, v []float32, kstride int) {
	done := winograd4InputVec(phases, plane, qw, first, tiles, v, kstride)
	if done == tiles {
		return
	}
	first, tiles, v = first+done, tiles-done, v[done:]
	// Bᵀ·d, column j of every tile at once: r[i·6+j] from d_0j … d_5j
	for j := 0; j < 6; j++ {
		var src, dst [6][]float32
		for i := range src {
			at := (4*(i%4)+j%4)*plane + first + (i/4)*qw + j/4
			src[i] = phases[at : at+tiles]
			dst[i] = r[(6*i+j)*tiles : (6*i+j+1)*tiles]
		}
		winograd4BtGo(&dst, &src, tiles)
	}
	// (Bᵀ·d)·B, row i of every tile at once
	for i := 0; i < 6; i++ {
		var src, dst [6][]float32
		for j := range src {
			src[j] = r[(6*i+j)*tiles : (6*i+j+1)*tiles]
			dst[j] = v[(6*i+j)*kstride : (6*i+j)*kstride+tiles]
		}
		winograd4BtGo(&dst, &src, tiles)
	}
}

// winograd4Output writes Aᵀ·m of tiles [0, tiles) of one output channel,
// position k of tile t being m[k·kstride+t]: row i, column j of it to
// a[(6i+j)·astride+t].
func winograd4Output(m []float32, kstride, tiles int, a []float32, astride int) {
	for j := 0; j < 6; j++ {
		var src [6][]float32
		var dst [4][]float32
		for k := range src {
			src[k] = m[(6*k+j)*kstride : (6*k+j)*kstride+tiles]
		}
		for i := range dst {
			dst[i] = a[(6*i+j)*astride : (6*i+j)*astride+tiles]
		}
		winograd4AtGo(&dst, &src, tiles)
	}
}

// winograd4BtGo sets dst[i][t] to Σ_k Bᵀ[i][k]·src[k][t] for t < n, in
// the order the vector code adds.
func winograd4BtGo(dst, src *[6][]float32, n int) {
	d0, d1, d2, d3, d4, d5 := src[0][:n], src[1][:n], src[2][:n], src[3][:n], src[4][:n], src[5][:n]
	r0, r1, r2, r3, r4, r5 := dst[0][:n], dst[1][:n], dst[2][:n], dst[3][:n], dst[4][:n], dst[5][:n]
	for t := 0; t < n; t++ {
		a, b, c, d, e, f := d0[t], d1[t], d2[t], d3[t], d4[t], d5[t]
		s12, m12 := b+c, b-c
		s34, m43 := d+e, e-d
		m42, m31 := e-c, d-b
		r0[t] = (a*4 + e) - c*5
		r1[t] = s34 - s12*4
		r2[t] = m43 + m12*4
		r3[t] = m42 + m31*2
		r4[t] = m42 - m31*2
		r5[t] = (b*4 + f) - d*5
	}
}

// winograd4AtGo sets dst[i][t] to Σ_k Aᵀ[i][k]·src[k][t] for t < n, in
// the order the vector code adds.
func winograd4AtGo(dst *[4][]float32, src *[6][]float32, n int) {
	m0, m1, m2, m3, m4, m5 := src[0][:n], src[1][:n], src[2][:n], src[3][:n], src[4][:n], src[5][:n]
	o0, o1, o2, o3 := dst[0][:n], dst[1][:n], dst[2][:n], dst[3][:n]
	for t := 0; t < n; t++ {
		s12, d12 := m1[t]+m2[t], m1[t]-m2[t]
		s34, d34 := m3[t]+m4[t], m3[t]-m4[t]
		o0[t] = (m0[t] + s12) + s34
		o1[t] = d12 + d34*2
		o2[t] = s12 + s34*4
		o3[t] = (d12 + m5[t]) + d34*8
	}
}

// winograd4RowGo writes (Aᵀ·m)·A of one row of tiles through max(y·scale
// + shift, floor) (NaN kept): tile t's four values go to row[4t …
// 4t+3], cut at the row's length; src[j] holds column j of the row's
// Aᵀ·m, tile by tile.
func winograd4RowGo(row []float32, src *[6][]float32, tiles int, scale, shift, floor float32) {
	for t := 0; t < tiles && 4*t < len(row); t++ {
		s12, d12 := src[1][t]+src[2][t], src[1][t]-src[2][t]
		s34, d34 := src[3][t]+src[4][t], src[3][t]-src[4][t]
		o := [4]float32{(src[0][t] + s12) + s34, d12 + d34*2, s12 + s34*4, (d12 + src[5][t]) + d34*8}
		for c, y := range o {
			if x := 4*t + c; x < len(row) {
				row[x] = epilogueValue(y, scale, shift, floor)
			}
		}
	}
}
