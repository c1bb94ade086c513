/* SPDX-License-Identifier: MIT */
/* Direct paths (issue 5): from a session through a relay to a hole-punched
 * direct path, and back when it dies. Only with `direct = true` and at
 * least one relay; otherwise every function here is a no-op but for the
 * path key and `umbra ping`.
 *
 * Keys. When a keypair is installed we derive the path key from it
 * (wire/path.h) and keep the newest UM_PATH_KEYS of them: the two sides
 * install a rotation at slightly different times, so a message verifies
 * under any of them and we send under the newest. Wiped when the session
 * ends.
 *
 * Candidates. Once a session runs through a relay each side sends, through
 * the relay, PATH_CANDIDATES: the endpoints its relays observe and those its
 * STUN servers report (reflexive; stun.c; one address is sent once) and the
 * addresses of its interfaces with the data plane's port (local). A new
 * STUN address goes out at once (um_path_local_candidates_changed), and a
 * punch that starts with a STUN answer older than 30 s asks again.
 *
 * Punching. On the peer's candidates both sides probe every candidate at
 * once, then every 100 ms (250 ms after the first second) until
 * connect-timeout. A probe opens our NAT's mapping towards the candidate, so
 * the other side's probes get in; each PATH_PROBE is answered with a
 * PATH_PROBE_REPLY echoing its nonce under the path key: possession of the
 * session is proven with one BLAKE2b each way (no public-key operation).
 * A probe from an address we did not know (the peer's NAT chose another
 * port) is answered and probed back at once (peer-reflexive candidate).
 *
 * Migration. The first reply from the very address we probed makes it the
 * direct path: the data plane's endpoint is set and the relay path cleared.
 * Receivers accept DATA from any source (AEAD and replay window decide), so
 * what is still in flight through the relay is delivered too: nothing lost.
 *
 * Health and fallback. On the direct path we probe every health-interval/4;
 * when neither a reply nor direct DATA arrived for health-interval the
 * relay path is set again (same session, no handshake) and a new attempt
 * starts retry-interval later (5 s after the first fallback in a minute: a
 * path that just worked often works again). A failed punch waits
 * retry-interval. */
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>

#include <sodium.h>

#include "node/node.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

#define PATH_ROUND_FAST_NS (100 * UM_NSEC_PER_MSEC)
#define PATH_ROUND_SLOW_NS (250 * UM_NSEC_PER_MSEC)
#define PATH_FAST_ROUNDS 10
#define PATH_PROBE_MAX_AGE_NS (10 * UM_NSEC_PER_SEC)
#define PATH_QUICK_RETRY_NS (5 * UM_NSEC_PER_SEC)
#define PATH_QUICK_RETRY_EVERY_NS (60 * UM_NSEC_PER_SEC)
#define PATH_STUN_MAX_AGE_NS (30 * UM_NSEC_PER_SEC)

static uint64_t ms_ns(uint64_t ms)
{
	return ms * UM_NSEC_PER_MSEC;
}

static bool enabled(const struct um_node *node)
{
	return node->config.direct && node->n_uplinks > 0;
}

static const char *state_name(enum um_path_state state)
{
	switch (state) {
	case UM_PATH_NONE:
		return "none";
	case UM_PATH_PUNCHING:
		return "punching";
	case UM_PATH_DIRECT:
		return "direct";
	case UM_PATH_RELAY:
		return "relay";
	}
	return "?";
}

static struct um_node_peer *peer_by_id(struct um_node *node, const struct um_peer_id *id)
{
	for (size_t i = 0; i < node->n_peers; i++)
		if (!memcmp(node->peers[i].config->id.bytes, id->bytes, UM_PEER_ID_BYTES))
			return &node->peers[i];
	return NULL;
}

/* ---- sending ---- */

static void send_direct(struct um_node *node, const struct um_wire_addr *to, const uint8_t *buf, size_t len)
{
	struct sockaddr_storage ss;
	int sl = um_wire_addr_to_sockaddr(to, &ss);

	if (sl < 0)
		return;
	int r = um_dataplane_send_datagram(node->dataplane, (struct sockaddr *)&ss, (socklen_t)sl, buf, len);
	if (r)
		um_log_debug("path message send failed: %s", um_strerror(r));
}

