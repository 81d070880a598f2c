package main

import (
	"archive/zip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gnconv/gnconv/convert"
	"github.com/gnconv/gnconv/internal/onnxpb"
	"github.com/gnconv/gnconv/tensor"
	"google.golang.org/protobuf/proto"
)

// writeStateDict writes the tutorial fixture's state dict with edit
// applied to a copy of its keys and values.
func writeStateDict(t *testing.T, path string, edit func(d *convert.Dict)) {
	t.Helper()
	ck, err := convert.ReadCheckpoint(fx("tutorial_aux.pth"))
	if err != nil {
		t.Fatal(err)
	}
	d := &convert.Dict{}
	for _, n := range ck.StateDict.Names {
		d.Keys = append(d.Keys, n)
		d.Values = append(d.Values, ck.StateDict.Tensors[n])
	}
	if edit != nil {
		edit(d)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := convert.WriteObject(f, d, true); err != nil {
		t.Fatal(err)
	}
}

func TestOutputMustBeRegularOrNew(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.onnx")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "sub.onnx")
	os.Mkdir(sub, 0o755)
	for _, c := range []struct{ out, kind string }{{fifo, "FIFO"}, {"/dev/null", "character device"}, {sub, "directory"}} {
		for _, force := range []bool{false, true} {
			args := []string{"import", fx("tutorial_aux.pth"), "-o", c.out}
			if force {
				args = append(args, "--force")
			}
			code, _, errs := gnconv(t, args...)
			if code != exitError || !strings.Contains(errs, c.out+": not a regular file") || !strings.Contains(errs, c.kind) {
				t.Errorf("import -o %s force=%v: exit %d %s", c.out, force, code, errs)
			}
			args[0] = "prune-aux"
			code, _, errs = gnconv(t, args...)
			if code != exitError || !strings.Contains(errs, "not a regular file") {
				t.Errorf("prune-aux -o %s force=%v: exit %d %s", c.out, force, code, errs)
			}
		}
	}
	if st, err := os.Lstat(fifo); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		t.Fatal("the FIFO was replaced")
	}
	if st, err := os.Stat("/dev/null"); err != nil || st.Mode()&os.ModeCharDevice == 0 {
		t.Fatal("/dev/null was replaced")
	}
	// a folder that cannot be written: the message names the output, not
	// the temporary
	out := filepath.Join(dir, "missing", "m.onnx")
	code, _, errs := gnconv(t, "import", fx("tutorial_aux.pth"), "-o", out)
	if code != exitError || !strings.Contains(errs, out) || strings.Contains(errs, ".tmp") {
		t.Fatalf("exit %d %s", code, errs)
	}
}

// TestSignalLeavesNoTemporary runs the built binary on a large write and
// interrupts it at increasing delays: each run either finishes or exits
// 130 (SIGINT) or 143 (SIGTERM) with no temporary left.
func TestSignalLeavesNoTemporary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "gnconv")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	caught := 0
	for i := 0; i < 12 && caught < 2; i++ {
		sig := []syscall.Signal{syscall.SIGINT, syscall.SIGTERM}[i%2]
		dir := t.TempDir()
		out := filepath.Join(dir, "m.onnx")
		cmd := exec.Command(bin, "import", fx("torchvision_aux.pth"), "--aux", "--no-fold-bn", "-o", out)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// signal once the temporary is there (or after a while)
		deadline := time.Now().Add(20 * time.Second)
		seen := false
		for !seen && time.Now().Before(deadline) {
			es, _ := os.ReadDir(dir)
			for _, e := range es {
				seen = seen || strings.HasSuffix(e.Name(), ".tmp")
			}
			if !seen {
				time.Sleep(200 * time.Microsecond)
			}
		}
		cmd.Process.Signal(sig)
		err := cmd.Wait()
		es, _ := os.ReadDir(dir)
		var ee *exec.ExitError
		switch {
		case err == nil:
			if len(es) != 1 || es[0].Name() != "m.onnx" {
				t.Fatalf("finished, leaving %v", es)
			}
		case errors.As(err, &ee) && ee.ExitCode() == 128+int(sig):
			if len(es) != 0 {
				t.Fatalf("%v: left %v", sig, es)
			}
			if seen {
				caught++
			}
		default:
			t.Fatalf("%v: %v", sig, err)
		}
	}
	if caught == 0 {
		t.Skip("no run was interrupted while writing (the write was too quick to catch)")
	}
}

