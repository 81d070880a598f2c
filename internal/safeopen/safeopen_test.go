//go:build unix

package safeopen

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		fifo:        "FIFO",
		dir:         "directory",
		"/dev/zero": "character device",
	}
	for path, want := range cases {
		done := make(chan error, 1)
		go func() {
			f, err := Open(path)
			if f != nil {
				f.Close()
			}
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
				t.Errorf("%s: got %v, want a %s refused", path, err, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: Open blocked", path)
		}
		if _, err := ReadFile(path, 0); !errors.Is(err, ErrNotRegular) {
			t.Errorf("ReadFile(%s): %v", path, err)
		}
	}
}

func TestOpensRegular(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	// through a symbolic link too
	link := p + ".link"
	if err := os.Symlink(p, link); err != nil {
		t.Fatal(err)
	}
	b, err := ReadFile(link, 0)
	if err != nil || string(b) != "hello" {
		t.Fatalf("%q %v", b, err)
	}
	if _, err := ReadFile(p, 3); err == nil {
		t.Fatal("a 5-byte file read with a 3-byte bound")
	}
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// blocking mode restored: a read does not return EAGAIN
	buf := make([]byte, 5)
	if n, err := f.Read(buf); n != 5 || err != nil {
		t.Fatalf("%d %v", n, err)
	}
}

func TestReadFileRefusesFIFO(t *testing.T) {
	p := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(p, 1<<30); err == nil || !strings.Contains(err.Error(), "FIFO") {
		t.Fatalf("ReadFile: %v", err)
	}
}

func TestReadFileCopies(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	os.WriteFile(p, []byte("abc"), 0o600)
	b, err := ReadFile(p, 1<<30)
	if err != nil || string(b) != "abc" {
		t.Fatal(b, err)
	}
	os.Truncate(p, 0)
	if string(b) != "abc" {
		t.Fatal("changed")
	}
}

func TestReadFileBounded(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sparse")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Truncate(p, 20<<30); err != nil {
		t.Skip(err)
	}
	if _, err := ReadFile(p, 1<<30); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("a 20 GiB sparse file: %v", err)
	}
}
