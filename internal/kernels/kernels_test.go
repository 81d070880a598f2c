package kernels

import (
	"fmt"
	"math"
	"math/rand"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

func closeTo(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i] - want[i])); d > tol*(1+math.Abs(float64(want[i]))) || math.IsNaN(float64(got[i])) != math.IsNaN(float64(want[i])) {
			t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

func TestMatMulAgainstLoop(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(1))
		for _, s := range [][3]int{{1, 1, 1}, {3, 5, 7}, {4, 4, 4}, {13, 600, 9}, {64, 3136, 27}, {7, 1030, 130}} {
			m, n, k := s[0], s[1], s[2]
			a, b := randSlice(r, m*k), randSlice(r, k*n)
			want := make([]float32, m*n)
			for i := 0; i < m; i++ {
				for j := 0; j < n; j++ {
					var acc float64
					for p := 0; p < k; p++ {
						acc += float64(a[i*k+p]) * float64(b[p*n+j])
					}
					want[i*n+j] = float32(acc)
				}
			}
			got := randSlice(r, m*n) // garbage that must be overwritten
			MatMul(m, n, k, a, b, got, false)
			closeTo(t, "MatMul", got, want, 1e-4)
			MatMul(m, n, k, a, b, got, true)
			for i := range want {
				want[i] *= 2
			}
			closeTo(t, "MatMul accumulate", got, want, 1e-4)

			bt := make([]float32, n*k)
			for p := 0; p < k; p++ {
				for j := 0; j < n; j++ {
					bt[j*k+p] = b[p*n+j]
				}
			}
			MatMulBT(m, n, k, a, bt, got)
			for i := range want {
				want[i] /= 2
			}
			closeTo(t, "MatMulBT", got, want, 1e-4)
		}
	})
}

func naiveConv(x []float32, n int, p ConvParams, w []float32, ep Epilogue) []float32 {
	oh, ow := p.OutSize()
	out := make([]float32, n*p.OutC*oh*ow)
	for b := 0; b < n; b++ {
		for o := 0; o < p.OutC; o++ {
			for y := 0; y < oh; y++ {
				for xx := 0; xx < ow; xx++ {
					var acc float64
					for c := 0; c < p.InC; c++ {
						for ky := 0; ky < p.KH; ky++ {
							for kx := 0; kx < p.KW; kx++ {
								iy, ix := y*p.StrideH-p.PadT+ky, xx*p.StrideW-p.PadL+kx
								if iy < 0 || iy >= p.H || ix < 0 || ix >= p.W {
									continue
								}
								acc += float64(x[((b*p.InC+c)*p.H+iy)*p.W+ix]) * float64(w[((o*p.InC+c)*p.KH+ky)*p.KW+kx])
							}
						}
					}
					v := float32(acc)
					if ep.Scale != nil {
						v *= ep.Scale[o]
					}
					if ep.Shift != nil {
						v += ep.Shift[o]
					}
					if ep.ReLU && v < 0 {
						v = 0
					}
					out[((b*p.OutC+o)*oh+y)*ow+xx] = v
				}
			}
		}
	}
	return out
}

