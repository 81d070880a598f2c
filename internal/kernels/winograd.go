package kernels

import (
	"fmt"
	"os"
)

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
// Whether it runs is measured, not assumed (BenchmarkWinograd times each
// layer both ways): with the transforms done eight tiles at a time in
// vector registers it is faster with every kernel on the layers
// winogradPays admits, and F(4x4, 3x3) (winograd4.go) faster still on
// planes of winograd4MinSide and more. WinogradEnv says which runs:
// "0" neither, "2" F(2x2, 3x3) alone, anything else (or unset) both,
// each where it pays.
const WinogradEnv = "GNCONV_WINOGRAD"

type winogradSetting int

const (
	winogradOff winogradSetting = iota
	winogradF2Only
	winogradBoth
)

// winogradMode is WinogradEnv's setting.
func winogradMode() winogradSetting {
	switch os.Getenv(WinogradEnv) {
	case "0":
		return winogradOff
	case "2":
		return winogradF2Only
	}
	return winogradBoth
}

// winogradOn reports whether eligible convolutions packed now use
// Winograd: unless WinogradEnv turns it off.
func winogradOn() bool { return winogradMode() != winogradOff }

// WinogradEnabled reports whether 3x3 convolutions packed now run as
// Winograd (WinogradName says which).
func WinogradEnabled() bool { return winogradOn() }

// WinogradName says which Winograd transforms 3x3 convolutions packed
// now run, "" for none.
func WinogradName() string {
	switch winogradMode() {
	case winogradOff:
		return ""
	case winogradF2Only:
		return "Winograd F(2x2, 3x3)"
	}
	return fmt.Sprintf("Winograd F(4x4, 3x3) on planes of %d and more, F(2x2, 3x3) below", winograd4MinSide)
}

