/* SPDX-License-Identifier: MIT */
/* Direct paths to one peer (issue 5): candidates, hole punching, probe
 * validation, migration to the direct path, health probes, fallback to the
 * relay and retry, and `umbra ping` probes. The design and its reasons are
 * in docs/ARCHITECTURE.md "Direct paths"; the messages in wire/path.h.
 *
 * I/O free, like session/handshake.h: the caller (node/path.c) feeds
 * datagrams, session events and the clock in, and gets datagrams to send
 * (to an address, or through the relay), events to apply and the next
 * deadline out. No sockets, timers, globals or logging; one struct
 * um_punch per peer, owned by the caller's peer record, used from one
 * thread.
 *
 *   um_punch_init(p, &config);
 *   on every call: fill a struct um_punch_env (now, whether the data plane
 *   sends through a relay, its direct endpoint, ...), pass an output, then
 *   send out->datagrams, apply out->events in order, and when
 *   out->candidates_wanted gather our candidates and call
 *   um_punch_candidates_send(); arm one timer at um_punch_next_deadline()
 *   and call um_punch_tick() there.
 *
 * State changes go through um_punch_set_state(), which refuses illegal
 * transitions, counts the legal ones and reports each as an event. */
#ifndef UM_PATH_PUNCH_H
#define UM_PATH_PUNCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "session/replay.h"
#include "wire/path.h"

enum um_punch_state {
	UM_PUNCH_NONE,     /* no direct path work (disabled, or no relay path) */
	UM_PUNCH_PUNCHING, /* probing the peer's candidates */
	UM_PUNCH_DIRECT,   /* a validated direct path carries the traffic */
	UM_PUNCH_RELAY,    /* punching failed or the direct path died: waiting to retry */
};

enum {
	UM_PUNCH_KEYS = 3,                                /* path keys of the newest sessions kept */
	UM_PUNCH_PROBES = 32,                             /* outstanding probes remembered */
	UM_PUNCH_REMOTE_MAX = UM_PATH_MAX_CANDIDATES + 1, /* + one peer-reflexive */
	UM_PUNCH_OUT_DATAGRAMS = UM_PUNCH_REMOTE_MAX + 4,
	UM_PUNCH_OUT_EVENTS = 8,
	UM_PUNCH_REPLY_SOURCES = 4, /* sources with their own reply budget */
};

struct um_punch_config {
	uint64_t connect_timeout_ns, retry_interval_ns, health_interval_ns;
};

/* The path keys of one keypair and the session indices that address what
 * is sealed under them (wire/path.h). */
struct um_punch_key {
	uint8_t send[UM_PATH_KEY_BYTES]; /* we seal under it ... */
	uint32_t remote_index;           /* ... to this index of the peer's */
	uint8_t recv[UM_PATH_KEY_BYTES]; /* the peer seals under it ... */
	uint32_t local_index;            /* ... to this index of ours */
	/* The peer's counters seen under recv: a message is accepted once, so
	 * a recorded probe or reply replayed from anywhere is dropped
	 * (counted in replays). */
	struct um_replay window;
};

/* What the caller knows about the world at the time of a call. */
struct um_punch_env {
	uint64_t now;            /* monotonic ns */
	uint64_t wall_ms;        /* wall clock (CANDIDATES generations) */
	bool enabled;            /* direct = true and a relay is configured */
	bool relay_ready;        /* a registered relay can carry the peer now */
	bool via_relay;          /* the data plane sends to the peer through a relay */
	struct um_addr endpoint; /* the data plane's direct endpoint; family 0 = none */
	uint64_t rx_direct;      /* DATA packets received directly so far */
};

/* An outstanding PATH_PROBE. */
struct um_punch_probe {
	uint8_t nonce[UM_PATH_NONCE_BYTES];
	struct um_addr to; /* family 0 = through the relay */
	uint64_t sent_ns;
	bool ping, used;
};

/* The reply budget of one source address (GCRA: tat is the theoretical
 * arrival time of the next reply). */
struct um_punch_source {
	struct um_addr addr; /* family 0 = free slot */
	uint64_t tat;
};

