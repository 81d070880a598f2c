//go:build arm64 && !purego

#include "textflag.h"

// FMAX Vd.4S, Vn.4S, Vm.4S, which Go's assembler lacks: NaN when either
// lane is, as PyTorch's pools have it
#define FMAXV(d, n, m) WORD $(0x4E20F400 | (m)<<16 | (n)<<5 | (d))

// func maxVecNEON(dst, a, b *float32, n int)
//
// dst[i] = max(a[i], b[i]) for i < n, n a multiple of 4, NaN in either
// winning: sixteen values a turn (a in V0-V3, b in V4-V7, the maxima in
// V0-V3), then four at a time.
TEXT ·maxVecNEON(SB), NOSPLIT, $0-32
	MOVD dst+0(FP), R0
	MOVD a+8(FP), R1
	MOVD b+16(FP), R2
	MOVD n+24(FP), R3
	LSR  $2, R3 // vectors
	CBZ  R3, maxdone

max16:
	CMP    $4, R3
	BLT    max4
	VLD1.P 64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 64(R2), [V4.S4, V5.S4, V6.S4, V7.S4]
	FMAXV(0, 0, 4)
	FMAXV(1, 1, 5)
	FMAXV(2, 2, 6)
	FMAXV(3, 3, 7)
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R0)
	SUB    $4, R3
	B      max16

max4:
	CBZ    R3, maxdone
	VLD1.P 16(R1), [V0.S4]
	VLD1.P 16(R2), [V4.S4]
	FMAXV(0, 0, 4)
	VST1.P [V0.S4], 16(R0)
	SUB    $1, R3
	B      max4

maxdone:
	RET

// func packRowsNEON(dst, src *float32, rows, stride, vecs int)
//
// Copies rows rows of vecs·4 values, row r from src[r·stride:], to dst
// one after another: a full panel of B for the micro-kernel. A 16-wide
// row (the NEON kernel's panel) is one load and one store of V0-V3.
TEXT ·packRowsNEON(SB), NOSPLIT, $0-40
	MOVD dst+0(FP), R0
	MOVD src+8(FP), R1
	MOVD rows+16(FP), R2
	MOVD stride+24(FP), R3
	LSL  $2, R3
	MOVD vecs+32(FP), R4
	CBZ  R2, packdone
	CMP  $4, R4
	BEQ  rows16

// any width: R5 walks the row, R6 counts its vectors
rowsn:
	MOVD R1, R5
	MOVD R4, R6

vecn:
	VLD1.P 16(R5), [V0.S4]
	VST1.P [V0.S4], 16(R0)
	SUBS   $1, R6
	BNE    vecn
	ADD    R3, R1
	SUBS   $1, R2
	BNE    rowsn
	B      packdone

rows16:
	VLD1.P (R1)(R3), [V0.S4, V1.S4, V2.S4, V3.S4]
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R0)
	SUBS   $1, R2
	BNE    rows16

packdone:
	RET

// func deinterleaveNEON(even, odd, src *float32, n int)
//
// even[i] = src[2i], odd[i] = src[2i+1] for i < n, n a multiple of 4:
// LD2 splits eight values into their even (V0) and odd (V1) lanes.
TEXT ·deinterleaveNEON(SB), NOSPLIT, $0-32
	MOVD even+0(FP), R0
	MOVD odd+8(FP), R1
	MOVD src+16(FP), R2
	MOVD n+24(FP), R3
	LSR  $2, R3
	CBZ  R3, deintdone

deintloop:
	VLD2.P 32(R2), [V0.S4, V1.S4]
	VST1.P [V0.S4], 16(R0)
	VST1.P [V1.S4], 16(R1)
	SUBS   $1, R3
	BNE    deintloop

deintdone:
	RET

// bit i of a mask, in lane i%4 of the vector i/4
DATA maskBits<>+0(SB)/4, $1
DATA maskBits<>+4(SB)/4, $2
DATA maskBits<>+8(SB)/4, $4
DATA maskBits<>+12(SB)/4, $8
DATA maskBits<>+16(SB)/4, $16
DATA maskBits<>+20(SB)/4, $32
DATA maskBits<>+24(SB)/4, $64
DATA maskBits<>+28(SB)/4, $128
DATA maskBits<>+32(SB)/4, $256
DATA maskBits<>+36(SB)/4, $512
DATA maskBits<>+40(SB)/4, $1024
DATA maskBits<>+44(SB)/4, $2048
DATA maskBits<>+48(SB)/4, $4096
DATA maskBits<>+52(SB)/4, $8192
DATA maskBits<>+56(SB)/4, $16384
DATA maskBits<>+60(SB)/4, $32768
GLOBL maskBits<>(SB), RODATA, $64

// func packMaskedNEON(dst *float32, panelStride int, src *float32, masks *uint32, panels int)
//
// For p < panels and i < 16: dst[p*panelStride+i] = src[16p+i] where bit
// i of masks[p] is set, else 0. All 16 values of each panel are loaded
// (the caller passes only panels that lie inside src), then cleared
// where the mask is: CMTST turns the mask, copied to every lane (V16),
// into all-ones lanes where the lane's bit (V4-V7) is set.
TEXT ·packMaskedNEON(SB), NOSPLIT, $0-40
	MOVD dst+0(FP), R0
	MOVD panelStride+8(FP), R1
	LSL  $2, R1
	MOVD src+16(FP), R2
	MOVD masks+24(FP), R3
	MOVD panels+32(FP), R4
	CBZ  R4, pmdone
	MOVD $maskBits<>(SB), R5
	VLD1 (R5), [V4.S4, V5.S4, V6.S4, V7.S4]

pmloop:
	MOVWU.P 4(R3), R6
	VDUP    R6, V16.S4
	VCMTST  V4.S4, V16.S4, V20.S4
	VCMTST  V5.S4, V16.S4, V21.S4
	VCMTST  V6.S4, V16.S4, V22.S4
	VCMTST  V7.S4, V16.S4, V23.S4
	VLD1.P  64(R2), [V0.S4, V1.S4, V2.S4, V3.S4]
	VAND    V20.B16, V0.B16, V0.B16
	VAND    V21.B16, V1.B16, V1.B16
	VAND    V22.B16, V2.B16, V2.B16
	VAND    V23.B16, V3.B16, V3.B16
	VST1.P  [V0.S4, V1.S4, V2.S4, V3.S4], (R0)(R1)
	SUBS    $1, R4
	BNE     pmloop

pmdone:
	RET
