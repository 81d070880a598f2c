//go:build amd64 && !purego

#include "textflag.h"

// The AVX2/FMA kernels: a 6x16 tile in twelve YMM accumulators, and a
// 6x8 one for a row's last, narrow tile. Both read B with a row stride
// (a packed panel, or B itself in place), take C's values or not, apply a
// conv block's epilogue or not, and store the tile's first rows rows and
// cols columns, the partial ones with masked moves: nothing past them is
// read or written.

// ·maskTab: sixteen lanes set, then sixteen clear (winograd_amd64.s uses
// it too). The eight lanes from
// ·maskTab+4(16-cols) are set where lane j < cols, those from
// ·maskTab+4(24-cols) where 8+j < cols.
DATA ·maskTab+0(SB)/8, $-1
DATA ·maskTab+8(SB)/8, $-1
DATA ·maskTab+16(SB)/8, $-1
DATA ·maskTab+24(SB)/8, $-1
DATA ·maskTab+32(SB)/8, $-1
DATA ·maskTab+40(SB)/8, $-1
DATA ·maskTab+48(SB)/8, $-1
DATA ·maskTab+56(SB)/8, $-1
DATA ·maskTab+64(SB)/8, $0
DATA ·maskTab+72(SB)/8, $0
DATA ·maskTab+80(SB)/8, $0
DATA ·maskTab+88(SB)/8, $0
DATA ·maskTab+96(SB)/8, $0
DATA ·maskTab+104(SB)/8, $0
DATA ·maskTab+112(SB)/8, $0
DATA ·maskTab+120(SB)/8, $0
GLOBL ·maskTab(SB), RODATA, $128

#define LOADARGS \
	MOVQ k+0(FP), CX \
	MOVQ a+8(FP), SI \
	MOVQ b+16(FP), DI \
	MOVQ c+24(FP), DX \
	MOVQ ldb+32(FP), R12 \
	SHLQ $2, R12 \
	MOVQ ldc+40(FP), R8 \
	SHLQ $2, R8 \
	MOVQ rows+48(FP), R11 \
	MOVQ cols+56(FP), AX \
	MOVQ flags+64(FP), BX \
	MOVQ scale+72(FP), R9 \
	MOVQ shift+80(FP), R10

// the tile of C is read or written once the sum is done: ask for its six
// rows now, while the sum runs
#define PREFETCHC(second) \
	MOVQ       DX, R13 \
	PREFETCHT0 (R13) \
	second \
	ADDQ       R8, R13 \
	PREFETCHT0 (R13) \
	second \
	ADDQ       R8, R13 \
	PREFETCHT0 (R13) \
	second \
	ADDQ       R8, R13 \
	PREFETCHT0 (R13) \
	second \
	ADDQ       R8, R13 \
	PREFETCHT0 (R13) \
	second \
	ADDQ       R8, R13 \
	PREFETCHT0 (R13) \
	second

// the products of one step of k with B's row in Y12 (and Y13): six
// broadcast values of A, alternately in ra and rb
#define FMA16(ra, rb) \
	VBROADCASTSS (SI), ra \
	VFMADD231PS  Y12, ra, Y0 \
	VFMADD231PS  Y13, ra, Y1 \
	VBROADCASTSS 4(SI), rb \
	VFMADD231PS  Y12, rb, Y2 \
	VFMADD231PS  Y13, rb, Y3 \
	VBROADCASTSS 8(SI), ra \
	VFMADD231PS  Y12, ra, Y4 \
	VFMADD231PS  Y13, ra, Y5 \
	VBROADCASTSS 12(SI), rb \
	VFMADD231PS  Y12, rb, Y6 \
	VFMADD231PS  Y13, rb, Y7 \
	VBROADCASTSS 16(SI), ra \
	VFMADD231PS  Y12, ra, Y8 \
	VFMADD231PS  Y13, ra, Y9 \
	VBROADCASTSS 20(SI), rb \
	VFMADD231PS  Y12, rb, Y10 \
	VFMADD231PS  Y13, rb, Y11 \
	ADDQ         $24, SI \
	ADDQ         R12, DI

