/* SPDX-License-Identifier: MIT */
#include "wire/fragment.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/error.h"
#include "wire/fragment_ack.h"

struct um_reasm_slot {
	bool used;
	struct um_addr source;
	uint8_t msg_type;
	uint8_t count;
	uint16_t total_len;
	uint32_t receiver_index;
	uint32_t message_id;
	uint32_t received;     /* bit per fragment index; bit `count` the parity piece */
	unsigned prefix_slots; /* used slots of this source's prefix, this one included */
	uint64_t first_ns;
	size_t reserved; /* bytes counted against the caps: um_reasm_reserve_bytes() */
	uint8_t *buf;    /* owned: total_len bytes, then the parity piece's chunk (count >= 2) */
	/* The last ACK sent for this slot (um_reasm_add_ack): its bitmap,
	 * when, and how many were sent. */
	uint32_t acked;
	uint64_t acked_ns;
	uint8_t acks_sent;
	/* A piece came after the last ACK: if no other follows within the
	 * quiet time, the sender's round has ended short of its last piece. */
	bool quiet_armed;
	uint64_t last_ns;
};

/* Count of pieces and the parity bit fit the 32-bit received mask. */
_Static_assert(UM_FRAG_MAX_COUNT + 1 <= 32, "fragment mask too small");
_Static_assert(UM_FRAG_MAX_MESSAGE <= UINT16_MAX, "total_len is 16 bits");

unsigned um_fragment_count(size_t msg_len)
{
	if (msg_len == 0 || msg_len > UM_FRAG_MAX_MESSAGE)
		return 0;
	return (unsigned)((msg_len + UM_FRAG_CHUNK_BYTES - 1) / UM_FRAG_CHUNK_BYTES);
}

/* Data pieces: all full but the last; the parity piece (index == count) is full. */
static size_t piece_len(size_t total, unsigned index, unsigned count)
{
	return index + 1 < count || index == count ? UM_FRAG_CHUNK_BYTES : total - (size_t)index * UM_FRAG_CHUNK_BYTES;
}

size_t um_reasm_reserve_bytes(size_t total_len)
{
	return total_len + (um_fragment_count(total_len) >= 2 ? UM_FRAG_CHUNK_BYTES : 0);
}

/* out[0..chunk) ^= data piece `index` of msg, zero-padded to a chunk. */
static void xor_piece(uint8_t *out, const uint8_t *msg, size_t msg_len, unsigned index, unsigned count)
{
	const uint8_t *p = msg + (size_t)index * UM_FRAG_CHUNK_BYTES;
	size_t n = piece_len(msg_len, index, count);
	for (size_t i = 0; i < n; i++)
		out[i] ^= p[i];
}

int um_fragment_encode(uint8_t *out, size_t cap, uint8_t msg_type, uint32_t receiver_index, uint32_t message_id,
		       const uint8_t *msg, size_t msg_len, unsigned index)
{
	unsigned count = um_fragment_count(msg_len);
	if (count == 0)
		return -UM_ERANGE;
	bool parity = index == count;
	if (index > count || (parity && count < 2))
		return -UM_EINVAL;
	size_t n = piece_len(msg_len, index, count);
	struct um_writer w;
	um_writer_init(&w, out, cap);
	um_write_u8(&w, UM_MSG_FRAGMENT);
	um_write_u8(&w, msg_type);
	um_write_u8(&w, (uint8_t)index);
	um_write_u8(&w, (uint8_t)count);
	um_write_u32(&w, receiver_index);
	um_write_u32(&w, message_id);
	um_write_u16(&w, (uint16_t)msg_len);
	if (!parity) {
		um_write_bytes(&w, msg + (size_t)index * UM_FRAG_CHUNK_BYTES, n);
	} else {
		if (um_writer_error(&w) || w.pos + n > cap)
			return -UM_ERANGE;
		memset(out + w.pos, 0, n);
		for (unsigned i = 0; i < count; i++)
			xor_piece(out + w.pos, msg, msg_len, i, count);
		w.pos += n;
	}
	if (um_writer_error(&w))
		return -UM_ERANGE;
	return (int)w.pos;
}

