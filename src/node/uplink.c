/* SPDX-License-Identifier: MIT */
/* Uplinks: glue between the relay client engine (relay/client.h: REGISTER,
 * keepalives, RTT, home and backup, standby, re-registration, the wss://
 * fallback policy) and this node: its datagrams go out on the data plane's
 * socket (a wss:// uplink's to its loopback proxy, uplink_stream.c), one
 * timer follows the engine's deadline, and its events reach the peers
 * (through the hooks node.c installs: session.c) and the log.
 *
 * Relay path: a peer without endpoint (or whose endpoint stopped answering)
 * is reached by wrapping handshake datagrams in FORWARD to the uplink; the
 * data plane then carries DATA the same way (um_dataplane_peer_set_relay).
 * FORWARDs name the peer by its routing handle at that relay (asked for
 * with a sealed LOOKUP, or announced by the relay), never by its ID; a
 * datagram for a peer whose handle is still unknown waits for it. A peer
 * not registered at our home relay is "unknown" there: it then moves to
 * the next registered uplink. */
#include "node/uplink.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/internal.h"
#include "node/route.h"
#include "node/uplink_wait.h"
#include "relay/transport.h"
#include "util/addr.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

_Static_assert((int)UM_CONFIG_RELAYS_MAX <= (int)UM_RELAY_CLIENT_MAX_UPLINKS, "one engine uplink per relay = line");

struct um_uplinks_engine {
	struct um_relay_client client;
	struct um_relay_client_output out; /* tick scratch (large) */
	struct um_timer timer;             /* at the engine's deadline */
	bool draining;                     /* in drain(): nested calls leave the work to it */
	/* Routing handles (wire/relay.h), [uplink * n_peers + peer]: what each
	 * relay calls each peer in our registration (0 = not known yet), and
	 * when we last asked. */
	uint64_t *handles, *asked_ns;
	size_t n_peers;
	struct um_uplink_wait **waiting; /* n_peers, NULL = nothing waits */
	uint64_t resolve_ns[UM_RELAY_CLIENT_MAX_UPLINKS];
	/* The transport policy (relay/transport.h): when the wss:// uplinks
	 * open, and when traffic moves back to UDP. move_to[peer]: the uplink
	 * the peer moves to once its handle there is known (-1 = none). */
	struct um_relay_transport policy;
	int *move_to;
};

#define ASK_GAP_NS     UM_NSEC_PER_SEC /* LOOKUP per (relay, peer) at most, RESOLVE per relay */
#define ASK_GAP_MIN_NS (200 * UM_NSEC_PER_MSEC)

static void drain(struct um_node *node);

int um_uplink_find(const struct um_node *node, const struct um_addr *addr)
{
	for (size_t i = 0; i < node->n_uplinks; i++)
		if (um_addr_equal(&node->uplinks[i].addr, addr))
			return (int)i;
	return -1;
}

int um_uplink_for_peer(const struct um_node *node, const struct um_node_peer *peer)
{
	const struct um_relay_client *client = node->uplinks_engine ? &node->uplinks_engine->client : NULL;

	if (!client)
		return -1;
	if (peer->relay >= 0 && um_relay_client_usable(client, (unsigned)peer->relay))
		return peer->relay;
	return client->home;
}

static void send_to(struct um_node_uplink *u, const uint8_t *data, size_t len)
{
	struct sockaddr_storage to;
	int to_len = um_addr_to_sockaddr(&u->addr, &to);
	int r = to_len < 0 ? to_len
			   : um_dataplane_send_datagram(u->node->dataplane, (struct sockaddr *)&to, (socklen_t)to_len,
							data, len);
	if (r)
		um_log_debug("relay %u: send failed: %s", u->index, um_strerror(r));
}

static size_t peer_slot(const struct um_node *node, const struct um_node_peer *peer)
{
	return (size_t)(peer - node->peers);
}

uint64_t um_uplink_handle(struct um_node *node, unsigned uplink, const struct um_node_peer *peer)
{
	struct um_uplinks_engine *e = node->uplinks_engine;
	if (!e || uplink >= node->n_uplinks || peer_slot(node, peer) >= e->n_peers)
		return 0;
	size_t k = uplink * e->n_peers + peer_slot(node, peer);
	if (e->handles[k])
		return e->handles[k];
	/* A LOOKUP or its answer lost: asked again after 3 relay RTTs, not
	 * a second (issue 14: ~8% of LOOKUPs at 2% loss per link). */
	uint64_t now = um_now_ns(), gap = 3 * um_uplink_rtt_ns(node, uplink);
	gap = gap < ASK_GAP_MIN_NS ? ASK_GAP_MIN_NS : gap > ASK_GAP_NS ? ASK_GAP_NS : gap;
	if (!e->asked_ns[k] || now - e->asked_ns[k] >= gap) {
		if (um_relay_client_lookup(&e->client, uplink, &peer->config->id) == 0) {
			um_log_debug("relay %u: asking for the handle of peer \"%s\"", uplink, peer->config->name);
			e->asked_ns[k] = now;
			drain(node);
		}
	}
	return 0;
}

