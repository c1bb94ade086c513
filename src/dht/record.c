/* SPDX-License-Identifier: MIT */
/* Public peer records, the pieces every record shares, and the validators
 * the engine calls (um_dht_value_ops.check).
 *
 * Peer record (all integers big-endian):
 *   0  u8 version (1)      1 u8 type (1)   2 u8 endpoint count (<= 8)
 *   3  u8 relay count (<= 4)               4 u32 features
 *   8  peer ID [32]        40 u64 sequence 48 u64 issued  56 u64 expires
 *   64 endpoints, 20 bytes each: kind u8 (1 reflexive, 2 lan, 3 mapped),
 *      family u8 (4, 6), port u16, address [16] (IPv4: 4 bytes, 12 zero)
 *   .. home relays: relay ID [32], transport u8 (1 udp, 2 wss), host length
 *      u8 (1..64), port u16, host
 *   || hybrid public key [2,624] || hybrid signature [4,691] over everything
 *   before it, context "umbra dht peer record v1".
 * The value must be exactly that long. Checks run cheapest first (shape, key
 * binding, times) so a forged value costs a verifier one SHA3 over the
 * public key at most, unless it names a real key: then the signature. */
#include "dht/record.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "crypto/hybrid.h"
#include "dht/record_internal.h"
#include "util/error.h"

static const char peer_ctx[] = "umbra dht peer record v1";

/* ---- shared codecs ---- */

int um_dht_endpoint_write(struct um_writer *w, const struct um_dht_endpoint *e, bool relay)
{
	uint8_t addr[16] = {0};

	if (relay ? e->kind != 0 : (e->kind < UM_DHT_ENDPOINT_REFLEXIVE || e->kind > UM_DHT_ENDPOINT_MAPPED))
		return -UM_EINVAL;
	if ((e->family != AF_INET && e->family != AF_INET6) || e->port == 0)
		return -UM_EINVAL;
	memcpy(addr, e->addr, e->family == AF_INET ? 4 : 16);
	um_write_u8(w, e->kind);
	um_write_u8(w, e->family == AF_INET ? 4 : 6);
	um_write_u16(w, e->port);
	um_write_bytes(w, addr, sizeof(addr));
	return um_writer_error(w) ? -UM_ERANGE : 0;
}

int um_dht_endpoint_read(struct um_reader *r, struct um_dht_endpoint *e, bool relay)
{
	uint8_t family;
	const uint8_t *addr;

	e->kind = um_read_u8(r);
	family = um_read_u8(r);
	e->port = um_read_u16(r);
	addr = um_read_bytes(r, 16);
	if (!addr)
		return -UM_ETRUNC;
	if (relay ? e->kind != 0 : (e->kind < UM_DHT_ENDPOINT_REFLEXIVE || e->kind > UM_DHT_ENDPOINT_MAPPED))
		return -UM_EINVAL;
	if (e->port == 0)
		return -UM_EINVAL;
	memcpy(e->addr, addr, 16);
	if (family == 6) {
		e->family = AF_INET6;
		return 0;
	}
	if (family != 4)
		return -UM_EINVAL;
	e->family = AF_INET;
	for (int i = 4; i < 16; i++)
		if (addr[i]) /* one encoding per address */
			return -UM_EINVAL;
	return 0;
}

bool um_dht_host_valid(const char *host, size_t len)
{
	if (len < 1 || len > UM_DHT_HOST_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = host[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		      c == '-' || c == ':'))
			return false;
	}
	return true;
}

int um_dht_lifetime_check(uint64_t issued, uint64_t expires)
{
	if (issued > expires)
		return -UM_EINVAL;
	return expires - issued > UM_DHT_RECORD_LIFETIME_MAX ? -UM_ERANGE : 0;
}

int um_dht_expiry_check(uint64_t expires, uint64_t now)
{
	if (expires <= now)
		return -UM_EREPLAY;
	return expires - now > UM_DHT_RECORD_LIFETIME_MAX + UM_DHT_CLOCK_SKEW ? -UM_ERANGE : 0;
}

int um_dht_times_check(uint64_t issued, uint64_t expires, uint64_t now)
{
	int rc = um_dht_lifetime_check(issued, expires);

	if (rc < 0)
		return rc;
	rc = um_dht_expiry_check(expires, now);
	if (rc < 0)
		return rc;
	return issued > now && issued - now > UM_DHT_CLOCK_SKEW ? -UM_ERANGE : 0;
}

