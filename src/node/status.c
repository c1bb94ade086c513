/* SPDX-License-Identifier: MIT */
/* Control-socket requests: get (status of the node and every peer), up,
 * down, rekey, ping. get fills one status snapshot (ctl/status.h lists
 * every key): the node and peer parts here, the uplink, STUN and path
 * parts in their glue files (uplink.c, uplink_stream.c, stun.c, path.c);
 * ctl/status.c renders it as key=value lines or JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/status.h"

#include "node/dht.h"
#include "node/internal.h"
#include "node/messaging.h"
#include "node/path.h"
#include "node/route.h"
#include "node/session.h"
#include "node/stun.h"
#include "node/uplink.h"
#include "um_config.h"
#include "util/addr.h"
#include "util/clock.h"
#include "util/error.h"

static void fill_relay_server(const struct um_relay_server *server, struct um_relay_server_status *out)
{
	const struct um_relay_stats *st = &server->core.stats;
	const struct um_relay_server_stats *io = &server->stats;

	out->port = server->port;
	out->uptime_ms = (um_now_ns() - server->started_ns) / UM_NSEC_PER_MSEC;
	out->max_nodes = server->core.config.max_nodes;
	out->memory_bytes = um_relay_memory_bytes(&server->core);
	out->registered = st->registered;
	out->registrations = st->registrations;
	out->reregistrations = st->reregistrations;
	out->expired = st->expired;
	out->reg_malformed = st->reg_malformed;
	out->reg_stale = st->reg_stale;
	out->reg_not_admitted = st->reg_not_admitted;
	out->reg_replay = st->reg_replay;
	out->reg_need_key = st->reg_need_key;
	out->reg_rate_limited = st->reg_rate_limited;
	out->reg_bad_signature = st->reg_bad_signature;
	out->reg_full = st->reg_full;
	out->reg_version = st->reg_version;
	out->fragments_buffered = st->fragments_buffered;
	out->fragments_rejected = st->fragments_rejected;
	out->keepalives = st->keepalives;
	out->keepalive_unknown = st->keepalive_unknown;
	out->rebinds = st->rebinds;
	out->bound_at_register = st->bound_at_register;
	out->forwarded_packets = st->forwarded_packets;
	out->forwarded_bytes = st->forwarded_bytes;
	out->drop_malformed = st->drop_malformed;
	out->drop_unknown_type = st->drop_unknown_type;
	out->drop_not_registered = st->drop_not_registered;
	out->drop_rate_limited_packets = st->drop_rate_limited_packets;
	out->drop_rate_limited_bytes = st->drop_rate_limited_bytes;
	out->drop_unknown_peer = st->drop_unknown_peer;
	out->drop_to_self = st->drop_to_self;
	out->errors_sent = st->errors_sent;
	out->errors_suppressed = st->errors_suppressed;
	out->rx_datagrams = io->rx_datagrams;
	out->tx_datagrams = io->tx_datagrams;
	out->rx_truncated = io->rx_truncated;
	out->send_errors = io->send_errors;
	out->rx_spoofed_stream = io->rx_spoofed_stream;
	if (!server->stream)
		return;
	const struct um_relay_stream_stats *ts = um_relay_stream_get_stats(server->stream);
	out->tls = true;
	out->tls_port = um_relay_stream_port(server->stream);
	out->tls_connections = ts->connections;
	out->tls_accepted = ts->accepted;
	out->tls_refused_full = ts->refused_full;
	out->tls_failures = ts->tls_failures;
	out->tls_upgrade_failures = ts->upgrade_failures;
	out->tls_handshake_timeouts = ts->handshake_timeouts;
	out->tls_idle_timeouts = ts->idle_timeouts;
	out->tls_protocol_errors = ts->protocol_errors;
	out->tls_closed = ts->closed;
	out->tls_rx_frames = ts->rx_frames;
	out->tls_rx_bytes = ts->rx_bytes;
	out->tls_tx_frames = ts->tx_frames;
	out->tls_tx_bytes = ts->tx_bytes;
	out->tls_tx_dropped_full = ts->tx_dropped_full;
	out->tls_tx_dropped_gone = ts->tx_dropped_gone;
}

static void fill_node(struct um_node *node, struct um_node_status *out)
{
	uint64_t global[UM_DP_GLOBAL_COUNT];

	out->version = UM_VERSION;
	out->uptime_ms = (um_now_ns() - node->started_ns) / UM_NSEC_PER_MSEC;
	struct um_lateness_summary late;
	um_loop_timer_lateness(node->loop, &late);
	out->loop_timer_late_samples = late.samples;
	out->loop_timer_late_max_us = late.max_us;
	out->loop_timer_late_p99_us = late.p99_us;
	if (node->relay_server) {
		out->has_relay_server = true;
		fill_relay_server(node->relay_server, &out->relay_server);
	}
	if (!node->dataplane) {
		out->relay_only = true;
		return;
	}
	if (node->messaging) {
		out->has_messaging = true;
		um_node_messaging_counters(node, &out->messaging);
	}
	const struct um_handshake_stats *hs = um_handshake_get_stats(node->engine);
	out->id = node->identity.id;
	out->device = node->ifname;
	out->tap = node->config.mode == UM_MODE_TAP;
	out->has_address = node->config.has_address;
	if (out->has_address)
		out->address = node->config.address;
	out->listen_port = um_dataplane_port(node->dataplane);
	out->up = node->up;
	out->handshake = (struct um_handshake_status){
	    .hellos = hs->hellos,
	    .established = hs->established,
	    .bad_mac = hs->bad_mac,
	    .cookies_sent = hs->cookies_sent,
	    .rate_limited = hs->rate_limited,
	    .replays = hs->replays,
	    .malformed = hs->malformed,
	    .auth_failed = hs->auth_failed,
	    .unknown_peer = hs->unknown_peer,
	    .timeouts = hs->timeouts,
	    .version_mismatch = hs->version_mismatch,
	    .challenge_budget = hs->challenge_budget,
	    .fragments_sent = hs->fragments_sent,
	    .fragments_retransmitted = hs->fragments_retransmitted,
	    .acks_sent = hs->acks_sent,
	    .acks_received = hs->acks_received,
	    .acks_dropped = hs->acks_dropped,
	    .challenges_deferred = hs->challenges_deferred,
	    .deferred_stale = hs->deferred_stale,
	    .deferred_refused = hs->deferred_refused,
	    .short_challenges = hs->short_challenges,
	    .short_responses = hs->short_responses,
	    .key_unknown = hs->key_unknown,
	    .repeats_ignored = hs->repeats_ignored,
	};
	out->under_load = um_handshake_under_load(node->engine);
	out->demux_dropped = node->demux_dropped;
	out->path_dropped = node->path_dropped;
	um_dataplane_global_stats(node->dataplane, global);
	out->dataplane = (struct um_dataplane_status){
	    .no_route = global[UM_DP_GLOBAL_NO_ROUTE],
	    .unknown_index = global[UM_DP_GLOBAL_UNKNOWN_INDEX],
	    .malformed = global[UM_DP_GLOBAL_MALFORMED],
	    .ring_full = global[UM_DP_GLOBAL_RING_FULL],
	    .tun_write_errors = global[UM_DP_GLOBAL_TUN_WRITE],
	    .busy_poll_hits = global[UM_DP_GLOBAL_BUSY_POLL_HITS],
	    .busy_poll_misses = global[UM_DP_GLOBAL_BUSY_POLL_MISSES],
	    .gathers = global[UM_DP_GLOBAL_GATHERS],
	    .spreads = global[UM_DP_GLOBAL_SPREADS],
	};
	um_uplinks_status_fill(node, out);
	um_node_stun_status_fill(node, &out->stun);
}

static enum um_route_status route_status(enum um_route_kind kind)
{
	switch (kind) {
	case UM_ROUTE_DIRECT:
		return UM_ROUTE_STATUS_DIRECT;
	case UM_ROUTE_RELAY:
		return UM_ROUTE_STATUS_RELAY;
	case UM_ROUTE_RELAY_TCP:
		return UM_ROUTE_STATUS_RELAY_TCP;
	case UM_ROUTE_NONE:
		break;
	}
	return UM_ROUTE_STATUS_NONE;
}

/* allowed_ips: this peer's prefixes, converted into space the caller owns
 * (cp->n_allowed_ips entries). */