struct um_node_peer *um_uplink_peer_by_route(struct um_node *node, unsigned uplink, const uint8_t route[32])
{
	struct um_uplinks_engine *e = node->uplinks_engine;
	struct um_peer_id field;
	uint64_t handle;

	memcpy(field.bytes, route, sizeof(field.bytes));
	if (!e || uplink >= node->n_uplinks || um_relay_route_handle(&field, &handle) < 0)
		return NULL;
	for (size_t i = 0; i < e->n_peers; i++)
		if (e->handles[uplink * e->n_peers + i] == handle)
			return &node->peers[i];
	/* Its ANNOUNCE was lost (or not sent yet): ask, at most once a second. */
	uint64_t now = um_now_ns();
	if (now - e->resolve_ns[uplink] >= ASK_GAP_NS && um_relay_client_resolve(&e->client, uplink, handle) == 0) {
		e->resolve_ns[uplink] = now;
		drain(node);
	}
	return NULL;
}

static void send_forward(struct um_node *node, unsigned uplink, uint64_t handle, const uint8_t *payload, size_t len)
{
	uint8_t buf[UM_RELAY_MAX_DATAGRAM];
	struct um_relay_forward m = {.payload = payload, .payload_len = len};

	um_relay_route_set(&m.peer, handle);
	int n = um_relay_forward_encode(buf, sizeof(buf), UM_MSG_RELAY_FORWARD, &m);
	if (n > 0)
		send_to(&node->uplinks[uplink], buf, (size_t)n);
}

int um_uplink_forward(struct um_node *node, unsigned uplink, const struct um_peer_id *dest, const uint8_t *payload,
		      size_t len)
{
	struct um_node_peer *peer = um_node_peer_find(node, dest);
	struct um_uplinks_engine *e = node->uplinks_engine;

	if (uplink >= node->n_uplinks || !peer || !e)
		return -UM_EINVAL;
	if (len == 0 || len > UM_RELAY_MAX_PAYLOAD)
		return -UM_EINVAL;
	uint64_t handle = um_uplink_handle(node, uplink, peer);
	if (handle) {
		send_forward(node, uplink, handle, payload, len);
		return 0;
	}
	/* Sent when the relay tells us the handle (node/uplink_wait.h). */
	return um_uplink_wait_push(&e->waiting[peer_slot(node, peer)], uplink, payload, len);
}

/* ---- moves between transports (the policy's USE_UDP / USE_STREAM) ---- */

/* The peer's handle at uplink is known: its data and handshakes go there
 * now. The session stays (no handshake): only the FORWARD header and the
 * relay address change. */
static void finish_move(struct um_node *node, struct um_node_peer *peer, unsigned uplink)
{
	struct um_uplinks_engine *e = node->uplinks_engine;
	size_t slot = peer_slot(node, peer);
	bool to_tls = node->uplinks[uplink].tls;

	e->move_to[slot] = -1;
	/* The policy changed its mind while the LOOKUP was out. */
	if (to_tls != (e->policy.mode == UM_RELAY_TRANSPORT_ON_STREAM) || !peer->via_relay)
		return;
	int r = um_peer_route_set(
	    peer, &(struct um_route){.kind = to_tls ? UM_ROUTE_RELAY_TCP : UM_ROUTE_RELAY, .uplink = uplink},
	    UM_ROUTE_WHY_TRANSPORT);
	if (r)
		um_log_warn("peer \"%s\": moving to relay %u: %s", peer->config->name, uplink, um_strerror(r));
	else
		um_log_info("peer \"%s\": now through %s relay %u (same session)", peer->config->name,
			    to_tls ? "the wss://" : "the UDP", uplink);
}

/* uplink a and b reach the same relay (the same relay ID: its UDP and
 * wss:// lines). The relay keeps one table entry per node, and a new
 * registration handshake keeps its handles, so a handle learnt through one
 * is valid through the other. */
static bool same_relay(const struct um_relay_client *client, unsigned a, unsigned b)
{
	const struct um_relay_client_uplink *ua = &client->uplinks[a], *ub = &client->uplinks[b];
	return ua->has_relay_id && ub->has_relay_id &&
	       !memcmp(ua->relay_id.bytes, ub->relay_id.bytes, UM_PEER_ID_BYTES);
}

/* Moves every peer relayed over the other kind of uplink (wss:// for a
 * UDP target, or a UDP uplink that is not registered any more for a wss://
 * one) to uplink: at once when its handle there is known, else when the
 * LOOKUP is answered (learn_handle). Direct peers stay: path.c owns them. */