func TestConv2DAgainstLoop(t *testing.T) {
	cases := []ConvParams{
		{InC: 3, H: 17, W: 15, OutC: 8, KH: 7, KW: 7, StrideH: 2, StrideW: 2, PadT: 3, PadL: 3, PadB: 3, PadR: 3},
		{InC: 16, H: 9, W: 9, OutC: 5, KH: 1, KW: 1, StrideH: 1, StrideW: 1},
		{InC: 6, H: 8, W: 10, OutC: 4, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1},
		{InC: 4, H: 7, W: 7, OutC: 3, KH: 5, KW: 5, StrideH: 1, StrideW: 1, PadT: 2, PadL: 2, PadB: 2, PadR: 2},
		{InC: 2, H: 6, W: 7, OutC: 3, KH: 3, KW: 2, StrideH: 2, StrideW: 3, PadT: 0, PadL: 1, PadB: 2, PadR: 0},
		// more than one block of kc rows, columns not a multiple of nr
		{InC: 40, H: 14, W: 13, OutC: 20, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1},
		// more than nc columns, padding wider than the kernel's reach
		{InC: 13, H: 30, W: 29, OutC: 17, KH: 5, KW: 5, StrideH: 1, StrideW: 1, PadT: 2, PadL: 4, PadB: 1, PadR: 3},
		{InC: 300, H: 4, W: 4, OutC: 9, KH: 1, KW: 1, StrideH: 1, StrideW: 1},
		// output the input's size with uneven padding, a kernel wider than the image
		{InC: 5, H: 9, W: 11, OutC: 6, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadT: 0, PadL: 2, PadB: 2, PadR: 0},
		{InC: 3, H: 5, W: 2, OutC: 4, KH: 5, KW: 5, StrideH: 1, StrideW: 1, PadT: 2, PadL: 2, PadB: 2, PadR: 2},
		{InC: 7, H: 24, W: 25, OutC: 10, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1},
		// strided convolutions whose output is as wide as the input's phases
		{InC: 5, H: 20, W: 21, OutC: 9, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadT: 1, PadL: 1, PadB: 1, PadR: 1},
		{InC: 4, H: 13, W: 12, OutC: 7, KH: 5, KW: 5, StrideH: 3, StrideW: 3, PadT: 2, PadL: 2, PadB: 2, PadR: 2},
		{InC: 6, H: 9, W: 11, OutC: 5, KH: 1, KW: 1, StrideH: 2, StrideW: 2},
		{InC: 3, H: 70, W: 66, OutC: 8, KH: 7, KW: 7, StrideH: 2, StrideW: 2, PadT: 3, PadL: 3, PadB: 3, PadR: 3},
		// and one whose is not
		{InC: 4, H: 10, W: 10, OutC: 6, KH: 3, KW: 3, StrideH: 2, StrideW: 2},
	}
	forEachKernel(t, func(t *testing.T) { testConv2D(t, cases) })
}

func testConv2D(t *testing.T, cases []ConvParams) {
	r := rand.New(rand.NewSource(2))
	for _, p := range cases {
		if err := p.Check(); err != nil {
			t.Fatal(err)
		}
		for n := 1; n <= 3; n++ { // one image (GEMM split over cores), or one image per core
			x := randSlice(r, n*p.InC*p.H*p.W)
			w := randSlice(r, p.OutC*p.InC*p.KH*p.KW)
			for _, ep := range []Epilogue{{}, {Shift: randSlice(r, p.OutC), ReLU: true}, {Scale: randSlice(r, p.OutC), Shift: randSlice(r, p.OutC)}} {
				oh, ow := p.OutSize()
				got := randSlice(r, n*p.OutC*oh*ow)
				Conv2D(x, n, p, PackConvWeights(p, w), ep, got)
				closeTo(t, "Conv2D", got, naiveConv(x, n, p, w, ep), 1e-4)
			}
		}
	}
}

func TestPoolOutSizeMatchesPyTorch(t *testing.T) {
	// Sizes PyTorch computes (torch.nn.functional.max_pool2d output shapes).
	cases := []struct {
		in, k, s, p int
		ceil        bool
		want        int
	}{
		{112, 3, 2, 0, true, 56}, {112, 3, 2, 0, false, 55}, {14, 2, 2, 0, true, 7},
		{14, 3, 2, 0, true, 7}, {28, 3, 1, 1, true, 28}, {14, 5, 3, 0, false, 4},
		{5, 2, 2, 1, true, 3}, {6, 3, 3, 1, true, 3}, {4, 3, 2, 1, true, 3}, {2, 3, 2, 0, true, 1},
	}
	for _, c := range cases {
		if got := PoolOutSize(c.in, c.k, c.s, c.p, c.p, c.ceil); got != c.want {
			t.Errorf("PoolOutSize(%+v) = %d, want %d", c, got, c.want)
		}
	}
}

