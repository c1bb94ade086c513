/* SPDX-License-Identifier: MIT */
/* FIPS 202: Keccak-f[1600], SHA3-256, SHA3-512, SHAKE128, SHAKE256.
 * Incremental: init, absorb any number of times, then squeeze any number of
 * times (the first squeeze pads and permutes). Absorbing after squeezing is
 * a programming error. The context holds no pointers; zero it with
 * um_keccak_wipe() when it absorbed secrets. */
#ifndef UM_CRYPTO_SHA3_H
#define UM_CRYPTO_SHA3_H

#include <stddef.h>
#include <stdint.h>

enum {
	UM_SHA3_256_BYTES = 32,
	UM_SHA3_512_BYTES = 64,
	UM_SHAKE128_RATE = 168,
	UM_SHAKE256_RATE = 136,
	UM_SHA3_256_RATE = 136,
	UM_SHA3_512_RATE = 72,
};

struct um_keccak {
	uint64_t state[25];
	unsigned rate;     /* bytes */
	unsigned pos;      /* byte offset in the current block */
	uint8_t suffix;    /* domain bits: 0x06 SHA3, 0x1f SHAKE */
	uint8_t squeezing; /* 0 while absorbing */
};

/* The 24 round constants of Keccak-f[1600] (FIPS 202, 3.2.5), shared with
 * the 4-way code in keccak4x.c. */
extern const uint64_t um_keccak_round_constants[24];

void um_keccak_f1600(uint64_t state[25]);
/* Keccak-f[1600] on states first and first + 1 (first is 0 or 2) of the
 * 4-way layout of keccak4x.h, lane i of state j at state[i][j]; same
 * results as two um_keccak_f1600 calls, faster (portable C, used by the
 * 4-way code in keccak4x.c when AVX2 is not available). */
void um_keccak_f1600_x2(uint64_t state[25][4], unsigned first);

void um_sha3_256_init(struct um_keccak *ctx);
void um_sha3_512_init(struct um_keccak *ctx);
void um_shake128_init(struct um_keccak *ctx);
void um_shake256_init(struct um_keccak *ctx);
void um_keccak_absorb(struct um_keccak *ctx, const uint8_t *in, size_t len);
void um_keccak_squeeze(struct um_keccak *ctx, uint8_t *out, size_t len);
void um_keccak_wipe(struct um_keccak *ctx);

/* One-shot helpers. */
void um_sha3_256(uint8_t out[UM_SHA3_256_BYTES], const uint8_t *in, size_t len);
void um_sha3_512(uint8_t out[UM_SHA3_512_BYTES], const uint8_t *in, size_t len);
void um_shake128(uint8_t *out, size_t outlen, const uint8_t *in, size_t len);
void um_shake256(uint8_t *out, size_t outlen, const uint8_t *in, size_t len);

#endif
