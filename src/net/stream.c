/* SPDX-License-Identifier: MIT */
#include "net/stream.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <openssl/err.h>
#include <sodium.h>

#include "util/clock.h"
#include "util/error.h"
#include "wire/websocket.h"

/* Linux 6.15's per-socket minimum RTO (uapi linux/tcp.h; Debian 12's libc
 * headers predate it). Older kernels refuse it: the 200 ms default stays. */
#ifndef TCP_RTO_MIN_US
#define TCP_RTO_MIN_US 45
#endif
/* What a stream carries are datagrams with their own retransmission, and a
 * lost segment holds every one behind it until TCP resends it: after
 * RTT + max(4 x RTT variance, minimum RTO). Linux's 200 ms minimum is most
 * of that on a steady path (80 ms RTT: 280 ms, with 50 ms 130 ms); the
 * variance term still guards jittery paths against spurious resends. */
#define RTO_MIN_US 50000

enum {
	DEFAULT_OUTPUT_BYTES = 32 * 1024,
	MIN_OUTPUT_BYTES = 4 * 1024,
	READS_PER_WAKEUP = 32,
	READ_CHUNK = 16 * 1024,
	MASK_POOL = 256,
	HOST_MAX = 128,
	END_TEXT_MAX = 96,
};

struct um_stream {
	struct um_loop *loop;
	struct um_stream_config config;
	struct um_stream_counters own, *counters;
	enum um_stream_state state;
	bool server;
	bool write_blocked;  /* the last write wanted EPOLLOUT */
	bool more_input;     /* the read budget ran out with input left */
	bool announced;      /* on_open called (a client: before the 101) */
	bool notify_pending; /* on_close is due from the kick timer */
	bool free_pending;   /* freed inside a call: release on the way out */
	unsigned busy;       /* nesting of calls into this stream */
	int fd;
	SSL *ssl;
	struct um_watch watch;
	uint32_t events;
	struct um_timer kick; /* on_close, input left after the read budget */
	uint64_t last_rx_ns;
	enum um_stream_end end; /* why it ends (CLOSING, CLOSED) */
	char end_text[END_TEXT_MAX];
	char host[HOST_MAX];
	uint8_t ws_key[UM_WS_KEY_BYTES];
	uint8_t mask_pool[MASK_POOL];
	unsigned mask_used;
	union {
		struct {
			uint8_t buf[UM_WS_HTTP_MAX];
			size_t len;
		} http;
		struct um_ws_decoder ws;
	} in;
	size_t out_start, out_end, out_cap;
	uint8_t out[]; /* out_cap bytes */
};

const char *um_stream_state_name(enum um_stream_state state)
{
	switch (state) {
	case UM_STREAM_CONNECTING:
		return "connecting";
	case UM_STREAM_TLS:
		return "tls";
	case UM_STREAM_UPGRADE:
		return "upgrade";
	case UM_STREAM_OPEN:
		return "open";
	case UM_STREAM_CLOSING:
		return "closing";
	case UM_STREAM_CLOSED:
		return "closed";
	}
	return "?";
}

/* ---- teardown ---- */

/* Releases the socket and the TLS state; the struct stays. */
static void release_socket(struct um_stream *st)
{
	if (st->fd < 0)
		return;
	um_loop_remove(st->loop, &st->watch);
	if (st->ssl) {
		/* Best effort close_notify; never wait for the peer's. */
		if (st->state == UM_STREAM_UPGRADE || st->state == UM_STREAM_OPEN || st->state == UM_STREAM_CLOSING)
			SSL_shutdown(st->ssl);
		SSL_free(st->ssl);
		ERR_clear_error();
	}
	close(st->fd);
	st->ssl = NULL;
	st->fd = -1;
	st->out_start = st->out_end = 0;
	st->write_blocked = false;
}

