/* SPDX-License-Identifier: MIT */
#include "crypto/secmem.h"

#include <errno.h>
#include <sodium.h>

void *um_secmem_alloc(size_t len)
{
	/* sodium_malloc mlocks best effort and surrounds the buffer with guard
	 * pages; it needs sodium_init() (idempotent, thread safe). */
	if (sodium_init() < 0)
		return NULL;
	void *ptr = sodium_malloc(len);

	if (ptr)
		sodium_memzero(ptr, len);
	return ptr;
}

void um_secmem_free(void *ptr)
{
	if (ptr)
		sodium_free(ptr); /* zeroes before unmapping */
}

int um_secmem_lock(void *ptr, size_t len)
{
	if (sodium_mlock(ptr, len) != 0)
		return errno ? -errno : -EPERM;
	return 0;
}

void um_secmem_unlock(void *ptr, size_t len)
{
	/* sodium_munlock zeroes first; if munlock fails the memory is still
	 * zeroed, which is all that matters here. */
	(void)sodium_munlock(ptr, len);
}
