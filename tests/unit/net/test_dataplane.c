/* SPDX-License-Identifier: MIT */
/* End-to-end data plane without root: two data planes on loopback UDP, each
 * with a datagram socketpair standing in for its TUN device. Covers plain and
 * TSO forwarding, allowed-ips filtering, replay and tamper rejection (and
 * their counters), control datagrams, roaming events, keepalives, key
 * rotation through `next`, missing keys and per-peer connected sockets
 * (what a quiet worker does is test_dataplane_quiet.c). Every case gets a
 * fresh pair of data planes (dataplane_fixture.h), so no case depends on the
 * counters or keys another left behind. */
#include <arpa/inet.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dataplane_fixture.h"
#include "net/dataplane.h"
#include "net/offload.h"
#include "test.h"
#include "util/clock.h"
#include "util/error.h"
#include "wire/data.h"

static void test_plain_packet(void)
{
	size_t len = make_udp(buf, "100.64.0.1", "100.64.0.2", 1000, 0x5a);
	CHECK_EQ(send(A.dev[0], buf, len, 0), (ssize_t)len);
	ssize_t n = read_dev(B.dev[0], got, sizeof(got), 2000);
	CHECK_EQ(n, (ssize_t)len);
	CHECK_MEM(got + UM_VNET_HDR_LEN, buf + UM_VNET_HDR_LEN, len - UM_VNET_HDR_LEN);
	/* And back. */
	len = make_udp(buf, "100.64.0.2", "100.64.0.1", 10, 0x33);
	CHECK_EQ(send(B.dev[0], buf, len, 0), (ssize_t)len);
	n = read_dev(A.dev[0], got, sizeof(got), 2000);
	CHECK_EQ(n, (ssize_t)len);
	CHECK_MEM(got + UM_VNET_HDR_LEN, buf + UM_VNET_HDR_LEN, len - UM_VNET_HDR_LEN);
	struct um_dp_peer_stats st = stats(&A);
	CHECK_EQ(st.tx_packets, 1);
	CHECK_EQ(st.rx_packets, 1);
	CHECK(st.last_rx_ns > 0 && st.last_tx_ns > 0);
}

static void test_burst(void)
{
	/* Equal-sized packets written back to back may share one GSO send;
	 * all must arrive, in order, the short last one included. */
	uint64_t g0[UM_DP_GLOBAL_COUNT], g1[UM_DP_GLOBAL_COUNT];
	um_dataplane_global_stats(A.dp, g0);
	for (int i = 0; i < 40; i++) {
		size_t len = make_udp(buf, "100.64.0.1", "100.64.0.2", i == 39 ? 100 : 700, (uint8_t)i);
		CHECK_EQ(send(A.dev[0], buf, len, 0), (ssize_t)len);
	}
	int in_order = 0;
	for (int i = 0; i < 40; i++) {
		ssize_t n = read_dev(B.dev[0], got, sizeof(got), 2000);
		if (n != (ssize_t)(UM_VNET_HDR_LEN + 28 + (i == 39 ? 100 : 700)))
			break;
		in_order += got[UM_VNET_HDR_LEN + 28] == (uint8_t)i;
	}
	CHECK_EQ(in_order, 40);
	um_dataplane_global_stats(A.dp, g1);
	fprintf(stderr, "  40 packets in %llu UDP sends\n",
		(unsigned long long)(g1[UM_DP_GLOBAL_UDP_SENDS] - g0[UM_DP_GLOBAL_UDP_SENDS]));
}

/* 20-segment TCP super-packet (MSS 1368), NEEDS_CSUM like the TUN gives it;
 * returns its length with the vnet header. */
static size_t make_tso(size_t payload)
{
	size_t total = 52 + payload;
	uint8_t *ip = buf + UM_VNET_HDR_LEN;
	memset(ip, 0, 52);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)total);
	ip[8] = 64;
	ip[9] = 6;
	inet_pton(AF_INET, "100.64.0.1", ip + 12);
	inet_pton(AF_INET, "100.64.0.2", ip + 16);
	uint16_t c = (uint16_t)~um_csum_fold(um_csum_add(0, ip, 20));
	memcpy(ip + 10, &c, 2);
	put16(ip + 20, 40000);
	put16(ip + 22, 5201);
	ip[32] = 8 << 4;
	ip[33] = 0x18;
	put16(ip + 34, 500);
	for (size_t i = 0; i < payload; i++)
		ip[52 + i] = (uint8_t)(i ^ (i >> 7));
	uint16_t ps = um_csum_fold(um_csum_pseudo(ip + 12, ip + 16, 4, 6, (uint32_t)(32 + payload)));
	memcpy(ip + 36, &ps, 2);
	struct um_vnet_hdr vh = {.flags = UM_VNET_F_NEEDS_CSUM,
				 .gso_type = UM_VNET_GSO_TCPV4,
				 .hdr_len = 52,
				 .gso_size = 1368,
				 .csum_start = 20,
				 .csum_offset = 16};
	um_vnet_hdr_encode(buf, &vh);
	return UM_VNET_HDR_LEN + total;
}

