/* SPDX-License-Identifier: MIT */
/* The DHT engine's private state, shared by its files:
 *   dht.c      create/destroy, receive dispatch, answers, proofs, cookies, output
 *   routing.c  the k-buckets: insert (proven only), diversity, failures, eviction
 *   lookup.c   iterative lookups and puts, RTT-adaptive timeouts, value pieces
 *   store.c    stored values, their bounds and limits, inbound STORE pieces
 * The simulator (tests/sim/) includes this header for its warm start (it
 * seeds tables as if nodes had joined earlier) and nothing else. */
#ifndef UM_DHT_INTERNAL_H
#define UM_DHT_INTERNAL_H

#include "dht/dht.h"
#include "wire/dht.h"

enum {
	UM_DHT_LOOKUP_CANDIDATES_PER_K = 3, /* a lookup tracks 3k candidates */
	UM_DHT_MAX_PENDING = 256,
	UM_DHT_MAX_ASSEMBLIES = 16,  /* value/proof replies being reassembled at once */
	UM_DHT_MAX_FOUND = 16,       /* distinct owners a find-value lookup keeps */
	UM_DHT_MAX_PROOF_PINGS = 16, /* proof requests in flight */
	UM_DHT_RECENT_PROOFS = 32,   /* IDs recently asked for a proof (not again soon) */
	UM_DHT_RATE_SOURCES = 64,    /* per-/24 STORE token buckets */
	UM_DHT_PROOF_BYTES = UM_HSIG_PK_BYTES + 64,
	UM_DHT_PAD_PROOF = 1280,      /* PING asking for the ~2.9 KB proof: 3x covers it */
	UM_DHT_PAD_FIND_NODE = 420,   /* FIND_NODE without a cookie: NODES fits 3x */
	UM_DHT_PAD_FIND_VALUE = 1280, /* FIND_VALUE without a cookie: NODES + 2 pieces */
};

enum um_dht_pending_kind {
	UM_DHT_P_PING,       /* liveness of a table contact */
	UM_DHT_P_PROOF,      /* proof of possession of a newcomer */
	UM_DHT_P_FIND_NODE,  /* lookup step */
	UM_DHT_P_FIND_VALUE, /* lookup step or a value fetch */
	UM_DHT_P_STORE,      /* a put's STORE */
};

struct um_dht_rt_contact {
	uint8_t id[32];
	struct um_addr addr;
	uint8_t cookie[UM_DHT_COOKIE_BYTES];
	bool has_cookie, pinging;
	uint8_t failures;
	uint64_t srtt_ns, rttvar_ns; /* 0 = no sample */
	uint64_t last_seen_ns;
};

struct um_dht_bucket {
	uint8_t n, n_repl, cap; /* cap: contacts allocated, grown by k up to k * bucket_width */
	uint64_t refreshed_ns;
	struct um_dht_rt_contact *contacts;
	struct um_dht_rt_contact *repl; /* `replacements` entries, allocated when first needed */
};

/* A reply arriving in pieces (a value or a proof). */
struct um_dht_assembly {
	uint16_t total_len, have; /* have: bitmap of pieces */
	uint8_t n_pieces, kind, value_index;
	uint8_t data[];
};

struct um_dht_pending {
	uint64_t txid;
	uint8_t kind;
	bool has_id, soft_expired, answered;
	uint8_t retries, value_index;
	uint8_t path;            /* lookup step: the disjoint path it counts toward (its candidate may be gone) */
	uint8_t replies, expect; /* FIND_VALUE: NODES received / awaited (a split request awaits 3) */
	uint16_t want, sent;     /* FIND_VALUE: pieces asked / announced */
	uint8_t id[32];
	struct um_addr to;
	uint64_t sent_ns, soft_ns, hard_ns;
	uint64_t lookup_id;
	uint8_t nonce[UM_DHT_NONCE_BYTES];
	uint8_t cookie[UM_DHT_COOKIE_BYTES]; /* PROOF: the PONG's, kept for the new contact */
	struct um_dht_assembly *assembly;
};

enum um_dht_cand_state { UM_DHT_C_NEW, UM_DHT_C_ASKED, UM_DHT_C_ANSWERED, UM_DHT_C_FAILED };

struct um_dht_candidate {
	uint8_t id[32];
	struct um_addr addr;
	uint8_t cookie[UM_DHT_COOKIE_BYTES];
	bool has_cookie, stored; /* stored: a put's STORE went to it */
	uint8_t state, path;
};

