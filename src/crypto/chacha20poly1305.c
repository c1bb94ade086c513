/* SPDX-License-Identifier: MIT */
/* ChaCha20 and Poly1305 as specified in RFC 8439, sections 2.3-2.8.
 * Poly1305 keeps the accumulator in three limbs of 44, 44 and 42 bits so
 * that each block costs nine 64x64->128 multiplies and no carries leave a
 * 64-bit word between blocks. */
#include "crypto/chacha20poly1305.h"
#include "util/compiler.h"

#include <sodium.h>
#include <string.h>

#include "crypto/ct.h"
#include "util/bytes.h"
#include "util/error.h"

/* Wipe a stack secret. A plain memset that the barrier keeps the compiler
 * from removing; unlike sodium_memzero it inlines to a few stores, which
 * matters at a few blocks per call. */
static inline void wipe(void *p, size_t n)
{
	memset(p, 0, n);
	__asm__ __volatile__("" : : "r"(p) : "memory");
}

/* ---- ChaCha20 ---- */

#define ROTL32(v, n) (((v) << (n)) | ((v) >> (32 - (n))))
#define QUARTER(a, b, c, d)                                                                                            \
	do {                                                                                                           \
		a += b;                                                                                                \
		d ^= a;                                                                                                \
		d = ROTL32(d, 16);                                                                                     \
		c += d;                                                                                                \
		b ^= c;                                                                                                \
		b = ROTL32(b, 12);                                                                                     \
		a += b;                                                                                                \
		d ^= a;                                                                                                \
		d = ROTL32(d, 8);                                                                                      \
		c += d;                                                                                                \
		b ^= c;                                                                                                \
		b = ROTL32(b, 7);                                                                                      \
	} while (0)

/* state: constants, key, block counter (word 12), nonce. */
UM_HOT static void chacha20_init(uint32_t state[16], const uint8_t key[32], const uint8_t nonce[12], uint32_t counter)
{
	state[0] = 0x61707865; /* "expand 32-byte k" */
	state[1] = 0x3320646e;
	state[2] = 0x79622d32;
	state[3] = 0x6b206574;
	for (int i = 0; i < 8; i++)
		state[4 + i] = um_load32_le(key + 4 * i);
	state[12] = counter;
	for (int i = 0; i < 3; i++)
		state[13 + i] = um_load32_le(nonce + 4 * i);
}

UM_HOT static void chacha20_block(const uint32_t state[16], uint8_t out[64])
{
	uint32_t x[16];
	memcpy(x, state, sizeof(x));
	for (int round = 0; round < 10; round++) {
		QUARTER(x[0], x[4], x[8], x[12]);
		QUARTER(x[1], x[5], x[9], x[13]);
		QUARTER(x[2], x[6], x[10], x[14]);
		QUARTER(x[3], x[7], x[11], x[15]);
		QUARTER(x[0], x[5], x[10], x[15]);
		QUARTER(x[1], x[6], x[11], x[12]);
		QUARTER(x[2], x[7], x[8], x[13]);
		QUARTER(x[3], x[4], x[9], x[14]);
	}
	for (int i = 0; i < 16; i++)
		um_store32_le(out + 4 * i, x[i] + state[i]);
	wipe(x, sizeof(x));
}

/* XOR the keystream from state's counter on; advances the counter. */
UM_HOT static void chacha20_stream(uint32_t state[16], const uint8_t *in, uint8_t *out, size_t len)
{
	uint8_t block[64];
	while (len > 0) {
		size_t n = len < 64 ? len : 64;
		chacha20_block(state, block);
		state[12]++;
		size_t i = 0;
		for (; i + 8 <= n; i += 8)
			um_store64_le(out + i, um_load64_le(in + i) ^ um_load64_le(block + i));
		for (; i < n; i++)
			out[i] = in[i] ^ block[i];
		in += n;
		out += n;
		len -= n;
	}
	wipe(block, sizeof(block));
}

void um_chacha20_xor(const uint8_t key[32], const uint8_t nonce[12], uint32_t counter, const uint8_t *in, uint8_t *out,
		     size_t len)
{
	uint32_t state[16];
	chacha20_init(state, key, nonce, counter);
	chacha20_stream(state, in, out, len);
	wipe(state, sizeof(state));
}

