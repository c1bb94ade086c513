/* SPDX-License-Identifier: MIT */
#include "relay/stream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "net/stream.h"
#include "util/clock.h"
#include "util/error.h"

enum {
	DEFAULT_MAX_CONNECTIONS = 1024,
	DEFAULT_OUTPUT_BYTES = 32 * 1024,
	ACCEPTS_PER_WAKEUP = 64,
};

#define DEFAULT_HANDSHAKE_TIMEOUT_NS (10 * UM_NSEC_PER_SEC)
#define DEFAULT_IDLE_TIMEOUT_NS      (120 * UM_NSEC_PER_SEC)

static const uint8_t stream_prefix[12] = {0x01, 0x00, 0, 0, 0, 0, 0, 0, 'u', 'm', 't', 'c'};

/* One accepted connection: the transport (net/stream.h) and its name. */
struct conn {
	struct um_relay_stream *relay;
	struct um_stream *stream;
	uint32_t slot;
	uint16_t generation;
	uint64_t deadline_ns; /* TLS + Upgrade */
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
	struct um_timer sweep_timer; /* deadlines, once a second */
	struct conn **conns;         /* max_connections slots */
	uint16_t *generations;
	uint32_t n_conns;
	uint8_t fingerprint[32];
	struct um_stream_counters counters; /* shared by the connections */
	struct um_relay_stream_stats stats;
};

bool um_relay_stream_endpoint(const struct um_addr *addr)
{
	return addr->family == 6 && !memcmp(addr->addr, stream_prefix, sizeof(stream_prefix));
}

static void endpoint_of(const struct conn *c, struct um_addr *addr)
{
	uint32_t slot = htonl(c->slot);

	memset(addr, 0, sizeof(*addr));
	addr->family = 6;
	memcpy(addr->addr, stream_prefix, sizeof(stream_prefix));
	memcpy(addr->addr + 12, &slot, 4);
	addr->port = c->generation;
}

static struct conn *conn_by_endpoint(struct um_relay_stream *s, const struct um_addr *addr)
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

/* ---- connections ---- */

static void conn_close(struct conn *c)
{
	struct um_relay_stream *s = c->relay;

	um_stream_free(c->stream);
	s->conns[c->slot] = NULL;
	s->n_conns--;
	s->stats.connections = s->n_conns;
	s->stats.closed++;
	free(c);
}

int um_relay_stream_send(struct um_relay_stream *s, const struct um_addr *to, const uint8_t *data, size_t len)
{
	struct conn *c = conn_by_endpoint(s, to);

	if (!c || um_stream_get_state(c->stream) != UM_STREAM_OPEN) {
		s->stats.tx_dropped_gone++;
		return -UM_ENOTFOUND;
	}
	int r = um_stream_send(c->stream, data, len);
	if (r) {
		s->stats.tx_dropped_full++;
		return r;
	}
	s->stats.tx_frames++;
	s->stats.tx_bytes += len;
	return 0;
}

/* A binary frame: into the relay core, from the connection's endpoint. */
static void on_message(void *arg, struct um_stream *stream, uint8_t *data, size_t len)
{
	struct conn *c = arg;
	struct um_relay_stream *s = c->relay;
	struct um_addr from;
	(void)stream;

	s->stats.rx_frames++;
	s->stats.rx_bytes += len;
	endpoint_of(c, &from);
	s->fn(s->arg, &from, data, len);
}

static void on_close(void *arg, struct um_stream *stream, enum um_stream_end end, const char *text)
{
	struct conn *c = arg;
	struct um_relay_stream *s = c->relay;
	(void)stream;
	(void)text;

	if (end == UM_STREAM_END_TLS)
		s->stats.tls_failures++;
	else if (end == UM_STREAM_END_UPGRADE)
		s->stats.upgrade_failures++;
	else if (end == UM_STREAM_END_PROTOCOL)
		s->stats.protocol_errors++;
	s->stats.pings = s->counters.pings;
	conn_close(c);
}

/* ---- listener and timers ---- */

static void on_accept(struct um_loop *loop, struct um_watch *watch, uint32_t events)
{
	struct um_relay_stream *s = watch->arg;
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
			c = calloc(1, sizeof(*c));
		if (!c) {
			s->stats.refused_full++;
			close(fd);
			continue;
		}
		c->relay = s;
		c->slot = slot;
		if (++s->generations[slot] == 0)
			s->generations[slot] = 1; /* port 0 is never an endpoint */
		c->generation = s->generations[slot];
		c->deadline_ns = um_now_ns() + s->config.handshake_timeout_ns;
		struct um_stream_config sc = {
		    .tls = s->ctx,
		    .output_bytes = s->config.output_buffer_bytes,
		    .counters = &s->counters,
		    .on_message = on_message,
		    .on_close = on_close,
		    .arg = c,
		};
		if (um_stream_accept(&c->stream, loop, &sc, fd)) { /* fd is closed */
			free(c);
			s->stats.tls_failures++;
			continue;
		}
		s->conns[slot] = c;
		s->n_conns++;
		s->stats.connections = s->n_conns;
		s->stats.accepted++;
	}
}

static void on_sweep(struct um_loop *loop, struct um_timer *timer)
{
	struct um_relay_stream *s = timer->arg;
	uint64_t now = um_now_ns();

	for (uint32_t i = 0; i < s->config.max_connections; i++) {
		struct conn *c = s->conns[i];
		if (!c)
			continue;
		enum um_stream_state state = um_stream_get_state(c->stream);
		if (state == UM_STREAM_CLOSED)
			continue; /* on_close is on its way */
		if (state == UM_STREAM_CLOSING) {
			/* A close frame or a refusal the peer does not read. */
			if (now > c->deadline_ns)
				conn_close(c);
		} else if (state != UM_STREAM_OPEN && now > c->deadline_ns) {
			s->stats.handshake_timeouts++;
			conn_close(c);
		} else if (state == UM_STREAM_OPEN &&
			   now - um_stream_last_rx_ns(c->stream) > s->config.idle_timeout_ns) {
			s->stats.idle_timeouts++;
			conn_close(c);
		}
	}
	s->stats.pings = s->counters.pings;
	um_timer_arm_in(loop, timer, UM_NSEC_PER_SEC);
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
	if (!s->config.handshake_timeout_ns)
		s->config.handshake_timeout_ns = DEFAULT_HANDSHAKE_TIMEOUT_NS;
	if (!s->config.idle_timeout_ns)
		s->config.idle_timeout_ns = DEFAULT_IDLE_TIMEOUT_NS;
	um_timer_init(&s->sweep_timer, on_sweep, s);
	s->conns = calloc(s->config.max_connections, sizeof(*s->conns));
	s->generations = calloc(s->config.max_connections, sizeof(*s->generations));
	if (!s->conns || !s->generations) {
		r = -UM_ENOMEM;
		goto err;
	}
	r = um_stream_tls_server(&s->ctx, config->certificate_file, config->key_file, "umbra-relay", s->fingerprint);
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
