/* SPDX-License-Identifier: MIT */
/* Our server-reflexive address from STUN servers (RFC 8489 Binding), as a
 * path candidate (issue 5) next to the endpoints our relays observe.
 *
 * Port. Requests leave through the data plane's shared UDP port, the one
 * peers send to, so the NAT mapping the server reports is the one a peer's
 * probes must hit. Answers come back on a worker's socket and reach us as
 * non-DATA datagrams through the control ring (node.c hands them here
 * before anything else). A Binding success response starts with 0x01 like
 * a HELLO: it is ours only with the magic cookie, from one of our servers,
 * carrying the transaction ID of our request (transaction_input checks
 * the last two); anything else goes on to the handshake unchanged.
 *
 * Transactions. path/stun_client.h's state machine, driven here: one timer
 * per server for its retransmissions and then the next transaction.
 *
 * Schedule. A transaction at start, then every STUN_REFRESH_NS; after a
 * failure sooner (STUN_RETRY_NS doubling up to the refresh period); and
 * when a punch starts and the last answer is older than 30 s (path.c). An
 * answer older than STUN_MAPPED_TTL_NS is no longer advertised. A new or
 * changed address is sent to the peers still on the relay at once. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "node/internal.h"
#include "node/stun.h"
#include "util/addr.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

#define STUN_REFRESH_NS    (300 * UM_NSEC_PER_SEC)
#define STUN_RETRY_NS      (5 * UM_NSEC_PER_SEC)
#define STUN_MAPPED_TTL_NS (900 * UM_NSEC_PER_SEC)

/* Shorter than the RFC's 39.5 s: a daemon retries on its own schedule. */
static void transaction_options(struct um_stun_options *o)
{
	um_stun_default_options(o);
	o->rc = 5; /* requests at 0, 0.5, 1.5, 3.5, 7.5 s */
	o->rm = 4; /* give up at 9.5 s */
}

static void on_done(struct um_node_stun *s, int rc, const struct um_stun_result *result);

/* The transaction is over (answer, error response, timeout, send error). */
static void finish(struct um_node_stun *s, int rc, const struct um_stun_result *result)
{
	struct um_stun_result empty;

	if (!result) {
		memset(&empty, 0, sizeof(empty));
		empty.requests_sent = s->transaction.sent;
		result = &empty;
	}
	s->active = false;
	um_timer_cancel(s->node->loop, &s->timer);
	on_done(s, rc, result);
}

/* Sends what the transaction's schedule asks for, then waits for its next
 * deadline. Requests leave through the data plane's shared port. */
static void step(struct um_node_stun *s)
{
	uint64_t deadline = 0;
	int rc;

	while ((rc = um_stun_transaction_poll(&s->transaction, um_now_ns(), &deadline)) == UM_STUN_SEND) {
		struct sockaddr_storage to;
		int to_len = um_addr_to_sockaddr(&s->server, &to);
		int r = to_len < 0 ? to_len
				   : um_dataplane_send_datagram(s->node->dataplane, (const struct sockaddr *)&to,
								(socklen_t)to_len, s->transaction.request,
								sizeof(s->transaction.request));
		if (r < 0 && um_stun_send_error_fatal(-r)) {
			finish(s, r, NULL);
			return;
		}
	}
	if (rc < 0) {
		finish(s, rc, NULL);
		return;
	}
	um_timer_arm_at(s->node->loop, &s->timer, deadline);
}

static void start_transaction(struct um_node_stun *s)
{
	struct um_stun_options options;

	if (s->active)
		return;
	transaction_options(&options);
	s->started_ns = um_now_ns();
	s->transactions++;
	um_stun_transaction_begin(&s->transaction, &options, s->started_ns);
	s->active = true;
	/* The first request goes out from the timer, as every later one. */
	um_timer_arm_in(s->node->loop, &s->timer, 0);
}

/* One timer per server: retransmissions while a transaction runs, else
 * the next transaction. */
static void on_timer(struct um_loop *loop, struct um_timer *timer)
{
	struct um_node_stun *s = timer->arg;
	(void)loop;

	if (s->active)
		step(s);
	else
		start_transaction(s);
}

static void on_done(struct um_node_stun *s, int rc, const struct um_stun_result *result)
{
	struct um_node *node = s->node;
	char server[64], mapped[64];
	uint64_t now = um_now_ns();

	um_addr_format((const struct um_addr *)&s->server, server, sizeof(server));
	if (rc) {
		s->failures++;
		s->failures_in_a_row++;
		s->last_error = rc;
		unsigned shift = s->failures_in_a_row < 7 ? s->failures_in_a_row - 1 : 6;
		uint64_t retry = STUN_RETRY_NS << shift;
		if (retry > STUN_REFRESH_NS)
			retry = STUN_REFRESH_NS;
		if (rc == -EPROTO)
			um_log_info("stun %s: error response %u", server, (unsigned)result->error_code);
		else if (s->failures_in_a_row == 1)
			um_log_info("stun %s: no answer (%s, %u requests)", server, um_strerror(rc),
				    result->requests_sent);
		um_timer_arm_in(node->loop, &s->timer, retry);
		return;
	}
	bool changed = !s->mapped.family || now - s->last_answer_ns > STUN_MAPPED_TTL_NS ||
		       !um_addr_equal(&s->mapped, &result->mapped);
	s->mapped = result->mapped;
	s->rtt_ns = result->rtt_ns;
	s->last_answer_ns = now;
	s->answers++;
	s->failures_in_a_row = 0;
	s->last_error = 0;
	um_timer_arm_in(node->loop, &s->timer, STUN_REFRESH_NS);
	um_addr_format((const struct um_addr *)&s->mapped, mapped, sizeof(mapped));
	if (!changed) {
		um_log_debug("stun %s: still %s (rtt %llu us)", server, mapped, (unsigned long long)(s->rtt_ns / 1000));
		return;
	}
	um_log_info("stun %s: we are %s there (rtt %llu us)", server, mapped, (unsigned long long)(s->rtt_ns / 1000));
	if (node->hooks.candidates_changed)
		node->hooks.candidates_changed(node);
}

