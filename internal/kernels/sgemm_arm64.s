//go:build arm64 && !purego

#include "textflag.h"

// The NEON kernel: a 6x16 tile, the AVX2 kernel's shape, so that A is
// packed in the same 6-row panels and B in the same 16-column ones.
//
// Registers:
//   R0 k (steps left)    R1 A panel          R2 B row         R3 C row
//   R4 ldb in bytes      R5 ldc in bytes     R6 rows left     R7 cols
//   R8 flags             R9 scale            R10 shift        R11-R13 cursors
//   V0-V3   B's row (16 values), then scratch for the store
//   V4, V5  A's six values of a step: V4.S[0..3] rows 0-3, V5.S[0..1] rows 4-5
//   V5, V6  a row's scale and shift broadcast, V7 the floor, in the store
//   V8-V31  the tile: row i's columns 4j..4j+3 in V(8+4i+j)
//
// Go's assembler has FMLA only vector by vector, and no vector FADD or
// FMAX; those are encoded here (Q=1, single precision: four lanes).

// FMLA Vd.4S, Vn.4S, Vm.S[idx]: Vd += Vn·(lane idx of Vm)
#define FMLAE(d, n, m, idx) WORD $(0x4F801000 | ((idx)&1)<<21 | (m)<<16 | ((idx)>>1)<<11 | (n)<<5 | (d))

// FADD Vd.4S, Vn.4S, Vm.4S
#define FADDV(d, n, m) WORD $(0x4E20D400 | (m)<<16 | (n)<<5 | (d))

// FMLA Vd.4S, Vn.4S, Vm.4S (the register numbers as constants, unlike
// VFMLA's operands)
#define FMLAV(d, n, m) WORD $(0x4E20CC00 | (m)<<16 | (n)<<5 | (d))

// FMAX Vd.4S, Vn.4S, Vm.4S: NaN when either lane is, so x's NaN stays
// through max(x, floor)
#define FMAXV(d, n, m) WORD $(0x4E20F400 | (m)<<16 | (n)<<5 | (d))

// one step of k for row i of the tile, its value of A in lane l of Vm:
// that value times four (ROW4), two (ROW2) or one (ROW1) vectors of B,
// V0 onwards, into the row's accumulators
#define ROW4(i, m, l) \
	FMLAE(8+4*(i), 0, m, l) \
	FMLAE(9+4*(i), 1, m, l) \
	FMLAE(10+4*(i), 2, m, l) \
	FMLAE(11+4*(i), 3, m, l)

#define ROW2(i, m, l) \
	FMLAE(8+4*(i), 0, m, l) \
	FMLAE(9+4*(i), 1, m, l)

#define ROW1(i, m, l) \
	FMLAE(8+4*(i), 0, m, l)

// the six rows of a step
#define STEP(ROW) \
	ROW(0, 4, 0) \
	ROW(1, 4, 1) \
	ROW(2, 4, 2) \
	ROW(3, 4, 3) \
	ROW(4, 5, 0) \
	ROW(5, 5, 1)

// A's six values of a step: four in V4, two in V5's low half
#define LOADA \
	VLD1.P  16(R1), [V4.S4] \
	FMOVD.P 8(R1), F5

// y = max(x·scale + shift, floor) on one vector x (register number r)
// with the row's scale in V5, shift in V6 and the floor in V7; V0 is
// scratch
#define EPV(r) \
	VMOV  V6.B16, V0.B16 \
	FMLAV(0, r, 5) \
	FMAXV(r, 0, 7)

// a whole row of the full tile: the epilogue on its four vectors, the
// row's scale and shift read in turn
#define EPROW(a, b, c, d) \
	VLD1R.P 4(R9), [V5.S4] \
	VLD1R.P 4(R10), [V6.S4] \
	EPV(a) \
	EPV(b) \
	EPV(c) \
	EPV(d)

// C's row at R11 added to a full row of the tile
#define ADDROW(a, b, c, d) \
	VLD1.P (R11)(R5), [V0.S4, V1.S4, V2.S4, V3.S4] \
	FADDV(a, a, 0) \
	FADDV(b, b, 1) \
	FADDV(c, c, 2) \
	FADDV(d, d, 3)

