/* SPDX-License-Identifier: MIT */
/* The transport of a wss:// uplink: the relay protocol over TLS on TCP
 * (WebSocket framing, wire/websocket.h), for networks that block UDP.
 *
 * Nothing downstream knows: the uplink's relay address is a UDP socket on
 * loopback (the "proxy") owned by this file. What the node sends to the
 * relay (REGISTER fragments and keepalives from uplink.c, FORWARD from the
 * data-plane workers) arrives there from the node's own UDP port and leaves
 * as one binary frame per datagram over TLS; each frame from the relay is
 * sent from the proxy to the node's UDP port, so the workers and uplink.c
 * see ordinary datagrams "from the relay". The node's UDP socket is always
 * bound to the wildcard address (dual-stack), so loopback reaches it.
 *
 * Connection (net/stream.h, client role): non-blocking TCP connect, TLS
 * (the certificate chain is only checked with relay-ca: what travels
 * inside is end-to-end encrypted and registrations are signed, so TLS only
 * has to get through), the Upgrade, then frames. connect-timeout bounds the whole set-up. When it fails or
 * drops, a new attempt follows after 1 s, doubling up to 30 s; uplink.c
 * registers again over each new connection. Output is a bounded buffer:
 * what does not fit is dropped (like a full UDP socket buffer would). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <sodium.h>

#include "net/stream.h"
#include "node/internal.h"
#include "node/uplink.h"
#include "util/addr.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

enum {
	OUTPUT_BYTES = 64 * 1024,
	PROXY_BATCH = 64,
};

#define RECONNECT_BASE_NS (1 * UM_NSEC_PER_SEC)
#define RECONNECT_MAX_NS  (30 * UM_NSEC_PER_SEC)
/* A TCP connect still without SYN-ACK by then starts a second one beside
 * it: a lost SYN waits for the kernel's 1 s initial retransmission (3 s
 * for two), which is most of the fallback's time on a lossy path (NAT lab
 * at 2 % loss: 3.3 s to connect, a 4.8 s first reply). Like happy
 * eyeballs' attempt delay (RFC 8305: 250 ms). */
#define SPARE_AFTER_NS (300 * UM_NSEC_PER_MSEC)

struct um_uplink_stream {
	struct um_node_uplink *uplink;
	bool wanted;             /* keep connected (the node fell back to TLS) */
	bool warm;               /* connected ahead of need (um_uplink_stream_warm), not wanted yet */
	struct um_stream *conn;  /* the connection, NULL between attempts */
	struct um_stream *spare; /* a second attempt while conn's SYN is unanswered */
	struct um_timer spare_timer;
	int proxy_fd;
	struct um_watch proxy_watch;
	struct sockaddr_storage node_sa; /* the node's UDP port on loopback */
	socklen_t node_sa_len;
	uint16_t node_port;
	SSL_CTX *ctx;
	struct um_timer timer; /* set-up deadline or reconnect */
	unsigned failures;
	uint64_t connected_ns;
	uint64_t connects, disconnects, tx_frames, rx_frames, tx_dropped, rx_dropped, spares, spares_won;
};

static bool is_open(const struct um_uplink_stream *st)
{
	return st->conn && um_stream_can_send(st->conn);
}

static void describe(const struct um_node_uplink *u, char *out, size_t size)
{
	char text[64];

	um_addr_format((const struct um_addr *)&u->remote, text, sizeof(text));
	snprintf(out, size, "wss://%s", text);
}

/* ---- connection teardown and retry ---- */

