/*
 * unit_layout.c - the compact metadata layout: long zspages of the built-in
 * arena, 5-byte handle entries without slot maps, borrowing of slots from a
 * slightly larger class, and zs_pool_memory's account of all of it.
 *
 *  - a 2,120-byte class takes more than 16 pages per zspage and wastes under
 *    1% at the tail; objects fill, free at random, compact and migrate on
 *    such zspages with every byte kept;
 *  - zs_pool_memory's parts add up: page bytes = total pages x page size =
 *    objects + free slots + tails; the metadata kinds sum to metadata; the
 *    handle table holds at least 5 bytes per live object and, on a pool
 *    filled in one go, less than 8;
 *  - an allocation into a class with no zspage takes a resident free slot
 *    of a class a step larger, and a class with a zspage of its own does not.
 */
#include "zs_test.h"
#include "internal.h"

#define SIZE 2120
#define N 3000

static void fill(uint8_t *buf, size_t size, unsigned int seed)
{
	for (size_t i = 0; i < size; i++)
		buf[i] = (uint8_t)(seed * 7 + i * 13);
}

static void verify_all(struct zs_pool *pool, const unsigned long *h, size_t size)
{
	static uint8_t buf[4096], want[4096];
	for (unsigned int i = 0; i < N; i++) {
		if (!h[i])
			continue;
		void *p = zs_obj_read_begin(pool, h[i], buf);
		fill(want, size, i);
		CHECK(memcmp(p, want, size) == 0, "object %u lost its bytes", i);
		zs_obj_read_end(pool, h[i], p);
	}
	CHECK_POOL(pool);
}

static void check_memory_adds_up(struct zs_pool *pool, unsigned long live)
{
	struct zs_pool_memory m;
	zs_pool_memory(pool, &m);
	CHECK_EQ(m.page_bytes, zs_get_total_pages(pool) * zs_page_size(pool));
	CHECK_EQ(m.object_bytes + m.free_slot_bytes + m.tail_bytes, m.page_bytes);
	CHECK_EQ(m.handle_table + m.zspage_headers + m.slot_maps + m.zspage_index + m.page_lists +
			 m.pagemap + m.pool,
		 m.metadata);
	CHECK_EQ(m.objects, live);
	CHECK_EQ(m.slot_maps, 0, "this layout keeps no slot maps");
	CHECK(m.handle_table >= 5 * live, "handle table %zu for %lu objects", m.handle_table, live);
}

