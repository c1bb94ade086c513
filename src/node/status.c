/* SPDX-License-Identifier: MIT */
/* Control-socket requests: get (status of the node and every peer), up,
 * down, rekey. The keys of the get reply:
 *
 *   node:  node_id short_id version device mode address listen_port up
 *          uptime_ms peers hs_hellos hs_established hs_bad_mac
 *          hs_cookies_sent hs_rate_limited hs_replays hs_malformed
 *          hs_auth_failed hs_unknown_peer hs_timeouts under_load
 *          demux_dropped (datagrams of no known type or route)
 *          dp_no_route dp_unknown_index dp_malformed dp_ring_full
 *          dp_tun_write_errors, relays home_relay home_relay_rtt_us
 *          observed_endpoint, then per relay uplink(=address) uplink_state
 *          uplink_rtt_us uplink_observed uplink_last_reply_age_ms
 *          uplink_registrations uplink_errors (uplink.c), stun_servers
 *          stun_server stun_mapped stun_rtt_us stun_last_answer_age_ms
 *          stun_answers stun_failures stun_last_error (stun.c: the server
 *          with the freshest answer; counters over all), then, when
 *          umbrad is a relay, relay_* (the server's counters, below).
 *          Relay-only: mode=relay, version, uptime_ms and relay_* only.
 *   peer:  peer(=name) id short_id path(direct|relay|relay-tcp) endpoint (in use:
 *          the relay's address on the relay path) relay direct_endpoint
 *          state state_changes last_handshake_age_ms
 *          handshakes rekeys rx_bytes rx_packets tx_bytes tx_packets
 *          drop_bad_mac drop_replay drop_malformed drop_not_allowed
 *          drop_no_key drop_send rtt_us | rtt_bound_us keepalive
 *          rx_relay_packets rx_direct_packets tx_relay_packets tx_direct_packets
 *          path_state direct_path time_to_direct_ms direct_rtt_us
 *          direct_switches fallbacks fallback_silence_ms path_candidates
 *          path_remote_candidates path_probes_sent path_probes_answered
 *          path_bad_mac ping_sequence
 *          ping_answered ping_path ping_rtt_us ping_from (node/path.c)
 *          allowed_ip(repeated)
 *
 * Absent keys mean "unknown" (no handshake yet, no RTT sample). */
#include <stdio.h>
#include <string.h>

#include "node/status.h"

#include "node/internal.h"
#include "node/path.h"
#include "node/session.h"
#include "node/stun.h"
#include "node/uplink.h"
#include "util/addr.h"
#include "util/clock.h"
#include "util/error.h"
#include "um_config.h"

#define U64(x) ((unsigned long long)(x))