static int send_relay(struct um_node_peer *peer, const uint8_t *buf, size_t len)
{
	int uplink = peer->via_relay && peer->relay >= 0 ? peer->relay : um_uplink_for_peer(peer->node, peer);

	if (uplink < 0)
		return -UM_ESTATE;
	return um_uplink_forward(peer->node, (unsigned)uplink, &peer->config->id, buf, len);
}

/* Encodes m under the newest path key. */
static int encode(struct um_node_peer *peer, struct um_path_msg *m, uint8_t *out, size_t cap)
{
	if (!peer->path.n_keys)
		return -UM_ESTATE;
	m->sender = peer->node->identity.id;
	return um_path_encode(out, cap, m, peer->path.keys[0]);
}

static bool add_candidate(struct um_path_msg *m, uint8_t kind, const struct um_wire_addr *addr)
{
	if (!addr->family || m->count >= UM_PATH_MAX_CANDIDATES)
		return false;
	for (unsigned i = 0; i < m->count; i++)
		if (um_wire_addr_equal(&m->candidates[i].addr, addr))
			return false;
	m->candidates[m->count].kind = kind;
	m->candidates[m->count].addr = *addr;
	m->count++;
	return true;
}

/* Reflexive endpoints first (they work across NATs): the relays' view, then
 * the STUN servers' (the same address twice is sent once), then interfaces. */
static void gather_candidates(struct um_node *node, struct um_path_msg *m)
{
	struct ifaddrs *ifa, *it;
	struct um_wire_addr stun[UM_CONFIG_STUN_MAX];
	uint16_t port = um_dataplane_port(node->dataplane);

	for (size_t i = 0; i < node->n_uplinks; i++)
		if (node->uplinks[i].state == UM_UPLINK_REGISTERED)
			add_candidate(m, UM_PATH_CAND_REFLEXIVE, &node->uplinks[i].observed);
	size_t n_stun = um_node_stun_candidates(node, stun, UM_CONFIG_STUN_MAX);
	for (size_t i = 0; i < n_stun; i++)
		add_candidate(m, UM_PATH_CAND_REFLEXIVE, &stun[i]);
	if (getifaddrs(&ifa))
		return;
	for (it = ifa; it; it = it->ifa_next) {
		struct um_wire_addr a;
		if (!it->ifa_addr || !(it->ifa_flags & IFF_UP) || (it->ifa_flags & IFF_LOOPBACK) ||
		    !strcmp(it->ifa_name, node->ifname))
			continue;
		if (it->ifa_addr->sa_family == AF_INET) {
			if (um_wire_addr_from_sockaddr(&a, it->ifa_addr, sizeof(struct sockaddr_in)))
				continue;
		} else if (it->ifa_addr->sa_family == AF_INET6) {
			const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)it->ifa_addr;
			if (IN6_IS_ADDR_LINKLOCAL(&s6->sin6_addr) ||
			    um_wire_addr_from_sockaddr(&a, it->ifa_addr, sizeof(struct sockaddr_in6)))
				continue;
		} else {
			continue;
		}
		a.port = port;
		add_candidate(m, UM_PATH_CAND_LOCAL, &a);
	}
	freeifaddrs(ifa);
}

/* need: ask for the peer's candidates in return. The responder's first
 * message can arrive before the initiator has the session keys (it installs
 * them on ESTABLISHED, which follows); the initiator's always finds the
 * responder's keys, so its NEED gets the answer. */
static void send_candidates(struct um_node_peer *peer, bool need)
{
	struct um_node_path *path = &peer->path;
	struct um_path_msg m = {.type = UM_MSG_PATH_CANDIDATES, .flags = need ? UM_PATH_FLAG_NEED : 0};
	uint8_t buf[UM_PATH_CANDIDATES_MAX_BYTES];
	uint64_t wall = um_wall_ms();

	path->local_generation = wall > path->local_generation ? wall : path->local_generation + 1;
	m.generation = path->local_generation;
	gather_candidates(peer->node, &m);
	int n = encode(peer, &m, buf, sizeof(buf));
	if (n < 0)
		return;
	if (peer->via_relay)
		send_relay(peer, buf, (size_t)n);
	else if (peer->endpoint.family)
		send_direct(peer->node, &peer->endpoint, buf, (size_t)n);
}

