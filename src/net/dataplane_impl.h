/* SPDX-License-Identifier: MIT */
/* Internal structures shared by dataplane.c (control side) and
 * dataplane_worker.c (fast path). Not a public API. */
#ifndef UM_NET_DATAPLANE_IMPL_H
#define UM_NET_DATAPLANE_IMPL_H

#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "net/dataplane.h"
#include "net/offload.h"
#include "session/aead.h"
#include "session/replay.h"

#define DP_MAX_WORKERS 16
#define DP_RX_BATCH    16                 /* recvmmsg messages per call */
#define DP_RX_BUF      (65536 + 64)       /* one GRO message */
#define DP_RX_ITEMS    (DP_RX_BATCH * 64) /* decrypted segments per batch */
#define DP_TX_ARENA    (1024 * 1024)      /* encrypted output per batch */
#define DP_TX_MSGS     256                /* UDP messages per sendmmsg batch */
#define DP_TUN_READS   8                  /* TUN reads per wake-up */
#define DP_TUN_BUF     (UM_VNET_HDR_LEN + 65536)
#define DP_RING_SLOTS                                                                                                  \
	8192 /* datagrams (handshakes, message segments) per worker: a channel's whole receive window                  \
	      * (8 MiB, node/messaging_internal.h / 1,152-byte segments = 7,282) fits while the control thread is not  \
	      * scheduled */
#define DP_EVENT_SLOTS           64   /* events per worker, drained first */
#define DP_MSG_SLOTS             4096 /* message segments the control side queued for a worker to seal (power of 2) */
#define DP_MAC_TABLE             4096
#define DP_REJECT_AFTER_MESSAGES (1ull << 60)
#define DP_MAX_CONNECTED_PEERS   128 /* peers that get connected sockets */

/* SUPERSEDED: after crossed handshakes, the current key from before both
 * (the peer may still send under it until our first packet under the new
 * one arrives); receive only, retired at the next rotation. */
enum { DP_SLOT_CURRENT, DP_SLOT_PREVIOUS, DP_SLOT_NEXT, DP_SLOT_SUPERSEDED, DP_SLOTS };
#define DP_SLOTS_ALL ((1u << DP_SLOTS) - 1)

struct dp_key {
	uint64_t id; /* unique, for the AEAD key cache */
	uint8_t send_key[32], recv_key[32];
	uint32_t local_index, remote_index;
	uint64_t created_ns;
	uint32_t peer;
	alignas(64) _Atomic uint64_t send_counter;
	alignas(64) pthread_spinlock_t replay_lock;
	struct um_replay replay;
};

struct dp_endpoint {
	struct sockaddr_storage addr; /* in the socket's family (v4-mapped for AF_INET6) */
	socklen_t len;
	/* Relay path: FORWARD header prepended to every datagram (0 = direct). */
	size_t prefix_len;
	uint8_t prefix[UM_DP_RELAY_HEADER_MAX];
};

struct dp_peer {
	_Atomic bool active;
	_Atomic(struct dp_key *) keys[DP_SLOTS];
	_Atomic(struct dp_endpoint *) endpoint;
	_Atomic(struct dp_endpoint *) relay; /* when set, used instead of endpoint */
	_Atomic uint64_t last_rx_ns, last_tx_ns;
	_Atomic bool next_used_pending, need_key_pending, roam_pending;
	/* Messages sent by the control side (under dp->lock): packets, inner
	 * bytes, packets through the relay (added to the workers' counters);
	 * [3]: segments handed to a worker (the worker counts what it sends). */
	_Atomic uint64_t message_tx[4];
	/* Per worker, a UDP socket on our port connected to the direct
	 * endpoint, or -1 (dataplane_conn.c). Written under dp->lock. */
	_Atomic int conn_fd[DP_MAX_WORKERS];
	/* control side only */
	struct um_addr_prefix *allowed;
	size_t allowed_count;
};

/* local_index -> key, open addressing, rebuilt on every change. */
struct dp_index_map {
	uint32_t mask;
	struct dp_index_slot {
		uint32_t index;
		struct dp_key *key; /* NULL = empty */
	} slots[];
};

struct dp_routes {
	struct um_lpm *lpm;
	uint64_t generation;
};

