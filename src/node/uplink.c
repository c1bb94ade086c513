/* SPDX-License-Identifier: MIT */
/* Uplinks: this node's registrations with the relays of its config, and the
 * relay path to peers.
 *
 * Registration: a signed REGISTER (public key included, so relays need no
 * key store; ~7.4 KB, sent as FRAGMENT pieces from the data plane's port so
 * the relay binds the same endpoint DATA comes from). Retried after 1 s,
 * doubling up to 8 s, until the REGISTER_ACK with our nonce arrives. Then a
 * KEEPALIVE every keepalive period (the relay's advertised interval, or
 * relay-keepalive if shorter), which holds the NAT mapping open, tells us
 * our observed endpoint and measures the RTT. Three unanswered keepalives,
 * or an ERROR "not registered" (the relay restarted or expired us), start a
 * new registration at once (at most one per second).
 *
 * Home and backup: among registered uplinks the lowest smoothed RTT is home,
 * the next is the backup; with more than two relays the others are parked
 * (STANDBY, no keepalives) until home or backup fails.
 *
 * Relay path: a peer without endpoint (or whose endpoint stopped answering)
 * is reached by wrapping handshake datagrams in FORWARD to the uplink; the
 * data plane then carries DATA the same way (um_dataplane_peer_set_relay).
 * A peer not registered at our home relay answers ERROR "unknown peer":
 * the peer then moves to the next registered uplink.
 *
 * wss:// uplinks (uplink_stream.c) carry the same protocol over TLS on
 * TCP, through a loopback proxy socket that stands for the relay. They
 * stay IDLE until no UDP uplink has registered FALLBACK_DELAY after start
 * (at once without UDP relays; checked again every FALLBACK_CHECK), then
 * connect and register like any other; once up they stay, as backup when
 * UDP works (a UDP uplink always ranks before a TLS one as home). */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "node/node.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"
#include "wire/fragment.h"

#define REGISTER_RETRY_BASE_NS (1 * UM_NSEC_PER_SEC)
#define REGISTER_RETRY_MAX_NS (8 * UM_NSEC_PER_SEC)
#define REREGISTER_GAP_NS UM_NSEC_PER_SEC
#define KEEPALIVE_MISSES 3
/* A UDP registration is one round trip plus a signature check: 0.5 s covers
 * relays up to ~400 ms away and keeps the first packet of a UDP-blocked
 * node within about a second (TLS set-up and registration add ~4 RTTs). */
#define FALLBACK_DELAY_NS (500 * UM_NSEC_PER_MSEC)
#define FALLBACK_CHECK_NS (5 * UM_NSEC_PER_SEC)
#define TLS_REGISTER_ATTEMPTS 4 /* then a new connection */

static const uint8_t relay_addr_prefix[12] = {0x01, 0x00, 0, 0, 0, 0, 0, 0, 'u', 'm', 'r', 'l'};

int um_wire_addr_format(const struct um_wire_addr *a, char *out, size_t size)
{
	char text[INET6_ADDRSTRLEN];
	int n;

	if (a->family == 4 && inet_ntop(AF_INET, a->addr, text, sizeof(text)))
		n = snprintf(out, size, "%s:%u", text, a->port);
	else if (a->family == 6 && inet_ntop(AF_INET6, a->addr, text, sizeof(text)))
		n = snprintf(out, size, "[%s]:%u", text, a->port);
	else
		n = snprintf(out, size, "(none)");
	return n < 0 || (size_t)n >= size ? -UM_ERANGE : 0;
}

void um_relay_addr_encode(struct um_wire_addr *addr, size_t peer, unsigned uplink)
{
	memset(addr, 0, sizeof(*addr));
	addr->family = 6;
	memcpy(addr->addr, relay_addr_prefix, sizeof(relay_addr_prefix));
	uint32_t slot = htonl((uint32_t)peer);
	memcpy(addr->addr + 12, &slot, 4);
	addr->port = (uint16_t)(uplink + 1);
}

bool um_relay_addr_decode(const struct um_node *node, const struct um_wire_addr *addr, size_t *peer,
			  unsigned *uplink)
{
	uint32_t slot;

	if (addr->family != 6 || memcmp(addr->addr, relay_addr_prefix, sizeof(relay_addr_prefix)))
		return false;
	memcpy(&slot, addr->addr + 12, 4);
	slot = ntohl(slot);
	if (slot >= node->n_peers || addr->port == 0 || addr->port > node->n_uplinks)
		return false;
	*peer = slot;
	*uplink = addr->port - 1u;
	return true;
}