/* Read segments from the device until `payload` TCP payload bytes came;
 * checks checksums and content against the super-packet in buf. Returns
 * the number of device writes. */
static int receive_tso(int dev, size_t payload)
{
	uint8_t *ip = buf + UM_VNET_HDR_LEN;
	size_t received = 0;
	int packets = 0;
	static uint8_t joined[70000];
	while (received < payload) {
		ssize_t n = read_dev(dev, got, sizeof(got), 2000);
		if (n <= 0)
			break;
		packets++;
		struct um_vnet_hdr out;
		um_vnet_hdr_decode(got, &out);
		uint8_t *p = got + UM_VNET_HDR_LEN;
		size_t plen = (size_t)n - UM_VNET_HDR_LEN;
		CHECK_EQ(um_offload_finish_csum(p, plen, &out), 0);
		uint64_t s = um_csum_pseudo(p + 12, p + 16, 4, 6, (uint32_t)(plen - 20));
		CHECK_EQ(um_csum_fold(um_csum_add(s, p + 20, plen - 20)), 0xffff);
		CHECK_EQ(um_csum_fold(um_csum_add(0, p, 20)), 0xffff);
		memcpy(joined + received, p + 52, plen - 52);
		received += plen - 52;
	}
	CHECK_EQ(received, payload);
	CHECK_MEM(joined, ip + 52, payload);
	return packets;
}

static void test_tso_packet(void)
{
	size_t payload = 1368 * 19 + 300, len = make_tso(payload);
	CHECK_EQ(send(A.dev[0], buf, len, 0), (ssize_t)len);
	int packets = receive_tso(B.dev[0], payload);
	CHECK(packets >= 1 && packets <= 2); /* coalesced again on the far side */
	CHECK_EQ(stats(&B).rx_packets, 20);  /* one per segment on the wire */
}

static void test_not_allowed(void)
{
	size_t len = make_udp(buf, "100.64.0.9", "100.64.0.2", 100, 1);
	send(A.dev[0], buf, len, 0);
	CHECK(wait_drop(&B, UM_DP_DROP_NOT_ALLOWED, 1));
	CHECK_EQ(read_dev(B.dev[0], got, sizeof(got), 50), -1);
}

/* A loopback UDP socket of the test's (returned; the caller closes it)
 * becomes A's endpoint for its peer; *sa gets its address. */
static int redirect_a(struct sockaddr_in *sa)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	*sa = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(*sa);
	CHECK_EQ(bind(fd, (struct sockaddr *)sa, sizeof(*sa)), 0);
	getsockname(fd, (struct sockaddr *)sa, &sl);
	CHECK_EQ(um_dataplane_peer_set_endpoint(A.dp, A.peer, (struct sockaddr *)sa, sizeof(*sa)), 0);
	return fd;
}

static void test_replay_tamper_roaming(void)
{
	/* Point A at a socket of ours to capture one DATA datagram. */
	struct sockaddr_in sa;
	int sniff = redirect_a(&sa);
	size_t len = make_udp(buf, "100.64.0.1", "100.64.0.2", 200, 7);
	send(A.dev[0], buf, len, 0);
	uint8_t dgram[2048];
	ssize_t d = read_dev(sniff, dgram, sizeof(dgram), 2000);
	CHECK_EQ(d, (ssize_t)(len - UM_VNET_HDR_LEN + UM_DATA_OVERHEAD));
	CHECK_EQ(dgram[0], UM_MSG_DATA);

	/* Delivered once... */
	uint64_t before = stats(&B).rx_packets;
	sendto(sniff, dgram, (size_t)d, 0, (struct sockaddr *)&B.addr, sizeof(B.addr));
	CHECK(read_dev(B.dev[0], got, sizeof(got), 2000) > 0);
	CHECK_EQ(stats(&B).rx_packets, before + 1);
	/* ...from a new address: the node hears about it. */
	CHECK(wait_control(&B, UM_DP_EVENT_ENDPOINT_CHANGED, &msg));
	CHECK_EQ(msg.peer, B.peer);
	CHECK_EQ(((struct sockaddr_in *)&msg.from)->sin_port, sa.sin_port);
	/* ...a replay is dropped and counted... */
	sendto(sniff, dgram, (size_t)d, 0, (struct sockaddr *)&B.addr, sizeof(B.addr));
	CHECK(wait_drop(&B, UM_DP_DROP_REPLAY, 1));
	/* ...and so is any flipped bit (header, ciphertext or tag). */
	size_t positions[] = {5, 15, 16, 40, (size_t)d - 1};
	for (size_t i = 0; i < 5; i++) {
		dgram[positions[i]] ^= 0x04;
		sendto(sniff, dgram, (size_t)d, 0, (struct sockaddr *)&B.addr, sizeof(B.addr));
		dgram[positions[i]] ^= 0x04;
	}
	CHECK(wait_drop(&B, UM_DP_DROP_BAD_MAC, 4));
	CHECK_EQ(read_dev(B.dev[0], got, sizeof(got), 50), -1);
	uint64_t global[UM_DP_GLOBAL_COUNT];
	um_dataplane_global_stats(B.dp, global);
	CHECK_EQ(global[UM_DP_GLOBAL_UNKNOWN_INDEX], 1); /* the flip in the index */

	/* A non-DATA datagram goes to the control ring with its source. */
	const uint8_t hello[5] = {0x01, 1, 2, 3, 4};
	sendto(sniff, hello, sizeof(hello), 0, (struct sockaddr *)&B.addr, sizeof(B.addr));
	CHECK(wait_control(&B, UM_DP_CONTROL_DATAGRAM, &msg));
	CHECK_EQ(msg.len, sizeof(hello));
	CHECK_MEM(msg.data, hello, sizeof(hello));
	CHECK_EQ(msg.from.ss_family, AF_INET);
	/* The control thread can answer on the shared port. */
	CHECK_EQ(um_dataplane_send_datagram(B.dp, (struct sockaddr *)&sa, sizeof(sa), hello, 5), 0);
	CHECK_EQ(read_dev(sniff, got, sizeof(got), 2000), 5);

	close(sniff);
	CHECK_EQ(um_dataplane_peer_set_endpoint(A.dp, A.peer, (struct sockaddr *)&B.addr, sizeof(B.addr)), 0);
	CHECK_EQ(um_dataplane_peer_set_endpoint(B.dp, B.peer, (struct sockaddr *)&A.addr, sizeof(A.addr)), 0);
}

