//go:build amd64 && !purego

#include "textflag.h"

// Winograd F(4x4, 3x3)'s transforms (winograd4.go), eight tiles at a
// time in YMM registers, each step as winograd4BtGo, winograd4AtGo and
// winograd4RowGo add it (no fused multiply-adds: the products by powers
// of two are exact, the 5s of Bᵀ are rounded before the sum, as in Go).

DATA w4consts<>+0(SB)/4, $2.0
DATA w4consts<>+4(SB)/4, $4.0
DATA w4consts<>+8(SB)/4, $5.0
DATA w4consts<>+12(SB)/4, $8.0
GLOBL w4consts<>(SB), RODATA|NOPTR, $16

// func winograd4BtAVX2(dst, src *[6]*float32, n int)
//
// dst[i][t] = Σ_k Bᵀ[i][k]·src[k][t] for t < n, n a multiple of 8.
TEXT ·winograd4BtAVX2(SB), NOSPLIT, $0-24
	MOVQ         n+16(FP), CX
	TESTQ        CX, CX
	JEQ          btDone
	VBROADCASTSS w4consts<>+0(SB), Y13 // 2
	VBROADCASTSS w4consts<>+4(SB), Y14 // 4
	VBROADCASTSS w4consts<>+8(SB), Y15 // 5
	MOVQ         src+8(FP), R14
	MOVQ         0(R14), AX
	MOVQ         8(R14), BX
	MOVQ         16(R14), DX
	MOVQ         24(R14), SI
	MOVQ         32(R14), DI
	MOVQ         40(R14), R8
	MOVQ         dst+0(FP), R14
	MOVQ         0(R14), R9
	MOVQ         8(R14), R10
	MOVQ         16(R14), R11
	MOVQ         24(R14), R12
	MOVQ         32(R14), R13
	MOVQ         40(R14), R14
	XORQ         CX, CX

btLoop:
	VMOVUPS (AX)(CX*4), Y0 // d0
	VMOVUPS (BX)(CX*4), Y1 // d1
	VMOVUPS (DX)(CX*4), Y2 // d2
	VMOVUPS (SI)(CX*4), Y3 // d3
	VMOVUPS (DI)(CX*4), Y4 // d4
	VMOVUPS (R8)(CX*4), Y5 // d5

	// r0 = (d0·4 + d4) − d2·5
	VMULPS  Y14, Y0, Y6
	VADDPS  Y4, Y6, Y6
	VMULPS  Y15, Y2, Y7
	VSUBPS  Y7, Y6, Y6
	VMOVUPS Y6, (R9)(CX*4)

	// r5 = (d1·4 + d5) − d3·5
	VMULPS  Y14, Y1, Y6
	VADDPS  Y5, Y6, Y6
	VMULPS  Y15, Y3, Y7
	VSUBPS  Y7, Y6, Y6
	VMOVUPS Y6, (R14)(CX*4)

	// r1 = (d3 + d4) − (d1 + d2)·4; r2 = (d4 − d3) + (d1 − d2)·4
	VADDPS  Y2, Y1, Y6  // s12
	VSUBPS  Y2, Y1, Y7  // m12
	VADDPS  Y4, Y3, Y8  // s34
	VSUBPS  Y3, Y4, Y9  // m43
	VMULPS  Y14, Y6, Y6
	VSUBPS  Y6, Y8, Y8
	VMOVUPS Y8, (R10)(CX*4)
	VMULPS  Y14, Y7, Y7
	VADDPS  Y7, Y9, Y9
	VMOVUPS Y9, (R11)(CX*4)

	// r3 = (d4 − d2) + (d3 − d1)·2; r4 = (d4 − d2) − (d3 − d1)·2
	VSUBPS  Y2, Y4, Y6  // m42
	VSUBPS  Y1, Y3, Y7  // m31
	VMULPS  Y13, Y7, Y7
	VADDPS  Y7, Y6, Y8
	VSUBPS  Y7, Y6, Y9
	VMOVUPS Y8, (R12)(CX*4)
	VMOVUPS Y9, (R13)(CX*4)

	ADDQ $8, CX
	CMPQ CX, n+16(FP)
	JLT  btLoop

