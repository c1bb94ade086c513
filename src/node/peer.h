/* SPDX-License-Identifier: MIT */
/* The peer table (peer.c): one entry per configured peer, found by peer ID
 * or data-plane slot through hash indexes, and the one setter of its state.
 * Bottom of node/: calls no other file of it. The route fields (endpoint,
 * via_relay, relay, direct_failures) are written only by um_peer_route_set
 * (route.c). */
#ifndef UM_NODE_PEER_H
#define UM_NODE_PEER_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "ctl/config.h"
#include "net/loop.h"
#include "path/punch.h"
#include "session/handshake.h"
#include "session/timers.h"
#include "util/addr.h"

struct um_node;

/* Per-peer direct-path state: the engine's (path/punch.h) and its one
 * timer, armed at the engine's next deadline (node/path.c). */
struct um_node_path {
	struct um_punch punch;
	struct um_timer timer;
};

enum um_peer_state {
	UM_PEER_IDLE,        /* no session, not trying (no endpoint, or down) */
	UM_PEER_HANDSHAKING, /* initiation in flight or waiting to retry */
	UM_PEER_ESTABLISHED, /* a current keypair is installed */
	UM_PEER_EXPIRED,     /* the session aged out; waiting for a new one */
	UM_PEER_STATES
};

/* How long connection setup took (session.c, for status): times of our
 * initiation in flight, and what the handshake that produced the current
 * session measured. */
struct um_node_setup {
	uint64_t hello_ns;    /* our initiation in flight: its first HELLO; 0 = none */
	uint64_t reply_ns;    /* its first answer the engine took; 0 = none yet */
	uint64_t hello_in_ns; /* the first HELLO from the peer we answered lately; 0 = none */
	uint64_t first_ns;    /* the first HELLO of the first of `initiations`; 0 = none */
	unsigned initiations; /* initiations since the last session came up */
	/* The current session's handshake (valid once has_session): */
	bool has_session, initiator;
	uint64_t took_ns;          /* responder: from hello_in_ns; UINT64_MAX = unknown */
	uint64_t reply_took_ns;    /* initiator only; UINT64_MAX = unknown */
	uint64_t total_ns;         /* from first_ns (else took_ns); UINT64_MAX = unknown */
	unsigned took_initiations; /* ours it took, this one included */
};

struct um_node_peer {
	struct um_node *node;
	const struct um_config_peer *config; /* borrowed from node->config */
	struct um_handshake_peer *hs;        /* owned by the engine */
	uint32_t dp_peer;                    /* data-plane slot */
	enum um_peer_state state;            /* only via um_peer_set_state */
	uint64_t state_changes;              /* transitions so far */

	struct um_addr endpoint; /* family 0 = unknown; only via um_peer_route_set */

	/* Local indices of the data plane's key slots, mirrored so new
	 * handshakes never reuse one that is still installed. 0 = empty. */
	uint32_t index_current, index_previous, index_next;
	uint32_t index_superseded; /* the data plane's superseded slot (crossed rekeys) */

	uint64_t session_created_ns; /* current keypair; 0 = none */
	uint32_t index_answered;     /* the last session we installed as responder */
	uint64_t next_installed_ns;  /* when index_answered was installed */
	bool designated;             /* our ID sorts first: we initiate, the peer falls back */
	bool session_initiator;      /* our role in the current session */
	uint64_t last_handshake_ns;  /* any completed handshake; 0 = never */
	uint64_t rtt_ns;             /* see node/session.h: 0 = unknown */
	bool rtt_from_handshake;     /* rtt_ns is the coarse handshake estimate */
	bool path_deferred;          /* `next` is a crossed session the path was not keyed to */
	bool early_receive;          /* index_previous: our first session's keys, receive only, until ESTABLISHED */
	uint64_t handshakes, rekeys;
	uint64_t last_rx_seen_ns; /* data plane's last_rx at the last tick */

	/* Relay path (route.c writes these four, uplink.c picks the uplink). */
	bool via_relay;           /* the data plane sends through uplink `relay` */
	int relay;                /* uplink for the relay path; -1 = the home relay */
	bool attempt_via_relay;   /* our last initiation went through a relay */
	unsigned direct_failures; /* initiations to the endpoint that timed out */

	struct um_node_path path; /* path.c */

	/* session.c: the timer policy (session/timers.h) and its one timer,
	 * armed at the policy's next deadline. */
	struct um_session_timers timers;
	struct um_timer session_timer;
	struct um_node_setup setup; /* session.c */
	/* session.c: the keepalive that confirms a session we initiated,
	 * repeated while nothing came back (a lost one leaves a first-time
	 * responder without keys to send with). */
	struct um_timer confirm_timer;
	unsigned confirm_left;
	uint32_t confirm_index; /* index_current it confirms */
};

/* create allocates node->peers from node->config (owned by the node until
 * um_node_peers_free) and indexes them by ID; set_slot records the peer's
 * data-plane slot and indexes it. */
int um_node_peers_create(struct um_node *node);
int um_node_peer_set_slot(struct um_node_peer *peer, uint32_t slot);
void um_node_peers_free(struct um_node *node);
/* The configured peer with this ID (or data-plane slot), or NULL. The
 * pointer is borrowed: valid while the node runs. */
struct um_node_peer *um_node_peer_find(struct um_node *node, const struct um_peer_id *id);
struct um_node_peer *um_node_peer_by_slot(struct um_node *node, uint32_t slot);

/* The one setter of peer->state. Refuses (-UM_ESTATE, logged) a transition
 * that um_peer_state_legal forbids; otherwise counts it in
 * peer->state_changes and logs old -> new and why (a static string) at
 * debug. Setting the current state is a no-op. */
int um_peer_set_state(struct um_node_peer *peer, enum um_peer_state state, const char *why);
bool um_peer_state_legal(enum um_peer_state from, enum um_peer_state to);
const char *um_peer_state_name(enum um_peer_state state);

#endif
