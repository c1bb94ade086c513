/* SPDX-License-Identifier: MIT */
/* Path message codecs (layouts in path.h). Untrusted input: every read is
 * bounds-checked; reserved bytes and unknown flags are rejected. */
#include "wire/path.h"

#include <string.h>

#include <sodium.h>

#include "util/bytes.h"
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

static int put_addr(uint8_t *p, uint8_t kind, const struct um_wire_addr *a)
{
	if (a->family != 4 && a->family != 6)
		return -UM_EINVAL;
	p[0] = kind;
	p[1] = a->family;
	um_store16_be(p + 2, a->port);
	memset(p + 4, 0, 16);
	memcpy(p + 4, a->addr, a->family == 4 ? 4 : 16);
	return 0;
}

static int get_addr(const uint8_t *p, uint8_t *kind, struct um_wire_addr *a)
{
	memset(a, 0, sizeof(*a));
	*kind = p[0];
	a->family = p[1];
	a->port = um_load16_be(p + 2);
	if (a->family == 4) {
		for (size_t i = 8; i < 20; i++)
			if (p[i])
				return -UM_EINVAL; /* IPv4 is zero-padded */
		memcpy(a->addr, p + 4, 4);
	} else if (a->family == 6) {
		memcpy(a->addr, p + 4, 16);
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
	uint8_t *p;

	if (!body || m->count > UM_PATH_MAX_CANDIDATES || (m->flags & ~UM_PATH_FLAGS))
		return -UM_EINVAL;
	len = UM_PATH_HEADER_BYTES + body + UM_PATH_MAC_BYTES;
	if (cap < len)
		return -UM_ETRUNC;
	out[0] = m->type;
	out[1] = m->flags;
	out[2] = out[3] = 0;
	memcpy(out + 4, m->sender.bytes, UM_PEER_ID_BYTES);
	p = out + UM_PATH_HEADER_BYTES;
	switch (m->type) {
	case UM_MSG_PATH_CANDIDATES:
		um_store64_le(p, m->generation);
		p[8] = m->count;
		p[9] = p[10] = p[11] = 0;
		for (unsigned i = 0; i < m->count; i++)
			if (put_addr(p + 12 + i * UM_PATH_CANDIDATE_BYTES, m->candidates[i].kind, &m->candidates[i].addr))
				return -UM_EINVAL;
		break;
	case UM_MSG_PATH_PROBE:
		memcpy(p, m->nonce, UM_PATH_NONCE_BYTES);
		break;
	default: /* PROBE_REPLY */
		memcpy(p, m->nonce, UM_PATH_NONCE_BYTES);
		if (put_addr(p + UM_PATH_NONCE_BYTES, 0, &m->observed))
			return -UM_EINVAL;
		break;
	}
	mac(out + len - UM_PATH_MAC_BYTES, out, len - UM_PATH_MAC_BYTES, key);
	return (int)len;
}

int um_path_decode(struct um_path_msg *m, const uint8_t *in, size_t len)
{
	const uint8_t *p;
	uint8_t kind;

	memset(m, 0, sizeof(*m));
	if (len < UM_PATH_HEADER_BYTES + UM_PATH_MAC_BYTES)
		return -UM_ETRUNC;
	m->type = in[0];
	m->flags = in[1];
	if (in[2] || in[3] || (m->flags & ~UM_PATH_FLAGS))
		return -UM_EINVAL;
	memcpy(m->sender.bytes, in + 4, UM_PEER_ID_BYTES);
	p = in + UM_PATH_HEADER_BYTES;
	switch (m->type) {
	case UM_MSG_PATH_CANDIDATES:
		if (len < UM_PATH_CANDIDATES_MIN_BYTES)
			return -UM_ETRUNC;
		m->generation = um_load64_le(p);
		m->count = p[8];
		if (p[9] || p[10] || p[11] || m->count > UM_PATH_MAX_CANDIDATES)
			return -UM_EINVAL;
		break;
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
			if (get_addr(p + 12 + i * UM_PATH_CANDIDATE_BYTES, &kind, &m->candidates[i].addr))
				return -UM_EINVAL;
			if (kind != UM_PATH_CAND_LOCAL && kind != UM_PATH_CAND_REFLEXIVE)
				return -UM_EINVAL;
			m->candidates[i].kind = kind;
		}
		break;
	case UM_MSG_PATH_PROBE:
		memcpy(m->nonce, p, UM_PATH_NONCE_BYTES);
		break;
	default:
		memcpy(m->nonce, p, UM_PATH_NONCE_BYTES);
		if (get_addr(p + UM_PATH_NONCE_BYTES, &kind, &m->observed) || kind != 0)
			return -UM_EINVAL;
		break;
	}
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
