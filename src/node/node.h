/* SPDX-License-Identifier: MIT */
/* The node: glue between the config, the handshake engine (session/), the
 * data plane (net/), the control socket (ctl/) and the event loop. It runs on
 * the control thread; the data plane's workers never call into it.
 *
 * Files: node.c (lifecycle, handshake I/O, key installation), timers.c (ALL
 * timer policy: when to initiate, retry, rekey, send keepalives, expire),
 * control.c (the control-socket requests). */
#ifndef UM_NODE_NODE_H
#define UM_NODE_NODE_H

#include <stdbool.h>
#include <stdint.h>

#include "crypto/identity.h"
#include "ctl/config.h"
#include "ctl/control.h"
#include "net/dataplane.h"
#include "net/loop.h"
#include "session/handshake.h"

struct um_node;

enum um_peer_state {
	UM_PEER_IDLE,        /* no session, not trying (no endpoint, or down) */
	UM_PEER_HANDSHAKING, /* initiation in flight or waiting to retry */
	UM_PEER_ESTABLISHED, /* a current keypair is installed */
	UM_PEER_EXPIRED,     /* the session aged out; waiting for a new one */
};

struct um_node_peer {
	struct um_node *node;
	const struct um_config_peer *config; /* borrowed from node->config */
	struct um_handshake_peer *hs;        /* owned by the engine */
	uint32_t dp_peer;                    /* data-plane slot */
	enum um_peer_state state;

	struct um_wire_addr endpoint; /* family 0 = unknown */

	/* Local indices of the data plane's key slots, mirrored so new
	 * handshakes never reuse one that is still installed. 0 = empty. */
	uint32_t index_current, index_previous, index_next;

	uint64_t session_created_ns;  /* current keypair; 0 = none */
	uint64_t next_installed_ns;   /* when index_next was installed */
	uint64_t next_ring_full;      /* data plane's ring-full count at that time */
	bool designated;              /* our ID sorts first: we initiate, the peer falls back */
	bool session_initiator;       /* our role in the current session */
	uint64_t last_handshake_ns;   /* any completed handshake; 0 = never */
	uint64_t initiated_ns;        /* when our last HELLO went out */
	uint64_t rtt_ns;              /* see timers.c: 0 = unknown */
	bool rtt_from_handshake;      /* rtt_ns is the coarse handshake estimate */
	uint64_t handshakes, rekeys;
	unsigned attempts;            /* failed initiations in a row (backoff) */
	uint64_t last_rx_seen_ns;     /* data plane's last_rx at the last tick */

	/* timers.c */
	struct um_timer retry_timer; /* start an initiation (first or retry) */
	struct um_timer rekey_timer; /* rotate keys */
	struct um_timer tick_timer;  /* keepalive, expiry, dead-peer checks */
	struct um_timer promote_timer; /* responder: use `next` even unconfirmed */
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
	struct um_node_peer *peers; /* n config.n_peers entries */
	size_t n_peers;
	bool up;
	uint64_t started_ns;
	char ifname[16];
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
/* node.c: datagrams and events the data plane dropped on a full ring. */
uint64_t um_node_ring_full(struct um_node *node);
/* node.c: wipe the peer's keys in the data plane (session over). */
void um_node_clear_session(struct um_node_peer *peer);

/* timers.c: the events the node reports; each decides what happens next. */
void um_timers_peer_init(struct um_node_peer *peer);
void um_timers_peer_cancel(struct um_node_peer *peer);
void um_timers_up(struct um_node_peer *peer);
void um_timers_handshake_initiated(struct um_node_peer *peer);
void um_timers_handshake_failed(struct um_node_peer *peer);
void um_timers_session_established(struct um_node_peer *peer, bool initiator);
void um_timers_need_key(struct um_node_peer *peer);
void um_timers_next_installed(struct um_node_peer *peer);
void um_timers_next_promoted(struct um_node_peer *peer);
void um_timers_engine_rearm(struct um_node *node);

/* control.c: the control socket handler. */
int um_node_control(void *node, const struct um_control_request *req, struct um_control_reply *reply);

const char *um_peer_state_name(enum um_peer_state state);

#endif
