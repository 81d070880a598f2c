package interop

import (
	"fmt"
	"testing"

	"github.com/gnconv/gnconv/convert"
	"github.com/gnconv/gnconv/verify"
)

// benchBatches are the batch sizes BenchmarkORT times: one image (each
// layer's work split over the cores), two and eight (images shared out).
var benchBatches = []int{1, 2, 8}

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
			b.Run("ort"+suffix, func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					if _, err := s.Run(x, int64(n), 3, 224, 224); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("interpreter"+suffix, func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					if _, err := m.Run(in); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("reference"+suffix, func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					if _, err := net.Forward(x, n, 224, 224, false); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		s.Close()
	}
}
