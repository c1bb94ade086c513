/* SPDX-License-Identifier: MIT */
/* Sliding replay window (RFC 6479 style bitmap ring). The ring holds
 * UM_REPLAY_WORDS 64-bit words; one word is kept as slack so a slide clears
 * whole words, which leaves a usable window of UM_REPLAY_WINDOW counters
 * behind the highest one accepted. Counters are the full 64-bit range; 0 is
 * valid. Not thread-safe: the caller serialises updates (the data plane does
 * one locked update per received batch). */
#ifndef UM_SESSION_REPLAY_H
#define UM_SESSION_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#define UM_REPLAY_WORDS  64u
#define UM_REPLAY_BITS   (UM_REPLAY_WORDS * 64u)
#define UM_REPLAY_WINDOW (UM_REPLAY_BITS - 64u) /* 4032 counters */

struct um_replay {
	uint64_t highest; /* highest counter accepted (0 before any) */
	uint64_t bitmap[UM_REPLAY_WORDS];
};

void um_replay_init(struct um_replay *replay);

/* Would counter be accepted? 0, or -UM_EREPLAY (duplicate or too old).
 * Read-only: call before authenticating, then um_replay_update after. */
int um_replay_check(const struct um_replay *replay, uint64_t counter);

/* Check again and mark counter as seen; 0 or -UM_EREPLAY. */
int um_replay_update(struct um_replay *replay, uint64_t counter);

#endif