static void move_peers(struct um_node *node, unsigned uplink)
{
	struct um_uplinks_engine *e = node->uplinks_engine;
	bool to_tls = node->uplinks[uplink].tls;

	for (size_t i = 0; i < node->n_peers && i < e->n_peers; i++) {
		struct um_node_peer *peer = &node->peers[i];
		if (!peer->via_relay || peer->relay < 0 || (size_t)peer->relay >= node->n_uplinks ||
		    peer->relay == (int)uplink)
			continue;
		bool from_tls = node->uplinks[peer->relay].tls;
		if (from_tls == to_tls || (to_tls && um_relay_client_usable(&e->client, (unsigned)peer->relay)))
			continue;
		e->move_to[i] = (int)uplink;
		/* The same relay over the other transport: the binding moved with
		 * the new registration, so waiting for a LOOKUP would drop what we
		 * send meanwhile; the handle we hold is still the relay's. */
		uint64_t *to = &e->handles[uplink * e->n_peers + i];
		uint64_t held = e->handles[(size_t)peer->relay * e->n_peers + i];
		if (!*to && held && same_relay(&e->client, uplink, (unsigned)peer->relay))
			*to = held;
		if (um_uplink_handle(node, uplink, peer))
			finish_move(node, peer, uplink);
	}
}

unsigned um_uplink_answer_via(struct um_node *node, unsigned uplink, const struct um_node_peer *peer)
{
	struct um_uplinks_engine *e = node->uplinks_engine;

	if (!e || uplink >= node->n_uplinks || !node->uplinks[uplink].tls || peer_slot(node, peer) >= e->n_peers ||
	    e->policy.mode == UM_RELAY_TRANSPORT_ON_STREAM)
		return uplink;
	for (unsigned i = 0; i < node->n_uplinks; i++) {
		if (node->uplinks[i].tls || !same_relay(&e->client, i, uplink) ||
		    !um_relay_client_usable(&e->client, i))
			continue;
		/* One relay, one table entry: the handle is valid on both lines. */
		uint64_t *to = &e->handles[i * e->n_peers + peer_slot(node, peer)];
		uint64_t held = e->handles[uplink * e->n_peers + peer_slot(node, peer)];
		if (!*to && held)
			*to = held;
		return i;
	}
	return uplink;
}

struct waiting_send {
	struct um_node *node;
	unsigned uplink;
	uint64_t handle;
};

static void waiting_send(void *arg, const uint8_t *data, size_t len)
{
	struct waiting_send *ctx = arg;

	send_forward(ctx->node, ctx->uplink, ctx->handle, data, len);
}

/* The relay named a peer's handle: keep it, send what waited for it, and
 * point the data plane's relay header at it. */
static void learn_handle(struct um_node *node, unsigned uplink, const struct um_peer_id *id, uint64_t handle)
{
	struct um_uplinks_engine *e = node->uplinks_engine;
	struct um_node_peer *peer = um_node_peer_find(node, id);
	if (!peer)
		return; /* not one of ours: nothing to route */
	size_t slot = peer_slot(node, peer);
	uint64_t *h = &e->handles[uplink * e->n_peers + slot];
	if (*h == handle)
		return;
	*h = handle;
	struct waiting_send ctx = {node, uplink, handle};
	um_uplink_wait_send(&e->waiting[slot], uplink, waiting_send, &ctx);
	if (peer->via_relay && peer->relay == (int)uplink)
		um_route_relay_refresh(peer);
	else if (e->move_to[slot] == (int)uplink)
		finish_move(node, peer, uplink);
}

/* The relay does not know a handle we used: forget it (whichever peer had
 * it) and ask again for every peer routed through this uplink whose handle
 * is unknown; the asking is rate-limited per peer, and DATA with a stale
 * handle keeps bringing us here until the answer is in. */
static void forget_handle(struct um_node *node, unsigned uplink, uint64_t handle)
{
	struct um_uplinks_engine *e = node->uplinks_engine;
	for (size_t i = 0; i < e->n_peers; i++) {
		uint64_t *h = &e->handles[uplink * e->n_peers + i];
		if (*h == handle) {
			*h = 0;
			e->asked_ns[uplink * e->n_peers + i] = 0;
		}
		struct um_node_peer *peer = &node->peers[i];
		if (!*h && peer->via_relay && peer->relay == (int)uplink)
			um_uplink_handle(node, uplink, peer);
	}
}

/* A registration (new, or refreshed after the relay forgot us) may have
 * new handles: ask again for the peers routed through it; the answers
 * re-point the data plane (learn_handle). */
static void refresh_handles(struct um_node *node, unsigned uplink)
{
	struct um_uplinks_engine *e = node->uplinks_engine;
	for (size_t i = 0; i < e->n_peers; i++) {
		e->handles[uplink * e->n_peers + i] = 0;
		e->asked_ns[uplink * e->n_peers + i] = 0;
		struct um_node_peer *peer = &node->peers[i];
		if (peer->via_relay && peer->relay == (int)uplink)
			um_uplink_handle(node, uplink, peer);
	}
}