static void test_keepalive(void)
{
	struct um_dp_peer_stats before = stats(&B);
	CHECK_EQ(um_dataplane_peer_send_keepalive(A.dp, A.peer), 0);
	for (int i = 0; i < 200 && stats(&B).rx_packets == before.rx_packets; i++)
		usleep(10000);
	struct um_dp_peer_stats after = stats(&B);
	CHECK_EQ(after.rx_packets, before.rx_packets + 1);
	CHECK_EQ(after.rx_bytes, before.rx_bytes);
	CHECK(after.last_rx_ns >= before.last_rx_ns);
	CHECK_EQ(read_dev(B.dev[0], got, sizeof(got), 50), -1); /* nothing delivered */
}

static void test_rotation(void)
{
	struct um_keypair ka = keypair(0x31, 0x32, 3, 4), kb = keypair(0x32, 0x31, 4, 3);
	/* Index clash (with the current key, which would become previous) is refused. */
	struct um_keypair clash = keypair(9, 9, 2, 99);
	CHECK_EQ(um_dataplane_peer_install_keypair(B.dp, B.peer, &clash, false), -UM_EINVAL);
	CHECK_EQ(um_dataplane_peer_install_keypair(A.dp, A.peer, &ka, false), 0);
	CHECK_EQ(um_dataplane_peer_install_keypair(B.dp, B.peer, &kb, true), 0);
	struct um_dp_peer_stats st = stats(&B);
	CHECK(st.has_current && st.has_next);
	size_t len = make_udp(buf, "100.64.0.1", "100.64.0.2", 300, 9);
	send(A.dev[0], buf, len, 0);
	CHECK_EQ(read_dev(B.dev[0], got, sizeof(got), 2000), (ssize_t)len);
	CHECK(wait_control(&B, UM_DP_EVENT_NEXT_KEY_USED, &msg));
	CHECK_EQ(um_dataplane_peer_promote_next(B.dp, B.peer), 0);
	CHECK_EQ(um_dataplane_peer_promote_next(B.dp, B.peer), -UM_ESTATE);
	st = stats(&B);
	CHECK(st.has_current && st.has_previous && !st.has_next);
	CHECK_EQ(st.send_counter, 0);
	/* B now sends under the new key; A accepts it. */
	len = make_udp(buf, "100.64.0.2", "100.64.0.1", 300, 10);
	send(B.dev[0], buf, len, 0);
	CHECK_EQ(read_dev(A.dev[0], got, sizeof(got), 2000), (ssize_t)len);
	CHECK_EQ(stats(&B).send_counter, 1);
	CHECK_EQ(um_dataplane_peer_drop_previous(B.dp, B.peer), 0);
	CHECK(!stats(&B).has_previous);
}

/* One packet each way; true if both arrived. */
static bool exchange(uint8_t fill)
{
	size_t len = make_udp(buf, "100.64.0.1", "100.64.0.2", 200, fill);
	send(A.dev[0], buf, len, 0);
	bool ok = read_dev(B.dev[0], got, sizeof(got), 1000) == (ssize_t)len;
	len = make_udp(buf, "100.64.0.2", "100.64.0.1", 200, fill);
	send(B.dev[0], buf, len, 0);
	return read_dev(A.dev[0], got, sizeof(got), 1000) == (ssize_t)len && ok;
}

