/* SPDX-License-Identifier: MIT */
/* Engine internals shared by handshake.c (tables, dispatch, timers) and
 * handshake_msgs.c (the create/consume pairs and the key schedule). */
#ifndef UM_SESSION_HANDSHAKE_INTERNAL_H
#define UM_SESSION_HANDSHAKE_INTERNAL_H

#include "session/cookie.h"
#include "session/handshake.h"
#include "session/key_cache.h"
#include "session/ratelimit.h"
#include "wire/fragment.h"
#include "wire/fragment_ack.h"

/* Retransmission (handshake_timers.c, docs/PROTOCOL.md): RTO from the
 * peer's smoothed RTT, clamped; without any estimate the initial value;
 * doubled per retransmission (capped), plus 0..25% jitter. */
#define UM_HS_RTO_INITIAL_NS (1000ULL * UM_NSEC_PER_MSEC)
/* ...but a HELLO (one small datagram; a resent one is answered from the
 * responder's cache) waits less: its loss cost a whole second of setup on
 * lossy links (issue 14), and a needless resend costs ~100 bytes. */
#define UM_HS_RTO_HELLO_INITIAL_NS (400ULL * UM_NSEC_PER_MSEC)
#define UM_HS_RTO_MIN_NS           (200ULL * UM_NSEC_PER_MSEC)
#define UM_HS_RTO_MAX_NS           (3000ULL * UM_NSEC_PER_MSEC)
#define UM_HS_INITIATE_TIMEOUT_NS  (10ULL * UM_NSEC_PER_SEC)
#define UM_HS_PENDING_LIFE_NS      (5ULL * UM_NSEC_PER_SEC)
#define UM_HS_DONE_LIFE_NS         (5ULL * UM_NSEC_PER_SEC)
enum {
	UM_HS_HASH_BYTES = 32,
	UM_HS_KEY_BYTES = 32,
	UM_HS_MAX_RESPONSE_ATTEMPTS = 3,  /* RESPONSE decapsulations per pending state */
	UM_HS_MAX_CHALLENGE_ATTEMPTS = 3, /* CHALLENGEs opened per initiation */
	UM_HS_HELLO_FILTER_SLOTS = 4096,
	UM_HS_PREFIX_IDLE_MS = 900,       /* idle this long: the reserve budget applies */
	UM_HS_KEY_CACHE_DEFAULT = 1024,   /* entries (~2.7 KB each, allocated as peers are met) */
	UM_HS_KEY_CACHE_ADMIT_MAX = 4096, /* default bound in responder mode (max_admitted) */
};

enum um_handshake_state {
	UM_HS_STATE_ZEROED,
	/* initiator */
	UM_HS_STATE_HELLO_SENT,
	UM_HS_STATE_RESPONSE_SENT,
	/* responder */
	UM_HS_STATE_CHALLENGE_SENT,
	UM_HS_STATE_ESTABLISHED_SENT,
	/* Deferred CHALLENGE (handshake_work.c): claimed, its work item out
	 * with the caller; never evicted, only expired. */
	UM_HS_STATE_CHALLENGE_PREPARING,
};

/* The running transcript hash and chaining key. */
struct um_hs_symmetric {
	uint8_t h[UM_HS_HASH_BYTES];
	uint8_t ck[UM_HS_KEY_BYTES];
};

struct um_handshake_peer {
	struct um_peer_id id;
	void *user;
	/* Responder side: newest HELLO timestamp accepted from this peer
	 * (authenticated: it is under the peer's RESPONSE signature). */
	uint64_t last_accepted_ts_ms;
	/* Initiator side: keeps our timestamps strictly increasing. */
	uint64_t last_sent_ts_ms;
	struct um_cookie_maker cookie;

