//go:build amd64 && !purego

#include "textflag.h"

// Winograd F(2x2, 3x3)'s transforms, eight tiles at a time in YMM
// registers: each value of a tile is read once and each result written
// once (the transforms as whole-plane vector sums read and wrote every
// intermediate plane).

// the four positions of one row of (Bᵀ·d)·B from that row of Bᵀ·d in
// Y0–Y3 (r0−r2, r1+r2, r2−r1, r1−r3), stored kstride (R13) apart from
// base
#define ROWOUT(base) \
	VSUBPS  Y2, Y0, Y4 \
	VADDPS  Y2, Y1, Y5 \
	VSUBPS  Y1, Y2, Y6 \
	VSUBPS  Y3, Y1, Y7 \
	VMOVUPS Y4, (base) \
	VMOVUPS Y5, (base)(R13*1) \
	VMOVUPS Y6, (base)(R13*2) \
	VMOVUPS Y7, (base)(R14*1)

// func winogradInputAVX2(p0, p1, p2, p3 *float32, qw int, v *float32, kstride, n int)
//
// Bᵀ·d·B of tiles [0, n), n a multiple of 8: tile t's d_ij is
// p[2(i%2)+j%2][t + (i/2)·qw + j/2], its position k goes to
// v[k·kstride + t].
TEXT ·winogradInputAVX2(SB), NOSPLIT, $0-64
	MOVQ p0+0(FP), AX
	MOVQ p1+8(FP), BX
	MOVQ p2+16(FP), SI
	MOVQ p3+24(FP), DI
	MOVQ qw+32(FP), R12
	SHLQ $2, R12
	MOVQ v+40(FP), R8
	MOVQ kstride+48(FP), R13
	SHLQ $2, R13
	MOVQ n+56(FP), CX
	SHRQ $3, CX
	JEQ  inDone
	LEAQ (R13)(R13*2), R14 // 3·kstride
	LEAQ (R8)(R13*4), R9   // position 4
	LEAQ (R9)(R13*4), R10  // position 8
	LEAQ (R10)(R13*4), R11 // position 12

inLoop:
	// row 0 of Bᵀ·d: d0j − d2j
	VMOVUPS (AX), Y0
	VSUBPS  (AX)(R12*1), Y0, Y0
	VMOVUPS (BX), Y1
	VSUBPS  (BX)(R12*1), Y1, Y1
	VMOVUPS 4(AX), Y2
	VSUBPS  4(AX)(R12*1), Y2, Y2
	VMOVUPS 4(BX), Y3
	VSUBPS  4(BX)(R12*1), Y3, Y3
	ROWOUT(R8)

	// row 1: d1j + d2j
	VMOVUPS (SI), Y0
	VADDPS  (AX)(R12*1), Y0, Y0
	VMOVUPS (DI), Y1
	VADDPS  (BX)(R12*1), Y1, Y1
	VMOVUPS 4(SI), Y2
	VADDPS  4(AX)(R12*1), Y2, Y2
	VMOVUPS 4(DI), Y3
	VADDPS  4(BX)(R12*1), Y3, Y3
	ROWOUT(R9)

	// row 2: d2j − d1j
	VMOVUPS (AX)(R12*1), Y0
	VSUBPS  (SI), Y0, Y0
	VMOVUPS (BX)(R12*1), Y1
	VSUBPS  (DI), Y1, Y1
	VMOVUPS 4(AX)(R12*1), Y2
	VSUBPS  4(SI), Y2, Y2
	VMOVUPS 4(BX)(R12*1), Y3
	VSUBPS  4(DI), Y3, Y3
	ROWOUT(R10)

	// row 3: d1j − d3j
	VMOVUPS (SI), Y0
	VSUBPS  (SI)(R12*1), Y0, Y0
	VMOVUPS (DI), Y1
	VSUBPS  (DI)(R12*1), Y1, Y1
	VMOVUPS 4(SI), Y2
	VSUBPS  4(SI)(R12*1), Y2, Y2
	VMOVUPS 4(DI), Y3
	VSUBPS  4(DI)(R12*1), Y3, Y3
	ROWOUT(R11)

	ADDQ $32, AX
	ADDQ $32, BX
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, R8
	ADDQ $32, R9
	ADDQ $32, R10
	ADDQ $32, R11
	DECQ CX
	JNE  inLoop

inDone:
	VZEROUPPER
	RET

// a0j = m0j + (m1j + m2j) into ya, a1j = (m1j − m2j) − m3j into yb, for
// the column j that R8–R11 (m0j–m3j) point at
#define ACOL(ya, yb) \
	VMOVUPS (R9), Y8 \
	VADDPS  (R10), Y8, Y9 \
	VSUBPS  (R10), Y8, Y8 \
	VADDPS  (R8), Y9, ya \
	VSUBPS  (R11), Y8, yb

// y = max(y·scale + shift, floor); VMAXPS returns its second source, y,
// when either is NaN
#define EPI(y) \
	VFMADD213PS Y13, Y12, y \
	VMAXPS      y, Y14, y