/* The stream is over: the socket goes now, on_close from the loop. */
static void end(struct um_stream *st, enum um_stream_end why, const char *text)
{
	if (st->state == UM_STREAM_CLOSED)
		return;
	release_socket(st);
	st->state = UM_STREAM_CLOSED;
	st->end = why;
	if (text != st->end_text)
		snprintf(st->end_text, sizeof(st->end_text), "%s", text);
	st->counters->closed++;
	if (why == UM_STREAM_END_CONNECT)
		st->counters->connect_failures++;
	else if (why == UM_STREAM_END_TLS)
		st->counters->tls_failures++;
	else if (why == UM_STREAM_END_UPGRADE)
		st->counters->upgrade_failures++;
	else if (why == UM_STREAM_END_PROTOCOL)
		st->counters->protocol_errors++;
	st->more_input = false;
	st->notify_pending = true;
	um_timer_arm_in(st->loop, &st->kick, 0);
}

/* A write failed: the end already decided (closing) or a lost connection. */
static void end_write(struct um_stream *st)
{
	if (st->state == UM_STREAM_CLOSING)
		end(st, st->end, st->end_text);
	else
		end(st, UM_STREAM_END_IO, "connection lost (write)");
}

static void enter(struct um_stream *st)
{
	st->busy++;
}

static void leave(struct um_stream *st)
{
	if (--st->busy == 0 && st->free_pending)
		free(st);
}

/* ---- output ---- */

static void update_events(struct um_stream *st)
{
	uint32_t want = EPOLLIN | (st->write_blocked || st->state == UM_STREAM_CONNECTING ? EPOLLOUT : 0);

	if (st->fd >= 0 && want != st->events && um_loop_modify(st->loop, &st->watch, want) == 0)
		st->events = want;
}

/* Writes what is queued. 0 (all written or blocked) or < 0 (dead). */
static int flush(struct um_stream *st)
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
			break; /* EPOLLIN is always on */
		return -EPIPE;
	}
	if (st->out_start == st->out_end)
		st->out_start = st->out_end = 0;
	update_events(st);
	return 0;
}

/* Appends raw bytes (frames, the Upgrade request or response). */
static int queue(struct um_stream *st, const uint8_t *data, size_t len)
{
	if (st->out_end + len > st->out_cap && st->out_start > 0) {
		/* Compact. A write OpenSSL is retrying may move (the context has
		 * SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER): its bytes stay the same. */
		memmove(st->out, st->out + st->out_start, st->out_end - st->out_start);
		st->out_end -= st->out_start;
		st->out_start = 0;
	}
	if (st->out_end + len > st->out_cap)
		return -UM_ELIMIT;
	memcpy(st->out + st->out_end, data, len);
	st->out_end += len;
	return 0;
}

/* Client frames are masked (RFC 6455 5.3), keys from a random pool;
 * server frames are not. */
static int queue_frame(struct um_stream *st, uint8_t opcode, const uint8_t *payload, size_t len)
{
	uint8_t frame[UM_WS_FRAME_MAX];
	const uint8_t *mask = NULL;

	if (!st->server) {
		if (st->mask_used + 4 > MASK_POOL) {
			randombytes_buf(st->mask_pool, sizeof(st->mask_pool));
			st->mask_used = 0;
		}
		mask = st->mask_pool + st->mask_used;
		st->mask_used += 4;
	}
	int n = um_ws_frame_encode(frame, sizeof(frame), opcode, payload, len, mask);
	if (n < 0)
		return n;
	return queue(st, frame, (size_t)n);
}

/* Flushes what is queued (a close frame, a refusal), then ends as `why`. */
static void start_closing(struct um_stream *st, enum um_stream_end why, const char *text)
{
	st->state = UM_STREAM_CLOSING;
	st->end = why;
	snprintf(st->end_text, sizeof(st->end_text), "%s", text);
	st->more_input = false;
	if (flush(st) || st->out_start == st->out_end)
		end(st, why, st->end_text);
}

