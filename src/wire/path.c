/* SPDX-License-Identifier: MIT */
/* Path message codecs (layouts in path.h). Untrusted input: every read goes
 * through a util/buf.h cursor; reserved bytes, unknown flags and other
 * versions are rejected. The clear header is checked before the AEAD, the
 * body only after it opened. */
#include "wire/path.h"

#include <string.h>

#include <sodium.h>

#include "crypto/chacha20poly1305.h"
#include "util/buf.h"
#include "util/bytes.h"
#include "util/error.h"

static const char key_label[] = "umbra path key v3";

/* The largest plaintext: flags | CANDIDATES body with every candidate. */
#define PLAIN_MAX (UM_PATH_CANDIDATES_MAX_BYTES - UM_PATH_HEADER_BYTES - UM_PATH_TAG_BYTES)

static void derive(uint8_t out[UM_PATH_KEY_BYTES], const uint8_t data_key[32])
{
	crypto_generichash(out, UM_PATH_KEY_BYTES, (const uint8_t *)key_label, sizeof(key_label) - 1, data_key, 32);
}

void um_path_keys_derive(uint8_t send_out[UM_PATH_KEY_BYTES], uint8_t recv_out[UM_PATH_KEY_BYTES],
			 const uint8_t send_key[32], const uint8_t recv_key[32])
{
	derive(send_out, send_key);
	derive(recv_out, recv_key);
}

/* As DATA (session/aead.h): 4 zero bytes, then the counter little-endian. */
static void make_nonce(uint8_t nonce[UM_CHACHA20POLY1305_NONCE_LEN], uint64_t counter)
{
	memset(nonce, 0, 4);
	um_store64_le(nonce + 4, counter);
}

/* kind | family | port | address[16]: the path messages' own layout (no
 * reserved byte, unlike um_addr_write's). */
static int put_addr(struct um_writer *w, uint8_t kind, const struct um_addr *a)
{
	static const uint8_t zero[16];

	if (a->family != 4 && a->family != 6)
		return -UM_EINVAL;
	um_write_u8(w, kind);
	um_write_u8(w, a->family);
	um_write_u16(w, a->port);
	um_write_bytes(w, a->addr, a->family == 4 ? 4 : 16);
	if (a->family == 4)
		um_write_bytes(w, zero, 12);
	return 0;
}

static int get_addr(struct um_reader *r, uint8_t *kind, struct um_addr *a)
{
	memset(a, 0, sizeof(*a));
	*kind = um_read_u8(r);
	a->family = um_read_u8(r);
	a->port = um_read_u16(r);
	const uint8_t *p = um_read_bytes(r, 16);
	if (!p)
		return -UM_ETRUNC;
	if (a->family == 4) {
		for (size_t i = 4; i < 16; i++)
			if (p[i])
				return -UM_EINVAL; /* IPv4 is zero-padded */
		memcpy(a->addr, p, 4);
	} else if (a->family == 6) {
		memcpy(a->addr, p, 16);
	} else {
		return -UM_EINVAL;
	}
	return 0;
}

/* The body's length (without the flags byte); 0 for an unknown type. */
static size_t body_len(uint8_t type, unsigned count)
{
	switch (type) {
	case UM_MSG_PATH_CANDIDATES:
		return 12 + (size_t)count * UM_PATH_CANDIDATE_BYTES;
	case UM_MSG_PATH_PROBE:
		return UM_PATH_NONCE_BYTES;
	case UM_MSG_PATH_PROBE_REPLY:
		return UM_PATH_NONCE_BYTES + UM_PATH_CANDIDATE_BYTES;
	default:
		return 0;
	}
}

int um_path_seal(uint8_t *out, size_t cap, const struct um_path_msg *m, const uint8_t key[UM_PATH_KEY_BYTES])
{
	size_t body = body_len(m->type, m->count), len;
	uint8_t nonce[UM_CHACHA20POLY1305_NONCE_LEN];
	struct um_writer w;

	if (!body || m->count > UM_PATH_MAX_CANDIDATES || (m->flags & ~UM_PATH_FLAGS))
		return -UM_EINVAL;
	len = UM_PATH_OVERHEAD + body;
	if (cap < len)
		return -UM_ETRUNC;
	um_writer_init(&w, out, len - UM_PATH_TAG_BYTES);
	um_write_u8(&w, m->type);
	um_write_u8(&w, UM_PATH_VERSION);
	um_write_u16(&w, 0);
	um_write_u32(&w, m->receiver_index);
	um_write_u64(&w, m->counter);
	um_write_u8(&w, m->flags); /* from here on sealed */
	switch (m->type) {
	case UM_MSG_PATH_CANDIDATES:
		um_write_u64(&w, m->generation);
		um_write_u8(&w, m->count);
		um_write_u8(&w, 0);
		um_write_u16(&w, 0);
		for (unsigned i = 0; i < m->count; i++)
			if (put_addr(&w, m->candidates[i].kind, &m->candidates[i].addr))
				return -UM_EINVAL;
		break;
	case UM_MSG_PATH_PROBE:
		um_write_bytes(&w, m->nonce, UM_PATH_NONCE_BYTES);
		break;
	default: /* PROBE_REPLY */
		um_write_bytes(&w, m->nonce, UM_PATH_NONCE_BYTES);
		if (put_addr(&w, 0, &m->observed))
			return -UM_EINVAL;
		break;
	}
	if (um_writer_error(&w) || w.pos != len - UM_PATH_TAG_BYTES)
		return -UM_EINVAL; /* cannot happen: body_len sized the writer */
	make_nonce(nonce, m->counter);
	um_chacha20poly1305_seal(key, nonce, out, UM_PATH_HEADER_BYTES, out + UM_PATH_HEADER_BYTES,
				 len - UM_PATH_HEADER_BYTES - UM_PATH_TAG_BYTES, out + len - UM_PATH_TAG_BYTES);
	return (int)len;
}

