/* SPDX-License-Identifier: MIT */
/* ML-DSA arithmetic in Z_q[X]/(X^256 + 1), q = 8380417: Montgomery
 * reduction (R = 2^32), NTT, rounding (Power2Round, Decompose, UseHint) and
 * the infinity-norm check. Everything that may touch secret data is
 * branch-free and uses no secret-dependent table index. */
#include <string.h>

#include "crypto/mldsa_internal.h"

enum {
	MLDSA_QINV = 58728449, /* q^-1 mod 2^32 */
	MLDSA_INV_F = 41978,   /* 2^64 / 256 mod q: 1/256, plus one Montgomery factor */
	/* MLDSA_INV_F * -zetas[1] * 2^-32 mod q: the last inverse layer's
	 * twiddle with the final scaling folded in. */
	MLDSA_INV_F_ZETA = 3975713,
};

/* zeta^BitRev8(k) * 2^32 mod q, centered, zeta = 1753 (FIPS 204 Appendix B
 * in the Montgomery domain). Entry 0 is unused. */
static const int32_t mldsa_zetas[UM_MLDSA_N] = {
    -4186625, 25847,    -2608894, -518909,  237124,   -777960,  -876248,  466468,   1826347,  2353451,  -359251,
    -2091905, 3119733,  -2884855, 3111497,  2680103,  2725464,  1024112,  -1079900, 3585928,  -549488,  -1119584,
    2619752,  -2108549, -2118186, -3859737, -1399561, -3277672, 1757237,  -19422,   4010497,  280005,   2706023,
    95776,    3077325,  3530437,  -1661693, -3592148, -2537516, 3915439,  -3861115, -3043716, 3574422,  -2867647,
    3539968,  -300467,  2348700,  -539299,  -1699267, -1643818, 3505694,  -3821735, 3507263,  -2140649, -1600420,
    3699596,  811944,   531354,   954230,   3881043,  3900724,  -2556880, 2071892,  -2797779, -3930395, -1528703,
    -3677745, -3041255, -1452451, 3475950,  2176455,  -1585221, -1257611, 1939314,  -4083598, -1000202, -3190144,
    -3157330, -3632928, 126922,   3412210,  -983419,  2147896,  2715295,  -2967645, -3693493, -411027,  -2477047,
    -671102,  -1228525, -22981,   -1308169, -381987,  1349076,  1852771,  -1430430, -3343383, 264944,   508951,
    3097992,  44288,    -1100098, 904516,   3958618,  -3724342, -8578,    1653064,  -3249728, 2389356,  -210977,
    759969,   -1316856, 189548,   -3553272, 3159746,  -1851402, -2409325, -177440,  1315589,  1341330,  1285669,
    -1584928, -812732,  -1439742, -3019102, -3881060, -3628969, 3839961,  2091667,  3407706,  2316500,  3817976,
    -3342478, 2244091,  -2446433, -3562462, 266997,   2434439,  -1235728, 3513181,  -3520352, -3759364, -1197226,
    -3193378, 900702,   1859098,  909542,   819034,   495491,   -1613174, -43260,   -522500,  -655327,  -3122442,
    2031748,  3207046,  -3556995, -525098,  -768622,  -3595838, 342297,   286988,   -2437823, 4108315,  3437287,
    -3342277, 1735879,  203044,   2842341,  2691481,  -2590150, 1265009,  4055324,  1247620,  2486353,  1595974,
    -3767016, 1250494,  2635921,  -3548272, -2994039, 1869119,  1903435,  -1050970, -1333058, 1237275,  -3318210,
    -1430225, -451100,  1312455,  3306115,  -1962642, -1279661, 1917081,  -2546312, -1374803, 1500165,  777191,
    2235880,  3406031,  -542412,  -2831860, -1671176, -1846953, -2584293, -3724270, 594136,   -3776993, -2013608,
    2432395,  2454455,  -164721,  1957272,  3369112,  185531,   -1207385, -3183426, 162844,   1616392,  3014001,
    810149,   1652634,  -3694233, -1799107, -3038916, 3523897,  3866901,  269760,   2213111,  -975884,  1717735,
    472078,   -426683,  1723600,  -1803090, 1910376,  -1667432, -1104333, -260646,  -3833893, -2939036, -2235985,
    -420899,  -2286327, 183443,   -976891,  1612842,  -3545687, -554416,  3919660,  -48306,   -1362209, 3937738,
    1400424,  -846154,  1976782,
};

int32_t um_mldsa_montgomery_reduce(int64_t a)
{
	/* t = a * q^-1 mod 2^32, taken as a signed 32-bit value, so that
	 * a - t*q is divisible by 2^32. */
	int32_t t = (int32_t)((uint32_t)(uint64_t)a * (uint32_t)MLDSA_QINV);
	return (int32_t)((a - (int64_t)t * UM_MLDSA_Q) >> 32);
}

