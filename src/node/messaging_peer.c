/* SPDX-License-Identifier: MIT */
/* Bottom of the messaging files (node/messaging.h): peers by name or ID,
 * and the queue of frames waiting for room in a peer's channel (receipts,
 * file frames), written in order by messaging.c. */
#include <stdlib.h>
#include <string.h>

#include "node/messaging_internal.h"
#include "util/error.h"

struct msg_peer *msg_peer_find(struct um_node_messaging *ms, const char *name_or_id)
{
	struct um_peer_id id;

	for (size_t i = 0; i < ms->n_peers; i++)
		if (!strcmp(ms->peers[i].peer->config->name, name_or_id))
			return &ms->peers[i];
	if (um_peer_id_parse(&id, name_or_id))
		return NULL;
	struct um_node_peer *peer = um_node_peer_find(ms->node, &id);
	return peer ? msg_peer_of(peer) : NULL;
}

static int queue(struct msg_peer *mp, struct msg_pending *p)
{
	if (mp->n_pending >= MSG_PENDING_MAX) {
		free(p);
		return -UM_ELIMIT;
	}
	if (mp->pending_tail)
		mp->pending_tail->next = p;
	else
		mp->pending_head = p;
	mp->pending_tail = p;
	mp->n_pending++;
	return 0;
}

int msg_queue_frame(struct msg_peer *mp, uint8_t type, const void *payload, size_t len)
{
	struct msg_pending *p = calloc(1, sizeof(*p) + len);

	if (!p)
		return -UM_ENOMEM;
	p->type = type;
	p->len = len;
	if (len)
		memcpy(p->data, payload, len);
	return queue(mp, p);
}

int msg_queue_ack(struct msg_peer *mp, const uint8_t id[16], uint8_t what, const char *reason)
{
	size_t len = reason ? strnlen(reason, UM_MESSAGE_REASON_MAX) : 0;
	struct msg_pending *p = calloc(1, sizeof(*p) + len + 1);

	if (!p)
		return -UM_ENOMEM;
	p->is_ack = true;
	memcpy(p->id, id, 16);
	p->what = what;
	p->len = len; /* the reason, NUL-terminated in data */
	if (len)
		memcpy(p->data, reason, len);
	return queue(mp, p);
}

void msg_pending_free(struct msg_peer *mp)
{
	while (mp->pending_head) {
		struct msg_pending *p = mp->pending_head;
		mp->pending_head = p->next;
		free(p);
	}
	mp->pending_tail = NULL;
	mp->n_pending = 0;
}