	/* Our initiation (one at a time). */
	enum um_handshake_state state;
	uint32_t local_index, remote_index;
	struct um_addr to;
	uint32_t to_route; /* the caller's route tag of `to` (handshake.h) */
	uint8_t ephemeral_secret[32], ephemeral_public[32];
	struct um_hs_symmetric sym;
	uint8_t hello[UM_HS_HELLO_BYTES];
	/* Repeat handshakes (docs/PROTOCOL.md section 4): the responder's
	 * verified key, copied from the key cache when the HELLO said we hold
	 * it (owned, UM_HSIG_PK_BYTES; NULL otherwise), and the responder's
	 * key-cache epoch from this initiation's CHALLENGE. */
	uint8_t *responder_key;
	uint64_t challenge_epoch;
	/* A short CHALLENGE did not verify under responder_key: the timer
	 * sends a new HELLO without the flag (handshake_msgs.c). */
	bool hello_renew;
	/* Owned once the CHALLENGE verified: the RESPONSE in full
	 * (UM_HS_RESPONSE_BYTES) and, when the responder should hold our
	 * key, the short form too (UM_HS_RESPONSE_SHORT_BYTES), sealed under
	 * its own key. The short one goes first; the timer's first
	 * retransmission switches to the full one for good. sym holds the
	 * full form's final transcript, h_short the short form's (same ck). */
	uint8_t *response;
	uint8_t *response_short;
	bool response_is_short;
	uint8_t h_short[UM_HS_HASH_BYTES];
	uint32_t response_message_id;
	uint64_t started_ns;
	/* The message in flight (HELLO, then RESPONSE): when it was first
	 * sent, how often the timer resent it, when it resends it next. */
	uint64_t exchange_sent_ns, next_retransmit_ns;
	unsigned retransmits;
	/* Round-trip estimate, kept across initiations (handshake_timers.c). */
	uint64_t srtt_ns, rttvar_ns, rtt_samples;
	uint64_t rtt_hint_ns; /* from the caller; used while rtt_samples == 0 */
	/* Doublings kept from an exchange answered only after retransmissions
	 * (RFC 6298, 5.7): until a clean sample, the next exchange starts
	 * with the timeout that worked. 0 after every sample. */
	unsigned rto_backoff;
	uint64_t retransmissions, retransmitted_datagrams;
	/* CHALLENGEs opened for this initiation: an on-path party that saw the
	 * HELLO can build ones that open and carry the pinned key with a bad
	 * signature, each costing a hybrid verification. */
	unsigned challenge_attempts;
	/* Loss-tolerant fragments (handshake_frag.c): the RESPONSE in flight
	 * as the ACKs describe it; whether this exchange was repaired (an ACK
	 * sent for the CHALLENGE, pieces resent on an ACK: no RTT sample, the
	 * answer took an extra round); whether the timer's last action was an
	 * ACK (it alternates with the HELLO, which an older responder needs). */
	struct um_frag_sender response_sender;
	bool exchange_repaired, timer_sent_ack;
	uint64_t ack_resent_datagrams;
};

struct um_hs_pending {
	enum um_handshake_state state;
	uint32_t local_index, remote_index;
	struct um_addr source;
	uint32_t source_route; /* the caller's route tag of `source` */
	uint8_t hello_ephemeral[32];
	uint8_t hello_nonce[UM_HS_NONCE_BYTES];
	uint64_t hello_ts_ms;
	uint8_t kem_secret[UM_HKEM_SK_BYTES];
	struct um_hs_symmetric sym;
	uint8_t challenge[UM_HS_CHALLENGE_BYTES]; /* challenge_len used (short or full form) */
	uint16_t challenge_len;
	uint32_t challenge_message_id;
	/* Of the accepted RESPONSE's header (indices and KEM ciphertext): its
	 * retransmission, in either form, gets the stored ESTABLISHED. */
	uint8_t response_digest[UM_HS_HASH_BYTES];
	uint8_t established[UM_HS_ESTABLISHED_BYTES];
	uint64_t created_ns;
	unsigned attempts;
	bool challenge_resent; /* Karn's rule: then RESPONSE yields no RTT sample */
	/* The CHALLENGE in flight as the ACKs describe it; once ESTABLISHED
	 * was sent, the RESPONSE's message id (a piece of it, resent because
	 * ESTABLISHED was lost, is answered from the cache) and when
	 * ESTABLISHED was last resent. */
	struct um_frag_sender challenge_sender;
	uint32_t response_message_id;
	uint64_t established_resent_ns;
	/* A short RESPONSE we dropped because we lack the initiator's key:
	 * its message id, whose pieces are ignored from then on (the
	 * initiator's timer sends the full form under a new id). */
	bool key_unknown;
	uint32_t key_unknown_message_id;
	/* The work item preparing its CHALLENGE carries the same number; a
	 * result for a state released and claimed again is recognised. */
	uint64_t generation;
};