static void disconnect(struct um_uplink_stream *st, const char *why)
{
	struct um_node *node = st->uplink->node;
	bool was_open = st->connected_ns != 0; /* transport_up was called */
	char name[80];

	st->warm = false; /* a warm connection is not tried again */
	um_stream_free(st->conn);
	st->conn = NULL;
	um_stream_free(st->spare);
	st->spare = NULL;
	um_timer_cancel(node->loop, &st->timer);
	um_timer_cancel(node->loop, &st->spare_timer);
	if (why) {
		describe(st->uplink, name, sizeof(name));
		um_log_info("relay %s: %s", name, why);
	}
	if (was_open) {
		st->disconnects++;
		/* A connection that lived a while was fine: start over quickly. */
		if (um_now_ns() - st->connected_ns > RECONNECT_MAX_NS)
			st->failures = 0;
		st->connected_ns = 0;
		st->uplink->transport(st->uplink, false);
	}
	if (!st->wanted)
		return;
	uint64_t delay = RECONNECT_BASE_NS << (st->failures < 5 ? st->failures : 5);
	if (delay > RECONNECT_MAX_NS)
		delay = RECONNECT_MAX_NS;
	st->failures++;
	um_timer_arm_in(node->loop, &st->timer, delay + randombytes_uniform((uint32_t)(delay / 4 / 1000)) * 1000ULL);
}

/* ---- the loopback proxy ---- */

static void on_proxy(struct um_loop *loop, struct um_watch *watch, uint32_t events)
{
	struct um_uplink_stream *st = watch->arg;
	uint8_t buf[UM_RELAY_MAX_DATAGRAM + 1];
	(void)loop;
	(void)events;

	for (unsigned i = 0; i < PROXY_BATCH; i++) {
		struct sockaddr_storage from;
		socklen_t from_len = sizeof(from);
		ssize_t n = recvfrom(st->proxy_fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &from_len);
		if (n < 0)
			break;
		/* Only the node's own socket may use the connection. */
		if (from.ss_family != AF_INET || ((struct sockaddr_in *)&from)->sin_port != htons(st->node_port))
			continue;
		if (n == 0 || n > UM_RELAY_MAX_DATAGRAM || !is_open(st) || um_stream_send(st->conn, buf, (size_t)n)) {
			st->tx_dropped++;
			continue;
		}
		st->tx_frames++;
	}
}

/* ---- the connection's events (net/stream.h) ---- */

static void on_message(void *arg, struct um_stream *conn, uint8_t *data, size_t len)
{
	struct um_uplink_stream *st = arg;
	(void)conn;

	if (sendto(st->proxy_fd, data, len, MSG_DONTWAIT, (struct sockaddr *)&st->node_sa, st->node_sa_len) < 0)
		st->rx_dropped++;
	else
		st->rx_frames++;
}

static void on_open(void *arg, struct um_stream *conn)
{
	struct um_uplink_stream *st = arg;
	char name[80];

	/* The first attempt to open is the connection; the other goes. */
	if (conn == st->spare) {
		um_stream_free(st->conn);
		st->conn = conn;
		st->spare = NULL;
		st->spares_won++;
	}
	um_stream_free(st->spare);
	st->spare = NULL;
	um_timer_cancel(st->uplink->node->loop, &st->spare_timer);
	st->connects++;
	um_timer_cancel(st->uplink->node->loop, &st->timer);
	describe(st->uplink, name, sizeof(name));
	if (!st->wanted) { /* warm: registered over once wanted */
		um_log_debug("relay %s: connected ahead (%s), UDP first", name, um_stream_tls_version(conn));
		if (st->uplink->connected_ahead)
			st->uplink->connected_ahead(st->uplink);
		return;
	}
	um_log_info("relay %s: connected (%s)", name, um_stream_tls_version(conn));
	st->connected_ns = um_now_ns();
	st->uplink->transport(st->uplink, true);
}

static void on_close(void *arg, struct um_stream *conn, enum um_stream_end end, const char *text)
{
	struct um_uplink_stream *st = arg;
	char why[160];

	if (conn == st->spare) { /* the other attempt goes on */
		um_stream_free(conn);
		st->spare = NULL;
		return;
	}
	if (end == UM_STREAM_END_PROTOCOL)
		snprintf(why, sizeof(why), "protocol error from the relay (%s), reconnecting", text);
	else if (end == UM_STREAM_END_PEER && st->connected_ns)
		snprintf(why, sizeof(why), "connection closed by the relay (%s), reconnecting", text);
	else
		snprintf(why, sizeof(why), "%s", text);
	disconnect(st, why);
}

