/* SPDX-License-Identifier: MIT */
/* The transport policy: when a node opens its wss:// (TLS) relays, and when
 * it moves traffic back to UDP. Free of I/O like the other engines: the
 * caller (node/uplink.c, next to the relay client) feeds what its UDP and
 * TLS uplinks did and the clock in, and gets decisions and its next
 * deadline out. One per node, used from one thread:
 *
 *   um_relay_transport_init(&policy, &config);
 *   um_relay_transport_start(&policy, now);
 *   a UDP relay uplink i answered (REGISTER_ACK, keepalive reply; rtt):
 *       um_relay_transport_udp_answered(&policy, i, rtt_ns, now);
 *       a direct path answered: the same with UM_RELAY_TRANSPORT_DIRECT
 *   UDP uplink i went silent (RELAY_LOST, NO_ANSWER; a direct path fell back):
 *       um_relay_transport_udp_silent(&policy, i, now);
 *   wss:// uplink i registered / lost its connection:
 *       um_relay_transport_stream_up(&policy, i, now) / _stream_down(..);
 *   after any of these, and on a timer at um_relay_transport_next_deadline():
 *       while (um_relay_transport_tick(&policy, now, &out) > 0) act on out;
 *
 * The race: UDP relays are tried first. The wss:// uplinks are opened
 * (OPEN_STREAM) only when no UDP answer came within
 *     max(min_wait, first_retry + rtt_factor x RTT)
 * of the start, RTT being the UDP relays' smoothed RTT when measured, else
 * the configured hint, else rtt_unknown: long enough for one lost REGISTER
 * to be sent again and answered on a slow link, not 0.5 s flat. (At once
 * when every uplink is wss://.) Sooner when UDP looks blocked: nothing at
 * all came from any UDP relay within silent_wait (250 ms, at least twice a
 * configured RTT; happy eyeballs, RFC 8305, waits as long): a lossy but
 * open path has its CHALLENGE pieces arriving by then. UDP keeps trying while the stream connects:
 * whichever answers first carries the traffic (USE_UDP / USE_STREAM), and
 * a later UDP answer still wins.
 *
 * Warm stream (config warm_stream, with UDP and wss:// uplinks both): the
 * wss:// connections are opened at the start (WARM_STREAM: TCP and TLS,
 * two round trips, but no registration over them), so OPEN_STREAM finds
 * them open and registers at once; the first UDP answer
 * closes them again (CLOSE_STREAM). Their opening also times the path:
 * TCP and TLS took two round trips, and a UDP relay as far away would have
 * sent its first CHALLENGE piece within one, so with nothing heard from
 * UDP by then the silence counts as proven (not before silent_wait / 2: a
 * wss:// relay much nearer than the UDP one proves little). A UDP-blocked
 * node then registers about four round trips after its start, not
 * silent_wait + five (issue 14).
 *
 * On TLS the policy keeps probing UDP (PROBE_UDP: the caller sends a
 * REGISTER or keepalive to its UDP relays and probes its direct paths) at
 * probe_min, doubling up to probe_max (1, 2, 4, 4 s ...), so UDP that
 * comes back is noticed within probe_max plus one RTT. The first answer
 * gives USE_UDP: traffic moves to that UDP relay (the session keys stay:
 * no new handshake). After UDP carried traffic for close_after, the
 * stream may be closed (CLOSE_STREAM).
 *
 * Flapping: falling back to TLS within flap_window of the last move to UDP
 * counts as a flap. After n flaps, UDP must answer continuously for
 * hold_base x 2^(n-1) (at most hold_max) before traffic moves again; UDP
 * that then works for flap_window clears the count. Falling back is never
 * delayed: a silent UDP carries nothing. */
#ifndef UM_RELAY_TRANSPORT_H
#define UM_RELAY_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	UM_RELAY_TRANSPORT_MAX_UPLINKS = 8, /* = UM_RELAY_CLIENT_MAX_UPLINKS */
	/* The slot of "a direct path" in udp_answered/udp_silent and USE_UDP. */
	UM_RELAY_TRANSPORT_DIRECT = UM_RELAY_TRANSPORT_MAX_UPLINKS,
	UM_RELAY_TRANSPORT_MAX_DECISIONS = 16, /* queued between two ticks */
};

