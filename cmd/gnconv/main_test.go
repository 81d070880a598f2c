package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gnconv/gnconv/convert"
	"github.com/gnconv/gnconv/graph"
	"github.com/gnconv/gnconv/internal/fixture"
	"github.com/gnconv/gnconv/internal/onnxpb"
	"github.com/gnconv/gnconv/tensor"
)

func gnconv(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(append([]string{"gnconv"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func fx(name string) string { return filepath.Join(fixture.Dir(), name) }

func TestInspectEveryReaderFixture(t *testing.T) {
	files, _ := filepath.Glob(fx("readers/*.pth"))
	for _, f := range files {
		code, out, errs := gnconv(t, "inspect", "--json", f)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", f, code, errs)
		}
		var res inspectResult
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatal(err)
		}
		ck, err := convert.ReadCheckpoint(f)
		if err != nil {
			t.Fatal(err)
		}
		if res.Count != ck.StateDict.Len() || res.WrapperKey != ck.WrapperKey || res.Prefix != ck.Prefix || res.GoogLeNet.OK {
			t.Errorf("%s: %+v", f, res)
		}
	}
}

func TestInspectGoogLeNet(t *testing.T) {
	code, out, _ := gnconv(t, "inspect", fx("torchvision_aux.pth"))
	for _, want := range []string{"layout     torchvision", "classes    7", "aux heads  yes", "strict: ok, 305 tensors bound, 59 num_batches_tracked ignored", "tensors 364"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("exit %d, output lacks %q:\n%s", code, want, out)
		}
	}
	code, out, _ = gnconv(t, "inspect", fx("tutorial_aux.pth"), "--layout", "torchvision")
	if code != 0 || !strings.Contains(out, "FAILED") || !strings.Contains(out, "holds the tutorial layout") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

func TestBadFilesExit2(t *testing.T) {
	files, _ := filepath.Glob(fx("bad/*.pth"))
	for _, f := range files {
		if filepath.Base(f) == "full_module.pth" {
			// a whole pickled model is read (never run); it is no GoogLeNet
			code, out, errs := gnconv(t, "inspect", f)
			if code != 0 || !strings.Contains(out, "not a GoogLeNet") || !strings.Contains(out, "FAILED") {
				t.Errorf("%s: exit %d, %s\n%s", f, code, errs, out)
			}
			continue
		}
		code, _, errs := gnconv(t, "inspect", f)
		if code != exitError || !strings.HasPrefix(errs, "gnconv: ") || !strings.Contains(errs, f) {
			t.Errorf("%s: exit %d, stderr %q", f, code, errs)
		}
	}
	if code, _, _ := gnconv(t, "inspect"); code != exitError {
		t.Errorf("no file: exit %d", code)
	}
	if code, _, _ := gnconv(t, "inspect", "/nonexistent.pth"); code != exitError {
		t.Errorf("missing file: exit %d", code)
	}
}

func TestImportWritesAtomicallyAndNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "m.onnx")
	code, stdout, errs := gnconv(t, "import", fx("tutorial_aux.pth"), "-o", out)
	if code != 0 || !strings.Contains(stdout, "wrote "+out) {
		t.Fatalf("exit %d: %s %s", code, stdout, errs)
	}
	first, _ := os.ReadFile(out)
	code, _, errs = gnconv(t, "import", fx("torchvision_aux.pth"), "-o", out)
	if code != exitError || !strings.Contains(errs, "--force") {
		t.Fatalf("overwrite without --force: exit %d %s", code, errs)
	}
	if now, _ := os.ReadFile(out); !bytes.Equal(now, first) {
		t.Fatal("the existing output changed")
	}
	// A failure after reading (an impossible input size) leaves nothing.
	bad := filepath.Join(dir, "bad.onnx")
	if code, _, errs := gnconv(t, "import", fx("tutorial_aux.pth"), "-o", bad, "--aux", "--size", "288,288"); code != exitError || !strings.Contains(errs, "aux") {
		t.Fatalf("exit %d %s", code, errs)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("files left behind: %v", entries)
	}
	code, stdout, _ = gnconv(t, "import", fx("torchvision_aux.pth"), "-o", out, "--force", "--json", "--aux", "--opset", "13")
	var s importSummary
	if code != 0 || json.Unmarshal([]byte(stdout), &s) != nil || len(s.Outputs) != 3 || s.Opset != 13 || s.Ops["Slice"] != 16 {
		t.Fatalf("exit %d: %s", code, stdout)
	}
	if code, _, errs := gnconv(t, "import", fx("torchvision_aux.pth"), "-o", out, "--force", "--opset", "12"); code != exitError || !strings.Contains(errs, "opset 12") {
		t.Fatalf("opset 12: exit %d %s", code, errs)
	}
}

