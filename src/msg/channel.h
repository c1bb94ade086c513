/* SPDX-License-Identifier: MIT */
/* The message channel: a per-peer reliable, ordered byte stream carried in
 * the session's DATA packets flagged MESSAGE (a small TCP: SACK, RTT-driven
 * retransmission timeout, NewReno congestion control with SACK recovery,
 * the receiver's window, delayed ACKs). docs/PROTOCOL.md section 17 is the
 * spec; wire/channel.h the segment codec.
 *
 * I/O free, one thread: the owner feeds received segments and the clock in
 * and pulls segments to send out:
 *
 *   um_channel_new(&cfg, random_nonzero_epoch, now, &ch);
 *   um_channel_write(ch, bytes, n);                   (all or -UM_EAGAIN)
 *   on a received segment: um_channel_input(ch, seg, len, now);
 *       then um_channel_read() what became readable; um_channel_take_reset()
 *   after any call, and at um_channel_deadline():
 *       while (um_channel_output(ch, now, buf, cap, &len) == 0 && len > 0) send buf
 *
 * Epochs: each side picks a random nonzero epoch per channel (per daemon
 * run); segments carry (sender epoch, receiver epoch as the sender knows
 * it, 0 = not yet known). A segment addressed to an epoch that is not ours
 * is from before our restart: it is never delivered and is answered with a
 * RESET carrying our epoch. Learning a peer epoch different from the one
 * already known (the peer restarted) drops both directions back to offset
 * 0, discards every byte queued or in flight, and raises a reset
 * (um_channel_take_reset): the layer above writes again whatever its own
 * acknowledgements did not confirm. The first peer epoch learned (first
 * contact) is adopted without a reset: both streams started at 0 with it,
 * nothing is lost. */
#ifndef UM_MSG_CHANNEL_H
#define UM_MSG_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct um_channel;

struct um_channel_config {
	uint32_t segment_max;    /* whole segment (header + payload), 128..UM_CHANNEL_SEGMENT_MAX; 0 = 1152 */
	uint32_t send_buffer;    /* bytes queued, unacknowledged included; 0 = 4 MiB */
	uint32_t receive_buffer; /* the advertised window; 0 = 4 MiB */
	uint64_t initial_rto_ns; /* 0 = 1 s (or 3 x the hint of um_channel_set_rtt_hint) */
};

/* Creates a channel with our epoch (nonzero: -UM_EINVAL otherwise); the
 * buffers are allocated here, once. *out is owned by the caller (free with
 * um_channel_free). 0, -UM_EINVAL (bad config), -UM_ENOMEM. */
int um_channel_new(const struct um_channel_config *cfg, uint64_t epoch, uint64_t now, struct um_channel **out);
void um_channel_free(struct um_channel *ch); /* NULL ok */

/* An RTT measured elsewhere (the session's handshake): until the channel
 * has its own samples, its RTO is 3 x rtt_ns (bounded to [200 ms, 60 s]). */
void um_channel_set_rtt_hint(struct um_channel *ch, uint64_t rtt_ns);

/* The largest segment from now on (header + payload, 128..
 * UM_CHANNEL_SEGMENT_MAX): the path changed (a direct path carries 1408,
 * a relay 1152). Segments in flight that are larger are cut to the new
 * size at once, so that their retransmissions fit the new path (their
 * state, send time and transmission number go to every piece). 0,
 * -UM_EINVAL (out of range: nothing changed), -UM_ENOMEM (the pieces need
 * more records than there is memory for: nothing changed). */
int um_channel_set_segment_max(struct um_channel *ch, uint32_t segment_max);

/* Bytes um_channel_write accepts now (free space of the send buffer). */
size_t um_channel_writable(const struct um_channel *ch);
/* Queues len bytes (copied) for sending: all of them, or none and
 * -UM_EAGAIN when they do not fit; -UM_EINVAL for len 0. */
