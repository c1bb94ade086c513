/* SPDX-License-Identifier: MIT */
#include <stdint.h>

#include "session/replay.h"
#include "test.h"
#include "util/error.h"

static struct um_replay r;

static int accept_(uint64_t c)
{
	int rc = um_replay_check(&r, c);
	if (rc == 0)
		rc = um_replay_update(&r, c);
	return rc;
}

static void test_in_order(void)
{
	um_replay_init(&r);
	for (uint64_t c = 0; c < 10000; c++)
		CHECK_EQ(accept_(c), 0);
	for (uint64_t c = 10000 - 100; c < 10000; c++)
		CHECK_EQ(accept_(c), -UM_EREPLAY);
}

static void test_counter_zero(void)
{
	um_replay_init(&r);
	CHECK_EQ(accept_(0), 0);
	CHECK_EQ(accept_(0), -UM_EREPLAY);
	um_replay_init(&r);
	CHECK_EQ(accept_(5), 0);
	CHECK_EQ(accept_(0), 0); /* late, inside the window, not seen */
	CHECK_EQ(accept_(0), -UM_EREPLAY);
	CHECK_EQ(accept_(5), -UM_EREPLAY);
}

static void test_out_of_order(void)
{
	um_replay_init(&r);
	CHECK_EQ(accept_(3000), 0);
	/* Everything within the window behind 3000 is accepted once, any order. */
	for (uint64_t c = 2999; c >= 3; c -= 3)
		CHECK_EQ(accept_(c), 0);
	for (uint64_t c = 2999; c >= 3; c -= 3)
		CHECK_EQ(accept_(c), -UM_EREPLAY);
	CHECK_EQ(accept_(2998), 0);
	CHECK_EQ(accept_(2998), -UM_EREPLAY);
	CHECK(UM_REPLAY_WINDOW >= 2048);
}

static void test_too_old(void)
{
	um_replay_init(&r);
	uint64_t top = 100000;
	CHECK_EQ(accept_(top), 0);
	CHECK_EQ(accept_(top - UM_REPLAY_WINDOW + 1), 0); /* oldest still inside */
	CHECK_EQ(accept_(top - UM_REPLAY_WINDOW), -UM_EREPLAY);
	CHECK_EQ(accept_(top - 2048), 0);
	CHECK_EQ(accept_(1), -UM_EREPLAY);
	CHECK_EQ(um_replay_check(&r, top - UM_REPLAY_WINDOW - 1), -UM_EREPLAY);
}

static void test_large_jumps(void)
{
	um_replay_init(&r);
	/* Mark a band of counters, jump far ahead, then come back: the band is
	 * too old now and must not leave stale bits for the new positions. */
	for (uint64_t c = 0; c < 4096; c++)
		CHECK_EQ(accept_(c), 0);
	uint64_t far = 4096 + UM_REPLAY_BITS * 3 + 17;
	CHECK_EQ(accept_(far), 0);
	for (uint64_t c = far - 100; c < far; c++)
		CHECK_EQ(accept_(c), 0); /* same ring slots as old counters: cleared */
	CHECK_EQ(accept_(4000), -UM_EREPLAY);
	/* A jump of less than a whole ring clears only the passed words. */
	uint64_t next = far + 1000;
	CHECK_EQ(accept_(next), 0);
	CHECK_EQ(accept_(far - 50), -UM_EREPLAY); /* still remembered */
	CHECK_EQ(accept_(far + 500), 0);
	CHECK_EQ(accept_(far + 500), -UM_EREPLAY);
	/* Slide by exactly one word boundary repeatedly. */
	um_replay_init(&r);
	for (uint64_t c = 0; c < 64 * 200; c += 64) {
		CHECK_EQ(accept_(c + 63), 0);
		CHECK_EQ(accept_(c), 0);
		CHECK_EQ(accept_(c + 63), -UM_EREPLAY);
	}
}

static void test_near_max(void)
{
	um_replay_init(&r);
	uint64_t max = UINT64_MAX;
	CHECK_EQ(accept_(max - 10), 0);
	CHECK_EQ(accept_(max), 0);
	CHECK_EQ(accept_(max), -UM_EREPLAY);
	CHECK_EQ(accept_(max - 5), 0);
	CHECK_EQ(accept_(max - 10), -UM_EREPLAY);
	CHECK_EQ(accept_(max - UM_REPLAY_WINDOW), -UM_EREPLAY);
	CHECK_EQ(accept_(0), -UM_EREPLAY);
	CHECK_EQ(accept_(max - 1), 0);
}

static void test_random_against_model(void)
{
	/* Compare with a straightforward model over a bounded range. */
	static uint8_t seen[1 << 16];
	uint64_t highest = 0;
	uint32_t x = 12345;
	um_replay_init(&r);
	memset(seen, 0, sizeof(seen));
	int mismatches = 0;
	for (int i = 0; i < 200000; i++) {
		x = x * 1103515245u + 12345u;
		uint64_t base = highest > 3000 ? highest - 3000 : 0;
		uint64_t c = base + (x >> 8) % 4500;
		if (c >= sizeof(seen))
			break;
		bool expect = !seen[c] && (c > highest || highest - c < UM_REPLAY_WINDOW);
		int got = accept_(c);
		if ((got == 0) != expect)
			mismatches++;
		if (expect) {
			seen[c] = 1;
			if (c > highest)
				highest = c;
		}
	}
	CHECK_EQ(mismatches, 0);
}

int main(void)
{
	RUN(test_in_order);
	RUN(test_counter_zero);
	RUN(test_out_of_order);
	RUN(test_too_old);
	RUN(test_large_jumps);
	RUN(test_near_max);
	RUN(test_random_against_model);
	return um_test_end();
}
