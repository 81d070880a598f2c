package main

import (
	"image"
	"image/color"
	"image/png"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gnconv/gnconv/internal/onnxpb"
	"google.golang.org/protobuf/proto"
)

// noiseFolder writes n small PNGs of coloured noise in two classes.
func noiseFolder(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	rng := rand.New(rand.NewSource(5))
	for i := 0; i < n; i++ {
		sub := filepath.Join(dir, []string{"a", "b"}[i%2])
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		img := image.NewRGBA(image.Rect(0, 0, 64, 48))
		for p := 0; p < len(img.Pix); p += 4 {
			img.Pix[p], img.Pix[p+1], img.Pix[p+2], img.Pix[p+3] = uint8(rng.Intn(256)), uint8(rng.Intn(256)), uint8(rng.Intn(256)), 255
		}
		img.Set(0, 0, color.RGBA{255, 255, 255, 255})
		f, err := os.Create(filepath.Join(sub, strings.Repeat("x", i+1)+".png"))
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	return dir
}

// import --quantize int8: its flags' errors write nothing; the file it
// writes is verified on images (and only on images).
func TestImportInt8(t *testing.T) {
	dir := t.TempDir()
	photos := noiseFolder(t, 6)
	empty := t.TempDir()
	in := fx("tutorial_aux.pth")
	out := filepath.Join(dir, "q.onnx")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--quantize", "int4", "--calibrate", photos}, "--quantize must be int8"},
		{[]string{"--quantize", "int8"}, "needs --calibrate DIR"},
		{[]string{"--calibrate", photos}, "--calibrate needs --quantize int8"},
		{[]string{"--quantize", "int8", "--calibrate", photos, "--dtype", "float16"}, "cannot be combined with --dtype float16"},
		{[]string{"--quantize", "int8", "--calibrate", photos, "--no-fold-bn"}, "--no-fold-bn"},
		{[]string{"--quantize", "int8", "--calibrate", photos, "--aux"}, "--aux"},
		{[]string{"--quantize", "int8", "--calibrate", photos, "--verify"}, "verified on images"},
		{[]string{"--quantize", "int8", "--calibrate", photos, "--calibration-method", "mse"}, "--calibration-method must be"},
		{[]string{"--quantize", "int8", "--calibrate", photos, "--calibration-percentile", "99"}, "needs --calibration-method percentile"},
		{[]string{"--quantize", "int8", "--calibrate", empty}, "no image files"},
		{[]string{"--quantize", "int8", "--calibrate", filepath.Join(dir, "missing")}, "--calibrate"},
	} {
		code, _, stderr := gnconv(t, append([]string{"import", in, "-o", out}, c.args...)...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", c.args, code, stderr, c.want)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Fatalf("%v: an output file was left", c.args)
		}
	}
	code, stdout, stderr := gnconv(t, "import", in, "-o", out, "--quantize", "int8", "--calibrate", photos,
		"--calibration-method", "percentile", "--calibration-preprocess", "tutorial")
	if code != 0 {
		t.Fatalf("import: exit %d\n%s%s", code, stdout, stderr)
	}
	code, _, stderr = gnconv(t, "verify", out, "--weights", in)
	if code != 2 || !strings.Contains(stderr, "verified on images") {
		t.Errorf("verify without images: exit %d, %q", code, stderr)
	}
	code, stdout, stderr = gnconv(t, "verify", out, "--weights", in, "--images", photos, "--preprocess", "tutorial")
	if code != 0 || !strings.Contains(stdout, "quantized weights: 58 weights and 58 biases") {
		t.Errorf("verify --images: exit %d\n%s%s", code, stdout, stderr)
	}
	// one weight two steps off: the outputs stay within the int8 bound,
	// the weight check fails the file
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	pm := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, pm); err != nil {
		t.Fatal(err)
	}
	for _, x := range pm.Graph.Initializer {
		if x.GetName() == "inception4a.branch2.1.conv.weight" {
			x.RawData[7] += 2
		}
	}
	if data, err = proto.Marshal(pm); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.onnx")
	if err := os.WriteFile(bad, data, 0o644); err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(dir, "bad.html")
	code, stdout, stderr = gnconv(t, "verify", bad, "--weights", in, "--images", photos, "--preprocess", "tutorial", "--report", report)
	if code != 1 || !strings.Contains(stderr, "quantized weights") || !strings.Contains(stdout, "result: FAIL") {
		t.Errorf("verify of an altered weight: exit %d\n%s%s", code, stdout, stderr)
	}
	// the report carries the weight check, and its verdict says why
	page, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"quantized weights against the checkpoint", "58 weights and 58 biases", "inception4a.branch2.1.conv.weight"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the report does not say %q", want)
		}
	}
}