int um_stream_send(struct um_stream *st, const uint8_t *data, size_t len)
{
	if (len == 0 || len > UM_WS_MAX_PAYLOAD)
		return -UM_ERANGE;
	if (!um_stream_can_send(st)) {
		st->counters->tx_dropped_closed++;
		return -UM_ESTATE;
	}
	if (queue_frame(st, UM_WS_OP_BINARY, data, len)) {
		st->counters->tx_dropped_full++;
		return -UM_ELIMIT;
	}
	st->counters->tx_messages++;
	st->counters->tx_bytes += len;
	if (!st->write_blocked && flush(st))
		end_write(st);
	return 0;
}

void um_stream_close(struct um_stream *st, uint16_t code)
{
	uint8_t status[2] = {(uint8_t)(code >> 8), (uint8_t)code};

	if (st->state == UM_STREAM_CLOSED || st->state == UM_STREAM_CLOSING)
		return;
	if (st->state != UM_STREAM_OPEN) {
		end(st, UM_STREAM_END_LOCAL, "closed");
		return;
	}
	queue_frame(st, UM_WS_OP_CLOSE, status, sizeof(status));
	start_closing(st, UM_STREAM_END_LOCAL, "closed");
}

/* ---- input ---- */

static void announce(struct um_stream *st)
{
	if (st->announced)
		return;
	st->announced = true;
	if (st->config.on_open)
		st->config.on_open(st->config.arg, st);
}

static void opened(struct um_stream *st)
{
	st->state = UM_STREAM_OPEN;
	um_ws_decoder_init(&st->in.ws, st->server);
	st->counters->opened++;
	announce(st);
}

static void on_frame(struct um_stream *st, struct um_ws_frame *f)
{
	switch (f->opcode) {
	case UM_WS_OP_BINARY:
		st->counters->rx_messages++;
		st->counters->rx_bytes += f->len;
		st->config.on_message(st->config.arg, st, f->payload, f->len);
		return;
	case UM_WS_OP_PING:
		st->counters->pings++;
		if (queue_frame(st, UM_WS_OP_PONG, f->payload, f->len))
			st->counters->tx_dropped_full++;
		else if (!st->write_blocked && flush(st))
			end_write(st);
		return;
	case UM_WS_OP_PONG:
		return;
	default:
		/* A close frame: echo its status code (RFC 6455 5.5.1), then go. */
		queue_frame(st, UM_WS_OP_CLOSE, f->payload, f->len >= 2 ? 2 : 0);
		start_closing(st, UM_STREAM_END_PEER, "closed by the peer");
		return;
	}
}

static void feed_frames(struct um_stream *st, const uint8_t *data, size_t len)
{
	static const uint8_t protocol_error[2] = {0x03, 0xea}; /* 1002 */
	size_t off = 0;

	while (off < len && st->state == UM_STREAM_OPEN) {
		struct um_ws_frame f;
		size_t used = 0;
		int r = um_ws_decode(&st->in.ws, data + off, len - off, &used, &f);
		off += used;
		if (r < 0) {
			queue_frame(st, UM_WS_OP_CLOSE, protocol_error, sizeof(protocol_error));
			start_closing(st, UM_STREAM_END_PROTOCOL, "malformed WebSocket frame");
			return;
		}
		if (r == 0)
			return;
		on_frame(st, &f);
	}
}

/* Appends Upgrade input; returns how much of data was taken. */
static size_t take_http(struct um_stream *st, const uint8_t *data, size_t len)
{
	size_t room = sizeof(st->in.http.buf) - st->in.http.len, take = len < room ? len : room;

	memcpy(st->in.http.buf + st->in.http.len, data, take);
	st->in.http.len += take;
	return take;
}

