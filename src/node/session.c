/* SPDX-License-Identifier: MIT */
/* Sessions (session.h): handshake I/O, key installation, and the glue of
 * the per-peer timer policy (session/timers.h). Moved from node.c (handshake
 * I/O, keys) and node/timers.c (the policy now lives in session/timers.c;
 * what is left here applies its answers). */
#include "node/session.h"

#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>

#include "node/handshake_worker.h"
#include "node/internal.h"
#include "node/path.h"
#include "node/route.h"
#include "node/uplink.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

enum { DRAIN_BATCH = 1024, UM_NODE_DIRECT_TRIES = 1, UM_NODE_CONFIRM_REPEATS = 2 };

/* Crossed handshakes (install_session): the peer's keys waiting in `next`
 * count as the other half of a crossing only when installed this recently.
 * A handshake, retransmissions included, ends well within it; older `next`
 * keys are from an earlier exchange, not from one that crossed ours. */
#define UM_NODE_CROSSED_WINDOW_NS (5 * UM_NSEC_PER_SEC)
/* An initiator gives up on a handshake after 10 s (session/handshake.h):
 * a HELLO older than that did not start the handshake completing now. */
#define UM_NODE_HELLO_WINDOW_NS (10 * UM_NSEC_PER_SEC)

static void session_established(struct um_node_peer *peer);
static void handshake_initiated(struct um_node_peer *peer);
static void handshake_failed(struct um_node_peer *peer);
static void confirm_start(struct um_node_peer *peer, uint64_t now);

static void peer_log_name(const struct um_node_peer *peer, char *out, size_t size)
{
	char id[UM_PEER_ID_SHORT_MAX];

	if (um_peer_id_format_short(&peer->config->id, id, sizeof(id)))
		snprintf(id, sizeof(id), "?");
	snprintf(out, size, "\"%s\" (%s)", peer->config->name, id);
}

/* ---- sending ---- */

/* Sends what the engine left in node->out: through a relay (FORWARD to the
 * peer) when its route tag says so, else straight to out->to. */
static void flush_output(struct um_node *node)
{
	struct um_handshake_output *out = node->out;
	struct sockaddr_storage to;
	size_t slot;
	unsigned uplink;

	if (!out->n_datagrams)
		return;
	if (out->route) {
		if (!um_route_tag_decode(node, out->route, &slot, &uplink)) {
			out->n_datagrams = 0;
			return;
		}
		for (unsigned i = 0; i < out->n_datagrams; i++) {
			int r = um_uplink_forward(node, uplink, &node->peers[slot].config->id, out->datagrams[i],
						  out->lengths[i]);
			if (r)
				um_log_debug("handshake send via relay failed: %s", um_strerror(r));
		}
		out->n_datagrams = 0;
		return;
	}
	int len = um_addr_to_sockaddr(&out->to, &to);
	if (len < 0)
		return;
	for (unsigned i = 0; i < out->n_datagrams; i++) {
		int r = um_dataplane_send_datagram(node->dataplane, (struct sockaddr *)&to, (socklen_t)len,
						   out->datagrams[i], out->lengths[i]);
		if (r)
			um_log_debug("handshake send failed: %s", um_strerror(r));
	}
	out->n_datagrams = 0;
}

/* The route the finished handshake came over. */
static void handshake_route(struct um_node *node, const struct um_handshake_output *out, struct um_route *route)
{
	size_t slot;
	unsigned uplink;

	memset(route, 0, sizeof(*route));
	if (out->peer_route && um_route_tag_decode(node, out->peer_route, &slot, &uplink)) {
		route->kind = node->uplinks[uplink].tls ? UM_ROUTE_RELAY_TCP : UM_ROUTE_RELAY;
		route->uplink = uplink;
		return;
	}
	route->kind = UM_ROUTE_DIRECT;
	route->endpoint = out->peer_endpoint;
}

/* ---- sessions ---- */

void um_node_clear_session(struct um_node_peer *peer)
{
	um_dataplane_peer_clear_keys(peer->node->dataplane, peer->dp_peer);
	peer->setup.has_session = false;
	um_path_session_cleared(peer);
	peer->index_current = peer->index_previous = peer->index_next = peer->index_answered = 0;
	peer->index_superseded = 0;
	peer->path_deferred = false;
	peer->early_receive = false;
	peer->session_created_ns = 0;
}

