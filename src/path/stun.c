/* SPDX-License-Identifier: MIT */
#include "path/stun.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>
#include <string.h>

#include "util/buf.h"
#include "util/error.h"

enum { FAMILY_IPV4 = 0x01, FAMILY_IPV6 = 0x02 };

uint32_t um_stun_crc32(const uint8_t *data, size_t len)
{
	/* Bitwise reflected CRC-32; STUN messages are small, so no table. */
	uint32_t crc = 0xFFFFFFFFu;
	for (size_t i = 0; i < len; i++) {
		crc ^= data[i];
		for (int bit = 0; bit < 8; bit++)
			crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
	}
	return crc ^ 0xFFFFFFFFu;
}

bool um_stun_looks_like(const uint8_t *in, size_t len)
{
	if (len < UM_STUN_HEADER_BYTES || (in[0] & 0xC0) != 0)
		return false;
	size_t body = (size_t)in[2] << 8 | in[3];
	if (body % 4 != 0 || body + UM_STUN_HEADER_BYTES != len)
		return false;
	uint32_t cookie = (uint32_t)in[4] << 24 | (uint32_t)in[5] << 16 | (uint32_t)in[6] << 8 | in[7];
	return cookie == UM_STUN_MAGIC_COOKIE;
}

/* MAPPED-ADDRESS / XOR-MAPPED-ADDRESS value; xor_key NULL for the plain form. */
static int parse_address(struct um_addr *out, const uint8_t *value, size_t len, const uint8_t *xor_key)
{
	struct um_reader r;
	um_reader_init(&r, value, len);
	(void)um_read_u8(&r); /* reserved: must be ignored by receivers */
	uint8_t family = um_read_u8(&r);
	uint16_t port = um_read_u16(&r);
	size_t addr_len = family == FAMILY_IPV4 ? 4 : family == FAMILY_IPV6 ? 16 : 0;
	if (addr_len == 0)
		return -UM_EINVAL;
	if (len != 4 + addr_len)
		return -UM_EINVAL;
	const uint8_t *addr = um_read_bytes(&r, addr_len);
	if (um_reader_error(&r))
		return -UM_ETRUNC;
	memset(out, 0, sizeof(*out));
	out->family = family == FAMILY_IPV4 ? 4 : 6;
	out->port = port;
	for (size_t i = 0; i < addr_len; i++)
		out->addr[i] = (uint8_t)(addr[i] ^ (xor_key ? xor_key[i] : 0));
	if (xor_key)
		out->port ^= (uint16_t)(UM_STUN_MAGIC_COOKIE >> 16);
	return 0;
}

