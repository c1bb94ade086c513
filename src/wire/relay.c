/* SPDX-License-Identifier: MIT */
#include "wire/relay.h"

#include <sodium.h>
#include <string.h>

#include "util/buf.h"
#include "util/error.h"

#define ADMISSION_LABEL "umbra relay admission v3"

/* ---- replay window -------------------------------------------------------- */

int um_relay_window_check(const struct um_relay_window *w, uint64_t counter)
{
	if (counter == UINT64_MAX)
		return -UM_EREPLAY;
	if (counter >= w->top)
		return 0;
	uint64_t back = w->top - 1 - counter;
	if (back >= 64 || (w->bits >> back) & 1)
		return -UM_EREPLAY;
	return 0;
}

void um_relay_window_update(struct um_relay_window *w, uint64_t counter)
{
	if (counter >= w->top) {
		uint64_t shift = counter + 1 - w->top;
		w->bits = shift >= 64 ? 0 : w->bits << shift;
		w->bits |= 1;
		w->top = counter + 1;
		return;
	}
	uint64_t back = w->top - 1 - counter;
	if (back < 64)
		w->bits |= 1ULL << back;
}

/* ---- RELAY_ID ------------------------------------------------------------- */

int um_relay_id_encode(uint8_t *out, size_t cap, const struct um_relay_id_msg *m)
{
	static const struct um_peer_id zero_id;
	struct um_writer w;

	um_writer_init(&w, out, cap);
	um_write_u8(&w, UM_MSG_RELAY_ID);
	um_write_u8(&w, UM_RELAY_VERSION);
	um_write_u8(&w, m->reply ? UM_RELAY_ID_FLAG_REPLY : 0);
	um_write_u8(&w, 0);
	um_write_bytes(&w, m->nonce, UM_RELAY_NONCE_BYTES);
	um_write_bytes(&w, m->reply ? m->id.bytes : zero_id.bytes, UM_PEER_ID_BYTES);
	uint8_t *pad = um_write_reserve(&w, UM_RELAY_ID_BYTES - 52);
	if (um_writer_error(&w))
		return -UM_ERANGE;
	memset(pad, 0, UM_RELAY_ID_BYTES - 52);
	return (int)w.pos;
}

int um_relay_id_decode(struct um_relay_id_msg *m, const uint8_t *in, size_t len)
{
	memset(m, 0, sizeof(*m));
	if (len >= 2 && in[0] == UM_MSG_RELAY_ID && in[1] != UM_RELAY_VERSION)
		return -UM_EVERSION;
	if (len != UM_RELAY_ID_BYTES)
		return -UM_ETRUNC;
	if (in[0] != UM_MSG_RELAY_ID || (in[2] & ~UM_RELAY_ID_FLAG_REPLY) || in[3] || !sodium_is_zero(in + 52, 12))
		return -UM_EINVAL;
	m->reply = in[2] & UM_RELAY_ID_FLAG_REPLY;
	memcpy(m->nonce, in + 4, UM_RELAY_NONCE_BYTES);
	memcpy(m->id.bytes, in + 20, UM_PEER_ID_BYTES);
	if (!m->reply && !sodium_is_zero(m->id.bytes, UM_PEER_ID_BYTES))
		return -UM_EINVAL;
	return 0;
}

/* ---- sealed control messages --------------------------------------------- */

