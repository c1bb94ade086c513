/* SPDX-License-Identifier: MIT */
#include "wire/relay.h"

#include <sodium.h>
#include <string.h>

#include "util/buf.h"
#include "util/error.h"

/* ---- REGISTER ----------------------------------------------------------- */

int um_relay_register_build(uint8_t *out, size_t cap, const struct um_identity *identity, uint64_t timestamp_ms,
			    const uint8_t nonce[UM_RELAY_NONCE_BYTES], const uint8_t ephemeral[UM_RELAY_X25519_BYTES],
			    bool include_public_key, const uint8_t *admission_key)
{
	struct um_writer w;
	uint8_t *tag;
	int rc;

	um_writer_init(&w, out, cap);
	um_write_u8(&w, UM_MSG_RELAY_REGISTER);
	um_write_u8(&w, UM_RELAY_VERSION);
	um_write_u8(&w, include_public_key ? UM_RELAY_REGISTER_FLAG_PUBLIC_KEY : 0);
	um_write_u8(&w, 0);
	um_write_u64(&w, timestamp_ms);
	um_write_bytes(&w, nonce, UM_RELAY_NONCE_BYTES);
	um_write_bytes(&w, identity->id.bytes, UM_PEER_ID_BYTES);
	um_write_bytes(&w, ephemeral, UM_RELAY_X25519_BYTES);
	if (include_public_key)
		um_write_bytes(&w, identity->public_key, UM_HSIG_PK_BYTES);
	size_t tagged_len = w.pos;
	tag = um_write_reserve(&w, UM_RELAY_TAG_BYTES);
	size_t signed_len = w.pos;
	uint8_t *sig = um_write_reserve(&w, UM_HSIG_BYTES);
	if (um_writer_error(&w))
		return -UM_ERANGE;
	if (admission_key)
		crypto_generichash(tag, UM_RELAY_TAG_BYTES, out, tagged_len, admission_key,
				   UM_RELAY_ADMISSION_KEY_BYTES);
	else
		memset(tag, 0, UM_RELAY_TAG_BYTES);
	rc = um_hsig_sign(sig, out, signed_len, UM_RELAY_REGISTER_CONTEXT, identity->secret_key);
	return rc < 0 ? rc : (int)w.pos;
}

int um_relay_register_decode(struct um_relay_register *m, const uint8_t *in, size_t len)
{
	struct um_reader r;

	memset(m, 0, sizeof(*m));
	um_reader_init(&r, in, len);
	uint8_t type = um_read_u8(&r);
	uint8_t version = um_read_u8(&r);
	m->flags = um_read_u8(&r);
	uint8_t reserved = um_read_u8(&r);
	m->timestamp_ms = um_read_u64(&r);
	um_read_copy(&r, m->nonce, UM_RELAY_NONCE_BYTES);
	um_read_copy(&r, m->id.bytes, UM_PEER_ID_BYTES);
	if (!um_reader_error(&r) && type == UM_MSG_RELAY_REGISTER && version != UM_RELAY_VERSION)
		return -UM_EVERSION; /* before the length checks: sizes differ per version */
	um_read_copy(&r, m->ephemeral, UM_RELAY_X25519_BYTES);
	if (um_reader_error(&r))
		return -UM_ETRUNC;
	if (type != UM_MSG_RELAY_REGISTER || reserved || (m->flags & ~UM_RELAY_REGISTER_FLAG_PUBLIC_KEY))
		return -UM_EINVAL;
	if (m->flags & UM_RELAY_REGISTER_FLAG_PUBLIC_KEY)
		m->public_key = um_read_bytes(&r, UM_HSIG_PK_BYTES);
	m->tagged_len = r.pos;
	m->admission_tag = um_read_bytes(&r, UM_RELAY_TAG_BYTES);
	m->signed_len = r.pos;
	m->signature = um_read_bytes(&r, UM_HSIG_BYTES);
	if (um_reader_error(&r) || um_reader_left(&r) != 0)
		return -UM_ETRUNC;
	return 0;
}

int um_relay_register_verify(const struct um_relay_register *m, const uint8_t *in,
			     const uint8_t public_key[UM_HSIG_PK_BYTES])
{
	struct um_peer_id id;

	um_peer_id_from_public_key(&id, public_key);
	if (sodium_memcmp(id.bytes, m->id.bytes, UM_PEER_ID_BYTES) != 0)
		return -UM_EBADMSG;
	if (um_hsig_verify(m->signature, in, m->signed_len, UM_RELAY_REGISTER_CONTEXT, public_key) != 0)
		return -UM_EBADMSG;
	return 0;
}

int um_relay_register_check_admission(const struct um_relay_register *m, const uint8_t *in,
				      const uint8_t admission_key[UM_RELAY_ADMISSION_KEY_BYTES])
{
	uint8_t tag[UM_RELAY_TAG_BYTES];
	crypto_generichash(tag, sizeof(tag), in, m->tagged_len, admission_key, UM_RELAY_ADMISSION_KEY_BYTES);
	int rc = sodium_memcmp(tag, m->admission_tag, sizeof(tag)) == 0 ? 0 : -UM_EBADMSG;
	sodium_memzero(tag, sizeof(tag));
	return rc;
}

