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

// func maxVecNoNaNAVX2(dst, a, b *float32, n int)
//
// maxVecAVX2 for inputs without NaN: dst[i] = max(a[i], b[i]), n a
// multiple of 8.
TEXT ·maxVecNoNaNAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ n+24(FP), CX
	SHRQ $3, CX
	JE   fastDone

fastLoop:
	VMOVUPS (SI), Y0
	VMAXPS  (DI), Y0, Y0
	VMOVUPS Y0, (DX)
	ADDQ    $32, SI
	ADDQ    $32, DI
	ADDQ    $32, DX
	DECQ    CX
	JNE     fastLoop

fastDone:
	VZEROUPPER
	RET

// func anyNaNAVX2(x *float32, n int) bool
//
// Whether x[i] is NaN for some i < n, n a multiple of 32.
TEXT ·anyNaNAVX2(SB), NOSPLIT, $0-17
	MOVQ   x+0(FP), SI
	MOVQ   n+8(FP), CX
	SHRQ   $5, CX
	VXORPS Y4, Y4, Y4
	JE     nanDone

nanLoop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3
	VCMPPS  $3, Y0, Y0, Y0
	VCMPPS  $3, Y1, Y1, Y1
	VCMPPS  $3, Y2, Y2, Y2
	VCMPPS  $3, Y3, Y3, Y3
	VORPS   Y0, Y1, Y1
	VORPS   Y2, Y3, Y3
	VORPS   Y1, Y4, Y4
	VORPS   Y3, Y4, Y4
	ADDQ    $128, SI
	DECQ    CX
	JNE     nanLoop

nanDone:
	VMOVMSKPS Y4, AX
	TESTL     AX, AX
	SETNE     ret+16(FP)
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

// the permutations that gather the even and the odd values of two ZMM
// registers' 32
DATA evenIdx<>+0(SB)/4, $0
DATA evenIdx<>+4(SB)/4, $2
DATA evenIdx<>+8(SB)/4, $4
DATA evenIdx<>+12(SB)/4, $6
DATA evenIdx<>+16(SB)/4, $8
DATA evenIdx<>+20(SB)/4, $10
DATA evenIdx<>+24(SB)/4, $12
DATA evenIdx<>+28(SB)/4, $14
DATA evenIdx<>+32(SB)/4, $16
DATA evenIdx<>+36(SB)/4, $18
DATA evenIdx<>+40(SB)/4, $20
DATA evenIdx<>+44(SB)/4, $22
DATA evenIdx<>+48(SB)/4, $24
DATA evenIdx<>+52(SB)/4, $26
DATA evenIdx<>+56(SB)/4, $28
DATA evenIdx<>+60(SB)/4, $30
GLOBL evenIdx<>(SB), RODATA, $64

DATA oddIdx<>+0(SB)/4, $1
DATA oddIdx<>+4(SB)/4, $3
DATA oddIdx<>+8(SB)/4, $5
DATA oddIdx<>+12(SB)/4, $7
DATA oddIdx<>+16(SB)/4, $9
DATA oddIdx<>+20(SB)/4, $11
DATA oddIdx<>+24(SB)/4, $13
DATA oddIdx<>+28(SB)/4, $15
DATA oddIdx<>+32(SB)/4, $17
DATA oddIdx<>+36(SB)/4, $19
DATA oddIdx<>+40(SB)/4, $21
DATA oddIdx<>+44(SB)/4, $23
DATA oddIdx<>+48(SB)/4, $25
DATA oddIdx<>+52(SB)/4, $27
DATA oddIdx<>+56(SB)/4, $29
DATA oddIdx<>+60(SB)/4, $31
GLOBL oddIdx<>(SB), RODATA, $64

// func deinterleaveAVX512(even, odd, src *float32, n int)
//
// even[i] = src[2i], odd[i] = src[2i+1] for i < n, n a multiple of 16.
TEXT ·deinterleaveAVX512(SB), NOSPLIT, $0-32
	MOVQ    even+0(FP), DX
	MOVQ    odd+8(FP), BX
	MOVQ    src+16(FP), SI
	MOVQ    n+24(FP), CX
	SHRQ    $4, CX
	JE      deintdone
	VMOVUPS evenIdx<>(SB), Z30
	VMOVUPS oddIdx<>(SB), Z31

