//go:build amd64 && !purego

#include "textflag.h"

// The two kernels share their arguments, their twelve accumulators and
// their k loop; they differ in how the tile reaches C.

#define LOADARGS \
	MOVQ k+0(FP), CX \
	MOVQ a+8(FP), SI \
	MOVQ b+16(FP), DI \
	MOVQ c+24(FP), DX \
	MOVQ ldc+32(FP), R8 \
	SHLQ $2, R8

#define ZEROACC \
	VXORPS Y0, Y0, Y0 \
	VXORPS Y1, Y1, Y1 \
	VXORPS Y2, Y2, Y2 \
	VXORPS Y3, Y3, Y3 \
	VXORPS Y4, Y4, Y4 \
	VXORPS Y5, Y5, Y5 \
	VXORPS Y6, Y6, Y6 \
	VXORPS Y7, Y7, Y7 \
	VXORPS Y8, Y8, Y8 \
	VXORPS Y9, Y9, Y9 \
	VXORPS Y10, Y10, Y10 \
	VXORPS Y11, Y11, Y11

// one step of k: two 8-wide rows of B, six broadcast values of A
#define KSTEP \
	VMOVUPS      (DI), Y12 \
	VMOVUPS      32(DI), Y13 \
	VBROADCASTSS (SI), Y14 \
	VFMADD231PS  Y12, Y14, Y0 \
	VFMADD231PS  Y13, Y14, Y1 \
	VBROADCASTSS 4(SI), Y15 \
	VFMADD231PS  Y12, Y15, Y2 \
	VFMADD231PS  Y13, Y15, Y3 \
	VBROADCASTSS 8(SI), Y14 \
	VFMADD231PS  Y12, Y14, Y4 \
	VFMADD231PS  Y13, Y14, Y5 \
	VBROADCASTSS 12(SI), Y15 \
	VFMADD231PS  Y12, Y15, Y6 \
	VFMADD231PS  Y13, Y15, Y7 \
	VBROADCASTSS 16(SI), Y14 \
	VFMADD231PS  Y12, Y14, Y8 \
	VFMADD231PS  Y13, Y14, Y9 \
	VBROADCASTSS 20(SI), Y15 \
	VFMADD231PS  Y12, Y15, Y10 \
	VFMADD231PS  Y13, Y15, Y11 \
	ADDQ         $24, SI \
	ADDQ         $64, DI

// the epilogue of one row of the tile: y = max(x·scale + shift, floor),
// with NaN kept (VMAXPS returns its second source, x, when either is NaN)
#define EPROW(off, ya, yb) \
	VBROADCASTSS off(R9), Y14 \
	VBROADCASTSS off(R10), Y15 \
	VFMADD213PS  Y15, Y14, ya \
	VFMADD213PS  Y15, Y14, yb \
	VMAXPS       ya, Y12, ya \
	VMAXPS       yb, Y12, yb \
	VMOVUPS      ya, (DX) \
	VMOVUPS      yb, 32(DX)

#define EPARGS \
	MOVQ scale+40(FP), R9 \
	MOVQ shift+48(FP), R10

// func kernel6x16(k int, a, b, c *float32, ldc int)
//
// c[i*ldc+j] += sum_p a[p*6+i] * b[p*16+j] for i < 6, j < 16: a 6x16 tile
// of C from a packed 6-row panel of A and a packed 16-column panel of B,
// with twelve YMM accumulators.
TEXT ·kernel6x16(SB), NOSPLIT, $0-40
	LOADARGS
	ZEROACC
	TESTQ CX, CX
	JE    store

loop:
	KSTEP
	DECQ CX
	JNE  loop

store:
	VADDPS  (DX), Y0, Y0
	VMOVUPS Y0, (DX)
	VADDPS  32(DX), Y1, Y1
	VMOVUPS Y1, 32(DX)
	ADDQ    R8, DX
	VADDPS  (DX), Y2, Y2
	VMOVUPS Y2, (DX)
	VADDPS  32(DX), Y3, Y3
	VMOVUPS Y3, 32(DX)
	ADDQ    R8, DX
	VADDPS  (DX), Y4, Y4
	VMOVUPS Y4, (DX)
	VADDPS  32(DX), Y5, Y5
	VMOVUPS Y5, 32(DX)
	ADDQ    R8, DX
	VADDPS  (DX), Y6, Y6
	VMOVUPS Y6, (DX)
	VADDPS  32(DX), Y7, Y7
	VMOVUPS Y7, 32(DX)
	ADDQ    R8, DX
	VADDPS  (DX), Y8, Y8
	VMOVUPS Y8, (DX)
	VADDPS  32(DX), Y9, Y9
	VMOVUPS Y9, 32(DX)
	ADDQ    R8, DX
	VADDPS  (DX), Y10, Y10
	VMOVUPS Y10, (DX)
	VADDPS  32(DX), Y11, Y11
	VMOVUPS Y11, 32(DX)
	VZEROUPPER
	RET

