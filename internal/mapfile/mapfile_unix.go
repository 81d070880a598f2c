//go:build unix

// Package mapfile maps files into memory read-only.
package mapfile

import (
	"os"
	"syscall"
)

// Map maps a file read-only for the life of the process. It returns nil
// without error when the file cannot be mapped (empty, not a regular file,
// mapping refused); the caller then reads it.
func Map(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() || st.Size() == 0 || st.Size() != int64(int(st.Size())) {
		return nil, nil
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil
	}
	return b, nil
}

// ReadFile maps the file, or reads it where it cannot be mapped.
func ReadFile(name string) ([]byte, error) {
	b, err := Map(name)
	if err != nil || b != nil {
		return b, err
	}
	return os.ReadFile(name)
}