int um_fragment_decode(struct um_fragment *f, const uint8_t *in, size_t len)
{
	struct um_reader r;
	memset(f, 0, sizeof(*f));
	if (len > UM_HS_MAX_DATAGRAM)
		return -UM_EINVAL;
	um_reader_init(&r, in, len);
	uint8_t type = um_read_u8(&r);
	f->msg_type = um_read_u8(&r);
	f->index = um_read_u8(&r);
	f->count = um_read_u8(&r);
	f->receiver_index = um_read_u32(&r);
	f->message_id = um_read_u32(&r);
	f->total_len = um_read_u16(&r);
	if (um_reader_error(&r))
		return -UM_ETRUNC;
	f->payload_len = um_reader_left(&r);
	f->payload = um_read_bytes(&r, f->payload_len);
	if (type != UM_MSG_FRAGMENT || f->msg_type == UM_MSG_FRAGMENT || f->msg_type == 0)
		return -UM_EINVAL;
	unsigned count = um_fragment_count(f->total_len);
	if (count == 0 || f->count != count || f->index > count || (f->index == count && count < 2))
		return -UM_EINVAL;
	if (f->payload_len != piece_len(f->total_len, f->index, count))
		return -UM_EINVAL;
	return 0;
}

void um_reasm_default_limits(struct um_reasm_limits *limits)
{
	limits->max_message = UM_FRAG_MAX_MESSAGE;
	limits->per_source_bytes = 64 * 1024;
	limits->global_bytes = 2 * 1024 * 1024;
	limits->max_slots = 256;
	limits->per_prefix_slots = 16;
	limits->one_slot_per_index = false;
	limits->first_piece_only = false;
	limits->evict_when_full = false;
	limits->timeout_ns = 5ULL * 1000000000ULL;
}

int um_reasm_init(struct um_reassembler *r, const struct um_reasm_limits *limits)
{
	memset(r, 0, sizeof(*r));
	if (limits)
		r->limits = *limits;
	else
		um_reasm_default_limits(&r->limits);
	if (r->limits.max_slots == 0 || r->limits.max_message == 0 || r->limits.max_message > UM_FRAG_MAX_MESSAGE)
		return -UM_EINVAL;
	r->slots = calloc(r->limits.max_slots, sizeof(*r->slots));
	return r->slots ? 0 : -UM_ENOMEM;
}

/* IPv4 /24 or IPv6 /64: what one site can usually send from. */
static bool same_prefix(const struct um_addr *a, const struct um_addr *b)
{
	return um_addr_same_network(a, b, UM_ADDR_SUBSCRIBER_V4_BITS, UM_ADDR_SUBSCRIBER_V6_BITS);
}

static void slot_free(struct um_reassembler *r, struct um_reasm_slot *s)
{
	if (!s->used)
		return;
	for (unsigned i = 0; i < r->limits.max_slots; i++)
		if (r->slots[i].used && same_prefix(&r->slots[i].source, &s->source))
			r->slots[i].prefix_slots--;
	r->bytes_in_use -= s->reserved;
	free(s->buf);
	memset(s, 0, sizeof(*s));
}

void um_reasm_destroy(struct um_reassembler *r)
{
	if (!r->slots)
		return;
	for (unsigned i = 0; i < r->limits.max_slots; i++)
		slot_free(r, &r->slots[i]);
	free(r->slots);
	r->slots = NULL;
}

void um_reasm_expire(struct um_reassembler *r, uint64_t now_ns)
{
	for (unsigned i = 0; i < r->limits.max_slots; i++) {
		struct um_reasm_slot *s = &r->slots[i];
		if (s->used && now_ns - s->first_ns >= r->limits.timeout_ns) {
			r->stats.expired++;
			slot_free(r, s);
		}
	}
}

unsigned um_reasm_pending(const struct um_reassembler *r)
{
	unsigned n = 0;
	for (unsigned i = 0; i < r->limits.max_slots; i++)
		n += r->slots[i].used;
	return n;
}

void um_reasm_release(struct um_reassembler *r, uint8_t msg_type, uint32_t receiver_index)
{
	if (!r->slots)
		return;
	for (unsigned i = 0; i < r->limits.max_slots; i++) {
		struct um_reasm_slot *s = &r->slots[i];
		if (s->used && s->msg_type == msg_type && s->receiver_index == receiver_index) {
			r->stats.released++;
			slot_free(r, s);
		}
	}
}

/* The oldest slot of the prefix holding the most slots, unless that prefix
 * holds no more than the newcomer's would after adding (a flooder cannot
 * evict itself in a loop, nor push out a sender holding fewer slots). */
