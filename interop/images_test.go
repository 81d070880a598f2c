package interop

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gnconv/gnconv/internal/fixture"
	"github.com/gnconv/gnconv/verify/imageprep"
)

// photos is the folder of real photographs the image tests share:
// $GNCONV_PHOTOS if set (CI builds it once), else built here by
// scripts/photo-folder.sh from Debian's packages.
var photos struct {
	once    sync.Once
	dir     string
	made    bool
	torch   torchView
	torchOK bool
}

// torchView is PyTorch's run over the folder (torch_images.py).
type torchView struct {
	Classes []string `json:"classes"`
	Samples []struct {
		Path  string `json:"path"`
		Label int    `json:"label"`
		Top5  []int  `json:"top5"`
	} `json:"samples"`
	Tensors map[string]string `json:"tensors"`
}

func photoFolder(t *testing.T) string {
	t.Helper()
	photos.once.Do(func() {
		if d := os.Getenv("GNCONV_PHOTOS"); d != "" {
			photos.dir = d
			return
		}
		dir, err := os.MkdirTemp("", "gnconv-photos-")
		if err != nil {
			return
		}
		out, err := exec.Command("sh", "../scripts/photo-folder.sh", dir, "300").CombinedOutput()
		if err != nil {
			os.RemoveAll(dir)
			t.Logf("scripts/photo-folder.sh: %v\n%s", err, out)
			return
		}
		photos.dir, photos.made = dir, true
	})
	if photos.dir == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CI must run the image folder tests (scripts/photo-folder.sh failed)")
		}
		t.Skip("no photo folder (scripts/photo-folder.sh needs apt-get download and Debian's python3-pil)")
	}
	return photos.dir
}

// torchImages runs PyTorch over the folder once.
func torchImages(t *testing.T) (string, *torchView) {
	t.Helper()
	requirePython(t, "torch", "torchvision")
	dir := photoFolder(t)
	if !photos.torchOK {
		out := filepath.Join(os.TempDir(), "gnconv-torch-images")
		os.RemoveAll(out)
		if err := os.MkdirAll(out, 0o755); err != nil {
			t.Fatal(err)
		}
		pythonJSON(t, &photos.torch, "torch_images.py", dir, filepath.Join(fixture.Dir(), "torchvision_aux.pth"), out)
		photos.torchOK = true
	}
	return dir, &photos.torch
}

// TestImagesAsTorchvisionSeesThem: the folder holds the images and
// labels ImageFolder finds, in its order; each image becomes the tensor
// torchvision's transforms make: bit for bit from PNG, BMP, TIFF and
// WebP files, within the JPEG decoders' rounding from JPEG files
// (measured on these photographs at most 3 levels of 255 on any value and
// 0.0005 on average after normalisation; the bounds below are 4 levels
// and 4 times the average).
func TestImagesAsTorchvisionSeesThem(t *testing.T) {
	dir, tv := torchImages(t)
	f, err := imageprep.ScanFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Items) != len(tv.Samples) || strings.Join(f.Classes, ",") != strings.Join(tv.Classes, ",") {
		t.Fatalf("%d images in classes %v; ImageFolder finds %d in %v", len(f.Items), f.Classes, len(tv.Samples), tv.Classes)
	}
	for i, it := range f.Items {
		if it.Path != tv.Samples[i].Path || it.Class != tv.Samples[i].Label {
			t.Fatalf("image %d: %s class %d; ImageFolder's is %s class %d", i, it.Path, it.Class, tv.Samples[i].Path, tv.Samples[i].Label)
		}
	}
	spec, _ := imageprep.Preset("imagenet", 224, 224, 3)
	kinds := map[string]bool{}
	for path, file := range tv.Tensors {
		raw, err := os.ReadFile(file)
		if err != nil || len(raw) != 4*3*224*224 {
			t.Fatalf("%s: %v, %d bytes", file, err, len(raw))
		}
		got := make([]float32, 3*224*224)
		if err := spec.Load(path, 3, 0, got); err != nil {
			t.Fatal(err)
		}
		maxd, sum := 0.0, 0.0
		for i := range got {
			d := math.Abs(float64(got[i]) - float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))))
			if math.IsNaN(d) {
				d = math.Inf(1)
			}
			maxd, sum = math.Max(maxd, d), sum+d
		}
		ext := strings.ToLower(filepath.Ext(path))
		kinds[ext] = true
		mean := sum / float64(len(got))
		switch ext {
		case ".jpg", ".jpeg":
			if maxd > 4.0/255/0.224 || mean > 0.002 {
				t.Errorf("%s: max difference %.3g, mean %.3g from torchvision's tensor", path, maxd, mean)
			}
		default:
			if maxd != 0 {
				t.Errorf("%s: max difference %.3g from torchvision's tensor, want none", path, maxd)
			}
		}
	}
	for _, ext := range []string{".jpg", ".png", ".bmp", ".tif", ".webp"} {
		if !kinds[ext] {
			t.Errorf("no %s image was compared", ext)
		}
	}
}