static void test_crossed_handshakes(void)
{
	/* Both sides initiate at once and both handshakes complete: each side
	 * is responder of one (keys in `next`) and initiator of the other
	 * (keys installed as current just after). K1: B initiated (A local
	 * 11, B local 12). K2: A initiated (A local 13, B local 14). */
	struct um_keypair a1 = keypair(0x41, 0x42, 11, 12), b1 = keypair(0x42, 0x41, 12, 11);
	struct um_keypair a2 = keypair(0x43, 0x44, 13, 14), b2 = keypair(0x44, 0x43, 14, 13);
	CHECK_EQ(um_dataplane_peer_install_keypair(A.dp, A.peer, &a1, true), 0);
	CHECK_EQ(um_dataplane_peer_install_keypair(A.dp, A.peer, &a2, false), 0);
	/* A finished first; B has installed neither yet and still sends
	 * under the keys from before both handshakes, which A accepts (its
	 * old current was superseded, not retired; rekey.sh lost a packet
	 * when it was). */
	uint64_t g0[UM_DP_GLOBAL_COUNT], g1[UM_DP_GLOBAL_COUNT];
	um_dataplane_global_stats(A.dp, g0);
	size_t len = make_udp(buf, "100.64.0.2", "100.64.0.1", 100, 0x60);
	send(B.dev[0], buf, len, 0);
	CHECK_EQ(read_dev(A.dev[0], got, sizeof(got), 1000), (ssize_t)len);
	um_dataplane_global_stats(A.dp, g1);
	CHECK_EQ(g1[UM_DP_GLOBAL_UNKNOWN_INDEX], g0[UM_DP_GLOBAL_UNKNOWN_INDEX]);
	CHECK_EQ(um_dataplane_peer_install_keypair(B.dp, B.peer, &b2, true), 0);
	CHECK_EQ(um_dataplane_peer_install_keypair(B.dp, B.peer, &b1, false), 0);
	/* Each pending next survived as previous: A sends under K2, which B
	 * holds as previous, and B under K1, which A holds as previous. */
	struct um_dp_peer_stats st = stats(&A);
	CHECK(st.has_current && st.has_previous && !st.has_next);
	uint64_t bad = stats(&B).drops[UM_DP_DROP_BAD_MAC];
	um_dataplane_global_stats(B.dp, g0);
	CHECK(exchange(0x61));
	um_dataplane_global_stats(B.dp, g1);
	CHECK_EQ(g1[UM_DP_GLOBAL_UNKNOWN_INDEX], g0[UM_DP_GLOBAL_UNKNOWN_INDEX]);
	CHECK_EQ(stats(&B).drops[UM_DP_DROP_BAD_MAC], bad);
	/* The next rotation starts clean: B rekeys as initiator (K3). */
	struct um_keypair a3 = keypair(0x45, 0x46, 15, 16), b3 = keypair(0x46, 0x45, 16, 15);
	CHECK_EQ(um_dataplane_peer_install_keypair(A.dp, A.peer, &a3, true), 0);
	CHECK_EQ(um_dataplane_peer_install_keypair(B.dp, B.peer, &b3, false), 0);
	len = make_udp(buf, "100.64.0.2", "100.64.0.1", 100, 0x62);
	send(B.dev[0], buf, len, 0);
	CHECK_EQ(read_dev(A.dev[0], got, sizeof(got), 1000), (ssize_t)len);
	CHECK(wait_control(&A, UM_DP_EVENT_NEXT_KEY_USED, &msg));
	CHECK_EQ(um_dataplane_peer_promote_next(A.dp, A.peer), 0);
	CHECK(exchange(0x63));
	/* A responder-only sequence keeps replacing `next` (the initiator
	 * always uses its newest keys). */
	struct um_keypair stale = keypair(0x47, 0x48, 17, 18);
	CHECK_EQ(um_dataplane_peer_install_keypair(A.dp, A.peer, &stale, true), 0);
	struct um_keypair a4 = keypair(0x49, 0x4a, 19, 20), b4 = keypair(0x4a, 0x49, 20, 19);
	CHECK_EQ(um_dataplane_peer_install_keypair(A.dp, A.peer, &a4, true), 0);
	CHECK_EQ(um_dataplane_peer_install_keypair(B.dp, B.peer, &b4, false), 0);
	CHECK(exchange(0x64));
	CHECK(wait_control(&A, UM_DP_EVENT_NEXT_KEY_USED, &msg));
	CHECK_EQ(um_dataplane_peer_promote_next(A.dp, A.peer), 0);
	CHECK(exchange(0x65));
}

/* A first session (issue 14, session 14): B initiated it as the
 * designated side and installed its keys for receiving only as its
 * RESPONSE went; A, the responder, sends at once. B decrypts that, sends
 * nothing until ESTABLISHED promotes the same key object (its replay
 * window goes on), and then what waited for the keys leaves. */