/* Server: the Upgrade request; answers 101 or 400. */
static void on_request(struct um_stream *st, const uint8_t *data, size_t len)
{
	char key_text[UM_WS_KEY_TEXT + 1], response[512];
	size_t take = take_http(st, data, len);
	int r = um_ws_request_parse(st->in.http.buf, st->in.http.len, key_text);

	if (r == 0 && take == len)
		return;
	if (r <= 0) {
		int n = um_ws_response_reject(response, sizeof(response));
		if (n > 0)
			queue(st, (const uint8_t *)response, (size_t)n);
		start_closing(st, UM_STREAM_END_UPGRADE, "bad WebSocket upgrade request");
		return;
	}
	int n = um_ws_response_build(response, sizeof(response), key_text);
	if (n < 0 || queue(st, (const uint8_t *)response, (size_t)n) || flush(st)) {
		end(st, UM_STREAM_END_IO, "cannot answer the WebSocket upgrade");
		return;
	}
	/* Frames may follow the request at once: keep the rest. */
	uint8_t rest[UM_WS_HTTP_MAX];
	size_t rest_len = st->in.http.len - (size_t)r;
	memcpy(rest, st->in.http.buf + r, rest_len);
	opened(st);
	feed_frames(st, rest, rest_len);
	feed_frames(st, data + take, len - take);
}

/* Client: the server's answer to the Upgrade. */
static void on_response(struct um_stream *st, const uint8_t *data, size_t len)
{
	size_t take = take_http(st, data, len);
	int r = um_ws_response_parse(st->in.http.buf, st->in.http.len, st->ws_key);

	if (r == 0 && take == len)
		return;
	if (r <= 0) {
		end(st, UM_STREAM_END_UPGRADE, "the server refused the WebSocket upgrade");
		return;
	}
	uint8_t rest[UM_WS_HTTP_MAX];
	size_t rest_len = st->in.http.len - (size_t)r;
	memcpy(rest, st->in.http.buf + r, rest_len);
	opened(st);
	feed_frames(st, rest, rest_len);
	feed_frames(st, data + take, len - take);
}

static void read_input(struct um_stream *st)
{
	static uint8_t buf[READ_CHUNK]; /* one loop per thread, never nested */

	st->more_input = false;
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
			if (st->state == UM_STREAM_CLOSING)
				end(st, st->end, st->end_text);
			else
				end(st, UM_STREAM_END_PEER,
				    e == SSL_ERROR_ZERO_RETURN ? "closed by the peer" : "connection lost");
			return;
		}
		st->last_rx_ns = um_now_ns();
		if (st->state == UM_STREAM_UPGRADE && st->server)
			on_request(st, buf, got);
		else if (st->state == UM_STREAM_UPGRADE)
			on_response(st, buf, got);
		else if (st->state == UM_STREAM_OPEN)
			feed_frames(st, buf, got);
		/* CLOSING: input is read and dropped until the output is out. */
		if (st->state != UM_STREAM_UPGRADE && st->state != UM_STREAM_OPEN && st->state != UM_STREAM_CLOSING)
			return;
	}
	/* Budget spent, more may wait inside TLS with the socket drained:
	 * come back after the others had their turn. */
	st->more_input = true;
	um_timer_arm_in(st->loop, &st->kick, 0);
}

/* ---- handshake ---- */

static void send_request(struct um_stream *st)
{
	char request[UM_WS_HTTP_MAX];

	randombytes_buf(st->ws_key, sizeof(st->ws_key));
	int n = um_ws_request_build(request, sizeof(request), st->host, st->ws_key);
	if (n < 0 || queue(st, (const uint8_t *)request, (size_t)n) || flush(st))
		end(st, UM_STREAM_END_IO, "cannot send the WebSocket upgrade");
}

