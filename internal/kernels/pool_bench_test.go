package kernels

import (
	"fmt"
	"math/rand"
	"testing"
)

// BenchmarkGoogLeNetPools times torchvision GoogLeNet's max pools on one
// image: the stem's 3x3/2 (ceil), the branch pools' 3x3/1 padded 1, the
// last stage's 2x2/2, reporting input values per nanosecond.
func BenchmarkGoogLeNetPools(b *testing.B) {
	r := rand.New(rand.NewSource(3))
	for _, s := range [][4]int{ // channels, side, kernel, stride
		{64, 112, 3, 2}, {192, 56, 3, 2}, {480, 28, 3, 2}, {832, 14, 2, 2},
		{192, 28, 3, 1}, {480, 14, 3, 1}, {832, 7, 3, 1},
	} {
		c, side, k, st := s[0], s[1], s[2], s[3]
		pad := 0
		if st == 1 {
			pad = 1
		}
		p := PoolParams{C: c, H: side, W: side, KH: k, KW: k, StrideH: st, StrideW: st, PadT: pad, PadL: pad, PadB: pad, PadR: pad}
		p.OH = PoolOutSize(side, k, st, pad, pad, true)
		p.OW = p.OH
		x := randSlice(r, c*side*side)
		out := make([]float32, c*p.OH*p.OW)
		b.Run(fmt.Sprintf("%dx%dx%d_k%ds%d", c, side, side, k, st), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				MaxPool2D(x, 1, p, out)
			}
			b.ReportMetric(float64(len(x))*float64(b.N)/float64(b.Elapsed().Nanoseconds()), "values/ns")
		})
	}
}
