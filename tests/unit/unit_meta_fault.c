/*
 * unit_meta_fault.c - fault injection of the allocator's own metadata
 * allocations (zspage headers, zspage directory growth, the classes' lists
 * of entry batches, compaction's slot maps, page arrays, pagemap growth,
 * handle table blocks and directory, release batches, pool creation).  For every N from 1 until a
 * workload runs through without reaching its Nth metadata allocation, the Nth
 * one fails: the call that needed it must report the failure (NULL / 0 with
 * ENOMEM / -ENOMEM), every object stored before keeps its bytes, the pool
 * stays consistent, and everything comes back at the end (ASan's leak check
 * sees the rest).  A second sweep aims the failures at one pool while a
 * bystander pool does the same work beside it: the bystander never fails.
 */
#include "zs_test.h"
#include "internal.h"

#define OBJS 120

struct obj {
	unsigned long handle;
	size_t size;
	uint8_t seed;
};

static void fill(uint8_t *buf, size_t size, uint8_t seed)
{
	for (size_t i = 0; i < size; i++)
		buf[i] = (uint8_t)(seed + i * 13);
}

static void verify(struct zs_pool *pool, const struct obj *objs)
{
	static uint8_t buf[4096], want[4096];
	for (int i = 0; i < OBJS; i++) {
		if (!objs[i].handle)
			continue;
		void *p = zs_obj_read_begin(pool, objs[i].handle, buf);
		fill(want, objs[i].size, objs[i].seed);
		CHECK(memcmp(p, want, objs[i].size) == 0, "object %d lost its bytes", i);
		zs_obj_read_end(pool, objs[i].handle, p);
	}
	CHECK_POOL(pool);
}

/*
 * Returns true if the injected failure happened during the run.  aimed: the
 * failure is aimed at the pool once it exists, and every allocation is
 * repeated in a bystander pool, which must never fail.
 */
static bool run_workload(unsigned long n, bool custom_source, bool aimed)
{
	struct zs_pool *bystander = aimed ? tu_create_pool("bystander", NULL) : NULL;
	static struct obj others[OBJS];
	struct tu_page_source ps;
	struct zs_pool_config cfg = { 0 };
	if (custom_source) {
		tu_ps_init(&ps, 4096, TU_PAGES_GAPPED, 4096);
		cfg = tu_ps_config(&ps, 0);
	}
	if (!aimed)
		zs_test_fail_meta_alloc(n, false);
	struct zs_pool *pool = zs_create_pool_config("fault", &cfg);
	if (aimed) {
		CHECK(pool != NULL, "no failure was armed: %s", strerror(errno));
		zs_test_fail_meta_alloc_pool(pool, n, false);
	}
	if (!pool) {
		CHECK_EQ(errno, ENOMEM);
		CHECK_EQ(zs_test_meta_countdown(), 0, "failed without the injection");
		if (custom_source)
			tu_ps_destroy(&ps);
		return true;
	}
	static struct obj objs[OBJS];
	static uint8_t buf[4096];
	struct tu_rng rng;
	tu_rng_seed(&rng, n);
	unsigned long failures = 0;
	for (int i = 0; i < OBJS; i++) {
		size_t size = 1 + tu_below(&rng, 4096);
		if (bystander) {
			others[i] = (struct obj){ .handle = zs_malloc(bystander, size),
						  .size = size,
						  .seed = (uint8_t)(i + 1) };
			CHECK(others[i].handle != 0, "the bystander pool failed: %s",
			      strerror(errno));
			fill(buf, size, others[i].seed);
			zs_obj_write(bystander, others[i].handle, buf, size);
		}
		unsigned long h = zs_malloc(pool, size);
		if (!h) {
			CHECK_EQ(errno, ENOMEM);
			failures++;
			objs[i].handle = 0;
			continue;
		}
		objs[i] = (struct obj){ .handle = h, .size = size, .seed = (uint8_t)i };
		fill(buf, size, objs[i].seed);
		zs_obj_write(pool, h, buf, size);
	}
	verify(pool, objs);
	for (int i = 0; i < OBJS; i += 2) {
		zs_free(pool, objs[i].handle);
		objs[i].handle = 0;
	}
	zs_compact(pool);
	if (bystander)
		zs_compact(bystander);
	verify(pool, objs);
	/* Migrate a few pages: may fail with -ENOMEM, never otherwise. */
	void *pages[16];
	size_t np = zs_list_pages(pool, pages, 16);
	for (size_t i = 0; i < np && i < 16; i++) {
		void *newpage = zs_page_source_alloc(pool);
		CHECK(newpage != NULL);
		int r = zs_page_migrate(pool, pages[i], newpage);
		CHECK(r == 0 || r == -ENOMEM, "migrate: %d", r);
		zs_page_source_free(pool, r == 0 ? pages[i] : newpage);
	}
	verify(pool, objs);
	bool fired = zs_test_meta_countdown() == 0;
	zs_test_fail_meta_alloc(0, false);
	if (bystander) {
		verify(bystander, others);
		zs_destroy_pool(bystander);
	}
	CHECK(fired || failures == 0, "zs_malloc failed with no injected failure");
	for (int i = 0; i < OBJS; i++)
		zs_free(pool, objs[i].handle);
	CHECK_EQ(zs_get_total_pages(pool), 0);
	CHECK_POOL(pool);
	zs_destroy_pool(pool);
	if (custom_source) {
		CHECK_EQ(tu_ps_live(&ps), 0, "pages leaked");
		tu_ps_destroy(&ps);
	}
	return fired;
}

int main(void)
{
	tu_init("unit_meta_fault", 1);
	/* Aimed, with the built-in source only: the sweeps are slow under TSan. */
	for (int aimed = 0; aimed < 2; aimed++) {
		for (int custom = 0; custom < 2 - aimed; custom++) {
			unsigned long n = 1;
			while (run_workload(n, custom, aimed))
				n++;
			CHECK(n > 10, "the workload made only %lu metadata allocations", n - 1);
			printf("unit_meta_fault: %s source%s: failed each of %lu metadata "
			       "allocations\n",
			       custom ? "caller's" : "built-in", aimed ? ", aimed at its pool" : "",
			       n - 1);
		}
	}
	return 0;
}
