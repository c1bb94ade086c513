/* SPDX-License-Identifier: MIT */
/* node/messaging_fileio.h: the offer's hash pass, the receiver's read-back
 * of chunks it did not check, the final link, and the fdatasync thread
 * driven through a real loop (its eventfd). */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "msg/file.h"
#include "net/loop.h"
#include "node/messaging_fileio.h"
#include "test.h"
#include "util/error.h"

static char dir[] = "/tmp/umbra-fileio-XXXXXX";

static int write_file(const char *path, const uint8_t *data, size_t len)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	CHECK(fd >= 0);
	CHECK_EQ(write(fd, data, len), (ssize_t)len);
	return fd;
}

/* The hash pass against libsodium's SHA-256 over the same bytes, for sizes
 * around the chunk and read boundaries. */
static void test_hash(void)
{
	static const size_t sizes[] = {
	    0, 1, 65535, 65536, 65537, (1 << 20) - 1, 1 << 20, (1 << 20) + 7, 3 * (1 << 20) + 65536 * 3 + 11};
	char path[64];

	snprintf(path, sizeof(path), "%s/h.bin", dir);
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t size = sizes[k], n = (size + 65535) / 65536;
		uint8_t *data = malloc(size + 1), *hashes = NULL, *expect = malloc(n * 32 + 1);
		uint8_t got[32], want[32];
		randombytes_buf(data, size);
		int fd = write_file(path, data, size);
		for (size_t i = 0; i < n; i++)
			crypto_hash_sha256(expect + i * 32, data + i * 65536,
					   size - i * 65536 < 65536 ? size - i * 65536 : 65536);
		crypto_hash_sha256(want, expect, n * 32);
		CHECK_EQ(msg_file_hash(fd, size, 65536, got, &hashes), 0);
		CHECK_MEM(got, want, 32);
		CHECK(hashes != NULL);
		if (hashes && n)
			CHECK_MEM(hashes, expect, n * 32);
		free(hashes);
		/* The file shorter than announced: refused, nothing handed out. */
		hashes = (uint8_t *)1;
		CHECK_EQ(msg_file_hash(fd, size + 1, 65536, got, &hashes), -UM_ETRUNC);
		CHECK(hashes == NULL);
		close(fd);
		free(data);
		free(expect);
	}
}

/* A receiver whose first chunks came before a "restart": the read-back
 * fills exactly those, and the verification then passes; a byte changed on
 * the disk fails it. */
static void test_hash_missing(void)
{
	enum { SIZE = 5 * 4096 + 100, CHUNK = 4096 };
	static uint8_t data[SIZE];
	uint8_t hashes[6 * 32];
	struct um_file_meta meta = {.size = SIZE, .chunk_size = CHUNK, .n_chunks = 6};
	struct um_file_receive *fr;
	char path[64];

	randombytes_buf(data, sizeof(data));
	for (int i = 0; i < 6; i++)
		crypto_hash_sha256(hashes + i * 32, data + i * CHUNK, i < 5 ? CHUNK : 100);
	crypto_hash_sha256(meta.hash, hashes, sizeof(hashes));
	snprintf(path, sizeof(path), "%s/m.bin", dir);
	int fd = write_file(path, data, SIZE);
	for (int corrupt = 0; corrupt < 2; corrupt++) {
		CHECK_EQ(um_file_receive_new(&meta, NULL, &fr), 0);
		for (uint32_t i = 3; i < 6; i++) /* checked in this run */
			um_file_receive_set_chunk_hash(fr, i, hashes + i * 32);
		CHECK_EQ(um_file_receive_verify(fr), -UM_ESTATE);
		if (corrupt)
			CHECK_EQ(pwrite(fd, "X", 1, 2 * CHUNK + 5), 1);
		CHECK_EQ(msg_file_hash_missing(fd, fr), 0);
		CHECK_EQ(fr->hashed.count, 6);
		CHECK_EQ(um_file_receive_verify(fr), corrupt ? -UM_EBADMSG : 0);
		um_file_receive_free(fr);
	}
	/* Truncated on disk: the read-back fails. */
	CHECK_EQ(ftruncate(fd, CHUNK), 0);
	CHECK_EQ(um_file_receive_new(&meta, NULL, &fr), 0);
	CHECK_EQ(msg_file_hash_missing(fd, fr), -UM_ETRUNC);
	um_file_receive_free(fr);
	close(fd);
}