static void reply_relay_server(const struct um_relay_server *server, struct um_control_reply *reply)
{
	const struct um_relay_stats *st = &server->core.stats;
	const struct um_relay_server_stats *io = &server->stats;

#define RELAY_KEY(name, value) um_control_reply_add(reply, "relay_" name, "%llu", U64(value))
	RELAY_KEY("port", server->port);
	RELAY_KEY("uptime_ms", (um_now_ns() - server->started_ns) / UM_NSEC_PER_MSEC);
	RELAY_KEY("max_nodes", server->core.config.max_nodes);
	RELAY_KEY("memory_bytes", um_relay_memory_bytes(&server->core));
	RELAY_KEY("registered", st->registered);
	RELAY_KEY("registrations", st->registrations);
	RELAY_KEY("reregistrations", st->reregistrations);
	RELAY_KEY("expired", st->expired);
	RELAY_KEY("reg_malformed", st->reg_malformed);
	RELAY_KEY("reg_stale", st->reg_stale);
	RELAY_KEY("reg_not_admitted", st->reg_not_admitted);
	RELAY_KEY("reg_replay", st->reg_replay);
	RELAY_KEY("reg_need_key", st->reg_need_key);
	RELAY_KEY("reg_rate_limited", st->reg_rate_limited);
	RELAY_KEY("reg_bad_signature", st->reg_bad_signature);
	RELAY_KEY("reg_full", st->reg_full);
	RELAY_KEY("fragments_buffered", st->fragments_buffered);
	RELAY_KEY("fragments_rejected", st->fragments_rejected);
	RELAY_KEY("keepalives", st->keepalives);
	RELAY_KEY("keepalive_unknown", st->keepalive_unknown);
	RELAY_KEY("rebinds", st->rebinds);
	RELAY_KEY("forwarded_packets", st->forwarded_packets);
	RELAY_KEY("forwarded_bytes", st->forwarded_bytes);
	RELAY_KEY("drop_malformed", st->drop_malformed);
	RELAY_KEY("drop_unknown_type", st->drop_unknown_type);
	RELAY_KEY("drop_not_registered", st->drop_not_registered);
	RELAY_KEY("drop_rate_limited_packets", st->drop_rate_limited_packets);
	RELAY_KEY("drop_rate_limited_bytes", st->drop_rate_limited_bytes);
	RELAY_KEY("drop_unknown_peer", st->drop_unknown_peer);
	RELAY_KEY("drop_to_self", st->drop_to_self);
	RELAY_KEY("errors_sent", st->errors_sent);
	RELAY_KEY("errors_suppressed", st->errors_suppressed);
	RELAY_KEY("rx_datagrams", io->rx_datagrams);
	RELAY_KEY("tx_datagrams", io->tx_datagrams);
	RELAY_KEY("rx_truncated", io->rx_truncated);
	RELAY_KEY("send_errors", io->send_errors);
	RELAY_KEY("rx_spoofed_stream", io->rx_spoofed_stream);
	if (server->stream) {
		const struct um_relay_stream_stats *ts = um_relay_stream_get_stats(server->stream);
		RELAY_KEY("tls_port", um_relay_stream_port(server->stream));
		RELAY_KEY("tls_connections", ts->connections);
		RELAY_KEY("tls_accepted", ts->accepted);
		RELAY_KEY("tls_refused_full", ts->refused_full);
		RELAY_KEY("tls_failures", ts->tls_failures);
		RELAY_KEY("tls_upgrade_failures", ts->upgrade_failures);
		RELAY_KEY("tls_handshake_timeouts", ts->handshake_timeouts);
		RELAY_KEY("tls_idle_timeouts", ts->idle_timeouts);
		RELAY_KEY("tls_protocol_errors", ts->protocol_errors);
		RELAY_KEY("tls_closed", ts->closed);
		RELAY_KEY("tls_rx_frames", ts->rx_frames);
		RELAY_KEY("tls_rx_bytes", ts->rx_bytes);
		RELAY_KEY("tls_tx_frames", ts->tx_frames);
		RELAY_KEY("tls_tx_bytes", ts->tx_bytes);
		RELAY_KEY("tls_tx_dropped_full", ts->tx_dropped_full);
		RELAY_KEY("tls_tx_dropped_gone", ts->tx_dropped_gone);
	}
#undef RELAY_KEY
}

