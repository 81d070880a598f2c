package verify

import (
	"testing"

	"github.com/gnconv/gnconv/internal/onnxpb"
	"google.golang.org/protobuf/proto"
)

// FuzzParse holds the ONNX reader to an error or a model, never a panic,
// on arbitrary bytes.
func FuzzParse(f *testing.F) {
	relu := &onnxpb.NodeProto{OpType: proto.String("Relu"), Input: []string{"x"}, Output: []string{"y"}}
	f.Add(tinyModel(17, relu))
	f.Add(tinyModel(13, &onnxpb.NodeProto{OpType: proto.String("Reshape"), Input: []string{"x", "s"}, Output: []string{"y"}},
		&onnxpb.TensorProto{Name: proto.String("s"), Dims: []int64{2}, DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Int64Data: []int64{1, -1}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err == nil && m == nil {
			t.Fatal("no model and no error")
		}
	})
}
