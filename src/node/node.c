/* SPDX-License-Identifier: MIT */
/* Node lifecycle, handshake I/O and key installation. Timer policy lives in
 * timers.c; this file only reports events to it. */
#include "node/node.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include <sodium.h>

#include "net/quiet.h"
#include "net/tun.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

_Static_assert(UM_CONFIG_BUSY_POLL_MAX_US == UM_BUSY_POLL_MAX_US, "busy-poll-us bound = the data plane's");

enum { DRAIN_BATCH = 1024, UM_NODE_DIRECT_TRIES = 1 };

/* Crossed handshakes (install_session): the peer's keys waiting in `next`
 * count as the other half of a crossing only when installed this recently.
 * A handshake, retransmissions included, ends well within it; older `next`
 * keys are from an earlier exchange, not from one that crossed ours. */
#define UM_NODE_CROSSED_WINDOW_NS (5 * UM_NSEC_PER_SEC)

static void peer_log_name(const struct um_node_peer *peer, char *out, size_t size)
{
	char id[UM_PEER_ID_SHORT_MAX];

	if (um_peer_id_format_short(&peer->config->id, id, sizeof(id)))
		snprintf(id, sizeof(id), "?");
	snprintf(out, size, "\"%s\" (%s)", peer->config->name, id);
}

/* The engine must not hand out an index that a live keypair still uses. */
static bool index_in_use(void *ctx, uint32_t index)
{
	struct um_node *node = ctx;

	if (index == 0)
		return true; /* 0 marks an empty slot in our mirror */
	for (size_t i = 0; i < node->n_peers; i++) {
		const struct um_node_peer *p = &node->peers[i];
		if (p->index_current == index || p->index_previous == index || p->index_next == index)
			return true;
	}
	return false;
}

/* ---- sending ---- */

