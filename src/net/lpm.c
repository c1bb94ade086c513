/* SPDX-License-Identifier: MIT */
#include "net/lpm.h"
#include "util/compiler.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

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

int um_prefix_parse(const char *text, int allow_host_bits, struct um_prefix *out)
{
	char addr[64];
	const char *slash = strchr(text, '/');
	size_t alen = slash ? (size_t)(slash - text) : strlen(text);
	memset(out, 0, sizeof(*out));
	if (alen == 0 || alen >= sizeof(addr))
		return -UM_EINVAL;
	memcpy(addr, text, alen);
	addr[alen] = 0;
	unsigned max;
	if (inet_pton(AF_INET, addr, out->addr) == 1) {
		out->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, addr, out->addr) == 1) {
		out->family = AF_INET6;
		max = 128;
	} else {
		return -UM_EINVAL;
	}
	unsigned len = max;
	if (slash) {
		const char *p = slash + 1;
		if (*p == 0 || strlen(p) > 3)
			return -UM_EINVAL;
		len = 0;
		for (; *p; p++) {
			if (*p < '0' || *p > '9')
				return -UM_EINVAL;
			len = len * 10 + (unsigned)(*p - '0');
		}
		if (len > max)
			return -UM_EINVAL;
	}
	out->len = (uint8_t)len;
	for (unsigned bit = len; bit < max; bit++) {
		if (out->addr[bit / 8] & (0x80 >> (bit % 8))) {
			if (!allow_host_bits)
				return -UM_EINVAL;
		}
	}
	return 0;
}

void um_prefix_format(const struct um_prefix *prefix, char *buf, size_t size)
{
	char addr[INET6_ADDRSTRLEN] = "?";
	inet_ntop(prefix->family, prefix->addr, addr, sizeof(addr));
	snprintf(buf, size, "%s/%u", addr, prefix->len);
}

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
		const struct um_prefix *p = &entries[i].prefix;
		if (p->family == AF_INET && p->len <= 32)
			rc = trie_insert(&lpm->v4, p->addr, p->len, entries[i].value);
		else if (p->family == AF_INET6 && p->len <= 128)
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