static bool no_keys(const struct um_node_peer *peer)
{
	return !peer->index_current && !peer->index_previous && !peer->index_next && !peer->index_superseded;
}

/* A first session between us, the peer designated: the keys it initiated
 * are the ones both sides keep, and it can receive under them since its
 * RESPONSE went (early_receive below), so as responder we use them at once
 * instead of holding them in `next` until its first packet, a round trip
 * later (issue 14: the first reply through a relay 160 ms sooner when the
 * responder speaks first). With any keys installed (a rekey, or a crossed
 * session we answered) the usual `next` stays. */
static bool responder_sends_at_once(const struct um_node_peer *peer)
{
	return !peer->designated && no_keys(peer);
}

/* Our RESPONSE is about to go (UM_HS_EVENT_KEYS) on a first session we
 * initiated as the designated side: the peer will send under these keys
 * the moment it has read it (responder_sends_at_once), so they must be
 * installed, for receiving only, before the RESPONSE leaves (installed
 * after it, the peer's first packets raced our control thread: session 11).
 * We still send only after ESTABLISHED confirms them. */
static void early_receive(struct um_node *node, struct um_node_peer *peer)
{
	struct um_handshake_output *out = node->out;

	if (!peer->designated || !no_keys(peer))
		return;
	out->keypair.created_ns = um_now_ns();
	if (um_dataplane_peer_install_receive(node->dataplane, peer->dp_peer, &out->keypair))
		return;
	peer->index_previous = out->keypair.local_index;
	peer->early_receive = true;
}

/* Our initiation failed: the early keys it left carry nothing any more. */
static void early_receive_drop(struct um_node_peer *peer)
{
	if (!peer->early_receive)
		return;
	peer->early_receive = false;
	if (!peer->index_current) {
		um_dataplane_peer_drop_previous(peer->node->dataplane, peer->dp_peer);
		peer->index_previous = peer->index_superseded = 0;
	}
}

/* What the handshake that produced the session took (status: setup_*).
 * As responder we cannot tell when the peer's first HELLO left (HELLO is
 * anonymous, and the first may have been lost): setup counts from the
 * first one we answered from the peer's route (hello_received). */
static void setup_record(struct um_node_peer *peer, bool initiator, uint64_t now)
{
	struct um_node_setup *setup = &peer->setup;

	setup->has_session = true;
	setup->initiator = initiator;
	setup->took_ns = setup->reply_took_ns = UINT64_MAX;
	if (initiator && setup->hello_ns) {
		setup->took_ns = now - setup->hello_ns;
		if (setup->reply_ns)
			setup->reply_took_ns = setup->reply_ns - setup->hello_ns;
	} else if (!initiator && setup->hello_in_ns && now - setup->hello_in_ns <= UM_NODE_HELLO_WINDOW_NS) {
		setup->took_ns = now - setup->hello_in_ns;
	}
	if (!initiator)
		setup->hello_in_ns = 0;
	setup->total_ns = setup->first_ns ? now - setup->first_ns : setup->took_ns;
	setup->took_initiations = setup->initiations;
	if (initiator)
		setup->hello_ns = setup->reply_ns = 0;
	/* Ours still in flight (crossed) counts on. */
	setup->initiations = setup->hello_ns ? 1 : 0;
	setup->first_ns = setup->hello_ns;
}