// TestPoolsAgainstLoop: max and average pools against a plain loop, at
// GoogLeNet's shapes (whose fast paths handle all planes at once) and
// others, with NaN in the input (it wins every max window it is in) and
// without (the max pools then skip NaN handling).
func TestPoolsAgainstLoop(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(3))
		for _, c := range []struct {
			h, w, k, s, p int
			ceil, incl    bool
		}{{11, 9, 3, 2, 0, true, false}, {8, 8, 3, 1, 1, true, true}, {8, 8, 3, 1, 1, true, false}, {14, 14, 5, 3, 0, false, true}, {7, 6, 2, 2, 1, true, true},
			{28, 28, 3, 1, 1, true, false}, {19, 37, 3, 1, 1, false, false}, {112, 112, 3, 2, 0, true, false}, {14, 14, 3, 2, 0, true, false},
			{9, 34, 3, 2, 0, true, false}, {5, 4, 3, 2, 0, false, false}, {2, 2, 3, 1, 1, false, false}, {57, 43, 3, 2, 0, true, false}, {20, 21, 4, 3, 2, false, false},
			{7, 7, 3, 1, 1, true, false}, {14, 14, 3, 1, 1, true, false}, {1, 1, 3, 1, 1, true, false}, {1, 9, 3, 1, 1, false, false}, {9, 1, 3, 1, 1, false, false},
			{14, 14, 2, 2, 0, true, false}, {2, 2, 2, 2, 0, false, false}, {6, 18, 2, 2, 0, false, false}, {7, 7, 2, 2, 0, true, false}} {
			p := PoolParams{C: 3, H: c.h, W: c.w, KH: c.k, KW: c.k, StrideH: c.s, StrideW: c.s, PadT: c.p, PadL: c.p, PadB: c.p, PadR: c.p, CountIncludePad: c.incl}
			p.OH = PoolOutSize(c.h, c.k, c.s, c.p, c.p, c.ceil)
			p.OW = PoolOutSize(c.w, c.k, c.s, c.p, c.p, c.ceil)
			for _, nan := range []bool{false, true} {
				x := randSlice(r, 2*3*c.h*c.w)
				if nan {
					for i := r.Intn(97); i < len(x); i += 97 {
						x[i] = float32(math.NaN())
					}
				}
				gotMax := make([]float32, 2*3*p.OH*p.OW)
				gotAvg := make([]float32, len(gotMax))
				MaxPool2D(x, 2, p, gotMax)
				AvgPool2D(x, 2, p, gotAvg)
				wantMax := make([]float32, len(gotMax))
				wantAvg := make([]float32, len(gotMax))
				for pl := 0; pl < 6; pl++ {
					for oy := 0; oy < p.OH; oy++ {
						for ox := 0; ox < p.OW; ox++ {
							m, s, cnt, incl := float32(math.Inf(-1)), float32(0), 0, 0
							for ky := 0; ky < c.k; ky++ {
								for kx := 0; kx < c.k; kx++ {
									iy, ix := oy*c.s-c.p+ky, ox*c.s-c.p+kx
									if iy < c.h+c.p && ix < c.w+c.p {
										incl++ // inside the padded input
									}
									if iy < 0 || ix < 0 || iy >= c.h || ix >= c.w {
										continue
									}
									v := x[(pl*c.h+iy)*c.w+ix]
									m = max(m, v)
									s += v
									cnt++
								}
							}
							wantMax[(pl*p.OH+oy)*p.OW+ox] = m
							if c.incl {
								cnt = incl
							}
							wantAvg[(pl*p.OH+oy)*p.OW+ox] = s / float32(cnt)
						}
					}
				}
				closeTo(t, fmt.Sprintf("MaxPool2D %+v, NaN %v", c, nan), gotMax, wantMax, 0)
				closeTo(t, fmt.Sprintf("AvgPool2D %+v, NaN %v", c, nan), gotAvg, wantAvg, 1e-5)
			}
		}
	})
}

// TestPackRows: the panel copy at the widths the kernels use and others.
func TestPackRows(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(10))
		for _, w := range []int{8, 16, 24, 32, 5} {
			for _, rows := range []int{0, 1, 3, 17} {
				stride := w + 3
				src := randSlice(r, rows*stride+w)
				got, want := make([]float32, rows*w+1), make([]float32, rows*w+1)
				packRows(got, src, rows, stride, w)
				packRowsGo(want, src, rows, stride, w)
				closeTo(t, fmt.Sprintf("packRows w=%d rows=%d", w, rows), got, want, 0)
			}
		}
	})
}

// TestPackMasked: the masked panel copy, 16 and 32 values wide, against
// its Go twin under each kernel's instruction set, with offsets reaching
// before and past the source (either end) where the masks are clear.
func TestPackMasked(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(13))
		src := randSlice(r, 200)
		for _, nr := range []int{16, 32} {
			for _, off := range []int{-40, -3, 0, 5, 100, 150} {
				masks := make([]uint32, 5)
				for q := range masks {
					for i := 0; i < nr; i++ {
						if j := off + nr*q + i; j >= 0 && j < len(src) && r.Intn(4) != 0 {
							masks[q] |= 1 << i
						}
					}
				}
				got, want := randSlice(r, 5*40), randSlice(r, 5*40)
				copy(want, got)
				packMasked(nr, got, 40, src, off, masks)
				packMaskedGo(nr, want, 40, src, off, masks)
				closeTo(t, fmt.Sprintf("packMasked nr=%d off=%d", nr, off), got, want, 0)
			}
		}
	})
}