int32_t um_mldsa_reduce32(int32_t a)
{
	int32_t t = (int32_t)(((int64_t)a + (1 << 22)) >> 23);
	return a - t * UM_MLDSA_Q;
}

static inline int32_t mldsa_caddq(int32_t a)
{
	return a + ((a >> 31) & UM_MLDSA_Q);
}

int32_t um_mldsa_freeze(int32_t a)
{
	return mldsa_caddq(um_mldsa_reduce32(a));
}

void um_mldsa_poly_caddq(struct um_mldsa_poly *p)
{
	for (unsigned i = 0; i < UM_MLDSA_N; i++)
		p->coeffs[i] = mldsa_caddq(p->coeffs[i]);
}

void um_mldsa_poly_center(struct um_mldsa_poly *p)
{
	for (unsigned i = 0; i < UM_MLDSA_N; i++) {
		int32_t a = um_mldsa_freeze(p->coeffs[i]);
		/* Subtract q when a > (q - 1) / 2, without a branch. */
		p->coeffs[i] = a - ((((UM_MLDSA_Q - 1) / 2) - a) >> 31 & UM_MLDSA_Q);
	}
}

void um_mldsa_poly_reduce(struct um_mldsa_poly *p)
{
	for (unsigned i = 0; i < UM_MLDSA_N; i++)
		p->coeffs[i] = um_mldsa_reduce32(p->coeffs[i]);
}

void um_mldsa_poly_add(struct um_mldsa_poly *r, const struct um_mldsa_poly *a, const struct um_mldsa_poly *b)
{
	for (unsigned i = 0; i < UM_MLDSA_N; i++)
		r->coeffs[i] = a->coeffs[i] + b->coeffs[i];
}

void um_mldsa_poly_sub(struct um_mldsa_poly *r, const struct um_mldsa_poly *a, const struct um_mldsa_poly *b)
{
	for (unsigned i = 0; i < UM_MLDSA_N; i++)
		r->coeffs[i] = a->coeffs[i] - b->coeffs[i];
}

/* One forward layer. Always inlined with a constant len, so each j loop
 * has a fixed trip count the compiler unrolls and schedules (about a fifth
 * faster than one loop over all layers). */
static inline __attribute__((always_inline)) void mldsa_ntt_layer(int32_t w[UM_MLDSA_N], unsigned len, unsigned m)
{
	for (unsigned start = 0; start < UM_MLDSA_N; start += 2 * len) {
		int64_t zeta = mldsa_zetas[++m];

		for (unsigned j = start; j < start + len; j++) {
			int32_t t = um_mldsa_montgomery_reduce(zeta * w[j + len]);
			w[j + len] = w[j] - t;
			w[j] = w[j] + t;
		}
	}
}

void um_mldsa_ntt(struct um_mldsa_poly *p)
{
	/* Each layer grows the bound by at most q (the Montgomery product is
	 * below q), so 8 layers on |a| < q stay below 9q. Left unreduced:
	 * products of two such values (81 q^2), or sums of up to 8 products
	 * with a reduced operand, stay below the q * 2^31 Montgomery limit.
	 * Layer len uses the zetas after index 128 / len - 1. */
	mldsa_ntt_layer(p->coeffs, 128, 0);
	mldsa_ntt_layer(p->coeffs, 64, 1);
	mldsa_ntt_layer(p->coeffs, 32, 3);
	mldsa_ntt_layer(p->coeffs, 16, 7);
	mldsa_ntt_layer(p->coeffs, 8, 15);
	mldsa_ntt_layer(p->coeffs, 4, 31);
	mldsa_ntt_layer(p->coeffs, 2, 63);
	mldsa_ntt_layer(p->coeffs, 1, 127);
}

/* One inverse layer, zetas taken downwards from index m - 1. */
static inline __attribute__((always_inline)) void mldsa_invntt_layer(int32_t w[UM_MLDSA_N], unsigned len, unsigned m)
{
	for (unsigned start = 0; start < UM_MLDSA_N; start += 2 * len) {
		int64_t zeta = -mldsa_zetas[--m];

		for (unsigned j = start; j < start + len; j++) {
			int32_t t = w[j];
			w[j] = t + w[j + len];
			w[j + len] = um_mldsa_montgomery_reduce(zeta * (t - w[j + len]));
		}
	}
}

