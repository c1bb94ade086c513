/* SPDX-License-Identifier: MIT */
/* 4-way Keccak-f[1600] (AVX2 when available, else two 2-way portable runs) and
 * the SHAKE sponge around it. Only the permutation uses vector code; the
 * sponge byte handling is plain C on the interleaved state. */
#include <sodium.h>
#include <string.h>

#include "crypto/cpu.h"
#include "crypto/keccak4x.h"
#include "crypto/sha3.h"
#include "util/bytes.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define KECCAK4X_HAVE_AVX2 1
#include <immintrin.h>
#endif

#ifdef KECCAK4X_HAVE_AVX2

/* Macros rather than helper functions: a helper taking __m256i would need
 * the avx2 target attribute too, and the rest of the file must stay generic. */
#define V_XOR(a, b)  _mm256_xor_si256((a), (b))
#define V_ANDN(a, b) _mm256_andnot_si256((a), (b)) /* ~a & b */
/* Rotations by 8 and 56 are byte shuffles, one instruction instead of three. */
#define V_ROL(v, n)                                                                                                    \
	((n) == 8    ? _mm256_shuffle_epi8((v), rot8)                                                                  \
	 : (n) == 56 ? _mm256_shuffle_epi8((v), rot56)                                                                 \
		     : _mm256_or_si256(_mm256_slli_epi64((v), (n)), _mm256_srli_epi64((v), 64 - (n))))

/* Same round structure and lane names as um_keccak_f1600 in sha3.c: aXY is
 * lane (x, y); bXY the lane after rho and pi. */
