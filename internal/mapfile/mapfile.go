// Package mapfile maps input files into memory read-only, and turns the
// fault that reading a mapping raises when its file was truncated meanwhile
// (SIGBUS) into an error.
package mapfile

import (
	"fmt"
	"os"
	"runtime/debug"
	"unsafe"

	"github.com/gnconv/gnconv/internal/safeopen"
)

// Mapping is a regular file mapped read-only. Its bytes may only be read
// inside Read: another process can truncate the file at any time, and
// reading a page that no longer exists faults.
type Mapping struct {
	name string
	data []byte
}

// Open maps a regular file (anything else is refused, see safeopen). It
// returns nil without error when the file cannot be mapped (empty, or
// mapping unavailable or refused); the caller then reads it.
func Open(name string) (*Mapping, error) {
	f, err := safeopen.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() == 0 || st.Size() != int64(int(st.Size())) {
		return nil, nil
	}
	b, err := mmap(f, int(st.Size()))
	if err != nil || b == nil {
		return nil, nil
	}
	return &Mapping{name: name, data: b}, nil
}

// Name is the mapped file's name.
func (m *Mapping) Name() string { return m.name }

// Len is the mapped length (the file's size when it was mapped).
func (m *Mapping) Len() int { return len(m.data) }

// Read runs fn on the mapped bytes in the calling goroutine, with a fault
// in reading them (the file truncated while mapped) turned into a
// *FaultError. fn must not start goroutines that read the bytes, and
// nothing may keep a slice of them once fn returns: copy what must outlive
// the call.
func (m *Mapping) Read(fn func(b []byte) error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if p := recover(); p != nil {
			if m.faulted(p) {
				err = &FaultError{Name: m.name}
				return
			}
			panic(p)
		}
	}()
	return fn(m.data)
}

// Release drops the whole pages of b, a part of the mapping already
// copied out, from the process's memory, so that copying a file out of
// its mapping does not hold both at once. Reading them again later is
// still correct (the pages come back from the file); b outside the
// mapping is ignored.
func (m *Mapping) Release(b []byte) {
	if m == nil || len(b) == 0 || len(m.data) == 0 {
		return
	}
	base := uintptr(unsafe.Pointer(&m.data[0]))
	lo := uintptr(unsafe.Pointer(&b[0]))
	hi := lo + uintptr(len(b))
	if lo < base || hi > base+uintptr(len(m.data)) {
		return
	}
	page := uintptr(os.Getpagesize())
	start := (lo - base + page - 1) / page * page
	end := (hi - base) / page * page
	if end > start {
		release(m.data[start:end])
	}
}

// Close unmaps the file. The bytes must not be used after.
func (m *Mapping) Close() error {
	if m == nil || m.data == nil {
		return nil
	}
	b := m.data
	m.data = nil
	return munmap(b)
}

// faulted reports whether a recovered panic is a fault inside the mapping.
func (m *Mapping) faulted(p interface{}) bool {
	a, ok := p.(interface{ Addr() uintptr })
	if !ok || !IsFault(p) || len(m.data) == 0 {
		return false
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(m.data)))
	return a.Addr() >= start && a.Addr()-start < uintptr(len(m.data))
}

// IsFault reports whether a recovered panic value is a memory fault with
// its address (what debug.SetPanicOnFault turns SIGBUS into). Code that
// recovers panics inside Read must panic again with such a value.
func IsFault(p interface{}) bool {
	_, isErr := p.(interface{ RuntimeError() })
	_, hasAddr := p.(interface{ Addr() uintptr })
	return isErr && hasAddr
}

// FaultError reports a mapped file that faulted while it was read.
type FaultError struct{ Name string }

func (e *FaultError) Error() string {
	return fmt.Sprintf("%s: the file changed while it was read (truncated by another process?)", e.Name)
}
