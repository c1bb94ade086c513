/* SPDX-License-Identifier: MIT */
/* All timer policy of a node, in one place. The rest of the node reports
 * events (um_timers_*); this file decides what happens next and when.
 *
 * Per peer:
 * Of two peers, the one whose peer ID sorts first is "designated": it
 * initiates; the other only falls back, so the two rarely cross handshakes
 * (crossed ones are resolved in node.c: the designated side's session wins).
 *  - retry_timer: starts an initiation. Armed at "up" for peers with an
 *    endpoint: at once if we are designated, otherwise after
 *    UM_TIMERS_DEFER_MS unless a session came up meanwhile (a restarted
 *    node thus reconnects within about a second either way). After a failed
 *    initiation (the engine gave up, having retransmitted inside it) the
 *    next attempt waits 500 ms * 2^n, at most 15 s, plus up to 25% jitter.
 *  - rekey_timer: the designated side starts a new handshake rekey-interval
 *    after the last one; the other side after 1.25x plus 1 s, so it takes
 *    over only when the designated side failed to. The old keys stay as
 *    `previous` in the data plane, so nothing in flight is lost.
 *  - tick_timer: every heartbeat interval (or the peer's keepalive, if
 *    shorter): a keepalive if nothing was sent for that long; expiry of a
 *    session older than 3x rekey-interval (keys wiped, new handshake);
 *    rekey after 2^40 messages under one key; and dead-peer detection: no
 *    packet from an established peer for 3 heartbeats + 1 s means the peer
 *    lost its state (restart) or the path died, so we re-handshake.
 *  - no promotion timer: a responder's new keys wait in `next` until the
 *    initiator's first packet under them (the data plane's NEXT_KEY_USED
 *    event, which has its own ring and is raised again by the next packet
 *    if it could not be queued). Keys are never promoted blindly:
 *    unconfirmed keys can be the losing side of crossed handshakes, which
 *    the peer threw away.
 *  - need-key: the data plane has traffic for a peer without a key: initiate
 *    at once unless one is in flight or started less than a second ago.
 *  - relay ready (uplink.c registered with a relay): peers without a
 *    session and without a working endpoint start as at "up".
 *  - direct timeout: a direct initiation to a peer that a relay could also
 *    reach gets UM_TIMERS_DIRECT_TIMEOUT_MS before the next one goes
 *    through the relay (node.c: one failed direct attempt is enough).
 *  - relay unknown peer (the relay answered our HELLO with "unknown peer":
 *    the peer has not registered yet): a new initiation after 100, 200,
 *    then every 400 ms for the first ~5 s (a peer starting at the same
 *    time registers within a second, later over TLS), then doubling up to
 *    6.4 s, rather than the engine's 1 s retransmissions.
 *
 * RTT (`rtt_us` in status): measured at each key rotation, so refreshed
 * every rekey-interval. As responder: from sending ESTABLISHED to the
 * initiator's first packet under the new keys (the data plane's
 * NEXT_KEY_USED event): one round trip plus a symmetric decryption and a
 * key install on the initiator, i.e. close to the true RTT (slightly above).
 * As initiator we only have the handshake itself: half the time from HELLO
 * to ESTABLISHED (two round trips plus both sides' public-key computation,
 * about 1 ms in a release build), a coarse upper bound used only until a
 * responder-side sample exists, and reported apart (`rtt_bound_us`, shown
 * as "<N ms"). Samples over 1 s (a retransmission) are discarded. Since the
 * designated side always initiates, its peer shows the precise value and it
 * shows the bound until it answers a handshake. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "node/node.h"
#include "util/clock.h"
#include "util/log.h"

#define UM_TIMERS_DEFER_MS 500ULL
#define UM_TIMERS_RETRY_BASE_MS 500ULL
#define UM_TIMERS_RETRY_MAX_MS 15000ULL
#define UM_TIMERS_REKEY_AFTER_MESSAGES (1ULL << 40)
#define UM_TIMERS_NEED_KEY_GAP_NS UM_NSEC_PER_SEC
#define UM_TIMERS_DIRECT_TIMEOUT_MS 3000ULL
#define UM_TIMERS_UNKNOWN_PEER_MS 100ULL
#define UM_TIMERS_UNKNOWN_PEER_FAST 14u /* tries before backing off beyond 400 ms */

static uint64_t ms_to_ns(uint64_t ms)
{
	return ms * UM_NSEC_PER_MSEC;
}

