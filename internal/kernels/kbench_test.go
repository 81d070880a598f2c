package kernels

import "testing"

func BenchmarkKernel6x16(b *testing.B) {
	k := 256
	a, bb, c := make([]float32, 6*k+1), make([]float32, 16*k+1), make([]float32, 6*16)
	for i := 0; i < b.N; i++ {
		kernel6x16(k, &a[0], &bb[0], &c[0], 16)
	}
	b.ReportMetric(float64(2*6*16*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
}