static void test_link_final(void)
{
	char temp[64], final[128], expect[128];

	for (int i = 0; i < 3; i++) {
		snprintf(temp, sizeof(temp), "%s/.part%d", dir, i);
		close(write_file(temp, (const uint8_t *)"x", 1));
		CHECK_EQ(msg_file_link_final(dir, "photo.tar.gz", temp, final, sizeof(final)), 0);
		if (i == 0)
			snprintf(expect, sizeof(expect), "%s/photo.tar.gz", dir);
		else
			snprintf(expect, sizeof(expect), "%s/photo.tar (%d).gz", dir, i);
		CHECK(strcmp(final, expect) == 0);
		CHECK(access(temp, F_OK) != 0); /* the temporary name is gone */
		CHECK(access(final, F_OK) == 0);
	}
	msg_file_temp_path(dir, "a.bin", (const uint8_t *)"\x01\x02\x03\x04zzzzzzzzzzzz", temp, sizeof(temp));
	snprintf(expect, sizeof(expect), "%s/.a.bin.01020304.umbra-part", dir);
	CHECK(strcmp(temp, expect) == 0);
}

struct done_log {
	int calls, result;
	size_t n;
	uint32_t first;
	uint8_t id[16];
	struct msg_file_sync *resubmit; /* submits again from done (the receiver does) */
	int fd;
};

static void on_done(void *arg, const uint8_t id[16], const uint32_t *index, size_t n, int result)
{
	struct done_log *log = arg;

	log->calls++;
	log->result = result;
	log->n = n;
	log->first = n ? index[0] : 0;
	memcpy(log->id, id, 16);
	if (log->resubmit) {
		uint32_t again = 99;
		CHECK_EQ(msg_file_sync_submit(log->resubmit, id, log->fd, &again, 1), 0);
		log->resubmit = NULL;
	}
}

static void test_sync_thread(void)
{
	struct um_loop *loop;
	struct msg_file_sync *s;
	struct done_log log = {0};
	uint8_t id[16] = {7}, other[16] = {8};
	uint32_t index[MSG_FILE_SYNC_MAX + 1];
	char path[64];

	for (uint32_t i = 0; i <= MSG_FILE_SYNC_MAX; i++)
		index[i] = i + 10;
	snprintf(path, sizeof(path), "%s/s.bin", dir);
	int fd = write_file(path, (const uint8_t *)"data", 4);
	CHECK_EQ(um_loop_new(&loop), 0);
	CHECK_EQ(msg_file_sync_new(loop, on_done, &log, &s), 0);
	CHECK(!msg_file_sync_busy(s));
	CHECK_EQ(msg_file_sync_submit(s, id, fd, index, 0), -UM_EINVAL);
	CHECK_EQ(msg_file_sync_submit(s, id, fd, index, MSG_FILE_SYNC_MAX + 1), -UM_EINVAL);

	/* Through the loop: done runs on the loop's thread once, after the
	 * eventfd woke it. */
	CHECK_EQ(msg_file_sync_submit(s, id, fd, index, 64), 0);
	CHECK(msg_file_sync_busy(s));
	CHECK(msg_file_sync_holds(s, id));
	CHECK(!msg_file_sync_holds(s, other));
	CHECK_EQ(msg_file_sync_submit(s, other, fd, index, 1), -UM_EAGAIN); /* one at a time */
	for (int i = 0; i < 500 && log.calls == 0; i++)
		um_loop_run_once(loop, 10);
	CHECK_EQ(log.calls, 1);
	CHECK_EQ(log.result, 0);
	CHECK_EQ(log.n, 64);
	CHECK_EQ(log.first, 10);
	CHECK_MEM(log.id, id, 16);
	CHECK(!msg_file_sync_busy(s));

	/* A failing fdatasync (a descriptor that is not open) reports -errno;
	 * wait() runs done without the loop, and done may submit again. */
	CHECK_EQ(msg_file_sync_submit(s, other, 1000000, index, 3), 0);
	log.resubmit = s;
	log.fd = fd;
	msg_file_sync_wait(s);
	CHECK_EQ(log.calls, 2);
	CHECK_EQ(log.result, -EBADF);
	CHECK(msg_file_sync_holds(s, other)); /* the one submitted from done */
	msg_file_sync_wait(s);
	CHECK_EQ(log.calls, 3);
	CHECK_EQ(log.first, 99);
	msg_file_sync_wait(s); /* nothing in flight: nothing runs */
	CHECK_EQ(log.calls, 3);
	um_loop_run_once(loop, 0); /* the eventfd stayed readable: no job, no call */
	CHECK_EQ(log.calls, 3);

	/* Freed with a job in flight: its done runs first. */
	CHECK_EQ(msg_file_sync_submit(s, id, fd, index, 2), 0);
	msg_file_sync_free(s);
	CHECK_EQ(log.calls, 4);
	CHECK_EQ(log.n, 2);
	um_loop_free(loop);
	close(fd);
}

