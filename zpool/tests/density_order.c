/*
 * density_order.c - the three backends on the same objects: a fixed,
 * seeded sequence of sizes shaped like lz4-compressed pages of real memory
 * (most between 0.5 and 2.5 KiB, some tiny, some nearly incompressible) is
 * stored in each, and the page counts must order as the designs promise:
 * zbud >= objects / 2, z3fold >= objects / 3,
 * z3fold < zbud, zsmalloc < z3fold.  Deterministic: no timing.
 */
#include <zpool.h>

#include "zs_test.h"

static size_t lz4_like_size(struct tu_rng *seed)
{
	uint64_t r = tu_rand(seed);

	switch (r % 20) {
	case 0: return 20 + (size_t)((r >> 8) % 200);	 /* nearly empty pages */
	case 1: return 3000 + (size_t)((r >> 8) % 1000); /* poorly compressible */
	default: return 500 + (size_t)((r >> 8) % 2000);
	}
}

static unsigned long pages_for(const char *backend, size_t n, unsigned long long *bytes)
{
	struct zpool *pool = zpool_create(backend, "density", NULL);
	unsigned long *h = calloc(n, sizeof(*h));
	unsigned long pages;
	struct tu_rng seed = tu_rng_from(2024);
	size_t i;

	CHECK(pool && h, "create %s: %s", backend, strerror(errno));
	*bytes = 0;
	for (i = 0; i < n; i++) {
		size_t size = lz4_like_size(&seed);

		h[i] = zpool_malloc(pool, size);
		CHECK(h[i], "%s: malloc(%zu)", backend, size);
		*bytes += size;
	}
	pages = zpool_total_pages(pool);
	for (i = 0; i < n; i++)
		zpool_free(pool, h[i]);
	CHECK(zpool_total_pages(pool) == 0, "%s: pages left", backend);
	zpool_destroy(pool);
	free(h);
	return pages;
}

int main(void)
{
	size_t n = 20000;
	unsigned long long bytes;
	unsigned long zbud = pages_for("zbud", n, &bytes);
	unsigned long z3fold = pages_for("z3fold", n, &bytes);
	unsigned long zsmalloc = pages_for("zsmalloc", n, &bytes);
	unsigned long floor = (unsigned long)((bytes + 4095) / 4096);

	tu_init("density_order", 0);

	printf("%zu objects, %llu bytes (%lu pages at least): zbud %lu, z3fold %lu, zsmalloc %lu "
	       "pages\n",
	       n, bytes, floor, zbud, z3fold, zsmalloc);
	CHECK(zbud >= n / 2, "zbud holds more than two per page");
	CHECK(z3fold >= n / 3, "z3fold holds more than three per page");
	CHECK(zsmalloc >= floor, "zsmalloc below the byte floor");
	CHECK(z3fold < zbud, "z3fold not denser than zbud");
	CHECK(zsmalloc < z3fold, "zsmalloc not denser than z3fold");
	/* zsmalloc within 10% of the bytes themselves. */
	CHECK(zsmalloc <= floor + floor / 10, "zsmalloc %lu pages for a floor of %lu", zsmalloc,
	      floor);
	return 0;
}
