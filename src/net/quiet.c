/* SPDX-License-Identifier: MIT */
#include "net/quiet.h"

#include <string.h>

void um_busy_poll_init(struct um_busy_poll *bp)
{
	memset(bp, 0, sizeof(*bp));
}

static void top_up(struct um_busy_poll *bp, uint64_t now_ns, uint64_t window_ns)
{
	/* A few windows' worth at most: a long quiet spell does not buy a
	 * long spinning spree afterwards. */
	uint64_t cap = 4 * window_ns;
	uint64_t earned = now_ns > bp->budget_at_ns ? (now_ns - bp->budget_at_ns) / UM_BUSY_POLL_SHARE : 0;
	uint64_t room = cap > bp->budget_ns ? cap - bp->budget_ns : 0;
	bp->budget_ns = earned >= room ? cap : bp->budget_ns + earned;
	bp->budget_at_ns = now_ns;
}

void um_busy_poll_woke(struct um_busy_poll *bp, uint64_t now_ns, uint64_t waited_ns, uint64_t window_ns)
{
	/* A spin was due but suppressed: had it run, would it have caught
	 * this wake-up? Then spinning pays again. */
	if (bp->judging && window_ns && waited_ns <= window_ns)
		bp->misses = 0;
	bp->judging = false;
	bp->after_idle = waited_ns >= UM_BUSY_POLL_IDLE_NS;
	top_up(bp, now_ns, window_ns);
}

bool um_busy_poll_arm(struct um_busy_poll *bp, uint64_t now_ns, bool sent, uint64_t window_ns)
{
	bool due = bp->after_idle && sent && window_ns;
	bp->after_idle = false;
	if (!due)
		return false;
	top_up(bp, now_ns, window_ns);
	if (bp->misses >= UM_BUSY_POLL_MISS_LIMIT) {
		bp->judging = true;
		return false;
	}
	return bp->budget_ns >= window_ns;
}

void um_busy_poll_spun(struct um_busy_poll *bp, uint64_t spun_ns, bool hit)
{
	bp->budget_ns = spun_ns < bp->budget_ns ? bp->budget_ns - spun_ns : 0;
	bp->misses = hit ? 0 : bp->misses + 1;
	bp->after_idle = false;
}

void um_gather_init(struct um_gather *g)
{
	g->short_waits = 0;
	g->gathered = true;
}

enum um_gather_action um_gather_woke(struct um_gather *g, uint64_t waited_ns)
{
	g->short_waits = waited_ns < UM_QUIET_SHORT_WAIT_NS ? g->short_waits + 1 : 0;
	if (g->gathered && g->short_waits >= UM_QUIET_SPREAD_AFTER) {
		g->gathered = false;
		return UM_GATHER_SPREAD;
	}
	if (!g->gathered && waited_ns >= UM_QUIET_GATHER_AFTER_NS) {
		g->gathered = true;
		return UM_GATHER_PIN;
	}
	return UM_GATHER_STAY;
}