/* A deferred CHALLENGE (handshake_work.c): everything the keygen and the
 * signature need, copied, and their results. Owned by the engine (a pool
 * in locked memory); lent to the caller from handle_hello until
 * um_handshake_work_finish. The worker thread touches only this and the
 * identity (immutable while the engine lives). */
struct um_handshake_work {
	/* Engine side. */
	bool in_flight; /* lent out */
	bool urgent;    /* um_handshake_work_urgent */
	unsigned slot;  /* index of the pending state */
	uint64_t generation;
	/* Input. */
	const struct um_identity *identity;
	uint32_t local_index, remote_index;
	uint8_t hello_ephemeral[32];
	uint8_t hello_body[UM_HS_HELLO_BODY_BYTES];
	uint64_t key_epoch;
	/* Output (SECRET: kem_secret, sym). */
	bool done;
	int result;
	struct um_hs_symmetric sym;
	uint8_t kem_secret[UM_HKEM_SK_BYTES];
	uint8_t challenge[UM_HS_CHALLENGE_BYTES];
	uint16_t challenge_len;
};

struct um_hs_hello_seen {
	uint8_t digest[16];
	uint64_t expires_ns;
};

struct um_handshake_engine {
	struct um_handshake_config config;
	const struct um_identity *identity;
	struct um_handshake_peer **peers; /* owned array of owned peers */
	size_t n_peers, cap_peers;
	struct um_hs_pending *pending;       /* secmem, config.max_pending entries */
	struct um_hs_hello_seen *hello_seen; /* UM_HS_HELLO_FILTER_SLOTS */
	uint8_t hello_seen_key[16];
	struct um_cookie_checker cookie;
	struct um_ratelimiter ratelimit;        /* per source (IPv4 address, IPv6 /64) */
	struct um_ratelimiter prefix_ratelimit; /* per IPv4 /24, IPv6 /48 */
	struct um_token_bucket challenge_budget, challenge_reserve;
	struct um_reassembler reasm;
	uint32_t from_route;                  /* route tag of the datagram being received */
	uint8_t scratch[UM_FRAG_MAX_MESSAGE]; /* reassembled messages */
	bool forced_load;
	struct um_handshake_stats stats;
	bool acks_disabled; /* tests and the bench: behave like a node without FRAGMENT_ACK */
	/* config.defer_challenge: max_pending work items (secmem) and the
	 * generation counter of the states they prepare. */
	struct um_handshake_work *work_pool;
	uint64_t work_generation;
	/* Verified public keys of others (session/key_cache.h), and our epoch:
	 * random per engine (0 without a cache), sent sealed in CHALLENGE and
	 * RESPONSE so a peer can tell whether we still hold its key. */
	struct um_key_cache key_cache;
	uint64_t key_epoch;
};

/* Key schedule (handshake_msgs.c). */
void um_hs_symmetric_init(struct um_hs_symmetric *sym, const struct um_peer_id *responder_id);
void um_hs_mix_hash(uint8_t h[UM_HS_HASH_BYTES], const uint8_t *data, size_t len);

/* The RESPONSE in flight (short or full form) and its length. */
static inline const uint8_t *um_hs_response_in_flight(const struct um_handshake_peer *peer, size_t *len)
{
	*len = peer->response_is_short ? UM_HS_RESPONSE_SHORT_BYTES : UM_HS_RESPONSE_BYTES;
	return peer->response_is_short ? peer->response_short : peer->response;
}
/* The timer gives up on the short RESPONSE (its key may be unknown to the
 * responder, which drops it): the full one, with a new message id. From
 * the second timer round on: the first one resends the short pieces not
 * acknowledged, which keeps what the responder has when loss, not a
 * missing key, held the answer up. */
