/* SPDX-License-Identifier: MIT */
/* STUN Binding client transaction: request, retransmissions on the RFC 8489
 * schedule, matching response. A pure state machine (no I/O, time passed
 * in), like the other engines: the caller sends t->request when poll says
 * so and offers received datagrams to input.
 *
 * Drivers: node/stun.c runs one per STUN server from the event loop
 * through the data plane's port; node/stun_query.h has a blocking query on
 * a socket for tools and tests. */
#ifndef UM_PATH_STUN_CLIENT_H
#define UM_PATH_STUN_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "path/stun.h"

struct um_stun_options {
	uint64_t rto_ns; /* initial retransmission timeout (RFC default 500 ms) */
	unsigned rc;     /* requests to send at most (7) */
	unsigned rm;     /* wait after the last request, in RTOs (16) */
};

void um_stun_default_options(struct um_stun_options *options);

struct um_stun_result {
	struct um_addr mapped; /* our server-reflexive address */
	uint64_t rtt_ns;       /* from the latest request sent to the answer */
	unsigned requests_sent;
	uint16_t error_code; /* set when the server answered with an error */
};

struct um_stun_transaction {
	struct um_stun_options options;
	uint8_t request[UM_STUN_REQUEST_BYTES];
	uint64_t start_ns, last_sent_ns;
	unsigned sent;
	bool done;
};

/* Begins a transaction with a fresh random transaction ID. */
void um_stun_transaction_begin(struct um_stun_transaction *t, const struct um_stun_options *options, uint64_t now_ns);

enum { UM_STUN_WAIT = 0, UM_STUN_SEND = 1 };
/* What to do at now_ns: UM_STUN_SEND (send t->request now; the transaction
 * counts it as sent), UM_STUN_WAIT (nothing until *deadline_ns), or
 * -ETIMEDOUT once the schedule is exhausted. */
int um_stun_transaction_poll(struct um_stun_transaction *t, uint64_t now_ns, uint64_t *deadline_ns);

/* Offers a received datagram. 0: it answered our request (result filled);
 * -UM_ENOTFOUND: not ours (not STUN, other transaction, not a response),
 * so the caller may treat it as something else; -EPROTO: an error
 * response (result->error_code set); other negative: ours but malformed. */
int um_stun_transaction_input(struct um_stun_transaction *t, const uint8_t *in, size_t len, uint64_t now_ns,
			      struct um_stun_result *result);

/* A send error that only loses the datagram (retransmission covers it). */
bool um_stun_send_error_fatal(int err);

#endif
