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
 * Connection: non-blocking TCP connect, TLS (the certificate chain is only
 * checked with relay-ca: what travels inside is end-to-end encrypted and
 * registrations are signed, so TLS only has to get through), the Upgrade,
 * then frames. connect-timeout bounds the whole set-up. When it fails or
 * drops, a new attempt follows after 1 s, doubling up to 30 s; uplink.c
 * registers again over each new connection. Output is a bounded buffer:
 * what does not fit is dropped (like a full UDP socket buffer would). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sodium.h>

#include "node/node.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"
#include "wire/websocket.h"

enum {
	OUTPUT_BYTES = 64 * 1024,
	PROXY_BATCH = 64,
	READS_PER_WAKEUP = 32,
	READ_CHUNK = 16 * 1024,
	MASK_POOL = 256,
};

#define RECONNECT_BASE_NS (1 * UM_NSEC_PER_SEC)
#define RECONNECT_MAX_NS  (30 * UM_NSEC_PER_SEC)

enum stream_state {
	STREAM_IDLE,       /* not wanted yet, or waiting to reconnect */
	STREAM_CONNECTING, /* TCP connect in progress */
	STREAM_TLS,        /* TLS handshake */
	STREAM_UPGRADE,    /* request sent, waiting for 101 */
	STREAM_OPEN,       /* frames */
};

struct um_uplink_stream {
	struct um_node_uplink *uplink;
	bool wanted; /* keep connected (the node fell back to TLS) */
	enum stream_state state;
	int proxy_fd, tcp_fd;
	struct um_watch proxy_watch, tcp_watch;
	uint32_t tcp_events;
	bool write_blocked;
	struct sockaddr_storage node_sa; /* the node's UDP port on loopback */
	socklen_t node_sa_len;
	uint16_t node_port;
	SSL_CTX *ctx;
	SSL *ssl;
	struct um_timer timer; /* set-up deadline or reconnect */
	unsigned failures;
	uint64_t connected_ns;
	uint64_t connects, disconnects, tx_frames, rx_frames, tx_dropped, rx_dropped;
	uint8_t ws_key[UM_WS_KEY_BYTES];
	uint8_t mask_pool[MASK_POOL];
	unsigned mask_used;
	uint8_t http[UM_WS_HTTP_MAX];
	size_t http_len;
	struct um_ws_decoder decoder;
	size_t out_start, out_end;
	uint8_t out[OUTPUT_BYTES];
};

static const char *state_name(enum stream_state s)
{
	switch (s) {
	case STREAM_IDLE:
		return "idle";
	case STREAM_CONNECTING:
		return "connecting";
	case STREAM_TLS:
		return "tls";
	case STREAM_UPGRADE:
		return "upgrade";
	case STREAM_OPEN:
		return "open";
	}
	return "?";
}

static void describe(const struct um_node_uplink *u, char *out, size_t size)
{
	char text[64];

	um_wire_addr_format(&u->remote, text, sizeof(text));
	snprintf(out, size, "wss://%s", text);
}

/* ---- connection teardown and retry ---- */

static void disconnect(struct um_uplink_stream *st, const char *why)
{
	struct um_node *node = st->uplink->node;
	bool was_open = st->state == STREAM_OPEN;
	char name[80];

	if (st->tcp_fd >= 0) {
		um_loop_remove(node->loop, &st->tcp_watch);
		if (st->ssl) {
			if (was_open)
				SSL_shutdown(st->ssl);
			SSL_free(st->ssl);
			ERR_clear_error();
		}
		close(st->tcp_fd);
	}
	st->ssl = NULL;
	st->tcp_fd = -1;
	st->out_start = st->out_end = 0;
	st->write_blocked = false;
	st->state = STREAM_IDLE;
	um_timer_cancel(node->loop, &st->timer);
	if (why) {
		describe(st->uplink, name, sizeof(name));
		um_log_info("relay %s: %s", name, why);
	}
	if (was_open) {
		st->disconnects++;
		/* A connection that lived a while was fine: start over quickly. */
		if (um_now_ns() - st->connected_ns > RECONNECT_MAX_NS)
			st->failures = 0;
		um_uplink_transport_down(st->uplink);
	}
	if (!st->wanted)
		return;
	uint64_t delay = RECONNECT_BASE_NS << (st->failures < 5 ? st->failures : 5);
	if (delay > RECONNECT_MAX_NS)
		delay = RECONNECT_MAX_NS;
	st->failures++;
	um_timer_arm_in(node->loop, &st->timer, delay + randombytes_uniform((uint32_t)(delay / 4 / 1000)) * 1000ULL);
}

