/* SPDX-License-Identifier: MIT */
#include "path/stun_client.h"

#include <errno.h>
#include <poll.h>
#include <sodium.h>
#include <string.h>

#include "util/clock.h"
#include "util/error.h"

void um_stun_default_options(struct um_stun_options *options)
{
	options->rto_ns = 500 * UM_NSEC_PER_MSEC;
	options->rc = 7;
	options->rm = 16;
}

void um_stun_transaction_begin(struct um_stun_transaction *t, const struct um_stun_options *options, uint64_t now_ns)
{
	uint8_t txid[UM_STUN_TXID_BYTES];

	memset(t, 0, sizeof(*t));
	if (options)
		t->options = *options;
	else
		um_stun_default_options(&t->options);
	if (t->options.rc == 0)
		t->options.rc = 1;
	randombytes_buf(txid, sizeof(txid));
	(void)um_stun_encode_request(t->request, sizeof(t->request), txid);
	t->start_ns = now_ns;
}

int um_stun_transaction_poll(struct um_stun_transaction *t, uint64_t now_ns, uint64_t *deadline_ns)
{
	const struct um_stun_options *o = &t->options;
	uint64_t next = um_stun_retransmit_offset(o->rto_ns, o->rc, o->rm, t->sent);
	uint64_t due = next > UINT64_MAX - t->start_ns ? UINT64_MAX : t->start_ns + next;

	if (t->done)
		return -ETIMEDOUT;
	if (now_ns < due) {
		*deadline_ns = due;
		return UM_STUN_WAIT;
	}
	if (t->sent >= o->rc) {
		t->done = true;
		return -ETIMEDOUT;
	}
	t->sent++;
	t->last_sent_ns = now_ns;
	next = um_stun_retransmit_offset(o->rto_ns, o->rc, o->rm, t->sent);
	*deadline_ns = next > UINT64_MAX - t->start_ns ? UINT64_MAX : t->start_ns + next;
	return UM_STUN_SEND;
}

int um_stun_transaction_input(struct um_stun_transaction *t, const uint8_t *in, size_t len, uint64_t now_ns,
			      struct um_stun_result *result)
{
	struct um_stun_message m;

	if (t->done || t->sent == 0 || !um_stun_looks_like(in, len))
		return -UM_ENOTFOUND;
	/* Match the transaction before trusting anything else in it. */
	if (memcmp(in + 8, t->request + 8, UM_STUN_TXID_BYTES) != 0)
		return -UM_ENOTFOUND;
	int rc = um_stun_parse(&m, in, len);
	if (rc < 0)
		return rc;
	if (m.type != UM_STUN_BINDING_SUCCESS && m.type != UM_STUN_BINDING_ERROR)
		return -UM_ENOTFOUND;
	memset(result, 0, sizeof(*result));
	result->requests_sent = t->sent;
	result->rtt_ns = now_ns - t->last_sent_ns;
	t->done = true;
	if (m.type == UM_STUN_BINDING_ERROR) {
		result->error_code = m.error_code;
		return -EPROTO;
	}
	return um_stun_mapped_address(&m, &result->mapped) < 0 ? -UM_EINVAL : 0;
}

/* Source address as a comparable endpoint, v4-mapped IPv6 turned into IPv4
 * so a dual-stack socket matches a server given as IPv4. */
static int endpoint_of(struct um_wire_addr *out, const struct sockaddr *sa, socklen_t len)
{
	static const uint8_t mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	int rc = um_wire_addr_from_sockaddr(out, sa, len);
	if (rc == 0 && out->family == 6 && memcmp(out->addr, mapped_prefix, 12) == 0) {
		memmove(out->addr, out->addr + 12, 4);
		memset(out->addr + 4, 0, 12);
		out->family = 4;
	}
	return rc;
}

/* A dropped send is just a lost packet: retransmission covers it. */
static bool send_error_fatal(int err)
{
	return err != EAGAIN && err != EWOULDBLOCK && err != ENOBUFS;
}

static int send_request(int fd, const struct um_stun_transaction *t, const struct sockaddr *server, socklen_t len)
{
	ssize_t n = sendto(fd, t->request, sizeof(t->request), MSG_NOSIGNAL, server, len);
	if (n < 0 && send_error_fatal(errno))
		return -errno;
	return 0;
}

static int client_send(struct um_stun_client *c)
{
	const struct sockaddr *server = (const struct sockaddr *)&c->server;

	if (!c->send)
		return send_request(c->fd, &c->transaction, server, c->server_len);
	int r = c->send(c->send_arg, server, c->server_len, c->transaction.request, sizeof(c->transaction.request));
	return r < 0 && send_error_fatal(-r) ? r : 0;
}

static void client_finish(struct um_stun_client *c, int rc, const struct um_stun_result *result)
{
	struct um_stun_result empty;
	if (!result) {
		memset(&empty, 0, sizeof(empty));
		empty.requests_sent = c->transaction.sent;
		result = &empty;
	}
	c->active = false;
	um_timer_cancel(c->loop, &c->timer);
	c->done(c, rc, result);
}

