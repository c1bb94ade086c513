/* SPDX-License-Identifier: MIT */
#include "relay/server.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

enum {
	BATCH = 64,
	/* Anything longer than the relay protocol allows is not ours. */
	BUFFER_BYTES = UM_RELAY_MAX_DATAGRAM + 64,
	REPLY_BYTES = 128, /* ERROR 36, REGISTER_ACK 60, KEEPALIVE 72 */
	BATCHES_PER_WAKEUP = 16,
	SOCKET_BUFFER = 4 << 20,
};

struct um_relay_server_batch {
	uint8_t in[BATCH][BUFFER_BYTES];
	uint8_t reply[BATCH][REPLY_BYTES];
	struct sockaddr_storage from[BATCH], to[BATCH];
	struct iovec in_iov[BATCH], out_iov[BATCH];
	struct mmsghdr in_msg[BATCH], out_msg[BATCH];
};

/* IPv4-mapped IPv6 -> IPv4, so the core sees one form per host. */
static int addr_from_sockaddr(struct um_wire_addr *out, const struct sockaddr_storage *ss, socklen_t len)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	int r = um_wire_addr_from_sockaddr(out, (const struct sockaddr *)ss, len);

	if (r == 0 && out->family == 6 && !memcmp(out->addr, mapped, 12)) {
		memmove(out->addr, out->addr + 12, 4);
		memset(out->addr + 4, 0, 12);
		out->family = 4;
	}
	return r;
}

static socklen_t addr_to_sockaddr(const struct um_relay_server *s, const struct um_wire_addr *a,
				  struct sockaddr_storage *ss)
{
	if (s->ipv6_socket && a->family == 4) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		memset(ss, 0, sizeof(*ss));
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(a->port);
		in6->sin6_addr.s6_addr[10] = 0xff;
		in6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&in6->sin6_addr.s6_addr[12], a->addr, 4);
		return sizeof(*in6);
	}
	int len = um_wire_addr_to_sockaddr(a, ss);
	return len < 0 ? 0 : (socklen_t)len;
}

static int open_socket(struct um_relay_server *s, const struct um_relay_server_config *c)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int family, one = 1, zero = 0, size = SOCKET_BUFFER;

	memset(&ss, 0, sizeof(ss));
	if (c->listen) {
		if (c->listen_len > sizeof(ss))
			return -UM_EINVAL;
		memcpy(&ss, c->listen, c->listen_len);
		len = c->listen_len;
		family = c->listen->sa_family;
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_addr = in6addr_any;
		in6->sin6_port = htons(c->port);
		len = sizeof(*in6);
		family = AF_INET6;
	}
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 && !c->listen && errno == EAFNOSUPPORT) {
		/* No IPv6 on this host: IPv4 only. */
		struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
		memset(&ss, 0, sizeof(ss));
		in4->sin_family = AF_INET;
		in4->sin_port = htons(c->port);
		len = sizeof(*in4);
		family = AF_INET;
		fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	}
	if (fd < 0)
		return -errno;
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* Best effort: a small buffer only costs drops under bursts. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	if (bind(fd, (struct sockaddr *)&ss, len)) {
		int e = -errno;
		close(fd);
		return e;
	}
	struct sockaddr_storage bound;
	socklen_t bound_len = sizeof(bound);
	if (getsockname(fd, (struct sockaddr *)&bound, &bound_len) == 0)
		s->port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
						   : ((struct sockaddr_in *)&bound)->sin_port);
	s->ipv6_socket = family == AF_INET6;
	s->fd = fd;
	return 0;
}