/* A connection attempt to the relay into *conn. */
static int connect_one(struct um_uplink_stream *st, struct um_stream **conn)
{
	struct sockaddr_storage sa;
	char host[64];

	um_addr_format((const struct um_addr *)&st->uplink->remote, host, sizeof(host));
	struct um_stream_config config = {
	    .tls = st->ctx,
	    .host = host,
	    .output_bytes = OUTPUT_BYTES,
	    .on_open = on_open,
	    .on_message = on_message,
	    .on_close = on_close,
	    .arg = st,
	};
	int len = um_addr_to_sockaddr(&st->uplink->remote, &sa);
	return len < 0
		   ? len
		   : um_stream_connect(conn, st->uplink->node->loop, &config, (struct sockaddr *)&sa, (socklen_t)len);
}

static void start_connect(struct um_uplink_stream *st)
{
	struct um_node *node = st->uplink->node;
	int r = connect_one(st, &st->conn);
	if (r) {
		disconnect(st, r == -UM_ENOMEM ? "TLS set-up failed" : "connect failed");
		return;
	}
	um_timer_arm_in(node->loop, &st->timer, node->config.connect_timeout_ms * UM_NSEC_PER_MSEC);
	um_timer_arm_in(node->loop, &st->spare_timer, SPARE_AFTER_NS);
}

static void on_spare_timer(struct um_loop *loop, struct um_timer *timer)
{
	struct um_uplink_stream *st = timer->arg;
	(void)loop;

	if (!st->conn || st->spare || um_stream_get_state(st->conn) != UM_STREAM_CONNECTING)
		return;
	if (connect_one(st, &st->spare) == 0)
		st->spares++;
	else
		st->spare = NULL;
}

static void on_timer(struct um_loop *loop, struct um_timer *timer)
{
	struct um_uplink_stream *st = timer->arg;
	(void)loop;

	if (!st->conn) {
		if (st->wanted)
			start_connect(st);
		return;
	}
	if (!is_open(st))
		disconnect(st, "connection set-up timed out");
}

/* ---- called by uplink.c ---- */

int um_uplink_stream_open(struct um_node_uplink *u)
{
	struct um_node *node = u->node;
	struct sockaddr_in proxy = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t proxy_len = sizeof(proxy);
	struct um_uplink_stream *st = calloc(1, sizeof(*st));

	if (!st)
		return -UM_ENOMEM;
	st->uplink = u;
	um_timer_init(&st->timer, on_timer, st);
	um_timer_init(&st->spare_timer, on_spare_timer, st);
	st->node_port = um_dataplane_port(node->dataplane);
	struct sockaddr_in *node_in = (struct sockaddr_in *)&st->node_sa;
	node_in->sin_family = AF_INET;
	node_in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	node_in->sin_port = htons(st->node_port);
	st->node_sa_len = sizeof(*node_in);

	/* Chain only (relay-ca): relays are named by address, and a private CA
	 * (or the relay's own self-signed certificate) is what this is for. */
	int r = um_stream_tls_client(&st->ctx, node->config.relay_ca);
	if (r) {
		if (r == -UM_EINVAL)
			um_log_error("relay-ca %s: cannot load it", node->config.relay_ca);
		free(st);
		return r;
	}
	st->proxy_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (st->proxy_fd < 0 || bind(st->proxy_fd, (struct sockaddr *)&proxy, sizeof(proxy)) ||
	    getsockname(st->proxy_fd, (struct sockaddr *)&proxy, &proxy_len)) {
		r = -errno;
		if (st->proxy_fd >= 0)
			close(st->proxy_fd);
		SSL_CTX_free(st->ctx);
		free(st);
		return r;
	}
	st->proxy_watch = (struct um_watch){.fd = st->proxy_fd, .events = EPOLLIN, .fn = on_proxy, .arg = st};
	r = um_loop_add(node->loop, &st->proxy_watch);
	if (r) {
		close(st->proxy_fd);
		SSL_CTX_free(st->ctx);
		free(st);
		return r;
	}
	/* The uplink's relay address, for uplink.c and the data plane. */
	um_addr_from_sockaddr(&u->addr, (struct sockaddr *)&proxy, proxy_len);
	u->stream = st;
	return 0;
}

