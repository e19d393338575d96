/*
 * test_api_migrate.c - zs_compact and pages_compacted, zs_list_pages (count,
 * truncation, pages of the source), zs_page_migrate of every page and its
 * errors, the page source calls, and zs_destroy_pool with live objects.
 */
#include <pthread.h>

#include "zs_test.h"

#define MAX_PAGE 65536

static struct tu_rng rng;
static unsigned char scratch[MAX_PAGE];

/* ---- Holding an object against migration and compaction ---- */

enum { HOLD_MAP, HOLD_READ, HOLD_READ_THREAD, HOLD_READ_NESTED, HOLD_KINDS };
static const char *const hold_names[HOLD_KINDS] = { "mapped", "read", "read by another thread",
						    "nested read" };
/* More than any thread's hazard slots, so the last read pins. */
#define HOLD_NESTED 8

struct holder {
	struct zs_pool *pool;
	struct tu_obj *obj;
	int how;
	unsigned char *p;
	/* HOLD_READ_NESTED: the reads begun before obj's. */
	struct tu_obj *others[HOLD_NESTED];
	void *other_p[HOLD_NESTED];
	/* HOLD_READ_THREAD */
	pthread_t thread;
	pthread_barrier_t begun, release;
};
/* Where held reads copy objects that cross pages. */
static unsigned char other_buf[HOLD_NESTED][MAX_PAGE], thread_buf[MAX_PAGE];

static void *hold_thread(void *arg)
{
	struct holder *hd = arg;
	hd->p = zs_obj_read_begin(hd->pool, hd->obj->handle, thread_buf);
	pthread_barrier_wait(&hd->begun);
	pthread_barrier_wait(&hd->release);
	zs_obj_read_end(hd->pool, hd->obj->handle, hd->p);
	return NULL;
}

static void hold_begin(struct holder *hd, struct tu_shadow *sh)
{
	switch (hd->how) {
	case HOLD_MAP: hd->p = zs_map_object(hd->pool, hd->obj->handle, ZS_MM_RO); break;
	case HOLD_READ_NESTED:
		for (int i = 0; i < HOLD_NESTED; i++) {
			hd->others[i] = &sh->objs[tu_below(&rng, sh->count)];
			hd->other_p[i] =
				zs_obj_read_begin(hd->pool, hd->others[i]->handle, other_buf[i]);
		}
		/* fall through */
	case HOLD_READ: hd->p = zs_obj_read_begin(hd->pool, hd->obj->handle, scratch); break;
	case HOLD_READ_THREAD:
		pthread_barrier_init(&hd->begun, NULL, 2);
		pthread_barrier_init(&hd->release, NULL, 2);
		CHECK_EQ(pthread_create(&hd->thread, NULL, hold_thread, hd), 0);
		pthread_barrier_wait(&hd->begun);
		break;
	}
	CHECK(hd->p != NULL);
}

static void hold_end(struct holder *hd)
{
	switch (hd->how) {
	case HOLD_MAP: zs_unmap_object(hd->pool, hd->obj->handle); break;
	case HOLD_READ:
	case HOLD_READ_NESTED:
		zs_obj_read_end(hd->pool, hd->obj->handle, hd->p);
		if (hd->how == HOLD_READ_NESTED)
			for (int i = HOLD_NESTED; i-- > 0;)
				zs_obj_read_end(hd->pool, hd->others[i]->handle, hd->other_p[i]);
		break;
	case HOLD_READ_THREAD:
		pthread_barrier_wait(&hd->release);
		CHECK_EQ(pthread_join(hd->thread, NULL), 0);
		pthread_barrier_destroy(&hd->begun);
		pthread_barrier_destroy(&hd->release);
		break;
	}
}

/* ---- Compaction, page listing, migration ---- */

