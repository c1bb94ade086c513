/* SPDX-License-Identifier: MIT */
/* The data plane: worker threads moving packets between a TUN/TAP device and
 * UDP, encrypting and decrypting DATA messages.
 *
 * Threads. um_dataplane_start() runs one worker per CPU (or cfg.workers).
 * Each worker owns one TUN queue (IFF_MULTI_QUEUE) and one UDP socket bound
 * to the shared port (SO_REUSEPORT), with its own buffers and AEAD contexts.
 * Every other function here is for the control thread(s); they are
 * serialised by an internal mutex, so any non-worker thread may call them.
 *
 * Fast path (TUN mode): a TSO super-packet read from the TUN is split into
 * MSS segments, each encrypted into its own DATA message (flagged
 * CSUM_PARTIAL: the sender skips the TCP checksum pass, the receiver's kernel
 * completes it), and sent with UDP GSO (one message per <= 64 segments /
 * 65507 bytes, sendmmsg per batch). Consecutive equal-sized single packets to
 * one peer also share a GSO message.
 * Received UDP GRO batches are split by gso_size, decrypted, checked
 * (replay window, allowed-ips source filter) and TCP segments of one flow are
 * coalesced into one GSO_TCPV4/6 write. No allocation, lock or log per
 * packet; the replay window takes one spinlock per received batch and key.
 *
 * Routing: TUN mode routes by destination address through the peers'
 * allowed-ips (longest prefix match, IPv4 and IPv6) and drops received
 * packets whose source is not in the sending peer's allowed-ips. TAP mode
 * learns source MAC addresses of received frames (a 4096-entry direct-mapped
 * table, newest wins) and floods broadcast, multicast and unknown
 * destinations to every peer that has a key; allowed-ips are not used in TAP
 * mode. TAP mode uses the same offloads on Ethernet frames carrying IPv4/IPv6
 * (plain or one 802.1Q tag); other frames pass one by one.
 *
 * Keys. Each peer has four keypair slots: current (used to send), previous
 * (still accepted after a rotation), next (installed by a responder before
 * the initiator has used it) and superseded (after crossed handshakes, the
 * current from before both, accepted until the next rotation). Receiving an
 * authenticated packet under `next` raises UM_DP_EVENT_NEXT_KEY_USED; the
 * node then calls
 * um_dataplane_peer_promote_next(). Slots are published with atomic pointer
 * swaps; retired keys are wiped and freed after every worker has passed a
 * quiescent point (so calls that change keys, endpoints, peers or routes may
 * block for up to a few milliseconds).
 *
 * Non-DATA datagrams (handshake) and events are handed to the control thread
 * through bounded per-worker rings; um_dataplane_control_fd() becomes
 * readable when something is pending (drain with um_dataplane_recv_control
 * until -UM_EAGAIN). A full ring drops and counts (UM_DP_GLOBAL_RING_FULL).
 * Events have rings of their own, returned before any datagram, and at
 * most one per peer and kind is in flight; if one cannot be queued it is
 * raised again by the next packet that triggers it (never lost for good).
 *
 * Relays (issue 5): see um_dataplane_peer_set_relay. Received FORWARDED
 * (0x24) datagrams are unwrapped: inner DATA is processed like direct DATA
 * (the receiver index selects the key), anything else goes to the control
 * thread with via_relay and relay_source set.
 *
 * Messages (issue 16): DATA flagged UM_DATA_F_MESSAGE carries one segment
 * of the peer's message channel instead of a packet. The control thread
 * queues them for the peer's worker, which seals and sends them beside the
 * packets (um_dataplane_peer_send_messages); received ones pass the same
 * key and replay checks as packets, then go to the datagram ring as
 * UM_DP_CONTROL_MESSAGE, never to the device. With cfg.no_device there is
 * no device at all: messages only, no CAP_NET_ADMIN needed. */
#ifndef UM_NET_DATAPLANE_H
#define UM_NET_DATAPLANE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "net/lpm.h"
#include "session/keys.h"

struct um_dataplane;