void um_node_flush_output(struct um_node *node)
{
	struct um_handshake_output *out = node->out;
	struct sockaddr_storage to;
	size_t slot;
	unsigned uplink;

	if (!out->n_datagrams)
		return;
	if (um_relay_addr_decode(node, &out->to, &slot, &uplink)) {
		/* Through a relay: each datagram inside a FORWARD to the peer. */
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

static void set_endpoint(struct um_node_peer *peer, const struct um_addr *addr)
{
	struct sockaddr_storage ss;
	size_t slot;
	unsigned uplink;
	int len;

	if (addr->family == 0 || um_addr_equal(&peer->endpoint, addr) ||
	    um_relay_addr_decode(peer->node, addr, &slot, &uplink))
		return; /* relay placeholders are not endpoints */
	len = um_addr_to_sockaddr(addr, &ss);
	if (len < 0)
		return;
	if (um_dataplane_peer_set_endpoint(peer->node->dataplane, peer->dp_peer, (struct sockaddr *)&ss,
					   (socklen_t)len) == 0)
		peer->endpoint = *addr;
}

/* The session's path follows where its handshake went: through a relay
 * (placeholder address) or straight to the endpoint. */
static void set_path(struct um_node_peer *peer, const struct um_addr *addr)
{
	struct um_node *node = peer->node;
	size_t slot;
	unsigned uplink;

	if (um_relay_addr_decode(node, addr, &slot, &uplink)) {
		uint8_t header[UM_DP_RELAY_HEADER_MAX];
		size_t header_len = um_uplink_forward_header(peer, header, sizeof(header));
		struct sockaddr_storage ss;
		int len = um_addr_to_sockaddr(&node->uplinks[uplink].addr, &ss);
		int r = len < 0 ? len
				: um_dataplane_peer_set_relay(node->dataplane, peer->dp_peer, &ss, (socklen_t)len, header,
							      header_len);
		if (r) {
			um_log_error("peer \"%s\": relay path: %s", peer->config->name, um_strerror(r));
			return;
		}
		peer->via_relay = true;
		peer->relay = (int)uplink;
		return;
	}
	if (peer->via_relay) {
		um_dataplane_peer_set_relay(node->dataplane, peer->dp_peer, NULL, 0, NULL, 0);
		peer->via_relay = false;
	}
	peer->direct_failures = 0;
	set_endpoint(peer, addr);
}

/* ---- sessions ---- */

void um_node_clear_session(struct um_node_peer *peer)
{
	um_dataplane_peer_clear_keys(peer->node->dataplane, peer->dp_peer);
	um_path_session_cleared(peer);
	peer->index_current = peer->index_previous = peer->index_next = 0;
	peer->session_created_ns = 0;
}

static void install_session(struct um_node *node, struct um_node_peer *peer)
{
	struct um_handshake_output *out = node->out;
	uint64_t now = um_now_ns();
	char name[96];
	bool as_next = !out->initiator;
	bool rotation = peer->session_created_ns != 0;

	peer_log_name(peer, name, sizeof(name));
	/* Crossed handshakes: both sides initiated at once. The session the
	 * designated side (lower peer ID) initiated wins on both sides; we
	 * are not it, and we already hold its keys in `next`, so ours goes. */
	if (out->initiator && !peer->designated && peer->index_next &&
	    now - peer->next_installed_ns < UM_NODE_CROSSED_WINDOW_NS) {
		um_log_debug("peer %s: crossed handshakes, keeping the peer's session", name);
		um_timers_session_established(peer);
		return;
	}
	out->keypair.created_ns = now;
	int r = um_dataplane_peer_install_keypair(node->dataplane, peer->dp_peer, &out->keypair, as_next);
	if (r) {
		um_log_error("peer %s: installing keys failed: %s", name, um_strerror(r));
		return;
	}
	/* The responder's keys wait in `next` until the initiator uses them:
	 * until then the old current keeps carrying our traffic. */
	if (as_next) {
		peer->index_next = out->keypair.local_index;
		peer->next_installed_ns = now;
	} else {
		/* The data plane demotes a pending `next` to `previous` (it stays
		 * accepted), otherwise the old current; mirror what it keeps. */
		peer->index_previous = peer->index_next ? peer->index_next : peer->index_current;
		peer->index_current = out->keypair.local_index;
		peer->index_next = 0;
		peer->session_created_ns = now;
	}
	if (out->initiator && peer->initiated_ns && now - peer->initiated_ns < UM_NSEC_PER_SEC &&
	    (!peer->rtt_ns || peer->rtt_from_handshake)) {
		peer->rtt_ns = (now - peer->initiated_ns) / 2;
		peer->rtt_from_handshake = true;
	}
	peer->session_initiator = out->initiator;
	set_path(peer, &out->peer_endpoint);
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
	if (out->initiator)
		um_dataplane_peer_send_keepalive(node->dataplane, peer->dp_peer);
	um_timers_session_established(peer);
}

static void handle_output(struct um_node *node)
{
	struct um_handshake_output *out = node->out;
	struct um_node_peer *peer = out->peer_user;

	/* Keys first, then the datagrams: as responder the datagram is our
	 * ESTABLISHED, and the initiator starts sending under the new keys the
	 * moment it arrives, so they must already be installed. */
	if (out->event == UM_HS_EVENT_ESTABLISHED && peer && node->up)
		install_session(node, peer);
	um_node_flush_output(node);
	if (out->event == UM_HS_EVENT_ESTABLISHED) {
		/* handled above */
	} else if (out->event == UM_HS_EVENT_FAILED && peer) {
		char name[96];
		peer_log_name(peer, name, sizeof(name));
		um_log_info("peer %s: handshake timed out%s", name, peer->attempt_via_relay ? " (via relay)" : "");
		if (!peer->attempt_via_relay)
			peer->direct_failures++;
		um_timers_handshake_failed(peer);
	}
	um_handshake_output_wipe(out);
}

int um_node_initiate(struct um_node_peer *peer)
{
	struct um_node *node = peer->node;

	struct um_addr to;
	int uplink = um_uplink_for_peer(node, peer);

	if (!node->up)
		return -UM_ESTATE;
	/* Direct while the endpoint answers (or no relay is there to help);
	 * through a relay after UM_NODE_DIRECT_TRIES timeouts or without one. */
	if (peer->endpoint.family && (peer->direct_failures < UM_NODE_DIRECT_TRIES || uplink < 0)) {
		to = peer->endpoint;
		peer->attempt_via_relay = false;
	} else if (uplink >= 0) {
		um_relay_addr_encode(&to, (size_t)(peer - node->peers), (unsigned)uplink);
		peer->attempt_via_relay = true;
	} else {
		return -UM_ESTATE;
	}
	int r = um_handshake_initiate(node->engine, peer->hs, &to, um_handshake_time_now(), node->out);
	if (r) {
		um_handshake_output_wipe(node->out);
		return r;
	}
	um_timers_handshake_initiated(peer);
	handle_output(node);
	um_timers_engine_rearm(node);
	return 0;
}

/* ---- receiving ---- */

void um_node_promote_next(struct um_node_peer *peer, bool confirmed)
{
	uint64_t now = um_now_ns();

	if (!peer->index_next || um_dataplane_peer_promote_next(peer->node->dataplane, peer->dp_peer))
		return;
	/* ESTABLISHED out, the initiator's first packet under the new keys
	 * back: one round trip plus a symmetric decryption (see timers.c). */
	if (confirmed && now - peer->next_installed_ns < UM_NSEC_PER_SEC) {
		peer->rtt_ns = now - peer->next_installed_ns;
		peer->rtt_from_handshake = false;
	}
	peer->index_previous = peer->index_current;
	peer->index_current = peer->index_next;
	peer->index_next = 0;
	peer->session_created_ns = now;
}

void um_node_handshake_input(struct um_node *node, const struct um_addr *from, const uint8_t *data,
			     size_t len)
{
	int r = um_handshake_receive(node->engine, from, data, len, um_handshake_time_now(), node->out);

	if (r) {
		um_handshake_output_wipe(node->out);
		return; /* counted by the engine's stats */
	}
	handle_output(node);
}

static void on_control_msg(struct um_node *node, struct um_dp_control_msg *msg)
{
	struct um_node_peer *peer;
	struct um_addr from;

	if (msg->kind == UM_DP_CONTROL_DATAGRAM) {
		um_node_demux(node, msg);
		return;
	}
	peer = um_node_peer_by_slot(node, msg->peer);
	if (!peer)
		return;
	switch (msg->kind) {
	case UM_DP_EVENT_NEXT_KEY_USED:
		um_node_promote_next(peer, true);
		break;
	case UM_DP_EVENT_NEED_KEY:
		um_timers_need_key(peer);
		break;
	case UM_DP_EVENT_ENDPOINT_CHANGED:
		if (um_addr_from_sockaddr(&from, (struct sockaddr *)&msg->from, msg->from_len) == 0)
			set_endpoint(peer, &from);
		break;
	default:
		break;
	}
}

static void on_dataplane(struct um_loop *loop, struct um_watch *watch, uint32_t events)
{
	struct um_node *node = watch->arg;
	(void)loop;
	(void)events;

	/* Bounded per wakeup so a flood cannot starve timers and the control
	 * socket; what is left keeps the fd readable for the next round. */
	for (unsigned i = 0; i < DRAIN_BATCH; i++) {
		if (um_dataplane_recv_control(node->dataplane, node->msg))
			break;
		on_control_msg(node, node->msg);
	}
	um_timers_engine_rearm(node);
}

static void on_engine_timer(struct um_loop *loop, struct um_timer *timer)
{
	struct um_node *node = timer->arg;
	(void)loop;

	for (unsigned i = 0; i < DRAIN_BATCH && um_handshake_tick(node->engine, um_handshake_time_now(), node->out) > 0;
	     i++)
		handle_output(node);
	um_handshake_output_wipe(node->out);
	um_timers_engine_rearm(node);
}

/* ---- up / down ---- */

static void add_routes(struct um_node *node)
{
	if (node->config.mode != UM_MODE_TUN)
		return; /* TAP: the overlay subnet on the device is enough */
	for (size_t i = 0; i < node->n_peers; i++) {
		const struct um_config_peer *cp = node->peers[i].config;
		for (size_t j = 0; j < cp->n_allowed_ips; j++) {
			struct um_addr_prefix prefix = cp->allowed_ips[j];
			char text[UM_ADDR_PREFIX_TEXT_MAX];
			um_addr_prefix_mask(&prefix);
			int r = um_tun_add_route(node->ifname, &prefix);
			if (r) {
				um_addr_prefix_format(&prefix, text, sizeof(text));
				um_log_warn("route %s via %s: %s", text, node->ifname, um_strerror(r));
			}
		}
	}
}

int um_node_up(struct um_node *node)
{
	if (node->up)
		return 0;
	if (!node->dataplane)
		return -UM_ESTATE; /* relay-only */
	int r = um_tun_set_up(node->ifname, true);
	if (r)
		return r;
	node->up = true;
	add_routes(node);
	for (size_t i = 0; i < node->n_peers; i++)
		um_timers_up(&node->peers[i]);
	um_log_info("%s up", node->ifname);
	return 0;
}

int um_node_down(struct um_node *node)
{
	if (!node->up)
		return 0;
	node->up = false;
	for (size_t i = 0; i < node->n_peers; i++) {
		struct um_node_peer *peer = &node->peers[i];
		um_timers_peer_cancel(peer);
		um_node_clear_session(peer);
		um_peer_set_state(peer, UM_PEER_IDLE, "node down");
		peer->attempts = 0;
	}
	int r = um_tun_set_up(node->ifname, false);
	um_log_info("%s down", node->ifname);
	return r;
}

/* ---- lifecycle ---- */

static int add_peer(struct um_node *node, struct um_node_peer *peer, const struct um_config_peer *cp)
{
	struct um_addr_prefix *prefixes = NULL;
	uint32_t slot;
	int r;

	peer->designated = memcmp(&node->identity.id, &cp->id, sizeof(cp->id)) < 0;
	peer->relay = -1;
	if (!memcmp(&cp->id, &node->identity.id, sizeof(cp->id))) {
		um_log_error("peer \"%s\": that is this node's own ID", cp->name);
		return -UM_ECONFIG;
	}
	r = um_dataplane_peer_add(node->dataplane, &slot);
	if (r)
		return r;
	r = um_node_peer_set_slot(peer, slot);
	if (r)
		return r;
	if (cp->n_allowed_ips) {
		prefixes = calloc(cp->n_allowed_ips, sizeof(*prefixes));
		if (!prefixes)
			return -ENOMEM;
		for (size_t i = 0; i < cp->n_allowed_ips; i++) {
			prefixes[i] = cp->allowed_ips[i];
			um_addr_prefix_mask(&prefixes[i]);
		}
		r = um_dataplane_peer_set_allowed_ips(node->dataplane, peer->dp_peer, prefixes, cp->n_allowed_ips);
		free(prefixes);
		if (r)
			return r;
	}
	if (cp->endpoint.family)
		set_endpoint(peer, &cp->endpoint);
	return um_handshake_peer_add(node->engine, &cp->id, peer, &peer->hs);
}

/* Undoes whatever part of um_node_start got done (every step checks). */
static void teardown(struct um_node *node)
{
	if (node->up)
		um_node_down(node);
	if (node->control_started)
		um_control_server_stop(&node->control);
	node->control_started = false;
	um_node_stun_stop(node);
	um_uplinks_stop(node);
	if (node->relay_server) {
		um_relay_server_stop(node->relay_server);
		free(node->relay_server);
		node->relay_server = NULL;
	}
	um_timer_cancel(node->loop, &node->hs_timer);
	if (node->dp_watch.fn)
		um_loop_remove(node->loop, &node->dp_watch);
	for (size_t i = 0; i < node->n_peers; i++) {
		um_timers_peer_cancel(&node->peers[i]);
		um_path_session_cleared(&node->peers[i]);
	}
	/* Freeing the data plane wipes every key and removes the device. */
	um_dataplane_free(node->dataplane);
	um_handshake_engine_free(node->engine);
	um_node_peers_free(node);
	if (node->out)
		sodium_free(node->out);
	free(node->msg);
	um_identity_wipe(&node->identity);
	um_config_free(&node->config);
	memset(node, 0, sizeof(*node));
}

static int start_relay_server(struct um_node *node)
{
	const struct um_config_relay_server *rc = &node->config.relay;
	struct um_relay_config core;
	int r;

	um_relay_default_config(&core);
	core.max_nodes = rc->max_nodes;
	core.registration_timeout_ns = rc->registration_timeout_ms * UM_NSEC_PER_MSEC;
	core.keepalive_interval_s = (uint16_t)((rc->keepalive_interval_ms + 999) / 1000);
	core.packets_per_s = rc->packets_per_s;
	core.packet_burst = rc->packet_burst;
	core.bytes_per_s = rc->bytes_per_s;
	core.byte_burst = rc->byte_burst;
	core.verifications_per_s = rc->verifications_per_s;
	core.allow = rc->allow;
	core.allow_count = rc->n_allow;
	core.admission_key = rc->has_admission_key ? rc->admission_key : NULL;
	struct sockaddr_storage listen_udp, listen_tls;
	int listen_len = um_addr_to_sockaddr(&rc->listen, &listen_udp);
	int listen_tls_len = um_addr_to_sockaddr(&rc->listen_tls, &listen_tls);
	struct um_relay_stream_config tls = {
		.listen = (const struct sockaddr *)&listen_tls,
		.listen_len = listen_tls_len > 0 ? (socklen_t)listen_tls_len : 0,
		.certificate_file = rc->tls_certificate[0] ? rc->tls_certificate : NULL,
		.key_file = rc->tls_key[0] ? rc->tls_key : NULL,
		.max_connections = rc->tls_max_connections,
	};
	struct um_relay_server_config sc = {
		.listen = listen_len > 0 ? (const struct sockaddr *)&listen_udp : NULL,
		.listen_len = listen_len > 0 ? (socklen_t)listen_len : 0,
		.port = rc->listen_port,
		.relay = &core,
		.stream = listen_tls_len > 0 ? &tls : NULL,
	};
	node->relay_server = calloc(1, sizeof(*node->relay_server));
	if (!node->relay_server)
		return -ENOMEM;
	r = um_relay_server_start(node->relay_server, node->loop, &sc);
	if (r) {
		char text[UM_ADDR_TEXT_MAX] = "";
		if (rc->listen.family)
			um_addr_format(&rc->listen, text, sizeof(text));
		else
			snprintf(text, sizeof(text), "port %u", rc->listen_port);
		um_log_error("relay on %s: %s", text, um_strerror(r));
		free(node->relay_server);
		node->relay_server = NULL;
		return r;
	}
	um_log_info("relay listening on UDP port %u (%zu allowed IDs%s, at most %u nodes)", node->relay_server->port,
		    rc->n_allow, rc->has_admission_key ? ", admission key" : "", rc->max_nodes);
	if (node->relay_server->stream) {
		uint8_t fingerprint[32];
		char text[64], hex[65];
		um_relay_stream_fingerprint(node->relay_server->stream, fingerprint);
		sodium_bin2hex(hex, sizeof(hex), fingerprint, sizeof(fingerprint));
		um_addr_format(&rc->listen_tls, text, sizeof(text));
		um_log_info("relay listening on TLS/WebSocket %s (%s certificate, SHA-256 %s)", text,
			    rc->tls_certificate[0] ? "configured" : "self-signed", hex);
	}
	return 0;
}

/* The node part: identity, engine, data plane, peers. */
static int start_node(struct um_node *node)
{
	struct um_config *c = &node->config;
	char id[UM_PEER_ID_TEXT_MAX];
	int r;

	r = um_identity_load(&node->identity, c->identity_path);
	if (r) {
		um_log_error("identity %s: %s", c->identity_path, um_strerror(r));
		return r;
	}
	um_peer_id_format(&node->identity.id, id, sizeof(id));
	um_log_info("node %s", id);

	node->out = sodium_malloc(sizeof(*node->out));
	node->msg = malloc(sizeof(*node->msg));
	if (!node->out || !node->msg)
		return -ENOMEM;
	memset(node->out, 0, sizeof(*node->out));

	struct um_handshake_config hs_config = {
		.identity = &node->identity,
		.mtu = (uint16_t)c->mtu,
		.heartbeat_s = (uint16_t)((c->heartbeat_ms + 999) / 1000),
		.rotation_s = (uint32_t)((c->rekey_ms + 999) / 1000),
		.index_in_use = index_in_use,
		.index_ctx = node,
	};
	r = um_handshake_engine_new(&node->engine, &hs_config);
	if (r) {
		um_log_error("handshake engine: %s", um_strerror(r));
		return r;
	}

	struct um_dataplane_config dp_config = {
		.ifname = c->device,
		.tap = c->mode == UM_MODE_TAP,
		.listen_port = c->listen_port,
		.mtu = c->mtu,
		.busy_poll_us = c->busy_poll_us,
		.gather = c->gather,
		.gather_cpu = c->gather_cpu,
		.max_peers = c->n_peers > 256 ? (unsigned)c->n_peers : 0,
	};
	r = um_dataplane_new(&dp_config, &node->dataplane);
	if (r) {
		um_log_error("data plane (device %s, port %u): %s", c->device, c->listen_port, um_strerror(r));
		return r;
	}
	snprintf(node->ifname, sizeof(node->ifname), "%s", um_dataplane_ifname(node->dataplane));
	if (c->has_address) {
		r = um_tun_add_address(node->ifname, &c->address); /* host bits kept */
		if (r) {
			um_log_error("address on %s: %s", node->ifname, um_strerror(r));
			return r;
		}
	}

	r = um_node_peers_create(node);
	if (r)
		return r;
	for (size_t i = 0; i < c->n_peers; i++) {
		um_timers_peer_init(&node->peers[i]);
		um_path_peer_init(&node->peers[i]);
	}
	for (size_t i = 0; i < c->n_peers; i++) {
		r = add_peer(node, &node->peers[i], &c->peers[i]);
		if (r) {
			um_log_error("peer \"%s\": %s", c->peers[i].name, um_strerror(r));
			return r;
		}
	}

	r = um_dataplane_start(node->dataplane);
	if (r) {
		um_log_error("starting data plane workers: %s", um_strerror(r));
		return r;
	}
	node->dp_watch = (struct um_watch){
		.fd = um_dataplane_control_fd(node->dataplane),
		.events = EPOLLIN,
		.fn = on_dataplane,
		.arg = node,
	};
	r = um_loop_add(node->loop, &node->dp_watch);
	if (r)
		node->dp_watch.fn = NULL;
	return r;
}

int um_node_start(struct um_node *node, struct um_loop *loop, struct um_config *config)
{
	struct um_config *c = &node->config;
	int r;

	memset(node, 0, sizeof(*node));
	node->config = *config; /* take over the allocations */
	um_config_init(config);
	node->loop = loop;
	node->started_ns = um_now_ns();
	node->home = node->backup = -1;
	um_timer_init(&node->hs_timer, on_engine_timer, node);
	um_log_set_level(c->log_level);

	if (c->has_node && (r = start_node(node)))
		goto err;
	if (c->relay.enabled && (r = start_relay_server(node)))
		goto err;

	r = um_control_server_start(&node->control, loop, c->control_socket, um_node_control, node);
	if (r) {
		um_log_error("control socket %s: %s", c->control_socket, um_strerror(r));
		goto err;
	}
	node->control_started = true;
	if (!c->has_node)
		return 0; /* relay-only */

	r = um_uplinks_start(node);
	if (r) {
		um_log_error("relays: %s", um_strerror(r));
		goto err;
	}
	r = um_node_stun_start(node);
	if (r) {
		um_log_error("stun: %s", um_strerror(r));
		goto err;
	}
	r = um_node_up(node);
	if (r) {
		um_log_error("bringing %s up: %s", node->ifname, um_strerror(r));
		goto err;
	}
	um_log_info("listening on UDP port %u, device %s (%s), %zu peers, %zu relays, %zu STUN servers",
		    um_dataplane_port(node->dataplane), node->ifname, c->mode == UM_MODE_TAP ? "tap" : "tun",
		    node->n_peers, node->n_uplinks, node->n_stun);
	return 0;

err:
	teardown(node);
	return r;
}

void um_node_stop(struct um_node *node)
{
	if (!node->loop)
		return;
	teardown(node);
}