/* to == NULL: through the relay. */
static int send_probe(struct um_node_peer *peer, const struct um_wire_addr *to, bool ping)
{
	struct um_node_path *path = &peer->path;
	struct um_path_probe *slot = &path->probes[path->next_probe++ % UM_PATH_PROBES];
	struct um_path_msg m = {.type = UM_MSG_PATH_PROBE, .flags = ping ? UM_PATH_FLAG_PING : 0};
	uint8_t buf[UM_PATH_PROBE_BYTES];

	randombytes_buf(m.nonce, sizeof(m.nonce));
	int n = encode(peer, &m, buf, sizeof(buf));
	if (n < 0)
		return n;
	memcpy(slot->nonce, m.nonce, sizeof(m.nonce));
	memset(&slot->to, 0, sizeof(slot->to));
	if (to)
		slot->to = *to;
	slot->sent_ns = um_now_ns();
	slot->ping = ping;
	slot->used = false;
	path->probes_sent++;
	if (to) {
		send_direct(peer->node, to, buf, (size_t)n);
		return 0;
	}
	return send_relay(peer, buf, (size_t)n);
}

/* ---- state changes ---- */

static void arm(struct um_node_peer *peer, uint64_t delay_ns)
{
	um_timer_arm_in(peer->node->loop, &peer->path.timer, delay_ns);
}

static void start_punch(struct um_node_peer *peer, bool send_ours)
{
	struct um_node_path *path = &peer->path;

	if (!enabled(peer->node) || !path->n_keys || path->state == UM_PATH_DIRECT)
		return;
	if (send_ours)
		send_candidates(peer, true);
	if (path->state != UM_PATH_PUNCHING) {
		path->state = UM_PATH_PUNCHING;
		path->punch_started_ns = um_now_ns();
		path->punch_rounds = 0;
		/* An old STUN answer may be stale (NAT rebinding): ask again;
		 * a changed address reaches the peer while we punch. */
		um_node_stun_refresh(peer->node, PATH_STUN_MAX_AGE_NS);
	}
	arm(peer, 0);
}

static uint64_t direct_rx(struct um_node_peer *peer)
{
	struct um_dp_peer_stats st;

	if (um_dataplane_peer_stats(peer->node->dataplane, peer->dp_peer, &st))
		return 0;
	return st.rx_direct_packets;
}

static void go_direct(struct um_node_peer *peer, const struct um_wire_addr *addr, uint64_t rtt_ns)
{
	struct um_node *node = peer->node;
	struct um_node_path *path = &peer->path;
	struct sockaddr_storage ss;
	char text[64];
	uint64_t now = um_now_ns();
	int sl = um_wire_addr_to_sockaddr(addr, &ss);

	if (sl < 0 || um_dataplane_peer_set_endpoint(node->dataplane, peer->dp_peer, (struct sockaddr *)&ss,
						     (socklen_t)sl))
		return;
	peer->endpoint = *addr;
	if (peer->via_relay && um_dataplane_peer_set_relay(node->dataplane, peer->dp_peer, NULL, 0, NULL, 0) == 0)
		peer->via_relay = false;
	peer->direct_failures = 0;
	path->state = UM_PATH_DIRECT;
	path->direct = *addr;
	path->direct_since_ns = path->last_direct_rx_ns = now;
	path->rx_direct_seen = direct_rx(peer);
	path->rtt_ns = rtt_ns;
	path->switches_direct++;
	if (path->relay_since_ns)
		path->time_to_direct_ns = now - path->relay_since_ns;
	um_wire_addr_format(addr, text, sizeof(text));
	um_log_info("peer \"%s\": direct path %s (rtt %llu us, %llu ms after the relay path, %llu probe rounds)",
		    peer->config->name, text, (unsigned long long)(rtt_ns / 1000),
		    (unsigned long long)(path->time_to_direct_ns / UM_NSEC_PER_MSEC),
		    (unsigned long long)path->punch_rounds);
	arm(peer, ms_ns(node->config.health_interval_ms) / 4);
}

