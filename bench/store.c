/* SPDX-License-Identifier: MIT */
/* bench-store: messages committed per second by the store (src/store/) on
 * the current directory's file system, with one commit (one fsync) per
 * message and in groups of 64 (um_store_begin/commit: what the node does
 * when many arrive at once). Also the latency of one commit (p50/p99).
 *   bench-store [SECONDS [BODY_BYTES]]   (default 3 s per mode, 200 bytes)
 * The database (bench-store-PID.db, -wal, -shm) is removed afterwards. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"

#define LATENCIES_MAX 1000000

static uint8_t body[UM_STORE_BODY_MAX];
static uint64_t latencies[LATENCIES_MAX];

static int add(struct um_store *s, uint64_t n, size_t len)
{
	struct um_store_message m = {0};

	memset(m.peer, 0x42, sizeof(m.peer));
	for (int i = 0; i < 8; i++)
		m.id[i] = (uint8_t)(n >> (8 * i));
	m.sent_ms = um_wall_ms();
	m.body = body;
	m.len = len;
	return um_store_outbox_add(s, &m);
}

static const char *fs_name(unsigned long type)
{
	switch (type) {
	case 0xef53:
		return "ext4";
	case 0x01021994:
		return "tmpfs";
	case 0x58465342:
		return "xfs";
	case 0x9123683e:
		return "btrfs";
	case 0x794c7630:
		return "overlayfs";
	default:
		return "other";
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Adds messages for `seconds`, `group` per commit; prints the figures. */
static int run(struct um_store *s, uint64_t *next, unsigned group, double seconds, size_t len)
{
	uint64_t start = um_now_ns(), end = start + (uint64_t)(seconds * 1e9), now = start;
	size_t commits = 0, messages = 0;
	int rc = 0;

	while (now < end) {
		uint64_t t0 = now;

		if (group > 1 && (rc = um_store_begin(s)) != 0)
			break;
		for (unsigned i = 0; i < group && rc == 0; i++)
			rc = add(s, (*next)++, len);
		if (group > 1 && rc == 0)
			rc = um_store_commit(s);
		if (rc)
			break;
		now = um_now_ns();
		if (commits < LATENCIES_MAX)
			latencies[commits] = now - t0;
		commits++;
		messages += group;
	}
	if (rc) {
		fprintf(stderr, "bench-store: %s\n", um_strerror(rc));
		return rc;
	}
	double spent = (double)(now - start) / 1e9;
	size_t kept = commits < LATENCIES_MAX ? commits : LATENCIES_MAX;
	qsort(latencies, kept, sizeof(latencies[0]), cmp_u64);
	printf("%-18s %10.0f msg/s %9.0f commits/s   commit p50 %7.3f ms  p99 %7.3f ms   (%zu messages)\n",
	       group > 1 ? "groups of 64" : "one commit each", (double)messages / spent, (double)commits / spent,
	       kept ? (double)latencies[kept / 2] / 1e6 : 0.0, kept ? (double)latencies[kept * 99 / 100] / 1e6 : 0.0,
	       messages);
	return 0;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 3.0;
	size_t len = argc > 2 ? (size_t)atol(argv[2]) : 200;
	char path[64], side[80];
	struct um_store *s = NULL;
	struct statfs fs;
	uint64_t next = 1;
	int rc;

	if (seconds <= 0 || len > UM_STORE_BODY_MAX) {
		fprintf(stderr, "usage: bench-store [SECONDS [BODY_BYTES <= %d]]\n", UM_STORE_BODY_MAX);
		return 2;
	}
	for (size_t i = 0; i < len; i++)
		body[i] = (uint8_t)(i * 31);
	snprintf(path, sizeof(path), "bench-store-%d.db", (int)getpid());
	rc = um_store_open(path, &s);
	if (rc) {
		fprintf(stderr, "bench-store: open %s: %s\n", path, um_strerror(rc));
		return 1;
	}
	if (statfs(".", &fs) == 0)
		printf("file system %s (0x%lx), WAL + synchronous=FULL, %zu-byte bodies, %.1f s per mode\n",
		       fs_name((unsigned long)fs.f_type), (unsigned long)fs.f_type, len, seconds);
	rc = run(s, &next, 1, seconds, len);
	if (rc == 0)
		rc = run(s, &next, 64, seconds, len);
	um_store_close(s);
	unlink(path);
	snprintf(side, sizeof(side), "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", path);
	unlink(side);
	return rc ? 1 : 0;
}
