/* SPDX-License-Identifier: MIT */
/* The composition root (node.h): the start/stop ladder, up/down, the data
 * plane's messages to their file, and the hooks through which lower files
 * report upwards (node/internal.h has the order of the files). */
#include "node/node.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include <sodium.h>

#include "http/bootstrap_api.h"
#include "net/quiet.h"
#include "net/tun.h"
#include "node/demux.h"
#include "node/dht.h"
#include "node/internal.h"
#include "node/messaging.h"
#include "node/path.h"
#include "node/relay_queue.h"
#include "node/route.h"
#include "node/session.h"
#include "node/stun.h"
#include "node/uplink.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

_Static_assert(UM_CONFIG_BUSY_POLL_MAX_US == UM_BUSY_POLL_MAX_US, "busy-poll-us bound = the data plane's");

/* A wakeup handles at most DRAIN_BATCH control datagrams and stops after
 * DRAIN_BUDGET_NS: a burst of handshakes that each cost a signature (~1 ms)
 * must not hold back the timers queued behind it (hello_flood measures it). */
enum { DRAIN_BATCH = 1024 };
#define DRAIN_BUDGET_NS (5 * UM_NSEC_PER_MSEC)
/* The engine lends at most max_pending work items (its default, 64). */
enum { UM_NODE_HS_WORK_ITEMS = 64 };

/* The engine must not hand out an index that a live keypair still uses. */
static bool index_in_use(void *ctx, uint32_t index)
{
	struct um_node *node = ctx;

	if (index == 0)
		return true; /* 0 marks an empty slot in our mirror */
	for (size_t i = 0; i < node->n_peers; i++) {
		const struct um_node_peer *p = &node->peers[i];
		if (p->index_current == index || p->index_previous == index || p->index_next == index ||
		    p->index_superseded == index)
			return true;
	}
	return false;
}

/* ---- the data plane's messages ---- */

static void on_control_msg(struct um_node *node, struct um_dp_control_msg *msg)
{
	struct um_node_peer *peer;
	struct um_route route = {.kind = UM_ROUTE_DIRECT};

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
		um_node_messaging_session_up(peer); /* the responder can send now */
		break;
	case UM_DP_CONTROL_MESSAGE:
		um_node_messaging_receive(peer, msg->data, msg->len);
		break;
	case UM_DP_EVENT_NEED_KEY:
		um_session_need_key(peer);
		break;
	case UM_DP_EVENT_ENDPOINT_CHANGED:
		if (um_addr_from_sockaddr(&route.endpoint, (struct sockaddr *)&msg->from, msg->from_len) == 0)
			um_peer_route_set(peer, &route, UM_ROUTE_WHY_ROAMED);
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
	uint64_t started = um_now_ns();
	bool look = false; /* at the clock: after anything but a channel segment (cheap), and every 16 */
	for (unsigned i = 0; i < DRAIN_BATCH && !(look && um_now_ns() - started >= DRAIN_BUDGET_NS); i++) {
		struct um_dp_control_msg *msg;
		if (um_dataplane_control_peek(node->dataplane, &msg))
			break;
		look = msg->kind != UM_DP_CONTROL_MESSAGE || (i & 15) == 15;
		on_control_msg(node, msg); /* in the ring's slot: no copy */
		um_dataplane_control_release(node->dataplane);
	}
	um_session_engine_rearm(node);
}

/* ---- up / down ---- */

static void add_routes(struct um_node *node)
{
	if (node->config.mode != UM_MODE_TUN || node->config.no_device)
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
	int r = node->config.no_device ? 0 : um_tun_set_up(node->ifname, true);
	if (r)
		return r;
	node->up = true;
	add_routes(node);
	for (size_t i = 0; i < node->n_peers; i++)
		um_session_up(&node->peers[i]);
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
		um_session_peer_down(peer);
		um_node_clear_session(peer);
		um_peer_set_state(peer, UM_PEER_IDLE, "node down");
	}
	int r = node->config.no_device ? 0 : um_tun_set_up(node->ifname, false);
	um_log_info("%s down", node->ifname);
	return r;
}