static void fall_back(struct um_node_peer *peer, const char *why)
{
	struct um_node *node = peer->node;
	struct um_node_path *path = &peer->path;
	uint8_t header[UM_DP_RELAY_HEADER_MAX];
	int uplink = um_uplink_for_peer(node, peer);
	uint64_t now = um_now_ns();

	if (uplink < 0) {
		/* No relay to go to: stay and keep checking. */
		arm(peer, ms_ns(node->config.health_interval_ms) / 4);
		return;
	}
	struct um_node_uplink *u = &node->uplinks[uplink];
	size_t header_len = um_uplink_forward_header(peer, header, sizeof(header));
	int r = um_dataplane_peer_set_relay(node->dataplane, peer->dp_peer, &u->sa, u->sa_len, header, header_len);
	if (r) {
		um_log_error("peer \"%s\": back to the relay: %s", peer->config->name, um_strerror(r));
		arm(peer, ms_ns(node->config.health_interval_ms) / 4);
		return;
	}
	peer->via_relay = true;
	peer->relay = uplink;
	peer->direct_failures = 1; /* handshakes go through the relay too */
	path->state = UM_PATH_RELAY;
	path->relay_since_ns = now;
	path->fallback_ns = now - path->last_direct_rx_ns;
	path->fallbacks++;
	/* A path that just worked often works again (a burst of loss, a
	 * stalled host): the first retry comes soon, at most once a minute so
	 * a flapping path settles on the relay. */
	uint64_t retry = ms_ns(node->config.retry_interval_ms);
	if (retry > PATH_QUICK_RETRY_NS &&
	    (!path->quick_retry_ns || now - path->quick_retry_ns >= PATH_QUICK_RETRY_EVERY_NS)) {
		retry = PATH_QUICK_RETRY_NS;
		path->quick_retry_ns = now;
	}
	path->retry_at_ns = now + retry;
	um_log_info("peer \"%s\": %s, back to the relay (silent for %llu ms); direct again in %llu ms",
		    peer->config->name, why, (unsigned long long)(path->fallback_ns / UM_NSEC_PER_MSEC),
		    (unsigned long long)(retry / UM_NSEC_PER_MSEC));
	arm(peer, retry);
}

static void on_timer(struct um_loop *loop, struct um_timer *timer)
{
	struct um_node_peer *peer = timer->arg;
	struct um_node *node = peer->node;
	struct um_node_path *path = &peer->path;
	uint64_t now = um_now_ns();
	(void)loop;

	if (!node->up || !path->n_keys)
		return;
	switch (path->state) {
	case UM_PATH_PUNCHING:
		if (now - path->punch_started_ns >= ms_ns(node->config.connect_timeout_ms)) {
			path->state = UM_PATH_RELAY;
			path->retry_at_ns = now + ms_ns(node->config.retry_interval_ms);
			um_log_info("peer \"%s\": no direct path after %llu ms (%u candidates), staying on the relay",
				    peer->config->name, (unsigned long long)node->config.connect_timeout_ms,
				    path->n_remote);
			arm(peer, ms_ns(node->config.retry_interval_ms));
			return;
		}
		for (unsigned i = 0; i < path->n_remote; i++)
			send_probe(peer, &path->remote[i].addr, false);
		path->punch_rounds++;
		arm(peer, path->punch_rounds < PATH_FAST_ROUNDS ? PATH_ROUND_FAST_NS : PATH_ROUND_SLOW_NS);
		return;
	case UM_PATH_DIRECT: {
		uint64_t rx = direct_rx(peer);
		if (rx != path->rx_direct_seen) {
			path->rx_direct_seen = rx;
			path->last_direct_rx_ns = now;
		}
		if (peer->via_relay) { /* a handshake through the relay moved us */
			path->state = UM_PATH_RELAY;
			path->relay_since_ns = now;
			start_punch(peer, true);
			return;
		}
		if (now - path->last_direct_rx_ns > ms_ns(node->config.health_interval_ms)) {
			fall_back(peer, "direct path silent");
			return;
		}
		send_probe(peer, &path->direct, false);
		arm(peer, ms_ns(node->config.health_interval_ms) / 4);
		return;
	}
	case UM_PATH_RELAY:
		if (now + UM_NSEC_PER_MSEC >= path->retry_at_ns)
			start_punch(peer, true);
		else
			um_timer_arm_at(loop, timer, path->retry_at_ns);
		return;
	case UM_PATH_NONE:
		return;
	}
}