struct um_dataplane_config {
	const char *ifname;   /* device name; NULL/"" = kernel picks */
	bool tap;             /* L2 (TAP) instead of L3 (TUN) */
	uint16_t listen_port; /* 0 = ephemeral */
	int socket_family;    /* AF_INET6 (dual-stack, default when 0) or AF_INET */
	unsigned workers;     /* 0 = online CPUs (at most 16) */
	unsigned max_peers;   /* 0 = 256; at most 65534 */
	unsigned mtu;         /* device MTU; 0 = UM_DP_MTU_DEFAULT */
	bool pad;             /* pad plaintexts to a multiple of 16 bytes */
	bool no_offload;      /* disable TSO/checksum offload (for comparisons) */
	/* After a packet that ends an idle spell, a worker that sent something
	 * polls this long for the reply instead of sleeping (net/quiet.h);
	 * 0 = never; at most UM_BUSY_POLL_MAX_US. */
	unsigned busy_poll_us;
	/* Quiet workers gather on gather_cpu (net/quiet.h); false: they stay
	 * spread. A CPU the process may not run on means the lowest it may. */
	bool gather;
	unsigned gather_cpu;
	/* Tests without root: when use_device_fd, device_fd (a datagram socket,
	 * duplicated; the caller keeps its own) stands in for the TUN/TAP device:
	 * every message is a 10-byte vnet header followed by the packet. One
	 * worker; no device configuration. */
	bool use_device_fd;
	int device_fd;
	/* No TUN/TAP at all (config device = none): workers read only UDP,
	 * received packets (non-MESSAGE DATA) are dropped as NO_DEVICE; no
	 * CAP_NET_ADMIN needed. ifname, tap, mtu, no_offload and use_device_fd
	 * are ignored; workers 0 means one. */
	bool no_device;
};

/* Per-peer drop reasons. */
enum um_dp_drop {
	UM_DP_DROP_BAD_MAC,     /* authentication failed */
	UM_DP_DROP_REPLAY,      /* duplicate or too old counter */
	UM_DP_DROP_MALFORMED,   /* bad DATA framing or inner packet */
	UM_DP_DROP_NOT_ALLOWED, /* inner source outside the peer's allowed-ips */
	UM_DP_DROP_NO_KEY,      /* packet for the peer but no usable send key */
	UM_DP_DROP_SEND,        /* UDP send failed */
	UM_DP_DROP_NO_DEVICE,   /* a packet arrived but there is no device (no_device) */
	UM_DP_DROP_COUNT
};

/* Data-plane wide counters (not attributable to a peer). */
enum um_dp_global {
	UM_DP_GLOBAL_NO_ROUTE,         /* TUN packet matching no peer's allowed-ips */
	UM_DP_GLOBAL_UNKNOWN_INDEX,    /* DATA for an index we do not have */
	UM_DP_GLOBAL_MALFORMED,        /* short/invalid datagram or TUN read */
	UM_DP_GLOBAL_RING_FULL,        /* control ring full: datagram dropped */
	UM_DP_GLOBAL_TUN_WRITE,        /* write to the device failed */
	UM_DP_GLOBAL_TUN_READS,        /* statistics: reads from the device */
	UM_DP_GLOBAL_TUN_WRITES,       /* statistics: writes to the device */
	UM_DP_GLOBAL_UDP_SENDS,        /* statistics: UDP messages sent (one per GSO batch) */
	UM_DP_GLOBAL_UDP_RECVS,        /* statistics: UDP messages received (one per GRO batch) */
	UM_DP_GLOBAL_BUSY_POLL_HITS,   /* statistics: busy polls that caught a packet */
	UM_DP_GLOBAL_BUSY_POLL_MISSES, /* statistics: busy polls that timed out */
	UM_DP_GLOBAL_GATHERS,          /* statistics: a quiet worker pinned itself */
	UM_DP_GLOBAL_SPREADS,          /* statistics: a busy worker spread again */
	UM_DP_GLOBAL_COUNT
};

struct um_dp_peer_stats {
	uint64_t rx_bytes, rx_packets; /* inner bytes/packets delivered (keepalives count as packets) */
	uint64_t tx_bytes, tx_packets; /* inner bytes/packets sent */
	uint64_t drops[UM_DP_DROP_COUNT];
	uint64_t last_rx_ns, last_tx_ns; /* monotonic (um_now_ns); 0 = never */
	/* Inner packets by path (keepalives included on receive); together
	 * they make rx_packets/tx_packets. */
	uint64_t rx_relay_packets, rx_direct_packets;
	uint64_t tx_relay_packets, tx_direct_packets;
	/* Message-channel segments (UM_DATA_F_MESSAGE), also counted in
	 * rx/tx packets and bytes above. */
	uint64_t rx_messages, tx_messages;
	uint64_t send_counter;       /* messages sent under the current key */
	uint64_t current_created_ns; /* created_ns of the current key, 0 = none */
	bool has_current, has_previous, has_next;
};

