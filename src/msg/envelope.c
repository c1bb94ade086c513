/* SPDX-License-Identifier: MIT */
/* Sealed envelopes (msg/envelope.h). */
#include "msg/envelope.h"

#include <sodium.h>
#include <string.h>

#include "crypto/sha3.h"
#include "util/buf.h"
#include "util/error.h"

static const char transcript_label[] = "umbra envelope transcript v1";
static const char key_label[] = "umbra envelope key v1";

enum {
	KEY_BYTES = crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
	NONCE_BYTES = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
};

_Static_assert(KEY_BYTES == 32 && NONCE_BYTES == 24, "XChaCha20-Poly1305-IETF");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_ABYTES == UM_ENVELOPE_TAG_BYTES, "tag size");

static void absorb_label(struct um_keccak *h, const char *label, size_t len)
{
	uint8_t n = (uint8_t)len;

	um_keccak_absorb(h, &n, 1);
	um_keccak_absorb(h, (const uint8_t *)label, len);
}

/* key | nonce from the KEM secret and the envelope's prefix (header,
 * prekey ID, KEM ciphertext) and the prekey's public key. */
static void derive(uint8_t okm[KEY_BYTES + NONCE_BYTES], const uint8_t ss[UM_HKEM_SS_BYTES], const uint8_t *prefix,
		   const uint8_t prekey_pk[UM_HKEM_PK_BYTES])
{
	uint8_t transcript[UM_SHA3_256_BYTES];
	struct um_keccak h;

	um_sha3_256_init(&h);
	absorb_label(&h, transcript_label, sizeof(transcript_label) - 1);
	um_keccak_absorb(&h, prefix, UM_ENVELOPE_BODY_OFFSET);
	um_keccak_absorb(&h, prekey_pk, UM_HKEM_PK_BYTES);
	um_keccak_squeeze(&h, transcript, sizeof(transcript));
	um_shake256_init(&h);
	absorb_label(&h, key_label, sizeof(key_label) - 1);
	um_keccak_absorb(&h, ss, UM_HKEM_SS_BYTES);
	um_keccak_absorb(&h, transcript, sizeof(transcript));
	um_keccak_squeeze(&h, okm, KEY_BYTES + NONCE_BYTES);
	um_keccak_wipe(&h);
}

int um_envelope_seal(const struct um_identity *sender, const struct um_prekey_public *to,
		     const uint8_t envelope_id[UM_ENVELOPE_ID_BYTES], uint64_t sent_ms, uint8_t content_type,
		     const uint8_t *payload, size_t len, bool include_sender_pk, uint8_t *out, size_t cap,
		     size_t *out_len)
{
	struct um_envelope_header h = {.version = UM_ENVELOPE_VERSION};
	struct um_envelope_inner in = {0};
	uint8_t ss[UM_HKEM_SS_BYTES], okm[KEY_BYTES + NONCE_BYTES];
	uint8_t *plain = out + UM_ENVELOPE_BODY_OFFSET;
	size_t size = 0, plain_len, signed_len;
	int rc;

	if (!sender || !to || !envelope_id || !out || !out_len || (len && !payload))
		return -UM_EINVAL;
	if (len > UM_ENVELOPE_PAYLOAD_MAX)
		return -UM_ERANGE;
	if (sent_ms >= to->expires_ms)
		return -UM_EREPLAY;
	signed_len = um_envelope_inner_signed_len(include_sender_pk, len);
	if (um_envelope_bucket_for(signed_len + UM_HSIG_BYTES, &h.bucket) != 0)
		return -UM_ERANGE;
	size = um_envelope_bucket_size(h.bucket);
	if (cap < size)
		return -UM_ERANGE;
	plain_len = size - UM_ENVELOPE_OUTER_BYTES;

	memcpy(h.recipient, to->owner, sizeof(h.recipient));
	memcpy(h.id, envelope_id, sizeof(h.id));
	um_envelope_header_encode(out, &h);
	out[UM_ENVELOPE_PREKEY_ID_OFFSET] = (uint8_t)(to->id >> 24);
	out[UM_ENVELOPE_PREKEY_ID_OFFSET + 1] = (uint8_t)(to->id >> 16);
	out[UM_ENVELOPE_PREKEY_ID_OFFSET + 2] = (uint8_t)(to->id >> 8);
	out[UM_ENVELOPE_PREKEY_ID_OFFSET + 3] = (uint8_t)to->id;
	rc = um_hkem_encaps(out + UM_ENVELOPE_KEM_CT_OFFSET, ss, to->pk);
	if (rc < 0)
		goto out;

	/* The plaintext is built in place, then encrypted over itself. */
	memcpy(in.sender, sender->id.bytes, sizeof(in.sender));
	in.sender_pk = include_sender_pk ? sender->public_key : NULL;
	in.sent_ms = sent_ms;
	in.content_type = content_type;
	in.payload = payload;
	in.len = len;
	rc = um_envelope_inner_encode_signed(plain, plain_len, &in);
	if (rc < 0)
		goto out;
	/* prefix and the signed inner fields are contiguous in out. */
	rc = um_hsig_sign(plain + signed_len, out, UM_ENVELOPE_BODY_OFFSET + signed_len, UM_ENVELOPE_CONTEXT,
			  sender->secret_key);
	if (rc < 0)
		goto out;
	memset(plain + signed_len + UM_HSIG_BYTES, 0, plain_len - signed_len - UM_HSIG_BYTES);

	derive(okm, ss, out, to->pk);
	crypto_aead_xchacha20poly1305_ietf_encrypt(plain, NULL, plain, plain_len, out, UM_ENVELOPE_BODY_OFFSET, NULL,
						   okm + KEY_BYTES, okm);
	*out_len = size;
	rc = 0;
out:
	if (rc < 0)
		sodium_memzero(out, size);
	sodium_memzero(ss, sizeof(ss));
	sodium_memzero(okm, sizeof(okm));
	return rc;
}