int um_node_stun_start(struct um_node *node)
{
	const struct um_config *c = &node->config;

	if (!c->n_stun || !node->dataplane)
		return 0;
	node->stun = calloc(c->n_stun, sizeof(*node->stun));
	if (!node->stun)
		return -ENOMEM;
	node->n_stun = c->n_stun;
	for (size_t i = 0; i < c->n_stun; i++) {
		struct um_node_stun *s = &node->stun[i];
		s->server = c->stun[i];
		s->node = node;
		um_timer_init(&s->timer, on_timer, s);
		start_transaction(s);
	}
	return 0;
}

void um_node_stun_stop(struct um_node *node)
{
	for (size_t i = 0; i < node->n_stun; i++) {
		node->stun[i].active = false;
		um_timer_cancel(node->loop, &node->stun[i].timer);
	}
	free(node->stun);
	node->stun = NULL;
	node->n_stun = 0;
}

/* The transaction ID of s's last request, answered or not: a late
 * duplicate answer of a finished transaction is ours too (dropped here
 * rather than offered to the handshake as a malformed HELLO). */
static bool finished_transaction(const struct um_node_stun *s, const struct sockaddr *from, socklen_t from_len,
				 const uint8_t *data)
{
	struct um_addr a;

	if (s->active || !s->transaction.sent || memcmp(data + 8, s->transaction.request + 8, UM_STUN_TXID_BYTES))
		return false;
	return um_addr_from_sockaddr(&a, from, from_len) == 0 && um_addr_equal(&a, &s->server);
}

/* The answer of s's transaction in flight: true when it was ours (then
 * the transaction is over unless the answer was malformed). */
static bool transaction_input(struct um_node_stun *s, const struct sockaddr *from, socklen_t from_len,
			      const uint8_t *data, size_t len)
{
	struct um_addr a;
	struct um_stun_result result;

	if (!s->active || um_addr_from_sockaddr(&a, from, from_len) < 0 || !um_addr_equal(&a, &s->server))
		return false;
	int rc = um_stun_transaction_input(&s->transaction, data, len, um_now_ns(), &result);
	if (rc == -UM_ENOTFOUND)
		return false;
	if (rc < 0 && rc != -EPROTO)
		return true; /* ours but malformed: drop it and keep waiting */
	finish(s, rc, &result);
	return true;
}

bool um_node_stun_receive(struct um_node *node, const struct sockaddr *from, socklen_t from_len, const uint8_t *data,
			  size_t len)
{
	/* Cheap first: no servers, or not even the cookie, is not STUN. */
	if (!node->n_stun || !um_stun_looks_like(data, len))
		return false;
	for (size_t i = 0; i < node->n_stun; i++) {
		struct um_node_stun *s = &node->stun[i];
		if (transaction_input(s, from, from_len, data, len) || finished_transaction(s, from, from_len, data))
			return true;
	}
	return false;
}

void um_node_stun_refresh(struct um_node *node, uint64_t max_age_ns)
{
	uint64_t now = um_now_ns();

	for (size_t i = 0; i < node->n_stun; i++) {
		struct um_node_stun *s = &node->stun[i];
		if (s->active || now - s->started_ns < max_age_ns ||
		    (s->last_answer_ns && now - s->last_answer_ns < max_age_ns))
			continue;
		start_transaction(s);
	}
}

size_t um_node_stun_candidates(const struct um_node *node, struct um_addr *out, size_t cap)
{
	uint64_t now = um_now_ns();
	size_t n = 0;

	for (size_t i = 0; i < node->n_stun && n < cap; i++) {
		const struct um_node_stun *s = &node->stun[i];
		if (s->mapped.family && now - s->last_answer_ns <= STUN_MAPPED_TTL_NS)
			out[n++] = s->mapped;
	}
	return n;
}

/* The server with the freshest answer (else the first) stands for all in
 * the flat status keys; the counters add up over every server. */
void um_node_stun_status_fill(const struct um_node *node, struct um_stun_status *out)
{
	const struct um_node_stun *best = NULL;
	uint64_t now = um_now_ns();

	out->servers = node->n_stun;
	if (!node->n_stun)
		return;
	for (size_t i = 0; i < node->n_stun; i++) {
		const struct um_node_stun *s = &node->stun[i];
		out->answers += s->answers;
		out->failures += s->failures;
		if (s->last_answer_ns && (!best || s->last_answer_ns > best->last_answer_ns))
			best = s;
	}
	if (!best)
		best = &node->stun[0];
	out->server = best->server;
	out->mapped = best->mapped;
	if (best->last_answer_ns) {
		out->rtt_us = best->rtt_ns / 1000;
		out->last_answer_age_ms = (now - best->last_answer_ns) / UM_NSEC_PER_MSEC;
	}
	out->last_error = best->last_error;
}
