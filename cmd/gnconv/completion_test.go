package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func visibleCommands(t *testing.T) []string {
	t.Helper()
	names := commandNames(definition())
	if len(names) < 7 {
		t.Fatalf("commands: %v", names)
	}
	return names
}

func TestCompletionScriptsNameEveryCommand(t *testing.T) {
	for _, shell := range completionShells {
		code, out, errs := gnconv(t, "completion", shell)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", shell, code, errs)
		}
		for _, name := range visibleCommands(t) {
			if !strings.Contains(out, name) {
				t.Errorf("%s script does not mention %s", shell, name)
			}
		}
		for _, flag := range []string{"output", "weights", "layout"} {
			if !strings.Contains(out, flag) {
				t.Errorf("%s script does not mention --%s", shell, flag)
			}
		}
	}
	if code, _, errs := gnconv(t, "completion", "tcsh"); code != exitError || !strings.Contains(errs, "unknown shell tcsh") {
		t.Fatalf("tcsh: exit %d: %s", code, errs)
	}
	if code, _, _ := gnconv(t, "completion"); code != exitError {
		t.Fatalf("no shell: exit %d", code)
	}
}

// TestBashCompletionRuns sources the bash script and asks it for
// completions as bash would.
func TestBashCompletionRuns(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	script, err := completionScript("bash")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "gnconv.bash")
	if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ words, want string }{
		{"gnconv im", "import"},
		{"gnconv ver", "verify version"},
		{"gnconv import model.pth --ou", "--output"},
		{"gnconv verify --weig", "--weights"},
		{"gnconv completion z", "zsh"},
		{"gnconv import -o ", ""}, // a flag's value: files (bash's default)
	} {
		words := strings.Fields(tc.words)
		if strings.HasSuffix(tc.words, " ") {
			words = append(words, "")
		}
		var quoted []string
		for _, w := range words {
			quoted = append(quoted, "'"+w+"'")
		}
		prog := "source " + file + "\nCOMP_WORDS=(" + strings.Join(quoted, " ") + ")\nCOMP_CWORD=" +
			strconv.Itoa(len(words)-1) + "\n_gnconv\necho \"${COMPREPLY[*]}\"\n"
		out, err := exec.Command(bash, "--norc", "--noprofile", "-c", prog).CombinedOutput()
		if err != nil {
			t.Fatalf("%q: %v\n%s", tc.words, err, out)
		}
		if got := strings.TrimSpace(string(out)); got != tc.want {
			t.Errorf("%q completes to %q, want %q", tc.words, got, tc.want)
		}
	}
}

func TestZshAndFishScriptsParse(t *testing.T) {
	for _, shell := range []string{"zsh", "fish"} {
		path, err := exec.LookPath(shell)
		if err != nil {
			t.Logf("no %s: checked by text only", shell)
			continue
		}
		script, err := completionScript(shell)
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(t.TempDir(), "gnconv."+shell)
		if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(path, "-n", file).CombinedOutput(); err != nil {
			t.Errorf("%s -n: %v\n%s", shell, err, out)
		}
	}
}

func TestManPage(t *testing.T) {
	code, page, errs := gnconv(t, "man")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.HasPrefix(page, ".nh\n.TH gnconv 1") || !strings.Contains(page, ".SH NAME") {
		t.Fatalf("not a section 1 roff page:\n%.300s", page)
	}
	for _, name := range visibleCommands(t) {
		if !strings.Contains(page, ".SH "+name+"\n") {
			t.Errorf("the page has no section for %s", name)
		}
	}
	man, err := exec.LookPath("man")
	if err != nil {
		return
	}
	file := filepath.Join(t.TempDir(), "gnconv.1")
	if err := os.WriteFile(file, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(man, "-l", file)
	cmd.Env = append(os.Environ(), "MANPAGER=cat", "PAGER=cat", "MANWIDTH=100")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Skipf("man -l: %v\n%s", err, out)
	}
	text := string(out)
	if !strings.Contains(text, "NAME") || !strings.Contains(text, "gnconv - turn PyTorch GoogLeNet checkpoints") {
		t.Fatalf("man -l renders:\n%.500s", text)
	}
	for _, name := range visibleCommands(t) {
		if !strings.Contains(text, "\n"+name+"\n") {
			t.Errorf("rendered page lacks the %s section", name)
		}
	}
}