/* ---- keys and MACs ---------------------------------------------------- */

#define KEY_LABEL "umbra relay registration key v2"

int um_relay_registration_key(uint8_t key[UM_RELAY_KEY_BYTES], const uint8_t secret[UM_RELAY_X25519_BYTES],
			      const uint8_t peer_public[UM_RELAY_X25519_BYTES],
			      const uint8_t node_ephemeral[UM_RELAY_X25519_BYTES],
			      const uint8_t relay_ephemeral[UM_RELAY_X25519_BYTES],
			      const uint8_t nonce[UM_RELAY_NONCE_BYTES], const struct um_peer_id *id)
{
	uint8_t shared[crypto_scalarmult_BYTES];
	crypto_generichash_state st;
	int rc = 0;

	/* libsodium refuses an all-zero result (a low-order peer key). */
	if (crypto_scalarmult(shared, secret, peer_public) != 0) {
		rc = -UM_EBADMSG;
		goto out;
	}
	crypto_generichash_init(&st, shared, sizeof(shared), UM_RELAY_KEY_BYTES);
	crypto_generichash_update(&st, (const uint8_t *)KEY_LABEL, sizeof(KEY_LABEL) - 1);
	crypto_generichash_update(&st, nonce, UM_RELAY_NONCE_BYTES);
	crypto_generichash_update(&st, id->bytes, UM_PEER_ID_BYTES);
	crypto_generichash_update(&st, node_ephemeral, UM_RELAY_X25519_BYTES);
	crypto_generichash_update(&st, relay_ephemeral, UM_RELAY_X25519_BYTES);
	crypto_generichash_final(&st, key, UM_RELAY_KEY_BYTES);
out:
	sodium_memzero(shared, sizeof(shared));
	sodium_memzero(&st, sizeof(st));
	return rc;
}

static void mac_compute(uint8_t mac[UM_RELAY_MAC_BYTES], const uint8_t *in, size_t len, const uint8_t *key)
{
	crypto_generichash(mac, UM_RELAY_MAC_BYTES, in, len, key, UM_RELAY_KEY_BYTES);
}

int um_relay_mac_check(const uint8_t *in, size_t len, const uint8_t key[UM_RELAY_KEY_BYTES])
{
	uint8_t mac[UM_RELAY_MAC_BYTES];
	if (len < UM_RELAY_MAC_BYTES)
		return -UM_EBADMSG;
	mac_compute(mac, in, len - UM_RELAY_MAC_BYTES, key);
	int rc = sodium_memcmp(mac, in + len - UM_RELAY_MAC_BYTES, sizeof(mac)) == 0 ? 0 : -UM_EBADMSG;
	sodium_memzero(mac, sizeof(mac));
	return rc;
}

void um_relay_datagram_hash(uint8_t hash[UM_RELAY_HASH_BYTES], const uint8_t *in, size_t len)
{
	crypto_generichash(hash, UM_RELAY_HASH_BYTES, in, len, NULL, 0);
}

/* Appends the MAC over everything written so far (or m_mac without key). */
static int finish_mac(struct um_writer *w, uint8_t *out, const uint8_t *key, const uint8_t *m_mac)
{
	uint8_t *mac = um_write_reserve(w, UM_RELAY_MAC_BYTES);
	if (um_writer_error(w))
		return -UM_ERANGE;
	if (key)
		mac_compute(mac, out, w->pos - UM_RELAY_MAC_BYTES, key);
	else
		memcpy(mac, m_mac, UM_RELAY_MAC_BYTES);
	return (int)w->pos;
}

/* ---- REGISTER_ACK ------------------------------------------------------- */

int um_relay_register_ack_encode(uint8_t *out, size_t cap, const struct um_relay_register_ack *m, const uint8_t *key)
{
	struct um_writer w;
	if (m->observed.family != 4 && m->observed.family != 6)
		return -UM_EINVAL;
	um_writer_init(&w, out, cap);
	um_write_u8(&w, UM_MSG_RELAY_REGISTER_ACK);
	um_write_u8(&w, UM_RELAY_VERSION);
	um_write_u16(&w, m->keepalive_interval_s);
	um_write_bytes(&w, m->nonce, UM_RELAY_NONCE_BYTES);
	um_write_bytes(&w, m->ephemeral, UM_RELAY_X25519_BYTES);
	um_write_bytes(&w, m->challenge, UM_RELAY_CHALLENGE_BYTES);
	um_addr_write(&w, &m->observed);
	um_write_u16(&w, m->registration_timeout_s);
	um_write_u16(&w, m->max_payload);
	um_write_u32(&w, m->max_packets_per_s);
	um_write_u32(&w, m->max_bytes_per_s);
	return finish_mac(&w, out, key, m->mac);
}

