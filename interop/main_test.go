package interop

import (
	"os"
	"testing"
)

// TestMain removes the files that tests shared across the run.
func TestMain(m *testing.M) {
	code := m.Run()
	if wholeExactOnce.dir != "" {
		os.RemoveAll(wholeExactOnce.dir)
	}
	if photos.made {
		os.RemoveAll(photos.dir)
	}
	os.Exit(code)
}
