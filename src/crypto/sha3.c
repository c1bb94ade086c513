/* SPDX-License-Identifier: MIT */
/* FIPS 202 Keccak-f[1600] and the SHA-3 / SHAKE sponge. Lanes are little
 * endian 64-bit words; lane (x, y) lives at state[x + 5y]. The permutation
 * has no table lookups and no data-dependent branches. */
#include <sodium.h>
#include <string.h>

#include "crypto/sha3.h"
#include "util/bytes.h"

#define ROL64(v, n) (((v) << (n)) | ((v) >> (64 - (n))))

const uint64_t um_keccak_round_constants[24] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL, 0x000000000000808bULL,
    0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL, 0x000000000000008aULL, 0x0000000000000088ULL,
    0x0000000080008009ULL, 0x000000008000000aULL, 0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL,
    0x8000000000008003ULL, 0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
};

/* One round from the lane array A to the lane array E (lane (x, y) at
 * index x + 5y), in the lane-complemented representation (see
 * um_keccak_f1600). theta, then rho and pi one output plane at a time into
 * b0..b4, then chi and iota. With some inputs and outputs stored inverted,
 * chi's b ^ (~b' & b'') turns into b ^ (b' | b'') or b ^ (b' & b'') for most
 * lanes (De Morgan); each plane still needs one inverted lane (nb), shared
 * by two outputs, so a round costs five NOTs instead of twenty-five. The
 * per-lane forms follow from the complemented set; the FIPS 202 vectors and
 * the OpenSSL differential test check them. */
#define KECCAK_ROUND(A, E, rc)                                                                                         \
	do {                                                                                                           \
		c0 = A[0] ^ A[5] ^ A[10] ^ A[15] ^ A[20];                                                              \
		c1 = A[1] ^ A[6] ^ A[11] ^ A[16] ^ A[21];                                                              \
		c2 = A[2] ^ A[7] ^ A[12] ^ A[17] ^ A[22];                                                              \
		c3 = A[3] ^ A[8] ^ A[13] ^ A[18] ^ A[23];                                                              \
		c4 = A[4] ^ A[9] ^ A[14] ^ A[19] ^ A[24];                                                              \
		d0 = c4 ^ ROL64(c1, 1);                                                                                \
		d1 = c0 ^ ROL64(c2, 1);                                                                                \
		d2 = c1 ^ ROL64(c3, 1);                                                                                \
		d3 = c2 ^ ROL64(c4, 1);                                                                                \
		d4 = c3 ^ ROL64(c0, 1);                                                                                \
		b0 = A[0] ^ d0;                                                                                        \
		b1 = ROL64(A[6] ^ d1, 44);                                                                             \
		b2 = ROL64(A[12] ^ d2, 43);                                                                            \
		b3 = ROL64(A[18] ^ d3, 21);                                                                            \
		b4 = ROL64(A[24] ^ d4, 14);                                                                            \
		nb = ~b2;                                                                                              \
		E[0] = b0 ^ (b1 | b2) ^ (rc);                                                                          \
		E[1] = b1 ^ (nb | b3);                                                                                 \
		E[2] = b2 ^ (b3 & b4);                                                                                 \
		E[3] = b3 ^ (b4 | b0);                                                                                 \
		E[4] = b4 ^ (b0 & b1);                                                                                 \
		b0 = ROL64(A[3] ^ d3, 28);                                                                             \
		b1 = ROL64(A[9] ^ d4, 20);                                                                             \
		b2 = ROL64(A[10] ^ d0, 3);                                                                             \
		b3 = ROL64(A[16] ^ d1, 45);                                                                            \
		b4 = ROL64(A[22] ^ d2, 61);                                                                            \
		nb = ~b4;                                                                                              \
		E[5] = b0 ^ (b1 | b2);                                                                                 \
		E[6] = b1 ^ (b2 & b3);                                                                                 \
		E[7] = b2 ^ (b3 | nb);                                                                                 \
		E[8] = b3 ^ (b4 | b0);                                                                                 \
		E[9] = b4 ^ (b0 & b1);                                                                                 \
		b0 = ROL64(A[1] ^ d1, 1);                                                                              \
		b1 = ROL64(A[7] ^ d2, 6);                                                                              \
		b2 = ROL64(A[13] ^ d3, 25);                                                                            \
		b3 = ROL64(A[19] ^ d4, 8);                                                                             \
		b4 = ROL64(A[20] ^ d0, 18);                                                                            \
		nb = ~b3;                                                                                              \
		E[10] = b0 ^ (b1 | b2);                                                                                \
		E[11] = b1 ^ (b2 & b3);                                                                                \
		E[12] = b2 ^ (nb & b4);                                                                                \
		E[13] = nb ^ (b4 | b0);                                                                                \
		E[14] = b4 ^ (b0 & b1);                                                                                \
		b0 = ROL64(A[4] ^ d4, 27);                                                                             \
		b1 = ROL64(A[5] ^ d0, 36);                                                                             \
		b2 = ROL64(A[11] ^ d1, 10);                                                                            \
		b3 = ROL64(A[17] ^ d2, 15);                                                                            \
		b4 = ROL64(A[23] ^ d3, 56);                                                                            \
		nb = ~b3;                                                                                              \
		E[15] = b0 ^ (b1 & b2);                                                                                \
		E[16] = b1 ^ (b2 | b3);                                                                                \
		E[17] = b2 ^ (nb | b4);                                                                                \
		E[18] = nb ^ (b4 & b0);                                                                                \
		E[19] = b4 ^ (b0 | b1);                                                                                \
		b0 = ROL64(A[2] ^ d2, 62);                                                                             \
		b1 = ROL64(A[8] ^ d3, 55);                                                                             \
		b2 = ROL64(A[14] ^ d4, 39);                                                                            \
		b3 = ROL64(A[15] ^ d0, 41);                                                                            \
		b4 = ROL64(A[21] ^ d1, 2);                                                                             \
		nb = ~b1;                                                                                              \
		E[20] = b0 ^ (nb & b2);                                                                                \
		E[21] = nb ^ (b2 | b3);                                                                                \
		E[22] = b2 ^ (b3 & b4);                                                                                \
		E[23] = b3 ^ (b4 | b0);                                                                                \
		E[24] = b4 ^ (b0 & b1);                                                                                \
	} while (0)