enum {
	DP_STAT_RX_BYTES,
	DP_STAT_RX_PACKETS,
	DP_STAT_TX_BYTES,
	DP_STAT_TX_PACKETS,
	DP_STAT_DROP0, /* + enum um_dp_drop */
	DP_STAT_RX_RELAY_PACKETS = DP_STAT_DROP0 + UM_DP_DROP_COUNT,
	DP_STAT_TX_RELAY_PACKETS,
	DP_STAT_RX_MESSAGES,
	DP_STAT_COUNT
};

struct dp_peer_counters {
	alignas(64) _Atomic uint64_t v[DP_STAT_COUNT];
};

struct dp_ring {
	alignas(64) _Atomic uint32_t head; /* written by the worker */
	alignas(64) _Atomic uint32_t tail; /* written by the control thread */
	struct um_dp_control_msg *slots;
	uint32_t size;
};

/* Message-channel segments (plaintext) the control side hands to one worker,
 * which seals and sends them in batches (single producer under dp->lock,
 * single consumer: the worker). */
struct dp_msg_slot {
	uint32_t peer;
	uint32_t len;
	uint8_t data[UM_DP_MESSAGE_MAX];
};

struct dp_msg_ring {
	alignas(64) _Atomic uint32_t head; /* written by the control side */
	uint32_t reserved;                 /* control side: slots past head handed out to write into */
	alignas(64) _Atomic uint32_t tail; /* written by the worker */
	struct dp_msg_slot *slots;         /* DP_MSG_SLOTS */
};

struct dp_rx_item {
	uint8_t *data; /* plaintext */
	size_t len;
	struct dp_key *key;
	uint64_t counter;
	uint16_t msg; /* index in the recvmmsg batch */
	bool ok;
	bool partial;   /* UM_DATA_F_CSUM_PARTIAL */
	bool via_relay; /* arrived inside FORWARDED */
	bool message;   /* UM_DATA_F_MESSAGE: a channel segment */
};

/* Packets waiting for a peer's first keys (dataplane_stage.c). */
#define DP_STAGE_SLOTS      16
#define DP_STAGE_BYTES      1600 /* a device MTU's packet (TAP: with its header); bigger ones are dropped */
#define DP_STAGE_MAX_AGE_NS (2 * UM_NSEC_PER_SEC)

struct dp_stage_slot {
	uint8_t *data; /* DP_STAGE_BYTES in dp_stage.area */
	uint64_t at_ns;
	struct um_vnet_hdr vh;
	uint32_t peer;
	uint16_t len;
};

struct dp_stage {
	_Atomic unsigned count; /* = used, for the control thread */
	unsigned used;          /* slot[0..used) in arrival order */
	bool flushing;
	uint64_t seen; /* stage_generation at the last flush */
	uint8_t *area;
	struct dp_stage_slot slot[DP_STAGE_SLOTS];
};

struct dp_worker {
	struct um_dataplane *dp;
	unsigned index;
	pthread_t thread;
	bool started;
	int tun_fd, udp_fd, wake_fd, epoll_fd;
	alignas(64) _Atomic uint64_t quiescent_epoch;
	uint64_t wiped_epoch; /* epoch at which aead was last wiped (worker only) */
	struct um_aead aead;
	struct dp_peer_counters *counters; /* [max_peers] */
	alignas(64) _Atomic uint64_t global[UM_DP_GLOBAL_COUNT];
	struct dp_ring ring;       /* datagrams */
	struct dp_ring events;     /* peer events: separate, so a flood cannot crowd them out */
	struct dp_msg_ring msg_tx; /* message segments to seal and send */
	bool ring_pushed;
	struct dp_stage stage;
	bool round_sent;      /* this wake-up sent a datagram (busy polling) */
	bool round_wrote_tun; /* this wake-up wrote to the device */
	uint64_t now_ns;
	/* allowed-ips source cache */
	uint64_t cache_generation;
	uint8_t cache_addr[16];
	int cache_family;
	uint32_t cache_peer;
	/* receive */
	uint8_t *rx_bufs;
	struct mmsghdr rx_msgs[DP_RX_BATCH];
	struct iovec rx_iov[DP_RX_BATCH];
	struct sockaddr_storage rx_addr[DP_RX_BATCH];
	uint8_t rx_cmsg[DP_RX_BATCH][64];
	struct dp_rx_item *rx_items;
	struct um_gro gro;
	/* transmit */
	uint8_t *tun_buf;
	uint8_t *tx_arena;
	size_t tx_used;
	unsigned tx_count;
	struct mmsghdr tx_msgs[DP_TX_MSGS];
	struct iovec tx_iov[DP_TX_MSGS];
	uint8_t tx_cmsg[DP_TX_MSGS][32];
	uint32_t tx_peer[DP_TX_MSGS];
	uint32_t tx_segments[DP_TX_MSGS];
	size_t tx_inner_bytes[DP_TX_MSGS];
	size_t tx_gso[DP_TX_MSGS];      /* segment size of a growing message */
	size_t tx_last_seg[DP_TX_MSGS]; /* size of its last segment */
	bool tx_mergeable[DP_TX_MSGS];
	bool tx_via_relay[DP_TX_MSGS];
	int tx_fd[DP_TX_MSGS];                       /* socket it leaves by */
	const struct dp_endpoint *tx_ep[DP_TX_MSGS]; /* where it goes */
};

