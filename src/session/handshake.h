/* SPDX-License-Identifier: MIT */
/* The hybrid post-quantum handshake engine (docs/PROTOCOL.md is the spec).
 *
 * I/O free: the caller feeds received datagrams and the clock in, and gets
 * datagrams to send and events out. No sockets, threads, timers, globals or
 * logging in here; one engine per node, used from one thread (the control
 * thread). Typical use from an event loop:
 *
 *   um_handshake_engine_new(&hs, &config);
 *   um_handshake_peer_add(hs, &peer_id, my_peer, &handle);   per config peer
 *   um_handshake_initiate(hs, handle, &endpoint, now, out);   then send out
 *   on every non-DATA datagram:
 *       ret = um_handshake_receive(hs, &from, buf, len, now, out);
 *       send out->datagrams to out->to; act on out->event; count ret < 0
 *   on a timer at um_handshake_next_deadline():
 *       while (um_handshake_tick(hs, now, out) > 0) { send; act on event; }
 *
 * `out` is a caller-owned struct um_handshake_output (about 18 KB: keep one
 * around, zeroed once at allocation, not on a small stack); every call
 * resets its header fields cheaply (the keypair is wiped if it was set).
 * When out->event is UM_HS_EVENT_ESTABLISHED, out->keypair holds fresh
 * session keys: install them, then call um_handshake_output_wipe(out) (a
 * full wipe is only needed then; after drops nothing secret is in out).
 *
 * Roles: every peer can be initiator (um_handshake_initiate) and responder
 * (any HELLO that passes the checks). HELLO is anonymous; the responder
 * learns who the initiator is only from RESPONSE, and refuses it unless the
 * initiator's public key hashes to a peer ID added with um_handshake_peer_add.
 * Likewise the initiator refuses a CHALLENGE whose key does not hash to the
 * ID it initiated to. */
#ifndef UM_SESSION_HANDSHAKE_H
#define UM_SESSION_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"
#include "session/keys.h"
#include "util/clock.h"
#include "wire/fragment.h"
#include "wire/handshake.h"

enum {
	UM_HS_MAX_OUT_DATAGRAMS = UM_FRAG_MAX_COUNT + 1, /* a message's pieces and its parity piece */
};

/* Monotonic time for timeouts and wall time for protocol timestamps; tests
 * and the bench set both by hand. */
struct um_handshake_time {
	uint64_t mono_ns;
	uint64_t wall_ms;
};

static inline struct um_handshake_time um_handshake_time_now(void)
{
	struct um_handshake_time t = {.mono_ns = um_now_ns(), .wall_ms = um_wall_ms()};
	return t;
}

struct um_handshake_peer; /* opaque handle, owned by the engine */

struct um_handshake_config {
	/* Borrowed: must stay valid (and unchanged) while the engine lives. */
	const struct um_identity *identity;
	/* Announced in ESTABLISHED when we are the responder. */
	uint16_t mtu;
	uint16_t heartbeat_s;
	uint32_t rotation_s;
	bool direct_p2p;
	/* 0 = default for each of these. */
	unsigned max_pending;            /* responder handshakes in flight (64) */
	unsigned load_threshold;         /* pending count that means "under load" (8) */
	unsigned hello_per_second;       /* per-source HELLO token rate (10) */
	unsigned hello_burst;            /* per-source HELLO burst (10) */
	unsigned max_pending_per_source; /* (4) */
	/* Aggregate HELLO bucket per IPv4 /24 or IPv6 /48 (40/s, burst 40). */
	unsigned prefix_hello_per_second, prefix_hello_burst;
	/* Global budget of CHALLENGEs (a KEM keygen and a signature each):
	 * 200/s, burst 50; a quarter more is kept for prefixes idle >= 0.9 s,
	 * so a flood from busy prefixes cannot lock out a fresh initiator. */
	unsigned challenges_per_second, challenge_burst;
	uint32_t clock_window_ms; /* accepted |HELLO timestamp - now| (120000) */
	/* Optional: lets the caller veto session indices still used by live
	 * keypairs (the engine already avoids its own). NULL = none. */
	bool (*index_in_use)(void *ctx, uint32_t index);
	void *index_ctx;
	/* Responder mode for initiators nobody added beforehand (a relay's
	 * registrations; handshake_admit.c). NULL = refuse them (a node). When
	 * a RESPONSE names an unknown ID and its signature verifies, the
	 * engine adds the peer (while it has fewer than max_admitted peers in
	 * all; 0 = 1024) and asks admit: 0 keeps it (*user becomes its user
	 * pointer), < 0 removes it again and drops the RESPONSE. The handle
	 * stays valid until the caller removes it (um_handshake_peer_remove). */
	int (*admit)(void *ctx, const struct um_peer_id *id, struct um_handshake_peer *peer, void **user);
	void *admit_ctx;
	unsigned max_admitted;
	/* Deferred CHALLENGE (async-sign): a HELLO that passes every check
	 * and budget yields out->work instead of the CHALLENGE; the caller
	 * runs um_handshake_work_run (any thread) and hands the item back to
	 * um_handshake_work_finish, which sends the CHALLENGE. false = today's
	 * synchronous path. */
	bool defer_challenge;
	/* Repeat handshakes: verified public keys kept (peer ID -> key, least
	 * recently used replaced) so later handshakes leave them out. 0 =
	 * 1024, or max_admitted if larger (at most 4096); no_key_cache keeps none (every
	 * handshake in the full form, as with a peer met for the first time). */
	unsigned key_cache_entries;
	bool no_key_cache;
	/* Initiator: report the keys as soon as our RESPONSE goes
	 * (UM_HS_EVENT_KEYS), so a message can follow it at once instead of a
	 * round trip later; ESTABLISHED still confirms them (the relay client:
	 * REGISTER behind RESPONSE). false = keys only at ESTABLISHED. */
	bool early_keys;
	/* HELLO and ESTABLISHED, the messages of one datagram, leave twice in
	 * their first round (the parity piece's idea for a message no parity
	 * can cover: any one of two copies does). Their loss otherwise costs
	 * a whole RTO (3 x the RTT hint: ~0.5 s through a relay at 82 ms);
	 * a copy costs ~200 bytes. Receivers take the first: the responder
	 * answers a HELLO repeated within UM_REASM_ACK_GAP_NS of its CHALLENGE
	 * with nothing (repeats_ignored), the initiator holds no state for a
	 * second ESTABLISHED (-UM_ENOTFOUND, no answer). */
	bool repeat_single;
};

