/* SPDX-License-Identifier: MIT */
/* DATA message framing (type 0x10). Wire layout, 16-byte header:
 *   u8 type = 0x10 | u8 flags | u16 reserved (0) | u32 receiver_index (BE) | u64 counter (BE)
 * followed by the ChaCha20-Poly1305 ciphertext of the inner packet and a 16-byte tag.
 * The whole header is the AEAD associated data, so flags are authenticated.
 * flags bits 0..3: number of zero padding bytes appended to the plaintext
 * (0..15, used when padding to a multiple of 16 is on).
 * flags bit 4 (UM_DATA_F_CSUM_PARTIAL): the inner packet is IPv4/IPv6 TCP or
 * UDP whose checksum field holds only the pseudo-header sum (segments of a
 * TSO split: the AEAD already protects the bytes, so the sender skips the
 * checksum pass); the receiver lets its kernel complete it (NEEDS_CSUM).
 * flags bit 5 (UM_DATA_F_MESSAGE): the plaintext is one segment of the
 * session's message channel (its first byte a UM_TYPE_CHANNEL_* inner type),
 * not an IP packet or frame; it never reaches the device. Same key, counter
 * and replay window as the packets.
 * Bits 6..7 must be 0.
 * An empty plaintext is a keepalive. */
#ifndef UM_WIRE_DATA_H
#define UM_WIRE_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "wire/handshake.h" /* UM_MSG_DATA (one list of message types) */

#define UM_DATA_HEADER_LEN     16
#define UM_DATA_TAG_LEN        16
#define UM_DATA_OVERHEAD       (UM_DATA_HEADER_LEN + UM_DATA_TAG_LEN)
#define UM_DATA_PAD_MASK       0x0f
#define UM_DATA_F_CSUM_PARTIAL 0x10
#define UM_DATA_F_MESSAGE      0x20
#define UM_DATA_FLAGS_KNOWN    (UM_DATA_PAD_MASK | UM_DATA_F_CSUM_PARTIAL | UM_DATA_F_MESSAGE)

struct um_data_header {
	uint8_t flags;
	uint32_t receiver_index;
	uint64_t counter;
};

/* Write the 16-byte header into out (caller guarantees 16 bytes). */
void um_data_header_encode(uint8_t out[UM_DATA_HEADER_LEN], const struct um_data_header *hdr);

/* Parse a whole DATA datagram: checks type, reserved bits and that it is at
 * least header + tag long. Returns 0, -UM_ETRUNC or -UM_EINVAL. */
int um_data_header_decode(const uint8_t *msg, size_t len, struct um_data_header *hdr);

#endif