static void install_session(struct um_node *node, struct um_node_peer *peer)
{
	struct um_handshake_output *out = node->out;
	uint64_t now = um_now_ns(), initiated = peer->timers.initiated_ns;
	struct um_route route;
	char name[96];
	bool as_next = !out->initiator && !responder_sends_at_once(peer);
	bool rotation = peer->session_created_ns != 0;
	/* (Before anything below changes session_initiator: see the path.) */
	bool ours_kept = as_next && peer->designated && peer->session_initiator &&
			 now - peer->session_created_ns < UM_NODE_CROSSED_WINDOW_NS;

	peer_log_name(peer, name, sizeof(name));
	/* Crossed handshakes: both sides initiated at once. The session the
	 * designated side (lower peer ID) initiated wins on both sides; we
	 * are not it, and we already hold its keys in `next`, so ours goes. */
	if (out->initiator && !peer->designated && peer->index_answered &&
	    (peer->index_answered == peer->index_next || peer->index_answered == peer->index_current) &&
	    now - peer->next_installed_ns < UM_NODE_CROSSED_WINDOW_NS) {
		um_log_debug("peer %s: crossed handshakes, keeping the peer's session", name);
		peer->setup.hello_ns = peer->setup.reply_ns = 0; /* ours is over; the setup_* are the peer's */
		session_established(peer);
		return;
	}
	out->keypair.created_ns = now;
	/* Our early receive-only copy of exactly these keys becomes current
	 * (never installed twice: that would restart its nonces); other keys
	 * (the responder took our other form of RESPONSE) are installed, which
	 * retires the copy. */
	int r = -UM_ESTATE;
	if (out->initiator && peer->early_receive && peer->index_previous == out->keypair.local_index &&
	    (r = um_dataplane_peer_promote_receive(node->dataplane, peer->dp_peer, &out->keypair)) == 0)
		peer->index_previous = 0; /* the data plane moved it to current; a pending next goes to previous */
	if (r)
		r = um_dataplane_peer_install_keypair(node->dataplane, peer->dp_peer, &out->keypair, as_next);
	if (!as_next)
		peer->early_receive = false; /* promoted, or retired by the install */
	if (r) {
		um_log_error("peer %s: installing keys failed: %s", name, um_strerror(r));
		return;
	}
	/* The responder's keys wait in `next` until the initiator uses them:
	 * until then the old current keeps carrying our traffic. */
	if (!out->initiator) {
		peer->index_answered = out->keypair.local_index;
		peer->next_installed_ns = now;
	}
	if (as_next) {
		peer->index_next = out->keypair.local_index;
	} else {
		/* The data plane demotes a pending `next` to `previous` (it stays
		 * accepted), otherwise the old current; mirror what it keeps. */
		peer->index_superseded = peer->index_next ? peer->index_current : 0;
		peer->index_previous = peer->index_next ? peer->index_next : peer->index_current;
		peer->index_current = out->keypair.local_index;
		peer->index_next = 0;
		peer->session_created_ns = now;
	}
	if (out->initiator && initiated && now - initiated < UM_NSEC_PER_SEC &&
	    (!peer->rtt_ns || peer->rtt_from_handshake)) {
		peer->rtt_ns = (now - initiated) / 2;
		peer->rtt_from_handshake = true;
	}
	peer->session_initiator = out->initiator;
	setup_record(peer, out->initiator, now);
	/* Sending at once, there is no `next` whose confirmation times a round
	 * trip: HELLO in to RESPONSE in is one, plus both sides' crypto. */
	if (!out->initiator && !as_next && peer->setup.took_ns < UM_NSEC_PER_SEC && !peer->rtt_ns) {
		peer->rtt_ns = peer->setup.took_ns;
		peer->rtt_from_handshake = true;
	}
	handshake_route(node, out, &route);
	um_peer_route_set(peer, &route, UM_ROUTE_WHY_HANDSHAKE);
	/* Handshakes crossed and we are the designated side: the peer keeps
	 * the session we initiated, so the one we just answered waits unused
	 * in `next`;
	 * the direct path stays keyed to ours (switching it made both sides
	 * probe under different keys: "direct path silent"). Should the peer
	 * use it after all (it restarted), promote_next starts a new one. */
	peer->path_deferred = ours_kept;
	if (ours_kept)
		um_log_debug("peer %s: crossed handshakes, the peer keeps ours", name);
	else
		um_path_session_installed(peer, &out->keypair);
	peer->last_handshake_ns = now;
	peer->handshakes++;
	if (rotation)
		peer->rekeys++;
	if (peer->state != UM_PEER_ESTABLISHED || !rotation)
		um_log_info("peer %s: session established (%s)", name, out->initiator ? "initiator" : "responder");
	else
		um_log_debug("peer %s: keys rotated (%s)", name, out->initiator ? "initiator" : "responder");
	um_peer_set_state(peer, UM_PEER_ESTABLISHED, "keys installed");
	/* Confirm the new keys at once so the responder promotes them. */
	if (out->initiator) {
		um_dataplane_peer_send_keepalive(node->dataplane, peer->dp_peer);
		confirm_start(peer, now);
	}
	session_established(peer);
	if (!as_next && node->hooks.session_up)
		node->hooks.session_up(peer);
}