/* ---- events from node.c ---- */

void um_path_peer_init(struct um_node_peer *peer)
{
	um_timer_init(&peer->path.timer, on_timer, peer);
}

void um_path_session_installed(struct um_node_peer *peer, const struct um_keypair *keypair)
{
	struct um_node_path *path = &peer->path;
	uint64_t now = um_now_ns();

	memmove(path->keys[1], path->keys[0], (UM_PATH_KEYS - 1) * UM_PATH_KEY_BYTES);
	um_path_key_derive(path->keys[0], keypair->send_key, keypair->recv_key);
	if (path->n_keys < UM_PATH_KEYS)
		path->n_keys++;
	if (!enabled(peer->node))
		return;
	if (!peer->via_relay) {
		/* The handshake itself went direct: that path is proven. */
		if (path->state != UM_PATH_DIRECT && peer->endpoint.family) {
			path->state = UM_PATH_DIRECT;
			path->direct = peer->endpoint;
			path->direct_since_ns = path->last_direct_rx_ns = now;
			path->rx_direct_seen = direct_rx(peer);
			arm(peer, ms_ns(peer->node->config.health_interval_ms) / 4);
		}
		return;
	}
	switch (path->state) {
	case UM_PATH_NONE:
	case UM_PATH_DIRECT:
		path->state = UM_PATH_NONE;
		path->relay_since_ns = now;
		start_punch(peer, true);
		break;
	case UM_PATH_PUNCHING:
		send_candidates(peer, true); /* under the new key, in case the old one is gone */
		break;
	case UM_PATH_RELAY:
		break; /* the retry timer runs */
	}
}

void um_path_local_candidates_changed(struct um_node *node)
{
	if (!node->up || !enabled(node))
		return;
	for (size_t i = 0; i < node->n_peers; i++) {
		struct um_node_peer *peer = &node->peers[i];
		switch (peer->path.state) {
		case UM_PATH_PUNCHING:
			send_candidates(peer, false); /* the peer probes the new one too */
			break;
		case UM_PATH_RELAY:
			start_punch(peer, true); /* the last attempt lacked it */
			break;
		case UM_PATH_NONE:
		case UM_PATH_DIRECT:
			break;
		}
	}
}

void um_path_session_cleared(struct um_node_peer *peer)
{
	struct um_node_path *path = &peer->path;

	um_timer_cancel(peer->node->loop, &path->timer);
	sodium_memzero(path->keys, sizeof(path->keys));
	path->n_keys = 0;
	path->state = UM_PATH_NONE;
	path->n_remote = 0;
	path->remote_generation = 0;
	memset(path->probes, 0, sizeof(path->probes));
}

bool um_path_is_path_msg(const uint8_t *data, size_t len)
{
	return len > 0 && data[0] >= UM_MSG_PATH_CANDIDATES && data[0] <= UM_MSG_PATH_PROBE_REPLY;
}

/* ---- receiving ---- */

/* "addr,addr,..." of the peer's candidates, as many as fit. */
static void remote_list(const struct um_node_path *path, char *out, size_t size)
{
	size_t used = 0;

	out[0] = '\0';
	for (unsigned i = 0; i < path->n_remote; i++) {
		char text[64];
		if (um_wire_addr_format(&path->remote[i].addr, text, sizeof(text)))
			continue;
		int n = snprintf(out + used, size - used, "%s%s", used ? "," : "", text);
		if (n < 0 || (size_t)n >= size - used) {
			out[used] = '\0';
			return;
		}
		used += (size_t)n;
	}
}

static bool authentic(struct um_node_peer *peer, const uint8_t *data, size_t len)
{
	for (unsigned i = 0; i < peer->path.n_keys; i++)
		if (um_path_verify(data, len, peer->path.keys[i]) == 0)
			return true;
	peer->path.bad_mac++;
	return false;
}

