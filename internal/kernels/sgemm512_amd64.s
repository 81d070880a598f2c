//go:build amd64 && !purego

#include "textflag.h"

// one row of one step of k: a broadcast value of A times the two 16-wide
// halves of B's row (Z16, Z17)
#define KROW(off, zb, z0, z1) \
	VBROADCASTSS off(SI), zb \
	VFMADD231PS  Z16, zb, z0 \
	VFMADD231PS  Z17, zb, z1

// one step of k: B's row in Z16, Z17 times A's eight values
#define KSTEP8X32 \
	KROW(0, Z18, Z0, Z1) \
	KROW(4, Z19, Z2, Z3) \
	KROW(8, Z20, Z4, Z5) \
	KROW(12, Z21, Z6, Z7) \
	KROW(16, Z22, Z8, Z9) \
	KROW(20, Z23, Z10, Z11) \
	KROW(24, Z24, Z12, Z13) \
	KROW(28, Z25, Z14, Z15) \
	ADDQ $32, SI \
	ADDQ R12, DI

// C's values of the row at R11 added to the accumulators, masked so that
// columns past the tile's edge are never read
#define ADDROW(z0, z1) \
	VADDPS (R11), z0, K1, z0 \
	VADDPS 64(R11), z1, K2, z1 \
	ADDQ   R8, R11

// y = max(x·scale + shift, floor); VMAXPS returns its second source, x,
// when either is NaN
#define EPROW(off, z0, z1) \
	VBROADCASTSS off(R9), Z27 \
	VBROADCASTSS off(R10), Z28 \
	VFMADD213PS  Z28, Z27, z0 \
	VFMADD213PS  Z28, Z27, z1 \
	VMAXPS       z0, Z26, z0 \
	VMAXPS       z1, Z26, z1

#define STOREROW(z0, z1) \
	VMOVUPS z0, K1, (DX) \
	VMOVUPS z1, K2, 64(DX) \
	ADDQ    R8, DX

// the tile of C is written (or read) once the sum is done: ask for its
// eight rows now, while the sum runs (second: the row's second line, or
// NOP for a 16-wide tile)
#define PREFETCHC(second) \
	MOVQ       DX, R11 \
	PREFETCHT0 (R11) \
	second \
	ADDQ       R8, R11 \
	PREFETCHT0 (R11) \
	second \
	ADDQ       R8, R11 \
	PREFETCHT0 (R11) \
	second \
	ADDQ       R8, R11 \
	PREFETCHT0 (R11) \
	second \
	ADDQ       R8, R11 \
	PREFETCHT0 (R11) \
	second \
	ADDQ       R8, R11 \
	PREFETCHT0 (R11) \
	second \
	ADDQ       R8, R11 \
	PREFETCHT0 (R11) \
	second \
	ADDQ       R8, R11 \
	PREFETCHT0 (R11) \
	second

// func kernel8x32(k int, a, b, c *float32, ldb, ldc int, mask uint64, flags int, scale, shift *float32, floor float32)
//
// An 8x32 tile of C from a packed 8-row panel of A (a[p*8+i]) and 32
// columns of B (b[p*ldb+j]: a packed panel when ldb is 32, B itself
// otherwise) in sixteen ZMM accumulators; flags bit 0 adds C, bit 1 applies
// the epilogue; only the columns in mask are read from B or C or written.
TEXT ·kernel8x32(SB), NOSPLIT, $0-84
	MOVQ  k+0(FP), CX
	MOVQ  a+8(FP), SI
	MOVQ  b+16(FP), DI
	MOVQ  c+24(FP), DX
	MOVQ  ldb+32(FP), R12
	SHLQ  $2, R12
	MOVQ  ldc+40(FP), R8
	SHLQ  $2, R8
	MOVQ  mask+48(FP), AX
	KMOVW AX, K1
	SHRQ  $16, AX
	KMOVW AX, K2
	PREFETCHC(PREFETCHT0 64(R11))
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15
	MOVQ  flags+56(FP), BX
	TESTQ CX, CX
	JE    store
	TESTQ $4, BX
	JNE   maskedloop

	// B's 32 columns all readable (a packed panel, or a whole tile of B
	// in place): plain loads, which issue faster than masked ones
loop:
	VMOVUPS    (DI), Z16
	VMOVUPS    64(DI), Z17
	PREFETCHT0 512(SI)
	KSTEP8X32
	DECQ CX
	JNE  loop
	JMP  store

maskedloop:
	VMOVUPS.Z  (DI), K1, Z16
	VMOVUPS.Z  64(DI), K2, Z17
	PREFETCHT0 512(SI)
	KSTEP8X32
	DECQ CX
	JNE  maskedloop

store:
	TESTQ $1, BX
	JE    noadd
	MOVQ  DX, R11
	ADDROW(Z0, Z1)
	ADDROW(Z2, Z3)
	ADDROW(Z4, Z5)
	ADDROW(Z6, Z7)
	ADDROW(Z8, Z9)
	ADDROW(Z10, Z11)
	ADDROW(Z12, Z13)
	ADDROW(Z14, Z15)