static void handle_output(struct um_node *node)
{
	struct um_handshake_output *out = node->out;
	struct um_node_peer *peer = out->peer_user;

	/* Keys first, then the datagrams: as responder the datagram is our
	 * ESTABLISHED, and the initiator starts sending under the new keys the
	 * moment it arrives, so they must already be installed. */
	if (out->event == UM_HS_EVENT_KEYS && peer && node->up)
		early_receive(node, peer); /* before our RESPONSE leaves */
	/* A responder sending at once: ESTABLISHED goes ahead of our first
	 * packets, whose keys the initiator holds since its RESPONSE. */
	bool established = out->event == UM_HS_EVENT_ESTABLISHED && peer && node->up;
	bool keys_after = established && !out->initiator && responder_sends_at_once(peer);
	if (established && !keys_after)
		install_session(node, peer);
	flush_output(node);
	if (keys_after)
		install_session(node, peer);
	if (out->event == UM_HS_EVENT_FAILED && peer) {
		char name[96];
		peer_log_name(peer, name, sizeof(name));
		um_log_info("peer %s: handshake timed out%s", name, peer->attempt_via_relay ? " (via relay)" : "");
		if (!peer->attempt_via_relay)
			um_peer_route_set(peer, &(struct um_route){0}, UM_ROUTE_WHY_DIRECT_FAILED);
		peer->setup.hello_ns = peer->setup.reply_ns = 0;
		early_receive_drop(peer);
		handshake_failed(peer);
	}
	um_handshake_output_wipe(out);
}

/* What the handshake engine may assume for the round trip until it has
 * measured one itself (session/handshake.h): the peer's RTT from the data
 * plane or an earlier handshake; through a relay at least twice our
 * keepalive RTT to it (the relay's leg to the peer is not known: assumed
 * alike). 0 = nothing known (the engine's initial 1 s). */
static uint64_t handshake_rtt_hint(const struct um_node_peer *peer, int uplink)
{
	uint64_t hint = peer->rtt_ns;
	if (uplink >= 0) {
		uint64_t relay = 2 * um_uplink_rtt_ns(peer->node, (unsigned)uplink);
		hint = relay > hint ? relay : hint;
	}
	return hint;
}

int um_node_initiate(struct um_node_peer *peer)
{
	struct um_node *node = peer->node;
	struct um_addr to;
	uint32_t route = 0;
	int uplink = um_uplink_for_peer(node, peer);

	if (!node->up)
		return -UM_ESTATE;
	/* Direct while the endpoint answers (or no relay is there to help);
	 * through a relay after UM_NODE_DIRECT_TRIES timeouts or without one. */
	if (peer->endpoint.family && (peer->direct_failures < UM_NODE_DIRECT_TRIES || uplink < 0)) {
		to = peer->endpoint;
		peer->attempt_via_relay = false;
	} else if (uplink >= 0) {
		to = node->uplinks[uplink].addr;
		route = um_route_tag((size_t)(peer - node->peers), (unsigned)uplink);
		peer->attempt_via_relay = true;
	} else {
		return -UM_ESTATE;
	}
	um_handshake_peer_set_rtt_hint(peer->hs, handshake_rtt_hint(peer, route ? uplink : -1));
	struct um_handshake_time now = um_handshake_time_now();
	int r = um_handshake_initiate_via(node->engine, peer->hs, &to, route, now, node->out);
	if (r) {
		um_handshake_output_wipe(node->out);
		return r;
	}
	/* A new handshake (the engine dropped any in flight): setup time
	 * counts from its first HELLO, retransmissions included. */
	peer->setup.hello_ns = now.mono_ns;
	peer->setup.reply_ns = 0;
	if (!peer->setup.initiations++)
		peer->setup.first_ns = now.mono_ns;
	handshake_initiated(peer);
	handle_output(node);
	um_session_engine_rearm(node);
	return 0;
}

/* ---- receiving ---- */

void um_node_promote_next(struct um_node_peer *peer, bool confirmed)
{
	uint64_t now = um_now_ns();

	if (!peer->index_next || um_dataplane_peer_promote_next(peer->node->dataplane, peer->dp_peer))
		return;
	/* ESTABLISHED out, the initiator's first packet under the new keys
	 * back: one round trip plus a symmetric decryption (see session.h). */
	if (confirmed && now - peer->next_installed_ns < UM_NSEC_PER_SEC) {
		peer->rtt_ns = now - peer->next_installed_ns;
		peer->rtt_from_handshake = false;
	}
	peer->index_superseded = 0;
	peer->index_previous = peer->index_current;
	peer->index_current = peer->index_next;
	peer->index_next = 0;
	peer->early_receive = false; /* an early copy in previous was retired */
	peer->session_created_ns = now;
	if (peer->path_deferred) {
		/* The crossed session we thought the peer would drop is in use
		 * (it restarted): the direct path has no keys for it, a new
		 * handshake gives it some. */
		peer->path_deferred = false;
		um_node_initiate(peer);
	}
}