#define UM_HS_SHORT_RESPONSE_ROUNDS 2
void um_hs_response_use_full(struct um_handshake_peer *peer);

/* Helpers in handshake.c used by the message code and the timers. */
void um_hs_output_reset(struct um_handshake_output *out);
bool um_hs_pending_expired(const struct um_hs_pending *p, uint64_t now_ns);
uint32_t um_hs_new_index(struct um_handshake_engine *engine);
/* Both also free the state's reassembly slot. */
void um_hs_pending_release(struct um_handshake_engine *engine, struct um_hs_pending *pending);
void um_hs_peer_reset(struct um_handshake_engine *engine, struct um_handshake_peer *peer);
struct um_handshake_peer *um_hs_find_peer_by_id(struct um_handshake_engine *engine, const struct um_peer_id *id);
/* handshake_admit.c: a peer for an unknown initiator whose RESPONSE
 * signature verified, when config.admit allows it; NULL otherwise
 * (*err: -UM_ENOTFOUND without admit, -UM_ELIMIT when full, else admit's). */
struct um_handshake_peer *um_hs_admit(struct um_handshake_engine *engine, const struct um_peer_id *id, int *err);

/* Loss-tolerant fragments (handshake_frag.c). */
/* Appends msg to out, fragmenting if needed. */
int um_hs_output_message(struct um_handshake_output *out, uint8_t type, uint32_t receiver_index, uint32_t message_id,
			 const uint8_t *msg, size_t len);
/* The first send of a CHALLENGE or RESPONSE: um_hs_output_message, then
 * the parity piece of a message in >= 2 pieces (not for an engine
 * playing a node that predates FRAGMENT_ACK, which predates parity). */
int um_hs_output_first_round(const struct um_handshake_engine *engine, struct um_handshake_output *out, uint8_t type,
			     uint32_t receiver_index, uint32_t message_id, const uint8_t *msg, size_t len);
/* Appends the pieces in `pieces` (bitmap) of msg to out. */
int um_hs_output_pieces(struct um_handshake_output *out, uint8_t type, uint32_t receiver_index, uint32_t message_id,
			const uint8_t *msg, size_t len, uint32_t pieces);
/* Appends a FRAGMENT_ACK to out. */
int um_hs_output_ack(struct um_handshake_output *out, const struct um_fragment_ack *ack);
/* Counts the FRAGMENTs and ACKs in out into the stats (every exit of
 * receive and tick that may send calls it). */
void um_hs_count_output(struct um_handshake_engine *engine, const struct um_handshake_output *out);
/* The key a HELLO (and an ACK for a CHALLENGE) is rate-limited under. */
struct um_addr um_hs_rate_limit_source(const struct um_addr *from, uint32_t route);
/* A received FRAGMENT_ACK (dispatch from handshake.c). */
int um_hs_receive_fragment_ack(struct um_handshake_engine *engine, const struct um_addr *from, const uint8_t *dgram,
			       size_t len, struct um_handshake_time now, struct um_handshake_output *out);
/* A piece of the RESPONSE that pending already accepted: ESTABLISHED was
 * lost; resend it (at most once per UM_REASM_ACK_GAP_NS). */
int um_hs_resend_established(struct um_handshake_engine *engine, struct um_hs_pending *pending,
			     const struct um_addr *from, uint64_t now_ns, struct um_handshake_output *out);
/* The timer of an initiation in HELLO_SENT: when part of the CHALLENGE
 * arrived from where the HELLO went, every other round an ACK replaces the
 * HELLO (the responder resends the missing pieces); 1 if it did. */
int um_hs_timer_ack_challenge(struct um_handshake_engine *engine, struct um_handshake_peer *peer, uint64_t now_ns,
			      struct um_handshake_output *out);

/* A slot whose sender went quiet this long (since a piece that called for
 * no ACK) gets an ACK: the round's last piece was lost. A round's pieces
 * leave back to back; 100 ms covers their spread on a ~1 Mbit/s path. */
#define UM_HS_ACK_QUIET_NS (100ULL * UM_NSEC_PER_MSEC)
/* From the timers: one such ACK into out; 1 if it did. */
int um_hs_tick_acks(struct um_handshake_engine *engine, uint64_t now_ns, struct um_handshake_output *out);