int um_dht_signed_verify(const uint8_t *value, size_t len, size_t body_len, const struct um_peer_id *id,
			 const char *ctx)
{
	struct um_peer_id from_pk;
	const uint8_t *pk = value + body_len;

	if (len != body_len + UM_DHT_SIGNED_OVERHEAD)
		return -UM_EINVAL;
	um_peer_id_from_public_key(&from_pk, pk);
	if (memcmp(from_pk.bytes, id->bytes, UM_PEER_ID_BYTES) != 0)
		return -UM_EBADMSG;
	return um_hsig_verify(value + body_len + UM_HSIG_PK_BYTES, value, body_len + UM_HSIG_PK_BYTES, ctx, pk) == 0
		   ? 0
		   : -UM_EBADMSG;
}

int um_dht_signed_finish(struct um_writer *w, const char *ctx, const struct um_identity *identity)
{
	uint8_t *sig;
	size_t signed_len;

	um_write_bytes(w, identity->public_key, UM_HSIG_PK_BYTES);
	signed_len = w->pos;
	sig = um_write_reserve(w, UM_HSIG_BYTES);
	if (!sig)
		return -UM_ERANGE;
	return um_hsig_sign(sig, w->data, signed_len, ctx, identity->secret_key);
}

/* ---- peer records ---- */

static int home_relay_write(struct um_writer *w, const struct um_dht_home_relay *relay)
{
	size_t host_len = strnlen(relay->host, sizeof(relay->host));

	if (!um_dht_host_valid(relay->host, host_len) || relay->port == 0 ||
	    (relay->transport != UM_DHT_TRANSPORT_UDP && relay->transport != UM_DHT_TRANSPORT_WSS))
		return -UM_EINVAL;
	um_write_bytes(w, relay->id.bytes, UM_PEER_ID_BYTES);
	um_write_u8(w, relay->transport);
	um_write_u8(w, (uint8_t)host_len);
	um_write_u16(w, relay->port);
	um_write_bytes(w, relay->host, host_len);
	return um_writer_error(w) ? -UM_ERANGE : 0;
}

static int home_relay_read(struct um_reader *r, struct um_dht_home_relay *relay)
{
	const uint8_t *host;
	uint8_t host_len;

	um_read_copy(r, relay->id.bytes, UM_PEER_ID_BYTES);
	relay->transport = um_read_u8(r);
	host_len = um_read_u8(r);
	relay->port = um_read_u16(r);
	host = um_read_bytes(r, host_len);
	if (!host)
		return -UM_ETRUNC;
	if (!um_dht_host_valid((const char *)host, host_len) || relay->port == 0 ||
	    (relay->transport != UM_DHT_TRANSPORT_UDP && relay->transport != UM_DHT_TRANSPORT_WSS))
		return -UM_EINVAL;
	memcpy(relay->host, host, host_len);
	relay->host[host_len] = '\0';
	return 0;
}

int um_dht_peer_record_parse(struct um_dht_peer_record *rec, const uint8_t *value, size_t len, size_t *body_len)
{
	struct um_reader r;
	int rc;

	if (!rec || (!value && len))
		return -UM_EINVAL;
	memset(rec, 0, sizeof(*rec));
	if (len < 2)
		return -UM_ETRUNC;
	if (value[0] != UM_DHT_RECORD_VERSION)
		return -UM_EVERSION;
	if (value[1] != UM_DHT_RECORD_PEER)
		return -UM_EINVAL;
	if (len < UM_DHT_RECORD_BODY_FIXED)
		return -UM_ETRUNC;
	um_reader_init(&r, value + 2, len - 2);
	rec->endpoint_count = um_read_u8(&r);
	rec->relay_count = um_read_u8(&r);
	rec->features = um_read_u32(&r);
	um_read_copy(&r, rec->id.bytes, UM_PEER_ID_BYTES);
	rec->sequence = um_read_u64(&r);
	rec->issued = um_read_u64(&r);
	rec->expires = um_read_u64(&r);
	if (rec->endpoint_count > UM_DHT_ENDPOINTS_MAX || rec->relay_count > UM_DHT_HOME_RELAYS_MAX)
		return -UM_EINVAL;
	for (unsigned i = 0; i < rec->endpoint_count; i++) {
		rc = um_dht_endpoint_read(&r, &rec->endpoints[i], false);
		if (rc < 0)
			return rc;
	}
	for (unsigned i = 0; i < rec->relay_count; i++) {
		rc = home_relay_read(&r, &rec->relays[i]);
		if (rc < 0)
			return rc;
	}
	*body_len = 2 + r.pos;
	if (len < *body_len + UM_DHT_SIGNED_OVERHEAD)
		return -UM_ETRUNC;
	if (len > *body_len + UM_DHT_SIGNED_OVERHEAD)
		return -UM_EINVAL;
	return um_dht_lifetime_check(rec->issued, rec->expires);
}