/* A HELLO the engine answered (rate limits passed: no flood gets here):
 * whose it is shows only in where it came from, the peer's relay route
 * or its known endpoint. The first of a handshake starts its setup time. */
static void hello_received(struct um_node *node, const struct um_addr *from, uint32_t route, uint64_t now)
{
	struct um_node_peer *peer = NULL;
	size_t slot;
	unsigned uplink;

	if (route) {
		if (um_route_tag_decode(node, route, &slot, &uplink))
			peer = &node->peers[slot];
	} else {
		for (size_t i = 0; i < node->n_peers && !peer; i++)
			if (um_addr_equal(&node->peers[i].endpoint, from))
				peer = &node->peers[i];
	}
	if (peer && (!peer->setup.hello_in_ns || now - peer->setup.hello_in_ns > UM_NODE_HELLO_WINDOW_NS))
		peer->setup.hello_in_ns = now;
}

void um_node_handshake_input(struct um_node *node, const struct um_addr *from, uint32_t route, const uint8_t *data,
			     size_t len)
{
	struct um_handshake_time now = um_handshake_time_now();
	int r = um_handshake_receive_via(node->engine, from, route, data, len, now, node->out);
	struct um_node_peer *peer = node->out->peer_user;

	if (r) {
		um_handshake_output_wipe(node->out);
		return; /* counted by the engine's stats */
	}
	if (len && data[0] == UM_MSG_HELLO && (node->out->n_datagrams || node->out->work))
		hello_received(node, from, route, now.mono_ns);
	/* The engine names the peer only for an answer to our initiation (a
	 * cookie reply, a whole CHALLENGE, ESTABLISHED) or for the RESPONSE
	 * that completes the peer's (an ESTABLISHED event as responder). */
	if (peer && peer->setup.hello_ns && !peer->setup.reply_ns &&
	    (node->out->event == UM_HS_EVENT_NONE || node->out->event == UM_HS_EVENT_KEYS ||
	     (node->out->event == UM_HS_EVENT_ESTABLISHED && node->out->initiator)))
		peer->setup.reply_ns = now.mono_ns;
	/* A CHALLENGE to sign: the worker does it, on_worker sends it. */
	struct um_handshake_work *work = node->out->work;
	if (work && (!node->hs_worker || um_handshake_worker_submit(node->hs_worker, work))) {
		um_handshake_work_run(work); /* no worker or it is full: here */
		um_handshake_work_finish(node->engine, work, um_handshake_time_now(), node->out);
	}
	handle_output(node);
}

/* The worker finished CHALLENGEs: send them (or drop stale ones). */
static void on_worker(struct um_loop *loop, struct um_watch *watch, uint32_t events)
{
	struct um_node *node = watch->arg;
	struct um_handshake_work *work;
	(void)loop;
	(void)events;

	while ((work = um_handshake_worker_take(node->hs_worker))) {
		if (um_handshake_work_finish(node->engine, work, um_handshake_time_now(), node->out) == 0)
			handle_output(node);
		else
			um_handshake_output_wipe(node->out);
	}
	um_session_engine_rearm(node);
}

int um_session_worker_start(struct um_node *node, unsigned capacity)
{
	int r = um_handshake_worker_new(&node->hs_worker, capacity);

	if (r)
		return r;
	node->hs_worker_watch = (struct um_watch){
	    .fd = um_handshake_worker_fd(node->hs_worker), .events = EPOLLIN, .fn = on_worker, .arg = node};
	if ((r = um_loop_add(node->loop, &node->hs_worker_watch))) {
		um_handshake_worker_free(node->hs_worker);
		node->hs_worker = NULL;
	}
	return r;
}

void um_session_worker_stop(struct um_node *node)
{
	if (!node->hs_worker)
		return;
	um_loop_remove(node->loop, &node->hs_worker_watch);
	um_handshake_worker_free(node->hs_worker);
	node->hs_worker = NULL;
}