/* Lanes kept inverted between rounds (see um_keccak_f1600). */
static void keccak_complement_lanes(uint64_t lanes[25])
{
	lanes[1] = ~lanes[1];
	lanes[2] = ~lanes[2];
	lanes[8] = ~lanes[8];
	lanes[12] = ~lanes[12];
	lanes[17] = ~lanes[17];
	lanes[20] = ~lanes[20];
}

#if defined(__GNUC__)
/* Two lanes in one 128-bit vector: GNU C vector extensions, which compile to
 * SSE2 on baseline x86-64 (NEON on arm64, plain scalar code elsewhere); no
 * intrinsics and no ISA beyond the baseline. keccak_lane_pair_4x is the
 * same for lanes inside the caller's 4-way array (8-byte alignment
 * suffices, and it may alias the uint64_t lanes). */
typedef uint64_t keccak_lane_pair __attribute__((vector_size(16)));
typedef uint64_t keccak_lane_pair_4x __attribute__((vector_size(16), aligned(8), may_alias));

/* One round for lane pairs, lane (x, y) of A at A[(x + 5y) * AS] (AS, ES:
 * strides in pairs), same rho / pi order as KECCAK_ROUND. Plain chi: SSE2
 * and NEON have and-not, so lane complementing would only add NOTs. */
#define KECCAK_CHI_PLANE(E, ES, y)                                                                                     \
	do {                                                                                                           \
		E[(5 * (y) + 0) * (ES)] = b0 ^ (~b1 & b2);                                                             \
		E[(5 * (y) + 1) * (ES)] = b1 ^ (~b2 & b3);                                                             \
		E[(5 * (y) + 2) * (ES)] = b2 ^ (~b3 & b4);                                                             \
		E[(5 * (y) + 3) * (ES)] = b3 ^ (~b4 & b0);                                                             \
		E[(5 * (y) + 4) * (ES)] = b4 ^ (~b0 & b1);                                                             \
	} while (0)
/* Rotation by one with an add instead of a left shift: on x86 vector adds
 * issue on more ports than vector shifts, which this code saturates. */