/* ---- Poly1305 ---- */

#define MASK44 0xfffffffffffull
#define MASK42 0x3ffffffffffull

typedef unsigned __int128 u128;

struct poly1305 {
	uint64_t r[3], s[2]; /* r limbs; s = r1 * 20, r2 * 20 (2^132 = 20 mod p) */
	uint64_t h[3];
	uint8_t pad[16];
};

UM_HOT static void poly1305_init(struct poly1305 *p, const uint8_t key[32])
{
	uint64_t t0 = um_load64_le(key), t1 = um_load64_le(key + 8);
	/* r with the clamping of RFC 8439 2.5 folded into the limb masks. */
	p->r[0] = t0 & 0xffc0fffffffull;
	p->r[1] = ((t0 >> 44) | (t1 << 20)) & 0xfffffc0ffffull;
	p->r[2] = (t1 >> 24) & 0x00ffffffc0full;
	p->s[0] = p->r[1] * 20;
	p->s[1] = p->r[2] * 20;
	p->h[0] = p->h[1] = p->h[2] = 0;
	memcpy(p->pad, key + 16, 16);
}

/* h = (h + block + hibit * 2^128) * r for each 16-byte block. */
UM_HOT static void poly1305_blocks(struct poly1305 *p, const uint8_t *m, size_t blocks, uint64_t hibit)
{
	uint64_t r0 = p->r[0], r1 = p->r[1], r2 = p->r[2], s1 = p->s[0], s2 = p->s[1];
	uint64_t h0 = p->h[0], h1 = p->h[1], h2 = p->h[2];
	for (; blocks > 0; blocks--, m += 16) {
		uint64_t t0 = um_load64_le(m), t1 = um_load64_le(m + 8);
		h0 += t0 & MASK44;
		h1 += ((t0 >> 44) | (t1 << 20)) & MASK44;
		h2 += ((t1 >> 24) & MASK42) | (hibit << 40);
		u128 d0 = (u128)h0 * r0 + (u128)h1 * s2 + (u128)h2 * s1;
		u128 d1 = (u128)h0 * r1 + (u128)h1 * r0 + (u128)h2 * s2;
		u128 d2 = (u128)h0 * r2 + (u128)h1 * r1 + (u128)h2 * r0;
		uint64_t c = (uint64_t)(d0 >> 44);
		h0 = (uint64_t)d0 & MASK44;
		d1 += c;
		c = (uint64_t)(d1 >> 44);
		h1 = (uint64_t)d1 & MASK44;
		d2 += c;
		c = (uint64_t)(d2 >> 42);
		h2 = (uint64_t)d2 & MASK42;
		h0 += c * 5;
		c = h0 >> 44;
		h0 &= MASK44;
		h1 += c;
	}
	p->h[0] = h0;
	p->h[1] = h1;
	p->h[2] = h2;
}

/* Message bytes zero-padded to a block boundary (the AEAD's pad16). */
UM_HOT static void poly1305_padded(struct poly1305 *p, const uint8_t *m, size_t len)
{
	size_t full = len / 16;
	poly1305_blocks(p, m, full, 1);
	if (len % 16) {
		uint8_t last[16] = {0};
		memcpy(last, m + full * 16, len % 16);
		poly1305_blocks(p, last, 1, 1);
	}
}