enum um_handshake_event {
	UM_HS_EVENT_NONE,
	UM_HS_EVENT_ESTABLISHED, /* keypair, params, peer filled */
	UM_HS_EVENT_FAILED,      /* our initiation to peer timed out */
	/* config.early_keys: our RESPONSE just went; keypair (of the form in
	 * flight) and peer filled, params not (ESTABLISHED confirms and may
	 * bring other keys: the responder took the other form). */
	UM_HS_EVENT_KEYS,
};

struct um_handshake_engine;

struct um_handshake_output {
	struct um_addr to; /* where to send every datagram below */
	uint32_t route;    /* the caller's route tag for `to` (0 = none) */
	unsigned n_datagrams;
	uint16_t lengths[UM_HS_MAX_OUT_DATAGRAMS];
	uint8_t datagrams[UM_HS_MAX_OUT_DATAGRAMS][UM_HS_MAX_DATAGRAM];

	enum um_handshake_event event;
	struct um_handshake_peer *peer; /* the peer the event is about */
	void *peer_user;                /* the `user` given to um_handshake_peer_add */
	struct um_peer_id peer_id;
	bool initiator;             /* our role in the finished handshake */
	struct um_keypair keypair;  /* SECRET: install, then um_handshake_output_wipe */
	struct um_hs_params params; /* session parameters (from the responder) */
	/* Where the peer's datagrams came from (responder: the initiator's
	 * source; initiator: the responder's source). */
	struct um_addr peer_endpoint;
	uint32_t peer_route; /* the route tag peer_endpoint came with */
	/* config.defer_challenge: a CHALLENGE to prepare (engine-owned, lent
	 * to the caller until um_handshake_work_finish); NULL otherwise. */
	struct um_handshake_work *work;
};

/* Zeroes the output, keys included. */
void um_handshake_output_wipe(struct um_handshake_output *out);

/* Counters for `umbra status` (drops by reason). */
struct um_handshake_stats {
	uint64_t hellos, challenges, responses, established;
	uint64_t bad_mac, cookies_sent, rate_limited, replays, malformed, auth_failed, unknown_peer, unknown_index,
	    table_full, timeouts, challenge_budget, challenge_attempts_exceeded,
	    version_mismatch; /* HELLO of another protocol version (valid mac1) */
	/* Large messages (docs/PROTOCOL.md section 7): FRAGMENT datagrams sent
	 * (first sends and resends), of which resends (timer, ACK, HELLO
	 * retransmission); FRAGMENT_ACKs sent, accepted (for a message in
	 * flight, from where it went) and dropped (malformed, unknown message,
	 * wrong source, rate limit). */
	uint64_t fragments_sent, fragments_retransmitted, acks_sent, acks_received, acks_dropped;
	/* Parity pieces (docs/PROTOCOL.md 7.3) that came after their message completed
	 * (from the other pieces): dropped, no answer. */
	uint64_t parity_late;
	/* Deferred CHALLENGEs: handed out as work; results dropped because
	 * their state expired meanwhile (wiped); HELLOs refused because every
	 * work item or pending slot was busy preparing. */
	uint64_t challenges_deferred, deferred_stale, deferred_refused;
	/* Repeat handshakes: short CHALLENGEs and RESPONSEs sent (the other
	 * side held our key); short RESPONSEs dropped because we did not hold
	 * the sender's key (it resends the full one on its timer). */
	uint64_t short_challenges, short_responses, key_unknown;
	/* HELLOs repeated right behind the one we answered (config.repeat_single
	 * on the other side): no second CHALLENGE. */
	uint64_t repeats_ignored;
};

