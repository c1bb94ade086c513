/* SPDX-License-Identifier: MIT */
/* The datagrams waiting for a routing handle (node/uplink_wait.h). */
#include "node/uplink_wait.h"

#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "wire/fragment.h"
#include "wire/relay.h"

struct um_uplink_wait {
	unsigned uplink;
	unsigned count;
	uint16_t len[UM_UPLINK_WAIT_MAX];
	uint8_t data[UM_UPLINK_WAIT_MAX][UM_RELAY_MAX_PAYLOAD];
};

/* Pieces of one message share (msg_type, receiver_index, message_id). */
static bool same_message(const struct um_fragment *a, const struct um_fragment *b)
{
	return a->msg_type == b->msg_type && a->receiver_index == b->receiver_index && a->message_id == b->message_id &&
	       a->count == b->count;
}

int um_uplink_wait_push(struct um_uplink_wait **w, unsigned uplink, const uint8_t *data, size_t len)
{
	struct um_fragment piece, held;

	if (len == 0 || len > UM_RELAY_MAX_PAYLOAD || !data)
		return -UM_EINVAL;
	if (!*w && !(*w = calloc(1, sizeof(**w))))
		return -UM_ENOMEM;
	struct um_uplink_wait *q = *w;
	/* Only the newest message waits. Anything but a FRAGMENT is a message
	 * alone, and an older message (a HELLO the engine has since replaced
	 * by a new initiation) would only make the peer answer a handshake
	 * state we no longer hold. */
	bool is_piece = um_fragment_decode(&piece, data, len) == 0;
	bool same = is_piece && q->count && q->uplink == uplink &&
		    um_fragment_decode(&held, q->data[0], q->len[0]) == 0 && same_message(&held, &piece);
	/* The copy of a one-datagram message (handshake repeat_single) waits
	 * beside it: both go, as they would have. */
	bool copy =
	    !is_piece && q->count == 1 && q->uplink == uplink && q->len[0] == len && memcmp(q->data[0], data, len) == 0;
	if (copy) {
		q->len[1] = (uint16_t)len;
		memcpy(q->data[1], data, len);
		q->count = 2;
		return 0;
	}
	if (!same)
		q->count = 0;
	q->uplink = uplink;
	unsigned slot = q->count;
	for (unsigned k = 0; same && k < q->count; k++)
		if (um_fragment_decode(&held, q->data[k], q->len[k]) == 0 && held.index == piece.index)
			slot = k; /* a piece resent while waiting replaces itself */
	if (slot == UM_UPLINK_WAIT_MAX)
		return -UM_ELIMIT; /* cannot happen: a message has at most that many pieces */
	q->len[slot] = (uint16_t)len;
	memcpy(q->data[slot], data, len);
	if (slot == q->count)
		q->count++;
	return 0;
}

size_t um_uplink_wait_send(struct um_uplink_wait **w, unsigned uplink,
			   void (*send)(void *ctx, const uint8_t *data, size_t len), void *ctx)
{
	struct um_uplink_wait *q = *w;
	size_t n = 0;

	if (!q || q->uplink != uplink)
		return 0;
	for (; n < q->count; n++)
		send(ctx, q->data[n], q->len[n]);
	um_uplink_wait_free(w);
	return n;
}

void um_uplink_wait_free(struct um_uplink_wait **w)
{
	free(*w);
	*w = NULL;
}
