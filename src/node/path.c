/* SPDX-License-Identifier: MIT */
/* Direct paths (issue 5): glue between the node and the path engine
 * (path/punch.h, which holds the state machine and its reasons). Only with
 * `direct = true` and at least one relay; otherwise the engine does nothing
 * but derive the path keys and answer `umbra ping`.
 *
 * Here: the engine's view of the peer (struct um_punch_env, from the data
 * plane and the uplinks), our candidates when the engine asks (relays'
 * observed endpoints, STUN answers, interface addresses with the data
 * plane's port), sending its datagrams (direct through the data plane's
 * port, or FORWARDed by the relay), applying its events (endpoint set and
 * relay header cleared on DIRECT, relay header back on FALLBACK) and one
 * timer at its next deadline. A received path message names no peer: it
 * is found by the session index in its clear header (peer_by_local_index). */
#include "node/path.h"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "node/internal.h"
#include "node/route.h"
#include "node/stun.h"
#include "node/uplink.h"
#include "util/addr.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

#define PATH_STUN_MAX_AGE_NS (30 * UM_NSEC_PER_SEC)
#define PATH_LOCAL_MAX       32

static bool enabled(const struct um_node *node)
{
	return node->config.direct && node->n_uplinks > 0;
}

static void env_of(struct um_node_peer *peer, struct um_punch_env *env)
{
	struct um_dp_peer_stats st;

	memset(env, 0, sizeof(*env));
	env->now = um_now_ns();
	env->wall_ms = um_wall_ms();
	env->enabled = enabled(peer->node);
	env->relay_ready = um_uplink_for_peer(peer->node, peer) >= 0;
	env->via_relay = peer->via_relay;
	env->endpoint = peer->endpoint;
	if (um_dataplane_peer_stats(peer->node->dataplane, peer->dp_peer, &st) == 0)
		env->rx_direct = st.rx_direct_packets;
}

static size_t add_local(struct um_path_candidate *out, size_t n, uint8_t kind, const struct um_addr *addr)
{
	if (n < PATH_LOCAL_MAX && addr->family)
		out[n++] = (struct um_path_candidate){.kind = kind, .addr = *addr};
	return n;
}

size_t um_interface_addresses(const char *skip, uint16_t port, struct um_addr *out, size_t max)
{
	struct ifaddrs *ifa, *it;
	size_t n = 0;

	if (getifaddrs(&ifa))
		return 0;
	for (it = ifa; it && n < max; it = it->ifa_next) {
		if (!it->ifa_addr || !(it->ifa_flags & IFF_UP) || (it->ifa_flags & IFF_LOOPBACK) ||
		    !strcmp(it->ifa_name, skip))
			continue;
		int family = it->ifa_addr->sa_family;
		if (family == AF_INET6 &&
		    IN6_IS_ADDR_LINKLOCAL(&((const struct sockaddr_in6 *)it->ifa_addr)->sin6_addr))
			continue;
		if ((family != AF_INET && family != AF_INET6) ||
		    um_addr_from_sockaddr(&out[n], it->ifa_addr,
					  family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)))
			continue;
		out[n++].port = port;
	}
	freeifaddrs(ifa);
	return n;
}

size_t um_node_interface_addresses(const struct um_node *node, struct um_addr *out, size_t max)
{
	return um_interface_addresses(node->ifname, um_dataplane_port(node->dataplane), out, max);
}

/* The relays' view, the STUN servers' and our interfaces (the engine
 * orders and deduplicates). */
static size_t gather_candidates(struct um_node *node, struct um_path_candidate *out)
{
	struct um_addr stun[UM_CONFIG_STUN_MAX], lan[PATH_LOCAL_MAX];
	size_t n = 0, n_stun = um_node_stun_candidates(node, stun, UM_CONFIG_STUN_MAX);

	for (size_t i = 0; i < node->n_uplinks; i++)
		if (node->uplinks[i].state == UM_UPLINK_REGISTERED)
			n = add_local(out, n, UM_PATH_CAND_REFLEXIVE, &node->uplinks[i].observed);
	for (size_t i = 0; i < n_stun; i++)
		n = add_local(out, n, UM_PATH_CAND_REFLEXIVE, &stun[i]);
	size_t n_lan = um_node_interface_addresses(node, lan, PATH_LOCAL_MAX);
	for (size_t i = 0; i < n_lan; i++)
		n = add_local(out, n, UM_PATH_CAND_LOCAL, &lan[i]);
	return n;
}

