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
	os.Exit(code)
}