static void test_early_receive(void)
{
	struct um_keypair kb = keypair(0x51, 0x52, 21, 22), ka = keypair(0x52, 0x51, 22, 21);
	struct um_keypair other = keypair(0x53, 0x54, 21, 22);
	CHECK_EQ(um_dataplane_peer_clear_keys(A.dp, A.peer), 0);
	CHECK_EQ(um_dataplane_peer_clear_keys(B.dp, B.peer), 0);
	CHECK_EQ(um_dataplane_peer_promote_receive(B.dp, B.peer, &kb), -UM_ESTATE); /* nothing early */
	CHECK_EQ(um_dataplane_peer_install_receive(B.dp, B.peer, &kb), 0);
	CHECK_EQ(um_dataplane_peer_install_receive(B.dp, B.peer, &kb), -UM_ESTATE); /* only with no keys */
	CHECK_EQ(um_dataplane_peer_install_keypair(A.dp, A.peer, &ka, false), 0);
	struct um_dp_peer_stats st = stats(&B);
	CHECK(!st.has_current && st.has_previous && !st.has_next);

	/* A's first packet, captured on its way, reaches B: accepted. */
	struct sockaddr_in sa;
	int sniff = redirect_a(&sa);
	size_t len = make_udp(buf, "100.64.0.1", "100.64.0.2", 120, 0x71);
	send(A.dev[0], buf, len, 0);
	uint8_t dgram[2048];
	ssize_t d = read_dev(sniff, dgram, sizeof(dgram), 2000);
	CHECK(d > 0);
	sendto(sniff, dgram, (size_t)d, 0, (struct sockaddr *)&B.addr, sizeof(B.addr));
	CHECK_EQ(read_dev(B.dev[0], got, sizeof(got), 2000), (ssize_t)len);
	CHECK_EQ(um_dataplane_peer_set_endpoint(A.dp, A.peer, (struct sockaddr *)&B.addr, sizeof(B.addr)), 0);
	close(sniff);

	/* B's answer waits: receive only. */
	size_t back = make_udp(buf, "100.64.0.2", "100.64.0.1", 90, 0x72);
	send(B.dev[0], buf, back, 0);
	CHECK_EQ(read_dev(A.dev[0], got, sizeof(got), 200), -1);
	CHECK_EQ(stats(&B).send_counter, 0);
	/* Other keys under the same index (the responder took the other form
	 * of RESPONSE) are not promoted: the caller installs those. */
	CHECK_EQ(um_dataplane_peer_promote_receive(B.dp, B.peer, &other), -UM_ESTATE);
	CHECK_EQ(um_dataplane_peer_promote_receive(B.dp, B.peer, &kb), 0);
	st = stats(&B);
	CHECK(st.has_current && !st.has_previous && !st.has_next);
	CHECK_EQ(read_dev(A.dev[0], got, sizeof(got), 2000), (ssize_t)back); /* it left with the keys */
	CHECK_EQ(got[back - 1], 0x72);
	/* The replay window went on with the key: the first packet again is a replay. */
	int raw = socket(AF_INET, SOCK_DGRAM, 0);
	sendto(raw, dgram, (size_t)d, 0, (struct sockaddr *)&B.addr, sizeof(B.addr));
	CHECK(wait_drop(&B, UM_DP_DROP_REPLAY, 1));
	CHECK_EQ(read_dev(B.dev[0], got, sizeof(got), 50), -1);
	close(raw);
	CHECK(exchange(0x73));
}

static void test_event_priority(void)
{
	/* Flood B's datagram ring with fake HELLOs nobody drains... */
	int flood = socket(AF_INET, SOCK_DGRAM, 0);
	const uint8_t hello[8] = {0x01};
	uint64_t g[UM_DP_GLOBAL_COUNT] = {0};
	/* More than the ring holds (DP_RING_SLOTS), in rounds the socket
	 * buffer takes. */
	for (int i = 0; i < 200 && !g[UM_DP_GLOBAL_RING_FULL]; i++) {
		for (int j = 0; j < 256; j++)
			sendto(flood, hello, sizeof(hello), 0, (struct sockaddr *)&B.addr, sizeof(B.addr));
		usleep(10000);
		um_dataplane_global_stats(B.dp, g);
	}
	CHECK(g[UM_DP_GLOBAL_RING_FULL] > 0);
	/* ...then a rotation: B's NEXT_KEY_USED still comes through, first. */
	struct um_keypair a5 = keypair(0x51, 0x52, 21, 22), b5 = keypair(0x52, 0x51, 22, 21);
	CHECK_EQ(um_dataplane_peer_install_keypair(B.dp, B.peer, &b5, true), 0);
	CHECK_EQ(um_dataplane_peer_install_keypair(A.dp, A.peer, &a5, false), 0);
	size_t len = make_udp(buf, "100.64.0.1", "100.64.0.2", 100, 0x71);
	send(A.dev[0], buf, len, 0);
	CHECK_EQ(read_dev(B.dev[0], got, sizeof(got), 1000), (ssize_t)len);
	CHECK_EQ(um_dataplane_recv_control(B.dp, &msg), 0);
	CHECK_EQ(msg.kind, UM_DP_EVENT_NEXT_KEY_USED);
	CHECK_EQ(msg.peer, B.peer);
	CHECK_EQ(um_dataplane_peer_promote_next(B.dp, B.peer), 0);
	int drained = 0;
	while (um_dataplane_recv_control(B.dp, &msg) == 0)
		drained += msg.kind == UM_DP_CONTROL_DATAGRAM && !msg.via_relay;
	CHECK(drained >= 200);
	close(flood);
	CHECK(exchange(0x72));
}

