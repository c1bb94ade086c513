/* SPDX-License-Identifier: MIT */
/* The state of a message channel, shared by channel.c (lifecycle, epochs,
 * output), channel_send.c (the scoreboard of segments in flight, ACKs, RTT,
 * congestion control) and channel_receive.c (reassembly, ACKs to send). */
#ifndef UM_MSG_CHANNEL_INTERNAL_H
#define UM_MSG_CHANNEL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg/channel.h"
#include "wire/channel.h"

#define UM_CH_MS             (UINT64_C(1000000))
#define UM_CH_RTO_MIN        (200 * UM_CH_MS)
#define UM_CH_RTO_MAX        (60000 * UM_CH_MS)
#define UM_CH_ACK_DELAY      (20 * UM_CH_MS)
#define UM_CH_RESET_INTERVAL (50 * UM_CH_MS)

enum {
	UM_CH_DEFAULT_BUFFER = 4 << 20,
	UM_CH_RECEIVE_MIN = 64 << 10, /* what a sender assumes before the first ACK */
	UM_CH_INITIAL_CAP = 16 << 10, /* buffers start here and double as needed */
	UM_CH_RECORDS_INITIAL = 64,
	UM_CH_RECORDS_MAX = 1 << 20,
	UM_CH_RANGES_MAX = 32,     /* out-of-order ranges a receiver keeps */
	UM_CH_DUP_THRESH = 3,      /* SACKed segments above a hole that make it lost */
	UM_CH_INITIAL_WINDOW = 10, /* segments (RFC 6928) */
	UM_CH_RETIRED_MAX = 4,     /* previous peer epochs whose late segments are dropped */
};

/* The state of one segment sent: OUT (in the network), SACKED, LOST
 * (waiting to be sent again), RETRANS (sent again, in the network). */
enum um_ch_state { UM_CH_OUT, UM_CH_SACKED, UM_CH_LOST, UM_CH_RETRANS };

struct um_ch_record {
	uint64_t offset;
	uint64_t xmit;    /* transmission number of its latest sending */
	uint64_t sent_ns; /* when it was last sent */
	uint32_t len;
	uint8_t state;
};

struct um_channel {
	uint32_t segment_max, payload_max, send_max, receive_max;
	uint64_t epoch, peer_epoch;
	uint64_t retired[UM_CH_RETIRED_MAX];
	unsigned retired_next;
	bool reset_raised;
	bool reset_pending; /* answer a stale segment with RESET to reset_to */
	uint64_t reset_to, reset_next_ns;

	/* Send stream: the buffer holds [snd_una, snd_end) at offset % scap. */
	uint8_t *sbuf;
	uint32_t scap;
	uint64_t snd_una, snd_nxt, snd_end;
	uint64_t snd_max;  /* highest offset sent (a window probe goes one past snd_nxt) */
	uint64_t wnd_edge; /* the peer accepts offsets below this */
	uint32_t peer_window;

	/* Segments in flight, oldest first: rec[(rec_head + i) & (rec_cap - 1)]. */
	struct um_ch_record *rec;
	uint32_t rec_cap, rec_head, rec_count;
	uint32_t lost_scan; /* records below this index were checked for loss */
	uint32_t retx_scan; /* no LOST record below this index */
	int64_t sack_top;   /* index of the highest SACKED record, -1 = none */
	uint32_t pipe;      /* bytes in the network (RFC 6675) */
	uint32_t lost_count, retrans_count, sacked_count;
	uint64_t xmit_seq;
	uint64_t delivered_xmit; /* the latest transmission known delivered (RACK) */
	uint64_t rack_deadline;  /* when a segment sent before it counts as lost */
	uint64_t tlp_deadline;   /* tail loss probe (no ACK for 2 RTT) */
	bool tlp_spent;          /* sent one; none again before an ACK */
	struct um_channel_sack sack_seen[UM_CHANNEL_SACK_MAX];
	unsigned sack_seen_n;

	/* Congestion control (NewReno with SACK recovery), bytes. */
	uint32_t cwnd, ssthresh, cwnd_credit;
	bool in_recovery;
	uint64_t recovery_point;

