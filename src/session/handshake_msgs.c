/* SPDX-License-Identifier: MIT */
/* The four handshake messages as create/consume pairs, and the key
 * schedule. Each function works on copies of the symmetric state and
 * commits only after every check passed, so a forged or tampered message
 * leaves the handshake exactly as it was. Every exit goes through `out:`,
 * which wipes the stack secrets. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/sha3.h"
#include "session/handshake_internal.h"
#include "util/error.h"

static const char CTX_CHALLENGE[] = "umbra-hs-v1 challenge";
static const char CTX_RESPONSE[] = "umbra-hs-v1 response";

/* Placeholder for the sealed part while the header is encoded and hashed. */
static const uint8_t zero_sealed[UM_HS_RESPONSE_SEALED_BYTES];
static const uint8_t zero_nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];

/* h = BLAKE2b-256(h || data). BLAKE2b rather than SHA3 for the transcript
 * because ~50 KB per handshake pass through it (identities, signatures,
 * KEM keys): with our portable Keccak that cost ~0.4 ms, with BLAKE2b ~0.1. */
void um_hs_mix_hash(uint8_t h[UM_HS_HASH_BYTES], const uint8_t *data, size_t len)
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, UM_HS_HASH_BYTES);
	crypto_generichash_update(&st, h, UM_HS_HASH_BYTES);
	crypto_generichash_update(&st, data, len);
	crypto_generichash_final(&st, h, UM_HS_HASH_BYTES);
	sodium_memzero(&st, sizeof(st));
}

/* out = SHAKE256("umbra-hs-v1 kdf" || len(label) || label || ck || ikm).
 * SHAKE needs no HMAC wrapper (no length extension); the fixed-length ck
 * and length-prefixed label make the input encoding unambiguous. */
static void kdf(uint8_t *out, size_t out_len, const uint8_t ck[UM_HS_KEY_BYTES], const char *label, const uint8_t *ikm,
		size_t ikm_len)
{
	static const char prefix[] = "umbra-hs-v1 kdf";
	struct um_keccak k;
	uint8_t label_len = (uint8_t)strlen(label);
	um_shake256_init(&k);
	um_keccak_absorb(&k, (const uint8_t *)prefix, sizeof(prefix) - 1);
	um_keccak_absorb(&k, &label_len, 1);
	um_keccak_absorb(&k, (const uint8_t *)label, label_len);
	um_keccak_absorb(&k, ck, UM_HS_KEY_BYTES);
	um_keccak_absorb(&k, ikm, ikm_len);
	um_keccak_squeeze(&k, out, out_len);
	um_keccak_wipe(&k);
}

static void mix_key(uint8_t ck[UM_HS_KEY_BYTES], const uint8_t *ikm, size_t len)
{
	uint8_t next[UM_HS_KEY_BYTES];
	kdf(next, sizeof(next), ck, "chain", ikm, len);
	memcpy(ck, next, sizeof(next));
	sodium_memzero(next, sizeof(next));
}

void um_hs_symmetric_init(struct um_hs_symmetric *sym, const struct um_peer_id *responder_id)
{
	static const char protocol[] = "umbra-hs-v1 X25519+MLKEM1024 Ed25519+MLDSA87 BLAKE2b SHAKE256";
	crypto_generichash(sym->h, UM_HS_HASH_BYTES, (const uint8_t *)protocol, sizeof(protocol) - 1, NULL, 0);
	memcpy(sym->ck, sym->h, UM_HS_KEY_BYTES);
	/* Prologue: the initiator commits to whom it means to reach. */
	um_hs_mix_hash(sym->h, responder_id->bytes, UM_PEER_ID_BYTES);
}

/* Session keys: initiator->responder, responder->initiator, and the one-shot
 * key that seals ESTABLISHED (kept apart from the data keys so ESTABLISHED
 * never shares a key/nonce pair with DATA). */
struct session_keys {
	uint8_t i2r[UM_HS_KEY_BYTES], r2i[UM_HS_KEY_BYTES], confirm[UM_HS_KEY_BYTES];
};

static void derive_session(struct session_keys *keys, const struct um_hs_symmetric *sym)
{
	kdf((uint8_t *)keys, sizeof(*keys), sym->ck, "session", sym->h, UM_HS_HASH_BYTES);
}

