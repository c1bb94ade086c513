/* SPDX-License-Identifier: MIT */
/* FIPS 202 Keccak-f[1600] and the SHA-3 / SHAKE sponge. Lanes are little
 * endian 64-bit words; lane (x, y) lives at state[x + 5y]. The permutation
 * runs in locals (no table lookups, no data-dependent branches). */
#include <sodium.h>
#include <string.h>

#include "crypto/sha3.h"
#include "util/bytes.h"

#define ROL64(v, n) (((v) << (n)) | ((v) >> (64 - (n))))

const uint64_t um_keccak_round_constants[24] = {
	0x0000000000000001ULL, 0x0000000000008082ULL,
	0x800000000000808aULL, 0x8000000080008000ULL,
	0x000000000000808bULL, 0x0000000080000001ULL,
	0x8000000080008081ULL, 0x8000000000008009ULL,
	0x000000000000008aULL, 0x0000000000000088ULL,
	0x0000000080008009ULL, 0x000000008000000aULL,
	0x000000008000808bULL, 0x800000000000008bULL,
	0x8000000000008089ULL, 0x8000000000008003ULL,
	0x8000000000008002ULL, 0x8000000000000080ULL,
	0x000000000000800aULL, 0x800000008000000aULL,
	0x8000000080008081ULL, 0x8000000000008080ULL,
	0x0000000080000001ULL, 0x8000000080008008ULL,
};

/* One round from lanes A##xy to lanes E##xy (token-pasted prefixes), in the
 * lane-complemented representation (see um_keccak_f1600). theta, then
 * rho and pi one output plane at a time into b0..b4, then chi and iota.
 * With some inputs and outputs stored inverted, chi's b ^ (~b' & b'') turns
 * into b ^ (b' | b'') or b ^ (b' & b'') for most lanes (De Morgan); each
 * plane still needs one inverted lane (nb), shared by two outputs, so a
 * round costs five NOTs instead of twenty-five. The per-lane forms follow
 * from the complemented set; the FIPS 202 vectors and the OpenSSL
 * differential test check them. */