/* Staged chunks: the thread writes them at index * chunk_size (len 0:
 * already on the file, only synced), then syncs; the stages swap so that
 * the caller gets the thread's previous one; a pwrite that fails reports
 * -errno and the chunks are not claimed durable. */
static void test_sync_writes(void)
{
	struct um_loop *loop;
	struct msg_file_sync *s;
	struct done_log log = {0};
	uint8_t id[16] = {9}, got[3 * 1000];
	uint8_t *stage = malloc(MSG_FILE_STAGE_BYTES), *first = stage;
	uint32_t index[3] = {2, 0, 1}, len[3] = {600, 1000, 0}, chunk = 1000;
	char path[64];

	CHECK(stage != NULL);
	snprintf(path, sizeof(path), "%s/w.bin", dir);
	int fd = write_file(path, (const uint8_t *)"", 0);
	memset(got, 0x11, 1000);
	CHECK_EQ(pwrite(fd, got, 1000, 1000), 1000);   /* chunk 1, written before */
	memset(stage, 0x22, 600);                      /* chunk 2 (the last, shorter) */
	memset(stage + UM_FILE_CHUNK_MAX, 0x33, 1000); /* chunk 0 */
	CHECK_EQ(um_loop_new(&loop), 0);
	CHECK_EQ(msg_file_sync_new(loop, on_done, &log, &s), 0);
	CHECK_EQ(msg_file_sync_submit_writes(s, id, fd, -1, index, len, MSG_FILE_STAGE_MAX + 1, chunk, &stage),
		 -UM_EINVAL);
	CHECK(stage == first);
	CHECK_EQ(msg_file_sync_submit_writes(s, id, fd, -1, index, len, 3, chunk, &stage), 0);
	CHECK(stage == NULL); /* the thread had none before */
	CHECK_EQ(msg_file_sync_submit_writes(s, id, fd, -1, index, len, 3, chunk, &stage), -UM_EINVAL); /* no stage */
	msg_file_sync_wait(s);
	CHECK_EQ(log.calls, 1);
	CHECK_EQ(log.result, 0);
	CHECK_EQ(log.n, 3);
	CHECK_EQ(pread(fd, got, sizeof(got), 0), 2600);
	for (size_t i = 0; i < 2600; i++)
		CHECK_EQ(got[i], i < 1000 ? 0x33 : i < 2000 ? 0x11 : 0x22);

	/* The next job: the caller's new stage goes, the first comes back. */
	uint8_t *second = malloc(MSG_FILE_STAGE_BYTES);
	CHECK(second != NULL);
	stage = second;
	CHECK_EQ(msg_file_sync_submit_writes(s, id, 1000000, -1, index, len, 3, chunk, &stage), 0);
	CHECK(stage == first);
	msg_file_sync_wait(s);
	CHECK_EQ(log.calls, 2);
	CHECK_EQ(log.result, -EBADF);
	msg_file_sync_free(s); /* frees the stage it holds (second) */
	free(stage);
	um_loop_free(loop);
	close(fd);
}

