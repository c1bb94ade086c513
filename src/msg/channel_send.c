/* SPDX-License-Identifier: MIT */
/* The sending half of a message channel: the scoreboard of segments in
 * flight (RFC 6675: pipe, SACKed, lost), loss detection (RACK, RFC 8985: a
 * segment is lost when one sent after it arrived and a reordering window
 * has passed; DupThresh SACKed segments above a hole before the first RTT
 * sample; a tail loss probe after 2 RTT without ACK), NewReno congestion
 * control in bytes with slow start and SACK fast recovery, the RTO of
 * RFC 6298 with exponential backoff, and the window probe when the peer's
 * window is closed. */
#include <stdlib.h>
#include <string.h>

#include "msg/channel_internal.h"
#include "util/error.h"

static uint32_t min_u32(uint64_t a, uint64_t b)
{
	uint64_t m = a < b ? a : b;
	return m > UINT32_MAX ? UINT32_MAX : (uint32_t)m;
}

void um_ch_send_reset(struct um_channel *ch)
{
	ch->snd_una = ch->snd_nxt = ch->snd_end = ch->snd_max = 0;
	ch->wnd_edge = ch->peer_window = UM_CH_RECEIVE_MIN;
	ch->rec_head = ch->rec_count = 0;
	ch->lost_scan = ch->retx_scan = 0;
	ch->sack_top = -1;
	ch->pipe = ch->lost_count = ch->retrans_count = ch->sacked_count = 0;
	ch->delivered_xmit = ch->xmit_seq;
	ch->rack_deadline = ch->tlp_deadline = UINT64_MAX;
	ch->tlp_spent = false;
	ch->sack_seen_n = 0;
	ch->cwnd = UM_CH_INITIAL_WINDOW * ch->payload_max;
	ch->ssthresh = UINT32_MAX;
	ch->cwnd_credit = 0;
	ch->in_recovery = false;
	ch->recovery_point = 0;
	ch->rto_deadline = ch->persist_deadline = UINT64_MAX;
	ch->persist_interval = 0;
}

/* Moves a record to another state, keeping pipe and the counters right. */
static void record_set(struct um_channel *ch, struct um_ch_record *r, uint8_t state)
{
	switch (r->state) {
	case UM_CH_OUT:
		ch->pipe -= r->len;
		break;
	case UM_CH_RETRANS:
		ch->pipe -= r->len;
		ch->retrans_count--;
		break;
	case UM_CH_LOST:
		ch->lost_count--;
		break;
	case UM_CH_SACKED:
		ch->sacked_count--;
		break;
	}
	r->state = state;
	switch (state) {
	case UM_CH_OUT:
		ch->pipe += r->len;
		break;
	case UM_CH_RETRANS:
		ch->pipe += r->len;
		ch->retrans_count++;
		break;
	case UM_CH_LOST:
		ch->lost_count++;
		break;
	case UM_CH_SACKED:
		ch->sacked_count++;
		break;
	}
}

static void record_delivered(struct um_channel *ch, const struct um_ch_record *r)
{
	if (r->xmit > ch->delivered_xmit)
		ch->delivered_xmit = r->xmit;
}

/* The tail loss probe fires after 2 RTT without ACK (plus the peer's ACK
 * delay when a single segment is out), before the RTO. */
static void tlp_arm(struct um_channel *ch, uint64_t now)
{
	if (!ch->have_rtt || ch->tlp_spent || ch->tlp_deadline != UINT64_MAX || !ch->rec_count)
		return;
	uint64_t pto = 2 * ch->srtt > 10 * UM_CH_MS ? 2 * ch->srtt : 10 * UM_CH_MS;
	if (ch->rec_count <= 1)
		pto += UM_CH_ACK_DELAY;
	if (now + pto < ch->rto_deadline)
		ch->tlp_deadline = now + pto;
}

static uint32_t sub_floor(uint32_t v, uint32_t k)
{
	return v > k ? v - k : 0;
}

