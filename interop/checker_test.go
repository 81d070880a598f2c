package interop

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gnconv/gnconv/convert"
)

// debianPython is Debian's interpreter, where python3-onnx and
// python3-torch are installed (another python3 may come first on PATH).
const debianPython = "/usr/bin/python3"

// pythonJSON runs one of the interop scripts with Debian's python3 and
// decodes the JSON it prints into v; its stderr goes into the failure.
func pythonJSON(t *testing.T, v interface{}, script string, args ...string) {
	t.Helper()
	cmd := exec.Command(debianPython, append([]string{script}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, stderr.String())
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("%s printed no JSON: %v", script, err)
	}
}

// requirePython skips without Debian's python3 and the modules named,
// except in CI.
func requirePython(t *testing.T, modules ...string) {
	t.Helper()
	args := []string{"-c", "import " + strings.Join(modules, ", ")}
	if out, err := exec.Command(debianPython, args...).CombinedOutput(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must run the Python interop tests: %v\n%s", err, out)
		}
		t.Skipf("python modules %v not available: %s", modules, out)
	}
}

func TestONNXCheckerAcceptsEveryVariant(t *testing.T) {
	requirePython(t, "onnx")
	dir := t.TempDir()
	var files []string
	for _, transform := range []bool{false, true} {
		for _, mf := range loadModels(t, transform) {
			for _, aux := range []bool{false, true} {
				for _, keepBN := range []bool{false, true} {
					for _, opset := range []int{13, 17} {
						model, err := convert.EmitONNX(mf.net, convert.ONNXOptions{Opset: opset, Aux: aux, KeepBN: keepBN, Softmax: opset == 13 && aux, Version: "test"})
						if err != nil {
							t.Fatal(err)
						}
						data, err := model.Marshal()
						if err != nil {
							t.Fatal(err)
						}
						p := filepath.Join(dir, fmt.Sprintf("%s_t%v_a%v_bn%v_o%d.onnx", strings.TrimSuffix(mf.name, ".pth"), transform, aux, keepBN, opset))
						if err := os.WriteFile(p, data, 0o644); err != nil {
							t.Fatal(err)
						}
						files = append(files, p)
					}
				}
			}
		}
	}
	checkAll(t, files)
}

// checkAll runs onnx.checker's full check (check_onnx.py) on every file
// and fails unless each passes.
func checkAll(t *testing.T, files []string) {
	t.Helper()
	out, err := exec.Command(debianPython, append([]string{"check_onnx.py"}, files...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("onnx.checker failed: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), "ok "); n != len(files) {
		t.Fatalf("checker passed %d of %d files:\n%s", n, len(files), out)
	}
}
