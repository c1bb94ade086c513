/* SPDX-License-Identifier: MIT */
/* The Kademlia DHT engine, free of I/O (docs/PROTOCOL.md section "DHT").
 *
 * The caller owns the socket and the timer; it feeds DHT datagrams (type
 * bytes 0x30..0x3f, wire/dht.h) and the clock in, and gets datagrams to send
 * and events out. No sockets, threads, timers, globals or logging in here;
 * one engine per node, used from one thread. Typical use:
 *
 *   um_dht_create(&dht, &config, &value_ops, now);
 *   um_dht_add_contact_address(dht, &bootstrap, now);   (and/or contacts_load)
 *   on a datagram whose first byte is 0x30..0x3f:
 *       um_dht_receive(dht, &from, data, len, now, out);  then send / act on out
 *   on a timer at um_dht_next_deadline(dht):
 *       um_dht_tick(dht, now, out);                        then send / act on out
 *   um_dht_find_value(dht, key, now, &id, out) ... events carry the id.
 *   um_dht_destroy(dht).
 *
 * `out` is caller-owned (struct um_dht_output, ~50 KB: keep one, do not put
 * it on a small stack); every call resets it. When a call had more to send
 * than out holds, the rest waits: um_dht_next_deadline() is then `now`.
 * Event values point into engine memory, valid until the next call.
 *
 * Routing: 256-bit IDs (peer IDs), XOR metric, 256 buckets of k contacts
 * plus a replacement cache each. A contact enters a bucket only after it
 * answered a PING from the address it claims (transaction id echoed) with a
 * proof of possession: its hybrid public key (hashing to its ID) and an
 * Ed25519 signature by that key over our fresh nonce. Address diversity caps
 * contacts per /24 (/48) per bucket and per table. */
#ifndef UM_DHT_DHT_H
#define UM_DHT_DHT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"
#include "util/addr.h"

enum {
	UM_DHT_KEY_BYTES = 32,
	UM_DHT_ID_BITS = 256,
	UM_DHT_VALUE_MAX = 8192,    /* largest value the engine stores or carries */
	UM_DHT_DATAGRAM_MAX = 1280, /* every datagram it emits */
	UM_DHT_K_MAX = 20,          /* largest configurable k */
	UM_DHT_ALPHA_MAX = 8,
	UM_DHT_OUTPUT_DATAGRAMS = 32, /* per call; more waits for the next tick */
	UM_DHT_OUTPUT_EVENTS = 16,
};

/* ---- values (the embedder's validator) ----------------------------------- */

struct um_dht_value_info {
	uint8_t owner[32];   /* who signed it (peer ID, or the private record's outer key hash) */
	uint64_t sequence;   /* higher replaces lower; equal or lower is refused (counted) */
	uint64_t expires_ns; /* monotonic clock (the validator converts wall-clock expiry) */
};

struct um_dht_value_ops {
	void *ctx;
	/* 0 when value may be stored/returned under key: well-formed, signature
	 * verified, key bound to the owner, not expired. Fills *info. -UM_E*
	 * otherwise (the engine counts it as forged/invalid and drops it).
	 * Called before any value is stored and on every value a lookup
	 * receives, before it is reported. */
	int (*check)(void *ctx, const uint8_t key[32], const uint8_t *value, size_t len, uint64_t now_ns,
		     struct um_dht_value_info *info);
};

/* ---- configuration --------------------------------------------------------- */

/* Fills buf with len random bytes (nonces, transaction ids, the cookie
 * secret). NULL = libsodium's randombytes_buf. The simulator seeds its own. */
typedef void (*um_dht_random_fn)(void *ctx, void *buf, size_t len);

