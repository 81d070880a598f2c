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

// the column maxima of eight windows [2x, 2x+3) of the row at rp, from
// byte offset R14 (x = R14/8), left in lane order 0 1 4 5 2 3 6 7; its
// first 16 values' NaN test ORed into Y12, Y13 (the steps' first 16
// values and the last output's two cover each row)
#define COLMAX3S2(rp, acc) \
	VMOVUPS (rp)(R14*1), Y0 \
	VMOVUPS 32(rp)(R14*1), Y1 \
	VMOVUPS 8(rp)(R14*1), Y2 \
	VMOVUPS 40(rp)(R14*1), Y3 \
	VCMPPS  $3, Y0, Y0, Y4 \
	VCMPPS  $3, Y1, Y1, Y5 \
	VORPS   Y4, Y12, Y12 \
	VORPS   Y5, Y13, Y13 \
	VSHUFPS $0x88, Y1, Y0, Y4 \
	VSHUFPS $0xDD, Y1, Y0, Y5 \
	VSHUFPS $0x88, Y3, Y2, Y6 \
	VMAXPS  Y5, Y4, Y4 \
	VMAXPS  Y6, Y4, acc

// eight outputs of the row: the three rows' column maxima, their maximum
// put in order and stored at byte offset R14/2 of DI
#define POOL3S2BLOCK \
	COLMAX3S2(R8, Y7) \
	COLMAX3S2(R9, Y8) \
	VMAXPS  Y8, Y7, Y7 \
	COLMAX3S2(R10, Y8) \
	VMAXPS  Y8, Y7, Y7 \
	VPERMPD $0xD8, Y7, Y7 \
	MOVQ    R14, AX \
	SHRQ    $1, AX \
	VMOVUPS Y7, (DI)(AX*1)

// func maxPool3s2AVX2(dst, src *float32, w, ow int, rows *[2]int, oh int) bool
//
// The stem's max pool of one plane of rows of w = 2·ow values (ow >= 9):
// output row i, ow values from dst[i·ow], is the maximum over the input
// rows [rows[i][0], rows[i][1]) (one to three, within the plane) of the
// column windows [2x, 2x+3), the last clipped to [2ow-2, 2ow). Eight
// outputs a step, all three rows' windows in registers; a ragged end runs
// as the last eight before the last output again, the last output
// alone. Reports whether any value of the rows read is NaN, where the
// maxima written are not PyTorch's (VMAXPS does not carry NaN).
TEXT ·maxPool3s2AVX2(SB), NOSPLIT, $0-49
	MOVQ   dst+0(FP), DI
	MOVQ   src+8(FP), SI
	MOVQ   w+16(FP), DX
	SHLQ   $2, DX
	MOVQ   ow+24(FP), CX
	MOVQ   rows+32(FP), R11
	MOVQ   oh+40(FP), R12
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	// R13: the whole steps of eight before the last output
	MOVQ   CX, R13
	DECQ   R13
	SHRQ   $3, R13

p3s2row:
	// the window's rows, the last repeated where it has fewer than three
	MOVQ  (R11), AX
	MOVQ  8(R11), BX
	MOVQ  AX, R8
	IMULQ DX, R8
	ADDQ  SI, R8
	MOVQ  R8, R9
	INCQ  AX
	CMPQ  AX, BX
	JGE   p3s2one
	ADDQ  DX, R9

p3s2one:
	MOVQ R9, R10
	INCQ AX
	CMPQ AX, BX
	JGE  p3s2two
	ADDQ DX, R10

p3s2two:
	XORQ R14, R14
	MOVQ R13, BX

p3s2step:
	POOL3S2BLOCK
	ADDQ $64, R14
	DECQ BX
	JNE  p3s2step

	// a ragged end: the eight outputs before the last again
	MOVQ CX, AX
	DECQ AX
	MOVQ R13, BX
	SHLQ $3, BX
	CMPQ BX, AX
	JGE  p3s2last
	MOVQ CX, R14
	SUBQ $9, R14
	SHLQ $3, R14
	POOL3S2BLOCK

p3s2last:
	// the last output: values 2ow-2 and 2ow-1 of each row
	MOVQ    CX, AX
	SHLQ    $3, AX
	SUBQ    $8, AX
	VMOVSD  (R8)(AX*1), X0
	VMOVSD  (R9)(AX*1), X1
	VMOVSD  (R10)(AX*1), X2
	VCMPPS  $3, X0, X0, X3
	VCMPPS  $3, X1, X1, X4
	VCMPPS  $3, X2, X2, X5
	VORPS   X3, X14, X14
	VORPS   X4, X14, X14
	VORPS   X5, X14, X14
	VMAXPS  X1, X0, X0
	VMAXPS  X2, X0, X0
	VPSHUFD $1, X0, X1
	VMAXSS  X1, X0, X0
	SHRQ    $1, AX
	VMOVSS  X0, (DI)(AX*1)

	LEAQ (DI)(CX*4), DI
	ADDQ $16, R11
	DECQ R12
	JNE  p3s2row

	VORPS     Y13, Y12, Y12
	VORPS     Y14, Y12, Y12
	VMOVMSKPS Y12, AX
	TESTL     AX, AX
	SETNE     ret+48(FP)
	VZEROUPPER
	RET