int um_relay_control_encode(uint8_t out[UM_RELAY_CONTROL_BYTES], const struct um_relay_control *m)
{
	static const uint8_t zero[UM_RELAY_CHALLENGE_BYTES];
	struct um_writer w;
	bool challenge = m->flags & UM_RELAY_KEEPALIVE_FLAG_CHALLENGE;

	memset(out, 0, UM_RELAY_CONTROL_BYTES);
	um_writer_init(&w, out, UM_RELAY_CONTROL_BYTES);
	um_write_u8(&w, m->kind);
	switch (m->kind) {
	case UM_RELAY_CTL_REGISTER:
		um_write_u8(&w, 0);
		um_write_u16(&w, 0);
		um_write_bytes(&w, m->tag, UM_RELAY_TAG_BYTES);
		break;
	case UM_RELAY_CTL_ACK:
		if (m->observed.family != 4 && m->observed.family != 6)
			return -UM_EINVAL;
		um_write_u8(&w, 0);
		um_write_u16(&w, m->keepalive_interval_s);
		um_write_bytes(&w, m->challenge, UM_RELAY_CHALLENGE_BYTES);
		um_addr_write(&w, &m->observed);
		um_write_u16(&w, m->registration_timeout_s);
		um_write_u16(&w, m->max_payload);
		um_write_u32(&w, m->max_packets_per_s);
		um_write_u32(&w, m->max_bytes_per_s);
		break;
	case UM_RELAY_CTL_KEEPALIVE:
	case UM_RELAY_CTL_KEEPALIVE_REPLY:
		if (m->flags & ~UM_RELAY_KEEPALIVE_FLAG_CHALLENGE)
			return -UM_EINVAL;
		if (m->kind == UM_RELAY_CTL_KEEPALIVE_REPLY && m->observed.family != 4 && m->observed.family != 6)
			return -UM_EINVAL;
		um_write_u8(&w, m->flags);
		um_write_u16(&w, 0);
		um_write_u64(&w, m->sequence);
		um_write_bytes(&w, challenge ? m->challenge : zero, UM_RELAY_CHALLENGE_BYTES);
		if (m->kind == UM_RELAY_CTL_KEEPALIVE_REPLY)
			um_addr_write(&w, &m->observed);
		break;
	case UM_RELAY_CTL_ERROR:
		um_write_u8(&w, m->code);
		um_write_u16(&w, m->retry_after_s);
		um_write_bytes(&w, m->tag, UM_RELAY_TAG_BYTES);
		break;
	case UM_RELAY_CTL_LOOKUP:
	case UM_RELAY_CTL_HANDLE:
	case UM_RELAY_CTL_ANNOUNCE:
		if (m->kind != UM_RELAY_CTL_HANDLE && m->flags)
			return -UM_EINVAL;
		if (m->flags & ~UM_RELAY_HANDLE_FLAG_FOUND)
			return -UM_EINVAL;
		um_write_u8(&w, m->flags);
		um_write_u16(&w, 0);
		um_write_bytes(&w, m->peer.bytes, UM_PEER_ID_BYTES);
		if (m->kind != UM_RELAY_CTL_LOOKUP)
			um_write_u64(&w, m->handle);
		break;
	case UM_RELAY_CTL_RESOLVE:
		um_write_u8(&w, 0);
		um_write_u16(&w, 0);
		um_write_u64(&w, m->handle);
		break;
	default:
		return -UM_EINVAL;
	}
	return um_writer_error(&w) ? -UM_ERANGE : 0;
}

int um_relay_control_decode(struct um_relay_control *m, const uint8_t in[UM_RELAY_CONTROL_BYTES])
{
	struct um_reader r;
	int rc = 0;

	memset(m, 0, sizeof(*m));
	um_reader_init(&r, in, UM_RELAY_CONTROL_BYTES);
	m->kind = um_read_u8(&r);
	switch (m->kind) {
	case UM_RELAY_CTL_REGISTER:
		if (um_read_u8(&r) || um_read_u16(&r))
			return -UM_EINVAL;
		um_read_copy(&r, m->tag, UM_RELAY_TAG_BYTES);
		break;
	case UM_RELAY_CTL_ACK:
		if (um_read_u8(&r))
			return -UM_EINVAL;
		m->keepalive_interval_s = um_read_u16(&r);
		um_read_copy(&r, m->challenge, UM_RELAY_CHALLENGE_BYTES);
		rc = um_addr_read(&r, &m->observed, false);
		m->registration_timeout_s = um_read_u16(&r);
		m->max_payload = um_read_u16(&r);
		m->max_packets_per_s = um_read_u32(&r);
		m->max_bytes_per_s = um_read_u32(&r);
		break;
	case UM_RELAY_CTL_KEEPALIVE:
	case UM_RELAY_CTL_KEEPALIVE_REPLY:
		m->flags = um_read_u8(&r);
		if (um_read_u16(&r) || (m->flags & ~UM_RELAY_KEEPALIVE_FLAG_CHALLENGE))
			return -UM_EINVAL;
		m->sequence = um_read_u64(&r);
		um_read_copy(&r, m->challenge, UM_RELAY_CHALLENGE_BYTES);
		/* No challenge bytes without the flag: one encoding per message. */
		if (!(m->flags & UM_RELAY_KEEPALIVE_FLAG_CHALLENGE) &&
		    !sodium_is_zero(m->challenge, sizeof(m->challenge)))
			return -UM_EINVAL;
		if (m->kind == UM_RELAY_CTL_KEEPALIVE_REPLY)
			rc = um_addr_read(&r, &m->observed, false);
		break;
	case UM_RELAY_CTL_ERROR:
		m->code = um_read_u8(&r);
		m->retry_after_s = um_read_u16(&r);
		um_read_copy(&r, m->tag, UM_RELAY_TAG_BYTES);
		break;
	case UM_RELAY_CTL_LOOKUP:
	case UM_RELAY_CTL_HANDLE:
	case UM_RELAY_CTL_ANNOUNCE:
		m->flags = um_read_u8(&r);
		if (um_read_u16(&r) || (m->flags & ~UM_RELAY_HANDLE_FLAG_FOUND) ||
		    (m->kind != UM_RELAY_CTL_HANDLE && m->flags))
			return -UM_EINVAL;
		um_read_copy(&r, m->peer.bytes, UM_PEER_ID_BYTES);
		if (m->kind != UM_RELAY_CTL_LOOKUP) {
			m->handle = um_read_u64(&r);
			/* A handle is never 0; HANDLE "not found" carries none. */
			bool found = m->kind == UM_RELAY_CTL_ANNOUNCE || (m->flags & UM_RELAY_HANDLE_FLAG_FOUND);
			if (found != (m->handle != 0))
				return -UM_EINVAL;
		}
		break;
	case UM_RELAY_CTL_RESOLVE:
		if (um_read_u8(&r) || um_read_u16(&r))
			return -UM_EINVAL;
		m->handle = um_read_u64(&r);
		if (!m->handle)
			return -UM_EINVAL;
		break;
	default:
		return -UM_EINVAL;
	}
	if (um_reader_error(&r) || rc < 0)
		return -UM_EINVAL;
	if (!sodium_is_zero(in + r.pos, UM_RELAY_CONTROL_BYTES - r.pos))
		return -UM_EINVAL;
	return 0;
}

