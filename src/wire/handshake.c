/* SPDX-License-Identifier: MIT */
#include "wire/handshake.h"

#include <string.h>

#include "util/buf.h"
#include "util/error.h"

/* type | version | 0 0 */
static void write_prefix(struct um_writer *w, uint8_t type)
{
	um_write_u8(w, type);
	um_write_u8(w, UM_HS_VERSION);
	um_write_u16(w, 0);
}

static int read_prefix(struct um_reader *r, uint8_t type)
{
	uint8_t t = um_read_u8(r);
	uint8_t v = um_read_u8(r);
	uint16_t reserved = um_read_u16(r);
	if (um_reader_error(r))
		return -UM_ETRUNC;
	if (t != type || reserved != 0)
		return -UM_EINVAL;
	/* A node speaking another version: say so (the engine counts it), so
	 * mixed versions fail loudly instead of as "malformed". */
	if (v != UM_HS_VERSION)
		return -UM_EVERSION;
	return 0;
}

static int finish(const struct um_writer *w, size_t expected)
{
	if (um_writer_error(w) || w->pos != expected)
		return -UM_ERANGE;
	return (int)w->pos;
}

int um_hs_hello_encode(uint8_t *out, size_t cap, const struct um_hs_hello *m)
{
	static const uint8_t zero_mac[UM_HS_MAC_BYTES];
	struct um_writer w;
	um_writer_init(&w, out, cap);
	um_write_u8(&w, UM_MSG_HELLO);
	um_write_u8(&w, UM_HS_VERSION);
	um_write_u8(&w, m->flags);
	um_write_u8(&w, 0);
	um_write_u32(&w, m->sender_index);
	um_write_bytes(&w, m->ephemeral, UM_HS_X25519_BYTES);
	um_write_bytes(&w, m->nonce, UM_HS_NONCE_BYTES);
	um_write_u64(&w, m->timestamp_ms);
	uint8_t *pad = um_write_reserve(&w, UM_HS_HELLO_MAC1_OFFSET - UM_HS_HELLO_BODY_BYTES);
	if (pad)
		memset(pad, 0, UM_HS_HELLO_MAC1_OFFSET - UM_HS_HELLO_BODY_BYTES);
	um_write_bytes(&w, m->mac1 ? m->mac1 : zero_mac, UM_HS_MAC_BYTES);
	um_write_bytes(&w, m->mac2 ? m->mac2 : zero_mac, UM_HS_MAC_BYTES);
	return finish(&w, UM_HS_HELLO_BYTES);
}

int um_hs_hello_decode(struct um_hs_hello *m, const uint8_t *in, size_t len)
{
	struct um_reader r;
	memset(m, 0, sizeof(*m));
	if (len != UM_HS_HELLO_BYTES)
		return -UM_ETRUNC;
	um_reader_init(&r, in, len);
	uint8_t type = um_read_u8(&r), version = um_read_u8(&r);
	m->flags = um_read_u8(&r);
	uint8_t reserved = um_read_u8(&r);
	if (type != UM_MSG_HELLO || reserved != 0)
		return -UM_EINVAL;
	/* Before the flags: a version-2 HELLO has a zero there anyway. */
	if (version != UM_HS_VERSION)
		return -UM_EVERSION;
	if (m->flags & ~UM_HS_HELLO_HAVE_KEY)
		return -UM_EINVAL;
	m->sender_index = um_read_u32(&r);
	m->ephemeral = um_read_bytes(&r, UM_HS_X25519_BYTES);
	m->nonce = um_read_bytes(&r, UM_HS_NONCE_BYTES);
	m->timestamp_ms = um_read_u64(&r);
	const uint8_t *pad = um_read_bytes(&r, UM_HS_HELLO_MAC1_OFFSET - UM_HS_HELLO_BODY_BYTES);
	m->mac1 = um_read_bytes(&r, UM_HS_MAC_BYTES);
	m->mac2 = um_read_bytes(&r, UM_HS_MAC_BYTES);
	if (um_reader_error(&r) || um_reader_left(&r) != 0)
		return -UM_ETRUNC;
	/* Padding must be zero: no covert channel, one canonical encoding. */
	uint8_t acc = 0;
	for (size_t i = 0; i < UM_HS_HELLO_MAC1_OFFSET - UM_HS_HELLO_BODY_BYTES; i++)
		acc |= pad[i];
	return acc ? -UM_EINVAL : 0;
}