/* "addr,addr,..." of the peer's candidates, as many as fit. */
static void remote_list(const struct um_punch *p, char *out, size_t size)
{
	size_t used = 0;

	out[0] = '\0';
	for (unsigned i = 0; i < p->n_remote; i++) {
		char text[64];
		if (um_addr_format((const struct um_addr *)&p->remote[i].addr, text, sizeof(text)))
			continue;
		int n = snprintf(out + used, size - used, "%s%s", used ? "," : "", text);
		if (n < 0 || (size_t)n >= size - used) {
			out[used] = '\0';
			return;
		}
		used += (size_t)n;
	}
}

static int send_datagram(struct um_node_peer *peer, const struct um_punch_datagram *d)
{
	struct um_node *node = peer->node;
	struct sockaddr_storage ss;

	if (d->via_relay) {
		int uplink = peer->via_relay && peer->relay >= 0 ? peer->relay : um_uplink_for_peer(node, peer);
		if (uplink < 0)
			return -UM_ESTATE;
		return um_uplink_forward(node, (unsigned)uplink, &peer->config->id, d->data, d->len);
	}
	int sl = um_addr_to_sockaddr(&d->to, &ss);
	if (sl < 0)
		return 0;
	int r = um_dataplane_send_datagram(node->dataplane, (struct sockaddr *)&ss, (socklen_t)sl, d->data, d->len);
	if (r)
		um_log_debug("path message send failed: %s", um_strerror(r));
	return 0;
}

/* DIRECT: the proven address becomes the endpoint, the relay path goes. */
static int apply_direct(struct um_node_peer *peer, const struct um_punch_event *e)
{
	struct um_route route = {.kind = UM_ROUTE_DIRECT, .endpoint = e->addr};
	char text[64];
	int r = um_peer_route_set(peer, &route, UM_ROUTE_WHY_DIRECT);

	if (r)
		return r;
	um_addr_format((const struct um_addr *)&e->addr, text, sizeof(text));
	um_log_info("peer \"%s\": direct path %s (rtt %llu us, %llu ms after the relay path, %llu probe rounds)",
		    peer->config->name, text, (unsigned long long)(e->rtt_ns / 1000),
		    (unsigned long long)(peer->path.punch.time_to_direct_ns / UM_NSEC_PER_MSEC),
		    (unsigned long long)peer->path.punch.punch_rounds);
	return 0;
}

/* FALLBACK: the relay header goes back (same session, no handshake). */
static int apply_fallback(struct um_node_peer *peer, const struct um_punch_event *e)
{
	int uplink = um_uplink_for_peer(peer->node, peer);

	if (uplink < 0)
		return -UM_ESTATE;
	struct um_route route = {.kind = UM_ROUTE_RELAY, .uplink = (unsigned)uplink};
	int r = um_peer_route_set(peer, &route, UM_ROUTE_WHY_FALLBACK);
	if (r) {
		um_log_error("peer \"%s\": back to the relay: %s", peer->config->name, um_strerror(r));
		return r;
	}
	um_log_info("peer \"%s\": direct path silent, back to the relay (silent for %llu ms); direct again in %llu ms",
		    peer->config->name, (unsigned long long)(e->silence_ns / UM_NSEC_PER_MSEC),
		    (unsigned long long)(e->retry_ns / UM_NSEC_PER_MSEC));
	return 0;
}

/* Sends what the engine left in out, applies its events in order, and arms
 * the timer at its next deadline. Returns the first relay send error. */
