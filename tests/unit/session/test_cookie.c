/* SPDX-License-Identifier: MIT */
/* MAC1/MAC2 cookies, the COOKIE_REPLY round trip, the per-source rate
 * limiter, and the engine's DoS gate in front of HELLO. */
#include "hs_harness.h"
#include "session/cookie.h"
#include "session/ratelimit.h"
#include "test.h"
#include "util/error.h"

static struct um_peer_id id_b, id_c;

static struct um_addr addr4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port)
{
	struct um_addr w = {.family = 4, .addr = {a, b, c, d}, .port = port};
	return w;
}

/* An attacker who knows B's peer ID can mint HELLOs with a valid mac1. */
static void make_hello(uint8_t msg[UM_HS_HELLO_BYTES], struct um_cookie_maker *maker, uint64_t wall_ms,
		       uint64_t mono_ns)
{
	uint8_t eph[32], nonce[16];
	randombytes_buf(eph, sizeof(eph));
	randombytes_buf(nonce, sizeof(nonce));
	struct um_hs_hello h = {
	    .sender_index = randombytes_random() | 1, .ephemeral = eph, .nonce = nonce, .timestamp_ms = wall_ms};
	um_hs_hello_encode(msg, UM_HS_HELLO_BYTES, &h);
	um_cookie_add_macs(maker, msg, UM_HS_HELLO_BYTES, mono_ns);
}

static void test_macs_and_reply(void)
{
	struct um_cookie_checker checker;
	struct um_cookie_maker maker, wrong;
	uint8_t msg[UM_HS_HELLO_BYTES], reply_buf[UM_HS_COOKIE_REPLY_BYTES];
	struct um_addr src = addr4(192, 0, 2, 1, 4000), other = addr4(192, 0, 2, 2, 4000);
	uint64_t now = 1000 * UM_NSEC_PER_SEC;

	um_cookie_checker_init(&checker, &id_b);
	um_cookie_maker_init(&maker, &id_b);
	um_cookie_maker_init(&wrong, &id_c);

	make_hello(msg, &maker, 1, now);
	CHECK_EQ(um_cookie_validate(&checker, msg, sizeof(msg), &src, now), UM_COOKIE_MAC_VALID_NO_COOKIE);
	make_hello(msg, &wrong, 1, now);
	CHECK_EQ(um_cookie_validate(&checker, msg, sizeof(msg), &src, now), UM_COOKIE_MAC_INVALID);
	CHECK_EQ(um_cookie_validate(&checker, msg, 10, &src, now), UM_COOKIE_MAC_INVALID);

	/* Round trip. */
	make_hello(msg, &maker, 1, now);
	int n =
	    um_cookie_reply_create(&checker, reply_buf, sizeof(reply_buf), 7, msg + UM_HS_HELLO_MAC1_OFFSET, &src, now);
	CHECK_EQ(n, UM_HS_COOKIE_REPLY_BYTES);
	CHECK(n < UM_HS_HELLO_BYTES); /* never amplifies */
	struct um_hs_cookie_reply reply;
	CHECK_EQ(um_hs_cookie_reply_decode(&reply, reply_buf, sizeof(reply_buf)), 0);
	CHECK_EQ(reply.receiver_index, 7);
	/* Tampered reply refused, genuine accepted once. */
	reply_buf[20] ^= 1;
	CHECK_EQ(um_cookie_reply_consume(&maker, &reply, now), -UM_EBADMSG);
	reply_buf[20] ^= 1;
	CHECK_EQ(um_cookie_reply_consume(&wrong, &reply, now), -UM_EBADMSG); /* other responder */
	CHECK_EQ(um_cookie_reply_consume(&maker, &reply, now), 0);
	CHECK_EQ(um_cookie_reply_consume(&maker, &reply, now), -UM_ESTATE);

	make_hello(msg, &maker, 2, now + UM_NSEC_PER_SEC);
	CHECK_EQ(um_cookie_validate(&checker, msg, sizeof(msg), &src, now + UM_NSEC_PER_SEC),
		 UM_COOKIE_MAC_VALID_WITH_COOKIE);
	/* The cookie is bound to the source address. */
	CHECK_EQ(um_cookie_validate(&checker, msg, sizeof(msg), &other, now + UM_NSEC_PER_SEC),
		 UM_COOKIE_MAC_VALID_NO_COOKIE);
	/* Any change to the message breaks mac1. */
	msg[30] ^= 1;
	CHECK_EQ(um_cookie_validate(&checker, msg, sizeof(msg), &src, now), UM_COOKIE_MAC_INVALID);
	msg[30] ^= 1;
	/* After the secret rotates (120 s), the old cookie no longer counts. */
	uint64_t later = now + UM_COOKIE_SECRET_LIFE_NS + UM_NSEC_PER_SEC;
	CHECK_EQ(um_cookie_validate(&checker, msg, sizeof(msg), &src, later), UM_COOKIE_MAC_VALID_NO_COOKIE);
	/* And the maker stops sending a stale cookie. */
	make_hello(msg, &maker, 3, now + UM_COOKIE_USE_LIFE_NS + 1);
	static const uint8_t zero[UM_HS_MAC_BYTES];
	CHECK_MEM(msg + UM_HS_HELLO_MAC2_OFFSET, zero, UM_HS_MAC_BYTES);

	um_cookie_checker_wipe(&checker);
	um_cookie_maker_wipe(&maker);
	um_cookie_maker_wipe(&wrong);
}

