/* SPDX-License-Identifier: MIT */
/* A status snapshot: everything `get=1` reports, as plain values, filled
 * once by the node and rendered here, either as the control protocol's
 * key=value lines or as the JSON `umbra status --json` / `umbra peers
 * --json` print. The renderer owns every key name and format, so the text
 * and the JSON cannot drift apart and the CLI no longer re-parses text.
 *
 * Text keys (in this order; [..] = left out when unknown):
 *
 *   node:   node_id short_id version device mode [address] listen_port up
 *           uptime_ms peers hs_hellos hs_established hs_bad_mac
 *           hs_cookies_sent hs_rate_limited hs_replays hs_malformed
 *           hs_auth_failed hs_unknown_peer hs_timeouts hs_version_mismatch
 *           hs_challenge_budget hs_fragments_sent hs_fragments_retransmitted
 *           hs_acks_sent hs_acks_received hs_acks_dropped
 *           hs_challenges_deferred hs_deferred_stale hs_deferred_refused
 *           hs_short_challenges hs_short_responses hs_key_unknown hs_repeats_ignored under_load
 *           demux_dropped path_dropped dp_no_route dp_unknown_index dp_malformed dp_ring_full
 *           dp_tun_write_errors dp_busy_poll_hits dp_busy_poll_misses
 *           dp_gathers dp_spreads relays [relay_transport] [home_relay home_relay_rtt_us
 *           observed_endpoint], per relay: uplink uplink_state
 *           [uplink_rtt_us] [uplink_observed] [uplink_last_reply_age_ms]
 *           uplink_registrations uplink_early_lookups uplink_errors [uplink_transport
 *           uplink_tls_state uplink_proxy uplink_tls_connects
 *           uplink_tls_disconnects uplink_tls_spares uplink_tls_spares_won
 *           uplink_tls_tx_frames uplink_tls_rx_frames
 *           uplink_tls_tx_dropped uplink_tls_rx_dropped], then when STUN
 *           servers are configured: stun_servers stun_server [stun_mapped]
 *           [stun_rtt_us] [stun_last_answer_age_ms] stun_answers
 *           stun_failures [stun_last_error], then when umbrad is a relay:
 *           relay_* (struct um_relay_server_status, in its order).
 *           A relay-only daemon: mode=relay version uptime_ms relay_*.
 *           A node, after the STUN keys: loop_timer_late_samples
 *           loop_timer_late_max_us loop_timer_late_p99_us (the control
 *           thread's timer lateness over the last 10-20 s).
 *   peer:   peer(=name) id short_id [path] [endpoint] [relay]
 *           [direct_endpoint] state state_changes [last_handshake_age_ms] handshakes
 *           rekeys [handshake_srtt_us] handshake_rto_ms
 *           handshake_retransmitted_datagrams
 *           handshake_ack_resent_datagrams [setup_role [setup_ms]
 *           [setup_first_reply_ms] setup_initiations [setup_total_ms]]
 *           [transport] [rx_bytes rx_packets tx_bytes tx_packets drop_bad_mac
 *           drop_replay drop_malformed drop_not_allowed drop_no_key
 *           drop_send rx_relay_packets rx_direct_packets tx_relay_packets
 *           tx_direct_packets] [rtt_us | rtt_bound_us] keepalive path_state
 *           [direct_path] [time_to_direct_ms] [direct_rtt_us]
 *           direct_switches fallbacks [fallback_silence_ms] path_candidates
 *           [path_remote_candidates] path_probes_sent path_probes_answered
 *           path_bad_mac path_replays path_replies_limited [ping_sequence ping_answered] [ping_path
 *           ping_rtt_us ping_from] allowed_ip (repeated)
 *
 * JSON (the control reply of get=json / get=json-peers, printed by `umbra
 * status --json` / `umbra peers --json`; the names and shape the CLI's
 * former text-to-JSON re-parse printed):
 *   {"node": {node keys except uplink* and relay_*},
 *    "peers": [{"name": .., the peer keys except drop_* and allowed_ip,
 *               "dropped": {"bad_mac": .., ...}, "allowed_ips": [..]}],
 *    "relays": [{"address": .., the uplink_* keys without "uplink_"}],
 *    "relay": {the relay_* keys without "relay_"}}   (only on a relay)
 * and for peers only: {"peers": [...]}. Counters and times are numbers,
 * everything else strings. */
