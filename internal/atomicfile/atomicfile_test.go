package atomicfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func writeString(s string) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := io.WriteString(w, s)
		return err
	}
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteNewAndForce(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.onnx")
	if err := Write(p, false, writeString("one")); err != nil {
		t.Fatal(err)
	}
	if err := Write(p, false, writeString("two")); !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), p) {
		t.Fatalf("overwrite without force: %v", err)
	}
	if err := Write(p, true, writeString("two")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "two" {
		t.Fatalf("%q", b)
	}
	if names := entries(t, dir); len(names) != 1 {
		t.Fatalf("left behind: %v", names)
	}
}

// TestRefusesNonRegular: a directory, a FIFO, a socket and a device node
// are never written, with force or without, and stay as they were.
func TestRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "null-link")
	if err := os.Symlink("/dev/null", link); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, kind string }{
		{fifo, "a FIFO"}, {sock, "a socket"}, {sub, "a directory"}, {"/dev/null", "a character device"}, {link, "a character device"},
	} {
		for _, force := range []bool{false, true} {
			err := Write(c.path, force, writeString("x"))
			if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), c.path) || !strings.Contains(err.Error(), c.kind) {
				t.Errorf("%s force=%v: %v", c.path, force, err)
			}
			if err := Check(c.path, force); !errors.Is(err, ErrNotRegular) {
				t.Errorf("Check %s force=%v: %v", c.path, force, err)
			}
		}
	}
	st, err := os.Lstat(fifo)
	if err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("the FIFO changed: %v %v", st.Mode(), err)
	}
	if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Fatal("the link was replaced")
	}
	for _, n := range entries(t, dir) {
		if strings.HasSuffix(n, ".tmp") {
			t.Fatalf("temporary left: %s", n)
		}
	}
}

// TestErrorsNameTheGivenPath: a failed write says the caller's path, not
// the temporary's, and leaves nothing.
func TestErrorsNameTheGivenPath(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.onnx")
	err := Write(p, false, func(w io.Writer) error {
		w.(*os.File).Close()
		_, err := w.Write([]byte("late"))
		return err
	})
	if err == nil || !strings.Contains(err.Error(), p) || strings.Contains(err.Error(), ".tmp") {
		t.Fatalf("%v", err)
	}
	if !errors.Is(err, os.ErrClosed) {
		t.Fatalf("the cause is lost: %v", err)
	}
	boom := errors.New("boom")
	if err := Write(p, false, func(io.Writer) error { return boom }); !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), p+": ") {
		t.Fatalf("%v", err)
	}
	if names := entries(t, dir); len(names) != 0 {
		t.Fatalf("left behind: %v", names)
	}
	// a folder that does not exist
	q := filepath.Join(dir, "no", "out.onnx")
	if err := Write(q, false, writeString("x")); err == nil || !strings.HasPrefix(err.Error(), q+": ") || strings.Contains(err.Error(), "*") {
		t.Fatalf("%v", err)
	}
}

func TestRegistry(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, ".x.tmp")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	register(p)
	if got := removeTemporaries(false); len(got) != 1 || got[0] != p {
		t.Fatalf("removed %v", got)
	}
	if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("still there: %v", err)
	}
	// a completed write is no longer registered
	if err := Write(filepath.Join(dir, "done"), false, writeString("x")); err != nil {
		t.Fatal(err)
	}
	if got := removeTemporaries(false); len(got) != 0 {
		t.Fatalf("a finished write left %v registered", got)
	}
}

// TestSignalRemovesTemporary runs a write that blocks halfway in a child
// process, signals it, and finds the temporary gone and the status 128+n.
func TestSignalRemovesTemporary(t *testing.T) {
	if dir := os.Getenv("ATOMICFILE_SIGNAL_CHILD"); dir != "" {
		CleanupOnSignals()
		Write(filepath.Join(dir, "out.onnx"), false, func(w io.Writer) error {
			if _, err := w.Write(make([]byte, 1<<16)); err != nil {
				return err
			}
			fmt.Println("ready")
			select {}
		})
		os.Exit(3)
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		dir := t.TempDir()
		cmd := exec.Command(os.Args[0], "-test.run=^TestSignalRemovesTemporary$")
		cmd.Env = append(os.Environ(), "ATOMICFILE_SIGNAL_CHILD="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(out).ReadString('\n')
		if line != "ready\n" {
			cmd.Process.Kill()
			t.Fatalf("child said %q", line)
		}
		if names := entries(t, dir); len(names) != 1 || !strings.HasSuffix(names[0], ".tmp") {
			t.Fatalf("while writing: %v", names)
		}
		cmd.Process.Signal(sig)
		err = cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 128+int(sig) {
			t.Fatalf("%v: %v, want exit %d", sig, err, 128+int(sig))
		}
		if names := entries(t, dir); len(names) != 0 {
			t.Fatalf("%v left %v", sig, names)
		}
	}
}
