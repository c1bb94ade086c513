/* SPDX-License-Identifier: MIT */
/* ML-KEM polynomial arithmetic, sampling and encodings (FIPS 203 §4).
 * Constant time: no branch or table index depends on coefficient values;
 * the only tables are indexed by loop counters. Reductions use Montgomery
 * (R = 2^16) and Barrett multiplications; compression multiplies by a fixed
 * reciprocal instead of dividing. Relies on gcc/clang semantics for
 * narrowing conversions and arithmetic right shift of negative values. */
#include <sodium.h>
#include <string.h>

#include "crypto/keccak4x.h"
#include "crypto/mlkem_internal.h"
#include "crypto/sha3.h"
#include "util/bytes.h"

enum {
	MLKEM_QINV = -3327,        /* q^-1 mod 2^16, as a signed 16-bit value */
	MLKEM_BARRETT = 20159,     /* round(2^26 / q) */
	MLKEM_MONT_SQUARED = 1353, /* 2^32 mod q */
	MLKEM_INVNTT_SCALE = 1441, /* 2^32 / 128 mod q */
};

/* 2^40 / q rounded up: (t * this) >> 40 equals t / q for all t < 2^23. */
#define MLKEM_RECIPROCAL_40 330282857ULL

/* zetas[i] = 17^BitRev7(i) * 2^16 mod q, centred. */
static const int16_t mlkem_zetas[128] = {
    -1044, -758,  -359,  -1517, 1493,  1422,  287,   202,   -171,  622,  1577,  182,   962,   -1202, -1474, 1468,
    573,   -1325, 264,   383,   -829,  1458,  -1602, -130,  -681,  1017, 732,   608,   -1542, 411,   -205,  -1571,
    1223,  652,   -552,  1015,  -1293, 1491,  -282,  -1544, 516,   -8,   -320,  -666,  -1618, -1162, 126,   1469,
    -853,  -90,   -271,  830,   107,   -1421, -247,  -951,  -398,  961,  -1508, -725,  448,   -1065, 677,   -1275,
    -1103, 430,   555,   843,   -1251, 871,   1550,  105,   422,   587,  177,   -235,  -291,  -460,  1574,  1653,
    -246,  778,   1159,  -147,  -777,  1483,  -602,  1119,  -1590, 644,  -872,  349,   418,   329,   -156,  -75,
    817,   1097,  603,   610,   1322,  -1285, -1465, 384,   -1215, -136, 1218,  -1335, -874,  220,   -1187, -1659,
    -1185, -1530, -1278, 794,   -1510, -854,  -870,  478,   -108,  -308, 996,   991,   958,   -1460, 1522,  1628,
};

/* gammas[i] = 17^(2 BitRev7(i) + 1) * 2^16 mod q, centred (Alg. 11). */
static const int16_t mlkem_gammas[128] = {
    -1103, 1103, 430,   -430,  555,   -555,  843,   -843, -1251, 1251,  871,   -871,  1550,  -1550, 105,   -105,
    422,   -422, 587,   -587,  177,   -177,  -235,  235,  -291,  291,   -460,  460,   1574,  -1574, 1653,  -1653,
    -246,  246,  778,   -778,  1159,  -1159, -147,  147,  -777,  777,   1483,  -1483, -602,  602,   1119,  -1119,
    -1590, 1590, 644,   -644,  -872,  872,   349,   -349, 418,   -418,  329,   -329,  -156,  156,   -75,   75,
    817,   -817, 1097,  -1097, 603,   -603,  610,   -610, 1322,  -1322, -1285, 1285,  -1465, 1465,  384,   -384,
    -1215, 1215, -136,  136,   1218,  -1218, -1335, 1335, -874,  874,   220,   -220,  -1187, 1187,  -1659, 1659,
    -1185, 1185, -1530, 1530,  -1278, 1278,  794,   -794, -1510, 1510,  -854,  854,   -870,  870,   478,   -478,
    -108,  108,  -308,  308,   996,   -996,  991,   -991, 958,   -958,  -1460, 1460,  1522,  -1522, 1628,  -1628,
};

#if defined(__GNUC__)
/* The len = 8, 4 and 2 layers pair coefficients inside one 8-lane vector,
 * which the vectoriser handles badly or not at all. Instead, shuffles (GNU
 * C vector extensions; they move int16 pairs, as 32-bit lanes, which SSE2
 * does in one or two instructions) move each 16 coefficients into two
 * halves lo / hi so that butterfly p pairs lo[p] with hi[p] across all 128
 * butterflies, with the zeta of butterfly p taken from an expanded table;
 * that flat loop vectorises like the big layers. The arithmetic per
 * butterfly is unchanged, so the results are identical. */
#define MLKEM_NTT_SHUFFLED 1
typedef uint32_t mlkem_v4 __attribute__((vector_size(16)));
#if defined(__clang__)
#define SHUFFLE4(a, b, i0, i1, i2, i3) __builtin_shufflevector((a), (b), i0, i1, i2, i3)
#else
#define SHUFFLE4(a, b, i0, i1, i2, i3) __builtin_shuffle((a), (b), (mlkem_v4){i0, i1, i2, i3})
#endif

