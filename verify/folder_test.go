package verify_test

import (
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gnconv/gnconv/convert"
	"github.com/gnconv/gnconv/graph"
	"github.com/gnconv/gnconv/internal/preprocess"
	"github.com/gnconv/gnconv/verify"
	"github.com/gnconv/gnconv/verify/imageprep"
	"google.golang.org/protobuf/proto"
)

// writeFolder makes an image folder of classes × perClass PNGs of
// distinct colours and sizes.
func writeFolder(t *testing.T, classes []string, perClass int) string {
	t.Helper()
	root := t.TempDir()
	for ci, c := range classes {
		dir := filepath.Join(root, c)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for k := 0; k < perClass; k++ {
			w, h := 60+13*k, 50+7*ci
			img := image.NewNRGBA(image.Rect(0, 0, w, h))
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					img.Set(x, y, color.NRGBA{uint8(40*ci + x), uint8(30*k + y), uint8(x * y), 255})
				}
			}
			f, err := os.Create(filepath.Join(dir, string(rune('a'+k))+".png"))
			if err != nil {
				t.Fatal(err)
			}
			if err := png.Encode(f, img); err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
	}
	return root
}

type countingHistogram struct {
	mu     sync.Mutex
	values int
}

func (c *countingHistogram) Add(float64) { c.mu.Lock(); c.values++; c.mu.Unlock() }

