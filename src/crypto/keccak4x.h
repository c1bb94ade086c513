/* SPDX-License-Identifier: MIT */
/* Four independent Keccak-f[1600] states side by side, for the places where
 * ML-KEM and ML-DSA sample several independent SHAKE streams (matrix A,
 * secret and noise vectors, the signing mask). With AVX2 (chosen at run
 * time, see crypto/cpu.h) one permutation call advances all four states in
 * one pass; otherwise two portable 2-way permutations (um_keccak_f1600_x2)
 * do, which still beats four scalar ones (ML-DSA's secret samplers run
 * scalar streams on that path anyway).
 * Outputs are bit-identical to four separate um_shake128/256 runs.
 *
 * Lane i of state j lives at state[i][j] (lane-interleaved, so that one AVX2
 * register holds the same lane of all four). The context holds no pointers;
 * wipe it with um_keccak4x_wipe() when it absorbed secrets. */
#ifndef UM_CRYPTO_KECCAK4X_H
#define UM_CRYPTO_KECCAK4X_H

#include <stddef.h>
#include <stdint.h>

struct um_keccak4x {
	_Alignas(32) uint64_t state[25][4];
	unsigned rate; /* bytes */
	unsigned pos;  /* bytes of the current block already squeezed */
};

/* Keccak-f[1600] on all four states (any alignment; 32 bytes is fastest).
 * Branch-free on the state contents. */
void um_keccak4x_f1600(uint64_t state[25][4]);

/* Resets ctx for SHAKE128 / SHAKE256, absorbs the four len-byte inputs
 * in[0..3] (equal lengths, any len) and pads. Then squeeze. */
void um_shake128x4_absorb_once(struct um_keccak4x *ctx, const uint8_t *const in[4], size_t len);
void um_shake256x4_absorb_once(struct um_keccak4x *ctx, const uint8_t *const in[4], size_t len);

/* Writes the next len bytes of each of the four streams to out[0..3]; may
 * be called any number of times, like um_keccak_squeeze. */
void um_keccak4x_squeeze(struct um_keccak4x *ctx, uint8_t *const out[4], size_t len);

void um_keccak4x_wipe(struct um_keccak4x *ctx);

#endif
