package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBench(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "m.onnx")
	if code, _, errs := gnconv(t, "import", fx("tutorial_aux.pth"), "-o", model); code != 0 {
		t.Fatalf("import: %d %s", code, errs)
	}
	code, out, errs := gnconv(t, "bench", model, "--weights", fx("tutorial_aux.pth"), "--runs", "3", "--warmup", "1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"kernel: ", "CPU features: ", "3x3 convolutions: ", "GOMAXPROCS ", "go1.", "MEDIAN ms", "interpreter  ", "reference  ", "1x3x224x224", "1 warm-up and 3 timed passes"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	// a CPU profile of the timed passes, for go tool pprof (gzipped)
	prof := filepath.Join(dir, "cpu.pprof")
	if code, _, errs := gnconv(t, "bench", model, "--runs", "2", "--warmup", "0", "--cpuprofile", prof); code != 0 {
		t.Fatalf("--cpuprofile: exit %d: %s", code, errs)
	}
	if b, err := os.ReadFile(prof); err != nil || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Fatalf("--cpuprofile wrote no gzipped profile: %v, %d bytes", err, len(b))
	}

	code, out, errs = gnconv(t, "bench", model, "--runs", "2", "--warmup", "0", "--batch", "2", "--json")
	if code != 0 {
		t.Fatalf("--json: exit %d: %s", code, errs)
	}
	var rep map[string]interface{}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	for _, k := range []string{"file", "input", "shape", "seed", "warmup", "runs", "kernel", "gomaxprocs", "go_version", "engines"} {
		if _, ok := rep[k]; !ok {
			t.Errorf("JSON lacks %q:\n%s", k, out)
		}
	}
	kern, _ := rep["kernel"].(map[string]interface{})
	for _, k := range []string{"name", "isa", "available", "cpu_features", "winograd_3x3"} {
		if _, ok := kern[k]; !ok {
			t.Errorf("JSON kernel lacks %q:\n%s", k, out)
		}
	}
	var typed benchReport
	if err := json.Unmarshal([]byte(out), &typed); err != nil {
		t.Fatal(err)
	}
	if len(typed.Engines) != 1 || typed.Shape[0] != 2 || typed.Weights != "" {
		t.Fatalf("%+v", typed)
	}
	e := typed.Engines[0]
	if e.Engine != "interpreter" || len(e.PassesMS) != 2 || e.MinMS <= 0 || e.MinMS > e.MedianMS || e.MedianMS > e.MaxMS || e.ImagesPerSec <= 0 {
		t.Fatalf("%+v", e)
	}
	for _, k := range []string{"engine", "median_ms", "min_ms", "max_ms", "images_per_s", "passes_ms"} {
		if !strings.Contains(out, `"`+k+`"`) {
			t.Errorf("JSON engine lacks %q", k)
		}
	}
}

func TestBenchBadFlagsExit2(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "m.onnx")
	if code, _, errs := gnconv(t, "import", fx("tutorial_aux.pth"), "-o", model); code != 0 {
		t.Fatalf("import: %d %s", code, errs)
	}
	for _, args := range [][]string{
		{"bench"},
		{"bench", model, model},
		{"bench", model, "--runs", "0"},
		{"bench", model, "--runs", "x"},
		{"bench", model, "--warmup", "-1"},
		{"bench", model, "--batch", "0"},
		{"bench", model, "--size", "0,5"},
		{"bench", model, "--size", "1,2,3"},
		{"bench", model, "--size", "112,112"}, // the file fixes 224x224
		{"bench", model, "--bogus"},
		{"bench", model, "--limit-scale", "0"},
		{"bench", model, "--cpuprofile", model}, // the profile would replace the model
		{"bench", fx("tutorial_aux.pth")},
		{"bench", filepath.Join(dir, "missing.onnx")},
		{"bench", model, "--weights", filepath.Join(dir, "missing.pth")},
	} {
		code, out, errs := gnconv(t, args...)
		if code != exitError || !strings.HasPrefix(errs, "gnconv: ") || strings.Contains(out, "MEDIAN") {
			t.Errorf("%q: exit %d\n%s%s", args, code, out, errs)
		}
	}
}