#define ROL1_PAIR(v) (((v) + (v)) | ((v) >> 63))
#define KECCAK_ROUND_X2(A, AS, E, ES, rc)                                                                              \
	do {                                                                                                           \
		c0 = A[0 * (AS)] ^ A[5 * (AS)] ^ A[10 * (AS)] ^ A[15 * (AS)] ^ A[20 * (AS)];                           \
		c1 = A[1 * (AS)] ^ A[6 * (AS)] ^ A[11 * (AS)] ^ A[16 * (AS)] ^ A[21 * (AS)];                           \
		c2 = A[2 * (AS)] ^ A[7 * (AS)] ^ A[12 * (AS)] ^ A[17 * (AS)] ^ A[22 * (AS)];                           \
		c3 = A[3 * (AS)] ^ A[8 * (AS)] ^ A[13 * (AS)] ^ A[18 * (AS)] ^ A[23 * (AS)];                           \
		c4 = A[4 * (AS)] ^ A[9 * (AS)] ^ A[14 * (AS)] ^ A[19 * (AS)] ^ A[24 * (AS)];                           \
		d0 = c4 ^ ROL1_PAIR(c1);                                                                               \
		d1 = c0 ^ ROL1_PAIR(c2);                                                                               \
		d2 = c1 ^ ROL1_PAIR(c3);                                                                               \
		d3 = c2 ^ ROL1_PAIR(c4);                                                                               \
		d4 = c3 ^ ROL1_PAIR(c0);                                                                               \
		b0 = A[0 * (AS)] ^ d0;                                                                                 \
		b1 = ROL64(A[6 * (AS)] ^ d1, 44);                                                                      \
		b2 = ROL64(A[12 * (AS)] ^ d2, 43);                                                                     \
		b3 = ROL64(A[18 * (AS)] ^ d3, 21);                                                                     \
		b4 = ROL64(A[24 * (AS)] ^ d4, 14);                                                                     \
		KECCAK_CHI_PLANE(E, ES, 0);                                                                            \
		E[0] ^= (rc);                                                                                          \
		b0 = ROL64(A[3 * (AS)] ^ d3, 28);                                                                      \
		b1 = ROL64(A[9 * (AS)] ^ d4, 20);                                                                      \
		b2 = ROL64(A[10 * (AS)] ^ d0, 3);                                                                      \
		b3 = ROL64(A[16 * (AS)] ^ d1, 45);                                                                     \
		b4 = ROL64(A[22 * (AS)] ^ d2, 61);                                                                     \
		KECCAK_CHI_PLANE(E, ES, 1);                                                                            \
		b0 = ROL1_PAIR(A[1 * (AS)] ^ d1);                                                                      \
		b1 = ROL64(A[7 * (AS)] ^ d2, 6);                                                                       \
		b2 = ROL64(A[13 * (AS)] ^ d3, 25);                                                                     \
		b3 = ROL64(A[19 * (AS)] ^ d4, 8);                                                                      \
		b4 = ROL64(A[20 * (AS)] ^ d0, 18);                                                                     \
		KECCAK_CHI_PLANE(E, ES, 2);                                                                            \
		b0 = ROL64(A[4 * (AS)] ^ d4, 27);                                                                      \
		b1 = ROL64(A[5 * (AS)] ^ d0, 36);                                                                      \
		b2 = ROL64(A[11 * (AS)] ^ d1, 10);                                                                     \
		b3 = ROL64(A[17 * (AS)] ^ d2, 15);                                                                     \
		b4 = ROL64(A[23 * (AS)] ^ d3, 56);                                                                     \
		KECCAK_CHI_PLANE(E, ES, 3);                                                                            \
		b0 = ROL64(A[2 * (AS)] ^ d2, 62);                                                                      \
		b1 = ROL64(A[8 * (AS)] ^ d3, 55);                                                                      \
		b2 = ROL64(A[14 * (AS)] ^ d4, 39);                                                                     \
		b3 = ROL64(A[15 * (AS)] ^ d0, 41);                                                                     \
		b4 = ROL64(A[21 * (AS)] ^ d1, 2);                                                                      \
		KECCAK_CHI_PLANE(E, ES, 4);                                                                            \
	} while (0)
#endif

/* Tells the compiler that memory may have changed (or be read) here, so it
 * keeps the lanes in memory instead of caching them in registers. */
#if defined(__GNUC__)
#define KECCAK_MEMORY_BARRIER() __asm__ volatile("" ::: "memory")
#define KECCAK_HIDE_POINTER(p)  __asm__("" : "+r"(p))
#else
#define KECCAK_MEMORY_BARRIER() ((void)0)
#define KECCAK_HIDE_POINTER(p)  ((void)(p))
#endif