int um_hs_challenge_encode(uint8_t *out, size_t cap, const struct um_hs_challenge *m)
{
	struct um_writer w;
	um_writer_init(&w, out, cap);
	write_prefix(&w, UM_MSG_CHALLENGE);
	um_write_u32(&w, m->sender_index);
	um_write_u32(&w, m->receiver_index);
	um_write_bytes(&w, m->nonce, UM_HS_NONCE_BYTES);
	um_write_bytes(&w, m->kem_public, UM_HKEM_PK_BYTES);
	um_write_bytes(&w, m->sealed,
		       m->short_form ? UM_HS_CHALLENGE_SHORT_SEALED_BYTES : UM_HS_CHALLENGE_SEALED_BYTES);
	return finish(&w, m->short_form ? UM_HS_CHALLENGE_SHORT_BYTES : UM_HS_CHALLENGE_BYTES);
}

int um_hs_challenge_decode(struct um_hs_challenge *m, const uint8_t *in, size_t len)
{
	struct um_reader r;
	int ret;
	memset(m, 0, sizeof(*m));
	if (len != UM_HS_CHALLENGE_BYTES && len != UM_HS_CHALLENGE_SHORT_BYTES)
		return -UM_ETRUNC;
	m->short_form = len == UM_HS_CHALLENGE_SHORT_BYTES;
	um_reader_init(&r, in, len);
	if ((ret = read_prefix(&r, UM_MSG_CHALLENGE)) < 0)
		return ret;
	m->sender_index = um_read_u32(&r);
	m->receiver_index = um_read_u32(&r);
	m->nonce = um_read_bytes(&r, UM_HS_NONCE_BYTES);
	m->kem_public = um_read_bytes(&r, UM_HKEM_PK_BYTES);
	m->sealed = um_read_bytes(&r, len - UM_HS_CHALLENGE_HEADER_BYTES);
	if (um_reader_error(&r) || um_reader_left(&r) != 0)
		return -UM_ETRUNC;
	return 0;
}

int um_hs_response_encode(uint8_t *out, size_t cap, const struct um_hs_response *m)
{
	struct um_writer w;
	um_writer_init(&w, out, cap);
	write_prefix(&w, UM_MSG_RESPONSE);
	um_write_u32(&w, m->sender_index);
	um_write_u32(&w, m->receiver_index);
	um_write_bytes(&w, m->kem_ciphertext, UM_HKEM_CT_BYTES);
	um_write_bytes(&w, m->sealed, m->short_form ? UM_HS_RESPONSE_SHORT_SEALED_BYTES : UM_HS_RESPONSE_SEALED_BYTES);
	return finish(&w, m->short_form ? UM_HS_RESPONSE_SHORT_BYTES : UM_HS_RESPONSE_BYTES);
}

int um_hs_response_decode(struct um_hs_response *m, const uint8_t *in, size_t len)
{
	struct um_reader r;
	int ret;
	memset(m, 0, sizeof(*m));
	if (len != UM_HS_RESPONSE_BYTES && len != UM_HS_RESPONSE_SHORT_BYTES)
		return -UM_ETRUNC;
	m->short_form = len == UM_HS_RESPONSE_SHORT_BYTES;
	um_reader_init(&r, in, len);
	if ((ret = read_prefix(&r, UM_MSG_RESPONSE)) < 0)
		return ret;
	m->sender_index = um_read_u32(&r);
	m->receiver_index = um_read_u32(&r);
	m->kem_ciphertext = um_read_bytes(&r, UM_HKEM_CT_BYTES);
	m->sealed = um_read_bytes(&r, len - UM_HS_RESPONSE_HEADER_BYTES);
	if (um_reader_error(&r) || um_reader_left(&r) != 0)
		return -UM_ETRUNC;
	return 0;
}

int um_hs_established_encode(uint8_t *out, size_t cap, const struct um_hs_established *m)
{
	struct um_writer w;
	um_writer_init(&w, out, cap);
	write_prefix(&w, UM_MSG_ESTABLISHED);
	um_write_u32(&w, m->receiver_index);
	um_write_u32(&w, m->sender_index);
	um_write_bytes(&w, m->sealed, UM_HS_ESTABLISHED_PLAIN_BYTES + UM_HS_TAG_BYTES);
	return finish(&w, UM_HS_ESTABLISHED_BYTES);
}

