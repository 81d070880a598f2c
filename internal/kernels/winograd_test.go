package kernels

import (
	"fmt"
	"math"
	"math/rand"
	"slices"
	"testing"
)

// googLeNet3x3 are the 3x3 stride-1 convolutions of GoogLeNet at 224x224
// (conv2, each unit's branch2 and torchvision's branch3), and sizes with
// odd sides and single partial tiles.
var googLeNet3x3 = [][4]int{ // in, out, h, w
	{64, 192, 56, 56},
	{96, 128, 28, 28}, {128, 192, 28, 28}, {16, 32, 28, 28}, {32, 96, 28, 28},
	{96, 208, 14, 14}, {112, 224, 14, 14}, {128, 256, 14, 14}, {144, 288, 14, 14}, {160, 320, 14, 14},
	{16, 48, 14, 14}, {24, 64, 14, 14}, {32, 128, 14, 14},
	{160, 320, 7, 7}, {192, 384, 7, 7}, {32, 128, 7, 7}, {48, 128, 7, 7},
	{8, 8, 5, 7}, {9, 11, 13, 4}, {20, 8, 4, 5},
}

// convError is the largest |got − exact| over the output, in units of
// the sum of |x·w| the value came from (the scale of float32's rounding
// of that sum).
func convError(x []float32, n int, p ConvParams, w, got []float32) float64 {
	oh, ow := p.OutSize()
	worst := 0.0
	// every 5th output channel of the wide layers: the test's time, not
	// its reach (each channel is a different sum of the same inputs)
	step := 1
	if p.OutC >= 64 {
		step = 5
	}
	for b := 0; b < n; b++ {
		for o := 0; o < p.OutC; o += step {
			for y := 0; y < oh; y++ {
				for xx := 0; xx < ow; xx++ {
					var acc, mag float64
					for c := 0; c < p.InC; c++ {
						for ky := 0; ky < 3; ky++ {
							for kx := 0; kx < 3; kx++ {
								iy, ix := y-1+ky, xx-1+kx
								if iy < 0 || iy >= p.H || ix < 0 || ix >= p.W {
									continue
								}
								v := float64(x[((b*p.InC+c)*p.H+iy)*p.W+ix]) * float64(w[((o*p.InC+c)*3+ky)*3+kx])
								acc += v
								mag += math.Abs(v)
							}
						}
					}
					g := float64(got[((b*p.OutC+o)*oh+y)*ow+xx])
					if math.IsNaN(g) || math.IsInf(g, 0) {
						return math.Inf(1)
					}
					if mag > 0 {
						worst = max(worst, math.Abs(g-acc)/mag)
					}
				}
			}
		}
	}
	return worst
}

// winogradBound is the largest error Winograd may make, in units of the
// sum of |x·w|: 4 times the worst measured over googLeNet3x3 (1.72e-7,
// about 1.4 float32 epsilons; the direct convolution's worst there is
// 2.84e-7: Winograd's sums are shorter, its transforms add little).
const winogradBound = 6.9e-7

// winograd4Bound is winogradBound for F(4x4, 3x3): 4 times the worst
// measured over googLeNet3x3's planes of 28 and more (3.27e-6, at 16→32
// channels; 2.5e-6 at the shapes it runs in GoogLeNet): its transforms'
// larger constants (4, 5 and 8, and G's sixths) round more.
const winograd4Bound = 1.3e-5

// winogradBoundOf is the error bound of Winograd with output tiles of
// side tile (2 or 4).
func winogradBoundOf(tile int) float64 {
	if tile == 4 {
		return winograd4Bound
	}
	return winogradBound
}

// winogradPacked packs w for Winograd with output tiles of side tile (2
// or 4), whichever Conv2D would choose.
func winogradPacked(p ConvParams, w []float32, tile int) *PackedMatrix {
	ww := packWinograd(p, w)
	if tile == 4 {
		ww = packWinograd4(p, w)
	}
	return &PackedMatrix{M: p.OutC, K: p.InC * p.KH * p.KW, wino: ww, raw: w}
}