/* Drops the records wholly below ack, trims one it cuts. */
static void records_ack(struct um_channel *ch, uint64_t ack)
{
	uint32_t k = 0;

	while (k < ch->rec_count) {
		struct um_ch_record *r = um_ch_rec(ch, k);
		if (r->offset + r->len > ack) {
			if (r->offset < ack) {
				uint32_t cut = (uint32_t)(ack - r->offset);
				uint8_t state = r->state;
				record_set(ch, r, UM_CH_SACKED); /* out of pipe while resized */
				r->len -= cut;
				r->offset = ack;
				record_set(ch, r, state);
			}
			break;
		}
		record_delivered(ch, r);
		record_set(ch, r, UM_CH_SACKED);
		ch->sacked_count--;
		k++;
	}
	if (!k)
		return;
	ch->rec_head = (ch->rec_head + k) & (ch->rec_cap - 1);
	ch->rec_count -= k;
	ch->lost_scan = sub_floor(ch->lost_scan, k);
	ch->retx_scan = sub_floor(ch->retx_scan, k);
	ch->sack_top = ch->sack_top >= (int64_t)k ? ch->sack_top - k : -1;
}

/* The index of the record holding offset (or the first above it). */
static uint32_t record_find(struct um_channel *ch, uint64_t offset)
{
	uint32_t lo = 0, hi = ch->rec_count;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		struct um_ch_record *r = um_ch_rec(ch, mid);
		if (r->offset + r->len <= offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Marks the records wholly inside [start, end) SACKED; returns the bytes
 * newly marked. */
static uint64_t records_sack(struct um_channel *ch, uint64_t start, uint64_t end)
{
	uint64_t bytes = 0;

	for (uint32_t i = record_find(ch, start); i < ch->rec_count; i++) {
		struct um_ch_record *r = um_ch_rec(ch, i);
		if (r->offset + r->len > end)
			break;
		if (r->offset < start || r->state == UM_CH_SACKED)
			continue;
		record_delivered(ch, r);
		record_set(ch, r, UM_CH_SACKED);
		bytes += r->len;
		if ((int64_t)i > ch->sack_top)
			ch->sack_top = i;
	}
	return bytes;
}

static uint64_t process_sacks(struct um_channel *ch, const struct um_channel_segment *seg)
{
	struct um_channel_sack seen[UM_CHANNEL_SACK_MAX];
	unsigned n = 0;
	uint64_t bytes = 0;

	for (unsigned i = 0; i < seg->sack_count; i++) {
		uint64_t start = seg->sack[i].start, end = seg->sack[i].end;
		if (start < ch->snd_una)
			start = ch->snd_una;
		if (end > ch->snd_nxt)
			end = ch->snd_nxt;
		if (start >= end)
			continue;
		seen[n].start = start;
		seen[n++].end = end;
		/* A block seen before, or one that only grew at its top (new
		 * segments above a hole): mark just what is new. */
		uint64_t from = start;
		for (unsigned j = 0; j < ch->sack_seen_n; j++)
			if (ch->sack_seen[j].start == start && ch->sack_seen[j].end <= end)
				from = ch->sack_seen[j].end;
		if (from < end)
			bytes += records_sack(ch, from, end);
	}
	memcpy(ch->sack_seen, seen, n * sizeof(seen[0]));
	ch->sack_seen_n = n;
	return bytes;
}

static void rtt_sample(struct um_channel *ch, uint64_t r)
{
	if (!ch->have_rtt) {
		ch->srtt = r;
		ch->rttvar = r / 2;
		ch->have_rtt = true;
	} else {
		uint64_t diff = ch->srtt > r ? ch->srtt - r : r - ch->srtt;
		ch->rttvar = (3 * ch->rttvar + diff) / 4;
		ch->srtt = (7 * ch->srtt + r) / 8;
	}
	uint64_t var = 4 * ch->rttvar > UM_CH_MS ? 4 * ch->rttvar : UM_CH_MS;
	ch->rto = ch->srtt + var;
	if (ch->rto < UM_CH_RTO_MIN)
		ch->rto = UM_CH_RTO_MIN;
	if (ch->rto > UM_CH_RTO_MAX)
		ch->rto = UM_CH_RTO_MAX;
}

static void mark_lost(struct um_channel *ch, uint32_t j);

static void detect_losses(struct um_channel *ch)
{
	if (ch->sacked_count >= UM_CH_DUP_THRESH && ch->sack_top >= (int64_t)ch->lost_scan) {
		int64_t i = ch->sack_top;
		unsigned n = 0;
		for (; i >= (int64_t)ch->lost_scan; i--)
			if (um_ch_rec(ch, (uint32_t)i)->state == UM_CH_SACKED && ++n == UM_CH_DUP_THRESH)
				break;
		if (n == UM_CH_DUP_THRESH) {
			for (uint32_t j = ch->lost_scan; j < (uint32_t)i; j++) {
				struct um_ch_record *r = um_ch_rec(ch, j);
				if (r->state == UM_CH_OUT)
					mark_lost(ch, j);
			}
			ch->lost_scan = (uint32_t)i;
		}
	}
}

static void mark_lost(struct um_channel *ch, uint32_t j)
{
	record_set(ch, um_ch_rec(ch, j), UM_CH_LOST);
	if (j < ch->retx_scan)
		ch->retx_scan = j;
}

/* RACK: a segment sent before the latest one delivered is lost once a
 * reordering window (srtt / 4) has passed beyond its RTT; the earliest
 * such moment still ahead arms rack_deadline. */
static void rack_detect(struct um_channel *ch, uint64_t now)
{
	uint64_t next = UINT64_MAX;

	ch->rack_deadline = UINT64_MAX;
	if (!ch->have_rtt || ch->delivered_xmit == 0)
		return;
	uint64_t window = ch->srtt + (ch->srtt / 4 > UM_CH_MS ? ch->srtt / 4 : UM_CH_MS);
	for (uint32_t j = 0; ch->retrans_count && j < ch->lost_scan; j++) {
		struct um_ch_record *r = um_ch_rec(ch, j);
		if (r->state != UM_CH_RETRANS || r->xmit >= ch->delivered_xmit)
			continue;
		if (now >= r->sent_ns + window)
			mark_lost(ch, j);
		else if (r->sent_ns + window < next)
			next = r->sent_ns + window;
	}
	/* Originals (OUT) are in sending order: stop at the first that is
	 * not overdue. */
	for (uint32_t j = ch->lost_scan; j < ch->rec_count; j++) {
		struct um_ch_record *r = um_ch_rec(ch, j);
		if (r->state != UM_CH_OUT)
			continue;
		if (r->xmit >= ch->delivered_xmit)
			break;
		if (now < r->sent_ns + window) {
			if (r->sent_ns + window < next)
				next = r->sent_ns + window;
			break;
		}
		mark_lost(ch, j);
	}
	while (ch->lost_scan < ch->rec_count && um_ch_rec(ch, ch->lost_scan)->state != UM_CH_OUT)
		ch->lost_scan++;
	ch->rack_deadline = next;
}

/* Losses were marked: fast recovery, halving once per window of data. */
static void enter_recovery(struct um_channel *ch)
{
	if (!ch->lost_count || ch->in_recovery || ch->snd_una < ch->recovery_point)
		return;
	uint32_t flight = min_u32(ch->snd_nxt - ch->snd_una, UINT32_MAX);
	ch->ssthresh = flight / 2 > 2 * ch->payload_max ? flight / 2 : 2 * ch->payload_max;
	ch->cwnd = ch->ssthresh;
	ch->cwnd_credit = 0;
	ch->in_recovery = true;
	ch->recovery_point = ch->snd_nxt;
}

void um_ch_send_on_rack(struct um_channel *ch, uint64_t now)
{
	rack_detect(ch, now);
	enter_recovery(ch);
}

void um_ch_send_on_ack(struct um_channel *ch, const struct um_channel_segment *seg, uint64_t now)
{
	if (seg->ack < ch->snd_una || seg->ack > ch->snd_max)
		return; /* an old ACK overtaken by newer ones, or nonsense */
	uint64_t acked = seg->ack - ch->snd_una;
	ch->wnd_edge = seg->ack + seg->window;
	ch->peer_window = seg->window;
	records_ack(ch, seg->ack);
	ch->snd_una = seg->ack;
	if (ch->snd_nxt < seg->ack)
		ch->snd_nxt = seg->ack; /* the window probe's byte got in */
	uint64_t sacked = process_sacks(ch, seg);

	if (seg->echo_valid && (acked || sacked)) {
		uint32_t elapsed = um_ch_timestamp_us(now) - seg->echo_us;
		if (elapsed >= seg->delay_us && elapsed - seg->delay_us < 60u * 1000 * 1000)
			rtt_sample(ch, (uint64_t)(elapsed - seg->delay_us) * 1000);
	}
	/* RACK decides once there is an RTT; counting SACKed segments reacts to
	 * any reordering deeper than 3 segments with a spurious halving, so it
	 * only serves before the first sample. */
	if (!ch->have_rtt)
		detect_losses(ch);
	rack_detect(ch, now);

	if (ch->in_recovery && ch->snd_una >= ch->recovery_point) {
		ch->in_recovery = false;
		if (ch->cwnd > ch->ssthresh)
			ch->cwnd = ch->ssthresh;
	}
	enter_recovery(ch);
	if (acked && !ch->in_recovery) {
		uint32_t limit = ch->send_max > (1u << 30) / 2 ? 1u << 30 : 2 * ch->send_max;
		if (ch->cwnd < ch->ssthresh) {
			/* Slow start: by the bytes acknowledged (an ACK may
			 * cover a whole burst that arrived at once). */
			ch->cwnd += min_u32(acked, ch->ssthresh - ch->cwnd);
		} else {
			/* Congestion avoidance: one segment per window acknowledged. */
			ch->cwnd_credit += min_u32(acked, limit);
			while (ch->cwnd_credit >= ch->cwnd && ch->cwnd < limit) {
				ch->cwnd_credit -= ch->cwnd;
				ch->cwnd += ch->payload_max;
			}
			if (ch->cwnd_credit > ch->cwnd)
				ch->cwnd_credit = ch->cwnd;
		}
		if (ch->cwnd > limit)
			ch->cwnd = limit;
	}
	if (acked || sacked) {
		ch->rto_deadline = ch->rec_count ? now + ch->rto : UINT64_MAX;
		ch->tlp_deadline = UINT64_MAX;
		ch->tlp_spent = false;
		tlp_arm(ch, now);
		ch->persist_deadline = UINT64_MAX;
		ch->persist_interval = 0;
	}
}

void um_ch_send_on_timeout(struct um_channel *ch, uint64_t now)
{
	uint32_t flight = min_u32(ch->snd_nxt - ch->snd_una, UINT32_MAX);

	ch->stats.timeouts++;
	ch->ssthresh = flight / 2 > 2 * ch->payload_max ? flight / 2 : 2 * ch->payload_max;
	ch->cwnd = ch->payload_max;
	ch->cwnd_credit = 0;
	ch->in_recovery = false;
	ch->recovery_point = ch->snd_nxt; /* no fast recovery for what was sent before */
	/* Everything not SACKED is lost; the first segment always is (the
	 * receiver holds nothing in order beyond the ACK point). */
	for (uint32_t i = 0; i < ch->rec_count; i++) {
		struct um_ch_record *r = um_ch_rec(ch, i);
		if (r->state != UM_CH_SACKED || i == 0)
			record_set(ch, r, UM_CH_LOST);
	}
	ch->lost_scan = ch->rec_count;
	ch->retx_scan = 0;
	ch->rto = ch->rto * 2 > UM_CH_RTO_MAX ? UM_CH_RTO_MAX : ch->rto * 2;
	ch->rto_deadline = now + ch->rto;
	ch->rack_deadline = UINT64_MAX;
	ch->tlp_deadline = UINT64_MAX;
	ch->tlp_spent = true; /* no probe until an ACK arrives */
}

static int emit(struct um_channel *ch, uint64_t now, uint64_t offset, uint32_t n, uint8_t *out, size_t cap, size_t *len)
{
	int ret =
	    um_channel_data_header_encode(out, cap, ch->epoch, ch->peer_epoch, offset, um_ch_timestamp_us(now), n);
	if (ret < 0)
		return ret;
	um_ch_ring_get(ch->sbuf, ch->scap, offset, out + UM_CHANNEL_DATA_HEADER, n);
	*len = (size_t)ret;
	ch->stats.bytes_sent += n;
	ch->last_data_ns = now;
	if (ch->rto_deadline == UINT64_MAX)
		ch->rto_deadline = now + ch->rto;
	tlp_arm(ch, now);
	return 0;
}

static int records_make_room(struct um_channel *ch)
{
	if (ch->rec_count < ch->rec_cap)
		return 0;
	if (ch->rec_cap >= UM_CH_RECORDS_MAX)
		return -UM_EAGAIN;
	uint32_t cap = ch->rec_cap * 2;
	struct um_ch_record *rec = malloc(cap * sizeof(*rec));
	if (!rec)
		return -UM_ENOMEM;
	for (uint32_t i = 0; i < ch->rec_count; i++)
		rec[i] = *um_ch_rec(ch, i);
	free(ch->rec);
	ch->rec = rec;
	ch->rec_cap = cap;
	ch->rec_head = 0;
	return 0;
}

int um_ch_send_cut_records(struct um_channel *ch, uint32_t payload_max)
{
	uint64_t pieces = 0;

	for (uint32_t i = 0; i < ch->rec_count; i++)
		pieces += (um_ch_rec(ch, i)->len + payload_max - 1) / payload_max;
	if (pieces == ch->rec_count)
		return 0;
	if (pieces > UM_CH_RECORDS_MAX)
		return -UM_ENOMEM;
	uint32_t cap = ch->rec_cap;
	while (cap < pieces)
		cap *= 2;
	struct um_ch_record *rec = malloc(cap * sizeof(*rec));
	if (!rec)
		return -UM_ENOMEM;
	/* The scan positions and the highest SACKED record move with their
	 * records: the first piece of each (the last one for sack_top). */
	uint32_t n = 0, lost_scan = 0, retx_scan = 0;
	int64_t sack_top = -1;
	for (uint32_t i = 0; i < ch->rec_count; i++) {
		const struct um_ch_record *r = um_ch_rec(ch, i);
		if (i == ch->lost_scan)
			lost_scan = n;
		if (i == ch->retx_scan)
			retx_scan = n;
		for (uint32_t done = 0; done < r->len; done += payload_max) {
			rec[n] = *r;
			rec[n].offset = r->offset + done;
			rec[n].len = r->len - done < payload_max ? r->len - done : payload_max;
			n++;
			if (done) { /* one more record in this state (pipe: same bytes) */
				if (r->state == UM_CH_RETRANS)
					ch->retrans_count++;
				else if (r->state == UM_CH_LOST)
					ch->lost_count++;
				else if (r->state == UM_CH_SACKED)
					ch->sacked_count++;
			}
		}
		if ((int64_t)i == ch->sack_top)
			sack_top = (int64_t)n - 1;
	}
	if (ch->lost_scan >= ch->rec_count)
		lost_scan = n;
	if (ch->retx_scan >= ch->rec_count)
		retx_scan = n;
	free(ch->rec);
	ch->rec = rec;
	ch->rec_cap = cap;
	ch->rec_head = 0;
	ch->rec_count = n;
	ch->lost_scan = lost_scan;
	ch->retx_scan = retx_scan;
	ch->sack_top = sack_top;
	return 0;
}

int um_ch_send_data(struct um_channel *ch, uint64_t now, uint8_t *out, size_t cap, size_t *len)
{
	*len = 0;
	if (ch->lost_count) {
		while (ch->retx_scan < ch->rec_count && um_ch_rec(ch, ch->retx_scan)->state != UM_CH_LOST)
			ch->retx_scan++;
		if (ch->retx_scan < ch->rec_count) {
			struct um_ch_record *r = um_ch_rec(ch, ch->retx_scan);
			if (ch->pipe && ch->pipe + r->len > ch->cwnd)
				return 0;
			int ret = emit(ch, now, r->offset, r->len, out, cap, len);
			if (ret < 0)
				return ret;
			record_set(ch, r, UM_CH_RETRANS);
			r->xmit = ++ch->xmit_seq;
			r->sent_ns = now;
			ch->stats.retransmits++;
			ch->stats.bytes_retransmitted += r->len;
			return 0;
		}
	}
	if (ch->snd_nxt >= ch->snd_end || ch->wnd_edge <= ch->snd_nxt)
		return 0;
	if (ch->rec_count == 0 && ch->last_data_ns && now - ch->last_data_ns > ch->rto) {
		/* Idle for an RTO: the window measured then says little about
		 * the path now; restart from the initial window (RFC 5681
		 * 4.1, ssthresh kept as in RFC 2861) instead of one burst. */
		uint32_t restart = UM_CH_INITIAL_WINDOW * ch->payload_max;
		if (ch->cwnd > restart) {
			uint32_t keep = ch->cwnd / 4 * 3;
			if (ch->ssthresh < keep)
				ch->ssthresh = keep;
			ch->cwnd = restart;
		}
	}
	uint32_t n = min_u32(ch->snd_end - ch->snd_nxt, ch->payload_max);
	if (n > ch->wnd_edge - ch->snd_nxt)
		n = (uint32_t)(ch->wnd_edge - ch->snd_nxt);
	if (ch->pipe && ch->pipe + n > ch->cwnd)
		return 0;
	if (records_make_room(ch) < 0)
		return 0; /* retried once ACKs free records */
	int ret = emit(ch, now, ch->snd_nxt, n, out, cap, len);
	if (ret < 0)
		return ret;
	struct um_ch_record *r = um_ch_rec(ch, ch->rec_count++);
	r->offset = ch->snd_nxt;
	r->len = n;
	r->state = UM_CH_SACKED; /* counted by record_set below */
	ch->sacked_count++;
	record_set(ch, r, UM_CH_OUT);
	r->xmit = ++ch->xmit_seq;
	r->sent_ns = now;
	ch->snd_nxt += n;
	if (ch->snd_max < ch->snd_nxt)
		ch->snd_max = ch->snd_nxt;
	return 0;
}

bool um_ch_send_blocked_by_window(const struct um_channel *ch)
{
	return ch->snd_end > ch->snd_nxt && ch->wnd_edge <= ch->snd_nxt && ch->rec_count == 0;
}

int um_ch_send_probe(struct um_channel *ch, uint64_t now, uint8_t *out, size_t cap, size_t *len)
{
	*len = 0;
	if (!um_ch_send_blocked_by_window(ch)) {
		ch->persist_deadline = UINT64_MAX;
		ch->persist_interval = 0;
		return 0;
	}
	if (ch->persist_deadline == UINT64_MAX) {
		ch->persist_interval = ch->rto;
		ch->persist_deadline = now + ch->persist_interval;
		return 0;
	}
	if (now < ch->persist_deadline)
		return 0;
	/* One byte past the window: the receiver keeps it if the window
	 * reopened meanwhile, and answers with its window either way. */
	uint64_t saved = ch->rto_deadline;
	int ret = emit(ch, now, ch->snd_nxt, 1, out, cap, len);
	ch->rto_deadline = saved;
	if (ret < 0)
		return ret;
	if (ch->snd_max < ch->snd_nxt + 1)
		ch->snd_max = ch->snd_nxt + 1;
	ch->persist_interval = ch->persist_interval * 2 > UM_CH_RTO_MAX ? UM_CH_RTO_MAX : ch->persist_interval * 2;
	ch->persist_deadline = now + ch->persist_interval;
	return 0;
}

int um_ch_send_tail_probe(struct um_channel *ch, uint64_t now, uint8_t *out, size_t cap, size_t *len)
{
	*len = 0;
	ch->tlp_deadline = UINT64_MAX;
	ch->tlp_spent = true; /* one probe per silence */
	if (!ch->rec_count)
		return 0;
	/* New data if the window allows (cwnd aside), else the last segment
	 * again: either way the ACK it draws carries the SACK news. */
	if (ch->snd_nxt < ch->snd_end && ch->wnd_edge > ch->snd_nxt) {
		uint32_t saved = ch->cwnd;
		ch->cwnd = UINT32_MAX;
		int ret = um_ch_send_data(ch, now, out, cap, len);
		ch->cwnd = saved;
		if (ret < 0 || *len)
			return ret;
	}
	struct um_ch_record *r = um_ch_rec(ch, ch->rec_count - 1);
	if (r->state == UM_CH_SACKED)
		return 0;
	int ret = emit(ch, now, r->offset, r->len, out, cap, len);
	if (ret < 0)
		return ret;
	if (r->state == UM_CH_LOST)
		record_set(ch, r, UM_CH_RETRANS);
	r->xmit = ++ch->xmit_seq;
	r->sent_ns = now;
	ch->stats.retransmits++;
	ch->stats.bytes_retransmitted += r->len;
	return 0;
}

void um_ch_send_unsend(struct um_channel *ch, uint64_t offset, uint64_t xmit)
{
	uint32_t i = record_find(ch, offset);

	if (i >= ch->rec_count)
		return;
	struct um_ch_record *r = um_ch_rec(ch, i);
	if (r->offset != offset || r->xmit != xmit)
		return; /* a window probe, or a record that moved on */
	ch->stats.bytes_sent -= r->len;
	if (r->state == UM_CH_RETRANS) {
		record_set(ch, r, UM_CH_LOST);
		if (i < ch->retx_scan)
			ch->retx_scan = i;
		ch->stats.retransmits--;
		ch->stats.bytes_retransmitted -= r->len;
	} else if (r->state == UM_CH_OUT && i == ch->rec_count - 1) {
		record_set(ch, r, UM_CH_SACKED);
		ch->sacked_count--;
		ch->rec_count--;
		if (ch->snd_max == r->offset + r->len)
			ch->snd_max = r->offset;
		ch->snd_nxt = r->offset;
		if (ch->lost_scan > ch->rec_count)
			ch->lost_scan = ch->rec_count;
		if (ch->sack_top >= (int64_t)ch->rec_count)
			ch->sack_top = -1;
		if (!ch->rec_count)
			ch->rto_deadline = ch->tlp_deadline = UINT64_MAX;
	}
}
