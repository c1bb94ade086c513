/* SPDX-License-Identifier: MIT */
/* Sealed envelope and prekey bundle layouts (wire/envelope.h). */
#include "wire/envelope.h"

#include <sodium.h>
#include <string.h>

#include "util/buf.h"
#include "util/error.h"

static const size_t bucket_sizes[UM_ENVELOPE_BUCKETS] = {8 * 1024, 16 * 1024, 32 * 1024, 64 * 1024, 96 * 1024};

size_t um_envelope_bucket_size(uint8_t bucket)
{
	return bucket < UM_ENVELOPE_BUCKETS ? bucket_sizes[bucket] : 0;
}

int um_envelope_bucket_for(size_t inner_len, uint8_t *bucket)
{
	for (uint8_t b = 0; b < UM_ENVELOPE_BUCKETS; b++) {
		if (inner_len <= bucket_sizes[b] - UM_ENVELOPE_OUTER_BYTES) {
			*bucket = b;
			return 0;
		}
	}
	return -UM_ERANGE;
}

void um_envelope_header_encode(uint8_t out[UM_ENVELOPE_HEADER_BYTES], const struct um_envelope_header *h)
{
	struct um_writer w;

	um_writer_init(&w, out, UM_ENVELOPE_HEADER_BYTES);
	um_write_u8(&w, h->version);
	um_write_u8(&w, h->bucket);
	um_write_bytes(&w, h->recipient, sizeof(h->recipient));
	um_write_bytes(&w, h->id, sizeof(h->id));
}

int um_envelope_header_parse(const uint8_t *env, size_t len, struct um_envelope_header *h)
{
	struct um_reader r;

	if (!env || len < UM_ENVELOPE_HEADER_BYTES)
		return -UM_ETRUNC;
	um_reader_init(&r, env, len);
	h->version = um_read_u8(&r);
	h->bucket = um_read_u8(&r);
	um_read_copy(&r, h->recipient, sizeof(h->recipient));
	um_read_copy(&r, h->id, sizeof(h->id));
	if (h->version != UM_ENVELOPE_VERSION)
		return -UM_EVERSION;
	if (um_envelope_bucket_size(h->bucket) != len)
		return -UM_EINVAL; /* unknown bucket (size 0) or a cut or stretched envelope */
	return 0;
}

size_t um_envelope_inner_signed_len(bool with_pk, size_t payload_len)
{
	return UM_ENVELOPE_INNER_FIXED_BYTES + (with_pk ? UM_HSIG_PK_BYTES : 0) + payload_len;
}

int um_envelope_inner_encode_signed(uint8_t *out, size_t cap, const struct um_envelope_inner *in)
{
	size_t n = um_envelope_inner_signed_len(in->sender_pk != NULL, in->len);
	struct um_writer w;

	if (in->len > UM_ENVELOPE_PAYLOAD_MAX || (in->len && !in->payload))
		return -UM_ERANGE;
	um_writer_init(&w, out, cap);
	um_write_u8(&w, in->sender_pk ? UM_ENVELOPE_FLAG_SENDER_PK : 0);
	um_write_bytes(&w, in->sender, sizeof(in->sender));
	if (in->sender_pk)
		um_write_bytes(&w, in->sender_pk, UM_HSIG_PK_BYTES);
	um_write_u64(&w, in->sent_ms);
	um_write_u8(&w, in->content_type);
	um_write_u32(&w, (uint32_t)in->len);
	um_write_bytes(&w, in->payload, in->len);
	if (um_writer_error(&w))
		return -UM_ERANGE;
	return (int)n;
}

int um_envelope_inner_decode(const uint8_t *plain, size_t plain_len, struct um_envelope_inner *out, size_t *signed_len)
{
	struct um_reader r;
	uint8_t flags, bucket;
	size_t used;

	if (!plain || plain_len < UM_ENVELOPE_INNER_FIXED_BYTES + UM_HSIG_BYTES)
		return -UM_EINVAL;
	um_reader_init(&r, plain, plain_len);
	flags = um_read_u8(&r);
	if (flags & ~UM_ENVELOPE_FLAG_SENDER_PK)
		return -UM_EINVAL;
	um_read_copy(&r, out->sender, sizeof(out->sender));
	out->sender_pk = flags & UM_ENVELOPE_FLAG_SENDER_PK ? um_read_bytes(&r, UM_HSIG_PK_BYTES) : NULL;
	out->sent_ms = um_read_u64(&r);
	out->content_type = um_read_u8(&r);
	out->len = um_read_u32(&r);
	if (um_reader_error(&r) || out->len > UM_ENVELOPE_PAYLOAD_MAX)
		return -UM_EINVAL;
	out->payload = um_read_bytes(&r, out->len);
	*signed_len = r.pos;
	out->signature = um_read_bytes(&r, UM_HSIG_BYTES);
	if (um_reader_error(&r))
		return -UM_EINVAL;
	used = r.pos;
	/* One encoding: zero padding, and the smallest bucket that fits. */
	if (!sodium_is_zero(plain + used, plain_len - used))
		return -UM_EINVAL;
	if (um_envelope_bucket_for(used, &bucket) != 0 ||
	    um_envelope_bucket_size(bucket) - UM_ENVELOPE_OUTER_BYTES != plain_len)
		return -UM_EINVAL;
	return 0;
}

void um_prekey_bundle_encode_signed(uint8_t out[UM_PREKEY_SIGNED_BYTES], const struct um_prekey_bundle *b)
{
	struct um_writer w;

	um_writer_init(&w, out, UM_PREKEY_SIGNED_BYTES);
	um_write_u8(&w, UM_PREKEY_VERSION);
	um_write_bytes(&w, b->owner, sizeof(b->owner));
	um_write_u32(&w, b->id);
	um_write_u64(&w, b->created_ms);
	um_write_u64(&w, b->expires_ms);
	um_write_bytes(&w, b->pk, UM_HKEM_PK_BYTES);
}

int um_prekey_bundle_decode(const uint8_t *in, size_t len, struct um_prekey_bundle *out)
{
	struct um_reader r;

	if (!in || len < 1)
		return -UM_ETRUNC;
	if (in[0] != UM_PREKEY_VERSION)
		return -UM_EVERSION;
	if (len < UM_PREKEY_BUNDLE_BYTES)
		return -UM_ETRUNC;
	if (len > UM_PREKEY_BUNDLE_BYTES)
		return -UM_EINVAL;
	um_reader_init(&r, in + 1, len - 1);
	um_read_copy(&r, out->owner, sizeof(out->owner));
	out->id = um_read_u32(&r);
	out->created_ms = um_read_u64(&r);
	out->expires_ms = um_read_u64(&r);
	out->pk = um_read_bytes(&r, UM_HKEM_PK_BYTES);
	out->signature = um_read_bytes(&r, UM_HSIG_BYTES);
	return um_reader_error(&r) ? -UM_ETRUNC : 0;
}