struct um_dht_config {
	/* Borrowed: must stay valid (and unchanged) while the engine lives.
	 * Only the peer ID, the hybrid public key and the Ed25519 half of the
	 * secret key are used (proofs of possession). */
	const struct um_identity *identity;
	um_dht_random_fn random; /* NULL = randombytes_buf */
	void *random_ctx;
	/* 0 = default for each of these. */
	unsigned k;            /* contacts per bucket, results per lookup (8; <= UM_DHT_K_MAX) */
	unsigned alpha;        /* parallel requests per lookup and path (3; <= UM_DHT_ALPHA_MAX) */
	unsigned replacements; /* replacement cache per bucket (k) */
	/* A bucket holds up to k * bucket_width contacts (1 = plain Kademlia).
	 * Wider far buckets resolve more bits per hop (the paper's accelerated
	 * lookups): fewer round trips for a few more KB. (4; <= 8) */
	unsigned bucket_width;
	unsigned disjoint_paths;      /* d > 1: S/Kademlia disjoint lookups (1 = off) */
	unsigned max_failures;        /* timeouts in a row before a contact is stale (3) */
	unsigned per_prefix_bucket;   /* contacts per /24 (/48) in one bucket (2) */
	unsigned per_prefix_table;    /* ... in the whole table (10) */
	bool no_diversity;            /* lift both prefix caps (namespace tests, one /24) */
	unsigned max_lookups;         /* lookups and puts in flight (32) */
	uint64_t initial_rto_ns;      /* per-request timeout before any RTT sample (1 s) */
	uint64_t min_rto_ns;          /* floor of the adaptive timeout (50 ms) */
	uint64_t refresh_interval_ns; /* bucket refresh (15 min; own neighbourhood first) */
	/* Store bounds. */
	unsigned max_values;             /* values stored in all (1024) */
	size_t max_store_bytes;          /* bytes stored in all (4 MiB) */
	unsigned max_values_per_key;     /* owners per key (16) */
	unsigned max_values_per_source;  /* values accepted from one /24 (/48) still stored (64) */
	unsigned store_per_second;       /* STOREs accepted per source /24 (/48) per second (4, burst 8) */
	unsigned max_inbound_assemblies; /* STOREs being reassembled at once (4) */
	uint64_t value_max_lifetime_ns;  /* stored value dropped after this even if not expired (24 h) */
};

/* ---- events and output ----------------------------------------------------- */

enum um_dht_event_type {
	UM_DHT_EVENT_NONE,
	UM_DHT_EVENT_VALUE,           /* lookup `id` got a valid value (value, value_len, info); more may follow */
	UM_DHT_EVENT_LOOKUP_DONE,     /* lookup `id` ended: closest[n_closest], n_values found */
	UM_DHT_EVENT_PUT_DONE,        /* put `id` ended: `storers` acknowledged it */
	UM_DHT_EVENT_CONTACT_ADDED,   /* `peer` at `addr` entered the routing table */
	UM_DHT_EVENT_CONTACT_EVICTED, /* `peer` left it (stale, or replaced) */
};

struct um_dht_contact {
	struct um_peer_id id;
	struct um_addr addr;
};

struct um_dht_event {
	enum um_dht_event_type type;
	uint64_t id; /* lookup / put id (VALUE, LOOKUP_DONE, PUT_DONE) */
	uint8_t key[UM_DHT_KEY_BYTES];
	/* VALUE: borrowed from the engine until its next call. */
	const uint8_t *value;
	size_t value_len;
	struct um_dht_value_info info;
	/* LOOKUP_DONE: the k closest nodes that answered, closest first. */
	unsigned n_closest;
	struct um_dht_contact closest[UM_DHT_K_MAX];
	unsigned n_values;      /* LOOKUP_DONE: valid values reported */
	unsigned storers;       /* PUT_DONE */
	uint64_t elapsed_ns;    /* VALUE, LOOKUP_DONE, PUT_DONE: since the lookup started */
	unsigned messages;      /* LOOKUP_DONE, PUT_DONE: requests sent + answers received */
	unsigned datagrams;     /* ... the datagrams they took (pieces included) */
	struct um_peer_id peer; /* CONTACT_* */
	struct um_addr addr;    /* CONTACT_* */
};

struct um_dht_datagram {
	struct um_addr to;
	uint16_t len;
	uint8_t bytes[UM_DHT_DATAGRAM_MAX];
};

struct um_dht_output {
	unsigned n_datagrams, n_events;
	struct um_dht_datagram datagrams[UM_DHT_OUTPUT_DATAGRAMS];
	struct um_dht_event events[UM_DHT_OUTPUT_EVENTS];
};

/* Every drop and every count, for `umbra dht status` and the tests. */
struct um_dht_stats {
	uint64_t received, sent, malformed, unsolicited, wrong_sender;
	uint64_t proofs_sent, proofs_verified, proofs_failed;
	uint64_t contacts_added, contacts_evicted, contacts_refused_diversity, contacts_replaced;
	uint64_t timeouts, lookups_started, lookups_done, lookups_refused;
	uint64_t values_found, values_invalid, values_stale;
	uint64_t store_accepted, store_invalid, store_stale, store_no_cookie, store_rate_limited;
	uint64_t store_full_node, store_full_key, store_full_source, store_assembly_dropped, store_too_big;
	uint64_t amplification_capped, output_deferred, events_dropped, reassembly_dropped;
	uint64_t values_expired;
};

/* Read-only view of the table for status displays and tests. */
struct um_dht_contact_info {
	struct um_dht_contact contact;
	unsigned bucket;
	uint64_t srtt_ns, rto_ns, last_seen_ns;
	unsigned failures;
};