static void add_remote(struct um_node_path *path, uint8_t kind, const struct um_wire_addr *addr)
{
	for (unsigned i = 0; i < path->n_remote; i++)
		if (um_wire_addr_equal(&path->remote[i].addr, addr))
			return;
	if (path->n_remote >= UM_PATH_MAX_CANDIDATES + 1)
		return;
	path->remote[path->n_remote].kind = kind;
	path->remote[path->n_remote].addr = *addr;
	path->n_remote++;
}

static void on_candidates(struct um_node_peer *peer, const struct um_path_msg *m)
{
	struct um_node_path *path = &peer->path;

	if (m->generation <= path->remote_generation)
		return; /* replayed or reordered */
	path->remote_generation = m->generation;
	path->n_remote = 0;
	for (unsigned i = 0; i < m->count; i++)
		add_remote(path, m->candidates[i].kind, &m->candidates[i].addr);
	char list[UM_CONTROL_LINE_MAX];
	remote_list(path, list, sizeof(list));
	um_log_debug("peer \"%s\": %u path candidates: %s", peer->config->name, m->count, list);
	if (!enabled(peer->node))
		return;
	if (m->flags & UM_PATH_FLAG_NEED)
		send_candidates(peer, false);
	/* The peer (re)started an attempt: join it. */
	if (path->state != UM_PATH_DIRECT)
		start_punch(peer, false);
}

static void on_probe(struct um_node_peer *peer, const struct um_path_msg *m, const struct um_wire_addr *from,
		     bool via_relay)
{
	struct um_node_path *path = &peer->path;
	struct um_path_msg reply = {.type = UM_MSG_PATH_PROBE_REPLY, .flags = m->flags};
	uint8_t buf[UM_PATH_PROBE_REPLY_BYTES];

	memcpy(reply.nonce, m->nonce, sizeof(reply.nonce));
	reply.observed = *from;
	int n = encode(peer, &reply, buf, sizeof(buf));
	if (n < 0)
		return;
	if (via_relay) {
		send_relay(peer, buf, (size_t)n);
		return;
	}
	send_direct(peer->node, from, buf, (size_t)n);
	if ((m->flags & UM_PATH_FLAG_PING) || !enabled(peer->node) || path->state == UM_PATH_DIRECT)
		return;
	/* Triggered check: the peer's probe got through to us, so ours to
	 * its source should too (its NAT mapping is open towards us). */
	add_remote(path, UM_PATH_CAND_REFLEXIVE, from);
	send_probe(peer, from, false);
	if (path->state != UM_PATH_PUNCHING)
		start_punch(peer, false);
}

static void on_reply(struct um_node_peer *peer, const struct um_path_msg *m, const struct um_wire_addr *from,
		     bool via_relay)
{
	struct um_node_path *path = &peer->path;
	uint64_t now = um_now_ns();
	struct um_path_probe *probe = NULL;

	for (unsigned i = 0; i < UM_PATH_PROBES; i++) {
		struct um_path_probe *p = &path->probes[i];
		if (p->sent_ns && !p->used && !memcmp(p->nonce, m->nonce, sizeof(p->nonce))) {
			probe = p;
			break;
		}
	}
	if (!probe || now - probe->sent_ns > PATH_PROBE_MAX_AGE_NS)
		return;
	/* The reply must come back the way the probe went. */
	if (via_relay != (probe->to.family == 0) || (!via_relay && !um_wire_addr_equal(&probe->to, from)))
		return;
	probe->used = true;
	path->probes_answered++;
	uint64_t rtt = now - probe->sent_ns;
	if (probe->ping) {
		path->ping_answered = path->ping_sequence;
		path->ping_rtt_ns = rtt;
		path->ping_direct = !via_relay;
		path->ping_from = *from;
		return;
	}
	if (via_relay)
		return;
	if (path->state == UM_PATH_DIRECT) {
		if (um_wire_addr_equal(&path->direct, from)) {
			path->last_direct_rx_ns = now;
			path->rtt_ns = path->rtt_ns ? (path->rtt_ns * 7 + rtt) / 8 : rtt;
		}
		return;
	}
	if (enabled(peer->node))
		go_direct(peer, from, rtt);
}