void um_uplink_stream_connect(struct um_node_uplink *u)
{
	struct um_uplink_stream *st = u->stream;
	char name[80];

	if (!st || st->wanted)
		return;
	st->wanted = true;
	describe(u, name, sizeof(name));
	if (st->warm && is_open(st)) {
		st->warm = false;
		um_log_info("relay %s: registering over the connection opened ahead (no UDP relay answered)", name);
		st->connected_ns = um_now_ns();
		u->transport(u, true);
		return;
	}
	st->warm = false; /* still connecting: on_open registers */
	um_log_info("relay %s: connecting (no UDP relay answered)", name);
	if (!st->conn && !um_timer_armed(&st->timer))
		start_connect(st);
}

void um_uplink_stream_warm(struct um_node_uplink *u)
{
	struct um_uplink_stream *st = u->stream;

	if (!st || st->wanted || st->conn || um_timer_armed(&st->timer))
		return;
	st->warm = true;
	start_connect(st);
}

void um_uplink_stream_reconnect(struct um_node_uplink *u)
{
	struct um_uplink_stream *st = u->stream;

	if (st && st->conn)
		disconnect(st, "relay silent over TLS, reconnecting");
}

void um_uplink_stream_disconnect(struct um_node_uplink *u)
{
	struct um_uplink_stream *st = u->stream;

	if (!st || (!st->wanted && !st->warm))
		return;
	const char *why = st->wanted ? "UDP works again: closing the TLS connection" : NULL; /* warm: quietly */
	st->wanted = st->warm = false;
	if (st->conn)
		disconnect(st, why);
	else
		um_timer_cancel(u->node->loop, &st->timer);
}

void um_uplink_stream_close(struct um_node_uplink *u)
{
	struct um_uplink_stream *st = u->stream;

	if (!st)
		return;
	st->wanted = false;
	um_stream_free(st->conn);
	um_stream_free(st->spare);
	um_timer_cancel(u->node->loop, &st->timer);
	um_timer_cancel(u->node->loop, &st->spare_timer);
	um_loop_remove(u->node->loop, &st->proxy_watch);
	close(st->proxy_fd);
	SSL_CTX_free(st->ctx);
	free(st);
	u->stream = NULL;
}

bool um_uplink_stream_open_now(const struct um_node_uplink *u)
{
	return u->stream && is_open(u->stream);
}

void um_uplink_stream_status_fill(const struct um_node_uplink *u, struct um_uplink_status *out)
{
	const struct um_uplink_stream *st = u->stream;

	if (!st)
		return;
	out->tls_stream = true;
	out->tls_state = st->warm      ? "warm"
			 : !st->wanted ? "standby"
			 : st->conn    ? um_stream_state_name(um_stream_get_state(st->conn))
				       : "idle";
	out->proxy = u->addr;
	out->tls_connects = st->connects;
	out->tls_spares = st->spares;
	out->tls_spares_won = st->spares_won;
	out->tls_disconnects = st->disconnects;
	out->tls_tx_frames = st->tx_frames;
	out->tls_rx_frames = st->rx_frames;
	out->tls_tx_dropped = st->tx_dropped;
	out->tls_rx_dropped = st->rx_dropped;
}