#define KECCAK_ROUND(A, E, rc)                                                  \
	do {                                                                    \
		c0 = A##00 ^ A##01 ^ A##02 ^ A##03 ^ A##04;                     \
		c1 = A##10 ^ A##11 ^ A##12 ^ A##13 ^ A##14;                     \
		c2 = A##20 ^ A##21 ^ A##22 ^ A##23 ^ A##24;                     \
		c3 = A##30 ^ A##31 ^ A##32 ^ A##33 ^ A##34;                     \
		c4 = A##40 ^ A##41 ^ A##42 ^ A##43 ^ A##44;                     \
		d0 = c4 ^ ROL64(c1, 1);                                         \
		d1 = c0 ^ ROL64(c2, 1);                                         \
		d2 = c1 ^ ROL64(c3, 1);                                         \
		d3 = c2 ^ ROL64(c4, 1);                                         \
		d4 = c3 ^ ROL64(c0, 1);                                         \
		b0 = A##00 ^ d0;                                                \
		b1 = ROL64(A##11 ^ d1, 44);                                     \
		b2 = ROL64(A##22 ^ d2, 43);                                     \
		b3 = ROL64(A##33 ^ d3, 21);                                     \
		b4 = ROL64(A##44 ^ d4, 14);                                     \
		nb = ~b2;                                                       \
		E##00 = b0 ^ (b1 | b2) ^ (rc);                                  \
		E##10 = b1 ^ (nb | b3);                                         \
		E##20 = b2 ^ (b3 & b4);                                         \
		E##30 = b3 ^ (b4 | b0);                                         \
		E##40 = b4 ^ (b0 & b1);                                         \
		b0 = ROL64(A##30 ^ d3, 28);                                     \
		b1 = ROL64(A##41 ^ d4, 20);                                     \
		b2 = ROL64(A##02 ^ d0, 3);                                      \
		b3 = ROL64(A##13 ^ d1, 45);                                     \
		b4 = ROL64(A##24 ^ d2, 61);                                     \
		nb = ~b4;                                                       \
		E##01 = b0 ^ (b1 | b2);                                         \
		E##11 = b1 ^ (b2 & b3);                                         \
		E##21 = b2 ^ (b3 | nb);                                         \
		E##31 = b3 ^ (b4 | b0);                                         \
		E##41 = b4 ^ (b0 & b1);                                         \
		b0 = ROL64(A##10 ^ d1, 1);                                      \
		b1 = ROL64(A##21 ^ d2, 6);                                      \
		b2 = ROL64(A##32 ^ d3, 25);                                     \
		b3 = ROL64(A##43 ^ d4, 8);                                      \
		b4 = ROL64(A##04 ^ d0, 18);                                     \
		nb = ~b3;                                                       \
		E##02 = b0 ^ (b1 | b2);                                         \
		E##12 = b1 ^ (b2 & b3);                                         \
		E##22 = b2 ^ (nb & b4);                                         \
		E##32 = nb ^ (b4 | b0);                                         \
		E##42 = b4 ^ (b0 & b1);                                         \
		b0 = ROL64(A##40 ^ d4, 27);                                     \
		b1 = ROL64(A##01 ^ d0, 36);                                     \
		b2 = ROL64(A##12 ^ d1, 10);                                     \
		b3 = ROL64(A##23 ^ d2, 15);                                     \
		b4 = ROL64(A##34 ^ d3, 56);                                     \
		nb = ~b3;                                                       \
		E##03 = b0 ^ (b1 & b2);                                         \
		E##13 = b1 ^ (b2 | b3);                                         \
		E##23 = b2 ^ (nb | b4);                                         \
		E##33 = nb ^ (b4 & b0);                                         \
		E##43 = b4 ^ (b0 | b1);                                         \
		b0 = ROL64(A##20 ^ d2, 62);                                     \
		b1 = ROL64(A##31 ^ d3, 55);                                     \
		b2 = ROL64(A##42 ^ d4, 39);                                     \
		b3 = ROL64(A##03 ^ d0, 41);                                     \
		b4 = ROL64(A##14 ^ d1, 2);                                      \
		nb = ~b1;                                                       \
		E##04 = b0 ^ (nb & b2);                                         \
		E##14 = nb ^ (b2 | b3);                                         \
		E##24 = b2 ^ (b3 & b4);                                         \
		E##34 = b3 ^ (b4 | b0);                                         \
		E##44 = b4 ^ (b0 & b1);                                         \
	} while (0)

void um_keccak_f1600(uint64_t state[25])
{
	/* Lane complementing: the lanes at (1,0), (2,0), (3,1), (2,2), (2,3)
	 * and (0,4) are kept inverted while in registers. Inverting them
	 * turns most of chi's ~x & y into plain AND / OR with no NOT, and
	 * the set stays the same from round to round. Two rounds per
	 * iteration ping-pong between the a and e lanes, so no copies. */
	uint64_t a00, a10, a20, a30, a40, a01, a11, a21, a31, a41, a02, a12, a22;
	uint64_t a32, a42, a03, a13, a23, a33, a43, a04, a14, a24, a34, a44;
	uint64_t e00, e10, e20, e30, e40, e01, e11, e21, e31, e41, e02, e12, e22;
	uint64_t e32, e42, e03, e13, e23, e33, e43, e04, e14, e24, e34, e44;
	uint64_t b0, b1, b2, b3, b4, nb, c0, c1, c2, c3, c4, d0, d1, d2, d3, d4;

	a00 = state[0];
	a10 = ~state[1];
	a20 = ~state[2];
	a30 = state[3];
	a40 = state[4];
	a01 = state[5];
	a11 = state[6];
	a21 = state[7];
	a31 = ~state[8];
	a41 = state[9];
	a02 = state[10];
	a12 = state[11];
	a22 = ~state[12];
	a32 = state[13];
	a42 = state[14];
	a03 = state[15];
	a13 = state[16];
	a23 = ~state[17];
	a33 = state[18];
	a43 = state[19];
	a04 = ~state[20];
	a14 = state[21];
	a24 = state[22];
	a34 = state[23];
	a44 = state[24];

	for (unsigned round = 0; round < 24; round += 2) {
		KECCAK_ROUND(a, e, um_keccak_round_constants[round]);
		KECCAK_ROUND(e, a, um_keccak_round_constants[round + 1]);
	}

	state[0] = a00;
	state[1] = ~a10;
	state[2] = ~a20;
	state[3] = a30;
	state[4] = a40;
	state[5] = a01;
	state[6] = a11;
	state[7] = a21;
	state[8] = ~a31;
	state[9] = a41;
	state[10] = a02;
	state[11] = a12;
	state[12] = ~a22;
	state[13] = a32;
	state[14] = a42;
	state[15] = a03;
	state[16] = a13;
	state[17] = ~a23;
	state[18] = a33;
	state[19] = a43;
	state[20] = ~a04;
	state[21] = a14;
	state[22] = a24;
	state[23] = a34;
	state[24] = a44;
}
#undef KECCAK_ROUND

static void keccak_init(struct um_keccak *ctx, unsigned rate, uint8_t suffix)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->rate = rate;
	ctx->suffix = suffix;
}

void um_sha3_256_init(struct um_keccak *ctx)
{
	keccak_init(ctx, UM_SHA3_256_RATE, 0x06);
}

void um_sha3_512_init(struct um_keccak *ctx)
{
	keccak_init(ctx, UM_SHA3_512_RATE, 0x06);
}

void um_shake128_init(struct um_keccak *ctx)
{
	keccak_init(ctx, UM_SHAKE128_RATE, 0x1f);
}

void um_shake256_init(struct um_keccak *ctx)
{
	keccak_init(ctx, UM_SHAKE256_RATE, 0x1f);
}

/* XOR one byte into the state at byte offset pos (< rate). */
static void keccak_xor_byte(struct um_keccak *ctx, unsigned pos, uint8_t byte)
{
	ctx->state[pos / 8] ^= (uint64_t)byte << (8 * (pos % 8));
}

void um_keccak_absorb(struct um_keccak *ctx, const uint8_t *in, size_t len)
{
	unsigned rate = ctx->rate;

	/* Whole lanes whenever pos is lane aligned (every rate is a multiple of
	 * 8, so that includes inputs that continue an earlier 32-byte piece),
	 * single bytes otherwise. */
	while (len > 0) {
		if (ctx->pos % 8 == 0 && len >= 8) {
			unsigned lanes = (rate - ctx->pos) / 8;

			if (lanes > len / 8)
				lanes = (unsigned)(len / 8);
			for (unsigned i = 0; i < lanes; i++)
				ctx->state[ctx->pos / 8 + i] ^= um_load64_le(in + 8 * i);
			in += 8 * lanes;
			len -= 8 * lanes;
			ctx->pos += 8 * lanes;
		} else {
			keccak_xor_byte(ctx, ctx->pos++, *in++);
			len--;
		}
		if (ctx->pos == rate) {
			um_keccak_f1600(ctx->state);
			ctx->pos = 0;
		}
	}
}

void um_keccak_squeeze(struct um_keccak *ctx, uint8_t *out, size_t len)
{
	unsigned rate = ctx->rate;

	if (!ctx->squeezing) {
		/* pad10*1 with the domain suffix; pos < rate always holds here. */
		keccak_xor_byte(ctx, ctx->pos, ctx->suffix);
		keccak_xor_byte(ctx, rate - 1, 0x80);
		um_keccak_f1600(ctx->state);
		ctx->squeezing = 1;
		ctx->pos = 0;
	}
	/* While squeezing, pos counts the bytes of the current block already output. */
	while (len > 0) {
		if (ctx->pos == rate) {
			um_keccak_f1600(ctx->state);
			ctx->pos = 0;
		}
		if (ctx->pos % 8 == 0 && len >= 8) {
			unsigned lanes = (rate - ctx->pos) / 8;

			if (lanes > len / 8)
				lanes = (unsigned)(len / 8);
			for (unsigned i = 0; i < lanes; i++)
				um_store64_le(out + 8 * i, ctx->state[ctx->pos / 8 + i]);
			out += 8 * lanes;
			len -= 8 * lanes;
			ctx->pos += 8 * lanes;
			continue;
		}
		*out++ = (uint8_t)(ctx->state[ctx->pos / 8] >> (8 * (ctx->pos % 8)));
		ctx->pos++;
		len--;
	}
}

void um_keccak_wipe(struct um_keccak *ctx)
{
	sodium_memzero(ctx, sizeof(*ctx));
}

static void keccak_oneshot(struct um_keccak *ctx, uint8_t *out, size_t outlen, const uint8_t *in,
			   size_t len)
{
	um_keccak_absorb(ctx, in, len);
	um_keccak_squeeze(ctx, out, outlen);
	um_keccak_wipe(ctx);
}

void um_sha3_256(uint8_t out[UM_SHA3_256_BYTES], const uint8_t *in, size_t len)
{
	struct um_keccak ctx;

	um_sha3_256_init(&ctx);
	keccak_oneshot(&ctx, out, UM_SHA3_256_BYTES, in, len);
}

void um_sha3_512(uint8_t out[UM_SHA3_512_BYTES], const uint8_t *in, size_t len)
{
	struct um_keccak ctx;

	um_sha3_512_init(&ctx);
	keccak_oneshot(&ctx, out, UM_SHA3_512_BYTES, in, len);
}

void um_shake128(uint8_t *out, size_t outlen, const uint8_t *in, size_t len)
{
	struct um_keccak ctx;

	um_shake128_init(&ctx);
	keccak_oneshot(&ctx, out, outlen, in, len);
}

void um_shake256(uint8_t *out, size_t outlen, const uint8_t *in, size_t len)
{
	struct um_keccak ctx;

	um_shake256_init(&ctx);
	keccak_oneshot(&ctx, out, outlen, in, len);
}