static void log_name(const struct um_node_uplink *u, char *out, size_t size)
{
	if (u->tls) {
		/* "[v6 address]:port" needs at most 54 bytes; 56 keeps
		 * "wss://" + text inside the callers' 64-byte names. */
		char text[56];
		um_addr_format(&u->remote, text, sizeof(text));
		snprintf(out, size, "wss://%s", text);
		return;
	}
	um_addr_format(&u->addr, out, size);
}

/* ---- the engine's events ---- */

/* The relay does not know the peer: try it through our next registered
 * relay, and again soon when a handshake is waiting on it. */
static void on_unknown_peer(struct um_node *node, unsigned uplink, const struct um_peer_id *id, const char *name)
{
	int next = um_relay_client_next_registered(&node->uplinks_engine->client, uplink);

	for (size_t i = 0; i < node->n_peers; i++) {
		struct um_node_peer *peer = &node->peers[i];
		if (memcmp(peer->config->id.bytes, id->bytes, UM_PEER_ID_BYTES))
			continue;
		/* It may register any moment (both ends start together): the
		 * next initiation, paced by the session timers' unknown-peer
		 * backoff (100, 200, 400 ms ...), asks again instead of waiting
		 * out the 1 s gap between LOOKUPs. */
		if (peer_slot(node, peer) < node->uplinks_engine->n_peers)
			node->uplinks_engine->asked_ns[uplink * node->uplinks_engine->n_peers + peer_slot(node, peer)] =
			    0;
		if (next >= 0 && (unsigned)next != uplink)
			um_log_debug("peer \"%s\" unknown at relay %s, trying relay %d", peer->config->name, name,
				     next);
		if (next >= 0)
			um_peer_route_set(peer, &(struct um_route){.uplink = (unsigned)next}, UM_ROUTE_WHY_RELAY_NEXT);
		if (peer->attempt_via_relay && um_handshake_peer_busy(peer->hs) && node->hooks.relay_unknown_peer)
			node->hooks.relay_unknown_peer(peer);
	}
}

static void apply_event(struct um_node *node, const struct um_relay_client_event_entry *e)
{
	const struct um_relay_client_uplink *cu = &node->uplinks_engine->client.uplinks[e->uplink];
	char name[64], text[UM_PEER_ID_TEXT_MAX], id_text[UM_PEER_ID_TEXT_MAX];

	log_name(&node->uplinks[e->uplink], name, sizeof(name));
	um_addr_format(&e->observed, text, sizeof(text));
	switch (e->type) {
	case UM_RELAY_CLIENT_EVENT_STATE:
		um_log_debug("relay %s: %s -> %s", name, um_relay_client_state_name(e->old_state),
			     um_relay_client_state_name(e->new_state));
		break;
	case UM_RELAY_CLIENT_EVENT_REGISTERED:
		if (e->refreshed) {
			um_log_info("relay %s: registered again (new session)", name);
			refresh_handles(node, e->uplink);
			break;
		}
		um_log_info("relay %s: registered (we are %s there, keepalive %llu ms)", name, text,
			    (unsigned long long)(e->keepalive_ns / UM_NSEC_PER_MSEC));
		refresh_handles(node, e->uplink);
		for (size_t i = 0; node->hooks.relay_ready && i < node->n_peers; i++)
			node->hooks.relay_ready(&node->peers[i]);
		if (node->hooks.relay_registered)
			node->hooks.relay_registered(node);
		break;
	case UM_RELAY_CLIENT_EVENT_HOME:
		if (e->home >= 0 && e->home != e->old_home)
			um_log_info("home relay %s (rtt %llu us)", name, (unsigned long long)(cu->rtt_ns / 1000));
		break;
	case UM_RELAY_CLIENT_EVENT_NO_ANSWER:
		um_log_warn("relay %s: no answer to registration, still trying", name);
		break;
	case UM_RELAY_CLIENT_EVENT_RELAY_LOST:
		um_log_info("relay %s: %u keepalives unanswered, registering again", name, e->missed);
		break;
	case UM_RELAY_CLIENT_EVENT_NOT_REGISTERED:
		um_log_info("relay %s: not registered there (restart?), registering again", name);
		break;
	case UM_RELAY_CLIENT_EVENT_UNKNOWN_PEER:
		on_unknown_peer(node, e->uplink, &e->peer, name);
		break;
	case UM_RELAY_CLIENT_EVENT_HANDLE:
		um_peer_id_format_short(&e->peer, id_text, sizeof(id_text));
		um_log_debug("relay %s: handle of %s: %s", name, id_text, e->handle ? "found" : "unknown");
		if (e->handle)
			learn_handle(node, e->uplink, &e->peer, e->handle);
		else
			on_unknown_peer(node, e->uplink, &e->peer, name);
		break;
	case UM_RELAY_CLIENT_EVENT_ANNOUNCE:
		learn_handle(node, e->uplink, &e->peer, e->handle);
		break;
	case UM_RELAY_CLIENT_EVENT_UNKNOWN_HANDLE:
		forget_handle(node, e->uplink, e->handle);
		break;
	case UM_RELAY_CLIENT_EVENT_ID_LEARNED:
		/* Trust on first use: said once per relay and process (warn
		 * stands in for a notice level the logger does not have). */
		um_peer_id_format(&e->relay_id, id_text, sizeof(id_text));
		um_log_warn("relay %s: learned identity %s on first contact; pin it with relay = %s%s@%s", name,
			    id_text, node->uplinks[e->uplink].tls ? "wss://" : "", id_text,
			    node->uplinks[e->uplink].tls ? name + 6 : name);
		break;
	case UM_RELAY_CLIENT_EVENT_ID_REFUSED:
		um_peer_id_format(&e->relay_id, id_text, sizeof(id_text));
		um_peer_id_format(&cu->relay_id, text, sizeof(text));
		um_log_error("relay %s: now answers as %s, not %s (%s): refused", name, id_text, text,
			     cu->relay_id_pinned ? "pinned" : "learned on first contact");
		break;
	case UM_RELAY_CLIENT_EVENT_REFRESH:
		um_log_info("relay %s: does not know our session (restart?), registering again", name);
		break;
	case UM_RELAY_CLIENT_EVENT_RELAY_ERROR:
		if (e->code == UM_RELAY_ERR_VERSION)
			um_log_error("relay %s: speaks another relay protocol version (we speak %u): upgrade one side",
				     name, UM_RELAY_VERSION);
		else
			um_log_warn("relay %s: error %u (retry after %u s)", name, e->code, e->retry_after_s);
		break;
	case UM_RELAY_CLIENT_EVENT_OBSERVED:
		um_log_info("relay %s: our endpoint there is now %s", name, text);
		break;
	case UM_RELAY_CLIENT_EVENT_RECONNECT:
		um_uplink_stream_reconnect(&node->uplinks[e->uplink]); /* transport_up registers again */
		break;
	case UM_RELAY_CLIENT_EVENT_NONE:
		break;
	}
}