int um_relay_server_poll(struct um_relay_server *s)
{
	struct um_relay_server_batch *b = s->batch;
	unsigned n_out = 0;

	for (unsigned i = 0; i < BATCH; i++) {
		b->in_iov[i] = (struct iovec){b->in[i], BUFFER_BYTES};
		b->in_msg[i].msg_hdr = (struct msghdr){
			.msg_name = &b->from[i],
			.msg_namelen = sizeof(b->from[i]),
			.msg_iov = &b->in_iov[i],
			.msg_iovlen = 1,
		};
	}
	int n = recvmmsg(s->fd, b->in_msg, BATCH, MSG_DONTWAIT, NULL);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -errno;
	s->stats.batches++;
	uint64_t now = um_now_ns(), wall = um_wall_ms();
	for (int i = 0; i < n; i++) {
		struct um_wire_addr from;
		struct um_relay_output out;
		s->stats.rx_datagrams++;
		if (b->in_msg[i].msg_hdr.msg_flags & MSG_TRUNC) {
			s->stats.rx_truncated++;
			continue;
		}
		if (addr_from_sockaddr(&from, &b->from[i], b->in_msg[i].msg_hdr.msg_namelen))
			continue;
		if (um_relay_stream_endpoint(&from)) {
			/* Only TLS connections have those; a forged UDP source must
			 * not act for one. */
			s->stats.rx_spoofed_stream++;
			continue;
		}
		if (um_relay_input(&s->core, &from, b->in[i], b->in_msg[i].msg_len, now, wall, &out) != 1)
			continue;
		if (um_relay_stream_endpoint(&out.to)) {
			if (s->stream)
				um_relay_stream_send(s->stream, &out.to, out.data, out.len);
			continue;
		}
		const uint8_t *data = out.data;
		if (data < b->in[i] || data >= b->in[i] + BUFFER_BYTES) {
			/* A reply in the core's scratch: copy before the next call. */
			if (out.len > REPLY_BYTES)
				continue;
			memcpy(b->reply[n_out], out.data, out.len);
			data = b->reply[n_out];
		}
		socklen_t to_len = addr_to_sockaddr(s, &out.to, &b->to[n_out]);
		if (!to_len)
			continue;
		b->out_iov[n_out] = (struct iovec){(void *)data, out.len};
		b->out_msg[n_out].msg_hdr = (struct msghdr){
			.msg_name = &b->to[n_out],
			.msg_namelen = to_len,
			.msg_iov = &b->out_iov[n_out],
			.msg_iovlen = 1,
		};
		n_out++;
	}
	for (unsigned done = 0; done < n_out;) {
		int sent = sendmmsg(s->fd, b->out_msg + done, n_out - done, MSG_DONTWAIT);
		if (sent <= 0) {
			/* One bad destination (unreachable) must not cost the rest. */
			s->stats.send_errors++;
			done++;
			continue;
		}
		s->stats.tx_datagrams += (uint64_t)sent;
		done += (unsigned)sent;
	}
	return n;
}

/* A binary frame from a TLS connection: same core, one output at a time. */
static void on_stream_frame(void *arg, const struct um_wire_addr *from, uint8_t *data, size_t len)
{
	struct um_relay_server *s = arg;
	struct um_relay_output out;
	struct sockaddr_storage to;

	if (um_relay_input(&s->core, from, data, len, um_now_ns(), um_wall_ms(), &out) != 1)
		return;
	if (um_relay_stream_endpoint(&out.to)) {
		um_relay_stream_send(s->stream, &out.to, out.data, out.len);
		return;
	}
	socklen_t to_len = addr_to_sockaddr(s, &out.to, &to);
	if (!to_len)
		return;
	if (sendto(s->fd, out.data, out.len, MSG_DONTWAIT, (struct sockaddr *)&to, to_len) < 0)
		s->stats.send_errors++;
	else
		s->stats.tx_datagrams++;
}

static void on_readable(struct um_loop *loop, struct um_watch *watch, uint32_t events)
{
	struct um_relay_server *s = watch->arg;
	(void)loop;
	(void)events;

	/* Bounded so the rest of the loop keeps running under a flood. */
	for (unsigned i = 0; i < BATCHES_PER_WAKEUP; i++)
		if (um_relay_server_poll(s) < BATCH)
			break;
}

static void on_expire(struct um_loop *loop, struct um_timer *timer)
{
	struct um_relay_server *s = timer->arg;
	uint32_t budget = s->core.config.max_nodes / 8;

	um_relay_expire(&s->core, um_now_ns(), budget < 1024 ? 1024 : budget);
	um_timer_arm_in(loop, timer, UM_NSEC_PER_SEC);
}

int um_relay_server_start(struct um_relay_server *s, struct um_loop *loop, const struct um_relay_server_config *c)
{
	int r;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	um_timer_init(&s->expire_timer, on_expire, s);
	s->batch = calloc(1, sizeof(*s->batch));
	if (!s->batch)
		return -UM_ENOMEM;
	r = um_relay_init(&s->core, c->relay);
	if (r)
		goto err_batch;
	r = open_socket(s, c);
	if (r)
		goto err_core;
	s->loop = loop;
	s->watch = (struct um_watch){.fd = s->fd, .events = EPOLLIN, .fn = on_readable, .arg = s};
	r = um_loop_add(loop, &s->watch);
	if (r)
		goto err_socket;
	if (c->stream) {
		r = um_relay_stream_start(&s->stream, loop, c->stream, on_stream_frame, s);
		if (r) {
			um_loop_remove(loop, &s->watch);
			goto err_socket;
		}
	}
	um_timer_arm_in(loop, &s->expire_timer, UM_NSEC_PER_SEC);
	s->started_ns = um_now_ns();
	return 0;

err_socket:
	close(s->fd);
	s->fd = -1;
err_core:
	um_relay_destroy(&s->core);
err_batch:
	free(s->batch);
	s->batch = NULL;
	s->loop = NULL;
	return r;
}

void um_relay_server_stop(struct um_relay_server *s)
{
	if (!s->loop)
		return;
	um_relay_stream_stop(s->stream);
	s->stream = NULL;
	um_timer_cancel(s->loop, &s->expire_timer);
	um_loop_remove(s->loop, &s->watch);
	close(s->fd);
	s->fd = -1;
	um_relay_destroy(&s->core);
	free(s->batch);
	s->batch = NULL;
	s->loop = NULL;
}