struct um_dht; /* opaque, owned by the caller through create/destroy */

/* New engine into *out (owned by the caller; um_dht_destroy). config and
 * ops are copied; config->identity is borrowed. -UM_EINVAL on a bad config,
 * -UM_ENOMEM. */
int um_dht_create(struct um_dht **out, const struct um_dht_config *config, const struct um_dht_value_ops *ops,
		  uint64_t now_ns);
void um_dht_destroy(struct um_dht *dht);

/* A datagram from `from` (borrowed). 0, or -UM_E* when it was dropped
 * (counted in stats; out may still hold datagrams). */
int um_dht_receive(struct um_dht *dht, const struct um_addr *from, const uint8_t *data, size_t len, uint64_t now_ns,
		   struct um_dht_output *out);
/* Timers: request timeouts, retries, bucket refresh, store expiry, and any
 * output deferred by a full `out`. */
void um_dht_tick(struct um_dht *dht, uint64_t now_ns, struct um_dht_output *out);
/* When tick next has work; UINT64_MAX = none. */
uint64_t um_dht_next_deadline(const struct um_dht *dht);

/* A bootstrap address whose ID is unknown: PINGed (asking for the proof)
 * and, once proven, added and used to look up our own ID. */
int um_dht_add_contact_address(struct um_dht *dht, const struct um_addr *addr, uint64_t now_ns,
			       struct um_dht_output *out);
/* A contact whose ID is known (saved table, config): PINGed with a proof
 * request like any newcomer; nothing enters the table unproven. */
int um_dht_add_contact(struct um_dht *dht, const struct um_dht_contact *contact, uint64_t now_ns,
		       struct um_dht_output *out);

/* Lookups. *id (may be NULL) names the operation in its events. -UM_ELIMIT
 * when max_lookups are in flight, -UM_ESTATE with an empty table. */
int um_dht_find_node(struct um_dht *dht, const uint8_t target[UM_DHT_KEY_BYTES], uint64_t now_ns, uint64_t *id,
		     struct um_dht_output *out);
int um_dht_find_value(struct um_dht *dht, const uint8_t key[UM_DHT_KEY_BYTES], uint64_t now_ns, uint64_t *id,
		      struct um_dht_output *out);
/* Publish value (copied; checked by the value ops first, -UM_EBADMSG if
 * refused) at the k closest nodes to key, and in our own store. */
int um_dht_put(struct um_dht *dht, const uint8_t key[UM_DHT_KEY_BYTES], const uint8_t *value, size_t len,
	       uint64_t now_ns, uint64_t *id, struct um_dht_output *out);
/* Stop a lookup or put early (no DONE event). */
void um_dht_cancel(struct um_dht *dht, uint64_t id);

/* Routing table as compact bytes (ID + address per contact, versioned) for
 * a file. um_dht_contacts_save returns the length written or -UM_ERANGE if
 * cap is too small (um_dht_contacts_save_size tells the size). Loaded
 * contacts are PINGed for their proof before they count (um_dht_add_contact). */
size_t um_dht_contacts_save_size(const struct um_dht *dht);
int um_dht_contacts_save(const struct um_dht *dht, uint8_t *buf, size_t cap);
int um_dht_contacts_load(struct um_dht *dht, const uint8_t *buf, size_t len, uint64_t now_ns,
			 struct um_dht_output *out);

/* Introspection. */
const struct um_dht_stats *um_dht_stats(const struct um_dht *dht);
const struct um_peer_id *um_dht_self(const struct um_dht *dht);
unsigned um_dht_contact_count(const struct um_dht *dht);
/* Up to max contacts, closest to our ID first by bucket. Returns how many. */
unsigned um_dht_contacts(const struct um_dht *dht, struct um_dht_contact_info *infos, unsigned max);
/* The n <= max contacts of the table closest to target (closest first). */
unsigned um_dht_closest(const struct um_dht *dht, const uint8_t target[UM_DHT_KEY_BYTES], struct um_dht_contact *out,
			unsigned max);
unsigned um_dht_stored_count(const struct um_dht *dht);
unsigned um_dht_lookups_in_flight(const struct um_dht *dht);
/* Bytes the engine holds now (table, store, lookups, buffers). */
size_t um_dht_memory(const struct um_dht *dht);

/* XOR distance helpers (also for tests and the simulator). */
int um_dht_distance_cmp(const uint8_t target[32], const uint8_t a[32], const uint8_t b[32]);
/* Index of the bucket of `other` seen from `self`: 255 - (number of leading
 * equal bits), or -1 when equal. */
int um_dht_bucket_index(const uint8_t self[32], const uint8_t other[32]);

#endif
