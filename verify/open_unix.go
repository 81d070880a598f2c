//go:build unix

package verify

import (
	"os"
	"syscall"
)

// openNoBlock opens a file for reading without blocking: a FIFO put in
// the place of a checked path would otherwise block until a writer came.
// A regular file reads the same with or without O_NONBLOCK.
func openNoBlock(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}