static void update_events(struct um_uplink_stream *st)
{
	uint32_t want = EPOLLIN | (st->write_blocked || st->state == STREAM_CONNECTING ? EPOLLOUT : 0);

	if (want != st->tcp_events && um_loop_modify(st->uplink->node->loop, &st->tcp_watch, want) == 0)
		st->tcp_events = want;
}

/* ---- output ---- */

static int flush(struct um_uplink_stream *st)
{
	st->write_blocked = false;
	while (st->out_start < st->out_end) {
		size_t written = 0;
		int r = SSL_write_ex(st->ssl, st->out + st->out_start, st->out_end - st->out_start, &written);
		if (r == 1) {
			st->out_start += written;
			continue;
		}
		int e = SSL_get_error(st->ssl, r);
		ERR_clear_error();
		if (e == SSL_ERROR_WANT_WRITE) {
			st->write_blocked = true;
			break;
		}
		if (e == SSL_ERROR_WANT_READ)
			break;
		return -EPIPE;
	}
	if (st->out_start == st->out_end)
		st->out_start = st->out_end = 0;
	update_events(st);
	return 0;
}

static int queue(struct um_uplink_stream *st, const uint8_t *data, size_t len)
{
	if (st->out_end + len > sizeof(st->out) && st->out_start > 0) {
		/* The context accepts a moving write buffer (same bytes). */
		memmove(st->out, st->out + st->out_start, st->out_end - st->out_start);
		st->out_end -= st->out_start;
		st->out_start = 0;
	}
	if (st->out_end + len > sizeof(st->out))
		return -UM_ELIMIT;
	memcpy(st->out + st->out_end, data, len);
	st->out_end += len;
	return 0;
}

/* Client frames are masked (RFC 6455 5.3); keys come from a random pool. */
static int queue_frame(struct um_uplink_stream *st, uint8_t opcode, const uint8_t *payload, size_t len)
{
	uint8_t frame[UM_WS_FRAME_MAX];

	if (st->mask_used + 4 > MASK_POOL) {
		randombytes_buf(st->mask_pool, sizeof(st->mask_pool));
		st->mask_used = 0;
	}
	int n = um_ws_frame_encode(frame, sizeof(frame), opcode, payload, len, st->mask_pool + st->mask_used);
	st->mask_used += 4;
	if (n < 0)
		return n;
	return queue(st, frame, (size_t)n);
}

/* ---- the loopback proxy ---- */

static void on_proxy(struct um_loop *loop, struct um_watch *watch, uint32_t events)
{
	struct um_uplink_stream *st = watch->arg;
	uint8_t buf[UM_RELAY_MAX_DATAGRAM + 1];
	bool queued = false;
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
		if (n == 0 || n > UM_RELAY_MAX_DATAGRAM || st->state != STREAM_OPEN ||
		    queue_frame(st, UM_WS_OP_BINARY, buf, (size_t)n)) {
			st->tx_dropped++;
			continue;
		}
		st->tx_frames++;
		queued = true;
	}
	if (queued && !st->write_blocked && flush(st))
		disconnect(st, "connection lost (write)");
}

static void deliver(struct um_uplink_stream *st, const uint8_t *data, size_t len)
{
	if (sendto(st->proxy_fd, data, len, MSG_DONTWAIT, (struct sockaddr *)&st->node_sa, st->node_sa_len) < 0)
		st->rx_dropped++;
	else
		st->rx_frames++;
}

/* ---- input ---- */

