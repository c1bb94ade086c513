/* SPDX-License-Identifier: MIT */
#include "relay/server.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "crypto/secmem.h"
#include "net/udp.h" /* UDP_SEGMENT, UDP_GRO */
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"
#include "wire/types.h"

enum {
	/* Receive slots per recvmmsg. With UDP_GRO the kernel hands a run of
	 * same-sized datagrams from one source as one super-datagram, so a
	 * slot holds up to 64 KB; FORWARDs of one flow are rewritten in place
	 * and leave as one UDP_SEGMENT send: two syscalls per run of up to 64
	 * packets instead of per packet. */
	BATCH = 64,
	SLOT_BYTES = 65535,
	/* Anything longer than the relay protocol allows is not ours. */
	MAX_DATAGRAM = UM_RELAY_MAX_DATAGRAM + 64,
	OUT = 128,             /* output messages per sendmmsg */
	GSO_MAX_SEGMENTS = 64, /* the kernel's UDP_MAX_SEGMENTS on older kernels */
	REPLY_BYTES = 128,     /* ERROR 36, RELAY_ID 64, RELAY_SEALED 96 (wire v3) */
	BATCHES_PER_WAKEUP = 16,
	SOCKET_BUFFER = 4 << 20,
};

_Static_assert((int)UM_RELAY_SEALED_BYTES <= (int)REPLY_BYTES && (int)UM_RELAY_ID_BYTES <= (int)REPLY_BYTES,
	       "relay replies fit the reply slots");

/* Control buffers must be aligned for struct cmsghdr. */
union um_relay_cmsg_int {
	char buf[CMSG_SPACE(sizeof(int))];
	struct cmsghdr align;
};
union um_relay_cmsg_u16 {
	char buf[CMSG_SPACE(sizeof(uint16_t))];
	struct cmsghdr align;
};

struct um_relay_server_batch {
	uint8_t in[BATCH][SLOT_BYTES];
	union um_relay_cmsg_int in_control[BATCH];
	struct sockaddr_storage from[BATCH];
	struct iovec in_iov[BATCH];
	struct mmsghdr in_msg[BATCH];
	/* Output: one message per destination run; count segments of
	 * `segment` bytes each (the last may be shorter). */
	unsigned n_out;
	uint8_t reply[OUT][REPLY_BYTES];
	union um_relay_cmsg_u16 out_control[OUT];
	struct sockaddr_storage to[OUT];
	struct um_addr to_addr[OUT];
	uint16_t segment[OUT];
	uint16_t count[OUT];
	struct iovec out_iov[OUT];
	struct mmsghdr out_msg[OUT];
};

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
	/* Best effort too: without GRO every datagram is its own slot. */
	setsockopt(fd, IPPROTO_UDP, UDP_GRO, &one, sizeof(one));
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

/* A GSO send the kernel refused (e.g. a route MTU below the segment size,
 * where plain sends would fragment): the segments one by one. */
static void send_each(struct um_relay_server *s, unsigned k)
{
	struct um_relay_server_batch *b = s->batch;
	const uint8_t *p = b->out_iov[k].iov_base;
	size_t left = b->out_iov[k].iov_len;

	while (left) {
		size_t len = left < b->segment[k] ? left : b->segment[k];
		if (sendto(s->fd, p, len, MSG_DONTWAIT, (struct sockaddr *)&b->to[k],
			   b->out_msg[k].msg_hdr.msg_namelen) < 0)
			s->stats.send_errors++;
		else
			s->stats.tx_datagrams++;
		p += len;
		left -= len;
	}
}

static void flush(struct um_relay_server *s)
{
	struct um_relay_server_batch *b = s->batch;

	for (unsigned k = 0; k < b->n_out; k++) {
		struct msghdr *h = &b->out_msg[k].msg_hdr;
		h->msg_control = NULL;
		h->msg_controllen = 0;
		if (b->count[k] > 1) {
			h->msg_control = b->out_control[k].buf;
			h->msg_controllen = sizeof(b->out_control[k].buf);
			struct cmsghdr *c = CMSG_FIRSTHDR(h);
			c->cmsg_level = IPPROTO_UDP;
			c->cmsg_type = UDP_SEGMENT;
			c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
			memcpy(CMSG_DATA(c), &b->segment[k], sizeof(uint16_t));
		}
	}
	for (unsigned done = 0; done < b->n_out;) {
		int sent = sendmmsg(s->fd, b->out_msg + done, b->n_out - done, MSG_DONTWAIT);
		if (sent <= 0) {
			/* One bad destination (unreachable) must not cost the rest. */
			if (b->count[done] > 1)
				send_each(s, done);
			else
				s->stats.send_errors++;
			done++;
			continue;
		}
		for (int k = 0; k < sent; k++)
			s->stats.tx_datagrams += b->count[done + (unsigned)k];
		s->stats.tx_messages += (uint64_t)sent;
		done += (unsigned)sent;
	}
	b->n_out = 0;
}

/* Queues one datagram for `to`. in_place: data lies in a receive slot
 * (valid until the next recvmmsg, which flush() precedes), so it joins the
 * previous message when it continues that run to the same destination. */