int um_uplink_find(const struct um_node *node, const struct um_wire_addr *addr)
{
	for (size_t i = 0; i < node->n_uplinks; i++)
		if (um_wire_addr_equal(&node->uplinks[i].addr, addr))
			return (int)i;
	return -1;
}

static bool usable(const struct um_node_uplink *u)
{
	return u->state == UM_UPLINK_REGISTERED;
}

int um_uplink_for_peer(const struct um_node *node, const struct um_node_peer *peer)
{
	if (peer->relay >= 0 && (size_t)peer->relay < node->n_uplinks && usable(&node->uplinks[peer->relay]))
		return peer->relay;
	if (node->home >= 0)
		return node->home;
	return -1;
}

static void send_to(struct um_node_uplink *u, const uint8_t *data, size_t len)
{
	int r = um_dataplane_send_datagram(u->node->dataplane, (struct sockaddr *)&u->sa, u->sa_len, data, len);
	if (r)
		um_log_debug("relay %u: send failed: %s", u->index, um_strerror(r));
}

int um_uplink_forward(struct um_node *node, unsigned uplink, const struct um_peer_id *dest, const uint8_t *payload,
		      size_t len)
{
	uint8_t buf[UM_RELAY_MAX_DATAGRAM];
	struct um_relay_forward m = {.peer = *dest, .payload = payload, .payload_len = len};

	if (uplink >= node->n_uplinks)
		return -UM_EINVAL;
	int n = um_relay_forward_encode(buf, sizeof(buf), UM_MSG_RELAY_FORWARD, &m);
	if (n < 0)
		return n;
	send_to(&node->uplinks[uplink], buf, (size_t)n);
	return 0;
}

size_t um_uplink_forward_header(const struct um_node_peer *peer, uint8_t *out, size_t cap)
{
	if (cap < UM_RELAY_FORWARD_HEADER_BYTES)
		return 0;
	out[0] = UM_MSG_RELAY_FORWARD;
	out[1] = out[2] = out[3] = 0;
	memcpy(out + 4, peer->config->id.bytes, UM_PEER_ID_BYTES);
	return UM_RELAY_FORWARD_HEADER_BYTES;
}

/* ---- home selection ---- */

static void log_name(const struct um_node_uplink *u, char *out, size_t size)
{
	if (u->tls) {
		/* "[v6 address]:port" needs at most 54 bytes; 56 keeps
		 * "wss://" + text inside the callers' 64-byte names. */
		char text[56];
		um_wire_addr_format(&u->remote, text, sizeof(text));
		snprintf(out, size, "wss://%s", text);
		return;
	}
	um_wire_addr_format(&u->addr, out, size);
}

/* Home order: any UDP uplink before a TLS one (TCP adds head-of-line
 * blocking and overhead), then the lower RTT. */
static bool ranks_before(const struct um_node_uplink *a, const struct um_node_uplink *b)
{
	if (a->tls != b->tls)
		return !a->tls;
	return a->rtt_ns < b->rtt_ns;
}

static void choose_home(struct um_node *node)
{
	int home = -1, backup = -1, old_home = node->home;

	for (size_t i = 0; i < node->n_uplinks; i++) {
		const struct um_node_uplink *u = &node->uplinks[i];
		if (!usable(u))
			continue;
		if (home < 0 || ranks_before(u, &node->uplinks[home])) {
			backup = home;
			home = (int)i;
		} else if (backup < 0 || ranks_before(u, &node->uplinks[backup])) {
			backup = (int)i;
		}
	}
	/* Hysteresis: a new home must be 20% faster, so close RTTs do not flap. */
	if (old_home >= 0 && home >= 0 && home != old_home && usable(&node->uplinks[old_home]) &&
	    node->uplinks[home].tls == node->uplinks[old_home].tls &&
	    node->uplinks[home].rtt_ns * 5 / 4 >= node->uplinks[old_home].rtt_ns) {
		if (backup == old_home)
			backup = home;
		home = old_home;
	}
	node->home = home;
	node->backup = backup;
	if (home != old_home && home >= 0) {
		char name[64];
		log_name(&node->uplinks[home], name, sizeof(name));
		um_log_info("home relay %s (rtt %llu us)", name,
			    (unsigned long long)(node->uplinks[home].rtt_ns / 1000));
	}
	/* Park what is neither home nor backup once both exist; wake the
	 * parked ones when either is missing. */
	for (size_t i = 0; i < node->n_uplinks; i++) {
		struct um_node_uplink *u = &node->uplinks[i];
		if (u->state == UM_UPLINK_REGISTERED && backup >= 0 && (int)i != home && (int)i != backup) {
			u->state = UM_UPLINK_STANDBY;
			um_timer_cancel(node->loop, &u->timer);
		} else if (u->state == UM_UPLINK_STANDBY && backup < 0) {
			u->register_attempts = 0;
			if (u->tls && !um_uplink_stream_open_now(u)) {
				u->state = UM_UPLINK_IDLE; /* registers when connected */
				continue;
			}
			u->state = UM_UPLINK_REGISTERING;
			um_timer_arm_in(node->loop, &u->timer, 0);
		}
	}
}

