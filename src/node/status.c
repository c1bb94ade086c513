/* SPDX-License-Identifier: MIT */
/* Control-socket requests: get (status of the node and every peer), up,
 * down, rekey. The keys of the get reply:
 *
 *   node:  node_id short_id version device mode address listen_port up
 *          uptime_ms peers hs_hellos hs_established hs_bad_mac
 *          hs_cookies_sent hs_rate_limited hs_replays hs_malformed
 *          hs_auth_failed hs_unknown_peer hs_timeouts under_load
 *          dp_no_route dp_unknown_index dp_malformed dp_ring_full
 *          dp_tun_write_errors
 *   peer:  peer(=name) id short_id endpoint state last_handshake_age_ms
 *          handshakes rekeys rx_bytes rx_packets tx_bytes tx_packets
 *          drop_bad_mac drop_replay drop_malformed drop_not_allowed
 *          drop_no_key drop_send rtt_us | rtt_bound_us keepalive
 *          allowed_ip(repeated)
 *
 * Absent keys mean "unknown" (no handshake yet, no RTT sample). */
#include <stdio.h>
#include <string.h>

#include "node/node.h"
#include "util/clock.h"
#include "util/error.h"
#include "um_config.h"

#define U64(x) ((unsigned long long)(x))

static void reply_node(struct um_node *node, struct um_control_reply *reply)
{
	char text[UM_PEER_ID_TEXT_MAX];
	const struct um_handshake_stats *hs = um_handshake_get_stats(node->engine);
	uint64_t global[UM_DP_GLOBAL_COUNT];

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
	um_dataplane_global_stats(node->dataplane, global);
	um_control_reply_add(reply, "dp_no_route", "%llu", U64(global[UM_DP_GLOBAL_NO_ROUTE]));
	um_control_reply_add(reply, "dp_unknown_index", "%llu", U64(global[UM_DP_GLOBAL_UNKNOWN_INDEX]));
	um_control_reply_add(reply, "dp_malformed", "%llu", U64(global[UM_DP_GLOBAL_MALFORMED]));
	um_control_reply_add(reply, "dp_ring_full", "%llu", U64(global[UM_DP_GLOBAL_RING_FULL]));
	um_control_reply_add(reply, "dp_tun_write_errors", "%llu", U64(global[UM_DP_GLOBAL_TUN_WRITE]));
}

static void reply_peer(struct um_node *node, const struct um_node_peer *peer, struct um_control_reply *reply)
{
	const struct um_config_peer *cp = peer->config;
	char text[UM_PEER_ID_TEXT_MAX];
	struct um_dp_peer_stats st;
	struct sockaddr_storage ss;
	uint64_t now = um_now_ns();

	um_control_reply_add(reply, "peer", "%s", cp->name);
	um_peer_id_format(&cp->id, text, sizeof(text));
	um_control_reply_add(reply, "id", "%s", text);
	um_peer_id_format_short(&cp->id, text, sizeof(text));
	um_control_reply_add(reply, "short_id", "%s", text);
	int len = peer->endpoint.family ? um_wire_addr_to_sockaddr(&peer->endpoint, &ss) : -1;
	if (len > 0) {
		struct um_endpoint ep = {.len = (socklen_t)len};
		memcpy(&ep.in6, &ss, (size_t)len);
		if (um_endpoint_format(&ep, text, sizeof(text)) == 0)
			um_control_reply_add(reply, "endpoint", "%s", text);
	}
	um_control_reply_add(reply, "state", "%s", um_peer_state_name(peer->state));
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
	}
	/* The coarse handshake-based bound gets its own key (node/timers.c). */
	if (peer->rtt_ns)
		um_control_reply_add(reply, peer->rtt_from_handshake ? "rtt_bound_us" : "rtt_us", "%llu",
				     U64(peer->rtt_ns / 1000));
	um_control_reply_add(reply, "keepalive", "%u", cp->keepalive_s);
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
		if (peer->endpoint.family == 0) {
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

int um_node_control(void *arg, const struct um_control_request *req, struct um_control_reply *reply)
{
	struct um_node *node = arg;

	switch (req->op) {
	case UM_CONTROL_GET:
		reply_node(node, reply);
		for (size_t i = 0; i < node->n_peers; i++)
			reply_peer(node, &node->peers[i], reply);
		return 0;
	case UM_CONTROL_UP:
		return um_node_up(node);
	case UM_CONTROL_DOWN:
		return um_node_down(node);
	case UM_CONTROL_REKEY:
		return rekey(node, req->peer);
	}
	return -UM_EINVAL;
}