int um_hs_create_hello(struct um_handshake_engine *engine, struct um_handshake_peer *peer, struct um_handshake_time now)
{
	uint8_t nonce[UM_HS_NONCE_BYTES];

	randombytes_buf(peer->ephemeral_secret, sizeof(peer->ephemeral_secret));
	crypto_scalarmult_base(peer->ephemeral_public, peer->ephemeral_secret);
	randombytes_buf(nonce, sizeof(nonce));
	/* Strictly increasing even if the wall clock stalls or steps back a little. */
	uint64_t ts = now.wall_ms > peer->last_sent_ts_ms ? now.wall_ms : peer->last_sent_ts_ms + 1;
	peer->last_sent_ts_ms = ts;

	/* Holding the responder's verified key, we ask for the short
	 * CHALLENGE; the key is copied so that it stays for this initiation
	 * whatever the cache evicts meanwhile. */
	const struct um_key_cache_entry *known = um_key_cache_find(&engine->key_cache, &peer->id);
	if (known && !peer->responder_key && (peer->responder_key = malloc(UM_HSIG_PK_BYTES)))
		memcpy(peer->responder_key, known->public_key, UM_HSIG_PK_BYTES);

	/* In clear only whole seconds (no clock fingerprint); the exact,
	 * strictly increasing value goes sealed into RESPONSE. */
	struct um_hs_hello hello = {
	    .flags = peer->responder_key ? UM_HS_HELLO_HAVE_KEY : 0,
	    .sender_index = peer->local_index,
	    .ephemeral = peer->ephemeral_public,
	    .nonce = nonce,
	    .timestamp_ms = ts - ts % 1000,
	};
	int ret = um_hs_hello_encode(peer->hello, sizeof(peer->hello), &hello);
	if (ret < 0)
		return ret;
	um_cookie_add_macs(&peer->cookie, peer->hello, sizeof(peer->hello), now.mono_ns);
	um_hs_symmetric_init(&peer->sym, &peer->id);
	um_hs_mix_hash(peer->sym.h, peer->hello, UM_HS_HELLO_BODY_BYTES);
	peer->state = UM_HS_STATE_HELLO_SENT;
	um_hs_exchange_start(peer, now.mono_ns);
	return 0;
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (unsigned i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* AEAD keys: every form has its own label, so that the two sealings one
 * RESPONSE may get (short, then full) never share a key under the fixed
 * nonce. */
static const char LABEL_CHALLENGE[] = "challenge", LABEL_CHALLENGE_SHORT[] = "challenge-short";
static const char LABEL_RESPONSE[] = "response", LABEL_RESPONSE_SHORT[] = "response-short";

/* sealed = AEAD(KDF(ck, label, h), ad = h, plain). */
static void seal(const struct um_hs_symmetric *sym, const char *label, const uint8_t *plain, size_t len,
		 uint8_t *sealed)
{
	uint8_t key[UM_HS_KEY_BYTES];
	kdf(key, sizeof(key), sym->ck, label, sym->h, UM_HS_HASH_BYTES);
	crypto_aead_chacha20poly1305_ietf_encrypt(sealed, NULL, plain, len, sym->h, UM_HS_HASH_BYTES, NULL, zero_nonce,
						  key);
	sodium_memzero(key, sizeof(key));
}

/* The inverse: plain gets sealed_len - tag bytes; 0 or -UM_EBADMSG. */
static int open_sealed(const struct um_hs_symmetric *sym, const char *label, const uint8_t *sealed, size_t sealed_len,
		       uint8_t *plain)
{
	uint8_t key[UM_HS_KEY_BYTES];
	kdf(key, sizeof(key), sym->ck, label, sym->h, UM_HS_HASH_BYTES);
	int ok = crypto_aead_chacha20poly1305_ietf_decrypt(plain, NULL, NULL, sealed, sealed_len, sym->h,
							   UM_HS_HASH_BYTES, zero_nonce, key) == 0;
	sodium_memzero(key, sizeof(key));
	return ok ? 0 : -UM_EBADMSG;
}

int um_hs_challenge_compute(const struct um_identity *self, uint32_t local_index, uint32_t remote_index,
			    const uint8_t hello_ephemeral[32], const uint8_t *hello_bytes,
			    const uint8_t *kem_public_ready, uint8_t kem_secret[UM_HKEM_SK_BYTES], uint64_t key_epoch,
			    struct um_hs_symmetric *sym_out, uint8_t challenge[UM_HS_CHALLENGE_BYTES],
			    uint16_t *challenge_len)
{
	struct um_hs_symmetric sym;
	uint8_t kem_public[UM_HKEM_PK_BYTES];
	uint8_t dh[32], nonce[UM_HS_NONCE_BYTES];
	uint8_t plain[UM_HS_CHALLENGE_PLAIN_BYTES];
	/* The HELLO's flag (bytes 0..63 were decoded and checked). */
	bool short_form = hello_bytes[2] & UM_HS_HELLO_HAVE_KEY;
	size_t n = 0;
	int ret;

	um_hs_symmetric_init(&sym, &self->id);
	um_hs_mix_hash(sym.h, hello_bytes, UM_HS_HELLO_BODY_BYTES);

	/* Fresh ephemeral hybrid KEM key per handshake (forward secrecy); its
	 * X25519 half (sk = dk || x25519 sk || x25519 pk) also does the ee DH
	 * that seals our identity from passive observers. A precomputed pair
	 * (never used before) is as fresh. */
	if (kem_public_ready)
		memcpy(kem_public, kem_public_ready, sizeof(kem_public));
	else if ((ret = um_hkem_keygen(kem_public, kem_secret)) < 0)
		goto out;
	ret = -UM_EBADMSG;
	if (crypto_scalarmult(dh, kem_secret + UM_MLKEM1024_DK_BYTES, hello_ephemeral) != 0)
		goto out; /* low-order point */
	mix_key(sym.ck, dh, sizeof(dh));

	randombytes_buf(nonce, sizeof(nonce));
	struct um_hs_challenge msg = {
	    .sender_index = local_index,
	    .receiver_index = remote_index,
	    .nonce = nonce,
	    .kem_public = kem_public,
	    .short_form = short_form,
	    .sealed = zero_sealed,
	};
	if ((ret = um_hs_challenge_encode(challenge, UM_HS_CHALLENGE_BYTES, &msg)) < 0)
		goto out;
	*challenge_len = (uint16_t)ret;
	um_hs_mix_hash(sym.h, challenge, UM_HS_CHALLENGE_HEADER_BYTES);

	/* [our public key] || signature over h || our key-cache epoch. The
	 * prologue already holds our ID (the hash of the key), so the short
	 * form binds the same key as the full one. */
	if (!short_form) {
		memcpy(plain, self->public_key, UM_HSIG_PK_BYTES);
		n = UM_HSIG_PK_BYTES;
	}
	if ((ret = um_hsig_sign(plain + n, sym.h, UM_HS_HASH_BYTES, CTX_CHALLENGE, self->secret_key)) < 0)
		goto out;
	n += UM_HSIG_BYTES;
	put_u64(plain + n, key_epoch);
	n += UM_HS_EPOCH_BYTES;
	seal(&sym, short_form ? LABEL_CHALLENGE_SHORT : LABEL_CHALLENGE, plain, n,
	     challenge + UM_HS_CHALLENGE_HEADER_BYTES);
	um_hs_mix_hash(sym.h, challenge + UM_HS_CHALLENGE_HEADER_BYTES, n + UM_HS_TAG_BYTES);
	*sym_out = sym;
	ret = 0;
out:
	sodium_memzero(&sym, sizeof(sym));
	sodium_memzero(dh, sizeof(dh));
	if (ret < 0)
		sodium_memzero(kem_secret, UM_HKEM_SK_BYTES);
	return ret;
}

void um_hs_challenge_commit(struct um_hs_pending *pending)
{
	randombytes_buf(&pending->challenge_message_id, sizeof(pending->challenge_message_id));
	um_frag_sender_start(&pending->challenge_sender, UM_MSG_CHALLENGE, pending->remote_index,
			     pending->challenge_message_id, pending->challenge_len, pending->created_ns);
	pending->state = UM_HS_STATE_CHALLENGE_SENT;
}

int um_hs_create_challenge(struct um_handshake_engine *engine, struct um_hs_pending *pending,
			   const struct um_hs_hello *hello, const uint8_t *hello_bytes)
{
	int ret = um_hs_challenge_compute(engine->identity, pending->local_index, pending->remote_index,
					  hello->ephemeral, hello_bytes, NULL, pending->kem_secret, engine->key_epoch,
					  &pending->sym, pending->challenge, &pending->challenge_len);
	if (ret == 0)
		um_hs_challenge_commit(pending);
	return ret;
}

/* Seals both RESPONSE forms' identity parts after the header (sym.h covers
 * it): the full one into peer->response, the short one (when wanted) into
 * peer->response_short, one signature for both; fills the final
 * transcripts (*full and h_short) with the sealed bytes and our peer ID. */
static int seal_response(const struct um_identity *self, struct um_handshake_peer *peer, bool want_short,
			 uint64_t key_epoch, const struct um_hs_symmetric *sym, struct um_hs_symmetric *full,
			 uint8_t h_short[UM_HS_HASH_BYTES])
{
	uint8_t plain[UM_HS_RESPONSE_PLAIN_BYTES];
	uint8_t sig[UM_HSIG_BYTES], tail[UM_HS_TIMESTAMP_BYTES + UM_HS_EPOCH_BYTES];
	int ret;

	if ((ret = um_hsig_sign(sig, sym->h, UM_HS_HASH_BYTES, CTX_RESPONSE, self->secret_key)) < 0)
		return ret;
	put_u64(tail, peer->last_sent_ts_ms);
	put_u64(tail + UM_HS_TIMESTAMP_BYTES, key_epoch);

	memcpy(plain, self->public_key, UM_HSIG_PK_BYTES);
	memcpy(plain + UM_HSIG_PK_BYTES, sig, UM_HSIG_BYTES);
	memcpy(plain + UM_HS_IDENTITY_PLAIN_BYTES, tail, sizeof(tail));
	seal(sym, LABEL_RESPONSE, plain, UM_HS_RESPONSE_PLAIN_BYTES, peer->response + UM_HS_RESPONSE_HEADER_BYTES);
	*full = *sym;
	um_hs_mix_hash(full->h, peer->response + UM_HS_RESPONSE_HEADER_BYTES, UM_HS_RESPONSE_SEALED_BYTES);
	um_hs_mix_hash(full->h, self->id.bytes, UM_PEER_ID_BYTES);
	if (!want_short)
		return 0;

	memcpy(peer->response_short, peer->response, UM_HS_RESPONSE_HEADER_BYTES);
	memcpy(plain, self->id.bytes, UM_PEER_ID_BYTES);
	memcpy(plain + UM_PEER_ID_BYTES, sig, UM_HSIG_BYTES);
	memcpy(plain + UM_PEER_ID_BYTES + UM_HSIG_BYTES, tail, sizeof(tail));
	seal(sym, LABEL_RESPONSE_SHORT, plain, UM_HS_RESPONSE_SHORT_PLAIN_BYTES,
	     peer->response_short + UM_HS_RESPONSE_HEADER_BYTES);
	memcpy(h_short, sym->h, UM_HS_HASH_BYTES);
	um_hs_mix_hash(h_short, peer->response_short + UM_HS_RESPONSE_HEADER_BYTES, UM_HS_RESPONSE_SHORT_SEALED_BYTES);
	um_hs_mix_hash(h_short, self->id.bytes, UM_PEER_ID_BYTES);
	return 0;
}

static void start_response(struct um_handshake_peer *peer)
{
	size_t len;
	(void)um_hs_response_in_flight(peer, &len);
	randombytes_buf(&peer->response_message_id, sizeof(peer->response_message_id));
	/* Time 0: the first ACK opens the sender's first window. */
	um_frag_sender_start(&peer->response_sender, UM_MSG_RESPONSE, peer->remote_index, peer->response_message_id,
			     len, 0);
}

void um_hs_response_use_full(struct um_handshake_peer *peer)
{
	peer->response_is_short = false;
	start_response(peer);
}

int um_hs_consume_challenge(struct um_handshake_engine *engine, struct um_handshake_peer *peer, const uint8_t *msg,
			    size_t len)
{
	struct um_hs_challenge ch;
	struct um_hs_symmetric sym, full;
	struct um_peer_id claimed;
	uint8_t dh[32], shared[UM_HKEM_SS_BYTES], h_short[UM_HS_HASH_BYTES];
	uint8_t kem_ct[UM_HKEM_CT_BYTES];
	uint8_t plain[UM_HS_CHALLENGE_PLAIN_BYTES];
	const struct um_identity *self = engine->identity;
	const uint8_t *key, *sig;
	int ret;

	sym = peer->sym;
	if ((ret = um_hs_challenge_decode(&ch, msg, len)) < 0)
		goto out;
	ret = -UM_ESTATE;
	if (peer->state != UM_HS_STATE_HELLO_SENT || ch.receiver_index != peer->local_index)
		goto out;

	ret = -UM_EBADMSG;
	/* The short form only if our HELLO asked for it (we hold the key). */
	if (ch.short_form && !peer->responder_key)
		goto out;
	if (crypto_scalarmult(dh, peer->ephemeral_secret, ch.kem_public + UM_MLKEM1024_EK_BYTES) != 0)
		goto out;
	mix_key(sym.ck, dh, sizeof(dh));
	um_hs_mix_hash(sym.h, msg, UM_HS_CHALLENGE_HEADER_BYTES);
	size_t sealed_len = ch.short_form ? UM_HS_CHALLENGE_SHORT_SEALED_BYTES : UM_HS_CHALLENGE_SEALED_BYTES;
	if ((ret = open_sealed(&sym, ch.short_form ? LABEL_CHALLENGE_SHORT : LABEL_CHALLENGE, ch.sealed, sealed_len,
			       plain)) < 0)
		goto out;
	ret = -UM_EBADMSG;
	if (ch.short_form) {
		key = peer->responder_key; /* hashed to peer->id when it was cached */
		sig = plain;
	} else {
		/* The key must hash to the ID we pinned; only then is the
		 * signature worth checking (cheap check first). */
		um_peer_id_from_public_key(&claimed, plain);
		if (sodium_memcmp(claimed.bytes, peer->id.bytes, UM_PEER_ID_BYTES) != 0)
			goto out;
		key = plain;
		sig = plain + UM_HSIG_PK_BYTES;
	}
	if (um_hsig_verify(sig, sym.h, UM_HS_HASH_BYTES, CTX_CHALLENGE, key) != 0) {
		/* The one exception to "state untouched": a short CHALLENGE that
		 * opened but does not verify under the cached key. Forged (an
		 * on-path party that saw the HELLO), or the cache is wrong:
		 * either way the key is not trusted again without a full
		 * handshake, and the timer sends a new HELLO without the flag
		 * (peer->responder_key stays until then, so the real short
		 * CHALLENGE, if one comes, still verifies). */
		if (ch.short_form) {
			um_key_cache_forget(&engine->key_cache, &peer->id);
			peer->hello_renew = true;
		}
		goto out;
	}
	uint64_t epoch = get_u64(sig + UM_HSIG_BYTES);
	um_hs_mix_hash(sym.h, ch.sealed, sealed_len);

	/* Verified: keep the key for our next handshakes. Does the responder
	 * hold ours? It verified it under the epoch we noted, if that is the
	 * one it sends now (it did not restart since). */
	struct um_key_cache_entry *entry = um_key_cache_put(&engine->key_cache, &peer->id, key);
	bool want_short = entry && epoch && entry->peer_epoch == epoch;

	/* Encapsulate to the responder's ephemeral hybrid key. */
	if ((ret = um_hkem_encaps(kem_ct, shared, ch.kem_public)) < 0)
		goto out;
	mix_key(sym.ck, shared, sizeof(shared));

	ret = -UM_ENOMEM;
	if (!peer->response && !(peer->response = malloc(UM_HS_RESPONSE_BYTES)))
		goto out;
	if (want_short && !peer->response_short && !(peer->response_short = malloc(UM_HS_RESPONSE_SHORT_BYTES)))
		want_short = false;
	struct um_hs_response resp = {
	    .sender_index = peer->local_index,
	    .receiver_index = ch.sender_index,
	    .kem_ciphertext = kem_ct,
	    .sealed = zero_sealed,
	};
	if ((ret = um_hs_response_encode(peer->response, UM_HS_RESPONSE_BYTES, &resp)) < 0)
		goto out;
	um_hs_mix_hash(sym.h, peer->response, UM_HS_RESPONSE_HEADER_BYTES);
	if ((ret = seal_response(self, peer, want_short, engine->key_epoch, &sym, &full, h_short)) < 0)
		goto out;

	peer->sym = full;
	memcpy(peer->h_short, h_short, sizeof(h_short));
	peer->response_is_short = want_short;
	peer->challenge_epoch = epoch;
	peer->remote_index = ch.sender_index;
	peer->state = UM_HS_STATE_RESPONSE_SENT;
	start_response(peer);
	/* The ephemeral DH key has done its job: drop it now. */
	sodium_memzero(peer->ephemeral_secret, sizeof(peer->ephemeral_secret));
	ret = 0;
out:
	sodium_memzero(&sym, sizeof(sym));
	sodium_memzero(&full, sizeof(full));
	sodium_memzero(dh, sizeof(dh));
	sodium_memzero(shared, sizeof(shared));
	return ret;
}

/* The initiator's keypair (and event) into out. */
static void initiator_keys(struct um_handshake_output *out, const struct um_handshake_peer *peer,
			   const struct session_keys *keys, enum um_handshake_event event, uint64_t now_ns)
{
	out->event = event;
	out->peer_id = peer->id;
	out->initiator = true;
	memcpy(out->keypair.send_key, keys->i2r, UM_KEY_LEN);
	memcpy(out->keypair.recv_key, keys->r2i, UM_KEY_LEN);
	out->keypair.local_index = peer->local_index;
	out->keypair.remote_index = peer->remote_index;
	out->keypair.created_ns = now_ns;
	out->keypair.initiator = true;
}

void um_hs_early_keys(struct um_handshake_peer *peer, uint64_t now_ns, struct um_handshake_output *out)
{
	struct um_hs_symmetric sym = peer->sym;
	struct session_keys keys;

	if (peer->response_is_short)
		memcpy(sym.h, peer->h_short, sizeof(sym.h));
	derive_session(&keys, &sym);
	initiator_keys(out, peer, &keys, UM_HS_EVENT_KEYS, now_ns);
	sodium_memzero(&sym, sizeof(sym));
	sodium_memzero(&keys, sizeof(keys));
}

static void established_ad(uint8_t ad[UM_HS_ESTABLISHED_HEADER_BYTES + UM_HS_HASH_BYTES], const uint8_t *header,
			   const uint8_t h[UM_HS_HASH_BYTES])
{
	memcpy(ad, header, UM_HS_ESTABLISHED_HEADER_BYTES);
	memcpy(ad + UM_HS_ESTABLISHED_HEADER_BYTES, h, UM_HS_HASH_BYTES);
}

int um_hs_consume_response(struct um_handshake_engine *engine, struct um_hs_pending *pending, const uint8_t *msg,
			   size_t len, struct um_handshake_time now, struct um_handshake_output *out)
{
	struct um_hs_response resp;
	struct um_hs_symmetric sym;
	struct um_peer_id claimed;
	struct session_keys keys;
	struct um_hs_params params;
	struct um_handshake_peer *peer;
	struct um_key_cache_entry *entry = NULL;
	uint8_t shared[UM_HKEM_SS_BYTES];
	uint8_t plain[UM_HS_RESPONSE_PLAIN_BYTES];
	uint8_t params_plain[UM_HS_ESTABLISHED_PLAIN_BYTES];
	uint8_t ad[UM_HS_ESTABLISHED_HEADER_BYTES + UM_HS_HASH_BYTES];
	uint8_t sealed[UM_HS_ESTABLISHED_PLAIN_BYTES + UM_HS_TAG_BYTES];
	const uint8_t *key, *sig;
	int ret;

	sym = pending->sym;
	if ((ret = um_hs_response_decode(&resp, msg, len)) < 0)
		goto out;
	ret = -UM_ESTATE;
	if (pending->state != UM_HS_STATE_CHALLENGE_SENT || resp.receiver_index != pending->local_index)
		goto out;
	ret = -UM_EBADMSG;
	if (resp.sender_index != pending->remote_index)
		goto out;
	/* Bounds the decapsulations an on-path attacker can make us do. */
	ret = -UM_ELIMIT;
	if (++pending->attempts > UM_HS_MAX_RESPONSE_ATTEMPTS)
		goto out;

	if ((ret = um_hkem_decaps(shared, resp.kem_ciphertext, pending->kem_secret)) < 0)
		goto out;
	mix_key(sym.ck, shared, sizeof(shared));
	um_hs_mix_hash(sym.h, msg, UM_HS_RESPONSE_HEADER_BYTES);
	size_t sealed_len = resp.short_form ? UM_HS_RESPONSE_SHORT_SEALED_BYTES : UM_HS_RESPONSE_SEALED_BYTES;
	if ((ret = open_sealed(&sym, resp.short_form ? LABEL_RESPONSE_SHORT : LABEL_RESPONSE, resp.sealed, sealed_len,
			       plain)) < 0)
		goto out;
	if (resp.short_form) {
		memcpy(claimed.bytes, plain, UM_PEER_ID_BYTES);
		sig = plain + UM_PEER_ID_BYTES;
	} else {
		um_peer_id_from_public_key(&claimed, plain);
		sig = plain + UM_HSIG_PK_BYTES;
	}
	ret = -UM_ENOTFOUND;
	if (!(peer = um_hs_find_peer_by_id(engine, &claimed)) && !engine->config.admit)
		goto out;
	if (resp.short_form) {
		/* Its key must be one we verified before (it hashes to the ID);
		 * otherwise the initiator's timer sends the full form. */
		ret = -UM_EAGAIN;
		if (!(entry = um_key_cache_find(&engine->key_cache, &claimed)))
			goto out;
		key = entry->public_key;
	} else {
		key = plain;
	}
	ret = -UM_EBADMSG;
	if (um_hsig_verify(sig, sym.h, UM_HS_HASH_BYTES, CTX_RESPONSE, key) != 0)
		goto out;
	/* Responder mode (a relay): admitted only with a verified signature. */
	if (!peer && !(peer = um_hs_admit(engine, &claimed, &ret)))
		goto out;
	/* Authenticated now: the exact HELLO timestamp is sealed under a key
	 * only the signer of this transcript holds, and must agree with the
	 * whole seconds in the HELLO (which the signature covers); this is the
	 * per-peer monotonic replay check. */
	uint64_t exact_ts = get_u64(sig + UM_HSIG_BYTES);
	uint64_t peer_epoch = get_u64(sig + UM_HSIG_BYTES + UM_HS_TIMESTAMP_BYTES);
	ret = -UM_EBADMSG;
	if (exact_ts - exact_ts % 1000 != pending->hello_ts_ms)
		goto out;
	ret = -UM_EREPLAY;
	if (exact_ts <= peer->last_accepted_ts_ms)
		goto out;
	/* Both forms end the transcript with the initiator's ID, the hash of
	 * the key the signature verified under. */
	um_hs_mix_hash(sym.h, resp.sealed, sealed_len);
	um_hs_mix_hash(sym.h, claimed.bytes, UM_PEER_ID_BYTES);
	derive_session(&keys, &sym);

	memset(&params, 0, sizeof(params));
	randombytes_buf(params.session_id, sizeof(params.session_id));
	params.mtu = engine->config.mtu;
	params.heartbeat_s = engine->config.heartbeat_s;
	params.rotation_s = engine->config.rotation_s;
	params.flags = engine->config.direct_p2p ? UM_HS_FLAG_DIRECT_P2P : 0;
	params.observed = pending->source;
	um_hs_params_encode(params_plain, &params);
	struct um_hs_established est = {
	    .receiver_index = pending->remote_index,
	    .sender_index = pending->local_index,
	    .sealed = sealed,
	};
	memset(sealed, 0, sizeof(sealed));
	if ((ret = um_hs_established_encode(pending->established, sizeof(pending->established), &est)) < 0)
		goto out;
	established_ad(ad, pending->established, sym.h);
	crypto_aead_chacha20poly1305_ietf_encrypt(pending->established + UM_HS_ESTABLISHED_HEADER_BYTES, NULL,
						  params_plain, sizeof(params_plain), ad, sizeof(ad), NULL, zero_nonce,
						  keys.confirm);

	/* Commit. The initiator verified our key for this CHALLENGE: under
	 * its epoch it holds it (for our short RESPONSEs to it later). */
	if (!entry)
		entry = um_key_cache_put(&engine->key_cache, &claimed, key);
	if (entry)
		entry->peer_epoch = peer_epoch;
	peer->last_accepted_ts_ms = exact_ts;
	crypto_generichash(pending->response_digest, sizeof(pending->response_digest), msg, UM_HS_RESPONSE_HEADER_BYTES,
			   NULL, 0);
	pending->state = UM_HS_STATE_ESTABLISHED_SENT;
	pending->created_ns = now.mono_ns;
	sodium_memzero(pending->kem_secret, sizeof(pending->kem_secret));
	sodium_memzero(&pending->sym, sizeof(pending->sym));

	out->event = UM_HS_EVENT_ESTABLISHED;
	out->peer = peer;
	out->peer_user = peer->user;
	out->peer_id = peer->id;
	out->initiator = false;
	memcpy(out->keypair.send_key, keys.r2i, UM_KEY_LEN);
	memcpy(out->keypair.recv_key, keys.i2r, UM_KEY_LEN);
	out->keypair.local_index = pending->local_index;
	out->keypair.remote_index = pending->remote_index;
	out->keypair.created_ns = now.mono_ns;
	out->keypair.initiator = false;
	out->params = params;
	out->peer_endpoint = pending->source;
	out->peer_route = pending->source_route;
	ret = 0;
out:
	sodium_memzero(&sym, sizeof(sym));
	sodium_memzero(&keys, sizeof(keys));
	sodium_memzero(shared, sizeof(shared));
	return ret;
}

int um_hs_consume_established(struct um_handshake_engine *engine, struct um_handshake_peer *peer, const uint8_t *msg,
			      size_t len, struct um_handshake_time now, struct um_handshake_output *out)
{
	struct um_hs_established est;
	struct session_keys keys;
	struct um_hs_params params;
	uint8_t params_plain[UM_HS_ESTABLISHED_PLAIN_BYTES];
	uint8_t ad[UM_HS_ESTABLISHED_HEADER_BYTES + UM_HS_HASH_BYTES];
	int ret;

	memset(&keys, 0, sizeof(keys));
	if ((ret = um_hs_established_decode(&est, msg, len)) < 0)
		goto out;
	ret = -UM_ESTATE;
	if (peer->state != UM_HS_STATE_RESPONSE_SENT || est.receiver_index != peer->local_index)
		goto out;
	ret = -UM_EBADMSG;
	if (est.sender_index != peer->remote_index)
		goto out;
	/* The responder took the form in flight, or the other one we sent
	 * (the short form whose ESTABLISHED was lost while the timer moved on
	 * to the full one): both transcripts are tried. */
	struct um_hs_symmetric sym = peer->sym;
	bool opened = false;
	for (unsigned form = 0; form < 2 && !opened; form++) {
		bool short_form = form == 0 ? peer->response_is_short : !peer->response_is_short;
		if (short_form && !peer->response_short)
			continue;
		if (short_form)
			memcpy(sym.h, peer->h_short, sizeof(sym.h));
		else
			sym = peer->sym;
		derive_session(&keys, &sym);
		established_ad(ad, msg, sym.h);
		opened = crypto_aead_chacha20poly1305_ietf_decrypt(params_plain, NULL, NULL, est.sealed,
								   UM_HS_ESTABLISHED_PLAIN_BYTES + UM_HS_TAG_BYTES, ad,
								   sizeof(ad), zero_nonce, keys.confirm) == 0;
	}
	sodium_memzero(&sym, sizeof(sym));
	if (!opened)
		goto out;
	if ((ret = um_hs_params_decode(&params, params_plain)) < 0)
		goto out;

	out->peer = peer;
	out->peer_user = peer->user;
	initiator_keys(out, peer, &keys, UM_HS_EVENT_ESTABLISHED, now.mono_ns);
	out->params = params;
	out->peer_endpoint = peer->to;
	out->peer_route = peer->to_route;
	/* The responder verified our key under the epoch its CHALLENGE gave:
	 * our next RESPONSE to it may be short. */
	struct um_key_cache_entry *entry = um_key_cache_find(&engine->key_cache, &peer->id);
	if (entry)
		entry->peer_epoch = peer->challenge_epoch;
	um_hs_peer_reset(engine, peer);
	ret = 0;
out:
	sodium_memzero(&keys, sizeof(keys));
	return ret;
}
