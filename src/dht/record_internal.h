/* SPDX-License-Identifier: MIT */
/* Pieces shared by record.c, relay_record.c and private_record.c: the
 * endpoint and host codecs, the lifetime rules and the structural parsers
 * (which check shape only, never a signature: for code that already holds a
 * record it built or verified). */
#ifndef UM_DHT_RECORD_INTERNAL_H
#define UM_DHT_RECORD_INTERNAL_H

#include <stdbool.h>

#include "dht/record.h"
#include "util/buf.h"

/* 20 bytes: kind u8, family u8 (4 or 6), port u16, address 16 (IPv4 in the
 * first 4, the other 12 zero). relay: kind must be 0, else 1..3. */
int um_dht_endpoint_write(struct um_writer *w, const struct um_dht_endpoint *e, bool relay);
int um_dht_endpoint_read(struct um_reader *r, struct um_dht_endpoint *e, bool relay);
/* 1..UM_DHT_HOST_MAX characters of [A-Za-z0-9.:-]. */
bool um_dht_host_valid(const char *host, size_t len);
/* Lifetime rules: issued <= expires (-UM_EINVAL), at most 24 h
 * (-UM_ERANGE); with now: not expired (-UM_EREPLAY), not beyond now + 24 h +
 * skew, not issued beyond now + skew (-UM_ERANGE). */
int um_dht_lifetime_check(uint64_t issued, uint64_t expires);
int um_dht_expiry_check(uint64_t expires, uint64_t now);
int um_dht_times_check(uint64_t issued, uint64_t expires, uint64_t now);
/* Shape only; *body_len = the signed body's length (pk and signature follow). */
int um_dht_peer_record_parse(struct um_dht_peer_record *rec, const uint8_t *value, size_t len, size_t *body_len);
int um_dht_relay_record_parse(struct um_dht_relay_record *rec, const uint8_t *value, size_t len, size_t *body_len);
/* H(pk) == id, then the hybrid signature over value[0, len - signature). */
int um_dht_signed_verify(const uint8_t *value, size_t len, size_t body_len, const struct um_peer_id *id,
			 const char *ctx);
/* Sign value[0, len) (body || pk already written) into the writer. */
int um_dht_signed_finish(struct um_writer *w, const char *ctx, const struct um_identity *identity);

#endif
