/* SPDX-License-Identifier: MIT */
/* The data plane tests' fixture (test_dataplane.c, test_dataplane_quiet.c):
 * two data planes A and B on loopback UDP, each with a datagram socketpair
 * standing in for its TUN device. fixture_up() makes a fresh pair (keys
 * installed, endpoints set, workers started; A gathers its worker on one
 * CPU, B stays spread) and fixture_down() frees it, so every case starts
 * from zero counters (RUN_CASE). */
#ifndef UM_TEST_DATAPLANE_FIXTURE_H
#define UM_TEST_DATAPLANE_FIXTURE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "net/dataplane.h"

struct side {
	struct um_dataplane *dp;
	int dev[2]; /* dev[0]: test end, dev[1]: data plane end */
	uint32_t peer;
	struct sockaddr_in addr;
};

extern struct side A, B;
/* Packet buffers and the last control message, shared by the cases. */
extern uint8_t buf[70000], got[70000];
extern struct um_dp_control_msg msg;

void fixture_up(void);
void fixture_down(void);
#define RUN_CASE(fn)                                                                                                   \
	do {                                                                                                           \
		fixture_up();                                                                                          \
		RUN(fn);                                                                                               \
		fixture_down();                                                                                        \
	} while (0)

void put16(uint8_t *p, uint16_t v);
struct um_keypair keypair(uint8_t send, uint8_t recv, uint32_t local, uint32_t remote);
/* A packet from the device, or -1 after timeout_ms. */
ssize_t read_dev(int fd, uint8_t *out, size_t cap, int timeout_ms);
/* IPv4/UDP packet behind a plain vnet header, written to out; its length. */
size_t make_udp(uint8_t *out, const char *src, const char *dst, size_t payload, uint8_t fill);
struct um_dp_peer_stats stats(struct side *s);
uint64_t global(struct side *s, enum um_dp_global g);
/* Wait (up to 2 s) for a drop counter to reach want / for a control
 * message of that kind (written to *out). */
bool wait_drop(struct side *s, enum um_dp_drop reason, uint64_t want);
bool wait_control(struct side *s, enum um_dp_control_kind kind, struct um_dp_control_msg *out);

#endif
