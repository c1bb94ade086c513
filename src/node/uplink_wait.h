/* SPDX-License-Identifier: MIT */
/* Datagrams for a peer whose routing handle at a relay the node is still
 * asking for (node/uplink.c): every piece of the newest handshake message
 * (a CHALLENGE or RESPONSE is 8 FRAGMENTs), so that one message waits
 * whole rather than only its last piece, which left the rest to a
 * retransmission timeout. Anything older goes when a new message comes:
 * a stale HELLO sent late makes the peer answer a state we no longer hold.
 * Allocated while something waits. */
#ifndef UM_NODE_UPLINK_WAIT_H
#define UM_NODE_UPLINK_WAIT_H

#include <stddef.h>
#include <stdint.h>

#include "wire/fragment.h"

enum { UM_UPLINK_WAIT_MAX = UM_FRAG_MAX_COUNT + 1 }; /* the pieces and the parity piece */

struct um_uplink_wait;

/* Keep a copy of len bytes (1..UM_RELAY_MAX_PAYLOAD) for uplink in *w,
 * allocating it if NULL (the caller owns it: um_uplink_wait_send or
 * um_uplink_wait_free). A FRAGMENT of the message already waiting joins it
 * (a piece sent again replaces its copy); anything else, or anything for
 * another uplink, replaces what waited. Returns 0, -UM_EINVAL or
 * -UM_ENOMEM. */
int um_uplink_wait_push(struct um_uplink_wait **w, unsigned uplink, const uint8_t *data, size_t len);
/* If *w waits for uplink: send(ctx, datagram, len) for each, in the order
 * they came, then free it (*w = NULL). Returns how many were sent. */
size_t um_uplink_wait_send(struct um_uplink_wait **w, unsigned uplink,
			   void (*send)(void *ctx, const uint8_t *data, size_t len), void *ctx);
void um_uplink_wait_free(struct um_uplink_wait **w);

#endif