enum um_relay_transport_mode {
	UM_RELAY_TRANSPORT_RACING,    /* nothing answered yet (or everything went silent) */
	UM_RELAY_TRANSPORT_ON_UDP,    /* traffic on UDP (a UDP relay or direct paths) */
	UM_RELAY_TRANSPORT_ON_STREAM, /* traffic on a wss:// relay, UDP probed */
};

enum um_relay_transport_decision {
	UM_RELAY_TRANSPORT_NONE,
	UM_RELAY_TRANSPORT_OPEN_STREAM,  /* connect the wss:// uplinks */
	UM_RELAY_TRANSPORT_PROBE_UDP,    /* try UDP now: REGISTER/keepalive to UDP relays, probe direct paths */
	UM_RELAY_TRANSPORT_USE_UDP,      /* traffic through UDP `uplink` (or DIRECT: direct paths proven) */
	UM_RELAY_TRANSPORT_USE_STREAM,   /* traffic through wss:// `uplink` */
	UM_RELAY_TRANSPORT_CLOSE_STREAM, /* UDP held for close_after (or won over a warm stream): the wss:// connections
					    may go */
	UM_RELAY_TRANSPORT_WARM_STREAM,  /* connect the wss:// uplinks, register over them only at OPEN_STREAM */
};

struct um_relay_transport_config {
	unsigned n_uplinks;                          /* <= UM_RELAY_TRANSPORT_MAX_UPLINKS */
	bool stream[UM_RELAY_TRANSPORT_MAX_UPLINKS]; /* wss:// uplink (as the relay client's config) */
	uint64_t rtt_hint_ns;                        /* RTT to the UDP relays known beforehand; 0 = none */
	uint64_t first_retry_ns;                     /* the UDP REGISTER's first retransmission (1 s) */
	bool warm_stream;                            /* WARM_STREAM at the start (see above) */
	/* Tunables; 0 = the default in (). */
	uint64_t min_wait_ns;    /* (500 ms) */
	uint64_t silent_wait_ns; /* (250 ms, at least 2 x rtt_hint): OPEN_STREAM when no UDP relay sent a thing */
	unsigned rtt_factor;     /* (3) */
	uint64_t rtt_unknown_ns; /* (100 ms) */
	uint64_t probe_min_ns, probe_max_ns; /* (1 s, 4 s) */
	uint64_t hold_base_ns, hold_max_ns;  /* (2 s, 30 s) */
	uint64_t flap_window_ns;             /* (10 s) */
	uint64_t close_after_ns;             /* (30 s; UINT64_MAX = never) */
};

struct um_relay_transport_output {
	enum um_relay_transport_decision decision;
	unsigned uplink; /* USE_UDP (maybe UM_RELAY_TRANSPORT_DIRECT), USE_STREAM */
};

struct um_relay_transport_stats {
	uint64_t to_udp, to_stream; /* moves of traffic (USE_UDP / USE_STREAM) */
	uint64_t streams_opened;    /* OPEN_STREAM decisions */
	uint64_t streams_warmed;    /* WARM_STREAM decisions */
	uint64_t probes;            /* PROBE_UDP decisions */
	uint64_t flaps;             /* fallbacks within flap_window of a move to UDP */
	uint64_t held;              /* UDP answers that waited for the hold */
	uint64_t decisions_dropped; /* queue full (a caller that does not tick) */
	uint64_t last_fallback_ns;  /* waited for the UDP answer before OPEN_STREAM (0: none yet) */
};

