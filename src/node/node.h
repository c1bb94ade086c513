/* SPDX-License-Identifier: MIT */
/* The node: glue between the config, the handshake engine (session/), the
 * data plane (net/), the control socket (ctl/) and the event loop. It runs on
 * the control thread; the data plane's workers never call into it.
 *
 * Files: node.c (lifecycle, handshake I/O, key installation), peer.c (the
 * peer table: lookups by ID and data-plane slot, the peer state setter),
 * demux.c (incoming control datagrams to their handler by type), timers.c
 * (ALL timer policy: when to initiate, retry, rekey, send keepalives,
 * expire), status.c (the control-socket requests), uplink.c and
 * uplink_stream.c (registration with relays and the relay path), path.c
 * (direct paths), stun.c (our reflexive address from STUN servers). When
 * umbrad is also a relay, node.c starts relay/server.c.
 *
 * Relay-only (a config with [relay] and no [node]): no identity, engine,
 * data plane or peers; the node only runs the relay server and the control
 * socket. Everything below that touches peers checks node->dataplane. */
#ifndef UM_NODE_NODE_H
#define UM_NODE_NODE_H

#include <stdbool.h>
#include <stdint.h>

#include "crypto/identity.h"
#include "ctl/config.h"
#include "ctl/control.h"
#include "ctl/status.h"
#include "net/dataplane.h"
#include "net/loop.h"
#include "path/punch.h"
#include "path/stun_client.h"
#include "relay/client.h"
#include "relay/server.h"
#include "session/handshake.h"
#include "util/idmap.h"
#include "wire/path.h"

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

struct um_node_peer {
	struct um_node *node;
	const struct um_config_peer *config; /* borrowed from node->config */
	struct um_handshake_peer *hs;        /* owned by the engine */
	uint32_t dp_peer;                    /* data-plane slot */
	enum um_peer_state state;            /* only via um_peer_set_state */
	uint64_t state_changes;              /* transitions so far */

	struct um_addr endpoint; /* family 0 = unknown */

	/* Local indices of the data plane's key slots, mirrored so new
	 * handshakes never reuse one that is still installed. 0 = empty. */
	uint32_t index_current, index_previous, index_next;

	uint64_t session_created_ns;  /* current keypair; 0 = none */
	uint64_t next_installed_ns;   /* when index_next was installed */
	bool designated;              /* our ID sorts first: we initiate, the peer falls back */
	bool session_initiator;       /* our role in the current session */
	uint64_t last_handshake_ns;   /* any completed handshake; 0 = never */
	uint64_t initiated_ns;        /* when our last HELLO went out */
	uint64_t rtt_ns;              /* see timers.c: 0 = unknown */
	bool rtt_from_handshake;      /* rtt_ns is the coarse handshake estimate */
	uint64_t handshakes, rekeys;
	unsigned attempts;            /* failed initiations in a row (backoff) */
	uint64_t last_rx_seen_ns;     /* data plane's last_rx at the last tick */

	/* Relay path (uplink.c). */
	bool via_relay;          /* the data plane sends through uplink `relay` */
	int relay;               /* uplink for the relay path; -1 = the home relay */
	bool attempt_via_relay;  /* our last initiation went through a relay */
	unsigned direct_failures; /* initiations to the endpoint that timed out */
	unsigned relay_unknown;  /* ERROR "unknown peer" in a row (retry backoff) */
	bool retry_replaces;     /* retry_timer restarts a handshake in flight */

	struct um_node_path path; /* path.c */

	/* timers.c */
	struct um_timer retry_timer; /* start an initiation (first or retry) */
	struct um_timer rekey_timer; /* rotate keys */
	struct um_timer tick_timer;  /* keepalive, expiry, dead-peer checks */
};

/* The relay client's uplink states (relay/client.h), under the names
 * path.c and status.c use. */
enum um_uplink_state {
	UM_UPLINK_IDLE = UM_RELAY_CLIENT_IDLE,               /* wss:// uplink without a connection */
	UM_UPLINK_REGISTERING = UM_RELAY_CLIENT_REGISTERING, /* REGISTER sent (or waiting to retry) */
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
};

/* One configured STUN server (stun.c). */
struct um_node_stun {
	struct um_node *node;
	struct um_addr server;
	struct um_stun_transaction transaction; /* in flight (active) or the last one */
	bool active;
	struct um_timer timer; /* retransmissions while active, else the next transaction */
	struct um_addr mapped;   /* our reflexive address there; family 0 = none */
	uint64_t rtt_ns, last_answer_ns, started_ns;
	uint64_t transactions, answers, failures;
	unsigned failures_in_a_row;
	int last_error;
};

struct um_node {
	struct um_config config; /* owned */
	struct um_identity identity;
	struct um_loop *loop;
	struct um_handshake_engine *engine;
	struct um_dataplane *dataplane;
	struct um_control_server control;
	bool control_started;
	struct um_watch dp_watch;   /* data plane's control fd */
	struct um_timer hs_timer;   /* engine deadline */
	struct um_handshake_output *out; /* scratch for engine calls (large) */
	struct um_dp_control_msg *msg;   /* scratch for data-plane messages */
	struct um_node_peer *peers; /* n config.n_peers entries (peer.c) */
	size_t n_peers;
	struct um_idmap peer_ids;   /* peer ID -> index in peers */
	struct um_idmap peer_slots; /* data-plane slot -> index in peers */
	uint64_t demux_dropped;     /* datagrams of a type (or route) nobody handles (demux.c) */
	bool up;
	uint64_t started_ns;
	char ifname[16];

