package kernels

import (
	"fmt"
	"math/rand"
	"testing"
)

// BenchmarkLayerGEMM times single-core GEMMs of GoogLeNet's shapes with the
// weights packed beforehand, as a convolution runs them.
func BenchmarkLayerGEMM(b *testing.B) {
	r := rand.New(rand.NewSource(8))
	for _, s := range [][3]int{{64, 3136, 64}, {192, 3136, 576}, {128, 784, 256}, {16, 784, 192}, {128, 784, 864}, {192, 196, 480}, {48, 196, 400}, {384, 49, 832}, {64, 12544, 147}} {
		m, n, k := s[0], s[1], s[2]
		a, bb, c := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
		pa := PackMatrix(m, k, a)
		ep := Epilogue{Shift: randSlice(r, m), ReLU: true}
		b.Run(fmt.Sprintf("%dx%dx%d", m, n, k), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				matMulSerial(pa, n, bb, c, ep)
			}
			b.ReportMetric(float64(2*m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
		})
	}
}
