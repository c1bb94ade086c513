/* SPDX-License-Identifier: MIT */
/* STUN Binding client: one transaction (request, retransmissions on the RFC
 * 8489 schedule, matching response) over a UDP socket the caller owns.
 *
 * Three layers, so the daemon can use whichever fits:
 *  - um_stun_transaction: a pure state machine (no I/O, time passed in);
 *  - um_stun_client: drives a transaction from an event loop (src/net/loop.h)
 *    on a socket whose reads stay with the caller, who hands STUN-looking
 *    datagrams to um_stun_client_input();
 *  - um_stun_query(): blocking, for tools and tests. */
#ifndef UM_PATH_STUN_CLIENT_H
#define UM_PATH_STUN_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "net/loop.h"
#include "path/stun.h"

struct um_stun_options {
	uint64_t rto_ns; /* initial retransmission timeout (RFC default 500 ms) */
	unsigned rc;     /* requests to send at most (7) */
	unsigned rm;     /* wait after the last request, in RTOs (16) */
};

void um_stun_default_options(struct um_stun_options *options);

struct um_stun_result {
	struct um_wire_addr mapped; /* our server-reflexive address */
	uint64_t rtt_ns;            /* from the latest request sent to the answer */
	unsigned requests_sent;
	uint16_t error_code;        /* set when the server answered with an error */
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

/* Loop-driven client. The struct is owned by the caller and must stay put
 * until done() ran or um_stun_client_cancel() was called. */
struct um_stun_client;
typedef void (*um_stun_done_fn)(struct um_stun_client *client, int rc, const struct um_stun_result *result);
/* Sends one request for a client that does not own a socket (the node sends
 * through its data plane's shared port). 0 or -errno like sendto(2). */
typedef int (*um_stun_send_fn)(void *arg, const struct sockaddr *to, socklen_t to_len, const uint8_t *data,
			       size_t len);

struct um_stun_client {
	struct um_loop *loop;
	struct um_timer timer;
	struct um_stun_transaction transaction;
	int fd;
	struct sockaddr_storage server;
	socklen_t server_len;
	um_stun_done_fn done;
	void *arg;
	um_stun_send_fn send; /* NULL: sendto(fd) */
	void *send_arg;
	bool active;
};

/* Sends the first request at once and arms the timer. done(rc, result) runs
 * once: rc 0 with the mapped address, -ETIMEDOUT, -EPROTO, or a send error.
 * The fd is not read by the client: see um_stun_client_input. */
int um_stun_client_start(struct um_stun_client *client, struct um_loop *loop, int fd,
			 const struct sockaddr *server, socklen_t server_len,
			 const struct um_stun_options *options, um_stun_done_fn done, void *arg);
/* The same without a socket: requests go out through send(send_arg, ...);
 * replies still come in through um_stun_client_input. */
int um_stun_client_start_send(struct um_stun_client *client, struct um_loop *loop, um_stun_send_fn send,
			      void *send_arg, const struct sockaddr *server, socklen_t server_len,
			      const struct um_stun_options *options, um_stun_done_fn done, void *arg);
/* A datagram read from the client's socket. Returns true if it belonged to
 * the transaction (consumed; done() has run), false otherwise. */
bool um_stun_client_input(struct um_stun_client *client, const uint8_t *in, size_t len,
			  const struct sockaddr *from, socklen_t from_len);
void um_stun_client_cancel(struct um_stun_client *client);

/* Blocking query on fd (any UDP socket, blocking or not): sends, waits with
 * poll(), retransmits, ignores unrelated datagrams. 0 or a negative code
 * (-ETIMEDOUT, -EPROTO, -errno). */
int um_stun_query(int fd, const struct sockaddr *server, socklen_t server_len,
		  const struct um_stun_options *options, struct um_stun_result *result);

#endif
