/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the config parser on arbitrary text. */
#include <stddef.h>
#include <stdint.h>

#include "ctl/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct um_config config;
	char error[UM_CONFIG_ERROR_MAX];

	if (um_config_parse_buffer(&config, (const char *)data, size, "fuzz.conf", error, sizeof(error)) == 0)
		um_config_free(&config);
	return 0;
}