// TestDeinterleave at every length.
func TestDeinterleave(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(12))
		for n := 0; n < 70; n++ {
			src := randSlice(r, 2*n+1)
			e, o := make([]float32, n), make([]float32, n)
			deinterleave(e, o, src)
			for i := 0; i < n; i++ {
				if e[i] != src[2*i] || o[i] != src[2*i+1] {
					t.Fatalf("n=%d i=%d: %v %v from %v %v", n, i, e[i], o[i], src[2*i], src[2*i+1])
				}
			}
		}
	})
}

// TestMaxVec: the vector maximum at every length and alignment, NaN from
// either side winning.
func TestMaxVec(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(9))
		for n := 0; n < 70; n++ {
			a, b := randSlice(r, n+1), randSlice(r, n+1)
			for i := 0; i < n; i += 5 {
				if i%2 == 0 {
					a[i] = float32(math.NaN())
				} else {
					b[i] = float32(math.NaN())
				}
			}
			a[n/2] = float32(math.Inf(1))
			got := make([]float32, n)
			maxVec(got, a[1:], b[1:])
			for i := range got {
				x, y := a[i+1], b[i+1]
				want := max(x, y)
				if g := got[i]; g != want && !(g != g && want != want) {
					t.Fatalf("n=%d: max(%v, %v) = %v, want %v", n, x, y, g, want)
				}
			}
		}
	})
}

func TestAdaptiveAvgPoolAgainstLoop(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	for _, hw := range [][2]int{{14, 14}, {9, 13}, {4, 4}, {3, 5}} {
		h, w := hw[0], hw[1]
		x := randSlice(r, 2*h*w)
		got := make([]float32, 2*16)
		AdaptiveAvgPool2D(x, 1, 2, h, w, 4, 4, got)
		for c := 0; c < 2; c++ {
			for i := 0; i < 4; i++ {
				for j := 0; j < 4; j++ {
					// PyTorch: start = floor(i*h/4), end = ceil((i+1)*h/4)
					y0, y1 := int(math.Floor(float64(i*h)/4)), int(math.Ceil(float64((i+1)*h)/4))
					x0, x1 := int(math.Floor(float64(j*w)/4)), int(math.Ceil(float64((j+1)*w)/4))
					var s float32
					for y := y0; y < y1; y++ {
						for xx := x0; xx < x1; xx++ {
							s += x[(c*h+y)*w+xx]
						}
					}
					want := s / float32((y1-y0)*(x1-x0))
					if d := got[(c*4+i)*4+j] - want; d > 1e-5 || d < -1e-5 {
						t.Fatalf("%dx%d [%d,%d,%d] = %v, want %v", h, w, c, i, j, got[(c*4+i)*4+j], want)
					}
				}
			}
		}
	}
}

func TestLRNAgainstLoop(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	n, c, plane := 2, 7, 5
	x := randSlice(r, n*c*plane)
	got := make([]float32, len(x))
	LRN(x, n, c, plane, 5, 1e-4*1000, 0.75, 1, got)
	for b := 0; b < n; b++ {
		for ch := 0; ch < c; ch++ {
			for i := 0; i < plane; i++ {
				var s float64
				for j := ch - 2; j <= ch+2; j++ {
					if j >= 0 && j < c {
						v := float64(x[(b*c+j)*plane+i])
						s += v * v
					}
				}
				want := float64(x[(b*c+ch)*plane+i]) / math.Pow(1+0.1/5*s, 0.75)
				if d := math.Abs(float64(got[(b*c+ch)*plane+i]) - want); d > 1e-5 {
					t.Fatalf("LRN[%d,%d,%d] = %v, want %v", b, ch, i, got[(b*c+ch)*plane+i], want)
				}
			}
		}
	}
}

// forEachKernel runs f with each micro-kernel this machine has as the one
// in use.
func forEachKernel(t *testing.T, f func(t *testing.T)) {
	saved := kernel
	defer useKernel(saved)
	for _, k := range availableKernels() {
		useKernel(k)
		t.Run(k.name, f)
	}
}

