/* SPDX-License-Identifier: MIT */
/* net/stream: a client and a server stream over loopback TCP in one
 * process, driven by one net/loop; a raw OpenSSL client stands in for a
 * misbehaving peer (half a frame, a malformed frame, a bad Upgrade). */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "net/loop.h"
#include "net/stream.h"
#include "test.h"
#include "util/clock.h"
#include "util/error.h"
#include "wire/websocket.h"

#define WAIT_NS (10 * UM_NSEC_PER_SEC) /* generous: ASan on a loaded machine */

/* Runs the loop until cond holds or WAIT_NS passed. */
#define RUN_UNTIL(f, cond)                                                                                             \
	do {                                                                                                           \
		uint64_t give_up_ = um_now_ns() + WAIT_NS;                                                             \
		while (!(cond) && um_now_ns() < give_up_)                                                              \
			um_loop_run_once((f)->loop, 10);                                                               \
	} while (0)

struct side {
	struct um_stream *st;
	int opened, closed;
	enum um_stream_end why;
	uint64_t messages, bytes, bad_content;
	bool free_in_message;               /* um_stream_free from inside on_message */
	uint32_t send_at_open;              /* messages sent from inside on_open */
	enum um_stream_state state_at_open; /* the stream's state then */
	size_t fixed_len;                   /* messages all this long; 0: length_of(index) */
};

struct fixture {
	struct um_loop *loop;
	SSL_CTX *server_ctx, *client_ctx;
	int listen_fd;
	uint16_t port;
	struct um_watch listen_watch;
	bool listening;
	struct um_stream_counters *server_counters; /* shared by accepted streams */
	int server_fd;                              /* the accepted socket (the stream owns it) */
	struct side client, server;
};

/* Message i of length len: bytes derived from both, so a mix-up shows. */
static void pattern(uint8_t *out, size_t len, uint32_t i)
{
	for (size_t k = 0; k < len; k++)
		out[k] = (uint8_t)(i * 31 + k * 7 + (len >> 3));
}

static size_t length_of(uint32_t i)
{
	return 1 + (i * 97) % UM_WS_MAX_PAYLOAD;
}

static void send_messages(struct side *s, uint32_t count);

static void on_open(void *arg, struct um_stream *st)
{
	struct side *s = arg;
	s->opened++;
	s->state_at_open = um_stream_get_state(st);
	if (s->send_at_open)
		send_messages(s, s->send_at_open);
}

/* Messages carry their index in the first 4 bytes (when long enough). */
static void on_message(void *arg, struct um_stream *st, uint8_t *data, size_t len)
{
	struct side *s = arg;
	uint8_t expect[UM_WS_MAX_PAYLOAD];
	uint32_t i = (uint32_t)s->messages;
	size_t want = s->fixed_len ? s->fixed_len : length_of(i);

	pattern(expect, len, i);
	if (len != want || memcmp(data, expect, len))
		s->bad_content++;
	s->messages++;
	s->bytes += len;
	if (s->free_in_message) {
		um_stream_free(st);
		s->st = NULL;
	}
}

static void on_close(void *arg, struct um_stream *st, enum um_stream_end why, const char *text)
{
	struct side *s = arg;
	(void)text;
	s->closed++;
	s->why = why;
	um_stream_free(st);
	s->st = NULL;
}

static struct um_stream_config config_for(struct fixture *f, struct side *s, SSL_CTX *ctx, uint32_t output_bytes)
{
	(void)f;
	return (struct um_stream_config){
	    .tls = ctx,
	    .host = "127.0.0.1",
	    .output_bytes = output_bytes,
	    .on_open = on_open,
	    .on_message = on_message,
	    .on_close = on_close,
	    .arg = s,
	};
}

