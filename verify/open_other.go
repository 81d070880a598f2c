//go:build !unix

package verify

import "os"

// openNoBlock opens a file for reading; without O_NONBLOCK, the check
// before the open is all there is.
func openNoBlock(path string) (*os.File, error) { return os.Open(path) }
