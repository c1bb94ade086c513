/* SPDX-License-Identifier: MIT */
/* A blocking STUN Binding query on a socket, for tools and tests (the
 * daemon drives its transactions from the event loop: node/stun.c). The
 * transaction itself is path/stun_client.h's. */
#ifndef UM_NODE_STUN_QUERY_H
#define UM_NODE_STUN_QUERY_H

#include <sys/socket.h>

#include "path/stun_client.h"

/* Blocking query on fd (any UDP socket, blocking or not; borrowed): sends,
 * waits with poll(), retransmits, ignores unrelated datagrams. 0 or a
 * negative code (-ETIMEDOUT, -EPROTO, -errno). */
int um_stun_query(int fd, const struct sockaddr *server, socklen_t server_len, const struct um_stun_options *options,
		  struct um_stun_result *result);

#endif
