package verify

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gnconv/gnconv/internal/onnxpb"
	"github.com/gnconv/gnconv/internal/safeopen"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// Hostile files: each is a few hundred bytes (or, for the node count, a
// few megabytes) that would make an unbounded interpreter allocate or
// compute without end. Each is made here by its own generator, and each
// must end in a one-line error, quickly, within a memory bound.

func hvi(name string, shape ...int64) *onnxpb.ValueInfoProto {
	tt := &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(onnxpb.TensorProto_FLOAT))}
	if shape != nil {
		tt.Shape = &onnxpb.TensorShapeProto{}
		for _, d := range shape {
			tt.Shape.Dim = append(tt.Shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
		}
	}
	return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: tt}}}
}

func hnode(op string, in []string, out string, a ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
	return &onnxpb.NodeProto{OpType: proto.String(op), Name: proto.String(out), Input: in, Output: []string{out}, Attribute: a}
}

func hints(name string, v ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: v}
}

func hfloats(name string, dims []int64, n int) *onnxpb.TensorProto {
	return &onnxpb.TensorProto{Name: proto.String(name), Dims: dims, DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), RawData: make([]byte, 4*n)}
}

func hint64s(name string, v ...int64) *onnxpb.TensorProto {
	return &onnxpb.TensorProto{Name: proto.String(name), Dims: []int64{int64(len(v))}, DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Int64Data: v}
}

// hmodel is an opset-17 model of nodes, inputs and one output "y".
func hmodel(nodes []*onnxpb.NodeProto, inputs []*onnxpb.ValueInfoProto, inits []*onnxpb.TensorProto, valueInfo ...*onnxpb.ValueInfoProto) []byte {
	pm := &onnxpb.ModelProto{IrVersion: proto.Int64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: proto.Int64(17)}},
		Graph: &onnxpb.GraphProto{Name: proto.String("hostile"), Node: nodes, Initializer: inits, Input: inputs,
			Output: []*onnxpb.ValueInfoProto{hvi("y")}, ValueInfo: valueInfo}}
	b, err := proto.Marshal(pm)
	if err != nil {
		panic(err)
	}
	return b
}

// chainModel is n nodes of op, each reading the one before, written
// straight as protobuf bytes (building a million messages would itself
// be slow).
func chainModel(op string, n int) []byte {
	var graph []byte
	for i := 0; i < n; i++ {
		var node []byte
		in, out := fmt.Sprintf("v%d", i), fmt.Sprintf("v%d", i+1)
		if i == 0 {
			in = "x"
		}
		if i == n-1 {
			out = "y"
		}
		node = protowire.AppendTag(node, 1, protowire.BytesType)
		node = protowire.AppendString(node, in)
		node = protowire.AppendTag(node, 2, protowire.BytesType)
		node = protowire.AppendString(node, out)
		node = protowire.AppendTag(node, 4, protowire.BytesType)
		node = protowire.AppendString(node, op)
		graph = protowire.AppendTag(graph, fieldGraphNode, protowire.BytesType)
		graph = protowire.AppendBytes(graph, node)
	}
	io, _ := proto.Marshal(&onnxpb.GraphProto{Input: []*onnxpb.ValueInfoProto{hvi("x", 1, 4)}, Output: []*onnxpb.ValueInfoProto{hvi("y")}})
	graph = append(graph, io...)
	head, _ := proto.Marshal(&onnxpb.ModelProto{IrVersion: proto.Int64(8), OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: proto.Int64(17)}}})
	head = protowire.AppendTag(head, fieldModelGraph, protowire.BytesType)
	return protowire.AppendBytes(head, graph)
}

// hostileCase is a file and what its one-line error must say.
type hostileCase struct {
	name string
	data func() []byte
	want string
}