/* Expanded zetas: butterfly p of the shuffled layout (lane p % 8 of block
 * p / 8) uses entry p. zetas[16 + p / 8] for the len = 8 layer. */
static const int16_t ntt_zetas_len8[128] = {
    573,   573,   573,   573,   573,   573,   573,   573,   -1325, -1325, -1325, -1325, -1325, -1325, -1325, -1325,
    264,   264,   264,   264,   264,   264,   264,   264,   383,   383,   383,   383,   383,   383,   383,   383,
    -829,  -829,  -829,  -829,  -829,  -829,  -829,  -829,  1458,  1458,  1458,  1458,  1458,  1458,  1458,  1458,
    -1602, -1602, -1602, -1602, -1602, -1602, -1602, -1602, -130,  -130,  -130,  -130,  -130,  -130,  -130,  -130,
    -681,  -681,  -681,  -681,  -681,  -681,  -681,  -681,  1017,  1017,  1017,  1017,  1017,  1017,  1017,  1017,
    732,   732,   732,   732,   732,   732,   732,   732,   608,   608,   608,   608,   608,   608,   608,   608,
    -1542, -1542, -1542, -1542, -1542, -1542, -1542, -1542, 411,   411,   411,   411,   411,   411,   411,   411,
    -205,  -205,  -205,  -205,  -205,  -205,  -205,  -205,  -1571, -1571, -1571, -1571, -1571, -1571, -1571, -1571,
};

/* zetas[32 + p / 4]: the len = 4 layer. */
static const int16_t ntt_zetas_len4[128] = {
    1223,  1223,  1223,  1223,  652,   652,   652,   652,   -552,  -552,  -552,  -552,  1015,  1015,  1015,  1015,
    -1293, -1293, -1293, -1293, 1491,  1491,  1491,  1491,  -282,  -282,  -282,  -282,  -1544, -1544, -1544, -1544,
    516,   516,   516,   516,   -8,    -8,    -8,    -8,    -320,  -320,  -320,  -320,  -666,  -666,  -666,  -666,
    -1618, -1618, -1618, -1618, -1162, -1162, -1162, -1162, 126,   126,   126,   126,   1469,  1469,  1469,  1469,
    -853,  -853,  -853,  -853,  -90,   -90,   -90,   -90,   -271,  -271,  -271,  -271,  830,   830,   830,   830,
    107,   107,   107,   107,   -1421, -1421, -1421, -1421, -247,  -247,  -247,  -247,  -951,  -951,  -951,  -951,
    -398,  -398,  -398,  -398,  961,   961,   961,   961,   -1508, -1508, -1508, -1508, -725,  -725,  -725,  -725,
    448,   448,   448,   448,   -1065, -1065, -1065, -1065, 677,   677,   677,   677,   -1275, -1275, -1275, -1275,
};

/* zetas[64 + p / 2]: the len = 2 layer. */
static const int16_t ntt_zetas_len2[128] = {
    -1103, -1103, 430,   430,   555,   555,   843,   843,   -1251, -1251, 871,   871,   1550,  1550,  105,   105,
    422,   422,   587,   587,   177,   177,   -235,  -235,  -291,  -291,  -460,  -460,  1574,  1574,  1653,  1653,
    -246,  -246,  778,   778,   1159,  1159,  -147,  -147,  -777,  -777,  1483,  1483,  -602,  -602,  1119,  1119,
    -1590, -1590, 644,   644,   -872,  -872,  349,   349,   418,   418,   329,   329,   -156,  -156,  -75,   -75,
    817,   817,   1097,  1097,  603,   603,   610,   610,   1322,  1322,  -1285, -1285, -1465, -1465, 384,   384,
    -1215, -1215, -136,  -136,  1218,  1218,  -1335, -1335, -874,  -874,  220,   220,   -1187, -1187, -1659, -1659,
    -1185, -1185, -1530, -1530, -1278, -1278, 794,   794,   -1510, -1510, -854,  -854,  -870,  -870,  478,   478,
    -108,  -108,  -308,  -308,  996,   996,   991,   991,   958,   958,   -1460, -1460, 1522,  1522,  1628,  1628,
};

/* zetas[127 - p / 2]: the inverse len = 2 layer. */
static const int16_t invntt_zetas_len2[128] = {
    1628,  1628,  1522,  1522,  -1460, -1460, 958,   958,   991,   991,   996,   996,   -308,  -308,  -108,  -108,
    478,   478,   -870,  -870,  -854,  -854,  -1510, -1510, 794,   794,   -1278, -1278, -1530, -1530, -1185, -1185,
    -1659, -1659, -1187, -1187, 220,   220,   -874,  -874,  -1335, -1335, 1218,  1218,  -136,  -136,  -1215, -1215,
    384,   384,   -1465, -1465, -1285, -1285, 1322,  1322,  610,   610,   603,   603,   1097,  1097,  817,   817,
    -75,   -75,   -156,  -156,  329,   329,   418,   418,   349,   349,   -872,  -872,  644,   644,   -1590, -1590,
    1119,  1119,  -602,  -602,  1483,  1483,  -777,  -777,  -147,  -147,  1159,  1159,  778,   778,   -246,  -246,
    1653,  1653,  1574,  1574,  -460,  -460,  -291,  -291,  -235,  -235,  177,   177,   587,   587,   422,   422,
    105,   105,   1550,  1550,  871,   871,   -1251, -1251, 843,   843,   555,   555,   430,   430,   -1103, -1103,
};

