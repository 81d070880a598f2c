package kernels

import "os"

// Winograd's F(2x2, 3x3) for the 3x3 stride-1 "same" convolutions that
// carry two thirds of GoogLeNet's multiply-adds (conv2, every branch2 and
// torchvision's branch3). Each 2x2 block of output (a tile) comes from a
// 4x4 block of input: the input tile d becomes V = Bᵀ·d·B, the weights g
// of each output and input channel pair U = G·g·Gᵀ (once, when packed),
// and for each of the 16 positions k of a tile the products of all
// channels are one GEMM, M_k = U_k · V_k (OutC × InC times InC × tiles);
// the output tile is Aᵀ·m·A. 16 products per tile where the direct
// convolution takes 36: 2.25 times fewer multiply-adds, on the same
// micro-kernels. The transforms' constants are 0, ±1 and ½, so the
// rounding they add is a few additions' worth (measured against the
// direct convolution in the tests and the fixtures' recorded outputs).
//
// Whether it runs is measured, not assumed: with the AVX2, NEON and Go
// kernels it is faster, with the AVX-512 one (whose 8x32 tiles the
// Winograd GEMMs' few columns fill poorly) it is not, so it is on for the
// others and off for AVX-512 (BenchmarkWinograd measures each layer).
// WinogradEnv forces it: "1" on, "0" off.
const WinogradEnv = "GNCONV_WINOGRAD"

// winogradOn reports whether eligible convolutions packed now use
// Winograd: WinogradEnv's choice, else by the kernel in use.
func winogradOn() bool {
	switch os.Getenv(WinogradEnv) {
	case "0":
		return false
	case "1":
		return true
	}
	return kernel.isa != "avx512"
}

// WinogradEnabled reports whether 3x3 convolutions run as Winograd's
// F(2x2, 3x3).
func WinogradEnabled() bool { return winogradOn() }

// winogradWeights are a convolution's transformed weights, one packed
// OutC×InC matrix per position of a 4x4 tile.
type winogradWeights struct {
	u [16]*PackedMatrix
}

// winogradFits reports whether Winograd can run p: 3x3, stride 1,
// padding 1 on every side.
func winogradFits(p ConvParams) bool {
	return p.KH == 3 && p.KW == 3 && p.StrideH == 1 && p.StrideW == 1 &&
		p.PadT == 1 && p.PadB == 1 && p.PadL == 1 && p.PadR == 1
}

// winogradPays reports whether Winograd runs p faster than the direct
// convolution: channels enough that the transforms cost little beside
// the GEMMs, and planes large enough that the GEMMs have columns to fill
// their tiles (BenchmarkWinograd, layer by layer: at 7x7, or with 32
// input channels or fewer, the direct convolution is as fast or faster).
func winogradPays(p ConvParams) bool {
	return p.InC >= winogradMinChannels && p.OutC >= winogradMinChannels && p.H >= winogradMinSide && p.W >= winogradMinSide
}

// The least channels and plane side Winograd runs.
const (
	winogradMinChannels = 64
	winogradMinSide     = 14
)

// packConvWinograd packs a 3x3 convolution's weights for Winograd.
func packConvWinograd(p ConvParams, w []float32) *PackedMatrix {
	return &PackedMatrix{M: p.OutC, K: p.InC * p.KH * p.KW, wino: packWinograd(p, w), raw: w}
}

// packWinograd transforms and packs OutC×InC×3×3 weights.
func packWinograd(p ConvParams, w []float32) *winogradWeights {
	var u [16][]float32
	for k := range u {
		u[k] = make([]float32, p.OutC*p.InC)
	}
	for oc := 0; oc < p.OutC; oc++ {
		for ic := 0; ic < p.InC; ic++ {
			g := w[(oc*p.InC+ic)*9 : (oc*p.InC+ic)*9+9]
			// G·g: 4 rows of 3
			var gg [4][3]float32
			for j := 0; j < 3; j++ {
				a, b, c := g[j], g[3+j], g[6+j]
				gg[0][j] = a
				gg[1][j] = (a + b + c) * 0.5
				gg[2][j] = (a - b + c) * 0.5
				gg[3][j] = c
			}
			// (G·g)·Gᵀ: 4x4
			for i := 0; i < 4; i++ {
				a, b, c := gg[i][0], gg[i][1], gg[i][2]
				at := oc*p.InC + ic
				u[4*i][at] = a
				u[4*i+1][at] = (a + b + c) * 0.5
				u[4*i+2][at] = (a - b + c) * 0.5
				u[4*i+3][at] = c
			}
		}
	}
	ww := &winogradWeights{}
	for k := range u {
		ww.u[k] = PackMatrix(p.OutC, p.InC, u[k])
	}
	return ww
}

