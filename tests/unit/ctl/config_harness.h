/* SPDX-License-Identifier: MIT */
/* Shared by the config tests. Define CONFIG_TEST_FILE (the file name that
 * error messages carry) before including. */
#ifndef UM_TEST_CONFIG_HARNESS_H
#define UM_TEST_CONFIG_HARNESS_H

#include <stdio.h>
#include <string.h>

#include "crypto/identity.h"
#include "ctl/config.h"
#include "test.h"
#include "util/error.h"

/* Two fixed peer IDs in text form, for configs that name peers. */
__attribute__((unused)) static char id_a[UM_PEER_ID_TEXT_MAX], id_b[UM_PEER_ID_TEXT_MAX];

static inline void make_ids(void)
{
	struct um_identity identity;
	uint8_t seed[UM_HSIG_SEED_BYTES];

	memset(seed, 3, sizeof(seed));
	CHECK_EQ(um_identity_from_seed(&identity, seed), 0);
	CHECK_EQ(um_peer_id_format(&identity.id, id_a, sizeof(id_a)), 0);
	memset(seed, 4, sizeof(seed));
	CHECK_EQ(um_identity_from_seed(&identity, seed), 0);
	CHECK_EQ(um_peer_id_format(&identity.id, id_b, sizeof(id_b)), 0);
	um_identity_wipe(&identity);
}

/* err: UM_CONFIG_ERROR_MAX bytes. */
static inline int parse(struct um_config *c, const char *text, char *err)
{
	err[0] = '\0';
	return um_config_parse_buffer(c, text, strlen(text), CONFIG_TEST_FILE, err, UM_CONFIG_ERROR_MAX);
}

/* The text is refused with exactly this message and leaves no peers. */
static inline void expect_error(const char *text, const char *message)
{
	struct um_config c;
	char err[UM_CONFIG_ERROR_MAX];

	CHECK_EQ(parse(&c, text, err), -UM_ECONFIG);
	if (strcmp(err, message)) {
		fprintf(stderr, "  got:      %s\n  expected: %s\n", err, message);
		CHECK(0);
	}
	CHECK_EQ(c.n_peers, 0);
}

#endif
