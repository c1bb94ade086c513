/* SPDX-License-Identifier: MIT */
/* The per-peer session timer policy: when to initiate, retry, rekey, send a
 * keepalive, expire a session or suspect a dead peer. I/O free, like the
 * handshake engine: the node reports events and the clock, asks for the next
 * deadline, and on reaching it calls um_session_timers_run(), which says what
 * to do (a set of UM_SESSION_DO_* bits). No timers, sockets or globals here;
 * one struct per peer, owned by the caller.
 *
 * The policy (moved unchanged from node/timers.c; node/session.c applies it):
 * Of two peers, the one whose peer ID sorts first is "designated": it
 * initiates; the other only falls back, so the two rarely cross handshakes.
 *  - retry: armed at "up" for peers that can be reached (an endpoint or a
 *    relay): at once if designated, otherwise after 500 ms + up to 100 ms of
 *    jitter unless a session came up meanwhile. After a failed initiation
 *    (the engine gave up, having retransmitted inside it) the next attempt
 *    waits 500 ms * 2^n, at most 15 s, plus up to 25% jitter.
 *  - rekey: the designated side starts a new handshake rekey-interval after
 *    the last one; the other side after 1.25x plus 1 s, so it takes over only
 *    when the designated side failed to.
 *  - tick: every heartbeat (or the peer's keepalive, if shorter): a keepalive
 *    if nothing was sent for 7/8 of that; expiry of a session older than 3x
 *    rekey-interval; a rekey after 2^40 messages under one key; and dead-peer
 *    detection: nothing from an established peer for 3 ticks + 1 s means the
 *    peer lost its state or the path died, so we handshake again.
 *  - need-key: traffic for a peer without a key initiates at once unless a
 *    retry is pending or an initiation started less than a second ago.
 *  - relay ready: peers without a session and without a working endpoint
 *    start as at "up".
 *  - direct timeout: a direct initiation to a peer that a relay could also
 *    reach gets 3 s before the next one goes through the relay (the retry
 *    then replaces the attempt in flight: UM_SESSION_DO_RESTART).
 *  - relay unknown peer (the relay answered our HELLO with "unknown peer":
 *    the peer has not registered yet): a new initiation after 100, then
 *    every 200 ms for the first ~2.7 s, then 400 ms doubling up to 6.4 s, rather than
 *    the engine's own retransmissions (an RTO of at least 200 ms, 1 s
 *    before any RTT sample). */
#ifndef UM_SESSION_TIMERS_H
#define UM_SESSION_TIMERS_H

#include <stdbool.h>
#include <stdint.h>

#define UM_SESSION_NEVER UINT64_MAX

enum {
	UM_SESSION_DO_INITIATE = 1u << 0,  /* start a handshake unless one is in flight */
	UM_SESSION_DO_RESTART = 1u << 1,   /* the attempt in flight timed out: count a
					    * direct failure if it was direct, and start
					    * a new one even though one is in flight */
	UM_SESSION_DO_EXPIRE = 1u << 2,    /* the session aged out: wipe its keys, then initiate */
	UM_SESSION_DO_SUSPECT = 1u << 3,   /* nothing heard for too long: handshaking again */
	UM_SESSION_DO_KEEPALIVE = 1u << 4, /* nothing sent for a tick: send a keepalive */
};

/* What the node knows of the peer when a deadline is reached. */
struct um_session_view {
	bool up;                         /* the node is up */
	bool established;                /* a current session (state established) */
	bool has_current;                /* the data plane holds a current keypair */
	uint64_t session_created_ns;     /* of the current keypair; 0 = none */
	uint64_t last_handshake_ns;      /* any completed handshake; 0 = never */
	uint64_t last_tx_ns, last_rx_ns; /* data plane, CLOCK_MONOTONIC */
	uint64_t send_counter;           /* messages sent under the current key */
	bool stats_valid;                /* the fields above from has_current on are known */
};

struct um_session_timers {
	/* Set by um_session_timers_init; may be changed between calls. */
	uint64_t tick_interval_ns;
	uint64_t rekey_interval_ns;
	bool designated;
	/* Jitter source: a uniform value in [0, upper). NULL = libsodium's. */
	uint32_t (*random_below)(uint32_t upper);

	/* Deadlines, CLOCK_MONOTONIC ns; UM_SESSION_NEVER = not armed. */
	uint64_t retry_at, rekey_at, tick_at;
	bool retry_replaces;    /* the retry restarts a handshake in flight */
	unsigned attempts;      /* failed initiations in a row (backoff) */
	unsigned relay_unknown; /* "unknown peer" answers in a row (backoff) */
	uint64_t initiated_ns;  /* when our last HELLO went out; 0 = never */
};

void um_session_timers_init(struct um_session_timers *timers, uint64_t tick_interval_ns, uint64_t rekey_interval_ns,
			    bool designated);

/* The node went up; reachable: the peer has an endpoint or a relay. */
void um_session_timers_up(struct um_session_timers *timers, uint64_t now, bool reachable);
/* The node went down (or the peer is removed): nothing is armed. */
void um_session_timers_down(struct um_session_timers *timers);
/* A relay became usable. busy: a handshake is in flight; endpoint_working:
 * a direct endpoint is known and has not failed. */
void um_session_timers_relay_ready(struct um_session_timers *timers, uint64_t now, bool up, bool established, bool busy,
				   bool endpoint_working);
/* The relay answered our HELLO with "unknown peer". */
void um_session_timers_relay_unknown_peer(struct um_session_timers *timers, uint64_t now, bool up, bool established);
/* Our HELLO went out; relay_available: a relay could carry the next one. */
void um_session_timers_initiated(struct um_session_timers *timers, uint64_t now, bool via_relay, bool relay_available);
/* The engine gave up on our initiation. */
void um_session_timers_failed(struct um_session_timers *timers, uint64_t now, bool up);
/* A session came up (either role). */
void um_session_timers_established(struct um_session_timers *timers, uint64_t now);
/* The data plane has traffic for the peer and no key: UM_SESSION_DO_INITIATE or 0. */
unsigned um_session_timers_need_key(struct um_session_timers *timers, uint64_t now);

/* Every deadline at or before now: re-arms what repeats and returns what to
 * do (UM_SESSION_DO_* bits; 0 = nothing). view describes the peer now. */
unsigned um_session_timers_run(struct um_session_timers *timers, uint64_t now, const struct um_session_view *view);
/* The earliest armed deadline, UINT64_MAX when none. */
uint64_t um_session_timers_next_deadline(const struct um_session_timers *timers);
static inline bool um_session_timers_retry_armed(const struct um_session_timers *timers)
{
	return timers->retry_at != UM_SESSION_NEVER;
}

#endif
