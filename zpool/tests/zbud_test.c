/*
 * zbud_test.c - zbud's own invariants, through its internal API: chunk
 * geometry, at most two objects per page, first fit into an unbuddied page,
 * objects never move, empty pages go back at once, the consistency checker
 * after random work.  The misuse zbud catches (double frees, forged and
 * foreign handles, writes past the end) is tested by zpool_conformance.
 */
#include <zpool.h>

#include "zs_test.h"
#include "zbud.h"

static struct zpool *new_pool(void)
{
	struct zpool *pool = zbud_create("zbud-test", NULL);

	CHECK(pool, "zbud_create: %s", strerror(errno));
	return pool;
}

static void test_geometry(void)
{
	struct zpool_config config = { .page_size = 65536 };
	struct zpool *pool = new_pool();

	CHECK(zpool_max_size(pool) == 4096 - ZBUD_CHUNK_SIZE, "max %zu", zpool_max_size(pool));
	CHECK(zpool_huge_size(pool) == 4096 - 2 * ZBUD_CHUNK_SIZE, "huge %zu", zpool_huge_size(pool));
	errno = 0;
	CHECK(zbud_alloc(pool, 0) == 0 && errno == EINVAL, "size 0");
	errno = 0;
	CHECK(zbud_alloc(pool, 4033) == 0 && errno == E2BIG, "size 4033");
	zpool_destroy(pool);
	pool = zbud_create("big", &config);
	CHECK(pool && zpool_max_size(pool) == 65536 - ZBUD_CHUNK_SIZE, "64K pages");
	zpool_destroy(pool);
	config.page_size = 8000;
	errno = 0;
	CHECK(!zbud_create("bad", &config) && errno == EINVAL, "page size 8000");
}

static void test_two_per_page(void)
{
	struct zpool *pool = new_pool();
	unsigned long a, b, c, d;
	void *pa, *pb;

	a = zbud_alloc(pool, 1000); /* 16 chunks, first */
	b = zbud_alloc(pool, 2000); /* 32 chunks, last: fits the 47 left */
	CHECK(a && b, "alloc");
	CHECK(zpool_total_pages(pool) == 1, "two buddies in %lu pages", zpool_total_pages(pool));
	CHECK(zbud_objects_in_page(pool, a) == 2, "page holds %u", zbud_objects_in_page(pool, a));
	pa = zbud_map(pool, a, ZS_MM_RW);
	pb = zbud_map(pool, b, ZS_MM_RW);
	CHECK((char *)pa - (char *)((unsigned long)pa & ~4095ul) == ZBUD_CHUNK_SIZE,
	      "first buddy not right after the header");
	CHECK(((unsigned long)pb + 2048) % 4096 == 0, "last buddy does not end the page");
	/* A third object, however small, needs a page of its own. */
	c = zbud_alloc(pool, 1);
	CHECK(c && zpool_total_pages(pool) == 2, "third object in %lu pages",
	      zpool_total_pages(pool));
	/* First fit: c's page has 62 free chunks; d fits there. */
	d = zbud_alloc(pool, 3900);
	CHECK(d && zpool_total_pages(pool) == 2 && zbud_objects_in_page(pool, d) == 2,
	      "first fit missed the unbuddied page");
	CHECK_CONSISTENT(zpool_check, pool);
	/* Freeing a buddy keeps the other in place; the page stays. */
	zbud_free(pool, a);
	CHECK(zbud_map(pool, b, ZS_MM_RW) == pb, "last buddy moved");
	CHECK(zpool_total_pages(pool) == 2, "page freed too early");
	zbud_free(pool, b);
	CHECK(zpool_total_pages(pool) == 1, "empty page kept");
	zbud_free(pool, c);
	zbud_free(pool, d);
	CHECK(zpool_total_pages(pool) == 0, "pages left");
	CHECK_CONSISTENT(zpool_check, pool);
	zpool_destroy(pool);
}

/* Sizes above half a page: one per page; below a third: two per page. */
static void test_density_bounds(void)
{
	struct zpool *pool = new_pool();
	unsigned long h[200];
	struct zbud_stats st;
	int i;

	for (i = 0; i < 200; i++)
		CHECK((h[i] = zbud_alloc(pool, 2100)), "alloc");
	CHECK(zpool_total_pages(pool) == 200, "2100-byte objects: %lu pages",
	      zpool_total_pages(pool));
	for (i = 0; i < 200; i++)
		zbud_free(pool, h[i]);
	for (i = 0; i < 200; i++)
		CHECK((h[i] = zbud_alloc(pool, 1300)), "alloc");
	CHECK(zpool_total_pages(pool) == 100, "1300-byte objects: %lu pages",
	      zpool_total_pages(pool));
	zbud_get_stats(pool, &st);
	CHECK(st.objects == 200 && st.buddied_pages == 100 && st.unbuddied_pages == 0 &&
		      st.stored_bytes == 200ull * 1300,
	      "stats %lu %lu %lu %llu", st.objects, st.buddied_pages, st.unbuddied_pages,
	      st.stored_bytes);
	zpool_destroy(pool); /* with live objects */
}

/* Random work: the checker agrees, no page holds more than two, every
 * object keeps its bytes and its address. */
static void test_random(void)
{
	enum { N = 3000 };
	struct zpool *pool = new_pool();
	static unsigned long h[N];
	static size_t size[N];
	static void *addr[N];
	struct tu_rng seed = tu_rng_from(11);
	size_t ops = 300000 / tu_scale_divisor(), op, i;
	struct zbud_stats st;

	memset(h, 0, sizeof(h));
	for (op = 0; op < ops; op++) {
		i = (size_t)(tu_rand(&seed) % N);
		if (h[i]) {
			CHECK(zbud_map(pool, h[i], ZS_MM_RW) == addr[i], "object moved");
			CHECK(tu_pattern_check(addr[i], size[i], h[i]) == size[i],
			      "object %zu lost its bytes", i);
			CHECK(zbud_objects_in_page(pool, h[i]) <= 2, "more than two");
			zbud_free(pool, h[i]);
			h[i] = 0;
		} else {
			size[i] = 1 + (size_t)(tu_rand(&seed) % zpool_max_size(pool));
			h[i] = zbud_alloc(pool, size[i]);
			CHECK(h[i], "alloc %zu", size[i]);
			addr[i] = zbud_map(pool, h[i], ZS_MM_RW);
			tu_pattern_fill(addr[i], size[i], h[i]);
		}
		if (op % 5000 == 0) {
			CHECK_CONSISTENT(zpool_check, pool);
			zbud_get_stats(pool, &st);
			CHECK(st.objects <= 2 * st.pages && st.objects >= st.pages,
			      "%lu objects in %lu pages", st.objects, st.pages);
		}
	}
	for (i = 0; i < N; i++)
		if (h[i]) {
			CHECK(tu_pattern_check(addr[i], size[i], h[i]) == size[i], "bytes lost");
			zbud_free(pool, h[i]);
		}
	CHECK(zpool_total_pages(pool) == 0, "pages left");
	CHECK_CONSISTENT(zpool_check, pool);
	zpool_destroy(pool);
}

int main(void)
{
	tu_init("zbud_test", 0);
	test_geometry();
	test_two_per_page();
	test_density_bounds();
	test_random();
	printf("zbud_test passed\n");
	return 0;
}
