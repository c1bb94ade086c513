/* SPDX-License-Identifier: MIT */
/* FIPS 202 Keccak-f[1600] and the SHA-3 / SHAKE sponge. Lanes are little
 * endian 64-bit words; lane (x, y) lives at state[x + 5y]. The permutation
 * is unrolled into locals (no table lookups, no data-dependent branches). */
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

void um_keccak_f1600(uint64_t state[25])
{
	uint64_t a00, a10, a20, a30, a40, a01, a11, a21, a31, a41, a02, a12, a22;
	uint64_t a32, a42, a03, a13, a23, a33, a43, a04, a14, a24, a34, a44;
	uint64_t b00, b10, b20, b30, b40, b01, b11, b21, b31, b41, b02, b12, b22;
	uint64_t b32, b42, b03, b13, b23, b33, b43, b04, b14, b24, b34, b44;
	uint64_t c0, c1, c2, c3, c4, d0, d1, d2, d3, d4;

	a00 = state[0];
	a10 = state[1];
	a20 = state[2];
	a30 = state[3];
	a40 = state[4];
	a01 = state[5];
	a11 = state[6];
	a21 = state[7];
	a31 = state[8];
	a41 = state[9];
	a02 = state[10];
	a12 = state[11];
	a22 = state[12];
	a32 = state[13];
	a42 = state[14];
	a03 = state[15];
	a13 = state[16];
	a23 = state[17];
	a33 = state[18];
	a43 = state[19];
	a04 = state[20];
	a14 = state[21];
	a24 = state[22];
	a34 = state[23];
	a44 = state[24];

	for (unsigned round = 0; round < 24; round++) {
		c0 = a00 ^ a01 ^ a02 ^ a03 ^ a04;
		c1 = a10 ^ a11 ^ a12 ^ a13 ^ a14;
		c2 = a20 ^ a21 ^ a22 ^ a23 ^ a24;
		c3 = a30 ^ a31 ^ a32 ^ a33 ^ a34;
		c4 = a40 ^ a41 ^ a42 ^ a43 ^ a44;
		d0 = c4 ^ ROL64(c1, 1);
		d1 = c0 ^ ROL64(c2, 1);
		d2 = c1 ^ ROL64(c3, 1);
		d3 = c2 ^ ROL64(c4, 1);
		d4 = c3 ^ ROL64(c0, 1);
		b00 = a00 ^ d0;
		b13 = ROL64(a01 ^ d0, 36);
		b21 = ROL64(a02 ^ d0, 3);
		b34 = ROL64(a03 ^ d0, 41);
		b42 = ROL64(a04 ^ d0, 18);
		b02 = ROL64(a10 ^ d1, 1);
		b10 = ROL64(a11 ^ d1, 44);
		b23 = ROL64(a12 ^ d1, 10);
		b31 = ROL64(a13 ^ d1, 45);
		b44 = ROL64(a14 ^ d1, 2);
		b04 = ROL64(a20 ^ d2, 62);
		b12 = ROL64(a21 ^ d2, 6);
		b20 = ROL64(a22 ^ d2, 43);
		b33 = ROL64(a23 ^ d2, 15);
		b41 = ROL64(a24 ^ d2, 61);
		b01 = ROL64(a30 ^ d3, 28);
		b14 = ROL64(a31 ^ d3, 55);
		b22 = ROL64(a32 ^ d3, 25);
		b30 = ROL64(a33 ^ d3, 21);
		b43 = ROL64(a34 ^ d3, 56);
		b03 = ROL64(a40 ^ d4, 27);
		b11 = ROL64(a41 ^ d4, 20);
		b24 = ROL64(a42 ^ d4, 39);
		b32 = ROL64(a43 ^ d4, 8);
		b40 = ROL64(a44 ^ d4, 14);
		a00 = b00 ^ (~b10 & b20);
		a10 = b10 ^ (~b20 & b30);
		a20 = b20 ^ (~b30 & b40);
		a30 = b30 ^ (~b40 & b00);
		a40 = b40 ^ (~b00 & b10);
		a01 = b01 ^ (~b11 & b21);
		a11 = b11 ^ (~b21 & b31);
		a21 = b21 ^ (~b31 & b41);
		a31 = b31 ^ (~b41 & b01);
		a41 = b41 ^ (~b01 & b11);
		a02 = b02 ^ (~b12 & b22);
		a12 = b12 ^ (~b22 & b32);
		a22 = b22 ^ (~b32 & b42);
		a32 = b32 ^ (~b42 & b02);
		a42 = b42 ^ (~b02 & b12);
		a03 = b03 ^ (~b13 & b23);
		a13 = b13 ^ (~b23 & b33);
		a23 = b23 ^ (~b33 & b43);
		a33 = b33 ^ (~b43 & b03);
		a43 = b43 ^ (~b03 & b13);
		a04 = b04 ^ (~b14 & b24);
		a14 = b14 ^ (~b24 & b34);
		a24 = b24 ^ (~b34 & b44);
		a34 = b34 ^ (~b44 & b04);
		a44 = b44 ^ (~b04 & b14);
		a00 ^= um_keccak_round_constants[round];
	}

	state[0] = a00;
	state[1] = a10;
	state[2] = a20;
	state[3] = a30;
	state[4] = a40;
	state[5] = a01;
	state[6] = a11;
	state[7] = a21;
	state[8] = a31;
	state[9] = a41;
	state[10] = a02;
	state[11] = a12;
	state[12] = a22;
	state[13] = a32;
	state[14] = a42;
	state[15] = a03;
	state[16] = a13;
	state[17] = a23;
	state[18] = a33;
	state[19] = a43;
	state[20] = a04;
	state[21] = a14;
	state[22] = a24;
	state[23] = a34;
	state[24] = a44;
}


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

	/* Finish a partial block byte by byte. */
	while (len > 0 && ctx->pos != 0) {
		keccak_xor_byte(ctx, ctx->pos, *in++);
		len--;
		if (++ctx->pos == rate) {
			um_keccak_f1600(ctx->state);
			ctx->pos = 0;
		}
	}
	/* Whole blocks a lane at a time (every rate is a multiple of 8). */
	while (len >= rate) {
		for (unsigned i = 0; i < rate / 8; i++)
			ctx->state[i] ^= um_load64_le(in + 8 * i);
		um_keccak_f1600(ctx->state);
		in += rate;
		len -= rate;
	}
	while (len > 0) {
		keccak_xor_byte(ctx, ctx->pos++, *in++);
		len--;
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
