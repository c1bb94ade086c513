/* SPDX-License-Identifier: MIT */
/* The relay client: a node's registrations with its relays, free of I/O.
 * The caller (node/uplink.c) owns the sockets, the TLS transports and the
 * timer; it feeds relay datagrams, transport changes and the clock in, and
 * gets datagrams to send and events out. One engine per node, used from
 * one thread. Typical use from an event loop:
 *
 *   um_relay_client_init(&client, &config);
 *   um_relay_client_start(&client, now);
 *   on a datagram from uplink i's relay (0x20 .. 0x25):
 *       um_relay_client_input(&client, i, data, len, now, wall_ms);
 *   on wss:// uplink i's connection opening / closing:
 *       um_relay_client_transport_up(&client, i) / _down(&client, i);
 *   after any of these, and on a timer at um_relay_client_next_deadline():
 *       while (um_relay_client_tick(&client, now, wall_ms, out) > 0)
 *           send out->datagrams to uplink out->uplink; act on out->event
 *   um_relay_client_destroy(&client) at the end.
 *
 * Per uplink (wire version 3, wire/relay.h): the relay's peer ID is pinned
 * in the config or, without one, asked for once (RELAY_ID) and kept for
 * the engine's lifetime (trust on first use: EVENT_ID_LEARNED; a relay
 * later answering another ID is refused, EVENT_ID_REFUSED). Registration
 * is an umbra handshake to that ID (a handshake engine per uplink, node
 * identity, initiator; its datagrams wrapped in RELAY_HANDSHAKE), then a
 * sealed REGISTER, retried every second, until the sealed ACK; then a
 * sealed KEEPALIVE right away, before any event (it echoes the ACK's
 * challenge, which binds our endpoint at the relay) and every keepalive
 * period (the relay's advertised interval, at most
 * config.keepalive_max_ns). A reply carrying a challenge (the relay saw us
 * at a new endpoint) is echoed at once. Attempts back off 1 s .. 8 s (plus
 * up to 1/8 jitter) after a failed handshake. Three unanswered keepalives
 * (RELAY_LOST) or a sealed NOT_REGISTERED start a new registration.
 * Unsealed ERRORs are hints only: a NOT_REGISTERED whose ref is the hash
 * of our last sealed datagram starts a new handshake in the background
 * while the registration stays up (a refresh); other hints are counted.
 * Whatever the cause, an uplink starts at most one handshake per second. A
 * wss:// uplink whose relay does not answer (4 attempts, or lost) asks
 * for a new connection instead (RECONNECT) and waits for transport_up.
 *
 * Home and backup: among registered uplinks any UDP one ranks before a
 * wss:// one, then the lower smoothed RTT; a new home must be 20% faster
 * than the current one (no flapping). With more than two registered, the
 * others are parked (STANDBY, no keepalives) until home or backup fails.
 *
 * Fallback: wss:// uplinks stay IDLE until the caller connects them
 * (transport_up): its transport policy (relay/transport.h) decides when,
 * and asks for UDP attempts while on TLS (um_relay_client_probe). */
#ifndef UM_RELAY_CLIENT_H
#define UM_RELAY_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"
#include "session/handshake.h"
#include "wire/fragment.h"
#include "wire/relay.h"

enum {
	UM_RELAY_CLIENT_MAX_UPLINKS = 8,
	UM_RELAY_CLIENT_MAX_DATAGRAMS = UM_FRAG_MAX_COUNT + 1, /* a message in pieces and its parity piece */
	UM_RELAY_CLIENT_DATAGRAM_BYTES = UM_RELAY_HANDSHAKE_MAX_BYTES,
	UM_RELAY_CLIENT_MAX_EVENTS = 32,  /* queued between two ticks */
	UM_RELAY_CLIENT_MAX_REQUESTS = 8, /* LOOKUP/RESOLVE queued per uplink */
};

enum um_relay_client_state {
	UM_RELAY_CLIENT_IDLE,        /* wss:// uplink without a connection: nothing is sent */
	UM_RELAY_CLIENT_REGISTERING, /* asking the ID, handshaking or REGISTER sent (or waiting to retry) */
	UM_RELAY_CLIENT_REGISTERED,  /* acknowledged: keepalives running */
	UM_RELAY_CLIENT_STANDBY,     /* registered once, parked: not home or backup */
};

