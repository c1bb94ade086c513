/* SPDX-License-Identifier: MIT */
/* The receiving half of a message channel: segments land in a ring at their
 * stream offset; ranges above the next expected byte are remembered (at
 * most UM_CH_RANGES_MAX of them) and reported as SACK blocks; ACKs are
 * delayed to every second segment or UM_CH_ACK_DELAY, except for anything
 * out of order, a duplicate or a probe, which is acknowledged at once. */
#include <string.h>

#include "msg/channel_internal.h"
#include "util/error.h"

void um_ch_receive_reset(struct um_channel *ch)
{
	ch->rcv_read = ch->rcv_nxt = 0;
	ch->range_count = 0;
	ch->recent_start = 0;
	ch->adv_edge = 0;
	ch->ack_now = ch->ack_pending = false;
	ch->ack_segments = 0;
	ch->echo_valid = false;
}

/* Adds [start, end) (above rcv_nxt) to the sorted, disjoint ranges; false
 * when it would need a new range and the table is full. */
static bool ranges_add(struct um_channel *ch, uint64_t start, uint64_t end)
{
	unsigned i = 0;

	while (i < ch->range_count && ch->ranges[i].end < start)
		i++;
	if (i == ch->range_count || ch->ranges[i].start > end) {
		if (ch->range_count == UM_CH_RANGES_MAX)
			return false;
		memmove(&ch->ranges[i + 1], &ch->ranges[i], (ch->range_count - i) * sizeof(ch->ranges[0]));
		ch->ranges[i].start = start;
		ch->ranges[i].end = end;
		ch->range_count++;
		return true;
	}
	/* Overlaps or touches range i: merge, then swallow the ones it reaches. */
	if (start < ch->ranges[i].start)
		ch->ranges[i].start = start;
	if (end > ch->ranges[i].end)
		ch->ranges[i].end = end;
	unsigned j = i + 1;
	while (j < ch->range_count && ch->ranges[j].start <= ch->ranges[i].end) {
		if (ch->ranges[j].end > ch->ranges[i].end)
			ch->ranges[i].end = ch->ranges[j].end;
		j++;
	}
	memmove(&ch->ranges[i + 1], &ch->ranges[j], (ch->range_count - j) * sizeof(ch->ranges[0]));
	ch->range_count -= j - i - 1;
	return true;
}

/* rcv_nxt advanced: the ranges it reached become in order. */
static void ranges_advance(struct um_channel *ch)
{
	unsigned k = 0;

	while (k < ch->range_count && ch->ranges[k].start <= ch->rcv_nxt) {
		if (ch->ranges[k].end > ch->rcv_nxt)
			ch->rcv_nxt = ch->ranges[k].end;
		k++;
	}
	if (k) {
		memmove(&ch->ranges[0], &ch->ranges[k], (ch->range_count - k) * sizeof(ch->ranges[0]));
		ch->range_count -= k;
	}
}