/* Copies of the engine's view that path.c and status.c read. */
static void copy_view(struct um_node *node)
{
	const struct um_relay_client *client = &node->uplinks_engine->client;

	for (size_t i = 0; i < node->n_uplinks; i++) {
		node->uplinks[i].state = (enum um_uplink_state)client->uplinks[i].state;
		node->uplinks[i].observed = client->uplinks[i].observed;
	}
	node->home = client->home;
	node->backup = client->backup;
}

/* What the relay client's event says about UDP and TLS, for the policy. */
static void feed_policy(struct um_node *node, const struct um_relay_client_event_entry *ev, uint64_t now)
{
	struct um_uplinks_engine *e = node->uplinks_engine;
	const struct um_relay_client_uplink *cu = &e->client.uplinks[ev->uplink];
	bool tls = node->uplinks[ev->uplink].tls;

	switch (ev->type) {
	case UM_RELAY_CLIENT_EVENT_REGISTERED:
		if (tls)
			um_relay_transport_stream_up(&e->policy, ev->uplink, now);
		else
			um_relay_transport_udp_answered(&e->policy, ev->uplink, cu->rtt_ns, now);
		break;
	case UM_RELAY_CLIENT_EVENT_STATE:
		/* Parked (a twin over UDP took over) or lost: not carrying.
		 * Back up: the REGISTERED event. */
		if (ev->old_state == UM_RELAY_CLIENT_REGISTERED && ev->new_state != UM_RELAY_CLIENT_REGISTERED) {
			if (tls)
				um_relay_transport_stream_down(&e->policy, ev->uplink, now);
			else if (ev->new_state != UM_RELAY_CLIENT_STANDBY)
				um_relay_transport_udp_silent(&e->policy, ev->uplink, now);
		}
		break;
	case UM_RELAY_CLIENT_EVENT_NO_ANSWER:
		if (!tls)
			um_relay_transport_udp_silent(&e->policy, ev->uplink, now);
		break;
	default:
		break;
	}
}

/* Closes the wss:// connections nobody routes through (CLOSE_STREAM: UDP
 * carried the traffic long enough); the proxy stays for a later fallback. */
static void close_streams(struct um_node *node)
{
	for (size_t i = 0; i < node->n_uplinks; i++) {
		if (!node->uplinks[i].tls)
			continue;
		bool used = false;
		for (size_t k = 0; k < node->n_peers; k++)
			used |= node->peers[k].via_relay && node->peers[k].relay == (int)i;
		if (!used)
			um_uplink_stream_disconnect(&node->uplinks[i]);
	}
}