void um_mldsa_invntt_tomont(struct um_mldsa_poly *p)
{
	int32_t *w = p->coeffs;

	/* The unreduced sums at most double per layer: 256 * (q - 1) < 2^31. */
	mldsa_invntt_layer(w, 1, 256);
	mldsa_invntt_layer(w, 2, 128);
	mldsa_invntt_layer(w, 4, 64);
	mldsa_invntt_layer(w, 8, 32);
	mldsa_invntt_layer(w, 16, 16);
	mldsa_invntt_layer(w, 32, 8);
	mldsa_invntt_layer(w, 64, 4);
	/* Last layer (len 128, zeta index 1) fused with the scaling by 1/256. */
	for (unsigned j = 0; j < UM_MLDSA_N / 2; j++) {
		int32_t t = w[j];
		w[j] = um_mldsa_montgomery_reduce((int64_t)MLDSA_INV_F * (t + w[j + 128]));
		w[j + 128] = um_mldsa_montgomery_reduce((int64_t)MLDSA_INV_F_ZETA * (t - w[j + 128]));
	}
}

void um_mldsa_poly_pointwise(struct um_mldsa_poly *r, const struct um_mldsa_poly *a, const struct um_mldsa_poly *b)
{
	for (unsigned i = 0; i < UM_MLDSA_N; i++)
		r->coeffs[i] = um_mldsa_montgomery_reduce((int64_t)a->coeffs[i] * b->coeffs[i]);
}

void um_mldsa_poly_dot(struct um_mldsa_poly *r, const struct um_mldsa_poly *a, const struct um_mldsa_poly *b,
		       size_t count)
{
	/* Each product is below 9 q^2 (a reduced, b a raw NTT output); eight
	 * of them, 72 q^2 < 2^53, stay under the q * 2^31 Montgomery limit. */
	for (unsigned i = 0; i < UM_MLDSA_N; i++) {
		int64_t acc = 0;
		for (size_t j = 0; j < count; j++)
			acc += (int64_t)a[j].coeffs[i] * b[j].coeffs[i];
		r->coeffs[i] = um_mldsa_montgomery_reduce(acc);
	}
}

void um_mldsa_poly_dot_minus(struct um_mldsa_poly *r, const struct um_mldsa_poly *a, const struct um_mldsa_poly *b,
			     size_t count, const struct um_mldsa_poly *c, const struct um_mldsa_poly *t)
{
	/* 7 * 9 q^2 + 81 q^2 = 144 q^2 < q * 2^31: one Montgomery reduction
	 * covers the whole sum, with no separate product and subtraction. */
	for (unsigned i = 0; i < UM_MLDSA_N; i++) {
		int64_t acc = -(int64_t)c->coeffs[i] * t->coeffs[i];
		for (size_t j = 0; j < count; j++)
			acc += (int64_t)a[j].coeffs[i] * b[j].coeffs[i];
		r->coeffs[i] = um_mldsa_montgomery_reduce(acc);
	}
}

void um_mldsa_challenge_from_poly(struct um_mldsa_challenge *ch, const struct um_mldsa_poly *c)
{
	ch->plus_count = ch->minus_count = 0;
	for (unsigned i = 0; i < UM_MLDSA_N; i++) {
		if (c->coeffs[i] > 0 && ch->plus_count < UM_MLDSA_TAU)
			ch->plus[ch->plus_count++] = (uint8_t)i;
		else if (c->coeffs[i] < 0 && ch->minus_count < UM_MLDSA_TAU)
			ch->minus[ch->minus_count++] = (uint8_t)i;
	}
}

void um_mldsa_small_extend(int8_t ext[2 * UM_MLDSA_N], const struct um_mldsa_poly *s)
{
	for (unsigned i = 0; i < UM_MLDSA_N; i++) {
		ext[i] = (int8_t)-s->coeffs[i];
		ext[UM_MLDSA_N + i] = (int8_t)s->coeffs[i];
	}
}

void um_mldsa_t0_extend(int32_t ext[2 * UM_MLDSA_N], const struct um_mldsa_poly *t0)
{
	for (unsigned i = 0; i < UM_MLDSA_N; i++) {
		ext[i] = -t0->coeffs[i];
		ext[UM_MLDSA_N + i] = t0->coeffs[i];
	}
}

/* X^p s has coefficient j equal to s[j - p], negated when j < p (X^256 =
 * -1): exactly ext[256 - p + j]. So c s is a sum of tau windows of ext,
 * which needs no multiplier: several times cheaper than a pointwise
 * product plus an inverse NTT. The sums run over chunks of 64 bytes that
 * stay in vector registers while all windows are added in (16 bytes or 4
 * words per operation, even on the baseline instruction set). In bytes the
 * partial sums never overflow: |.| <= tau eta = 120. */
enum { MLDSA_CHUNK_BYTES = 64 };

static inline __attribute__((always_inline)) void add_windows8(int8_t *restrict acc, const int8_t *ext,
							       const uint8_t *positions, unsigned count, unsigned base,
							       int subtract)
{
	for (unsigned k = 0; k < count; k++) {
		const int8_t *restrict window = ext + UM_MLDSA_N - positions[k] + base;
		int8_t sum[MLDSA_CHUNK_BYTES];

		/* Through a temporary: written as acc[j] += window[j], gcc 12's
		 * unroll-and-jam fuses pairs of windows into a byte loop that it
		 * then fails to vectorise. */
		for (unsigned j = 0; j < MLDSA_CHUNK_BYTES; j++)
			sum[j] = (int8_t)(subtract ? acc[j] - window[j] : acc[j] + window[j]);
		memcpy(acc, sum, sizeof sum);
	}
}