// TestMicroKernelsAgainstGoTwin holds each micro-kernel the CPU runs to the
// plain-Go twin of its shape: every depth, partial tiles (columns and
// rows), adding C or not, with and without the epilogue (ReLU or none,
// NaN kept), B packed or in place; values past the tile's rows and
// columns are never touched, nor B's past its columns read.
func TestMicroKernelsAgainstGoTwin(t *testing.T) {
	r := rand.New(rand.NewSource(6))
	for _, mk := range availableKernels() {
		t.Logf("micro-kernel %s (%dx%d)", mk.name, mk.mr, mk.nr)
		mr, nr := mk.mr, mk.nr
		for _, k := range []int{0, 1, 2, 7, 64, 257} {
			for _, cols := range []int{nr, 1, 4, nr / 2, nr/2 + 1, nr - 1} {
				for _, rows := range []int{mr, mr - 1, 1} {
					for _, flags := range []int{0, 1, 2, 3} {
						add, ep := flags&1 != 0, flags&2 != 0
						a, b := randSlice(r, mr*k+1), randSlice(r, nr*k+1)
						if k > 0 {
							a[0] = float32(math.NaN()) // row 0 becomes NaN
						}
						scale, shift := randSlice(r, mr), randSlice(r, mr)
						floor := float32(0)
						if k%2 == 1 {
							floor = float32(math.Inf(-1))
						}
						ldc := nr + 5
						got := randSlice(r, mr*ldc)
						got0 := append([]float32(nil), got...)
						want := append([]float32(nil), got...)
						var sc, sh []float32
						if ep {
							sc, sh = scale[:rows], shift[:rows]
						}
						what := fmt.Sprintf("%s k=%d rows=%d cols=%d add=%v ep=%v", mk.name, k, rows, cols, add, ep)
						mk.run(k, &a[0], &b[0], &got[0], nr, ldc, rows, cols, add, ep, &scale[0], &shift[0], floor)
						microGo(mr, nr, k, a, b, want, nr, ldc, rows, cols, add, sc, sh, floor)
						if mk.narrow != nil && cols <= nr/2 {
							narrow := append([]float32(nil), got0...)
							mk.narrow(k, &a[0], &b[0], &narrow[0], nr, ldc, rows, cols, add, ep, &scale[0], &shift[0], floor)
							closeTo(t, what+" narrow", narrow, want, 1e-5)
						}
						if mk.stridedB {
							// B in place: a wider matrix, only cols of it read
							ldb := nr + 7
							wide := make([]float32, k*ldb+nr)
							for p := 0; p < k; p++ {
								copy(wide[p*ldb:p*ldb+cols], b[p*nr:p*nr+cols])
								for j := cols; j < nr; j++ {
									wide[p*ldb+j] = float32(math.NaN()) // never read
								}
							}
							got2 := append([]float32(nil), got0...)
							mk.run(k, &a[0], &wide[0], &got2[0], ldb, ldc, rows, cols, add, ep, &scale[0], &shift[0], floor)
							closeTo(t, what+" in place", got2, want, 1e-5)
						}
						closeTo(t, what, got, want, 1e-5)
					}
				}
			}
		}
	}
}

// TestMicroKernelsEveryWidth holds each micro-kernel to the Go twin at
// every number of columns a tile can store, so that each way a kernel
// splits a row (whole vectors, a last partial one, its narrow loops) is
// run, on rows of a full tile and of a partial one.
func TestMicroKernelsEveryWidth(t *testing.T) {
	r := rand.New(rand.NewSource(16))
	for _, mk := range availableKernels() {
		mr, nr := mk.mr, mk.nr
		for _, k := range []int{0, 3, 40} {
			a, b := randSlice(r, mr*k+1), randSlice(r, nr*k+1)
			scale, shift := randSlice(r, mr), randSlice(r, mr)
			for cols := 1; cols <= nr; cols++ {
				for _, rows := range []int{mr, 2} {
					for flags := 0; flags < 4; flags++ {
						add, ep := flags&1 != 0, flags&2 != 0
						ldc := nr + 3
						got := randSlice(r, mr*ldc)
						want := append([]float32(nil), got...)
						var sc, sh []float32
						if ep {
							sc, sh = scale[:rows], shift[:rows]
						}
						run := mk.run
						if mk.narrow != nil && cols <= nr/2 {
							run = mk.narrow
						}
						run(k, &a[0], &b[0], &got[0], nr, ldc, rows, cols, add, ep, &scale[0], &shift[0], 0)
						microGo(mr, nr, k, a, b, want, nr, ldc, rows, cols, add, sc, sh, 0)
						closeTo(t, fmt.Sprintf("%s k=%d rows=%d cols=%d add=%v ep=%v", mk.name, k, rows, cols, add, ep), got, want, 1e-5)
					}
				}
			}
		}
	}
}