static uint64_t jitter_ms(uint64_t max_ms)
{
	return max_ms ? randombytes_uniform((uint32_t)(max_ms > UINT32_MAX ? UINT32_MAX : max_ms)) : 0;
}

static uint64_t tick_interval_ms(const struct um_node_peer *peer)
{
	uint64_t ms = peer->node->config.heartbeat_ms;

	if (peer->config->keepalive_s && peer->config->keepalive_s * 1000ULL < ms)
		ms = peer->config->keepalive_s * 1000ULL;
	return ms;
}

static void initiate(struct um_node_peer *peer)
{
	if (um_handshake_peer_busy(peer->hs))
		return;
	um_node_initiate(peer);
}

static void on_retry(struct um_loop *loop, struct um_timer *timer)
{
	struct um_node_peer *peer = timer->arg;
	(void)loop;

	if (peer->state == UM_PEER_ESTABLISHED) {
		peer->retry_replaces = false;
		return; /* the peer called first */
	}
	if (peer->retry_replaces) {
		peer->retry_replaces = false;
		if (!peer->attempt_via_relay)
			peer->direct_failures++; /* the direct attempt timed out: relay next */
		um_node_initiate(peer);
		return;
	}
	initiate(peer);
}

static void on_rekey(struct um_loop *loop, struct um_timer *timer)
{
	(void)loop;
	initiate(timer->arg);
}

static void on_tick(struct um_loop *loop, struct um_timer *timer)
{
	struct um_node_peer *peer = timer->arg;
	struct um_node *node = peer->node;
	struct um_dp_peer_stats stats;
	uint64_t now = um_now_ns(), interval_ns = ms_to_ns(tick_interval_ms(peer));

	um_timer_arm_in(loop, timer, interval_ns);
	if (!node->up || um_dataplane_peer_stats(node->dataplane, peer->dp_peer, &stats))
		return;

	if (stats.has_current && peer->session_created_ns &&
	    now - peer->session_created_ns > 3 * ms_to_ns(node->config.rekey_ms)) {
		um_log_info("peer \"%s\": session expired", peer->config->name);
		um_node_clear_session(peer);
		um_peer_set_state(peer, UM_PEER_EXPIRED, "session aged out");
		initiate(peer);
		return;
	}
	if (!stats.has_current)
		return;
	if (now - stats.last_tx_ns >= interval_ns - interval_ns / 8)
		um_dataplane_peer_send_keepalive(node->dataplane, peer->dp_peer);
	if (stats.send_counter >= UM_TIMERS_REKEY_AFTER_MESSAGES) {
		initiate(peer);
		return;
	}
	uint64_t last_rx = stats.last_rx_ns > peer->last_handshake_ns ? stats.last_rx_ns : peer->last_handshake_ns;
	if (peer->state == UM_PEER_ESTABLISHED && now - last_rx > 3 * interval_ns + UM_NSEC_PER_SEC &&
	    !um_timer_armed(&peer->retry_timer)) {
		um_log_info("peer \"%s\": nothing received for %llu ms, handshaking again", peer->config->name,
			    (unsigned long long)((now - last_rx) / UM_NSEC_PER_MSEC));
		/* The session is suspect: show it, and let retries proceed. */
		um_peer_set_state(peer, UM_PEER_HANDSHAKING, "nothing received");
		initiate(peer);
	}
}

void um_timers_peer_init(struct um_node_peer *peer)
{
	um_timer_init(&peer->retry_timer, on_retry, peer);
	um_timer_init(&peer->rekey_timer, on_rekey, peer);
	um_timer_init(&peer->tick_timer, on_tick, peer);
}

void um_timers_peer_cancel(struct um_node_peer *peer)
{
	struct um_loop *loop = peer->node->loop;

	um_timer_cancel(loop, &peer->retry_timer);
	um_timer_cancel(loop, &peer->rekey_timer);
	um_timer_cancel(loop, &peer->tick_timer);
}

void um_timers_up(struct um_node_peer *peer)
{
	struct um_node *node = peer->node;
	struct um_loop *loop = node->loop;

	um_timer_arm_in(loop, &peer->tick_timer, ms_to_ns(tick_interval_ms(peer)));
	if (peer->endpoint.family == 0 && um_uplink_for_peer(node, peer) < 0)
		return; /* wait for the peer to call us, or for a relay */
	um_timer_arm_in(loop, &peer->retry_timer,
			peer->designated ? 0 : ms_to_ns(UM_TIMERS_DEFER_MS + jitter_ms(100)));
}

