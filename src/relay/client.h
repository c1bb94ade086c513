/* SPDX-License-Identifier: MIT */
/* The relay client: a node's registrations with its relays, free of I/O.
 * The caller (node/uplink.c) owns the sockets, the TLS transports and the
 * timer; it feeds relay datagrams, transport changes and the clock in, and
 * gets datagrams to send and events out. One engine per node, used from
 * one thread. Typical use from an event loop:
 *
 *   um_relay_client_init(&client, &config);
 *   um_relay_client_start(&client, now);
 *   on a datagram from uplink i's relay (0x21 .. 0x25):
 *       um_relay_client_input(&client, i, data, len, now);
 *   on wss:// uplink i's connection opening / closing:
 *       um_relay_client_transport_up(&client, i) / _down(&client, i);
 *   after any of these, and on a timer at um_relay_client_next_deadline():
 *       while (um_relay_client_tick(&client, now, wall_ms, out) > 0)
 *           send out->datagrams to uplink out->uplink; act on out->event
 *   (taking `now` afresh for every tick call: see register_sent_ns).
 *
 * Per uplink: REGISTER (signed, sent in FRAGMENTs) retried after 1 s,
 * doubling up to 8 s with up to 1/8 jitter, until the REGISTER_ACK with our
 * nonce and a valid MAC arrives; then a KEEPALIVE right away, before any
 * event (it echoes the ACK's challenge, which binds our endpoint at the
 * relay, and gives a clean RTT sample) and every keepalive period (the
 * relay's advertised interval, at most config.keepalive_max_ns). A reply
 * carrying a challenge (the relay saw us at a new endpoint) is echoed at
 * once. Three unanswered keepalives (RELAY_LOST) or an ERROR "not
 * registered" whose ref is the hash of our last keepalive (NOT_REGISTERED;
 * others are ignored) start a new registration. Whatever the cause, an
 * uplink sends at most one REGISTER per second. A
 * wss:// uplink whose relay does not answer (4 REGISTERs, or lost) asks
 * for a new connection instead (RECONNECT) and waits for transport_up.
 *
 * Home and backup: among registered uplinks any UDP one ranks before a
 * wss:// one, then the lower smoothed RTT; a new home must be 20% faster
 * than the current one (no flapping). With more than two registered, the
 * others are parked (STANDBY, no keepalives) until home or backup fails.
 *
 * Fallback: wss:// uplinks stay IDLE until no UDP uplink has registered
 * 0.5 s after start (at once when all are wss://; checked again every 5 s
 * while UDP works); then OPEN_STREAMS asks the caller to connect them. */
#ifndef UM_RELAY_CLIENT_H
#define UM_RELAY_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"
#include "wire/fragment.h"
#include "wire/relay.h"

enum {
	UM_RELAY_CLIENT_MAX_UPLINKS = 8,
	UM_RELAY_CLIENT_MAX_DATAGRAMS = UM_FRAG_MAX_COUNT,
	UM_RELAY_CLIENT_MAX_EVENTS = 32, /* queued between two ticks */
};

enum um_relay_client_state {
	UM_RELAY_CLIENT_IDLE,        /* wss:// uplink without a connection: nothing is sent */
	UM_RELAY_CLIENT_REGISTERING, /* REGISTER sent (or waiting to retry) */
	UM_RELAY_CLIENT_REGISTERED,  /* acknowledged: keepalives running */
	UM_RELAY_CLIENT_STANDBY,     /* registered once, parked: not home or backup */
};

enum um_relay_client_event {
	UM_RELAY_CLIENT_EVENT_NONE,
	UM_RELAY_CLIENT_EVENT_STATE,          /* uplink's state: old_state -> new_state */
	UM_RELAY_CLIENT_EVENT_REGISTERED,     /* ACK taken: observed (as the ACK says), keepalive_ns */
	UM_RELAY_CLIENT_EVENT_HOME,           /* home and/or backup changed (old_home was before) */
	UM_RELAY_CLIENT_EVENT_NO_ANSWER,      /* 3 REGISTERs unanswered, still trying */
	UM_RELAY_CLIENT_EVENT_RELAY_LOST,     /* `missed` keepalives unanswered: registering again */
	UM_RELAY_CLIENT_EVENT_NOT_REGISTERED, /* the relay forgot us: registering again */
	UM_RELAY_CLIENT_EVENT_UNKNOWN_PEER,   /* FORWARD to `peer` refused: not registered there */
	UM_RELAY_CLIENT_EVENT_RELAY_ERROR,    /* any other ERROR: code, retry_after_s */
	UM_RELAY_CLIENT_EVENT_OBSERVED,       /* our endpoint at the relay is now `observed` */
	UM_RELAY_CLIENT_EVENT_OPEN_STREAMS,   /* no UDP relay answers: connect the wss:// uplinks */
	UM_RELAY_CLIENT_EVENT_RECONNECT,      /* wss:// uplink silent: drop its connection for a new one */
};

struct um_relay_client_config {
	/* Borrowed: must stay valid (and unchanged) while the engine lives. */
	const struct um_identity *identity;
	const uint8_t *admission_key;             /* UM_RELAY_ADMISSION_KEY_BYTES, copied; NULL = none */
	uint64_t keepalive_max_ns;                /* 0 = the relay's advertised interval */
	unsigned n_uplinks;                       /* <= UM_RELAY_CLIENT_MAX_UPLINKS */
	bool stream[UM_RELAY_CLIENT_MAX_UPLINKS]; /* wss:// uplink (transport comes and goes) */
};