// TestRunFolder: every image is run once through both passes, in
// batches whatever the folder's size, labelled by sub-folder order or by
// name, and the file passes; the same folder with a wrong file fails.
func TestRunFolder(t *testing.T) {
	n := net(t, "tutorial_aux.pth")
	data, err := proto.Marshal(emit(t, n, convert.ONNXOptions{Aux: true}))
	if err != nil {
		t.Fatal(err)
	}
	root := writeFolder(t, []string{"b_class", "a_class", "c_class"}, 3)
	f, err := imageprep.ScanFolder(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Items) != 9 || strings.Join(f.Classes, ",") != "a_class,b_class,c_class" {
		t.Fatalf("scanned %d images, classes %v", len(f.Items), f.Classes)
	}
	spec, err := imageprep.Preset("imagenet", 224, 224, 3)
	if err != nil {
		t.Fatal(err)
	}
	var progress []int
	hist := &countingHistogram{}
	rep, err := runFolder(t, context.Background(), data, n, f, verify.FolderOptions{Spec: spec, Batch: 4,
		Progress: func(done, total int) { progress = append(progress, done) }, Errors: hist})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Pass || rep.Images != 9 || len(rep.Outputs) != 3 {
		t.Fatalf("pass %v, %d images, %d outputs", rep.Pass, rep.Images, len(rep.Outputs))
	}
	if len(progress) != 3 || progress[0] != 4 || progress[1] != 8 || progress[2] != 9 {
		t.Errorf("progress %v, want batches of 4", progress)
	}
	if hist.values != 9*3*n.Classes {
		t.Errorf("%d errors given to the histogram, want %d", hist.values, 9*3*n.Classes)
	}
	if rep.Labelled != "by sub-folder order" || rep.Accuracy == nil || rep.Accuracy.Images != 9 || len(rep.Classes) != 3 {
		t.Fatalf("labelled %q, accuracy %+v, %d classes", rep.Labelled, rep.Accuracy, len(rep.Classes))
	}
	for _, cs := range rep.Classes {
		if cs.Images != 3 || cs.ONNX != float64(cs.ONNXCorrect)/3 || cs.Reference != float64(cs.ReferenceCorrect)/3 {
			t.Errorf("class %d: %d images, %d and %d correct, shares %g and %g", cs.Class, cs.Images, cs.ONNXCorrect, cs.ReferenceCorrect, cs.ONNX, cs.Reference)
		}
	}
	if rep.Accuracy.ONNXTop1 != rep.Accuracy.ReferenceTop1 || rep.Disagreeing != 0 {
		t.Errorf("the file and the reference disagree on a passing file: %+v, %d disagreeing", rep.Accuracy, rep.Disagreeing)
	}
	for _, o := range rep.Outputs {
		if o.Values != 9*n.Classes {
			t.Errorf("output %s compared %d values, want %d", o.Name, o.Values, 9*n.Classes)
		}
	}

	labels := make([]string, n.Classes)
	for i := range labels {
		labels[i] = "class" + string(rune('0'+i%10)) + string(rune('a'+i/10%26))
	}
	labels[7], labels[3], labels[9] = "a_class", "b_class", "c_class"
	rep, err = runFolder(t, context.Background(), data, n, f, verify.FolderOptions{Spec: spec, Labels: labels})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Labelled != "by sub-folder name" || rep.Classes[0].Class != 7 || rep.Classes[2].Name != "c_class" {
		t.Errorf("labelled %q, classes %+v", rep.Labelled, rep.Classes)
	}

	bad := emit(t, n, convert.ONNXOptions{Aux: true})
	for _, init := range bad.Graph.Initializer {
		if strings.Contains(init.GetName(), "inception4a") && len(init.RawData) >= 4 {
			// the emitted bytes are the shared network's weights: alter a copy
			init.RawData = append([]byte(nil), init.RawData...)
			init.RawData[2] ^= 0x40
			break
		}
	}
	badData, _ := proto.Marshal(bad)
	rep, err = runFolder(t, context.Background(), badData, n, f, verify.FolderOptions{Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Pass {
		t.Error("a file with an altered weight passed on the folder")
	}
}

// TestRunFolderStopsOnABadImage: an unreadable image stops the run and
// is named; a cancelled context stops it too.
func TestRunFolderStopsOnABadImage(t *testing.T) {
	n := net(t, "tutorial_aux.pth")
	data, _ := proto.Marshal(emit(t, n, convert.ONNXOptions{}))
	root := writeFolder(t, []string{"x"}, 2)
	if err := os.WriteFile(filepath.Join(root, "x", "broken.png"), []byte("not a png"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := imageprep.ScanFolder(root)
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := imageprep.Preset("imagenet", 224, 224, 3)
	_, err = runFolder(t, context.Background(), data, n, f, verify.FolderOptions{Spec: spec})
	if err == nil || !strings.Contains(err.Error(), "broken.png") {
		t.Fatalf("got %v, want an error naming broken.png", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	os.Remove(filepath.Join(root, "x", "broken.png"))
	if _, err := runFolder(t, ctx, data, n, f, verify.FolderOptions{Spec: spec}); err == nil {
		t.Fatal("a cancelled run returned no error")
	}
}

// TestRunFolderFeedsPixelFilesAndFloat16: a file that takes uint8 pixels
// is fed the images' pixels and passes; a float16 file passes under its
// own bound.
func TestRunFolderFeedsPixelFilesAndFloat16(t *testing.T) {
	n := net(t, "tutorial_aux.pth")
	root := writeFolder(t, []string{"a", "b"}, 2)
	f, err := imageprep.ScanFolder(root)
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := imageprep.Preset("imagenet", 224, 224, 3)
	pix, err := preprocess.Preset("imagenet", 3)
	if err != nil {
		t.Fatal(err)
	}
	pix.Layout = preprocess.NHWC
	for name, opts := range map[string]convert.ONNXOptions{
		"pixels":  {Preprocess: &pix},
		"float16": {Float16: true},
	} {
		data, err := proto.Marshal(emit(t, n, opts))
		if err != nil {
			t.Fatal(err)
		}
		rep, err := runFolder(t, context.Background(), data, n, f, verify.FolderOptions{Spec: spec})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !rep.Pass || rep.Images != 4 {
			t.Errorf("%s: pass %v, %d images, outputs %+v", name, rep.Pass, rep.Images, rep.Outputs)
		}
	}
}

func runFolder(t *testing.T, ctx context.Context, data []byte, n *graph.Net, f *imageprep.Folder, opts verify.FolderOptions) (*verify.FolderReport, error) {
	t.Helper()
	m, err := verify.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return verify.RunFolder(ctx, m, n, f, opts)
}
