/* SPDX-License-Identifier: MIT */
#include "relay/stream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"
#include "wire/websocket.h"

enum {
	DEFAULT_MAX_CONNECTIONS = 1024,
	DEFAULT_OUTPUT_BYTES = 32 * 1024,
	MIN_OUTPUT_BYTES = 4 * 1024,
	ACCEPTS_PER_WAKEUP = 64,
	READS_PER_WAKEUP = 32,
	READ_CHUNK = 16 * 1024,
};

#define DEFAULT_HANDSHAKE_TIMEOUT_NS (10 * UM_NSEC_PER_SEC)
#define DEFAULT_IDLE_TIMEOUT_NS      (120 * UM_NSEC_PER_SEC)

static const uint8_t stream_prefix[12] = {0x01, 0x00, 0, 0, 0, 0, 0, 0, 'u', 'm', 't', 'c'};

enum conn_state {
	CONN_TLS,     /* TLS handshake */
	CONN_HTTP,    /* waiting for the Upgrade request */
	CONN_OPEN,    /* frames */
	CONN_CLOSING, /* flush what is queued (close frame, 400), then close */
};

struct conn {
	struct um_relay_stream *stream;
	uint32_t slot;
	uint16_t generation;
	int fd;
	SSL *ssl;
	enum conn_state state;
	struct um_watch watch;
	uint32_t events;
	bool write_blocked;   /* the last write wanted EPOLLOUT */
	bool broken;          /* close at the next service run */
	bool more_input;      /* the read budget ran out with input left */
	uint64_t deadline_ns; /* handshake deadline */
	uint64_t last_rx_ns;
	size_t out_start, out_end;
	union {
		struct {
			uint8_t buf[UM_WS_HTTP_MAX];
			size_t len;
		} http;
		struct um_ws_decoder ws;
	} in;
	uint8_t out[]; /* output_buffer_bytes */
};

struct um_relay_stream {
	struct um_loop *loop;
	struct um_relay_stream_config config;
	um_relay_stream_frame_fn fn;
	void *arg;
	SSL_CTX *ctx;
	int listen_fd;
	uint16_t port;
	struct um_watch listen_watch;
	struct um_timer sweep_timer;   /* deadlines, once a second */
	struct um_timer service_timer; /* broken connections, leftover input */
	struct conn **conns;           /* max_connections slots */
	uint16_t *generations;
	uint32_t n_conns;
	uint8_t fingerprint[32];
	struct um_relay_stream_stats stats;
};

bool um_relay_stream_endpoint(const struct um_wire_addr *addr)
{
	return addr->family == 6 && !memcmp(addr->addr, stream_prefix, sizeof(stream_prefix));
}

static void endpoint_of(const struct conn *c, struct um_wire_addr *addr)
{
	uint32_t slot = htonl(c->slot);

	memset(addr, 0, sizeof(*addr));
	addr->family = 6;
	memcpy(addr->addr, stream_prefix, sizeof(stream_prefix));
	memcpy(addr->addr + 12, &slot, 4);
	addr->port = c->generation;
}

static struct conn *conn_by_endpoint(struct um_relay_stream *s, const struct um_wire_addr *addr)
{
	uint32_t slot;

	if (!um_relay_stream_endpoint(addr))
		return NULL;
	memcpy(&slot, addr->addr + 12, 4);
	slot = ntohl(slot);
	if (slot >= s->config.max_connections || !s->conns[slot] || s->conns[slot]->generation != addr->port)
		return NULL;
	return s->conns[slot];
}

/* ---- lifecycle of a connection ---- */