#ifndef UM_CTL_STATUS_H
#define UM_CTL_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"
#include "ctl/control.h"
#include "util/addr.h"

/* "Unknown": the key is left out (no RTT sample, never answered...). */
#define UM_STATUS_NONE UINT64_MAX
/* Remote path candidates kept per peer (the path engine holds at most
 * UM_PATH_MAX_CANDIDATES + 1 = 9 today). */
#define UM_STATUS_CANDIDATES_MAX 16

struct um_handshake_status {
	uint64_t hellos, established, bad_mac, cookies_sent, rate_limited, replays, malformed, auth_failed,
	    unknown_peer, timeouts, version_mismatch, /* HELLOs of another protocol version with a valid mac1 */
	    challenge_budget,                         /* HELLOs refused by the global CHALLENGE budget */
	    /* Pieces of CHALLENGE/RESPONSE sent (resends included) and resent;
	     * FRAGMENT_ACKs (docs/PROTOCOL.md §7.1) sent, taken and dropped. */
	    fragments_sent, fragments_retransmitted, acks_sent, acks_received, acks_dropped,
	    /* CHALLENGEs signed on the handshake worker; results dropped as
	     * stale (the state went meanwhile); HELLOs refused (no work item). */
	    challenges_deferred, deferred_stale, deferred_refused,
	    /* Handshake v3: CHALLENGEs and RESPONSEs sent without our key (the
	     * other side held it), and short RESPONSEs dropped for a key we
	     * did not hold (the sender resends the full form). */
	    short_challenges, short_responses, key_unknown,
	    /* HELLO copies right behind the one answered (repeat_single). */
	    repeats_ignored;
};

/* Messaging (node/messaging.h counters): msg_* keys of the node. */
struct um_messaging_status {
	uint64_t messages_sent, messages_received, duplicates, receipts, segments_in, segments_out, segments_malformed,
	    protocol_errors, resets, files_sent, files_received, files_failed, files_refused, file_bytes_sent,
	    file_bytes_received, file_chunks_bad;
};

struct um_dataplane_status {
	uint64_t no_route, unknown_index, malformed, ring_full, tun_write_errors, busy_poll_hits, busy_poll_misses,
	    gathers, spreads;
};

/* One configured relay as this node sees it (node/uplink.c). */
struct um_uplink_status {
	struct um_addr address;     /* the relay (the TLS server for wss://) */
	bool tls;                   /* wss://: shown as "wss://" + address */
	const char *state;          /* static text: idle, connected, registering, home... */
	uint64_t rtt_us;            /* UM_STATUS_NONE: no sample */
	struct um_addr observed;    /* our endpoint as the relay sees it; unset = none */
	uint64_t last_reply_age_ms; /* UM_STATUS_NONE: never */
	uint64_t registrations, errors;
	uint64_t early_lookups; /* LOOKUPs that rode behind a REGISTER (answered with its ACK) */
	/* tls only (node/uplink_stream.c): */
	bool tls_stream;       /* a stream exists: the uplink_tls_* keys are shown */
	const char *tls_state; /* static text */
	struct um_addr proxy;  /* the loopback proxy carrying its datagrams */
	uint64_t tls_connects, tls_disconnects, tls_tx_frames, tls_rx_frames, tls_tx_dropped, tls_rx_dropped;
	uint64_t tls_spares, tls_spares_won; /* second connects beside an unanswered SYN; how many opened first */
};

/* STUN (node/stun.c): the server with the freshest answer stands for all;
 * answers and failures are summed over every server. */
struct um_stun_status {
	size_t servers;                      /* 0: no stun_* keys at all */
	struct um_addr server, mapped;       /* mapped unset: no answer */
	uint64_t rtt_us, last_answer_age_ms; /* UM_STATUS_NONE: never answered */
	uint64_t answers, failures;
	int last_error; /* 0 or a negative code, shown as text */
};