static void sealed_nonce(uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES], uint64_t counter)
{
	memset(nonce, 0, crypto_aead_chacha20poly1305_IETF_NPUBBYTES);
	for (unsigned i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(counter >> (56 - 8 * i));
}

int um_relay_sealed_encode(uint8_t *out, size_t cap, uint32_t receiver_index, uint64_t counter,
			   const uint8_t key[UM_RELAY_KEY_BYTES], const struct um_relay_control *m)
{
	uint8_t plain[UM_RELAY_CONTROL_BYTES], nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
	struct um_writer w;
	int rc;

	if (cap < UM_RELAY_SEALED_BYTES)
		return -UM_ERANGE;
	if ((rc = um_relay_control_encode(plain, m)) < 0)
		goto out;
	um_writer_init(&w, out, cap);
	um_write_u8(&w, UM_MSG_RELAY_SEALED);
	um_write_u8(&w, UM_RELAY_VERSION);
	um_write_u16(&w, 0);
	um_write_u32(&w, receiver_index);
	um_write_u64(&w, counter);
	sealed_nonce(nonce, counter);
	crypto_aead_chacha20poly1305_ietf_encrypt(out + UM_RELAY_SEALED_HEADER_BYTES, NULL, plain, sizeof(plain), out,
						  UM_RELAY_SEALED_HEADER_BYTES, NULL, nonce, key);
	rc = UM_RELAY_SEALED_BYTES;
out:
	sodium_memzero(plain, sizeof(plain));
	return rc;
}

int um_relay_sealed_header(const uint8_t *in, size_t len, uint32_t *receiver_index, uint64_t *counter)
{
	/* Version 2's KEEPALIVE had this type byte, its flags (0..3) here and
	 * the version (2) in byte 2. */
	if (len >= 3 && in[0] == UM_MSG_RELAY_SEALED && in[1] != UM_RELAY_VERSION)
		return in[2] == UM_RELAY_V2 ? -UM_EVERSION : -UM_EINVAL;
	if (len != UM_RELAY_SEALED_BYTES)
		return -UM_ETRUNC;
	if (in[0] != UM_MSG_RELAY_SEALED || in[2] || in[3])
		return -UM_EINVAL;
	struct um_reader r;
	um_reader_init(&r, in + 4, 12);
	*receiver_index = um_read_u32(&r);
	*counter = um_read_u64(&r);
	return 0;
}

int um_relay_sealed_open(struct um_relay_control *m, const uint8_t *in, size_t len,
			 const uint8_t key[UM_RELAY_KEY_BYTES])
{
	uint8_t plain[UM_RELAY_CONTROL_BYTES], nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
	uint32_t index;
	uint64_t counter;
	int rc;

	memset(m, 0, sizeof(*m));
	if ((rc = um_relay_sealed_header(in, len, &index, &counter)) < 0)
		return rc;
	sealed_nonce(nonce, counter);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(plain, NULL, NULL, in + UM_RELAY_SEALED_HEADER_BYTES,
						      UM_RELAY_CONTROL_BYTES + UM_RELAY_AEAD_TAG_BYTES, in,
						      UM_RELAY_SEALED_HEADER_BYTES, nonce, key) != 0)
		return -UM_EBADMSG;
	rc = um_relay_control_decode(m, plain);
	sodium_memzero(plain, sizeof(plain));
	return rc;
}

