/* SPDX-License-Identifier: MIT */
/* Engine internals shared by handshake.c (tables, dispatch, timers) and
 * handshake_msgs.c (the create/consume pairs and the key schedule). */
#ifndef UM_SESSION_HANDSHAKE_INTERNAL_H
#define UM_SESSION_HANDSHAKE_INTERNAL_H

#include "session/cookie.h"
#include "session/handshake.h"
#include "session/ratelimit.h"
#include "wire/fragment.h"

/* Retransmission (handshake_timers.c, docs/PROTOCOL.md): RTO from the
 * peer's smoothed RTT, clamped; without any estimate the initial value;
 * doubled per retransmission (capped), plus 0..25% jitter. */
#define UM_HS_RTO_INITIAL_NS      (1000ULL * UM_NSEC_PER_MSEC)
#define UM_HS_RTO_MIN_NS          (200ULL * UM_NSEC_PER_MSEC)
#define UM_HS_RTO_MAX_NS          (3000ULL * UM_NSEC_PER_MSEC)
#define UM_HS_INITIATE_TIMEOUT_NS (10ULL * UM_NSEC_PER_SEC)
#define UM_HS_PENDING_LIFE_NS     (5ULL * UM_NSEC_PER_SEC)
#define UM_HS_DONE_LIFE_NS        (5ULL * UM_NSEC_PER_SEC)
enum {
	UM_HS_HASH_BYTES = 32,
	UM_HS_KEY_BYTES = 32,
	UM_HS_MAX_RESPONSE_ATTEMPTS = 3,  /* RESPONSE decapsulations per pending state */
	UM_HS_MAX_CHALLENGE_ATTEMPTS = 3, /* CHALLENGEs opened per initiation */
	UM_HS_HELLO_FILTER_SLOTS = 4096,
	UM_HS_PREFIX_IDLE_MS = 900, /* idle this long: the reserve budget applies */
};

enum um_handshake_state {
	UM_HS_STATE_ZEROED,
	/* initiator */
	UM_HS_STATE_HELLO_SENT,
	UM_HS_STATE_RESPONSE_SENT,
	/* responder */
	UM_HS_STATE_CHALLENGE_SENT,
	UM_HS_STATE_ESTABLISHED_SENT,
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
	uint8_t *response; /* owned, UM_HS_RESPONSE_BYTES when state == RESPONSE_SENT */
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
	uint8_t challenge[UM_HS_CHALLENGE_BYTES];
	uint32_t challenge_message_id;
	uint8_t response_digest[UM_HS_HASH_BYTES];
	uint8_t established[UM_HS_ESTABLISHED_BYTES];
	uint64_t created_ns;
	unsigned attempts;
	bool challenge_resent; /* Karn's rule: then RESPONSE yields no RTT sample */
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
};

/* Key schedule (handshake_msgs.c). */
void um_hs_symmetric_init(struct um_hs_symmetric *sym, const struct um_peer_id *responder_id);
void um_hs_mix_hash(uint8_t h[UM_HS_HASH_BYTES], const uint8_t *data, size_t len);

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
/* Appends msg to out, fragmenting if needed. */
int um_hs_output_message(struct um_handshake_output *out, uint8_t type, uint32_t receiver_index, uint32_t message_id,
			 const uint8_t *msg, size_t len);

/* Retransmission timing (handshake_timers.c). */
/* A message of the initiation was just sent for the first time: a new
 * exchange (backoff and Karn's rule start over). */
void um_hs_exchange_start(struct um_handshake_peer *peer, uint64_t now_ns);
/* The answer to the exchange in flight arrived and was authenticated:
 * an RTT sample unless the message was retransmitted (Karn's rule). */
void um_hs_exchange_answered(struct um_handshake_peer *peer, uint64_t now_ns);
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
int um_hs_consume_challenge(struct um_handshake_engine *engine, struct um_handshake_peer *peer, const uint8_t *msg,
			    size_t len);
int um_hs_consume_response(struct um_handshake_engine *engine, struct um_hs_pending *pending, const uint8_t *msg,
			   size_t len, struct um_handshake_time now, struct um_handshake_output *out);
int um_hs_consume_established(struct um_handshake_engine *engine, struct um_handshake_peer *peer, const uint8_t *msg,
			      size_t len, struct um_handshake_time now, struct um_handshake_output *out);

#endif