// TestPredictAndVerifyOnPhotographs: gnconv predict's top class is
// PyTorch's on every image (the same network, the same tensors but for
// JPEG's rounding); verify --images passes over the folder with full
// top-1 agreement, reports PyTorch's accuracy, and writes a report that
// Chromium shows with no console error.
func TestPredictAndVerifyOnPhotographs(t *testing.T) {
	dir, tv := torchImages(t)
	tmp := t.TempDir()
	bin := buildGnconv(t, tmp)
	model := filepath.Join(tmp, "tv.onnx")
	weights := filepath.Join(fixture.Dir(), "torchvision_aux.pth")
	if out, err := exec.Command(bin, "import", weights, "-o", model).CombinedOutput(); err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	args := []string{"predict", model, "--json", "--top", "5"}
	for _, s := range tv.Samples {
		args = append(args, s.Path)
	}
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		t.Fatalf("predict: %v", err)
	}
	var pred struct {
		Predictions []struct {
			File string `json:"file"`
			Top  []struct {
				Class int `json:"class"`
			} `json:"top"`
		} `json:"predictions"`
	}
	if err := json.Unmarshal(out, &pred); err != nil || len(pred.Predictions) != len(tv.Samples) {
		t.Fatalf("predict printed %d predictions: %v", len(pred.Predictions), err)
	}
	torchCorrect := 0
	for i, s := range tv.Samples {
		if s.Top5[0] == s.Label {
			torchCorrect++
		}
		if got := pred.Predictions[i].Top[0].Class; got != s.Top5[0] {
			t.Errorf("%s: gnconv predict says class %d, PyTorch %d", s.Path, got, s.Top5[0])
		}
	}

	report := filepath.Join(tmp, "report.html")
	cmd := exec.Command(bin, "verify", model, "--weights", weights, "--images", dir, "--json", "--report", report)
	out, err = cmd.Output()
	if err != nil {
		t.Fatalf("verify --images: %v\n%s", err, out)
	}
	var rep struct {
		Pass   bool `json:"pass"`
		Folder struct {
			Images  int `json:"images"`
			Outputs []struct {
				Top1 float64 `json:"top1_agreement"`
			} `json:"outputs"`
			Accuracy struct {
				ReferenceTop1 float64 `json:"reference_top1"`
				ONNXTop1      float64 `json:"onnx_top1"`
			} `json:"accuracy"`
		} `json:"image_folder"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatal(err)
	}
	f := rep.Folder
	torchAcc := float64(torchCorrect) / float64(len(tv.Samples))
	if !rep.Pass || f.Images != len(tv.Samples) || len(f.Outputs) != 1 || f.Outputs[0].Top1 != 1 ||
		f.Accuracy.ONNXTop1 != f.Accuracy.ReferenceTop1 || math.Abs(f.Accuracy.ReferenceTop1-torchAcc) > 1e-9 {
		t.Errorf("verify --images: %+v; PyTorch's top-1 accuracy %.4f", rep, torchAcc)
	}

	path := requireChromium(t)
	b := startChromium(t, path)
	for _, e := range b.open(t, fileURL(report)) {
		if e.Level == "error" || e.Level == "warning" || e.Source == "exception" {
			t.Errorf("console %s %s: %s", e.Source, e.Level, e.Text)
		}
	}
	var got pageFacts
	b.eval(t, pageQuery, &got)
	if !strings.HasPrefix(got.Verdict, "PASS") || got.ErrorBars == 0 || got.TopKBars != 2 || !strings.Contains(got.Text, "texture") {
		t.Errorf("report: verdict %q, %d error bars, %d top-k bars", got.Verdict, got.ErrorBars, got.TopKBars)
	}
}