static int flush(struct um_node_peer *peer, struct um_punch_output *out)
{
	struct um_node *node = peer->node;
	struct um_punch *p = &peer->path.punch;
	struct um_punch_env env;
	enum um_punch_state before_direct = UM_PUNCH_NONE;
	int result = 0;

	env_of(peer, &env);
	if (out->candidates_wanted) {
		struct um_path_candidate local[PATH_LOCAL_MAX];
		um_punch_candidates_send(p, local, gather_candidates(node, local), &env, out);
	}
	for (unsigned i = 0; i < out->n_datagrams; i++) {
		int r = send_datagram(peer, &out->datagrams[i]);
		if (r && !result)
			result = r;
	}
	/* Refusals append their own state events, which this loop logs too. */
	for (unsigned i = 0; i < out->n_events; i++) {
		const struct um_punch_event *e = &out->events[i];
		char list[UM_CONTROL_LINE_MAX];
		switch (e->kind) {
		case UM_PUNCH_EVENT_STATE:
			um_log_debug("peer \"%s\": path %s -> %s (%llu transitions)", peer->config->name,
				     um_punch_state_name(e->from), um_punch_state_name(e->to),
				     (unsigned long long)p->transitions);
			if (e->to == UM_PUNCH_DIRECT)
				before_direct = e->from;
			break;
		case UM_PUNCH_EVENT_PUNCH_STARTED:
			um_node_stun_refresh(node, PATH_STUN_MAX_AGE_NS);
			break;
		case UM_PUNCH_EVENT_DIRECT:
			if (apply_direct(peer, e))
				um_punch_direct_refused(p, before_direct, &env, out);
			break;
		case UM_PUNCH_EVENT_FALLBACK:
			if (apply_fallback(peer, e))
				um_punch_fallback_refused(p, &env, out);
			break;
		case UM_PUNCH_EVENT_GAVE_UP:
			um_log_info("peer \"%s\": no direct path after %llu ms (%u candidates), staying on the relay",
				    peer->config->name, (unsigned long long)node->config.connect_timeout_ms,
				    p->n_remote);
			break;
		case UM_PUNCH_EVENT_CANDIDATES:
			remote_list(p, list, sizeof(list));
			um_log_debug("peer \"%s\": %u path candidates: %s", peer->config->name, p->n_remote, list);
			break;
		case UM_PUNCH_EVENT_PING:
			break;
		}
	}
	uint64_t deadline = um_punch_next_deadline(p);
	if (deadline == UINT64_MAX)
		um_timer_cancel(node->loop, &peer->path.timer);
	else
		um_timer_arm_at(node->loop, &peer->path.timer, deadline);
	return result;
}

static void on_timer(struct um_loop *loop, struct um_timer *timer)
{
	struct um_node_peer *peer = timer->arg;
	struct um_punch_output out;
	struct um_punch_env env;
	(void)loop;

	if (!peer->node->up)
		return;
	env_of(peer, &env);
	um_punch_tick(&peer->path.punch, &env, &out);
	flush(peer, &out);
}

/* ---- events from node.c ---- */

void um_path_peer_init(struct um_node_peer *peer)
{
	const struct um_config *c = &peer->node->config;
	struct um_punch_config config = {.connect_timeout_ns = c->connect_timeout_ms * UM_NSEC_PER_MSEC,
					 .retry_interval_ns = c->retry_interval_ms * UM_NSEC_PER_MSEC,
					 .health_interval_ns = c->health_interval_ms * UM_NSEC_PER_MSEC};

	um_punch_init(&peer->path.punch, &config);
	um_timer_init(&peer->path.timer, on_timer, peer);
}

void um_path_session_installed(struct um_node_peer *peer, const struct um_keypair *keypair)
{
	struct um_punch_output out;
	struct um_punch_env env;

	env_of(peer, &env);
	um_punch_session_installed(&peer->path.punch, keypair->send_key, keypair->recv_key, keypair->local_index,
				   keypair->remote_index, &env, &out);
	flush(peer, &out);
}

void um_path_local_candidates_changed(struct um_node *node)
{
	struct um_punch_output out;
	struct um_punch_env env;

	if (!node->up || !enabled(node))
		return;
	for (size_t i = 0; i < node->n_peers; i++) {
		env_of(&node->peers[i], &env);
		um_punch_local_candidates_changed(&node->peers[i].path.punch, &env, &out);
		flush(&node->peers[i], &out);
	}
}