static void tls_step(struct um_stream *st)
{
	int r = st->server ? SSL_accept(st->ssl) : SSL_connect(st->ssl);

	if (r == 1) {
		st->state = UM_STREAM_UPGRADE;
		st->in.http.len = 0;
		st->write_blocked = false;
		update_events(st);
		if (!st->server)
			send_request(st);
		/* The client's messages may follow its request: the server's
		 * answer would only cost them a round trip (TCP, TLS and the
		 * Upgrade were three; now two). */
		if (!st->server && st->state == UM_STREAM_UPGRADE)
			announce(st);
		if (st->state == UM_STREAM_UPGRADE)
			read_input(st);
		return;
	}
	int e = SSL_get_error(st->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		ERR_clear_error();
		st->write_blocked = e == SSL_ERROR_WANT_WRITE;
		update_events(st);
		return;
	}
	long verify = SSL_get_verify_result(st->ssl);
	ERR_clear_error();
	end(st, UM_STREAM_END_TLS,
	    !st->server && verify != X509_V_OK ? X509_verify_cert_error_string(verify) : "TLS handshake failed");
}

static void on_event(struct um_loop *loop, struct um_watch *watch, uint32_t events)
{
	struct um_stream *st = watch->arg;
	(void)loop;

	enter(st);
	switch (st->state) {
	case UM_STREAM_CONNECTING: {
		int err = 0;
		socklen_t len = sizeof(err);
		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			break;
		if (getsockopt(st->fd, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
			end(st, UM_STREAM_END_CONNECT, err ? strerror(err) : "connect failed");
			break;
		}
		st->state = UM_STREAM_TLS;
		st->write_blocked = false;
		update_events(st);
		tls_step(st);
		break;
	}
	case UM_STREAM_TLS:
		tls_step(st);
		break;
	case UM_STREAM_UPGRADE:
	case UM_STREAM_OPEN:
	case UM_STREAM_CLOSING:
		if (st->write_blocked && flush(st)) {
			end_write(st);
			break;
		}
		if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
			read_input(st);
		/* A write that waited for input (TLS) can go on now. */
		if (st->state != UM_STREAM_CLOSED && !st->write_blocked && st->out_start < st->out_end && flush(st))
			end_write(st);
		if (st->state == UM_STREAM_CLOSING && st->out_start == st->out_end)
			end(st, st->end, st->end_text);
		break;
	case UM_STREAM_CLOSED:
		break;
	}
	leave(st);
}

static void on_kick(struct um_loop *loop, struct um_timer *timer)
{
	struct um_stream *st = timer->arg;
	(void)loop;

	if (st->notify_pending) {
		st->notify_pending = false;
		/* Last thing: the owner may free the stream in on_close. */
		if (st->config.on_close)
			st->config.on_close(st->config.arg, st, st->end, st->end_text);
		return;
	}
	if (!st->more_input)
		return;
	enter(st);
	read_input(st);
	if (st->state == UM_STREAM_CLOSING && st->out_start == st->out_end)
		end(st, st->end, st->end_text);
	leave(st);
}

/* ---- making and freeing ---- */

/* OpenSSL writes to the socket with write(2): a peer that is gone would
 * raise SIGPIPE and kill the process instead of failing the write (EPIPE,
 * handled as a lost connection). Unless the program chose a handler. */
static void ignore_sigpipe(void)
{
	struct sigaction old;

	if (sigaction(SIGPIPE, NULL, &old) == 0 && old.sa_handler == SIG_DFL)
		signal(SIGPIPE, SIG_IGN);
}

static struct um_stream *stream_new(struct um_loop *loop, const struct um_stream_config *config, bool server)
{
	uint32_t cap = config->output_bytes ? config->output_bytes : DEFAULT_OUTPUT_BYTES;

	if (cap < MIN_OUTPUT_BYTES)
		cap = MIN_OUTPUT_BYTES;
	struct um_stream *st = calloc(1, sizeof(*st) + cap);
	if (!st)
		return NULL;
	ignore_sigpipe();
	st->loop = loop;
	st->config = *config;
	st->counters = config->counters ? config->counters : &st->own;
	st->server = server;
	st->fd = -1;
	st->out_cap = cap;
	st->mask_used = MASK_POOL;
	st->last_rx_ns = um_now_ns();
	snprintf(st->host, sizeof(st->host), "%s", config->host ? config->host : "");
	st->config.host = st->host;
	um_timer_init(&st->kick, on_kick, st);
	return st;
}

/* Takes fd over: on error it is closed. */
static int attach(struct um_stream *st, int fd, enum um_stream_state state)
{
	int one = 1, rto_min = RTO_MIN_US;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_RTO_MIN_US, &rto_min, sizeof(rto_min));
	st->ssl = SSL_new(st->config.tls);
	if (!st->ssl || SSL_set_fd(st->ssl, fd) != 1) {
		SSL_free(st->ssl);
		st->ssl = NULL;
		ERR_clear_error();
		close(fd);
		return -UM_ENOMEM;
	}
	if (st->server)
		SSL_set_accept_state(st->ssl);
	else
		SSL_set_connect_state(st->ssl);
	st->fd = fd;
	st->state = state;
	st->events = EPOLLIN | (state == UM_STREAM_CONNECTING ? EPOLLOUT : 0);
	st->watch = (struct um_watch){.fd = fd, .events = st->events, .fn = on_event, .arg = st};
	int r = um_loop_add(st->loop, &st->watch);
	if (r) {
		SSL_free(st->ssl);
		st->ssl = NULL;
		ERR_clear_error();
		close(fd);
		st->fd = -1;
	}
	return r;
}