/* One uplink's state; read-only outside client.c (status, tests). */
struct um_relay_client_uplink {
	enum um_relay_client_state state;
	bool stream, transport_open;
	uint8_t nonce[UM_RELAY_NONCE_BYTES]; /* of the REGISTER in flight */
	/* Set by the call after the tick that returned the REGISTER (the
	 * caller sends in between), so the RTT excludes the signing. */
	uint64_t register_sent_ns;
	bool register_unstamped;
	unsigned register_attempts;
	uint64_t last_register_ns; /* tick that built the last REGISTER */
	bool registered_before;    /* last_register_ns is set */
	/* The registration's X25519 key pair (secret wiped once the ACK is
	 * taken) and the MAC key both sides derive: it never travels. */
	uint8_t ephemeral_secret[UM_RELAY_X25519_BYTES], ephemeral_public[UM_RELAY_X25519_BYTES];
	uint8_t key[UM_RELAY_KEY_BYTES];
	uint8_t echo[UM_RELAY_CHALLENGE_BYTES]; /* the relay's challenge to echo */
	bool echo_due;                          /* send a keepalive echoing it now */
	uint8_t ka_hash[UM_RELAY_HASH_BYTES];   /* of the last keepalive: authenticates NOT_REGISTERED */
	uint64_t keepalive_ns;                  /* our keepalive period */
	uint64_t ka_sequence, ka_sent_ns;
	bool ka_outstanding;
	unsigned ka_missed;
	uint64_t last_reply_ns; /* ACK or keepalive reply; 0 = none */
	uint64_t registered_ns;
	uint64_t rtt_ns;         /* smoothed; 0 = no sample */
	struct um_addr observed; /* our endpoint as the relay sees it (UDP only) */
	uint64_t due_ns;         /* next timed work; UINT64_MAX = none */
	uint64_t registrations, errors, unknown_peer, transitions, ignored;
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
	struct um_peer_id peer;
	struct um_addr observed;
};

struct um_relay_client_stats {
	uint64_t illegal_transitions; /* refused by the state setter */
	uint64_t events_dropped;      /* queue full (a caller that does not tick) */
	uint64_t register_failures;   /* REGISTER could not be built */
};

struct um_relay_client {
	const struct um_identity *identity;
	uint8_t admission_key[UM_RELAY_ADMISSION_KEY_BYTES];
	bool has_admission_key;
	uint64_t keepalive_max_ns;
	unsigned n_uplinks;
	struct um_relay_client_uplink uplinks[UM_RELAY_CLIENT_MAX_UPLINKS];
	int home, backup;         /* uplink indices, -1 = none */
	uint64_t fallback_due_ns; /* UINT64_MAX = no check pending */
	struct um_relay_client_event_entry events[UM_RELAY_CLIENT_MAX_EVENTS];
	unsigned event_head, event_count;
	struct um_relay_client_event_entry event_overflow; /* scratch for a lost event */
	struct um_relay_client_stats stats;
	uint8_t register_buf[UM_RELAY_REGISTER_MAX_BYTES];
};

/* What one tick returns: datagrams for `uplink`, or one event (event
 * fields in `detail`, uplink = detail.uplink). */
struct um_relay_client_output {
	unsigned uplink;
	unsigned n_datagrams;
	uint16_t lengths[UM_RELAY_CLIENT_MAX_DATAGRAMS];
	uint8_t datagrams[UM_RELAY_CLIENT_MAX_DATAGRAMS][UM_HS_MAX_DATAGRAM];
	enum um_relay_client_event event;
	struct um_relay_client_event_entry detail;
};

/* Every uplink IDLE, nothing due. config is copied (identity stays
 * borrowed). 0 or -UM_EINVAL. Holds no resources: nothing to destroy. */
int um_relay_client_init(struct um_relay_client *client, const struct um_relay_client_config *config);
/* UDP uplinks start registering (due now); the fallback check for wss://
 * uplinks is armed. */
void um_relay_client_start(struct um_relay_client *client, uint64_t now);
/* A datagram from uplink's relay (REGISTER_ACK, KEEPALIVE reply, ERROR);
 * only read during the call. 0 when taken, -UM_EINVAL/-UM_ETRUNC when
 * malformed or not a relay-to-node message, -UM_ESTATE when unexpected now,
 * -UM_EBADMSG when it does not match what we sent (nonce, MAC, sequence, NOT_REGISTERED ref:
 * stale or forged). A dropped datagram changes no state. */
int um_relay_client_input(struct um_relay_client *client, unsigned uplink, const uint8_t *data, size_t len,
			  uint64_t now);
/* wss:// uplink's connection opened (register over it) or closed (not
 * usable until it is back). -UM_EINVAL for a UDP uplink (counted as an
 * illegal transition when it would change the state). */
int um_relay_client_transport_up(struct um_relay_client *client, unsigned uplink, uint64_t now);
int um_relay_client_transport_down(struct um_relay_client *client, unsigned uplink, uint64_t now);
/* Timed work and queued events: returns 1 when out holds datagrams or an
 * event (call again), 0 when nothing more is due now. wall_ms stamps
 * REGISTERs. out is caller-owned (about 17 KB); reset by each call. */
int um_relay_client_tick(struct um_relay_client *client, uint64_t now, uint64_t wall_ms,
			 struct um_relay_client_output *out);
/* Monotonic time of the next tick with work (now or earlier when events
 * are queued; UINT64_MAX: none). */
uint64_t um_relay_client_next_deadline(const struct um_relay_client *client);
/* The first registered uplink after `uplink` (wrapping around, itself
 * last), or -1: where to try a peer the relay does not know. */
int um_relay_client_next_registered(const struct um_relay_client *client, unsigned uplink);
bool um_relay_client_usable(const struct um_relay_client *client, unsigned uplink);
const char *um_relay_client_state_name(enum um_relay_client_state state);

#endif