/* Per-peer state; read-only for the caller (status). */
struct um_punch {
	struct um_punch_config config;
	enum um_punch_state state;
	uint64_t deadline; /* UINT64_MAX = none */
	/* Path keys of the newest keypairs (newest first), derived at key
	 * installation; the DATA keys are never kept here. Wiped on session end. */
	struct um_punch_key keys[UM_PUNCH_KEYS];
	unsigned n_keys;
	uint64_t send_counter; /* our next message counter (the nonce: never reused) */
	struct um_punch_source sources[UM_PUNCH_REPLY_SOURCES];
	uint64_t local_generation, remote_generation;
	struct um_path_candidate remote[UM_PUNCH_REMOTE_MAX];
	unsigned n_remote;
	struct um_punch_probe probes[UM_PUNCH_PROBES];
	unsigned next_probe;
	struct um_addr direct;   /* validated endpoint (DIRECT) */
	uint64_t relay_since_ns; /* the relay session came up (time to direct) */
	uint64_t punch_started_ns, punch_rounds;
	uint64_t direct_since_ns, last_direct_rx_ns, rx_direct_seen;
	uint64_t time_to_direct_ns; /* last relay -> direct switch; 0 = none */
	uint64_t fallback_ns;       /* detection time of the last fallback */
	uint64_t quick_retry_ns;    /* when the last quick retry after a fallback was granted */
	uint64_t retry_at_ns;
	uint64_t switches_direct, fallbacks, probes_sent, probes_answered;
	uint64_t bad_mac;         /* sealed under none of our keys, or tampered: dropped */
	uint64_t unknown_index;   /* addressed to an index none of our keys has: dropped */
	uint64_t replays;         /* authentic but seen before or too old: dropped */
	uint64_t replies_limited; /* fresh probes left unanswered by the per-source budget */
	uint64_t version_refused; /* path messages of another version (an incompatible peer) */
	uint64_t transitions, transitions_refused;
	uint64_t rtt_ns; /* of the direct path, from probe replies */
	/* umbra ping */
	uint64_t ping_sequence, ping_answered, ping_rtt_ns;
	bool ping_direct;
	struct um_addr ping_from;
};

enum um_punch_event_kind {
	UM_PUNCH_EVENT_STATE,         /* from -> to (log it) */
	UM_PUNCH_EVENT_PUNCH_STARTED, /* a new attempt: refresh old STUN answers */
	UM_PUNCH_EVENT_DIRECT,        /* addr proven: set it as the endpoint, clear the relay path */
	UM_PUNCH_EVENT_FALLBACK,      /* direct path silent for silence_ns: put the relay path back */
	UM_PUNCH_EVENT_GAVE_UP,       /* no direct path within connect-timeout: stay on the relay */
	UM_PUNCH_EVENT_CANDIDATES,    /* the peer's candidates were learned (p->remote) */
	UM_PUNCH_EVENT_PING,          /* a ping probe was answered */
};

struct um_punch_event {
	enum um_punch_event_kind kind;
	enum um_punch_state from, to; /* STATE */
	struct um_addr addr;          /* DIRECT: the path; PING: where the reply came from */
	uint64_t rtt_ns;              /* DIRECT, PING */
	uint64_t silence_ns;          /* FALLBACK */
	uint64_t retry_ns;            /* FALLBACK, GAVE_UP: next attempt in */
	bool direct;                  /* PING: answered on a direct path */
};

struct um_punch_datagram {
	bool via_relay; /* through the relay; else to `to` */
	struct um_addr to;
	uint16_t len;
	uint8_t data[UM_PATH_CANDIDATES_MAX_BYTES];
};

/* Filled by every call that takes it (reset at the start of each). */
struct um_punch_output {
	unsigned n_datagrams, n_events;
	struct um_punch_datagram datagrams[UM_PUNCH_OUT_DATAGRAMS];
	struct um_punch_event events[UM_PUNCH_OUT_EVENTS];
	bool candidates_wanted; /* send ours: gather, then um_punch_candidates_send */
	bool candidates_need;   /* ... asking for the peer's in return */
	uint64_t dropped;       /* datagrams or events that did not fit (a bug if ever > 0) */
};