static void conn_close(struct conn *c)
{
	struct um_relay_stream *s = c->stream;

	um_loop_remove(s->loop, &c->watch);
	if (c->ssl) {
		/* Best effort close_notify; never wait for the peer's. */
		if (c->state != CONN_TLS)
			SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	close(c->fd);
	s->conns[c->slot] = NULL;
	s->n_conns--;
	s->stats.connections = s->n_conns;
	s->stats.closed++;
	free(c);
}

static void mark_broken(struct conn *c)
{
	if (c->broken)
		return;
	c->broken = true;
	um_timer_arm_in(c->stream->loop, &c->stream->service_timer, 0);
}

static void update_events(struct conn *c)
{
	uint32_t want = EPOLLIN | (c->write_blocked ? EPOLLOUT : 0);

	if (want != c->events && um_loop_modify(c->stream->loop, &c->watch, want) == 0)
		c->events = want;
}

/* Writes what is queued. Returns 0 (all written or blocked) or < 0 (dead). */
static int conn_flush(struct conn *c)
{
	c->write_blocked = false;
	while (c->out_start < c->out_end) {
		size_t written = 0;
		int r = SSL_write_ex(c->ssl, c->out + c->out_start, c->out_end - c->out_start, &written);
		if (r == 1) {
			c->out_start += written;
			continue;
		}
		int e = SSL_get_error(c->ssl, r);
		ERR_clear_error();
		if (e == SSL_ERROR_WANT_WRITE) {
			c->write_blocked = true;
			break;
		}
		if (e == SSL_ERROR_WANT_READ)
			break; /* EPOLLIN is always on */
		return -EPIPE;
	}
	if (c->out_start == c->out_end)
		c->out_start = c->out_end = 0;
	update_events(c);
	return 0;
}

/* Appends raw bytes (frames or the HTTP response) to the output buffer. */
static int conn_queue(struct conn *c, const uint8_t *data, size_t len)
{
	size_t cap = c->stream->config.output_buffer_bytes;

	if (c->out_end + len > cap && c->out_start > 0) {
		/* Compact. A write OpenSSL is retrying may move (the context has
		 * SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER): its bytes stay the same. */
		memmove(c->out, c->out + c->out_start, c->out_end - c->out_start);
		c->out_end -= c->out_start;
		c->out_start = 0;
	}
	if (c->out_end + len > cap)
		return -UM_ELIMIT;
	memcpy(c->out + c->out_end, data, len);
	c->out_end += len;
	return 0;
}

static int conn_queue_frame(struct conn *c, uint8_t opcode, const uint8_t *payload, size_t len)
{
	uint8_t frame[UM_WS_FRAME_MAX];
	int n = um_ws_frame_encode(frame, sizeof(frame), opcode, payload, len, NULL);

	if (n < 0)
		return n;
	return conn_queue(c, frame, (size_t)n);
}

int um_relay_stream_send(struct um_relay_stream *s, const struct um_wire_addr *to, const uint8_t *data, size_t len)
{
	struct conn *c = conn_by_endpoint(s, to);

	if (!c || c->state != CONN_OPEN || c->broken) {
		s->stats.tx_dropped_gone++;
		return -UM_ENOTFOUND;
	}
	int r = conn_queue_frame(c, UM_WS_OP_BINARY, data, len);
	if (r) {
		s->stats.tx_dropped_full++;
		return r;
	}
	s->stats.tx_frames++;
	s->stats.tx_bytes += len;
	if (!c->write_blocked && conn_flush(c))
		mark_broken(c);
	return 0;
}

/* ---- input ---- */

static void start_closing(struct conn *c)
{
	c->state = CONN_CLOSING;
	if (conn_flush(c) || c->out_start == c->out_end)
		mark_broken(c);
}

/* One frame from an open connection. Returns false when it must stop. */
static bool on_frame(struct conn *c, struct um_ws_frame *f)
{
	struct um_relay_stream *s = c->stream;
	struct um_wire_addr from;

	switch (f->opcode) {
	case UM_WS_OP_BINARY:
		s->stats.rx_frames++;
		s->stats.rx_bytes += f->len;
		endpoint_of(c, &from);
		s->fn(s->arg, &from, f->payload, f->len);
		return !c->broken;
	case UM_WS_OP_PING:
		s->stats.pings++;
		if (conn_queue_frame(c, UM_WS_OP_PONG, f->payload, f->len))
			s->stats.tx_dropped_full++;
		else if (!c->write_blocked && conn_flush(c))
			mark_broken(c);
		return !c->broken;
	case UM_WS_OP_PONG:
		return true;
	case UM_WS_OP_CLOSE:
	default:
		/* Echo the status code (RFC 6455 5.5.1), then go. */
		conn_queue_frame(c, UM_WS_OP_CLOSE, f->payload, f->len >= 2 ? 2 : 0);
		start_closing(c);
		return false;
	}
}

static void protocol_error(struct conn *c)
{
	static const uint8_t status[2] = {0x03, 0xea}; /* 1002 protocol error */

	c->stream->stats.protocol_errors++;
	conn_queue_frame(c, UM_WS_OP_CLOSE, status, sizeof(status));
	start_closing(c);
}

static void feed_frames(struct conn *c, const uint8_t *data, size_t len)
{
	size_t off = 0;

	while (off < len && c->state == CONN_OPEN && !c->broken) {
		struct um_ws_frame f;
		size_t used = 0;
		int r = um_ws_decode(&c->in.ws, data + off, len - off, &used, &f);
		off += used;
		if (r < 0) {
			protocol_error(c);
			return;
		}
		if (r == 1 && !on_frame(c, &f))
			return;
	}
}

static void on_upgrade_input(struct conn *c, const uint8_t *data, size_t len)
{
	struct um_relay_stream *s = c->stream;
	char key_text[UM_WS_KEY_TEXT + 1], response[512];
	size_t room = sizeof(c->in.http.buf) - c->in.http.len;
	size_t take = len < room ? len : room;

	memcpy(c->in.http.buf + c->in.http.len, data, take);
	c->in.http.len += take;
	int r = um_ws_request_parse(c->in.http.buf, c->in.http.len, key_text);
	if (r == 0 && take == len)
		return;
	if (r <= 0) {
		s->stats.upgrade_failures++;
		int n = um_ws_response_reject(response, sizeof(response));
		if (n > 0)
			conn_queue(c, (const uint8_t *)response, (size_t)n);
		start_closing(c);
		return;
	}
	int n = um_ws_response_build(response, sizeof(response), key_text);
	if (n < 0 || conn_queue(c, (const uint8_t *)response, (size_t)n)) {
		mark_broken(c);
		return;
	}
	/* Frames may follow the request at once: keep the rest. */
	uint8_t rest[UM_WS_HTTP_MAX];
	size_t rest_len = c->in.http.len - (size_t)r;
	memcpy(rest, c->in.http.buf + r, rest_len);
	um_ws_decoder_init(&c->in.ws, true);
	c->state = CONN_OPEN;
	if (conn_flush(c)) {
		mark_broken(c);
		return;
	}
	feed_frames(c, rest, rest_len);
	if (take < len)
		feed_frames(c, data + take, len - take);
}

static void conn_read(struct conn *c)
{
	static uint8_t buf[READ_CHUNK]; /* single-threaded: one loop */

	c->more_input = false;
	for (unsigned round = 0; round < READS_PER_WAKEUP; round++) {
		size_t got = 0;
		int r = SSL_read_ex(c->ssl, buf, sizeof(buf), &got);
		if (r != 1) {
			int e = SSL_get_error(c->ssl, r);
			ERR_clear_error();
			if (e == SSL_ERROR_WANT_READ)
				return;
			if (e == SSL_ERROR_WANT_WRITE) {
				c->write_blocked = true;
				update_events(c);
				return;
			}
			mark_broken(c); /* closed by the peer or an error */
			return;
		}
		c->last_rx_ns = um_now_ns();
		if (c->state == CONN_HTTP)
			on_upgrade_input(c, buf, got);
		else if (c->state == CONN_OPEN)
			feed_frames(c, buf, got);
		if (c->broken || c->state == CONN_CLOSING)
			return;
	}
	/* Budget spent: come back after the others had their turn. */
	c->more_input = true;
	um_timer_arm_in(c->stream->loop, &c->stream->service_timer, 0);
}

static void conn_handshake(struct conn *c)
{
	int r = SSL_accept(c->ssl);

	if (r == 1) {
		c->state = CONN_HTTP;
		c->in.http.len = 0;
		c->write_blocked = false;
		update_events(c);
		conn_read(c);
		return;
	}
	int e = SSL_get_error(c->ssl, r);
	ERR_clear_error();
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		c->write_blocked = e == SSL_ERROR_WANT_WRITE;
		update_events(c);
		return;
	}
	c->stream->stats.tls_failures++;
	mark_broken(c);
}