enum um_relay_client_event {
	UM_RELAY_CLIENT_EVENT_NONE,
	UM_RELAY_CLIENT_EVENT_STATE,          /* uplink's state: old_state -> new_state */
	UM_RELAY_CLIENT_EVENT_REGISTERED,     /* ACK taken: observed (as the ACK says), keepalive_ns; refreshed */
	UM_RELAY_CLIENT_EVENT_HOME,           /* home and/or backup changed (old_home was before) */
	UM_RELAY_CLIENT_EVENT_NO_ANSWER,      /* 3 attempts unanswered, still trying */
	UM_RELAY_CLIENT_EVENT_RELAY_LOST,     /* `missed` keepalives unanswered: registering again */
	UM_RELAY_CLIENT_EVENT_NOT_REGISTERED, /* the relay forgot us: registering again */
	UM_RELAY_CLIENT_EVENT_UNKNOWN_PEER,   /* FORWARD to `peer` refused: not registered there */
	UM_RELAY_CLIENT_EVENT_RELAY_ERROR,    /* any other ERROR: code, retry_after_s */
	UM_RELAY_CLIENT_EVENT_OBSERVED,       /* our endpoint at the relay is now `observed` */
	UM_RELAY_CLIENT_EVENT_RECONNECT,      /* wss:// uplink silent: drop its connection for a new one */
	UM_RELAY_CLIENT_EVENT_ID_LEARNED,     /* no pinned ID: the relay said `relay_id` (first contact) */
	UM_RELAY_CLIENT_EVENT_ID_REFUSED,     /* the relay now says `relay_id`, not the ID we hold: refused */
	UM_RELAY_CLIENT_EVENT_REFRESH,        /* a NOT_REGISTERED hint: re-registering in the background */
	UM_RELAY_CLIENT_EVENT_HANDLE,         /* LOOKUP answered: `peer` is `handle` there (found), or not there */
	UM_RELAY_CLIENT_EVENT_ANNOUNCE,       /* the relay says `handle` names `peer` (it will send from it) */
	UM_RELAY_CLIENT_EVENT_UNKNOWN_HANDLE, /* the relay does not know `handle` (any more): look up again */
};

struct um_relay_client_config {
	/* Borrowed: must stay valid (and unchanged) while the engine lives. */
	const struct um_identity *identity;
	const uint8_t *admission_key;             /* UM_RELAY_ADMISSION_KEY_BYTES, copied; NULL = none */
	uint64_t keepalive_max_ns;                /* 0 = the relay's advertised interval */
	unsigned n_uplinks;                       /* <= UM_RELAY_CLIENT_MAX_UPLINKS */
	bool stream[UM_RELAY_CLIENT_MAX_UPLINKS]; /* wss:// uplink (transport comes and goes) */
	/* The relay's pinned peer ID; false = learn it on first contact. */
	bool has_relay_id[UM_RELAY_CLIENT_MAX_UPLINKS];
	struct um_peer_id relay_id[UM_RELAY_CLIENT_MAX_UPLINKS];
};

/* Keys of one handshake with the relay (SECRET: wiped when replaced). */
struct um_relay_client_session {
	bool valid;
	uint32_t local_index, remote_index;
	uint8_t send_key[UM_RELAY_KEY_BYTES], recv_key[UM_RELAY_KEY_BYTES];
	uint64_t send_counter;
	struct um_relay_window window;
};

/* A LOOKUP or RESOLVE waiting for the next tick. */
struct um_relay_client_request {
	uint8_t kind; /* UM_RELAY_CTL_LOOKUP or _RESOLVE */
	struct um_peer_id peer;
	uint64_t handle;
};

