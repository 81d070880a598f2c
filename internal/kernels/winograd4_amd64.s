//go:build amd64 && !purego

#include "textflag.h"

// Winograd F(4x4, 3x3)'s transforms (winograd4.go), eight tiles at a
// time in YMM registers, each step as winograd4BtGo, winograd4AtGo and
// winograd4RowGo add it (no fused multiply-adds: the products by powers
// of two are exact, the 5s of Bᵀ are rounded before the sum, as in Go).

// the six values of the frame's row at SI (a row of the first stage's
// results, 32 bytes a column) into Y0–Y5
#define FRAMEROW \
	VMOVUPS 0(SP)(SI*1), Y0   \
	VMOVUPS 32(SP)(SI*1), Y1  \
	VMOVUPS 64(SP)(SI*1), Y2  \
	VMOVUPS 96(SP)(SI*1), Y3  \
	VMOVUPS 128(SP)(SI*1), Y4 \
	VMOVUPS 160(SP)(SI*1), Y5

// Bᵀ·d of one column (or row) of eight tiles, d0–d5 in Y0–Y5, into
// Y6–Y11: with s12, m12 = d1 ± d2, s34 = d3 + d4, m43 = d4 − d3, m42 =
// d4 − d2 and m31 = d3 − d1, (d0·4 + d4) − d2·5, s34 − s12·4, m43 + m12·4,
// m42 ± m31·2 and (d1·4 + d5) − d3·5 (Y12 scratch; Y13, Y14 and Y15 hold
// 2, 4 and 5)
#define BT6 \
	VMULPS Y14, Y0, Y6   \
	VADDPS Y4, Y6, Y6    \
	VMULPS Y15, Y2, Y12  \
	VSUBPS Y12, Y6, Y6   \
	VMULPS Y14, Y1, Y11  \
	VADDPS Y5, Y11, Y11  \
	VMULPS Y15, Y3, Y12  \
	VSUBPS Y12, Y11, Y11 \
	VADDPS Y2, Y1, Y7    \
	VSUBPS Y2, Y1, Y8    \
	VADDPS Y4, Y3, Y9    \
	VSUBPS Y3, Y4, Y10   \
	VSUBPS Y2, Y4, Y0    \
	VSUBPS Y1, Y3, Y5    \
	VMULPS Y14, Y7, Y7   \
	VSUBPS Y7, Y9, Y7    \
	VMULPS Y14, Y8, Y8   \
	VADDPS Y8, Y10, Y8   \
	VMULPS Y13, Y5, Y5   \
	VADDPS Y5, Y0, Y9    \
	VSUBPS Y5, Y0, Y10

// d_ij of eight tiles into y: the offset at off(R9) from R8
#define LOADD(off, y) \
	MOVQ    off(R9), R11 \
	VMOVUPS (R8)(R11*1), y

// func winograd4InAVX2(base *float32, offs *[36]int, v *float32, kstride, n int)
//
// Bᵀ·d·B of tiles [0, n), n a multiple of 8: tile t's d_ij is at
// base + offs[6j+i] bytes + 4t, its position k goes to v[k·kstride + t].
TEXT ·winograd4InAVX2(SB), $1152-40
	MOVQ         n+32(FP), CX
	TESTQ        CX, CX
	JEQ          inDone
	VBROADCASTSS w4consts<>+0(SB), Y13
	VBROADCASTSS w4consts<>+4(SB), Y14
	VBROADCASTSS w4consts<>+8(SB), Y15
	MOVQ         base+0(FP), R8
	MOVQ         v+16(FP), R10
	MOVQ         kstride+24(FP), R13
	SHLQ         $2, R13
	LEAQ         (R13)(R13*2), R14 // 3·kstride

inBlock:
	// Bᵀ·d, column j at a time, into the frame: row i, column j at
	// (6i+j)·32
	MOVQ offs+8(FP), R9
	XORQ DI, DI