static void queue(struct um_relay_server *s, const struct um_addr *to, const uint8_t *data, size_t len, bool in_place)
{
	struct um_relay_server_batch *b = s->batch;

	if (in_place && b->n_out) {
		unsigned k = b->n_out - 1;
		struct iovec *v = &b->out_iov[k];
		if (b->count[k] < GSO_MAX_SEGMENTS && (const uint8_t *)v->iov_base + v->iov_len == data &&
		    v->iov_len == (size_t)b->count[k] * b->segment[k] && len <= b->segment[k] &&
		    um_addr_equal(&b->to_addr[k], to)) {
			v->iov_len += len;
			b->count[k]++;
			return;
		}
	}
	if (b->n_out == OUT)
		flush(s);
	unsigned k = b->n_out;
	if (!in_place) {
		/* A reply in the core's scratch: copy before the next call. */
		if (len > REPLY_BYTES)
			return;
		memcpy(b->reply[k], data, len);
		data = b->reply[k];
	}
	/* v4-mapped on a dual-stack socket */
	int to_len = um_addr_to_sockaddr_for(to, s->ipv6_socket ? AF_INET6 : AF_INET, &b->to[k]);
	if (to_len < 0)
		return;
	b->to_addr[k] = *to;
	b->segment[k] = (uint16_t)len;
	b->count[k] = 1;
	b->out_iov[k] = (struct iovec){(void *)data, len};
	b->out_msg[k].msg_hdr = (struct msghdr){
	    .msg_name = &b->to[k],
	    .msg_namelen = (socklen_t)to_len,
	    .msg_iov = &b->out_iov[k],
	    .msg_iovlen = 1,
	};
	b->n_out++;
}

/* Registration handshake datagrams (a CHALLENGE in pieces) are rare and
 * large: sent at once, not batched. */
static void send_now(struct um_relay_server *s, const struct um_addr *to, const uint8_t *data, size_t len)
{
	struct sockaddr_storage ss;
	int to_len = um_addr_to_sockaddr_for(to, s->ipv6_socket ? AF_INET6 : AF_INET, &ss);
	if (to_len < 0)
		return;
	if (sendto(s->fd, data, len, MSG_DONTWAIT, (struct sockaddr *)&ss, (socklen_t)to_len) < 0)
		s->stats.send_errors++;
	else
		s->stats.tx_datagrams++;
}

int um_relay_server_send(struct um_relay_server *s, const struct um_addr *to, const uint8_t *data, size_t len)
{
	struct sockaddr_storage ss;
	int to_len = um_addr_to_sockaddr_for(to, s->ipv6_socket ? AF_INET6 : AF_INET, &ss);

	if (to_len < 0)
		return to_len;
	if (sendto(s->fd, data, len, MSG_DONTWAIT, (struct sockaddr *)&ss, (socklen_t)to_len) < 0) {
		s->stats.send_errors++;
		return -errno;
	}
	s->stats.tx_datagrams++;
	return 0;
}

/* An output of the core, sent now (over UDP or its stream). */
static void send_output(struct um_relay_server *s, const struct um_relay_output *out)
{
	for (unsigned k = 0; k < out->count; k++) {
		if (um_relay_stream_endpoint(&out->to)) {
			if (s->stream)
				um_relay_stream_send(s->stream, &out->to, out->datagrams[k], out->lengths[k]);
		} else {
			send_now(s, &out->to, out->datagrams[k], out->lengths[k]);
		}
	}
}

/* What the core owes other nodes after an input (held LOOKUPs answered). */
static void send_pending(struct um_relay_server *s)
{
	struct um_relay_output out;

	while (um_relay_pending(&s->core, &out) == 1)
		send_output(s, &out);
}

/* One datagram through the core (or to the DHT); its output queued or sent on a stream. */
static void relay_one(struct um_relay_server *s, const struct um_addr *from, uint8_t *data, size_t len, uint64_t now,
		      uint64_t wall)
{
	struct um_relay_output out;

	s->stats.rx_datagrams++;
	if (len > MAX_DATAGRAM) {
		s->stats.rx_truncated++;
		return;
	}
	if (s->dht_receive && len && data[0] >= UM_TYPE_DHT_FIRST && data[0] <= UM_TYPE_DHT_LAST) {
		s->dht_receive(s->dht_arg, from, data, len);
		return;
	}
	if (um_relay_input(&s->core, from, data, len, now, wall, &out) != 1)
		return;
	if (s->core.watches_ready) {
		send_output(s, &out); /* before the core's next call reuses its buffers */
		send_pending(s);
		return;
	}
	if (um_relay_stream_endpoint(&out.to)) {
		for (unsigned k = 0; s->stream && k < out.count; k++)
			um_relay_stream_send(s->stream, &out.to, out.datagrams[k], out.lengths[k]);
		return;
	}
	if (out.count > 1 || out.len > REPLY_BYTES) {
		for (unsigned k = 0; k < out.count; k++)
			send_now(s, &out.to, out.datagrams[k], out.lengths[k]);
		return;
	}
	queue(s, &out.to, out.data, out.len, out.data >= data && out.data < data + len);
}

