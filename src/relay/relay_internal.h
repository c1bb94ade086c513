/* SPDX-License-Identifier: MIT */
/* Shared by the relay core's files, in call order: relay.c (setup,
 * FORWARD, expiry) -> relay_control.c (RELAY_ID, registration handshakes,
 * sealed control messages) -> relay_handles.c (routing handles) and
 * relay_table.c (budgets, node indexes, unsealed replies). */
#ifndef UM_RELAY_RELAY_INTERNAL_H
#define UM_RELAY_RELAY_INTERNAL_H

#include "relay/relay.h"
#include "session/handshake.h"

#define NONE UINT32_MAX
#define NSEC 1000000000ULL
/* While a pair's traffic flows, its receiver is told what the handle
 * names again this often, so a lost ANNOUNCE costs at most this long. */
#define ANNOUNCE_REFRESH_NS (10 * NSEC)

struct um_relay_node {
	struct um_peer_id id;
	struct um_addr endpoint; /* family 0 = not bound to any endpoint */
	uint32_t next_by_id;     /* chain in by_id; free-list link when unused */
	uint32_t next_by_endpoint;
	uint32_t next_by_index;
	struct um_handshake_peer *hs_peer; /* the engine's entry for this node */
	/* The session of the node's last handshake: sealed control messages. */
	bool has_session, registered;
	uint32_t local_index, remote_index;
	uint8_t send_key[UM_RELAY_KEY_BYTES], recv_key[UM_RELAY_KEY_BYTES];
	uint64_t send_counter;
	struct um_relay_window window;
	uint64_t last_sequence; /* newest accepted KEEPALIVE */
	/* Return routability: the endpoint a fresh KEEPALIVE came from and the
	 * challenge sent there; the binding moves only on its sealed echo. */
	struct um_addr pending; /* family 0 = none */
	uint8_t challenge[UM_RELAY_CHALLENGE_BYTES];
	/* Where the session's handshake ran (its CHALLENGE went there and the
	 * RESPONSE came from there): an unbound node's REGISTER from exactly
	 * there binds it at once (docs/PROTOCOL.md section 12, Bindings). */
	struct um_addr handshake_from; /* family 0 = none */
	uint64_t last_seen_ns;
	uint64_t packet_tat, byte_tat; /* GCRA theoretical arrival times (ns) */
	uint64_t forwarded_packets, forwarded_bytes, dropped;
	uint32_t gen;       /* bumped each time the slot is freed: stale handles see it */
	uint32_t n_handles; /* handles it owns */
	bool used;
};

/* A routing handle: `handle` names `target` in `owner`'s registration. */
struct um_relay_handle {
	uint64_t handle; /* 0 = free */
	uint32_t owner, target, owner_gen, target_gen;
	uint32_t next_by_pair, next_free;
	uint32_t back; /* the entry of the same pair the other way (a hint: checked), or NONE */
	/* When the owner was last told what it names (ANNOUNCE, or the answer
	 * to its LOOKUP/RESOLVE); 0 = never. */
	uint64_t announced_ns;
};

/* GCRA (relay_table.c): a token bucket kept as one timestamp. */
bool um_relay_gcra_check(uint64_t tat, uint64_t now, uint64_t cost, uint64_t tolerance, uint64_t *new_tat);
uint64_t um_relay_unit_cost(uint64_t units, uint32_t rate);
bool um_relay_budget_take(uint64_t *tat, uint64_t now, uint32_t rate, uint32_t burst);

/* Tables (relay_table.c). */
uint32_t um_relay_hash_id(const struct um_relay *r, const struct um_peer_id *id);
uint32_t um_relay_hash_index(const struct um_relay *r, uint32_t index);
uint32_t um_relay_find_by_id(const struct um_relay *r, const struct um_peer_id *id);
/* Held LOOKUPs (relay_watch.c): keep a miss of watcher's; a node that is
 * now registered and bound answers the watches on it (um_relay_pending). */