static void test_ratelimit(void)
{
	struct um_ratelimiter rl;
	CHECK_EQ(um_ratelimit_init(&rl, 64, 10, 5), 0);
	struct um_addr a = addr4(198, 51, 100, 1, 1), a2 = addr4(198, 51, 100, 1, 2), b = addr4(198, 51, 100, 2, 1);
	uint64_t t = 5 * UM_NSEC_PER_SEC;
	int allowed = 0;
	for (int i = 0; i < 20; i++)
		allowed += um_ratelimit_allow(&rl, &a, t);
	CHECK_EQ(allowed, 5);
	CHECK(!um_ratelimit_allow(&rl, &a2, t));                        /* ports do not matter */
	CHECK(um_ratelimit_allow(&rl, &b, t));                          /* other sources unaffected */
	CHECK(um_ratelimit_allow(&rl, &a, t + 100 * UM_NSEC_PER_MSEC)); /* refills at 10/s */
	CHECK(!um_ratelimit_allow(&rl, &a, t + 100 * UM_NSEC_PER_MSEC));
	/* IPv6: one /64 is one source. */
	struct um_addr v6a = {.family = 6, .addr = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}};
	struct um_addr v6b = v6a;
	v6b.addr[15] = 2;
	allowed = 0;
	for (int i = 0; i < 10; i++) {
		allowed += um_ratelimit_allow(&rl, &v6a, t);
		allowed += um_ratelimit_allow(&rl, &v6b, t);
	}
	CHECK_EQ(allowed, 5);
	/* Many sources: the table stays bounded and new ones still get a bucket. */
	for (unsigned i = 0; i < 5000; i++) {
		struct um_addr x = addr4(10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i, 1);
		um_ratelimit_allow(&rl, &x, t);
	}
	struct um_addr fresh = addr4(172, 16, 0, 1, 1);
	CHECK(um_ratelimit_allow(&rl, &fresh, t));
	um_ratelimit_destroy(&rl);
	CHECK_EQ(um_ratelimit_init(&rl, 64, 0, 5), -UM_EINVAL);

	/* Site buckets (IPv4 /24, IPv6 /48): hosts of one site share one. */
	CHECK_EQ(um_ratelimit_init_prefix(&rl, 64, 10, 4, 3, 6), 0);
	uint64_t idle;
	allowed = 0;
	for (uint8_t h = 1; h <= 8; h++) {
		struct um_addr x = addr4(203, 0, 113, h, 1);
		allowed += um_ratelimit_allow_idle(&rl, &x, t, &idle);
	}
	CHECK_EQ(allowed, 4);
	CHECK_EQ(idle, 0);
	struct um_addr other_site = addr4(203, 0, 114, 1, 1);
	CHECK(um_ratelimit_allow_idle(&rl, &other_site, t, &idle));
	CHECK_EQ(idle, UINT64_MAX); /* not seen before */
	CHECK(um_ratelimit_allow_idle(&rl, &other_site, t + UM_NSEC_PER_SEC, &idle));
	CHECK_EQ(idle, UM_NSEC_PER_SEC);
	um_ratelimit_destroy(&rl);
	CHECK_EQ(um_ratelimit_init_prefix(&rl, 64, 10, 4, 5, 6), -UM_EINVAL);

	/* The global token bucket. */
	struct um_token_bucket tb;
	CHECK_EQ(um_token_bucket_init(&tb, 100, 3), 0);
	allowed = 0;
	for (int i = 0; i < 10; i++)
		allowed += um_token_bucket_take(&tb, t);
	CHECK_EQ(allowed, 3);
	CHECK(um_token_bucket_take(&tb, t + 10 * UM_NSEC_PER_MSEC)); /* one per 10 ms */
	CHECK(!um_token_bucket_take(&tb, t + 10 * UM_NSEC_PER_MSEC));
	CHECK_EQ(um_token_bucket_init(&tb, 0, 3), -UM_EINVAL);
}