int um_dht_peer_record_verify(struct um_dht_peer_record *rec, const uint8_t key[32], const uint8_t *value, size_t len,
			      uint64_t now)
{
	struct um_dht_peer_record scratch;
	size_t body_len = 0;
	int rc;

	if (!rec)
		rec = &scratch;
	rc = um_dht_peer_record_parse(rec, value, len, &body_len);
	if (rc == 0 && key && memcmp(key, rec->id.bytes, UM_PEER_ID_BYTES) != 0)
		rc = -UM_EBADMSG;
	if (rc == 0)
		rc = um_dht_times_check(rec->issued, rec->expires, now);
	if (rc == 0)
		rc = um_dht_signed_verify(value, len, body_len, &rec->id, peer_ctx);
	if (rc < 0)
		memset(rec, 0, sizeof(*rec)); /* nothing half-verified leaks out */
	return rc;
}

int um_dht_peer_record_sign(uint8_t *out, size_t cap, size_t *out_len, const struct um_dht_peer_record *rec,
			    const struct um_identity *identity)
{
	struct um_writer w;
	int rc;

	if (!out || !out_len || !rec || !identity)
		return -UM_EINVAL;
	if (rec->endpoint_count > UM_DHT_ENDPOINTS_MAX || rec->relay_count > UM_DHT_HOME_RELAYS_MAX)
		return -UM_EINVAL;
	rc = um_dht_lifetime_check(rec->issued, rec->expires);
	if (rc < 0)
		return -UM_EINVAL;
	um_writer_init(&w, out, cap);
	um_write_u8(&w, UM_DHT_RECORD_VERSION);
	um_write_u8(&w, UM_DHT_RECORD_PEER);
	um_write_u8(&w, (uint8_t)rec->endpoint_count);
	um_write_u8(&w, (uint8_t)rec->relay_count);
	um_write_u32(&w, rec->features);
	um_write_bytes(&w, identity->id.bytes, UM_PEER_ID_BYTES);
	um_write_u64(&w, rec->sequence);
	um_write_u64(&w, rec->issued);
	um_write_u64(&w, rec->expires);
	for (unsigned i = 0; i < rec->endpoint_count; i++) {
		rc = um_dht_endpoint_write(&w, &rec->endpoints[i], false);
		if (rc < 0)
			return rc;
	}
	for (unsigned i = 0; i < rec->relay_count; i++) {
		rc = home_relay_write(&w, &rec->relays[i]);
		if (rc < 0)
			return rc;
	}
	rc = um_dht_signed_finish(&w, peer_ctx, identity);
	if (rc < 0)
		return rc;
	*out_len = w.pos;
	return 0;
}

/* ---- validators ---- */

void um_dht_record_clock_set(struct um_dht_record_clock *clock, uint64_t unix_ns, uint64_t mono_ns)
{
	clock->unix_minus_mono_ns = (int64_t)(unix_ns - mono_ns);
}

uint64_t um_dht_record_clock_unix(const struct um_dht_record_clock *clock, uint64_t now_ns)
{
	int64_t unix_ns = (int64_t)now_ns + clock->unix_minus_mono_ns;

	return unix_ns > 0 ? (uint64_t)unix_ns / 1000000000u : 0;
}