btDone:
	VZEROUPPER
	RET

// the four rows of Aᵀ·m from m0–m5 in Y0–Y5, into Y8–Y11: with s12, d12
// = m1 ± m2 (Y6, Y7) and s34, d34 = m3 ± m4 (Y12, Y3), (m0 + s12) + s34,
// d12 + d34·2, s12 + s34·4 and (d12 + m5) + d34·8 (Y13, Y14 and Y15 hold
// 2, 4 and 8)
#define ATILES \
	VADDPS Y2, Y1, Y6    \
	VSUBPS Y2, Y1, Y7    \
	VADDPS Y4, Y3, Y12   \
	VSUBPS Y4, Y3, Y3    \
	VADDPS Y6, Y0, Y8    \
	VADDPS Y12, Y8, Y8   \
	VMULPS Y13, Y3, Y9   \
	VADDPS Y9, Y7, Y9    \
	VMULPS Y14, Y12, Y10 \
	VADDPS Y10, Y6, Y10  \
	VADDPS Y5, Y7, Y11   \
	VMULPS Y15, Y3, Y12  \
	VADDPS Y12, Y11, Y11

#define ATCONSTS \
	VBROADCASTSS w4consts<>+0(SB), Y13 \
	VBROADCASTSS w4consts<>+4(SB), Y14 \
	VBROADCASTSS w4consts<>+12(SB), Y15

// func winograd4AtAVX2(dst *[4]*float32, src *[6]*float32, n int)
//
// dst[i][t] = Σ_k Aᵀ[i][k]·src[k][t] for t < n, n a multiple of 8.
TEXT ·winograd4AtAVX2(SB), NOSPLIT, $0-24
	MOVQ n+16(FP), CX
	TESTQ CX, CX
	JEQ  atDone
	ATCONSTS
	MOVQ src+8(FP), R14
	MOVQ 0(R14), AX
	MOVQ 8(R14), BX
	MOVQ 16(R14), DX
	MOVQ 24(R14), SI
	MOVQ 32(R14), DI
	MOVQ 40(R14), R8
	MOVQ dst+0(FP), R14
	MOVQ 0(R14), R9
	MOVQ 8(R14), R10
	MOVQ 16(R14), R11
	MOVQ 24(R14), R12
	XORQ CX, CX

atLoop:
	VMOVUPS (AX)(CX*4), Y0
	VMOVUPS (BX)(CX*4), Y1
	VMOVUPS (DX)(CX*4), Y2
	VMOVUPS (SI)(CX*4), Y3
	VMOVUPS (DI)(CX*4), Y4
	VMOVUPS (R8)(CX*4), Y5
	ATILES
	VMOVUPS Y8, (R9)(CX*4)
	VMOVUPS Y9, (R10)(CX*4)
	VMOVUPS Y10, (R11)(CX*4)
	VMOVUPS Y11, (R12)(CX*4)
	ADDQ    $8, CX
	CMPQ    CX, n+16(FP)
	JLT     atLoop

atDone:
	VZEROUPPER
	RET

// y = max(y·scale + shift, floor) with scale, shift and floor in Y0–Y2,
// rounded once as epilogueValue rounds it
#define EPI4(y) \
	VFMADD213PS Y1, Y0, y \
	VMAXPS      y, Y2, y

// func winograd4RowAVX2(row *float32, src *[6]*float32, n int, scale, shift, floor float32)
//
// (Aᵀ·m)·A of tiles [0, n) of one row, n a multiple of 8, through the
// epilogue: tile t's four values go to row[4t … 4t+3], all 4n of them.
TEXT ·winograd4RowAVX2(SB), NOSPLIT, $0-36
	MOVQ         n+16(FP), CX
	TESTQ        CX, CX
	JEQ          rowDone
	ATCONSTS
	MOVQ         row+0(FP), R9
	MOVQ         src+8(FP), R14
	MOVQ         0(R14), AX
	MOVQ         8(R14), BX
	MOVQ         16(R14), DX
	MOVQ         24(R14), SI
	MOVQ         32(R14), DI
	MOVQ         40(R14), R8
	XORQ         CX, CX

