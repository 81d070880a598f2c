//go:build unix

package graph

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadLayoutFileRefusesNonRegular: a FIFO, a device or a directory
// given as a layout file is refused at once, never opened for reading.
func TestReadLayoutFileRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "layout.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip(err)
	}
	for _, p := range []string{fifo, "/dev/zero", dir} {
		done := make(chan error, 1)
		go func() { _, err := ReadLayoutFile(p); done <- err }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "not a regular file") {
				t.Errorf("%s: got %v", p, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: blocked", p)
		}
	}
}