/* tag = (h mod p) + s mod 2^128; wipes the state. */
UM_HOT static void poly1305_finish(struct poly1305 *p, uint8_t tag[16])
{
	uint64_t h0 = p->h[0], h1 = p->h[1], h2 = p->h[2], c;
	/* Two carry passes leave h fully reduced into its limbs, h < 2^130 + small. */
	for (int pass = 0; pass < 2; pass++) {
		c = h1 >> 44;
		h1 &= MASK44;
		h2 += c;
		c = h2 >> 42;
		h2 &= MASK42;
		h0 += c * 5;
		c = h0 >> 44;
		h0 &= MASK44;
		h1 += c;
	}
	/* g = h + 5 - 2^130; take g when it did not borrow (h >= p). */
	uint64_t g0 = h0 + 5;
	c = g0 >> 44;
	g0 &= MASK44;
	uint64_t g1 = h1 + c;
	c = g1 >> 44;
	g1 &= MASK44;
	uint64_t g2 = h2 + c - (1ull << 42);
	uint64_t take_g = (g2 >> 63) - 1; /* all ones when no borrow */
	h0 = (h0 & ~take_g) | (g0 & take_g);
	h1 = (h1 & ~take_g) | (g1 & take_g);
	h2 = (h2 & ~take_g) | (g2 & take_g);
	uint64_t t0 = um_load64_le(p->pad), t1 = um_load64_le(p->pad + 8);
	h0 += t0 & MASK44;
	c = h0 >> 44;
	h0 &= MASK44;
	h1 += (((t0 >> 44) | (t1 << 20)) & MASK44) + c;
	c = h1 >> 44;
	h1 &= MASK44;
	h2 += ((t1 >> 24) & MASK42) + c;
	um_store64_le(tag, h0 | (h1 << 44));
	um_store64_le(tag + 8, (h1 >> 20) | (h2 << 24));
	wipe(p, sizeof(*p));
}

void um_poly1305(const uint8_t key[32], const uint8_t *msg, size_t len, uint8_t tag[16])
{
	struct poly1305 p;
	poly1305_init(&p, key);
	size_t full = len / 16;
	poly1305_blocks(&p, msg, full, 1);
	if (len % 16) {
		/* A short final block gets a 0x01 byte appended instead of 2^128. */
		uint8_t last[16] = {0};
		memcpy(last, msg + full * 16, len % 16);
		last[len % 16] = 1;
		poly1305_blocks(&p, last, 1, 0);
	}
	poly1305_finish(&p, tag);
}

/* ---- AEAD (RFC 8439 2.8) ---- */

/* Poly1305 over pad16(ad) | pad16(ct) | le64(ad_len) | le64(ct_len), with
 * the one-time key from block 0 of state; leaves state at block 1. */
UM_HOT static void aead_tag(uint32_t state[16], const uint8_t *ad, size_t ad_len, const uint8_t *ct, size_t len,
			    uint8_t tag[16])
{
	uint8_t block0[64], lengths[16];
	struct poly1305 p;
	chacha20_block(state, block0);
	state[12]++;
	poly1305_init(&p, block0);
	wipe(block0, sizeof(block0));
	poly1305_padded(&p, ad, ad_len);
	poly1305_padded(&p, ct, len);
	um_store64_le(lengths, ad_len);
	um_store64_le(lengths + 8, len);
	poly1305_blocks(&p, lengths, 1, 1);
	poly1305_finish(&p, tag);
}

UM_HOT void um_chacha20poly1305_seal(const uint8_t key[32], const uint8_t nonce[12], const uint8_t *ad, size_t ad_len,
				     uint8_t *buf, size_t len, uint8_t tag[16])
{
	uint32_t state[16];
	chacha20_init(state, key, nonce, 1);
	chacha20_stream(state, buf, buf, len);
	state[12] = 0;
	aead_tag(state, ad, ad_len, buf, len, tag);
	wipe(state, sizeof(state));
}

UM_HOT int um_chacha20poly1305_open(const uint8_t key[32], const uint8_t nonce[12], const uint8_t *ad, size_t ad_len,
				    uint8_t *buf, size_t len, const uint8_t tag[16])
{
	uint32_t state[16];
	uint8_t expect[16];
	int rc = -UM_EBADMSG;
	chacha20_init(state, key, nonce, 0);
	aead_tag(state, ad, ad_len, buf, len, expect);
	int verdict = crypto_verify_16(expect, tag);
	UM_CT_DECLASSIFY(&verdict, sizeof(verdict)); /* accept/reject is public */
	if (verdict != 0)
		goto out;
	chacha20_stream(state, buf, buf, len);
	rc = 0;
out:
	wipe(state, sizeof(state));
	wipe(expect, sizeof(expect));
	return rc;
}