/* ---- registration ---- */

static void send_register(struct um_node_uplink *u)
{
	struct um_node *node = u->node;
	uint8_t frag[UM_HS_MAX_DATAGRAM];
	uint32_t message_id;

	randombytes_buf(u->nonce, sizeof(u->nonce));
	int len = um_relay_register_build(node->register_buf, UM_RELAY_REGISTER_MAX_BYTES, &node->identity, um_wall_ms(),
					  u->nonce, true,
					  node->config.has_relay_admission_key ? node->config.relay_admission_key : NULL);
	if (len < 0) {
		um_log_error("relay %u: building REGISTER: %s", u->index, um_strerror(len));
		return;
	}
	randombytes_buf(&message_id, sizeof(message_id));
	u->register_sent_ns = um_now_ns(); /* after signing: the RTT excludes it */
	unsigned count = um_fragment_count((size_t)len);
	for (unsigned i = 0; i < count; i++) {
		int n = um_fragment_encode(frag, sizeof(frag), UM_MSG_RELAY_REGISTER, 0, message_id, node->register_buf,
					   (size_t)len, i);
		if (n < 0)
			return;
		send_to(u, frag, (size_t)n);
	}
	u->register_attempts++;
}

static void start_registration(struct um_node_uplink *u, bool now)
{
	struct um_node *node = u->node;
	bool was_usable = usable(u);

	u->state = UM_UPLINK_REGISTERING;
	u->ka_outstanding = false;
	u->ka_missed = 0;
	u->register_attempts = 0;
	um_timer_arm_in(node->loop, &u->timer, now ? 0 : REGISTER_RETRY_BASE_NS);
	if (was_usable)
		choose_home(node);
}

static void send_keepalive(struct um_node_uplink *u)
{
	uint8_t buf[UM_RELAY_KEEPALIVE_BYTES];
	struct um_relay_keepalive k = {.id = u->node->identity.id, .token = u->token, .sequence = ++u->ka_sequence};

	int n = um_relay_keepalive_encode(buf, sizeof(buf), &k);
	if (n < 0)
		return;
	send_to(u, buf, (size_t)n);
	u->ka_sent_ns = um_now_ns();
	u->ka_outstanding = true;
}

static void on_timer(struct um_loop *loop, struct um_timer *timer)
{
	struct um_node_uplink *u = timer->arg;
	char name[64];

	switch (u->state) {
	case UM_UPLINK_IDLE:
		break;
	case UM_UPLINK_REGISTERING: {
		if (u->tls && u->register_attempts >= TLS_REGISTER_ATTEMPTS) {
			/* Connected but unanswered: the connection may be dead. */
			u->register_attempts = 0;
			um_uplink_stream_reconnect(u);
			return;
		}
		uint64_t delay = REGISTER_RETRY_BASE_NS << (u->register_attempts < 3 ? u->register_attempts : 3);
		if (delay > REGISTER_RETRY_MAX_NS)
			delay = REGISTER_RETRY_MAX_NS;
		if (u->register_attempts == 3) {
			log_name(u, name, sizeof(name));
			um_log_warn("relay %s: no answer to registration, still trying", name);
		}
		send_register(u);
		um_timer_arm_in(loop, timer, delay + randombytes_uniform((uint32_t)(delay / 8 / 1000)) * 1000ULL);
		break;
	}
	case UM_UPLINK_REGISTERED:
		if (u->ka_outstanding && ++u->ka_missed >= KEEPALIVE_MISSES) {
			log_name(u, name, sizeof(name));
			um_log_info("relay %s: %u keepalives unanswered, registering again", name, u->ka_missed);
			if (u->tls) {
				um_uplink_stream_reconnect(u); /* registers when connected again */
				return;
			}
			start_registration(u, true);
			return;
		}
		send_keepalive(u);
		um_timer_arm_in(loop, timer, u->keepalive_ns);
		break;
	case UM_UPLINK_STANDBY:
		break;
	}
}

