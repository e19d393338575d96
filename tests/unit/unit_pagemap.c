/*
 * unit_pagemap.c - the page -> zspage hash of pagemap.c against a plain
 * array model: random inserts and removals (backward-shift deletion must keep
 * every remaining key reachable), growth, and the run lookups that find a
 * page inside a contiguous zspage by probing the pages before it.
 */
#include "zs_test.h"
#include "internal.h"

#define KEYS 4096

int main(void)
{
	tu_init("unit_pagemap", 7);
	struct tu_rng rng;
	tu_rng_seed(&rng, tu_state.seed);
	struct size_class one_page = { .pages_per_zspage = 1 };
	struct zs_pool pool1 = {
		.page_size = 4096, .page_shift = 12, .max_chain = 1, .classes = &one_page
	};
	struct zs_pagemap *m = &pool1.pagemap;
	CHECK_EQ(zs_mutex_init(&m->lock), 0);
	zs_mutex_lock(&m->lock); /* the pagemap's callers hold it */
	static struct zspage fake[KEYS];
	static bool present[KEYS];
	const uintptr_t base = 0x100000000ull;

	for (unsigned long step = 0; step < tu_scale(200000); step++) {
		unsigned int k = (unsigned int)tu_below(&rng, KEYS);
		void *page = (void *)(base + (uintptr_t)k * 4096);
		if (present[k] && tu_below(&rng, 2)) {
			zs_pagemap_remove(m, page);
			present[k] = false;
		} else {
			CHECK_EQ(zs_pagemap_insert(m, page, &fake[k], false), 0);
			present[k] = true;
		}
		if (step % 997 == 0) {
			size_t count = 0;
			for (unsigned int i = 0; i < KEYS; i++) {
				unsigned int ci = 0;
				struct zspage *z = zs_pagemap_lookup(
					&pool1, (void *)(base + (uintptr_t)i * 4096), &ci);
				CHECK(z == (present[i] ? &fake[i] : NULL), "key %u step %lu", i,
				      step);
				count += present[i];
			}
			CHECK_EQ(m->count, count);
			CHECK(m->count * 4 <= m->capacity * 3, "load %zu/%zu", m->count, m->capacity);
		}
	}
	zs_mutex_unlock(&m->lock);
	zs_pagemap_destroy(m);

	/* Runs: a contiguous zspage keyed by its first page covers the pages
	 * after it, up to its length; a page key covers only itself. */
	struct size_class classes[2] = { { .pages_per_zspage = 4 }, { .pages_per_zspage = 4 } };
	struct zs_pool pool = {
		.page_size = 4096, .page_shift = 12, .max_chain = 16, .classes = classes
	};
	struct zspage run = { .class_index = 0 }, single = { .class_index = 1 };
	CHECK_EQ(zs_mutex_init(&pool.pagemap.lock), 0);
	zs_mutex_lock(&pool.pagemap.lock);
	CHECK_EQ(zs_pagemap_insert(&pool.pagemap, (void *)(base + 0x10000), &run, true), 0);
	CHECK_EQ(zs_pagemap_insert(&pool.pagemap, (void *)(base + 0x20000), &single, false), 0);
	unsigned int ci;
	for (unsigned int k = 0; k < 8; k++) {
		struct zspage *z = zs_pagemap_lookup(&pool, (void *)(base + 0x10000 + k * 4096), &ci);
		CHECK(z == (k < 4 ? &run : NULL), "run page %u", k);
		z = zs_pagemap_lookup(&pool, (void *)(base + 0x20000 + k * 4096), &ci);
		CHECK(z == (k == 0 ? &single : NULL), "single page %u", k);
	}
	CHECK(zs_pagemap_lookup(&pool, (void *)(base + 0x10001), &ci) == NULL, "unaligned");
	zs_mutex_unlock(&pool.pagemap.lock);
	zs_pagemap_destroy(&pool.pagemap);
	printf("unit_pagemap: ok\n");
	return 0;
}