static void reply_node(struct um_node *node, struct um_control_reply *reply)
{
	char text[UM_PEER_ID_TEXT_MAX];
	uint64_t global[UM_DP_GLOBAL_COUNT];

	if (!node->dataplane) {
		um_control_reply_add(reply, "mode", "relay");
		um_control_reply_add(reply, "version", "%s", UM_VERSION);
		um_control_reply_add(reply, "uptime_ms", "%llu",
				     U64((um_now_ns() - node->started_ns) / UM_NSEC_PER_MSEC));
		if (node->relay_server)
			reply_relay_server(node->relay_server, reply);
		return;
	}
	const struct um_handshake_stats *hs = um_handshake_get_stats(node->engine);
	um_peer_id_format(&node->identity.id, text, sizeof(text));
	um_control_reply_add(reply, "node_id", "%s", text);
	um_peer_id_format_short(&node->identity.id, text, sizeof(text));
	um_control_reply_add(reply, "short_id", "%s", text);
	um_control_reply_add(reply, "version", "%s", UM_VERSION);
	um_control_reply_add(reply, "device", "%s", node->ifname);
	um_control_reply_add(reply, "mode", "%s", node->config.mode == UM_MODE_TAP ? "tap" : "tun");
	if (node->config.has_address && um_cidr_format(&node->config.address, text, sizeof(text)) == 0)
		um_control_reply_add(reply, "address", "%s", text);
	um_control_reply_add(reply, "listen_port", "%u", um_dataplane_port(node->dataplane));
	um_control_reply_add(reply, "up", "%d", node->up);
	um_control_reply_add(reply, "uptime_ms", "%llu", U64((um_now_ns() - node->started_ns) / UM_NSEC_PER_MSEC));
	um_control_reply_add(reply, "peers", "%zu", node->n_peers);
	um_control_reply_add(reply, "hs_hellos", "%llu", U64(hs->hellos));
	um_control_reply_add(reply, "hs_established", "%llu", U64(hs->established));
	um_control_reply_add(reply, "hs_bad_mac", "%llu", U64(hs->bad_mac));
	um_control_reply_add(reply, "hs_cookies_sent", "%llu", U64(hs->cookies_sent));
	um_control_reply_add(reply, "hs_rate_limited", "%llu", U64(hs->rate_limited));
	um_control_reply_add(reply, "hs_replays", "%llu", U64(hs->replays));
	um_control_reply_add(reply, "hs_malformed", "%llu", U64(hs->malformed));
	um_control_reply_add(reply, "hs_auth_failed", "%llu", U64(hs->auth_failed));
	um_control_reply_add(reply, "hs_unknown_peer", "%llu", U64(hs->unknown_peer));
	um_control_reply_add(reply, "hs_timeouts", "%llu", U64(hs->timeouts));
	um_control_reply_add(reply, "under_load", "%d", um_handshake_under_load(node->engine));
	um_control_reply_add(reply, "demux_dropped", "%llu", U64(node->demux_dropped));
	um_dataplane_global_stats(node->dataplane, global);
	um_control_reply_add(reply, "dp_no_route", "%llu", U64(global[UM_DP_GLOBAL_NO_ROUTE]));
	um_control_reply_add(reply, "dp_unknown_index", "%llu", U64(global[UM_DP_GLOBAL_UNKNOWN_INDEX]));
	um_control_reply_add(reply, "dp_malformed", "%llu", U64(global[UM_DP_GLOBAL_MALFORMED]));
	um_control_reply_add(reply, "dp_ring_full", "%llu", U64(global[UM_DP_GLOBAL_RING_FULL]));
	um_control_reply_add(reply, "dp_tun_write_errors", "%llu", U64(global[UM_DP_GLOBAL_TUN_WRITE]));
	um_control_reply_add(reply, "dp_busy_poll_hits", "%llu", U64(global[UM_DP_GLOBAL_BUSY_POLL_HITS]));
	um_control_reply_add(reply, "dp_busy_poll_misses", "%llu", U64(global[UM_DP_GLOBAL_BUSY_POLL_MISSES]));
	um_control_reply_add(reply, "dp_gathers", "%llu", U64(global[UM_DP_GLOBAL_GATHERS]));
	um_control_reply_add(reply, "dp_spreads", "%llu", U64(global[UM_DP_GLOBAL_SPREADS]));
	um_uplinks_status(node, reply);
	um_node_stun_status(node, reply);
	if (node->relay_server)
		reply_relay_server(node->relay_server, reply);
}

static void add_endpoint(struct um_control_reply *reply, const char *key, const struct um_wire_addr *addr)
{
	char text[64];

	if (addr->family && um_addr_format((const struct um_addr *)addr, text, sizeof(text)) == 0)
		um_control_reply_add(reply, key, "%s", text);
}

