/* SPDX-License-Identifier: MIT */
#include "msg/mailbox_record.h"

#include <sodium.h>
#include <string.h>

#include "crypto/sha3.h"
#include "util/buf.h"
#include "util/error.h"

enum {
	ED_PK_BYTES = 32,
	ED_SIG_BYTES = 64,
};

void um_mailbox_record_key(const uint8_t owner[UM_PEER_ID_BYTES], uint8_t key[32])
{
	uint8_t in[sizeof(UM_MAILBOX_RECORD_LABEL) - 1 + UM_PEER_ID_BYTES];

	memcpy(in, UM_MAILBOX_RECORD_LABEL, sizeof(UM_MAILBOX_RECORD_LABEL) - 1);
	memcpy(in + sizeof(UM_MAILBOX_RECORD_LABEL) - 1, owner, UM_PEER_ID_BYTES);
	um_sha3_256(key, in, sizeof(in));
}

int um_mailbox_record_build(uint8_t *out, size_t cap, size_t *len, const struct um_identity *identity,
			    const uint8_t *bundle, size_t bundle_len, const char *const *urls, size_t n_urls,
			    uint64_t sequence)
{
	struct um_prekey_bundle b;
	struct um_writer w;
	uint8_t *hsig, *edsig;
	int rc;

	if (!out || !len || !identity || !bundle || !urls || n_urls < 1 || n_urls > UM_MAILBOX_RECORD_URLS_MAX)
		return -UM_EINVAL;
	rc = um_prekey_bundle_decode(bundle, bundle_len, &b);
	if (rc < 0 || memcmp(b.owner, identity->id.bytes, UM_PEER_ID_BYTES))
		return -UM_EINVAL;
	um_writer_init(&w, out, cap);
	um_write_u8(&w, UM_MAILBOX_RECORD_VERSION);
	um_write_u8(&w, UM_MAILBOX_RECORD_TYPE);
	um_write_bytes(&w, identity->id.bytes, UM_PEER_ID_BYTES);
	um_write_u64(&w, sequence);
	um_write_u64(&w, b.expires_ms);
	um_write_u8(&w, (uint8_t)n_urls);
	for (size_t i = 0; i < n_urls; i++) {
		size_t n = urls[i] ? strlen(urls[i]) : 0;
		if (n < 1 || n > UM_MAILBOX_RECORD_URL_MAX)
			return -UM_EINVAL;
		um_write_u8(&w, (uint8_t)n);
		um_write_bytes(&w, urls[i], n);
	}
	um_write_bytes(&w, bundle, UM_PREKEY_SIGNED_BYTES);
	um_write_bytes(&w, identity->public_key, ED_PK_BYTES); /* pk = ed25519 pk || ML-DSA pk */
	hsig = um_write_reserve(&w, UM_HSIG_BYTES);
	edsig = um_write_reserve(&w, ED_SIG_BYTES);
	if (um_writer_error(&w))
		return -UM_ERANGE;
	rc = um_hsig_sign(hsig, out, (size_t)(hsig - out), UM_MAILBOX_RECORD_CONTEXT, identity->secret_key);
	if (rc < 0)
		return rc;
	/* sk = libsodium's ed25519 sk (seed || pk) || ML-DSA sk. */
	if (crypto_sign_detached(edsig, NULL, out, (size_t)(edsig - out), identity->secret_key) != 0)
		return -UM_EINVAL;
	*len = w.pos;
	return 0;
}

/* Layout, key, expiry and the Ed25519 signature; *signed_len: the bytes
 * the hybrid signature covers, *prekey at the embedded prekey. */
static int record_parse(const uint8_t key[32], const uint8_t *value, size_t len, uint64_t now_ms,
			struct um_mailbox_record *out, size_t *signed_len, const uint8_t **prekey)
{
	struct um_reader r;
	uint8_t want[32];
	const uint8_t *hsig, *edsig;

