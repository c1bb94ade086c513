/* SPDX-License-Identifier: MIT */
/* ML-KEM polynomial arithmetic, sampling and encodings (FIPS 203 §4).
 * Constant time: no branch or table index depends on coefficient values;
 * the only tables are indexed by loop counters. Reductions use Montgomery
 * (R = 2^16) and Barrett multiplications; compression multiplies by a fixed
 * reciprocal instead of dividing. Relies on gcc/clang semantics for
 * narrowing conversions and arithmetic right shift of negative values. */
#include <sodium.h>
#include <string.h>

#include "crypto/mlkem_internal.h"
#include "crypto/keccak4x.h"
#include "crypto/sha3.h"
#include "util/bytes.h"

enum {
	MLKEM_QINV = -3327,          /* q^-1 mod 2^16, as a signed 16-bit value */
	MLKEM_BARRETT = 20159,       /* round(2^26 / q) */
	MLKEM_MONT_SQUARED = 1353,   /* 2^32 mod q */
	MLKEM_INVNTT_SCALE = 1441,   /* 2^32 / 128 mod q */
};

/* 2^40 / q rounded up: (t * this) >> 40 equals t / q for all t < 2^23. */
#define MLKEM_RECIPROCAL_40 330282857ULL

/* zetas[i] = 17^BitRev7(i) * 2^16 mod q, centred. */
static const int16_t mlkem_zetas[128] = {
	-1044, -758, -359, -1517, 1493, 1422, 287, 202, -171, 622, 1577, 182,
	962, -1202, -1474, 1468, 573, -1325, 264, 383, -829, 1458, -1602, -130,
	-681, 1017, 732, 608, -1542, 411, -205, -1571, 1223, 652, -552, 1015,
	-1293, 1491, -282, -1544, 516, -8, -320, -666, -1618, -1162, 126, 1469,
	-853, -90, -271, 830, 107, -1421, -247, -951, -398, 961, -1508, -725,
	448, -1065, 677, -1275, -1103, 430, 555, 843, -1251, 871, 1550, 105,
	422, 587, 177, -235, -291, -460, 1574, 1653, -246, 778, 1159, -147,
	-777, 1483, -602, 1119, -1590, 644, -872, 349, 418, 329, -156, -75,
	817, 1097, 603, 610, 1322, -1285, -1465, 384, -1215, -136, 1218, -1335,
	-874, 220, -1187, -1659, -1185, -1530, -1278, 794, -1510, -854, -870, 478,
	-108, -308, 996, 991, 958, -1460, 1522, 1628,
};

/* gammas[i] = 17^(2 BitRev7(i) + 1) * 2^16 mod q, centred (Alg. 11). */
static const int16_t mlkem_gammas[128] = {
	-1103, 1103, 430, -430, 555, -555, 843, -843, -1251, 1251, 871, -871,
	1550, -1550, 105, -105, 422, -422, 587, -587, 177, -177, -235, 235,
	-291, 291, -460, 460, 1574, -1574, 1653, -1653, -246, 246, 778, -778,
	1159, -1159, -147, 147, -777, 777, 1483, -1483, -602, 602, 1119, -1119,
	-1590, 1590, 644, -644, -872, 872, 349, -349, 418, -418, 329, -329,
	-156, 156, -75, 75, 817, -817, 1097, -1097, 603, -603, 610, -610,
	1322, -1322, -1285, 1285, -1465, 1465, 384, -384, -1215, 1215, -136, 136,
	1218, -1218, -1335, 1335, -874, 874, 220, -220, -1187, 1187, -1659, 1659,
	-1185, 1185, -1530, 1530, -1278, 1278, 794, -794, -1510, 1510, -854, 854,
	-870, 870, 478, -478, -108, 108, -308, 308, 996, -996, 991, -991,
	958, -958, -1460, 1460, 1522, -1522, 1628, -1628,
};