/* Retransmission timing (handshake_timers.c). */
/* A message of the initiation was just sent for the first time: a new
 * exchange (backoff and Karn's rule start over). */
void um_hs_exchange_start(struct um_handshake_peer *peer, uint64_t now_ns);
/* The answer to the exchange in flight arrived and was authenticated:
 * an RTT sample unless the message was retransmitted (Karn's rule). */
void um_hs_exchange_answered(struct um_handshake_peer *peer, uint64_t now_ns);
/* An ACK showed the answer is under way (pieces were resent on it): no
 * RTT sample from this exchange, and the timer restarts from now (RFC
 * 6298, 5.3) so the repair is not overtaken by a full retransmission. */
void um_hs_exchange_repaired(struct um_handshake_peer *peer, uint64_t now_ns);
/* Feeds one RTT sample into the peer's SRTT/RTTVAR (RFC 6298, 2.2/2.3). */
void um_hs_rtt_sample(struct um_handshake_peer *peer, uint64_t sample_ns);
/* The peer's current RTO, before backoff and jitter. */
uint64_t um_hs_rto(const struct um_handshake_peer *peer);

/* Create/consume pairs (handshake_msgs.c). Each leaves state untouched on
 * failure and wipes its stack secrets on every path. */
int um_hs_create_hello(struct um_handshake_engine *engine, struct um_handshake_peer *peer,
		       struct um_handshake_time now);
int um_hs_create_challenge(struct um_handshake_engine *engine, struct um_hs_pending *pending,
			   const struct um_hs_hello *hello, const uint8_t *hello_bytes);
/* The expensive half of create_challenge, on explicit buffers (any thread):
 * keygen (or the precomputed pair: kem_public_ready, its secret already in
 * kem_secret), the ee DH, the CHALLENGE with our sealed signature (short
 * when the HELLO says the initiator holds our key) and key_epoch; *sym_out
 * and *challenge_len only on success, kem_secret wiped on failure. */
int um_hs_challenge_compute(const struct um_identity *self, uint32_t local_index, uint32_t remote_index,
			    const uint8_t hello_ephemeral[32], const uint8_t *hello_bytes,
			    const uint8_t *kem_public_ready, uint8_t kem_secret[UM_HKEM_SK_BYTES], uint64_t key_epoch,
			    struct um_hs_symmetric *sym_out, uint8_t challenge[UM_HS_CHALLENGE_BYTES],
			    uint16_t *challenge_len);
/* The cheap half: message id, fragment sender, state CHALLENGE_SENT. */
void um_hs_challenge_commit(struct um_hs_pending *pending);

/* Deferred CHALLENGE (handshake_work.c). */
int um_hs_work_pool_init(struct um_handshake_engine *engine);
void um_hs_work_pool_free(struct um_handshake_engine *engine);
/* True when a HELLO could be deferred now: a free work item and a pending
 * slot that is free or evictable (not preparing). */
bool um_hs_work_can_start(const struct um_handshake_engine *engine);
/* Lends a work item for pending (claimed, filled) into out->work and
 * marks the state preparing; urgent: its site was idle (handshake.h). */
int um_hs_work_start(struct um_handshake_engine *engine, struct um_hs_pending *pending, const uint8_t *hello_bytes,
		     bool urgent, struct um_handshake_output *out);
int um_hs_consume_challenge(struct um_handshake_engine *engine, struct um_handshake_peer *peer, const uint8_t *msg,
			    size_t len);
int um_hs_consume_response(struct um_handshake_engine *engine, struct um_hs_pending *pending, const uint8_t *msg,
			   size_t len, struct um_handshake_time now, struct um_handshake_output *out);
/* Fills out (UM_HS_EVENT_KEYS) with the keys of the RESPONSE in flight. */
void um_hs_early_keys(struct um_handshake_peer *peer, uint64_t now_ns, struct um_handshake_output *out);
int um_hs_consume_established(struct um_handshake_engine *engine, struct um_handshake_peer *peer, const uint8_t *msg,
			      size_t len, struct um_handshake_time now, struct um_handshake_output *out);

#endif