func TestPackedMatMulRaggedShapes(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(7))
		for i := 0; i < 40; i++ {
			m, n, k := 1+r.Intn(130), 1+r.Intn(700), 1+r.Intn(600)
			if i%4 == 0 {
				m, n, k = 1+r.Intn(9), 1+r.Intn(40), 1+r.Intn(20)
			}
			a, b := randSlice(r, m*k), randSlice(r, k*n)
			c := randSlice(r, m*n)
			want := append([]float32(nil), c...)
			matMulRows(0, m, n, k, a, b, want, true)
			matMulPacked(m, n, k, a, b, c)
			closeTo(t, "matMulPacked", c, want, 1e-4)

			// the same product set and through a ReLU epilogue
			scale, shift := randSlice(r, m), randSlice(r, m)
			ep := Epilogue{Scale: scale, Shift: shift, ReLU: i%2 == 0}
			got := randSlice(r, m*n)
			MatMulPackedA(PackMatrix(m, k, a), n, b, got, false, ep)
			clear(want)
			matMulRows(0, m, n, k, a, b, want, true)
			ep.Apply(want, m, n)
			closeTo(t, "MatMulPackedA with epilogue", got, want, 1e-4)
		}
	})
}

// TestEpilogueChangedInPlace: a matrix remembers the last epilogue it ran
// with; changing that epilogue's values in place must still count.
func TestEpilogueChangedInPlace(t *testing.T) {
	r := rand.New(rand.NewSource(14))
	m, n, k := 16, 40, 8
	a, b := randSlice(r, m*k), randSlice(r, k*n)
	pa := PackMatrix(m, k, a)
	ep := Epilogue{Scale: randSlice(r, m), Shift: randSlice(r, m)}
	got := make([]float32, m*n)
	MatMulPackedA(pa, n, b, got, false, ep)
	ep.Shift[3] += 10
	MatMulPackedA(pa, n, b, got, false, ep)
	want := make([]float32, m*n)
	matMulRows(0, m, n, k, a, b, want, true)
	ep.Apply(want, m, n)
	closeTo(t, "after the shift changed", got, want, 1e-5)
}

