package graph_test

import (
	"encoding/binary"
	"fmt"
	"log"
	"math"
	"os"

	"github.com/gnconv/gnconv/convert"
	"github.com/gnconv/gnconv/graph"
)

// readF32 reads a file of little-endian float32 values, as the fixtures
// hold PyTorch's inputs and outputs.
func readF32(path string) []float32 {
	b, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

// Load binds a checkpoint's state dict to the GoogLeNet it describes;
// the report says which layout bound and how.
func ExampleLoad() {
	ck, err := convert.ReadCheckpoint("../fixtures/tutorial_aux.pth")
	if err != nil {
		log.Fatal(err)
	}
	net, report, err := graph.Load(ck.StateDict, graph.Options{}) // strict, layout detected
	if err != nil {
		log.Fatal(err) // a *graph.LoadError words a failed load as PyTorch does
	}
	fmt.Println("layout:", report.Layout.Name)
	fmt.Println("classes:", net.Classes, "aux heads:", net.HasAux())
	fmt.Println("tensors bound:", report.Loaded)
	fmt.Println("outputs:", net.OutputNames(true))
	// Output:
	// layout: tutorial
	// classes: 10 aux heads: true
	// tensors bound: 128
	// outputs: [logits aux1 aux2]
}

// Forward is the reference pass: here on the input PyTorch ran, and
// compared with the logits it recorded.
func ExampleNet_Forward() {
	ck, err := convert.ReadCheckpoint("../fixtures/tutorial_aux.pth")
	if err != nil {
		log.Fatal(err)
	}
	net, _, err := graph.Load(ck.StateDict, graph.Options{})
	if err != nil {
		log.Fatal(err)
	}
	x := readF32("../fixtures/input_2x3x224x224.f32") // NCHW
	outs, err := net.Forward(x, 2, 224, 224, false)
	if err != nil {
		log.Fatal(err)
	}
	logits := outs[0]
	torch := readF32("../fixtures/tutorial_aux.logits.f32")
	worst := 0.0
	for i, v := range logits.Data {
		worst = math.Max(worst, math.Abs(float64(v-torch[i])))
	}
	fmt.Println(logits.Name, logits.Shape)
	fmt.Println("within 1e-4 of PyTorch:", worst < 1e-4)
	// Output:
	// logits [2 10]
	// within 1e-4 of PyTorch: true
}