/* Allocates an engine; *out is owned by the caller (um_handshake_engine_free).
 * Requires sodium_init() to have succeeded. */
int um_handshake_engine_new(struct um_handshake_engine **out, const struct um_handshake_config *config);
/* Wipes every secret and frees everything, peers included. NULL is a no-op. */
void um_handshake_engine_free(struct um_handshake_engine *engine);

/* Registers a peer we accept and may initiate to. user is passed back in
 * events. *out stays valid until um_handshake_peer_remove or engine free.
 * -EEXIST if the ID is already registered. */
int um_handshake_peer_add(struct um_handshake_engine *engine, const struct um_peer_id *id, void *user,
			  struct um_handshake_peer **out);
/* Forgets the peer (aborting any handshake with it). */
void um_handshake_peer_remove(struct um_handshake_engine *engine, struct um_handshake_peer *peer);
/* True while an initiation to peer is in flight. */
bool um_handshake_peer_busy(const struct um_handshake_peer *peer);

/* Retransmission timing (docs/PROTOCOL.md, "Retransmission"). The engine
 * keeps per peer a smoothed RTT (RFC 6298) from its own exchanges: as
 * initiator HELLO -> CHALLENGE and RESPONSE -> ESTABLISHED, as responder
 * CHALLENGE -> RESPONSE, never from a retransmitted message (Karn's rule).
 * A sample includes the other side's work for the answer (the CHALLENGE:
 * an ML-KEM keygen and an ML-DSA signature, ~1-2 ms; the RESPONSE: a
 * verification, an encapsulation and a signature) and, as responder, our
 * own CHALLENGE computation, since `now` is read before it.
 * Until the first sample the caller's hint stands in for one: an RTT the
 * caller measured otherwise (the data plane, a relay keepalive), used as a
 * first sample would be (RTO = 3 x hint). rtt_ns 0 clears the hint. */
void um_handshake_peer_set_rtt_hint(struct um_handshake_peer *peer, uint64_t rtt_ns);

struct um_handshake_peer_timing {
	uint64_t srtt_ns, rttvar_ns; /* 0 while samples == 0 */
	uint64_t samples;
	uint64_t rto_ns;                  /* the next exchange's first timeout (no backoff, no jitter) */
	uint64_t retransmissions;         /* messages resent by the timer, all initiations */
	uint64_t retransmitted_datagrams; /* their datagrams (only the RESPONSE pieces not acknowledged) */
	uint64_t ack_resent_datagrams;    /* RESPONSE pieces resent because an ACK said they were missing */
};
void um_handshake_peer_get_timing(const struct um_handshake_peer *peer, struct um_handshake_peer_timing *out);

/* Forces (or stops forcing) the cookie path for every HELLO. The engine
 * also switches it on by itself when load_threshold handshakes are pending. */
void um_handshake_set_under_load(struct um_handshake_engine *engine, bool under_load);
bool um_handshake_under_load(const struct um_handshake_engine *engine);

/* Starts a handshake to peer at `to` (replacing any in flight); out gets
 * the HELLO. 0 or a negative code. */
int um_handshake_initiate(struct um_handshake_engine *engine, struct um_handshake_peer *peer, const struct um_addr *to,
			  struct um_handshake_time now, struct um_handshake_output *out);

/* Route tags: the caller's name for a path that an address alone does not
 * tell apart (the node: one peer through one relay, whose address is the
 * relay's). The engine treats (address, route) as the source: handshake
 * state, the retransmission check and the per-source pending count keep
 * sources with different tags apart, and every output to it carries the
 * tag back in out->route (out->peer_route for peer_endpoint). 0 = plain
 * address; um_handshake_initiate/receive pass 0. (Rate limiting, cookies
 * and reassembly still key on the address alone.) */
int um_handshake_initiate_via(struct um_handshake_engine *engine, struct um_handshake_peer *peer,
			      const struct um_addr *to, uint32_t route, struct um_handshake_time now,
			      struct um_handshake_output *out);
int um_handshake_receive_via(struct um_handshake_engine *engine, const struct um_addr *from, uint32_t route,
			     const uint8_t *datagram, size_t len, struct um_handshake_time now,
			     struct um_handshake_output *out);