// eight tiles' outputs from the positions at R8–R11 (the rows of m, a
// column kstride apart), through the epilogue, interleaved: the even
// row's sixteen values in Y2 and Y3, the odd row's in Y6 and Y7. R8–R11
// step a column on for each ACOL (their starts kept in AX, SI, DI, R12),
// then eight tiles on from their starts
#define OUTTILES \
	ACOL(Y0, Y4) \
	MOVQ R8, AX \
	MOVQ R9, SI \
	MOVQ R10, DI \
	MOVQ R11, R12 \
	ADDQ R13, R8 \
	ADDQ R13, R9 \
	ADDQ R13, R10 \
	ADDQ R13, R11 \
	ACOL(Y1, Y5) \
	ADDQ R13, R8 \
	ADDQ R13, R9 \
	ADDQ R13, R10 \
	ADDQ R13, R11 \
	ACOL(Y2, Y6) \
	ADDQ R13, R8 \
	ADDQ R13, R9 \
	ADDQ R13, R10 \
	ADDQ R13, R11 \
	ACOL(Y3, Y7) \
	LEAQ 32(AX), R8 \
	LEAQ 32(SI), R9 \
	LEAQ 32(DI), R10 \
	LEAQ 32(R12), R11 \
	VADDPS Y2, Y1, Y8 \
	VADDPS Y8, Y0, Y8 \
	VSUBPS Y2, Y1, Y9 \
	VSUBPS Y3, Y9, Y9 \
	VADDPS Y6, Y5, Y10 \
	VADDPS Y10, Y4, Y10 \
	VSUBPS Y6, Y5, Y11 \
	VSUBPS Y7, Y11, Y11 \
	EPI(Y8) \
	EPI(Y9) \
	EPI(Y10) \
	EPI(Y11) \
	VUNPCKLPS  Y9, Y8, Y0 \
	VUNPCKHPS  Y9, Y8, Y1 \
	VPERM2F128 $0x20, Y1, Y0, Y2 \
	VPERM2F128 $0x31, Y1, Y0, Y3 \
	VUNPCKLPS  Y11, Y10, Y4 \
	VUNPCKHPS  Y11, Y10, Y5 \
	VPERM2F128 $0x20, Y5, Y4, Y6 \
	VPERM2F128 $0x31, Y5, Y4, Y7

// func winogradOutputAVX2(m *float32, kstride int, out0, out1 *float32, cols int, scale, shift, floor float32)
//
// Aᵀ·m·A of tiles [0, (cols+1)/2), position k of tile t being
// m[k·kstride + t], through max(y·scale + shift, floor) (NaN kept):
// tile t's outputs go to out0[2t], out0[2t+1] (its even row) and out1[2t],
// out1[2t+1] (its odd row), the first cols columns of each row only.
// The last, partial block of eight tiles reads m up to its eighth tile.
TEXT ·winogradOutputAVX2(SB), NOSPLIT, $0-52
	MOVQ         m+0(FP), R8
	MOVQ         kstride+8(FP), R13
	SHLQ         $2, R13
	MOVQ         out0+16(FP), DX
	MOVQ         out1+24(FP), BX
	MOVQ         cols+32(FP), CX
	TESTQ        CX, CX
	JEQ          outDone
	VBROADCASTSS scale+40(FP), Y12
	VBROADCASTSS shift+44(FP), Y13
	VBROADCASTSS floor+48(FP), Y14
	// R8–R11: the rows m0j–m3j of Aᵀ·m's inputs, column j at j·kstride
	LEAQ         (R8)(R13*4), R9
	LEAQ         (R9)(R13*4), R10
	LEAQ         (R10)(R13*4), R11
	CMPQ         CX, $16
	JLT          outTail

outLoop:
	OUTTILES
	VMOVUPS Y2, (DX)
	VMOVUPS Y3, 32(DX)
	VMOVUPS Y6, (BX)
	VMOVUPS Y7, 32(BX)
	ADDQ    $64, DX
	ADDQ    $64, BX
	SUBQ    $16, CX
	CMPQ    CX, $16
	JGE     outLoop
	TESTQ   CX, CX
	JEQ     outDone

// the last 1 to 15 columns, through masks in Y12 and Y13 (from
// sgemm_amd64.s's ·maskTab), once the epilogue no longer needs them
outTail:
	OUTTILES
	LEAQ       ·maskTab(SB), AX
	MOVQ       $16, SI
	SUBQ       CX, SI
	VMOVUPS    (AX)(SI*4), Y12
	VMOVUPS    32(AX)(SI*4), Y13
	VMASKMOVPS Y2, Y12, (DX)
	VMASKMOVPS Y3, Y13, 32(DX)
	VMASKMOVPS Y6, Y12, (BX)
	VMASKMOVPS Y7, Y13, 32(BX)

outDone:
	VZEROUPPER
	RET