/* FORWARD header: type, three zero bytes, the peer ID. */
static void forward_header(uint8_t out[36], uint8_t type, uint8_t id_fill)
{
	memset(out, 0, 36);
	out[0] = type;
	memset(out + 4, id_fill, 32);
}

static void test_relay(void)
{
	/* The test plays the relay: A sends to it, it hands B the FORWARDED. */
	int relay = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_storage rs = {0};
	struct sockaddr_in *ra = (struct sockaddr_in *)&rs;
	ra->sin_family = AF_INET;
	ra->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t rl = sizeof(*ra);
	CHECK_EQ(bind(relay, (struct sockaddr *)ra, rl), 0);
	getsockname(relay, (struct sockaddr *)ra, &rl);
	uint8_t to_b[36], to_a[36];
	forward_header(to_b, 0x23, 0xbb); /* A -> relay: destination B */
	forward_header(to_a, 0x23, 0xaa);
	CHECK_EQ(um_dataplane_peer_set_relay(A.dp, A.peer, &rs, rl, to_b, 65), -UM_EINVAL);
	CHECK_EQ(um_dataplane_peer_set_relay(A.dp, A.peer, &rs, rl, to_b, 36), 0);
	CHECK_EQ(um_dataplane_peer_set_relay(B.dp, B.peer, &rs, rl, to_a, 36), 0);
	struct um_dp_peer_stats a0 = stats(&A), b0 = stats(&B);

	/* One packet: header + DATA at the relay, delivered once rewritten. */
	size_t len = make_udp(buf, "100.64.0.1", "100.64.0.2", 500, 0x81);
	send(A.dev[0], buf, len, 0);
	uint8_t dgram[2048];
	ssize_t d = read_dev(relay, dgram, sizeof(dgram), 2000);
	CHECK_EQ(d, (ssize_t)(36 + len - UM_VNET_HDR_LEN + UM_DATA_OVERHEAD));
	CHECK_MEM(dgram, to_b, 36);
	CHECK_EQ(dgram[36], UM_MSG_DATA);
	dgram[0] = 0x24;
	memset(dgram + 4, 0xaa, 32); /* source A */
	sendto(relay, dgram, (size_t)d, 0, (struct sockaddr *)&B.addr, sizeof(B.addr));
	CHECK_EQ(read_dev(B.dev[0], got, sizeof(got), 2000), (ssize_t)len);
	CHECK_MEM(got + UM_VNET_HDR_LEN, buf + UM_VNET_HDR_LEN, len - UM_VNET_HDR_LEN);
	/* A wrong source ID (the relay lies) is dropped, a replay too. */
	sendto(relay, dgram, (size_t)d, 0, (struct sockaddr *)&B.addr, sizeof(B.addr));
	CHECK(wait_drop(&B, UM_DP_DROP_REPLAY, b0.drops[UM_DP_DROP_REPLAY] + 1));
	memset(dgram + 4, 0xcc, 32);
	sendto(relay, dgram, (size_t)d, 0, (struct sockaddr *)&B.addr, sizeof(B.addr));
	CHECK(wait_drop(&B, UM_DP_DROP_MALFORMED, b0.drops[UM_DP_DROP_MALFORMED] + 1));

	/* A TSO super-packet: segments cut to fit 1280-byte relay datagrams. */
	size_t payload = 1368 * 19 + 300;
	len = make_tso(payload);
	send(A.dev[0], buf, len, 0);
	int datagrams = 0;
	while ((d = read_dev(relay, dgram, sizeof(dgram), 500)) > 0) {
		datagrams++;
		CHECK(d <= 1280);
		CHECK_MEM(dgram, to_b, 36);
		dgram[0] = 0x24;
		memset(dgram + 4, 0xaa, 32);
		sendto(relay, dgram, (size_t)d, 0, (struct sockaddr *)&B.addr, sizeof(B.addr));
	}
	CHECK(datagrams > 20);
	receive_tso(B.dev[0], payload);

	/* A single full-sized TCP packet (no GSO) is cut to fit as well. */
	payload = 1300;
	len = make_tso(payload);
	struct um_vnet_hdr plain = {.flags = UM_VNET_F_NEEDS_CSUM, .csum_start = 20, .csum_offset = 16};
	um_vnet_hdr_encode(buf, &plain);
	send(A.dev[0], buf, len, 0);
	datagrams = 0;
	while ((d = read_dev(relay, dgram, sizeof(dgram), 500)) > 0) {
		datagrams++;
		CHECK(d <= 1280);
		dgram[0] = 0x24;
		memset(dgram + 4, 0xaa, 32);
		sendto(relay, dgram, (size_t)d, 0, (struct sockaddr *)&B.addr, sizeof(B.addr));
	}
	CHECK_EQ(datagrams, 2);
	receive_tso(B.dev[0], payload);
	/* A large UDP packet cannot be cut: dropped and counted. */
	uint64_t send_drops = stats(&A).drops[UM_DP_DROP_SEND];
	len = make_udp(buf, "100.64.0.1", "100.64.0.2", 1300, 0x83);
	send(A.dev[0], buf, len, 0);
	CHECK(wait_drop(&A, UM_DP_DROP_SEND, send_drops + 1));
	CHECK_EQ(read_dev(relay, dgram, sizeof(dgram), 50), -1);

	/* A keepalive goes through the relay as well. */
	CHECK_EQ(um_dataplane_peer_send_keepalive(A.dp, A.peer), 0);
	CHECK_EQ(read_dev(relay, dgram, sizeof(dgram), 2000), 36 + UM_DATA_OVERHEAD);
	CHECK_MEM(dgram, to_b, 36);

	/* Handshake datagrams inside FORWARDED go to the control thread. */
	uint8_t hs[40];
	forward_header(hs, 0x24, 0xaa);
	hs[36] = 0x01;
	hs[37] = 0x02;
	hs[38] = 0x03;
	hs[39] = 0x04;
	sendto(relay, hs, sizeof(hs), 0, (struct sockaddr *)&B.addr, sizeof(B.addr));
	CHECK(wait_control(&B, UM_DP_CONTROL_DATAGRAM, &msg));
	CHECK(msg.via_relay);
	CHECK_EQ(msg.len, 4);
	CHECK_MEM(msg.data, hs + 36, 4);
	CHECK_MEM(msg.relay_source, hs + 4, 32);
	CHECK_EQ(((struct sockaddr_in *)&msg.from)->sin_port, ra->sin_port);
	/* Truncated FORWARDED: malformed, nothing delivered. */
	sendto(relay, hs, 36, 0, (struct sockaddr *)&B.addr, sizeof(B.addr));

	/* Counters; relayed DATA never moved B's endpoint to the relay. */
	struct um_dp_peer_stats a1 = stats(&A), b1 = stats(&B);
	CHECK(a1.tx_relay_packets - a0.tx_relay_packets >= 23);
	CHECK_EQ(a1.tx_direct_packets, a0.tx_direct_packets);
	CHECK(b1.rx_relay_packets - b0.rx_relay_packets >= 21);
	CHECK_EQ(b1.rx_direct_packets, b0.rx_direct_packets);
	while (um_dataplane_recv_control(B.dp, &msg) == 0)
		CHECK(msg.kind != UM_DP_EVENT_ENDPOINT_CHANGED);

	/* Back to the direct path. */
	CHECK_EQ(um_dataplane_peer_set_relay(A.dp, A.peer, NULL, 0, NULL, 0), 0);
	CHECK_EQ(um_dataplane_peer_set_relay(B.dp, B.peer, &rs, rl, NULL, 0), 0);
	CHECK(exchange(0x82));
	CHECK_EQ(read_dev(relay, dgram, sizeof(dgram), 50), -1);
	CHECK_EQ(stats(&A).tx_direct_packets, a1.tx_direct_packets + 1);
	close(relay);
}

