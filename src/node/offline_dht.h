/* SPDX-License-Identifier: MIT */
/* Peers' mailboxes from the DHT (node/offline.h's sending side; the
 * record is msg/mailbox_record.h, the lookups node/dht.h's): for a peer
 * without `[peer] mailbox`, its mailbox record is looked up when a job
 * for it is first made and again every 10 minutes; a SEND job then
 * carries the record candidates, which the worker verifies with the
 * peer's key before it queues at their URLs. Control thread only. */
#ifndef UM_NODE_OFFLINE_DHT_H
#define UM_NODE_OFFLINE_DHT_H

#include <stddef.h>
#include <stdint.h>

#include "node/offline_worker.h"

struct um_node;
struct um_offline_dht;

/* found(ctx, peer_index) when a lookup for that peer ended (the ladder
 * may run again). *out owned by the caller (um_offline_dht_free); node
 * borrowed (its DHT, node->dht, may start later or never). 0 or
 * -UM_ENOMEM. */
int um_offline_dht_new(struct um_offline_dht **out, struct um_node *node, size_t n_peers,
		       void (*found)(void *ctx, size_t peer_index), void *ctx);
void um_offline_dht_free(struct um_offline_dht *od);
/* For a job to peer (index peer_index, no [peer] mailbox): 1 when job
 * now carries record candidates (copies) and their unverified URLs; 0
 * until a first lookup answered, for at most 10 s (no URLs: wait, ask
 * again within a second); -UM_ENOTFOUND when the DHT has no record of it
 * (use our mailboxes). od NULL or no DHT: -UM_ENOTFOUND. */
int um_offline_dht_fill(struct um_offline_dht *od, size_t peer_index, const uint8_t peer[32],
			struct um_offline_job *job);

#endif