// The transforms run on whole planes of tiles at once, as vector sums:
// the padded input is split into its four phases (even and odd rows
// and columns), so that value (i, j) of every tile is one contiguous
// slice of a phase plane, offset by (i/2, j/2); the planes are tw+1 wide,
// so each row of tiles carries one tile more than the image has (its
// values are computed and never stored), and a tile's neighbour to the
// right is the next value. The output transform makes the output's four
// phases the same way, interleaved into the plane at the end.

// winogradBlockTiles is about how many tiles one pass of the transforms
// and GEMMs takes: whole rows of tiles, few enough that a pass's
// transformed input and products stay near the caches.
const winogradBlockTiles = 192

// winogradScratch recycles the transforms' buffers (a Buffers, not a
// sync.Pool, which every garbage collection empties: the interpreter
// allocates enough to collect often, and megabytes of buffers made
// anew each time cost more than Winograd saves).
var winogradScratch Buffers

// getScratch is a buffer of n values with undefined contents;
// putScratch hands it back.
func getScratch(n int) []float32 { return winogradScratch.Get(n) }

func putScratch(b []float32) { winogradScratch.Put(b) }

// winogradConv convolves one image into out (OutC planes of H×W, ep
// applied), on the calling goroutine when serial.
func winogradConv(img []float32, p ConvParams, ww *winogradWeights, ep Epilogue, out []float32, serial bool) {
	th, tw := (p.H+1)/2, (p.W+1)/2
	qw := tw + 1           // a phase plane's width
	plane := (th+1)*qw + 1 // a phase plane, one spare value for the last offset
	rows := max(1, winogradBlockTiles/qw)
	most := min(rows, th) * qw
	phases := getScratch(4 * plane * p.InC)
	v := getScratch(16 * p.InC * most)
	m := getScratch(16 * p.OutC * most)
	defer func() {
		putScratch(phases)
		putScratch(v)
		putScratch(m)
	}()
	run := func(n int, f func(lo, hi int)) {
		if serial {
			f(0, n)
			return
		}
		Parallel(n, 1, f)
	}
	run(p.InC, func(lo, hi int) {
		row := getScratch(2 * qw)
		defer putScratch(row)
		for ic := lo; ic < hi; ic++ {
			winogradPhases(img[ic*p.H*p.W:(ic+1)*p.H*p.W], p.H, p.W, th, qw, plane, phases[ic*4*plane:(ic+1)*4*plane], row)
		}
	})
	for ty0 := 0; ty0 < th; ty0 += rows {
		ty1 := min(th, ty0+rows)
		tiles := (ty1 - ty0) * qw // this pass's GEMM columns, each row's extra tile included
		// V_k[ic][t]
		run(p.InC, func(lo, hi int) {
			tmp := getScratch(16 * tiles)
			defer putScratch(tmp)
			for ic := lo; ic < hi; ic++ {
				winogradInput(phases[ic*4*plane:(ic+1)*4*plane], plane, qw, ty0*qw, tiles, tmp, v[ic*tiles:], p.InC*tiles)
			}
		})
		// the 16 GEMMs, shared out whole over the cores
		run(16, func(lo, hi int) {
			for k := lo; k < hi; k++ {
				src := denseB{v[k*p.InC*tiles : (k+1)*p.InC*tiles], tiles}
				matMulSerial(ww.u[k], src, tiles, m[k*p.OutC*tiles:(k+1)*p.OutC*tiles], Epilogue{})
			}
		})
		// Y = Aᵀ·m·A, with the epilogue, into the output planes
		run(p.OutC, func(lo, hi int) {
			tmp := getScratch(14 * tiles)
			defer putScratch(tmp)
			for oc := lo; oc < hi; oc++ {
				y := winogradOutput(m[oc*tiles:], p.OutC*tiles, tiles, tmp)
				for _, ph := range y {
					ep.applyRow(ph, oc)
				}
				winogradInterleave(y, qw, out[oc*p.H*p.W:(oc+1)*p.H*p.W], p.H, p.W, ty0, ty1)
			}
		})
	}
}