/* zetas[63 - p / 4]: the inverse len = 4 layer. */
static const int16_t invntt_zetas_len4[128] = {
    -1275, -1275, -1275, -1275, 677,   677,   677,   677,   -1065, -1065, -1065, -1065, 448,   448,   448,   448,
    -725,  -725,  -725,  -725,  -1508, -1508, -1508, -1508, 961,   961,   961,   961,   -398,  -398,  -398,  -398,
    -951,  -951,  -951,  -951,  -247,  -247,  -247,  -247,  -1421, -1421, -1421, -1421, 107,   107,   107,   107,
    830,   830,   830,   830,   -271,  -271,  -271,  -271,  -90,   -90,   -90,   -90,   -853,  -853,  -853,  -853,
    1469,  1469,  1469,  1469,  126,   126,   126,   126,   -1162, -1162, -1162, -1162, -1618, -1618, -1618, -1618,
    -666,  -666,  -666,  -666,  -320,  -320,  -320,  -320,  -8,    -8,    -8,    -8,    516,   516,   516,   516,
    -1544, -1544, -1544, -1544, -282,  -282,  -282,  -282,  1491,  1491,  1491,  1491,  -1293, -1293, -1293, -1293,
    1015,  1015,  1015,  1015,  -552,  -552,  -552,  -552,  652,   652,   652,   652,   1223,  1223,  1223,  1223,
};

/* zetas[31 - p / 8]: the inverse len = 8 layer. */
static const int16_t invntt_zetas_len8[128] = {
    -1571, -1571, -1571, -1571, -1571, -1571, -1571, -1571, -205,  -205,  -205,  -205,  -205,  -205,  -205,  -205,
    411,   411,   411,   411,   411,   411,   411,   411,   -1542, -1542, -1542, -1542, -1542, -1542, -1542, -1542,
    608,   608,   608,   608,   608,   608,   608,   608,   732,   732,   732,   732,   732,   732,   732,   732,
    1017,  1017,  1017,  1017,  1017,  1017,  1017,  1017,  -681,  -681,  -681,  -681,  -681,  -681,  -681,  -681,
    -130,  -130,  -130,  -130,  -130,  -130,  -130,  -130,  -1602, -1602, -1602, -1602, -1602, -1602, -1602, -1602,
    1458,  1458,  1458,  1458,  1458,  1458,  1458,  1458,  -829,  -829,  -829,  -829,  -829,  -829,  -829,  -829,
    383,   383,   383,   383,   383,   383,   383,   383,   264,   264,   264,   264,   264,   264,   264,   264,
    -1325, -1325, -1325, -1325, -1325, -1325, -1325, -1325, 573,   573,   573,   573,   573,   573,   573,   573,
};

#endif

/* High and low halves of a 16 x 16-bit product. Written this way the
 * loops below vectorise to pmulhw / pmullw (or their NEON twins) even on
 * the baseline instruction set. */
static inline int16_t mulhi16(int16_t a, int16_t b)
{
	return (int16_t)(((int32_t)a * b) >> 16);
}

static inline int16_t mullo16(int16_t a, int16_t b)
{
	return (int16_t)((int32_t)a * b);
}

/* a 2^-16 mod q for |a| < q 2^15, result in (-q, q). t = a q^-1 mod 2^16
 * makes a - t q divisible by 2^16; as the low halves of a and t q agree,
 * that quotient is the difference of their high halves, all in 16-bit
 * lanes (vectorises to pmullw / pmulhw; no 32-bit multiply). */
static inline int16_t montgomery_reduce(int32_t a)
{
	int16_t t = mullo16((int16_t)a, MLKEM_QINV);

	return (int16_t)((int16_t)(a >> 16) - mulhi16(t, MLKEM_Q));
}

/* montgomery_reduce(a * b) for b_qinv = b q^-1 mod 2^16, exactly: the low
 * halves of a b and t q agree, so the difference of the high halves is
 * (a b - t q) / 2^16 with no borrow lost. */
static inline int16_t fqmul_pre(int16_t a, int16_t b, int16_t b_qinv)
{
	int16_t t = mullo16(a, b_qinv);

	return (int16_t)(mulhi16(a, b) - mulhi16(t, MLKEM_Q));
}

/* The exported helpers below wrap static inline bodies: the loops in this
 * file call those, so they inline and vectorise even without LTO (in
 * position-independent code a call to an exported function may not be
 * inlined, as it could be interposed). */
static inline int16_t fqmul(int16_t a, int16_t b)
{
	return fqmul_pre(a, b, mullo16(b, MLKEM_QINV));
}

int16_t mlkem_fqmul(int16_t a, int16_t b)
{
	return fqmul(a, b);
}