static void fill_peer(struct um_node *node, const struct um_node_peer *peer, struct um_addr_prefix *allowed_ips,
		      struct um_peer_status *out)
{
	const struct um_config_peer *cp = peer->config;
	struct um_dp_peer_stats st;
	uint64_t now = um_now_ns();

	out->name = cp->name;
	out->id = cp->id;
	if (peer->via_relay && peer->relay >= 0 && (size_t)peer->relay < node->n_uplinks) {
		/* Over a wss:// uplink the relay is the TLS server, not the proxy. */
		const struct um_node_uplink *u = &node->uplinks[peer->relay];
		out->route = u->tls ? UM_ROUTE_STATUS_RELAY_TCP : UM_ROUTE_STATUS_RELAY;
		out->endpoint = u->tls ? u->remote : u->addr;
		out->relay = out->endpoint;
		out->direct_endpoint = peer->endpoint;
	} else {
		if (peer->state == UM_PEER_ESTABLISHED)
			out->route = UM_ROUTE_STATUS_DIRECT;
		out->endpoint = peer->endpoint;
	}
	out->state = um_peer_state_name(peer->state);
	out->state_changes = peer->state_changes;
	enum um_node_found found = um_node_dht_found(peer);
	out->found = found ? um_node_found_name(found) : NULL;
	if (peer->last_handshake_ns)
		out->last_handshake_age_ms = (now - peer->last_handshake_ns) / UM_NSEC_PER_MSEC;
	out->handshakes = peer->handshakes;
	out->rekeys = peer->rekeys;
	if (peer->hs) {
		struct um_handshake_peer_timing hs;
		um_handshake_peer_get_timing(peer->hs, &hs);
		if (hs.samples)
			out->handshake_srtt_us = hs.srtt_ns / 1000;
		out->handshake_rto_ms = hs.rto_ns / UM_NSEC_PER_MSEC;
		out->handshake_retransmitted_datagrams = hs.retransmitted_datagrams;
		out->handshake_ack_resent_datagrams = hs.ack_resent_datagrams;
	}
	if (peer->setup.has_session) {
		const struct um_node_setup *setup = &peer->setup;
		out->setup_role = setup->initiator ? "initiator" : "responder";
		if (setup->took_ns != UINT64_MAX)
			out->setup_ms = setup->took_ns / UM_NSEC_PER_MSEC;
		if (setup->reply_took_ns != UINT64_MAX)
			out->setup_first_reply_ms = setup->reply_took_ns / UM_NSEC_PER_MSEC;
		if (setup->total_ns != UINT64_MAX)
			out->setup_total_ms = setup->total_ns / UM_NSEC_PER_MSEC;
		out->setup_initiations = setup->took_initiations;
	}
	if (peer->state == UM_PEER_ESTABLISHED)
		out->transport = route_status(um_peer_route(peer).kind);
	if (um_dataplane_peer_stats(node->dataplane, peer->dp_peer, &st) == 0) {
		out->has_traffic = true;
		out->traffic = (struct um_traffic_status){
		    .rx_bytes = st.rx_bytes,
		    .rx_packets = st.rx_packets,
		    .tx_bytes = st.tx_bytes,
		    .tx_packets = st.tx_packets,
		    .drop_bad_mac = st.drops[UM_DP_DROP_BAD_MAC],
		    .drop_replay = st.drops[UM_DP_DROP_REPLAY],
		    .drop_malformed = st.drops[UM_DP_DROP_MALFORMED],
		    .drop_not_allowed = st.drops[UM_DP_DROP_NOT_ALLOWED],
		    .drop_no_key = st.drops[UM_DP_DROP_NO_KEY],
		    .drop_send = st.drops[UM_DP_DROP_SEND],
		    .rx_relay_packets = st.rx_relay_packets,
		    .rx_direct_packets = st.rx_direct_packets,
		    .tx_relay_packets = st.tx_relay_packets,
		    .tx_direct_packets = st.tx_direct_packets,
		};
	}
	/* The coarse handshake-based bound gets its own key (node/session.h). */
	if (peer->rtt_ns) {
		out->rtt_us = peer->rtt_ns / 1000;
		out->rtt_is_bound = peer->rtt_from_handshake;
	}
	out->keepalive_s = cp->keepalive_s;
	um_path_status_fill(peer, &out->path);
	for (size_t i = 0; i < cp->n_allowed_ips; i++)
		allowed_ips[i] = cp->allowed_ips[i];
	out->allowed_ips = allowed_ips;
	out->n_allowed_ips = cp->n_allowed_ips;
}

