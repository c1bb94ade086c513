/* SPDX-License-Identifier: MIT */
#include "net/lpm.h"
#include "util/compiler.h"

#include <stdlib.h>
#include <string.h>

#include "util/error.h"

struct lpm_node {
	uint32_t child[2]; /* 0 = none (node 0 is a root, never a child) */
	uint32_t value;
};

struct lpm_trie {
	struct lpm_node *nodes;
	size_t count, cap;
};

struct um_lpm {
	struct lpm_trie v4, v6;
};

static int trie_node(struct lpm_trie *trie, uint32_t *index)
{
	if (trie->count == trie->cap) {
		size_t cap = trie->cap ? trie->cap * 2 : 64;
		struct lpm_node *n = realloc(trie->nodes, cap * sizeof(*n));
		if (!n)
			return -UM_ENOMEM;
		trie->nodes = n;
		trie->cap = cap;
	}
	trie->nodes[trie->count] = (struct lpm_node){{0, 0}, UM_LPM_NONE};
	*index = (uint32_t)trie->count++;
	return 0;
}

static int trie_insert(struct lpm_trie *trie, const uint8_t *addr, unsigned len, uint32_t value)
{
	uint32_t node = 0;
	for (unsigned bit = 0; bit < len; bit++) {
		unsigned b = (addr[bit / 8] >> (7 - bit % 8)) & 1;
		if (trie->nodes[node].child[b] == 0) {
			uint32_t child;
			int rc = trie_node(trie, &child);
			if (rc < 0)
				return rc;
			trie->nodes[node].child[b] = child;
		}
		node = trie->nodes[node].child[b];
	}
	trie->nodes[node].value = value;
	return 0;
}

UM_HOT static uint32_t trie_lookup(const struct lpm_trie *trie, const uint8_t *addr, unsigned bits)
{
	uint32_t node = 0, best = trie->nodes[0].value;
	for (unsigned bit = 0; bit < bits; bit++) {
		node = trie->nodes[node].child[(addr[bit / 8] >> (7 - bit % 8)) & 1];
		if (node == 0)
			break;
		if (trie->nodes[node].value != UM_LPM_NONE)
			best = trie->nodes[node].value;
	}
	return best;
}

void um_lpm_free(struct um_lpm *lpm)
{
	if (!lpm)
		return;
	free(lpm->v4.nodes);
	free(lpm->v6.nodes);
	free(lpm);
}

int um_lpm_build(const struct um_lpm_entry *entries, size_t count, struct um_lpm **out)
{
	int rc;
	uint32_t root;
	struct um_lpm *lpm = calloc(1, sizeof(*lpm));
	*out = NULL;
	if (!lpm)
		return -UM_ENOMEM;
	if ((rc = trie_node(&lpm->v4, &root)) < 0 || (rc = trie_node(&lpm->v6, &root)) < 0)
		goto out;
	for (size_t i = 0; i < count; i++) {
		const struct um_addr_prefix *p = &entries[i].prefix;
		if (p->family == UM_ADDR_IPV4 && p->len <= 32)
			rc = trie_insert(&lpm->v4, p->addr, p->len, entries[i].value);
		else if (p->family == UM_ADDR_IPV6 && p->len <= 128)
			rc = trie_insert(&lpm->v6, p->addr, p->len, entries[i].value);
		else
			rc = -UM_EINVAL;
		if (rc < 0)
			goto out;
	}
	*out = lpm;
	return 0;
out:
	um_lpm_free(lpm);
	return rc;
}

UM_HOT uint32_t um_lpm_lookup4(const struct um_lpm *lpm, const uint8_t addr[4])
{
	return trie_lookup(&lpm->v4, addr, 32);
}

UM_HOT uint32_t um_lpm_lookup6(const struct um_lpm *lpm, const uint8_t addr[16])
{
	return trie_lookup(&lpm->v6, addr, 128);
}