static void on_ack(struct um_node *node, struct um_node_uplink *u, const uint8_t *data, size_t len)
{
	struct um_relay_register_ack ack;
	char name[64], observed[64];
	uint64_t now = um_now_ns();

	if (um_relay_register_ack_decode(&ack, data, len) || u->state != UM_UPLINK_REGISTERING ||
	    sodium_memcmp(ack.nonce, u->nonce, sizeof(u->nonce)))
		return; /* stale or forged */
	uint64_t keepalive = (ack.keepalive_interval_s ? ack.keepalive_interval_s : 25) * UM_NSEC_PER_SEC;
	if (node->config.relay_keepalive_ms && node->config.relay_keepalive_ms * UM_NSEC_PER_MSEC < keepalive)
		keepalive = node->config.relay_keepalive_ms * UM_NSEC_PER_MSEC;
	/* The registration's round trip includes the relay's signature check,
	 * so it is only a first estimate; keepalives refine it. */
	uint64_t sample = now - u->register_sent_ns;
	if (!u->rtt_ns || sample < u->rtt_ns)
		u->rtt_ns = sample;
	u->token = ack.token;
	u->keepalive_ns = keepalive;
	/* Over TLS the relay sees a name for the connection, not an endpoint
	 * anyone could punch to: no reflexive candidate from it. */
	if (!u->tls)
		u->observed = ack.observed;
	u->state = UM_UPLINK_REGISTERED;
	u->registered_ns = u->last_reply_ns = now;
	u->ka_outstanding = false;
	u->ka_missed = 0;
	u->registrations++;
	log_name(u, name, sizeof(name));
	um_wire_addr_format(&ack.observed, observed, sizeof(observed));
	um_log_info("relay %s: registered (we are %s there, keepalive %llu ms)", name, observed,
		    (unsigned long long)(keepalive / UM_NSEC_PER_MSEC));
	/* A keepalive right away gives a clean RTT sample. */
	send_keepalive(u);
	um_timer_arm_in(node->loop, &u->timer, keepalive);
	choose_home(node);
	for (size_t i = 0; i < node->n_peers; i++)
		um_timers_relay_ready(&node->peers[i]);
}

static void on_keepalive(struct um_node *node, struct um_node_uplink *u, const uint8_t *data, size_t len)
{
	struct um_relay_keepalive k;
	uint64_t now = um_now_ns();

	if (um_relay_keepalive_decode(&k, data, len) || !(k.flags & UM_RELAY_KEEPALIVE_FLAG_REPLY) ||
	    u->state != UM_UPLINK_REGISTERED || !u->ka_outstanding || k.sequence != u->ka_sequence ||
	    sodium_memcmp(&k.token, &u->token, sizeof(k.token)) ||
	    memcmp(k.id.bytes, node->identity.id.bytes, UM_PEER_ID_BYTES))
		return;
	uint64_t sample = now - u->ka_sent_ns;
	u->rtt_ns = u->rtt_ns ? (u->rtt_ns * 7 + sample) / 8 : sample;
	u->ka_outstanding = false;
	u->ka_missed = 0;
	u->last_reply_ns = now;
	if (!u->tls && !um_wire_addr_equal(&u->observed, &k.observed)) {
		char name[64], observed[64];
		log_name(u, name, sizeof(name));
		um_wire_addr_format(&k.observed, observed, sizeof(observed));
		um_log_info("relay %s: our endpoint there is now %s", name, observed);
		u->observed = k.observed;
	}
	choose_home(node);
}