/* The relay server when umbrad is one (relay/server.c), in key order. */
struct um_relay_server_status {
	uint64_t port, uptime_ms, max_nodes, memory_bytes, registered, registrations, reregistrations, expired,
	    reg_malformed, reg_stale, reg_not_admitted, reg_replay, reg_need_key, reg_rate_limited, reg_bad_signature,
	    reg_full, reg_version, fragments_buffered, fragments_rejected, keepalives, keepalive_unknown, rebinds,
	    bound_at_register, forwarded_packets, forwarded_bytes, drop_malformed, drop_unknown_type,
	    drop_not_registered, drop_rate_limited_packets, drop_rate_limited_bytes, drop_unknown_peer, drop_to_self,
	    errors_sent, errors_suppressed, rx_datagrams, tx_datagrams, rx_truncated, send_errors, rx_spoofed_stream;
	bool tls; /* a TLS listener: the tls_* keys are shown */
	uint64_t tls_port, tls_connections, tls_accepted, tls_refused_full, tls_failures, tls_upgrade_failures,
	    tls_handshake_timeouts, tls_idle_timeouts, tls_protocol_errors, tls_closed, tls_rx_frames, tls_rx_bytes,
	    tls_tx_frames, tls_tx_bytes, tls_tx_dropped_full, tls_tx_dropped_gone;
};

/* Per-peer data-plane counters (net/dataplane.h um_dp_peer_stats). */
struct um_traffic_status {
	uint64_t rx_bytes, rx_packets, tx_bytes, tx_packets;
	uint64_t drop_bad_mac, drop_replay, drop_malformed, drop_not_allowed, drop_no_key, drop_send;
	uint64_t rx_relay_packets, rx_direct_packets, tx_relay_packets, tx_direct_packets;
};

/* Hole punching / migration (node/path.c, later path/). */
struct um_path_status {
	const char *state;                         /* static text: none, punching, direct, relay */
	struct um_addr direct;                     /* direct_path: set only while direct */
	uint64_t time_to_direct_ms, direct_rtt_us; /* UM_STATUS_NONE: unknown */
	uint64_t direct_switches, fallbacks;
	uint64_t fallback_silence_ms;                               /* UM_STATUS_NONE: no fallback yet */
	size_t n_remote_candidates;                                 /* path_candidates (may exceed the array) */
	struct um_addr remote_candidates[UM_STATUS_CANDIDATES_MAX]; /* the first ones */
	uint64_t probes_sent, probes_answered, bad_mac;
	uint64_t replays, replies_limited; /* path_replays, path_replies_limited */
	uint64_t ping_sequence;            /* 0: never pinged (no ping_* keys) */
	uint64_t ping_answered;            /* 0: no answer yet (no ping_path/rtt/from) */
	bool ping_direct;
	uint64_t ping_rtt_us;
	struct um_addr ping_from;
};

enum um_route_status {
	UM_ROUTE_STATUS_NONE = 0, /* no "path" key: not established, no relay */
	UM_ROUTE_STATUS_DIRECT,
	UM_ROUTE_STATUS_RELAY,
	UM_ROUTE_STATUS_RELAY_TCP,
};