static void test_long_zspages(void)
{
	struct zs_pool *pool = zs_create_pool("long");
	CHECK(pool != NULL);
	struct zs_class_stats st;
	CHECK_EQ(zs_get_class_stats(pool, zs_lookup_class_index(pool, SIZE), &st), 0);
	CHECK(st.pages_per_zspage > 16, "class %u: %u pages per zspage", st.size,
	      st.pages_per_zspage);
	size_t tail = (size_t)st.pages_per_zspage * 4096 - (size_t)st.objs_per_zspage * st.size;
	CHECK(tail * 100 < (size_t)st.pages_per_zspage * 4096, "tail %zu of %u pages", tail,
	      st.pages_per_zspage);

	static unsigned long h[N];
	static uint8_t buf[4096];
	for (unsigned int i = 0; i < N; i++) {
		h[i] = zs_malloc(pool, SIZE);
		CHECK(h[i] != 0);
		fill(buf, SIZE, i);
		zs_obj_write(pool, h[i], buf, SIZE);
	}
	check_memory_adds_up(pool, N);
	struct zs_pool_memory m;
	zs_pool_memory(pool, &m);
	CHECK(m.handle_table < 8 * N + 3 * 4096, "handle table %zu for %d objects", m.handle_table,
	      N);
	verify_all(pool, h, SIZE);

	struct tu_rng rng;
	tu_rng_seed(&rng, 7);
	unsigned long live = N;
	for (unsigned int i = 0; i < N; i++)
		if (tu_below(&rng, 2)) {
			zs_free(pool, h[i]);
			h[i] = 0;
			live--;
		}
	unsigned long before = zs_get_total_pages(pool);
	unsigned long freed = zs_compact(pool);
	CHECK(freed > 0 && zs_get_total_pages(pool) == before - freed, "compact freed %lu of %lu",
	      freed, before);
	/* After compaction the live objects fill their zspages but for the
	 * last page or so of the class. */
	size_t need = ((size_t)live * st.size + 4095) / 4096;
	CHECK(zs_get_total_pages(pool) <= need + 2, "%lu pages for %zu pages of objects",
	      zs_get_total_pages(pool), need);
	check_memory_adds_up(pool, live);
	verify_all(pool, h, SIZE);

	/* Migrate every page once: the contiguous zspages become chained. */
	size_t np = zs_list_pages(pool, NULL, 0);
	void **pages = malloc(np * sizeof(*pages));
	CHECK(pages != NULL);
	CHECK_EQ(zs_list_pages(pool, pages, np), np);
	for (size_t i = 0; i < np; i++) {
		void *newpage = zs_page_source_alloc(pool);
		CHECK(newpage != NULL);
		int r = zs_page_migrate(pool, pages[i], newpage);
		CHECK_EQ(r, 0, "migrate page %zu of %zu", i, np);
		zs_page_source_free(pool, pages[i]);
	}
	free(pages);
	check_memory_adds_up(pool, live);
	struct zs_pool_memory after;
	zs_pool_memory(pool, &after);
	CHECK(after.page_lists > 0, "chained zspages have page lists");
	verify_all(pool, h, SIZE);
	for (unsigned int i = 0; i < N; i++)
		zs_free(pool, h[i]);
	CHECK_EQ(zs_get_total_pages(pool), 0);
	CHECK_POOL(pool);
	zs_destroy_pool(pool);
}

static void test_borrowing(void)
{
	struct zs_pool *pool = zs_create_pool("borrow");
	CHECK(pool != NULL);
	size_t step = 4096 >> ZS_CLASS_SHIFT;
	/* A class of 1,000 bytes with a zspage, and the class a step below
	 * with none: the smaller object takes the larger slot. */
	unsigned long big = zs_malloc(pool, 1000);
	CHECK(big != 0);
	size_t big_size = zs_obj_size(pool, big);
	unsigned long small = zs_malloc(pool, big_size - step);
	CHECK(small != 0);
	CHECK_EQ(zs_obj_size(pool, small), big_size, "borrowed a slot of the class above");
	CHECK_EQ(zs_get_total_pages(pool), 1, "no new page for the borrowed slot");
	static uint8_t buf[4096], got[4096];
	fill(buf, big_size - step, 1);
	zs_obj_write(pool, small, buf, big_size - step);
	void *p = zs_obj_read_begin(pool, small, got);
	CHECK(memcmp(p, buf, big_size - step) == 0);
	zs_obj_read_end(pool, small, p);

	/* A class with a zspage of its own uses it. */
	unsigned long own = zs_malloc(pool, 2 * step); /* far from any other class */
	CHECK(own != 0);
	CHECK_EQ(zs_obj_size(pool, own), 2 * step);
	unsigned long second = zs_malloc(pool, 2 * step - 1);
	CHECK_EQ(zs_obj_size(pool, second), 2 * step);
	check_memory_adds_up(pool, 4);
	zs_free(pool, small);
	zs_free(pool, big);
	zs_free(pool, own);
	zs_free(pool, second);
	CHECK_EQ(zs_get_total_pages(pool), 0);
	CHECK_POOL(pool);
	zs_destroy_pool(pool);
}

int main(void)
{
	tu_init("unit_layout", 1);
	test_long_zspages();
	test_borrowing();
	printf("unit_layout: ok\n");
	return 0;
}
