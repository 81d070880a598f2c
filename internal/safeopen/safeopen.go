// Package safeopen opens input files for reading only when they are
// regular files: a FIFO, a device, a socket or a directory named as an
// input is refused before it is opened for reading, so it can neither
// block the process nor feed it an endless stream.
package safeopen

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// ErrNotRegular is wrapped by the error for a path that is not a regular
// file.
var ErrNotRegular = errors.New("not a regular file")

// Open opens name read-only if it is a regular file (following symbolic
// links). The path is checked before it is opened and the opened file is
// checked again, since the path may change in between.
func Open(name string) (*os.File, error) {
	st, err := os.Stat(name)
	if err != nil {
		return nil, err
	}
	if err := check(name, st); err != nil {
		return nil, err
	}
	f, err := open(name)
	if err != nil {
		return nil, err
	}
	st, err = f.Stat()
	if err == nil {
		err = check(name, st)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// ReadFile reads a whole regular file of at most max bytes (max <= 0: no
// bound but the file's size).
func ReadFile(name string, max int64) ([]byte, error) {
	f, err := Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	if max > 0 && size > max {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d allowed", name, size, max)
	}
	if size != int64(int(size)) {
		return nil, fmt.Errorf("%s: too large", name)
	}
	b := make([]byte, size)
	n, err := f.ReadAt(b, 0)
	if n < len(b) {
		if err == nil {
			err = errors.New("short read")
		}
		return nil, fmt.Errorf("%s: changed while read (%d of %d bytes): %w", name, n, len(b), err)
	}
	return b, nil
}

// check refuses anything but a regular file, naming what it is.
func check(name string, st fs.FileInfo) error {
	m := st.Mode()
	if m.IsRegular() {
		return nil
	}
	what := "a special file"
	switch {
	case m.IsDir():
		what = "a directory"
	case m&fs.ModeNamedPipe != 0:
		what = "a FIFO (named pipe)"
	case m&fs.ModeSocket != 0:
		what = "a socket"
	case m&fs.ModeCharDevice != 0:
		what = "a character device"
	case m&fs.ModeDevice != 0:
		what = "a block device"
	}
	return &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("%w: %s", ErrNotRegular, what)}
}