static void apply_decision(struct um_node *node, const struct um_relay_transport_output *d, uint64_t now)
{
	struct um_uplinks_engine *e = node->uplinks_engine;

	um_log_debug("transport: %s %u (%s)", um_relay_transport_decision_name(d->decision), d->uplink,
		     um_relay_transport_mode_name(e->policy.mode));
	switch (d->decision) {
	case UM_RELAY_TRANSPORT_OPEN_STREAM:
		for (size_t i = 0; i < node->n_uplinks; i++)
			if (node->uplinks[i].tls)
				um_uplink_stream_connect(&node->uplinks[i]);
		break;
	case UM_RELAY_TRANSPORT_WARM_STREAM:
		for (size_t i = 0; i < node->n_uplinks; i++)
			if (node->uplinks[i].tls)
				um_uplink_stream_warm(&node->uplinks[i]);
		break;
	case UM_RELAY_TRANSPORT_PROBE_UDP:
		for (size_t i = 0; i < node->n_uplinks; i++)
			if (!node->uplinks[i].tls)
				um_relay_client_probe(&e->client, (unsigned)i, now);
		break;
	case UM_RELAY_TRANSPORT_USE_UDP:
	case UM_RELAY_TRANSPORT_USE_STREAM:
		if (d->uplink < node->n_uplinks) /* not DIRECT: path.c moves those */
			move_peers(node, d->uplink);
		break;
	case UM_RELAY_TRANSPORT_CLOSE_STREAM:
		close_streams(node);
		break;
	case UM_RELAY_TRANSPORT_NONE:
		break;
	}
}

/* After every engine input and on the timer: send what the engine has,
 * apply its events, re-arm the timer at its deadline. */
static void drain(struct um_node *node)
{
	struct um_uplinks_engine *e = node->uplinks_engine;

	if (e->draining)
		return;
	e->draining = true;
	for (bool busy = true; busy;) {
		struct um_relay_transport_output d;
		busy = false;
		while (um_relay_client_tick(&e->client, um_now_ns(), um_wall_ms(), &e->out) > 0) {
			copy_view(node);
			for (unsigned k = 0; k < e->out.n_datagrams; k++)
				send_to(&node->uplinks[e->out.uplink], e->out.datagrams[k], e->out.lengths[k]);
			if (e->out.event != UM_RELAY_CLIENT_EVENT_NONE) {
				apply_event(node, &e->out.detail);
				feed_policy(node, &e->out.detail, um_now_ns());
			}
		}
		/* Its decisions may give the client work (LOOKUP, probes). */
		while (um_relay_transport_tick(&e->policy, um_now_ns(), &d) > 0) {
			apply_decision(node, &d, um_now_ns());
			busy = true;
		}
	}
	copy_view(node);
	uint64_t deadline = um_relay_client_next_deadline(&e->client);
	uint64_t policy_deadline = um_relay_transport_next_deadline(&e->policy);
	if (policy_deadline < deadline)
		deadline = policy_deadline;
	if (deadline == UINT64_MAX)
		um_timer_cancel(node->loop, &e->timer);
	else
		um_timer_arm_at(node->loop, &e->timer, deadline);
	e->draining = false;
}

static void on_timer(struct um_loop *loop, struct um_timer *timer)
{
	(void)loop;
	drain(timer->arg);
}

bool um_uplinks_receive(struct um_node *node, const struct um_addr *from, const uint8_t *data, size_t len)
{
	if (len == 0 || data[0] < UM_TYPE_RELAY_FIRST || data[0] > UM_TYPE_RELAY_LAST)
		return false;
	int i = um_uplink_find(node, from);
	if (i < 0)
		return true; /* relay messages from strangers: dropped */
	/* A drop (stale, forged, unexpected) is counted by the engine. */
	struct um_uplinks_engine *e = node->uplinks_engine;
	const struct um_relay_client_uplink *cu = &e->client.uplinks[i];
	uint64_t last_reply = cu->last_reply_ns, now = um_now_ns();
	if (!node->uplinks[i].tls)
		um_relay_transport_udp_heard(&e->policy); /* UDP passes: no early TLS */
	um_relay_client_input(&e->client, (unsigned)i, data, len, now, um_wall_ms());
	/* A keepalive reply over UDP: UDP answers (the policy's hold). */
	if (cu->last_reply_ns != last_reply && !node->uplinks[i].tls && cu->state == UM_RELAY_CLIENT_REGISTERED)
		um_relay_transport_udp_answered(&e->policy, (unsigned)i, cu->rtt_ns, now);
	drain(node);
	return true;
}

/* ---- lifecycle and status ---- */