static void reply_peer(struct um_node *node, const struct um_node_peer *peer, struct um_control_reply *reply)
{
	const struct um_config_peer *cp = peer->config;
	char text[UM_PEER_ID_TEXT_MAX];
	struct um_dp_peer_stats st;
	uint64_t now = um_now_ns();

	um_control_reply_add(reply, "peer", "%s", cp->name);
	um_peer_id_format(&cp->id, text, sizeof(text));
	um_control_reply_add(reply, "id", "%s", text);
	um_peer_id_format_short(&cp->id, text, sizeof(text));
	um_control_reply_add(reply, "short_id", "%s", text);
	if (peer->via_relay && peer->relay >= 0 && (size_t)peer->relay < node->n_uplinks) {
		/* Over a wss:// uplink the relay is the TLS server, not the proxy. */
		const struct um_node_uplink *u = &node->uplinks[peer->relay];
		um_control_reply_add(reply, "path", "%s", u->tls ? "relay-tcp" : "relay");
		add_endpoint(reply, "endpoint", u->tls ? &u->remote : &u->addr);
		add_endpoint(reply, "relay", u->tls ? &u->remote : &u->addr);
		add_endpoint(reply, "direct_endpoint", &peer->endpoint);
	} else {
		if (peer->state == UM_PEER_ESTABLISHED)
			um_control_reply_add(reply, "path", "direct");
		add_endpoint(reply, "endpoint", &peer->endpoint);
	}
	um_control_reply_add(reply, "state", "%s", um_peer_state_name(peer->state));
	um_control_reply_add(reply, "state_changes", "%llu", U64(peer->state_changes));
	if (peer->last_handshake_ns)
		um_control_reply_add(reply, "last_handshake_age_ms", "%llu",
				     U64((now - peer->last_handshake_ns) / UM_NSEC_PER_MSEC));
	um_control_reply_add(reply, "handshakes", "%llu", U64(peer->handshakes));
	um_control_reply_add(reply, "rekeys", "%llu", U64(peer->rekeys));
	if (um_dataplane_peer_stats(node->dataplane, peer->dp_peer, &st) == 0) {
		um_control_reply_add(reply, "rx_bytes", "%llu", U64(st.rx_bytes));
		um_control_reply_add(reply, "rx_packets", "%llu", U64(st.rx_packets));
		um_control_reply_add(reply, "tx_bytes", "%llu", U64(st.tx_bytes));
		um_control_reply_add(reply, "tx_packets", "%llu", U64(st.tx_packets));
		um_control_reply_add(reply, "drop_bad_mac", "%llu", U64(st.drops[UM_DP_DROP_BAD_MAC]));
		um_control_reply_add(reply, "drop_replay", "%llu", U64(st.drops[UM_DP_DROP_REPLAY]));
		um_control_reply_add(reply, "drop_malformed", "%llu", U64(st.drops[UM_DP_DROP_MALFORMED]));
		um_control_reply_add(reply, "drop_not_allowed", "%llu", U64(st.drops[UM_DP_DROP_NOT_ALLOWED]));
		um_control_reply_add(reply, "drop_no_key", "%llu", U64(st.drops[UM_DP_DROP_NO_KEY]));
		um_control_reply_add(reply, "drop_send", "%llu", U64(st.drops[UM_DP_DROP_SEND]));
		um_control_reply_add(reply, "rx_relay_packets", "%llu", U64(st.rx_relay_packets));
		um_control_reply_add(reply, "rx_direct_packets", "%llu", U64(st.rx_direct_packets));
		um_control_reply_add(reply, "tx_relay_packets", "%llu", U64(st.tx_relay_packets));
		um_control_reply_add(reply, "tx_direct_packets", "%llu", U64(st.tx_direct_packets));
	}
	/* The coarse handshake-based bound gets its own key (node/session.h). */
	if (peer->rtt_ns)
		um_control_reply_add(reply, peer->rtt_from_handshake ? "rtt_bound_us" : "rtt_us", "%llu",
				     U64(peer->rtt_ns / 1000));
	um_control_reply_add(reply, "keepalive", "%u", cp->keepalive_s);
	um_path_status(peer, reply);
	for (size_t i = 0; i < cp->n_allowed_ips; i++)
		if (um_cidr_format(&cp->allowed_ips[i], text, sizeof(text)) == 0)
			um_control_reply_add(reply, "allowed_ip", "%s", text);
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
		um_control_reply_add(reply, "ping_sequence", "%llu", U64(sequence));
		return 0;
	}
	return -UM_ENOTFOUND;
}

int um_node_control(void *arg, const struct um_control_request *req, struct um_control_reply *reply)
{
	struct um_node *node = arg;

	switch (req->op) {
	case UM_CONTROL_GET:
		reply_node(node, reply);
		if (!node->dataplane)
			return 0;
		for (size_t i = 0; i < node->n_peers; i++)
			reply_peer(node, &node->peers[i], reply);
		return 0;
	case UM_CONTROL_UP:
		return um_node_up(node);
	case UM_CONTROL_DOWN:
		return node->dataplane ? um_node_down(node) : -UM_ESTATE;
	case UM_CONTROL_REKEY:
		return rekey(node, req->peer);
	case UM_CONTROL_PING:
		return ping(node, req->peer, reply);
	}
	return -UM_EINVAL;
}
