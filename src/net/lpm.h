/* SPDX-License-Identifier: MIT */
/* A longest-prefix-match table mapping IP prefixes (util/addr.h) to peer
 * slots (allowed-ips). The table is a binary trie in one flat array: lookups
 * walk at most 32 (IPv4) or 128 (IPv6) nodes, never allocate and never write,
 * so readers may run concurrently with each other. A table is built once from
 * a list and then only read; to change it, build a new one and swap the
 * pointer (the data plane does this). */
#ifndef UM_NET_LPM_H
#define UM_NET_LPM_H

#include <stddef.h>
#include <stdint.h>

#include "util/addr.h" /* struct um_addr_prefix */

struct um_lpm_entry {
	struct um_addr_prefix prefix; /* host bits beyond len ignored */
	uint32_t value;
};

struct um_lpm;

#define UM_LPM_NONE UINT32_MAX

/* Build a table from entries (the later of two equal prefixes wins).
 * *out is owned by the caller: um_lpm_free. */
int um_lpm_build(const struct um_lpm_entry *entries, size_t count, struct um_lpm **out);
void um_lpm_free(struct um_lpm *lpm);
/* Value of the longest prefix containing addr, or UM_LPM_NONE. */
uint32_t um_lpm_lookup4(const struct um_lpm *lpm, const uint8_t addr[4]);
uint32_t um_lpm_lookup6(const struct um_lpm *lpm, const uint8_t addr[16]);

#endif