uint64_t um_dht_record_clock_mono(const struct um_dht_record_clock *clock, uint64_t unix_seconds)
{
	const uint64_t limit = (uint64_t)INT64_MAX / 1000000000u;
	int64_t mono;

	if (unix_seconds >= limit)
		return UINT64_MAX;
	mono = (int64_t)(unix_seconds * 1000000000u) - clock->unix_minus_mono_ns;
	return mono > 0 ? (uint64_t)mono : 0;
}

static void info_fill(struct um_dht_value_info *info, const struct um_dht_record_clock *clock, const uint8_t owner[32],
		      uint64_t sequence, uint64_t expires)
{
	if (!info)
		return;
	memcpy(info->owner, owner, 32);
	info->sequence = sequence;
	info->expires_ns = um_dht_record_clock_mono(clock, expires);
}

int um_dht_peer_record_check(void *ctx, const uint8_t key[32], const uint8_t *value, size_t len, uint64_t now_ns,
			     struct um_dht_value_info *info)
{
	const struct um_dht_record_clock *clock = ctx;
	struct um_dht_peer_record rec;
	int rc;

	if (!clock || !key)
		return -UM_EINVAL;
	rc = um_dht_peer_record_verify(&rec, key, value, len, um_dht_record_clock_unix(clock, now_ns));
	if (rc == 0)
		info_fill(info, clock, rec.id.bytes, rec.sequence, rec.expires);
	return rc;
}

static int sealed_check_info(const struct um_dht_record_clock *clock, const uint8_t key[32], const uint8_t *value,
			     size_t len, uint64_t now_ns, struct um_dht_value_info *info)
{
	uint8_t owner[32];
	uint64_t sequence = 0, expires = 0;
	int rc;

	rc = um_dht_sealed_check(key, value, len, um_dht_record_clock_unix(clock, now_ns), owner, &sequence, &expires);
	if (rc == 0)
		info_fill(info, clock, owner, sequence, expires);
	return rc;
}

int um_dht_private_record_check(void *ctx, const uint8_t key[32], const uint8_t *value, size_t len, uint64_t now_ns,
				struct um_dht_value_info *info)
{
	if (!ctx || !key || (!value && len))
		return -UM_EINVAL;
	if (len < 2)
		return -UM_ETRUNC;
	if (value[0] != UM_DHT_RECORD_VERSION)
		return -UM_EVERSION;
	if (value[1] != UM_DHT_RECORD_PRIVATE)
		return -UM_EINVAL;
	return sealed_check_info(ctx, key, value, len, now_ns, info);
}

int um_dht_relay_record_check(void *ctx, const uint8_t key[32], const uint8_t *value, size_t len, uint64_t now_ns,
			      struct um_dht_value_info *info)
{
	const struct um_dht_record_clock *clock = ctx;
	struct um_dht_relay_record rec;
	int rc;

	if (!clock || !key || (!value && len))
		return -UM_EINVAL;
	if (len < 2)
		return -UM_ETRUNC;
	if (value[0] != UM_DHT_RECORD_VERSION)
		return -UM_EVERSION;
	if (value[1] == UM_DHT_RECORD_PRIVATE_RELAY)
		return sealed_check_info(clock, key, value, len, now_ns, info);
	rc = um_dht_relay_record_verify(&rec, key, value, len, um_dht_record_clock_unix(clock, now_ns));
	if (rc == 0)
		info_fill(info, clock, rec.id.bytes, rec.sequence, rec.expires);
	return rc;
}

int um_dht_record_check(void *ctx, const uint8_t key[32], const uint8_t *value, size_t len, uint64_t now_ns,
			struct um_dht_value_info *info)
{
	if (!ctx || !key || (!value && len))
		return -UM_EINVAL;
	if (len < 2)
		return -UM_ETRUNC;
	if (value[0] != UM_DHT_RECORD_VERSION)
		return -UM_EVERSION;
	switch (value[1]) {
	case UM_DHT_RECORD_PEER:
		return um_dht_peer_record_check(ctx, key, value, len, now_ns, info);
	case UM_DHT_RECORD_PRIVATE:
		return um_dht_private_record_check(ctx, key, value, len, now_ns, info);
	case UM_DHT_RECORD_RELAY:
	case UM_DHT_RECORD_PRIVATE_RELAY:
		return um_dht_relay_record_check(ctx, key, value, len, now_ns, info);
	default:
		return -UM_EINVAL;
	}
}