void um_path_receive(struct um_node *node, const struct um_wire_addr *from, bool via_relay, int uplink,
		     const uint8_t *data, size_t len)
{
	struct um_path_msg m;
	struct um_node_peer *peer;
	(void)uplink;

	if (!node->up || um_path_decode(&m, data, len))
		return;
	peer = peer_by_id(node, &m.sender);
	if (!peer || !peer->path.n_keys || !authentic(peer, data, len))
		return;
	switch (m.type) {
	case UM_MSG_PATH_CANDIDATES:
		on_candidates(peer, &m);
		break;
	case UM_MSG_PATH_PROBE:
		on_probe(peer, &m, from, via_relay);
		break;
	case UM_MSG_PATH_PROBE_REPLY:
		on_reply(peer, &m, from, via_relay);
		break;
	default:
		break;
	}
}

/* ---- control socket ---- */

int um_path_ping(struct um_node_peer *peer, uint64_t *sequence)
{
	struct um_node_path *path = &peer->path;
	int r;

	if (!peer->node->up || !path->n_keys || peer->state != UM_PEER_ESTABLISHED)
		return -UM_ESTATE;
	path->ping_sequence++;
	if (path->state == UM_PATH_DIRECT && !peer->via_relay)
		r = send_probe(peer, &path->direct, true);
	else if (peer->via_relay)
		r = send_probe(peer, NULL, true);
	else if (peer->endpoint.family)
		r = send_probe(peer, &peer->endpoint, true);
	else
		r = -UM_ESTATE;
	if (r == 0)
		*sequence = path->ping_sequence;
	return r;
}

void um_path_status(const struct um_node_peer *peer, struct um_control_reply *reply)
{
	const struct um_node_path *path = &peer->path;
	char text[64];

	um_control_reply_add(reply, "path_state", "%s", state_name(path->state));
	if (path->state == UM_PATH_DIRECT && um_wire_addr_format(&path->direct, text, sizeof(text)) == 0)
		um_control_reply_add(reply, "direct_path", "%s", text);
	if (path->time_to_direct_ns)
		um_control_reply_add(reply, "time_to_direct_ms", "%llu",
				     (unsigned long long)(path->time_to_direct_ns / UM_NSEC_PER_MSEC));
	if (path->rtt_ns)
		um_control_reply_add(reply, "direct_rtt_us", "%llu", (unsigned long long)(path->rtt_ns / 1000));
	um_control_reply_add(reply, "direct_switches", "%llu", (unsigned long long)path->switches_direct);
	um_control_reply_add(reply, "fallbacks", "%llu", (unsigned long long)path->fallbacks);
	if (path->fallbacks)
		um_control_reply_add(reply, "fallback_silence_ms", "%llu",
				     (unsigned long long)(path->fallback_ns / UM_NSEC_PER_MSEC));
	um_control_reply_add(reply, "path_candidates", "%u", path->n_remote);
	if (path->n_remote) {
		/* The value must fit in a control line with its key. */
		char list[UM_CONTROL_LINE_MAX - 32];
		remote_list(path, list, sizeof(list));
		um_control_reply_add(reply, "path_remote_candidates", "%s", list);
	}
	um_control_reply_add(reply, "path_probes_sent", "%llu", (unsigned long long)path->probes_sent);
	um_control_reply_add(reply, "path_probes_answered", "%llu", (unsigned long long)path->probes_answered);
	um_control_reply_add(reply, "path_bad_mac", "%llu", (unsigned long long)path->bad_mac);
	if (path->ping_sequence) {
		um_control_reply_add(reply, "ping_sequence", "%llu", (unsigned long long)path->ping_sequence);
		um_control_reply_add(reply, "ping_answered", "%llu", (unsigned long long)path->ping_answered);
	}
	if (path->ping_answered) {
		um_control_reply_add(reply, "ping_path", "%s", path->ping_direct ? "direct" : "relay");
		um_control_reply_add(reply, "ping_rtt_us", "%llu", (unsigned long long)(path->ping_rtt_ns / 1000));
		if (um_wire_addr_format(&path->ping_from, text, sizeof(text)) == 0)
			um_control_reply_add(reply, "ping_from", "%s", text);
	}
}