static void client_step(struct um_loop *loop, struct um_timer *timer)
{
	struct um_stun_client *c = timer->arg;
	uint64_t deadline = 0;
	int rc;

	while ((rc = um_stun_transaction_poll(&c->transaction, um_now_ns(), &deadline)) == UM_STUN_SEND) {
		int err = client_send(c);
		if (err < 0) {
			client_finish(c, err, NULL);
			return;
		}
	}
	if (rc < 0) {
		client_finish(c, rc, NULL);
		return;
	}
	um_timer_arm_at(loop, &c->timer, deadline);
}

int um_stun_client_start(struct um_stun_client *client, struct um_loop *loop, int fd,
			 const struct sockaddr *server, socklen_t server_len,
			 const struct um_stun_options *options, um_stun_done_fn done, void *arg)
{
	if (!done || server_len > sizeof(client->server))
		return -UM_EINVAL;
	memset(client, 0, sizeof(*client));
	client->loop = loop;
	client->fd = fd;
	memcpy(&client->server, server, server_len);
	client->server_len = server_len;
	client->done = done;
	client->arg = arg;
	client->active = true;
	um_timer_init(&client->timer, client_step, client);
	um_stun_transaction_begin(&client->transaction, options, um_now_ns());
	/* The first poll sends immediately; errors come back through done(). */
	um_timer_arm_in(loop, &client->timer, 0);
	return 0;
}

int um_stun_client_start_send(struct um_stun_client *client, struct um_loop *loop, um_stun_send_fn send,
			      void *send_arg, const struct sockaddr *server, socklen_t server_len,
			      const struct um_stun_options *options, um_stun_done_fn done, void *arg)
{
	if (!send)
		return -UM_EINVAL;
	int r = um_stun_client_start(client, loop, -1, server, server_len, options, done, arg);
	/* The first request goes out from the timer, so setting these now is in time. */
	client->send = send;
	client->send_arg = send_arg;
	return r;
}

bool um_stun_client_input(struct um_stun_client *client, const uint8_t *in, size_t len,
			  const struct sockaddr *from, socklen_t from_len)
{
	struct um_wire_addr a, b;
	struct um_stun_result result;

	if (!client->active)
		return false;
	if (endpoint_of(&a, from, from_len) < 0 ||
	    endpoint_of(&b, (const struct sockaddr *)&client->server, client->server_len) < 0 ||
	    !um_wire_addr_equal(&a, &b))
		return false;
	int rc = um_stun_transaction_input(&client->transaction, in, len, um_now_ns(), &result);
	if (rc == -UM_ENOTFOUND)
		return false;
	if (rc < 0 && rc != -EPROTO)
		return true; /* ours but malformed: drop it and keep waiting */
	client_finish(client, rc, &result);
	return true;
}

void um_stun_client_cancel(struct um_stun_client *client)
{
	if (!client->active)
		return;
	client->active = false;
	um_timer_cancel(client->loop, &client->timer);
}

int um_stun_query(int fd, const struct sockaddr *server, socklen_t server_len,
		  const struct um_stun_options *options, struct um_stun_result *result)
{
	struct um_stun_transaction t;
	struct um_wire_addr want, got;
	uint8_t buf[UM_STUN_MAX_MESSAGE + 1];
	uint64_t deadline = 0;
	int rc;

	memset(result, 0, sizeof(*result));
	if (endpoint_of(&want, server, server_len) < 0)
		return -UM_EINVAL;
	um_stun_transaction_begin(&t, options, um_now_ns());
	for (;;) {
		while ((rc = um_stun_transaction_poll(&t, um_now_ns(), &deadline)) == UM_STUN_SEND) {
			rc = send_request(fd, &t, server, server_len);
			if (rc < 0)
				return rc;
		}
		if (rc < 0) {
			result->requests_sent = t.sent;
			return rc;
		}
		uint64_t now = um_now_ns();
		uint64_t wait_ms = deadline > now ? (deadline - now + UM_NSEC_PER_MSEC - 1) / UM_NSEC_PER_MSEC : 0;
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int n = poll(&pfd, 1, wait_ms > 60000 ? 60000 : (int)wait_ms);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n <= 0)
			continue;
		struct sockaddr_storage from;
		socklen_t from_len = sizeof(from);
		ssize_t len = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &from_len);
		if (len < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNREFUSED)
				continue;
			return -errno;
		}
		if (endpoint_of(&got, (const struct sockaddr *)&from, from_len) < 0 || !um_wire_addr_equal(&got, &want))
			continue;
		rc = um_stun_transaction_input(&t, buf, (size_t)len, um_now_ns(), result);
		if (rc == 0 || rc == -EPROTO)
			return rc;
		/* Not ours or malformed: keep waiting. */
	}
}