static void on_accept(struct um_loop *loop, struct um_watch *watch, uint32_t events)
{
	struct fixture *f = watch->arg;
	(void)events;

	int fd = accept4(f->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	CHECK(f->server.st == NULL);
	struct um_stream_config c = config_for(f, &f->server, f->server_ctx, 0);
	c.counters = f->server_counters;
	f->server_fd = fd;
	CHECK_EQ(um_stream_accept(&f->server.st, loop, &c, fd), 0);
}

static void setup(struct fixture *f, int record_bytes)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	uint8_t fingerprint[32], zero[32] = {0};

	memset(f, 0, sizeof(*f));
	CHECK_EQ(um_loop_new(&f->loop), 0);
	CHECK_EQ(um_stream_tls_server(&f->server_ctx, NULL, NULL, "test", fingerprint), 0);
	CHECK(memcmp(fingerprint, zero, sizeof(zero)) != 0);
	CHECK_EQ(um_stream_tls_client(&f->client_ctx, NULL), 0);
	if (record_bytes) {
		/* Records smaller than a message: every message spans several. */
		SSL_CTX_set_max_send_fragment(f->server_ctx, (long)record_bytes);
		SSL_CTX_set_max_send_fragment(f->client_ctx, (long)record_bytes);
	}
	f->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	CHECK(f->listen_fd >= 0);
	CHECK_EQ(bind(f->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	CHECK_EQ(listen(f->listen_fd, 8), 0);
	CHECK_EQ(getsockname(f->listen_fd, (struct sockaddr *)&sa, &len), 0);
	f->port = ntohs(sa.sin_port);
	f->listen_watch = (struct um_watch){.fd = f->listen_fd, .events = EPOLLIN, .fn = on_accept, .arg = f};
	CHECK_EQ(um_loop_add(f->loop, &f->listen_watch), 0);
	f->listening = true;
}

static void teardown(struct fixture *f)
{
	um_stream_free(f->client.st);
	um_stream_free(f->server.st);
	if (f->listening)
		um_loop_remove(f->loop, &f->listen_watch);
	if (f->listen_fd >= 0)
		close(f->listen_fd);
	SSL_CTX_free(f->server_ctx);
	SSL_CTX_free(f->client_ctx);
	um_loop_free(f->loop);
}

static void connect_pair(struct fixture *f, uint32_t client_output_bytes)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	sa.sin_port = htons(f->port);
	struct um_stream_config c = config_for(f, &f->client, f->client_ctx, client_output_bytes);

	CHECK_EQ(um_stream_connect(&f->client.st, f->loop, &c, (struct sockaddr *)&sa, sizeof(sa)), 0);
	CHECK_EQ(um_stream_get_state(f->client.st), UM_STREAM_CONNECTING);
	/* The client opens before the 101 (its request may carry messages):
	 * wait for the answer too. */
	RUN_UNTIL(f, f->client.opened && f->server.opened && f->client.st &&
			 um_stream_get_state(f->client.st) == UM_STREAM_OPEN);
	CHECK_EQ(f->client.opened, 1);
	CHECK_EQ(f->server.opened, 1);
	CHECK(f->client.st && um_stream_get_state(f->client.st) == UM_STREAM_OPEN);
	CHECK(f->server.st && um_stream_get_state(f->server.st) == UM_STREAM_OPEN);
	CHECK(f->client.st && strncmp(um_stream_tls_version(f->client.st), "TLSv1.", 6) == 0);
}

static void send_messages(struct side *s, uint32_t count)
{
	uint8_t data[UM_WS_MAX_PAYLOAD];

	for (uint32_t i = 0; i < count; i++) {
		pattern(data, length_of(i), i);
		CHECK_EQ(um_stream_send(s->st, data, length_of(i)), 0);
	}
}

/* Messages of every size both ways, in order and intact; close frames end
 * both sides with the right reason. */
#ifndef TCP_RTO_MIN_US
#define TCP_RTO_MIN_US 45 /* Linux 6.15 */
#endif

/* A lost segment holds every datagram behind it until TCP resends it: the
 * stream lowers the minimum RTO from 200 to 50 ms (net/stream.c), where
 * the kernel has the option (it rounds to its tick). */
static void check_rto_min(int fd)
{
	int probe = socket(AF_INET, SOCK_STREAM, 0), value = 50000;
	bool supported = probe >= 0 && setsockopt(probe, IPPROTO_TCP, TCP_RTO_MIN_US, &value, sizeof(value)) == 0;
	socklen_t len = sizeof(value);

	if (probe >= 0)
		close(probe);
	if (!supported)
		return;
	CHECK_EQ(getsockopt(fd, IPPROTO_TCP, TCP_RTO_MIN_US, &value, &len), 0);
	CHECK(value >= 50000 && value < 100000);
}

static void test_exchange(void)
{
	struct fixture f;
	enum { N = 200 };

	setup(&f, 0);
	connect_pair(&f, 0);
	send_messages(&f.client, N);
	send_messages(&f.server, N);
	RUN_UNTIL(&f, f.client.messages == N && f.server.messages == N);
	CHECK_EQ(f.server.messages, N);
	CHECK_EQ(f.client.messages, N);
	CHECK_EQ(f.server.bad_content, 0);
	CHECK_EQ(f.client.bad_content, 0);
	const struct um_stream_counters *cc = um_stream_get_counters(f.client.st);
	const struct um_stream_counters *sc = um_stream_get_counters(f.server.st);
	CHECK_EQ(cc->tx_messages, N);
	CHECK_EQ(sc->rx_messages, N);
	CHECK_EQ(cc->tx_bytes, sc->rx_bytes);
	CHECK_EQ(sc->tx_bytes, cc->rx_bytes);
	CHECK_EQ(cc->tx_dropped_full + sc->tx_dropped_full, 0);
	check_rto_min(f.server_fd);
	CHECK_EQ(um_stream_send(f.client.st, NULL, 0), -UM_ERANGE);
	uint8_t big[UM_WS_MAX_PAYLOAD + 1] = {0};
	CHECK_EQ(um_stream_send(f.client.st, big, sizeof(big)), -UM_ERANGE);

	um_stream_close(f.client.st, 1000);
	CHECK_EQ(um_stream_send(f.client.st, big, 10), -UM_ESTATE);
	RUN_UNTIL(&f, f.client.closed && f.server.closed);
	CHECK_EQ(f.client.closed, 1);
	CHECK_EQ(f.server.closed, 1);
	CHECK_EQ(f.client.why, UM_STREAM_END_LOCAL);
	CHECK_EQ(f.server.why, UM_STREAM_END_PEER);
	teardown(&f);
}

/* The client's first messages go right behind its Upgrade request, a round
 * trip before the 101: on_open comes in the Upgrade state, and the server
 * gets them all, in order, once it has answered. */
static void test_send_before_upgrade_answer(void)
{
	struct fixture f;
	enum { N = 20 };

	setup(&f, 0);
	f.client.send_at_open = N;
	connect_pair(&f, 0);
	CHECK_EQ(f.client.state_at_open, UM_STREAM_UPGRADE);
	CHECK_EQ(f.server.state_at_open, UM_STREAM_OPEN);
	RUN_UNTIL(&f, f.server.messages == N);
	CHECK_EQ(f.server.messages, N);
	CHECK_EQ(f.server.bad_content, 0);
	CHECK_EQ(um_stream_get_counters(f.client.st)->tx_dropped_closed, 0);
	teardown(&f);
}

/* Records of 512 bytes: each largest message spans three TLS records. */
static void test_message_over_records(void)
{
	struct fixture f;
	uint8_t data[UM_WS_MAX_PAYLOAD];
	enum { N = 50 };

	setup(&f, 512);
	connect_pair(&f, 0);
	f.client.fixed_len = f.server.fixed_len = sizeof(data);
	for (uint32_t i = 0; i < N; i++) {
		pattern(data, sizeof(data), i);
		CHECK_EQ(um_stream_send(f.client.st, data, sizeof(data)), 0);
		CHECK_EQ(um_stream_send(f.server.st, data, sizeof(data)), 0);
	}
	RUN_UNTIL(&f, f.client.messages == N && f.server.messages == N);
	CHECK_EQ(f.server.messages, N);
	CHECK_EQ(f.client.messages, N);
	CHECK_EQ(f.server.bad_content + f.client.bad_content, 0);
	teardown(&f);
}

/* Without the loop running nothing is read: the kernel buffers fill, then
 * the output queue; what does not fit is refused and counted, and every
 * message accepted arrives, whole, once the loop runs. */
static void test_queue_full(void)
{
	struct fixture f;
	uint8_t data[UM_WS_MAX_PAYLOAD];
	uint64_t accepted = 0, refused = 0;

	setup(&f, 0);
	connect_pair(&f, 4096);
	for (uint32_t i = 0; i < 40000 && refused < 100; i++) {
		uint32_t index = (uint32_t)accepted;
		pattern(data, length_of(index), index);
		int r = um_stream_send(f.client.st, data, length_of(index));
		if (r == 0)
			accepted++;
		else if (r == -UM_ELIMIT)
			refused++;
		else
			CHECK_EQ(r, 0);
	}
	CHECK_EQ(refused, 100);
	const struct um_stream_counters *cc = um_stream_get_counters(f.client.st);
	CHECK_EQ(cc->tx_dropped_full, refused);
	CHECK_EQ(cc->tx_messages, accepted);
	RUN_UNTIL(&f, f.server.messages == accepted);
	CHECK_EQ(f.server.messages, accepted);
	CHECK_EQ(f.server.bad_content, 0);
	/* And the stream goes on. */
	pattern(data, length_of((uint32_t)accepted), (uint32_t)accepted);
	CHECK_EQ(um_stream_send(f.client.st, data, length_of((uint32_t)accepted)), 0);
	RUN_UNTIL(&f, f.server.messages == accepted + 1);
	CHECK_EQ(f.server.messages, accepted + 1);
	teardown(&f);
}

/* The owner may free a stream inside its own on_message. */
static void test_free_in_callback(void)
{
	struct fixture f;

	setup(&f, 0);
	connect_pair(&f, 0);
	f.server.free_in_message = true;
	send_messages(&f.client, 5);
	RUN_UNTIL(&f, f.server.messages >= 1 && f.client.closed);
	CHECK_EQ(f.server.messages, 1);
	CHECK(f.server.st == NULL);
	CHECK_EQ(f.server.closed, 0); /* freed: no on_close */
	CHECK_EQ(f.client.closed, 1);
	CHECK_EQ(f.client.why, UM_STREAM_END_PEER);
	teardown(&f);
}

/* ---- a raw TLS client: what a broken or hostile peer can send ---- */

struct raw {
	int fd;
	SSL *ssl;
};

static bool raw_connect(struct fixture *f, struct raw *r)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	sa.sin_port = htons(f->port);

	r->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (r->fd < 0 || connect(r->fd, (struct sockaddr *)&sa, sizeof(sa)))
		return false;
	fcntl(r->fd, F_SETFL, O_NONBLOCK);
	r->ssl = SSL_new(f->client_ctx);
	SSL_set_fd(r->ssl, r->fd);
	int done = 0;
	RUN_UNTIL(f, (done = SSL_connect(r->ssl)) == 1 || (SSL_get_error(r->ssl, done) != SSL_ERROR_WANT_READ &&
							   SSL_get_error(r->ssl, done) != SSL_ERROR_WANT_WRITE));
	ERR_clear_error();
	return done == 1;
}

