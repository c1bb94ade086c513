/* SPDX-License-Identifier: MIT */
/* Envelope builders shared by the queue tests: the bytes of envelope n are a
 * function of n, so a test can check any envelope it finds. */
#ifndef UM_TEST_QUEUE_FIXTURE_H
#define UM_TEST_QUEUE_FIXTURE_H

#include <stdint.h>
#include <string.h>

#include "store/queue.h"
#include "store_fixture.h"

/* Length of envelope n: 1 .. max. */
static inline size_t queue_envelope_len(uint64_t n, size_t max)
{
	return 1 + (size_t)(n * 2654435761u % max);
}

static inline void queue_envelope_fill(uint64_t n, uint8_t *out, size_t len)
{
	uint64_t x = n * 0x9e3779b97f4a7c15ull + 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		out[i] = (uint8_t)x;
	}
}

/* 1 when e's bytes are envelope n's. */
static inline int queue_envelope_intact(uint64_t n, const uint8_t *e, size_t len, size_t max)
{
	static uint8_t want[UM_QUEUE_ENVELOPE_MAX];

	if (len != queue_envelope_len(n, max))
		return 0;
	queue_envelope_fill(n, want, len);
	return memcmp(want, e, len) == 0;
}

#endif
