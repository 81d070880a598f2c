//go:build unix

package mapfile

import (
	"os"
	"syscall"
)

func mmap(f *os.File, n int) ([]byte, error) {
	return syscall.Mmap(int(f.Fd()), 0, n, syscall.PROT_READ, syscall.MAP_SHARED)
}

func munmap(b []byte) error { return syscall.Munmap(b) }

// release tells the kernel the pages of b are no longer needed: a read-only
// file mapping drops them from the process's memory (a later read faults
// them in again from the file).
func release(b []byte) { _ = syscall.Madvise(b, syscall.MADV_DONTNEED) }