int um_path_header_decode(struct um_path_header *h, const uint8_t *in, size_t len)
{
	struct um_reader r;

	memset(h, 0, sizeof(*h));
	if (len < 2)
		return -UM_ETRUNC;
	/* Versions 0..2 had flags (at most 0x03, never both) in byte 1. */
	if (in[1] != UM_PATH_VERSION)
		return -UM_EVERSION;
	if (len < UM_PATH_HEADER_BYTES)
		return -UM_ETRUNC;
	um_reader_init(&r, in, UM_PATH_HEADER_BYTES);
	h->type = um_read_u8(&r);
	(void)um_read_u8(&r);
	uint16_t reserved = um_read_u16(&r);
	h->receiver_index = um_read_u32(&r);
	h->counter = um_read_u64(&r);
	if (um_reader_error(&r))
		return -UM_ETRUNC;
	if (reserved || !body_len(h->type, 0))
		return -UM_EINVAL;
	/* The length tells CANDIDATES' count; the sealed count must agree. */
	size_t min = UM_PATH_OVERHEAD + body_len(h->type, 0);
	if (len < min)
		return -UM_ETRUNC;
	if (h->type == UM_MSG_PATH_CANDIDATES) {
		if ((len - min) % UM_PATH_CANDIDATE_BYTES || len > UM_PATH_CANDIDATES_MAX_BYTES)
			return -UM_EINVAL;
	} else if (len != min) {
		return -UM_EINVAL;
	}
	return 0;
}

/* The opened plaintext (flags | body) of a message of this type and total
 * length into m. */
static int parse_plain(struct um_path_msg *m, const uint8_t *plain, size_t plain_len)
{
	struct um_reader r;
	uint8_t kind;

	um_reader_init(&r, plain, plain_len);
	m->flags = um_read_u8(&r);
	if (m->flags & ~UM_PATH_FLAGS)
		return -UM_EINVAL;
	switch (m->type) {
	case UM_MSG_PATH_CANDIDATES: {
		m->generation = um_read_u64(&r);
		m->count = um_read_u8(&r);
		uint8_t pad8 = um_read_u8(&r);
		uint16_t pad16 = um_read_u16(&r);
		if (um_reader_error(&r) || pad8 || pad16 || m->count > UM_PATH_MAX_CANDIDATES ||
		    plain_len != 1 + body_len(m->type, m->count))
			return -UM_EINVAL;
		for (unsigned i = 0; i < m->count; i++) {
			if (get_addr(&r, &kind, &m->candidates[i].addr))
				return -UM_EINVAL;
			if (kind != UM_PATH_CAND_LOCAL && kind != UM_PATH_CAND_REFLEXIVE)
				return -UM_EINVAL;
			m->candidates[i].kind = kind;
		}
		break;
	}
	case UM_MSG_PATH_PROBE:
		um_read_copy(&r, m->nonce, UM_PATH_NONCE_BYTES);
		break;
	default: /* PROBE_REPLY */
		um_read_copy(&r, m->nonce, UM_PATH_NONCE_BYTES);
		if (get_addr(&r, &kind, &m->observed) || kind != 0)
			return -UM_EINVAL;
		break;
	}
	if (um_reader_error(&r) || um_reader_left(&r))
		return -UM_EINVAL;
	return 0;
}

int um_path_open(struct um_path_msg *m, const uint8_t *in, size_t len, const uint8_t key[UM_PATH_KEY_BYTES])
{
	uint8_t plain[PLAIN_MAX], nonce[UM_CHACHA20POLY1305_NONCE_LEN];
	struct um_path_header h;
	int r;

	memset(m, 0, sizeof(*m));
	r = um_path_header_decode(&h, in, len);
	if (r)
		return r;
	/* header_decode bounded len by the largest message. */
	size_t plain_len = len - UM_PATH_HEADER_BYTES - UM_PATH_TAG_BYTES;
	memcpy(plain, in + UM_PATH_HEADER_BYTES, plain_len);
	make_nonce(nonce, h.counter);
	r = um_chacha20poly1305_open(key, nonce, in, UM_PATH_HEADER_BYTES, plain, plain_len,
				     in + len - UM_PATH_TAG_BYTES);
	if (r) {
		r = -UM_EBADMSG;
		goto out;
	}
	m->type = h.type;
	m->receiver_index = h.receiver_index;
	m->counter = h.counter;
	r = parse_plain(m, plain, plain_len);
out:
	if (r)
		memset(m, 0, sizeof(*m));
	sodium_memzero(plain, sizeof(plain)); /* the peer's addresses */
	return r;
}

int um_path_legacy_sender(const uint8_t *in, size_t len, struct um_peer_id *sender)
{
	/* type | flags | version 0..2 | 0 | sender | ... | mac (16) */
	if (len < UM_PATH_LEGACY_SENDER_OFFSET + UM_PEER_ID_BYTES + UM_PATH_TAG_BYTES || in[1] == UM_PATH_VERSION ||
	    in[2] >= UM_PATH_VERSION || in[3])
		return -UM_EINVAL;
	memcpy(sender->bytes, in + UM_PATH_LEGACY_SENDER_OFFSET, UM_PEER_ID_BYTES);
	return 0;
}