// func kernel6x16NEON(k int, a, b, c *float32, ldb, ldc, rows, cols, flags int, scale, shift *float32, floor float32)
//
// The 6x16 tile A·B of a packed 6-row panel of A (a[p*6+i]) and 16
// columns of B (b[p*ldb+j]), rows <= 6 of its rows and cols <= 16 of its
// columns stored: c[i*ldc+j] = max((A·B + C)·scale[i] + shift[i], floor),
// C added when flags&1, the epilogue applied when flags&2. Only the
// vectors of B that hold the stored columns are read (cols <= 4: one,
// <= 8: two, else four), so a narrow tile costs a quarter or a half of a
// full one; nothing of C outside the stored part is read or written.
TEXT ·kernel6x16NEON(SB), NOSPLIT, $0-92
	MOVD k+0(FP), R0
	MOVD a+8(FP), R1
	MOVD b+16(FP), R2
	MOVD c+24(FP), R3
	MOVD ldb+32(FP), R4
	LSL  $2, R4
	MOVD ldc+40(FP), R5
	LSL  $2, R5
	MOVD rows+48(FP), R6
	MOVD cols+56(FP), R7
	MOVD flags+64(FP), R8
	MOVD scale+72(FP), R9
	MOVD shift+80(FP), R10

	// the tile of C is read or written once the sum is done: ask for
	// its six rows (both ends of each, which may lie in two lines) now
	MOVD R3, R11
	PRFM (R11), PLDL1KEEP
	PRFM 60(R11), PLDL1KEEP
	ADD  R5, R11
	PRFM (R11), PLDL1KEEP
	PRFM 60(R11), PLDL1KEEP
	ADD  R5, R11
	PRFM (R11), PLDL1KEEP
	PRFM 60(R11), PLDL1KEEP
	ADD  R5, R11
	PRFM (R11), PLDL1KEEP
	PRFM 60(R11), PLDL1KEEP
	ADD  R5, R11
	PRFM (R11), PLDL1KEEP
	PRFM 60(R11), PLDL1KEEP
	ADD  R5, R11
	PRFM (R11), PLDL1KEEP
	PRFM 60(R11), PLDL1KEEP

	VEOR V8.B16, V8.B16, V8.B16
	VEOR V9.B16, V9.B16, V9.B16
	VEOR V10.B16, V10.B16, V10.B16
	VEOR V11.B16, V11.B16, V11.B16
	VEOR V12.B16, V12.B16, V12.B16
	VEOR V13.B16, V13.B16, V13.B16
	VEOR V14.B16, V14.B16, V14.B16
	VEOR V15.B16, V15.B16, V15.B16
	VEOR V16.B16, V16.B16, V16.B16
	VEOR V17.B16, V17.B16, V17.B16
	VEOR V18.B16, V18.B16, V18.B16
	VEOR V19.B16, V19.B16, V19.B16
	VEOR V20.B16, V20.B16, V20.B16
	VEOR V21.B16, V21.B16, V21.B16
	VEOR V22.B16, V22.B16, V22.B16
	VEOR V23.B16, V23.B16, V23.B16
	VEOR V24.B16, V24.B16, V24.B16
	VEOR V25.B16, V25.B16, V25.B16
	VEOR V26.B16, V26.B16, V26.B16
	VEOR V27.B16, V27.B16, V27.B16
	VEOR V28.B16, V28.B16, V28.B16
	VEOR V29.B16, V29.B16, V29.B16
	VEOR V30.B16, V30.B16, V30.B16
	VEOR V31.B16, V31.B16, V31.B16
	CBZ  R0, store
	CMP  $4, R7
	BLE  loop1
	CMP  $8, R7
	BLE  loop2

// 24 products a step: each vector of B times each of A's six values
loop4:
	VLD1.P (R2)(R4), [V0.S4, V1.S4, V2.S4, V3.S4]
	LOADA
	STEP(ROW4)
	SUBS   $1, R0
	BNE    loop4
	B      store

// at most 8 columns: the last tile of a row of 14x14 maps (4 columns)
loop2:
	VLD1.P (R2)(R4), [V0.S4, V1.S4]
	LOADA
	STEP(ROW2)
	SUBS   $1, R0
	BNE    loop2
	B      store

// at most 4 columns: the last tile of a row of 7x7 maps (1 column)
loop1:
	VLD1.P (R2)(R4), [V0.S4]
	LOADA
	STEP(ROW1)
	SUBS   $1, R0
	BNE    loop1