/* ---- lifecycle ---- */

static int add_peer(struct um_node *node, struct um_node_peer *peer, const struct um_config_peer *cp)
{
	struct um_addr_prefix *prefixes = NULL;
	uint32_t slot;
	int r;

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
	if (cp->endpoint.family) {
		struct um_route route = {.kind = UM_ROUTE_DIRECT, .endpoint = cp->endpoint};
		um_peer_route_set(peer, &route, UM_ROUTE_WHY_CONFIG);
	}
	return um_handshake_peer_add(node->engine, &cp->id, peer, &peer->hs);
}

/* Undoes whatever part of um_node_start got done (every step checks). */
static void teardown(struct um_node *node)
{
	um_node_messaging_goodbye(node); /* before the sessions go */
	if (node->up)
		um_node_down(node);
	if (node->control_started)
		um_control_server_stop(&node->control);
	node->control_started = false;
	um_node_messaging_stop(node); /* closes the store */
	um_node_dht_stop(node);       /* saves the routing table */
	um_node_stun_stop(node);
	um_uplinks_stop(node);
	um_relay_queue_stop(node->relay_queue);         /* answers what waits, before the listener goes */
	um_bootstrap_service_stop(node->bootstrap_api); /* joins its HTTP thread */
	node->bootstrap_api = NULL;
	um_relay_queue_free(node->relay_queue);
	node->relay_queue = NULL;
	if (node->relay_server) {
		um_relay_server_stop(node->relay_server);
		free(node->relay_server);
		node->relay_server = NULL;
	}
	um_timer_cancel(node->loop, &node->hs_timer);
	if (node->dp_watch.fn)
		um_loop_remove(node->loop, &node->dp_watch);
	for (size_t i = 0; i < node->n_peers; i++) {
		um_session_peer_down(&node->peers[i]);
		um_path_session_cleared(&node->peers[i]);
	}
	/* Freeing the data plane wipes every key and removes the device. */
	um_dataplane_free(node->dataplane);
	um_session_worker_stop(node); /* before the engine: it lends the work */
	um_handshake_engine_free(node->engine);
	um_node_peers_free(node);
	if (node->out)
		sodium_free(node->out);
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
	    .identity_path = rc->identity_path[0] ? rc->identity_path : NULL,
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

/* [relay] api: the bootstrap HTTP API on its own thread. It verifies the
 * nodes' signatures and signs nothing, so it needs no identity. */
static int start_bootstrap_api(struct um_node *node)
{
	const struct um_config_relay_server *rc = &node->config.relay;
	struct um_http_server_config http = {
	    .listen = rc->api,
	    .certificate = rc->api_certificate[0] ? rc->api_certificate : NULL,
	    .key = rc->api_key[0] ? rc->api_key : NULL,
	};
	char text[UM_ADDR_TEXT_MAX];
	int r = rc->queue_path[0] ? um_relay_queue_open(&node->relay_queue, rc, NULL) : 0;

	if (r)
		return r;
	r = um_bootstrap_service_start_extra(&node->bootstrap_api, &http, NULL,
					     node->relay_queue ? um_relay_queue_attach : NULL, node->relay_queue);

	um_addr_format(&rc->api, text, sizeof(text));
	if (r) {
		um_log_error("bootstrap API on %s: %s", text, um_strerror(r));
		return r;
	}
	um_log_info("bootstrap API listening on %s://%s", http.certificate ? "https" : "http", text);
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
	if (!node->out)
		return -ENOMEM;
	memset(node->out, 0, sizeof(*node->out));

	struct um_handshake_config hs_config = {
	    .identity = &node->identity,
	    .mtu = (uint16_t)c->mtu,
	    .heartbeat_s = (uint16_t)((c->heartbeat_ms + 999) / 1000),
	    .rotation_s = (uint32_t)((c->rekey_ms + 999) / 1000),
	    .index_in_use = index_in_use,
	    .index_ctx = node,
	    .defer_challenge = true, /* signed on node->hs_worker */
	    /* A first session's keys go in for receiving before our RESPONSE
	     * (session.c: early_receive). */
	    .early_keys = true,
	    .repeat_single = true,
	};
	r = um_handshake_engine_new(&node->engine, &hs_config);
	if (r) {
		um_log_error("handshake engine: %s", um_strerror(r));
		return r;
	}
	if ((r = um_session_worker_start(node, UM_NODE_HS_WORK_ITEMS))) {
		um_log_error("handshake worker: %s", um_strerror(r));
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
	    .no_device = c->no_device, /* device = none: messages only */
	};
	r = um_dataplane_new(&dp_config, &node->dataplane);
	if (r) {
		um_log_error("data plane (device %s, port %u): %s", c->device, c->listen_port, um_strerror(r));
		return r;
	}
	snprintf(node->ifname, sizeof(node->ifname), "%s",
		 c->no_device ? "none" : um_dataplane_ifname(node->dataplane));
	if (c->has_address && !c->no_device) {
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
		struct um_node_peer *peer = &node->peers[i];
		peer->designated = memcmp(&node->identity.id, &peer->config->id, sizeof(peer->config->id)) < 0;
		um_session_peer_init(peer);
		um_path_peer_init(peer);
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

/* New reflexive address: direct paths and our DHT record. */
static void candidates_changed(struct um_node *node)
{
	um_path_local_candidates_changed(node);
	um_node_dht_endpoints_changed(node);
}

int um_node_start(struct um_node **out, struct um_loop *loop, struct um_config *config, um_control_handler_fn control)
{
	struct um_node *node = calloc(1, sizeof(*node));
	struct um_config *c;
	int r;

	*out = NULL;
	if (!node) {
		um_config_free(config);
		return -UM_ENOMEM;
	}
	c = &node->config;
	node->config = *config; /* take over the allocations */
	um_config_init(config);
	node->loop = loop;
	node->started_ns = um_now_ns();
	node->home = node->backup = -1;
	node->hooks = (struct um_node_hooks){
	    .relay_ready = um_session_relay_ready,
	    .relay_unknown_peer = um_session_relay_unknown_peer,
	    .candidates_changed = candidates_changed,
	    .session_up = um_node_messaging_session_up,
	};
	um_timer_init(&node->hs_timer, um_session_engine_timer, node);
	um_log_set_level(c->log_level);

	if (c->has_node && (r = start_node(node)))
		goto err;
	if (c->relay.enabled && (r = start_relay_server(node)))
		goto err;
	if (c->relay.enabled && c->relay.api.family && (r = start_bootstrap_api(node)))
		goto err;

	r = um_control_server_start(&node->control, loop, c->control_socket, control, node);
	if (r) {
		um_log_error("control socket %s: %s", c->control_socket, um_strerror(r));
		goto err;
	}
	node->control_started = true;
	*out = node;
	if (!c->has_node) {
		r = um_node_dht_start(node); /* the relay's DHT node */
		if (r) {
			um_log_error("dht: %s", um_strerror(r));
			goto err;
		}
		return 0; /* relay-only */
	}

	r = um_node_messaging_start(node);
	if (r)
		goto err;
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
	r = um_node_dht_start(node);
	if (r) {
		um_log_error("dht: %s", um_strerror(r));
		goto err;
	}
	um_log_info("listening on UDP port %u, device %s (%s), %zu peers, %zu relays, %zu STUN servers",
		    um_dataplane_port(node->dataplane), node->ifname, c->mode == UM_MODE_TAP ? "tap" : "tun",
		    node->n_peers, node->n_uplinks, node->n_stun);
	return 0;

err:
	*out = NULL;
	teardown(node);
	free(node);
	return r;
}

void um_node_stop(struct um_node *node)
{
	if (!node)
		return;
	teardown(node);
	free(node);
}