void um_keccak_f1600(uint64_t state[25])
{
	/* Lane complementing: the lanes at (1,0), (2,0), (3,1), (2,2), (2,3)
	 * and (0,4) are kept inverted during the rounds. Inverting them turns
	 * most of chi's ~x & y into plain AND / OR with no NOT, and the set
	 * stays the same from round to round.
	 *
	 * The rounds ping-pong between state and a scratch array in memory,
	 * with a compiler barrier after each: x86-64 has only 16 registers for
	 * 25 lanes, and left to itself the compiler caches lanes in registers
	 * and spills them in a poor order (about 15% slower, measured with
	 * gcc 12). From memory, theta's parities and the rho inputs become
	 * load-and-xor instructions and each lane is stored exactly once. */
	uint64_t scratch[25];
	uint64_t *t = scratch;
	uint64_t b0, b1, b2, b3, b4, nb, c0, c1, c2, c3, c4, d0, d1, d2, d3, d4;

	KECCAK_HIDE_POINTER(t); /* else the compiler keeps scratch in registers */
	keccak_complement_lanes(state);
	for (unsigned round = 0; round < 24; round += 2) {
		KECCAK_ROUND(state, t, um_keccak_round_constants[round]);
		KECCAK_MEMORY_BARRIER();
		KECCAK_ROUND(t, state, um_keccak_round_constants[round + 1]);
		KECCAK_MEMORY_BARRIER();
	}
	keccak_complement_lanes(state);
	/* scratch holds the state one round back, which is as secret as the
	 * state itself. An inline clear (no call) plus a barrier so the
	 * stores are not dropped as dead. */
	memset(scratch, 0, sizeof(scratch));
	KECCAK_MEMORY_BARRIER();
}

#if defined(__GNUC__)
void um_keccak_f1600_x2(uint64_t state[25][4], unsigned first)
{
	/* Each vector operation costs about what the scalar one does,
	 * rotations excepted (three operations on SSE2), so two permutations
	 * take about 1.5x the time of one (gcc 12, SSE2). The first round
	 * reads the caller's array and the last writes it (no copies); in
	 * between the rounds ping-pong between two local arrays with a
	 * barrier, for the reason given in um_keccak_f1600. */
	keccak_lane_pair_4x *io = (keccak_lane_pair_4x *)&state[0][first];
	keccak_lane_pair lanes[25], scratch[25];
	keccak_lane_pair *s = lanes, *t = scratch;
	keccak_lane_pair b0, b1, b2, b3, b4, c0, c1, c2, c3, c4, d0, d1, d2, d3, d4;

	KECCAK_HIDE_POINTER(s);
	KECCAK_HIDE_POINTER(t);
	KECCAK_ROUND_X2(io, 2, t, 1, um_keccak_round_constants[0]);
	KECCAK_MEMORY_BARRIER();
	for (unsigned round = 1; round < 23; round += 2) {
		KECCAK_ROUND_X2(t, 1, s, 1, um_keccak_round_constants[round]);
		KECCAK_MEMORY_BARRIER();
		KECCAK_ROUND_X2(s, 1, t, 1, um_keccak_round_constants[round + 1]);
		KECCAK_MEMORY_BARRIER();
	}
	KECCAK_ROUND_X2(t, 1, io, 2, um_keccak_round_constants[23]);
	/* Both arrays hold earlier rounds of the state, as secret as it. */
	memset(lanes, 0, sizeof(lanes));
	memset(scratch, 0, sizeof(scratch));
	KECCAK_MEMORY_BARRIER();
}
#else
void um_keccak_f1600_x2(uint64_t state[25][4], unsigned first)
{
	uint64_t one[25];

	for (unsigned j = first; j < first + 2; j++) {
		for (unsigned i = 0; i < 25; i++)
			one[i] = state[i][j];
		um_keccak_f1600(one);
		for (unsigned i = 0; i < 25; i++)
			state[i][j] = one[i];
	}
	sodium_memzero(one, sizeof(one));
}
#endif
#undef KECCAK_ROUND_X2
#undef ROL1_PAIR
#undef KECCAK_CHI_PLANE
#undef KECCAK_ROUND
#undef KECCAK_MEMORY_BARRIER
#undef KECCAK_HIDE_POINTER

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

static void keccak_oneshot(struct um_keccak *ctx, uint8_t *out, size_t outlen, const uint8_t *in, size_t len)
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