__attribute__((target("avx2"))) static void keccak4x_f1600_avx2(uint64_t state[25][4])
{
	const __m256i rot8 = _mm256_setr_epi8(7, 0, 1, 2, 3, 4, 5, 6, 15, 8, 9, 10, 11, 12, 13, 14, 7, 0, 1, 2, 3, 4, 5,
					      6, 15, 8, 9, 10, 11, 12, 13, 14);
	const __m256i rot56 = _mm256_setr_epi8(1, 2, 3, 4, 5, 6, 7, 0, 9, 10, 11, 12, 13, 14, 15, 8, 1, 2, 3, 4, 5, 6,
					       7, 0, 9, 10, 11, 12, 13, 14, 15, 8);
	__m256i a00, a10, a20, a30, a40, a01, a11, a21, a31, a41, a02, a12, a22;
	__m256i a32, a42, a03, a13, a23, a33, a43, a04, a14, a24, a34, a44;
	__m256i b00, b10, b20, b30, b40, b01, b11, b21, b31, b41, b02, b12, b22;
	__m256i b32, b42, b03, b13, b23, b33, b43, b04, b14, b24, b34, b44;
	__m256i c0, c1, c2, c3, c4, d0, d1, d2, d3, d4;

#define LOAD(i) _mm256_loadu_si256((const __m256i *)state[i])
	a00 = LOAD(0);
	a10 = LOAD(1);
	a20 = LOAD(2);
	a30 = LOAD(3);
	a40 = LOAD(4);
	a01 = LOAD(5);
	a11 = LOAD(6);
	a21 = LOAD(7);
	a31 = LOAD(8);
	a41 = LOAD(9);
	a02 = LOAD(10);
	a12 = LOAD(11);
	a22 = LOAD(12);
	a32 = LOAD(13);
	a42 = LOAD(14);
	a03 = LOAD(15);
	a13 = LOAD(16);
	a23 = LOAD(17);
	a33 = LOAD(18);
	a43 = LOAD(19);
	a04 = LOAD(20);
	a14 = LOAD(21);
	a24 = LOAD(22);
	a34 = LOAD(23);
	a44 = LOAD(24);
#undef LOAD

	for (unsigned round = 0; round < 24; round++) {
		c0 = V_XOR(V_XOR(V_XOR(a00, a01), V_XOR(a02, a03)), a04);
		c1 = V_XOR(V_XOR(V_XOR(a10, a11), V_XOR(a12, a13)), a14);
		c2 = V_XOR(V_XOR(V_XOR(a20, a21), V_XOR(a22, a23)), a24);
		c3 = V_XOR(V_XOR(V_XOR(a30, a31), V_XOR(a32, a33)), a34);
		c4 = V_XOR(V_XOR(V_XOR(a40, a41), V_XOR(a42, a43)), a44);
		d0 = V_XOR(c4, V_ROL(c1, 1));
		d1 = V_XOR(c0, V_ROL(c2, 1));
		d2 = V_XOR(c1, V_ROL(c3, 1));
		d3 = V_XOR(c2, V_ROL(c4, 1));
		d4 = V_XOR(c3, V_ROL(c0, 1));
		b00 = V_XOR(a00, d0);
		b13 = V_ROL(V_XOR(a01, d0), 36);
		b21 = V_ROL(V_XOR(a02, d0), 3);
		b34 = V_ROL(V_XOR(a03, d0), 41);
		b42 = V_ROL(V_XOR(a04, d0), 18);
		b02 = V_ROL(V_XOR(a10, d1), 1);
		b10 = V_ROL(V_XOR(a11, d1), 44);
		b23 = V_ROL(V_XOR(a12, d1), 10);
		b31 = V_ROL(V_XOR(a13, d1), 45);
		b44 = V_ROL(V_XOR(a14, d1), 2);
		b04 = V_ROL(V_XOR(a20, d2), 62);
		b12 = V_ROL(V_XOR(a21, d2), 6);
		b20 = V_ROL(V_XOR(a22, d2), 43);
		b33 = V_ROL(V_XOR(a23, d2), 15);
		b41 = V_ROL(V_XOR(a24, d2), 61);
		b01 = V_ROL(V_XOR(a30, d3), 28);
		b14 = V_ROL(V_XOR(a31, d3), 55);
		b22 = V_ROL(V_XOR(a32, d3), 25);
		b30 = V_ROL(V_XOR(a33, d3), 21);
		b43 = V_ROL(V_XOR(a34, d3), 56);
		b03 = V_ROL(V_XOR(a40, d4), 27);
		b11 = V_ROL(V_XOR(a41, d4), 20);
		b24 = V_ROL(V_XOR(a42, d4), 39);
		b32 = V_ROL(V_XOR(a43, d4), 8);
		b40 = V_ROL(V_XOR(a44, d4), 14);
		a00 = V_XOR(b00, V_ANDN(b10, b20));
		a10 = V_XOR(b10, V_ANDN(b20, b30));
		a20 = V_XOR(b20, V_ANDN(b30, b40));
		a30 = V_XOR(b30, V_ANDN(b40, b00));
		a40 = V_XOR(b40, V_ANDN(b00, b10));
		a01 = V_XOR(b01, V_ANDN(b11, b21));
		a11 = V_XOR(b11, V_ANDN(b21, b31));
		a21 = V_XOR(b21, V_ANDN(b31, b41));
		a31 = V_XOR(b31, V_ANDN(b41, b01));
		a41 = V_XOR(b41, V_ANDN(b01, b11));
		a02 = V_XOR(b02, V_ANDN(b12, b22));
		a12 = V_XOR(b12, V_ANDN(b22, b32));
		a22 = V_XOR(b22, V_ANDN(b32, b42));
		a32 = V_XOR(b32, V_ANDN(b42, b02));
		a42 = V_XOR(b42, V_ANDN(b02, b12));
		a03 = V_XOR(b03, V_ANDN(b13, b23));
		a13 = V_XOR(b13, V_ANDN(b23, b33));
		a23 = V_XOR(b23, V_ANDN(b33, b43));
		a33 = V_XOR(b33, V_ANDN(b43, b03));
		a43 = V_XOR(b43, V_ANDN(b03, b13));
		a04 = V_XOR(b04, V_ANDN(b14, b24));
		a14 = V_XOR(b14, V_ANDN(b24, b34));
		a24 = V_XOR(b24, V_ANDN(b34, b44));
		a34 = V_XOR(b34, V_ANDN(b44, b04));
		a44 = V_XOR(b44, V_ANDN(b04, b14));
		a00 = V_XOR(a00, _mm256_set1_epi64x((long long)um_keccak_round_constants[round]));
	}

#define STORE(i, v) _mm256_storeu_si256((__m256i *)state[i], (v))
	STORE(0, a00);
	STORE(1, a10);
	STORE(2, a20);
	STORE(3, a30);
	STORE(4, a40);
	STORE(5, a01);
	STORE(6, a11);
	STORE(7, a21);
	STORE(8, a31);
	STORE(9, a41);
	STORE(10, a02);
	STORE(11, a12);
	STORE(12, a22);
	STORE(13, a32);
	STORE(14, a42);
	STORE(15, a03);
	STORE(16, a13);
	STORE(17, a23);
	STORE(18, a33);
	STORE(19, a43);
	STORE(20, a04);
	STORE(21, a14);
	STORE(22, a24);
	STORE(23, a34);
	STORE(24, a44);
#undef STORE
}
#undef V_XOR
#undef V_ANDN
#undef V_ROL
#endif /* KECCAK4X_HAVE_AVX2 */

