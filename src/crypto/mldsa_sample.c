/* SPDX-License-Identifier: MIT */
/* ML-DSA sampling from SHAKE: ExpandA / RejNTTPoly (public), RejBoundedPoly
 * (secret s1, s2), ExpandMask (secret y) and SampleInBall (public c).
 * ExpandA always runs four independent SHAKE streams at a time through
 * crypto/keccak4x.h (AVX2, or two 2-way portable permutations). With AVX2,
 * ExpandS and ExpandMask do the same; without it they run one scalar
 * stream at a time (same output), which skips the lane shuffling and the
 * streams or blocks that only the 4-way grouping needs. */
#include <string.h>

#include <sodium.h>

#include "crypto/cpu.h"
#include "crypto/keccak4x.h"
#include "crypto/mldsa_internal.h"
#include "crypto/sha3.h"
#include "util/bytes.h"

enum {
	/* Five SHAKE128 blocks give 280 candidates: enough for 256
	 * coefficients almost always (acceptance rate q / 2^23). */
	MLDSA_EXPAND_A_FIRST = 5 * UM_SHAKE128_RATE,
};

/* RejNTTPoly's rejection loop over len bytes (a multiple of 3) from
 * coefficient *count on; stops at 256. */
static void rej_ntt_parse(struct um_mldsa_poly *p, unsigned *count, const uint8_t *buf, size_t len)
{
	unsigned n = *count;
	size_t pos = 0;

	/* Two candidates per 8-byte load while both have room (n <= 254):
	 * every candidate is written, the count advances on acceptance. */
	for (; pos + 8 <= len && n <= UM_MLDSA_N - 2; pos += 6) {
		uint64_t w = um_load64_le(buf + pos);
		uint32_t z0 = (uint32_t)w & 0x7fffff, z1 = (uint32_t)(w >> 24) & 0x7fffff;

		/* Acceptance as the sign bit of z - q: fewer instructions than
		 * a compare and set, and this loop is bound by their count. */
		p->coeffs[n] = (int32_t)z0;
		n += (z0 - UM_MLDSA_Q) >> 31;
		p->coeffs[n] = (int32_t)z1;
		n += (z1 - UM_MLDSA_Q) >> 31;
	}
	for (; pos + 3 <= len && n < UM_MLDSA_N; pos += 3) {
		/* CoeffFromThreeBytes: 23 bits, top bit of the third byte dropped. */
		uint32_t z = (uint32_t)buf[pos] | (uint32_t)buf[pos + 1] << 8 | (uint32_t)(buf[pos + 2] & 0x7f) << 16;
		if (z < UM_MLDSA_Q)
			p->coeffs[n++] = (int32_t)z;
	}
	*count = n;
}

/* RejNTTPoly for four seeds rho || s || r at once. When a stream needs more
 * than the first five blocks, all four squeeze another block (block size 168
 * is a multiple of 3: no leftover bytes) and the finished ones ignore it. */
static void mldsa_rej_ntt_poly_x4(struct um_mldsa_poly *const p[4], const uint8_t seed[4][34])
{
	uint8_t buf[4][MLDSA_EXPAND_A_FIRST];
	uint8_t *const outs[4] = {buf[0], buf[1], buf[2], buf[3]};
	const uint8_t *const ins[4] = {seed[0], seed[1], seed[2], seed[3]};
	struct um_keccak4x xof;
	unsigned count[4] = {0, 0, 0, 0};
	size_t len = MLDSA_EXPAND_A_FIRST;

	um_shake128x4_absorb_once(&xof, ins, 34);
	for (;;) {
		um_keccak4x_squeeze(&xof, outs, len);
		for (unsigned j = 0; j < 4; j++)
			rej_ntt_parse(p[j], &count[j], buf[j], len);
		if (count[0] == UM_MLDSA_N && count[1] == UM_MLDSA_N && count[2] == UM_MLDSA_N &&
		    count[3] == UM_MLDSA_N)
			break;
		len = UM_SHAKE128_RATE;
	}
}

/* The K * L = 56 entries in groups of four, row by row. */
_Static_assert(UM_MLDSA_K *UM_MLDSA_L % 4 == 0, "ExpandA in groups of four");

