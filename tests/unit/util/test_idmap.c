/* SPDX-License-Identifier: MIT */
#include <sodium.h>

#include "test.h"
#include "util/error.h"
#include "util/idmap.h"

enum { KEY = 32, N = 300 };

static void key_of(uint32_t i, uint8_t key[KEY])
{
	memset(key, 0, KEY);
	memcpy(key, &i, sizeof(i));
	key[KEY - 1] = 0xa5;
}

static void test_init_rejects_bad_key_length(void)
{
	struct um_idmap map;

	CHECK_EQ(um_idmap_init(&map, 4, 0), -UM_EINVAL);
	CHECK_EQ(um_idmap_init(&map, 4, UM_IDMAP_KEY_MAX + 1), -UM_EINVAL);
	um_idmap_free(&map); /* safe after a failed init */
}

static void test_put_get_replace(void)
{
	struct um_idmap map;
	uint8_t key[KEY];
	uint32_t value = 0;

	CHECK_EQ(um_idmap_init(&map, N, KEY), 0);
	for (uint32_t i = 0; i < N; i++) {
		key_of(i, key);
		CHECK_EQ(um_idmap_put(&map, key, i * 7), 0);
	}
	CHECK_EQ(map.count, N);
	for (uint32_t i = 0; i < N; i++) {
		key_of(i, key);
		value = UINT32_MAX;
		CHECK(um_idmap_get(&map, key, &value));
		CHECK_EQ(value, i * 7);
	}
	key_of(N, key);
	CHECK(!um_idmap_get(&map, key, &value));
	key_of(5, key);
	CHECK_EQ(um_idmap_put(&map, key, 99), 0); /* replace: no new entry */
	CHECK_EQ(map.count, N);
	CHECK(um_idmap_get(&map, key, &value));
	CHECK_EQ(value, 99);
	um_idmap_free(&map);
}

static void test_full_map_refuses_new_keys(void)
{
	struct um_idmap map;
	uint8_t key[KEY];

	CHECK_EQ(um_idmap_init(&map, 3, KEY), 0);
	for (uint32_t i = 0; i < 3; i++) {
		key_of(i, key);
		CHECK_EQ(um_idmap_put(&map, key, i), 0);
	}
	key_of(3, key);
	CHECK_EQ(um_idmap_put(&map, key, 3), -UM_ELIMIT);
	key_of(1, key);
	CHECK(um_idmap_remove(&map, key));
	key_of(3, key);
	CHECK_EQ(um_idmap_put(&map, key, 3), 0); /* the freed entry is reused */
	um_idmap_free(&map);
}

static void test_remove_keeps_the_rest(void)
{
	struct um_idmap map;
	uint8_t key[KEY];
	uint32_t value;

	CHECK_EQ(um_idmap_init(&map, N, KEY), 0);
	for (uint32_t i = 0; i < N; i++) {
		key_of(i, key);
		CHECK_EQ(um_idmap_put(&map, key, i), 0);
	}
	for (uint32_t i = 0; i < N; i += 2) {
		key_of(i, key);
		CHECK(um_idmap_remove(&map, key));
		CHECK(!um_idmap_remove(&map, key));
	}
	CHECK_EQ(map.count, N / 2);
	for (uint32_t i = 0; i < N; i++) {
		key_of(i, key);
		CHECK_EQ(um_idmap_get(&map, key, &value), i % 2 == 1);
		if (i % 2)
			CHECK_EQ(value, i);
	}
	um_idmap_clear(&map);
	CHECK_EQ(map.count, 0);
	key_of(1, key);
	CHECK(!um_idmap_get(&map, key, NULL));
	um_idmap_free(&map);
}

/* Only key_len bytes count: bytes after it never change the lookup. */
static void test_short_keys(void)
{
	struct um_idmap map;
	uint8_t a[KEY] = {1, 2, 3}, b[KEY] = {1, 2, 3};
	uint32_t value;

	CHECK_EQ(um_idmap_init(&map, 2, 3), 0);
	b[3] = 9;
	CHECK_EQ(um_idmap_put(&map, a, 1), 0);
	CHECK(um_idmap_get(&map, b, &value));
	CHECK_EQ(value, 1);
	um_idmap_free(&map);
}

static void test_zero_capacity(void)
{
	struct um_idmap map;
	uint8_t key[KEY];

	CHECK_EQ(um_idmap_init(&map, 0, KEY), 0);
	key_of(0, key);
	CHECK_EQ(um_idmap_put(&map, key, 0), -UM_ELIMIT);
	CHECK(!um_idmap_get(&map, key, NULL));
	um_idmap_free(&map);
	CHECK(!um_idmap_get(&map, key, NULL)); /* zeroed after free */
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(test_init_rejects_bad_key_length);
	RUN(test_put_get_replace);
	RUN(test_full_map_refuses_new_keys);
	RUN(test_remove_keeps_the_rest);
	RUN(test_short_keys);
	RUN(test_zero_capacity);
	return um_test_end();
}
