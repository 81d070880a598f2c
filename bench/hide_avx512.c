/*
 * hide_avx512: makes a process on an AVX-512 CPU run as on an AVX2-only
 * one, so that `GNCONV_KERNEL=avx2 make bench` sets gnconv's AVX2 kernel
 * against onnxruntime's (and torch's) AVX2 kernels rather than their
 * AVX-512 ones: every engine in the process picks its kernels from CPUID,
 * and here CPUID no longer reports AVX-512 (nor AVX-VNNI or AMX).
 *
 * Built as a shared library and loaded with LD_PRELOAD. Linux's CPUID
 * faulting (arch_prctl ARCH_SET_CPUID; /proc/cpuinfo's "cpuid_fault")
 * turns every CPUID instruction into a SIGSEGV, which the handler here
 * answers: it runs the real CPUID with faulting off for that instant,
 * clears the AVX-512 bits and steps over the instruction. The setting is
 * inherited by every thread the process starts. A program's own SIGSEGV
 * handler is kept aside (sigaction is wrapped) and receives every other
 * fault, as it would without this library. CPUID runs a few dozen times
 * while a process starts, never in a kernel's loop: the faults cost
 * nothing measurable.
 *
 * Built with -DCHECK it is instead a program that prints "avx512f" when
 * CPUID reports AVX-512 Foundation and "no avx512f" when not: run under
 * LD_PRELOAD, it shows that the library took effect.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>

static void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

#ifdef CHECK
int main(void) {
	uint32_t r[4];
	cpuid(7, 0, r);
	puts(r[1] & 1u << 16 ? "avx512f" : "no avx512f");
	return 0;
}
#else
#include <dlfcn.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#define ARCH_SET_CPUID 0x1012

static int (*real_sigaction)(int, const struct sigaction *, struct sigaction *);
/* the SIGSEGV handler the program installed, SIG_DFL until it does */
static struct sigaction program;

/* clear: what an AVX2-only CPU reports in leaf 7 (sub-leaves 0 and 1) */
static void clear(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
	if (leaf != 7)
		return;
	if (sub == 0) {
		/* EBX: AVX512F, DQ, IFMA, PF, ER, CD, BW, VL */
		r[1] &= ~(1u << 16 | 1u << 17 | 1u << 21 | 1u << 26 | 1u << 27 | 1u << 28 | 1u << 30 | 1u << 31);
		/* ECX: VBMI, VBMI2, VNNI, BITALG, VPOPCNTDQ */
		r[2] &= ~(1u << 1 | 1u << 6 | 1u << 11 | 1u << 12 | 1u << 14);
		/* EDX: 4VNNIW, 4FMAPS, VP2INTERSECT, AMX-BF16, FP16, AMX-TILE, AMX-INT8 */
		r[3] &= ~(1u << 2 | 1u << 3 | 1u << 8 | 1u << 22 | 1u << 23 | 1u << 24 | 1u << 25);
	} else if (sub == 1) {
		/* EAX: AVX-VNNI, AVX512_BF16 */
		r[0] &= ~(1u << 4 | 1u << 5);
	}
}

static void on_segv(int sig, siginfo_t *info, void *ctx) {
	ucontext_t *uc = ctx;
	greg_t *g = uc->uc_mcontext.gregs;
	const unsigned char *ip = (const unsigned char *)g[REG_RIP];
	if (info->si_code == SI_KERNEL && ip[0] == 0x0f && ip[1] == 0xa2) {
		uint32_t r[4], leaf = (uint32_t)g[REG_RAX], sub = (uint32_t)g[REG_RCX];
		syscall(SYS_arch_prctl, ARCH_SET_CPUID, 1);
		cpuid(leaf, sub, r);
		syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0);
		clear(leaf, sub, r);
		g[REG_RAX] = r[0];
		g[REG_RBX] = r[1];
		g[REG_RCX] = r[2];
		g[REG_RDX] = r[3];
		g[REG_RIP] += 2;
		return;
	}
	if (program.sa_flags & SA_SIGINFO) {
		program.sa_sigaction(sig, info, ctx);
		return;
	}
	if (program.sa_handler != SIG_DFL && program.sa_handler != SIG_IGN) {
		program.sa_handler(sig);
		return;
	}
	/* the default action: the faulting instruction runs again and the
	 * process dies of the signal */
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	real_sigaction(SIGSEGV, &dfl, NULL);
}

/* sigaction keeps on_segv as the SIGSEGV handler and records the
 * program's (Go's runtime, for one, installs its own through libc) */
int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
	if (!real_sigaction)
		real_sigaction = (int (*)(int, const struct sigaction *, struct sigaction *))dlsym(RTLD_NEXT, "sigaction");
	if (sig != SIGSEGV)
		return real_sigaction(sig, act, old);
	if (old)
		*old = program;
	if (act)
		program = *act;
	return 0;
}

__attribute__((constructor)) static void hide(void) {
	if (!real_sigaction)
		real_sigaction = (int (*)(int, const struct sigaction *, struct sigaction *))dlsym(RTLD_NEXT, "sigaction");
	program.sa_handler = SIG_DFL;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	if (real_sigaction(SIGSEGV, &sa, NULL) != 0 || syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0) != 0) {
		static const char msg[] = "hide_avx512: this CPU or kernel has no CPUID faulting; AVX-512 stays visible\n";
		ssize_t n = write(2, msg, sizeof msg - 1);
		(void)n;
	}
}
#endif