/* Peers without an endpoint can only be reached through a relay: their
 * handles at uplink i are asked for as it starts registering, so the
 * LOOKUPs ride behind the REGISTERs (relay/client.h) and the first HELLO
 * leaves the moment the relay has acknowledged us, a round trip sooner
 * (issue 14). A peer that registers later is answered when it does (the
 * relay holds a missed LOOKUP). */
static void ask_handles(struct um_node *node, unsigned i, uint64_t now)
{
	struct um_uplinks_engine *e = node->uplinks_engine;

	for (size_t p = 0, asked = 0; p < node->n_peers && asked < UM_RELAY_CLIENT_MAX_REQUESTS; p++) {
		struct um_node_peer *peer = &node->peers[p];
		if (peer->endpoint.family || um_relay_client_lookup(&e->client, i, &peer->config->id))
			continue;
		e->asked_ns[i * e->n_peers + p] = now;
		asked++;
	}
}

/* From uplink_stream.c: a warm connection opened (the policy may take
 * UDP's silence as proven now). */
static void on_connected_ahead(struct um_node_uplink *u)
{
	um_relay_transport_stream_connected(&u->node->uplinks_engine->policy, u->index, um_now_ns());
	drain(u->node);
}

/* From uplink_stream.c (u->transport): the connection is open (register
 * over it) or lost (not usable until it is back). */
static void on_transport(struct um_node_uplink *u, bool up)
{
	struct um_uplinks_engine *e = u->node->uplinks_engine;
	if (up) {
		um_relay_client_transport_up(&e->client, u->index, um_now_ns());
		ask_handles(u->node, u->index, um_now_ns()); /* behind its first REGISTER */
	} else {
		um_relay_client_transport_down(&e->client, u->index, um_now_ns());
		um_relay_transport_stream_down(&e->policy, u->index, um_now_ns());
	}
	drain(u->node);
}

int um_uplinks_start_list(struct um_node *node, const struct um_uplink_relay *list, size_t n)
{
	const struct um_config *c = &node->config;
	struct um_relay_client_config rc = {
	    .identity = &node->identity,
	    .admission_key = c->has_relay_admission_key ? c->relay_admission_key : NULL,
	    .keepalive_max_ns = c->relay_keepalive_ms * UM_NSEC_PER_MSEC,
	    .n_uplinks = (unsigned)n,
	};
	struct um_relay_transport_config tc = {
	    /* The registration's first retransmission: its HELLO's initial
	     * RTO (400 ms, session/handshake_internal.h), so the fallback waits
	     * ~0.7 s, not 1.3 s (issue 14: UDP-blocked nodes; a racing wss://
	     * line gives way when the UDP line registers first). */
	    .n_uplinks = (unsigned)n,
	    .first_retry_ns = 400 * UM_NSEC_PER_MSEC,
	    /* TCP and TLS while UDP is tried: a UDP-blocked node registers
	     * over TLS as the connection opens (issue 14), for one TLS
	     * handshake per start that UDP mostly makes useless. */
	    .warm_stream = true,
	};
	int r;

	node->home = node->backup = -1;
	if (!n)
		return 0;
	node->uplinks_engine = calloc(1, sizeof(*node->uplinks_engine));
	node->uplinks = calloc(n, sizeof(*node->uplinks));
	if (!node->uplinks_engine || !node->uplinks) {
		r = -UM_ENOMEM;
		goto out;
	}
	struct um_uplinks_engine *e = node->uplinks_engine;
	e->n_peers = node->n_peers;
	e->handles = calloc(n * (node->n_peers ? node->n_peers : 1), sizeof(*e->handles));
	e->asked_ns = calloc(n * (node->n_peers ? node->n_peers : 1), sizeof(*e->asked_ns));
	e->waiting = calloc(node->n_peers ? node->n_peers : 1, sizeof(*e->waiting));
	e->move_to = calloc(node->n_peers ? node->n_peers : 1, sizeof(*e->move_to));
	if (!e->handles || !e->asked_ns || !e->waiting || !e->move_to) {
		r = -UM_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < node->n_peers; i++)
		e->move_to[i] = -1;
	node->n_uplinks = n;
	um_timer_init(&node->uplinks_engine->timer, on_timer, node);
	for (size_t i = 0; i < n; i++) {
		struct um_node_uplink *u = &node->uplinks[i];
		u->node = node;
		u->index = (unsigned)i;
		u->transport = on_transport;
		u->connected_ahead = on_connected_ahead;
		u->handle_of = um_uplink_handle;
		rc.stream[i] = tc.stream[i] = u->tls = list[i].tls;
		rc.has_relay_id[i] = list[i].has_id;
		rc.relay_id[i] = list[i].id;
		if (u->tls) {
			u->remote = list[i].addr;
			r = um_uplink_stream_open(u); /* sets addr to the proxy */
			if (r)
				goto out;
			continue;
		}
		u->addr = list[i].addr;
	}
	r = um_relay_client_init(&node->uplinks_engine->client, &rc);
	if (r)
		goto out;
	r = um_relay_transport_init(&e->policy, &tc);
	if (r)
		goto out;
	uint64_t now = um_now_ns();
	um_relay_client_start(&e->client, now);
	um_relay_transport_start(&e->policy, now);
	for (unsigned i = 0; i < node->n_uplinks; i++)
		if (!node->uplinks[i].tls) /* a wss:// uplink asks when it registers (on_transport) */
			ask_handles(node, i, now);
	um_timer_arm_in(node->loop, &node->uplinks_engine->timer, 0); /* first REGISTERs from the loop */
	return 0;
out:
	um_uplinks_stop(node);
	return r;
}

