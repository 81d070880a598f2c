package kernels

import (
	"flag"
	"fmt"
	"math/rand"
	"os"
	"testing"
)

// TestMain prints the micro-kernel in use as a configuration line of the
// benchmark output ("kernel: neon 6x16"), beside goos, goarch and cpu:
// the benchmarks' names do not say which kernel ran, and results of
// different kernels (GNCONV_KERNEL, or another machine) must not be
// compared as one (benchstat keeps them apart by this line).
func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f != nil && f.Value.String() != "" {
		fmt.Printf("kernel: %s\n", KernelName())
	}
	os.Exit(m.Run())
}

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
				matMulSerial(pa, denseB{bb, n}, n, c, ep)
			}
			b.ReportMetric(float64(2*m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
		})
	}
}

// googLeNetConvs lists GoogLeNet's convolutions at 224×224 (branch3's
// second kernel 3 as torchvision has it, 5 as the tutorial layout): input
// channels, size, output channels, kernel, stride, padding.
func googLeNetConvs(k3 int) [][6]int {
	convs := [][6]int{{3, 224, 64, 7, 2, 3}, {64, 56, 64, 1, 1, 0}, {64, 56, 192, 3, 1, 1}}
	for _, u := range []struct{ in, size, b1, b2r, b2, b3r, b3, b4 int }{
		{192, 28, 64, 96, 128, 16, 32, 32}, {256, 28, 128, 128, 192, 32, 96, 64},
		{480, 14, 192, 96, 208, 16, 48, 64}, {512, 14, 160, 112, 224, 24, 64, 64},
		{512, 14, 128, 128, 256, 24, 64, 64}, {512, 14, 112, 144, 288, 32, 64, 64},
		{528, 14, 256, 160, 320, 32, 128, 128}, {832, 7, 256, 160, 320, 32, 128, 128},
		{832, 7, 384, 192, 384, 48, 128, 128},
	} {
		convs = append(convs, [6]int{u.in, u.size, u.b1, 1, 1, 0}, [6]int{u.in, u.size, u.b2r, 1, 1, 0},
			[6]int{u.b2r, u.size, u.b2, 3, 1, 1}, [6]int{u.in, u.size, u.b3r, 1, 1, 0},
			[6]int{u.b3r, u.size, u.b3, k3, 1, k3 / 2}, [6]int{u.in, u.size, u.b4, 1, 1, 0})
	}
	return convs
}

// BenchmarkGoogLeNetConvs times each of GoogLeNet's convolutions (both
// layouts) on a batch of 2 (one image per core), with bias and ReLU, as
// the forward pass runs them; "all" runs a layout's one after another.
func BenchmarkGoogLeNetConvs(b *testing.B) {
	for _, layout := range []struct {
		name string
		k3   int
	}{{"torchvision", 3}, {"tutorial", 5}} {
		benchConvs(b, layout.name, 2, googLeNetConvs(layout.k3))
	}
}

// BenchmarkGoogLeNetConvsBatch1 is BenchmarkGoogLeNetConvs on one image,
// each layer's work split over the cores.
func BenchmarkGoogLeNetConvsBatch1(b *testing.B) {
	benchConvs(b, "torchvision", 1, googLeNetConvs(3))
}

func benchConvs(b *testing.B, name string, batch int, convs [][6]int) {
	r := rand.New(rand.NewSource(11))
	type layer struct {
		p     ConvParams
		w     *PackedMatrix
		x, y  []float32
		ep    Epilogue
		flops float64
	}
	var layers []layer
	for _, c := range convs {
		p := ConvParams{InC: c[0], H: c[1], W: c[1], OutC: c[2], KH: c[3], KW: c[3], StrideH: c[4], StrideW: c[4],
			PadT: c[5], PadL: c[5], PadB: c[5], PadR: c[5]}
		oh, ow := p.OutSize()
		l := layer{p: p, w: PackConvWeights(p, randSlice(r, p.OutC*p.InC*p.KH*p.KW)),
			x: randSlice(r, batch*p.InC*p.H*p.W), y: make([]float32, batch*p.OutC*oh*ow),
			ep: Epilogue{Shift: randSlice(r, p.OutC), ReLU: true}, flops: float64(2 * batch * p.OutC * oh * ow * p.InC * p.KH * p.KW)}
		layers = append(layers, l)
	}
	var total float64
	for _, l := range layers {
		total += l.flops
	}
	b.Run(name+"/all", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			for _, l := range layers {
				Conv2D(l.x, batch, l.p, l.w, l.ep, l.y)
			}
		}
		b.ReportMetric(total*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
	})
	for _, l := range layers {
		p := l.p
		b.Run(fmt.Sprintf("%s/%dx%d_%d-%d_k%ds%d", name, p.H, p.W, p.InC, p.OutC, p.KH, p.StrideH), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				Conv2D(l.x, batch, l.p, l.w, l.ep, l.y)
			}
			b.ReportMetric(l.flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
		})
	}
}

// BenchmarkShiftPack times packing the columns of 3x3 and 5x5
// convolutions straight from the image, block by block, as a GEMM does.
func BenchmarkShiftPack(b *testing.B) {
	r := rand.New(rand.NewSource(12))
	for _, c := range [][3]int{{96, 28, 3}, {16, 28, 5}, {160, 7, 3}, {32, 14, 5}} {
		p := ConvParams{InC: c[0], H: c[1], W: c[1], OutC: 8, KH: c[2], KW: c[2], StrideH: 1, StrideW: 1,
			PadT: c[2] / 2, PadL: c[2] / 2, PadB: c[2] / 2, PadR: c[2] / 2}
		img := randSlice(r, p.InC*p.H*p.W)
		var phases []float32
		src, ok := newShiftConvB(img, p, &phases)
		if !ok {
			b.Fatal("not a shifted convolution")
		}
		k, n := p.InC*p.KH*p.KW, p.H*p.W
		dst := make([]float32, nc*kc+nc/16*panelPad+1)
		b.Run(fmt.Sprintf("%dx%d_%d_k%d", p.H, p.W, p.InC, p.KH), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				for jc := 0; jc < n; jc += nc {
					for pc := 0; pc < k; pc += kc {
						kcur := min(kc, k-pc)
						src.pack(kernel.nr, kernel.nr*kcur+panelPad, pc, kcur, jc, min(nc, n-jc), dst)
					}
				}
			}
			b.ReportMetric(float64(k*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gvalues/s")
		})
	}
}
