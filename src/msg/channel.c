/* SPDX-License-Identifier: MIT */
/* The message channel's lifecycle, epochs, the application's reads and
 * writes, and the output scheduler: a RESET owed first, then an ACK that is
 * due, then retransmissions and new data (channel_send.c), then a window
 * probe. */
#include "msg/channel.h"

#include <stdlib.h>
#include <string.h>

#include "msg/channel_internal.h"
#include "util/error.h"
#include "wire/types.h"

void um_ch_ring_put(uint8_t *ring, uint32_t cap, uint64_t offset, const uint8_t *src, size_t n)
{
	size_t at = (size_t)(offset % cap);
	size_t first = n < cap - at ? n : cap - at;

	memcpy(ring + at, src, first);
	if (n > first)
		memcpy(ring, src + first, n - first);
}

void um_ch_ring_get(const uint8_t *ring, uint32_t cap, uint64_t offset, uint8_t *dst, size_t n)
{
	size_t at = (size_t)(offset % cap);
	size_t first = n < cap - at ? n : cap - at;

	memcpy(dst, ring + at, first);
	if (n > first)
		memcpy(dst + first, ring, n - first);
}

int um_ch_ring_grow(uint8_t **ring, uint32_t *cap, uint32_t new_cap, uint64_t lo, uint64_t hi)
{
	uint8_t *grown = malloc(new_cap);

	if (!grown)
		return -UM_ENOMEM;
	/* Copy [lo, hi) piece by piece where it lies in each ring. */
	while (lo < hi) {
		size_t at = (size_t)(lo % *cap);
		size_t n = *cap - at < hi - lo ? *cap - at : (size_t)(hi - lo);
		um_ch_ring_put(grown, new_cap, lo, *ring + at, n);
		lo += n;
	}
	free(*ring);
	*ring = grown;
	*cap = new_cap;
	return 0;
}

int um_channel_new(const struct um_channel_config *cfg, uint64_t epoch, uint64_t now, struct um_channel **out)
{
	struct um_channel *ch = NULL;
	int ret = -UM_EINVAL;
	uint32_t segment_max = cfg && cfg->segment_max ? cfg->segment_max : UM_CHANNEL_SEGMENT_DEFAULT;
	uint32_t send_max = cfg && cfg->send_buffer ? cfg->send_buffer : UM_CH_DEFAULT_BUFFER;
	uint32_t receive_max = cfg && cfg->receive_buffer ? cfg->receive_buffer : UM_CH_DEFAULT_BUFFER;

	(void)now;
	*out = NULL;
	/* A segment holds at least an ACK with all its SACK blocks. */
	if (epoch == 0 || segment_max < 128 || segment_max > UM_CHANNEL_SEGMENT_MAX || send_max < segment_max ||
	    send_max > (1u << 30) || receive_max < UM_CH_RECEIVE_MIN || receive_max > (1u << 30))
		goto out;
	ret = -UM_ENOMEM;
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		goto out;
	ch->segment_max = segment_max;
	ch->payload_max = segment_max - UM_CHANNEL_DATA_HEADER;
	ch->send_max = send_max;
	ch->receive_max = receive_max;
	ch->epoch = epoch;
	ch->scap = send_max < UM_CH_INITIAL_CAP ? send_max : UM_CH_INITIAL_CAP;
	ch->rcap = receive_max < UM_CH_INITIAL_CAP ? receive_max : UM_CH_INITIAL_CAP;
	ch->rec_cap = UM_CH_RECORDS_INITIAL;
	ch->sbuf = malloc(ch->scap);
	ch->rbuf = malloc(ch->rcap);
	ch->rec = calloc(ch->rec_cap, sizeof(*ch->rec));
	if (!ch->sbuf || !ch->rbuf || !ch->rec)
		goto out;
	ch->rto = cfg && cfg->initial_rto_ns ? cfg->initial_rto_ns : 1000 * UM_CH_MS;
	um_ch_send_reset(ch);
	um_ch_receive_reset(ch);
	*out = ch;
	ch = NULL;
	ret = 0;
out:
	um_channel_free(ch);
	return ret;
}