void um_session_engine_timer(struct um_loop *loop, struct um_timer *timer)
{
	struct um_node *node = timer->arg;
	(void)loop;

	for (unsigned i = 0; i < DRAIN_BATCH && um_handshake_tick(node->engine, um_handshake_time_now(), node->out) > 0;
	     i++)
		handle_output(node);
	um_handshake_output_wipe(node->out);
	um_session_engine_rearm(node);
}

void um_session_engine_rearm(struct um_node *node)
{
	uint64_t deadline = um_handshake_next_deadline(node->engine);

	if (deadline == UINT64_MAX)
		um_timer_cancel(node->loop, &node->hs_timer);
	else
		um_timer_arm_at(node->loop, &node->hs_timer, deadline);
}

/* ---- the timer policy's glue ---- */

static void rearm(struct um_node_peer *peer)
{
	uint64_t deadline = um_session_timers_next_deadline(&peer->timers);

	if (deadline == UINT64_MAX)
		um_timer_cancel(peer->node->loop, &peer->session_timer);
	else
		um_timer_arm_at(peer->node->loop, &peer->session_timer, deadline);
}

/* Unless a handshake is in flight. */
static void initiate(struct um_node_peer *peer)
{
	if (um_handshake_peer_busy(peer->hs))
		return;
	um_node_initiate(peer);
}

static void view_of(struct um_node_peer *peer, struct um_session_view *view)
{
	struct um_node *node = peer->node;
	struct um_dp_peer_stats stats;

	memset(view, 0, sizeof(*view));
	view->up = node->up;
	view->established = peer->state == UM_PEER_ESTABLISHED;
	view->session_created_ns = peer->session_created_ns;
	view->last_handshake_ns = peer->last_handshake_ns;
	if (!node->up || um_dataplane_peer_stats(node->dataplane, peer->dp_peer, &stats))
		return;
	view->stats_valid = true;
	view->has_current = stats.has_current;
	view->last_tx_ns = stats.last_tx_ns;
	view->last_rx_ns = stats.last_rx_ns;
	view->send_counter = stats.send_counter;
}

static void on_timer(struct um_loop *loop, struct um_timer *timer)
{
	struct um_node_peer *peer = timer->arg;
	struct um_session_view view;
	uint64_t now = um_now_ns();
	unsigned todo;
	(void)loop;

	view_of(peer, &view);
	todo = um_session_timers_run(&peer->timers, now, &view);
	if (todo & UM_SESSION_DO_EXPIRE) {
		um_log_info("peer \"%s\": session expired", peer->config->name);
		um_node_clear_session(peer);
		um_peer_set_state(peer, UM_PEER_EXPIRED, "session aged out");
		initiate(peer);
	}
	if (todo & UM_SESSION_DO_KEEPALIVE)
		um_dataplane_peer_send_keepalive(peer->node->dataplane, peer->dp_peer);
	if (todo & UM_SESSION_DO_RESTART) {
		if (!peer->attempt_via_relay) /* the direct attempt timed out: relay next */
			um_peer_route_set(peer, &(struct um_route){0}, UM_ROUTE_WHY_DIRECT_FAILED);
		um_node_initiate(peer);
	} else if (todo & UM_SESSION_DO_INITIATE) {
		initiate(peer);
	}
	if (todo & UM_SESSION_DO_SUSPECT) {
		uint64_t last_rx = view.last_rx_ns > view.last_handshake_ns ? view.last_rx_ns : view.last_handshake_ns;
		um_log_info("peer \"%s\": nothing received for %llu ms, handshaking again", peer->config->name,
			    (unsigned long long)((now - last_rx) / UM_NSEC_PER_MSEC));
		/* The session is suspect: show it, and let retries proceed. */
		um_peer_set_state(peer, UM_PEER_HANDSHAKING, "nothing received");
		initiate(peer);
	}
	rearm(peer);
}

/* ---- confirming a session we initiated ---- */

/* A responder holds new keys in `next` until the initiator's first packet
 * under them arrives; on a first session it has nothing else to send with,
 * and its own need-key initiation is held back for a second after its
 * last one (session/timers.h), so a lost confirming keepalive stalled it
 * until our next heartbeat keepalive (~13 s). The keepalive is repeated
 * twice, two handshake RTTs apart (100 ms .. 1 s), until the peer is heard
 * from after the install: a few dozen bytes per handshake. */