void um_ch_receive_data(struct um_channel *ch, const struct um_channel_segment *seg, uint64_t now)
{
	uint64_t start = seg->offset, end = seg->offset + seg->payload_len;
	uint64_t edge = ch->rcv_read + ch->receive_max;
	bool had_holes = ch->range_count > 0;

	ch->stats.bytes_received += seg->payload_len;
	ch->echo_valid = true;
	ch->echo_us = seg->timestamp_us;
	ch->echo_at = now;
	if (end <= ch->rcv_nxt || start >= edge) {
		/* A duplicate, or beyond the window (a probe): say where we are. */
		ch->ack_now = true;
		return;
	}
	if (start < ch->rcv_nxt)
		start = ch->rcv_nxt;
	if (end > edge)
		end = edge;
	if (end - ch->rcv_read > ch->rcap) {
		uint32_t cap = ch->rcap;
		while (cap < end - ch->rcv_read)
			cap *= 2;
		if (cap > ch->receive_max)
			cap = ch->receive_max;
		uint64_t hi = ch->range_count ? ch->ranges[ch->range_count - 1].end : ch->rcv_nxt;
		if (um_ch_ring_grow(&ch->rbuf, &ch->rcap, cap, ch->rcv_read, hi) < 0)
			return; /* no memory now: dropped, the sender sends it again */
	}
	if (start > ch->rcv_nxt) {
		if (!ranges_add(ch, start, end))
			return; /* too fragmented: dropped like a loss */
		ch->recent_start = start;
		ch->ack_now = true;
	} else {
		ch->rcv_nxt = end;
		ranges_advance(ch);
		if (had_holes)
			ch->ack_now = true; /* a hole filled: tell the sender at once */
	}
	um_ch_ring_put(ch->rbuf, ch->rcap, start, seg->payload + (start - seg->offset), (size_t)(end - start));
	if (++ch->ack_segments >= 2)
		ch->ack_now = true;
	if (!ch->ack_pending) {
		ch->ack_pending = true;
		ch->ack_deadline = now + UM_CH_ACK_DELAY;
	}
}

static uint32_t window_now(const struct um_channel *ch)
{
	uint64_t edge = ch->rcv_read + ch->receive_max;
	return edge > ch->rcv_nxt ? (uint32_t)(edge - ch->rcv_nxt) : 0;
}

void um_ch_receive_window_update(struct um_channel *ch)
{
	uint64_t edge = ch->rcv_nxt + window_now(ch);
	uint64_t step =
	    ch->receive_max / 4 < 4 * (uint64_t)ch->payload_max ? ch->receive_max / 4 : 4 * (uint64_t)ch->payload_max;

	if (ch->peer_epoch == 0 || edge <= ch->adv_edge)
		return;
	/* The sender waits on a closed window (or nearly): reopen it now;
	 * otherwise only when it moved by a good step, not on every read. */
	uint64_t advertised = ch->adv_edge > ch->rcv_nxt ? ch->adv_edge - ch->rcv_nxt : 0;
	if (advertised < ch->payload_max || edge - ch->adv_edge >= step)
		ch->ack_now = true;
}

int um_ch_receive_ack(struct um_channel *ch, uint64_t now, uint8_t *out, size_t cap, size_t *len)
{
	struct um_channel_segment ack;
	unsigned n = 0;

	*len = 0;
	if (!ch->ack_now && !(ch->ack_pending && now >= ch->ack_deadline))
		return 0;
	memset(&ack, 0, sizeof(ack));
	ack.sender_epoch = ch->epoch;
	ack.receiver_epoch = ch->peer_epoch;
	ack.ack = ch->rcv_nxt;
	ack.window = window_now(ch);
	if (ch->echo_valid) {
		uint64_t delay = (now - ch->echo_at) / 1000;
		ack.echo_valid = true;
		ack.echo_us = ch->echo_us;
		ack.delay_us = delay > UINT32_MAX ? UINT32_MAX : (uint32_t)delay;
	}
	/* The range that got the latest segment first (RFC 2018), then the
	 * lowest others: the sender repairs from the bottom. */
	for (unsigned i = 0; i < ch->range_count; i++)
		if (ch->ranges[i].start <= ch->recent_start && ch->recent_start < ch->ranges[i].end)
			ack.sack[n++] = ch->ranges[i];
	for (unsigned i = 0; i < ch->range_count && n < UM_CHANNEL_SACK_MAX; i++)
		if (!(n && ack.sack[0].start == ch->ranges[i].start))
			ack.sack[n++] = ch->ranges[i];
	ack.sack_count = (uint8_t)n;
	int ret = um_channel_ack_encode(out, cap, &ack);
	if (ret < 0)
		return ret;
	*len = (size_t)ret;
	ch->adv_edge = ack.ack + ack.window;
	ch->ack_now = ch->ack_pending = false;
	ch->ack_segments = 0;
	return 0;
}