func hostileCases() []hostileCase {
	x := func(shape ...int64) []*onnxpb.ValueInfoProto { return []*onnxpb.ValueInfoProto{hvi("x", shape...)} }
	var doubling []*onnxpb.NodeProto
	prev := "x"
	for i := 0; i < 40; i++ {
		out := fmt.Sprintf("c%d", i)
		if i == 39 {
			out = "y"
		}
		doubling = append(doubling, hnode("Concat", []string{prev, prev}, out, intAttr("axis", 1)))
		prev = out
	}
	return []hostileCase{
		{"declared input 30000x30000", func() []byte {
			return hmodel([]*onnxpb.NodeProto{hnode("Relu", []string{"x"}, "y")}, x(1, 1, 30000, 30000), nil)
		}, "elements"},
		{"Conv pads 1e5", func() []byte {
			return hmodel([]*onnxpb.NodeProto{hnode("Conv", []string{"x", "w"}, "y", hints("pads", 100000, 100000, 100000, 100000))},
				x(1, 1, 8, 8), []*onnxpb.TensorProto{hfloats("w", []int64{1, 1, 1, 1}, 1)})
		}, "elements in one tensor"},
		{"1x1 Conv to 65536 channels", func() []byte {
			return hmodel([]*onnxpb.NodeProto{hnode("Conv", []string{"x", "w"}, "y")},
				x(1, 1, 64, 64), []*onnxpb.TensorProto{hfloats("w", []int64{65536, 1, 1, 1}, 65536)})
		}, "elements in one tensor"},
		{"outer-product broadcast", func() []byte {
			return hmodel([]*onnxpb.NodeProto{hnode("Mul", []string{"x", "b"}, "y")},
				[]*onnxpb.ValueInfoProto{hvi("x", 65536, 1), hvi("b", 1, 65536)}, nil)
		}, "elements in one tensor"},
		{"doubling Concat chain", func() []byte { return hmodel(doubling, x(1, 1024), nil) }, "elements in one tensor"},
		{"Pad to 2^30", func() []byte {
			return hmodel([]*onnxpb.NodeProto{hnode("Pad", []string{"x", "p"}, "y")},
				x(1, 1, 8, 8), []*onnxpb.TensorProto{hint64s("p", 0, 0, 0, 0, 0, 0, 32768-8, 32768-8)})
		}, "elements in one tensor"},
		{"Gather bomb", func() []byte {
			// each Gather replaces an axis by the indices' two: 64·128 times more
			i := hint64s("i", make([]int64, 64*128)...)
			i.Dims = []int64{64, 128}
			return hmodel([]*onnxpb.NodeProto{hnode("Gather", []string{"x", "i"}, "g1", intAttr("axis", 1)),
				hnode("Gather", []string{"g1", "i"}, "g2", intAttr("axis", 2)), hnode("Gather", []string{"g2", "i"}, "y", intAttr("axis", 3))},
				x(1, 16), []*onnxpb.TensorProto{i})
		}, "elements in one tensor"},
		{"Reshape dims overflowing int64", func() []byte {
			return hmodel([]*onnxpb.NodeProto{hnode("Reshape", []string{"x", "s"}, "r"), hnode("Relu", []string{"r"}, "y")},
				x(1, 4), []*onnxpb.TensorProto{hint64s("s", 1<<62, 4, 4, -1)})
		}, "overflow"},
		{"value_info of 1 TiB", func() []byte {
			return hmodel([]*onnxpb.NodeProto{hnode("Relu", []string{"x"}, "y")}, x(1, 4), nil, hvi("big", 1<<18, 1<<20))
		}, "value_info"},
		{"10^6 Identity nodes", func() []byte { return chainModel("Identity", 1_000_000) }, "nodes"},
		{"batch that wraps", func() []byte {
			// 2^62 · 4 · 4 · 4 wraps to 0 in int64
			return hmodel([]*onnxpb.NodeProto{hnode("Relu", []string{"x"}, "y")}, x(1<<62, 4, 4, 4), nil)
		}, "elements"},
	}
}

// runHostile parses a file and runs it on inputs of its declared shapes
// (symbolic dimensions 1), returning the first error.
func runHostile(data []byte) error {
	m, err := Parse(data)
	if err != nil {
		return err
	}
	in := map[string]*Value{}
	for _, io := range m.Inputs {
		shape := make([]int, len(io.Shape))
		n := 1
		for i, d := range io.Shape {
			shape[i] = max(d, 1)
			n *= shape[i]
		}
		in[io.Name] = &Value{Shape: shape, F: make([]float32, n)}
	}
	_, err = m.Run(in)
	return err
}