static struct um_reasm_slot *eviction_victim(struct um_reassembler *r, unsigned newcomer_prefix_slots)
{
	struct um_reasm_slot *victim = NULL;
	for (unsigned i = 0; i < r->limits.max_slots; i++) {
		struct um_reasm_slot *s = &r->slots[i];
		if (!s->used)
			continue;
		if (!victim || s->prefix_slots > victim->prefix_slots ||
		    (s->prefix_slots == victim->prefix_slots && s->first_ns < victim->first_ns))
			victim = s;
	}
	if (!victim || victim->prefix_slots <= newcomer_prefix_slots + 1)
		return NULL;
	return victim;
}

static bool slot_matches(const struct um_reassembler *r, const struct um_reasm_slot *s, const struct um_addr *source,
			 const struct um_fragment *frag)
{
	if (s->msg_type != frag->msg_type || s->receiver_index != frag->receiver_index)
		return false;
	return r->limits.one_slot_per_index || um_addr_equal(&s->source, source);
}

/* With the parity piece and all data pieces but one held, the missing one
 * is the parity XOR the others (each zero-padded to a chunk), computed in
 * the parity's place; a short last piece must come out zero-padded, or the
 * parity disagrees with the data (-UM_EBADMSG). 1 if a piece was rebuilt,
 * else 0. */
static int rebuild(struct um_reasm_slot *s)
{
	uint32_t data = um_frag_all(s->count), missing = data & ~s->received;
	if (s->count < 2 || !(s->received & (UINT32_C(1) << s->count)) || !missing || (missing & (missing - 1)))
		return 0;
	unsigned m = 0;
	while (!(missing & (UINT32_C(1) << m)))
		m++;
	uint8_t *parity = s->buf + s->total_len;
	for (unsigned i = 0; i < s->count; i++)
		if (i != m)
			xor_piece(parity, s->buf, s->total_len, i, s->count);
	size_t n = piece_len(s->total_len, m, s->count);
	for (size_t i = n; i < UM_FRAG_CHUNK_BYTES; i++)
		if (parity[i])
			return -UM_EBADMSG;
	memcpy(s->buf + (size_t)m * UM_FRAG_CHUNK_BYTES, parity, n);
	s->received |= missing;
	return 1;
}

int um_reasm_add(struct um_reassembler *r, const struct um_addr *source, const struct um_fragment *frag,
		 uint64_t now_ns, uint8_t *out, size_t out_cap)
{
	return um_reasm_add_ack(r, source, frag, now_ns, out, out_cap, NULL);
}

static void ack_fill(const struct um_reasm_slot *s, struct um_fragment_ack *ack)
{
	ack->msg_type = s->msg_type;
	ack->count = s->count;
	ack->receiver_index = s->receiver_index;
	ack->message_id = s->message_id;
	ack->received = s->received & um_frag_all(s->count); /* an ACK never names the parity piece */
}

/* The rule in fragment.h, for a slot still incomplete after piece index. */
static bool ack_due(const struct um_reasm_slot *s, unsigned index, bool duplicate, uint64_t now_ns)
{
	/* What the sender sends next: what our last ACK lacked (all of it
	 * before any ACK); its highest index ends the sender's round. The
	 * first round ends with the parity piece (count >= 2); resends are
	 * data pieces only. */
	uint32_t data = um_frag_all(s->count);
	uint32_t expected = s->acks_sent ? data & ~s->acked : um_frag_all(s->count + (s->count >= 2));
	unsigned last = 31;
	while (last > 0 && !(expected & (UINT32_C(1) << last)))
		last--;
	/* A duplicate matters only as the highest piece held: the sender is
	 * repeating a round we answered (our ACK was lost) or our slot is
	 * younger than the sender thinks; lower duplicates come before the
	 * end of a round that will be answered anyway. */
	unsigned top = 31;
	while (top > 0 && !(s->received & data & (UINT32_C(1) << top)))
		top--;
	if (index < last && !(duplicate && index == top))
		return false;
	if (s->acks_sent >= UM_REASM_ACKS_PER_SLOT)
		return false;
	return !(s->acks_sent && (s->received & data) == s->acked && now_ns - s->acked_ns < UM_REASM_ACK_GAP_NS);
}

/* A parity piece after an ACK (reordered or duplicated: senders send it
 * once, in the first round) ends no round and arms no timer. */