static inline int16_t barrett_reduce(int16_t a)
{
	/* round(a / q) as (BARRETT a + 2^25) >> 26; 2^25 is a multiple of
	 * 2^16, so flooring the product to its high half first changes
	 * nothing and keeps everything in 16-bit lanes. The final product
	 * wraps mod 2^16 but the true result fits. */
	int16_t t = (int16_t)((mulhi16(a, MLKEM_BARRETT) + (1 << 9)) >> 10);

	return (int16_t)(a - mullo16(t, MLKEM_Q));
}

int16_t mlkem_barrett_reduce(int16_t a)
{
	return barrett_reduce(a);
}

/* Centred or (-q, q) representative to [0, q): adds q when negative. */
static inline uint16_t to_unsigned(int16_t a)
{
	a = barrett_reduce(a);
	return (uint16_t)(a + ((a >> 15) & MLKEM_Q));
}

static inline uint16_t compress(uint16_t x, unsigned d)
{
	/* round(2^d x / q) = floor((2^d x + (q-1)/2) / q); q is odd so no ties.
	 * t < 2^23 and the reciprocal < 2^32: a 32 x 32 -> 64-bit product,
	 * which vectorises (pmuludq) where a full 64-bit one does not. */
	uint32_t t = ((uint32_t)x << d) + (MLKEM_Q - 1) / 2;

	return (uint16_t)((((uint64_t)t * (uint32_t)MLKEM_RECIPROCAL_40) >> 40) & ((1u << d) - 1));
}

uint16_t mlkem_compress(uint16_t x, unsigned d)
{
	return compress(x, d);
}

static inline int16_t decompress(uint16_t y, unsigned d)
{
	return (int16_t)(((uint32_t)y * MLKEM_Q + (1u << (d - 1))) >> d);
}

int16_t mlkem_decompress(uint16_t y, unsigned d)
{
	return decompress(y, d);
}

/* One Cooley-Tukey layer; always inlined so len is a constant and the
 * j loop has a fixed trip count the compiler vectorises. */
static inline __attribute__((always_inline)) void ntt_layer(int16_t c[MLKEM_N], unsigned len, unsigned k)
{
	for (unsigned start = 0; start < MLKEM_N; start += 2 * len) {
		int16_t zeta = mlkem_zetas[k++];
		int16_t zeta_qinv = mullo16(zeta, MLKEM_QINV);

		for (unsigned j = start; j < start + len; j++) {
			int16_t t = fqmul_pre(c[j + len], zeta, zeta_qinv);

			c[j + len] = (int16_t)(c[j] - t);
			c[j] = (int16_t)(c[j] + t);
		}
	}
}

#ifdef MLKEM_NTT_SHUFFLED
/* 16-coefficient block k as two vectors: lo[8k..8k+7] and hi[8k..8k+7]. */
struct ntt_halves {
	_Alignas(16) int16_t lo[MLKEM_N / 2];
	_Alignas(16) int16_t hi[MLKEM_N / 2];
};