// TestHostileFiles: every class ends in a one-line error, in a second or
// two.
func TestHostileFiles(t *testing.T) {
	for _, c := range hostileCases() {
		t.Run(c.name, func(t *testing.T) {
			data := c.data()
			start := time.Now()
			err := runHostile(data)
			took := time.Since(start)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") || !strings.Contains(msg, c.want) {
				t.Errorf("error %q: want one line saying %q", msg, c.want)
			}
			if took > 2*time.Second {
				t.Errorf("took %v", took)
			}
			t.Logf("%d bytes, %v: %s", len(data), took.Round(time.Millisecond), msg)
		})
	}
}

// TestHostileBatch: verify.Run refuses a file whose declared batch, or a
// --batch, would make an input beyond the limits (or wrap), before the
// reference pass or the interpreter allocates anything.
func TestHostileBatch(t *testing.T) {
	net := fixtureNet(t, "tutorial_aux.pth")
	for _, c := range []struct {
		batch int64
		opts  Options
	}{{1 << 62, Options{}}, {-1, Options{Batch: 1 << 40}}, {4611686018427387904 / 3, Options{}}} {
		data := hmodel([]*onnxpb.NodeProto{hnode("Relu", []string{"x"}, "y")}, []*onnxpb.ValueInfoProto{hvi("x", c.batch, 3, 224, 224)}, nil)
		start := time.Now()
		_, err := Run(data, net, c.opts)
		var le *LimitError
		if err == nil || !errors.As(err, &le) || strings.Contains(err.Error(), "\n") || time.Since(start) > 2*time.Second {
			t.Errorf("batch %d, options %+v: %v", c.batch, c.opts, err)
		}
	}
}

// TestNonRegularFileRefused: a device, a FIFO or a file over the size
// limit is refused before it is read.
func TestNonRegularFileRefused(t *testing.T) {
	if runtime.GOOS != "windows" {
		if _, err := ReadFile("/dev/zero", Limits{}); err == nil || !errors.Is(err, safeopen.ErrNotRegular) {
			t.Errorf("/dev/zero: %v", err)
		}
	}
	if _, err := ReadFile(t.TempDir(), Limits{}); err == nil {
		t.Error("a directory was read")
	}
	if runtime.GOOS == "linux" {
		// a FIFO with no writer: opening it for reading would block
		fifo := filepath.Join(t.TempDir(), "fifo.onnx")
		if err := exec.Command("mkfifo", fifo).Run(); err == nil {
			if _, err := ReadFile(fifo, Limits{}); err == nil || !errors.Is(err, safeopen.ErrNotRegular) {
				t.Errorf("a FIFO: %v", err)
			}
		}
	}
	p := filepath.Join(t.TempDir(), "m.onnx")
	if err := os.WriteFile(p, tinyModel(17, hnode("Relu", []string{"x"}, "y")), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(p, Limits{MaxFileBytes: 10}); err == nil || !strings.Contains(err.Error(), "over the limit") {
		t.Errorf("a file over the limit: %v", err)
	}
	data, err := ReadFile(p, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(data); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseLimits(data, Limits{MaxFileBytes: 10}); err == nil {
		t.Error("Parse read bytes over the limit")
	}
}

// TestHostileFilesMemoryBound runs TestHostileFiles again in a child
// process whose address space prlimit holds to 2 GB.
func TestHostileFilesMemoryBound(t *testing.T) {
	if os.Getenv("GNCONV_HOSTILE_CHILD") != "" {
		t.Skip("in the child")
	}
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("prlimit (util-linux) is needed in CI")
		}
		t.Skip("prlimit not installed")
	}
	cmd := exec.Command(prlimit, "--as=2000000000", os.Args[0], "-test.run=^TestHostileFiles$", "-test.count=1")
	cmd.Env = append(os.Environ(), "GNCONV_HOSTILE_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "PASS") {
		t.Fatalf("under prlimit --as=2000000000: %v\n%s", err, out)
	}
}

// TestLongChainRuns: a graph just under the node limit parses and runs
// in a few seconds.
func TestLongChainRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	data := chainModel("Relu", DefaultLimits().MaxNodes-1)
	start := time.Now()
	if err := runHostile(data); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("%d nodes took %v", DefaultLimits().MaxNodes-1, took)
	}
}
