package ops

import (
	"math"

	"github.com/gnconv/gnconv/internal/kernels"
)

// Integer forms of quantized layers. A QDQ file says
// DequantizeLinear → Conv → QuantizeLinear, whose float32 meaning leaves
// the rounding of every sum to the runtime; the runtimes that deploy such
// files (onnxruntime's QLinearConv, QGemm and QLinearGlobalAveragePool)
// sum the quantized values exactly in int32, add the int32 bias, and
// requantize: float32(sum) × float32(x_scale·w_scale/y_scale), clamped to
// the output type's range about its zero point, rounded half to even,
// plus the zero point. The interpreter computes a layer the same way when
// the file has that pattern, so the two agree value for value instead of
// drifting apart by a step wherever a value lies within float32's
// rounding of a half step (one-step differences that grow layer by
// layer).

// Requant turns exact integer sums into quantized values: per output
// channel multipliers, the output's zero point and its type's range.
type Requant struct {
	Mult   []float32 // x_scale·w_scale/y_scale in float32, one per output channel (or one)
	Zero   int64
	Lo, Hi int64 // the output type's range: 0..255 or -128..127
}

// output is a new quantized value of the Requant's type.
func (r *Requant) output(shape []int, n int) *Value {
	return &Value{Shape: shape, I: make([]int64, n), Int: true, Byte: r.Lo == 0, Int8: r.Lo < 0}
}

// apply requantizes one sum of channel c; the sum wraps to int32 as the
// runtimes' accumulators do.
func (r *Requant) apply(sum int64, c int) int64 {
	m := r.Mult[0]
	if len(r.Mult) > 1 {
		m = r.Mult[c]
	}
	v := float32(int32(sum)) * m
	v = max(v, float32(r.Lo-r.Zero))
	v = min(v, float32(r.Hi-r.Zero))
	return int64(math.RoundToEven(float64(v))) + r.Zero
}

// IntConv is a convolution of a quantized input by quantized weights,
// requantized. W holds the weights minus their zero point as float32
// (whole numbers), with AbsSum the sum of each output channel's |w|: the
// float32 kernels then compute the integer sums exactly whenever no
// partial sum can pass 2^24, which AbsSum and the input's largest
// magnitude bound; beyond that the input is split in two digits of base
// 16, and beyond that the sums are taken in int64 directly.
type IntConv struct {
	Attrs  Attrs // the Conv's
	XZero  int64
	W      *Value
	AbsSum []int64
	Bias   []int64 // nil: none
	Req    Requant
}

// exactFloat32 is the largest magnitude below which every whole number
// is a float32.
const exactFloat32 = 1 << 24

// Op is the convolution as an operator of one input, the quantized x.
func (q *IntConv) Op() *Op {
	params := func(x *Value) (kernels.ConvParams, error) {
		if !x.Byte && !x.Int8 || len(x.Shape) != 4 {
			return kernels.ConvParams{}, errorf("the quantized convolution's input is not a 4-D uint8 or int8 tensor")
		}
		return convParams(q.Attrs, []*Value{{Shape: x.Shape}, q.W})
	}
	return &Op{
		MinIn: 1, MaxIn: 1, MaxOut: 1,
		Shape: func(c *Ctx, _ Attrs, in []*Value) ([]int, error) {
			p, err := params(in[0])
			if err != nil {
				return nil, err
			}
			oh, ow := p.OutSize()
			n := int64(in[0].Shape[0])
			// the input and the sums as float32 beside the output
			if err := c.scratch("the quantized convolution's sums", workOf(n, int64(p.OutC), int64(oh), int64(ow))); err != nil {
				return nil, err
			}
			if err := c.work(workOf(2, n, int64(p.OutC), int64(oh), int64(ow), int64(p.InC), int64(p.KH), int64(p.KW))); err != nil {
				return nil, err
			}
			return []int{in[0].Shape[0], p.OutC, oh, ow}, nil
		},
		Run: func(c *Ctx, _ Attrs, in []*Value, shape []int) (*Value, error) {
			p, err := params(in[0])
			if err != nil {
				return nil, err
			}
			return q.run(p, in[0], shape), nil
		},
		Batch: sameBatch,
	}
}

