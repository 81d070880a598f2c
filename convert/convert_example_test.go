package convert_test

import (
	"bytes"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/gnconv/gnconv/convert"
	"github.com/gnconv/gnconv/graph"
)

// ReadCheckpoint reads a torch.save file without running any of its
// pickle and finds the state dict in it.
func ExampleReadCheckpoint() {
	ck, err := convert.ReadCheckpoint("../fixtures/tutorial_aux.pth")
	if err != nil {
		log.Fatal(err) // errors.Is(err, convert.ErrFormat) for a file that is no checkpoint
	}
	fmt.Println("format:", ck.Format, ck.ByteOrder)
	fmt.Println("tensors:", ck.StateDict.Len())
	first := ck.StateDict.Names[0]
	t := ck.StateDict.Tensors[first]
	fmt.Println("first:", first, t.DType, t.Shape)
	// Output:
	// format: zip little
	// tensors: 128
	// first: conv1.conv.weight float16 [64 3 7 7]
}

// EmitONNX writes the bound network as an ONNX model: here the training
// network with its aux heads as outputs, written to a file.
func ExampleEmitONNX() {
	ck, err := convert.ReadCheckpoint("../fixtures/tutorial_aux.pth")
	if err != nil {
		log.Fatal(err)
	}
	net, report, err := graph.Load(ck.StateDict, graph.Options{})
	if err != nil {
		log.Fatal(err)
	}
	model, err := convert.EmitONNX(net, convert.ONNXOptions{
		Aux:        true,
		SourceFile: "tutorial_aux.pth",
		Assumed:    report.Assumed, // recorded in the model's metadata
	})
	if err != nil {
		log.Fatal(err)
	}
	data, err := model.Marshal()
	if err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "gnconv-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "googlenet.onnx"), data, 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Println("outputs:", model.Outputs)
	fmt.Println("parameters:", model.Parameters)
	fmt.Println("opset:", model.Model.OpsetImport[0].GetVersion())
	// Output:
	// outputs: [logits aux1 aux2]
	// parameters: 10334030
	// opset: 17
}

// WriteCheckpoint writes a state dict that PyTorch loads: here the
// deploy checkpoint, without the aux heads' entries.
func ExampleWriteCheckpoint() {
	ck, err := convert.ReadCheckpoint("../fixtures/tutorial_aux.pth")
	if err != nil {
		log.Fatal(err)
	}
	_, report, err := graph.Load(ck.StateDict, graph.Options{})
	if err != nil {
		log.Fatal(err)
	}
	deploy, removed := graph.StripAux(ck.StateDict, graph.AuxEntries(ck.StateDict, report))
	var buf bytes.Buffer
	if err := convert.WriteCheckpoint(&buf, deploy); err != nil {
		log.Fatal(err)
	}
	back, err := convert.ReadCheckpointBytes(buf.Bytes())
	if err != nil {
		log.Fatal(err)
	}
	net, _, err := graph.Load(back.StateDict, graph.Options{Aux: graph.AuxOff})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("removed:", len(removed), "kept:", back.StateDict.Len())
	fmt.Println("aux heads:", net.HasAux())
	// Output:
	// removed: 12 kept: 116
	// aux heads: false
}