/* One uplink's state; read-only outside client.c (status, tests). */
struct um_relay_client_uplink {
	enum um_relay_client_state state;
	bool stream, transport_open;
	/* The relay's identity: pinned, or learned on first contact. */
	struct um_peer_id relay_id;
	bool has_relay_id, relay_id_pinned;
	uint8_t id_nonce[UM_RELAY_NONCE_BYTES]; /* of the RELAY_ID request in flight */
	bool id_outstanding;
	/* The handshake with the relay: an engine per uplink (owned). */
	struct um_handshake_engine *hs;
	struct um_handshake_peer *hs_peer;
	bool hs_running; /* an initiation in flight */
	bool refreshing; /* ...started while REGISTERED: `cur` stays in use until its ACK */
	/* cur: the registered session; next: a handshake done, its REGISTER
	 * not yet acknowledged. */
	struct um_relay_client_session cur, next;
	bool register_due; /* send the sealed REGISTER under `next` now */
	unsigned register_sends;
	uint64_t register_sent_ns; /* of the first sealed REGISTER (RTT sample to the ACK) */
	unsigned register_attempts;
	uint64_t last_register_ns;              /* last handshake started (or ID asked) */
	bool registered_before;                 /* last_register_ns is set */
	uint8_t echo[UM_RELAY_CHALLENGE_BYTES]; /* the relay's challenge to echo */
	bool echo_due;                          /* send a keepalive echoing it now */
	/* The echo went out and no keepalive reply came since: the relay has
	 * not bound us (or its reply was lost). Until then it forwards
	 * nothing to us, so the echo is resent at RTT pace, not at the
	 * keepalive interval (25 s). */
	bool echo_unconfirmed;
	unsigned echo_resends;
	uint8_t last_hash[UM_RELAY_HASH_BYTES]; /* of our last sealed datagram: matches a NOT_REGISTERED hint */
	uint64_t keepalive_ns;                  /* our keepalive period */
	uint64_t ka_sequence, ka_sent_ns;
	bool ka_outstanding;
	unsigned ka_missed;
	uint64_t last_reply_ns; /* ACK or keepalive reply; 0 = none */
	uint64_t registered_ns;
	uint64_t rtt_ns;         /* smoothed; 0 = no sample */
	struct um_addr observed; /* our endpoint as the relay sees it (UDP only) */
	uint64_t due_ns;         /* next timed work; UINT64_MAX = none */
	struct um_relay_client_request requests[UM_RELAY_CLIENT_MAX_REQUESTS];
	unsigned n_requests;
	uint64_t registrations, errors, unknown_peer, transitions, ignored, hints, id_refused, version_errors;
	uint64_t lookups, announces, unknown_handles;
	/* LOOKUPs sent behind a REGISTER, and refused because that REGISTER
	 * had not arrived (sent again once registered). */
	uint64_t early_lookups, early_refused;
};

struct um_relay_client_event_entry {
	enum um_relay_client_event type;
	unsigned uplink;
	enum um_relay_client_state old_state, new_state;
	int home, backup, old_home;
	uint8_t code;
	uint16_t retry_after_s;
	unsigned missed;
	uint64_t keepalive_ns;
	struct um_peer_id peer;     /* UNKNOWN_PEER, HANDLE, ANNOUNCE */
	uint64_t handle;            /* HANDLE (0: not found), ANNOUNCE, UNKNOWN_HANDLE */
	bool refreshed;             /* REGISTERED: a new session beside a live registration */
	struct um_peer_id relay_id; /* ID_LEARNED, ID_REFUSED */
	struct um_addr observed;
};

struct um_relay_client_stats {
	uint64_t illegal_transitions; /* refused by the state setter */
	uint64_t events_dropped;      /* queue full (a caller that does not tick) */
	uint64_t register_failures;   /* a handshake or REGISTER could not be started */
};

/* Handshake datagrams an input produced (a RESPONSE), sent at the next
 * tick; a second input before it replaces them (the engine resends). */
struct um_relay_client_queue {
	unsigned uplink, n;
	uint16_t lengths[UM_RELAY_CLIENT_MAX_DATAGRAMS];
	uint8_t datagrams[UM_RELAY_CLIENT_MAX_DATAGRAMS][UM_RELAY_CLIENT_DATAGRAM_BYTES];
};

struct um_relay_client {
	const struct um_identity *identity;
	uint8_t admission_key[UM_RELAY_ADMISSION_KEY_BYTES];
	bool has_admission_key;
	uint64_t keepalive_max_ns;
	unsigned n_uplinks;
	struct um_relay_client_uplink uplinks[UM_RELAY_CLIENT_MAX_UPLINKS];
	int home, backup; /* uplink indices, -1 = none */
	struct um_relay_client_event_entry events[UM_RELAY_CLIENT_MAX_EVENTS];
	unsigned event_head, event_count;
	struct um_relay_client_event_entry event_overflow; /* scratch for a lost event */
	struct um_relay_client_stats stats;
	struct um_handshake_output *hs_out;  /* owned scratch (holds keys briefly) */
	struct um_relay_client_queue *queue; /* owned */
};

