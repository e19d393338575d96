/*
 * test_page_source.c - pools drawing their pages from a custom zs_page_ops:
 * one that leaves an inaccessible guard page between any two pages it hands
 * out (so no zspage is contiguous and spanning objects must be copied), and
 * one that hands out adjacent pages.  Checks round trips of random objects,
 * that the source holds object storage only (zs_get_total_pages() equals the
 * pages held from it, zs_list_pages() lists exactly those), that the ctx is
 * passed back, and that every page comes back when all objects are freed and
 * when a pool is destroyed with live objects.  Pages given back are made
 * inaccessible, so the library touching one afterwards crashes the test.
 */
#include "zs_test.h"

#define MAX_PAGE 65536

static struct tu_rng rng;
static unsigned char scratch[MAX_PAGE];

/* zs_list_pages lists exactly the pages the source has handed to the pool. */
static void check_pages(struct zs_pool *pool, struct tu_page_source *src, const char *where)
{
	unsigned long total = zs_get_total_pages(pool);
	void **pages = malloc((total + 1) * sizeof(*pages));
	size_t listed;

	CHECK(pages != NULL);
	CHECK_EQ(total, tu_ps_live(src), "%s: zs_get_total_pages vs pages held from the source",
		 where);
	listed = zs_list_pages(pool, pages, total + 1);
	CHECK_EQ(listed, total, "%s: zs_list_pages", where);
	for (size_t i = 0; i < listed; i++)
		CHECK(tu_ps_owns_page(src, pages[i]),
		      "%s: listed page %p is not a live page "
		      "of the source",
		      where, pages[i]);
	free(pages);
}

/* One object from an empty pool costs exactly its class's zspage. */
static void test_first_object_cost(struct zs_pool *pool, struct tu_page_source *src)
{
	size_t ps = zs_page_size(pool);
	size_t sizes[] = { 1, 64, ps / 5, ps / 2, zs_huge_class_size(pool), ps };

	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct zs_class_stats st;
		unsigned long h;

		CHECK_EQ(tu_ps_live(src), 0);
		h = zs_malloc(pool, sizes[k]);
		CHECK(h != 0, "zs_malloc(%zu): %s", sizes[k], strerror(errno));
		CHECK_EQ(zs_get_class_stats(
				 pool, zs_lookup_class_index(pool, (unsigned int)sizes[k]), &st),
			 0);
		/* The whole zspage, or (lazy backing) the pages the object covers. */
		CHECK(tu_ps_live(src) == st.pages_per_zspage ||
			      tu_ps_live(src) == (long)((st.size + ps - 1) / ps),
		      "one object of %zu bytes (class size %u, %u pages per zspage) took %ld "
		      "pages from the source",
		      sizes[k], st.size, st.pages_per_zspage, tu_ps_live(src));
		CHECK_EQ(zs_get_total_pages(pool), tu_ps_live(src));
		zs_free(pool, h);
		CHECK_EQ(tu_ps_live(src), 0, "freeing the only object of %zu bytes", sizes[k]);
	}
}