static bool late_parity(const struct um_reasm_slot *s, const struct um_fragment *frag)
{
	return um_fragment_is_parity(frag) && s->acks_sent;
}

static void ack_record(struct um_reasm_slot *s, uint64_t now_ns, struct um_fragment_ack *ack)
{
	ack_fill(s, ack);
	s->acked = ack->received;
	s->acked_ns = now_ns;
	s->quiet_armed = false;
}

/* After a piece that called for no ACK (um_reasm_add_ack only). */
static void quiet_arm(struct um_reasm_slot *s, uint64_t now_ns)
{
	s->quiet_armed = s->acks_sent < UM_REASM_ACKS_PER_SLOT;
	s->last_ns = now_ns;
}

uint64_t um_reasm_quiet_deadline(const struct um_reassembler *r, uint64_t quiet_ns)
{
	uint64_t next = UINT64_MAX;
	for (unsigned i = 0; r->slots && i < r->limits.max_slots; i++) {
		const struct um_reasm_slot *s = &r->slots[i];
		if (s->used && s->quiet_armed && s->last_ns + quiet_ns < next)
			next = s->last_ns + quiet_ns;
	}
	return next;
}

int um_reasm_ack_quiet(struct um_reassembler *r, uint64_t now_ns, uint64_t quiet_ns, struct um_addr *source,
		       struct um_fragment_ack *ack)
{
	memset(ack, 0, sizeof(*ack));
	for (unsigned i = 0; r->slots && i < r->limits.max_slots; i++) {
		struct um_reasm_slot *s = &r->slots[i];
		if (!s->used || !s->quiet_armed || now_ns - s->last_ns < quiet_ns)
			continue;
		ack_record(s, now_ns, ack);
		s->acks_sent++;
		*source = s->source;
		return 0;
	}
	return -UM_ENOTFOUND;
}

int um_reasm_ack_now(struct um_reassembler *r, uint8_t msg_type, uint32_t receiver_index, const struct um_addr *source,
		     uint64_t now_ns, struct um_fragment_ack *ack)
{
	memset(ack, 0, sizeof(*ack));
	if (!r->slots)
		return -UM_ENOTFOUND;
	for (unsigned i = 0; i < r->limits.max_slots; i++) {
		struct um_reasm_slot *s = &r->slots[i];
		if (!s->used || s->msg_type != msg_type || s->receiver_index != receiver_index ||
		    !um_addr_equal(&s->source, source))
			continue;
		/* The timer's ACK counts as sent (it moves the expected end of
		 * the sender's round) but not against the per-slot cap, which
		 * bounds ACKs that incoming pieces can cause. */
		ack_record(s, now_ns, ack);
		if (!s->acks_sent)
			s->acks_sent = 1;
		return 0;
	}
	return -UM_ENOTFOUND;
}