static void test_compact_and_migrate(size_t ps, unsigned int chain)
{
	struct tu_page_source src;
	struct zs_pool_config cfg;
	struct zs_pool *pool, *other;
	struct zs_pool_stats pst;
	struct tu_shadow sh;
	unsigned long before, freed, total, other_h;
	size_t listed, half;
	void **pages;
	void *stack_page[1];
	int ret;

	pool = tu_ps_pool(&src, "compact", ps, TU_PAGES_GAPPED, 8192, chain);
	cfg = tu_ps_config(&src, chain);
	other = tu_create_pool("other", &cfg); /* same source */
	tu_shadow_init(&sh);

	CHECK_EQ(zs_compact(pool), 0, "zs_compact of an empty pool");
	zs_pool_stats(pool, &pst);
	CHECK_EQ(pst.pages_compacted, 0);
	CHECK_EQ(zs_list_pages(pool, NULL, 0), 0);

	/* One class, at least eight zspages of it: freeing 3/4 leaves work. */
	{
		size_t size = ps / 16 + 8;
		unsigned long n = tu_scale(3000);
		struct zs_class_stats cst;

		tu_class_stats(pool, zs_lookup_class_index(pool, (unsigned int)size), &cst);
		if (n < 8UL * cst.objs_per_zspage)
			n = 8UL * cst.objs_per_zspage;
		for (unsigned long i = 0; i < n; i++)
			CHECK(tu_shadow_alloc(pool, &sh, &rng, size - tu_below(&rng, 8),
					      TU_ACCESS_OBJ, scratch));
	}
	other_h = zs_malloc(other, 100);
	CHECK(other_h != 0);
	for (size_t i = sh.count; i-- > 0;)
		if (tu_below(&rng, 4) != 0)
			tu_shadow_free(pool, &sh, i);
	before = zs_get_total_pages(pool);
	freed = zs_compact(pool);
	CHECK(freed > 0, "zs_compact freed nothing after 3/4 of the objects were freed");
	CHECK_COMPACTED(before, zs_get_total_pages(pool), freed);
	zs_pool_stats(pool, &pst);
	CHECK_EQ(pst.pages_compacted, freed);
	tu_shadow_verify_all(pool, &sh, scratch, "after zs_compact");
	CHECK_POOL(pool);
	CHECK_EQ(zs_get_total_pages(pool) + zs_get_total_pages(other), src.live);

	/* zs_list_pages: count, truncation, distinct pages of the source. */
	total = zs_get_total_pages(pool);
	pages = calloc(total + 1, sizeof(*pages));
	CHECK(pages != NULL);
	half = total / 2;
	pages[half] = &pages; /* sentinel */
	CHECK_EQ(zs_list_pages(pool, pages, half), total, "zs_list_pages with max < count");
	CHECK(pages[half] == &pages, "zs_list_pages wrote past max");
	listed = zs_list_pages(pool, pages, total + 1);
	CHECK_EQ(listed, total);
	for (size_t i = 0; i < listed; i++) {
		CHECK(tu_ps_owns_page(&src, pages[i]), "listed page %p is not from the source",
		      pages[i]);
		CHECK(((uintptr_t)pages[i] & (ps - 1)) == 0, "listed page %p not aligned", pages[i]);
		for (size_t j = 0; j < i; j++)
			CHECK(pages[i] != pages[j], "page %p listed twice", pages[i]);
	}

	/* Errors. */
	{
		void *newpage = zs_page_source_alloc(pool), *unused = zs_page_source_alloc(pool);
		void *other_page;

		CHECK(newpage && unused, "zs_page_source_alloc: %s", strerror(errno));
		CHECK_EQ(src.live, total + zs_get_total_pages(other) + 2,
			 "zs_page_source_alloc must take from the source");
		CHECK_EQ(zs_page_migrate(pool, stack_page, newpage), -EINVAL, "stack address");
		CHECK_EQ(zs_page_migrate(pool, unused, newpage), -EINVAL, "page of no pool");
		CHECK_EQ(zs_page_migrate(pool, pages[0], NULL), -EINVAL, "NULL newpage");
		if (listed >= 2)
			CHECK_EQ(zs_page_migrate(pool, pages[0], pages[1]), -EINVAL,
				 "newpage in use by the pool");
		CHECK_EQ(zs_list_pages(other, &other_page, 1), 1);
		CHECK_EQ(zs_page_migrate(pool, other_page, newpage), -EINVAL, "page of another pool");
		CHECK_EQ(zs_page_migrate(other, pages[0], newpage), -EINVAL, "page of another pool");
		zs_page_source_free(pool, unused);
		zs_page_source_free(pool, newpage);
		CHECK_EQ(src.live, total + zs_get_total_pages(other));
		tu_shadow_verify_all(pool, &sh, scratch, "after refused migrations");
		CHECK_POOL(pool);
	}

	/* A page with a mapped or read object cannot move; afterwards it can:
	 * mapped, read, read by another thread, and read while this thread
	 * holds more reads than a thread has hazard slots (the read pins). */
	for (int how = 0, tries = 0; how < HOLD_KINDS && tries < 1000; tries++) {
		struct holder hd = { .pool = pool,
				     .obj = &sh.objs[tu_below(&rng, sh.count)],
				     .how = how };
		void *page;

		hold_begin(&hd, &sh);
		if (!tu_ps_in_one_page(&src, hd.p, hd.obj->size)) {
			hold_end(&hd); /* a copy: try another object */
			continue;
		}
		page = (void *)((uintptr_t)hd.p & ~(uintptr_t)(ps - 1));
		ret = tu_migrate_page(pool, page);
		CHECK_EQ(ret, -EAGAIN, "migrating the page of a %s object", hold_names[how]);
		before = zs_get_total_pages(pool);
		zs_compact(pool);
		CHECK(tu_first_diff(hd.p, hd.obj->data, hd.obj->size) == hd.obj->size,
		      "%s object changed while held (compaction)", hold_names[how]);
		hold_end(&hd);
		CHECK_EQ(tu_migrate_page(pool, page), 0, "migrating after the release");
		CHECK(!tu_ps_owns_page(&src, page), "old page not given back");
		tu_shadow_verify_all(pool, &sh, scratch, "after migrating a released page");
		how++;
		tries = 0;
	}

	/* Every page of the pool moves; every byte stays. */
	listed = zs_list_pages(pool, pages, total + 1);
	CHECK_EQ(listed, total);
	for (size_t i = 0; i < listed; i++) {
		ret = tu_migrate_page(pool, pages[i]);
		CHECK_EQ(ret, 0, "zs_page_migrate of listed page %zu of %zu", i, listed);
		CHECK(!tu_ps_owns_page(&src, pages[i]));
	}
	CHECK_EQ(zs_get_total_pages(pool), total, "pages after migrating all");
	CHECK_EQ(zs_list_pages(pool, pages, total + 1), total);
	for (size_t i = 0; i < listed; i++)
		CHECK(tu_ps_owns_page(&src, pages[i]));
	tu_shadow_verify_all(pool, &sh, scratch, "after migrating every page");
	CHECK_POOL(pool);
	/* A page that left the pool is refused. */
	{
		void *gone = pages[0], *newpage;

		CHECK_EQ(tu_migrate_page(pool, gone), 0);
		newpage = zs_page_source_alloc(pool);
		CHECK_EQ(zs_page_migrate(pool, gone, newpage), -EINVAL, "a migrated-away page");
		zs_page_source_free(pool, newpage);
	}
	/* Compaction after migration still works and keeps bytes. */
	for (size_t i = sh.count; i-- > 0;)
		if (tu_below(&rng, 2))
			tu_shadow_free(pool, &sh, i);
	before = zs_get_total_pages(pool);
	freed = zs_compact(pool);
	CHECK_COMPACTED(before, zs_get_total_pages(pool), freed);
	tu_shadow_verify_all(pool, &sh, scratch, "after migration and compaction");
	CHECK_POOL(pool);
	CHECK_EQ(zs_get_total_pages(pool) + zs_get_total_pages(other), src.live);

	tu_shadow_free_all(pool, &sh);
	CHECK_EQ(zs_get_total_pages(pool), 0);
	zs_free(other, other_h);
	CHECK_EQ(src.live, 0, "source pages after freeing everything");
	zs_destroy_pool(pool);
	zs_destroy_pool(other);
	free(pages);
	tu_shadow_destroy(&sh);
	tu_ps_destroy(&src);
}