void um_punch_output_reset(struct um_punch_output *out);

/* config is copied. State NONE, no keys, no deadline. */
void um_punch_init(struct um_punch *p, const struct um_punch_config *config);

/* The one state setter: 0, or -UM_ESTATE for a transition the machine
 * never makes (counted in transitions_refused, nothing changes). Legal:
 * NONE -> PUNCHING | DIRECT; PUNCHING -> DIRECT | RELAY; DIRECT -> RELAY |
 * PUNCHING (the endpoint was refused) ; RELAY -> PUNCHING | DIRECT; any
 * other state -> NONE. Reports old -> new in out (may be NULL). */
int um_punch_set_state(struct um_punch *p, enum um_punch_state to, struct um_punch_output *out);

/* A keypair was installed: derives its path keys (keys only read) and
 * keeps them with its indices (local_index: what the peer puts in the
 * messages it sends us; remote_index: what we put in ours, as in DATA);
 * starts an attempt when the session runs through a relay. */
void um_punch_session_installed(struct um_punch *p, const uint8_t send_key[32], const uint8_t recv_key[32],
				uint32_t local_index, uint32_t remote_index, const struct um_punch_env *env,
				struct um_punch_output *out);
/* Session over or node down: keys wiped, state NONE, no deadline. */
void um_punch_session_cleared(struct um_punch *p);

/* A path datagram from `from` (via_relay: forwarded by our relay, `from`
 * is the relay). Its receiver index picks the key, then the replay window,
 * then the AEAD. 0 when it was accepted, -UM_ENOTFOUND (an index of none
 * of our keys, counted in unknown_index), -UM_EREPLAY (seen before or too
 * old, counted in replays), -UM_EBADMSG (does not open, counted in
 * bad_mac), -UM_EVERSION (another message version, counted in
 * version_refused), -UM_EINVAL/-UM_ETRUNC (malformed), -UM_ESTATE (no
 * keys). Nothing but these counters changes unless it returns 0.
 * Rules (review #4): only a fresh PROBE is answered, and at most a small
 * burst per source address (replies_limited); a probe teaches a
 * peer-reflexive candidate only while PUNCHING and never starts an
 * attempt; a PROBE_REPLY migrates only when it is fresh and comes from the
 * very address its probe went to. */
int um_punch_input(struct um_punch *p, const uint8_t *data, size_t len, const struct um_addr *from, bool via_relay,
		   const struct um_punch_env *env, struct um_punch_output *out);

/* Our candidates changed (a new STUN answer): send them while punching,
 * start a new attempt after a failed one. */
void um_punch_local_candidates_changed(struct um_punch *p, const struct um_punch_env *env, struct um_punch_output *out);

/* After out->candidates_wanted: encodes our candidates (reflexive first;
 * duplicates and family 0 skipped, at most UM_PATH_MAX_CANDIDATES) into
 * out, to the path in use. local is only read. */
void um_punch_candidates_send(struct um_punch *p, const struct um_path_candidate *local, size_t n_local,
			      const struct um_punch_env *env, struct um_punch_output *out);

/* `umbra ping`: one PING probe over the path in use. 0 with *sequence set,
 * or -UM_ESTATE (no session, no path). */
int um_punch_ping(struct um_punch *p, const struct um_punch_env *env, uint64_t *sequence, struct um_punch_output *out);

/* Timers: probe rounds, punch timeout, health probes, fallback, retry.
 * Call at (or after) um_punch_next_deadline(). */
void um_punch_tick(struct um_punch *p, const struct um_punch_env *env, struct um_punch_output *out);
uint64_t um_punch_next_deadline(const struct um_punch *p);

/* The caller could not apply an event (the data plane refused the
 * endpoint or the relay path): DIRECT goes back to where it came from,
 * a FALLBACK back to DIRECT; a new deadline follows. */
void um_punch_direct_refused(struct um_punch *p, enum um_punch_state back, const struct um_punch_env *env,
			     struct um_punch_output *out);
void um_punch_fallback_refused(struct um_punch *p, const struct um_punch_env *env, struct um_punch_output *out);

const char *um_punch_state_name(enum um_punch_state state);

#endif