// TestWinogradAgainstDirect: at every 3x3 convolution of GoogLeNet, and
// odd sizes, F(2x2, 3x3)'s and F(4x4, 3x3)'s outputs are the exact
// convolution's within their bounds, batched and single, with an
// epilogue; the direct convolution's error is reported beside them.
func TestWinogradAgainstDirect(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	worst := map[int]float64{}
	worstD := 0.0
	for _, s := range googLeNet3x3 {
		p := ConvParams{InC: s[0], OutC: s[1], H: s[2], W: s[3], KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1}
		n := 1 + r.Intn(2)
		x := randSlice(r, n*p.InC*p.H*p.W)
		w := randSlice(r, p.OutC*p.InC*9)
		got := make([]float32, n*p.OutC*p.H*p.W)
		for _, tile := range []int{2, 4} {
			Conv2D(x, n, p, winogradPacked(p, w, tile), Epilogue{}, got)
			e := convError(x, n, p, w, got)
			worst[tile] = max(worst[tile], e)
			bound := winogradBoundOf(tile)
			if !(e <= bound) {
				t.Errorf("%v batch %d: F(%dx%[3]d, 3x3)'s error %.3g of Σ|x·w|, over %.3g", s, n, tile, e, bound)
			}
		}
		Conv2D(x, n, p, PackConvWeightsDirect(p, w), Epilogue{}, got)
		worstD = max(worstD, convError(x, n, p, w, got))
	}
	t.Logf("worst error in units of Σ|x·w|: F(2x2, 3x3) %.3g, F(4x4, 3x3) %.3g, direct %.3g", worst[2], worst[4], worstD)
	// the epilogue is applied to Winograd's output too
	p := ConvParams{InC: 12, OutC: 10, H: 9, W: 6, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1}
	x, w := randSlice(r, 2*p.InC*p.H*p.W), randSlice(r, p.OutC*p.InC*9)
	ep := Epilogue{Scale: randSlice(r, p.OutC), Shift: randSlice(r, p.OutC), ReLU: true}
	got := make([]float32, 2*p.OutC*p.H*p.W)
	for _, tile := range []int{2, 4} {
		Conv2D(x, 2, p, winogradPacked(p, w, tile), ep, got)
		closeTo(t, fmt.Sprintf("F(%dx%[1]d, 3x3) with an epilogue", tile), got, naiveConv(x, 2, p, w, ep), 1e-4)
	}
}

// TestWinogradTinyPlanes: planes of one tile or less, and odd sides, run
// through both Winograds (as a dynamic-size file's small inputs do) right, with
// each kernel; and more input channels than a block of the GEMM's rows
// (kc), whose sums then span several blocks.
func TestWinogradTinyPlanes(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(4))
		for _, s := range [][3]int{{1, 1, 9}, {1, 5, 9}, {2, 3, 9}, {3, 3, 9}, {5, 2, 9}, {6, 9, kc + 44}, {17, 40, 2*kc + 3}} {
			p := ConvParams{InC: s[2], OutC: 7, H: s[0], W: s[1], KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1}
			w := randSlice(r, p.OutC*p.InC*9)
			x := randSlice(r, 2*p.InC*p.H*p.W)
			got := make([]float32, 2*p.OutC*p.H*p.W)
			for _, tile := range []int{2, 4} {
				Conv2D(x, 2, p, winogradPacked(p, w, tile), Epilogue{}, got)
				bound := winogradBoundOf(tile)
				if e := convError(x, 2, p, w, got); !(e <= bound) {
					t.Errorf("F(%dx%[1]d, 3x3) on %dx%d, %d channels: error %.3g of Σ|x·w|, over %.3g", tile, p.H, p.W, p.InC, e, bound)
				}
			}
		}
	})
}

// BenchmarkWinograd times each 3x3 convolution of GoogLeNet as
// F(2x2, 3x3), F(4x4, 3x3) and direct, one image (split over the cores)
// and two (one a core): the measurements winogradPays, winograd4MinSide
// and winogradOn rest on.
func BenchmarkWinograd(b *testing.B) {
	r := rand.New(rand.NewSource(1))
	for _, s := range googLeNet3x3[:17] {
		p := ConvParams{InC: s[0], OutC: s[1], H: s[2], W: s[3], KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1}
		w := randSlice(r, p.OutC*p.InC*9)
		for _, n := range []int{1, 2} {
			x := randSlice(r, n*p.InC*p.H*p.W)
			out := make([]float32, n*p.OutC*p.H*p.W)
			for _, way := range []struct {
				name string
				w    *PackedMatrix
			}{{"f2x2", winogradPacked(p, w, 2)}, {"f4x4", winogradPacked(p, w, 4)}, {"direct", PackConvWeightsDirect(p, w)}} {
				b.Run(fmt.Sprintf("%dx%dx%dx%d/batch%d/%s", s[0], s[1], s[2], s[3], n, way.name), func(b *testing.B) {
					for i := 0; i < b.N; i++ {
						Conv2D(x, n, p, way.w, Epilogue{}, out)
					}
				})
			}
		}
	}
}

// TestWinogradTransformsEveryKernel: the input and output transforms of
// each kernel's instruction set give the plain-Go twin's values (the
// input transform's bit for bit; the output's epilogue, one rounding in
// the vector code and two in Go, within float32's rounding), at tile
// counts around the vector width, rows cut at odd widths and below the
// image, NaN and Inf carried through.
func TestWinogradTransformsEveryKernel(t *testing.T) {
	run := func() []transformCase {
		r := rand.New(rand.NewSource(13))
		var res []transformCase
		for _, qw := range []int{2, 5, 8, 9, 15, 17, 29} {
			for _, tiles := range []int{1, 7, 8, 9, 16, 23, 3 * qw} {
				th := (tiles+qw-1)/qw + 1
				plane := (th+1)*qw + 1
				phases := randSlice(r, 4*plane)
				phases[r.Intn(len(phases))] = float32(math.NaN())
				phases[r.Intn(len(phases))] = float32(math.Inf(1))
				kstride := tiles + r.Intn(3)
				v := make([]float32, 16*kstride)
				first := r.Intn(plane - tiles - qw - 1 + 1)
				winogradInput(phases, plane, qw, first, tiles, v, kstride)

				// with spare values after the last tile or none (the
				// vector code then leaves a partial block of 8 to Go)
				m := randSlice(r, 16*kstride+8*r.Intn(2))
				m[r.Intn(len(m))] = float32(math.NaN())
				var out []float32
				for _, w := range []int{2 * tiles, 2*tiles - 1} {
					for _, relu := range []bool{false, true} {
						floor := float32(math.Inf(-1))
						if relu {
							floor = 0
						}
						even, odd := make([]float32, w), make([]float32, w)
						scale, shift := float32(r.NormFloat64()), float32(r.NormFloat64())
						winogradOutputRow(m, kstride, tiles, even, odd, scale, shift, floor)
						out = append(append(out, even...), odd...)
						last := make([]float32, w) // the image's last row: no odd row
						winogradOutputRow(m, kstride, tiles, last, nil, scale, shift, floor)
						out = append(out, last...)
					}
				}
				res = append(res, transformCase{v, out})
			}
		}
		return res
	}
	sameAsGoTwin(t, run)
}