/* No keys yet: the packets wait (the last 16; older ones are dropped) and
 * leave, in order, as soon as keys are installed (dataplane_stage.c). */
static void test_no_key(void)
{
	CHECK_EQ(um_dataplane_peer_clear_keys(A.dp, A.peer), 0);
	size_t len = make_udp(buf, "100.64.0.1", "100.64.0.2", 50, 1);
	send(A.dev[0], buf, len, 0);
	CHECK(wait_control(&A, UM_DP_EVENT_NEED_KEY, &msg));
	CHECK_EQ(msg.peer, A.peer);
	CHECK_EQ(stats(&A).drops[UM_DP_DROP_NO_KEY], 0);
	for (uint8_t fill = 2; fill <= 17; fill++) {
		len = make_udp(buf, "100.64.0.1", "100.64.0.2", 50, fill);
		send(A.dev[0], buf, len, 0);
	}
	CHECK(wait_drop(&A, UM_DP_DROP_NO_KEY, 1)); /* the first gave way */
	CHECK_EQ(read_dev(B.dev[0], got, sizeof(got), 100), -1);
	struct um_keypair ka = keypair(0xa1, 0xb2, 1, 2);
	CHECK_EQ(um_dataplane_peer_install_keypair(A.dp, A.peer, &ka, false), 0);
	for (uint8_t fill = 2; fill <= 17; fill++) {
		CHECK_EQ(read_dev(B.dev[0], got, sizeof(got), 2000), (ssize_t)len);
		CHECK_EQ(got[len - 1], fill);
	}
	CHECK_EQ(stats(&A).drops[UM_DP_DROP_NO_KEY], 1);
	/* No route at all: counted globally. */
	len = make_udp(buf, "100.64.0.1", "192.0.2.1", 50, 1);
	send(A.dev[0], buf, len, 0);
	uint64_t g[UM_DP_GLOBAL_COUNT];
	for (int i = 0; i < 200; i++) {
		um_dataplane_global_stats(A.dp, g);
		if (g[UM_DP_GLOBAL_NO_ROUTE])
			break;
		usleep(10000);
	}
	CHECK_EQ(g[UM_DP_GLOBAL_NO_ROUTE], 1);
	CHECK_EQ(um_dataplane_peer_remove(A.dp, A.peer), 0);
	CHECK_EQ(um_dataplane_peer_remove(A.dp, A.peer), -UM_ENOTFOUND);
}