/* ---- Page source functions and zs_destroy_pool with live objects ---- */

static void test_page_source_calls(void)
{
	struct zs_pool *pool = tu_create_pool("builtin", NULL);
	unsigned long h[64];
	void *page;

	/* The built-in source: a page to write to, then back. */
	page = zs_page_source_alloc(pool);
	CHECK(page != NULL && ((uintptr_t)page & 4095) == 0, "built-in page %p", page);
	memset(page, 0x3c, 4096);
	zs_page_source_free(pool, page);
	CHECK_EQ(zs_get_total_pages(pool), 0, "pages handed to the caller are not the pool's");
	for (int i = 0; i < 64; i++) {
		h[i] = zs_malloc(pool, (size_t)(i + 1) * 60);
		CHECK(h[i] != 0);
	}
	zs_destroy_pool(pool); /* live objects: all freed, ASan sees no leak */

	{
		struct tu_page_source src;

		pool = tu_ps_pool(&src, "destroy", 16384, TU_PAGES_GAPPED, 1024, 0);
		for (int i = 0; i < 64; i++) {
			h[i] = zs_malloc(pool, (size_t)(i + 1) * 250);
			CHECK(h[i] != 0);
		}
		for (int i = 0; i < 64; i += 3)
			zs_free(pool, h[i]);
		CHECK(src.live > 0);
		CHECK_EQ(zs_get_total_pages(pool), src.live);
		zs_destroy_pool(pool);
		CHECK_EQ(src.live, 0, "zs_destroy_pool with live objects kept source pages");
		tu_ps_destroy(&src);
	}
}

int main(void)
{
	tu_init("test_api_migrate", 0x5eed0001);
	tu_rng_seed(&rng, tu_state.seed);

	test_compact_and_migrate(4096, 0);
	test_compact_and_migrate(4096, 2);
	test_compact_and_migrate(16384, 0);
	test_compact_and_migrate(65536, 0);
	test_page_source_calls();
	printf("test_api_migrate: all checks passed\n");
	return 0;
}