// winogradWeights are a convolution's transformed weights, one packed
// OutC×InC matrix per position of an input tile: 16 for F(2x2, 3x3), 36
// for F(4x4, 3x3).
type winogradWeights struct {
	tile int // the output tile's side, 2 or 4
	u    []*PackedMatrix
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

// packConvWinograd packs a 3x3 convolution's weights for Winograd:
// F(4x4, 3x3) where it fits, else F(2x2, 3x3).
func packConvWinograd(p ConvParams, w []float32) *PackedMatrix {
	ww := (*winogradWeights)(nil)
	if winograd4Fits(p) {
		ww = packWinograd4(p, w)
	} else {
		ww = packWinograd(p, w)
	}
	return &PackedMatrix{M: p.OutC, K: p.InC * p.KH * p.KW, wino: ww, raw: w}
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
	ww := &winogradWeights{tile: 2, u: make([]*PackedMatrix, 16)}
	for k := range u {
		ww.u[k] = PackMatrix(p.OutC, p.InC, u[k])
	}
	return ww
}

// The transforms run on rows of tiles: the padded input is split into
// its four phases (even and odd rows and columns), so that value (i, j)
// of consecutive tiles is a contiguous run of a phase plane, offset by
// (i/2, j/2); the planes are tw+1 wide, so each row of tiles carries one
// tile more than the image has (its values are computed and never
// stored), and a tile's neighbour to the right is the next value. Both
// transforms take eight tiles at a time in vector registers where the
// CPU has them (winograd_amd64.s), each value read once and each result
// written once; the output transform applies the epilogue and writes the
// two output rows of a row of tiles interleaved, in place.

// winogradBlockTiles is about how many tiles one pass of the transforms
// and GEMMs takes: whole rows of tiles, few enough that a pass's
// transformed input and products stay near the caches.
const winogradBlockTiles = 192

// winogradForm is one of the two algorithms as winogradConv runs them,
// for output tiles of side tile (input tiles of tile+2, and tile² phases).
type winogradForm struct {
	tile int
	// phases splits a channel (h×w), padded by one on every side, into
	// its phases, th+1 rows of qw values each, plane values apart; row
	// is scratch of tile·qw values
	phases func(src []float32, h, w, th, qw, plane int, phases, row []float32)
	// input writes the transformed input of tiles [first, first+tiles)
	// of one channel: position k of tile t to v[k·kstride+t−first]; r is
	// scratch of inputScratch·tiles values
	input        func(phases []float32, plane, qw, first, tiles int, r, v []float32, kstride int)
	inputScratch int
	// outRows writes the output of one row of tiles of one channel,
	// position k of tile t at m[k·kstride+t] (m holding whole blocks of
	// eight tiles past the row's last): its first rows rows of w values
	// from out on, through max(y·scale + shift, floor), NaN kept
	outRows func(m []float32, kstride, tiles int, out []float32, w, rows int, scale, shift, floor float32)
}

var (
	winogradF2 = winogradForm{tile: 2, phases: winogradPhases,
		input: func(phases []float32, plane, qw, first, tiles int, _, v []float32, kstride int) {
			winogradInput(phases, plane, qw, first, tiles, v, kstride)
		},
		outRows: func(m []float32, kstride, tiles int, out []float32, w, rows int, scale, shift, floor float32) {
			var odd []float32 // none below the image's last row
			if rows > 1 {
				odd = out[w : 2*w]
			}
			winogradOutputRow(m, kstride, tiles, out[:w], odd, scale, shift, floor)
		}}
	winogradF4 = winogradForm{tile: 4, phases: winograd4Phases, input: winograd4Input, inputScratch: 36, outRows: winograd4OutRows}
)

// winogradConv convolves one image into out (OutC planes of H×W, ep
// applied), on the calling goroutine when serial.
func winogradConv(img []float32, p ConvParams, ww *winogradWeights, ep Epilogue, out []float32, serial bool) {
	f := winogradF2
	if ww.tile == 4 {
		f = winogradF4
	}
	n := f.tile
	pos, nph := len(ww.u), n*n // positions of a tile, phases of a channel
	th, tw := (p.H+n-1)/n, (p.W+n-1)/n
	qw := tw + 1           // a phase plane's width
	plane := (th+1)*qw + 1 // a phase plane, one spare value for the last offset
	rows := max(1, winogradBlockTiles/qw)
	most := min(rows, th) * qw
	phases := getScratch(nph * plane * p.InC)
	v := getScratch(pos * p.InC * most)
	// the output transform reads whole blocks of 8 tiles, past a
	// plane's last tile into the next (or the spare values)
	m := getScratch(pos*p.OutC*most + 8)
	defer func() {
		putScratch(phases)
		putScratch(v)
		putScratch(m)
	}()
	// run shares count items out over the cores, or not when serial
	run := func(count int, body func(lo, hi int)) {
		if serial {
			body(0, count)
			return
		}
		Parallel(count, 1, body)
	}
	run(p.InC, func(lo, hi int) {
		row := getScratch(n * qw)
		defer putScratch(row)
		for ic := lo; ic < hi; ic++ {
			f.phases(img[ic*p.H*p.W:(ic+1)*p.H*p.W], p.H, p.W, th, qw, plane, phases[ic*nph*plane:(ic+1)*nph*plane], row)
		}
	})
	for ty0 := 0; ty0 < th; ty0 += rows {
		ty1 := min(th, ty0+rows)
		tiles := (ty1 - ty0) * qw // this pass's GEMM columns, each row's extra tile included
		// V_k[ic][t]
		run(p.InC, func(lo, hi int) {
			var r []float32
			if f.inputScratch > 0 {
				r = getScratch(f.inputScratch * tiles)
				defer putScratch(r)
			}
			for ic := lo; ic < hi; ic++ {
				f.input(phases[ic*nph*plane:(ic+1)*nph*plane], plane, qw, ty0*qw, tiles, r, v[ic*tiles:], p.InC*tiles)
			}
		})
		// the GEMMs, one a position, shared out whole over the cores
		run(pos, func(lo, hi int) {
			for k := lo; k < hi; k++ {
				src := denseB{v[k*p.InC*tiles : (k+1)*p.InC*tiles], tiles}
				matMulSerial(ww.u[k], src, tiles, m[k*p.OutC*tiles:(k+1)*p.OutC*tiles], Epilogue{})
			}
		})
		// Y = Aᵀ·m·A, with the epilogue, into the output planes
		run(p.OutC, func(lo, hi int) {
			for oc := lo; oc < hi; oc++ {
				scale, shift, floor := ep.channel(oc)
				o := out[oc*p.H*p.W : (oc+1)*p.H*p.W]
				for ty := ty0; ty < ty1; ty++ {
					rows := min(n, p.H-n*ty)
					f.outRows(m[oc*tiles+(ty-ty0)*qw:], p.OutC*tiles, tw, o[n*ty*p.W:(n*ty+rows)*p.W], p.W, rows, scale, shift, floor)
				}
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
// v[k·kstride+t−first].
func winogradInput(phases []float32, plane, qw, first, tiles int, v []float32, kstride int) {
	for t := winogradInputVec(phases, plane, qw, first, tiles, v, kstride); t < tiles; t++ {
		// d_ij is value (i/2, j/2) from the tile's corner in phase
		// 2(i%2)+j%2
		var d, r [4][4]float32
		for i := 0; i < 4; i++ {
			for j := 0; j < 4; j++ {
				d[i][j] = phases[(2*(i%2)+j%2)*plane+first+t+(i/2)*qw+j/2]
			}
		}
		// Bᵀ·d: rows d0−d2, d1+d2, d2−d1, d1−d3, column by column
		for j := 0; j < 4; j++ {
			r[0][j] = d[0][j] - d[2][j]
			r[1][j] = d[1][j] + d[2][j]
			r[2][j] = d[2][j] - d[1][j]
			r[3][j] = d[1][j] - d[3][j]
		}
		// (Bᵀ·d)·B: the same of its columns, row by row
		for i := 0; i < 4; i++ {
			v[4*i*kstride+t] = r[i][0] - r[i][2]
			v[(4*i+1)*kstride+t] = r[i][1] + r[i][2]
			v[(4*i+2)*kstride+t] = r[i][2] - r[i][1]
			v[(4*i+3)*kstride+t] = r[i][1] - r[i][3]
		}
	}
}

// winogradOutputRow writes Aᵀ·m·A of a row of tiles of one output
// channel, position k of tile t being m[k·kstride+t], through max(y·scale
// + shift, floor) (NaN kept): tile t's two rows go to even and odd (nil
// below the image's last row) at columns 2t and 2t+1, cut at their
// length.
func winogradOutputRow(m []float32, kstride, tiles int, even, odd []float32, scale, shift, floor float32) {
	t := 0
	if odd != nil {
		t = winogradOutputVec(m, kstride, tiles, even, odd, scale, shift, floor)
	}
	for ; t < tiles; t++ {
		// Aᵀ·m: rows m0+m1+m2 and m1−m2−m3, column by column
		var a [2][4]float32
		for j := 0; j < 4; j++ {
			m1, m2 := m[(4+j)*kstride+t], m[(8+j)*kstride+t]
			a[0][j] = m[j*kstride+t] + (m1 + m2)
			a[1][j] = (m1 - m2) - m[(12+j)*kstride+t]
		}
		// (Aᵀ·m)·A: the same of its columns
		for i, row := range [2][]float32{even, odd} {
			if x := 2 * t; x < len(row) {
				row[x] = epilogueValue(a[i][0]+(a[i][1]+a[i][2]), scale, shift, floor)
				if x+1 < len(row) {
					row[x+1] = epilogueValue((a[i][1]-a[i][2])-a[i][3], scale, shift, floor)
				}
			}
		}
	}
}