enum um_dp_control_kind {
	UM_DP_CONTROL_DATAGRAM,       /* a non-DATA datagram: data/len/from */
	UM_DP_EVENT_NEXT_KEY_USED,    /* peer: a packet authenticated under `next` */
	UM_DP_EVENT_NEED_KEY,         /* peer: traffic to send but no current key */
	UM_DP_EVENT_ENDPOINT_CHANGED, /* peer: authenticated DATA came from `from` */
	/* peer: a channel segment (DATA flagged MESSAGE, authenticated and
	 * replay-checked) in data/len; `from` is where it arrived from (the
	 * relay's address when it came through one). */
	UM_DP_CONTROL_MESSAGE,
};

#define UM_DP_CONTROL_MAX 1500 /* longer non-DATA datagrams are dropped */

struct um_dp_control_msg {
	enum um_dp_control_kind kind;
	uint32_t peer;                /* for events */
	struct sockaddr_storage from; /* AF_INET or AF_INET6 (v4-mapped undone) */
	socklen_t from_len;
	/* Datagrams that arrived inside a relay's FORWARDED (0x24): data/len
	 * is the inner payload (header stripped), `from` the relay's address
	 * and relay_source the source peer ID the relay names (asserted by
	 * the relay, not authenticated). */
	bool via_relay;
	uint8_t relay_source[32];
	size_t len;
	uint8_t data[UM_DP_CONTROL_MAX];
};

/* Create the device (all queues), the sockets and the buffers; configure MTU,
 * txqueuelen 4000 and bring the link up. *out is owned by the caller:
 * um_dataplane_free(). Requires CAP_NET_ADMIN, unless cfg.no_device or
 * cfg.use_device_fd. */
int um_dataplane_new(const struct um_dataplane_config *cfg, struct um_dataplane **out);
/* Start the workers. */
int um_dataplane_start(struct um_dataplane *dp);
/* Stop workers, wipe keys, close everything (the device disappears). NULL ok. */
void um_dataplane_free(struct um_dataplane *dp);

const char *um_dataplane_ifname(const struct um_dataplane *dp);
uint16_t um_dataplane_port(const struct um_dataplane *dp);
unsigned um_dataplane_workers(const struct um_dataplane *dp);
/* Change the busy-poll window (cfg.busy_poll_us) while running: 0 or
 * -UM_EINVAL above UM_BUSY_POLL_MAX_US. */
int um_dataplane_set_busy_poll(struct um_dataplane *dp, unsigned us);

/* Control-thread side of the rings (one consumer thread). */
int um_dataplane_control_fd(const struct um_dataplane *dp);
/* 0 with *msg filled, or -UM_EAGAIN when every ring is empty. */
int um_dataplane_recv_control(struct um_dataplane *dp, struct um_dp_control_msg *msg);
/* The same without the copy: *msg points at the item in its ring slot, the
 * caller's to read and change until um_dataplane_control_release (or the
 * next peek, which releases it), and the worker cannot queue into that
 * slot meanwhile: release soon. */
int um_dataplane_control_peek(struct um_dataplane *dp, struct um_dp_control_msg **msg);
void um_dataplane_control_release(struct um_dataplane *dp);
/* Send a datagram (handshake) from the shared port. */
int um_dataplane_send_datagram(struct um_dataplane *dp, const struct sockaddr *to, socklen_t to_len, const void *data,
			       size_t len);

/* Peers: ids are small integers (slot numbers) reused after removal. */
int um_dataplane_peer_add(struct um_dataplane *dp, uint32_t *peer_out);
int um_dataplane_peer_remove(struct um_dataplane *dp, uint32_t peer);
int um_dataplane_peer_set_endpoint(struct um_dataplane *dp, uint32_t peer, const struct sockaddr *addr, socklen_t len);
/* Copies the endpoint (AF_INET or AF_INET6); -UM_ENOTFOUND if none. */
int um_dataplane_peer_get_endpoint(struct um_dataplane *dp, uint32_t peer, struct sockaddr_storage *addr,
				   socklen_t *len);
