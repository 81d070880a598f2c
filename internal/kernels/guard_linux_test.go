package kernels

import (
	"fmt"
	"math/rand"
	"syscall"
	"testing"
	"unsafe"
)

// guarded returns n float32s that end where an unreadable page begins.
func guarded(t *testing.T, n int) []float32 {
	page := syscall.Getpagesize()
	size := (n*4 + page - 1) / page * page
	mem, err := syscall.Mmap(-1, 0, size+page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Skip("mmap:", err)
	}
	t.Cleanup(func() { syscall.Munmap(mem) })
	if err := syscall.Mprotect(mem[size:], syscall.PROT_NONE); err != nil {
		t.Skip("mprotect:", err)
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&mem[size-n*4])), n)
}

// TestMicroKernelsStayInside: a partial tile, with B in place, reads
// neither B nor C past its last column, and writes nothing there: both
// end at an unreadable page.
func TestMicroKernelsStayInside(t *testing.T) {
	r := rand.New(rand.NewSource(15))
	for _, mk := range availableKernels() {
		mr, nr := mk.mr, mk.nr
		for _, cols := range []int{1, 4, nr/2 + 1, nr - 1} {
			for _, rows := range []int{mr, 1} {
				k, ldb, ldc := 3, nr+7, nr+5
				a, packed := randSlice(r, mr*k+1), randSlice(r, nr*k)
				scale, shift := randSlice(r, mr), randSlice(r, mr)
				b := packed
				if mk.stridedB {
					b = guarded(t, (k-1)*ldb+cols)
					for p := 0; p < k; p++ {
						copy(b[p*ldb:], packed[p*nr:p*nr+cols])
					}
				} else {
					ldb = nr
				}
				c := guarded(t, (rows-1)*ldc+cols)
				copy(c, randSlice(r, len(c)))
				want := append([]float32(nil), c...)
				microGo(mr, nr, k, a, packed, want, nr, ldc, rows, cols, true, scale[:rows], shift[:rows], 0)
				mk.run(k, &a[0], &b[0], &c[0], ldb, ldc, rows, cols, true, true, &scale[0], &shift[0], 0)
				closeTo(t, fmt.Sprintf("%s rows=%d cols=%d", mk.name, rows, cols), c, want, 1e-5)
			}
		}
	}
}
