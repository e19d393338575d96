/*
 * test_api_config.c - pool configuration (page sizes and chain sizes accepted and
 * refused, the built-in source for NULL page ops), zs_malloc's bad sizes,
 * the size classes on 4, 16 and 64 KiB pages and several chains, and the
 * huge class (one page per object).
 */
#include "zs_test.h"

#include <limits.h>

#define MAX_PAGE 65536

static struct tu_rng rng;
static unsigned char scratch[MAX_PAGE], data[MAX_PAGE];

/* ---- Pool configuration ---- */

/* The configuration must be refused with EINVAL. */
static void expect_refused(struct zs_pool_config cfg, const char *what, size_t value)
{
	errno = 0;
	CHECK(zs_create_pool_config("bad", &cfg) == NULL, "%s %zu accepted", what, value);
	CHECK_EQ(errno, EINVAL, "%s %zu: errno", what, value);
}

static void test_create_config(void)
{
	static const size_t good_sizes[] = { 0, 4096, 8192, 16384, 32768, 65536 };
	static const size_t bad_sizes[] = { 1,	  512,	 1024,	2048,  3000,   4095,	  4097,
					    6000, 12288, 65535, 65537, 131072, 1UL << 20, SIZE_MAX };
	static const unsigned int bad_chains[] = { 17, 32, 64, UINT_MAX };
	struct zs_pool *pool;

	pool = tu_create_pool("default", NULL);
	CHECK_EQ(zs_page_size(pool), 4096, "zs_create_pool page size");
	CHECK_EQ(zs_get_total_pages(pool), 0);
	zs_destroy_pool(pool);

	for (size_t i = 0; i < sizeof(good_sizes) / sizeof(good_sizes[0]); i++) {
		struct zs_pool_config cfg = { .page_size = good_sizes[i] };

		pool = tu_create_pool("good", &cfg);
		CHECK_EQ(zs_page_size(pool), good_sizes[i] ? good_sizes[i] : 4096, "page_size %zu",
			 good_sizes[i]);
		CHECK_EQ(zs_get_total_pages(pool), 0);
		CHECK(zs_huge_class_size(pool) > 0 && zs_huge_class_size(pool) < zs_page_size(pool),
		      "page size %zu: zs_huge_class_size %zu", zs_page_size(pool),
		      zs_huge_class_size(pool));
		zs_destroy_pool(pool);
	}
	for (size_t i = 0; i < TU_ARRAY_SIZE(bad_sizes); i++)
		expect_refused((struct zs_pool_config){ .page_size = bad_sizes[i] }, "page_size",
			       bad_sizes[i]);
	for (unsigned int chain = 0; chain <= 16; chain++) {
		for (size_t ps = 4096; ps <= MAX_PAGE; ps *= 4) {
			struct zs_pool_config cfg = { .page_size = ps, .max_pages_per_zspage = chain };
			unsigned long h;

			pool = tu_create_pool("chain", &cfg);
			h = zs_malloc(pool, 100);
			CHECK(h != 0, "chain %u page %zu: zs_malloc(100): %s", chain, ps,
			      strerror(errno));
			zs_free(pool, h);
			CHECK_EQ(zs_get_total_pages(pool), 0);
			zs_destroy_pool(pool);
		}
	}
	for (size_t i = 0; i < TU_ARRAY_SIZE(bad_chains); i++)
		expect_refused((struct zs_pool_config){ .max_pages_per_zspage = bad_chains[i] },
			       "chain size", bad_chains[i]);
	/* A zs_page_ops with both members NULL means the built-in source. */
	{
		static const struct zs_page_ops none = { NULL, NULL };
		struct zs_pool_config cfg = { .page_ops = &none };
		unsigned long h;

		pool = tu_create_pool("null-ops", &cfg);
		h = zs_malloc(pool, 1000);
		CHECK(h != 0);
		CHECK_EQ(zs_get_total_pages(pool), zs_list_pages(pool, NULL, 0));
		zs_free(pool, h);
		zs_destroy_pool(pool);
	}
}

/* ---- zs_malloc's bad input ---- */

static void test_bad_sizes(size_t ps)
{
	struct zs_pool_config cfg = { .page_size = ps };
	struct zs_pool *pool = tu_create_pool("bad-sizes", &cfg);
	unsigned long h;

	errno = 0;
	CHECK_EQ(zs_malloc(pool, 0), 0, "zs_malloc(0)");
	CHECK_EQ(errno, EINVAL, "zs_malloc(0) errno");
	errno = 0;
	CHECK_EQ(zs_malloc(pool, ps + 1), 0, "zs_malloc(page_size + 1)");
	CHECK_EQ(errno, E2BIG, "zs_malloc(page_size + 1) errno");
	errno = 0;
	CHECK_EQ(zs_malloc(pool, 2 * ps), 0, "zs_malloc(2 * page_size)");
	CHECK_EQ(errno, E2BIG, "zs_malloc(2 * page_size) errno");
	errno = 0;
	CHECK_EQ(zs_malloc(pool, SIZE_MAX), 0, "zs_malloc(SIZE_MAX)");
	CHECK_EQ(errno, E2BIG, "zs_malloc(SIZE_MAX) errno");
	zs_free(pool, 0); /* a no-op */
	CHECK_EQ(zs_get_total_pages(pool), 0, "pages after failed mallocs");
	h = zs_malloc(pool, ps);
	CHECK(h != 0, "zs_malloc(page_size %zu): %s", ps, strerror(errno));
	CHECK(zs_obj_size(pool, h) >= ps);
	zs_free(pool, 0);
	zs_free(pool, h);
	CHECK_EQ(zs_get_total_pages(pool), 0);
	CHECK_POOL(pool);
	zs_destroy_pool(pool);
}