static bool raw_write(struct fixture *f, struct raw *r, const void *data, size_t len)
{
	size_t written = 0;
	int ok = 0;

	RUN_UNTIL(f, (ok = SSL_write_ex(r->ssl, data, len, &written)) == 1 ||
			 SSL_get_error(r->ssl, ok) != SSL_ERROR_WANT_WRITE);
	ERR_clear_error();
	return ok == 1 && written == len;
}

/* One non-blocking read into buf at *have; false at end of stream. */
static bool raw_read_step(struct raw *r, uint8_t *buf, size_t cap, size_t *have)
{
	size_t got = 0;
	int ok = SSL_read_ex(r->ssl, buf + *have, cap - *have, &got);
	bool alive = ok == 1 || SSL_get_error(r->ssl, ok) == SSL_ERROR_WANT_READ;

	if (ok == 1)
		*have += got;
	ERR_clear_error();
	return alive;
}

/* Reads until want bytes came, the stream ended or the wait ran out. */
static size_t raw_read(struct fixture *f, struct raw *r, uint8_t *buf, size_t cap, size_t want)
{
	size_t have = 0;
	bool alive = true;

	RUN_UNTIL(f, have >= want || !alive || !(alive = raw_read_step(r, buf, cap, &have)) || have >= want);
	return have;
}