static inline mlkem_v4 load4(const int16_t *p)
{
	mlkem_v4 v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline void store4(int16_t *p, mlkem_v4 v)
{
	memcpy(p, &v, sizeof(v));
}

static inline __attribute__((always_inline)) void ct_butterflies(struct ntt_halves *h, const int16_t zetas[128])
{
	for (unsigned p = 0; p < MLKEM_N / 2; p++) {
		int16_t t = fqmul_pre(h->hi[p], zetas[p], mullo16(zetas[p], MLKEM_QINV));

		h->hi[p] = (int16_t)(h->lo[p] - t);
		h->lo[p] = (int16_t)(h->lo[p] + t);
	}
}

static inline __attribute__((always_inline)) void gs_butterflies(struct ntt_halves *h, const int16_t zetas[128])
{
	for (unsigned p = 0; p < MLKEM_N / 2; p++) {
		int16_t t = h->lo[p];

		h->lo[p] = (int16_t)(t + h->hi[p]);
		h->hi[p] = fqmul_pre((int16_t)(h->hi[p] - t), zetas[p], mullo16(zetas[p], MLKEM_QINV));
	}
}

/* Per block, in 32-bit lanes (coefficient pairs) of (lo, hi) = 0..7:
 * lo' = lanes (i0, i1, i2, i3), hi' = lanes (j0, j1, j2, j3). */
#define REGROUP(h, i0, i1, i2, i3, j0, j1, j2, j3)                                                                     \
	do {                                                                                                           \
		for (unsigned k = 0; k < MLKEM_N / 16; k++) {                                                          \
			mlkem_v4 lo = load4((h)->lo + 8 * k), hi = load4((h)->hi + 8 * k);                             \
			store4((h)->lo + 8 * k, SHUFFLE4(lo, hi, i0, i1, i2, i3));                                     \
			store4((h)->hi + 8 * k, SHUFFLE4(lo, hi, j0, j1, j2, j3));                                     \
		}                                                                                                      \
	} while (0)

/* Forward layers len = 8, 4, 2 on block a = c[16k..], b = c[16k + 8..].
 * len 8: lo = a, hi = b. len 4: lo = (a0..a3 b0..b3), hi = (a4..a7 b4..b7).
 * len 2: lo = (a0 a1 a4 a5 b0 b1 b4 b5), hi = (a2 a3 a6 a7 b2 b3 b6 b7).
 * Each regrouping is its own inverse. */
static void ntt_small_layers(int16_t c[MLKEM_N])
{
	struct ntt_halves h;

	for (unsigned k = 0; k < MLKEM_N / 16; k++) {
		memcpy(h.lo + 8 * k, c + 16 * k, 16);
		memcpy(h.hi + 8 * k, c + 16 * k + 8, 16);
	}
	ct_butterflies(&h, ntt_zetas_len8);
	REGROUP(&h, 0, 1, 4, 5, 2, 3, 6, 7);
	ct_butterflies(&h, ntt_zetas_len4);
	REGROUP(&h, 0, 4, 2, 6, 1, 5, 3, 7);
	ct_butterflies(&h, ntt_zetas_len2);
	for (unsigned k = 0; k < MLKEM_N / 16; k++) {
		mlkem_v4 lo = load4(h.lo + 8 * k), hi = load4(h.hi + 8 * k);

		store4(c + 16 * k, SHUFFLE4(lo, hi, 0, 4, 1, 5));
		store4(c + 16 * k + 8, SHUFFLE4(lo, hi, 2, 6, 3, 7));
	}
	sodium_memzero(&h, sizeof(h));
}

/* Inverse layers len = 2, 4, 8: the same layouts in reverse. */
static void invntt_small_layers(int16_t c[MLKEM_N])
{
	struct ntt_halves h;

	for (unsigned k = 0; k < MLKEM_N / 16; k++) {
		mlkem_v4 a = load4(c + 16 * k), b = load4(c + 16 * k + 8);

		store4(h.lo + 8 * k, SHUFFLE4(a, b, 0, 2, 4, 6));
		store4(h.hi + 8 * k, SHUFFLE4(a, b, 1, 3, 5, 7));
	}
	gs_butterflies(&h, invntt_zetas_len2);
	REGROUP(&h, 0, 4, 2, 6, 1, 5, 3, 7);
	gs_butterflies(&h, invntt_zetas_len4);
	REGROUP(&h, 0, 1, 4, 5, 2, 3, 6, 7);
	gs_butterflies(&h, invntt_zetas_len8);
	for (unsigned k = 0; k < MLKEM_N / 16; k++) {
		memcpy(c + 16 * k, h.lo + 8 * k, 16);
		memcpy(c + 16 * k + 8, h.hi + 8 * k, 16);
	}
	sodium_memzero(&h, sizeof(h));
}
#undef REGROUP
#endif

void mlkem_poly_ntt(struct mlkem_poly *p)
{
	/* Each layer grows |c| by less than q: at most 8q after 7 layers.
	 * Layer len uses zetas from index 128 / len on. */
	ntt_layer(p->coeffs, 128, 1);
	ntt_layer(p->coeffs, 64, 2);
	ntt_layer(p->coeffs, 32, 4);
	ntt_layer(p->coeffs, 16, 8);
#ifdef MLKEM_NTT_SHUFFLED
	ntt_small_layers(p->coeffs);
#else
	ntt_layer(p->coeffs, 8, 16);
	ntt_layer(p->coeffs, 4, 32);
	ntt_layer(p->coeffs, 2, 64);
#endif
	mlkem_poly_reduce(p);
}

/* One Gentleman-Sande layer, zetas taken downwards from index k. */
static inline __attribute__((always_inline)) void invntt_layer(int16_t c[MLKEM_N], unsigned len, unsigned k)
{
	for (unsigned start = 0; start < MLKEM_N; start += 2 * len) {
		int16_t zeta = mlkem_zetas[k--];
		int16_t zeta_qinv = mullo16(zeta, MLKEM_QINV);

		for (unsigned j = start; j < start + len; j++) {
			int16_t t = c[j];

			c[j] = (int16_t)(t + c[j + len]);
			c[j + len] = fqmul_pre((int16_t)(c[j + len] - t), zeta, zeta_qinv);
		}
	}
}

void mlkem_poly_invntt_from_basemul(struct mlkem_poly *p)
{
	int16_t *c = p->coeffs;
	const int16_t scale_qinv = mullo16(MLKEM_INVNTT_SCALE, MLKEM_QINV);

	/* Lower halves double per layer (upper ones stay below q); reducing
	 * after the len = 8 and len = 64 layers keeps |c| < 8q < 2^15. */
#ifdef MLKEM_NTT_SHUFFLED
	invntt_small_layers(c);
#else
	invntt_layer(c, 2, 127);
	invntt_layer(c, 4, 63);
	invntt_layer(c, 8, 31);
#endif
	mlkem_poly_reduce(p);
	invntt_layer(c, 16, 15);
	invntt_layer(c, 32, 7);
	invntt_layer(c, 64, 3);
	mlkem_poly_reduce(p);
	invntt_layer(c, 128, 1);
	/* Times 128^-1 for the transform and 2^16 for the basemul factor. */
	for (unsigned j = 0; j < MLKEM_N; j++)
		c[j] = fqmul_pre(c[j], MLKEM_INVNTT_SCALE, scale_qinv);
}

void mlkem_poly_mulcache(struct mlkem_poly_mulcache *cache, const struct mlkem_poly *b)
{
	for (unsigned i = 0; i < MLKEM_N / 2; i++)
		cache->coeffs[i] = fqmul(b->coeffs[2 * i + 1], mlkem_gammas[i]);
}

void mlkem_polyvec_basemul(struct mlkem_poly *r, const struct mlkem_poly a[MLKEM_K], const struct mlkem_poly b[MLKEM_K],
			   const struct mlkem_poly_mulcache cache[MLKEM_K])
{
	/* Sum the 32-bit products of all k pairs, then reduce once: each
	 * product is below q^2 and 2k of them stay below q 2^15. */
	for (unsigned i = 0; i < MLKEM_N / 2; i++) {
		int32_t c0 = 0, c1 = 0;

		for (unsigned j = 0; j < MLKEM_K; j++) {
			int32_t a0 = a[j].coeffs[2 * i], a1 = a[j].coeffs[2 * i + 1];
			int32_t b0 = b[j].coeffs[2 * i], b1 = b[j].coeffs[2 * i + 1];

			c0 += a0 * b0 + a1 * cache[j].coeffs[i];
			c1 += a0 * b1 + a1 * b0;
		}
		r->coeffs[2 * i] = montgomery_reduce(c0);
		r->coeffs[2 * i + 1] = montgomery_reduce(c1);
	}
}

void mlkem_poly_tomont(struct mlkem_poly *p)
{
	for (unsigned i = 0; i < MLKEM_N; i++)
		p->coeffs[i] = fqmul(p->coeffs[i], MLKEM_MONT_SQUARED);
}

void mlkem_poly_reduce(struct mlkem_poly *p)
{
	for (unsigned i = 0; i < MLKEM_N; i++)
		p->coeffs[i] = barrett_reduce(p->coeffs[i]);
}

void mlkem_poly_add(struct mlkem_poly *r, const struct mlkem_poly *a)
{
	for (unsigned i = 0; i < MLKEM_N; i++)
		r->coeffs[i] = (int16_t)(r->coeffs[i] + a->coeffs[i]);
}

void mlkem_poly_sub(struct mlkem_poly *r, const struct mlkem_poly *a)
{
	for (unsigned i = 0; i < MLKEM_N; i++)
		r->coeffs[i] = (int16_t)(r->coeffs[i] - a->coeffs[i]);
}

/* Little-endian bit packing of 256 values of d bits each (d <= 12), in
 * groups of eight values (d bytes) held in two 64-bit words: with d
 * constant the shifts are constants and a group costs one 8-byte store
 * plus d - 8 single bytes (or d bytes when d < 8). The loop shape depends
 * only on d, never on the values. */
static inline __attribute__((always_inline)) void pack_bits(uint8_t *out, const uint16_t values[MLKEM_N], unsigned d)
{
	for (unsigned group = 0; group < MLKEM_N / 8; group++, out += d) {
		uint64_t lo = 0, hi = 0;

		for (unsigned k = 0; k < 8; k++) {
			uint64_t v = values[8 * group + k];
			unsigned shift = d * k;

			if (shift >= 64) {
				hi |= v << (shift - 64);
			} else {
				lo |= v << shift;
				if (shift + d > 64)
					hi |= v >> (64 - shift);
			}
		}
		if (d >= 8) {
			um_store64_le(out, lo);
			for (unsigned b = 0; b < d - 8; b++)
				out[8 + b] = (uint8_t)(hi >> (8 * b));
		} else {
			for (unsigned b = 0; b < d; b++)
				out[b] = (uint8_t)(lo >> (8 * b));
		}
	}
}

static inline __attribute__((always_inline)) void unpack_bits(uint16_t values[MLKEM_N], const uint8_t *in, unsigned d)
{
	for (unsigned group = 0; group < MLKEM_N / 8; group++, in += d) {
		uint64_t lo = 0, hi = 0;

		if (d >= 8) {
			lo = um_load64_le(in);
			for (unsigned b = 0; b < d - 8; b++)
				hi |= (uint64_t)in[8 + b] << (8 * b);
		} else {
			for (unsigned b = 0; b < d; b++)
				lo |= (uint64_t)in[b] << (8 * b);
		}
		for (unsigned k = 0; k < 8; k++) {
			unsigned shift = d * k;
			uint64_t v;

			if (shift >= 64) {
				v = hi >> (shift - 64);
			} else {
				v = lo >> shift;
				if (shift + d > 64)
					v |= hi << (64 - shift);
			}
			values[8 * group + k] = (uint16_t)(v & ((1u << d) - 1));
		}
	}
}

void mlkem_poly_encode12(uint8_t out[MLKEM_POLY_BYTES], const struct mlkem_poly *p)
{
	uint16_t values[MLKEM_N];

	/* Reduce first in a loop of its own: that one vectorises. */
	for (unsigned i = 0; i < MLKEM_N; i++)
		values[i] = to_unsigned(p->coeffs[i]);
	pack_bits(out, values, 12);
}

/* values - q if values >= q, else values; flags |= 1 when it was >= q. */
static int16_t reduce_once_flag(uint16_t value, uint32_t *flags)
{
	/* ge_q is all ones when value >= q (the subtraction does not borrow). */
	uint32_t ge_q = (((uint32_t)value - MLKEM_Q) >> 31) - 1;

	*flags |= ge_q;
	return (int16_t)(value - (ge_q & MLKEM_Q));
}

unsigned mlkem_poly_decode12(struct mlkem_poly *p, const uint8_t in[MLKEM_POLY_BYTES])
{
	uint16_t values[MLKEM_N];
	uint32_t unreduced = 0;

	unpack_bits(values, in, 12);
	/* Separate loop: the reduction and the flag vectorise. */
	for (unsigned i = 0; i < MLKEM_N; i++)
		p->coeffs[i] = reduce_once_flag(values[i], &unreduced);
	return unreduced & 1;
}

void mlkem_poly_compress_encode(uint8_t *out, const struct mlkem_poly *p, unsigned d)
{
	uint16_t values[MLKEM_N];

	for (unsigned i = 0; i < MLKEM_N; i++)
		values[i] = compress(to_unsigned(p->coeffs[i]), d);
	/* Constant d lets the compiler unroll the packing for the two hot sizes. */
	if (d == MLKEM_DU)
		pack_bits(out, values, MLKEM_DU);
	else if (d == MLKEM_DV)
		pack_bits(out, values, MLKEM_DV);
	else
		pack_bits(out, values, d);
}

void mlkem_poly_decode_decompress(struct mlkem_poly *p, const uint8_t *in, unsigned d)
{
	uint16_t values[MLKEM_N];

	if (d == MLKEM_DU)
		unpack_bits(values, in, MLKEM_DU);
	else if (d == MLKEM_DV)
		unpack_bits(values, in, MLKEM_DV);
	else
		unpack_bits(values, in, d);
	for (unsigned i = 0; i < MLKEM_N; i++)
		p->coeffs[i] = decompress(values[i], d);
}

void mlkem_poly_from_message(struct mlkem_poly *p, const uint8_t m[32])
{
	for (unsigned i = 0; i < MLKEM_N; i++) {
		int16_t bit = (int16_t)((m[i / 8] >> (i % 8)) & 1);

		/* Decompress_1(1) = round(q / 2) = 1665, selected by a mask. */
		p->coeffs[i] = (int16_t)(-bit & ((MLKEM_Q + 1) / 2));
	}
}

void mlkem_poly_to_message(uint8_t m[32], const struct mlkem_poly *p)
{
	memset(m, 0, 32);
	for (unsigned i = 0; i < MLKEM_N; i++)
		m[i / 8] |= (uint8_t)(compress(to_unsigned(p->coeffs[i]), 1) << (i % 8));
}

/* SamplePolyCBD_2 of 128 PRF bytes. */
static void cbd2(struct mlkem_poly *p, const uint8_t buf[MLKEM_CBD_BYTES])
{
	/* Each coefficient takes 4 bits: (b0 + b1) - (b2 + b3). Summing the bit
	 * pairs of a 32-bit word in parallel gives 2-bit counts per pair. */
	for (unsigned w = 0; w < MLKEM_CBD_BYTES / 4; w++) {
		uint32_t word = (uint32_t)buf[4 * w] | (uint32_t)buf[4 * w + 1] << 8 | (uint32_t)buf[4 * w + 2] << 16 |
				(uint32_t)buf[4 * w + 3] << 24;
		uint32_t sums = (word & 0x55555555u) + ((word >> 1) & 0x55555555u);

		for (unsigned j = 0; j < 8; j++) {
			int16_t x = (int16_t)((sums >> (4 * j)) & 3);
			int16_t y = (int16_t)((sums >> (4 * j + 2)) & 3);

			p->coeffs[8 * w + j] = (int16_t)(x - y);
		}
	}
}

void mlkem_poly_sample_cbd2(struct mlkem_poly *p, const uint8_t seed[32], uint8_t nonce)
{
	struct um_keccak xof;
	uint8_t buf[MLKEM_CBD_BYTES];

	um_shake256_init(&xof);
	um_keccak_absorb(&xof, seed, 32);
	um_keccak_absorb(&xof, &nonce, 1);
	um_keccak_squeeze(&xof, buf, sizeof(buf));
	um_keccak_wipe(&xof);
	cbd2(p, buf);
	sodium_memzero(buf, sizeof(buf));
}

void mlkem_poly_sample_cbd2_x4(struct mlkem_poly p[4], const uint8_t seed[32], uint8_t nonce)
{
	struct {
		struct um_keccak4x xof;
		uint8_t in[4][33];
		uint8_t buf[4][MLKEM_CBD_BYTES];
	} w;
	const uint8_t *const ins[4] = {w.in[0], w.in[1], w.in[2], w.in[3]};
	uint8_t *const outs[4] = {w.buf[0], w.buf[1], w.buf[2], w.buf[3]};

	for (unsigned j = 0; j < 4; j++) {
		memcpy(w.in[j], seed, 32);
		w.in[j][32] = (uint8_t)(nonce + j);
	}
	um_shake256x4_absorb_once(&w.xof, ins, 33);
	um_keccak4x_squeeze(&w.xof, outs, MLKEM_CBD_BYTES);
	for (unsigned j = 0; j < 4; j++)
		cbd2(&p[j], w.buf[j]);
	sodium_memzero(&w, sizeof(w));
}

/* Rejection sampling for SampleNTT: parses len bytes (a multiple of 3)
 * into out from position *count, keeping the first 256 accepted values in
 * order. */
static void sample_ntt_parse(int16_t out[MLKEM_N], unsigned *count, const uint8_t *buf, size_t len)
{
	unsigned n = *count;
	size_t pos = 0;

	/* Six bytes (of one 8-byte load) give four candidates. Every candidate
	 * is written and the count advances only on acceptance, which avoids a
	 * hard-to-predict branch per candidate; while n <= 252 all four
	 * writes land inside out. The loop is bound by its instruction count:
	 * acceptance as the sign bit of d - q (two operations, no compare and
	 * set) and stores addressed by the running count make it about 30%
	 * faster than separate flags and prefix sums. */
	for (; pos + 8 <= len && n <= MLKEM_N - 4; pos += 6) {
		uint64_t w = um_load64_le(buf + pos);
		uint32_t d0 = (uint32_t)w & 0xfff, d1 = (uint32_t)(w >> 12) & 0xfff;
		uint32_t d2 = (uint32_t)(w >> 24) & 0xfff, d3 = (uint32_t)(w >> 36) & 0xfff;

		out[n] = (int16_t)d0;
		n += (d0 - MLKEM_Q) >> 31;
		out[n] = (int16_t)d1;
		n += (d1 - MLKEM_Q) >> 31;
		out[n] = (int16_t)d2;
		n += (d2 - MLKEM_Q) >> 31;
		out[n] = (int16_t)d3;
		n += (d3 - MLKEM_Q) >> 31;
	}
	/* The last few values: plain Alg. 7 (A is public, branching is fine). */
	for (; pos + 3 <= len && n < MLKEM_N; pos += 3) {
		uint16_t d1 = (uint16_t)(buf[pos] | (buf[pos + 1] & 0x0f) << 8);
		uint16_t d2 = (uint16_t)(buf[pos + 1] >> 4 | buf[pos + 2] << 4);

		if (d1 < MLKEM_Q)
			out[n++] = (int16_t)d1;
		if (d2 < MLKEM_Q && n < MLKEM_N)
			out[n++] = (int16_t)d2;
	}
	*count = n;
}

void mlkem_poly_sample_ntt(struct mlkem_poly *p, const uint8_t rho[32], uint8_t b0, uint8_t b1)
{
	/* A is public: the rejection count may depend on the XOF output. */
	struct um_keccak xof;
	uint8_t buf[3 * UM_SHAKE128_RATE];
	uint8_t suffix[2] = {b0, b1};
	unsigned count = 0;

	um_shake128_init(&xof);
	um_keccak_absorb(&xof, rho, 32);
	um_keccak_absorb(&xof, suffix, 2);
	um_keccak_squeeze(&xof, buf, sizeof(buf)); /* enough for 256 about 96% of the time */
	sample_ntt_parse(p->coeffs, &count, buf, sizeof(buf));
	while (count < MLKEM_N) {
		um_keccak_squeeze(&xof, buf, UM_SHAKE128_RATE);
		sample_ntt_parse(p->coeffs, &count, buf, UM_SHAKE128_RATE);
	}
}

void mlkem_poly_sample_ntt_x4(struct mlkem_poly p[4], const uint8_t rho[32], const uint8_t b0[4], const uint8_t b1[4])
{
	/* As mlkem_poly_sample_ntt, four streams at once; when one stream
	 * needs another block all four squeeze one (the others ignore it). */
	struct um_keccak4x xof;
	uint8_t in[4][34];
	uint8_t buf[4][3 * UM_SHAKE128_RATE];
	unsigned count[4] = {0, 0, 0, 0};
	const uint8_t *const ins[4] = {in[0], in[1], in[2], in[3]};
	uint8_t *const outs[4] = {buf[0], buf[1], buf[2], buf[3]};
	size_t len = sizeof(buf[0]);

	for (unsigned j = 0; j < 4; j++) {
		memcpy(in[j], rho, 32);
		in[j][32] = b0[j];
		in[j][33] = b1[j];
	}
	um_shake128x4_absorb_once(&xof, ins, sizeof(in[0]));
	for (;;) {
		um_keccak4x_squeeze(&xof, outs, len);
		for (unsigned j = 0; j < 4; j++)
			sample_ntt_parse(p[j].coeffs, &count[j], buf[j], len);
		if (count[0] >= MLKEM_N && count[1] >= MLKEM_N && count[2] >= MLKEM_N && count[3] >= MLKEM_N)
			break;
		len = UM_SHAKE128_RATE;
	}
}