void um_relay_admission_tag(uint8_t tag[UM_RELAY_TAG_BYTES], const uint8_t key[UM_RELAY_ADMISSION_KEY_BYTES],
			    const struct um_peer_id *node, const struct um_peer_id *relay)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, key, UM_RELAY_ADMISSION_KEY_BYTES, UM_RELAY_TAG_BYTES);
	crypto_generichash_update(&st, (const uint8_t *)ADMISSION_LABEL, sizeof(ADMISSION_LABEL) - 1);
	crypto_generichash_update(&st, node->bytes, UM_PEER_ID_BYTES);
	crypto_generichash_update(&st, relay->bytes, UM_PEER_ID_BYTES);
	crypto_generichash_final(&st, tag, UM_RELAY_TAG_BYTES);
	sodium_memzero(&st, sizeof(st));
}

void um_relay_datagram_hash(uint8_t hash[UM_RELAY_HASH_BYTES], const uint8_t *in, size_t len)
{
	crypto_generichash(hash, UM_RELAY_HASH_BYTES, in, len, NULL, 0);
}

/* ---- routing handles ---------------------------------------------------- */

void um_relay_route_set(struct um_peer_id *route, uint64_t handle)
{
	memset(route, 0, sizeof(*route));
	for (unsigned i = 0; i < 8; i++)
		route->bytes[i] = (uint8_t)(handle >> (56 - 8 * i));
}

int um_relay_route_handle(const struct um_peer_id *route, uint64_t *handle)
{
	uint64_t h = 0;
	for (unsigned i = 0; i < 8; i++)
		h = h << 8 | route->bytes[i];
	*handle = h;
	if (!h || !sodium_is_zero(route->bytes + 8, UM_PEER_ID_BYTES - 8))
		return -UM_EINVAL;
	return 0;
}

/* ---- FORWARD / FORWARDED ------------------------------------------------ */

int um_relay_forward_encode(uint8_t *out, size_t cap, uint8_t type, const struct um_relay_forward *m)
{
	struct um_writer w;
	if ((type != UM_MSG_RELAY_FORWARD && type != UM_MSG_RELAY_FORWARDED) || m->payload_len == 0 ||
	    m->payload_len > UM_RELAY_MAX_PAYLOAD)
		return -UM_EINVAL;
	um_writer_init(&w, out, cap);
	um_write_u8(&w, type);
	um_write_u8(&w, 0);
	um_write_u16(&w, 0);
	um_write_bytes(&w, m->peer.bytes, UM_PEER_ID_BYTES);
	um_write_bytes(&w, m->payload, m->payload_len);
	return um_writer_error(&w) ? -UM_ERANGE : (int)w.pos;
}

int um_relay_forward_decode(struct um_relay_forward *m, uint8_t type, const uint8_t *in, size_t len)
{
	memset(m, 0, sizeof(*m));
	if (len <= UM_RELAY_FORWARD_HEADER_BYTES)
		return -UM_ETRUNC;
	if (len > UM_RELAY_MAX_DATAGRAM)
		return -UM_ERANGE;
	if (in[0] != type || (type != UM_MSG_RELAY_FORWARD && type != UM_MSG_RELAY_FORWARDED) || in[1] || in[2] ||
	    in[3])
		return -UM_EINVAL;
	memcpy(m->peer.bytes, in + 4, UM_PEER_ID_BYTES);
	m->payload = in + UM_RELAY_FORWARD_HEADER_BYTES;
	m->payload_len = len - UM_RELAY_FORWARD_HEADER_BYTES;
	return 0;
}

/* ---- ERROR -------------------------------------------------------------- */

static bool error_code_known(uint8_t code)
{
	return code >= UM_RELAY_ERR_UNKNOWN_PEER && code <= UM_RELAY_ERR_UNKNOWN_HANDLE;
}

int um_relay_error_encode(uint8_t *out, size_t cap, const struct um_relay_error *m)
{
	struct um_writer w;
	if (!error_code_known(m->code))
		return -UM_EINVAL;
	um_writer_init(&w, out, cap);
	um_write_u8(&w, UM_MSG_RELAY_ERROR);
	um_write_u8(&w, m->code);
	um_write_u16(&w, m->retry_after_s);
	um_write_bytes(&w, m->ref, sizeof(m->ref));
	return um_writer_error(&w) ? -UM_ERANGE : (int)w.pos;
}

int um_relay_error_decode(struct um_relay_error *m, const uint8_t *in, size_t len)
{
	memset(m, 0, sizeof(*m));
	if (len != UM_RELAY_ERROR_BYTES)
		return -UM_ETRUNC;
	if (in[0] != UM_MSG_RELAY_ERROR || !error_code_known(in[1]))
		return -UM_EINVAL;
	m->code = in[1];
	m->retry_after_s = (uint16_t)(in[2] << 8 | in[3]);
	memcpy(m->ref, in + 4, sizeof(m->ref));
	return 0;
}