/* ---- Size classes ---- */

static void test_class_lookup(size_t ps, unsigned int chain)
{
	struct zs_pool_config cfg = { .page_size = ps, .max_pages_per_zspage = chain };
	struct zs_pool *pool = tu_create_pool("classes", &cfg);
	unsigned int count = zs_class_count(pool), prev = 0, in_use = 0;
	size_t huge = zs_huge_class_size(pool);
	struct zs_class_stats st;

	CHECK(count > 1, "zs_class_count = %u", count);
	for (size_t s = 1; s <= ps; s++) {
		unsigned int idx = zs_lookup_class_index(pool, (unsigned int)s);

		CHECK(idx < count, "size %zu: index %u >= count %u", s, idx, count);
		CHECK(idx >= prev,
		      "zs_lookup_class_index not monotonic: size %zu -> %u, "
		      "size %zu -> %u",
		      s - 1, prev, s, idx);
		if (s == 1 || idx != prev) {
			tu_class_stats(pool, idx, &st);
			CHECK(st.size >= s && st.size <= ps, "size %zu in class %u of size %u", s,
			      idx, st.size);
			/* The default chain of the built-in arena is 64 pages
			 * (README); a chain asked for is kept. */
			CHECK(st.pages_per_zspage >= 1 && st.pages_per_zspage <= (chain ? chain : 64),
			      "class %u: pages_per_zspage %u, chain %u", idx, st.pages_per_zspage,
			      chain);
			CHECK(st.objs_per_zspage >= 1 && (size_t)st.objs_per_zspage * st.size <=
								 st.pages_per_zspage * ps,
			      "class %u: %u objects of %u bytes in %u pages", idx,
			      st.objs_per_zspage, st.size, st.pages_per_zspage);
			CHECK_EQ(st.obj_allocated + st.obj_used + st.pages_used, 0,
				 "empty pool, class %u", idx);
			in_use++;
		}
		if (s > huge) {
			tu_class_stats(pool, idx, &st);
			CHECK(st.pages_per_zspage == 1 && st.objs_per_zspage == 1,
			      "size %zu above huge size %zu: class %u has %u objects in %u pages",
			      s, huge, idx, st.objs_per_zspage, st.pages_per_zspage);
		}
		prev = idx;
	}
	/* Every index answers 0 or -ENOENT; past the end -EINVAL. */
	for (unsigned int i = 0; i < count; i++) {
		int ret = zs_get_class_stats(pool, i, &st);

		CHECK(ret == 0 || ret == -ENOENT, "zs_get_class_stats(%u) = %d", i, ret);
	}
	CHECK_EQ(zs_get_class_stats(pool, count, &st), -EINVAL, "index == count");
	CHECK_EQ(zs_get_class_stats(pool, UINT_MAX, &st), -EINVAL, "index UINT_MAX");
	CHECK(in_use >= 2);
	zs_destroy_pool(pool);
}

/* ---- The huge class ---- */

static void test_huge(size_t ps, unsigned int chain)
{
	struct zs_pool_config cfg = { .page_size = ps, .max_pages_per_zspage = chain };
	struct zs_pool *pool = tu_create_pool("huge", &cfg);
	size_t huge = zs_huge_class_size(pool);
	size_t sizes[3] = { huge + 1, huge + (ps - huge) / 2, ps };
	unsigned long h[3][5];

	CHECK(huge > 0 && huge < ps, "zs_huge_class_size %zu, page %zu", huge, ps);
	for (int k = 0; k < 3; k++) {
		for (int i = 0; i < 5; i++) {
			unsigned long before = zs_get_total_pages(pool);

			h[k][i] = zs_malloc(pool, sizes[k]);
			CHECK(h[k][i] != 0, "zs_malloc(%zu): %s", sizes[k], strerror(errno));
			CHECK_EQ(zs_get_total_pages(pool), before + 1,
				 "an object of %zu bytes (huge size %zu, page %zu) must take "
				 "exactly one page",
				 sizes[k], huge, ps);
			CHECK(zs_obj_size(pool, h[k][i]) >= sizes[k] &&
			      zs_obj_size(pool, h[k][i]) <= ps);
			tu_fill_random(&rng, data, sizes[k]);
			zs_obj_write(pool, h[k][i], data, sizes[k]);
			tu_obj_verify(pool, h[k][i], data, sizes[k], TU_ACCESS_OBJ, scratch, "huge");
		}
	}
	CHECK_POOL(pool);
	for (int k = 0; k < 3; k++) {
		for (int i = 0; i < 5; i++) {
			unsigned long before = zs_get_total_pages(pool);

			zs_free(pool, h[k][i]);
			CHECK_EQ(zs_get_total_pages(pool), before - 1, "freeing a huge object");
		}
	}
	CHECK_EQ(zs_get_total_pages(pool), 0);
	zs_destroy_pool(pool);
}

int main(void)
{
	tu_init("test_api_config", 0x5eed0001);
	tu_rng_seed(&rng, tu_state.seed);

	static const size_t page_sizes[] = { 4096, 16384, 65536 };

	test_create_config();
	for (int i = 0; i < 3; i++) {
		size_t ps = page_sizes[i];

		test_bad_sizes(ps);
		test_class_lookup(ps, 0);
		test_class_lookup(ps, 1);
		test_class_lookup(ps, 16);
		test_huge(ps, 0);
		test_huge(ps, 1);
		test_huge(ps, 16);
	}
	test_class_lookup(4096, 3);
	printf("test_api_config: all checks passed\n");
	return 0;
}