// func kernel6x16Set(k int, a, b, c *float32, ldc int)
//
// c[i*ldc+j] = sum_p a[p*6+i] * b[p*16+j]: kernel6x16 storing the tile.
TEXT ·kernel6x16Set(SB), NOSPLIT, $0-40
	LOADARGS
	ZEROACC
	TESTQ CX, CX
	JE    storeset

loopset:
	KSTEP
	DECQ CX
	JNE  loopset

storeset:
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	ADDQ    R8, DX
	VMOVUPS Y2, (DX)
	VMOVUPS Y3, 32(DX)
	ADDQ    R8, DX
	VMOVUPS Y4, (DX)
	VMOVUPS Y5, 32(DX)
	ADDQ    R8, DX
	VMOVUPS Y6, (DX)
	VMOVUPS Y7, 32(DX)
	ADDQ    R8, DX
	VMOVUPS Y8, (DX)
	VMOVUPS Y9, 32(DX)
	ADDQ    R8, DX
	VMOVUPS Y10, (DX)
	VMOVUPS Y11, 32(DX)
	VZEROUPPER
	RET

// func kernel6x16SetEp(k int, a, b, c *float32, ldc int, scale, shift *float32, floor float32)
//
// c[i*ldc+j] = max(sum_p a[p*6+i]*b[p*16+j] · scale[i] + shift[i], floor):
// the tile with a conv block's bias or batch norm and ReLU (floor 0) or
// none (floor -Inf) applied as it is stored.
TEXT ·kernel6x16SetEp(SB), NOSPLIT, $0-60
	LOADARGS
	EPARGS
	ZEROACC
	TESTQ CX, CX
	JE    storesetep

loopsetep:
	KSTEP
	DECQ CX
	JNE  loopsetep

storesetep:
	VBROADCASTSS floor+56(FP), Y12 // Y12 held B in the loop
	EPROW(0, Y0, Y1)
	ADDQ R8, DX
	EPROW(4, Y2, Y3)
	ADDQ R8, DX
	EPROW(8, Y4, Y5)
	ADDQ R8, DX
	EPROW(12, Y6, Y7)
	ADDQ R8, DX
	EPROW(16, Y8, Y9)
	ADDQ R8, DX
	EPROW(20, Y10, Y11)
	VZEROUPPER
	RET

// func kernel6x16AddEp(k int, a, b, c *float32, ldc int, scale, shift *float32, floor float32)
//
// kernel6x16SetEp for the last block of a longer sum: the tile adds C's
// partial sums before the epilogue.
TEXT ·kernel6x16AddEp(SB), NOSPLIT, $0-60
	LOADARGS
	EPARGS
	ZEROACC
	TESTQ CX, CX
	JE    storeaddep

loopaddep:
	KSTEP
	DECQ CX
	JNE  loopaddep

storeaddep:
	VBROADCASTSS floor+56(FP), Y12 // Y12 held B in the loop
	VADDPS (DX), Y0, Y0
	VADDPS 32(DX), Y1, Y1
	EPROW(0, Y0, Y1)
	ADDQ   R8, DX
	VADDPS (DX), Y2, Y2
	VADDPS 32(DX), Y3, Y3
	EPROW(4, Y2, Y3)
	ADDQ   R8, DX
	VADDPS (DX), Y4, Y4
	VADDPS 32(DX), Y5, Y5
	EPROW(8, Y4, Y5)
	ADDQ   R8, DX
	VADDPS (DX), Y6, Y6
	VADDPS 32(DX), Y7, Y7
	EPROW(12, Y6, Y7)
	ADDQ   R8, DX
	VADDPS (DX), Y8, Y8
	VADDPS 32(DX), Y9, Y9
	EPROW(16, Y8, Y9)
	ADDQ   R8, DX
	VADDPS (DX), Y10, Y10
	VADDPS 32(DX), Y11, Y11
	EPROW(20, Y10, Y11)
	VZEROUPPER
	RET
