package interop

import (
	"testing"

	"github.com/gnconv/gnconv/convert"
	"github.com/gnconv/gnconv/verify"
)

// BenchmarkORT times onnxruntime (CPU, 2 threads) on gnconv's emitted
// deploy files, batch 2, 3×224×224: the anchor of the speed targets.
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
		b.Run("ort/"+mf.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := s.Run(mf.x, 2, 3, 224, 224); err != nil {
					b.Fatal(err)
				}
			}
		})
		s.Close()
		m, err := verify.Parse(data)
		if err != nil {
			b.Fatal(err)
		}
		in := map[string]*verify.Value{"input": {Shape: []int{2, 3, 224, 224}, F: mf.x}}
		b.Run("interpreter/"+mf.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := m.Run(in); err != nil {
					b.Fatal(err)
				}
			}
		})
		net := mf.net.WithoutAux()
		b.Run("reference/"+mf.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := net.Forward(mf.x, 2, 224, 224, false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