// BenchmarkMicroKernels times each micro-kernel on one tile, kc deep.
func BenchmarkMicroKernels(b *testing.B) {
	for _, mk := range availableKernels() {
		b.Run(mk.name, func(b *testing.B) {
			k := kc
			a, bb, c := make([]float32, mk.mr*k+1), make([]float32, mk.nr*k+1), make([]float32, mk.mr*mk.nr)
			for i := 0; i < b.N; i++ {
				mk.run(k, &a[0], &bb[0], &c[0], mk.nr, mk.nr, mk.mr, mk.nr, true, false, nil, nil, 0)
			}
			b.ReportMetric(float64(2*mk.mr*mk.nr*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
		})
	}
}

func BenchmarkMatMul(b *testing.B) {
	r := rand.New(rand.NewSource(8))
	for _, s := range [][3]int{{128, 784, 480}, {192, 3136, 576}, {384, 49, 832}} {
		m, n, k := s[0], s[1], s[2]
		a, bb, c := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
		b.Run(fmt.Sprintf("%dx%dx%d", m, n, k), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				MatMul(m, n, k, a, bb, c, false)
			}
			b.ReportMetric(float64(2*m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
		})
	}
}

// TestBuffersReuseRecentAndFitting: Get hands back the most recently freed
// buffer that fits without much waste, at the length asked for.
func TestBuffersReuseRecentAndFitting(t *testing.T) {
	var b Buffers
	big, mid, small := b.Get(1000), b.Get(300), b.Get(10)
	b.Put(big)
	b.Put(small)
	b.Put(mid)
	if got := b.Get(280); len(got) != 280 || &got[0] != &mid[0] {
		t.Fatalf("Get(280) did not reuse the last freed buffer that fits")
	}
	if got := b.Get(900); len(got) != 900 || &got[0] != &big[0] {
		t.Fatalf("Get(900) did not reuse the 1000-value buffer")
	}
	if got := b.Get(1); &got[0] == &small[0] {
		t.Fatalf("Get(1) took a buffer ten times its size")
	}
	if got := b.Get(5000); len(got) != 5000 {
		t.Fatalf("Get(5000): %d values", len(got))
	}
}

// TestParallelSplitsEvenly: Parallel covers [0, n) once, in at most a
// chunk per core, every chunk starting at a multiple of align and within
// align/2 of an even split's boundary (a 196-column GEMM on two cores went
// 128 | 68).
func TestParallelSplitsEvenly(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, procs := range []int{1, 2, 3, 4, 7} {
		runtime.GOMAXPROCS(procs)
		for _, c := range [][2]int{{196, 32}, {196, 16}, {49, 8}, {3136, 32}, {784, 32}, {1, 1}, {5, 1}, {0, 4}, {100, 64}, {288, 8}, {31, 32}} {
			n, align := c[0], c[1]
			var mu sync.Mutex
			var chunks [][2]int
			Parallel(n, align, func(lo, hi int) {
				mu.Lock()
				chunks = append(chunks, [2]int{lo, hi})
				mu.Unlock()
			})
			slices.SortFunc(chunks, func(a, b [2]int) int { return a[0] - b[0] })
			next := 0
			for _, ch := range chunks {
				if ch[0] != next || ch[1] <= ch[0] && n > 0 || ch[0]%align != 0 {
					t.Fatalf("GOMAXPROCS %d, n %d, align %d: chunks %v", procs, n, align, chunks)
				}
				if even := nearestEvenBoundary(ch[0], n, procs); ch[0] > 0 && 2*math.Abs(float64(ch[0])-even) > float64(align) {
					t.Errorf("GOMAXPROCS %d, n %d, align %d: chunks %v: %d is more than align/2 from %g", procs, n, align, chunks, ch[0], even)
				}
				next = ch[1]
			}
			if next != n || len(chunks) > procs {
				t.Fatalf("GOMAXPROCS %d, n %d, align %d: chunks %v", procs, n, align, chunks)
			}
		}
	}
}

// nearestEvenBoundary is the n·w/procs nearest to x.
func nearestEvenBoundary(x, n, procs int) float64 {
	best := math.Inf(1)
	for w := 1; w < procs; w++ {
		if b := float64(n*w) / float64(procs); math.Abs(b-float64(x)) < math.Abs(best-float64(x)) {
			best = b
		}
	}
	return best
}

// TestParallelPanicsReachTheCaller: a panic in a chunk run by a helper is
// raised again in Parallel's caller once every chunk is done, and the
// helpers go on serving later calls.
func TestParallelPanicsReachTheCaller(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	var done atomic.Int32
	got := func() (p any) {
		defer func() { p = recover() }()
		Parallel(400, 1, func(lo, hi int) {
			if lo == 0 { // the first chunk: a helper's
				panic("chunk 0")
			}
			done.Add(int32(hi - lo))
		})
		return nil
	}()
	if got != "chunk 0" || done.Load() != 300 {
		t.Fatalf("recovered %v, %d of the other chunks' 300 values done", got, done.Load())
	}
	sum := make([]int, 400)
	Parallel(400, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			sum[i] = i
		}
	})
	for i, v := range sum {
		if v != i {
			t.Fatalf("after a panic: value %d is %d", i, v)
		}
	}
}

// TestParallelConcurrentCalls: calls from many goroutines at once (the
// helpers busy, chunks then run on goroutines of their own) each cover
// their range exactly once.
func TestParallelConcurrentCalls(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(3))
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for rep := 0; rep < 50; rep++ {
				n := 1 + (g*7+rep)%300
				hits := make([]atomic.Int32, n)
				Parallel(n, 1+rep%5, func(lo, hi int) {
					for i := lo; i < hi; i++ {
						hits[i].Add(1)
					}
				})
				for i := range hits {
					if h := hits[i].Load(); h != 1 {
						t.Errorf("goroutine %d, call %d: value %d of %d covered %d times", g, rep, i, n, h)
						return
					}
				}
			}
		}(g)
	}
	wg.Wait()
}

// TestParallelNested: a Parallel called from inside a chunk (on a helper
// or on the caller) completes and covers its range; a helper never waits
// on a chunk it was given itself.
func TestParallelNested(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	done := make(chan struct{})
	var hits [64][32]atomic.Int32
	go func() {
		defer close(done)
		for rep := 0; rep < 200; rep++ {
			Parallel(64, 1, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					Parallel(32, 1, func(l, h int) {
						for j := l; j < h; j++ {
							hits[i][j].Add(1)
						}
					})
				}
			})
		}
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("nested Parallel calls did not finish in a minute")
	}
	for i := range hits {
		for j := range hits[i] {
			if h := hits[i][j].Load(); h != 200 {
				t.Fatalf("value (%d, %d) covered %d times in 200 calls", i, j, h)
			}
		}
	}
}