int um_channel_set_segment_max(struct um_channel *ch, uint32_t segment_max)
{
	if (segment_max < 128 || segment_max > UM_CHANNEL_SEGMENT_MAX || segment_max > ch->send_max)
		return -UM_EINVAL;
	if (segment_max == ch->segment_max)
		return 0;
	uint32_t payload_max = segment_max - UM_CHANNEL_DATA_HEADER;
	if (payload_max < ch->payload_max) {
		int ret = um_ch_send_cut_records(ch, payload_max);
		if (ret)
			return ret;
	}
	ch->segment_max = segment_max;
	ch->payload_max = payload_max;
	ch->last_type = 0; /* the last segment's record may be cut: no unsend */
	return 0;
}

void um_channel_free(struct um_channel *ch)
{
	if (!ch)
		return;
	free(ch->sbuf);
	free(ch->rbuf);
	free(ch->rec);
	free(ch);
}

void um_channel_set_rtt_hint(struct um_channel *ch, uint64_t rtt_ns)
{
	if (ch->have_rtt || rtt_ns == 0)
		return;
	uint64_t rto = rtt_ns > UM_CH_RTO_MAX ? UM_CH_RTO_MAX : 3 * rtt_ns;
	ch->rto = rto < UM_CH_RTO_MIN ? UM_CH_RTO_MIN : rto > UM_CH_RTO_MAX ? UM_CH_RTO_MAX : rto;
}

size_t um_channel_writable(const struct um_channel *ch)
{
	return ch->send_max - (size_t)(ch->snd_end - ch->snd_una);
}

/* Room for len more bytes in the send buffer (grown as needed). */
static int write_room(struct um_channel *ch, size_t len)
{
	if (len == 0)
		return -UM_EINVAL;
	if (len > um_channel_writable(ch))
		return -UM_EAGAIN;
	uint64_t need = ch->snd_end + len - ch->snd_una;
	if (need > ch->scap) {
		uint64_t cap = ch->scap;
		while (cap < need)
			cap *= 2;
		if (cap > ch->send_max)
			cap = ch->send_max;
		return um_ch_ring_grow(&ch->sbuf, &ch->scap, (uint32_t)cap, ch->snd_una, ch->snd_end);
	}
	return 0;
}

int um_channel_write(struct um_channel *ch, const void *data, size_t len)
{
	int ret = write_room(ch, len);

	if (ret < 0)
		return ret;
	um_ch_ring_put(ch->sbuf, ch->scap, ch->snd_end, data, len);
	ch->snd_end += len;
	return 0;
}

uint8_t *um_channel_write_buffer(struct um_channel *ch, size_t len)
{
	if (write_room(ch, len) < 0)
		return NULL;
	size_t at = (size_t)(ch->snd_end % ch->scap);
	return len <= ch->scap - at ? ch->sbuf + at : NULL; /* not where the buffer wraps */
}

int um_channel_write_commit(struct um_channel *ch, size_t len)
{
	if (len == 0 || len > um_channel_writable(ch) || ch->snd_end + len - ch->snd_una > ch->scap)
		return -UM_EINVAL;
	ch->snd_end += len;
	return 0;
}

size_t um_channel_readable(const struct um_channel *ch)
{
	return (size_t)(ch->rcv_nxt - ch->rcv_read);
}

size_t um_channel_read(struct um_channel *ch, void *out, size_t cap)
{
	size_t n = um_channel_readable(ch);

	if (n > cap)
		n = cap;
	if (!n)
		return 0;
	um_ch_ring_get(ch->rbuf, ch->rcap, ch->rcv_read, out, n);
	ch->rcv_read += n;
	ch->stats.bytes_delivered += n;
	um_ch_receive_window_update(ch);
	return n;
}

static bool epoch_retired(const struct um_channel *ch, uint64_t epoch)
{
	for (unsigned i = 0; i < UM_CH_RETIRED_MAX; i++)
		if (ch->retired[i] == epoch)
			return true;
	return false;
}

/* The peer speaks as `epoch`: adopt it. A change (not the first contact)
 * means the peer restarted: both streams start over from offset 0. */
