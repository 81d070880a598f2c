//go:build !(amd64 || arm64) || purego

package kernels

// availableKernels lists the micro-kernels this build runs, best first:
// here only the plain-Go one.
func availableKernels() []*microKernel {
	return []*microKernel{goKernel(6, 16)}
}
