/* SPDX-License-Identifier: MIT */
/* ML-DSA sampling from SHAKE: ExpandA / RejNTTPoly (public), RejBoundedPoly
 * (secret s1, s2), ExpandMask (secret y) and SampleInBall (public c). */
#include <string.h>

#include <sodium.h>

#include "crypto/mldsa_internal.h"
#include "crypto/sha3.h"

enum {
	/* Five SHAKE128 blocks give 280 candidates: enough for 256
	 * coefficients almost always (acceptance rate q / 2^23). */
	MLDSA_EXPAND_A_FIRST = 5 * UM_SHAKE128_RATE,
};

static void mldsa_rej_ntt_poly(struct um_mldsa_poly *p, const uint8_t seed[34])
{
	uint8_t buf[MLDSA_EXPAND_A_FIRST];
	struct um_keccak xof;
	size_t len = sizeof buf, pos = 0;
	unsigned count = 0;

	um_shake128_init(&xof);
	um_keccak_absorb(&xof, seed, 34);
	um_keccak_squeeze(&xof, buf, len);
	while (count < UM_MLDSA_N) {
		if (pos + 3 > len) {
			/* Block size 168 is a multiple of 3: no leftover bytes. */
			len = UM_SHAKE128_RATE;
			pos = 0;
			um_keccak_squeeze(&xof, buf, len);
		}
		/* CoeffFromThreeBytes: 23 bits, top bit of the third byte dropped. */
		uint32_t z = (uint32_t)buf[pos] | (uint32_t)buf[pos + 1] << 8 | (uint32_t)(buf[pos + 2] & 0x7f) << 16;
		pos += 3;
		if (z < UM_MLDSA_Q)
			p->coeffs[count++] = (int32_t)z;
	}
}

void um_mldsa_expand_a(struct um_mldsa_poly a[UM_MLDSA_K][UM_MLDSA_L], const uint8_t rho[32])
{
	uint8_t seed[34];

	memcpy(seed, rho, 32);
	for (unsigned r = 0; r < UM_MLDSA_K; r++) {
		for (unsigned s = 0; s < UM_MLDSA_L; s++) {
			seed[32] = (uint8_t)s; /* column first, then row */
			seed[33] = (uint8_t)r;
			mldsa_rej_ntt_poly(&a[r][s], seed);
		}
	}
}

void um_mldsa_rej_bounded(struct um_mldsa_poly *p, const uint8_t rhoprime[64], uint16_t nonce)
{
	uint8_t seed[66];
	uint8_t buf[UM_SHAKE256_RATE];
	struct um_keccak xof;
	unsigned count = 0, pos = sizeof buf;

	memcpy(seed, rhoprime, 64);
	seed[64] = (uint8_t)nonce;
	seed[65] = (uint8_t)(nonce >> 8);
	um_shake256_init(&xof);
	um_keccak_absorb(&xof, seed, sizeof seed);
	while (count < UM_MLDSA_N) {
		if (pos == sizeof buf) {
			um_keccak_squeeze(&xof, buf, sizeof buf);
			pos = 0;
		}
		uint32_t byte = buf[pos++];
		for (unsigned half = 0; half < 2 && count < UM_MLDSA_N; half++) {
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
				p->coeffs[count++] = value;
		}
	}
	sodium_memzero(buf, sizeof buf);
	sodium_memzero(seed, sizeof seed);
	um_keccak_wipe(&xof);
}

void um_mldsa_expand_mask(struct um_mldsa_poly y[UM_MLDSA_L], const uint8_t rhopp[64], uint16_t kappa)
{
	uint8_t seed[66];
	uint8_t buf[UM_MLDSA_Z_POLY_BYTES];
	struct um_keccak xof;

	memcpy(seed, rhopp, 64);
	for (unsigned r = 0; r < UM_MLDSA_L; r++) {
		uint16_t nonce = (uint16_t)(kappa + r);
		seed[64] = (uint8_t)nonce;
		seed[65] = (uint8_t)(nonce >> 8);
		um_shake256_init(&xof);
		um_keccak_absorb(&xof, seed, sizeof seed);
		um_keccak_squeeze(&xof, buf, sizeof buf);
		/* BitUnpack(v, gamma1 - 1, gamma1): y = gamma1 - 20-bit value. */
		um_mldsa_unpack(&y[r], buf, 20, UM_MLDSA_GAMMA1, 1);
	}
	sodium_memzero(buf, sizeof buf);
	sodium_memzero(seed, sizeof seed);
	um_keccak_wipe(&xof);
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