static void on_error(struct um_node *node, struct um_node_uplink *u, const uint8_t *data, size_t len)
{
	struct um_relay_error e;
	char name[64];
	uint64_t now = um_now_ns();

	if (um_relay_error_decode(&e, data, len))
		return;
	u->errors++;
	log_name(u, name, sizeof(name));
	switch (e.code) {
	case UM_RELAY_ERR_NOT_REGISTERED:
		/* Relay restarted or expired us. Anyone on the path can send this,
		 * so it costs at most one registration per second. */
		if (u->state == UM_UPLINK_REGISTERING && now - u->register_sent_ns < REREGISTER_GAP_NS)
			return;
		if (u->state == UM_UPLINK_STANDBY || u->state == UM_UPLINK_IDLE)
			return;
		um_log_info("relay %s: not registered there (restart?), registering again", name);
		start_registration(u, true);
		break;
	case UM_RELAY_ERR_UNKNOWN_PEER:
		u->unknown_peer++;
		for (size_t i = 0; i < node->n_peers; i++) {
			struct um_node_peer *peer = &node->peers[i];
			if (memcmp(peer->config->id.bytes, e.ref, UM_PEER_ID_BYTES))
				continue;
			/* Not there: try the peer through our next registered relay. */
			for (size_t step = 1; step <= node->n_uplinks; step++) {
				size_t next = (u->index + step) % node->n_uplinks;
				if (usable(&node->uplinks[next])) {
					if (next != u->index)
						um_log_debug("peer \"%s\" unknown at relay %s, trying relay %zu",
							     peer->config->name, name, next);
					peer->relay = (int)next;
					break;
				}
			}
			if (peer->attempt_via_relay && um_handshake_peer_busy(peer->hs))
				um_timers_relay_unknown_peer(peer);
		}
		break;
	default:
		um_log_warn("relay %s: error %u (retry after %u s)", name, e.code, e.retry_after_s);
		break;
	}
}

bool um_uplinks_receive(struct um_node *node, const struct um_wire_addr *from, const uint8_t *data, size_t len)
{
	if (len == 0 || data[0] < UM_MSG_RELAY_REGISTER || data[0] > UM_MSG_RELAY_ERROR)
		return false;
	int i = um_uplink_find(node, from);
	if (i < 0)
		return true; /* relay messages from strangers: dropped */
	struct um_node_uplink *u = &node->uplinks[i];
	switch (data[0]) {
	case UM_MSG_RELAY_REGISTER_ACK:
		on_ack(node, u, data, len);
		break;
	case UM_MSG_RELAY_KEEPALIVE:
		on_keepalive(node, u, data, len);
		break;
	case UM_MSG_RELAY_ERROR:
		on_error(node, u, data, len);
		break;
	default:
		break;
	}
	return true;
}

/* ---- lifecycle and status ---- */

void um_uplink_transport_up(struct um_node_uplink *u)
{
	start_registration(u, true);
}

void um_uplink_transport_down(struct um_node_uplink *u)
{
	bool was_usable = usable(u);

	u->state = UM_UPLINK_IDLE;
	u->ka_outstanding = false;
	u->ka_missed = 0;
	u->register_attempts = 0;
	um_timer_cancel(u->node->loop, &u->timer);
	if (was_usable)
		choose_home(u->node);
}

static void on_fallback(struct um_loop *loop, struct um_timer *timer)
{
	struct um_node *node = timer->arg;

	for (size_t i = 0; i < node->n_uplinks; i++) {
		const struct um_node_uplink *u = &node->uplinks[i];
		if (!u->tls && (u->state == UM_UPLINK_REGISTERED || u->state == UM_UPLINK_STANDBY)) {
			um_timer_arm_in(loop, timer, FALLBACK_CHECK_NS);
			return; /* UDP works */
		}
	}
	for (size_t i = 0; i < node->n_uplinks; i++)
		if (node->uplinks[i].tls)
			um_uplink_stream_connect(&node->uplinks[i]);
	/* Started for good: nothing left to check. */
}

int um_uplinks_start(struct um_node *node)
{
	const struct um_config *c = &node->config;
	size_t n_tls = 0;

	node->home = node->backup = -1;
	if (!c->n_relays)
		return 0;
	node->register_buf = malloc(UM_RELAY_REGISTER_MAX_BYTES);
	node->uplinks = calloc(c->n_relays, sizeof(*node->uplinks));
	if (!node->register_buf || !node->uplinks) {
		free(node->register_buf);
		free(node->uplinks);
		node->register_buf = NULL;
		node->uplinks = NULL;
		return -UM_ENOMEM;
	}
	node->n_uplinks = c->n_relays;
	um_timer_init(&node->fallback_timer, on_fallback, node);
	for (size_t i = 0; i < c->n_relays; i++) {
		struct um_node_uplink *u = &node->uplinks[i];
		u->node = node;
		u->index = (unsigned)i;
		um_timer_init(&u->timer, on_timer, u);
	}
	for (size_t i = 0; i < c->n_relays; i++) {
		struct um_node_uplink *u = &node->uplinks[i];
		if (c->relay_tls[i]) {
			int r = um_wire_addr_from_sockaddr(&u->remote, &c->relays[i].sa, c->relays[i].len);
			u->tls = true;
			u->state = UM_UPLINK_IDLE;
			if (r == 0)
				r = um_uplink_stream_open(u);
			if (r) {
				um_uplinks_stop(node);
				return r;
			}
			n_tls++;
			continue;
		}
		if (um_wire_addr_from_sockaddr(&u->addr, &c->relays[i].sa, c->relays[i].len) ||
		    um_wire_addr_to_sockaddr(&u->addr, &u->sa) < 0) {
			um_uplinks_stop(node);
			return -UM_EINVAL;
		}
		u->sa_len = (socklen_t)um_wire_addr_to_sockaddr(&u->addr, &u->sa);
		start_registration(u, true);
	}
	if (n_tls)
		um_timer_arm_in(node->loop, &node->fallback_timer, n_tls == c->n_relays ? 0 : FALLBACK_DELAY_NS);
	return 0;
}

