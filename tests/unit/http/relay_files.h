/* SPDX-License-Identifier: MIT */
/* The files a relay's queue service leaves beside `[relay] queue = PATH`:
 * the queue's head PATH and its segments PATH-NNNNNNNN.log (store/queue.h),
 * and the prekey database PATH-prekeys with SQLite's WAL files
 * (store/prekeys.h). The HTTP tests remove them all so that their rmdir of
 * the scratch directory proves nothing else was left behind. */
#ifndef UM_TEST_RELAY_FILES_H
#define UM_TEST_RELAY_FILES_H

#include <stdio.h>
#include <unistd.h>

static inline void relay_files_remove(const char *queue_path)
{
	static const char *const prekeys[] = {"-prekeys", "-prekeys-wal", "-prekeys-shm"};
	char path[256];

	unlink(queue_path);
	for (unsigned n = 1; n < 100000; n++) {
		snprintf(path, sizeof(path), "%s-%08u.log", queue_path, n);
		if (unlink(path) < 0)
			break;
	}
	for (size_t i = 0; i < sizeof(prekeys) / sizeof(prekeys[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", queue_path, prekeys[i]);
		unlink(path);
	}
}

#endif