static void raw_close(struct raw *r)
{
	SSL_free(r->ssl);
	if (r->fd >= 0)
		close(r->fd);
}

/* Upgrade as a client would; returns false if the 101 did not come. */
static bool raw_upgrade(struct fixture *f, struct raw *r)
{
	char request[UM_WS_HTTP_MAX];
	uint8_t key[UM_WS_KEY_BYTES] = {1, 2, 3}, response[UM_WS_HTTP_MAX];

	int n = um_ws_request_build(request, sizeof(request), "127.0.0.1", key);
	if (n < 0 || !raw_write(f, r, request, (size_t)n))
		return false;
	size_t got = raw_read(f, r, response, sizeof(response), 1);
	for (int tries = 0; tries < 20 && um_ws_response_parse(response, got, key) == 0; tries++)
		got += raw_read(f, r, response + got, sizeof(response) - got, 1);
	return um_ws_response_parse(response, got, key) > 0;
}

/* The peer goes away in the middle of a frame: the server ends the stream
 * (peer), and nothing half-received is delivered. */
static void test_peer_closes_mid_message(void)
{
	struct fixture f;
	struct raw r = {.fd = -1};
	uint8_t payload[1000], frame[UM_WS_FRAME_MAX], mask[4] = {9, 8, 7, 6};

	setup(&f, 0);
	CHECK(raw_connect(&f, &r));
	CHECK(raw_upgrade(&f, &r));
	RUN_UNTIL(&f, f.server.opened);
	CHECK_EQ(f.server.opened, 1);
	memset(payload, 0x5a, sizeof(payload));
	int n = um_ws_frame_encode(frame, sizeof(frame), UM_WS_OP_BINARY, payload, sizeof(payload), mask);
	CHECK(n > 500);
	CHECK(raw_write(&f, &r, frame, 500));
	raw_close(&r);
	RUN_UNTIL(&f, f.server.closed);
	CHECK_EQ(f.server.closed, 1);
	CHECK_EQ(f.server.why, UM_STREAM_END_PEER);
	CHECK_EQ(f.server.messages, 0);
	teardown(&f);
}