func (q *IntConv) run(p kernels.ConvParams, x *Value, shape []int) *Value {
	n := x.Shape[0]
	oh, ow := p.OutSize()
	plane := oh * ow
	sums := q.sums(p, x, n)
	out := q.Req.output(shape, len(sums))
	kernels.Parallel(n*p.OutC, 1, func(lo, hi int) {
		for b := lo; b < hi; b++ {
			c := b % p.OutC
			bias := int64(0)
			if q.Bias != nil {
				bias = q.Bias[c]
			}
			dst := out.I[b*plane : (b+1)*plane]
			for i, s := range sums[b*plane : (b+1)*plane] {
				dst[i] = q.Req.apply(s+bias, c)
			}
		}
	})
	return out
}

// sums is the exact Σ (x − x_zero)·w of every output value.
func (q *IntConv) sums(p kernels.ConvParams, x *Value, n int) []int64 {
	maxX := int64(0)
	for _, v := range x.I {
		d := v - q.XZero
		maxX = max(maxX, d, -d)
	}
	maxW := int64(0)
	for _, s := range q.AbsSum {
		maxW = max(maxW, s)
	}
	return q.sumsBy(sumPath(maxX, maxW), p, x, n)
}

// How IntConv takes its sums: the float32 kernels on the input, on its
// two base-16 digits, or int64 directly.
const (
	sumFloat = iota
	sumDigits
	sumDirect
)

// sumPath is the fastest exact way for inputs of magnitude up to maxX
// and channels whose Σ|w| is up to maxW.
func sumPath(maxX, maxW int64) int {
	switch {
	case maxX*maxW <= exactFloat32:
		return sumFloat
	case 16*maxW <= exactFloat32 && (maxX/16+1)*maxW <= exactFloat32:
		return sumDigits
	}
	return sumDirect
}

func (q *IntConv) sumsBy(path int, p kernels.ConvParams, x *Value, n int) []int64 {
	oh, ow := p.OutSize()
	total := n * p.OutC * oh * ow
	sums := make([]int64, total)
	conv := func(digit func(d int64) int64, weight int64) {
		xf := make([]float32, len(x.I))
		kernels.Parallel(len(x.I), 4096, func(lo, hi int) {
			for i, v := range x.I[lo:hi] {
				xf[lo+i] = float32(digit(v - q.XZero))
			}
		})
		acc := make([]float32, total)
		q.W.packOnce.Do(func() { q.W.packed = kernels.PackConvWeightsDirect(p, q.W.F) })
		kernels.Conv2DInto(xf, n, p, q.W.packed, kernels.Epilogue{}, acc, p.OutC*oh*ow)
		kernels.Parallel(total, 4096, func(lo, hi int) {
			for i, a := range acc[lo:hi] {
				sums[lo+i] += int64(a) * weight
			}
		})
	}
	switch path {
	case sumFloat:
		conv(func(d int64) int64 { return d }, 1)
	case sumDigits:
		// x − x_zero = 16·high + low, low in 0..15
		conv(func(d int64) int64 { return d & 15 }, 1)
		conv(func(d int64) int64 { return d >> 4 }, 16)
	default:
		q.direct(p, x, n, sums)
	}
	return sums
}

// direct sums in int64 without the float32 kernels, for weights whose
// sums no float32 digit split keeps exact.
func (q *IntConv) direct(p kernels.ConvParams, x *Value, n int, sums []int64) {
	oh, ow := p.OutSize()
	k := p.InC * p.KH * p.KW
	for b := 0; b < n; b++ {
		img := x.I[b*p.InC*p.H*p.W:]
		for o := 0; o < p.OutC; o++ {
			w := q.W.F[o*k : (o+1)*k]
			dst := sums[(b*p.OutC+o)*oh*ow:]
			for y := 0; y < oh; y++ {
				for xo := 0; xo < ow; xo++ {
					var s int64
					for ci := 0; ci < p.InC; ci++ {
						for ky := 0; ky < p.KH; ky++ {
							iy := y*p.StrideH - p.PadT + ky
							if iy < 0 || iy >= p.H {
								continue
							}
							for kx := 0; kx < p.KW; kx++ {
								ix := xo*p.StrideW - p.PadL + kx
								if ix < 0 || ix >= p.W {
									continue
								}
								s += (img[(ci*p.H+iy)*p.W+ix] - q.XZero) * int64(w[(ci*p.KH+ky)*p.KW+kx])
							}
						}
					}
					dst[y*ow+xo] = s
				}
			}
		}
	}
}

