/* SPDX-License-Identifier: MIT */
/* FIPS 204 encodings: SimpleBitPack / BitPack (Alg. 16-19) through one
 * bit-stream packer, and HintBitPack / HintBitUnpack (Alg. 20-21). The
 * packers branch only on bit counts, never on coefficient values, so they
 * are safe for s1, s2, t0. */
#include <string.h>

#include "crypto/mldsa_internal.h"
#include "util/error.h"

void um_mldsa_pack(uint8_t *out, const struct um_mldsa_poly *p, unsigned bits, int32_t offset, int negate)
{
	uint64_t acc = 0;
	unsigned filled = 0;
	uint32_t mask = (1u << bits) - 1;

	for (unsigned i = 0; i < UM_MLDSA_N; i++) {
		uint32_t v = (uint32_t)(negate ? offset - p->coeffs[i] : p->coeffs[i]) & mask;
		acc |= (uint64_t)v << filled;
		filled += bits;
		while (filled >= 8) {
			*out++ = (uint8_t)acc;
			acc >>= 8;
			filled -= 8;
		}
	}
}

void um_mldsa_unpack(struct um_mldsa_poly *p, const uint8_t *in, unsigned bits, int32_t offset, int negate)
{
	uint64_t acc = 0;
	unsigned filled = 0;
	uint32_t mask = (1u << bits) - 1;

	for (unsigned i = 0; i < UM_MLDSA_N; i++) {
		while (filled < bits) {
			acc |= (uint64_t)*in++ << filled;
			filled += 8;
		}
		int32_t v = (int32_t)(acc & mask);
		acc >>= bits;
		filled -= bits;
		p->coeffs[i] = negate ? offset - v : v;
	}
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