/* Frames from the relay. Returns false when the connection is gone. */
static bool feed_frames(struct um_uplink_stream *st, const uint8_t *data, size_t len)
{
	size_t off = 0;

	while (off < len) {
		struct um_ws_frame f;
		size_t used = 0;
		int r = um_ws_decode(&st->decoder, data + off, len - off, &used, &f);
		off += used;
		if (r < 0) {
			disconnect(st, "protocol error from the relay, reconnecting");
			return false;
		}
		if (r == 0)
			break;
		switch (f.opcode) {
		case UM_WS_OP_BINARY:
			deliver(st, f.payload, f.len);
			break;
		case UM_WS_OP_PING:
			if (queue_frame(st, UM_WS_OP_PONG, f.payload, f.len) == 0 && !st->write_blocked && flush(st)) {
				disconnect(st, "connection lost (write)");
				return false;
			}
			break;
		case UM_WS_OP_PONG:
			break;
		default:
			disconnect(st, "the relay closed the connection");
			return false;
		}
	}
	return true;
}

static void opened(struct um_uplink_stream *st, const uint8_t *rest, size_t rest_len)
{
	char name[80];

	st->state = STREAM_OPEN;
	st->connected_ns = um_now_ns();
	st->connects++;
	um_timer_cancel(st->uplink->node->loop, &st->timer);
	um_ws_decoder_init(&st->decoder, false);
	describe(st->uplink, name, sizeof(name));
	um_log_info("relay %s: connected (%s)", name, SSL_get_version(st->ssl));
	um_uplink_transport_up(st->uplink);
	if (st->state == STREAM_OPEN && rest_len)
		feed_frames(st, rest, rest_len);
}

static void on_upgrade_input(struct um_uplink_stream *st, const uint8_t *data, size_t len)
{
	size_t room = sizeof(st->http) - st->http_len, take = len < room ? len : room;

	memcpy(st->http + st->http_len, data, take);
	st->http_len += take;
	int r = um_ws_response_parse(st->http, st->http_len, st->ws_key);
	if (r == 0 && take == len)
		return;
	if (r <= 0) {
		disconnect(st, "the server refused the WebSocket upgrade");
		return;
	}
	uint8_t rest[UM_WS_HTTP_MAX];
	size_t rest_len = st->http_len - (size_t)r;
	memcpy(rest, st->http + r, rest_len);
	opened(st, rest, rest_len);
	if (st->state == STREAM_OPEN && take < len)
		feed_frames(st, data + take, len - take);
}

static void read_input(struct um_uplink_stream *st)
{
	static uint8_t buf[READ_CHUNK];

	for (unsigned round = 0; round < READS_PER_WAKEUP; round++) {
		size_t got = 0;
		int r = SSL_read_ex(st->ssl, buf, sizeof(buf), &got);
		if (r != 1) {
			int e = SSL_get_error(st->ssl, r);
			ERR_clear_error();
			if (e == SSL_ERROR_WANT_READ)
				return;
			if (e == SSL_ERROR_WANT_WRITE) {
				st->write_blocked = true;
				update_events(st);
				return;
			}
			disconnect(st, "connection closed by the relay, reconnecting");
			return;
		}
		if (st->state == STREAM_UPGRADE)
			on_upgrade_input(st, buf, got);
		else if (!feed_frames(st, buf, got))
			return;
		if (st->state != STREAM_UPGRADE && st->state != STREAM_OPEN)
			return;
	}
	/* More may be buffered inside TLS with nothing left on the socket. */
	if (SSL_pending(st->ssl))
		um_timer_arm_in(st->uplink->node->loop, &st->timer, 0);
}

static void send_upgrade(struct um_uplink_stream *st)
{
	char host[64], request[UM_WS_HTTP_MAX];

	um_wire_addr_format(&st->uplink->remote, host, sizeof(host));
	randombytes_buf(st->ws_key, sizeof(st->ws_key));
	int n = um_ws_request_build(request, sizeof(request), host, st->ws_key);
	if (n < 0 || queue(st, (const uint8_t *)request, (size_t)n) || flush(st)) {
		disconnect(st, "cannot send the WebSocket upgrade");
		return;
	}
	st->state = STREAM_UPGRADE;
	st->http_len = 0;
	read_input(st);
}

