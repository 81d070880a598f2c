package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gnconv/gnconv/convert"
	"github.com/gnconv/gnconv/internal/onnxpb"
	"github.com/gnconv/gnconv/tensor"
	"google.golang.org/protobuf/proto"
)

// writeSafetensorsFile writes sd as a safetensors file at path.
func writeSafetensorsFile(t *testing.T, path string, sd *tensor.StateDict) {
	t.Helper()
	var b bytes.Buffer
	if err := convert.WriteSafetensors(&b, sd, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// sameTensors fails unless a and b hold the same names in the same
// order, each with the same dtype, shape and bytes.
func sameTensors(t *testing.T, a, b *tensor.StateDict) {
	t.Helper()
	if !slices.Equal(a.Names, b.Names) {
		t.Fatalf("names differ: %d and %d", a.Len(), b.Len())
	}
	for _, n := range a.Names {
		x, y := a.Tensors[n], b.Tensors[n]
		if x.DType != y.DType || !slices.Equal(x.Shape, y.Shape) || !bytes.Equal(x.Raw, y.Raw) {
			t.Fatalf("%s differs", n)
		}
	}
}

// TestImportSafetensorsSameONNX: the torchvision fixture written as
// safetensors imports to the very ONNX file its .pth gives, with and
// without aux heads, and verifies as its weights.
func TestImportSafetensorsSameONNX(t *testing.T) {
	dir := t.TempDir()
	ck, err := convert.ReadCheckpoint(fx("torchvision_aux.pth"))
	if err != nil {
		t.Fatal(err)
	}
	st := filepath.Join(dir, "torchvision_aux.safetensors")
	writeSafetensorsFile(t, st, ck.StateDict)
	for _, aux := range [][]string{nil, {"--aux"}} {
		fromPth, fromST := filepath.Join(dir, "pth.onnx"), filepath.Join(dir, "st.onnx")
		for in, out := range map[string]string{fx("torchvision_aux.pth"): fromPth, st: fromST} {
			if code, _, errs := gnconv(t, append([]string{"import", in, "-o", out, "--force"}, aux...)...); code != 0 {
				t.Fatalf("import %s %v: exit %d %s", in, aux, code, errs)
			}
		}
		a, b := onnxWithoutSource(t, fromPth), onnxWithoutSource(t, fromST)
		if !proto.Equal(a, b) {
			t.Errorf("%v: the ONNX from the safetensors file differs from the .pth's", aux)
		}
	}
	if code, _, errs := gnconv(t, "verify", filepath.Join(dir, "st.onnx"), "--weights", st); code != 0 {
		t.Errorf("verify --weights %s: exit %d %s", st, code, errs)
	}
	code, out, errs := gnconv(t, "inspect", st, "--json")
	if code != 0 || !strings.Contains(out, `"format": "safetensors"`) {
		t.Errorf("inspect: exit %d %s\n%.400s", code, errs, out)
	}
}

// onnxWithoutSource reads an ONNX file and drops what names the
// checkpoint it came from (its file name and hash, in the metadata and
// the doc strings).
func onnxWithoutSource(t *testing.T, path string) *onnxpb.ModelProto {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(b, m); err != nil {
		t.Fatal(err)
	}
	kept := m.MetadataProps[:0]
	dropped := 0
	for _, p := range m.MetadataProps {
		if p.GetKey() == "source_file" || p.GetKey() == "source_sha256" {
			dropped++
			continue
		}
		kept = append(kept, p)
	}
	if dropped != 2 {
		t.Fatalf("%s: %d source entries in the metadata", path, dropped)
	}
	m.MetadataProps = kept
	if doc := m.GetGraph().GetDocString(); !strings.Contains(doc, " from ") {
		t.Fatalf("%s: doc string %q", path, doc)
	}
	m.Graph.DocString, m.DocString = nil, nil
	return m
}

// TestPruneAuxSafetensors: prune-aux writes safetensors when asked, when
// the output is named so and when the input is one; the tensors are the
// .pth output's, bit for bit, with the format tag as metadata.
func TestPruneAuxSafetensors(t *testing.T) {
	dir := t.TempDir()
	in := fx("tutorial_aux.pth")
	pth := filepath.Join(dir, "deploy.pth")
	if code, _, errs := gnconv(t, "prune-aux", in, "-o", pth); code != 0 {
		t.Fatalf("exit %d %s", code, errs)
	}
	want, err := convert.ReadCheckpoint(pth)
	if err != nil {
		t.Fatal(err)
	}
	read := func(p, format string) *convert.Checkpoint {
		t.Helper()
		ck, err := convert.ReadCheckpoint(p)
		if err != nil {
			t.Fatal(err)
		}
		if ck.Format != format {
			t.Fatalf("%s is %s, want %s", p, ck.Format, format)
		}
		sameTensors(t, ck.StateDict, want.StateDict)
		return ck
	}

	flag := filepath.Join(dir, "by_flag.bin")
	code, out, errs := gnconv(t, "prune-aux", in, "--format", "safetensors", "-o", flag, "--json")
	if code != 0 {
		t.Fatalf("--format safetensors: exit %d %s", code, errs)
	}
	var s pruneSummary
	if err := json.Unmarshal([]byte(out), &s); err != nil || s.Format != "safetensors" || s.KeptKeys != 116 || len(s.Removed) != 12 {
		t.Errorf("summary %+v (%v)", s, err)
	}
	if ck := read(flag, "safetensors"); len(ck.Metadata) != 1 || ck.Metadata["format"] != "pt" {
		t.Errorf("metadata %q", ck.Metadata)
	}

	byName := filepath.Join(dir, "deploy.safetensors")
	if code, out, errs := gnconv(t, "prune-aux", in, "-o", byName); code != 0 || !strings.Contains(out, "removed: aux1.") {
		t.Fatalf("-o %s: exit %d %s%s", byName, code, out, errs)
	}
	read(byName, "safetensors")

	// a safetensors training checkpoint: its output is safetensors too,
	// next to it, its metadata kept
	ck, err := convert.ReadCheckpoint(in)
	if err != nil {
		t.Fatal(err)
	}
	train := filepath.Join(dir, "train.safetensors")
	var b bytes.Buffer
	if err := convert.WriteSafetensors(&b, ck.StateDict, map[string]string{"format": "pt", "epoch": "30"}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(train, b.Bytes(), 0o644)
	if code, _, errs := gnconv(t, "prune-aux", train); code != 0 {
		t.Fatalf("prune-aux %s: exit %d %s", train, code, errs)
	}
	if back := read(filepath.Join(dir, "train_deploy.safetensors"), "safetensors"); back.Metadata["epoch"] != "30" {
		t.Errorf("metadata %q", back.Metadata)
	}
	if code, _, errs := gnconv(t, "prune-aux", train, "--format", "pth"); code != 0 {
		t.Fatalf("--format pth: exit %d %s", code, errs)
	}
	read(filepath.Join(dir, "train_deploy.pth"), "zip")
	if code, _, errs := gnconv(t, "prune-aux", in, "--format", "safetensors", "-o", filepath.Join(dir, "x.pth"), "--format", "npz"); code != exitError || !strings.Contains(errs, "--format") {
		t.Errorf("--format npz: exit %d %s", code, errs)
	}

	// the deploy file written, the rest as before
	for _, name := range []string{"by_flag.bin", "deploy.safetensors", "train_deploy.safetensors"} {
		st, _ := os.Stat(filepath.Join(dir, name))
		if st == nil || st.Mode().Perm() != 0o644 {
			t.Errorf("%s: %v", name, st)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

// TestPruneAuxSafetensorsRefuses: a training dict cannot be kept in a
// safetensors file, and --format is a checkpoint's.
func TestPruneAuxSafetensorsRefuses(t *testing.T) {
	dir := t.TempDir()
	ck, err := convert.ReadCheckpoint(fx("tutorial_aux.pth"))
	if err != nil {
		t.Fatal(err)
	}
	sd := &convert.Dict{}
	for _, n := range ck.StateDict.Names {
		sd.Keys = append(sd.Keys, n)
		sd.Values = append(sd.Values, ck.StateDict.Tensors[n])
	}
	wrapped := filepath.Join(dir, "train.pth")
	f, _ := os.Create(wrapped)
	if err := convert.WriteObject(f, &convert.Dict{Keys: []interface{}{"epoch", "model"}, Values: []interface{}{3, sd}}, false); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out := filepath.Join(dir, "deploy.safetensors")
	if code, _, errs := gnconv(t, "prune-aux", wrapped, "-o", out, "--keep-wrapper"); code != exitError || !strings.Contains(errs, "tensors only") {
		t.Errorf("--keep-wrapper: exit %d %s", code, errs)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("an output was written")
	}
	if code, _, errs := gnconv(t, "prune-aux", wrapped, "-o", out); code != 0 {
		t.Errorf("without --keep-wrapper: exit %d %s", code, errs)
	}
	onnx := filepath.Join(dir, "m.onnx")
	if code, _, errs := gnconv(t, "import", fx("tutorial_aux.pth"), "-o", onnx, "--aux"); code != 0 {
		t.Fatal(errs)
	}
	if code, _, errs := gnconv(t, "prune-aux", onnx, "--format", "safetensors"); code != exitError || !strings.Contains(errs, "--format") {
		t.Errorf("ONNX with --format: exit %d %s", code, errs)
	}
}

// TestPositionBindingSafetensors: a checkpoint whose modules are named
// otherwise binds by position from a safetensors file gnconv wrote,
// whose header keeps the state dict's order, as from its .pth.
func TestPositionBindingSafetensors(t *testing.T) {
	dir := t.TempDir()
	ck, err := convert.ReadCheckpoint(fx("torchvision_aux.pth"))
	if err != nil {
		t.Fatal(err)
	}
	rename := strings.NewReplacer("inception", "mixed_", "aux1.", "aux_a.", "aux2.", "aux_b.")
	sd := tensor.NewStateDict()
	for _, n := range ck.StateDict.Names {
		sd.Set(rename.Replace(n), ck.StateDict.Tensors[n])
	}
	in := filepath.Join(dir, "foreign.safetensors")
	writeSafetensorsFile(t, in, sd)
	code, out, errs := gnconv(t, "inspect", "--layout", "torchvision", in)
	if code != 0 || !strings.Contains(out, "by position") || !strings.Contains(out, "strict: ok") {
		t.Fatalf("exit %d %s\n%s", code, errs, out)
	}
	pruned := filepath.Join(dir, "deploy.safetensors")
	if code, _, errs := gnconv(t, "prune-aux", "--layout", "torchvision", in, "-o", pruned); code != 0 {
		t.Fatalf("exit %d %s", code, errs)
	}
	back, err := convert.ReadCheckpoint(pruned)
	if err != nil || back.StateDict.Len() != 344 || back.StateDict.Names[10] != sd.Names[10] {
		t.Fatalf("%v", err)
	}
	if code, _, errs := gnconv(t, "import", "--layout", "torchvision", pruned, "-o", filepath.Join(dir, "m.onnx")); code != 0 {
		t.Fatalf("import of the pruned file: exit %d %s", code, errs)
	}
}