static void on_conn_event(struct um_loop *loop, struct um_watch *watch, uint32_t events)
{
	struct conn *c = watch->arg;
	(void)loop;

	if (c->broken)
		return;
	if (events & (EPOLLERR | EPOLLHUP) && !(events & EPOLLIN)) {
		mark_broken(c);
		return;
	}
	switch (c->state) {
	case CONN_TLS:
		conn_handshake(c);
		return;
	case CONN_CLOSING:
		if (conn_flush(c) || c->out_start == c->out_end)
			mark_broken(c);
		return;
	case CONN_HTTP:
	case CONN_OPEN:
		if (c->write_blocked && conn_flush(c)) {
			mark_broken(c);
			return;
		}
		if (events & EPOLLIN)
			conn_read(c);
		/* A write that waited for input (TLS) can go on now. */
		if (!c->broken && c->state != CONN_CLOSING && !c->write_blocked && c->out_start < c->out_end &&
		    conn_flush(c))
			mark_broken(c);
		return;
	}
}

/* ---- listener and timers ---- */

static void on_accept(struct um_loop *loop, struct um_watch *watch, uint32_t events)
{
	struct um_relay_stream *s = watch->arg;
	uint64_t now = um_now_ns();
	int one = 1;
	(void)events;

	for (unsigned i = 0; i < ACCEPTS_PER_WAKEUP; i++) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		uint32_t slot = 0;
		while (slot < s->config.max_connections && s->conns[slot])
			slot++;
		struct conn *c = NULL;
		if (slot < s->config.max_connections)
			c = calloc(1, sizeof(*c) + s->config.output_buffer_bytes);
		if (!c) {
			s->stats.refused_full++;
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->ssl = SSL_new(s->ctx);
		if (!c->ssl || SSL_set_fd(c->ssl, fd) != 1) {
			ERR_clear_error();
			SSL_free(c->ssl);
			free(c);
			close(fd);
			s->stats.tls_failures++;
			continue;
		}
		c->stream = s;
		c->slot = slot;
		if (++s->generations[slot] == 0)
			s->generations[slot] = 1; /* port 0 is never an endpoint */
		c->generation = s->generations[slot];
		c->fd = fd;
		c->state = CONN_TLS;
		c->deadline_ns = now + s->config.handshake_timeout_ns;
		c->last_rx_ns = now;
		c->events = EPOLLIN;
		c->watch = (struct um_watch){.fd = fd, .events = EPOLLIN, .fn = on_conn_event, .arg = c};
		if (um_loop_add(loop, &c->watch)) {
			SSL_free(c->ssl);
			free(c);
			close(fd);
			continue;
		}
		s->conns[slot] = c;
		s->n_conns++;
		s->stats.connections = s->n_conns;
		s->stats.accepted++;
	}
}