rowLoop:
	VMOVUPS      (AX)(CX*4), Y0
	VMOVUPS      (BX)(CX*4), Y1
	VMOVUPS      (DX)(CX*4), Y2
	VMOVUPS      (SI)(CX*4), Y3
	VMOVUPS      (DI)(CX*4), Y4
	VMOVUPS      (R8)(CX*4), Y5
	ATILES
	VBROADCASTSS scale+24(FP), Y0
	VBROADCASTSS shift+28(FP), Y1
	VBROADCASTSS floor+32(FP), Y2
	EPI4(Y8)
	EPI4(Y9)
	EPI4(Y10)
	EPI4(Y11)
	// a 4x8 transpose: tile t's o0 … o3 side by side
	VUNPCKLPS  Y9, Y8, Y0   // o0 o1 of tiles 0 1 | 4 5
	VUNPCKHPS  Y9, Y8, Y1   // tiles 2 3 | 6 7
	VUNPCKLPS  Y11, Y10, Y2 // o2 o3 of tiles 0 1 | 4 5
	VUNPCKHPS  Y11, Y10, Y3
	VUNPCKLPD  Y2, Y0, Y4   // tile 0 | tile 4
	VUNPCKHPD  Y2, Y0, Y5   // tile 1 | tile 5
	VUNPCKLPD  Y3, Y1, Y6   // tile 2 | tile 6
	VUNPCKHPD  Y3, Y1, Y7   // tile 3 | tile 7
	VPERM2F128 $0x20, Y5, Y4, Y0
	VPERM2F128 $0x20, Y7, Y6, Y1
	VPERM2F128 $0x31, Y5, Y4, Y2
	VPERM2F128 $0x31, Y7, Y6, Y3
	VMOVUPS    Y0, (R9)
	VMOVUPS    Y1, 32(R9)
	VMOVUPS    Y2, 64(R9)
	VMOVUPS    Y3, 96(R9)
	ADDQ       $128, R9
	ADDQ       $8, CX
	CMPQ       CX, n+16(FP)
	JLT        rowLoop

rowDone:
	VZEROUPPER
	RET

// register y's lanes that the row still has (R14 = 16 − values left + 8q,
// unclamped; R11 and DI hold 8 and 16) stored at off(DX)
#define MASKAT(y, off) \
	MOVQ       R14, R12 \
	CMPQ       R12, R11 \
	CMOVQLT    R11, R12 \
	CMPQ       R12, DI \
	CMOVQGT    DI, R12 \
	VMOVUPS    (AX)(R12*4), Y4 \
	VMASKMOVPS y, Y4, off(DX)

// func winograd4OutAVX2(m *float32, kstride int, out *float32, w, rows, tiles int, scale, shift, floor float32)
//
// Aᵀ·m·A of one row of tiles of one output channel, position k of tile t
// being m[k·kstride + t], through the epilogue: tile t's four columns of
// its first rows rows go to out[i·w + 4t …], the first w values of each
// row only. Reads m up to the last whole block of eight tiles.
TEXT ·winograd4OutAVX2(SB), $776-60
	MOVQ   tiles+40(FP), CX
	TESTQ  CX, CX
	JEQ    outDone
	MOVQ   rows+32(FP), AX
	IMUL3Q $192, AX, AX
	MOVQ   AX, 768(SP) // the frame's end of the rows
	ATCONSTS
	MOVQ  m+0(FP), R8
	MOVQ  kstride+8(FP), R13
	SHLQ  $2, R13
	LEAQ  (R13)(R13*2), R10
	SHLQ  $1, R10 // 6·kstride: k to k+1
	MOVQ  out+16(FP), R9
	MOVQ  w+24(FP), BX // the row's values left, from this block on