// TestMaxPoolStemPath runs the stem pools' path (windows 3 wide, stride
// 2 across) with other windows down (taller, shorter, padded, stride 1 or
// 3), on tall and short planes, with NaN, against a loop.
func TestMaxPoolStemPath(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(5))
		// rows of 4 to 113 outputs: fewer than the vector path takes (9),
		// whole steps of eight before the last output (9, 17, 25) and
		// ragged ones
		for _, c := range []struct{ h, w, kh, sh, pt, pb int }{
			{300, 18, 5, 1, 2, 2}, {301, 20, 3, 2, 0, 1}, {97, 34, 1, 3, 0, 0}, {130, 50, 3, 2, 1, 0}, {2, 64, 3, 2, 0, 1},
			{40, 8, 3, 2, 0, 0}, {33, 226, 3, 2, 0, 0}, {112, 112, 3, 2, 0, 1}, {9, 36, 2, 2, 0, 0},
		} {
			p := PoolParams{C: 2, H: c.h, W: c.w, KH: c.kh, KW: 3, StrideH: c.sh, StrideW: 2, PadT: c.pt, PadB: c.pb}
			p.OH = (c.h+c.pt+c.pb-c.kh)/c.sh + 1
			p.OW = c.w / 2
			for nan := range nanCases {
				x := randSlice(r, 2*c.h*c.w)
				placeNaN(r, x, c.w, nan)
				got := make([]float32, 2*p.OH*p.OW)
				MaxPool2D(x, 1, p, got)
				want := naiveMaxPool(x, 2, p)
				closeTo(t, fmt.Sprintf("MaxPool2D %+v, NaN case %d", c, nan), got, want, 0)
			}
		}
	})
}

// nanCases counts placeNaN's cases.
const nanCases = 5

// placeNaN puts NaN into x (rows of w values) as case nan says: nowhere
// (0), anywhere (1), or at a random row's first (2), last (3) or last but
// one (4) value.
func placeNaN(r *rand.Rand, x []float32, w, nan int) {
	row := r.Intn(len(x) / w)
	switch nan {
	case 1:
		x[r.Intn(len(x))] = float32(math.NaN())
	case 2:
		x[row*w] = float32(math.NaN())
	case 3:
		x[row*w+w-1] = float32(math.NaN())
	case 4:
		x[row*w+max(0, w-2)] = float32(math.NaN())
	}
}

// naiveMaxPool is MaxPool2D of planes planes as a loop over each
// window's values, padding never winning and NaN carried.
func naiveMaxPool(x []float32, planes int, p PoolParams) []float32 {
	out := make([]float32, planes*p.OH*p.OW)
	for pl := 0; pl < planes; pl++ {
		for oy := 0; oy < p.OH; oy++ {
			for ox := 0; ox < p.OW; ox++ {
				m := float32(math.Inf(-1))
				for ky := 0; ky < p.KH; ky++ {
					for kx := 0; kx < p.KW; kx++ {
						iy, ix := oy*p.StrideH-p.PadT+ky, ox*p.StrideW-p.PadL+kx
						if iy >= 0 && iy < p.H && ix >= 0 && ix < p.W {
							m = fmaxNaN(m, x[(pl*p.H+iy)*p.W+ix])
						}
					}
				}
				out[(pl*p.OH+oy)*p.OW+ox] = m
			}
		}
	}
	return out
}

// fmaxNaN is the larger of a and b, NaN if either is.
func fmaxNaN(a, b float32) float32 {
	if a != a || b != b {
		return float32(math.NaN())
	}
	return max(a, b)
}

// TestMaxPoolBranchPath runs the branch pools' path (3x3, stride 1,
// padded 1) on rows of every width up to 17, GoogLeNet's, 64 and 65, one
// to five rows, with NaN nowhere, anywhere, or at a row's first or last
// value, against a loop.
func TestMaxPoolBranchPath(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(6))
		widths := []int{28, 14, 7, 64, 65}
		for w := 1; w <= 17; w++ {
			widths = append(widths, w)
		}
		for _, w := range widths {
			for h := 1; h <= 5; h++ {
				const planes = 3
				p := PoolParams{C: planes, H: h, W: w, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, OH: h, OW: w}
				for nan := range nanCases {
					x := randSlice(r, planes*h*w)
					placeNaN(r, x, w, nan)
					got := make([]float32, len(x))
					MaxPool2D(x, 1, p, got)
					want := naiveMaxPool(x, planes, p)
					closeTo(t, fmt.Sprintf("MaxPool2D %dx%d, NaN case %d", h, w, nan), got, want, 0)
				}
			}
		}
	})
}
