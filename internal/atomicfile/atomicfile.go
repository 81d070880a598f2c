// Package atomicfile writes a file so that it appears whole or not at all.
//
// Only regular files are written: a new path, or with force an existing
// regular file. A FIFO, a device node, a directory or a socket at the
// path is refused, force or not. The temporary file a write goes through
// is removed on any error, and on SIGINT or SIGTERM once CleanupOnSignals
// has been called. Errors name the path the caller gave, never the
// temporary.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrExists is returned when the target exists and overwriting was not
// asked for.
var ErrExists = errors.New("file exists (use --force to overwrite)")

// ErrNotRegular is returned when the target exists and is not a regular
// file (a directory, a FIFO, a device, a socket).
var ErrNotRegular = errors.New("not a regular file")

// Check tells whether path may be written: it is new, or it is a regular
// file (following symbolic links) and force is set. It is what Write
// checks first, for callers that want to fail before doing any work.
func Check(path string, force bool) error {
	st, err := os.Stat(path)
	switch {
	case err == nil:
		if !st.Mode().IsRegular() {
			return fmt.Errorf("%s: %w (%s): only regular files or new paths are written", path, ErrNotRegular, kind(st.Mode()))
		}
		if !force {
			return fmt.Errorf("%s: %w", path, ErrExists)
		}
		return nil
	case errors.Is(err, fs.ErrNotExist):
		// a dangling symbolic link is there all the same
		if _, lerr := os.Lstat(path); lerr == nil && !force {
			return fmt.Errorf("%s: %w", path, ErrExists)
		}
		return nil
	default:
		return &pathError{fmt.Sprintf("%s: %v", path, unwrapPath(err)), err}
	}
}

// kind names a non-regular file mode in plain words.
func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeIrregular != 0:
		return "an irregular file"
	}
	return "not a plain file"
}

// Write creates path from what write produces: into a temporary file in
// the same folder, renamed over path only when complete and synced. On any
// error the temporary file is removed and path is left as it was.
func Write(path string, force bool, write func(io.Writer) error) (err error) {
	if err := Check(path, force); err != nil {
		return err
	}
	dir := filepath.Dir(path)
	tmp, err := createRegistered(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return &pathError{fmt.Sprintf("%s: cannot create a file in %s: %v", path, dir, unwrapPath(err)), err}
	}
	name := tmp.Name()
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(name)
			unregister(name)
			err = naming(err, name, path)
		}
	}()
	if err = write(tmp); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Chmod(name, 0o644); err != nil {
		return err
	}
	// the target may have changed since Check: never rename over a
	// non-regular file
	if st, serr := os.Stat(path); serr == nil && !st.Mode().IsRegular() {
		return fmt.Errorf("%s: %w (%s): only regular files or new paths are written", path, ErrNotRegular, kind(st.Mode()))
	}
	return renameRegistered(name, path)
}

// pathError is an error reworded to name the caller's path; it unwraps to
// the original.
type pathError struct {
	msg string
	err error
}

func (e *pathError) Error() string { return e.msg }
func (e *pathError) Unwrap() error { return e.err }

// naming rewords err so that it names path instead of the temporary tmp,
// and names path at all.
func naming(err error, tmp, path string) error {
	msg := err.Error()
	if strings.Contains(msg, tmp) {
		msg = strings.ReplaceAll(msg, tmp, path)
	} else if b := filepath.Base(tmp); strings.Contains(msg, b) {
		msg = strings.ReplaceAll(msg, b, filepath.Base(path))
	}
	if !strings.Contains(msg, path) {
		msg = path + ": " + msg
	}
	return &pathError{msg, err}
}

// unwrapPath is the cause of a *fs.PathError or *os.LinkError, without
// the path it names.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

// SameFile reports whether a and b name the same existing file.
func SameFile(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}