/* What one tick returns: datagrams for `uplink`, or one event (event
 * fields in `detail`, uplink = detail.uplink). */
struct um_relay_client_output {
	unsigned uplink;
	unsigned n_datagrams;
	uint16_t lengths[UM_RELAY_CLIENT_MAX_DATAGRAMS];
	uint8_t datagrams[UM_RELAY_CLIENT_MAX_DATAGRAMS][UM_RELAY_CLIENT_DATAGRAM_BYTES];
	enum um_relay_client_event event;
	struct um_relay_client_event_entry detail;
};

/* Every uplink IDLE, nothing due. config is copied (identity stays
 * borrowed). Allocates a handshake engine per uplink: 0, -UM_EINVAL or
 * -UM_ENOMEM (nothing left allocated). Free with um_relay_client_destroy. */
int um_relay_client_init(struct um_relay_client *client, const struct um_relay_client_config *config);
/* Wipes the session keys and frees the engines. Safe on a zeroed client. */
void um_relay_client_destroy(struct um_relay_client *client);
/* UDP uplinks start registering (due now); wss:// uplinks wait for
 * transport_up. */
void um_relay_client_start(struct um_relay_client *client, uint64_t now);
/* A datagram from uplink's relay (RELAY_ID reply, RELAY_HANDSHAKE,
 * RELAY_SEALED, ERROR); only read during the call. 0 when taken,
 * -UM_EINVAL/-UM_ETRUNC when malformed or not a relay-to-node message,
 * -UM_ESTATE when unexpected now, -UM_EBADMSG/-UM_EREPLAY when it does not
 * open or match what we sent (stale or forged), or the handshake engine's
 * code. A dropped datagram changes no state. */
int um_relay_client_input(struct um_relay_client *client, unsigned uplink, const uint8_t *data, size_t len,
			  uint64_t now, uint64_t wall_ms);
/* wss:// uplink's connection opened (register over it) or closed (not
 * usable until it is back). -UM_EINVAL for a UDP uplink (counted as an
 * illegal transition when it would change the state). */
int um_relay_client_transport_up(struct um_relay_client *client, unsigned uplink, uint64_t now);
int um_relay_client_transport_down(struct um_relay_client *client, unsigned uplink, uint64_t now);
/* Timed work and queued events: returns 1 when out holds datagrams or an
 * event (call again), 0 when nothing more is due now. wall_ms stamps
 * HELLOs. out is caller-owned (about 17 KB); reset by each call. */
int um_relay_client_tick(struct um_relay_client *client, uint64_t now, uint64_t wall_ms,
			 struct um_relay_client_output *out);
/* Monotonic time of the next tick with work (now or earlier when events
 * are queued; UINT64_MAX: none). */
uint64_t um_relay_client_next_deadline(const struct um_relay_client *client);
/* The first registered uplink after `uplink` (wrapping around, itself
 * last), or -1: where to try a peer the relay does not know. */
int um_relay_client_next_registered(const struct um_relay_client *client, unsigned uplink);
bool um_relay_client_usable(const struct um_relay_client *client, unsigned uplink);
/* The transport policy says try UDP now (PROBE_UDP): a UDP uplink that is
 * registering makes its next attempt now (at most one handshake per second
 * still; a handshake in flight keeps its own retransmissions); a
 * registered one sends a keepalive now unless one is outstanding. 0,
 * -UM_EINVAL for a wss:// uplink or one out of range. */
int um_relay_client_probe(struct um_relay_client *client, unsigned uplink, uint64_t now);
/* Routing handles (wire/relay.h): asks uplink's relay, sealed, for peer's
 * handle (LOOKUP; EVENT_HANDLE answers) or whom a handle names (RESOLVE;
 * EVENT_ANNOUNCE answers), at the next tick. A LOOKUP asked while the
 * uplink registers also goes right behind each REGISTER, so its answer
 * follows the ACK. A request already queued is not queued twice. 0,
 * -UM_ESTATE when neither registered nor (for a LOOKUP) registering,
 * -UM_ELIMIT when UM_RELAY_CLIENT_MAX_REQUESTS are queued. */
int um_relay_client_lookup(struct um_relay_client *client, unsigned uplink, const struct um_peer_id *peer);
int um_relay_client_resolve(struct um_relay_client *client, unsigned uplink, uint64_t handle);
const char *um_relay_client_state_name(enum um_relay_client_state state);

#endif