static void run_source(size_t ps, unsigned int chain, enum tu_page_layout layout)
{
	struct tu_page_source src;
	struct zs_pool_config cfg;
	struct zs_pool *pool;
	struct tu_shadow sh;
	unsigned long n = tu_scale(ps == 4096 ? 3000 : ps == 16384 ? 1200 : 400);
	size_t huge;
	char where[128];

	snprintf(where, sizeof(where), "page %zu chain %u %s", ps, chain,
		 layout == TU_PAGES_GAPPED ? "gapped" : "adjacent");
	tu_ps_init(&src, ps, layout, 16384);
	src.protect_freed = true;
	cfg = tu_ps_config(&src, chain);
	pool = tu_create_pool("source", &cfg);
	CHECK_EQ(tu_ps_live(&src), 0, "%s: a new pool holds no pages", where);
	huge = zs_huge_class_size(pool);
	test_first_object_cost(pool, &src);

	tu_shadow_init(&sh);
	for (unsigned long i = 0; i < n; i++)
		CHECK(tu_shadow_alloc(pool, &sh, &rng, tu_random_size(&rng, ps, huge),
				      (enum tu_access)(i % TU_ACCESS_COUNT), scratch),
		      "%s: zs_malloc: %s", where, strerror(errno));
	check_pages(pool, &src, where);
	tu_shadow_verify_all(pool, &sh, scratch, where);
	CHECK_POOL(pool, "%s", where);

	/* Free a random half, rewrite some of the rest, check again. */
	for (size_t i = sh.count; i-- > 0;)
		if (tu_below(&rng, 2))
			tu_shadow_free(pool, &sh, i);
	for (size_t i = 0; i < sh.count; i += 3)
		tu_shadow_rewrite(pool, &sh, &rng, i, (enum tu_access)(i % TU_ACCESS_COUNT));
	check_pages(pool, &src, where);
	tu_shadow_verify_all(pool, &sh, scratch, where);
	CHECK_POOL(pool, "%s", where);

	/* Compaction gives pages back to the source. */
	{
		long before = tu_ps_live(&src);
		unsigned long freed = zs_compact(pool);

		CHECK_COMPACTED(before, tu_ps_live(&src), freed,
				"%s: source pages after zs_compact", where);
		check_pages(pool, &src, where);
		tu_shadow_verify_all(pool, &sh, scratch, where);
	}
	/* Migration within the source. */
	tu_migrate_random(pool, &rng, 32, TU_MIG_STRICT);
	check_pages(pool, &src, where);
	tu_shadow_verify_all(pool, &sh, scratch, where);

	/* Freeing every object gives back every page, without compaction. */
	tu_shadow_free_all(pool, &sh);
	CHECK_EQ(zs_get_total_pages(pool), 0, "%s", where);
	CHECK_EQ(tu_ps_live(&src), 0, "%s: pages not given back after freeing all", where);
	CHECK_POOL(pool, "%s", where);

	/* Destroying a pool with live objects gives back every page too. */
	for (unsigned long i = 0; i < n / 2; i++)
		CHECK(tu_shadow_alloc(pool, &sh, &rng, tu_random_size(&rng, ps, huge),
				      TU_ACCESS_OBJ, scratch));
	check_pages(pool, &src, where);
	CHECK(tu_ps_live(&src) > 0);
	zs_destroy_pool(pool);
	CHECK_EQ(tu_ps_live(&src), 0, "%s: pages kept after zs_destroy_pool", where);
	CHECK_EQ(src.alloc_calls - src.alloc_failed, src.frees, "%s", where);
	for (size_t i = 0; i < sh.count; i++)
		free(sh.objs[i].data);
	sh.count = 0;
	tu_shadow_destroy(&sh);
	tu_ps_destroy(&src);
}

/* Two pools on one source: each holds its own pages, both give all back. */
static void test_shared_source(void)
{
	struct tu_page_source src;
	struct zs_pool *a, *b;
	struct tu_shadow sa, sb;
	struct zs_pool_config cfg;

	a = tu_ps_pool(&src, "a", 4096, TU_PAGES_GAPPED, 8192, 0);
	cfg = tu_ps_config(&src, 0);
	b = tu_create_pool("b", &cfg);
	tu_shadow_init(&sa);
	tu_shadow_init(&sb);
	for (int i = 0; i < (int)tu_scale(2000); i++) {
		struct zs_pool *p = i % 2 ? a : b;

		CHECK(tu_shadow_alloc(p, i % 2 ? &sa : &sb, &rng,
				      tu_random_size(&rng, 4096, zs_huge_class_size(p)),
				      TU_ACCESS_OBJ, scratch));
	}
	CHECK_EQ(zs_get_total_pages(a) + zs_get_total_pages(b), tu_ps_live(&src));
	tu_shadow_verify_all(a, &sa, scratch, "pool a");
	tu_shadow_verify_all(b, &sb, scratch, "pool b");
	tu_shadow_free_all(a, &sa);
	CHECK_EQ(zs_get_total_pages(a), 0);
	CHECK_EQ(zs_get_total_pages(b), tu_ps_live(&src), "after pool a freed all");
	tu_shadow_verify_all(b, &sb, scratch, "pool b after a freed all");
	zs_destroy_pool(a);
	zs_destroy_pool(b);
	CHECK_EQ(tu_ps_live(&src), 0);
	for (size_t i = 0; i < sb.count; i++)
		free(sb.objs[i].data);
	sb.count = 0;
	tu_shadow_destroy(&sa);
	tu_shadow_destroy(&sb);
	tu_ps_destroy(&src);
}

int main(void)
{
	static const struct {
		size_t page_size;
		unsigned int chain;
	} runs[] = {
		{ 4096, 0 },  { 4096, 1 },  { 4096, 4 },  { 4096, 16 },
		{ 16384, 0 }, { 16384, 3 }, { 65536, 0 }, { 65536, 16 },
	};

	tu_init("test_page_source", 0x5eed0002);
	tu_rng_seed(&rng, tu_state.seed);
	for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
		run_source(runs[i].page_size, runs[i].chain, TU_PAGES_GAPPED);
		run_source(runs[i].page_size, runs[i].chain, TU_PAGES_ADJACENT);
	}
	test_shared_source();
	printf("test_page_source: all checks passed\n");
	return 0;
}