	/* RTT (RFC 6298) and timers. */
	bool have_rtt;
	uint64_t srtt, rttvar, rto;
	uint64_t rto_deadline, persist_deadline, persist_interval;
	uint64_t last_data_ns; /* the latest DATA sent (0 = none): the restart after idle */

	/* Receive stream: the buffer holds [rcv_read, rcv_read + receive_max). */
	uint8_t *rbuf;
	uint32_t rcap;
	uint64_t rcv_read, rcv_nxt;
	struct um_channel_sack ranges[UM_CH_RANGES_MAX]; /* above rcv_nxt, sorted, disjoint */
	unsigned range_count;
	uint64_t recent_start; /* a byte of the range that got the latest segment */
	uint64_t adv_edge;     /* rcv_nxt + window of the last ACK sent */
	bool ack_now, ack_pending;
	unsigned ack_segments;
	uint64_t ack_deadline;
	bool echo_valid;
	uint32_t echo_us;
	uint64_t echo_at;

	/* The last segment output, for um_channel_unsend (type 0 = none). */
	uint8_t last_type;
	uint64_t last_offset, last_xmit;

	struct um_channel_stats stats;
};

static inline struct um_ch_record *um_ch_rec(struct um_channel *ch, uint32_t i)
{
	return &ch->rec[(ch->rec_head + i) & (ch->rec_cap - 1)];
}

static inline uint32_t um_ch_timestamp_us(uint64_t now)
{
	return (uint32_t)(now / 1000);
}

/* Copies between a stream offset and a ring buffer of cap bytes. */
void um_ch_ring_put(uint8_t *ring, uint32_t cap, uint64_t offset, const uint8_t *src, size_t n);
void um_ch_ring_get(const uint8_t *ring, uint32_t cap, uint64_t offset, uint8_t *dst, size_t n);
/* Reallocates a ring to new_cap keeping the bytes of [lo, hi). */
int um_ch_ring_grow(uint8_t **ring, uint32_t *cap, uint32_t new_cap, uint64_t lo, uint64_t hi);

/* channel_send.c */
void um_ch_send_reset(struct um_channel *ch);
void um_ch_send_on_ack(struct um_channel *ch, const struct um_channel_segment *seg, uint64_t now);
void um_ch_send_on_timeout(struct um_channel *ch, uint64_t now);
/* Records longer than payload_max cut into pieces of at most payload_max
 * (um_channel_set_segment_max). 0, -UM_ENOMEM (nothing changed). */
int um_ch_send_cut_records(struct um_channel *ch, uint32_t payload_max);
/* The RACK timer fired: mark what is now overdue lost. */
void um_ch_send_on_rack(struct um_channel *ch, uint64_t now);
/* The tail loss probe timer fired: one segment to draw an ACK. */
int um_ch_send_tail_probe(struct um_channel *ch, uint64_t now, uint8_t *out, size_t cap, size_t *len);
/* The next segment of data to send (a retransmission first), written to
 * out; 0 and *len = 0 when congestion, window or data say nothing. */
int um_ch_send_data(struct um_channel *ch, uint64_t now, uint8_t *out, size_t cap, size_t *len);
int um_ch_send_probe(struct um_channel *ch, uint64_t now, uint8_t *out, size_t cap, size_t *len);
bool um_ch_send_blocked_by_window(const struct um_channel *ch);
/* The DATA just output at offset (transmission xmit) never left: a new
 * segment is forgotten (its bytes go out again as new), a retransmission
 * is lost again; a window probe stays on its timer. */
void um_ch_send_unsend(struct um_channel *ch, uint64_t offset, uint64_t xmit);

/* channel_receive.c */
void um_ch_receive_reset(struct um_channel *ch);
void um_ch_receive_data(struct um_channel *ch, const struct um_channel_segment *seg, uint64_t now);
int um_ch_receive_ack(struct um_channel *ch, uint64_t now, uint8_t *out, size_t cap, size_t *len);
/* After the application read: an ACK to reopen a window it had closed. */
void um_ch_receive_window_update(struct um_channel *ch);

#endif