static void learn_peer_epoch(struct um_channel *ch, uint64_t epoch)
{
	if (epoch == ch->peer_epoch)
		return;
	if (ch->peer_epoch) {
		ch->retired[ch->retired_next] = ch->peer_epoch;
		ch->retired_next = (ch->retired_next + 1) % UM_CH_RETIRED_MAX;
		um_ch_send_reset(ch);
		um_ch_receive_reset(ch);
		ch->reset_raised = true;
		ch->stats.resets++;
	}
	ch->peer_epoch = epoch;
}

int um_channel_input(struct um_channel *ch, const uint8_t *segment, size_t len, uint64_t now)
{
	struct um_channel_segment seg;
	int ret = um_channel_segment_decode(&seg, segment, len);

	if (ret < 0) {
		ch->stats.segments_malformed++;
		return ret;
	}
	ch->stats.segments_received++;
	ch->last_type = 0; /* what was output may be acknowledged now */
	bool misaddressed = seg.receiver_epoch != 0 && seg.receiver_epoch != ch->epoch;
	if (misaddressed || epoch_retired(ch, seg.sender_epoch)) {
		/* From before our restart (or from the peer's previous run):
		 * never delivered. Tell the sender who we are now, unless it
		 * is a RESET itself or comes from a run we already left. */
		ch->stats.segments_stale++;
		if (misaddressed && seg.type != UM_TYPE_CHANNEL_RESET && !epoch_retired(ch, seg.sender_epoch)) {
			ch->reset_pending = true;
			ch->reset_to = seg.sender_epoch;
		}
		return 0;
	}
	learn_peer_epoch(ch, seg.sender_epoch);
	if (seg.type == UM_TYPE_CHANNEL_DATA)
		um_ch_receive_data(ch, &seg, now);
	else if (seg.type == UM_TYPE_CHANNEL_ACK)
		um_ch_send_on_ack(ch, &seg, now);
	return 0;
}

int um_channel_output(struct um_channel *ch, uint64_t now, uint8_t *out, size_t cap, size_t *len)
{
	int ret;

	*len = 0;
	if (cap < ch->segment_max)
		return -UM_EINVAL;
	if (ch->reset_pending && now >= ch->reset_next_ns) {
		ret = um_channel_reset_encode(out, cap, ch->epoch, ch->reset_to);
		ch->reset_pending = false;
		if (ret < 0)
			return ret;
		ch->reset_next_ns = now + UM_CH_RESET_INTERVAL;
		*len = (size_t)ret;
		goto sent;
	}
	ret = um_ch_receive_ack(ch, now, out, cap, len);
	if (ret < 0 || *len)
		goto sent;
	if (ch->rec_count && now >= ch->rto_deadline)
		um_ch_send_on_timeout(ch, now);
	if (now >= ch->rack_deadline)
		um_ch_send_on_rack(ch, now);
	if (ch->rec_count && now >= ch->tlp_deadline) {
		ret = um_ch_send_tail_probe(ch, now, out, cap, len);
		if (ret < 0 || *len)
			goto sent;
	}
	ret = um_ch_send_data(ch, now, out, cap, len);
	if (ret < 0 || *len)
		goto sent;
	ret = um_ch_send_probe(ch, now, out, cap, len);
sent:
	if (ret < 0) {
		*len = 0;
		return ret;
	}
	if (*len) {
		ch->stats.segments_sent++;
		ch->last_type = out[0];
		if (out[0] == UM_TYPE_CHANNEL_DATA) {
			struct um_channel_segment seg;
			if (um_channel_segment_decode(&seg, out, *len) == 0)
				ch->last_offset = seg.offset;
			ch->last_xmit = ch->xmit_seq;
		}
	}
	return 0;
}

int um_channel_unsend(struct um_channel *ch)
{
	uint8_t type = ch->last_type;

	ch->last_type = 0;
	if (!type)
		return -UM_ESTATE;
	ch->stats.segments_sent--;
	if (type == UM_TYPE_CHANNEL_RESET) {
		ch->reset_pending = true;
		ch->reset_next_ns = 0;
	} else if (type == UM_TYPE_CHANNEL_ACK) {
		ch->ack_now = true;
	} else {
		um_ch_send_unsend(ch, ch->last_offset, ch->last_xmit);
	}
	return 0;
}