int um_stream_connect(struct um_stream **out, struct um_loop *loop, const struct um_stream_config *config,
		      const struct sockaddr *to, socklen_t to_len)
{
	struct um_stream *st;
	int fd, r;

	*out = NULL;
	if (!config->tls || !config->on_message)
		return -UM_EINVAL;
	st = stream_new(loop, config, false);
	if (!st)
		return -UM_ENOMEM;
	fd = socket(to->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	if (connect(fd, to, to_len) && errno != EINPROGRESS) {
		r = -errno;
		close(fd);
		goto out;
	}
	r = attach(st, fd, UM_STREAM_CONNECTING);
out:
	if (r) {
		free(st);
		return r;
	}
	*out = st;
	return 0;
}

int um_stream_accept(struct um_stream **out, struct um_loop *loop, const struct um_stream_config *config, int fd)
{
	struct um_stream *st;
	int r;

	*out = NULL;
	if (!config->tls || !config->on_message) {
		close(fd);
		return -UM_EINVAL;
	}
	st = stream_new(loop, config, true);
	if (!st) {
		close(fd);
		return -UM_ENOMEM;
	}
	r = attach(st, fd, UM_STREAM_TLS);
	if (r) {
		free(st);
		return r;
	}
	*out = st;
	return 0;
}

void um_stream_free(struct um_stream *st)
{
	if (!st)
		return;
	if (st->state != UM_STREAM_CLOSED)
		st->counters->closed++;
	release_socket(st);
	st->state = UM_STREAM_CLOSED;
	um_timer_cancel(st->loop, &st->kick);
	if (st->busy) {
		/* Inside one of its own calls: they stop at CLOSED, the last
		 * one out frees. No callback runs any more. */
		st->free_pending = true;
		st->notify_pending = false;
		st->config.on_open = NULL;
		st->config.on_close = NULL;
		return;
	}
	free(st);
}

enum um_stream_state um_stream_get_state(const struct um_stream *st)
{
	return st->state;
}

bool um_stream_can_send(const struct um_stream *st)
{
	return st->state == UM_STREAM_OPEN || (st->state == UM_STREAM_UPGRADE && !st->server && st->announced);
}

const struct um_stream_counters *um_stream_get_counters(const struct um_stream *st)
{
	return st->counters;
}

uint64_t um_stream_last_rx_ns(const struct um_stream *st)
{
	return st->last_rx_ns;
}

const char *um_stream_tls_version(const struct um_stream *st)
{
	return st->ssl ? SSL_get_version(st->ssl) : "";
}
