/* SPDX-License-Identifier: MIT */
/* FIPS 204 encodings: SimpleBitPack / BitPack (Alg. 16-19) through one
 * bit-stream packer, and HintBitPack / HintBitUnpack (Alg. 20-21). The
 * packers branch only on bit counts, never on coefficient values, so they
 * are safe for s1, s2, t0. */
#include <string.h>

#include "crypto/mldsa_internal.h"
#include "util/error.h"

/* The bit-stream loops, always inlined so that the public functions below
 * can instantiate them for each constant width FIPS 204 uses. Eight values
 * fill exactly `bits` bytes, so with bits constant the per-group loops
 * have fixed shapes and unroll into plain shifts (the generic loop cost a
 * few percent of signing). */
static inline __attribute__((always_inline)) void pack_bits(uint8_t *out, const struct um_mldsa_poly *p, unsigned bits,
							    int32_t offset, int negate)
{
	uint32_t mask = (1u << bits) - 1;

	for (unsigned group = 0; group < UM_MLDSA_N / 8; group++) {
		uint64_t acc = 0;
		unsigned filled = 0;

		for (unsigned k = 0; k < 8; k++) {
			int32_t c = p->coeffs[8 * group + k];
			uint32_t v = (uint32_t)(negate ? offset - c : c) & mask;

			acc |= (uint64_t)v << filled;
			filled += bits;
			while (filled >= 8) {
				*out++ = (uint8_t)acc;
				acc >>= 8;
				filled -= 8;
			}
		}
	}
}

static inline __attribute__((always_inline)) void unpack_bits(struct um_mldsa_poly *p, const uint8_t *in, unsigned bits,
							      int32_t offset, int negate)
{
	uint32_t mask = (1u << bits) - 1;

	for (unsigned group = 0; group < UM_MLDSA_N / 8; group++) {
		uint64_t acc = 0;
		unsigned filled = 0;

		for (unsigned k = 0; k < 8; k++) {
			while (filled < bits) {
				acc |= (uint64_t)*in++ << filled;
				filled += 8;
			}
			int32_t v = (int32_t)(acc & mask);
			acc >>= bits;
			filled -= bits;
			p->coeffs[8 * group + k] = negate ? offset - v : v;
		}
	}
}

void um_mldsa_pack(uint8_t *out, const struct um_mldsa_poly *p, unsigned bits, int32_t offset, int negate)
{
	if (bits == 4 && !negate)
		pack_bits(out, p, 4, 0, 0); /* w1 */
	else if (bits == 20 && negate)
		pack_bits(out, p, 20, offset, 1); /* z */
	else
		pack_bits(out, p, bits, offset, negate);
}

void um_mldsa_unpack(struct um_mldsa_poly *p, const uint8_t *in, unsigned bits, int32_t offset, int negate)
{
	if (bits == 20 && negate)
		unpack_bits(p, in, 20, offset, 1); /* y and z */
	else if (bits == UM_MLDSA_D && negate)
		unpack_bits(p, in, UM_MLDSA_D, offset, 1); /* t0 */
	else if (bits == 10 && !negate)
		unpack_bits(p, in, 10, 0, 0); /* t1 */
	else
		unpack_bits(p, in, bits, offset, negate);
}

void um_mldsa_hint_pack(uint8_t out[UM_MLDSA_HINT_BYTES], const struct um_mldsa_poly h[UM_MLDSA_K])
{
	unsigned index = 0;

	memset(out, 0, UM_MLDSA_HINT_BYTES);
	for (unsigned i = 0; i < UM_MLDSA_K; i++) {
		for (unsigned j = 0; j < UM_MLDSA_N; j++) {
			/* The caller guarantees at most omega ones; the bound
			 * check keeps a bug from writing past the buffer. */
			if (h[i].coeffs[j] != 0 && index < UM_MLDSA_OMEGA)
				out[index++] = (uint8_t)j;
		}
		out[UM_MLDSA_OMEGA + i] = (uint8_t)index;
	}
}

int um_mldsa_hint_unpack(struct um_mldsa_poly h[UM_MLDSA_K], const uint8_t in[UM_MLDSA_HINT_BYTES])
{
	unsigned index = 0;

	memset(h, 0, sizeof(struct um_mldsa_poly) * UM_MLDSA_K);
	for (unsigned i = 0; i < UM_MLDSA_K; i++) {
		unsigned end = in[UM_MLDSA_OMEGA + i];
		if (end < index || end > UM_MLDSA_OMEGA)
			return -UM_EBADMSG;
		for (unsigned first = index; index < end; index++) {
			/* Strictly increasing positions make the encoding unique
			 * (strong unforgeability). */
			if (index > first && in[index - 1] >= in[index])
				return -UM_EBADMSG;
			h[i].coeffs[in[index]] = 1;
		}
	}
	for (; index < UM_MLDSA_OMEGA; index++)
		if (in[index] != 0)
			return -UM_EBADMSG;
	return 0;
}