static struct hs_node A, B;

struct type_log {
	unsigned n;
	uint8_t types[64];
};

static int log_filter(void *ctx, unsigned seq, const struct hs_node *from, uint8_t *dgram, uint16_t *len)
{
	struct type_log *l = ctx;
	(void)seq;
	(void)from;
	(void)len;
	if (l->n < 64)
		l->types[l->n++] = dgram[0] == UM_MSG_FRAGMENT ? dgram[1] : dgram[0];
	return 0;
}

/* Under load a legitimate initiator completes after one cookie round trip. */
static void test_engine_cookie_path(void)
{
	struct type_log log = {0};
	um_handshake_set_under_load(B.engine, true);
	CHECK(um_handshake_under_load(B.engine));
	CHECK_EQ(hs_run(&A, &B, hs_time(0), log_filter, &log), 0);
	CHECK_MEM(A.keypair.send_key, B.keypair.recv_key, UM_KEY_LEN);
	CHECK(log.n >= 4);
	CHECK_EQ(log.types[0], UM_MSG_HELLO);
	CHECK_EQ(log.types[1], UM_MSG_COOKIE_REPLY);
	CHECK_EQ(log.types[2], UM_MSG_HELLO);
	CHECK_EQ(log.types[3], UM_MSG_CHALLENGE);
	CHECK_EQ(um_handshake_get_stats(B.engine)->cookies_sent, 1);
	/* Every byte of a COOKIE_REPLY is protected: a flipped one is refused
	 * and A does not answer it. */
	struct um_handshake_peer *c_peer;
	struct hs_node C;
	hs_node_init(&C, 3);
	um_handshake_peer_add(C.engine, &B.identity.id, NULL, &c_peer);
	struct um_handshake_time t = hs_time(0);
	static uint8_t hello[UM_HS_HELLO_BYTES], reply[UM_HS_COOKIE_REPLY_BYTES];
	CHECK_EQ(um_handshake_initiate(C.engine, c_peer, &B.addr, t, &hs_out), 0);
	memcpy(hello, hs_out.datagrams[0], sizeof(hello));
	CHECK_EQ(um_handshake_receive(B.engine, &C.addr, hello, sizeof(hello), t, &hs_out), 0);
	CHECK_EQ(hs_out.lengths[0], UM_HS_COOKIE_REPLY_BYTES);
	memcpy(reply, hs_out.datagrams[0], sizeof(reply));
	int answered = 0;
	for (size_t pos = 0; pos < sizeof(reply); pos++) {
		reply[pos] ^= 0x20;
		answered += um_handshake_receive(C.engine, &B.addr, reply, sizeof(reply), t, &hs_out) == 0;
		reply[pos] ^= 0x20;
	}
	CHECK_EQ(answered, 0);
	CHECK_EQ(um_handshake_receive(C.engine, &B.addr, reply, sizeof(reply), t, &hs_out), 0);
	CHECK_EQ(hs_out.n_datagrams, 1); /* the HELLO with mac2 */
	/* Replaying the same reply is refused (one reply per HELLO). */
	CHECK(um_handshake_receive(C.engine, &B.addr, reply, sizeof(reply), t, &hs_out) < 0);
	hs_node_free(&C);
	/* The cookie is remembered: the next handshake needs no extra trip. */
	log.n = 0;
	CHECK_EQ(hs_run(&A, &B, hs_time(1), log_filter, &log), 0);
	CHECK_EQ(log.types[1], UM_MSG_CHALLENGE);
	um_handshake_set_under_load(B.engine, false);
}

