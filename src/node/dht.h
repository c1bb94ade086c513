/* SPDX-License-Identifier: MIT */
/* The DHT inside umbrad (dht.c): glue of the I/O-free Kademlia engine
 * (dht/dht.h) to the node's loop, like path.c and uplink.c glue theirs.
 *
 * DHT datagrams (0x30..0x3f) arrive through demux.c and leave through the
 * data plane's socket (um_dataplane_send_datagram, the control path: never
 * the data fast path). One timer at the engine's next deadline (and our own
 * jobs: republishing, peer lookups). The node publishes its peer record
 * (dht/record.h; sealed under [node] network-key when set) at start, hourly
 * and when its endpoints change; a configured peer with neither endpoint
 * nor relay is looked up by ID and, once its record is found, handshaken
 * at its endpoints. The routing table is saved to [node] dht-state on clean
 * shutdown and loaded at start.
 *
 * Bootstrap (dht_bootstrap.c): `bootstrap = IP:PORT` lines are added as
 * contact addresses; `bootstrap = http://HOST:PORT` lines run on a small
 * thread with the blocking client (http/bootstrap_client.h): register,
 * heartbeat every ~30 s, list peers; what it learns comes back to the loop
 * through an eventfd and a mutex-protected queue.
 *
 * A [relay] runs a second DHT node (node->relay_dht: the relay identity,
 * on the relay server's socket, which hands it the DHT datagrams) that
 * publishes the relay's record; a node with no relay = line finds relays
 * under that record's key and adds them as uplinks (dht_relay.c).
 *
 * A node with [node] mailbox also publishes its mailbox record
 * (msg/mailbox_record.h) in a second slot, and looks up peers' records
 * for node/offline_dht.c (dht_publish.c, beside dht.c).
 *
 * Files: dht.c (engine, record, peers), dht_publish.c (the generic put,
 * the mailbox slot, the value check) < dht_relay.c (relay records) <
 * dht_control.c (umbra dht) < dht_bootstrap.c (start/stop, the routing
 * table file, the thread); dht.c reaches those above it only through hooks
 * they install. Above session.c (it starts handshakes), below demux.c,
 * node.c and status.c. */
#ifndef UM_NODE_DHT_H
#define UM_NODE_DHT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl/control.h"
#include "util/addr.h"

struct um_node;
struct um_node_peer;

/* How a peer's endpoint was found (umbra peers: "found"). */
enum um_node_found {
	UM_NODE_FOUND_NONE = 0,  /* not yet (no endpoint configured, nothing found) */
	UM_NODE_FOUND_CONFIG,    /* endpoint = or a relay in the config */
	UM_NODE_FOUND_DHT,       /* the peer's record from a DHT lookup */
	UM_NODE_FOUND_BOOTSTRAP, /* the bootstrap API's registration of the peer */
	UM_NODE_FOUND_INCOMING,  /* neither: the peer called us (it found us) */
};

/* Start the node's DHT node (after the data plane and the peers; none when
 * [node] dht = off) and the relay's (after the relay server; none when
 * [relay] dht = off); stop both (each saves its table to its dht-state). */
int um_node_dht_start(struct um_node *node);
void um_node_dht_stop(struct um_node *node);
/* A DHT datagram from `from` (demux.c). */
void um_node_dht_receive(struct um_node *node, const struct um_addr *from, const uint8_t *data, size_t len);
/* The node's endpoints may have changed (relay or STUN news): republish
 * when they did. */
void um_node_dht_endpoints_changed(struct um_node *node);
/* Our mailbox record (msg/mailbox_record.h; dht_publish.c): value
 * (copied) replaces the one published before, put now and every hour
 * until replaced. -UM_ENOTFOUND when the node runs no DHT or a private
 * one: the record is public (its key names the peer ID, its body the
 * mailboxes), which a network key promises not to reveal, so members of
 * a private network neither publish nor look up mailbox records (they
 * use [peer] mailbox or shared mailboxes). */
int um_node_dht_mailbox_set(struct um_node *node, const uint8_t *value, size_t len);

enum {
	UM_NODE_DHT_MAILBOX_VALUES = 4, /* candidate records a lookup hands back */
};

/* Candidates found under a peer's mailbox key: checked as a storer checks
 * them (their hybrid signature is not: the caller verifies with the peer's
 * key), the highest sequences first. Owned by the callee of the hook. */
struct um_node_dht_mailbox_values {
	unsigned n;
	size_t len[UM_NODE_DHT_MAILBOX_VALUES];
	uint8_t *value[UM_NODE_DHT_MAILBOX_VALUES]; /* malloc'd each */
};
typedef void (*um_node_dht_mailbox_fn)(void *ctx, const uint8_t peer[32], struct um_node_dht_mailbox_values *found);
/* Looks up peer's mailbox record; fn(ctx, peer, found) when it ends (n 0:
 * none), fn then owns found's values (free each). One hook per node: the
 * last fn set is called. -UM_ENOTFOUND without a DHT, -UM_ELIMIT when
 * too many lookups run, else 0. -UM_ENOTFOUND in a private network too
 * (a lookup would tell storers which peer ID we want). */
int um_node_dht_mailbox_lookup(struct um_node *node, const uint8_t peer[32], um_node_dht_mailbox_fn fn, void *ctx);
/* Whether the node's DHT carries mailbox records (runs, public). */
bool um_node_dht_mailboxes_public(const struct um_node *node);
/* Drops the hook (the callee stops): lookups still running end silently. */
void um_node_dht_mailbox_unhook(struct um_node *node);

/* How peer was found (status). */
enum um_node_found um_node_dht_found(const struct um_node_peer *peer);
const char *um_node_found_name(enum um_node_found found);

/* Control requests (node/status.c): dht=status|json, dht-lookup=PEER,
 * dht-get=KEY, dht-put=KEY (+ value= lines) or dht-put=self, and
 * dht-result=ID (a lookup or put started by one of those: running or its
 * result). */
int um_node_dht_control(struct um_node *node, const struct um_control_request *req, struct um_control_reply *reply);

#endif
