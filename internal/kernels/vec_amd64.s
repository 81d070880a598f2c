//go:build amd64 && !purego

#include "textflag.h"

// func maxVecAVX2(dst, a, b *float32, n int)
//
// dst[i] = max(a[i], b[i]) for i < n, n a multiple of 8; NaN in either
// wins: VMAXPS returns its second source (b) when either is NaN, and the
// blend puts a back where a is NaN.
TEXT ·maxVecAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ n+24(FP), CX
	SHRQ $3, CX
	JE   done

loop:
	VMOVUPS   (SI), Y0
	VMOVUPS   (DI), Y1
	VMAXPS    Y1, Y0, Y2
	VCMPPS    $3, Y0, Y0, Y3
	VBLENDVPS Y3, Y0, Y2, Y2
	VMOVUPS   Y2, (DX)
	ADDQ      $32, SI
	ADDQ      $32, DI
	ADDQ      $32, DX
	DECQ      CX
	JNE       loop

done:
	VZEROUPPER
	RET

// func packRowsAVX(dst, src *float32, rows, stride, vecs int)
//
// Copies rows rows of vecs·8 values, row r from src[r·stride:], to dst
// one after another: a full panel of B for the micro-kernel.
TEXT ·packRowsAVX(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DX
	MOVQ src+8(FP), SI
	MOVQ rows+16(FP), CX
	MOVQ stride+24(FP), R8
	SHLQ $2, R8
	MOVQ vecs+32(FP), R9
	TESTQ CX, CX
	JE   packdone
	CMPQ R9, $4
	JE   rows4
	CMPQ R9, $2
	JE   rows2

rowsn:
	MOVQ R9, BX
	MOVQ SI, DI
vecn:
	VMOVUPS (DI), Y0
	VMOVUPS Y0, (DX)
	ADDQ $32, DI
	ADDQ $32, DX
	DECQ BX
	JNE  vecn
	ADDQ R8, SI
	DECQ CX
	JNE  rowsn
	JMP  packdone

rows4:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	VMOVUPS Y2, 64(DX)
	VMOVUPS Y3, 96(DX)
	ADDQ R8, SI
	ADDQ $128, DX
	DECQ CX
	JNE  rows4
	JMP  packdone

rows2:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	ADDQ R8, SI
	ADDQ $64, DX
	DECQ CX
	JNE  rows2

packdone:
	VZEROUPPER
	RET