static int16_t montgomery_reduce(int32_t a)
{
	/* t = a * q^-1 mod 2^16, so a - t q is divisible by 2^16. Valid for
	 * |a| < q 2^15; the result lies in (-q, q). */
	int16_t t = (int16_t)(uint16_t)((uint32_t)a * (uint32_t)(uint16_t)MLKEM_QINV);

	return (int16_t)((a - (int32_t)t * MLKEM_Q) >> 16);
}

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

/* montgomery_reduce(a * b) for b_qinv = b q^-1 mod 2^16, exactly: the low
 * halves of a b and t q agree, so the difference of the high halves is
 * (a b - t q) / 2^16 with no borrow lost. */
static inline int16_t fqmul_pre(int16_t a, int16_t b, int16_t b_qinv)
{
	int16_t t = mullo16(a, b_qinv);

	return (int16_t)(mulhi16(a, b) - mulhi16(t, MLKEM_Q));
}

int16_t mlkem_fqmul(int16_t a, int16_t b)
{
	return fqmul_pre(a, b, mullo16(b, MLKEM_QINV));
}

int16_t mlkem_barrett_reduce(int16_t a)
{
	/* round(a / q) as (BARRETT a + 2^25) >> 26; 2^25 is a multiple of
	 * 2^16, so flooring the product to its high half first changes
	 * nothing and keeps everything in 16-bit lanes. The final product
	 * wraps mod 2^16 but the true result fits. */
	int16_t t = (int16_t)((mulhi16(a, MLKEM_BARRETT) + (1 << 9)) >> 10);

	return (int16_t)(a - mullo16(t, MLKEM_Q));
}

/* Centred or (-q, q) representative to [0, q): adds q when negative. */
static uint16_t to_unsigned(int16_t a)
{
	a = mlkem_barrett_reduce(a);
	return (uint16_t)(a + ((a >> 15) & MLKEM_Q));
}

uint16_t mlkem_compress(uint16_t x, unsigned d)
{
	/* round(2^d x / q) = floor((2^d x + (q-1)/2) / q); q is odd so no ties. */
	uint64_t t = ((uint64_t)x << d) + (MLKEM_Q - 1) / 2;

	return (uint16_t)(((t * MLKEM_RECIPROCAL_40) >> 40) & ((1u << d) - 1));
}

