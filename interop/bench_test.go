package interop

import (
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/gnconv/gnconv/convert"
	"github.com/gnconv/gnconv/verify"
)

// benchBatches are the batch sizes BenchmarkORT times: one image (each
// layer's work split over the cores), two and eight (images shared out).
var benchBatches = []int{1, 2, 8}

// engineOrderEnv set to "reversed" makes BenchmarkORT time the engines
// in the other order (the reference pass first, onnxruntime last), so
// that make bench can alternate the order round by round: what runs
// first or after another engine does not then favour one of them.
const engineOrderEnv = "GNCONV_BENCH_ENGINE_ORDER"

// BenchmarkORT times onnxruntime (CPU, 2 threads), the interpreter and the
// reference pass on gnconv's emitted deploy files, 3×224×224, at each of
// benchBatches: the anchor of the speed targets. Names are
// BenchmarkORT/<engine>/<fixture>/batch<N>.
func BenchmarkORT(b *testing.B) {
	if err := Init(); err != nil {
		b.Skip(err)
	}
	t := &testing.T{}
	for _, mf := range loadModels(t, false) {
		model, err := convert.EmitONNX(mf.net.WithoutAux(), convert.ONNXOptions{})
		if err != nil {
			b.Fatal(err)
		}
		data, _ := model.Marshal()
		s, err := NewSession(data, "input", []string{"logits"}, 2)
		if err != nil {
			b.Fatal(err)
		}
		m, err := verify.Parse(data)
		if err != nil {
			b.Fatal(err)
		}
		net := mf.net.WithoutAux()
		image := len(mf.x) / 2 // the fixture's input is two images
		for _, n := range benchBatches {
			// the fixture's images, repeated
			x := make([]float32, n*image)
			for i := 0; i < n; i++ {
				copy(x[i*image:], mf.x[i%2*image:(i%2+1)*image])
			}
			in := map[string]*verify.Value{"input": {Shape: []int{n, 3, 224, 224}, F: x}}
			suffix := fmt.Sprintf("/%s/batch%d", mf.name, n)
			engines := []struct {
				name string
				pass func() error
			}{
				{"ort", func() error { _, err := s.Run(x, int64(n), 3, 224, 224); return err }},
				{"interpreter", func() error { _, err := m.Run(in); return err }},
				{"reference", func() error { _, err := net.Forward(x, n, 224, 224, false); return err }},
			}
			if os.Getenv(engineOrderEnv) == "reversed" {
				slices.Reverse(engines)
			}
			for _, e := range engines {
				b.Run(e.name+suffix, func(b *testing.B) {
					for i := 0; i < b.N; i++ {
						if err := e.pass(); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
		s.Close()
	}
}