	struct um_relay_server *relay_server; /* owned; [relay] */
	struct um_node_uplink *uplinks;       /* owned; one per relay = line */
	size_t n_uplinks;
	int home, backup;                     /* copies of the relay client's, -1 = none */
	struct um_uplinks_engine *uplinks_engine; /* owned: relay client, its output and timer */

	struct um_node_stun *stun;            /* owned; one per stun = line */
	size_t n_stun;
};

/* Builds everything from config (taken over by the node: the caller must not
 * free it) and starts the data plane and the control socket on loop. On
 * failure everything done so far is undone and config is freed. */
int um_node_start(struct um_node *node, struct um_loop *loop, struct um_config *config);
/* Undoes um_node_start in reverse: no device, socket file or key left. */
void um_node_stop(struct um_node *node);

/* up: link up, routes, handshakes with every peer that has an endpoint.
 * down: sessions closed and keys wiped, link down. Idempotent. */
int um_node_up(struct um_node *node);
int um_node_down(struct um_node *node);

/* node.c: start a handshake to peer now (no-op without endpoint). */
int um_node_initiate(struct um_node_peer *peer);
/* node.c: send what the engine left in node->out. */
void um_node_flush_output(struct um_node *node);
/* node.c: the responder's `next` keys become current. */
void um_node_promote_next(struct um_node_peer *peer, bool confirmed);
/* node.c: wipe the peer's keys in the data plane (session over). */
void um_node_clear_session(struct um_node_peer *peer);

/* timers.c: the events the node reports; each decides what happens next. */
void um_timers_peer_init(struct um_node_peer *peer);
void um_timers_peer_cancel(struct um_node_peer *peer);
void um_timers_up(struct um_node_peer *peer);
void um_timers_handshake_initiated(struct um_node_peer *peer);
void um_timers_handshake_failed(struct um_node_peer *peer);
/* Either role (initiator or responder): the rekey period follows `designated`. */
void um_timers_session_established(struct um_node_peer *peer);
void um_timers_need_key(struct um_node_peer *peer);
void um_timers_engine_rearm(struct um_node *node);

/* status.c: the control socket handler. get fills one status snapshot
 * (ctl/status.h: each glue file its part, the *_status_fill functions) and
 * has ctl/ render it as text or JSON. */
int um_node_control(void *node, const struct um_control_request *req, struct um_control_reply *reply);

/* peer.c: the peer table. create allocates node->peers from node->config
 * (owned by the node until um_node_peers_free) and indexes them by ID;
 * set_slot records the peer's data-plane slot and indexes it. */
int um_node_peers_create(struct um_node *node);
int um_node_peer_set_slot(struct um_node_peer *peer, uint32_t slot);
void um_node_peers_free(struct um_node *node);
/* The configured peer with this ID (or data-plane slot), or NULL. The
 * pointer is borrowed: valid while the node runs. */
struct um_node_peer *um_node_peer_find(struct um_node *node, const struct um_peer_id *id);
struct um_node_peer *um_node_peer_by_slot(struct um_node *node, uint32_t slot);

/* peer.c: the one setter of peer->state. Refuses (-UM_ESTATE, logged) a
 * transition that um_peer_state_legal forbids; otherwise counts it in
 * peer->state_changes and logs old -> new and why (a static string) at
 * debug. Setting the current state is a no-op. */
int um_peer_set_state(struct um_node_peer *peer, enum um_peer_state state, const char *why);
bool um_peer_state_legal(enum um_peer_state from, enum um_peer_state to);
const char *um_peer_state_name(enum um_peer_state state);

/* demux.c: a datagram the data plane passed up (not DATA), to the handler
 * of its type; STUN answers are recognised before the table. */
void um_node_demux(struct um_node *node, const struct um_dp_control_msg *msg);
/* The name of the table row ("handshake", "relay", "path") that takes a
 * datagram of this first byte arriving this way, or NULL: dropped. */
const char *um_node_demux_route(uint8_t type, bool via_relay);
/* node.c, for demux.c: a handshake datagram (types 0x01..0x06) into the
 * engine; `from` is the sender, or the relay placeholder of a peer. */
void um_node_handshake_input(struct um_node *node, const struct um_addr *from, const uint8_t *data,
			     size_t len);

/* uplink.c: registration with the configured relays. */
int um_uplinks_start(struct um_node *node);
void um_uplinks_stop(struct um_node *node);
/* A datagram from the network: true when it was a relay's message to us
 * (REGISTER_ACK, KEEPALIVE reply, ERROR from one of our relays). */