int um_hs_established_decode(struct um_hs_established *m, const uint8_t *in, size_t len)
{
	struct um_reader r;
	int ret;
	memset(m, 0, sizeof(*m));
	if (len != UM_HS_ESTABLISHED_BYTES)
		return -UM_ETRUNC;
	um_reader_init(&r, in, len);
	if ((ret = read_prefix(&r, UM_MSG_ESTABLISHED)) < 0)
		return ret;
	m->receiver_index = um_read_u32(&r);
	m->sender_index = um_read_u32(&r);
	m->sealed = um_read_bytes(&r, UM_HS_ESTABLISHED_PLAIN_BYTES + UM_HS_TAG_BYTES);
	if (um_reader_error(&r) || um_reader_left(&r) != 0)
		return -UM_ETRUNC;
	return 0;
}

int um_hs_cookie_reply_encode(uint8_t *out, size_t cap, const struct um_hs_cookie_reply *m)
{
	struct um_writer w;
	um_writer_init(&w, out, cap);
	um_write_u8(&w, UM_MSG_COOKIE_REPLY);
	um_write_u8(&w, 0);
	um_write_u16(&w, 0);
	um_write_u32(&w, m->receiver_index);
	um_write_bytes(&w, m->nonce, UM_HS_COOKIE_NONCE_BYTES);
	um_write_bytes(&w, m->sealed, UM_HS_COOKIE_BYTES + UM_HS_TAG_BYTES);
	return finish(&w, UM_HS_COOKIE_REPLY_BYTES);
}

int um_hs_cookie_reply_decode(struct um_hs_cookie_reply *m, const uint8_t *in, size_t len)
{
	struct um_reader r;
	memset(m, 0, sizeof(*m));
	if (len != UM_HS_COOKIE_REPLY_BYTES)
		return -UM_ETRUNC;
	um_reader_init(&r, in, len);
	uint8_t type = um_read_u8(&r);
	uint8_t r1 = um_read_u8(&r);
	uint16_t r2 = um_read_u16(&r);
	m->receiver_index = um_read_u32(&r);
	m->nonce = um_read_bytes(&r, UM_HS_COOKIE_NONCE_BYTES);
	m->sealed = um_read_bytes(&r, UM_HS_COOKIE_BYTES + UM_HS_TAG_BYTES);
	if (um_reader_error(&r) || um_reader_left(&r) != 0)
		return -UM_ETRUNC;
	if (type != UM_MSG_COOKIE_REPLY || r1 != 0 || r2 != 0)
		return -UM_EINVAL;
	return 0;
}

void um_hs_params_encode(uint8_t out[UM_HS_ESTABLISHED_PLAIN_BYTES], const struct um_hs_params *p)
{
	struct um_writer w;
	uint8_t addr[16] = {0};
	um_writer_init(&w, out, UM_HS_ESTABLISHED_PLAIN_BYTES);
	um_write_bytes(&w, p->session_id, UM_HS_SESSION_ID_BYTES);
	um_write_u16(&w, p->mtu);
	um_write_u16(&w, p->heartbeat_s);
	um_write_u32(&w, p->rotation_s);
	um_write_u8(&w, p->flags);
	/* observed: family | port | address[16], 19 bytes (ESTABLISHED's own
	 * layout, not um_addr_write's 20). */
	um_write_u8(&w, p->observed.family);
	um_write_u16(&w, p->observed.port);
	memcpy(addr, p->observed.addr, p->observed.family == 4 ? 4 : 16);
	um_write_bytes(&w, addr, 16);
}

int um_hs_params_decode(struct um_hs_params *p, const uint8_t in[UM_HS_ESTABLISHED_PLAIN_BYTES])
{
	struct um_reader r;
	memset(p, 0, sizeof(*p));
	um_reader_init(&r, in, UM_HS_ESTABLISHED_PLAIN_BYTES);
	um_read_copy(&r, p->session_id, UM_HS_SESSION_ID_BYTES);
	p->mtu = um_read_u16(&r);
	p->heartbeat_s = um_read_u16(&r);
	p->rotation_s = um_read_u32(&r);
	p->flags = um_read_u8(&r);
	p->observed.family = um_read_u8(&r);
	p->observed.port = um_read_u16(&r);
	um_read_copy(&r, p->observed.addr, 16);
	if (um_reader_error(&r))
		return -UM_ETRUNC;
	if (p->observed.family != 0 && p->observed.family != 4 && p->observed.family != 6)
		return -UM_EINVAL;
	if (p->flags & ~UM_HS_FLAG_DIRECT_P2P)
		return -UM_EINVAL;
	return 0;
}