void um_mldsa_expand_a(struct um_mldsa_poly a[UM_MLDSA_K][UM_MLDSA_L], const uint8_t rho[32])
{
	uint8_t seed[4][34];
	/* Always four streams at a time: even without AVX2 the 4-way Keccak
	 * (two 2-way permutations) beats four scalar streams, although the
	 * group squeezes a sixth block for all four when one needs it. */
	for (unsigned j = 0; j < 4; j++)
		memcpy(seed[j], rho, 32);
	for (unsigned first = 0; first < UM_MLDSA_K * UM_MLDSA_L; first += 4) {
		struct um_mldsa_poly *p[4];

		for (unsigned j = 0; j < 4; j++) {
			unsigned r = (first + j) / UM_MLDSA_L, s = (first + j) % UM_MLDSA_L;

			seed[j][32] = (uint8_t)s; /* column first, then row */
			seed[j][33] = (uint8_t)r;
			p[j] = &a[r][s];
		}
		mldsa_rej_ntt_poly_x4(p, seed);
	}
}

/* RejBoundedPoly's loop over len bytes from coefficient *count on; stops
 * at 256. */
static void rej_bounded_parse(struct um_mldsa_poly *p, unsigned *count, const uint8_t *buf, size_t len)
{
	unsigned n = *count;

	for (size_t pos = 0; pos < len && n < UM_MLDSA_N; pos++) {
		uint32_t byte = buf[pos];
		for (unsigned half = 0; half < 2 && n < UM_MLDSA_N; half++) {
			uint32_t b = half ? byte >> 4 : byte & 15;
			/* CoeffFromHalfByte for eta = 2: accept b < 15, value
			 * 2 - (b mod 5); b mod 5 via multiply-shift, exact for
			 * b < 15. */
			int32_t value = 2 - (int32_t)(b - 5 * ((b * 205) >> 10));
			int accept = (int)(((b - 15) >> 31) & 1);
			/* Whether a nibble is rejected is independent of the
			 * accepted coefficients' values, so it may be revealed. */
			UM_MLDSA_DECLASSIFY(&accept, sizeof accept);
			if (accept)
				p->coeffs[n++] = value;
		}
	}
	*count = n;
}

void um_mldsa_rej_bounded(struct um_mldsa_poly *p, const uint8_t rhoprime[64], uint16_t nonce)
{
	uint8_t seed[66];
	uint8_t buf[UM_SHAKE256_RATE];
	struct um_keccak xof;
	unsigned count = 0;

	memcpy(seed, rhoprime, 64);
	seed[64] = (uint8_t)nonce;
	seed[65] = (uint8_t)(nonce >> 8);
	um_shake256_init(&xof);
	um_keccak_absorb(&xof, seed, sizeof seed);
	while (count < UM_MLDSA_N) {
		um_keccak_squeeze(&xof, buf, sizeof buf);
		rej_bounded_parse(p, &count, buf, sizeof buf);
	}
	sodium_memzero(buf, sizeof buf);
	sodium_memzero(seed, sizeof seed);
	um_keccak_wipe(&xof);
}

/* RejBoundedPoly for four nonces at once, a block at a time; a finished
 * stream ignores the blocks the others still need. */
static void mldsa_rej_bounded_x4(struct um_mldsa_poly *const p[4], const uint8_t rhoprime[64], const uint16_t nonce[4])
{
	struct {
		uint8_t seed[4][66];
		uint8_t buf[4][UM_SHAKE256_RATE];
		struct um_keccak4x xof;
	} w;
	uint8_t *const outs[4] = {w.buf[0], w.buf[1], w.buf[2], w.buf[3]};
	const uint8_t *const ins[4] = {w.seed[0], w.seed[1], w.seed[2], w.seed[3]};
	unsigned count[4] = {0, 0, 0, 0};

	for (unsigned j = 0; j < 4; j++) {
		memcpy(w.seed[j], rhoprime, 64);
		w.seed[j][64] = (uint8_t)nonce[j];
		w.seed[j][65] = (uint8_t)(nonce[j] >> 8);
	}
	um_shake256x4_absorb_once(&w.xof, ins, sizeof w.seed[0]);
	/* The counts only depend on the (revealed) accept bits. */
	while (count[0] < UM_MLDSA_N || count[1] < UM_MLDSA_N || count[2] < UM_MLDSA_N || count[3] < UM_MLDSA_N) {
		um_keccak4x_squeeze(&w.xof, outs, UM_SHAKE256_RATE);
		for (unsigned j = 0; j < 4; j++)
			rej_bounded_parse(p[j], &count[j], w.buf[j], UM_SHAKE256_RATE);
	}
	sodium_memzero(&w, sizeof w);
}

