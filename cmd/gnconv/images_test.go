package main

import (
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// imageFolder writes classes/name.png images of distinct content.
func imageFolder(t *testing.T, files map[string]int) string {
	t.Helper()
	root := t.TempDir()
	for name, seed := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		img := image.NewNRGBA(image.Rect(0, 0, 90+seed, 70))
		for y := 0; y < 70; y++ {
			for x := 0; x < 90+seed; x++ {
				img.Set(x, y, color.NRGBA{uint8(x * seed), uint8(y + 20*seed), uint8(x ^ y), 255})
			}
		}
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	return root
}

// TestVerifyImagesAndPredict: verify --images runs a folder (classes from
// its sub-folders, names from --labels) and writes --report; predict
// lists each image's classes with the names the ONNX file holds.
func TestVerifyImagesAndPredict(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "m.onnx")
	labels := filepath.Join(dir, "labels.txt")
	names := []string{"tench", "goldfish", "shark", "cock", "hen", "ostrich", "finch", "junco", "bunting", "robin"}
	if err := os.WriteFile(labels, []byte(strings.Join(names, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := gnconv(t, "import", fx("tutorial_aux.pth"), "-o", model); code != 0 {
		t.Fatalf("import: exit %d: %s", code, errs)
	}
	folder := imageFolder(t, map[string]int{"goldfish/a.png": 1, "goldfish/b.png": 2, "tench/c.png": 3})
	report := filepath.Join(dir, "report.html")
	code, out, errs := gnconv(t, "verify", model, "--weights", fx("tutorial_aux.pth"), "--images", folder,
		"--labels", labels, "--report", report, "--json")
	if code != 0 {
		t.Fatalf("verify --images: exit %d: %s", code, errs)
	}
	var rep struct {
		Pass   bool `json:"pass"`
		Folder struct {
			Images   int    `json:"images"`
			Labelled string `json:"labelled"`
			Classes  []struct {
				Class  int    `json:"class"`
				Name   string `json:"name"`
				Images int    `json:"images"`
			} `json:"classes"`
		} `json:"image_folder"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.Pass || rep.Folder.Images != 3 || rep.Folder.Labelled != "by sub-folder name" || len(rep.Folder.Classes) != 2 ||
		rep.Folder.Classes[0].Class != 1 || rep.Folder.Classes[1].Name != "tench" {
		t.Fatalf("report %+v", rep)
	}
	page, err := os.ReadFile(report)
	if err != nil || !strings.Contains(string(page), "<svg") || !strings.Contains(string(page), "goldfish") {
		t.Fatalf("report: %v, %d bytes", err, len(page))
	}

	if strings.Contains(string(page), "No output values were binned") {
		t.Error("the folder's report has an empty error histogram")
	}
	// random batches fill the histogram too
	plain := filepath.Join(dir, "plain.html")
	if code, _, errs := gnconv(t, "verify", model, "--weights", fx("tutorial_aux.pth"), "--report", plain); code != 0 {
		t.Fatalf("verify --report: exit %d: %s", code, errs)
	}
	if page, err := os.ReadFile(plain); err != nil || strings.Contains(string(page), "No output values were binned") {
		t.Errorf("the report of random batches: %v, or an empty error histogram", err)
	}

	code, out, errs = gnconv(t, "predict", model, filepath.Join(folder, "tench/c.png"), filepath.Join(folder, "goldfish/a.png"), "--labels", labels, "--top", "3", "--json")
	if code != 0 {
		t.Fatalf("predict: exit %d: %s", code, errs)
	}
	var pred struct {
		Predictions []struct {
			File string `json:"file"`
			Top  []struct {
				Class       int     `json:"class"`
				Name        string  `json:"name"`
				Probability float64 `json:"probability"`
			} `json:"top"`
		} `json:"predictions"`
	}
	if err := json.Unmarshal([]byte(out), &pred); err != nil {
		t.Fatal(err)
	}
	if len(pred.Predictions) != 2 || len(pred.Predictions[0].Top) != 3 {
		t.Fatalf("predictions %+v", pred)
	}
	for _, p := range pred.Predictions {
		sum := 0.0
		for i, g := range p.Top {
			if g.Name != names[g.Class] || (i > 0 && g.Probability > p.Top[i-1].Probability) {
				t.Errorf("%s: %+v", p.File, p.Top)
			}
			sum += g.Probability
		}
		if sum <= 0 || sum > 1+1e-6 {
			t.Errorf("%s: probabilities sum to %v", p.File, sum)
		}
	}
}

// TestImagesRefusals: what verify --images and predict refuse, exit 2.
func TestImagesRefusals(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "m.onnx")
	if code, _, errs := gnconv(t, "import", fx("tutorial_aux.pth"), "-o", model); code != 0 {
		t.Fatalf("import: exit %d: %s", code, errs)
	}
	short := filepath.Join(dir, "short.txt")
	os.WriteFile(short, []byte("a\nb\n"), 0o644)
	empty := t.TempDir()
	folder := imageFolder(t, map[string]int{"x/a.png": 1})
	w := fx("tutorial_aux.pth")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"verify", model, "--weights", w, "--images", empty}, "no image files"},
		{[]string{"verify", model, "--weights", w, "--images", folder, "--labels", short}, "2 class names for a network of 10 classes"},
		{[]string{"verify", model, "--weights", w, "--images", folder, "--report", model}, "the file being verified"},
		{[]string{"verify", model, "--weights", w, "--images", folder, "--preprocess", "vgg"}, "no preprocessing is named"},
		{[]string{"verify", model, "--weights", w, "--images", folder, "--mean", "0.5,0.5,0.5"}, "--mean and --std go together"},
		{[]string{"verify", model, "--weights", w, "--images", folder, "--crop", "200"}, "makes 200x200 images, the network takes 224x224"},
		{[]string{"predict", model, short}, "not an image"},
		{[]string{"predict", model}, "at least one image"},
	} {
		code, _, errs := gnconv(t, tc.args...)
		if code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, %q; want exit 2 and %q", tc.args, code, errs, tc.want)
		}
	}
	if _, err := os.Stat(model); err != nil {
		t.Fatalf("the model was touched: %v", err)
	}
}

// TestPredictPixelFile: a file that takes uint8 pixels (import
// --preprocess) predicts what the float file predicts on the same images.
func TestPredictPixelFile(t *testing.T) {
	dir := t.TempDir()
	float, pixels := filepath.Join(dir, "f.onnx"), filepath.Join(dir, "p.onnx")
	for _, args := range [][]string{{"-o", float}, {"-o", pixels, "--preprocess", "imagenet"}} {
		if code, _, errs := gnconv(t, append([]string{"import", fx("tutorial_aux.pth")}, args...)...); code != 0 {
			t.Fatalf("import %v: exit %d: %s", args, code, errs)
		}
	}
	folder := imageFolder(t, map[string]int{"a.png": 1, "b.png": 5})
	var tops [2]string
	for i, m := range []string{float, pixels} {
		code, out, errs := gnconv(t, "predict", m, filepath.Join(folder, "a.png"), filepath.Join(folder, "b.png"), "--top", "3")
		if code != 0 {
			t.Fatalf("predict %s: exit %d: %s", m, code, errs)
		}
		// the classes, without the probabilities' last digits
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) == 2 && strings.HasSuffix(f[0], "%") {
				tops[i] += f[1] + " "
			}
		}
	}
	if tops[0] == "" || tops[0] != tops[1] {
		t.Errorf("float file's classes %q, pixel file's %q", tops[0], tops[1])
	}
}

// TestVerifyFloat16FileWithDefaults: without --atol and --rtol, verify
// holds a float16 file to the float16 bound, not float32's (which it
// would fail), and says which bound it used in the report.
func TestVerifyFloat16FileWithDefaults(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "h.onnx")
	if code, _, errs := gnconv(t, "import", fx("torchvision_aux.pth"), "-o", model, "--dtype", "float16"); code != 0 {
		t.Fatalf("import: exit %d: %s", code, errs)
	}
	code, out, errs := gnconv(t, "verify", model, "--weights", fx("torchvision_aux.pth"), "--json")
	if code != 0 {
		t.Fatalf("verify: exit %d: %s", code, errs)
	}
	var rep struct {
		Outputs []struct {
			MaxAbs float64 `json:"max_abs_error"`
			Bound  float64 `json:"bound"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Outputs) != 1 {
		t.Fatal(err, out)
	}
	if o := rep.Outputs[0]; o.MaxAbs == 0 || o.Bound < 1e-2 {
		t.Errorf("float16 file compared with error %g under bound %g", o.MaxAbs, o.Bound)
	}
	if code, _, _ := gnconv(t, "verify", model, "--weights", fx("torchvision_aux.pth"), "--atol", "2e-5", "--rtol", "1e-5"); code != 1 {
		t.Errorf("float16 file under float32's bounds: exit %d, want 1", code)
	}
}