	if (!value || !out)
		return -UM_EINVAL;
	if (len < 2)
		return -UM_ETRUNC;
	if (value[0] != UM_MAILBOX_RECORD_VERSION)
		return -UM_EVERSION;
	if (value[1] != UM_MAILBOX_RECORD_TYPE)
		return -UM_EINVAL;
	if (len > UM_MAILBOX_RECORD_MAX)
		return -UM_EINVAL;
	memset(out, 0, sizeof(*out));
	um_reader_init(&r, value + 2, len - 2);
	um_read_copy(&r, out->owner, UM_PEER_ID_BYTES);
	out->sequence = um_read_u64(&r);
	out->expires_ms = um_read_u64(&r);
	out->n_urls = um_read_u8(&r);
	if (um_reader_error(&r))
		return -UM_ETRUNC;
	if (out->n_urls < 1 || out->n_urls > UM_MAILBOX_RECORD_URLS_MAX)
		return -UM_EINVAL;
	for (unsigned i = 0; i < out->n_urls; i++) {
		uint8_t n = um_read_u8(&r);
		const uint8_t *u = um_read_bytes(&r, n);
		if (um_reader_error(&r))
			return -UM_ETRUNC;
		if (n == 0 || memchr(u, 0, n))
			return -UM_EINVAL;
		memcpy(out->urls[i], u, n);
		out->urls[i][n] = '\0';
	}
	*prekey = um_read_bytes(&r, UM_PREKEY_SIGNED_BYTES);
	um_read_copy(&r, out->ed25519_pk, ED_PK_BYTES);
	*signed_len = 2 + r.pos;
	hsig = um_read_bytes(&r, UM_HSIG_BYTES);
	edsig = um_read_bytes(&r, ED_SIG_BYTES);
	if (um_reader_error(&r))
		return -UM_ETRUNC;
	if (um_reader_left(&r))
		return -UM_EINVAL;
	(void)hsig;
	um_mailbox_record_key(out->owner, want);
	if (!key || sodium_memcmp(want, key, 32) != 0)
		return -UM_EBADMSG;
	if (out->expires_ms <= now_ms)
		return -UM_EREPLAY;
	if (crypto_sign_verify_detached(edsig, value, len - ED_SIG_BYTES, out->ed25519_pk) != 0)
		return -UM_EBADMSG;
	return 0;
}

int um_mailbox_record_check(const uint8_t key[32], const uint8_t *value, size_t len, uint64_t now_ms,
			    struct um_mailbox_record *out)
{
	size_t signed_len;
	const uint8_t *prekey;

	return record_parse(key, value, len, now_ms, out, &signed_len, &prekey);
}

int um_mailbox_record_verify(const uint8_t *value, size_t len, const uint8_t owner_pk[UM_HSIG_PK_BYTES],
			     uint64_t now_ms, struct um_mailbox_record *out)
{
	uint8_t bundle[UM_PREKEY_BUNDLE_BYTES] = {0}, key[32];
	struct um_prekey_bundle b;
	struct um_peer_id owner;
	size_t signed_len;
	const uint8_t *prekey;
	int rc;

	if (!value || !owner_pk || !out || len < 2 + UM_PEER_ID_BYTES)
		return value && len < 2 + UM_PEER_ID_BYTES ? -UM_ETRUNC : -UM_EINVAL;
	um_peer_id_from_public_key(&owner, owner_pk);
	um_mailbox_record_key(owner.bytes, key);
	rc = record_parse(key, value, len, now_ms, out, &signed_len, &prekey);
	if (rc < 0)
		return rc;
	if (sodium_memcmp(out->ed25519_pk, owner_pk, ED_PK_BYTES) != 0)
		return -UM_EBADMSG;
	/* The signed part decoded as a bundle (its signature left zero). */
	memcpy(bundle, prekey, UM_PREKEY_SIGNED_BYTES);
	rc = um_prekey_bundle_decode(bundle, sizeof(bundle), &b);
	if (rc < 0)
		return rc == -UM_EVERSION ? rc : -UM_EINVAL;
	if (memcmp(b.owner, out->owner, UM_PEER_ID_BYTES) || b.expires_ms != out->expires_ms ||
	    b.created_ms > b.expires_ms || b.expires_ms - b.created_ms > UM_PREKEY_LIFETIME_MAX)
		return -UM_EINVAL;
	if (b.created_ms > now_ms && b.created_ms - now_ms > UM_PREKEY_FUTURE_MAX)
		return -UM_ERANGE;
	if (um_hsig_verify(value + signed_len, value, signed_len, UM_MAILBOX_RECORD_CONTEXT, owner_pk) != 0)
		return -UM_EBADMSG;
	memcpy(out->prekey.owner, b.owner, UM_PEER_ID_BYTES);
	out->prekey.id = b.id;
	out->prekey.created_ms = b.created_ms;
	out->prekey.expires_ms = b.expires_ms;
	memcpy(out->prekey.pk, b.pk, UM_HKEM_PK_BYTES);
	return 0;
}