func TestPruneAuxLeavesInputAndWritesDeployCheckpoint(t *testing.T) {
	dir := t.TempDir()
	in := fx("torchvision_aux.pth")
	before := sha(t, in)
	out := filepath.Join(dir, "deploy.pth")
	code, stdout, errs := gnconv(t, "prune-aux", in, "-o", out, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var s pruneSummary
	if err := json.Unmarshal([]byte(stdout), &s); err != nil || len(s.Removed) != 20 || s.KeptKeys != 344 {
		t.Fatalf("%v: %s", err, stdout)
	}
	if sha(t, in) != before {
		t.Fatal("the input changed")
	}
	code, stdout, _ = gnconv(t, "inspect", out)
	if code != 0 || !strings.Contains(stdout, "aux heads  no") || !strings.Contains(stdout, "strict: ok") {
		t.Fatalf("exit %d:\n%s", code, stdout)
	}
	if code, _, errs := gnconv(t, "prune-aux", out, "-o", filepath.Join(dir, "again.pth")); code != exitError || !strings.Contains(errs, "nothing to prune") {
		t.Fatalf("pruning a deploy checkpoint: exit %d %s", code, errs)
	}
	if code, _, errs := gnconv(t, "prune-aux", in, "-o", in); code != exitError || !strings.Contains(errs, "input") {
		t.Fatalf("output = input: exit %d %s", code, errs)
	}
}

func TestPruneAuxKeepWrapper(t *testing.T) {
	dir := t.TempDir()
	// A wrapped, DataParallel-prefixed training checkpoint made from the fixture.
	ck, err := convert.ReadCheckpoint(fx("tutorial_aux.pth"))
	if err != nil {
		t.Fatal(err)
	}
	sd := &convert.Dict{}
	for _, n := range ck.StateDict.Names {
		sd.Keys = append(sd.Keys, "module."+n)
		sd.Values = append(sd.Values, ck.StateDict.Tensors[n])
	}
	wrapped := filepath.Join(dir, "train.pth")
	f, _ := os.Create(wrapped)
	if err := convert.WriteObject(f, &convert.Dict{Keys: []interface{}{"epoch", "model_state_dict", "best"}, Values: []interface{}{12, sd, "0.75"}}, false); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out := filepath.Join(dir, "deploy.pth")
	if code, _, errs := gnconv(t, "prune-aux", wrapped, "-o", out, "--keep-wrapper"); code != 0 {
		t.Fatalf("exit %d %s", code, errs)
	}
	back, err := convert.ReadCheckpoint(out)
	if err != nil {
		t.Fatal(err)
	}
	root := back.Root.(*convert.Dict)
	epoch, _ := root.Get("epoch")
	if back.WrapperKey != "model_state_dict" || back.Prefix != "module." || back.StateDict.Len() != 116 || epoch != 12 {
		t.Fatalf("wrapper %q prefix %q, %d keys, epoch %v", back.WrapperKey, back.Prefix, back.StateDict.Len(), epoch)
	}
}

func sha(t *testing.T, p string) [32]byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func TestVerifyExitStatuses(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.onnx")
	if code, _, errs := gnconv(t, "import", fx("tutorial_aux.pth"), "-o", good, "--aux"); code != 0 {
		t.Fatalf("import: %d %s", code, errs)
	}
	code, out, errs := gnconv(t, "verify", good, "--weights", fx("tutorial_aux.pth"), "--inputs", "2", "--seed", "3")
	if code != 0 || !strings.Contains(out, "result: PASS") || strings.Count(out, "PASS") != 5 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	// The same file checked against other weights: a mismatch, exit 1.
	code, out, errs = gnconv(t, "verify", good, "--weights", fx("tutorial_aux.pth"), "--json", "--transform-input")
	var rep verifyReport
	if code != exitMismatch || json.Unmarshal([]byte(out), &rep) != nil || rep.Pass || !strings.Contains(errs, "logits (max abs error") || !strings.Contains(errs, "transform_input=false") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := gnconv(t, "verify", good); code != exitError || !strings.Contains(errs, "--weights") {
		t.Fatalf("no weights: exit %d %s", code, errs)
	}
	if code, _, errs := gnconv(t, "verify", fx("tutorial_aux.pth"), "--weights", fx("tutorial_aux.pth")); code != exitError || !strings.Contains(errs, "not an ONNX model") {
		t.Fatalf("a .pth as the model: exit %d %s", code, errs)
	}
	// import --verify: exit 0, and the report in the JSON summary
	code, out, _ = gnconv(t, "import", fx("torchvision_aux.pth"), "-o", filepath.Join(dir, "tv.onnx"), "--verify", "--json", "--no-fold-bn")
	var s importSummary
	if code != 0 || json.Unmarshal([]byte(out), &s) != nil || s.Verify == nil || !s.Verify.Pass {
		t.Fatalf("exit %d: %s", code, out)
	}
}

func TestPruneAuxForeignNames(t *testing.T) {
	dir := t.TempDir()
	ck, err := convert.ReadCheckpoint(fx("torchvision_aux.pth"))
	if err != nil {
		t.Fatal(err)
	}
	rename := strings.NewReplacer("inception", "mixed_", "aux1.", "aux_a.", "aux2.", "aux_b.")
	sd := &convert.Dict{}
	for _, n := range ck.StateDict.Names {
		sd.Keys = append(sd.Keys, rename.Replace(n))
		sd.Values = append(sd.Values, ck.StateDict.Tensors[n])
	}
	in := filepath.Join(dir, "foreign.pth")
	f, _ := os.Create(in)
	if err := convert.WriteObject(f, sd, true); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// names that are no preset's bind only onto a named layout
	if _, out, _ := gnconv(t, "inspect", in); !strings.Contains(out, "--layout") || strings.Contains(out, "strict: ok") {
		t.Fatalf("foreign names bound without a named layout:\n%s", out)
	}
	pruned := filepath.Join(dir, "deploy.pth")
	if code, _, _ := gnconv(t, "prune-aux", in, "-o", pruned); code != 2 {
		t.Fatalf("prune-aux of foreign names without --layout: exit %d", code)
	}
	code, out, errs := gnconv(t, "inspect", "--layout", "torchvision", in)
	if code != 0 || !strings.Contains(out, "by position") || !strings.Contains(out, "strict: ok") {
		t.Fatalf("exit %d %s\n%s", code, errs, out)
	}
	if code, _, errs := gnconv(t, "prune-aux", "--layout", "torchvision", in, "-o", pruned); code != 0 {
		t.Fatalf("exit %d %s", code, errs)
	}
	back, err := convert.ReadCheckpoint(pruned)
	if err != nil {
		t.Fatal(err)
	}
	if back.StateDict.Len() != 344 || back.StateDict.Names[10] != rename.Replace(ck.StateDict.Names[10]) {
		t.Fatalf("%d keys, %v", back.StateDict.Len(), back.StateDict.Names[:12])
	}
	for _, n := range back.StateDict.Names {
		if strings.Contains(n, "aux") {
			t.Fatalf("%s kept", n)
		}
	}
}

func TestAuxHeadsFlag(t *testing.T) {
	code, out, _ := gnconv(t, "inspect", fx("torchvision_aux.pth"), "--aux-heads", "no")
	if code != 0 || !strings.Contains(out, "FAILED") || !strings.Contains(out, `Unexpected key(s) in state_dict: "aux1.conv.conv.weight"`) {
		t.Fatalf("exit %d\n%s", code, out)
	}
	code, out, _ = gnconv(t, "inspect", fx("torchvision_aux.pth"), "--aux-heads", "no", "--no-strict")
	if code != 0 || !strings.Contains(out, "non-strict: ok") || !strings.Contains(out, "unexpected aux1.conv.conv.weight") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if code, _, errs := gnconv(t, "inspect", fx("torchvision_aux.pth"), "--aux-heads", "maybe"); code != exitError || !strings.Contains(errs, "--aux-heads") {
		t.Fatalf("exit %d %s", code, errs)
	}
}

// TestVerifyAlteredFileExit1: a file with ceil_mode dropped from one pool
// fails with exit 1, naming the output and its error.
func TestVerifyAlteredFileExit1(t *testing.T) {
	ck, err := convert.ReadCheckpoint(fx("tutorial_aux.pth"))
	if err != nil {
		t.Fatal(err)
	}
	net, _, err := graph.Load(ck.StateDict, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := convert.EmitONNX(net, convert.ONNXOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range m.Model.Graph.Node {
		if n.GetName() == "maxpool3" {
			var kept []*onnxpb.AttributeProto
			for _, a := range n.Attribute {
				if a.GetName() != "ceil_mode" {
					kept = append(kept, a)
				}
			}
			n.Attribute = kept
		}
	}
	data, _ := m.Marshal()
	p := filepath.Join(t.TempDir(), "altered.onnx")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := gnconv(t, "verify", p, "--weights", fx("tutorial_aux.pth"))
	if code != exitMismatch || !strings.Contains(errs, "logits (max abs error") || !strings.Contains(out, "FAIL") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
}

// writeExpect writes an expect file as a user's torch.save({"input": x,
// "logits": y, ...}) would, from the fixture's torch-recorded outputs;
// shift is added to the first logit.
func writeExpect(t *testing.T, path, model string, shift float32) {
	t.Helper()
	man, err := fixture.Load()
	if err != nil {
		t.Fatal(err)
	}
	m := man.Models[model]
	x, err := fixture.ReadF32(m.Input)
	if err != nil {
		t.Fatal(err)
	}
	d := &convert.Dict{Keys: []interface{}{"input"}, Values: []interface{}{tensor.NewFloat32([]int{2, 3, 224, 224}, x)}}
	for _, name := range []string{"logits", "aux1", "aux2"} {
		a := m.Outputs[name]
		v, err := fixture.ReadF32(a.File)
		if err != nil {
			t.Fatal(err)
		}
		if name == "logits" {
			v = append([]float32(nil), v...)
			v[0] += shift
		}
		d.Keys = append(d.Keys, name)
		d.Values = append(d.Values, tensor.NewFloat32(a.Shape, v))
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := convert.WriteObject(f, d, false); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyExpect: PyTorch's recorded outputs are the ground truth; a
// mismatch exits 1 and says whether the ONNX file, the reference pass or
// both differ from them.
func TestVerifyExpect(t *testing.T) {
	dir := t.TempDir()
	weights := fx("torchvision_aux.pth")
	onnx := filepath.Join(dir, "m.onnx")
	good, bad := filepath.Join(dir, "expect.pt"), filepath.Join(dir, "bad.pt")
	writeExpect(t, good, "torchvision_aux.pth", 0)
	writeExpect(t, bad, "torchvision_aux.pth", 0.5)
	if code, out, errs := gnconv(t, "import", weights, "--aux", "-o", onnx, "--expect", good, "--inputs", "0", "--json"); code != 0 {
		t.Fatalf("import --expect: exit %d %s\n%s", code, errs, out)
	} else {
		var s importSummary
		if err := json.Unmarshal([]byte(out), &s); err != nil || s.Verify == nil || s.Verify.Expect == nil || !s.Verify.Expect.Pass || len(s.Verify.Expect.Checks) != 3 || s.Verify.Batches != 0 {
			t.Fatalf("import --expect summary: %v %s", err, out)
		}
	}
	code, out, errs := gnconv(t, "verify", onnx, "--weights", weights, "--expect", bad)
	if code != exitMismatch || !strings.Contains(errs, "PyTorch's logits differs from the ONNX file") || !strings.Contains(errs, "and gnconv's reference pass") {
		t.Fatalf("expect with a shifted logit: exit %d %s\n%s", code, errs, out)
	}
	// transform_input changes both the file and the reference: both differ
	tf := filepath.Join(dir, "tf.onnx")
	if code, _, errs := gnconv(t, "import", weights, "--transform-input", "-o", tf); code != 0 {
		t.Fatalf("exit %d %s", code, errs)
	}
	code, _, errs = gnconv(t, "verify", tf, "--weights", weights, "--transform-input", "--expect", good)
	if code != exitMismatch || !strings.Contains(errs, "the ONNX file") || !strings.Contains(errs, "reference pass") {
		t.Fatalf("transform_input against torch's plain outputs: exit %d %s", code, errs)
	}
	// an expect file without input, or of another class count
	if code, _, errs := gnconv(t, "verify", onnx, "--weights", weights, "--expect", weights); code != exitError || !strings.Contains(errs, `no "input"`) {
		t.Fatalf("weights as expect file: exit %d %s", code, errs)
	}
}

// TestInspectWholeModelTree: a whole pickled model's module tree is shown
// with each module's hyperparameters (and carried in full by --json).
func TestInspectWholeModelTree(t *testing.T) {
	code, out, errs := gnconv(t, "inspect", fx("models/net_zip.pth"))
	if code != 0 || !strings.Contains(out, "whole pickled model (read, never run)") ||
		!strings.Contains(out, "MaxPool2d  kernel_size=3 stride=2 padding=0 dilation=1 ceil_mode=True") ||
		!strings.Contains(out, "AvgPool2d  kernel_size=3 stride=1 padding=1 ceil_mode=False count_include_pad=False") {
		t.Fatalf("exit %d %s\n%s", code, errs, out)
	}
	code, out, _ = gnconv(t, "inspect", "--json", fx("models/net_zip.pth"))
	var res inspectResult
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || len(res.Modules) != 13 || res.Modules[0].Attrs["transform_input"] != "True" {
		t.Fatalf("exit %d, %d modules: %s", code, len(res.Modules), out)
	}
}

// TestVerifyHintsAtMetadata: a file written with LRN, verified against
// weights loaded without it, fails with a hint naming the flag.
func TestVerifyHintsAtMetadata(t *testing.T) {
	dir := t.TempDir()
	onnx := filepath.Join(dir, "lrn.onnx")
	if code, _, errs := gnconv(t, "import", fx("tutorial_aux.pth"), "--lrn", "-o", onnx); code != 0 {
		t.Fatalf("exit %d %s", code, errs)
	}
	code, _, errs := gnconv(t, "verify", onnx, "--weights", fx("tutorial_aux.pth"))
	if code != exitMismatch || !strings.Contains(errs, "lrn=true, the weights were loaded with lrn=false (--lrn)") {
		t.Fatalf("exit %d %s", code, errs)
	}
}

// TestVerifyLimitScale: the interpreter's limits refuse a batch too large
// for them, and --limit-scale raises them.
func TestVerifyLimitScale(t *testing.T) {
	dir := t.TempDir()
	onnx := filepath.Join(dir, "m.onnx")
	if code, _, errs := gnconv(t, "import", fx("tutorial_aux.pth"), "-o", onnx); code != 0 {
		t.Fatalf("exit %d %s", code, errs)
	}
	if code, _, errs := gnconv(t, "verify", onnx, "--weights", fx("tutorial_aux.pth"), "--limit-scale", "0"); code != exitError || !strings.Contains(errs, "--limit-scale") {
		t.Fatalf("--limit-scale 0: exit %d %s", code, errs)
	}
	if code, _, errs := gnconv(t, "verify", onnx, "--weights", fx("tutorial_aux.pth"), "--batch", "4000"); code != exitError || !strings.Contains(errs, "limit") {
		t.Fatalf("a batch of 4000: exit %d %s", code, errs)
	}
}

// TestLimitScaleReachesTheReader: a checkpoint over the reader's default
// data budget is refused, and read with --limit-scale.
func TestLimitScaleReachesTheReader(t *testing.T) {
	if err := setLimitScale(1); err != nil {
		t.Fatal(err)
	}
	small := readLimits
	if err := setLimitScale(4); err != nil {
		t.Fatal(err)
	}
	defer setLimitScale(1)
	if readLimits.DataBytes <= small.DataBytes || readLimits.PickleBytes <= small.PickleBytes {
		t.Fatalf("--limit-scale 4 left the reader's limits at %+v", readLimits)
	}
	if code, _, errs := gnconv(t, "inspect", "--limit-scale", "0", fx("tutorial_aux.pth")); code != exitError || !strings.Contains(errs, "--limit-scale") {
		t.Fatalf("exit %d %s", code, errs)
	}
}
