/* SPDX-License-Identifier: MIT */
/* The per-peer session timer policy (see timers.h for the rules). */
#include "session/timers.h"

#include <sodium.h>

#include "util/clock.h"

#define DEFER_MS               500ULL
#define DEFER_JITTER_MS        100ULL
#define RETRY_BASE_MS          500ULL
#define RETRY_MAX_MS           15000ULL
#define REKEY_AFTER_MESSAGES   (1ULL << 40)
#define NEED_KEY_GAP_NS        UM_NSEC_PER_SEC
#define DIRECT_TIMEOUT_MS      3000ULL
#define UNKNOWN_PEER_MS        100ULL
#define UNKNOWN_PEER_JITTER_MS 50ULL
#define UNKNOWN_PEER_FAST      14u /* tries before backing off beyond 200 ms */

static uint64_t ms_to_ns(uint64_t ms)
{
	return ms * UM_NSEC_PER_MSEC;
}

static uint32_t sodium_below(uint32_t upper)
{
	return randombytes_uniform(upper);
}

static uint64_t jitter_ms(const struct um_session_timers *timers, uint64_t max_ms)
{
	if (!max_ms)
		return 0;
	return timers->random_below((uint32_t)(max_ms > UINT32_MAX ? UINT32_MAX : max_ms));
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* The first attempt: at once if designated, else a little later, so the
 * designated side's HELLO usually arrives first and nothing crosses. */
static void arm_first_attempt(struct um_session_timers *timers, uint64_t now)
{
	timers->retry_at = timers->designated ? now : now + ms_to_ns(DEFER_MS + jitter_ms(timers, DEFER_JITTER_MS));
}

void um_session_timers_init(struct um_session_timers *timers, uint64_t tick_interval_ns, uint64_t rekey_interval_ns,
			    bool designated)
{
	*timers = (struct um_session_timers){
	    .tick_interval_ns = tick_interval_ns,
	    .rekey_interval_ns = rekey_interval_ns,
	    .designated = designated,
	    .random_below = sodium_below,
	    .retry_at = UM_SESSION_NEVER,
	    .rekey_at = UM_SESSION_NEVER,
	    .tick_at = UM_SESSION_NEVER,
	};
}

void um_session_timers_up(struct um_session_timers *timers, uint64_t now, bool reachable)
{
	timers->tick_at = now + timers->tick_interval_ns;
	if (reachable)
		arm_first_attempt(timers, now);
}

void um_session_timers_down(struct um_session_timers *timers)
{
	timers->retry_at = timers->rekey_at = timers->tick_at = UM_SESSION_NEVER;
	timers->retry_replaces = false;
}

/* Same policy as "up". Peers with a session, a handshake in flight, a retry
 * pending or a direct endpoint still answering are left alone. */
void um_session_timers_relay_ready(struct um_session_timers *timers, uint64_t now, bool up, bool established, bool busy,
				   bool endpoint_working)
{
	if (!up || established || busy || um_session_timers_retry_armed(timers) || endpoint_working)
		return;
	arm_first_attempt(timers, now);
}

void um_session_timers_relay_unknown_peer(struct um_session_timers *timers, uint64_t now, bool up, bool established)
{
	unsigned tries = timers->relay_unknown, n;

	if (!up || established || um_session_timers_retry_armed(timers))
		return;
	/* 200 ms, not 400 (issue 14): the peer registering meanwhile is found
	 * ~100 ms sooner on average; a try is a LOOKUP of 96 bytes. */
	if (tries < UNKNOWN_PEER_FAST) {
		n = tries < 1 ? tries : 1;
	} else {
		n = 2 + tries - UNKNOWN_PEER_FAST;
		n = n < 6 ? n : 6;
	}
	timers->relay_unknown++;
	timers->retry_replaces = true;
	timers->retry_at = now + ms_to_ns((UNKNOWN_PEER_MS << n) + jitter_ms(timers, UNKNOWN_PEER_JITTER_MS));
}

void um_session_timers_initiated(struct um_session_timers *timers, uint64_t now, bool via_relay, bool relay_available)
{
	timers->initiated_ns = now;
	timers->retry_at = UM_SESSION_NEVER;
	/* A direct attempt while a relay could carry the handshake: give the
	 * endpoint DIRECT_TIMEOUT_MS, then go through the relay. */
	if (!via_relay && relay_available) {
		timers->retry_replaces = true;
		timers->retry_at = now + ms_to_ns(DIRECT_TIMEOUT_MS);
	}
}

void um_session_timers_failed(struct um_session_timers *timers, uint64_t now, bool up)
{
	uint64_t delay = RETRY_BASE_MS << (timers->attempts < 5 ? timers->attempts : 5);

	if (delay > RETRY_MAX_MS)
		delay = RETRY_MAX_MS;
	timers->attempts++;
	if (!up)
		return;
	timers->retry_at = now + ms_to_ns(delay + jitter_ms(timers, delay / 4));
}

void um_session_timers_established(struct um_session_timers *timers, uint64_t now)
{
	uint64_t rekey = timers->rekey_interval_ns;

	timers->attempts = 0;
	timers->relay_unknown = 0;
	timers->retry_replaces = false;
	timers->retry_at = UM_SESSION_NEVER;
	if (!timers->designated)
		rekey = rekey + rekey / 4 + UM_NSEC_PER_SEC;
	timers->rekey_at = now + rekey;
	if (timers->tick_at == UM_SESSION_NEVER)
		timers->tick_at = now + timers->tick_interval_ns;
}

unsigned um_session_timers_need_key(struct um_session_timers *timers, uint64_t now)
{
	if (um_session_timers_retry_armed(timers) ||
	    (timers->initiated_ns && now - timers->initiated_ns < NEED_KEY_GAP_NS))
		return 0;
	return UM_SESSION_DO_INITIATE;
}

static unsigned run_retry(struct um_session_timers *timers, const struct um_session_view *view)
{
	timers->retry_at = UM_SESSION_NEVER;
	if (view->established) {
		timers->retry_replaces = false;
		return 0; /* the peer called first */
	}
	if (timers->retry_replaces) {
		timers->retry_replaces = false;
		return UM_SESSION_DO_RESTART;
	}
	return UM_SESSION_DO_INITIATE;
}

static unsigned run_tick(struct um_session_timers *timers, uint64_t now, const struct um_session_view *view)
{
	uint64_t interval = timers->tick_interval_ns, last_rx;
	unsigned todo = 0;

	timers->tick_at = now + interval;
	if (!view->up || !view->stats_valid)
		return 0;
	if (view->has_current && view->session_created_ns &&
	    now - view->session_created_ns > 3 * timers->rekey_interval_ns)
		return UM_SESSION_DO_EXPIRE;
	if (!view->has_current)
		return 0;
	if (now - view->last_tx_ns >= interval - interval / 8)
		todo |= UM_SESSION_DO_KEEPALIVE;
	if (view->send_counter >= REKEY_AFTER_MESSAGES)
		return todo | UM_SESSION_DO_INITIATE;
	last_rx = view->last_rx_ns > view->last_handshake_ns ? view->last_rx_ns : view->last_handshake_ns;
	if (view->established && now - last_rx > 3 * interval + UM_NSEC_PER_SEC &&
	    !um_session_timers_retry_armed(timers))
		todo |= UM_SESSION_DO_SUSPECT;
	return todo;
}

unsigned um_session_timers_run(struct um_session_timers *timers, uint64_t now, const struct um_session_view *view)
{
	unsigned todo = 0;

	if (timers->retry_at <= now)
		todo |= run_retry(timers, view);
	if (timers->rekey_at <= now) {
		timers->rekey_at = UM_SESSION_NEVER;
		todo |= UM_SESSION_DO_INITIATE;
	}
	if (timers->tick_at <= now)
		todo |= run_tick(timers, now, view);
	return todo;
}

uint64_t um_session_timers_next_deadline(const struct um_session_timers *timers)
{
	return min_u64(timers->retry_at, min_u64(timers->rekey_at, timers->tick_at));
}