struct um_dataplane {
	struct um_dataplane_config cfg;
	char ifname[IFNAMSIZ];
	uint16_t port;
	int socket_family;
	unsigned worker_count;
	struct dp_worker workers[DP_MAX_WORKERS];
	int control_fd; /* eventfd */
	unsigned ring_cursor;
	struct dp_ring *peeked; /* the ring whose oldest item the control thread holds */
	_Atomic bool stopping;
	_Atomic uint64_t epoch;
	_Atomic uint64_t stage_generation; /* bumped when a peer may have become sendable */
	pthread_mutex_t lock;              /* serialises control calls */
	uint64_t next_key_id;
	struct dp_peer *peers;
	unsigned max_peers;
	_Atomic uint32_t peer_high; /* 1 + highest active slot */
	_Atomic(struct dp_index_map *) index_map;
	_Atomic(struct dp_routes *) routes;
	uint64_t routes_generation;
	_Atomic uint64_t mac_table[DP_MAC_TABLE];
	struct um_aead control_aead;   /* keepalives and messages, under lock */
	unsigned connected_peers;      /* peers with connected sockets, under lock */
	_Atomic uint64_t busy_poll_ns; /* workers' busy-poll window (0 = off) */
	int gather_cpu;                /* -1: workers stay spread */
	cpu_set_t spread_cpus;         /* the process's CPUs at start */
};

void *um_dp_worker_main(void *arg);
/* Staging (dataplane_stage.c). Worker side: keep a packet for a peer without
 * keys or path (false: not kept, the caller drops it); send what became
 * sendable (called when um_dp_stage_due). Control side, after publishing
 * keys or a path: wake the workers holding packets. */
int um_dp_stage_init(struct dp_worker *w);
void um_dp_stage_free(struct dp_worker *w);
bool um_dp_stage_put(struct dp_worker *w, uint32_t peer, const struct um_vnet_hdr *vh, const uint8_t *pkt, size_t len);
void um_dp_stage_flush(struct dp_worker *w);
void um_dp_stage_kick(struct um_dataplane *dp);
static inline bool um_dp_stage_due(struct dp_worker *w)
{
	return atomic_load_explicit(&w->stage.count, memory_order_relaxed) &&
	       atomic_load(&w->dp->stage_generation) != w->stage.seen;
}

/* Control-side helpers shared by dataplane.c and dataplane_keys.c; the
 * caller holds dp->lock. */
void um_dp_synchronize(struct um_dataplane *dp);
void um_dp_key_free(struct dp_key *key);
/* Wipe the secrets of a key that may still be reachable (kept allocated). */
void um_dp_key_retire_failed(struct dp_key *key);
/* Called by a worker at the top of its loop (dataplane.c). */
void um_dp_worker_quiescent(struct dp_worker *w);
int um_dp_rebuild_index_map(struct um_dataplane *dp, struct dp_key *extra);
struct dp_peer *um_dp_peer_get(struct um_dataplane *dp, uint32_t id);
/* Remove the keys of the slots in mask (bit per slot) and free them. */
int um_dp_clear_slots(struct um_dataplane *dp, struct dp_peer *peer, unsigned mask);
/* Connected sockets (dataplane_conn.c), caller holds the lock: point peer
 * id's sockets at its direct endpoint ep, creating them if needed (best
 * effort: a worker without one uses its shared socket); or close them. */
void um_dp_conn_follow(struct um_dataplane *dp, uint32_t id, const struct dp_endpoint *ep);
void um_dp_conn_close(struct um_dataplane *dp, uint32_t id);
/* epoll tag of peer id's connected socket in a worker's set. */
#define DP_EVENT_CONN 3
struct dp_key *um_dp_index_lookup(const struct dp_index_map *map, uint32_t index);
uint32_t um_dp_index_hash(uint32_t index);

#endif