/* The sender's key: the one in the envelope, else the lookup's; either
 * must hash to the sender ID. */
static int sender_key(const struct um_envelope_inner *in, const struct um_envelope_key_lookup *lookup,
		      uint8_t pk[UM_HSIG_PK_BYTES])
{
	struct um_peer_id id;

	if (in->sender_pk)
		memcpy(pk, in->sender_pk, UM_HSIG_PK_BYTES);
	else if (!lookup || !lookup->find || lookup->find(lookup->ctx, in->sender, pk) != 0)
		return -UM_EAGAIN;
	um_peer_id_from_public_key(&id, pk);
	return sodium_memcmp(id.bytes, in->sender, UM_PEER_ID_BYTES) == 0 ? 0 : -UM_EBADMSG;
}

int um_envelope_open(const struct um_prekey_ring *ring, const uint8_t my_id[UM_PEER_ID_BYTES], const uint8_t *env,
		     size_t len, const struct um_envelope_key_lookup *lookup, struct um_envelope_opened *out)
{
	uint8_t pk[UM_HSIG_PK_BYTES];
	struct um_envelope_header h;
	struct um_envelope_inner in;
	const struct um_prekey_entry *prekey;
	uint8_t ss[UM_HKEM_SS_BYTES], okm[KEY_BYTES + NONCE_BYTES];
	size_t plain_len, signed_len = 0;
	uint8_t *plain;
	uint32_t prekey_id;
	int rc;

	if (!ring || !my_id || !out || !out->buf)
		return -UM_EINVAL;
	rc = um_envelope_header_parse(env, len, &h);
	if (rc < 0)
		return rc;
	if (sodium_memcmp(h.recipient, my_id, UM_PEER_ID_BYTES) != 0)
		return -UM_ENOTFOUND;
	prekey_id = (uint32_t)env[UM_ENVELOPE_PREKEY_ID_OFFSET] << 24 |
		    (uint32_t)env[UM_ENVELOPE_PREKEY_ID_OFFSET + 1] << 16 |
		    (uint32_t)env[UM_ENVELOPE_PREKEY_ID_OFFSET + 2] << 8 | env[UM_ENVELOPE_PREKEY_ID_OFFSET + 3];
	prekey = um_prekey_ring_find(ring, prekey_id);
	if (!prekey)
		return -UM_ENOKEY;
	if (out->cap < len)
		return -UM_ERANGE;
	plain_len = len - UM_ENVELOPE_OUTER_BYTES;
	plain = out->buf + UM_ENVELOPE_BODY_OFFSET;
	/* The prefix beside the plaintext: the signed message is contiguous. */
	memcpy(out->buf, env, UM_ENVELOPE_BODY_OFFSET);

	rc = um_hkem_decaps(ss, env + UM_ENVELOPE_KEM_CT_OFFSET, prekey->sk);
	if (rc < 0) {
		rc = -UM_ECHECKSUM; /* a low-order X25519 point: a damaged ciphertext */
		goto out;
	}
	derive(okm, ss, env, prekey->pub.pk);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, NULL, NULL, env + UM_ENVELOPE_BODY_OFFSET,
						       plain_len + UM_ENVELOPE_TAG_BYTES, env, UM_ENVELOPE_BODY_OFFSET,
						       okm + KEY_BYTES, okm) != 0) {
		rc = -UM_ECHECKSUM;
		goto out;
	}
	rc = um_envelope_inner_decode(plain, plain_len, &in, &signed_len);
	if (rc < 0)
		goto out;
	rc = sender_key(&in, lookup, pk);
	if (rc < 0)
		goto out;
	if (um_hsig_verify(in.signature, out->buf, UM_ENVELOPE_BODY_OFFSET + signed_len, UM_ENVELOPE_CONTEXT, pk) !=
	    0) {
		rc = -UM_EBADMSG;
		goto out;
	}
	memcpy(out->envelope_id, h.id, sizeof(out->envelope_id));
	out->prekey_id = prekey_id;
	memcpy(out->sender, in.sender, sizeof(out->sender));
	out->sender_pk = in.sender_pk;
	out->sent_ms = in.sent_ms;
	out->content_type = in.content_type;
	out->payload = in.payload;
	out->len = in.len;
	rc = 0;
out:
	if (rc < 0)
		sodium_memzero(out->buf, len);
	sodium_memzero(ss, sizeof(ss));
	sodium_memzero(okm, sizeof(okm));
	return rc;
}
