/* SPDX-License-Identifier: MIT */
/* STUN (RFC 8489) message codec for the Binding method: enough to learn our
 * server-reflexive address from any STUN server, and to answer Binding
 * requests (a relay can double as a STUN server). Pure: no sockets, no
 * clock, no randomness; every parser works through util/buf.h cursors.
 *
 * Message: u16 type | u16 length (of the attributes) | u32 magic cookie
 * 0x2112A442 | 96-bit transaction ID | attributes, each u16 type | u16
 * length | value padded to 4 bytes. FINGERPRINT (CRC-32 of everything before
 * it, xor 0x5354554E) is always the last attribute when present.
 *
 * Telling STUN from umbra datagrams on one socket: umbra's first byte is the
 * message type (0x01 HELLO collides with the first byte of a Binding success
 * response), so um_stun_looks_like() checks the two zero top bits, the
 * length and the magic cookie; callers that need certainty also require a
 * matching transaction ID (um_stun_transaction_input does). */
#ifndef UM_PATH_STUN_H
#define UM_PATH_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/addr.h"

enum {
	UM_STUN_HEADER_BYTES = 20,
	UM_STUN_TXID_BYTES = 12,
	UM_STUN_MAGIC_COOKIE = 0x2112A442,
	UM_STUN_FINGERPRINT_XOR = 0x5354554E,

	/* Message types (method 0x001 Binding in its three classes we use). */
	UM_STUN_BINDING_REQUEST = 0x0001,
	UM_STUN_BINDING_SUCCESS = 0x0101,
	UM_STUN_BINDING_ERROR = 0x0111,

	/* Attributes. */
	UM_STUN_ATTR_MAPPED_ADDRESS = 0x0001,
	UM_STUN_ATTR_USERNAME = 0x0006,
	UM_STUN_ATTR_MESSAGE_INTEGRITY = 0x0008,
	UM_STUN_ATTR_ERROR_CODE = 0x0009,
	UM_STUN_ATTR_XOR_MAPPED_ADDRESS = 0x0020,
	UM_STUN_ATTR_SOFTWARE = 0x8022,
	UM_STUN_ATTR_FINGERPRINT = 0x8028,

	UM_STUN_INTEGRITY_BYTES = 20, /* HMAC-SHA1 */

	/* A Binding request with FINGERPRINT; responses we build stay small. */
	UM_STUN_REQUEST_BYTES = UM_STUN_HEADER_BYTES + 8,
	UM_STUN_RESPONSE_MAX_BYTES = UM_STUN_HEADER_BYTES + 24 + 8,
	/* Largest message we accept (the IPv6 minimum MTU payload). */
	UM_STUN_MAX_MESSAGE = 1232,
};

/* What the parser learned. Addresses are only valid when the has_ flag is. */
struct um_stun_message {
	uint16_t type;
	uint8_t txid[UM_STUN_TXID_BYTES];
	bool has_xor_mapped, has_mapped, has_fingerprint, has_integrity;
	struct um_addr xor_mapped, mapped;
	uint16_t error_code;       /* class*100 + number from ERROR-CODE, 0 if absent */
	size_t integrity_offset;   /* offset of the MESSAGE-INTEGRITY attribute header */
	unsigned unknown_required; /* comprehension-required attributes (< 0x8000) we do not know */
};

/* Cheap test: could this datagram be a STUN message? (No full parse.) */
bool um_stun_looks_like(const uint8_t *in, size_t len);

/* Parses and checks a STUN message: exact length, magic cookie, attribute
 * bounds and padding, address families and lengths, FINGERPRINT last and
 * correct. Returns 0, -UM_ETRUNC (short or length mismatch), -UM_EINVAL
 * (malformed) or -UM_EBADMSG (FINGERPRINT wrong). */
int um_stun_parse(struct um_stun_message *m, const uint8_t *in, size_t len);

/* The reflexive address of a success response: XOR-MAPPED-ADDRESS, else
 * MAPPED-ADDRESS (RFC 3489 servers). -UM_ENOTFOUND if neither is present. */
int um_stun_mapped_address(const struct um_stun_message *m, struct um_addr *out);

/* Checks MESSAGE-INTEGRITY (HMAC-SHA1, RFC 8489 section 14.5) of a parsed
 * message with a short-term key (the password). 0, -UM_ENOTFOUND (no such
 * attribute) or -UM_EBADMSG. Constant-time comparison. */
int um_stun_check_integrity(const struct um_stun_message *m, const uint8_t *in, size_t len, const uint8_t *key,
			    size_t key_len);

/* Binding request with FINGERPRINT and no other attribute. Returns the
 * length (UM_STUN_REQUEST_BYTES) or -UM_ERANGE if cap is too small. */
int um_stun_encode_request(uint8_t *out, size_t cap, const uint8_t txid[UM_STUN_TXID_BYTES]);

/* Binding success response carrying XOR-MAPPED-ADDRESS for `mapped` and
 * FINGERPRINT. Returns the length or -UM_ERANGE / -UM_EINVAL. */
int um_stun_encode_response(uint8_t *out, size_t cap, const uint8_t txid[UM_STUN_TXID_BYTES],
			    const struct um_addr *mapped);

/* CRC-32 (IEEE 802.3, as FINGERPRINT uses before its xor). */
uint32_t um_stun_crc32(const uint8_t *data, size_t len);

/* Retransmission schedule of RFC 8489 section 6.2.1 as a pure function.
 * Requests go out at 0, RTO, 3 RTO, 7 RTO, ... (the interval doubles after
 * each one) until rc requests have been sent; the transaction fails rm x RTO
 * after the last one. For index < rc this returns the time of request
 * `index` after the first; for index == rc, the time of failure. With the
 * defaults (RTO 500 ms, Rc 7, Rm 16): 0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s,
 * failure at 39.5 s. Saturates instead of overflowing. */
uint64_t um_stun_retransmit_offset(uint64_t rto, unsigned rc, unsigned rm, unsigned index);

#endif