/* Same policy as "up": the designated side calls at once, the other one a
 * little later unless the session came up meanwhile. Peers with a session,
 * a handshake in flight or a direct endpoint still answering are left alone. */
void um_timers_relay_ready(struct um_node_peer *peer)
{
	struct um_node *node = peer->node;

	if (!node->up || peer->state == UM_PEER_ESTABLISHED || um_handshake_peer_busy(peer->hs) ||
	    um_timer_armed(&peer->retry_timer))
		return;
	if (peer->endpoint.family && peer->direct_failures < 1)
		return;
	um_timer_arm_in(node->loop, &peer->retry_timer,
			peer->designated ? 0 : ms_to_ns(UM_TIMERS_DEFER_MS + jitter_ms(100)));
}

void um_timers_relay_unknown_peer(struct um_node_peer *peer)
{
	unsigned tries = peer->relay_unknown, n;

	if (tries < UM_TIMERS_UNKNOWN_PEER_FAST) {
		n = tries < 2 ? tries : 2;
	} else {
		n = 3 + tries - UM_TIMERS_UNKNOWN_PEER_FAST;
		n = n < 6 ? n : 6;
	}

	if (!peer->node->up || peer->state == UM_PEER_ESTABLISHED || um_timer_armed(&peer->retry_timer))
		return;
	peer->relay_unknown++;
	peer->retry_replaces = true;
	um_timer_arm_in(peer->node->loop, &peer->retry_timer, ms_to_ns((UM_TIMERS_UNKNOWN_PEER_MS << n) + jitter_ms(50)));
}

void um_timers_handshake_initiated(struct um_node_peer *peer)
{
	peer->initiated_ns = um_now_ns();
	um_timer_cancel(peer->node->loop, &peer->retry_timer);
	/* A direct attempt while a relay could carry the handshake: give the
	 * endpoint UM_TIMERS_DIRECT_TIMEOUT_MS, then go through the relay. */
	if (!peer->attempt_via_relay && um_uplink_for_peer(peer->node, peer) >= 0) {
		peer->retry_replaces = true;
		um_timer_arm_in(peer->node->loop, &peer->retry_timer, ms_to_ns(UM_TIMERS_DIRECT_TIMEOUT_MS));
	}
	if (peer->state != UM_PEER_ESTABLISHED)
		um_peer_set_state(peer, UM_PEER_HANDSHAKING, "initiated");
}

void um_timers_handshake_failed(struct um_node_peer *peer)
{
	uint64_t delay = UM_TIMERS_RETRY_BASE_MS << (peer->attempts < 5 ? peer->attempts : 5);

	if (delay > UM_TIMERS_RETRY_MAX_MS)
		delay = UM_TIMERS_RETRY_MAX_MS;
	peer->attempts++;
	if (!peer->node->up)
		return;
	um_timer_arm_in(peer->node->loop, &peer->retry_timer, ms_to_ns(delay + jitter_ms(delay / 4)));
}

void um_timers_session_established(struct um_node_peer *peer)
{
	struct um_node *node = peer->node;
	uint64_t rekey = node->config.rekey_ms;

	peer->attempts = 0;
	peer->relay_unknown = 0;
	peer->retry_replaces = false;
	um_timer_cancel(node->loop, &peer->retry_timer);
	if (!peer->designated)
		rekey = rekey + rekey / 4 + 1000;
	um_timer_arm_in(node->loop, &peer->rekey_timer, ms_to_ns(rekey));
	if (!um_timer_armed(&peer->tick_timer))
		um_timer_arm_in(node->loop, &peer->tick_timer, ms_to_ns(tick_interval_ms(peer)));
}

void um_timers_need_key(struct um_node_peer *peer)
{
	if (um_timer_armed(&peer->retry_timer) || um_now_ns() - peer->initiated_ns < UM_TIMERS_NEED_KEY_GAP_NS)
		return;
	initiate(peer);
}

void um_timers_engine_rearm(struct um_node *node)
{
	uint64_t deadline = um_handshake_next_deadline(node->engine);

	if (deadline == UINT64_MAX)
		um_timer_cancel(node->loop, &node->hs_timer);
	else
		um_timer_arm_at(node->loop, &node->hs_timer, deadline);
}
