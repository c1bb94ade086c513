/* SPDX-License-Identifier: MIT */
/* A fresh directory per test case for the store's database, and message
 * builders shared by the store tests. */
#ifndef UM_TEST_STORE_FIXTURE_H
#define UM_TEST_STORE_FIXTURE_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

#endif