/* Fills the snapshot, renders it in the format asked for, frees it. */
static int get(struct um_node *node, enum um_control_format format, struct um_control_reply *reply)
{
	struct um_node_status status;
	struct um_addr_prefix *prefixes = NULL;
	size_t n_peers = node->dataplane ? node->n_peers : 0, n_uplinks = node->dataplane ? node->n_uplinks : 0;
	size_t n_prefixes = 0, used = 0;
	char *json = NULL;
	size_t json_len;
	int r;

	for (size_t i = 0; i < n_peers; i++)
		n_prefixes += node->peers[i].config->n_allowed_ips;
	r = um_node_status_init(&status, n_peers, n_uplinks);
	if (r)
		return r;
	if (n_prefixes && !(prefixes = calloc(n_prefixes, sizeof(*prefixes)))) {
		r = -UM_ENOMEM;
		goto out;
	}
	fill_node(node, &status);
	for (size_t i = 0; i < n_peers; i++) {
		fill_peer(node, &node->peers[i], prefixes + used, &status.peers[i]);
		used += node->peers[i].config->n_allowed_ips;
	}
	if (format == UM_CONTROL_FORMAT_TEXT) {
		um_status_render_text(&status, reply);
		goto out;
	}
	r = um_status_render_json(&status,
				  format == UM_CONTROL_FORMAT_JSON_PEERS ? UM_STATUS_JSON_PEERS : UM_STATUS_JSON_FULL,
				  &json, &json_len);
	if (r)
		goto out;
	/* One line: the document without its final newline. */
	um_control_reply_add_raw(reply, "json", json, json_len && json[json_len - 1] == '\n' ? json_len - 1 : json_len);
out:
	free(json);
	free(prefixes);
	um_node_status_free(&status);
	return r;
}