/* A flood of HELLOs with valid mac1 from spoofed sources while under load:
 * every one gets a (small) cookie reply and no expensive work is done. */
static void test_engine_flood(void)
{
	static uint8_t msg[UM_HS_HELLO_BYTES];
	struct um_cookie_maker attacker;
	um_cookie_maker_init(&attacker, &B.identity.id);
	const struct um_handshake_stats *st = um_handshake_get_stats(B.engine);
	uint64_t challenges = st->challenges, cookies = st->cookies_sent, bad = st->bad_mac;
	struct um_handshake_time t = hs_time(10);

	um_handshake_set_under_load(B.engine, true);
	for (unsigned i = 0; i < 2000; i++) {
		struct um_addr spoofed = addr4(203, 0, (uint8_t)(i >> 8), (uint8_t)i, 9999);
		make_hello(msg, &attacker, t.wall_ms, t.mono_ns);
		CHECK_EQ(um_handshake_receive(B.engine, &spoofed, msg, sizeof(msg), t, &hs_out), 0);
		CHECK(hs_out.n_datagrams == 1 && hs_out.lengths[0] == UM_HS_COOKIE_REPLY_BYTES);
	}
	CHECK_EQ(st->challenges, challenges);
	CHECK_EQ(st->cookies_sent, cookies + 2000);
	/* Junk (bad mac1) is dropped silently, loaded or not. */
	for (unsigned i = 0; i < 100; i++) {
		struct um_addr spoofed = addr4(203, 1, 0, (uint8_t)i, 9999);
		randombytes_buf(msg + 8, 56);
		msg[0] = UM_MSG_HELLO;
		CHECK_EQ(um_handshake_receive(B.engine, &spoofed, msg, sizeof(msg), t, &hs_out), -UM_EBADMSG);
		CHECK_EQ(hs_out.n_datagrams, 0);
	}
	CHECK_EQ(st->bad_mac, bad + 100);
	/* The legitimate initiator still gets through. */
	CHECK_EQ(hs_run(&A, &B, hs_time(11), NULL, NULL), 0);
	um_handshake_set_under_load(B.engine, false);

	/* Not under load: one source gets at most its burst of CHALLENGEs, and
	 * the engine switches itself to the cookie path once `load_threshold`
	 * handshakes hang. */
	challenges = st->challenges;
	uint64_t limited = st->rate_limited;
	struct um_addr one = addr4(203, 0, 113, 7, 1234);
	struct um_handshake_time t2 = hs_time(20);
	for (unsigned i = 0; i < 40; i++) {
		make_hello(msg, &attacker, t2.wall_ms, t2.mono_ns);
		um_handshake_receive(B.engine, &one, msg, sizeof(msg), t2, &hs_out);
	}
	CHECK(st->challenges - challenges <= 4); /* per-source pending cap */
	CHECK(st->rate_limited > limited);
	for (unsigned i = 0; i < 12; i++) {
		struct um_addr src = addr4(203, 0, 114, (uint8_t)i, 1234);
		make_hello(msg, &attacker, t2.wall_ms, t2.mono_ns);
		um_handshake_receive(B.engine, &src, msg, sizeof(msg), t2, &hs_out);
	}
	CHECK(um_handshake_under_load(B.engine));
	CHECK(st->challenges - challenges <= 4 + 8);
	/* Once the hanging handshakes expire the gate opens again. */
	CHECK_EQ(hs_run(&A, &B, hs_time(21), NULL, NULL), 0);
	struct um_handshake_time t3 = hs_time(40);
	while (um_handshake_tick(B.engine, t3, &hs_out) > 0)
		;
	CHECK(!um_handshake_under_load(B.engine));
	um_cookie_maker_wipe(&attacker);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	randombytes_buf(id_b.bytes, sizeof(id_b.bytes));
	randombytes_buf(id_c.bytes, sizeof(id_c.bytes));
	RUN(test_macs_and_reply);
	RUN(test_ratelimit);
	hs_node_init(&A, 1);
	hs_node_init(&B, 2);
	hs_pair(&A, &B);
	RUN(test_engine_cookie_path);
	RUN(test_engine_flood);
	hs_node_free(&A);
	hs_node_free(&B);
	return um_test_end();
}