static void tls_step(struct um_uplink_stream *st)
{
	int r = SSL_connect(st->ssl);

	if (r == 1) {
		send_upgrade(st);
		return;
	}
	int e = SSL_get_error(st->ssl, r);
	ERR_clear_error();
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		st->write_blocked = e == SSL_ERROR_WANT_WRITE;
		update_events(st);
		return;
	}
	long verify = SSL_get_verify_result(st->ssl);
	disconnect(st, verify != X509_V_OK ? X509_verify_cert_error_string(verify) : "TLS handshake failed");
}

static void on_tcp(struct um_loop *loop, struct um_watch *watch, uint32_t events)
{
	struct um_uplink_stream *st = watch->arg;
	(void)loop;

	switch (st->state) {
	case STREAM_CONNECTING: {
		int err = 0;
		socklen_t len = sizeof(err);
		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		if (getsockopt(st->tcp_fd, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
			disconnect(st, err ? strerror(err) : "connect failed");
			return;
		}
		st->state = STREAM_TLS;
		st->write_blocked = false;
		update_events(st);
		tls_step(st);
		return;
	}
	case STREAM_TLS:
		tls_step(st);
		return;
	case STREAM_UPGRADE:
	case STREAM_OPEN:
		if (st->write_blocked && flush(st)) {
			disconnect(st, "connection lost (write)");
			return;
		}
		if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
			read_input(st);
		/* A write that waited for input (TLS) can go on now. */
		if (st->state == STREAM_OPEN && !st->write_blocked && st->out_start < st->out_end && flush(st))
			disconnect(st, "connection lost (write)");
		return;
	case STREAM_IDLE:
		return;
	}
}

static void start_connect(struct um_uplink_stream *st)
{
	struct um_node *node = st->uplink->node;
	struct sockaddr_storage sa;
	int one = 1;

	int len = um_wire_addr_to_sockaddr(&st->uplink->remote, &sa);
	int fd = len < 0 ? -1 : socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		disconnect(st, "cannot open a TCP socket");
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sa, (socklen_t)len) && errno != EINPROGRESS) {
		close(fd);
		disconnect(st, "connect failed");
		return;
	}
	st->ssl = SSL_new(st->ctx);
	if (!st->ssl || SSL_set_fd(st->ssl, fd) != 1) {
		SSL_free(st->ssl);
		st->ssl = NULL;
		close(fd);
		ERR_clear_error();
		disconnect(st, "TLS set-up failed");
		return;
	}
	SSL_set_connect_state(st->ssl);
	st->tcp_fd = fd;
	st->state = STREAM_CONNECTING;
	st->tcp_events = EPOLLIN | EPOLLOUT;
	st->tcp_watch = (struct um_watch){.fd = fd, .events = st->tcp_events, .fn = on_tcp, .arg = st};
	if (um_loop_add(node->loop, &st->tcp_watch)) {
		SSL_free(st->ssl);
		st->ssl = NULL;
		close(fd);
		st->tcp_fd = -1;
		disconnect(st, "event loop refused the socket");
		return;
	}
	um_timer_arm_in(node->loop, &st->timer, node->config.connect_timeout_ms * UM_NSEC_PER_MSEC);
}