static int rekey(struct um_node *node, const char *name)
{
	bool all = !strcmp(name, "*"), found = false;

	if (!node->up)
		return -UM_ESTATE;
	for (size_t i = 0; i < node->n_peers; i++) {
		struct um_node_peer *peer = &node->peers[i];
		if (!all && strcmp(peer->config->name, name))
			continue;
		found = true;
		if (peer->endpoint.family == 0 && um_uplink_for_peer(node, peer) < 0) {
			if (!all)
				return -UM_ESTATE; /* we cannot call a peer whose address we never learned */
			continue;
		}
		if (!um_handshake_peer_busy(peer->hs)) {
			int r = um_node_initiate(peer);
			if (r && !all)
				return r;
		}
	}
	return found ? 0 : -UM_ENOTFOUND;
}

/* Sends the probe and returns at once with ping_sequence: the answer shows
 * up in that peer's get=1 block (ping_answered, ping_path, ping_rtt_us). */
static int ping(struct um_node *node, const char *name, struct um_control_reply *reply)
{
	uint64_t sequence = 0;

	if (!node->dataplane)
		return -UM_ESTATE;
	for (size_t i = 0; i < node->n_peers; i++) {
		struct um_node_peer *peer = &node->peers[i];
		if (strcmp(peer->config->name, name))
			continue;
		int r = um_path_ping(peer, &sequence);
		if (r)
			return r;
		um_control_reply_add(reply, "ping_sequence", "%llu", (unsigned long long)sequence);
		return 0;
	}
	return -UM_ENOTFOUND;
}

int um_node_control(void *arg, const struct um_control_request *req, struct um_control_reply *reply)
{
	struct um_node *node = arg;

	switch (req->op) {
	case UM_CONTROL_GET:
		return get(node, req->format, reply);
	case UM_CONTROL_UP:
		return um_node_up(node);
	case UM_CONTROL_DOWN:
		return node->dataplane ? um_node_down(node) : -UM_ESTATE;
	case UM_CONTROL_REKEY:
		return rekey(node, req->peer);
	case UM_CONTROL_PING:
		return ping(node, req->peer, reply);
	case UM_CONTROL_DHT:
		return um_node_dht_control(node, req, reply);
	case UM_CONTROL_SEND:
	case UM_CONTROL_INBOX:
	case UM_CONTROL_INBOX_FOLLOW:
	case UM_CONTROL_FILE_SEND:
	case UM_CONTROL_FILE_LIST:
	case UM_CONTROL_FILE_ACCEPT:
	case UM_CONTROL_FILE_REJECT:
	case UM_CONTROL_PRESENCE:
	case UM_CONTROL_READ:
		return um_node_messaging_control(node, req, reply);
	}
	return -UM_EINVAL;
}