/* A frame the codec refuses (unmasked from a client): the server answers
 * with close 1002, ends the stream (protocol) and counts it. */
static void test_malformed_frame(void)
{
	struct fixture f;
	struct raw r = {.fd = -1};
	struct um_stream_counters counters = {0};
	uint8_t payload[16] = {0}, frame[64], buf[256];
	struct um_ws_decoder decoder;

	setup(&f, 0);
	f.server_counters = &counters;
	CHECK(raw_connect(&f, &r));
	CHECK(raw_upgrade(&f, &r));
	RUN_UNTIL(&f, f.server.opened);
	int n = um_ws_frame_encode(frame, sizeof(frame), UM_WS_OP_BINARY, payload, sizeof(payload), NULL);
	CHECK(n > 0);
	CHECK(raw_write(&f, &r, frame, (size_t)n));
	size_t got = raw_read(&f, &r, buf, sizeof(buf), 4);
	RUN_UNTIL(&f, f.server.closed);
	CHECK_EQ(f.server.closed, 1);
	CHECK_EQ(f.server.why, UM_STREAM_END_PROTOCOL);
	CHECK_EQ(f.server.messages, 0);
	/* The close frame with 1002 came first. */
	size_t used = 0;
	struct um_ws_frame out;
	um_ws_decoder_init(&decoder, false);
	CHECK_EQ(um_ws_decode(&decoder, buf, got, &used, &out), 1);
	CHECK_EQ(out.opcode, UM_WS_OP_CLOSE);
	CHECK_EQ(out.len, 2);
	CHECK(out.len == 2 && out.payload[0] == 0x03 && out.payload[1] == 0xea);
	/* Counted in the counters the owner shares, which outlive the stream. */
	CHECK_EQ(counters.protocol_errors, 1);
	CHECK_EQ(counters.opened, 1);
	CHECK_EQ(counters.closed, 1);
	raw_close(&r);
	teardown(&f);
}