static inline __attribute__((always_inline)) void add_windows32(int32_t *restrict acc, const int32_t *ext,
								const uint8_t *positions, unsigned count, unsigned base,
								int subtract)
{
	for (unsigned k = 0; k < count; k++) {
		const int32_t *restrict window = ext + UM_MLDSA_N - positions[k] + base;
		int32_t sum[MLDSA_CHUNK_BYTES / 4];

		for (unsigned j = 0; j < MLDSA_CHUNK_BYTES / 4; j++)
			sum[j] = subtract ? acc[j] - window[j] : acc[j] + window[j];
		memcpy(acc, sum, sizeof sum);
	}
}

/* noinline: inlined into the signing loop (with LTO) gcc 12 no longer
 * vectorises these, which made them several times slower. */
__attribute__((noinline)) void um_mldsa_small_mul(struct um_mldsa_poly *r, const struct um_mldsa_challenge *ch,
						  const int8_t ext[2 * UM_MLDSA_N])
{
	for (unsigned base = 0; base < UM_MLDSA_N; base += MLDSA_CHUNK_BYTES) {
		int8_t acc[MLDSA_CHUNK_BYTES] = {0};

		add_windows8(acc, ext, ch->plus, ch->plus_count, base, 0);
		add_windows8(acc, ext, ch->minus, ch->minus_count, base, 1);
		for (unsigned j = 0; j < MLDSA_CHUNK_BYTES; j++)
			r->coeffs[base + j] = acc[j];
	}
}

__attribute__((noinline)) void um_mldsa_t0_mul(struct um_mldsa_poly *r, const struct um_mldsa_challenge *ch,
					       const int32_t ext[2 * UM_MLDSA_N])
{
	for (unsigned base = 0; base < UM_MLDSA_N; base += MLDSA_CHUNK_BYTES / 4) {
		int32_t acc[MLDSA_CHUNK_BYTES / 4] = {0};

		add_windows32(acc, ext, ch->plus, ch->plus_count, base, 0);
		add_windows32(acc, ext, ch->minus, ch->minus_count, base, 1);
		for (unsigned j = 0; j < MLDSA_CHUNK_BYTES / 4; j++)
			r->coeffs[base + j] = acc[j];
	}
}

void um_mldsa_power2round(int32_t *r1, int32_t *r0, int32_t r)
{
	/* r0 = r mod+- 2^13 in (-2^12, 2^12], r1 = (r - r0) / 2^13. */
	int32_t hi = (r + (1 << (UM_MLDSA_D - 1)) - 1) >> UM_MLDSA_D;
	*r1 = hi;
	*r0 = r - hi * (1 << UM_MLDSA_D);
}

int32_t um_mldsa_decompose(int32_t *r0, int32_t r)
{
	/* r1 = floor((r + gamma2 - 1) / (2 gamma2)) so that r0 lands in
	 * (-gamma2, gamma2]. 2 gamma2 = 512 * 1023; the division by 1023 is a
	 * multiply by ceil(2^32 / 1023), exact for the range used (checked
	 * exhaustively by the unit test). */
	uint32_t x = (uint32_t)(r + UM_MLDSA_GAMMA2 - 1) >> 9;
	int32_t r1 = (int32_t)(((uint64_t)x * 4198405u) >> 32);
	int32_t low = r - r1 * 2 * UM_MLDSA_GAMMA2;
	/* r1 == 16 means r - r0 = q - 1: FIPS 204 maps it to r1 = 0, r0 - 1. */
	int32_t top = ((15 - r1) >> 31) & 1;
	*r0 = low - top;
	return r1 & 15;
}

int32_t um_mldsa_use_hint(int32_t hint, int32_t r)
{
	int32_t r0;
	int32_t r1 = um_mldsa_decompose(&r0, r);

	if (!hint)
		return r1;
	return r0 > 0 ? (r1 + 1) & 15 : (r1 - 1) & 15;
}

int um_mldsa_poly_exceeds(const struct um_mldsa_poly *p, int32_t bound)
{
	uint32_t over = 0;

	for (unsigned i = 0; i < UM_MLDSA_N; i++) {
		int32_t a = p->coeffs[i];
		int32_t sign = a >> 31;
		int32_t magnitude = (a ^ sign) - sign;
		/* Negative exactly when magnitude >= bound. */
		over |= (uint32_t)(bound - 1 - magnitude);
	}
	return (int)(over >> 31);
}
