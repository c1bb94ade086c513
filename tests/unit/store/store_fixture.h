/* SPDX-License-Identifier: MIT */
/* A fresh directory per test case for the store's database, and message
 * builders shared by the store tests. */
#ifndef UM_TEST_STORE_FIXTURE_H
#define UM_TEST_STORE_FIXTURE_H

#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "store/store.h"

struct store_fixture {
	char dir[256];
	char path[300];
};

/* Makes a new empty directory under base (NULL: $TMPDIR or /tmp). */
static inline int store_fixture_init(struct store_fixture *f, const char *base)
{
	if (!base)
		base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(f->dir, sizeof(f->dir), "%s/um-store-XXXXXX", base);
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/messages.db", f->dir);
	return 0;
}

/* Removes every file of the directory, then the directory. */
static inline void store_fixture_cleanup(struct store_fixture *f)
{
	DIR *d = opendir(f->dir);
	struct dirent *e;
	char p[600];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' && (e->d_name[1] == 0 || (e->d_name[1] == '.' && e->d_name[2] == 0)))
			continue;
		snprintf(p, sizeof(p), "%s/%s", f->dir, e->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(f->dir);
}

static inline void store_fill_peer(uint8_t peer[32], uint8_t tag)
{
	for (int i = 0; i < 32; i++)
		peer[i] = (uint8_t)(tag * 31 + i);
}

/* Message ids carry a counter in their first 8 bytes (big-endian). */
static inline void store_fill_id(uint8_t id[16], uint64_t n)
{
	for (int i = 0; i < 8; i++)
		id[i] = (uint8_t)(n >> (56 - 8 * i));
	memset(id + 8, 0xa5, 8);
}

static inline uint64_t store_id_number(const uint8_t id[16])
{
	uint64_t n = 0;

	for (int i = 0; i < 8; i++)
		n = n << 8 | id[i];
	return n;
}

/* ---- ENOSPC tests: a small tmpfs in a private mount namespace ---- */

/* Enters a mount namespace of our own (the tmpfs is invisible to
 * everything else and goes away with this process) and checks a tmpfs can
 * be mounted: 0, or 77 (skip) with the reason printed. */
static inline int store_tmpfs_namespace(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "skip: mounting a tmpfs needs root\n");
		return 77;
	}
	if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
		fprintf(stderr, "skip: no private mount namespace: %s\n", strerror(errno));
		return 77;
	}
	return 0;
}

/* A fresh 300 KiB tmpfs at f->dir holding `file` (f->path) and 64 KiB of
 * ballast (path in ballast[cap]) to free after the disk filled up. */
static inline int store_tmpfs_setup(struct store_fixture *f, const char *file, char *ballast, size_t cap)
{
	static uint8_t zeros[64 * 1024];
	FILE *b;

	if (store_fixture_init(f, NULL) != 0)
		return -1;
	if (mount("tmpfs", f->dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=300k,mode=0700") != 0) {
		rmdir(f->dir);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, file);
	snprintf(ballast, cap, "%s/ballast", f->dir);
	b = fopen(ballast, "w");
	if (!b || fwrite(zeros, 1, sizeof(zeros), b) != sizeof(zeros) || fclose(b) != 0)
		return -1;
	return 0;
}

static inline void store_tmpfs_teardown(struct store_fixture *f)
{
	umount2(f->dir, MNT_DETACH);
	rmdir(f->dir);
}

#endif