// TestControlCharactersEscaped: a tensor named with ANSI escapes and a
// newline reaches no human-readable output raw.
func TestControlCharactersEscaped(t *testing.T) {
	dir := t.TempDir()
	bad := "\x1b[31mred\x1b[0m\n"
	in := filepath.Join(dir, "ansi.pth")
	writeStateDict(t, in, func(d *convert.Dict) {
		d.Keys = append(d.Keys, bad, "ok.\u202ename")
		d.Values = append(d.Values, tensor.NewFloat32([]int{1}, []float32{1}), tensor.NewFloat32([]int{1}, []float32{2}))
	})
	check := func(what, s string) {
		t.Helper()
		if strings.Contains(s, "\x1b") || strings.Contains(s, "red\x1b") || strings.Contains(s, "red\n") || strings.Contains(s, "[0m\n") || strings.Contains(s, "\xff") || strings.Contains(s, "\u202e") {
			t.Errorf("%s: raw control characters:\n%q", what, s)
		}
	}
	for _, args := range [][]string{
		{"inspect", in},
		{"inspect", in, "--no-strict"},
		{"import", in, "-o", filepath.Join(dir, "a.onnx")},
		{"import", in, "-o", filepath.Join(dir, "b.onnx"), "--no-strict"},
		{"prune-aux", in, "-o", filepath.Join(dir, "c.pth")},
	} {
		// warnings go to the process's stderr: capture it too
		code, out, errs := gnconvStderr(t, args...)
		check(strings.Join(args[:1], " "), out+errs)
		if !strings.Contains(out+errs, `\x1b[31mred\x1b[0m\n`) || !strings.Contains(out+errs, `ok.\u202ename`) {
			t.Errorf("%v: exit %d, the names are not shown escaped:\n%s%s", args, code, out, errs)
		}
	}
	// verify: the file's output names
	good := filepath.Join(dir, "good.onnx")
	if code, _, errs := gnconv(t, "import", fx("tutorial_aux.pth"), "-o", good); code != 0 {
		t.Fatal(errs)
	}
	renamed := filepath.Join(dir, "renamed.onnx")
	renameOutputs(t, good, renamed, nil, map[string]string{"logits": bad})
	code, out, errs := gnconv(t, "verify", renamed, "--weights", fx("tutorial_aux.pth"), "--outputs", "logits")
	check("verify", out+errs)
	if code != 0 || !strings.Contains(out, `\x1b[31mred\x1b[0m\n`) {
		t.Errorf("verify: exit %d\n%s%s", code, out, errs)
	}
	if s := clean("a\tb\x7f\xc2\x9b\u2028é 漢\xff"); s != `a\tb\x7f\u009b\u2028é 漢\xff` {
		t.Errorf("clean: %q", s)
	}
}