// TestWinograd4TransformsEveryKernel: F(4x4, 3x3)'s transforms under each
// kernel give the plain-Go twin's values (the input's bit for bit, the
// output's within the epilogue's one rounding against two), at tile
// counts around the vector width, rows cut at every width a row of tiles
// can have, one to four rows, NaN and Inf carried through.
func TestWinograd4TransformsEveryKernel(t *testing.T) {
	run := func() []transformCase {
		r := rand.New(rand.NewSource(14))
		var res []transformCase
		for _, qw := range []int{2, 5, 8, 9, 15, 17} {
			for _, tiles := range []int{1, 7, 8, 9, 16, 23, 3 * qw} {
				th := (tiles+qw-1)/qw + 1
				plane := (th+1)*qw + 1
				phases := randSlice(r, 16*plane)
				phases[r.Intn(len(phases))] = float32(math.NaN())
				phases[r.Intn(len(phases))] = float32(math.Inf(1))
				kstride := tiles + r.Intn(3)
				v := make([]float32, 36*kstride)
				first := r.Intn(plane - tiles - qw - 1 + 1)
				winograd4Input(phases, plane, qw, first, tiles, make([]float32, 36*tiles), v, kstride)

				var rows []float32
				for _, w := range []int{4*tiles - 3, 4*tiles - 2, 4*tiles - 1, 4 * tiles} {
					for h := 1; h <= 4; h++ {
						floor := float32(math.Inf(-1))
						if h%2 == 0 {
							floor = 0
						}
						out := make([]float32, h*w)
						m := randSlice(r, 36*kstride+8)
						m[r.Intn(36*kstride)] = float32(math.NaN())
						m[r.Intn(36*kstride)] = float32(math.Inf(-1))
						winograd4OutRows(m, kstride, tiles, out, w, h, float32(r.NormFloat64()), float32(r.NormFloat64()), floor)
						rows = append(rows, out...)
					}
				}
				res = append(res, transformCase{v, rows})
			}
		}
		return res
	}
	sameAsGoTwin(t, run)
}

// transformCase is what a transform test's case computed: values that
// must match the Go twin's bit for bit, and values through the
// epilogue, one rounding in the vector code and two in Go.
type transformCase struct{ exact, rounded []float32 }

// sameAsGoTwin runs run under each kernel, the plain-Go twin first, and
// fails where another kernel's values differ from the twin's.
func sameAsGoTwin(t *testing.T, run func() []transformCase) {
	t.Helper()
	saved := kernel
	defer useKernel(saved)
	var want []transformCase
	for _, k := range slices.Backward(availableKernels()) {
		useKernel(k)
		got := run()
		if want == nil {
			want = got
			continue
		}
		for i := range got {
			for j, g := range got[i].exact {
				if w := want[i].exact[j]; g != w && !(g != g && w != w) {
					t.Fatalf("%s: case %d, value %d: %g, the Go twin %g", k.name, i, j, g, w)
				}
			}
			for j, g := range got[i].rounded {
				w := want[i].rounded[j]
				if (g != g) != (w != w) || math.IsInf(float64(g), 0) != math.IsInf(float64(w), 0) ||
					math.Abs(float64(g-w)) > 1.2e-7*math.Abs(float64(w))+1e-37 {
					t.Fatalf("%s: case %d, value %d through the epilogue: %g, the Go twin %g", k.name, i, j, g, w)
				}
			}
		}
	}
}

// TestDeinterleave4: every kernel's 4-way split is the plain loop's, at
// lengths around the vector width.
func TestDeinterleave4(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(15))
		for n := 0; n <= 41; n++ {
			src := randSlice(r, 4*n+3)
			var d [4][]float32
			for c := range d {
				d[c] = make([]float32, n)
			}
			deinterleave4(&d, src)
			for c := range d {
				for i, v := range d[c] {
					if v != src[4*i+c] {
						t.Fatalf("length %d: d[%d][%d] = %g, want %g", n, c, i, v, src[4*i+c])
					}
				}
			}
		}
	})
}