/* Replace the peer's allowed-ips (routing and source filter). */
int um_dataplane_peer_set_allowed_ips(struct um_dataplane *dp, uint32_t peer, const struct um_addr_prefix *prefixes,
				      size_t count);

/* Install a keypair (copied; the caller wipes its copy). as_next=true
 * (responder): it waits in `next` (accepted on receive, not used to send)
 * until promoted, replacing any older next; current and previous stay.
 * as_next=false (initiator, confirmed): it becomes current; the old current
 * becomes previous, unless a next is pending: then that next (a session
 * the peer initiated and already sends under, e.g. crossed handshakes)
 * becomes previous so its packets are still accepted, and the old current
 * is wiped. The next slot is empty afterwards either way.
 * local_index must be unique across all installed keys (-UM_EINVAL). */
int um_dataplane_peer_install_keypair(struct um_dataplane *dp, uint32_t peer, const struct um_keypair *keypair,
				      bool as_next);
/* A first session's keys as the initiator's RESPONSE goes (the
 * handshake's early keys): accepted on receive, never used to send, so the
 * responder may send the moment it has read the RESPONSE. They wait in the
 * previous slot; only when the peer has no keys at all (-UM_ESTATE),
 * local_index unique (-UM_EINVAL). */
int um_dataplane_peer_install_receive(struct um_dataplane *dp, uint32_t peer, const struct um_keypair *keypair);
/* ESTABLISHED confirmed those keys: the same key object becomes current (its
 * replay window goes on; it never sent, so no nonce is reused); a pending
 * next becomes previous. -UM_ESTATE unless previous holds exactly this
 * keypair (indices and keys) and there is no current: the caller then
 * installs it (um_dataplane_peer_install_keypair retires the early copy). */
int um_dataplane_peer_promote_receive(struct um_dataplane *dp, uint32_t peer, const struct um_keypair *keypair);
/* next -> current -> previous; the old previous is wiped. -UM_ESTATE if no next. */
int um_dataplane_peer_promote_next(struct um_dataplane *dp, uint32_t peer);
/* Wipe the previous keypair (expired). */
int um_dataplane_peer_drop_previous(struct um_dataplane *dp, uint32_t peer);
/* Wipe all keys (session expired): traffic drops as NO_KEY until re-keyed. */
int um_dataplane_peer_clear_keys(struct um_dataplane *dp, uint32_t peer);

/* Relay path (issue 5). While set, every datagram the data plane sends to
 * this peer (DATA, keepalives) goes to `relay` with `header` (the FORWARD
 * header naming the destination, 1..UM_DP_RELAY_HEADER_MAX bytes, copied)
 * prepended; UDP GSO still applies (each segment is header + DATA). Such
 * datagrams are kept within UM_DP_RELAY_MAX_DATAGRAM bytes: TCP (TSO
 * super-packets and single packets alike) is cut into smaller segments;
 * any other inner packet too large for the relay (above 1280 - header_len
 * - 32 bytes) is dropped (UM_DP_DROP_SEND). relay ==
 * NULL or header_len == 0: back to the direct endpoint. A FORWARD header's
 * bytes 4..35 (the peer ID) are compared with the source ID of FORWARDED
 * DATA from this peer; a mismatch is dropped as MALFORMED. Authenticated
 * DATA arriving through a relay never raises ENDPOINT_CHANGED. */
#define UM_DP_RELAY_HEADER_MAX   64
#define UM_DP_RELAY_MAX_DATAGRAM 1280
int um_dataplane_peer_set_relay(struct um_dataplane *dp, uint32_t peer, const struct sockaddr_storage *relay,
				socklen_t len, const uint8_t *header, size_t header_len);

/* Send an empty DATA (keepalive) under the current key to the endpoint. */
int um_dataplane_peer_send_keepalive(struct um_dataplane *dp, uint32_t peer);

/* The largest message-channel segment (plaintext) on any path, and on a
 * relayed one: with the DATA overhead (32) and padding (< 16), 1408 fits
 * the datagrams of the tunnel's default MTU (1420 + 32 + 28 <= 1500); 1152
 * with a relay header (<= 64) fits a relay's 1280-byte datagram. Longer
 * received segments are dropped (MALFORMED). */
