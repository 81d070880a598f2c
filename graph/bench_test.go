package graph_test

import (
	"testing"

	. "github.com/gnconv/gnconv/graph"
)

// BenchmarkForward times the reference forward pass, batch 2, 3×224×224,
// logits only (the deploy network).
func BenchmarkForward(b *testing.B) {
	for _, name := range []string{"tutorial_aux.pth", "torchvision_aux.pth"} {
		net, _ := loadFixture(b, name, Options{Aux: AuxOff, NonStrict: true})
		x := make([]float32, 2*3*224*224)
		for i := range x {
			x[i] = float32(i%251)/125 - 1
		}
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := net.Forward(x, 2, 224, 224, false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
