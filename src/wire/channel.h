/* SPDX-License-Identifier: MIT */
/* Segments of the message channel (msg/channel.h, docs/PROTOCOL.md section
 * 17): the plaintext of a DATA packet flagged MESSAGE. Big-endian.
 *
 *   common: u8 type | u8 flags | u64 sender_epoch | u64 receiver_epoch
 *   DATA  0x40  common (flags 0) | u64 offset | u32 timestamp_us | payload (>= 1)
 *   ACK   0x41  common (flags: bits 0-1 SACK count, bit 2 echo valid) |
 *               u64 ack | u32 window | u32 echo_us | u32 delay_us |
 *               count x (u64 start | u64 end)
 *   RESET 0x42  common (flags 0)
 *
 * sender_epoch is never 0; receiver_epoch is 0 when the sender does not
 * know the receiver's yet (never in a RESET). offset: the stream offset of
 * the first payload byte. ack: the next offset the receiver expects; the
 * SACK blocks [start, end) are ranges above it the receiver holds. window:
 * bytes beyond ack it accepts. echo_us: the timestamp_us of the DATA that
 * caused this ACK, delay_us: how long the ACK was held back. */
#ifndef UM_WIRE_CHANNEL_H
#define UM_WIRE_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	UM_CHANNEL_SEGMENT_MAX = 1408,     /* on a direct path (= UM_DP_MESSAGE_MAX) */
	UM_CHANNEL_SEGMENT_DEFAULT = 1152, /* fits a relay's datagram (= UM_DP_MESSAGE_RELAY_MAX) */
	UM_CHANNEL_COMMON_BYTES = 18,
	UM_CHANNEL_DATA_HEADER = UM_CHANNEL_COMMON_BYTES + 12,
	UM_CHANNEL_ACK_HEADER = UM_CHANNEL_COMMON_BYTES + 20,
	UM_CHANNEL_SACK_BLOCK_BYTES = 16,
	UM_CHANNEL_SACK_MAX = 3,
	UM_CHANNEL_ACK_MAX = UM_CHANNEL_ACK_HEADER + UM_CHANNEL_SACK_MAX * UM_CHANNEL_SACK_BLOCK_BYTES,
	UM_CHANNEL_RESET_BYTES = UM_CHANNEL_COMMON_BYTES,
	UM_CHANNEL_ACK_F_SACK_MASK = 0x03,
	UM_CHANNEL_ACK_F_ECHO = 0x04,
};

/* Offsets stay below 2^62 so that offset + length never wraps. */
#define UM_CHANNEL_OFFSET_LIMIT (UINT64_C(1) << 62)

struct um_channel_sack {
	uint64_t start, end; /* [start, end) */
};

struct um_channel_segment {
	uint8_t type; /* UM_TYPE_CHANNEL_DATA / _ACK / _RESET */
	uint64_t sender_epoch, receiver_epoch;
	/* DATA */
	uint64_t offset;
	uint32_t timestamp_us;
	const uint8_t *payload; /* borrowed from the decoded buffer */
	size_t payload_len;
	/* ACK */
	uint64_t ack;
	uint32_t window;
	bool echo_valid;
	uint32_t echo_us, delay_us;
	uint8_t sack_count;
	struct um_channel_sack sack[UM_CHANNEL_SACK_MAX];
};

/* Parses and checks one segment: known type, flags, exact lengths, nonzero
 * sender epoch (and receiver epoch in a RESET), a DATA payload of 1 byte or
 * more within UM_CHANNEL_SEGMENT_MAX, offsets below the limit, SACK blocks
 * nonempty and above ack. 0, -UM_ETRUNC (short) or -UM_EINVAL. */
int um_channel_segment_decode(struct um_channel_segment *seg, const uint8_t *in, size_t len);

/* Encoders: return the length written, or -UM_ERANGE (cap too small) /
 * -UM_EINVAL (fields a decoder would refuse). */
int um_channel_data_encode(uint8_t *out, size_t cap, uint64_t sender_epoch, uint64_t receiver_epoch, uint64_t offset,
			   uint32_t timestamp_us, const void *payload, size_t payload_len);
/* Writes a DATA header for payload_len bytes the caller places at
 * out + UM_CHANNEL_DATA_HEADER itself (no copy through a temporary). */
int um_channel_data_header_encode(uint8_t *out, size_t cap, uint64_t sender_epoch, uint64_t receiver_epoch,
				  uint64_t offset, uint32_t timestamp_us, size_t payload_len);
int um_channel_ack_encode(uint8_t *out, size_t cap, const struct um_channel_segment *ack);
int um_channel_reset_encode(uint8_t *out, size_t cap, uint64_t sender_epoch, uint64_t receiver_epoch);

#endif
