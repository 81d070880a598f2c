package verify_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/gnconv/gnconv/convert"
	"github.com/gnconv/gnconv/graph"
	"github.com/gnconv/gnconv/tensor"
	"github.com/gnconv/gnconv/verify"
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

// tutorialNet reads and binds the tutorial fixture.
func tutorialNet() *graph.Net {
	ck, err := convert.ReadCheckpoint("../fixtures/tutorial_aux.pth")
	if err != nil {
		log.Fatal(err)
	}
	net, _, err := graph.Load(ck.StateDict, graph.Options{})
	if err != nil {
		log.Fatal(err)
	}
	return net
}

// writeONNX emits net as an ONNX file in dir and returns its path.
func writeONNX(net *graph.Net, dir string, opts convert.ONNXOptions) string {
	model, err := convert.EmitONNX(net, opts)
	if err != nil {
		log.Fatal(err)
	}
	data, err := model.Marshal()
	if err != nil {
		log.Fatal(err)
	}
	path := filepath.Join(dir, "googlenet.onnx")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		log.Fatal(err)
	}
	return path
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// Parse and Run make the interpreter a small inference engine: read an
// ONNX file once, then run it on batches, from as many goroutines as
// wanted.
func ExampleModel_Run() {
	dir, err := os.MkdirTemp("", "gnconv-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := writeONNX(tutorialNet(), dir, convert.ONNXOptions{Softmax: true})

	data, err := verify.ReadFile(path, verify.Limits{}) // a regular file, within the limits
	if err != nil {
		log.Fatal(err)
	}
	model, err := verify.Parse(data)
	if err != nil {
		log.Fatal(err)
	}
	in := model.Inputs[0]
	fmt.Println("input:", in.Name, in.Shape, "output:", model.Outputs[0].Name)

	x := &verify.Value{Shape: []int{2, 3, 224, 224}, F: readF32("../fixtures/input_2x3x224x224.f32")}
	outs, err := model.Run(map[string]*verify.Value{in.Name: x})
	if err != nil {
		log.Fatal(err)
	}
	probs := outs[0]
	torch := readF32("../fixtures/tutorial_aux.logits.f32") // PyTorch's logits for the same input
	for i := 0; i < probs.Shape[0]; i++ {
		row := probs.F[i*probs.Shape[1] : (i+1)*probs.Shape[1]]
		fmt.Printf("image %d: class %d (PyTorch: class %d)\n", i, argmax(row), argmax(torch[i*10:(i+1)*10]))
	}
	// Output:
	// input: input [-1 3 224 224] output: probabilities
	// image 0: class 6 (PyTorch: class 6)
	// image 1: class 6 (PyTorch: class 6)
}

// RunContext stops a run when its context is done.
func ExampleModel_RunContext() {
	dir, err := os.MkdirTemp("", "gnconv-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	data, err := verify.ReadFile(writeONNX(tutorialNet(), dir, convert.ONNXOptions{}), verify.Limits{})
	if err != nil {
		log.Fatal(err)
	}
	model, err := verify.Parse(data)
	if err != nil {
		log.Fatal(err)
	}
	x := &verify.Value{Shape: []int{2, 3, 224, 224}, F: readF32("../fixtures/input_2x3x224x224.f32")}
	inputs := map[string]*verify.Value{model.Inputs[0].Name: x}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	outs, err := model.RunContext(ctx, inputs)
	fmt.Println(outs[0].Shape, err)

	cancel()
	_, err = model.RunContext(ctx, inputs)
	fmt.Println(err)
	// Output:
	// [2 10] <nil>
	// context canceled
}

// Run verifies an ONNX file: it runs the file and the reference pass of
// the weights on the same inputs, and, given Expect, compares both with
// the outputs PyTorch recorded (what `gnconv import --expect expect.pt`
// reads: torch.save({"input": x, "logits": y, "aux1": a1, "aux2": a2})).
func ExampleRun() {
	net := tutorialNet()
	model, err := convert.EmitONNX(net, convert.ONNXOptions{Aux: true})
	if err != nil {
		log.Fatal(err)
	}
	data, err := model.Marshal()
	if err != nil {
		log.Fatal(err)
	}

	// The expect file's state dict, made here from the fixtures' raw
	// floats; an expect.pt is read with convert.ReadCheckpoint.
	recorded := tensor.NewStateDict()
	recorded.Set("input", tensor.NewFloat32([]int{2, 3, 224, 224}, readF32("../fixtures/input_2x3x224x224.f32")))
	for _, name := range []string{"logits", "aux1", "aux2"} {
		recorded.Set(name, tensor.NewFloat32([]int{2, 10}, readF32("../fixtures/tutorial_aux."+name+".f32")))
	}
	expect, err := verify.ExpectedFrom(recorded)
	if err != nil {
		log.Fatal(err)
	}

	report, err := verify.Run(data, net, verify.Options{Inputs: 1, Seed: 1, Expect: expect})
	if err != nil {
		log.Fatal(err)
	}
	for _, o := range report.Outputs {
		fmt.Printf("%s: top-1 agreement %.0f%%, pass %v\n", o.Name, 100*o.Top1, o.Pass)
	}
	for _, c := range report.Expect.Checks {
		fmt.Printf("PyTorch's %s: ONNX pass %v, reference pass %v\n", c.Name, c.ONNX.Pass, c.Reference.Pass)
	}
	fmt.Println("pass:", report.Pass)
	// Output:
	// logits: top-1 agreement 100%, pass true
	// aux1: top-1 agreement 100%, pass true
	// aux2: top-1 agreement 100%, pass true
	// PyTorch's logits: ONNX pass true, reference pass true
	// PyTorch's aux1: ONNX pass true, reference pass true
	// PyTorch's aux2: ONNX pass true, reference pass true
	// pass: true
}