inCol:
	LOADD(0, Y0)
	LOADD(8, Y1)
	LOADD(16, Y2)
	LOADD(24, Y3)
	LOADD(32, Y4)
	LOADD(40, Y5)
	BT6
	VMOVUPS Y6, 0(SP)(DI*1)
	VMOVUPS Y7, 192(SP)(DI*1)
	VMOVUPS Y8, 384(SP)(DI*1)
	VMOVUPS Y9, 576(SP)(DI*1)
	VMOVUPS Y10, 768(SP)(DI*1)
	VMOVUPS Y11, 960(SP)(DI*1)
	ADDQ    $48, R9
	ADDQ    $32, DI
	CMPQ    DI, $192
	JLT     inCol

	// (Bᵀ·d)·B, row i at a time, to positions 6i … 6i+5
	XORQ SI, SI
	MOVQ R10, R12

inRow:
	FRAMEROW
	BT6
	VMOVUPS Y6, (R12)
	VMOVUPS Y7, (R12)(R13*1)
	VMOVUPS Y8, (R12)(R13*2)
	VMOVUPS Y9, (R12)(R14*1)
	LEAQ    (R12)(R13*4), R11
	VMOVUPS Y10, (R11)
	VMOVUPS Y11, (R11)(R13*1)
	LEAQ    (R11)(R13*2), R12 // row i+1's first position
	ADDQ    $192, SI
	CMPQ    SI, $1152
	JLT     inRow

	ADDQ $32, R8
	ADDQ $32, R10
	SUBQ $8, CX
	JG   inBlock

inDone:
	VZEROUPPER
	RET

DATA w4consts<>+0(SB)/4, $2.0
DATA w4consts<>+4(SB)/4, $4.0
DATA w4consts<>+8(SB)/4, $5.0
DATA w4consts<>+12(SB)/4, $8.0
GLOBL w4consts<>(SB), RODATA|NOPTR, $16

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

// y = max(y·scale + shift, floor) with scale, shift and floor in Y0–Y2,
// rounded once as epilogueValue rounds it
#define EPI4(y) \
	VFMADD213PS Y1, Y0, y \
	VMAXPS      y, Y2, y

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
	FRAMEROW
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

// func deinterleave4AVX2(d0, d1, d2, d3, src *float32, n int)
//
// d_c[i] = src[4i+c] for i < n, n a multiple of 8: 32 values of src at a
// time, transposed as four 4x4 blocks per 128-bit lane.
TEXT ·deinterleave4AVX2(SB), NOSPLIT, $0-48
	MOVQ  d0+0(FP), AX
	MOVQ  d1+8(FP), BX
	MOVQ  d2+16(FP), DX
	MOVQ  d3+24(FP), DI
	MOVQ  src+32(FP), SI
	MOVQ  n+40(FP), CX
	TESTQ CX, CX
	JEQ   d4Done
	XORQ  R8, R8

d4Loop:
	VMOVUPS    (SI), Y0   // values of i = 0 1
	VMOVUPS    32(SI), Y1 // 2 3
	VMOVUPS    64(SI), Y2 // 4 5
	VMOVUPS    96(SI), Y3 // 6 7
	VPERM2F128 $0x20, Y2, Y0, Y4 // 0 | 4
	VPERM2F128 $0x31, Y2, Y0, Y5 // 1 | 5
	VPERM2F128 $0x20, Y3, Y1, Y6 // 2 | 6
	VPERM2F128 $0x31, Y3, Y1, Y7 // 3 | 7
	VUNPCKLPS  Y5, Y4, Y0 // c0 c1 of i 0 1
	VUNPCKHPS  Y5, Y4, Y1 // c2 c3 of i 0 1
	VUNPCKLPS  Y7, Y6, Y2 // c0 c1 of i 2 3
	VUNPCKHPS  Y7, Y6, Y3 // c2 c3 of i 2 3
	VUNPCKLPD  Y2, Y0, Y4 // c0
	VUNPCKHPD  Y2, Y0, Y5 // c1
	VUNPCKLPD  Y3, Y1, Y6 // c2
	VUNPCKHPD  Y3, Y1, Y7 // c3
	VMOVUPS    Y4, (AX)(R8*4)
	VMOVUPS    Y5, (BX)(R8*4)
	VMOVUPS    Y6, (DX)(R8*4)
	VMOVUPS    Y7, (DI)(R8*4)
	ADDQ       $128, SI
	ADDQ       $8, R8
	CMPQ       R8, CX
	JLT        d4Loop

d4Done:
	VZEROUPPER
	RET
