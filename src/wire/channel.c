/* SPDX-License-Identifier: MIT */
#include "wire/channel.h"

#include <string.h>

#include "util/buf.h"
#include "util/error.h"
#include "wire/types.h"

static void write_common(struct um_writer *w, uint8_t type, uint8_t flags, uint64_t sender_epoch,
			 uint64_t receiver_epoch)
{
	um_write_u8(w, type);
	um_write_u8(w, flags);
	um_write_u64(w, sender_epoch);
	um_write_u64(w, receiver_epoch);
}

int um_channel_data_header_encode(uint8_t *out, size_t cap, uint64_t sender_epoch, uint64_t receiver_epoch,
				  uint64_t offset, uint32_t timestamp_us, size_t payload_len)
{
	struct um_writer w;

	if (sender_epoch == 0 || payload_len == 0 || payload_len > UM_CHANNEL_SEGMENT_MAX - UM_CHANNEL_DATA_HEADER ||
	    offset >= UM_CHANNEL_OFFSET_LIMIT - payload_len)
		return -UM_EINVAL;
	if (cap < UM_CHANNEL_DATA_HEADER + payload_len)
		return -UM_ERANGE;
	um_writer_init(&w, out, cap);
	write_common(&w, UM_TYPE_CHANNEL_DATA, 0, sender_epoch, receiver_epoch);
	um_write_u64(&w, offset);
	um_write_u32(&w, timestamp_us);
	return um_writer_error(&w) ? -UM_ERANGE : (int)(UM_CHANNEL_DATA_HEADER + payload_len);
}

int um_channel_data_encode(uint8_t *out, size_t cap, uint64_t sender_epoch, uint64_t receiver_epoch, uint64_t offset,
			   uint32_t timestamp_us, const void *payload, size_t payload_len)
{
	int ret =
	    um_channel_data_header_encode(out, cap, sender_epoch, receiver_epoch, offset, timestamp_us, payload_len);

	if (ret > 0)
		memcpy(out + UM_CHANNEL_DATA_HEADER, payload, payload_len);
	return ret;
}

static bool sack_valid(uint64_t ack, const struct um_channel_sack *s)
{
	return s->start > ack && s->end > s->start && s->end <= UM_CHANNEL_OFFSET_LIMIT;
}

int um_channel_ack_encode(uint8_t *out, size_t cap, const struct um_channel_segment *ack)
{
	struct um_writer w;
	uint8_t flags = ack->sack_count;

	if (ack->sender_epoch == 0 || ack->sack_count > UM_CHANNEL_SACK_MAX || ack->ack > UM_CHANNEL_OFFSET_LIMIT)
		return -UM_EINVAL;
	for (unsigned i = 0; i < ack->sack_count; i++)
		if (!sack_valid(ack->ack, &ack->sack[i]))
			return -UM_EINVAL;
	if (ack->echo_valid)
		flags |= UM_CHANNEL_ACK_F_ECHO;
	um_writer_init(&w, out, cap);
	write_common(&w, UM_TYPE_CHANNEL_ACK, flags, ack->sender_epoch, ack->receiver_epoch);
	um_write_u64(&w, ack->ack);
	um_write_u32(&w, ack->window);
	um_write_u32(&w, ack->echo_valid ? ack->echo_us : 0);
	um_write_u32(&w, ack->echo_valid ? ack->delay_us : 0);
	for (unsigned i = 0; i < ack->sack_count; i++) {
		um_write_u64(&w, ack->sack[i].start);
		um_write_u64(&w, ack->sack[i].end);
	}
	return um_writer_error(&w) ? -UM_ERANGE : (int)w.pos;
}

int um_channel_reset_encode(uint8_t *out, size_t cap, uint64_t sender_epoch, uint64_t receiver_epoch)
{
	struct um_writer w;

	if (sender_epoch == 0 || receiver_epoch == 0)
		return -UM_EINVAL;
	um_writer_init(&w, out, cap);
	write_common(&w, UM_TYPE_CHANNEL_RESET, 0, sender_epoch, receiver_epoch);
	return um_writer_error(&w) ? -UM_ERANGE : (int)w.pos;
}

int um_channel_segment_decode(struct um_channel_segment *seg, const uint8_t *in, size_t len)
{
	struct um_reader r;

	memset(seg, 0, sizeof(*seg));
	if (len < UM_CHANNEL_COMMON_BYTES)
		return -UM_ETRUNC;
	if (len > UM_CHANNEL_SEGMENT_MAX)
		return -UM_EINVAL;
	um_reader_init(&r, in, len);
	seg->type = um_read_u8(&r);
	uint8_t flags = um_read_u8(&r);
	seg->sender_epoch = um_read_u64(&r);
	seg->receiver_epoch = um_read_u64(&r);
	if (seg->sender_epoch == 0)
		return -UM_EINVAL;
	switch (seg->type) {
	case UM_TYPE_CHANNEL_DATA:
		if (flags != 0)
			return -UM_EINVAL;
		seg->offset = um_read_u64(&r);
		seg->timestamp_us = um_read_u32(&r);
		if (um_reader_error(&r))
			return -UM_ETRUNC;
		seg->payload_len = um_reader_left(&r);
		seg->payload = in + r.pos;
		if (seg->payload_len == 0)
			return -UM_ETRUNC;
		if (seg->offset >= UM_CHANNEL_OFFSET_LIMIT - seg->payload_len)
			return -UM_EINVAL;
		return 0;
	case UM_TYPE_CHANNEL_ACK:
		if (flags & ~(UM_CHANNEL_ACK_F_SACK_MASK | UM_CHANNEL_ACK_F_ECHO))
			return -UM_EINVAL;
		seg->sack_count = flags & UM_CHANNEL_ACK_F_SACK_MASK;
		seg->echo_valid = (flags & UM_CHANNEL_ACK_F_ECHO) != 0;
		if (len < UM_CHANNEL_ACK_HEADER + (size_t)seg->sack_count * UM_CHANNEL_SACK_BLOCK_BYTES)
			return -UM_ETRUNC;
		if (len > UM_CHANNEL_ACK_HEADER + (size_t)seg->sack_count * UM_CHANNEL_SACK_BLOCK_BYTES)
			return -UM_EINVAL;
		seg->ack = um_read_u64(&r);
		seg->window = um_read_u32(&r);
		seg->echo_us = um_read_u32(&r);
		seg->delay_us = um_read_u32(&r);
		for (unsigned i = 0; i < seg->sack_count; i++) {
			seg->sack[i].start = um_read_u64(&r);
			seg->sack[i].end = um_read_u64(&r);
		}
		if (um_reader_error(&r))
			return -UM_ETRUNC;
		if (seg->ack > UM_CHANNEL_OFFSET_LIMIT || (!seg->echo_valid && (seg->echo_us || seg->delay_us)))
			return -UM_EINVAL;
		for (unsigned i = 0; i < seg->sack_count; i++)
			if (!sack_valid(seg->ack, &seg->sack[i]))
				return -UM_EINVAL;
		return 0;
	case UM_TYPE_CHANNEL_RESET:
		if (len > UM_CHANNEL_RESET_BYTES || flags != 0 || seg->receiver_epoch == 0)
			return -UM_EINVAL;
		return 0;
	default:
		return -UM_EINVAL;
	}
}
