/* SPDX-License-Identifier: MIT */
/* Path message codecs (layouts in path.h). Untrusted input: every read goes
 * through a util/buf.h cursor; reserved bytes, unknown flags and other
 * versions are rejected. */
#include "wire/path.h"

#include <string.h>

#include <sodium.h>

#include "util/buf.h"
#include "util/error.h"

static const char key_label[] = "umbra path key v1";

void um_path_key_derive(uint8_t out[UM_PATH_KEY_BYTES], const uint8_t send_key[32], const uint8_t recv_key[32])
{
	uint8_t mixed[32];

	for (size_t i = 0; i < sizeof(mixed); i++)
		mixed[i] = send_key[i] ^ recv_key[i];
	crypto_generichash(out, UM_PATH_KEY_BYTES, (const uint8_t *)key_label, sizeof(key_label) - 1, mixed,
			   sizeof(mixed));
	sodium_memzero(mixed, sizeof(mixed));
}

static void mac(uint8_t out[UM_PATH_MAC_BYTES], const uint8_t *in, size_t len, const uint8_t key[UM_PATH_KEY_BYTES])
{
	crypto_generichash(out, UM_PATH_MAC_BYTES, in, len, key, UM_PATH_KEY_BYTES);
}

/* kind | family | port | address[16]: the path messages' own layout (no
 * reserved byte, unlike um_addr_write's), kept as is until path messages are
 * versioned onto the util/addr.h encoding. */
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

static size_t body_len(const struct um_path_msg *m)
{
	switch (m->type) {
	case UM_MSG_PATH_CANDIDATES:
		return 12 + (size_t)m->count * UM_PATH_CANDIDATE_BYTES;
	case UM_MSG_PATH_PROBE:
		return UM_PATH_NONCE_BYTES;
	case UM_MSG_PATH_PROBE_REPLY:
		return UM_PATH_NONCE_BYTES + UM_PATH_CANDIDATE_BYTES;
	default:
		return 0;
	}
}

int um_path_encode(uint8_t *out, size_t cap, const struct um_path_msg *m, const uint8_t key[UM_PATH_KEY_BYTES])
{
	size_t body = body_len(m), len;
	struct um_writer w;

	if (!body || m->count > UM_PATH_MAX_CANDIDATES || (m->flags & ~UM_PATH_FLAGS))
		return -UM_EINVAL;
	len = UM_PATH_HEADER_BYTES + body + UM_PATH_MAC_BYTES;
	if (cap < len)
		return -UM_ETRUNC;
	um_writer_init(&w, out, len - UM_PATH_MAC_BYTES);
	um_write_u8(&w, m->type);
	um_write_u8(&w, m->flags);
	um_write_u8(&w, UM_PATH_VERSION);
	um_write_u8(&w, 0);
	um_write_bytes(&w, m->sender.bytes, UM_PEER_ID_BYTES);
	um_write_u64(&w, m->counter);
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
	if (um_writer_error(&w) || w.pos != len - UM_PATH_MAC_BYTES)
		return -UM_EINVAL; /* cannot happen: body_len sized the writer */
	mac(out + len - UM_PATH_MAC_BYTES, out, len - UM_PATH_MAC_BYTES, key);
	return (int)len;
}

int um_path_peek_sender(const uint8_t *in, size_t len, struct um_peer_id *sender)
{
	struct um_reader r;

	if (len < UM_PATH_HEADER_BYTES + UM_PATH_MAC_BYTES)
		return -UM_ETRUNC;
	um_reader_init(&r, in, len);
	(void)um_read_bytes(&r, 4);
	um_read_copy(&r, sender->bytes, UM_PEER_ID_BYTES);
	return um_reader_error(&r) ? -UM_ETRUNC : 0;
}

int um_path_decode(struct um_path_msg *m, const uint8_t *in, size_t len)
{
	struct um_reader r;
	uint8_t kind;

	memset(m, 0, sizeof(*m));
	if (len < UM_PATH_HEADER_BYTES + UM_PATH_MAC_BYTES)
		return -UM_ETRUNC;
	/* The MAC is not part of the structure: read up to it. */
	um_reader_init(&r, in, len - UM_PATH_MAC_BYTES);
	m->type = um_read_u8(&r);
	m->flags = um_read_u8(&r);
	uint8_t version = um_read_u8(&r), reserved = um_read_u8(&r);
	if (version != UM_PATH_VERSION)
		return -UM_EVERSION;
	if (reserved || (m->flags & ~UM_PATH_FLAGS))
		return -UM_EINVAL;
	um_read_copy(&r, m->sender.bytes, UM_PEER_ID_BYTES);
	m->counter = um_read_u64(&r);
	switch (m->type) {
	case UM_MSG_PATH_CANDIDATES: {
		m->generation = um_read_u64(&r);
		m->count = um_read_u8(&r);
		uint8_t pad8 = um_read_u8(&r);
		uint16_t pad16 = um_read_u16(&r);
		if (um_reader_error(&r))
			return -UM_ETRUNC;
		if (pad8 || pad16 || m->count > UM_PATH_MAX_CANDIDATES)
			return -UM_EINVAL;
		break;
	}
	case UM_MSG_PATH_PROBE:
	case UM_MSG_PATH_PROBE_REPLY:
		break;
	default:
		return -UM_EINVAL;
	}
	size_t want = UM_PATH_HEADER_BYTES + body_len(m) + UM_PATH_MAC_BYTES;
	if (len < want)
		return -UM_ETRUNC;
	if (len != want)
		return -UM_EINVAL;
	switch (m->type) {
	case UM_MSG_PATH_CANDIDATES:
		for (unsigned i = 0; i < m->count; i++) {
			if (get_addr(&r, &kind, &m->candidates[i].addr))
				return -UM_EINVAL;
			if (kind != UM_PATH_CAND_LOCAL && kind != UM_PATH_CAND_REFLEXIVE)
				return -UM_EINVAL;
			m->candidates[i].kind = kind;
		}
		break;
	case UM_MSG_PATH_PROBE:
		um_read_copy(&r, m->nonce, UM_PATH_NONCE_BYTES);
		break;
	default:
		um_read_copy(&r, m->nonce, UM_PATH_NONCE_BYTES);
		if (get_addr(&r, &kind, &m->observed) || kind != 0)
			return -UM_EINVAL;
		break;
	}
	/* The lengths were checked above, so the cursor ends at the MAC. */
	if (um_reader_error(&r) || um_reader_left(&r))
		return -UM_EINVAL;
	return 0;
}

int um_path_verify(const uint8_t *in, size_t len, const uint8_t key[UM_PATH_KEY_BYTES])
{
	uint8_t expect[UM_PATH_MAC_BYTES];
	int r;

	if (len < UM_PATH_MAC_BYTES)
		return -UM_EBADMSG;
	mac(expect, in, len - UM_PATH_MAC_BYTES, key);
	r = sodium_memcmp(expect, in + len - UM_PATH_MAC_BYTES, UM_PATH_MAC_BYTES) ? -UM_EBADMSG : 0;
	sodium_memzero(expect, sizeof(expect));
	return r;
}
