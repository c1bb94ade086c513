/* SPDX-License-Identifier: MIT */
/* STUN (stun.c): Binding transactions (path/stun_client.h) from the data
 * plane's port (so the mapping is the one peers reach), at start, every few
 * minutes, and when a punch starts with an old answer. No-ops without
 * stun = lines. A new reflexive address is reported through the node's
 * candidates_changed hook. */
#ifndef UM_NODE_STUN_H
#define UM_NODE_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ctl/status.h"
#include "net/loop.h"
#include "path/stun_client.h"
#include "wire/handshake.h"

struct um_node;

/* One configured STUN server. */
struct um_node_stun {
	struct um_node *node;
	struct um_addr server;
	struct um_stun_transaction transaction; /* in flight (active) or the last one */
	bool active;
	struct um_timer timer; /* retransmissions while active, else the next transaction */
	struct um_addr mapped; /* our reflexive address there; family 0 = none */
	uint64_t rtt_ns, last_answer_ns, started_ns;
	uint64_t transactions, answers, failures;
	unsigned failures_in_a_row;
	int last_error;
};

int um_node_stun_start(struct um_node *node);
void um_node_stun_stop(struct um_node *node);
/* A datagram from the network (not through a relay): true when it was the
 * answer of one of our transactions (STUN magic cookie, a server of ours
 * and our transaction ID), so it must go nowhere else. */
bool um_node_stun_receive(struct um_node *node, const struct sockaddr *from, socklen_t from_len, const uint8_t *data,
			  size_t len);
/* Starts a transaction at every server whose last answer (or attempt) is
 * older than max_age_ns, unless one is in flight. */
void um_node_stun_refresh(struct um_node *node, uint64_t max_age_ns);
/* Current reflexive addresses (answers not too old), at most cap. */
size_t um_node_stun_candidates(const struct um_node *node, struct um_addr *out, size_t cap);
void um_node_stun_status_fill(const struct um_node *node, struct um_stun_status *out);

#endif
