/* SPDX-License-Identifier: MIT */
/* The relay's forwarding core, free of I/O: (source endpoint, datagram,
 * now) in, datagrams to send out. The daemon owns sockets and clocks and
 * calls um_relay_input() for every datagram, um_relay_expire() about once a
 * second. Single-threaded: one core per struct um_relay.
 *
 * State: a fixed table of registered nodes (allocated once for max_nodes,
 * so memory never grows with traffic), three chained hash indexes into it
 * (peer ID -> node for destinations, endpoint -> node for senders, session
 * index -> node for sealed control messages; SipHash with a random key, so
 * chains cannot be steered), and one handshake engine (session/
 * handshake.h) in responder mode with the relay's identity.
 *
 * Registration (wire version 3, wire/relay.h): a node asks for the relay's
 * ID (RELAY_ID) unless it pinned it, then runs an umbra handshake with the
 * relay as responder (RELAY_HANDSHAKE). The engine's cookies, per-source
 * and per-prefix HELLO budgets and global CHALLENGE budget bound the CPU a
 * flood costs; its round trips prove the node's address, and its identity
 * hiding keeps the node's ID and key from anyone but the relay. An unknown
 * initiator with a verified signature is admitted (allow-list, node cap)
 * through the engine's admit callback, which opens its table entry. Then,
 * sealed with the session's keys (RELAY_SEALED, a counter and a replay
 * window): REGISTER (admission tag under the network key) -> ACK (limits,
 * observed endpoint, challenge); KEEPALIVE -> KEEPALIVE_REPLY. A
 * registration binds or moves to an endpoint only when a fresh sealed
 * KEEPALIVE from there echoes the challenge sent there, so neither a
 * replayed keepalive nor a spoofed registration takes a binding. Nodes
 * expire when neither keepalives nor traffic arrive for
 * registration_timeout. Each node has GCRA (token-bucket equivalent)
 * packet and byte limits on what it sends; every drop has a counter.
 * Unsealed replies (RELAY_ID, ERROR) are never larger than the datagram
 * causing them and share a global budget, so the relay cannot amplify. */
#ifndef UM_RELAY_RELAY_H
#define UM_RELAY_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"
#include "wire/fragment.h"
#include "wire/relay.h"

struct um_relay_config {
	/* The relay's identity (borrowed: valid while the relay lives). */
	const struct um_identity *identity;
	uint32_t max_nodes;
	uint64_t registration_timeout_ns;     /* expiry without keepalive/traffic */
	uint16_t keepalive_interval_s;        /* advertised in the sealed ACK */
	uint32_t packets_per_s, packet_burst; /* per node, what it sends */
	uint32_t bytes_per_s, byte_burst;
	/* The handshake engine's global CHALLENGE budget (a KEM keygen and a
	 * signature each, then a verification per RESPONSE). */
	uint32_t verifications_per_s, verification_burst;
	/* Its aggregate HELLO budget per IPv4 /24 or IPv6 /48. */
	uint32_t prefix_verifications_per_s, prefix_verification_burst;
	uint32_t errors_per_s, error_burst; /* global ERROR reply budget */
	/* Routing handles in all (one per pair of nodes that talk, each way);
	 * 0 = 8 per node slot, at least 1024. */
	uint32_t max_handles;
	/* Admission: when allow_count > 0 only those IDs; when admission_key is
	 * set the registration's tag must verify. Both set: both required. */
	const struct um_peer_id *allow; /* copied at init */
	size_t allow_count;
	const uint8_t *admission_key; /* 32 bytes, copied; NULL = none */
};

/* Defaults: 65536 nodes, 90 s timeout, keepalive 25 s, 20000 packets/s
 * (burst 2000), 25 MB/s (burst 2.5 MB), 500 handshakes/s (burst 100), 40
 * HELLOs/s per prefix (burst 40), 10000 errors/s (burst 1000), open
 * admission; identity NULL (the caller sets it). */
void um_relay_default_config(struct um_relay_config *config);

struct um_relay_stats {
	uint64_t registered; /* gauge */
	uint64_t registrations, reregistrations, expired;
	/* reg_malformed: handshake datagrams the engine refused as malformed;
	 * reg_bad_signature: handshakes that failed authentication;
	 * reg_rate_limited: HELLOs refused by its budgets. Read from the
	 * engine by um_relay_sync_stats. */
	uint64_t reg_malformed, reg_stale, reg_not_admitted, reg_replay, reg_need_key, reg_rate_limited,
	    reg_prefix_rate_limited, reg_bad_id, reg_bad_signature, reg_full, reg_replay_cache_full;
	uint64_t fragments_buffered, fragments_rejected;
	uint64_t reg_version; /* messages of another relay protocol version (answered ERROR VERSION) */
	uint64_t id_requests, handshakes, sealed_bad, sealed_replay, sealed_unknown;
	uint64_t handles; /* gauge */
	uint64_t lookups, lookup_misses, resolves, announces, handles_full, drop_unknown_handle;
	uint64_t lookups_held, lookups_answered_late; /* a miss kept as a watch; answered at the registration */
	uint64_t keepalives, keepalive_unknown, keepalive_bad_mac, keepalive_stale, challenges_sent, rebinds;
	uint64_t bound_at_register; /* unbound nodes bound by a REGISTER from their handshake's address */
	uint64_t forwarded_packets, forwarded_bytes;
	uint64_t drop_malformed, drop_unknown_type, drop_not_registered, drop_rate_limited_packets,
	    drop_rate_limited_bytes, drop_unknown_peer, drop_to_self;
	uint64_t errors_sent, errors_suppressed;
};