static void on_timer(struct um_loop *loop, struct um_timer *timer)
{
	struct um_uplink_stream *st = timer->arg;
	(void)loop;

	switch (st->state) {
	case STREAM_IDLE:
		if (st->wanted)
			start_connect(st);
		return;
	case STREAM_OPEN:
		read_input(st); /* input left inside TLS */
		return;
	default:
		disconnect(st, "connection set-up timed out");
		return;
	}
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
	st->tcp_fd = -1;
	st->mask_used = MASK_POOL;
	um_timer_init(&st->timer, on_timer, st);
	st->node_port = um_dataplane_port(node->dataplane);
	struct sockaddr_in *node_in = (struct sockaddr_in *)&st->node_sa;
	node_in->sin_family = AF_INET;
	node_in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	node_in->sin_port = htons(st->node_port);
	st->node_sa_len = sizeof(*node_in);

	st->ctx = SSL_CTX_new(TLS_client_method());
	st->proxy_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (!st->ctx || st->proxy_fd < 0 || bind(st->proxy_fd, (struct sockaddr *)&proxy, sizeof(proxy)) ||
	    getsockname(st->proxy_fd, (struct sockaddr *)&proxy, &proxy_len)) {
		int e = st->proxy_fd < 0 || !st->ctx ? -UM_ENOMEM : -errno;
		if (st->proxy_fd >= 0)
			close(st->proxy_fd);
		SSL_CTX_free(st->ctx);
		free(st);
		return e;
	}
	SSL_CTX_set_min_proto_version(st->ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(st->ctx, SSL_VERIFY_NONE, NULL);
	if (node->config.relay_ca[0]) {
		/* Chain only: relays are named by address, and a private CA (or
		 * the relay's own self-signed certificate) is what this is for. */
		if (SSL_CTX_load_verify_locations(st->ctx, node->config.relay_ca, NULL) != 1) {
			um_log_error("relay-ca %s: cannot load it", node->config.relay_ca);
			ERR_clear_error();
			close(st->proxy_fd);
			SSL_CTX_free(st->ctx);
			free(st);
			return -UM_EINVAL;
		}
		SSL_CTX_set_verify(st->ctx, SSL_VERIFY_PEER, NULL);
	}
	SSL_CTX_set_mode(st->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				      SSL_MODE_RELEASE_BUFFERS);
	st->proxy_watch = (struct um_watch){.fd = st->proxy_fd, .events = EPOLLIN, .fn = on_proxy, .arg = st};
	int r = um_loop_add(node->loop, &st->proxy_watch);
	if (r) {
		close(st->proxy_fd);
		SSL_CTX_free(st->ctx);
		free(st);
		return r;
	}
	/* The uplink's relay address, for uplink.c and the data plane. */
	um_wire_addr_from_sockaddr(&u->addr, (struct sockaddr *)&proxy, proxy_len);
	u->sa_len = (socklen_t)um_wire_addr_to_sockaddr(&u->addr, &u->sa);
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
	um_log_info("relay %s: connecting (no UDP relay answered)", name);
	if (st->state == STREAM_IDLE && !um_timer_armed(&st->timer))
		start_connect(st);
}

void um_uplink_stream_reconnect(struct um_node_uplink *u)
{
	struct um_uplink_stream *st = u->stream;

	if (st && st->state != STREAM_IDLE)
		disconnect(st, "relay silent over TLS, reconnecting");
}

void um_uplink_stream_close(struct um_node_uplink *u)
{
	struct um_uplink_stream *st = u->stream;

	if (!st)
		return;
	st->wanted = false;
	if (st->tcp_fd >= 0) {
		um_loop_remove(u->node->loop, &st->tcp_watch);
		SSL_free(st->ssl);
		ERR_clear_error();
		close(st->tcp_fd);
	}
	um_timer_cancel(u->node->loop, &st->timer);
	um_loop_remove(u->node->loop, &st->proxy_watch);
	close(st->proxy_fd);
	SSL_CTX_free(st->ctx);
	free(st);
	u->stream = NULL;
}

bool um_uplink_stream_open_now(const struct um_node_uplink *u)
{
	return u->stream && u->stream->state == STREAM_OPEN;
}

void um_uplink_stream_status(const struct um_node_uplink *u, struct um_control_reply *reply)
{
	const struct um_uplink_stream *st = u->stream;
	char text[64];

	if (!st)
		return;
	um_control_reply_add(reply, "uplink_transport", "tls");
	um_control_reply_add(reply, "uplink_tls_state", "%s", st->wanted ? state_name(st->state) : "standby");
	um_wire_addr_format(&u->addr, text, sizeof(text));
	um_control_reply_add(reply, "uplink_proxy", "%s", text);
	um_control_reply_add(reply, "uplink_tls_connects", "%llu", (unsigned long long)st->connects);
	um_control_reply_add(reply, "uplink_tls_disconnects", "%llu", (unsigned long long)st->disconnects);
	um_control_reply_add(reply, "uplink_tls_tx_frames", "%llu", (unsigned long long)st->tx_frames);
	um_control_reply_add(reply, "uplink_tls_rx_frames", "%llu", (unsigned long long)st->rx_frames);
	um_control_reply_add(reply, "uplink_tls_tx_dropped", "%llu", (unsigned long long)st->tx_dropped);
	um_control_reply_add(reply, "uplink_tls_rx_dropped", "%llu", (unsigned long long)st->rx_dropped);
}
