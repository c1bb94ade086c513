/* SPDX-License-Identifier: MIT */
/* The datagrams waiting for a routing handle (node/uplink_wait.h). */
#include "node/uplink_wait.h"

#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "wire/relay.h"

struct um_uplink_wait {
	unsigned uplink;
	unsigned count;
	uint16_t len[UM_UPLINK_WAIT_MAX];
	uint8_t data[UM_UPLINK_WAIT_MAX][UM_RELAY_MAX_PAYLOAD];
};

int um_uplink_wait_push(struct um_uplink_wait **w, unsigned uplink, const uint8_t *data, size_t len)
{
	if (len == 0 || len > UM_RELAY_MAX_PAYLOAD || !data)
		return -UM_EINVAL;
	if (!*w && !(*w = calloc(1, sizeof(**w))))
		return -UM_ENOMEM;
	struct um_uplink_wait *q = *w;
	if (q->uplink != uplink)
		q->count = 0; /* another relay now: what waited for the last one goes */
	q->uplink = uplink;
	if (q->count == UM_UPLINK_WAIT_MAX) {
		memmove(q->len, q->len + 1, (UM_UPLINK_WAIT_MAX - 1) * sizeof(q->len[0]));
		memmove(q->data, q->data + 1, (UM_UPLINK_WAIT_MAX - 1) * sizeof(q->data[0]));
		q->count--;
	}
	q->len[q->count] = (uint16_t)len;
	memcpy(q->data[q->count++], data, len);
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