// gnconvStderr runs gnconv with the process's stderr captured as well.
func gnconvStderr(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = w
	done := make(chan string)
	go func() {
		b := new(strings.Builder)
		buf := make([]byte, 4096)
		for {
			n, err := r.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		done <- b.String()
	}()
	code, out, errs := gnconv(t, args...)
	os.Stderr = saved
	w.Close()
	return code, out, errs + <-done
}

// renameOutputs rewrites an ONNX file with its outputs reordered (order
// lists the old names in the new order; nil keeps it) and renamed.
func renameOutputs(t *testing.T, src, dst string, order []string, names map[string]string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	m := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(b, m); err != nil {
		t.Fatal(err)
	}
	g := m.Graph
	if order != nil {
		byName := map[string]*onnxpb.ValueInfoProto{}
		for _, o := range g.Output {
			byName[o.GetName()] = o
		}
		g.Output = nil
		for _, n := range order {
			g.Output = append(g.Output, byName[n])
		}
	}
	for _, o := range g.Output {
		if nn, ok := names[o.GetName()]; ok {
			for _, n := range g.Node {
				for i, x := range n.Output {
					if x == o.GetName() {
						n.Output[i] = nn
					}
				}
			}
			o.Name = proto.String(nn)
		}
	}
	b, err = proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSaysWhatAFileIs: files that are not checkpoints are named for what
// they are.
func TestSaysWhatAFileIs(t *testing.T) {
	dir := t.TempDir()
	onnx := filepath.Join(dir, "model.onnx")
	if code, _, errs := gnconv(t, "import", fx("tutorial_aux.pth"), "-o", onnx); code != 0 {
		t.Fatal(errs)
	}
	onnxNoExt := filepath.Join(dir, "model.bin")
	b, _ := os.ReadFile(onnx)
	os.WriteFile(onnxNoExt, b, 0o644)

	header := `{"fc.weight":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	st := make([]byte, 8)
	binary.LittleEndian.PutUint64(st, uint64(len(header)))
	st = append(append(st, header...), make([]byte, 8)...)
	safet := filepath.Join(dir, "model.safetensors")
	os.WriteFile(safet, st, 0o644)

	script := filepath.Join(dir, "scripted.pt")
	f, _ := os.Create(script)
	z := zip.NewWriter(f)
	for _, n := range []string{"scripted/data.pkl", "scripted/code/__torch__/torchvision/models/googlenet.py", "scripted/constants.pkl", "scripted/version"} {
		w, _ := z.Create(n)
		w.Write([]byte("\x80\x02}q\x00."))
	}
	z.Close()
	f.Close()

	h5 := filepath.Join(dir, "weights.h5")
	os.WriteFile(h5, append([]byte("\x89HDF\r\n\x1a\n"), make([]byte, 1024)...), 0o644)
	text := filepath.Join(dir, "notes.pth")
	os.WriteFile(text, []byte("trained for 30 epochs\n"), 0o644)

	for _, c := range []struct{ file, says string }{
		{onnx, "is an ONNX model"}, {onnxNoExt, "is an ONNX model"}, {safet, "is a safetensors file"},
		{script, "is a TorchScript archive"}, {h5, "is an HDF5 file"}, {text, "is a text file"},
	} {
		for _, cmd := range []string{"inspect", "import"} {
			if c.file == safet {
				continue // a checkpoint gnconv reads: see below
			}
			code, _, errs := gnconv(t, cmd, c.file, "-o", filepath.Join(dir, "out.onnx"))
			if cmd == "inspect" {
				code, _, errs = gnconv(t, cmd, c.file)
			}
			if code != exitError || !strings.Contains(errs, c.file+" "+c.says) || strings.Contains(errs, "neither") {
				t.Errorf("%s %s: exit %d %s", cmd, c.file, code, errs)
			}
		}
		if c.file != onnx && c.file != onnxNoExt {
			code, _, errs := gnconv(t, "verify", c.file, "--weights", fx("tutorial_aux.pth"))
			if code != exitError || !strings.Contains(errs, c.says) || !strings.Contains(errs, "not an ONNX model") {
				t.Errorf("verify %s: exit %d %s", c.file, code, errs)
			}
		}
	}
	// a safetensors file is read; this one is no GoogLeNet
	if code, stdout, _ := gnconv(t, "inspect", safet); code != 0 || !strings.Contains(stdout, "safetensors") {
		t.Errorf("inspect %s: exit %d %s", safet, code, stdout)
	}
	if code, _, errs := gnconv(t, "import", safet, "-o", filepath.Join(dir, "out.onnx")); code != exitError || strings.Contains(errs, "is a safetensors file") {
		t.Errorf("import %s: exit %d %s", safet, code, errs)
	}
	code, _, errs := gnconv(t, "verify", onnx, "--weights", onnx)
	if code != exitError || !strings.Contains(errs, onnx+" is an ONNX model") || !strings.Contains(errs, "not a PyTorch checkpoint") {
		t.Errorf("verify --weights model.onnx: exit %d %s", code, errs)
	}
}

// TestLongKeyListsSummarised: PyTorch's message lists each key list's
// first 8 and how many more; --json has them all.
func TestLongKeyListsSummarised(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "extra.pth")
	writeStateDict(t, in, func(d *convert.Dict) {
		for i := 0; i < 40; i++ {
			d.Keys = append(d.Keys, fmt.Sprintf("extra.layer%02d.weight", i))
			d.Values = append(d.Values, tensor.NewFloat32([]int{1}, []float32{0}))
		}
	})
	code, out, _ := gnconv(t, "inspect", in)
	out = out[strings.Index(out, "GoogLeNet\n"):] // the table lists every tensor
	if code != 0 || !strings.Contains(out, `Unexpected key(s) in state_dict: "extra.layer00.weight", `) ||
		!strings.Contains(out, `"extra.layer07.weight" and 32 more.`) || strings.Contains(out, "extra.layer08.weight") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	code, out, _ = gnconv(t, "inspect", in, "--json")
	var res inspectResult
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || len(res.GoogLeNet.Unexpected) != 40 || !strings.Contains(res.GoogLeNet.Error, "extra.layer39.weight") {
		t.Fatalf("inspect --json: exit %d %+v", code, res.GoogLeNet)
	}
	code, _, errs := gnconv(t, "import", in, "-o", filepath.Join(dir, "x.onnx"))
	if code != exitError || !strings.Contains(errs, "and 32 more") || strings.Contains(errs, "extra.layer39") {
		t.Fatalf("import: exit %d %s", code, errs)
	}
	for _, args := range [][]string{
		{"import", in, "-o", filepath.Join(dir, "x.onnx"), "--json"},
		{"verify", in, "--weights", in, "--json"},
	} {
		code, out, _ := gnconv(t, args...)
		var rep struct {
			File      string           `json:"file"`
			Error     string           `json:"error"`
			GoogLeNet inspectGoogLeNet `json:"googlenet"`
		}
		if code != exitError || json.Unmarshal([]byte(out), &rep) != nil || len(rep.GoogLeNet.Unexpected) != 40 || rep.File != in || rep.GoogLeNet.OK {
			t.Errorf("%s --json: exit %d\n%s", args[0], code, out)
		}
	}
}

func TestFlagsAndCommands(t *testing.T) {
	code, out, errs := gnconv(t)
	if code != exitError || out != "" || !strings.Contains(errs, "USAGE") || !strings.Contains(errs, "no command") {
		t.Errorf("bare gnconv: exit %d\n%s\n%s", code, out, errs)
	}
	code, _, errs = gnconv(t, "convert", "model.pth")
	if code != exitError || !strings.Contains(errs, "unknown command convert") || !strings.Contains(errs, "import") {
		t.Errorf("unknown command: exit %d %s", code, errs)
	}
	if code, out, _ := gnconv(t, "help"); code != 0 || !strings.Contains(out, "COMMANDS") {
		t.Errorf("help: exit %d %s", code, out)
	}
	if code, out, _ := gnconv(t, "--help"); code != 0 || !strings.Contains(out, "COMMANDS") {
		t.Errorf("--help: exit %d %s", code, out)
	}
	for _, cmd := range []string{"inspect", "import", "prune-aux", "verify"} {
		args := []string{cmd, fx("tutorial_aux.pth"), "--strict", "--no-strict"}
		if cmd == "verify" {
			args = append(args, "--weights", fx("tutorial_aux.pth"))
		}
		if code, _, errs := gnconv(t, args...); code != exitError || !strings.Contains(errs, "conflicting flags") {
			t.Errorf("%s --strict --no-strict: exit %d %s", cmd, code, errs)
		}
	}
	// --strict=false --no-strict agree
	if code, out, _ := gnconv(t, "inspect", fx("tutorial_aux.pth"), "--strict=false", "--no-strict"); code != 0 || !strings.Contains(out, "non-strict: ok") {
		t.Errorf("--strict=false --no-strict: exit %d\n%s", code, out)
	}
}

func TestImportRefusesNonFinite(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "nan.pth")
	writeStateDict(t, in, func(d *convert.Dict) {
		for i, k := range d.Keys {
			if k == "conv1.conv.weight" || k == "fc.bias" {
				tt := d.Values[i].(*tensor.Tensor)
				v := append([]float32(nil), tt.Float32()...)
				v[0] = float32(math.NaN())
				v[1] = float32(math.Inf(-1))
				d.Values[i] = tensor.NewFloat32(tt.Shape, v)
			}
		}
	})
	out := filepath.Join(dir, "nan.onnx")
	code, _, errs := gnconvStderr(t, "import", in, "-o", out)
	if code != exitError || !strings.Contains(errs, "NaN or Inf") || !strings.Contains(errs, "fc.bias") || !strings.Contains(errs, "--allow-nonfinite") || strings.Contains(errs, "warning") {
		t.Fatalf("exit %d %s", code, errs)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a NaN model was written")
	}
	if code, _, errs := gnconv(t, "import", in, "-o", out, "--allow-nonfinite"); code != 0 {
		t.Fatalf("--allow-nonfinite: exit %d %s", code, errs)
	}
}

func writePNG(t *testing.T, path string, seed int) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for y := 0; y < 30; y++ {
		for x := 0; x < 40; x++ {
			img.Set(x, y, color.RGBA{uint8(x*seed*7 + y), uint8(y * 5 * seed), uint8((x + y) * seed), 255})
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyImagesTop5(t *testing.T) {
	dir := t.TempDir()
	onnx := filepath.Join(dir, "m.onnx")
	if code, _, errs := gnconv(t, "import", fx("tutorial_aux.pth"), "-o", onnx, "--aux"); code != 0 {
		t.Fatal(errs)
	}
	var imgs []string
	for i := 1; i <= 3; i++ {
		p := filepath.Join(dir, fmt.Sprintf("img%d.png", i))
		writePNG(t, p, i)
		imgs = append(imgs, p)
	}
	code, out, errs := gnconv(t, "verify", onnx, "--weights", fx("tutorial_aux.pth"), "--image", strings.Join(imgs, ","))
	if code != 0 || !strings.Contains(strings.SplitN(out, "\n", 2)[0], ": 3 images") || strings.Contains(strings.SplitN(out, "\n", 2)[0], "random") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, p := range imgs {
		if !strings.Contains(out, p) {
			t.Errorf("%s not listed:\n%s", p, out)
		}
	}
	if strings.Count(out, "ONNX file") != 3 || strings.Count(out, "reference pass") != 3 {
		t.Errorf("not each image's top-5 from both:\n%s", out)
	}
	code, out, _ = gnconv(t, "verify", onnx, "--weights", fx("tutorial_aux.pth"), "--image", strings.Join(imgs, ","), "--inputs", "2", "--json")
	var rep verifyReport
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || len(rep.Images) != 3 || rep.Batches != 3 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	for _, im := range rep.Images {
		if len(im.ONNX) != 5 || len(im.Reference) != 5 || im.ONNX[0].Class != im.Reference[0].Class || im.ONNX[0].Score < im.ONNX[4].Score {
			t.Errorf("%+v", im)
		}
	}
	code, out, _ = gnconv(t, "verify", onnx, "--weights", fx("tutorial_aux.pth"), "--inputs", "2")
	if code != 0 || !strings.Contains(out, ": 2 random batches of 2\n") {
		t.Errorf("exit %d\n%s", code, out)
	}
}

// TestPruneAuxONNXOutputs: a file whose outputs are named otherwise (as
// torch.onnx.export names them) is pruned by the roles --outputs gives.
func TestPruneAuxONNXOutputs(t *testing.T) {
	dir := t.TempDir()
	full := filepath.Join(dir, "full.onnx")
	if code, _, errs := gnconv(t, "import", fx("tutorial_aux.pth"), "-o", full, "--aux"); code != 0 {
		t.Fatal(errs)
	}
	// torch's order and names: logits, aux2, aux1 as 1001, 1002, 1003
	foreign := filepath.Join(dir, "torch.onnx")
	renameOutputs(t, full, foreign, []string{"logits", "aux2", "aux1"}, map[string]string{"logits": "1001", "aux2": "1002", "aux1": "1003"})
	out := filepath.Join(dir, "deploy.onnx")
	code, _, errs := gnconv(t, "prune-aux", foreign, "-o", out)
	if code != exitError || !strings.Contains(errs, "--outputs") || !strings.Contains(errs, "1001, 1002, 1003") {
		t.Fatalf("without --outputs: exit %d %s", code, errs)
	}
	for _, bad := range []string{"logits,aux1", "logits,aux1,aux1", "aux1,aux2,fc", "aux2,aux1,aux1"} {
		if code, _, errs := gnconv(t, "prune-aux", foreign, "-o", out, "--outputs", bad); code != exitError || !strings.Contains(errs, "--outputs") {
			t.Errorf("--outputs %s: exit %d %s", bad, code, errs)
		}
	}
	code, stdout, errs := gnconv(t, "prune-aux", foreign, "-o", out, "--outputs", "logits,aux2,aux1", "--json")
	var s pruneSummary
	if code != 0 || json.Unmarshal([]byte(stdout), &s) != nil || s.RemovedNodes == 0 {
		t.Fatalf("exit %d %s %s", code, errs, stdout)
	}
	b, _ := os.ReadFile(out)
	m := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(b, m); err != nil || len(m.Graph.Output) != 1 || m.Graph.Output[0].GetName() != "1001" {
		t.Fatalf("%v %v", err, m.GetGraph().GetOutput())
	}
	if code, out, errs := gnconv(t, "verify", out, "--weights", fx("tutorial_aux.pth")); code != 0 {
		t.Fatalf("the pruned file: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := gnconv(t, "prune-aux", fx("tutorial_aux.pth"), "-o", filepath.Join(dir, "x.pth"), "--outputs", "logits"); code != exitError || !strings.Contains(errs, "ONNX") {
		t.Errorf("--outputs on a checkpoint: exit %d %s", code, errs)
	}
}

func TestUsageErrorsOnStderr(t *testing.T) {
	for _, args := range [][]string{{"--frob"}, {"import", "--frob", "x.pth"}, {"import", "--opset", "abc", "x.pth"}, {"help", "nosuch"}} {
		code, out, errs := gnconv(t, args...)
		if code != exitError || out != "" || !strings.HasPrefix(errs, "gnconv: ") || strings.Contains(errs, "USAGE") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}
}
