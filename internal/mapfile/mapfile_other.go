//go:build !unix

package mapfile

import "os"

// mmap is unavailable here: callers read the file instead.
func mmap(*os.File, int) ([]byte, error) { return nil, nil }

func munmap([]byte) error { return nil }

func release([]byte) {}
