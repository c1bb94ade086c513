/* SPDX-License-Identifier: MIT */
/* The relay's forwarding core, free of I/O: (source endpoint, datagram,
 * now) in, at most one datagram to send out. The daemon owns sockets and
 * clocks and calls um_relay_input() for every datagram, um_relay_expire()
 * about once a second. Single-threaded: one core per struct um_relay.
 *
 * State: a fixed table of registered nodes (allocated once for max_nodes,
 * so memory never grows with traffic), two chained hash indexes into it
 * (peer ID -> node for destinations, endpoint -> node for senders; SipHash
 * with a random key, so chains cannot be steered), a replay cache of
 * registration nonces, and the fragment reassembler for REGISTER.
 *
 * Registration (wire version 2): structure, timestamp window, admission (allow-list and/or
 * network admission key), replay (nonce seen, or a timestamp not newer
 * than the node's last), ID == H(public key), a per-prefix and a global
 * budget of signature verifications, then the hybrid signature. REGISTER
 * FRAGMENTs must carry receiver index 0 and the exact length of a
 * REGISTER; only a first piece opens a reassembly slot, and a full
 * reassembler evicts from the prefix holding the most slots. A verified
 * REGISTER yields a MAC key (X25519 with the node's ephemeral key) and a
 * challenge, but no endpoint: a registration binds or moves to an endpoint
 * only when a fresh (sequence above the last), MACed KEEPALIVE from there
 * echoes the challenge sent there. Nodes expire when neither keepalives nor traffic
 * arrive for registration_timeout. Each node has GCRA (token-bucket
 * equivalent) packet and byte limits on what it sends; every drop has a
 * counter. Replies (errors) are never larger than the datagram causing
 * them and share a global budget, so the relay cannot amplify. */
#ifndef UM_RELAY_RELAY_H
#define UM_RELAY_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/fragment.h"
#include "wire/relay.h"

typedef int (*um_relay_key_lookup_fn)(void *arg, const struct um_peer_id *id, uint8_t public_key[UM_HSIG_PK_BYTES]);

struct um_relay_config {
	uint32_t max_nodes;
	uint64_t registration_timeout_ns;     /* expiry without keepalive/traffic */
	uint16_t keepalive_interval_s;        /* advertised in REGISTER_ACK */
	uint64_t timestamp_window_ms;         /* accepted |wall clock - timestamp| */
	uint32_t packets_per_s, packet_burst; /* per node, what it sends */
	uint32_t bytes_per_s, byte_burst;
	uint32_t verifications_per_s, verification_burst; /* global signature budget */
	/* The same per IPv4 /24 or IPv6 /64 source prefix, so one site cannot
	 * drain the global budget (hashed into a fixed table: prefixes that
	 * collide share a budget). */
	uint32_t prefix_verifications_per_s, prefix_verification_burst;
	uint32_t errors_per_s, error_burst; /* global ERROR reply budget */
	/* Admission: when allow_count > 0 only those IDs; when admission_key is
	 * set the registration's tag must verify. Both set: both required. */
	const struct um_peer_id *allow; /* copied at init */
	size_t allow_count;
	const uint8_t *admission_key; /* 32 bytes, copied; NULL = none */
	/* For registrations without the public key; NULL = refuse them. */
	um_relay_key_lookup_fn key_lookup;
	void *key_lookup_arg;
	const struct um_reasm_limits *reassembly; /* NULL = fragment.h defaults */
};

/* Defaults: 65536 nodes, 90 s timeout, keepalive 25 s, window 60 s,
 * 20000 packets/s (burst 2000), 25 MB/s (burst 2.5 MB), 500 verifications/s
 * (burst 100), 20 per prefix (burst 20), 10000 errors/s (burst 1000), open
 * admission. */
void um_relay_default_config(struct um_relay_config *config);

