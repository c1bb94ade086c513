/* SPDX-License-Identifier: MIT */
/* The node's state, shared by the files of node/ (not by tools/: they use
 * node/node.h). Each file's functions are declared in its own header; the
 * order of the files, bottom to top (a file calls only files below it;
 * upward news goes through the hooks node.c installs):
 *
 *   peer.c < route.c < uplink_stream.c < uplink.c < stun.c < path.c
 *     < session.c < dht.c < dht_relay.c < dht_control.c < dht_bootstrap.c
 *     < messaging_peer.c < messaging_events.c < messaging_files.c
 *     < messaging.c < messaging_control.c < demux.c
 *     < node.c < status.c
 *
 * Relay-only (a config with [relay] and no [node]): no identity, engine,
 * data plane or peers; the node only runs the relay server, its DHT node
 * (relay_dht, dht.c) and the control socket. Everything that touches peers
 * checks node->dataplane. */
#ifndef UM_NODE_INTERNAL_H
#define UM_NODE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "crypto/identity.h"
#include "ctl/config.h"
#include "ctl/control.h"
#include "net/dataplane.h"
#include "net/loop.h"
#include "node/handshake_worker.h"
#include "node/node.h"
#include "node/peer.h"
#include "node/route.h"
#include "node/stun.h"
#include "node/uplink.h"
#include "relay/server.h"
#include "session/handshake.h"
#include "util/idmap.h"

/* Upward notifications, installed by node.c: lower files call these
 * instead of the files above them. NULL = nobody listens. */
struct um_bootstrap_service; /* http/bootstrap_api.h */
struct um_relay_queue;       /* node/relay_queue.h */

struct um_node_hooks {
	/* uplink.c: a relay registered / does not know the peer. */
	void (*relay_ready)(struct um_node_peer *peer);
	void (*relay_unknown_peer)(struct um_node_peer *peer);
	/* stun.c: a STUN server reported a new reflexive address. */
	void (*candidates_changed)(struct um_node *node);
	/* session.c: keys installed to send with (a new session or a
	 * rekey, as initiator; node.c reports the responder's confirmation). */
	void (*session_up)(struct um_node_peer *peer);
	/* uplink.c: a relay registered (node/offline.c reads its mailboxes). */
	void (*relay_registered)(struct um_node *node);
};

struct um_node {
	struct um_config config; /* owned */
	struct um_identity identity;
	struct um_loop *loop;
	struct um_node_hooks hooks;
	struct um_handshake_engine *engine;
	struct um_dataplane *dataplane;
	struct um_control_server control;
	bool control_started;
	struct um_watch dp_watch;              /* data plane's control fd */
	struct um_timer hs_timer;              /* engine deadline */
	struct um_handshake_worker *hs_worker; /* owned: signs deferred CHALLENGEs */
	struct um_watch hs_worker_watch;       /* its eventfd */
	struct um_handshake_output *out;       /* scratch for engine calls (large) */
	struct um_node_peer *peers;            /* n config.n_peers entries (peer.c) */
	size_t n_peers;
	struct um_idmap peer_ids;   /* peer ID -> index in peers */
	struct um_idmap peer_slots; /* data-plane slot -> index in peers */
	uint64_t demux_dropped;     /* datagrams of a type (or route) nobody handles (demux.c) */
	uint64_t path_dropped;      /* path messages malformed or for no live session index of ours (path.c) */
	bool up;
	uint64_t started_ns;
	char ifname[16];

	struct um_relay_server *relay_server; /* owned; [relay] */
	struct um_node_uplink *uplinks;       /* owned; one per relay = line */
	size_t n_uplinks;
	int home, backup;                         /* copies of the relay client's, -1 = none */
	struct um_uplinks_engine *uplinks_engine; /* owned: relay client, its output and timer */

	struct um_node_stun *stun; /* owned; one per stun = line */
	size_t n_stun;

	struct um_node_dht *dht;       /* owned; node/dht.h (NULL: dht = off, relay-only) */
	struct um_node_dht *relay_dht; /* owned; the relay's DHT node ([relay] dht) */

	struct um_node_messaging *messaging; /* owned; node/messaging.h (NULL: relay-only) */

	/* owned; [relay] api: the bootstrap HTTP API (http/bootstrap_api.h) */
	struct um_bootstrap_service *bootstrap_api;
	struct um_relay_queue *relay_queue; /* owned; [relay] queue (node/relay_queue.h) */
};

#endif