// y = max(x·scale + shift, floor) for one row (scale and shift at off);
// VMAXPS returns its second source, x, when either is NaN
#define EP16(off, ya, yb) \
	VBROADCASTSS off(R9), Y14 \
	VBROADCASTSS off(R10), Y15 \
	VFMADD213PS  Y15, Y14, ya \
	VFMADD213PS  Y15, Y14, yb \
	VBROADCASTSS floor+88(FP), Y14 \
	VMAXPS       ya, Y14, ya \
	VMAXPS       yb, Y14, yb

// one row of a full-width tile: add C (flags bit 0), the epilogue (bit
// 1), store; then done after rows rows
#define ROW16(off, ya, yb, noadd, noep) \
	TESTQ  $1, BX \
	JEQ    noadd \
	VADDPS (DX), ya, ya \
	VADDPS 32(DX), yb, yb \
noadd: \
	TESTQ  $2, BX \
	JEQ    noep \
	EP16(off, ya, yb) \
noep: \
	VMOVUPS ya, (DX) \
	VMOVUPS yb, 32(DX) \
	DECQ    R11 \
	JEQ     done \
	ADDQ    R8, DX

// ROW16 for 9 to 15 columns: the second half through the mask in Y13
#define ROW16P(off, ya, yb, noadd, noep) \
	TESTQ      $1, BX \
	JEQ        noadd \
	VADDPS     (DX), ya, ya \
	VMASKMOVPS 32(DX), Y13, Y14 \
	VADDPS     Y14, yb, yb \
noadd: \
	TESTQ      $2, BX \
	JEQ        noep \
	EP16(off, ya, yb) \
noep: \
	VMOVUPS    ya, (DX) \
	VMASKMOVPS yb, Y13, 32(DX) \
	DECQ       R11 \
	JEQ        done \
	ADDQ       R8, DX

// func kernel6x16(k int, a, b, c *float32, ldb, ldc, rows, cols, flags int, scale, shift *float32, floor float32)
//
// The 6x16 tile A·B of a packed 6-row panel of A (a[p*6+i]) and 16
// columns of B (b[p*ldb+j]), 9 <= cols <= 16 of them stored, rows <= 6
// rows: c[i*ldc+j] = max((A·B + C)·scale[i] + shift[i], floor), C added
// when flags&1, the epilogue applied when flags&2. With flags&4 only
// B's first cols columns are read (B in place); otherwise all 16 are.
TEXT ·kernel6x16(SB), NOSPLIT, $0-92
	LOADARGS
	PREFETCHC(PREFETCHT0 32(R13))
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	LEAQ   ·maskTab(SB), R13
	MOVQ   $24, R14
	SUBQ   AX, R14
	TESTQ  CX, CX
	JEQ    store
	TESTQ  $4, BX
	JNE    maskedloop
	TESTQ  $8, BX
	JNE    stridedloop

loop:
	VMOVUPS    (DI), Y12
	VMOVUPS    32(DI), Y13
	PREFETCHT0 384(SI) // the panel of A, sixteen steps ahead
	FMA16(Y14, Y15)
	DECQ       CX
	JNE        loop
	JMP        store

// B in place: its rows are far apart, so they are asked for eight steps
// ahead
stridedloop:
	VMOVUPS    (DI), Y12
	VMOVUPS    32(DI), Y13
	PREFETCHT0 (DI)(R12*8)
	FMA16(Y14, Y15)
	DECQ       CX
	JNE        stridedloop
	JMP        store

maskedloop:
	VMOVUPS    (R13)(R14*4), Y14
	VMOVUPS    (DI), Y12
	VMASKMOVPS 32(DI), Y14, Y13
	PREFETCHT0 (DI)(R12*8)
	FMA16(Y15, Y15)
	DECQ       CX
	JNE        maskedloop