struct um_relay_stats {
	uint64_t registered; /* gauge */
	uint64_t registrations, reregistrations, expired;
	uint64_t reg_malformed, reg_stale, reg_not_admitted, reg_replay, reg_need_key, reg_rate_limited,
	    reg_prefix_rate_limited, reg_bad_id, reg_bad_signature, reg_full, reg_replay_cache_full;
	uint64_t fragments_buffered, fragments_rejected;
	uint64_t reg_version; /* REGISTER of another protocol version */
	uint64_t keepalives, keepalive_unknown, keepalive_bad_mac, keepalive_stale, challenges_sent, rebinds;
	uint64_t forwarded_packets, forwarded_bytes;
	uint64_t drop_malformed, drop_unknown_type, drop_not_registered, drop_rate_limited_packets,
	    drop_rate_limited_bytes, drop_unknown_peer, drop_to_self;
	uint64_t errors_sent, errors_suppressed;
};

struct um_relay_node;
struct um_relay_nonce;

enum { UM_RELAY_PREFIX_BUDGETS = 4096 };

struct um_relay {
	struct um_relay_config config;
	struct um_relay_node *nodes;   /* max_nodes entries */
	uint32_t *by_id, *by_endpoint; /* bucket heads, bucket_mask + 1 each */
	uint32_t bucket_mask;
	uint32_t free_head, count;
	uint32_t sweep_cursor;
	struct um_relay_nonce *nonces; /* replay cache, nonce_mask + 1 slots */
	uint32_t nonce_mask;
	struct um_peer_id *allow; /* sorted copy */
	uint8_t admission_key[UM_RELAY_ADMISSION_KEY_BYTES];
	bool has_admission_key;
	uint8_t hash_key[16];
	uint64_t verify_tat, error_tat; /* global GCRA state */
	uint64_t *prefix_verify_tat;    /* UM_RELAY_PREFIX_BUDGETS entries */
	struct um_reassembler reasm;
	struct um_relay_stats stats;
	uint8_t reply[UM_RELAY_REGISTER_MAX_BYTES]; /* replies and reassembled REGISTERs */
	uint8_t register_buf[UM_RELAY_REGISTER_MAX_BYTES];
};

/* A datagram to send: data points into the input datagram (FORWARDED,
 * rewritten in place) or into relay->reply (valid until the next call). */
struct um_relay_output {
	struct um_addr to;
	const uint8_t *data;
	size_t len;
};

/* Allocates the tables. config NULL = defaults. Free with um_relay_destroy. */
int um_relay_init(struct um_relay *relay, const struct um_relay_config *config);
void um_relay_destroy(struct um_relay *relay);

/* One received datagram (writable: FORWARD is rewritten in place). from
 * must be normalised (IPv4 as family 4, not v4-mapped). now_ns is
 * monotonic, wall_ms the wall clock for registration timestamps. Returns 1
 * with *out set when something must be sent, else 0. */
int um_relay_input(struct um_relay *relay, const struct um_addr *from, uint8_t *datagram, size_t len, uint64_t now_ns,
		   uint64_t wall_ms, struct um_relay_output *out);

/* Expires silent nodes, looking at up to `budget` table slots from where
 * the last call stopped (0 = all). Returns the number expired. */
unsigned um_relay_expire(struct um_relay *relay, uint64_t now_ns, uint32_t budget);

/* Read-only view of a registered node, for status and tests. */
struct um_relay_node_info {
	struct um_addr endpoint; /* family 0 = not bound (yet) */
	struct um_addr pending;  /* challenged, not yet echoed (family 0 = none) */
	uint64_t last_seen_ns;
	uint64_t forwarded_packets, forwarded_bytes, dropped;
};
int um_relay_lookup(const struct um_relay *relay, const struct um_peer_id *id, struct um_relay_node_info *info);

/* Bytes allocated for tables and caches (excluding struct um_relay itself
 * and the reassembler's per-message buffers, which its own caps bound). */
size_t um_relay_memory_bytes(const struct um_relay *relay);

#endif