static void on_service(struct um_loop *loop, struct um_timer *timer)
{
	struct um_relay_stream *s = timer->arg;
	(void)loop;

	for (uint32_t i = 0; i < s->config.max_connections; i++) {
		struct conn *c = s->conns[i];
		if (c && c->broken)
			conn_close(c);
		else if (c && c->more_input)
			conn_read(c);
	}
}

static void on_sweep(struct um_loop *loop, struct um_timer *timer)
{
	struct um_relay_stream *s = timer->arg;
	uint64_t now = um_now_ns();

	for (uint32_t i = 0; i < s->config.max_connections; i++) {
		struct conn *c = s->conns[i];
		if (!c || c->broken)
			continue;
		if (c->state != CONN_OPEN && now > c->deadline_ns) {
			s->stats.handshake_timeouts++;
			mark_broken(c);
		} else if (c->state == CONN_OPEN && now - c->last_rx_ns > s->config.idle_timeout_ns) {
			s->stats.idle_timeouts++;
			mark_broken(c);
		}
	}
	um_timer_arm_in(loop, timer, UM_NSEC_PER_SEC);
}

/* ---- TLS context ---- */

/* A self-signed P-256 certificate: nodes do not rely on the chain (what
 * travels inside is end-to-end encrypted, registrations are signed), TLS
 * only makes the traffic look like any HTTPS and keeps middleboxes out. */
static int self_signed(SSL_CTX *ctx)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *cert = X509_new();
	uint64_t serial;
	int r = -UM_EINVAL;

	if (!key || !cert)
		goto out;
	randombytes_buf(&serial, sizeof(serial));
	X509_NAME *name = X509_get_subject_name(cert);
	if (X509_set_version(cert, 2) != 1 || ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert), serial >> 1) != 1 ||
	    !X509_gmtime_adj(X509_getm_notBefore(cert), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(cert), 10L * 365 * 24 * 3600) || X509_set_pubkey(cert, key) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"umbra-relay", -1, -1, 0) !=
		1 ||
	    X509_set_issuer_name(cert, name) != 1 || X509_sign(cert, key, EVP_sha256()) <= 0 ||
	    SSL_CTX_use_certificate(ctx, cert) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1)
		goto out;
	r = 0;
out:
	X509_free(cert);
	EVP_PKEY_free(key);
	return r;
}