int um_reasm_add_ack(struct um_reassembler *r, const struct um_addr *source, const struct um_fragment *frag,
		     uint64_t now_ns, uint8_t *out, size_t out_cap, struct um_fragment_ack *ack)
{
	struct um_reasm_slot *slot = NULL, *free_slot = NULL;
	size_t source_bytes = 0;
	unsigned prefix_count = 0;

	if (ack)
		memset(ack, 0, sizeof(*ack));
	if (frag->total_len > r->limits.max_message || frag->total_len > out_cap)
		return -UM_ERANGE;
	um_reasm_expire(r, now_ns);

	for (unsigned i = 0; i < r->limits.max_slots; i++) {
		struct um_reasm_slot *s = &r->slots[i];
		if (!s->used) {
			if (!free_slot)
				free_slot = s;
			continue;
		}
		if (um_addr_same_host(&s->source, source))
			source_bytes += s->reserved;
		if (same_prefix(&s->source, source))
			prefix_count++;
		if (!slot && slot_matches(r, s, source, frag))
			slot = s;
	}

	/* A parity piece neither opens nor replaces a slot: alone it rebuilds
	 * nothing, and after its message completed (it trails the data
	 * pieces) it must not start a repair of a message already taken. */
	if (um_fragment_is_parity(frag) &&
	    (!slot || slot->message_id != frag->message_id || !um_addr_equal(&slot->source, source))) {
		r->stats.parity_ignored++;
		return 0;
	}
	/* A new message id (or, keyed per index, a new source) for the same
	 * state replaces the old attempt (the sender started over); same id
	 * with different geometry is a conflict. */
	if (slot && (slot->message_id != frag->message_id || !um_addr_equal(&slot->source, source))) {
		if (um_addr_same_host(&slot->source, source))
			source_bytes -= slot->reserved;
		if (same_prefix(&slot->source, source))
			prefix_count--;
		slot_free(r, slot);
		free_slot = free_slot ? free_slot : slot;
		slot = NULL;
	}
	if (slot && (slot->total_len != frag->total_len || slot->count != frag->count)) {
		r->stats.conflicts++;
		slot_free(r, slot);
		return -UM_EBADMSG;
	}

	size_t reserve = um_reasm_reserve_bytes(frag->total_len);
	if (!slot) {
		if (r->limits.first_piece_only && frag->index != 0) {
			r->stats.cap_rejected++;
			return -UM_ELIMIT;
		}
		if (source_bytes + reserve > r->limits.per_source_bytes ||
		    (r->limits.per_prefix_slots && prefix_count >= r->limits.per_prefix_slots)) {
			r->stats.cap_rejected++;
			return -UM_ELIMIT;
		}
		/* Full: make room at the expense of the greediest prefix. */
		while (r->limits.evict_when_full &&
		       (!free_slot || r->bytes_in_use + reserve > r->limits.global_bytes)) {
			struct um_reasm_slot *victim = eviction_victim(r, prefix_count);
			if (!victim)
				break;
			r->stats.evicted++;
			slot_free(r, victim);
			free_slot = free_slot ? free_slot : victim;
		}
		if (!free_slot || r->bytes_in_use + reserve > r->limits.global_bytes) {
			r->stats.cap_rejected++;
			return -UM_ELIMIT;
		}
		slot = free_slot;
		slot->buf = malloc(reserve);
		if (!slot->buf)
			return -UM_ENOMEM;
		slot->used = true;
		slot->source = *source;
		slot->msg_type = frag->msg_type;
		slot->count = frag->count;
		slot->total_len = frag->total_len;
		slot->reserved = reserve;
		slot->receiver_index = frag->receiver_index;
		slot->message_id = frag->message_id;
		slot->received = 0;
		slot->acked = 0;
		slot->acked_ns = 0;
		slot->acks_sent = 0;
		slot->quiet_armed = false;
		slot->last_ns = now_ns;
		slot->first_ns = now_ns;
		slot->prefix_slots = 1;
		for (unsigned i = 0; i < r->limits.max_slots; i++) {
			struct um_reasm_slot *s = &r->slots[i];
			if (s != slot && s->used && same_prefix(&s->source, source)) {
				s->prefix_slots++;
				slot->prefix_slots++;
			}
		}
		r->bytes_in_use += reserve;
	}

	/* The parity piece is kept after the message. */
	size_t offset = frag->index == frag->count ? slot->total_len : (size_t)frag->index * UM_FRAG_CHUNK_BYTES;
	uint32_t bit = UINT32_C(1) << frag->index;
	if (slot->received & bit) {
		if (memcmp(slot->buf + offset, frag->payload, frag->payload_len) != 0) {
			r->stats.conflicts++;
			slot_free(r, slot);
			return -UM_EBADMSG;
		}
		r->stats.duplicates++;
		if (ack && !late_parity(slot, frag) && ack_due(slot, frag->index, true, now_ns)) {
			ack_record(slot, now_ns, ack);
			slot->acks_sent++;
		} else if (ack && !late_parity(slot, frag)) {
			quiet_arm(slot, now_ns);
		}
		return 0;
	}
	memcpy(slot->buf + offset, frag->payload, frag->payload_len);
	slot->received |= bit;

	int ret = rebuild(slot);
	if (ret < 0) {
		r->stats.conflicts++;
		slot_free(r, slot);
		return ret;
	}
	r->stats.rebuilt += (uint64_t)ret;
	if ((slot->received & um_frag_all(frag->count)) != um_frag_all(frag->count)) {
		if (ack && !late_parity(slot, frag) && ack_due(slot, frag->index, false, now_ns)) {
			ack_record(slot, now_ns, ack);
			slot->acks_sent++;
		} else if (ack && !late_parity(slot, frag)) {
			quiet_arm(slot, now_ns);
		}
		return 0;
	}
	size_t n = slot->total_len;
	memcpy(out, slot->buf, n);
	r->stats.completed++;
	slot_free(r, slot);
	return (int)n;
}