store:
	CMPQ AX, $16
	JLT  partial
	ROW16(0, Y0, Y1, na0, ne0)
	ROW16(4, Y2, Y3, na1, ne1)
	ROW16(8, Y4, Y5, na2, ne2)
	ROW16(12, Y6, Y7, na3, ne3)
	ROW16(16, Y8, Y9, na4, ne4)
	ROW16(20, Y10, Y11, na5, ne5)
	JMP  done

partial:
	VMOVUPS (R13)(R14*4), Y13
	ROW16P(0, Y0, Y1, pa0, pe0)
	ROW16P(4, Y2, Y3, pa1, pe1)
	ROW16P(8, Y4, Y5, pa2, pe2)
	ROW16P(12, Y6, Y7, pa3, pe3)
	ROW16P(16, Y8, Y9, pa4, pe4)
	ROW16P(20, Y10, Y11, pa5, pe5)

done:
	VZEROUPPER
	RET

// the products of one step of k with B's row in Y12, for the 6x8 tile
#define FMA8(ra, rb) \
	VBROADCASTSS (SI), ra \
	VFMADD231PS  Y12, ra, Y0 \
	VBROADCASTSS 4(SI), rb \
	VFMADD231PS  Y12, rb, Y1 \
	VBROADCASTSS 8(SI), ra \
	VFMADD231PS  Y12, ra, Y2 \
	VBROADCASTSS 12(SI), rb \
	VFMADD231PS  Y12, rb, Y3 \
	VBROADCASTSS 16(SI), ra \
	VFMADD231PS  Y12, ra, Y4 \
	VBROADCASTSS 20(SI), rb \
	VFMADD231PS  Y12, rb, Y5 \
	ADDQ         $24, SI \
	ADDQ         R12, DI

#define EP8(off, ya) \
	VBROADCASTSS off(R9), Y14 \
	VBROADCASTSS off(R10), Y15 \
	VFMADD213PS  Y15, Y14, ya \
	VMAXPS       ya, Y10, ya

// one row of the 6x8 tile, its columns through the mask in Y13
#define ROW8(off, ya, noadd, noep) \
	TESTQ      $1, BX \
	JEQ        noadd \
	VMASKMOVPS (DX), Y13, Y14 \
	VADDPS     Y14, ya, ya \
noadd: \
	TESTQ      $2, BX \
	JEQ        noep \
	EP8(off, ya) \
noep: \
	VMASKMOVPS ya, Y13, (DX) \
	DECQ       R11 \
	JEQ        done8 \
	ADDQ       R8, DX

// func kernel6x8(k int, a, b, c *float32, ldb, ldc, rows, cols, flags int, scale, shift *float32, floor float32)
//
// kernel6x16 for 1 <= cols <= 8: the last, narrow tile of a row of tiles
// (7x7 maps leave 1 column, 14x14 maps 4), at half the work.
TEXT ·kernel6x8(SB), NOSPLIT, $0-92
	LOADARGS
	PREFETCHC(NOP)
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	LEAQ   ·maskTab(SB), R13
	MOVQ   $16, R14
	SUBQ   AX, R14
	VMOVUPS (R13)(R14*4), Y13
	TESTQ  CX, CX
	JEQ    store8
	TESTQ  $4, BX
	JNE    maskedloop8

loop8:
	VMOVUPS (DI), Y12
	FMA8(Y14, Y15)
	DECQ    CX
	JNE     loop8
	JMP     store8

maskedloop8:
	VMASKMOVPS (DI), Y13, Y12
	PREFETCHT0 (DI)(R12*8)
	FMA8(Y14, Y15)
	DECQ       CX
	JNE        maskedloop8

store8:
	VBROADCASTSS floor+88(FP), Y10
	ROW8(0, Y0, qa0, qe0)
	ROW8(4, Y1, qa1, qe1)
	ROW8(8, Y2, qa2, qe2)
	ROW8(12, Y3, qa3, qe3)
	ROW8(16, Y4, qa4, qe4)
	ROW8(20, Y5, qa5, qe5)

done8:
	VZEROUPPER
	RET
