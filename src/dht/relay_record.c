/* SPDX-License-Identifier: MIT */
/* Relay records: how a node with no `relay =` line finds relays.
 *
 *   0  u8 version (1)      1 u8 type (2)   2 u8 UDP endpoint count (<= 4)
 *   3  u8 wss host length (0: no wss endpoint, else 1..64)
 *   4  u32 features
 *   8  relay ID [32]       40 u64 sequence 48 u64 issued  56 u64 expires
 *   64 UDP endpoints, 20 bytes each as in peer records with kind 0
 *   .. if a wss host: port u16, host
 *   || hybrid public key || hybrid signature, context "umbra dht relay record v1".
 * At least one endpoint. Public records live under SHA3-256("umbra dht
 * relays"), one value per relay (owner = relay ID); a private network's are
 * sealed (private_record.c). */
#include <string.h>

#include "dht/network_key.h"
#include "dht/record.h"
#include "dht/record_internal.h"
#include "util/error.h"

static const char relay_ctx[] = "umbra dht relay record v1";

int um_dht_relay_record_parse(struct um_dht_relay_record *rec, const uint8_t *value, size_t len, size_t *body_len)
{
	struct um_reader r;
	uint8_t host_len;
	int rc;

	if (!rec || (!value && len))
		return -UM_EINVAL;
	memset(rec, 0, sizeof(*rec));
	if (len < 2)
		return -UM_ETRUNC;
	if (value[0] != UM_DHT_RECORD_VERSION)
		return -UM_EVERSION;
	if (value[1] != UM_DHT_RECORD_RELAY)
		return -UM_EINVAL;
	if (len < UM_DHT_RECORD_BODY_FIXED)
		return -UM_ETRUNC;
	um_reader_init(&r, value + 2, len - 2);
	rec->udp_count = um_read_u8(&r);
	host_len = um_read_u8(&r);
	rec->features = um_read_u32(&r);
	um_read_copy(&r, rec->id.bytes, UM_PEER_ID_BYTES);
	rec->sequence = um_read_u64(&r);
	rec->issued = um_read_u64(&r);
	rec->expires = um_read_u64(&r);
	if (rec->udp_count > UM_DHT_RELAY_UDP_MAX || host_len > UM_DHT_HOST_MAX || (!rec->udp_count && !host_len))
		return -UM_EINVAL;
	for (unsigned i = 0; i < rec->udp_count; i++) {
		rc = um_dht_endpoint_read(&r, &rec->udp[i], true);
		if (rc < 0)
			return rc;
	}
	if (host_len) {
		const uint8_t *host;

		rec->wss_port = um_read_u16(&r);
		host = um_read_bytes(&r, host_len);
		if (!host)
			return -UM_ETRUNC;
		if (rec->wss_port == 0 || !um_dht_host_valid((const char *)host, host_len))
			return -UM_EINVAL;
		memcpy(rec->wss_host, host, host_len);
		rec->wss_host[host_len] = '\0';
	}
	*body_len = 2 + r.pos;
	if (len < *body_len + UM_DHT_SIGNED_OVERHEAD)
		return -UM_ETRUNC;
	if (len > *body_len + UM_DHT_SIGNED_OVERHEAD)
		return -UM_EINVAL;
	return um_dht_lifetime_check(rec->issued, rec->expires);
}

int um_dht_relay_record_verify(struct um_dht_relay_record *rec, const uint8_t key[32], const uint8_t *value, size_t len,
			       uint64_t now)
{
	struct um_dht_relay_record scratch;
	uint8_t public_key[32];
	size_t body_len = 0;
	int rc;

	if (!rec)
		rec = &scratch;
	rc = um_dht_relay_record_parse(rec, value, len, &body_len);
	if (rc == 0 && key) {
		um_dht_relay_key_public(public_key);
		if (memcmp(key, public_key, sizeof(public_key)) != 0)
			rc = -UM_EBADMSG; /* a public relay record belongs under the well-known key only */
	}
	if (rc == 0)
		rc = um_dht_times_check(rec->issued, rec->expires, now);
	if (rc == 0)
		rc = um_dht_signed_verify(value, len, body_len, &rec->id, relay_ctx);
	if (rc < 0)
		memset(rec, 0, sizeof(*rec));
	return rc;
}

int um_dht_relay_record_sign(uint8_t *out, size_t cap, size_t *out_len, const struct um_dht_relay_record *rec,
			     const struct um_identity *identity)
{
	struct um_writer w;
	size_t host_len;
	int rc;

	if (!out || !out_len || !rec || !identity)
		return -UM_EINVAL;
	host_len = rec->wss_port ? strnlen(rec->wss_host, sizeof(rec->wss_host)) : 0;
	if (rec->udp_count > UM_DHT_RELAY_UDP_MAX || (!rec->udp_count && !rec->wss_port))
		return -UM_EINVAL;
	if (rec->wss_port && !um_dht_host_valid(rec->wss_host, host_len))
		return -UM_EINVAL;
	if (um_dht_lifetime_check(rec->issued, rec->expires) < 0)
		return -UM_EINVAL;
	um_writer_init(&w, out, cap);
	um_write_u8(&w, UM_DHT_RECORD_VERSION);
	um_write_u8(&w, UM_DHT_RECORD_RELAY);
	um_write_u8(&w, (uint8_t)rec->udp_count);
	um_write_u8(&w, (uint8_t)host_len);
	um_write_u32(&w, rec->features);
	um_write_bytes(&w, identity->id.bytes, UM_PEER_ID_BYTES);
	um_write_u64(&w, rec->sequence);
	um_write_u64(&w, rec->issued);
	um_write_u64(&w, rec->expires);
	for (unsigned i = 0; i < rec->udp_count; i++) {
		rc = um_dht_endpoint_write(&w, &rec->udp[i], true);
		if (rc < 0)
			return rc;
	}
	if (host_len) {
		um_write_u16(&w, rec->wss_port);
		um_write_bytes(&w, rec->wss_host, host_len);
	}
	rc = um_dht_signed_finish(&w, relay_ctx, identity);
	if (rc < 0)
		return rc;
	*out_len = w.pos;
	return 0;
}

int um_dht_relay_lookup_keys(uint8_t keys[UM_DHT_RELAY_LOOKUP_KEYS_MAX][32], const struct um_network_key *key,
			     bool public_too, uint64_t now)
{
	uint64_t today = um_dht_day(now);
	int n = 0, rc;

	if (!keys)
		return -UM_EINVAL;
	if (key) {
		rc = um_dht_relay_key_private(keys[n++], key, today);
		if (rc < 0)
			return rc;
		if (today && now % 86400 < UM_DHT_PRIVATE_OVERLAP) {
			rc = um_dht_relay_key_private(keys[n++], key, today - 1);
			if (rc < 0)
				return rc;
		}
	}
	if (!key || public_too)
		um_dht_relay_key_public(keys[n++]);
	return n;
}

int um_dht_relay_value_open(struct um_dht_relay_record *rec, const struct um_network_key *key,
			    const uint8_t dht_key[32], const uint8_t *value, size_t len, uint64_t now)
{
	uint8_t public_key[32];

	if (!dht_key)
		return -UM_EINVAL;
	um_dht_relay_key_public(public_key);
	if (!memcmp(dht_key, public_key, sizeof(public_key)))
		return um_dht_relay_record_verify(rec, dht_key, value, len, now);
	if (rec)
		memset(rec, 0, sizeof(*rec));
	if (!key)
		return -UM_EBADMSG; /* not ours to open: no relay */
	return um_dht_private_relay_open(rec, key, dht_key, value, len, now);
}