int um_uplinks_start(struct um_node *node)
{
	const struct um_config *c = &node->config;
	struct um_uplink_relay list[UM_CONFIG_RELAYS_MAX];

	for (size_t i = 0; i < c->n_relays; i++)
		list[i] = (struct um_uplink_relay){
		    .addr = c->relays[i], .tls = c->relay_tls[i], .has_id = c->relay_has_id[i], .id = c->relay_ids[i]};
	return um_uplinks_start_list(node, list, c->n_relays);
}

void um_uplinks_stop(struct um_node *node)
{
	for (size_t i = 0; node->uplinks && i < node->n_uplinks; i++)
		um_uplink_stream_close(&node->uplinks[i]);
	if (node->uplinks_engine) {
		um_timer_cancel(node->loop, &node->uplinks_engine->timer);
		um_relay_client_destroy(&node->uplinks_engine->client);
		free(node->uplinks_engine->handles);
		free(node->uplinks_engine->asked_ns);
		for (size_t i = 0; node->uplinks_engine->waiting && i < node->uplinks_engine->n_peers; i++)
			um_uplink_wait_free(&node->uplinks_engine->waiting[i]);
		free(node->uplinks_engine->waiting);
		free(node->uplinks_engine->move_to);
	}
	free(node->uplinks);
	free(node->uplinks_engine);
	node->uplinks = NULL;
	node->uplinks_engine = NULL;
	node->n_uplinks = 0;
	node->home = node->backup = -1;
}

static const char *uplink_state_name(const struct um_node *node, size_t i)
{
	switch (node->uplinks_engine->client.uplinks[i].state) {
	case UM_RELAY_CLIENT_IDLE:
		return um_uplink_stream_open_now(&node->uplinks[i]) ? "connected" : "idle";
	case UM_RELAY_CLIENT_REGISTERED:
		return (int)i == node->home ? "home" : (int)i == node->backup ? "backup" : "registered";
	default:
		return um_relay_client_state_name(node->uplinks_engine->client.uplinks[i].state);
	}
}

void um_uplinks_status_fill(const struct um_node *node, struct um_node_status *status)
{
	uint64_t now = um_now_ns();

	status->home = node->home;
	if (node->uplinks_engine)
		status->relay_transport = um_relay_transport_mode_name(node->uplinks_engine->policy.mode);
	for (size_t i = 0; i < node->n_uplinks && i < status->n_uplinks; i++) {
		const struct um_node_uplink *nu = &node->uplinks[i];
		const struct um_relay_client_uplink *u = &node->uplinks_engine->client.uplinks[i];
		struct um_uplink_status *out = &status->uplinks[i];
		/* Over wss:// the relay is the TLS server, not the loopback proxy. */
		out->tls = nu->tls;
		out->address = nu->tls ? nu->remote : nu->addr;
		out->state = uplink_state_name(node, i);
		if (u->rtt_ns)
			out->rtt_us = u->rtt_ns / 1000;
		out->observed = u->observed;
		if (u->last_reply_ns)
			out->last_reply_age_ms = (now - u->last_reply_ns) / UM_NSEC_PER_MSEC;
		out->registrations = u->registrations;
		out->early_lookups = u->early_lookups;
		out->errors = u->errors;
		um_uplink_stream_status_fill(nu, out);
	}
}

bool um_uplink_peer_tls(const struct um_node *node, const struct um_node_peer *peer)
{
	return peer->via_relay && peer->relay >= 0 && (size_t)peer->relay < node->n_uplinks &&
	       node->uplinks[peer->relay].tls;
}

const struct um_relay_client_uplink *um_uplink_client(const struct um_node *node, unsigned uplink)
{
	if (uplink >= node->n_uplinks || !node->uplinks_engine)
		return NULL;
	return &node->uplinks_engine->client.uplinks[uplink];
}

uint64_t um_uplink_rtt_ns(const struct um_node *node, unsigned uplink)
{
	if (uplink >= node->n_uplinks || !node->uplinks_engine)
		return 0;
	return node->uplinks_engine->client.uplinks[uplink].rtt_ns;
}
