/* SPDX-License-Identifier: MIT */
/* The STUN client transaction (stun_client.h): no I/O. */
#include "path/stun_client.h"

#include <errno.h>
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

bool um_stun_send_error_fatal(int err)
{
	return err != EAGAIN && err != EWOULDBLOCK && err != ENOBUFS;
}