/* Pages of the file's first n_pages in the page cache (mincore). */
static size_t resident_pages(int fd, size_t n_pages)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned char vec[64];
	size_t n = 0;

	CHECK(n_pages <= sizeof(vec));
	void *map = mmap(NULL, n_pages * (size_t)page, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(map != MAP_FAILED);
	CHECK_EQ(mincore(map, n_pages * (size_t)page, vec), 0);
	for (size_t i = 0; i < n_pages; i++)
		n += vec[i] & 1;
	munmap(map, n_pages * (size_t)page);
	return n;
}

/* Whole chunks from an aligned stage go through the O_DIRECT fd: the
 * bytes are on the file and none of their pages in the page cache; the
 * last, shorter chunk goes through the ordinary fd (in the cache). A
 * stage that is not aligned, or no direct fd, writes the same bytes the
 * ordinary way. */
static void test_direct_writes(void)
{
	enum { CHUNK = 16384 };
	uint8_t *stage = msg_file_stage_new(), *got = malloc(3 * CHUNK);
	uint32_t index[3] = {1, 0, 2}, len[3] = {CHUNK, CHUNK, 100};
	char path[64];

	CHECK(stage != NULL && got != NULL);
	memset(stage, 0x41, CHUNK);
	memset(stage + UM_FILE_CHUNK_MAX, 0x42, CHUNK);
	memset(stage + 2 * (size_t)UM_FILE_CHUNK_MAX, 0x43, 100);
	for (int round = 0; round < 2; round++) {
		snprintf(path, sizeof(path), "%s/d%d.bin", dir, round);
		int fd = write_file(path, (const uint8_t *)"", 0);
		int direct = round == 0 ? msg_file_open_direct(path) : -1;
		if (round == 0 && direct < 0)
			fprintf(stderr, "  (no O_DIRECT on %s: %s; the fallback is checked only)\n", dir,
				strerror(errno));
		CHECK_EQ(msg_file_write_stage(fd, direct, stage, index, len, 3, CHUNK), 0);
		CHECK_EQ(pread(fd, got, 3 * CHUNK, 0), 2 * CHUNK + 100);
		for (size_t i = 0; i < 2 * CHUNK + 100; i++)
			CHECK_EQ(got[i], i < CHUNK ? 0x42 : i < 2 * CHUNK ? 0x41 : 0x43);
		CHECK_EQ(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0); /* our pread's pages */
		CHECK_EQ(msg_file_write_stage(fd, direct, stage, index, len, 3, CHUNK), 0);
		size_t pages = (size_t)(2 * CHUNK) / (size_t)sysconf(_SC_PAGESIZE);
		struct statfs fs;
		CHECK_EQ(fstatfs(fd, &fs), 0);
		if (direct >= 0 && fs.f_type == TMPFS_MAGIC)
			fprintf(stderr, "  (%s is tmpfs: its O_DIRECT keeps the pages; residency not checked)\n", dir);
		else if (direct >= 0)
			CHECK_EQ(resident_pages(fd, pages), 0);
		else
			CHECK_EQ(resident_pages(fd, pages), pages);
		/* Neighbours on the file (0, 1, 2): one pwritev for the whole
		 * chunks, then the short one; same bytes. */
		CHECK_EQ(msg_file_write_stage(fd, direct, stage, (uint32_t[]){0, 1, 2}, len, 3, CHUNK), 0);
		CHECK_EQ(pread(fd, got, 3 * CHUNK, 0), 2 * CHUNK + 100);
		for (size_t i = 0; i < 2 * CHUNK + 100; i++)
			CHECK_EQ(got[i], i < CHUNK ? 0x41 : i < 2 * CHUNK ? 0x42 : 0x43);
		if (direct >= 0) /* a stage one byte off: the ordinary way, same bytes */
			CHECK_EQ(
			    msg_file_write_stage(fd, direct, stage + 1, (uint32_t[]){0}, (uint32_t[]){CHUNK}, 1, CHUNK),
			    0);
		if (direct >= 0)
			close(direct);
		close(fd);
	}
	free(got);
	free(stage);
}

int main(void)
{
	if (sodium_init() < 0 || !mkdtemp(dir))
		return 1;
	RUN(test_hash);
	RUN(test_hash_missing);
	RUN(test_link_final);
	RUN(test_sync_thread);
	RUN(test_sync_writes);
	RUN(test_direct_writes);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return um_test_end();
}
