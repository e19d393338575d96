/*
 * zbud_test.c - zbud's own invariants, through its internal API: chunk
 * geometry, at most two objects per page, first fit into an unbuddied page,
 * objects never move, empty pages go back at once, the consistency checker
 * after random work, and the misuse it catches (abort with "zpool").
 */
#include "test_util.h"
#include "zbud.h"

static struct zpool *new_pool(void)
{
	struct zpool *pool = zbud_create("zbud-test", NULL);

	CHECK(pool, "zbud_create: %s", strerror(errno));
	return pool;
}

static void check_pool(struct zpool *pool)
{
	char why[256];

	CHECK(zpool_check(pool, why, sizeof(why)) == 0, "zbud_check: %s", why);
}

static void test_geometry(void)
{
	struct zpool_config config = { .page_size = 65536 };
	struct zpool *pool = new_pool();

	CHECK(zpool_max_size(pool) == 4096 - ZBUD_CHUNK_SIZE, "max %zu", zpool_max_size(pool));
	CHECK(zpool_huge_size(pool) == 4096 - 2 * ZBUD_CHUNK_SIZE, "huge %zu",
	      zpool_huge_size(pool));
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

	a = zbud_alloc(pool, 1000);	/* 16 chunks, first */
	b = zbud_alloc(pool, 2000);	/* 32 chunks, last: fits the 47 left */
	CHECK(a && b, "alloc");
	CHECK(zpool_total_pages(pool) == 1, "two buddies in %lu pages",
	      zpool_total_pages(pool));
	CHECK(zbud_objects_in_page(pool, a) == 2, "page holds %u",
	      zbud_objects_in_page(pool, a));
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
	check_pool(pool);
	/* Freeing a buddy keeps the other in place; the page stays. */
	zbud_free(pool, a);
	CHECK(zbud_map(pool, b, ZS_MM_RW) == pb, "last buddy moved");
	CHECK(zpool_total_pages(pool) == 2, "page freed too early");
	zbud_free(pool, b);
	CHECK(zpool_total_pages(pool) == 1, "empty page kept");
	zbud_free(pool, c);
	zbud_free(pool, d);
	CHECK(zpool_total_pages(pool) == 0, "pages left");
	check_pool(pool);
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
	      st.stored_bytes == 200ull * 1300, "stats %lu %lu %lu %llu", st.objects,
	      st.buddied_pages, st.unbuddied_pages, st.stored_bytes);
	zpool_destroy(pool);	/* with live objects */
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
	uint64_t seed = 11;
	size_t ops = 300000 / test_scale_divisor(), op, i;
	struct zbud_stats st;

	memset(h, 0, sizeof(h));
	for (op = 0; op < ops; op++) {
		i = (size_t)(test_rand(&seed) % N);
		if (h[i]) {
			CHECK(zbud_map(pool, h[i], ZS_MM_RW) == addr[i], "object moved");
			CHECK(test_verify(addr[i], size[i], h[i]) == size[i],
			      "object %zu lost its bytes", i);
			CHECK(zbud_objects_in_page(pool, h[i]) <= 2, "more than two");
			zbud_free(pool, h[i]);
			h[i] = 0;
		} else {
			size[i] = 1 + (size_t)(test_rand(&seed) % zpool_max_size(pool));
			h[i] = zbud_alloc(pool, size[i]);
			CHECK(h[i], "alloc %zu", size[i]);
			addr[i] = zbud_map(pool, h[i], ZS_MM_RW);
			test_fill(addr[i], size[i], h[i]);
		}
		if (op % 5000 == 0) {
			check_pool(pool);
			zbud_get_stats(pool, &st);
			CHECK(st.objects <= 2 * st.pages && st.objects >= st.pages,
			      "%lu objects in %lu pages", st.objects, st.pages);
		}
	}
	for (i = 0; i < N; i++)
		if (h[i]) {
			CHECK(test_verify(addr[i], size[i], h[i]) == size[i], "bytes lost");
			zbud_free(pool, h[i]);
		}
	CHECK(zpool_total_pages(pool) == 0, "pages left");
	check_pool(pool);
	zpool_destroy(pool);
}

/* ---- misuse ---- */

static void double_free(void *arg)
{
	struct zpool *pool = arg;
	unsigned long a = zbud_alloc(pool, 100);

	zbud_alloc(pool, 100);	/* keeps the page alive */
	zbud_free(pool, a);
	zbud_free(pool, a);
}

static void free_after_page_released(void *arg)
{
	struct zpool *pool = arg;
	unsigned long a = zbud_alloc(pool, 100);

	zbud_free(pool, a);
	zbud_free(pool, a);
}

static void forged_handle(void *arg)
{
	struct zpool *pool = arg;
	unsigned long a = zbud_alloc(pool, 100);

	zbud_free(pool, a + 4);
}

static void other_pool(void *arg)
{
	struct zpool *pool = arg, *other = new_pool();
	unsigned long a = zbud_alloc(other, 100);

	zbud_map(pool, a, ZS_MM_RW);
}

static void write_too_much(void *arg)
{
	struct zpool *pool = arg;
	unsigned long a = zbud_alloc(pool, 100);
	char buf[200] = { 0 };

	zbud_backend.write(pool, a, buf, sizeof(buf));
}

static void test_misuse(void)
{
	struct zpool *pool = new_pool();

	CHECK(test_expect_abort(double_free, pool, "zpool") == 0, "double free");
	CHECK(test_expect_abort(free_after_page_released, pool, "zpool") == 0,
	      "free after the page went back");
	CHECK(test_expect_abort(forged_handle, pool, "zpool") == 0, "forged handle");
	CHECK(test_expect_abort(other_pool, pool, "zpool") == 0, "handle of another pool");
	CHECK(test_expect_abort(write_too_much, pool, "zpool") == 0, "write past the end");
	zpool_destroy(pool);
}

int main(void)
{
	test_geometry();
	test_two_per_page();
	test_density_bounds();
	test_random();
	test_misuse();
	printf("zbud_test passed\n");
	return 0;
}