int um_relay_register_ack_decode(struct um_relay_register_ack *m, const uint8_t *in, size_t len)
{
	struct um_reader r;

	memset(m, 0, sizeof(*m));
	if (len >= 2 && in[0] == UM_MSG_RELAY_REGISTER_ACK && in[1] != UM_RELAY_VERSION)
		return -UM_EVERSION;
	if (len != UM_RELAY_REGISTER_ACK_BYTES)
		return -UM_ETRUNC;
	um_reader_init(&r, in, len);
	uint8_t type = um_read_u8(&r);
	(void)um_read_u8(&r); /* version, checked above */
	m->keepalive_interval_s = um_read_u16(&r);
	um_read_copy(&r, m->nonce, UM_RELAY_NONCE_BYTES);
	um_read_copy(&r, m->ephemeral, UM_RELAY_X25519_BYTES);
	um_read_copy(&r, m->challenge, UM_RELAY_CHALLENGE_BYTES);
	int rc = um_addr_read(&r, &m->observed, false);
	m->registration_timeout_s = um_read_u16(&r);
	m->max_payload = um_read_u16(&r);
	m->max_packets_per_s = um_read_u32(&r);
	m->max_bytes_per_s = um_read_u32(&r);
	um_read_copy(&r, m->mac, UM_RELAY_MAC_BYTES);
	if (um_reader_error(&r))
		return -UM_ETRUNC;
	if (type != UM_MSG_RELAY_REGISTER_ACK || rc < 0)
		return -UM_EINVAL;
	return 0;
}

/* ---- KEEPALIVE ---------------------------------------------------------- */

#define KEEPALIVE_FLAGS (UM_RELAY_KEEPALIVE_FLAG_REPLY | UM_RELAY_KEEPALIVE_FLAG_CHALLENGE)

int um_relay_keepalive_encode(uint8_t *out, size_t cap, const struct um_relay_keepalive *m, const uint8_t *key)
{
	static const uint8_t zero[UM_RELAY_CHALLENGE_BYTES];
	struct um_writer w;
	if (m->flags & ~KEEPALIVE_FLAGS)
		return -UM_EINVAL;
	um_writer_init(&w, out, cap);
	um_write_u8(&w, UM_MSG_RELAY_KEEPALIVE);
	um_write_u8(&w, m->flags);
	um_write_u8(&w, UM_RELAY_VERSION);
	um_write_u8(&w, 0);
	um_write_bytes(&w, m->id.bytes, UM_PEER_ID_BYTES);
	um_write_u64(&w, m->sequence);
	um_write_bytes(&w, (m->flags & UM_RELAY_KEEPALIVE_FLAG_CHALLENGE) ? m->challenge : zero,
		       UM_RELAY_CHALLENGE_BYTES);
	um_addr_write(&w, &m->observed);
	return finish_mac(&w, out, key, m->mac);
}

int um_relay_keepalive_decode(struct um_relay_keepalive *m, const uint8_t *in, size_t len)
{
	struct um_reader r;

	memset(m, 0, sizeof(*m));
	/* Version 1 had a zero byte here (and 72 bytes). */
	if (len >= 3 && in[0] == UM_MSG_RELAY_KEEPALIVE && in[2] != UM_RELAY_VERSION)
		return -UM_EVERSION;
	if (len != UM_RELAY_KEEPALIVE_BYTES)
		return -UM_ETRUNC;
	um_reader_init(&r, in, len);
	uint8_t type = um_read_u8(&r);
	m->flags = um_read_u8(&r);
	(void)um_read_u8(&r); /* version, checked above */
	uint8_t reserved = um_read_u8(&r);
	um_read_copy(&r, m->id.bytes, UM_PEER_ID_BYTES);
	m->sequence = um_read_u64(&r);
	um_read_copy(&r, m->challenge, UM_RELAY_CHALLENGE_BYTES);
	int rc = um_addr_read(&r, &m->observed, true);
	um_read_copy(&r, m->mac, UM_RELAY_MAC_BYTES);
	if (um_reader_error(&r))
		return -UM_ETRUNC;
	if (type != UM_MSG_RELAY_KEEPALIVE || reserved || (m->flags & ~KEEPALIVE_FLAGS) || rc < 0)
		return -UM_EINVAL;
	/* Requests carry no endpoint; replies always do. No challenge bytes
	 * without the flag (one encoding per message). */
	bool reply = m->flags & UM_RELAY_KEEPALIVE_FLAG_REPLY;
	if (reply != (m->observed.family != 0))
		return -UM_EINVAL;
	if (!(m->flags & UM_RELAY_KEEPALIVE_FLAG_CHALLENGE) && !sodium_is_zero(m->challenge, sizeof(m->challenge)))
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
	return code >= UM_RELAY_ERR_UNKNOWN_PEER && code <= UM_RELAY_ERR_VERSION;
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
