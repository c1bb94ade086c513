/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the handshake engine fed arbitrary datagrams.
 * Two engines with fixed identities; before each input A starts an
 * initiation to B, so CHALLENGE fragments meet live state. Input:
 *   u8 flags (bit0: B under load; bit1: first run A's real HELLO through
 *            the engines, so later records meet every state; bit2: both
 *            engines forget the keys they verified, so the handshake is a
 *            first one: full CHALLENGE and RESPONSE; else they keep the
 *            keys earlier inputs left, and A's HELLO asks for the short forms)
 *   records: u8 ctl | u16 len | bytes
 *     ctl bit0: deliver to A (else B)
 *     ctl bit1: recompute HELLO mac1 (so the fuzzer gets past it)
 *     ctl bit2: patch a FRAGMENT's receiver_index to live state, and its
 *               total_len/count/index to the exact message size (bit4:
 *               the short form's size)
 *     ctl bit3: bounce the replies between the engines (real messages)
 * Everything must be rejected or handled without a crash or leak, and no
 * event may claim a peer other than the registered one. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "session/cookie.h"
#include "session/handshake_internal.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct um_identity id_a, id_b;
static struct um_handshake_engine *eng_a, *eng_b;
static struct um_handshake_peer *peer_ab, *peer_ba;
static struct um_cookie_maker mac_maker;
static struct um_handshake_output out, out2;
static const struct um_addr addr_a = {.family = 4, .addr = {10, 0, 0, 1}, .port = 1};
static const struct um_addr addr_b = {.family = 4, .addr = {10, 0, 0, 2}, .port = 2};
static uint64_t clock_s = 1000;
static uint8_t buf[UM_HS_MAX_DATAGRAM];

static int setup(void)
{
	uint8_t seed[UM_HSIG_SEED_BYTES];
	if (sodium_init() < 0)
		return -1;
	memset(seed, 1, sizeof(seed));
	um_identity_from_seed(&id_a, seed);
	memset(seed, 2, sizeof(seed));
	um_identity_from_seed(&id_b, seed);
	struct um_handshake_config ca = {.identity = &id_a}, cb = {.identity = &id_b};
	if (um_handshake_engine_new(&eng_a, &ca) < 0 || um_handshake_engine_new(&eng_b, &cb) < 0)
		return -1;
	um_handshake_peer_add(eng_a, &id_b.id, NULL, &peer_ab);
	um_handshake_peer_add(eng_b, &id_a.id, NULL, &peer_ba);
	um_cookie_maker_init(&mac_maker, &id_b.id);
	return 0;
}

static void check_event(const struct um_handshake_output *o)
{
	if (o->event == UM_HS_EVENT_ESTABLISHED && o->peer != peer_ab && o->peer != peer_ba)
		abort();
	if (o->n_datagrams > UM_HS_MAX_OUT_DATAGRAMS)
		abort();
	for (unsigned i = 0; i < o->n_datagrams; i++)
		if (o->lengths[i] > UM_HS_MAX_DATAGRAM)
			abort();
}

/* Deliver what `from` produced to the other engine, a few rounds deep. */
static void bounce(struct um_handshake_engine *from, struct um_handshake_time now)
{
	for (int round = 0; round < 4 && out.n_datagrams; round++) {
		struct um_handshake_engine *to = from == eng_a ? eng_b : eng_a;
		const struct um_addr *src = from == eng_a ? &addr_a : &addr_b;
		memset(&out2, 0, sizeof(out2));
		unsigned produced = 0;
		static struct um_handshake_output acc;
		acc.n_datagrams = 0;
		for (unsigned i = 0; i < out.n_datagrams; i++) {
			um_handshake_receive(to, src, out.datagrams[i], out.lengths[i], now, &out2);
			check_event(&out2);
			for (unsigned j = 0; j < out2.n_datagrams && acc.n_datagrams < UM_HS_MAX_OUT_DATAGRAMS; j++) {
				memcpy(acc.datagrams[acc.n_datagrams], out2.datagrams[j], out2.lengths[j]);
				acc.lengths[acc.n_datagrams++] = out2.lengths[j];
				produced++;
			}
		}
		out.n_datagrams = 0;
		for (unsigned j = 0; j < acc.n_datagrams; j++) {
			memcpy(out.datagrams[j], acc.datagrams[j], acc.lengths[j]);
			out.lengths[j] = acc.lengths[j];
		}
		out.n_datagrams = produced ? acc.n_datagrams : 0;
		from = to;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	if (!ready) {
		if (setup() < 0)
			abort();
		ready = 1;
	}
	if (size < 1)
		return 0;
	/* Fresh epoch: old state expires, A starts over. */
	clock_s += 20;
	struct um_handshake_time now = {.mono_ns = clock_s * 1000000000ULL, .wall_ms = clock_s * 1000};
	while (um_handshake_tick(eng_a, now, &out) > 0)
		;
	while (um_handshake_tick(eng_b, now, &out) > 0)
		;
	um_handshake_set_under_load(eng_b, data[0] & 1);
	if (data[0] & 4) {
		um_key_cache_destroy(&eng_a->key_cache);
		um_key_cache_init(&eng_a->key_cache, 8);
		um_key_cache_destroy(&eng_b->key_cache);
		um_key_cache_init(&eng_b->key_cache, 8);
	}
	um_handshake_initiate(eng_a, peer_ab, &addr_b, now, &out);
	if (data[0] & 2)
		bounce(eng_a, now);

	struct um_reader r;
	um_reader_init(&r, data + 1, size - 1);
	while (um_reader_left(&r) >= 3) {
		uint8_t ctl = um_read_u8(&r);
		size_t len = um_read_u16(&r);
		if (len > um_reader_left(&r))
			len = um_reader_left(&r);
		if (len > sizeof(buf))
			len = sizeof(buf);
		um_read_copy(&r, buf, len);
		struct um_handshake_engine *to = (ctl & 1) ? eng_a : eng_b;
		const struct um_addr *src = (ctl & 1) ? &addr_b : &addr_a;
		if ((ctl & 2) && len == UM_HS_HELLO_BYTES)
			um_cookie_add_macs(&mac_maker, buf, len, now.mono_ns);
		if ((ctl & 4) && len >= UM_FRAG_HEADER_BYTES && buf[0] == UM_MSG_FRAGMENT) {
			uint32_t index = 0;
			if (to == eng_a)
				index = peer_ab->local_index;
			else
				for (unsigned i = 0; i < eng_b->config.max_pending; i++)
					if (eng_b->pending[i].state != UM_HS_STATE_ZEROED)
						index = eng_b->pending[i].local_index;
			buf[4] = (uint8_t)(index >> 24);
			buf[5] = (uint8_t)(index >> 16);
			buf[6] = (uint8_t)(index >> 8);
			buf[7] = (uint8_t)index;
			/* The engine only takes the exact message size: fix it up
			 * (and the count) so the fuzzer reaches reassembly. */
			bool short_form = ctl & 16;
			size_t total = buf[1] == UM_MSG_CHALLENGE
					   ? (short_form ? UM_HS_CHALLENGE_SHORT_BYTES : UM_HS_CHALLENGE_BYTES)
				       : buf[1] == UM_MSG_RESPONSE
					   ? (short_form ? UM_HS_RESPONSE_SHORT_BYTES : UM_HS_RESPONSE_BYTES)
					   : 0;
			if (total) {
				buf[3] = (uint8_t)um_fragment_count(total);
				buf[2] = (uint8_t)(buf[2] % buf[3]);
				buf[12] = (uint8_t)(total >> 8);
				buf[13] = (uint8_t)total;
			}
		}
		if ((ctl & 4) && len == UM_FRAG_ACK_BYTES && buf[0] == UM_TYPE_FRAGMENT_ACK) {
			/* Name the message in flight, so ACKs reach the senders:
			 * A's RESPONSE, or B's CHALLENGE. */
			uint32_t index = 0, id = 0;
			unsigned count = um_fragment_count(UM_HS_CHALLENGE_BYTES);
			if (to == eng_a && peer_ab->state == UM_HS_STATE_RESPONSE_SENT) {
				index = peer_ab->remote_index;
				id = peer_ab->response_message_id;
				buf[1] = UM_MSG_RESPONSE;
				buf[3] = (uint8_t)um_fragment_count(
				    peer_ab->response_is_short ? UM_HS_RESPONSE_SHORT_BYTES : UM_HS_RESPONSE_BYTES);
			} else if (to == eng_b) {
				for (unsigned i = 0; i < eng_b->config.max_pending; i++)
					if (eng_b->pending[i].state == UM_HS_STATE_CHALLENGE_SENT) {
						index = eng_b->pending[i].remote_index;
						id = eng_b->pending[i].challenge_message_id;
						count = um_fragment_count(eng_b->pending[i].challenge_len);
					}
				buf[1] = UM_MSG_CHALLENGE;
				buf[3] = (uint8_t)count;
			}
			for (unsigned k = 0; k < 4; k++) {
				buf[4 + k] = (uint8_t)(index >> (24 - 8 * k));
				buf[8 + k] = (uint8_t)(id >> (24 - 8 * k));
			}
		}
		um_handshake_receive(to, src, buf, len, now, &out);
		check_event(&out);
		if (ctl & 8)
			bounce(to, now);
	}
	um_handshake_output_wipe(&out);
	return 0;
}
