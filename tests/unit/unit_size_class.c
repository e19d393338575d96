/*
 * unit_size_class.c - the class geometry of size_class.c, for every page size
 * and chain size: each class's pages per zspage wastes the least possible
 * tail, objects per zspage is what fits, merged classes share a geometry and
 * serve only smaller sizes, and zs_huge_class_size() splits the classes that
 * share pages from those that take a page per object.
 */
#include <errno.h>

#include "zs_test.h"
#include "internal.h"

/* chain 0: the built-in arena's default, ZS_ARENA_DEFAULT_CHAIN pages at most,
 * fewer where objects would pass ZS_MAX_OBJS. */
static void check_geometry(size_t page_size, unsigned int asked)
{
	struct zs_pool_config cfg = { .page_size = page_size, .max_pages_per_zspage = asked };
	struct zs_pool *pool = zs_create_pool_config("geometry", &cfg);
	CHECK(pool != NULL, "page size %zu chain %u", page_size, asked);
	unsigned int chain = asked ? asked : ZS_ARENA_DEFAULT_CHAIN;
	size_t step = page_size >> ZS_CLASS_SHIFT;
	size_t huge = zs_huge_class_size(pool);
	CHECK(huge > 0 && huge < page_size, "huge %zu of %zu", huge, page_size);

	for (unsigned int i = 0; i < ZS_MAX_CLASSES; i++) {
		struct size_class *c = &pool->classes[i];
		size_t size = (size_t)(i + 1) * step;
		CHECK_EQ(c->size, size);
		CHECK(c->pages_per_zspage >= 1 && c->pages_per_zspage <= chain);
		CHECK_EQ(c->objs_per_zspage, (c->pages_per_zspage * page_size) / size);
		CHECK(c->objs_per_zspage <= ZS_MAX_OBJS);
		/* No chain size wastes a smaller fraction of the zspage, and on a
		 * tie the longest chain wins, unless the class holds one object
		 * per page, which keeps one page per zspage. */
		size_t waste = (c->pages_per_zspage * page_size) % size;
		for (unsigned int k = 1; k <= chain && k * page_size / size <= ZS_MAX_OBJS; k++) {
			size_t w = (k * page_size) % size;
			CHECK(!(w * c->pages_per_zspage < waste * k),
			      "size %zu: %u pages waste %zu, %u pages would waste %zu", size,
			      c->pages_per_zspage, waste, k, w);
			if (c->objs_per_zspage > c->pages_per_zspage)
				CHECK(!(w * c->pages_per_zspage == waste * k &&
					k > c->pages_per_zspage),
				      "size %zu: %u pages tie with %u, the longer should win", size,
				      c->pages_per_zspage, k);
		}
		if (c->objs_per_zspage == c->pages_per_zspage)
			CHECK_EQ(c->pages_per_zspage, 1, "size %zu: one object per page", size);
		/* The serving class is this one or a larger one, same geometry. */
		struct size_class *s = &pool->classes[pool->class_of_index[i]];
		CHECK(s->size >= size);
		CHECK_EQ(pool->class_of_index[s->index], s->index);
		CHECK_EQ(s->pages_per_zspage, c->pages_per_zspage);
		CHECK_EQ(s->objs_per_zspage, c->objs_per_zspage);
		/* Sizes above the huge size get one object per page. */
		if (size > huge)
			CHECK_EQ(s->objs_per_zspage, s->pages_per_zspage, "size %zu", size);
		/* The public lookup agrees, and is monotonic. */
		CHECK_EQ(zs_lookup_class_index(pool, (unsigned int)size), s->index);
		if (i > 0)
			CHECK(zs_lookup_class_index(pool, (unsigned int)size) >=
			      zs_lookup_class_index(pool, (unsigned int)(size - step)));
	}
	struct size_class *hc = zs_class_for_size(pool, huge);
	CHECK(hc->objs_per_zspage > hc->pages_per_zspage, "the huge size itself shares pages");
	CHECK_EQ(hc->size, huge, "zs_huge_class_size is a class size");
	zs_destroy_pool(pool);
}

int main(void)
{
	tu_init("unit_size_class", 1);
	for (size_t ps = 4096; ps <= 65536; ps *= 4)
		for (unsigned int chain = 0; chain <= ZS_MAX_CHAIN_CONFIG; chain++)
			check_geometry(ps, chain);
	/* A chain longer than a caller may ask for is refused. */
	struct zs_pool_config too_long = { .max_pages_per_zspage = ZS_MAX_CHAIN_CONFIG + 1 };
	errno = 0;
	CHECK(zs_create_pool_config("too long", &too_long) == NULL && errno == EINVAL);
	/* Chain 1: nothing spans pages, so objects above half a page are huge. */
	struct zs_pool_config one = { .max_pages_per_zspage = 1 };
	struct zs_pool *pool = zs_create_pool_config("chain1", &one);
	CHECK(pool != NULL);
	CHECK(zs_huge_class_size(pool) <= 2048, "huge %zu", zs_huge_class_size(pool));
	zs_destroy_pool(pool);
	printf("unit_size_class: ok\n");
	return 0;
}