int um_stun_parse(struct um_stun_message *m, const uint8_t *in, size_t len)
{
	struct um_reader r;
	uint8_t xor_key[16];

	memset(m, 0, sizeof(*m));
	if (len < UM_STUN_HEADER_BYTES || len > UM_STUN_MAX_MESSAGE)
		return -UM_ETRUNC;
	um_reader_init(&r, in, len);
	m->type = um_read_u16(&r);
	uint16_t body_len = um_read_u16(&r);
	uint32_t cookie = um_read_u32(&r);
	um_read_copy(&r, m->txid, UM_STUN_TXID_BYTES);
	if (m->type & 0xC000)
		return -UM_EINVAL;
	if (cookie != UM_STUN_MAGIC_COOKIE || body_len % 4 != 0)
		return -UM_EINVAL;
	if ((size_t)body_len + UM_STUN_HEADER_BYTES != len)
		return -UM_ETRUNC;

	/* XOR key: the cookie, then the transaction ID (for IPv6). */
	memcpy(xor_key, in + 4, 4);
	memcpy(xor_key + 4, m->txid, UM_STUN_TXID_BYTES);

	while (um_reader_left(&r) > 0) {
		size_t offset = r.pos;
		uint16_t type = um_read_u16(&r);
		uint16_t alen = um_read_u16(&r);
		size_t padded = ((size_t)alen + 3) & ~(size_t)3;
		const uint8_t *value = um_read_bytes(&r, padded);
		if (um_reader_error(&r))
			return -UM_ETRUNC;
		if (m->has_fingerprint)
			return -UM_EINVAL; /* nothing may follow FINGERPRINT */
		if (type == UM_STUN_ATTR_FINGERPRINT) {
			if (alen != 4)
				return -UM_EINVAL;
			uint32_t want =
			    (uint32_t)value[0] << 24 | (uint32_t)value[1] << 16 | (uint32_t)value[2] << 8 | value[3];
			if ((um_stun_crc32(in, offset) ^ UM_STUN_FINGERPRINT_XOR) != want)
				return -UM_EBADMSG;
			m->has_fingerprint = true;
			continue;
		}
		/* After MESSAGE-INTEGRITY only FINGERPRINT counts (RFC 8489 14.5). */
		if (m->has_integrity)
			continue;
		int rc = 0;
		switch (type) {
		case UM_STUN_ATTR_XOR_MAPPED_ADDRESS:
			if (!m->has_xor_mapped) {
				rc = parse_address(&m->xor_mapped, value, alen, xor_key);
				m->has_xor_mapped = rc == 0;
			}
			break;
		case UM_STUN_ATTR_MAPPED_ADDRESS:
			if (!m->has_mapped) {
				rc = parse_address(&m->mapped, value, alen, NULL);
				m->has_mapped = rc == 0;
			}
			break;
		case UM_STUN_ATTR_MESSAGE_INTEGRITY:
			if (alen != UM_STUN_INTEGRITY_BYTES)
				return -UM_EINVAL;
			m->has_integrity = true;
			m->integrity_offset = offset;
			break;
		case UM_STUN_ATTR_ERROR_CODE:
			if (alen < 4)
				return -UM_EINVAL;
			if (m->error_code == 0) {
				unsigned class = value[2] & 0x07, number = value[3];
				if (class < 3 || class > 6 || number > 99)
					return -UM_EINVAL;
				m->error_code = (uint16_t)(class * 100 + number);
			}
			break;
		case UM_STUN_ATTR_SOFTWARE:
		case UM_STUN_ATTR_USERNAME:
			break;
		default:
			if (type < 0x8000)
				m->unknown_required++;
			break;
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

int um_stun_mapped_address(const struct um_stun_message *m, struct um_addr *out)
{
	if (m->has_xor_mapped)
		*out = m->xor_mapped;
	else if (m->has_mapped)
		*out = m->mapped;
	else
		return -UM_ENOTFOUND;
	return 0;
}

int um_stun_check_integrity(const struct um_stun_message *m, const uint8_t *in, size_t len, const uint8_t *key,
			    size_t key_len)
{
	uint8_t copy[UM_STUN_MAX_MESSAGE];
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	size_t off = m->integrity_offset;

	if (!m->has_integrity)
		return -UM_ENOTFOUND;
	if (off < UM_STUN_HEADER_BYTES || off + 4 + UM_STUN_INTEGRITY_BYTES > len || len > sizeof(copy))
		return -UM_EINVAL;
	/* The MAC covers the message up to the attribute, with the header
	 * length set as if MESSAGE-INTEGRITY were the last attribute. */
	memcpy(copy, in, off);
	size_t fake_len = off - UM_STUN_HEADER_BYTES + 4 + UM_STUN_INTEGRITY_BYTES;
	copy[2] = (uint8_t)(fake_len >> 8);
	copy[3] = (uint8_t)fake_len;
	if (!HMAC(EVP_sha1(), key, (int)key_len, copy, off, mac, &mac_len) || mac_len != UM_STUN_INTEGRITY_BYTES)
		return -UM_EINVAL;
	int rc = sodium_memcmp(mac, in + off + 4, UM_STUN_INTEGRITY_BYTES) == 0 ? 0 : -UM_EBADMSG;
	sodium_memzero(mac, sizeof(mac));
	return rc;
}

static void write_header(struct um_writer *w, uint16_t type, uint16_t body_len, const uint8_t txid[UM_STUN_TXID_BYTES])
{
	um_write_u16(w, type);
	um_write_u16(w, body_len);
	um_write_u32(w, UM_STUN_MAGIC_COOKIE);
	um_write_bytes(w, txid, UM_STUN_TXID_BYTES);
}

static void write_fingerprint(struct um_writer *w)
{
	if (um_writer_error(w))
		return;
	uint32_t crc = um_stun_crc32(w->data, w->pos) ^ UM_STUN_FINGERPRINT_XOR;
	um_write_u16(w, UM_STUN_ATTR_FINGERPRINT);
	um_write_u16(w, 4);
	um_write_u32(w, crc);
}

int um_stun_encode_request(uint8_t *out, size_t cap, const uint8_t txid[UM_STUN_TXID_BYTES])
{
	struct um_writer w;
	um_writer_init(&w, out, cap);
	write_header(&w, UM_STUN_BINDING_REQUEST, 8, txid);
	write_fingerprint(&w);
	return um_writer_error(&w) ? -UM_ERANGE : (int)w.pos;
}

int um_stun_encode_response(uint8_t *out, size_t cap, const uint8_t txid[UM_STUN_TXID_BYTES],
			    const struct um_addr *mapped)
{
	struct um_writer w;
	uint8_t key[16];
	size_t addr_len;

	if (mapped->family == 4)
		addr_len = 4;
	else if (mapped->family == 6)
		addr_len = 16;
	else
		return -UM_EINVAL;
	key[0] = (uint8_t)(UM_STUN_MAGIC_COOKIE >> 24);
	key[1] = (uint8_t)(UM_STUN_MAGIC_COOKIE >> 16);
	key[2] = (uint8_t)(UM_STUN_MAGIC_COOKIE >> 8);
	key[3] = (uint8_t)UM_STUN_MAGIC_COOKIE;
	memcpy(key + 4, txid, UM_STUN_TXID_BYTES);

	um_writer_init(&w, out, cap);
	write_header(&w, UM_STUN_BINDING_SUCCESS, (uint16_t)(4 + 4 + addr_len + 8), txid);
	um_write_u16(&w, UM_STUN_ATTR_XOR_MAPPED_ADDRESS);
	um_write_u16(&w, (uint16_t)(4 + addr_len));
	um_write_u8(&w, 0);
	um_write_u8(&w, mapped->family == 4 ? FAMILY_IPV4 : FAMILY_IPV6);
	um_write_u16(&w, mapped->port ^ (uint16_t)(UM_STUN_MAGIC_COOKIE >> 16));
	for (size_t i = 0; i < addr_len; i++)
		um_write_u8(&w, mapped->addr[i] ^ key[i]);
	write_fingerprint(&w);
	return um_writer_error(&w) ? -UM_ERANGE : (int)w.pos;
}

uint64_t um_stun_retransmit_offset(uint64_t rto, unsigned rc, unsigned rm, unsigned index)
{
	if (rc == 0)
		return 0;
	if (index > rc)
		index = rc;
	/* Request i goes out at RTO * (2^i - 1); failure comes Rm * RTO after
	 * request rc - 1. */
	unsigned last = index < rc ? index : rc - 1;
	if (last >= 63 || rto > UINT64_MAX >> last)
		return UINT64_MAX;
	uint64_t t = rto * ((UINT64_C(1) << last) - 1);
	if (index == rc) {
		if (rm != 0 && rto > (UINT64_MAX - t) / rm)
			return UINT64_MAX;
		t += (uint64_t)rm * rto;
	}
	return t;
}