#define UM_DP_MTU_DEFAULT       1420
#define UM_DP_MESSAGE_MAX       1408
#define UM_DP_MESSAGE_RELAY_MAX 1152
/* The largest segment the peer's path carries now: UM_DP_MESSAGE_RELAY_MAX
 * while a relay is set (or nothing is), else the device MTU (cfg.mtu)
 * rounded down to 16, within [UM_DP_MESSAGE_RELAY_MAX, UM_DP_MESSAGE_MAX].
 * A larger segment queued before the path moved to a relay is dropped
 * (NO_KEY: the channel sends it again, cut to this size). 0 for no such
 * peer. Control thread(s). */
size_t um_dataplane_peer_message_max(struct um_dataplane *dp, uint32_t peer);
/* Send one message-channel segment (len bytes, copied) to the peer: a DATA
 * flagged UM_DATA_F_MESSAGE under the current key (padded when cfg.pad),
 * to the relay when one is set, else the endpoint, as keepalives go (the
 * TLS relay's loopback proxy included). Returns 0, -UM_ENOKEY (no current
 * key: nothing sent; the node starts a handshake), -UM_EINVAL (len 0 or
 * above um_dataplane_peer_message_max), -UM_ESTATE (no endpoint and no relay),
 * -UM_ENOTFOUND (no such peer), -UM_EAGAIN (socket buffer full: send it
 * again later) or another -errno of sendto. Control thread(s) only. */
int um_dataplane_peer_send_message(struct um_dataplane *dp, uint32_t peer, const void *segment, size_t len);
/* Send n (<= UM_DP_MESSAGE_BATCH) segments as um_dataplane_peer_send_message
 * does, in order, but sealed by a worker: they are copied to the peer's
 * worker's queue (always the same worker) and the call returns; the worker
 * seals them in parallel with the caller and sends runs of equal-sized
 * datagrams as one UDP GSO message (sendmmsg; it waits for room in the
 * socket rather than drop). The segments are read, not kept. *sent: how
 * many leading segments were queued (all when 0 is returned); -UM_ENOKEY,
 * -UM_ESTATE and -UM_ENOTFOUND as for one segment (nothing queued),
 * -UM_EAGAIN when the queue had room for fewer than n (see
 * um_dataplane_peer_message_room). A key or path gone before the worker
 * gets to a segment drops it (NO_KEY): the channel sends it again.
 * One thread sends messages (the node's loop): the queue has one producer. */
#define UM_DP_MESSAGE_BATCH 32
struct iovec;
int um_dataplane_peer_send_messages(struct um_dataplane *dp, uint32_t peer, const struct iovec *segments, size_t n,
				    size_t *sent);
/* The same without the copy. Reserve: pointers to up to n (at most
 * UM_DP_MESSAGE_BATCH) free slots of the peer's queue, UM_DP_MESSAGE_MAX
 * bytes each, in order; returns how many (0: the queue is full). The caller
 * writes segments into them, then commits the first n of those with their
 * lengths: 0 (*sent = n) or, with nothing queued, the errors of
 * um_dataplane_peer_send_messages (-UM_EINVAL also for more than were
 * reserved). What is reserved and not committed is not sent. */
size_t um_dataplane_peer_reserve_messages(struct um_dataplane *dp, uint32_t peer, uint8_t **slots, size_t n);
int um_dataplane_peer_commit_messages(struct um_dataplane *dp, uint32_t peer, const uint32_t *lens, size_t n,
				      size_t *sent);
/* How many segments um_dataplane_peer_send_messages would queue now for
 * the peer (its worker's free slots): a caller takes no more than this out
 * of its channel, so none counts as lost for want of room. */
size_t um_dataplane_peer_message_room(struct um_dataplane *dp, uint32_t peer);
/* Waits (at most timeout_ns) until the workers sent every segment queued
 * so far: before a shutdown, so that the last words go out. */
void um_dataplane_flush_messages(struct um_dataplane *dp, uint64_t timeout_ns);

/* Counters summed over workers, timestamps, key state. */
int um_dataplane_peer_stats(struct um_dataplane *dp, uint32_t peer, struct um_dp_peer_stats *out);
void um_dataplane_global_stats(struct um_dataplane *dp, uint64_t out[UM_DP_GLOBAL_COUNT]);

#endif