void um_uplinks_stop(struct um_node *node)
{
	for (size_t i = 0; i < node->n_uplinks; i++) {
		um_timer_cancel(node->loop, &node->uplinks[i].timer);
		um_uplink_stream_close(&node->uplinks[i]);
	}
	if (node->n_uplinks)
		um_timer_cancel(node->loop, &node->fallback_timer);
	free(node->uplinks);
	free(node->register_buf);
	node->uplinks = NULL;
	node->register_buf = NULL;
	node->n_uplinks = 0;
	node->home = node->backup = -1;
}

static const char *uplink_state_name(const struct um_node *node, size_t i)
{
	switch (node->uplinks[i].state) {
	case UM_UPLINK_IDLE:
		return um_uplink_stream_open_now(&node->uplinks[i]) ? "connected" : "idle";
	case UM_UPLINK_REGISTERING:
		return "registering";
	case UM_UPLINK_REGISTERED:
		return (int)i == node->home ? "home" : (int)i == node->backup ? "backup" : "registered";
	case UM_UPLINK_STANDBY:
		return "standby";
	}
	return "?";
}

/* Node-level keys: relays, home_relay, home_relay_rtt_us, observed_endpoint;
 * then per relay a block of uplink* keys (the CLI groups them). */
void um_uplinks_status(struct um_node *node, struct um_control_reply *reply)
{
	char text[64];
	uint64_t now = um_now_ns();

	um_control_reply_add(reply, "relays", "%zu", node->n_uplinks);
	if (node->home >= 0) {
		const struct um_node_uplink *h = &node->uplinks[node->home];
		log_name(h, text, sizeof(text));
		um_control_reply_add(reply, "home_relay", "%s", text);
		um_control_reply_add(reply, "home_relay_rtt_us", "%llu", (unsigned long long)(h->rtt_ns / 1000));
		um_wire_addr_format(&h->observed, text, sizeof(text));
		um_control_reply_add(reply, "observed_endpoint", "%s", text);
	}
	for (size_t i = 0; i < node->n_uplinks; i++) {
		const struct um_node_uplink *u = &node->uplinks[i];
		log_name(u, text, sizeof(text));
		um_control_reply_add(reply, "uplink", "%s", text);
		um_control_reply_add(reply, "uplink_state", "%s", uplink_state_name(node, i));
		if (u->rtt_ns)
			um_control_reply_add(reply, "uplink_rtt_us", "%llu", (unsigned long long)(u->rtt_ns / 1000));
		if (u->observed.family) {
			um_wire_addr_format(&u->observed, text, sizeof(text));
			um_control_reply_add(reply, "uplink_observed", "%s", text);
		}
		if (u->last_reply_ns)
			um_control_reply_add(reply, "uplink_last_reply_age_ms", "%llu",
					     (unsigned long long)((now - u->last_reply_ns) / UM_NSEC_PER_MSEC));
		um_control_reply_add(reply, "uplink_registrations", "%llu", (unsigned long long)u->registrations);
		um_control_reply_add(reply, "uplink_errors", "%llu", (unsigned long long)u->errors);
		um_uplink_stream_status(u, reply);
	}
}

bool um_uplink_peer_tls(const struct um_node *node, const struct um_node_peer *peer)
{
	return peer->via_relay && peer->relay >= 0 && (size_t)peer->relay < node->n_uplinks &&
	       node->uplinks[peer->relay].tls;
}