struct um_peer_status {
	const char *name; /* borrowed (the config's) */
	struct um_peer_id id;
	enum um_route_status route;
	struct um_addr endpoint;        /* in use (the relay on a relay route); unset = none */
	struct um_addr relay;           /* relay routes only */
	struct um_addr direct_endpoint; /* relay routes only: the peer's own endpoint, if known */
	const char *state;              /* static text: idle, handshaking, established, expired */
	/* Static: how its endpoint was found (config, dht, bootstrap, incoming); NULL = not yet. */
	const char *found;
	uint64_t state_changes;
	uint64_t last_handshake_age_ms; /* UM_STATUS_NONE: never */
	uint64_t handshakes, rekeys;
	/* Handshake retransmission (session/handshake.h): the smoothed RTT of
	 * the handshakes with this peer, the timeout the next one starts with,
	 * and the datagrams the timer has resent (fragments count one each). */
	uint64_t handshake_srtt_us; /* UM_STATUS_NONE: no sample */
	uint64_t handshake_rto_ms;
	uint64_t handshake_retransmitted_datagrams;
	uint64_t handshake_ack_resent_datagrams; /* pieces resent because a FRAGMENT_ACK said they were missing */
	/* Connection setup (node/session.c), of the handshake that produced
	 * the current session: setup_ms from its first HELLO (retransmissions
	 * included) to ESTABLISHED; as responder from the first HELLO we
	 * received from the peer (its lost ones not counted; unknown when it
	 * came from an endpoint we did not know). setup_first_reply_ms (as
	 * initiator only) to the first answer the engine took (cookie reply
	 * or whole CHALLENGE). setup_initiations: our handshakes it took (a
	 * timed-out direct try, then the relay: 2), setup_total_ms from the
	 * first HELLO of the first of them (none: = setup_ms). */
	const char *setup_role; /* static "initiator"/"responder"; NULL = no session, no setup_* keys */
	uint64_t setup_ms, setup_first_reply_ms, setup_total_ms; /* UM_STATUS_NONE: unknown */
	uint64_t setup_initiations;
	/* What carries the session's data now (node/route.c); NONE = no
	 * session: no "transport" key. */
	enum um_route_status transport;
	bool has_traffic; /* the data plane answered: traffic is shown */
	struct um_traffic_status traffic;
	uint64_t rtt_us;   /* UM_STATUS_NONE: no sample */
	bool rtt_is_bound; /* only a handshake-based bound: shown as rtt_bound_us */
	unsigned keepalive_s;
	struct um_path_status path;
	const struct um_addr_prefix *allowed_ips; /* borrowed (the config's) */
	size_t n_allowed_ips;
};

struct um_node_status {
	bool relay_only;     /* umbrad runs only a relay */
	const char *version; /* borrowed (static) */
	uint64_t uptime_ms;
	/* The rest is for a node (not relay_only). */
	struct um_peer_id id;
	const char *device; /* borrowed */
	bool tap;
	bool has_address;
	struct um_addr_prefix address;
	uint16_t listen_port;
	bool up;
	struct um_handshake_status handshake;
	bool under_load;
	uint64_t demux_dropped; /* datagrams of no known type or route */
	uint64_t path_dropped;  /* path messages dropped (unknown index, bad tag, malformed, replay) */
	struct um_dataplane_status dataplane;
	struct um_peer_status *peers; /* owned: um_node_status_init/_free */
	size_t n_peers;
	struct um_uplink_status *uplinks; /* owned */
	size_t n_uplinks;
	int home; /* index into uplinks, or -1 */
	/* The transport policy's mode (static text: racing, udp, stream);
	 * NULL = no relays (no key). */
	const char *relay_transport;
	struct um_stun_status stun;
	bool has_relay_server;
	struct um_relay_server_status relay_server;
	bool has_messaging; /* a node with its store open */
	struct um_messaging_status messaging;
	/* The control thread's timer lateness (net/loop.h struct um_lateness):
	 * callbacks measured in the window, its maximum and 99th percentile.
	 * Shown for nodes (not relay-only daemons), last in the node section. */
	uint64_t loop_timer_late_samples, loop_timer_late_max_us, loop_timer_late_p99_us;
};

/* Zeroes *status and allocates n_peers peer and n_uplinks uplink entries
 * (zeroed, owned by *status: free with um_node_status_free). Sets home to
 * -1 and every UM_STATUS_NONE field to "unknown". 0 or -UM_ENOMEM. */
int um_node_status_init(struct um_node_status *status, size_t n_peers, size_t n_uplinks);
/* Frees what init allocated; borrowed pointers are left alone. */
void um_node_status_free(struct um_node_status *status);
/* A peer entry with every "unknown" field set (init does this for its peers). */
void um_peer_status_reset(struct um_peer_status *peer);

/* The get=1 reply body: the node block, then one block per peer (nothing per
 * peer on a relay-only daemon). Errors surface as reply->overflow. */
void um_status_render_text(const struct um_node_status *status, struct um_control_reply *reply);

enum um_status_json_view {
	UM_STATUS_JSON_FULL,  /* umbra status --json */
	UM_STATUS_JSON_PEERS, /* umbra peers --json */
};

/* The JSON document (one line, ending in '\n', NUL-terminated). *out is
 * allocated and owned by the caller (free()); *out_len excludes the NUL.
 * 0 or -UM_ENOMEM (then *out is NULL). */
int um_status_render_json(const struct um_node_status *status, enum um_status_json_view view, char **out,
			  size_t *out_len);

#endif
