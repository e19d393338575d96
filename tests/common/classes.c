/*
 * classes.c - checks of a zsmalloc pool's size classes through the public
 * statistics: a class's stats by index, the class size that serves a size,
 * and a class's counters after n objects were stored and none freed.  No
 * state; the pool takes its own locks.
 */
#include "zs_test.h"

void tu_class_stats(struct zs_pool *pool, unsigned int index, struct zs_class_stats *st)
{
	int ret = zs_get_class_stats(pool, index, st);

	CHECK_EQ(ret, 0, "zs_get_class_stats(%u)", index);
	CHECK_EQ(st->index, index, "class stats index");
}

size_t tu_class_size_of(struct zs_pool *pool, size_t size)
{
	struct zs_class_stats st;

	tu_class_stats(pool, zs_lookup_class_index(pool, (unsigned int)size), &st);
	return st.size;
}

void tu_check_class_filled(struct zs_pool *pool, size_t size, unsigned long n)
{
	struct zs_class_stats st;
	unsigned long zspages, sum = 0;

	tu_class_stats(pool, zs_lookup_class_index(pool, (unsigned int)size), &st);
	zspages = (n + st.objs_per_zspage - 1) / st.objs_per_zspage;
	CHECK_EQ(st.obj_used, n, "class of size %zu: obj_used", size);
	CHECK_EQ(st.obj_allocated, zspages * st.objs_per_zspage,
		 "class of size %zu: obj_allocated for %lu objects, %u per zspage", size, n,
		 st.objs_per_zspage);
	/* Either every zspage is backed in full, or (lazy backing) the last one
	 * only as far as its objects reach. */
	{
		unsigned long last = n - (zspages - 1) * st.objs_per_zspage;
		unsigned long eager = zspages * st.pages_per_zspage;
		unsigned long lazy = (zspages - 1) * st.pages_per_zspage +
				     (last * st.size + zs_page_size(pool) - 1) / zs_page_size(pool);

		CHECK(st.pages_used == eager || st.pages_used == lazy,
		      "class of size %zu: pages_used %lu for %lu objects of %u bytes, "
		      "%u per zspage of %u pages: expected %lu (all backed) or %lu (backed "
		      "as used)",
		      size, st.pages_used, n, st.size, st.objs_per_zspage, st.pages_per_zspage,
		      eager, lazy);
	}
	for (int g = 0; g < ZS_NR_FULLNESS_GROUPS; g++)
		sum += st.zspages[g];
	CHECK_EQ(sum, zspages, "class of size %zu: zspages over fullness groups", size);
	CHECK(st.zspages[ZS_NR_FULLNESS_GROUPS - 1] >= zspages - 1,
	      "class of size %zu: %lu full zspages of %lu", size,
	      st.zspages[ZS_NR_FULLNESS_GROUPS - 1], zspages);
	CHECK_EQ(st.freeable, 0, "class of size %zu: freeable without frees", size);
}