deintloop:
	VMOVUPS   (SI), Z0
	VMOVUPS   64(SI), Z1
	VMOVAPS   Z30, Z2
	VPERMI2PS Z1, Z0, Z2
	VMOVAPS   Z31, Z3
	VPERMI2PS Z1, Z0, Z3
	VMOVUPS   Z2, (DX)
	VMOVUPS   Z3, (BX)
	ADDQ      $128, SI
	ADDQ      $64, DX
	ADDQ      $64, BX
	DECQ      CX
	JNE       deintloop

deintdone:
	VZEROUPPER
	RET

// func packMaskedAVX512(dst *float32, panelStride int, src *float32, off int, masks *uint32, panels int)
//
// For p < panels and i < 32: dst[p*panelStride+i] = src[off+32p+i] where
// bit i of masks[p] is set, else 0. Masked-out values are never read.
TEXT ·packMaskedAVX512(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DX
	MOVQ panelStride+8(FP), R8
	SHLQ $2, R8
	MOVQ src+16(FP), SI
	MOVQ off+24(FP), AX
	LEAQ (SI)(AX*4), SI
	MOVQ masks+32(FP), BX
	MOVQ panels+40(FP), CX
	TESTQ CX, CX
	JE   pmdone

pmloop:
	MOVL      (BX), AX
	KMOVW     AX, K1
	SHRL      $16, AX
	KMOVW     AX, K2
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z 64(SI), K2, Z1
	VMOVUPS   Z0, (DX)
	VMOVUPS   Z1, 64(DX)
	ADDQ      $4, BX
	ADDQ      $128, SI
	ADDQ      R8, DX
	DECQ      CX
	JNE       pmloop

pmdone:
	VZEROUPPER
	RET

// bit i of a mask, in lane i of the first eight and lane i-8 of the
// second
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

// func packMaskedAVX2(dst *float32, panelStride int, src *float32, off int, masks *uint32, panels int)
//
// packMaskedAVX512 for 16-value panels: for p < panels and i < 16,
// dst[p*panelStride+i] = src[off+16p+i] where bit i of masks[p] is set,
// else 0. Masked-out values are never read (VMASKMOVPS).
TEXT ·packMaskedAVX2(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DX
	MOVQ panelStride+8(FP), R8
	SHLQ $2, R8
	MOVQ src+16(FP), SI
	MOVQ off+24(FP), AX
	LEAQ (SI)(AX*4), SI
	MOVQ masks+32(FP), BX
	MOVQ panels+40(FP), CX
	TESTQ CX, CX
	JE   pm2done
	VMOVDQU maskBits<>(SB), Y4
	VMOVDQU maskBits<>+32(SB), Y5

pm2loop:
	VPBROADCASTD (BX), Y0
	VPAND        Y4, Y0, Y1
	VPCMPEQD     Y4, Y1, Y1
	VPAND        Y5, Y0, Y2
	VPCMPEQD     Y5, Y2, Y2
	VMASKMOVPS   (SI), Y1, Y6
	VMASKMOVPS   32(SI), Y2, Y7
	VMOVUPS      Y6, (DX)
	VMOVUPS      Y7, 32(DX)
	ADDQ         $4, BX
	ADDQ         $64, SI
	ADDQ         R8, DX
	DECQ         CX
	JNE          pm2loop

pm2done:
	VZEROUPPER
	RET

// func deinterleaveAVX2(even, odd, src *float32, n int)
//
// even[i] = src[2i], odd[i] = src[2i+1] for i < n, n a multiple of 8:
// VSHUFPS gathers the even (odd) values of two registers lane by lane,
// VPERMPD puts the lanes' halves in order.
TEXT ·deinterleaveAVX2(SB), NOSPLIT, $0-32
	MOVQ even+0(FP), DX
	MOVQ odd+8(FP), BX
	MOVQ src+16(FP), SI
	MOVQ n+24(FP), CX
	SHRQ $3, CX
	JE   deint2done

deint2loop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VSHUFPS $0x88, Y1, Y0, Y2
	VSHUFPS $0xDD, Y1, Y0, Y3
	VPERMPD $0xD8, Y2, Y2
	VPERMPD $0xD8, Y3, Y3
	VMOVUPS Y2, (DX)
	VMOVUPS Y3, (BX)
	ADDQ    $64, SI
	ADDQ    $32, DX
	ADDQ    $32, BX
	DECQ    CX
	JNE     deint2loop

deint2done:
	VZEROUPPER
	RET