// IntGemm is a linear layer of a quantized input (M×K) by quantized
// weights held N×K, requantized; sums in int64 (a GoogLeNet's linear
// layers are small beside its convolutions).
type IntGemm struct {
	XZero int64
	W     []int64 // N×K, minus the weights' zero point
	N, K  int
	Bias  []int64 // nil: none
	Req   Requant
}

// Op is the linear layer as an operator of one input, the quantized x.
func (q *IntGemm) Op() *Op {
	return &Op{
		MinIn: 1, MaxIn: 1, MaxOut: 1,
		Shape: func(c *Ctx, _ Attrs, in []*Value) ([]int, error) {
			x := in[0]
			if !x.Byte && !x.Int8 || len(x.Shape) != 2 || x.Shape[1] != q.K {
				return nil, errorf("the quantized linear layer's input %v is not a uint8 or int8 matrix of %d columns", x.Shape, q.K)
			}
			return []int{x.Shape[0], q.N}, c.work(workOf(int64(x.Shape[0]), int64(q.N), int64(q.K)))
		},
		Run: func(c *Ctx, _ Attrs, in []*Value, shape []int) (*Value, error) {
			x := in[0]
			m := x.Shape[0]
			out := q.Req.output(shape, m*q.N)
			for r := 0; r < m; r++ {
				row := x.I[r*q.K : (r+1)*q.K]
				for j := 0; j < q.N; j++ {
					var s int64
					for k, w := range q.W[j*q.K : (j+1)*q.K] {
						s += (row[k] - q.XZero) * w
					}
					if q.Bias != nil {
						s += q.Bias[j]
					}
					out.I[r*q.N+j] = q.Req.apply(s, j)
				}
			}
			return out, nil
		},
		Batch: sameBatch,
	}
}

// IntGlobalAveragePool averages each channel of a quantized input into
// a quantized output: the sum of the channel minus x_zero·H·W, times
// x_scale/(y_scale·H·W) in float32, requantized.
type IntGlobalAveragePool struct {
	XZero          int64
	XScale, YScale float32
	Zero, Lo, Hi   int64
}

// Op is the pooling as an operator of one input, the quantized x.
func (q *IntGlobalAveragePool) Op() *Op {
	return &Op{
		MinIn: 1, MaxIn: 1, MaxOut: 1,
		Shape: func(c *Ctx, _ Attrs, in []*Value) ([]int, error) {
			x := in[0]
			if !x.Byte && !x.Int8 || len(x.Shape) != 4 || x.Shape[2]*x.Shape[3] == 0 || x.Shape[2]*x.Shape[3] >= exactFloat32 {
				return nil, errorf("the quantized average pool's input %v is not a 4-D uint8 or int8 tensor of 1 to 2^24 pixels a plane", x.Shape)
			}
			return []int{x.Shape[0], x.Shape[1], 1, 1}, c.work(int64(x.Numel()))
		},
		Run: func(c *Ctx, _ Attrs, in []*Value, shape []int) (*Value, error) {
			x := in[0]
			plane := x.Shape[2] * x.Shape[3]
			req := Requant{Mult: []float32{q.XScale / (q.YScale * float32(plane))}, Zero: q.Zero, Lo: q.Lo, Hi: q.Hi}
			out := req.output(shape, x.Shape[0]*x.Shape[1])
			for i := range out.I {
				s := -q.XZero * int64(plane)
				for _, v := range x.I[i*plane : (i+1)*plane] {
					s += v
				}
				out.I[i] = req.apply(s, 0)
			}
			return out, nil
		},
		Batch: sameBatch,
	}
}