/* The GRO segment size of a received slot; 0 = one plain datagram. */
static size_t gro_segment(const struct msghdr *h)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR((struct msghdr *)h, c))
		if (c->cmsg_level == IPPROTO_UDP && c->cmsg_type == UDP_GRO) {
			int size;
			memcpy(&size, CMSG_DATA(c), sizeof(size));
			return size > 0 ? (size_t)size : 0;
		}
	return 0;
}

int um_relay_server_poll(struct um_relay_server *s)
{
	struct um_relay_server_batch *b = s->batch;

	for (unsigned i = 0; i < BATCH; i++) {
		b->in_iov[i] = (struct iovec){b->in[i], SLOT_BYTES};
		b->in_msg[i].msg_hdr = (struct msghdr){
		    .msg_name = &b->from[i],
		    .msg_namelen = sizeof(b->from[i]),
		    .msg_iov = &b->in_iov[i],
		    .msg_iovlen = 1,
		    .msg_control = b->in_control[i].buf,
		    .msg_controllen = sizeof(b->in_control[i].buf),
		};
	}
	int n = recvmmsg(s->fd, b->in_msg, BATCH, MSG_DONTWAIT, NULL);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -errno;
	s->stats.batches++;
	uint64_t now = um_now_ns(), wall = um_wall_ms();
	s->stats.rx_messages += (uint64_t)n;
	for (int i = 0; i < n; i++) {
		const struct msghdr *h = &b->in_msg[i].msg_hdr;
		struct um_addr from;
		size_t total = b->in_msg[i].msg_len;
		if (h->msg_flags & MSG_TRUNC) {
			s->stats.rx_datagrams++;
			s->stats.rx_truncated++;
			continue;
		}
		if (um_addr_from_sockaddr(&from, (const struct sockaddr *)&b->from[i], h->msg_namelen))
			continue;
		if (um_relay_stream_endpoint(&from)) {
			/* Only TLS connections have those; a forged UDP source must
			 * not act for one. */
			s->stats.rx_spoofed_stream++;
			continue;
		}
		size_t segment = gro_segment(h);
		if (!segment || segment > total)
			segment = total;
		for (size_t off = 0; off < total; off += segment) {
			size_t len = total - off < segment ? total - off : segment;
			relay_one(s, &from, b->in[i] + off, len, now, wall);
		}
	}
	flush(s);
	return n;
}

/* A binary frame from a TLS connection: same core, one output at a time. */
static void on_stream_frame(void *arg, const struct um_addr *from, uint8_t *data, size_t len)
{
	struct um_relay_server *s = arg;
	struct um_relay_output out;

	if (um_relay_input(&s->core, from, data, len, um_now_ns(), um_wall_ms(), &out) != 1)
		return;
	send_output(s, &out);
	send_pending(s);
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

	um_relay_expire(&s->core, um_now_ns(), um_wall_ms(), budget < 1024 ? 1024 : budget);
	um_relay_sync_stats(&s->core);
	um_timer_arm_in(loop, timer, UM_NSEC_PER_SEC);
}

/* The relay's identity: the file (the node's format and rules, 0600), or
 * without one a fresh identity for this run (nodes must then learn it on
 * first contact, and again after every restart). */
static int load_identity(struct um_relay_server *s, const struct um_relay_server_config *c)
{
	char text[UM_PEER_ID_TEXT_MAX];
	int r;

	s->identity = um_secmem_alloc(sizeof(*s->identity));
	if (!s->identity)
		return -UM_ENOMEM;
	if (c->identity_path) {
		r = um_identity_load(s->identity, c->identity_path);
		if (r) {
			um_log_error("relay identity %s: %s", c->identity_path, um_strerror(r));
			return r;
		}
	} else if ((r = um_identity_generate(s->identity)) < 0) {
		return r;
	}
	um_peer_id_format(&s->identity->id, text, sizeof(text));
	if (c->identity_path)
		um_log_info("relay identity %s (nodes pin it with relay = %s@HOST:PORT)", text, text);
	else
		um_log_warn("relay: no [relay] identity file, using a new identity for this run: %s", text);
	return 0;
}

int um_relay_server_start(struct um_relay_server *s, struct um_loop *loop, const struct um_relay_server_config *c)
{
	struct um_relay_config core;
	int r;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	um_timer_init(&s->expire_timer, on_expire, s);
	s->batch = calloc(1, sizeof(*s->batch));
	if (!s->batch)
		return -UM_ENOMEM;
	r = load_identity(s, c);
	if (r)
		goto err_batch;
	if (c->relay)
		core = *c->relay;
	else
		um_relay_default_config(&core);
	core.identity = s->identity;
	r = um_relay_init(&s->core, &core);
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
	if (s->identity) {
		um_identity_wipe(s->identity);
		um_secmem_free(s->identity);
		s->identity = NULL;
	}
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
	um_identity_wipe(s->identity);
	um_secmem_free(s->identity);
	s->identity = NULL;
}
