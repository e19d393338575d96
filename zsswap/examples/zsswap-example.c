/*
 * zsswap-example.c - the README's example: 64 MB of data in a region that
 * may keep only 8 MB resident; the rest lives compressed and comes back on
 * access.  Build: cc zsswap-example.c $(pkg-config --cflags --libs zsswap)
 */
#include <stdio.h>
#include <string.h>
#include <zsswap.h>

int main(void)
{
	struct zsswap_config config;
	struct zsswap *z;
	char *data;
	size_t size = 64 << 20;

	zsswap_config_init(&config);
	config.size = size;
	config.max_resident = 8 << 20;
	config.algorithm = "zstd:3";
	z = zsswap_create(&config);
	if (!z) {
		fprintf(stderr, "%s\n", zsswap_last_error());
		return 1;
	}
	data = zsswap_base(z);
	for (size_t i = 0; i < size; i += 64) /* ordinary memory: just use it */
		snprintf(data + i, 64, "record %zu: some compressible text", i / 64);
	for (size_t i = 0; i < size; i += 64 * 4099) { /* old pages come back */
		char want[64];

		snprintf(want, sizeof(want), "record %zu: some compressible text", i / 64);
		if (strcmp(data + i, want) != 0) {
			fprintf(stderr, "record %zu differs\n", i / 64);
			return 1;
		}
	}
	zsswap_print_stats(z, stdout);
	zsswap_destroy(z);
	return 0;
}