/* Consumes one received datagram (any handshake type: 0x01..0x07). The
 * datagram is only read during the call. Returns 0 when it was accepted
 * (out may hold datagrams and/or an event), or a negative code saying why
 * it was dropped: -UM_EBADMSG (bad MAC or authentication), -UM_EREPLAY,
 * -UM_ELIMIT (rate limit or table full), -UM_ENOTFOUND (unknown index or
 * peer), -UM_EINVAL/-UM_ETRUNC (malformed), -UM_ESTATE (unexpected now),
 * -UM_EVERSION (a HELLO of another protocol version: the sender runs an
 * incompatible release; stats.version_mismatch counts those with a valid mac1),
 * -UM_EAGAIN (a short RESPONSE naming a key we do not hold: the initiator
 * resends it in full; stats.key_unknown).
 * A dropped datagram never changes handshake state. */
int um_handshake_receive(struct um_handshake_engine *engine, const struct um_addr *from, const uint8_t *datagram,
			 size_t len, struct um_handshake_time now, struct um_handshake_output *out);

/* Timers: retransmissions, initiation timeouts, expiry of responder state
 * and reassembly slots. Returns 1 when out holds something (call again),
 * 0 when there is nothing more to do now. */
int um_handshake_tick(struct um_handshake_engine *engine, struct um_handshake_time now,
		      struct um_handshake_output *out);
/* Monotonic time at which um_handshake_tick next has work (UINT64_MAX: none). */
uint64_t um_handshake_next_deadline(const struct um_handshake_engine *engine);

const struct um_handshake_stats *um_handshake_get_stats(const struct um_handshake_engine *engine);

/* ---- Deferred CHALLENGE (config.defer_challenge) ----
 * Responder, per HELLO that passed every cheap check and the budgets: the
 * engine claims the pending state (marked preparing: never evicted, only
 * expired) and lends a work item in out->work (out->n_datagrams is 0). At
 * most max_pending items are out at once; while all are out, or every
 * slot is preparing, HELLOs are refused (stats.deferred_refused).
 *
 *   on out->work:   hand it to a worker thread, which calls
 *                   um_handshake_work_run(work)
 *   back on the engine's thread:
 *                   um_handshake_work_finish(hs, work, now, out); send out
 *
 * Every lent item must come back through um_handshake_work_finish (or the
 * engine be freed after the worker stopped touching it). */
struct um_handshake_work;

/* True when the HELLO came from a site (IPv4 /24, IPv6 /48) that had sent
 * none for a while (the budget's reserve applies to it): a flood comes
 * from busy sites, so a worker that runs these first keeps a lone
 * initiator's CHALLENGE from queueing behind the flood's. */
bool um_handshake_work_urgent(const struct um_handshake_work *work);

/* The expensive part (ML-KEM keygen, X25519, hybrid signature) on the
 * item alone and the engine's identity (read only): safe on any thread,
 * concurrently with any engine call, while the item is lent out. Returns
 * the result also kept in the item (finish acts on it). */
int um_handshake_work_run(struct um_handshake_work *work);

/* Precomputed ephemeral KEM key pairs (X25519 + ML-KEM-1024), filled by a
 * worker while idle so a CHALLENGE does not wait for a keygen. Each pair
 * serves one handshake and is wiped as it is taken: it exists before its
 * handshake, never after, so forward secrecy is that of a fresh keygen.
 * Locked memory; owned by one thread (the worker) after _new. */
struct um_handshake_kem_pool;
/* *out owned by the caller (um_handshake_kem_pool_free wipes it). */
int um_handshake_kem_pool_new(struct um_handshake_kem_pool **out, unsigned size);
void um_handshake_kem_pool_free(struct um_handshake_kem_pool *pool);
/* Generates one pair: 1 if it did, 0 when the pool is full, or < 0. */
int um_handshake_kem_pool_fill(struct um_handshake_kem_pool *pool);
unsigned um_handshake_kem_pool_count(const struct um_handshake_kem_pool *pool);
/* um_handshake_work_run with a pair from pool (NULL or empty: keygen now). */
int um_handshake_work_run_pooled(struct um_handshake_work *work, struct um_handshake_kem_pool *pool);

/* Takes the item back (always: it is wiped and free again afterwards).
 * When its pending state is still the one it was made for, installs the
 * result and out gets the CHALLENGE datagrams for the initiator, as
 * um_handshake_receive would have; returns 0. A stale result (the state
 * expired, or was released and claimed again) is dropped: -UM_ESTATE,
 * counted in stats.deferred_stale. -UM_EINVAL for a pointer that is not a
 * lent item of this engine; the result of a failed run otherwise. */
int um_handshake_work_finish(struct um_handshake_engine *engine, struct um_handshake_work *work,
			     struct um_handshake_time now, struct um_handshake_output *out);

#endif