void um_relay_watch_add(struct um_relay *r, uint32_t watcher, const struct um_peer_id *target, uint64_t now);
void um_relay_watch_fire(struct um_relay *r, uint32_t index, uint64_t now);
/* The next held LOOKUP to answer: 1 with the watcher's and the target's
 * slots (both registered and bound now), 0 when none is due. */
int um_relay_watch_next(struct um_relay *r, uint32_t *watcher, uint32_t *target);
uint32_t um_relay_find_by_index(const struct um_relay *r, uint32_t session_index);
uint32_t um_relay_find_by_endpoint(const struct um_relay *r, const struct um_addr *a);
void um_relay_unlink_index(struct um_relay *r, uint32_t index);
/* Binds node index to endpoint a, taking it from any other node. */
void um_relay_bind_endpoint(struct um_relay *r, uint32_t index, const struct um_addr *a);
void um_relay_remove_node(struct um_relay *r, uint32_t index);
bool um_relay_node_expired(const struct um_relay *r, const struct um_relay_node *n, uint64_t now);
int um_relay_compare_ids(const void *a, const void *b);

/* Replies (relay_table.c): one datagram to `to`; an unsealed ERROR under the
 * global budget. Both return 1 when out holds something. */
int um_relay_output_one(struct um_relay_output *out, const struct um_addr *to, const uint8_t *data, size_t len);
int um_relay_send_error(struct um_relay *r, const struct um_addr *to, uint8_t code, const uint8_t *ref, size_t ref_len,
			uint64_t now, struct um_relay_output *out);

/* relay_handles.c. */
int um_relay_handles_init(struct um_relay *r);
void um_relay_handles_destroy(struct um_relay *r);
/* The live entry of (owner, handle), or NONE (a stale one is freed). */
uint32_t um_relay_handle_find(struct um_relay *r, uint32_t owner, uint64_t handle);
/* owner's entry naming target, made when missing (NONE when the table or
 * the owner's share is full). */
uint32_t um_relay_handle_for(struct um_relay *r, uint32_t owner, uint32_t target);
/* The entry of the same pair the other way (target's handle for owner),
 * made when missing; remembered in both entries for the next packet. */
uint32_t um_relay_handle_back(struct um_relay *r, uint32_t entry);
/* Frees up to budget entries whose owner or target is gone. */
void um_relay_handles_sweep(struct um_relay *r, uint32_t budget);

/* relay_control.c: the input handlers by type, and sealing. */
int um_relay_handle_id(struct um_relay *r, const struct um_addr *from, const uint8_t *in, size_t len, uint64_t now,
		       struct um_relay_output *out);
int um_relay_handle_handshake(struct um_relay *r, const struct um_addr *from, const uint8_t *in, size_t len,
			      uint64_t now, uint64_t wall_ms, struct um_relay_output *out);
int um_relay_handle_sealed(struct um_relay *r, const struct um_addr *from, const uint8_t *in, size_t len, uint64_t now,
			   struct um_relay_output *out);
int um_relay_handle_old_fragment(struct um_relay *r, const struct um_addr *from, const uint8_t *in, size_t len,
				 uint64_t now, struct um_relay_output *out);
/* The handshake engine's admit callback (handshake.h). */
int um_relay_admit(void *ctx, const struct um_peer_id *id, struct um_handshake_peer *peer, void **user);
/* Seals m to node n (its session) into relay->reply: 1 with out set. */
int um_relay_send_sealed(struct um_relay *r, struct um_relay_node *n, const struct um_addr *to,
			 const struct um_relay_control *m, struct um_relay_output *out);
/* A sealed ERROR under the global error budget. */
int um_relay_sealed_error(struct um_relay *r, struct um_relay_node *n, const struct um_addr *to, uint8_t code,
			  const uint8_t *ref, uint64_t now, struct um_relay_output *out);

#endif