/* Not TLS at all: the handshake fails, counted. */
static void test_not_tls(void)
{
	struct fixture f;
	struct um_stream_counters counters = {0};
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	static const char junk[] = "GET / HTTP/1.1\r\n\r\n";

	setup(&f, 0);
	f.server_counters = &counters;
	sa.sin_port = htons(f.port);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK_EQ(write(fd, junk, sizeof(junk) - 1), (ssize_t)sizeof(junk) - 1);
	RUN_UNTIL(&f, f.server.closed);
	CHECK_EQ(f.server.closed, 1);
	CHECK_EQ(f.server.why, UM_STREAM_END_TLS);
	CHECK_EQ(counters.tls_failures, 1);
	CHECK_EQ(counters.opened, 0);
	close(fd);
	teardown(&f);
}

/* Not an Upgrade: 400, then the stream ends (upgrade), counted. */
static void test_bad_upgrade(void)
{
	struct fixture f;
	struct raw r = {.fd = -1};
	static const char request[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	uint8_t buf[512];

	setup(&f, 0);
	CHECK(raw_connect(&f, &r));
	CHECK(raw_write(&f, &r, request, sizeof(request) - 1));
	size_t got = raw_read(&f, &r, buf, sizeof(buf) - 1, 12);
	buf[got] = 0;
	CHECK(got >= 12 && memcmp(buf, "HTTP/1.1 400", 12) == 0);
	RUN_UNTIL(&f, f.server.closed);
	CHECK_EQ(f.server.closed, 1);
	CHECK_EQ(f.server.why, UM_STREAM_END_UPGRADE);
	CHECK_EQ(f.server.opened, 0);
	raw_close(&r);
	teardown(&f);
}

/* Nobody listening: the client ends with a connect failure. */
static void test_connect_refused(void)
{
	struct fixture f;

	setup(&f, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	sa.sin_port = htons(f.port);
	um_loop_remove(f.loop, &f.listen_watch);
	f.listening = false;
	close(f.listen_fd);
	f.listen_fd = -1;
	struct um_stream_config c = config_for(&f, &f.client, f.client_ctx, 0);
	CHECK_EQ(um_stream_connect(&f.client.st, f.loop, &c, (struct sockaddr *)&sa, sizeof(sa)), 0);
	RUN_UNTIL(&f, f.client.closed);
	CHECK_EQ(f.client.closed, 1);
	CHECK_EQ(f.client.why, UM_STREAM_END_CONNECT);
	CHECK_EQ(f.client.opened, 0);
	teardown(&f);
}

int main(void)
{
	RUN(test_exchange);
	RUN(test_send_before_upgrade_answer);
	RUN(test_message_over_records);
	RUN(test_queue_full);
	RUN(test_free_in_callback);
	RUN(test_peer_closes_mid_message);
	RUN(test_malformed_frame);
	RUN(test_not_tls);
	RUN(test_bad_upgrade);
	RUN(test_connect_refused);
	return um_test_end();
}