/* UDP sockets of this process bound to `port` and connected, and the peer
 * address of the last one found. */
static int connected_sockets(uint16_t port, struct sockaddr_storage *peer)
{
	int count = 0;
	for (int fd = 0; fd < 1024; fd++) {
		int type = 0;
		socklen_t tl = sizeof(type);
		struct sockaddr_storage local, remote;
		socklen_t ll = sizeof(local), rl = sizeof(remote);
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 || type != SOCK_DGRAM ||
		    getsockname(fd, (struct sockaddr *)&local, &ll) < 0 || local.ss_family != AF_INET ||
		    ((struct sockaddr_in *)&local)->sin_port != htons(port) ||
		    getpeername(fd, (struct sockaddr *)&remote, &rl) < 0)
			continue;
		*peer = remote;
		count++;
	}
	return count;
}

static bool same_address(const struct sockaddr_storage *a, const struct sockaddr_in *b)
{
	const struct sockaddr_in *x = (const struct sockaddr_in *)a;
	return x->sin_family == AF_INET && x->sin_port == b->sin_port && x->sin_addr.s_addr == b->sin_addr.s_addr;
}

/* Each worker has a socket connected to a direct peer's endpoint
 * (dataplane_conn.c); it follows the endpoint and goes with the peer. */
static void test_connected_sockets(void)
{
	struct sockaddr_storage peer;
	int workers = (int)um_dataplane_workers(A.dp);
	CHECK_EQ(connected_sockets(um_dataplane_port(A.dp), &peer), workers);
	CHECK(same_address(&peer, &B.addr));

	/* A new endpoint re-points the same sockets, and traffic follows. */
	struct sockaddr_in sa;
	int sink = redirect_a(&sa);
	CHECK_EQ(connected_sockets(um_dataplane_port(A.dp), &peer), workers);
	CHECK(same_address(&peer, &sa));
	size_t len = make_udp(buf, "100.64.0.1", "100.64.0.2", 100, 9);
	send(A.dev[0], buf, len, 0);
	CHECK_EQ(read_dev(sink, got, sizeof(got), 2000), (ssize_t)(len - UM_VNET_HDR_LEN + UM_DATA_OVERHEAD));
	close(sink);
	CHECK_EQ(um_dataplane_peer_set_endpoint(A.dp, A.peer, (struct sockaddr *)&B.addr, sizeof(B.addr)), 0);
	CHECK(exchange(10));

	/* A second peer gets its own; removing it closes them. */
	uint32_t extra;
	struct sockaddr_in far = {.sin_family = AF_INET, .sin_port = htons(9), .sin_addr.s_addr = htonl(0x7f000002)};
	CHECK_EQ(um_dataplane_peer_add(A.dp, &extra), 0);
	CHECK_EQ(um_dataplane_peer_set_endpoint(A.dp, extra, (struct sockaddr *)&far, sizeof(far)), 0);
	CHECK_EQ(connected_sockets(um_dataplane_port(A.dp), &peer), 2 * workers);
	CHECK_EQ(um_dataplane_peer_remove(A.dp, extra), 0);
	CHECK_EQ(connected_sockets(um_dataplane_port(A.dp), &peer), workers);
	CHECK(same_address(&peer, &B.addr));
	CHECK(exchange(11));
}

int main(void)
{
	RUN_CASE(test_plain_packet);
	RUN_CASE(test_burst);
	RUN_CASE(test_tso_packet);
	RUN_CASE(test_not_allowed);
	RUN_CASE(test_replay_tamper_roaming);
	RUN_CASE(test_keepalive);
	RUN_CASE(test_rotation);
	RUN_CASE(test_crossed_handshakes);
	RUN_CASE(test_early_receive);
	RUN_CASE(test_event_priority);
	RUN_CASE(test_relay);
	RUN_CASE(test_connected_sockets);
	RUN_CASE(test_no_key);
	return um_test_end();
}
