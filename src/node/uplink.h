/* SPDX-License-Identifier: MIT */
/* Uplinks (uplink.c): glue of the relay client engine (relay/client.h), and
 * the TLS/WebSocket transport of wss:// uplinks (uplink_stream.c, below
 * uplink.c: it reports its connection through a callback). */
#ifndef UM_NODE_UPLINK_H
#define UM_NODE_UPLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ctl/status.h"
#include "node/peer.h"
#include "relay/client.h"
#include "wire/handshake.h"

struct um_node;
struct um_uplink_stream;

/* The relay client's uplink states (relay/client.h), under the names
 * path.c and status.c use. */
enum um_uplink_state {
	UM_UPLINK_IDLE = UM_RELAY_CLIENT_IDLE,               /* wss:// uplink without a connection */
	UM_UPLINK_REGISTERING = UM_RELAY_CLIENT_REGISTERING, /* ID, handshake, REGISTER (or waiting to retry) */
	UM_UPLINK_REGISTERED = UM_RELAY_CLIENT_REGISTERED,   /* acknowledged: keepalives running */
	UM_UPLINK_STANDBY = UM_RELAY_CLIENT_STANDBY,         /* registered once, parked */
};

/* One configured relay, as seen by this node (uplink.c): where its
 * datagrams go. The protocol state lives in the relay client engine. */
struct um_node_uplink {
	struct um_node *node;
	unsigned index;
	struct um_addr addr; /* where its datagrams go */
	/* Read-only copies of the engine's view for path.c and status.c;
	 * uplink.c refreshes them after every engine call. */
	enum um_uplink_state state;
	struct um_addr observed; /* our endpoint as the relay sees it */
	/* wss:// uplinks (uplink_stream.c): addr above is then the loopback
	 * proxy that carries datagrams over the TLS connection to `remote`. */
	bool tls;
	struct um_addr remote;
	struct um_uplink_stream *stream; /* owned */
	/* Set by uplink.c before um_uplink_stream_open: the stream's
	 * connection is open (up: register over it) or lost. */
	void (*transport)(struct um_node_uplink *u, bool up);
	/* ...and a warm connection (um_uplink_stream_warm) opened. */
	void (*connected_ahead)(struct um_node_uplink *u);
	/* Set by uplink.c: um_uplink_handle, for route.c (which uplink.c calls,
	 * so route.c reaches back only through this pointer). */
	uint64_t (*handle_of)(struct um_node *node, unsigned uplink, const struct um_node_peer *peer);
};

/* uplink.c: registration with the configured relays. */
int um_uplinks_start(struct um_node *node);
/* A relay added at run time (found through the DHT, node/dht_relay.c). */
struct um_uplink_relay {
	struct um_addr addr; /* UDP endpoint, or the wss:// server when tls */
	bool tls;
	bool has_id; /* pinned: the relay must prove this identity */
	struct um_peer_id id;
};
/* Uplinks to the relays of list (n <= UM_CONFIG_RELAYS_MAX) as if
 * configured: um_uplinks_start with a list (dht_relay.c adds relays found
 * through the DHT: stop, then start with the longer list). */
int um_uplinks_start_list(struct um_node *node, const struct um_uplink_relay *list, size_t n);
void um_uplinks_stop(struct um_node *node);
/* A datagram from the network: true when it was a relay's message to us
 * (RELAY_ID, RELAY_HANDSHAKE, RELAY_SEALED, ERROR from one of our relays). */
bool um_uplinks_receive(struct um_node *node, const struct um_addr *from, const uint8_t *data, size_t len);
/* Index of the uplink at addr, or -1. */
int um_uplink_find(const struct um_node *node, const struct um_addr *addr);
/* The registered uplink to reach peer through (its own choice, else the
 * home relay), or -1 when none is registered. */
int um_uplink_for_peer(const struct um_node *node, const struct um_node_peer *peer);
/* The uplink to answer peer's relayed handshake through when it came in on
 * `uplink`: the same relay's UDP line while traffic is on UDP. A node
 * registered over both lines of one relay has one entry there, bound to
 * its newer registration; answers over the wss:// line that a UDP
 * registration replaced reach nobody (the peer's route would follow the
 * handshake onto it and stay there). Copies the peer's handle across. */
unsigned um_uplink_answer_via(struct um_node *node, unsigned uplink, const struct um_node_peer *peer);
/* Sends payload to peer `dest` (configured) through uplink: FORWARD with
 * the peer's routing handle there, or, while that is being asked for, the
 * datagram waits (one per peer). */
int um_uplink_forward(struct um_node *node, unsigned uplink, const struct um_peer_id *dest, const uint8_t *payload,
		      size_t len);
/* The peer's routing handle at uplink's relay; 0 while unknown (then it is
 * asked for, at most once a second). */
uint64_t um_uplink_handle(struct um_node *node, unsigned uplink, const struct um_node_peer *peer);
/* The peer a FORWARDED's route field (32 bytes) names at uplink, or NULL
 * (then the relay is asked, at most once a second per uplink). */
struct um_node_peer *um_uplink_peer_by_route(struct um_node *node, unsigned uplink, const uint8_t route[32]);
/* Fills status->uplinks (n_uplinks == node->n_uplinks entries, from
 * um_node_status_init) and status->home. */
void um_uplinks_status_fill(const struct um_node *node, struct um_node_status *status);
/* Whether peer's relay path goes through a wss:// uplink (path "relay-tcp"). */
bool um_uplink_peer_tls(const struct um_node *node, const struct um_node_peer *peer);
/* The relay client's view of uplink (state, relay ID), NULL if none. */
const struct um_relay_client_uplink *um_uplink_client(const struct um_node *node, unsigned uplink);
/* The smoothed keepalive RTT to uplink (0: no sample yet). */
uint64_t um_uplink_rtt_ns(const struct um_node *node, unsigned uplink);

/* uplink_stream.c: open makes the loopback proxy (sets u->addr/sa) without
 * connecting; connect starts (and keeps) the connection; reconnect drops it
 * for a new one. The stream calls u->transport when the connection opens
 * or is lost. warm connects once without calling u->transport (the
 * policy's WARM_STREAM): a later connect finds it open and calls it at
 * once; disconnect closes it; it is not retried when it fails. */
int um_uplink_stream_open(struct um_node_uplink *u);
void um_uplink_stream_connect(struct um_node_uplink *u);
void um_uplink_stream_warm(struct um_node_uplink *u);
void um_uplink_stream_reconnect(struct um_node_uplink *u);
void um_uplink_stream_close(struct um_node_uplink *u);
/* Drops the connection and stops wanting it (UDP carries the traffic
 * again); the proxy stays, connect opens it again. */
void um_uplink_stream_disconnect(struct um_node_uplink *u);
bool um_uplink_stream_open_now(const struct um_node_uplink *u);
/* The tls_* part of a wss:// uplink's status (nothing without a stream). */
void um_uplink_stream_status_fill(const struct um_node_uplink *u, struct um_uplink_status *out);

#endif