enum um_dht_lookup_kind { UM_DHT_L_NODE, UM_DHT_L_VALUE, UM_DHT_L_PUT, UM_DHT_L_REFRESH };

struct um_dht_lookup {
	uint64_t id;
	uint8_t kind;
	bool storing;          /* put: the STORE phase */
	bool converged;        /* the closest candidate answered: ask the rest of the k at once */
	unsigned holder_bits;  /* nodes sharing this many bits with the target likely hold its value */
	unsigned closest_bits; /* ... likely are among its k closest: asked at once, outside alpha */
	uint8_t target[32];
	uint64_t start_ns;
	unsigned n_cand, cap_cand;
	unsigned in_flight[UM_DHT_ALPHA_MAX]; /* per path: requests counting toward alpha */
	unsigned pending;                     /* all requests of this lookup in flight */
	unsigned messages, datagrams, storers, n_values;
	unsigned n_found;
	struct um_dht_summary found[UM_DHT_MAX_FOUND];
	uint8_t *value; /* put: the value (owned) */
	size_t value_len;
	struct um_dht_candidate cand[]; /* sorted by distance to target */
};

struct um_dht_stored {
	uint8_t key[32], owner[32];
	uint64_t sequence, expires_ns, stored_ns;
	struct um_addr_prefix source;
	uint16_t len;
	uint8_t *data;
};

struct um_dht_inbound {
	bool used;
	uint64_t txid, started_ns;
	struct um_addr from;
	uint8_t key[32];
	struct um_dht_assembly *assembly;
};

struct um_dht_rate {
	struct um_addr_prefix prefix;
	uint64_t last_ns;
	uint32_t tokens_milli;
};

struct um_dht {
	struct um_dht_config cfg;
	struct um_dht_value_ops ops;
	struct um_peer_id self;
	struct um_dht_stats stats;
	uint8_t cookie_secret[32];
	struct um_dht_bucket buckets[UM_DHT_ID_BITS];
	unsigned n_contacts;
	uint64_t global_srtt_ns, global_rttvar_ns;
	struct um_dht_pending **pending; /* stable pointers: callers hold them across sends */
	unsigned n_pending, cap_pending;
	unsigned n_assemblies, n_proof_pings;
	uint8_t recent_proofs[UM_DHT_RECENT_PROOFS][8];
	unsigned recent_next;
	struct um_dht_lookup **lookups;
	unsigned n_lookups;
	uint64_t next_lookup_id;
	struct um_dht_stored *store;
	unsigned n_store, cap_store;
	size_t store_bytes;
	struct um_dht_inbound inbound[8];
	struct um_dht_rate rates[UM_DHT_RATE_SOURCES];
	uint64_t next_refresh_ns, next_expiry_ns;
	bool joining; /* first proven contact starts a lookup of our own ID */
	bool again;   /* output was full: tick again now */
	/* Values events point to, freed at the next call. */
	struct um_dht_assembly *hold[UM_DHT_OUTPUT_EVENTS];
	unsigned n_hold;
	size_t memory;
	struct um_dht_output *out;
};

/* dht.c */
void *um_dht_alloc(struct um_dht *dht, size_t n);
void um_dht_free(struct um_dht *dht, void *p, size_t n);
void um_dht_random(struct um_dht *dht, void *buf, size_t len);
void um_dht_cookie(const struct um_dht *dht, const struct um_addr *addr, uint64_t now_ns, uint64_t epoch_back,
		   uint8_t out[UM_DHT_COOKIE_BYTES]);
bool um_dht_cookie_valid(const struct um_dht *dht, const struct um_addr *from, const uint8_t cookie[16],
			 uint64_t now_ns);
int um_dht_send(struct um_dht *dht, const struct um_addr *to, const struct um_dht_msg *m, size_t pad_to);
struct um_dht_event *um_dht_event_push(struct um_dht *dht, enum um_dht_event_type type);
struct um_dht_pending *um_dht_pending_new(struct um_dht *dht, uint8_t kind, const struct um_addr *to, const uint8_t *id,
					  uint64_t now_ns);