/* Portable: states 0, 1 and states 2, 3 as two 2-way permutations (see
 * um_keccak_f1600_x2), which beats four scalar ones by about 1.4x. */
static void keccak4x_f1600_portable(uint64_t state[25][4])
{
	um_keccak_f1600_x2(state, 0);
	um_keccak_f1600_x2(state, 2);
}

void um_keccak4x_f1600(uint64_t state[25][4])
{
#ifdef KECCAK4X_HAVE_AVX2
	if (um_crypto_use_avx2()) {
		keccak4x_f1600_avx2(state);
		return;
	}
#endif
	keccak4x_f1600_portable(state);
}

static void keccak4x_absorb_once(struct um_keccak4x *ctx, unsigned rate, uint8_t suffix, const uint8_t *const in[4],
				 size_t len)
{
	size_t offset = 0;

	memset(ctx, 0, sizeof(*ctx));
	ctx->rate = rate;
	for (; len - offset >= rate; offset += rate) {
		for (unsigned i = 0; i < rate / 8; i++)
			for (unsigned j = 0; j < 4; j++)
				ctx->state[i][j] ^= um_load64_le(in[j] + offset + 8 * i);
		um_keccak4x_f1600(ctx->state);
	}
	/* The rest (< rate bytes) by whole lanes, its last partial lane and
	 * the padding assembled in a register: XORing single bytes into the
	 * state chains read-modify-writes on the same lane, which is slow. */
	for (unsigned j = 0; j < 4; j++) {
		const uint8_t *rest = in[j] + offset;
		size_t left = len - offset;
		unsigned lane = 0;
		uint64_t last = 0;

		for (; left >= 8; left -= 8, rest += 8)
			ctx->state[lane++][j] ^= um_load64_le(rest);
		for (unsigned k = 0; k < left; k++)
			last |= (uint64_t)rest[k] << (8 * k);
		/* pad10*1 with the domain suffix, as in sha3.c. */
		last |= (uint64_t)suffix << (8 * left);
		ctx->state[lane][j] ^= last;
		ctx->state[rate / 8 - 1][j] ^= 0x80ULL << 56;
	}
	ctx->pos = rate; /* the first squeeze permutes */
}

void um_shake128x4_absorb_once(struct um_keccak4x *ctx, const uint8_t *const in[4], size_t len)
{
	keccak4x_absorb_once(ctx, UM_SHAKE128_RATE, 0x1f, in, len);
}

void um_shake256x4_absorb_once(struct um_keccak4x *ctx, const uint8_t *const in[4], size_t len)
{
	keccak4x_absorb_once(ctx, UM_SHAKE256_RATE, 0x1f, in, len);
}

void um_keccak4x_squeeze(struct um_keccak4x *ctx, uint8_t *const out[4], size_t len)
{
	size_t done = 0;

	while (done < len) {
		if (ctx->pos == ctx->rate) {
			um_keccak4x_f1600(ctx->state);
			ctx->pos = 0;
		}
		if (ctx->pos % 8 == 0 && len - done >= 8) {
			/* Whole lanes; every rate is a multiple of 8. */
			unsigned lanes = (ctx->rate - ctx->pos) / 8;

			if (lanes > (len - done) / 8)
				lanes = (unsigned)((len - done) / 8);
			const uint64_t(*lane)[4] = &ctx->state[ctx->pos / 8];
			uint8_t *o0 = out[0] + done, *o1 = out[1] + done;
			uint8_t *o2 = out[2] + done, *o3 = out[3] + done;

			/* Locals and all four loads before the stores: a byte
			 * store may alias anything, so otherwise each one
			 * forces the pointers and the lanes to be reloaded. */
			for (unsigned i = 0; i < lanes; i++) {
				uint64_t v0 = lane[i][0], v1 = lane[i][1], v2 = lane[i][2], v3 = lane[i][3];

				um_store64_le(o0 + 8 * i, v0);
				um_store64_le(o1 + 8 * i, v1);
				um_store64_le(o2 + 8 * i, v2);
				um_store64_le(o3 + 8 * i, v3);
			}
			done += 8 * (size_t)lanes;
			ctx->pos += 8 * lanes;
			continue;
		}
		for (unsigned j = 0; j < 4; j++)
			out[j][done] = (uint8_t)(ctx->state[ctx->pos / 8][j] >> (8 * (ctx->pos % 8)));
		ctx->pos++;
		done++;
	}
}

void um_keccak4x_wipe(struct um_keccak4x *ctx)
{
	sodium_memzero(ctx, sizeof(*ctx));
}