void um_mldsa_expand_s(struct um_mldsa_poly s1[UM_MLDSA_L], struct um_mldsa_poly s2[UM_MLDSA_K],
		       const uint8_t rhoprime[64])
{
	/* Nonces 0..l-1 give s1, l..l+k-1 give s2; the last group of four has
	 * one spare stream whose output lands in `spare` and is discarded. */
	struct um_mldsa_poly spare;

	if (!um_crypto_use_avx2()) {
		for (unsigned r = 0; r < UM_MLDSA_L; r++)
			um_mldsa_rej_bounded(&s1[r], rhoprime, (uint16_t)r);
		for (unsigned r = 0; r < UM_MLDSA_K; r++)
			um_mldsa_rej_bounded(&s2[r], rhoprime, (uint16_t)(UM_MLDSA_L + r));
		return;
	}
	for (unsigned first = 0; first < UM_MLDSA_L + UM_MLDSA_K; first += 4) {
		struct um_mldsa_poly *p[4];
		uint16_t nonce[4];

		for (unsigned j = 0; j < 4; j++) {
			unsigned index = first + j;

			nonce[j] = (uint16_t)index;
			p[j] = index < UM_MLDSA_L                ? &s1[index]
			       : index < UM_MLDSA_L + UM_MLDSA_K ? &s2[index - UM_MLDSA_L]
								 : &spare;
		}
		mldsa_rej_bounded_x4(p, rhoprime, nonce);
	}
	sodium_memzero(&spare, sizeof spare);
}

void um_mldsa_expand_mask(struct um_mldsa_poly y[UM_MLDSA_L], const uint8_t rhopp[64], uint16_t kappa)
{
	/* Four streams at a time; the second group has one spare stream
	 * (nonce kappa + l, which the next attempt uses) that is discarded. */
	struct {
		uint8_t seed[4][66];
		uint8_t buf[4][UM_MLDSA_Z_POLY_BYTES];
		struct um_keccak4x xof;
	} w;
	uint8_t *const outs[4] = {w.buf[0], w.buf[1], w.buf[2], w.buf[3]};
	const uint8_t *const ins[4] = {w.seed[0], w.seed[1], w.seed[2], w.seed[3]};

	for (unsigned j = 0; j < 4; j++)
		memcpy(w.seed[j], rhopp, 64);
	if (!um_crypto_use_avx2()) {
		for (unsigned r = 0; r < UM_MLDSA_L; r++) {
			uint16_t nonce = (uint16_t)(kappa + r);

			w.seed[0][64] = (uint8_t)nonce;
			w.seed[0][65] = (uint8_t)(nonce >> 8);
			um_shake256(w.buf[0], UM_MLDSA_Z_POLY_BYTES, w.seed[0], sizeof w.seed[0]);
			um_mldsa_unpack(&y[r], w.buf[0], 20, UM_MLDSA_GAMMA1, 1);
		}
		sodium_memzero(&w, sizeof w);
		return;
	}
	for (unsigned first = 0; first < UM_MLDSA_L; first += 4) {
		for (unsigned j = 0; j < 4; j++) {
			uint16_t nonce = (uint16_t)(kappa + first + j);
			w.seed[j][64] = (uint8_t)nonce;
			w.seed[j][65] = (uint8_t)(nonce >> 8);
		}
		um_shake256x4_absorb_once(&w.xof, ins, sizeof w.seed[0]);
		um_keccak4x_squeeze(&w.xof, outs, UM_MLDSA_Z_POLY_BYTES);
		/* BitUnpack(v, gamma1 - 1, gamma1): y = gamma1 - 20-bit value. */
		for (unsigned j = 0; j < 4 && first + j < UM_MLDSA_L; j++)
			um_mldsa_unpack(&y[first + j], w.buf[j], 20, UM_MLDSA_GAMMA1, 1);
	}
	sodium_memzero(&w, sizeof w);
}

void um_mldsa_sample_in_ball(struct um_mldsa_poly *c, const uint8_t ctilde[UM_MLDSA_CTILDE_BYTES])
{
	uint8_t buf[UM_SHAKE256_RATE];
	struct um_keccak xof;
	uint64_t signs = 0;
	unsigned pos = 8;

	um_shake256_init(&xof);
	um_keccak_absorb(&xof, ctilde, UM_MLDSA_CTILDE_BYTES);
	um_keccak_squeeze(&xof, buf, sizeof buf);
	for (unsigned i = 0; i < 8; i++)
		signs |= (uint64_t)buf[i] << (8 * i);

	memset(c, 0, sizeof *c);
	for (unsigned i = UM_MLDSA_N - UM_MLDSA_TAU; i < UM_MLDSA_N; i++) {
		unsigned j;
		do {
			if (pos == sizeof buf) {
				um_keccak_squeeze(&xof, buf, sizeof buf);
				pos = 0;
			}
			j = buf[pos++];
		} while (j > i);
		c->coeffs[i] = c->coeffs[j];
		c->coeffs[j] = 1 - 2 * (int32_t)(signs & 1);
		signs >>= 1;
	}
}