outBlock:
	// Aᵀ·m, column j of the tile at a time, into the frame: row i,
	// column j at (6i+j)·32
	MOVQ R8, R11
	XORQ DI, DI

outCol:
	MOVQ    R11, R12
	VMOVUPS (R12), Y0
	ADDQ    R10, R12
	VMOVUPS (R12), Y1
	ADDQ    R10, R12
	VMOVUPS (R12), Y2
	ADDQ    R10, R12
	VMOVUPS (R12), Y3
	ADDQ    R10, R12
	VMOVUPS (R12), Y4
	ADDQ    R10, R12
	VMOVUPS (R12), Y5
	ATILES
	VMOVUPS Y8, 0(SP)(DI*1)
	VMOVUPS Y9, 192(SP)(DI*1)
	VMOVUPS Y10, 384(SP)(DI*1)
	VMOVUPS Y11, 576(SP)(DI*1)
	ADDQ    R13, R11
	ADDQ    $32, DI
	CMPQ    DI, $192
	JLT     outCol

	// (Aᵀ·m)·A, row i at a time, through the epilogue into the output
	XORQ SI, SI
	MOVQ R9, DX

outRow:
	VMOVUPS      0(SP)(SI*1), Y0
	VMOVUPS      32(SP)(SI*1), Y1
	VMOVUPS      64(SP)(SI*1), Y2
	VMOVUPS      96(SP)(SI*1), Y3
	VMOVUPS      128(SP)(SI*1), Y4
	VMOVUPS      160(SP)(SI*1), Y5
	ATILES
	VBROADCASTSS scale+48(FP), Y0
	VBROADCASTSS shift+52(FP), Y1
	VBROADCASTSS floor+56(FP), Y2
	EPI4(Y8)
	EPI4(Y9)
	EPI4(Y10)
	EPI4(Y11)
	VUNPCKLPS    Y9, Y8, Y0
	VUNPCKHPS    Y9, Y8, Y1
	VUNPCKLPS    Y11, Y10, Y2
	VUNPCKHPS    Y11, Y10, Y3
	VUNPCKLPD    Y2, Y0, Y4
	VUNPCKHPD    Y2, Y0, Y5
	VUNPCKLPD    Y3, Y1, Y6
	VUNPCKHPD    Y3, Y1, Y7
	VPERM2F128   $0x20, Y5, Y4, Y0
	VPERM2F128   $0x20, Y7, Y6, Y1
	VPERM2F128   $0x31, Y5, Y4, Y2
	VPERM2F128   $0x31, Y7, Y6, Y3
	CMPQ         BX, $32
	JLT          outPartial
	VMOVUPS      Y0, (DX)
	VMOVUPS      Y1, 32(DX)
	VMOVUPS      Y2, 64(DX)
	VMOVUPS      Y3, 96(DX)
	JMP          outNextRow

outPartial:
	// lanes below BX − 8q of register q: the eight from ·maskTab at
	// 4·clamp(16 − BX + 8q, 8, 16)
	LEAQ       ·maskTab(SB), AX
	MOVQ       $16, R14
	SUBQ       BX, R14
	MOVQ       $8, R11
	MOVQ       $16, DI
	MASKAT(Y0, 0)
	ADDQ       $8, R14
	MASKAT(Y1, 32)
	ADDQ       $8, R14
	MASKAT(Y2, 64)
	ADDQ       $8, R14
	MASKAT(Y3, 96)

outNextRow:
	MOVQ w+24(FP), AX
	LEAQ (DX)(AX*4), DX
	ADDQ $192, SI
	CMPQ SI, 768(SP)
	JLT  outRow

	ADDQ $32, R8
	ADDQ $128, R9
	SUBQ $32, BX
	JLE  outDone
	SUBQ $8, CX
	JG   outBlock

outDone:
	VZEROUPPER
	RET
