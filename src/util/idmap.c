/* SPDX-License-Identifier: MIT */
#include "util/idmap.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "util/error.h"

#define NONE UINT32_MAX

_Static_assert(UM_IDMAP_HASH_KEY_BYTES == crypto_shorthash_KEYBYTES, "SipHash-2-4 key");

static uint32_t bucket_of(const struct um_idmap *map, const void *key)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint32_t v;

	crypto_shorthash(h, key, map->key_len, map->hash_key);
	memcpy(&v, h, sizeof(v));
	return v & map->bucket_mask;
}

void um_idmap_clear(struct um_idmap *map)
{
	for (uint32_t i = 0; i <= map->bucket_mask; i++)
		map->buckets[i] = NONE;
	for (uint32_t i = 0; i < map->capacity; i++)
		map->entries[i].next = i + 1 < map->capacity ? i + 1 : NONE;
	map->free_head = map->capacity ? 0 : NONE;
	map->count = 0;
}

int um_idmap_init(struct um_idmap *map, uint32_t capacity, size_t key_len)
{
	uint32_t buckets = 1;

	memset(map, 0, sizeof(*map));
	if (key_len == 0 || key_len > UM_IDMAP_KEY_MAX || capacity > (UINT32_MAX >> 2))
		return -UM_EINVAL;
	/* About two buckets per key: chains stay short at full capacity. */
	while (buckets < 2 * capacity)
		buckets <<= 1;
	map->buckets = malloc(buckets * sizeof(*map->buckets));
	map->entries = calloc(capacity ? capacity : 1, sizeof(*map->entries));
	if (!map->buckets || !map->entries) {
		um_idmap_free(map);
		return -UM_ENOMEM;
	}
	map->bucket_mask = buckets - 1;
	map->capacity = capacity;
	map->key_len = key_len;
	randombytes_buf(map->hash_key, sizeof(map->hash_key));
	um_idmap_clear(map);
	return 0;
}

void um_idmap_free(struct um_idmap *map)
{
	free(map->buckets);
	free(map->entries);
	memset(map, 0, sizeof(*map));
}

static uint32_t *link_of(const struct um_idmap *map, const void *key)
{
	uint32_t *link = &map->buckets[bucket_of(map, key)];

	while (*link != NONE && memcmp(map->entries[*link].key, key, map->key_len) != 0)
		link = &map->entries[*link].next;
	return link;
}

int um_idmap_put(struct um_idmap *map, const void *key, uint32_t value)
{
	uint32_t *link, index;

	if (!map->buckets)
		return -UM_ELIMIT;
	link = link_of(map, key);
	if (*link != NONE) {
		map->entries[*link].value = value;
		return 0;
	}
	if (map->free_head == NONE)
		return -UM_ELIMIT;
	index = map->free_head;
	map->free_head = map->entries[index].next;
	memcpy(map->entries[index].key, key, map->key_len);
	map->entries[index].value = value;
	map->entries[index].next = NONE;
	*link = index; /* the chain's tail */
	map->count++;
	return 0;
}

bool um_idmap_get(const struct um_idmap *map, const void *key, uint32_t *value)
{
	uint32_t *link;

	if (!map->buckets)
		return false;
	link = link_of(map, key);
	if (*link == NONE)
		return false;
	if (value)
		*value = map->entries[*link].value;
	return true;
}

bool um_idmap_remove(struct um_idmap *map, const void *key)
{
	uint32_t *link, index;

	if (!map->buckets)
		return false;
	link = link_of(map, key);
	if (*link == NONE)
		return false;
	index = *link;
	*link = map->entries[index].next;
	memset(map->entries[index].key, 0, sizeof(map->entries[index].key));
	map->entries[index].next = map->free_head;
	map->free_head = index;
	map->count--;
	return true;
}
