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