// winogradPhases splits one channel (h×w), padded by one on every side,
// into its four phases: phase 2a+b holds the padded rows of parity a and
// columns of parity b, th+1 rows of qw values, at phases[(2a+b)·plane:].
func winogradPhases(src []float32, h, w, th, qw, plane int, phases, row []float32) {
	clear(row)
	for r := 0; r <= th; r++ {
		for a := 0; a < 2; a++ {
			even := phases[(2*a)*plane+r*qw : (2*a)*plane+(r+1)*qw]
			odd := phases[(2*a+1)*plane+r*qw : (2*a+1)*plane+(r+1)*qw]
			y := 2*r + a - 1 // the image row of padded row 2r+a
			if y < 0 || y >= h {
				clear(even)
				clear(odd)
				continue
			}
			copy(row[1:1+w], src[y*w:(y+1)*w])
			deinterleave(even, odd, row)
		}
	}
	for k := 0; k < 4; k++ {
		phases[k*plane+plane-1] = 0
	}
}

// winogradInput writes Bᵀ·d·B of tiles [first, first+tiles) of one
// channel from its phases: position k of tile t goes to
// v[k·kstride+t−first]. tmp holds 16 planes of tiles values.
func winogradInput(phases []float32, plane, qw, first, tiles int, tmp, v []float32, kstride int) {
	// d_ij, for every tile at once
	d := func(i, j int) []float32 {
		off := (2*(i%2)+j%2)*plane + first + (i/2)*qw + j/2
		return phases[off : off+tiles]
	}
	t := func(i, j int) []float32 { return tmp[(4*i+j)*tiles : (4*i+j+1)*tiles] }
	// Bᵀ·d: rows d0−d2, d1+d2, d2−d1, d1−d3, column by column
	for j := 0; j < 4; j++ {
		vecSub(t(0, j), d(0, j), d(2, j))
		vecAdd(t(1, j), d(1, j), d(2, j))
		vecSub(t(2, j), d(2, j), d(1, j))
		vecSub(t(3, j), d(1, j), d(3, j))
	}
	// (Bᵀ·d)·B: the same of its columns, row by row
	out := func(k int) []float32 { return v[k*kstride : k*kstride+tiles] }
	for i := 0; i < 4; i++ {
		vecSub(out(4*i), t(i, 0), t(i, 2))
		vecAdd(out(4*i+1), t(i, 1), t(i, 2))
		vecSub(out(4*i+2), t(i, 2), t(i, 1))
		vecSub(out(4*i+3), t(i, 1), t(i, 3))
	}
}

// winogradOutput computes Aᵀ·m·A of every tile of one output channel,
// position k of tile t being m[k·kstride+t]: the output's four phases
// (rows of parity a, columns of parity b at [2a+b]), in tmp.
func winogradOutput(m []float32, kstride, tiles int, tmp []float32) [4][]float32 {
	s := func(i, j int) []float32 { return m[(4*i+j)*kstride : (4*i+j)*kstride+tiles] }
	slot := func(n int) []float32 { return tmp[n*tiles : (n+1)*tiles] }
	p, q := slot(12), slot(13)
	// Aᵀ·m: rows m0+m1+m2 and m1−m2−m3, column by column
	var a [2][4][]float32
	for j := 0; j < 4; j++ {
		a[0][j], a[1][j] = slot(j), slot(4+j)
		vecAdd(p, s(1, j), s(2, j))
		vecSub(q, s(1, j), s(2, j))
		vecAdd(a[0][j], s(0, j), p)
		vecSub(a[1][j], q, s(3, j))
	}
	// (Aᵀ·m)·A: the same of its columns
	var y [4][]float32
	for i := 0; i < 2; i++ {
		y[2*i], y[2*i+1] = slot(8+2*i), slot(9+2*i)
		vecAdd(p, a[i][1], a[i][2])
		vecSub(q, a[i][1], a[i][2])
		vecAdd(y[2*i], a[i][0], p)
		vecSub(y[2*i+1], q, a[i][3])
	}
	return y
}

// winogradInterleave writes the output's four phases for tile rows
// [ty0, ty1) (rows of qw tiles, the last of each row unused) into its
// h×w plane.
func winogradInterleave(y [4][]float32, qw int, out []float32, h, w, ty0, ty1 int) {
	for r := 2 * ty0; r < min(h, 2*ty1); r++ {
		a, ty := r%2, r/2-ty0
		even := y[2*a][ty*qw : ty*qw+qw]
		odd := y[2*a+1][ty*qw : ty*qw+qw]
		dst := out[r*w : (r+1)*w]
		x := 0
		for ; x+1 < w; x += 2 {
			dst[x], dst[x+1] = even[x/2], odd[x/2]
		}
		if x < w {
			dst[x] = even[x/2]
		}
	}
}