/* Whether um_channel_output would send data right now (the same tests as
 * um_ch_send_data: a deadline of 0 must always produce a segment). */
static bool data_ready(const struct um_channel *ch)
{
	/* Lost segments go first: new data waits behind them. */
	if (ch->lost_count)
		return ch->pipe == 0 || ch->pipe + ch->payload_max <= ch->cwnd;
	if (ch->snd_nxt >= ch->snd_end || ch->wnd_edge <= ch->snd_nxt)
		return false;
	if (ch->rec_count == ch->rec_cap && ch->rec_cap >= UM_CH_RECORDS_MAX)
		return false;
	uint64_t n = ch->snd_end - ch->snd_nxt;
	if (n > ch->payload_max)
		n = ch->payload_max;
	if (n > ch->wnd_edge - ch->snd_nxt)
		n = ch->wnd_edge - ch->snd_nxt;
	return ch->pipe == 0 || ch->pipe + n <= ch->cwnd;
}

uint64_t um_channel_deadline(const struct um_channel *ch)
{
	uint64_t d = UINT64_MAX;

	if (ch->ack_now || data_ready(ch))
		return 0;
	if (um_ch_send_blocked_by_window(ch) && ch->persist_deadline == UINT64_MAX)
		return 0; /* output arms the probe timer */
	if (ch->reset_pending)
		d = ch->reset_next_ns;
	if (ch->ack_pending && ch->ack_deadline < d)
		d = ch->ack_deadline;
	if (ch->rec_count && ch->rto_deadline < d)
		d = ch->rto_deadline;
	if (ch->persist_deadline < d)
		d = ch->persist_deadline;
	if (ch->rack_deadline < d)
		d = ch->rack_deadline;
	if (ch->rec_count && ch->tlp_deadline < d)
		d = ch->tlp_deadline;
	return d;
}

/* Replaces an empty ring by a smaller one (the contents do not matter). */
static void ring_shrink(uint8_t **ring, uint32_t *cap, uint32_t small)
{
	uint8_t *fresh;

	if (*cap <= small || !(fresh = malloc(small)))
		return;
	free(*ring);
	*ring = fresh;
	*cap = small;
}

void um_channel_trim(struct um_channel *ch)
{
	if (ch->snd_una == ch->snd_end && ch->rec_count == 0) {
		ring_shrink(&ch->sbuf, &ch->scap, ch->send_max < UM_CH_INITIAL_CAP ? ch->send_max : UM_CH_INITIAL_CAP);
		if (ch->rec_cap > UM_CH_RECORDS_INITIAL) {
			struct um_ch_record *rec = calloc(UM_CH_RECORDS_INITIAL, sizeof(*rec));
			if (rec) {
				free(ch->rec);
				ch->rec = rec;
				ch->rec_cap = UM_CH_RECORDS_INITIAL;
				ch->rec_head = 0;
			}
		}
	}
	if (ch->rcv_read == ch->rcv_nxt && ch->range_count == 0)
		ring_shrink(&ch->rbuf, &ch->rcap,
			    ch->receive_max < UM_CH_INITIAL_CAP ? ch->receive_max : UM_CH_INITIAL_CAP);
}

bool um_channel_take_reset(struct um_channel *ch)
{
	bool raised = ch->reset_raised;

	ch->reset_raised = false;
	return raised;
}

uint64_t um_channel_epoch(const struct um_channel *ch)
{
	return ch->epoch;
}

uint64_t um_channel_peer_epoch(const struct um_channel *ch)
{
	return ch->peer_epoch;
}

void um_channel_stats(const struct um_channel *ch, struct um_channel_stats *out)
{
	*out = ch->stats;
	out->srtt_ns = ch->srtt;
	out->rttvar_ns = ch->rttvar;
	out->rto_ns = ch->rto;
	out->cwnd = ch->cwnd;
	out->ssthresh = ch->ssthresh;
	out->in_flight = ch->pipe;
	out->peer_window = ch->peer_window;
	out->unsent = (uint32_t)(ch->snd_end - ch->snd_nxt);
	out->memory_bytes = sizeof(*ch) + ch->scap + ch->rcap + (uint64_t)ch->rec_cap * sizeof(*ch->rec);
}
