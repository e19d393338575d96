/*
 * test_fault.c - allocation failures inside zsswap: the pool's metadata
 * allocations failing (the core's fault injection) while pages are evicted
 * lose nothing, and once allocations succeed again reclaim brings the
 * region back under budget;
 * a region too large for its page table fails at create with ENOMEM and
 * leaves nothing mapped.
 */
#include "zsswap_test.h"
#include "internal.h" /* zs_test_fail_meta_alloc */

static unsigned int count_mappings(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned int n = 0;
	int c;

	while (f && (c = fgetc(f)) != EOF)
		n += c == '\n';
	if (f)
		fclose(f);
	return n;
}

/* Every page written while the pool's next metadata allocation is set to
 * fail: the evictions that meet a failure keep their page resident; no
 * byte is lost, and reclaim works once allocations succeed again. */
static void test_pool_metadata_fails(void)
{
	const size_t pages = 4096, budget = 64;
	unsigned char *shadow = malloc(pages * PAGE);
	struct zsswap *z = test_create(pages * PAGE, budget * PAGE, NULL);
	unsigned char *r = zsswap_base(z);
	struct zsswap_stats s;
	unsigned int failures = 0;

	test_fill_real(shadow, pages, 41);
	for (size_t i = 0; i < pages; i++) {
		zs_test_fail_meta_alloc(1, false);
		memcpy(r + i * PAGE, shadow + i * PAGE, PAGE);
		failures += zs_test_meta_countdown() == 0;
	}
	zs_test_fail_meta_alloc(0, false);
	zsswap_get_stats(z, &s);
	printf("%u pages written while a pool allocation failed; %llu resident "
	       "for a budget of %zu\n",
	       failures, (unsigned long long)s.resident_pages, budget);
	CHECK(failures > 0);
	CHECK(memcmp(r, shadow, pages * PAGE) == 0);
	if (s.resident_pages > budget)
		zsswap_reclaim(z, (s.resident_pages - budget) * PAGE);
	zsswap_get_stats(z, &s);
	CHECK(s.resident_pages <= budget + ZSSWAP_RESIDENT_SLACK);
	CHECK(memcmp(r, shadow, pages * PAGE) == 0);
	zsswap_destroy(z);
	free(shadow);
}

static void test_create_enomem(void)
{
	FILE *f = fopen("/proc/sys/vm/overcommit_memory", "r");
	int mode = -1;
	unsigned int before;
	struct zsswap_config c;

	if (f) {
		if (fscanf(f, "%d", &mode) != 1)
			mode = -1;
		fclose(f);
	}
	if (mode != 0 && mode != 2) {
		printf("ENOMEM case skipped (vm.overcommit_memory=%d)\n", mode);
		return;
	}
	zsswap_config_init(&c);
	c.size = (size_t)8 << 40; /* 8 TiB: a page table of 48 GiB */
	before = count_mappings();
	CHECK(zsswap_create(&c) == NULL);
	CHECK_EQ(errno, ENOMEM);
	CHECK(strstr(zsswap_last_error(), "page table") != NULL);
	CHECK_EQ(count_mappings(), before);
}

int main(void)
{
	tu_init("zsswap_fault", 1);
	test_pool_metadata_fails();
	test_create_enomem();
	printf("zsswap fault: ok\n");
	return 0;
}
