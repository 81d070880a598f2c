//go:build unix

package mapfile

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestTruncatedWhileMapped reads a mapping whose file was truncated after
// it was mapped: the fault must become an error naming the file. It runs
// in a child process, so that a fault the runtime did not turn into a
// panic fails this test instead of killing the test binary.
func TestTruncatedWhileMapped(t *testing.T) {
	if os.Getenv("MAPFILE_TRUNCATE_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestTruncatedWhileMapped$", "-test.v")
		cmd.Env = append(os.Environ(), "MAPFILE_TRUNCATE_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "truncation-ok") {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, make([]byte, 3*os.Getpagesize()), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := Open(p)
	if err != nil || m == nil {
		t.Fatal(m, err)
	}
	defer m.Close()
	if err := os.Truncate(p, 0); err != nil {
		t.Fatal(err)
	}
	var sum byte
	err = m.Read(func(b []byte) error {
		for _, c := range b {
			sum += c
		}
		return nil
	})
	var fe *FaultError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), p) {
		t.Fatalf("got %v", err)
	}
	// the goroutine is back to faulting normally, and other panics pass
	func() {
		defer func() {
			if r := recover(); r == nil || !strings.Contains(r.(error).Error(), "boom") {
				t.Errorf("recovered %v", r)
			}
		}()
		m.Read(func([]byte) error { panic(errors.New("boom")) })
	}()
	t.Log("truncation-ok")
}

func TestOpenRefusesFIFO(t *testing.T) {
	p := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(p); err == nil || !strings.Contains(err.Error(), "FIFO") {
		t.Fatalf("Open: %v", err)
	}
}

// TestReleaseKeepsContents: pages released after a copy read back the
// same from the file; a slice outside the mapping is ignored.
func TestReleaseKeepsContents(t *testing.T) {
	name := filepath.Join(t.TempDir(), "f")
	want := make([]byte, 5*os.Getpagesize()+123)
	for i := range want {
		want[i] = byte(i * 7)
	}
	if err := os.WriteFile(name, want, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Open(name)
	if err != nil || m == nil {
		t.Fatalf("map: %v", err)
	}
	defer m.Close()
	err = m.Read(func(b []byte) error {
		m.Release(b[100 : len(b)-50])
		m.Release(make([]byte, 10))
		if !bytes.Equal(b, want) {
			return errors.New("the mapping changed after Release")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
