package interop

import (
	"context"
	"fmt"
	"testing"

	"github.com/gnconv/gnconv/convert"
	"github.com/gnconv/gnconv/verify"
	"github.com/gnconv/gnconv/verify/imageprep"
)

// TestFloat16OnPhotographs: each fixture's float16 file (float32 in and
// out, as import --dtype float16 writes it) passes verify's float16 bound
// over the whole photo folder with top-1 agreement of 99% or more with
// the float32 reference, and onnxruntime's logits on the first images
// are within the same bound of the reference.
func TestFloat16OnPhotographs(t *testing.T) {
	requireORT(t)
	dir := photoFolder(t)
	f, err := imageprep.ScanFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, fx := range []struct{ name, preset string }{{"tutorial_aux.pth", "tutorial"}, {"torchvision_aux.pth", "imagenet"}} {
		net := deployNet(t, fx.name)
		em, err := convert.EmitONNX(net, convert.ONNXOptions{Version: "test", Float16: true})
		if err != nil {
			t.Fatal(err)
		}
		data, err := em.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		m, err := verify.Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		h, w := net.Size[0], net.Size[1]
		spec, err := imageprep.Preset(fx.preset, h, w, net.InChannels)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := verify.RunFolder(context.Background(), m, net, f, verify.FolderOptions{Spec: spec})
		if err != nil {
			t.Fatalf("%s: %v", fx.name, err)
		}
		o := rep.Outputs[0]
		msg := fmt.Sprintf("%s float16 on %d images: logits max abs %.3g (bound %.3g), top-1 agreement %.2f%%, top-5 %.2f%%",
			fx.name, rep.Images, o.MaxAbs, o.Bound, 100*o.Top1, 100*o.Top5)
		t.Log(msg)
		if !rep.Pass || o.Top1 < 0.99 {
			t.Errorf("%s: fails the float16 bound or agrees on fewer than 99%% of top-1 classes", msg)
		}
		// onnxruntime on the first images
		n := 16
		size := net.InChannels * h * w
		x := make([]float32, n*size)
		for i := 0; i < n; i++ {
			if err := spec.Load(f.Items[i*len(f.Items)/n].Path, net.InChannels, 0, x[i*size:(i+1)*size]); err != nil {
				t.Fatal(err)
			}
		}
		outs, err := Run(data, "input", []string{"logits"}, x, int64(n), int64(net.InChannels), int64(h), int64(w))
		if err != nil {
			t.Fatalf("%s: onnxruntime: %v", fx.name, err)
		}
		ref, err := net.Forward(x, n, h, w, false)
		if err != nil {
			t.Fatal(err)
		}
		d, mx := maxErr(outs[0], ref[0].Data)
		if bound := verify.DefaultATolFloat16 + verify.DefaultRTolFloat16*mx; !(d <= bound) {
			t.Errorf("%s: onnxruntime's float16 logits on %d photographs: max abs %.3g over %.3g", fx.name, n, d, bound)
		}
	}
}