int um_channel_write(struct um_channel *ch, const void *data, size_t len);
/* The same in place: where the next len bytes of the stream go, contiguous,
 * for the caller to fill and then commit (nothing is sent before), or NULL
 * (not writable now, no memory, or the buffer wraps there: write instead).
 * The pointer is the channel's, valid until its next call. */
uint8_t *um_channel_write_buffer(struct um_channel *ch, size_t len);
int um_channel_write_commit(struct um_channel *ch, size_t len);

/* One received segment (the plaintext of a MESSAGE packet; borrowed for
 * the call). -UM_EINVAL / -UM_ETRUNC when malformed (counted in
 * segments_malformed; the caller may count too), 0 otherwise (including
 * stale or out-of-window segments, which are dropped). */
int um_channel_input(struct um_channel *ch, const uint8_t *segment, size_t len, uint64_t now);

/* Copies up to cap in-order bytes to out and returns how many (0: none). */
size_t um_channel_read(struct um_channel *ch, void *out, size_t cap);
size_t um_channel_readable(const struct um_channel *ch);

/* Writes one segment to send now into out (cap >= the segment_max, or
 * -UM_EINVAL) and sets *len, or sets *len = 0: nothing until the deadline
 * or more input. Call in a loop until *len == 0. A segment the caller
 * could not send counts as lost (the channel recovers it like any loss),
 * unless handed back with um_channel_unsend. */
int um_channel_output(struct um_channel *ch, uint64_t now, uint8_t *out, size_t cap, size_t *len);
/* The segment the last um_channel_output returned could not be sent (the
 * socket was full: -UM_EAGAIN): take it back instead of letting it count as
 * a loss (which would halve the congestion window); it comes out again on a
 * later call. Only right after that output, before any input. 0, or
 * -UM_ESTATE when there is nothing to take back. */
int um_channel_unsend(struct um_channel *ch);

/* When um_channel_output next has something to do (a retransmission,
 * a delayed ACK, a probe); a time at or before now (0 included) = call it
 * now; UINT64_MAX = nothing pending. Ask again after every call: input,
 * write and read all move it. */
uint64_t um_channel_deadline(const struct um_channel *ch);

/* Gives back the memory of buffers grown for a burst that are empty now
 * (they grow again on demand). For the owner's idle housekeeping, say
 * every minute: never on the data path. */
void um_channel_trim(struct um_channel *ch);

/* True once after each reset (the peer's epoch changed): every byte
 * written before it is gone. */
bool um_channel_take_reset(struct um_channel *ch);

/* Our epoch, and the peer's as last learned (0 = none yet). */
uint64_t um_channel_epoch(const struct um_channel *ch);
uint64_t um_channel_peer_epoch(const struct um_channel *ch);

struct um_channel_stats {
	uint64_t srtt_ns, rttvar_ns, rto_ns; /* rto_ns with the current backoff */
	uint32_t cwnd, ssthresh;             /* bytes; ssthresh UINT32_MAX until the first loss */
	uint32_t in_flight;                  /* bytes in the network (RFC 6675 pipe) */
	uint32_t peer_window;                /* the peer's last advertised window */
	uint32_t unsent;                     /* bytes written and not yet sent once */
	uint64_t bytes_sent;                 /* payload bytes put in DATA segments, retransmissions included */
	uint64_t bytes_retransmitted;
	uint64_t bytes_received;  /* payload bytes of DATA accepted for processing, duplicates included */
	uint64_t bytes_delivered; /* read by the application */
	uint64_t segments_sent, segments_received, segments_malformed;
	uint64_t retransmits, timeouts, resets;
	/* Addressed to another epoch of ours (answered with RESET), or from a
	 * peer epoch left behind: dropped. */
	uint64_t segments_stale;
	uint64_t memory_bytes; /* heap held: the state, both buffers, the scoreboard */
};

void um_channel_stats(const struct um_channel *ch, struct um_channel_stats *out);

#endif