noadd:
	TESTQ $2, BX
	JE    noep
	MOVQ  scale+64(FP), R9
	MOVQ  shift+72(FP), R10
	VBROADCASTSS floor+80(FP), Z26
	EPROW(0, Z0, Z1)
	EPROW(4, Z2, Z3)
	EPROW(8, Z4, Z5)
	EPROW(12, Z6, Z7)
	EPROW(16, Z8, Z9)
	EPROW(20, Z10, Z11)
	EPROW(24, Z12, Z13)
	EPROW(28, Z14, Z15)

noep:
	STOREROW(Z0, Z1)
	STOREROW(Z2, Z3)
	STOREROW(Z4, Z5)
	STOREROW(Z6, Z7)
	STOREROW(Z8, Z9)
	STOREROW(Z10, Z11)
	STOREROW(Z12, Z13)
	STOREROW(Z14, Z15)
	VZEROUPPER
	RET

// one row of one step of k for the 16-wide tile
#define KROW16(off, zb, z0) \
	VBROADCASTSS off(SI), zb \
	VFMADD231PS  Z16, zb, z0

#define KSTEP8X16 \
	KROW16(0, Z18, Z0) \
	KROW16(4, Z19, Z1) \
	KROW16(8, Z20, Z2) \
	KROW16(12, Z21, Z3) \
	KROW16(16, Z22, Z4) \
	KROW16(20, Z23, Z5) \
	KROW16(24, Z24, Z6) \
	KROW16(28, Z25, Z7) \
	ADDQ $32, SI \
	ADDQ R12, DI

#define EPROW16(off, z0) \
	VBROADCASTSS off(R9), Z27 \
	VBROADCASTSS off(R10), Z28 \
	VFMADD213PS  Z28, Z27, z0 \
	VMAXPS       z0, Z26, z0

// func kernel8x16(k int, a, b, c *float32, ldb, ldc int, mask uint64, flags int, scale, shift *float32, floor float32)
//
// kernel8x32 for at most 16 columns (mask's low 16 bits): the last,
// narrow tile of a row of tiles, at half the work of a full one.
TEXT ·kernel8x16(SB), NOSPLIT, $0-84
	MOVQ  k+0(FP), CX
	MOVQ  a+8(FP), SI
	MOVQ  b+16(FP), DI
	MOVQ  c+24(FP), DX
	MOVQ  ldb+32(FP), R12
	SHLQ  $2, R12
	MOVQ  ldc+40(FP), R8
	SHLQ  $2, R8
	MOVQ  mask+48(FP), AX
	KMOVW AX, K1
	PREFETCHC(NOP)
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	MOVQ  flags+56(FP), BX
	TESTQ CX, CX
	JE    store16
	TESTQ $4, BX
	JNE   maskedloop16

loop16:
	VMOVUPS (DI), Z16
	KSTEP8X16
	DECQ CX
	JNE  loop16
	JMP  store16

maskedloop16:
	VMOVUPS.Z (DI), K1, Z16
	KSTEP8X16
	DECQ CX
	JNE  maskedloop16

store16:
	TESTQ $1, BX
	JE    noadd16
	MOVQ  DX, R11
	VADDPS (R11), Z0, K1, Z0
	ADDQ   R8, R11
	VADDPS (R11), Z1, K1, Z1
	ADDQ   R8, R11
	VADDPS (R11), Z2, K1, Z2
	ADDQ   R8, R11
	VADDPS (R11), Z3, K1, Z3
	ADDQ   R8, R11
	VADDPS (R11), Z4, K1, Z4
	ADDQ   R8, R11
	VADDPS (R11), Z5, K1, Z5
	ADDQ   R8, R11
	VADDPS (R11), Z6, K1, Z6
	ADDQ   R8, R11
	VADDPS (R11), Z7, K1, Z7

noadd16:
	TESTQ $2, BX
	JE    noep16
	MOVQ  scale+64(FP), R9
	MOVQ  shift+72(FP), R10
	VBROADCASTSS floor+80(FP), Z26
	EPROW16(0, Z0)
	EPROW16(4, Z1)
	EPROW16(8, Z2)
	EPROW16(12, Z3)
	EPROW16(16, Z4)
	EPROW16(20, Z5)
	EPROW16(24, Z6)
	EPROW16(28, Z7)

noep16:
	VMOVUPS Z0, K1, (DX)
	ADDQ    R8, DX
	VMOVUPS Z1, K1, (DX)
	ADDQ    R8, DX
	VMOVUPS Z2, K1, (DX)
	ADDQ    R8, DX
	VMOVUPS Z3, K1, (DX)
	ADDQ    R8, DX
	VMOVUPS Z4, K1, (DX)
	ADDQ    R8, DX
	VMOVUPS Z5, K1, (DX)
	ADDQ    R8, DX
	VMOVUPS Z6, K1, (DX)
	ADDQ    R8, DX
	VMOVUPS Z7, K1, (DX)
	VZEROUPPER
	RET
