package kernels

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/cpu"
)

// KernelEnv is the environment variable that forces a micro-kernel:
// "avx512", "avx2" or "neon" (each where the CPU runs it) or "go" (the
// plain-Go twin, with no assembly at all).
// It is read once, when the program starts; unset or empty, the best
// kernel the CPU runs is used.
const KernelEnv = "GNCONV_KERNEL"

// KernelInfo says which micro-kernel the GEMMs use and why.
type KernelInfo struct {
	// Name is the kernel in use and its tile: "avx512 8x32", "avx2 6x16",
	// "neon 6x16" or "go 6x16".
	Name string
	// ISA is its instruction set, one of KernelEnv's values.
	ISA string
	// Available lists the instruction sets this build runs on this CPU,
	// best first.
	Available []string
	// CPU lists the CPU features the choice looks at that the CPU has.
	CPU string
	// Requested is KernelEnv's value, "" when unset.
	Requested string
	// Winograd: 3x3 convolutions packed now run as Winograd
	// (WinogradEnabled; WinogradName says which transforms).
	Winograd bool
	// Err says why Requested is not in use (an unknown value, or a
	// kernel this CPU or build cannot run); the best available kernel
	// runs instead. It is also printed once to standard error.
	Err error
}

// Kernel reports the micro-kernel in use.
func Kernel() KernelInfo {
	info := choice
	info.Available = append([]string(nil), choice.Available...)
	info.Winograd = winogradOn()
	return info
}

// KernelName is the name of the micro-kernel in use, with its tile shape.
func KernelName() string { return choice.Name }

// kernel is the micro-kernel in use, choice what Kernel reports.
var kernel, choice = selectKernel(os.Getenv(KernelEnv))

func init() {
	setVectorISA(kernel.isa)
	if choice.Err != nil {
		fmt.Fprintf(os.Stderr, "gnconv: %v\n", choice.Err)
	}
}

// kernelISAs are KernelEnv's values, best first.
var kernelISAs = []string{"avx512", "avx2", "neon", "go"}

// selectKernel picks the kernel that request names ("" for the best).
func selectKernel(request string) (*microKernel, KernelInfo) {
	ks := availableKernels()
	info := KernelInfo{CPU: cpuFeatures(), Requested: request}
	for _, k := range ks {
		info.Available = append(info.Available, k.isa)
	}
	pick := ks[0]
	if req := strings.ToLower(strings.TrimSpace(request)); req != "" {
		found := false
		for _, k := range ks {
			if k.isa == req {
				pick, found = k, true
			}
		}
		if !found {
			known := false
			for _, isa := range kernelISAs {
				known = known || isa == req
			}
			why := "this CPU or build does not run it"
			if !known {
				why = "unknown kernel (want " + strings.Join(kernelISAs, ", ") + ")"
			}
			info.Err = fmt.Errorf("%s=%s: %s; using %s", KernelEnv, request, why, pick.name)
		}
	}
	info.Name, info.ISA = pick.name, pick.isa
	return pick, info
}

// useKernel makes k the micro-kernel in use, with the vector helpers
// (packing, pooling) of its instruction set.
func useKernel(k *microKernel) {
	kernel = k
	setVectorISA(k.isa)
}

// cpuFeatures lists the CPU features the kernels depend on that the CPU
// has: x86's, which choose among the kernels, or arm64's Advanced SIMD
// (asimd), which every arm64 CPU has and the NEON kernel uses.
func cpuFeatures() string {
	var fs []string
	for _, f := range []struct {
		name string
		has  bool
	}{{"avx", cpu.X86.HasAVX}, {"avx2", cpu.X86.HasAVX2}, {"fma", cpu.X86.HasFMA}, {"avx512f", cpu.X86.HasAVX512F},
		{"asimd", cpu.ARM64.HasASIMD}} {
		if f.has {
			fs = append(fs, f.name)
		}
	}
	if len(fs) == 0 {
		return "none"
	}
	return strings.Join(fs, " ")
}