static uint64_t confirm_interval(const struct um_node_peer *peer)
{
	struct um_handshake_peer_timing timing;
	uint64_t interval = 250 * UM_NSEC_PER_MSEC;

	um_handshake_peer_get_timing(peer->hs, &timing);
	if (timing.samples)
		interval = 2 * timing.srtt_ns;
	if (interval < 100 * UM_NSEC_PER_MSEC)
		return 100 * UM_NSEC_PER_MSEC;
	return interval > UM_NSEC_PER_SEC ? UM_NSEC_PER_SEC : interval;
}

static void confirm_start(struct um_node_peer *peer, uint64_t now)
{
	peer->confirm_left = UM_NODE_CONFIRM_REPEATS;
	peer->confirm_index = peer->index_current;
	um_timer_arm_at(peer->node->loop, &peer->confirm_timer, now + confirm_interval(peer));
}

static void on_confirm(struct um_loop *loop, struct um_timer *timer)
{
	struct um_node_peer *peer = timer->arg;
	struct um_node *node = peer->node;
	struct um_dp_peer_stats stats;
	(void)loop;

	if (!node->up || !peer->confirm_left || peer->index_current != peer->confirm_index ||
	    um_dataplane_peer_stats(node->dataplane, peer->dp_peer, &stats))
		return;
	if (stats.last_rx_ns >= peer->session_created_ns)
		return; /* heard from since: the keys are in use */
	um_dataplane_peer_send_keepalive(node->dataplane, peer->dp_peer);
	if (--peer->confirm_left)
		um_timer_arm_at(node->loop, &peer->confirm_timer, um_now_ns() + confirm_interval(peer));
}

void um_session_peer_init(struct um_node_peer *peer)
{
	const struct um_config *c = &peer->node->config;
	uint64_t tick_ms = c->heartbeat_ms;

	if (peer->config->keepalive_s && peer->config->keepalive_s * 1000ULL < tick_ms)
		tick_ms = peer->config->keepalive_s * 1000ULL;
	um_session_timers_init(&peer->timers, tick_ms * UM_NSEC_PER_MSEC, c->rekey_ms * UM_NSEC_PER_MSEC,
			       peer->designated);
	um_timer_init(&peer->session_timer, on_timer, peer);
	um_timer_init(&peer->confirm_timer, on_confirm, peer);
}

void um_session_peer_down(struct um_node_peer *peer)
{
	um_session_timers_down(&peer->timers);
	peer->timers.attempts = 0;
	um_timer_cancel(peer->node->loop, &peer->session_timer);
	um_timer_cancel(peer->node->loop, &peer->confirm_timer);
	peer->confirm_left = 0;
}

void um_session_up(struct um_node_peer *peer)
{
	bool reachable = peer->endpoint.family || um_uplink_for_peer(peer->node, peer) >= 0;

	um_session_timers_up(&peer->timers, um_now_ns(), reachable);
	rearm(peer);
}

void um_session_relay_ready(struct um_node_peer *peer)
{
	um_session_timers_relay_ready(&peer->timers, um_now_ns(), peer->node->up, peer->state == UM_PEER_ESTABLISHED,
				      um_handshake_peer_busy(peer->hs),
				      peer->endpoint.family && peer->direct_failures < 1);
	rearm(peer);
}

void um_session_relay_unknown_peer(struct um_node_peer *peer)
{
	um_session_timers_relay_unknown_peer(&peer->timers, um_now_ns(), peer->node->up,
					     peer->state == UM_PEER_ESTABLISHED);
	rearm(peer);
}

static void handshake_initiated(struct um_node_peer *peer)
{
	um_session_timers_initiated(&peer->timers, um_now_ns(), peer->attempt_via_relay,
				    um_uplink_for_peer(peer->node, peer) >= 0);
	if (peer->state != UM_PEER_ESTABLISHED)
		um_peer_set_state(peer, UM_PEER_HANDSHAKING, "initiated");
	rearm(peer);
}

static void handshake_failed(struct um_node_peer *peer)
{
	um_session_timers_failed(&peer->timers, um_now_ns(), peer->node->up);
	rearm(peer);
}

/* Either role (initiator or responder): the rekey period follows `designated`. */
static void session_established(struct um_node_peer *peer)
{
	um_session_timers_established(&peer->timers, um_now_ns());
	rearm(peer);
}

void um_session_need_key(struct um_node_peer *peer)
{
	if (um_session_timers_need_key(&peer->timers, um_now_ns()) & UM_SESSION_DO_INITIATE)
		initiate(peer);
	rearm(peer);
}
