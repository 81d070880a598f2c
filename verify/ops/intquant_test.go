package ops

import (
	"math/rand"
	"testing"

	"github.com/gnconv/gnconv/internal/kernels"
)

// referenceSums is Σ (x − x_zero)·w with the input padded by x_zero, as
// the integer runtimes define a quantized convolution's padding.
func referenceSums(p kernels.ConvParams, x []int64, xZero int64, w []int64, n int) []int64 {
	oh, ow := p.OutSize()
	at := func(b, c, y, xx int) int64 {
		if y < 0 || y >= p.H || xx < 0 || xx >= p.W {
			return xZero
		}
		return x[((b*p.InC+c)*p.H+y)*p.W+xx]
	}
	out := make([]int64, n*p.OutC*oh*ow)
	for b := 0; b < n; b++ {
		for o := 0; o < p.OutC; o++ {
			for y := 0; y < oh; y++ {
				for xx := 0; xx < ow; xx++ {
					var s int64
					for c := 0; c < p.InC; c++ {
						for ky := 0; ky < p.KH; ky++ {
							for kx := 0; kx < p.KW; kx++ {
								v := at(b, c, y*p.StrideH-p.PadT+ky, xx*p.StrideW-p.PadL+kx)
								s += (v - xZero) * w[((o*p.InC+c)*p.KH+ky)*p.KW+kx]
							}
						}
					}
					out[((b*p.OutC+o)*oh+y)*ow+xx] = s
				}
			}
		}
	}
	return out
}

// TestIntConvSums: each way IntConv takes its sums gives the exact
// integers, for GoogLeNet's kinds of convolution and odd ones, with
// weights small enough for one float32 pass and large enough to need
// the digit split; sumPath picks a way that is exact.
func TestIntConvSums(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	for _, c := range []struct {
		inC, h, w, outC, k, stride, pad int
	}{
		{3, 17, 19, 8, 7, 2, 3}, // conv1
		{16, 9, 9, 12, 1, 1, 0}, // the 1x1 reductions
		{24, 8, 7, 10, 3, 1, 1}, // branch2's 3x3
		{8, 7, 7, 6, 5, 1, 2},   // branch3's 5x5
		{5, 6, 11, 4, 3, 2, 0},
		{128, 5, 5, 4, 3, 1, 1}, // many inputs: large sums
	} {
		p := kernels.ConvParams{InC: c.inC, H: c.h, W: c.w, OutC: c.outC, KH: c.k, KW: c.k, StrideH: c.stride, StrideW: c.stride,
			PadT: c.pad, PadB: c.pad, PadL: c.pad, PadR: c.pad}
		for _, big := range []bool{false, true} {
			n := 2
			xZero := int64(rng.Intn(256))
			x := make([]int64, n*c.inC*c.h*c.w)
			for i := range x {
				x[i] = int64(rng.Intn(256))
			}
			wmax := 3
			if big {
				wmax = 127
			}
			k := c.inC * c.k * c.k
			w := make([]int64, c.outC*k)
			wf := &Value{Shape: []int{c.outC, c.inC, c.k, c.k}, F: make([]float32, len(w))}
			abs := make([]int64, c.outC)
			for i := range w {
				w[i] = int64(rng.Intn(2*wmax+1) - wmax)
				wf.F[i] = float32(w[i])
				abs[i/k] += max(w[i], -w[i])
			}
			q := &IntConv{XZero: xZero, W: wf, AbsSum: abs}
			want := referenceSums(p, x, xZero, w, n)
			xv := &Value{Shape: []int{n, c.inC, c.h, c.w}, I: x, Int: true, Byte: true}
			maxW := int64(0)
			for _, s := range abs {
				maxW = max(maxW, s)
			}
			paths := []int{sumDigits, sumDirect}
			if maxW*255 <= exactFloat32 {
				paths = append(paths, sumFloat)
			}
			if chosen := sumPath(255, maxW); big && c.inC == 128 && chosen == sumFloat {
				t.Errorf("%+v: sums up to %d taken in one float32 pass", c, 255*maxW)
			}
			for _, path := range paths {
				q.W = &Value{Shape: wf.Shape, F: wf.F} // packed anew
				got := q.sumsBy(path, p, xv, n)
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("%+v, weights up to %d, way %d: sum %d is %d, want %d", c, wmax, path, i, got[i], want[i])
					}
				}
			}
		}
	}
}

// TestRequant: the product rounds half to even, clamps to the type's
// range about the zero point, and a sum wraps to int32 first.
func TestRequant(t *testing.T) {
	r := Requant{Mult: []float32{0.5, 0.25}, Zero: 10, Lo: 0, Hi: 255}
	for _, c := range []struct {
		sum  int64
		ch   int
		want int64
	}{
		{5, 0, 12},         // 2.5 → 2
		{7, 0, 14},         // 3.5 → 4
		{-5, 0, 8},         // −2.5 → −2
		{10, 1, 12},        // 2.5 → 2, second channel's multiplier
		{-100, 0, 0},       // below 0 − zero point
		{1000, 0, 255},     // above 255 − zero point
		{1 << 32, 0, 10},   // wraps to 0
		{1<<32 + 6, 0, 13}, // wraps to 6
	} {
		if got := r.apply(c.sum, c.ch); got != c.want {
			t.Errorf("apply(%d, %d) = %d, want %d", c.sum, c.ch, got, c.want)
		}
	}
	s := Requant{Mult: []float32{1}, Zero: -128, Lo: -128, Hi: 127}
	if got := s.apply(-3, 0); got != -128 {
		t.Errorf("int8 output below its range: %d, want -128", got)
	}
}

// TestIntGlobalAveragePool: the channel's sum less the zero point's
// share, scaled, rounded half to even.
func TestIntGlobalAveragePool(t *testing.T) {
	g := &IntGlobalAveragePool{XZero: 1, XScale: 1, YScale: 1, Zero: 3, Lo: 0, Hi: 255}
	x := &Value{Shape: []int{1, 2, 2, 2}, I: []int64{2, 3, 4, 5, 1, 1, 1, 2}, Int: true, Byte: true}
	op := g.Op()
	shape, err := op.Shape(&Ctx{}, nil, []*Value{x})
	if err != nil {
		t.Fatal(err)
	}
	out, err := op.Run(&Ctx{}, nil, []*Value{x}, shape)
	if err != nil {
		t.Fatal(err)
	}
	// (14 − 4)/4 = 2.5 → 2; (5 − 4)/4 = 0.25 → 0
	if out.I[0] != 5 || out.I[1] != 3 || !out.Byte {
		t.Errorf("got %v, want [5 3] uint8", out.I)
	}
}
