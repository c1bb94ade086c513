/* SPDX-License-Identifier: MIT */
#include "session/replay.h"
#include "util/compiler.h"

#include <string.h>

#include "util/error.h"

void um_replay_init(struct um_replay *replay)
{
	memset(replay, 0, sizeof(*replay));
}

int um_replay_check(const struct um_replay *replay, uint64_t counter)
{
	if (counter > replay->highest)
		return 0;
	if (replay->highest - counter >= UM_REPLAY_WINDOW)
		return -UM_EREPLAY;
	uint64_t word = (counter >> 6) & (UM_REPLAY_WORDS - 1);
	uint64_t bit = 1ull << (counter & 63);
	return (replay->bitmap[word] & bit) ? -UM_EREPLAY : 0;
}

UM_HOT int um_replay_update(struct um_replay *replay, uint64_t counter)
{
	uint64_t word = counter >> 6;
	if (counter > replay->highest) {
		/* Clear the words between the old highest and the new one; a jump
		 * past the whole ring clears everything. */
		uint64_t current = replay->highest >> 6;
		uint64_t diff = word - current;
		if (diff > UM_REPLAY_WORDS)
			diff = UM_REPLAY_WORDS;
		for (uint64_t i = 1; i <= diff; i++)
			replay->bitmap[(current + i) & (UM_REPLAY_WORDS - 1)] = 0;
		replay->highest = counter;
	} else if (replay->highest - counter >= UM_REPLAY_WINDOW) {
		return -UM_EREPLAY;
	}
	uint64_t *slot = &replay->bitmap[word & (UM_REPLAY_WORDS - 1)];
	uint64_t bit = 1ull << (counter & 63);
	if (*slot & bit)
		return -UM_EREPLAY;
	*slot |= bit;
	return 0;
}