store:
	FMOVS floor+88(FP), F7
	VDUP  V7.S[0], V7.S4
	CMP   $16, R7
	BNE   partial
	CMP   $6, R6
	BNE   partial

	// the whole tile: C added, the epilogue, the stores, row by row of
	// straight-line code
	TBZ $0, R8, noadd
	MOVD R3, R11
	ADDROW(8, 9, 10, 11)
	ADDROW(12, 13, 14, 15)
	ADDROW(16, 17, 18, 19)
	ADDROW(20, 21, 22, 23)
	ADDROW(24, 25, 26, 27)
	ADDROW(28, 29, 30, 31)

noadd:
	TBZ $1, R8, noep
	EPROW(8, 9, 10, 11)
	EPROW(12, 13, 14, 15)
	EPROW(16, 17, 18, 19)
	EPROW(20, 21, 22, 23)
	EPROW(24, 25, 26, 27)
	EPROW(28, 29, 30, 31)

noep:
	VST1.P [V8.S4, V9.S4, V10.S4, V11.S4], (R3)(R5)
	VST1.P [V12.S4, V13.S4, V14.S4, V15.S4], (R3)(R5)
	VST1.P [V16.S4, V17.S4, V18.S4, V19.S4], (R3)(R5)
	VST1.P [V20.S4, V21.S4, V22.S4, V23.S4], (R3)(R5)
	VST1.P [V24.S4, V25.S4, V26.S4, V27.S4], (R3)(R5)
	VST1.P [V28.S4, V29.S4, V30.S4, V31.S4], (R3)(R5)
	RET

// A partial tile, row by row, the row always in V8-V11: its whole
// vectors, then its last 1 to 3 columns lane by lane; then the next row
// is moved up into V8-V11. R11 walks the row of C, R12 counts the
// columns left in it.
partial:
	TBZ $1, R8, rownoep
	VLD1R.P 4(R9), [V5.S4]
	VLD1R.P 4(R10), [V6.S4]

rownoep:
	MOVD R3, R11
	MOVD R7, R12

vec:
	CMP $4, R12
	BLT lanes
	TBZ $0, R8, vecnoadd
	VLD1 (R11), [V1.S4]
	FADDV(8, 8, 1)

vecnoadd:
	TBZ $1, R8, vecnoep
	EPV(8)

vecnoep:
	VST1.P [V8.S4], 16(R11)
	VMOV   V9.B16, V8.B16
	VMOV   V10.B16, V9.B16
	VMOV   V11.B16, V10.B16
	SUBS   $4, R12
	BNE    vec
	B      nextrow

// 1 to 3 columns left, in V8's first lanes: C's read lane by lane into
// V1 (zero elsewhere), the row's stored the same way
lanes:
	TBZ   $0, R8, lanesnoadd
	MOVD  R11, R13
	FMOVS (R13), F1 // lane 0, the others cleared
	CMP   $2, R12
	BLT   lanesadd
	ADD   $4, R13
	VLD1  (R13), V1.S[1]
	CMP   $3, R12
	BLT   lanesadd
	ADD   $4, R13
	VLD1  (R13), V1.S[2]

lanesadd:
	FADDV(8, 8, 1)

lanesnoadd:
	TBZ   $1, R8, lanesnoep
	EPV(8)

lanesnoep:
	MOVD  R11, R13
	VST1  V8.S[0], (R13)
	CMP   $2, R12
	BLT   nextrow
	ADD   $4, R13
	VST1  V8.S[1], (R13)
	CMP   $3, R12
	BLT   nextrow
	ADD   $4, R13
	VST1  V8.S[2], (R13)

nextrow:
	SUBS $1, R6
	BEQ  done
	ADD  R5, R3
	VMOV V12.B16, V8.B16
	VMOV V13.B16, V9.B16
	VMOV V14.B16, V10.B16
	VMOV V15.B16, V11.B16
	VMOV V16.B16, V12.B16
	VMOV V17.B16, V13.B16
	VMOV V18.B16, V14.B16
	VMOV V19.B16, V15.B16
	VMOV V20.B16, V16.B16
	VMOV V21.B16, V17.B16
	VMOV V22.B16, V18.B16
	VMOV V23.B16, V19.B16
	VMOV V24.B16, V20.B16
	VMOV V25.B16, V21.B16
	VMOV V26.B16, V22.B16
	VMOV V27.B16, V23.B16
	VMOV V28.B16, V24.B16
	VMOV V29.B16, V25.B16
	VMOV V30.B16, V26.B16
	VMOV V31.B16, V27.B16
	B    partial

done:
	RET