void um_path_session_cleared(struct um_node_peer *peer)
{
	um_timer_cancel(peer->node->loop, &peer->path.timer);
	um_punch_session_cleared(&peer->path.punch);
}

bool um_path_is_path_msg(const uint8_t *data, size_t len)
{
	return len > 0 && data[0] >= UM_MSG_PATH_CANDIDATES && data[0] <= UM_MSG_PATH_PROBE_REPLY;
}

/* The peer one of whose live keypairs (current, previous, next: what the
 * data plane accepts DATA under) has our local index `index`, or NULL. A
 * scan like node.c's index_in_use: path messages are few, and an index
 * costs three comparisons per peer. */
static struct um_node_peer *peer_by_local_index(struct um_node *node, uint32_t index)
{
	if (!index)
		return NULL;
	for (size_t i = 0; i < node->n_peers; i++) {
		struct um_node_peer *p = &node->peers[i];
		if (p->index_current == index || p->index_previous == index || p->index_next == index)
			return p;
	}
	return NULL;
}

void um_path_receive(struct um_node *node, const struct um_addr *from, bool via_relay, int uplink, const uint8_t *data,
		     size_t len)
{
	struct um_punch_output out;
	struct um_punch_env env;
	struct um_path_header h;
	struct um_node_peer *peer = NULL;
	struct um_peer_id sender;
	(void)uplink;

	if (!node->up)
		return;
	int r = um_path_header_decode(&h, data, len);
	if (r == 0)
		peer = peer_by_local_index(node, h.receiver_index);
	else if (r == -UM_EVERSION && um_path_legacy_sender(data, len, &sender) == 0)
		peer = um_node_peer_find(node, &sender); /* an old release names itself: say so */
	if (!peer) {
		node->path_dropped++;
		return;
	}
	env_of(peer, &env);
	r = um_punch_input(&peer->path.punch, data, len, from, via_relay, &env, &out);
	if (r == 0)
		flush(peer, &out);
	else if (r == -UM_EVERSION && peer->path.punch.version_refused == 1)
		um_log_warn("peer \"%s\": path messages of another version (an incompatible umbra release): "
			    "refused, no direct path until both sides upgrade",
			    peer->config->name);
}

/* ---- control socket ---- */

int um_path_ping(struct um_node_peer *peer, uint64_t *sequence)
{
	struct um_punch_output out;
	struct um_punch_env env;

	if (!peer->node->up || peer->state != UM_PEER_ESTABLISHED)
		return -UM_ESTATE;
	env_of(peer, &env);
	int r = um_punch_ping(&peer->path.punch, &env, sequence, &out);
	if (r)
		return r;
	return flush(peer, &out);
}

void um_path_status_fill(const struct um_node_peer *peer, struct um_path_status *out)
{
	const struct um_punch *p = &peer->path.punch;

	out->state = um_punch_state_name(p->state);
	if (p->state == UM_PUNCH_DIRECT)
		out->direct = p->direct;
	if (p->time_to_direct_ns)
		out->time_to_direct_ms = p->time_to_direct_ns / UM_NSEC_PER_MSEC;
	if (p->rtt_ns)
		out->direct_rtt_us = p->rtt_ns / 1000;
	out->direct_switches = p->switches_direct;
	out->fallbacks = p->fallbacks;
	if (p->fallbacks)
		out->fallback_silence_ms = p->fallback_ns / UM_NSEC_PER_MSEC;
	out->n_remote_candidates = p->n_remote;
	for (unsigned i = 0; i < p->n_remote && i < UM_STATUS_CANDIDATES_MAX; i++)
		out->remote_candidates[i] = p->remote[i].addr;
	out->probes_sent = p->probes_sent;
	out->probes_answered = p->probes_answered;
	out->bad_mac = p->bad_mac;
	out->replays = p->replays;
	out->replies_limited = p->replies_limited;
	out->ping_sequence = p->ping_sequence;
	out->ping_answered = p->ping_answered;
	out->ping_direct = p->ping_direct;
	out->ping_rtt_us = p->ping_rtt_ns / 1000;
	out->ping_from = p->ping_from;
}