struct um_relay_node;
struct um_relay_handle;
struct um_handshake_engine;
struct um_handshake_output;

enum {
	UM_RELAY_OUTPUT_MAX =
	    UM_FRAG_MAX_COUNT + 1,  /* datagrams one input can cause (a CHALLENGE and its parity piece) */
	UM_RELAY_RECENT_MOVES = 16, /* old endpoints still accepted after a move */
	UM_RELAY_WATCHES = 256,     /* held LOOKUPs (relay_watch.c), in all */
	UM_RELAY_WATCHES_PER_NODE = 8,
};

/* A LOOKUP that missed, answered when its target registers (relay_watch.c). */
struct um_relay_watch {
	struct um_peer_id target;
	uint32_t watcher, watcher_gen; /* node slot and its generation */
	uint64_t until_ns;             /* 0 / past = free */
	bool ready;                    /* the target registered: answer due */
};

/* A node's endpoint before its binding moved (return routability proven
 * at the new one): FORWARDs still in flight from there, e.g. queued on the
 * wss:// connection a node leaves for UDP, are taken for a short grace. */
struct um_relay_recent_move {
	struct um_addr endpoint;
	uint32_t index, gen;
	uint64_t until_ns; /* 0 = free */
};

struct um_relay {
	struct um_relay_config config;
	struct um_relay_node *nodes;              /* max_nodes entries */
	uint32_t *by_id, *by_endpoint, *by_index; /* bucket heads, bucket_mask + 1 each */
	uint32_t bucket_mask;
	uint32_t free_head, count;
	uint32_t sweep_cursor;
	struct um_peer_id *allow; /* sorted copy */
	uint8_t admission_key[UM_RELAY_ADMISSION_KEY_BYTES];
	bool has_admission_key;
	uint8_t hash_key[16];
	uint64_t error_tat; /* global GCRA state */
	/* Routing handles (relay_handles.c): a fixed table (a handle holds
	 * its entry's index) and an (owner, target) index for LOOKUP. */
	struct um_relay_handle *handles;
	uint32_t *by_pair;
	uint32_t handle_mask, handle_free, handle_count, handle_sweep;
	struct um_handshake_engine *hs;     /* owned: responder mode */
	struct um_handshake_output *hs_out; /* owned scratch (large, holds keys briefly) */
	uint64_t now_ns;                    /* of the call in progress (admit callback) */
	struct um_relay_recent_move recent_moves[UM_RELAY_RECENT_MOVES];
	unsigned recent_move_next;
	struct um_relay_watch watches[UM_RELAY_WATCHES];
	unsigned watches_ready;
	struct um_relay_stats stats;
	uint8_t reply[UM_RELAY_SEALED_BYTES]; /* replies (valid until the next call) */
	uint8_t hs_reply[UM_RELAY_OUTPUT_MAX][UM_RELAY_HANDSHAKE_MAX_BYTES];
};

/* Datagrams to send, all to `to`: data points into the input datagram
 * (FORWARDED, rewritten in place), into relay->reply or relay->hs_reply
 * (valid until the next call). count >= 1 when the call returned 1. */
struct um_relay_output {
	struct um_addr to;
	const uint8_t *data; /* = datagrams[0] */
	size_t len;          /* = lengths[0] */
	unsigned count;
	const uint8_t *datagrams[UM_RELAY_OUTPUT_MAX];
	size_t lengths[UM_RELAY_OUTPUT_MAX];
};

/* Allocates the tables and the handshake engine. config->identity is
 * required (-UM_EINVAL without). Free with um_relay_destroy. */
int um_relay_init(struct um_relay *relay, const struct um_relay_config *config);
void um_relay_destroy(struct um_relay *relay);

/* One received datagram (writable: FORWARD is rewritten in place). from
 * must be normalised (IPv4 as family 4, not v4-mapped). now_ns is
 * monotonic, wall_ms the wall clock for handshake timestamps. Returns 1
 * with *out set when something must be sent, else 0. */
int um_relay_input(struct um_relay *relay, const struct um_addr *from, uint8_t *datagram, size_t len, uint64_t now_ns,
		   uint64_t wall_ms, struct um_relay_output *out);

/* Expires silent nodes, looking at up to `budget` table slots from where
 * the last call stopped (0 = all), and the handshake engine's stale
 * state. Returns the number expired. */
unsigned um_relay_expire(struct um_relay *relay, uint64_t now_ns, uint64_t wall_ms, uint32_t budget);
/* Copies the handshake engine's counters into relay->stats (reg_*). */
void um_relay_sync_stats(struct um_relay *relay);
/* What the last inputs owe other nodes (a held LOOKUP answered when its
 * target registered): call after um_relay_input until it returns 0; each
 * output is one datagram, valid until the next call. */
int um_relay_pending(struct um_relay *relay, struct um_relay_output *out);

/* Read-only view of a registered node, for status and tests. */
struct um_relay_node_info {
	bool registered;         /* a sealed REGISTER was accepted under the current session */
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