/* State; read-only outside transport.c (status, tests). */
struct um_relay_transport {
	struct um_relay_transport_config config;
	enum um_relay_transport_mode mode;
	bool started;
	bool udp_alive[UM_RELAY_TRANSPORT_MAX_UPLINKS + 1]; /* answered, not silent since */
	uint64_t udp_rtt_ns[UM_RELAY_TRANSPORT_MAX_UPLINKS + 1];
	uint64_t srtt_ns; /* over every UDP answer; 0 = none */
	bool stream_up[UM_RELAY_TRANSPORT_MAX_UPLINKS];
	bool stream_requested;         /* OPEN_STREAM given, no CLOSE_STREAM since */
	bool stream_warm;              /* WARM_STREAM given, no OPEN_STREAM or CLOSE_STREAM since */
	int udp_uplink, stream_uplink; /* carrying traffic now; -1 = none */
	uint64_t race_start_ns;
	uint64_t fallback_due_ns; /* OPEN_STREAM at; UINT64_MAX = none */
	uint64_t silent_due_ns;   /* OPEN_STREAM at unless udp_heard; UINT64_MAX = none */
	bool udp_heard;           /* a UDP relay sent anything since the start */
	uint64_t probe_due_ns, probe_interval_ns;
	uint64_t udp_since_ns; /* UDP answering without a silence since (0 = not) */
	uint64_t hold_due_ns;  /* USE_UDP at, once the hold passes; UINT64_MAX = none */
	uint64_t to_udp_ns;    /* last move to UDP (0 = never) */
	uint64_t close_due_ns; /* CLOSE_STREAM at; UINT64_MAX = none */
	unsigned flaps;        /* recent, for the hold */
	struct um_relay_transport_output queue[UM_RELAY_TRANSPORT_MAX_DECISIONS];
	unsigned queue_head, queue_count;
	struct um_relay_transport_stats stats;
};

/* Copies config, fills in the defaults; nothing due until start. 0 or
 * -UM_EINVAL. Holds no resources: nothing to destroy. */
int um_relay_transport_init(struct um_relay_transport *policy, const struct um_relay_transport_config *config);
/* The race starts (as the relay client starts registering). */
void um_relay_transport_start(struct um_relay_transport *policy, uint64_t now);
/* slot: a UDP uplink index, or UM_RELAY_TRANSPORT_DIRECT. rtt_ns 0 = no
 * sample (e.g. a retransmitted REGISTER). -UM_EINVAL for a wss:// uplink or
 * a slot out of range (nothing changes). */
int um_relay_transport_udp_answered(struct um_relay_transport *policy, unsigned slot, uint64_t rtt_ns, uint64_t now);
int um_relay_transport_udp_silent(struct um_relay_transport *policy, unsigned slot, uint64_t now);
/* Any datagram from a UDP relay (a CHALLENGE piece, even unauthenticated):
 * UDP passes, so the stream waits for the full fallback wait. */
void um_relay_transport_udp_heard(struct um_relay_transport *policy);
/* uplink: a wss:// uplink index (-UM_EINVAL otherwise). up = registered
 * over it (usable), down = the connection or registration is gone. */
int um_relay_transport_stream_up(struct um_relay_transport *policy, unsigned uplink, uint64_t now);
int um_relay_transport_stream_down(struct um_relay_transport *policy, unsigned uplink, uint64_t now);
/* A warm wss:// connection is open (see Warm stream). -UM_EINVAL for a UDP
 * uplink. */
int um_relay_transport_stream_connected(struct um_relay_transport *policy, unsigned uplink, uint64_t now);
/* Timed work and queued decisions: 1 when out holds one (call again), 0
 * when nothing more is due now. out is caller-owned, reset by each call. */
int um_relay_transport_tick(struct um_relay_transport *policy, uint64_t now, struct um_relay_transport_output *out);
/* The next tick with work (0 when decisions are queued; UINT64_MAX: none). */
uint64_t um_relay_transport_next_deadline(const struct um_relay_transport *policy);
/* How long the race waits for UDP before opening the stream, from what is
 * known now (the formula above). */
uint64_t um_relay_transport_fallback_wait(const struct um_relay_transport *policy);
const char *um_relay_transport_decision_name(enum um_relay_transport_decision decision);
const char *um_relay_transport_mode_name(enum um_relay_transport_mode mode);

#endif