static int make_context(struct um_relay_stream *s)
{
	const struct um_relay_stream_config *c = &s->config;

	s->ctx = SSL_CTX_new(TLS_server_method());
	if (!s->ctx)
		return -UM_ENOMEM;
	SSL_CTX_set_min_proto_version(s->ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(s->ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* Idle connections give their buffers back: memory follows traffic. */
	SSL_CTX_set_mode(s->ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
				     SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_session_cache_mode(s->ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(s->ctx, 0);
	if (c->certificate_file || c->key_file) {
		if (!c->certificate_file || !c->key_file ||
		    SSL_CTX_use_certificate_chain_file(s->ctx, c->certificate_file) != 1 ||
		    SSL_CTX_use_PrivateKey_file(s->ctx, c->key_file, SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(s->ctx) != 1) {
			unsigned long e = ERR_get_error();
			char text[256];
			ERR_error_string_n(e, text, sizeof(text));
			um_log_error("TLS certificate %s / key %s: %s", c->certificate_file ? c->certificate_file : "-",
				     c->key_file ? c->key_file : "-", text);
			ERR_clear_error();
			return -UM_EINVAL;
		}
	} else if (self_signed(s->ctx)) {
		ERR_clear_error();
		return -UM_EINVAL;
	}
	X509 *cert = SSL_CTX_get0_certificate(s->ctx);
	unsigned len = 0;
	if (!cert || X509_digest(cert, EVP_sha256(), s->fingerprint, &len) != 1)
		memset(s->fingerprint, 0, sizeof(s->fingerprint));
	ERR_clear_error();
	return 0;
}

static int open_listener(struct um_relay_stream *s)
{
	const struct um_relay_stream_config *c = &s->config;
	struct sockaddr_storage bound;
	socklen_t bound_len = sizeof(bound);
	int one = 1;

	int fd = socket(c->listen->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, c->listen, c->listen_len) || listen(fd, 128)) {
		int e = -errno;
		close(fd);
		return e;
	}
	if (getsockname(fd, (struct sockaddr *)&bound, &bound_len) == 0)
		s->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
							    : ((struct sockaddr_in *)&bound)->sin_port);
	s->listen_fd = fd;
	return 0;
}

int um_relay_stream_start(struct um_relay_stream **out, struct um_loop *loop,
			  const struct um_relay_stream_config *config, um_relay_stream_frame_fn fn, void *arg)
{
	struct um_relay_stream *s;
	int r;

	*out = NULL;
	if (!config->listen || !fn)
		return -UM_EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -UM_ENOMEM;
	s->loop = loop;
	s->config = *config;
	s->fn = fn;
	s->arg = arg;
	s->listen_fd = -1;
	if (!s->config.max_connections)
		s->config.max_connections = DEFAULT_MAX_CONNECTIONS;
	if (!s->config.output_buffer_bytes)
		s->config.output_buffer_bytes = DEFAULT_OUTPUT_BYTES;
	if (s->config.output_buffer_bytes < MIN_OUTPUT_BYTES)
		s->config.output_buffer_bytes = MIN_OUTPUT_BYTES;
	if (!s->config.handshake_timeout_ns)
		s->config.handshake_timeout_ns = DEFAULT_HANDSHAKE_TIMEOUT_NS;
	if (!s->config.idle_timeout_ns)
		s->config.idle_timeout_ns = DEFAULT_IDLE_TIMEOUT_NS;
	um_timer_init(&s->sweep_timer, on_sweep, s);
	um_timer_init(&s->service_timer, on_service, s);
	s->conns = calloc(s->config.max_connections, sizeof(*s->conns));
	s->generations = calloc(s->config.max_connections, sizeof(*s->generations));
	if (!s->conns || !s->generations) {
		r = -UM_ENOMEM;
		goto err;
	}
	r = make_context(s);
	if (r)
		goto err;
	r = open_listener(s);
	if (r)
		goto err;
	s->listen_watch = (struct um_watch){.fd = s->listen_fd, .events = EPOLLIN, .fn = on_accept, .arg = s};
	r = um_loop_add(loop, &s->listen_watch);
	if (r)
		goto err;
	um_timer_arm_in(loop, &s->sweep_timer, UM_NSEC_PER_SEC);
	*out = s;
	return 0;
err:
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	SSL_CTX_free(s->ctx);
	free(s->conns);
	free(s->generations);
	free(s);
	return r;
}

void um_relay_stream_stop(struct um_relay_stream *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; i < s->config.max_connections; i++)
		if (s->conns[i])
			conn_close(s->conns[i]);
	um_timer_cancel(s->loop, &s->sweep_timer);
	um_timer_cancel(s->loop, &s->service_timer);
	um_loop_remove(s->loop, &s->listen_watch);
	close(s->listen_fd);
	SSL_CTX_free(s->ctx);
	free(s->conns);
	free(s->generations);
	free(s);
}

const struct um_relay_stream_stats *um_relay_stream_get_stats(const struct um_relay_stream *s)
{
	return &s->stats;
}

uint16_t um_relay_stream_port(const struct um_relay_stream *s)
{
	return s->port;
}

void um_relay_stream_fingerprint(const struct um_relay_stream *s, uint8_t out[32])
{
	memcpy(out, s->fingerprint, 32);
}