bool um_uplinks_receive(struct um_node *node, const struct um_addr *from, const uint8_t *data, size_t len);
/* Index of the uplink at addr, or -1. */
int um_uplink_find(const struct um_node *node, const struct um_addr *addr);
/* The registered uplink to reach peer through (its own choice, else the
 * home relay), or -1 when none is registered. */
int um_uplink_for_peer(const struct um_node *node, const struct um_node_peer *peer);
/* Handshake datagrams to a peer through a relay use a placeholder
 * address the engine can carry around: 100::/64 (RFC 6666, discard-only,
 * never a real endpoint) with the peer slot inside and the uplink as port. */
void um_relay_addr_encode(struct um_addr *addr, size_t peer, unsigned uplink);
bool um_relay_addr_decode(const struct um_node *node, const struct um_addr *addr, size_t *peer,
			  unsigned *uplink);
/* Sends payload to peer `dest` through uplink (FORWARD). */
int um_uplink_forward(struct um_node *node, unsigned uplink, const struct um_peer_id *dest, const uint8_t *payload,
		      size_t len);
/* The FORWARD header the data plane prepends for peer (36 bytes). */
size_t um_uplink_forward_header(const struct um_node_peer *peer, uint8_t *out, size_t cap);
/* Fills status->uplinks (n_uplinks == node->n_uplinks entries, from
 * um_node_status_init) and status->home. */
void um_uplinks_status_fill(const struct um_node *node, struct um_node_status *status);
/* Whether peer's relay path goes through a wss:// uplink (path "relay-tcp"). */
bool um_uplink_peer_tls(const struct um_node *node, const struct um_node_peer *peer);

/* uplink_stream.c: the TLS/WebSocket transport of a wss:// uplink. open
 * makes the loopback proxy (sets u->addr/sa) without connecting; connect
 * starts (and keeps) the connection; reconnect drops it for a new one. */
struct um_uplink_stream;
int um_uplink_stream_open(struct um_node_uplink *u);
void um_uplink_stream_connect(struct um_node_uplink *u);
void um_uplink_stream_reconnect(struct um_node_uplink *u);
void um_uplink_stream_close(struct um_node_uplink *u);
bool um_uplink_stream_open_now(const struct um_node_uplink *u);
/* The tls_* part of a wss:// uplink's status (nothing without a stream). */
void um_uplink_stream_status_fill(const struct um_node_uplink *u, struct um_uplink_status *out);
/* uplink.c, from uplink_stream.c: the connection is open (register over
 * it) or lost (not usable until it is back). */
void um_uplink_transport_up(struct um_node_uplink *u);
void um_uplink_transport_down(struct um_node_uplink *u);

/* timers.c: a relay became usable (registered): peers without a session
 * that can go through it start (again). */
void um_timers_relay_ready(struct um_node_peer *peer);
/* timers.c: the relay does not know the peer (not registered yet): call
 * again soon, backing off, instead of waiting for retransmissions. */
void um_timers_relay_unknown_peer(struct um_node_peer *peer);

/* path.c: glue of the direct-path engine (path/punch.h: hole punching,
 * validation, migration, fallback). */
void um_path_peer_init(struct um_node_peer *peer);
/* A keypair was installed (keys only read: the path key is derived here). */
void um_path_session_installed(struct um_node_peer *peer, const struct um_keypair *keypair);
/* Session over or node down: keys wiped, timers stopped, state reset. */
void um_path_session_cleared(struct um_node_peer *peer);
/* A path datagram (0x26..0x28) from `from`; via_relay: forwarded by uplink. */
void um_path_receive(struct um_node *node, const struct um_addr *from, bool via_relay, int uplink,
		     const uint8_t *data, size_t len);
bool um_path_is_path_msg(const uint8_t *data, size_t len);
/* Our candidates changed (a STUN server reported a new reflexive address):
 * peers still on the relay get them (and a new attempt when the last one
 * failed). */
void um_path_local_candidates_changed(struct um_node *node);
/* Sends a PING probe over the path in use; *sequence identifies the answer. */
int um_path_ping(struct um_node_peer *peer, uint64_t *sequence);
void um_path_status_fill(const struct um_node_peer *peer, struct um_path_status *out);

/* stun.c: Binding transactions (path/stun_client.h) from the data plane's port (so the mapping
 * is the one peers reach), at start, every few minutes, and when a punch
 * starts with an old answer. No-ops without stun = lines. */
int um_node_stun_start(struct um_node *node);
void um_node_stun_stop(struct um_node *node);
/* A datagram from the network (not through a relay): true when it was the
 * answer of one of our transactions (STUN magic cookie, a server of ours
 * and our transaction ID), so it must go nowhere else. */
bool um_node_stun_receive(struct um_node *node, const struct sockaddr *from, socklen_t from_len,
			  const uint8_t *data, size_t len);
/* Starts a transaction at every server whose last answer (or attempt) is
 * older than max_age_ns, unless one is in flight. */
void um_node_stun_refresh(struct um_node *node, uint64_t max_age_ns);
/* Current reflexive addresses (answers not too old), at most cap. */
size_t um_node_stun_candidates(const struct um_node *node, struct um_addr *out, size_t cap);
void um_node_stun_status_fill(const struct um_node *node, struct um_stun_status *out);

#endif