void um_dht_pending_drop(struct um_dht *dht, struct um_dht_pending *p);
struct um_dht_pending *um_dht_pending_find(struct um_dht *dht, uint64_t txid);
uint64_t um_dht_rto(const struct um_dht *dht, const uint8_t id[32], bool has_id);
/* srtt + var_mult * rttvar of id (or the table's estimate), floored. */
uint64_t um_dht_timeout(const struct um_dht *dht, const uint8_t id[32], bool has_id, unsigned var_mult);
void um_dht_rtt_sample(struct um_dht *dht, const uint8_t id[32], uint64_t rtt_ns, uint64_t now_ns);
void um_dht_msg_init(const struct um_dht *dht, struct um_dht_msg *m, uint8_t type, uint64_t txid);
int um_dht_proof_ping(struct um_dht *dht, const struct um_addr *to, const uint8_t *id, uint64_t now_ns);
void um_dht_maybe_verify(struct um_dht *dht, const uint8_t id[32], const struct um_addr *addr, uint64_t now_ns);
struct um_dht_assembly *um_dht_assembly_new(struct um_dht *dht, const struct um_dht_msg *m);
void um_dht_assembly_free(struct um_dht *dht, struct um_dht_assembly *a);
/* 1 when complete, 0 when more is expected, -UM_E* on a mismatch. */
int um_dht_assembly_add(struct um_dht_assembly *a, const struct um_dht_msg *m);

/* routing.c */
/* Contacts bucket b may hold: k * bucket_width, more for the top buckets. */
unsigned um_dht_rt_bucket_max(const struct um_dht *dht, unsigned b);
struct um_dht_rt_contact *um_dht_rt_find(struct um_dht *dht, const uint8_t id[32]);
int um_dht_rt_insert(struct um_dht *dht, const uint8_t id[32], const struct um_addr *addr, uint64_t now_ns);
void um_dht_rt_seen(struct um_dht *dht, const uint8_t id[32], const struct um_addr *from, uint64_t now_ns);
void um_dht_rt_failed(struct um_dht *dht, const uint8_t id[32], uint64_t now_ns);
void um_dht_rt_set_cookie(struct um_dht *dht, const uint8_t id[32], const uint8_t cookie[UM_DHT_COOKIE_BYTES]);
bool um_dht_rt_has_room(struct um_dht *dht, const uint8_t id[32]);
unsigned um_dht_rt_closest(const struct um_dht *dht, const uint8_t target[32], const uint8_t *exclude,
			   struct um_dht_rt_contact **out, unsigned max);
void um_dht_rt_tick(struct um_dht *dht, uint64_t now_ns);
void um_dht_rt_free(struct um_dht *dht);

/* lookup.c */
int um_dht_lookup_start(struct um_dht *dht, uint8_t kind, const uint8_t target[32], const uint8_t *value,
			size_t value_len, uint64_t now_ns, uint64_t *id);
struct um_dht_lookup *um_dht_lookup_get(struct um_dht *dht, uint64_t id);
void um_dht_lookup_reply(struct um_dht *dht, struct um_dht_pending *p, const struct um_dht_msg *m, uint64_t now_ns);
void um_dht_lookup_piece(struct um_dht *dht, struct um_dht_pending *p, const struct um_dht_msg *m, uint64_t now_ns);
void um_dht_lookup_store_ack(struct um_dht *dht, struct um_dht_pending *p, const struct um_dht_msg *m, uint64_t now_ns);
/* The pending request p (of a lookup) timed out softly (hard = false) or
 * for good. */
void um_dht_lookup_timeout(struct um_dht *dht, struct um_dht_pending *p, bool hard, uint64_t now_ns);
void um_dht_lookup_tick(struct um_dht *dht, uint64_t now_ns);
void um_dht_lookup_free_all(struct um_dht *dht);

/* store.c */
/* Store a value from `source` (NULL = ourselves). A UM_DHT_STORE_* status. */
int um_dht_store_put(struct um_dht *dht, const uint8_t key[32], const uint8_t *value, size_t len,
		     const struct um_addr *source, uint64_t now_ns);
/* Values under key: indexes into dht->store, at most max. */
unsigned um_dht_store_get(const struct um_dht *dht, const uint8_t key[32], unsigned *idx, unsigned max);
void um_dht_store_receive(struct um_dht *dht, const struct um_addr *from, const struct um_dht_msg *m, uint64_t now_ns);
void um_dht_store_tick(struct um_dht *dht, uint64_t now_ns);
void um_dht_store_free(struct um_dht *dht);

/* Warm start for the simulator: insert a contact as if it had proven its
 * identity already (tests/sim only). */
int um_dht_test_insert(struct um_dht *dht, const struct um_dht_contact *c, uint64_t now_ns);

#endif