int16_t mlkem_decompress(uint16_t y, unsigned d)
{
	return (int16_t)(((uint32_t)y * MLKEM_Q + (1u << (d - 1))) >> d);
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

void mlkem_poly_ntt(struct mlkem_poly *p)
{
	/* Each layer grows |c| by less than q: at most 8q after 7 layers.
	 * Layer len uses zetas from index 128 / len on. */
	ntt_layer(p->coeffs, 128, 1);
	ntt_layer(p->coeffs, 64, 2);
	ntt_layer(p->coeffs, 32, 4);
	ntt_layer(p->coeffs, 16, 8);
	ntt_layer(p->coeffs, 8, 16);
	ntt_layer(p->coeffs, 4, 32);
	ntt_layer(p->coeffs, 2, 64);
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
	invntt_layer(c, 2, 127);
	invntt_layer(c, 4, 63);
	invntt_layer(c, 8, 31);
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
		cache->coeffs[i] = mlkem_fqmul(b->coeffs[2 * i + 1], mlkem_gammas[i]);
}

void mlkem_polyvec_basemul(struct mlkem_poly *r, const struct mlkem_poly a[MLKEM_K],
			   const struct mlkem_poly b[MLKEM_K],
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
		p->coeffs[i] = mlkem_fqmul(p->coeffs[i], MLKEM_MONT_SQUARED);
}

void mlkem_poly_reduce(struct mlkem_poly *p)
{
	for (unsigned i = 0; i < MLKEM_N; i++)
		p->coeffs[i] = mlkem_barrett_reduce(p->coeffs[i]);
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
 * groups of eight values (d bytes): with d constant the inner loops have
 * fixed shapes and unroll into straight shifts and stores. The loop shape
 * depends only on d, never on the values. */
static inline __attribute__((always_inline)) void pack_bits(uint8_t *out, const uint16_t values[MLKEM_N],
							    unsigned d)
{
	for (unsigned group = 0; group < MLKEM_N / 8; group++) {
		uint32_t acc = 0;
		unsigned bits = 0;

		for (unsigned k = 0; k < 8; k++) {
			acc |= (uint32_t)values[8 * group + k] << bits;
			bits += d;
			while (bits >= 8) {
				*out++ = (uint8_t)acc;
				acc >>= 8;
				bits -= 8;
			}
		}
	}
}

static inline __attribute__((always_inline)) void unpack_bits(uint16_t values[MLKEM_N], const uint8_t *in,
							      unsigned d)
{
	for (unsigned group = 0; group < MLKEM_N / 8; group++) {
		uint32_t acc = 0;
		unsigned bits = 0;

		for (unsigned k = 0; k < 8; k++) {
			while (bits < d) {
				acc |= (uint32_t)*in++ << bits;
				bits += 8;
			}
			values[8 * group + k] = (uint16_t)(acc & ((1u << d) - 1));
			acc >>= d;
			bits -= d;
		}
	}
}

void mlkem_poly_encode12(uint8_t out[MLKEM_POLY_BYTES], const struct mlkem_poly *p)
{
	uint16_t values[MLKEM_N];

	/* Reduce first in a loop of its own: that one vectorises. */
	for (unsigned i = 0; i < MLKEM_N; i++)
		values[i] = to_unsigned(p->coeffs[i]);
	for (unsigned i = 0; i < MLKEM_N / 2; i++) {
		uint16_t v0 = values[2 * i];
		uint16_t v1 = values[2 * i + 1];

		out[3 * i] = (uint8_t)v0;
		out[3 * i + 1] = (uint8_t)(v0 >> 8 | v1 << 4);
		out[3 * i + 2] = (uint8_t)(v1 >> 4);
	}
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

	for (unsigned i = 0; i < MLKEM_N / 2; i++) {
		values[2 * i] = (uint16_t)(in[3 * i] | (in[3 * i + 1] & 0x0f) << 8);
		values[2 * i + 1] = (uint16_t)(in[3 * i + 1] >> 4 | in[3 * i + 2] << 4);
	}
	/* Separate loop: the reduction and the flag vectorise. */
	for (unsigned i = 0; i < MLKEM_N; i++)
		p->coeffs[i] = reduce_once_flag(values[i], &unreduced);
	return unreduced & 1;
}

void mlkem_poly_compress_encode(uint8_t *out, const struct mlkem_poly *p, unsigned d)
{
	uint16_t values[MLKEM_N];

	for (unsigned i = 0; i < MLKEM_N; i++)
		values[i] = mlkem_compress(to_unsigned(p->coeffs[i]), d);
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
		p->coeffs[i] = mlkem_decompress(values[i], d);
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
		m[i / 8] |= (uint8_t)(mlkem_compress(to_unsigned(p->coeffs[i]), 1) << (i % 8));
}

/* SamplePolyCBD_2 of 128 PRF bytes. */
static void cbd2(struct mlkem_poly *p, const uint8_t buf[MLKEM_CBD_BYTES])
{
	/* Each coefficient takes 4 bits: (b0 + b1) - (b2 + b3). Summing the bit
	 * pairs of a 32-bit word in parallel gives 2-bit counts per pair. */
	for (unsigned w = 0; w < MLKEM_CBD_BYTES / 4; w++) {
		uint32_t word = (uint32_t)buf[4 * w] | (uint32_t)buf[4 * w + 1] << 8 |
				(uint32_t)buf[4 * w + 2] << 16 | (uint32_t)buf[4 * w + 3] << 24;
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
	const uint8_t *const ins[4] = { w.in[0], w.in[1], w.in[2], w.in[3] };
	uint8_t *const outs[4] = { w.buf[0], w.buf[1], w.buf[2], w.buf[3] };

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
 * order. Every candidate is written and the count advances only on
 * acceptance, which avoids a hard-to-predict branch per candidate. out has
 * room for the candidates that may land past the end. */
static void sample_ntt_parse(int16_t out[MLKEM_N + 4], unsigned *count, const uint8_t *buf, size_t len)
{
	unsigned n = *count;
	size_t pos = 0;

	/* Six bytes (of one 8-byte load) give four candidates; while n <= 252
	 * all four fit, so the hot loop needs no per-candidate bound check. */
	for (; pos + 8 <= len && n <= MLKEM_N - 4; pos += 6) {
		uint64_t w = um_load64_le(buf + pos);
		uint16_t d0 = (uint16_t)(w & 0xfff), d1 = (uint16_t)(w >> 12 & 0xfff);
		uint16_t d2 = (uint16_t)(w >> 24 & 0xfff), d3 = (uint16_t)(w >> 36 & 0xfff);
		unsigned a0 = d0 < MLKEM_Q, a1 = d1 < MLKEM_Q, a2 = d2 < MLKEM_Q, a3 = d3 < MLKEM_Q;

		out[n] = (int16_t)d0;
		out[n + a0] = (int16_t)d1;
		out[n + a0 + a1] = (int16_t)d2;
		out[n + a0 + a1 + a2] = (int16_t)d3;
		n += a0 + a1 + a2 + a3;
	}
	for (; pos + 3 <= len && n < MLKEM_N; pos += 3) {
		uint16_t d1 = (uint16_t)(buf[pos] | (buf[pos + 1] & 0x0f) << 8);
		uint16_t d2 = (uint16_t)(buf[pos + 1] >> 4 | buf[pos + 2] << 4);

		out[n] = (int16_t)d1;
		n += d1 < MLKEM_Q;
		out[n] = (int16_t)d2;
		n += d2 < MLKEM_Q;
	}
	*count = n;
}

void mlkem_poly_sample_ntt(struct mlkem_poly *p, const uint8_t rho[32], uint8_t b0, uint8_t b1)
{
	/* A is public: the rejection count may depend on the XOF output. The
	 * loop writes every candidate and advances only on acceptance, which
	 * avoids a hard-to-predict branch per candidate. */
	struct um_keccak xof;
	uint8_t buf[3 * UM_SHAKE128_RATE];
	uint8_t suffix[2] = { b0, b1 };
	int16_t out[MLKEM_N + 4];
	unsigned count = 0;

	um_shake128_init(&xof);
	um_keccak_absorb(&xof, rho, 32);
	um_keccak_absorb(&xof, suffix, 2);
	um_keccak_squeeze(&xof, buf, sizeof(buf)); /* enough for 256 about 96% of the time */
	sample_ntt_parse(out, &count, buf, sizeof(buf));
	while (count < MLKEM_N) {
		um_keccak_squeeze(&xof, buf, UM_SHAKE128_RATE);
		sample_ntt_parse(out, &count, buf, UM_SHAKE128_RATE);
	}
	memcpy(p->coeffs, out, sizeof(p->coeffs));
}

void mlkem_poly_sample_ntt_x4(struct mlkem_poly p[4], const uint8_t rho[32], const uint8_t b0[4],
			      const uint8_t b1[4])
{
	/* As mlkem_poly_sample_ntt, four streams at once; when one stream
	 * needs another block all four squeeze one (the others ignore it). */
	struct um_keccak4x xof;
	uint8_t in[4][34];
	uint8_t buf[4][3 * UM_SHAKE128_RATE];
	int16_t out[4][MLKEM_N + 4];
	unsigned count[4] = { 0, 0, 0, 0 };
	const uint8_t *const ins[4] = { in[0], in[1], in[2], in[3] };
	uint8_t *const outs[4] = { buf[0], buf[1], buf[2], buf[3] };
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
			sample_ntt_parse(out[j], &count[j], buf[j], len);
		if (count[0] >= MLKEM_N && count[1] >= MLKEM_N && count[2] >= MLKEM_N && count[3] >= MLKEM_N)
			break;
		len = UM_SHAKE128_RATE;
	}
	for (unsigned j = 0; j < 4; j++)
		memcpy(p[j].coeffs, out[j], sizeof(p[j].coeffs));
}
