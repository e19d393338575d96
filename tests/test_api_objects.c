/*
 * test_api_objects.c - many objects per class with custom page sources (gapped and
 * adjacent pages): class statistics, pages held from the source, reads of
 * objects spanning non-adjacent pages; and several mappings held at once
 * by one thread (map and read_begin mixed).
 */
#include "zs_test.h"

#define MAX_PAGE 65536

static struct tu_rng rng;
static unsigned char scratch[MAX_PAGE];

/* ---- Many objects per class, spanning pages, with a custom source ---- */

static unsigned long spanning_copies;

static void test_many_objects(size_t ps, unsigned int chain, enum tu_page_layout layout)
{
	struct tu_page_source src;
	struct zs_pool *pool;
	struct tu_shadow sh;
	size_t sizes[12];
	size_t nsizes = 0, huge;

	pool = tu_ps_pool(&src, "many", ps, layout, 8192, chain);
	huge = zs_huge_class_size(pool);
	sizes[nsizes++] = 1;
	sizes[nsizes++] = 17;
	sizes[nsizes++] = 100;
	sizes[nsizes++] = ps / 8 + 24;
	sizes[nsizes++] = ps / 4 + 40;
	sizes[nsizes++] = ps / 3;
	sizes[nsizes++] = ps / 2 + 8;
	sizes[nsizes++] = huge - 24;
	sizes[nsizes++] = huge;
	sizes[nsizes++] = huge + 1;
	sizes[nsizes++] = ps;
	tu_shadow_init(&sh);
	for (size_t k = 0; k < nsizes; k++) {
		size_t size = sizes[k], class_size = tu_class_size_of(pool, size);
		struct zs_class_stats st;
		unsigned long n, total;

		tu_class_stats(pool, zs_lookup_class_index(pool, (unsigned int)size), &st);
		/* Enough for three zspages and a bit. */
		n = 3UL * st.objs_per_zspage + 2;
		if (n > tu_scale(3000))
			n = tu_scale(3000);
		for (unsigned long i = 0; i < n; i++)
			CHECK(tu_shadow_alloc(pool, &sh, &rng, size,
					      (enum tu_access)(i % TU_ACCESS_COUNT), scratch),
			      "zs_malloc(%zu): %s", size, strerror(errno));
		tu_check_class_filled(pool, size, n);
		total = zs_get_total_pages(pool);
		CHECK_EQ(total, src.live, "pool pages vs pages held from the source");
		CHECK_EQ(zs_list_pages(pool, NULL, 0), total, "zs_list_pages count");
		tu_shadow_verify_all(pool, &sh, scratch, "after filling");
		/* Where do reads point: into one source page, or a copy? */
		for (size_t i = 0; i < sh.count; i++) {
			void *p = zs_obj_read_begin(pool, sh.objs[i].handle, scratch);

			if (!tu_ps_in_one_page(&src, p, class_size))
				spanning_copies++;
			zs_obj_read_end(pool, sh.objs[i].handle, p);
		}
		CHECK_POOL(pool);
		/* Free every other object, then the rest. */
		for (size_t i = sh.count; i-- > 0;)
			if (i % 2)
				tu_shadow_free(pool, &sh, i);
		tu_shadow_verify_all(pool, &sh, scratch, "after freeing half");
		CHECK_POOL(pool);
		CHECK_EQ(zs_get_total_pages(pool), src.live);
		tu_shadow_free_all(pool, &sh);
		CHECK_EQ(zs_get_total_pages(pool), 0, "size %zu: pages after freeing all", size);
		CHECK_EQ(src.live, 0, "size %zu: source pages not given back", size);
	}
	CHECK_POOL(pool);
	zs_destroy_pool(pool);
	CHECK_EQ(src.live, 0);
	tu_shadow_destroy(&sh);
	tu_ps_destroy(&src);
}

/* ---- Several mappings held at once by one thread ---- */

struct held {
	unsigned long handle;
	enum { HELD_MAP_RO, HELD_MAP_RW, HELD_MAP_WO, HELD_READ } kind;
	unsigned char *ptr;
	unsigned char *local; /* read_begin's buffer */
};

static void hold(struct zs_pool *pool, struct held *m)
{
	switch (m->kind) {
	case HELD_MAP_RO: m->ptr = zs_map_object(pool, m->handle, ZS_MM_RO); break;
	case HELD_MAP_RW: m->ptr = zs_map_object(pool, m->handle, ZS_MM_RW); break;
	case HELD_MAP_WO: m->ptr = zs_map_object(pool, m->handle, ZS_MM_WO); break;
	case HELD_READ: m->ptr = zs_obj_read_begin(pool, m->handle, m->local); break;
	}
	CHECK(m->ptr != NULL, "mapping returned NULL");
}

static void release(struct zs_pool *pool, struct held *m)
{
	if (m->kind == HELD_READ)
		zs_obj_read_end(pool, m->handle, m->ptr);
	else
		zs_unmap_object(pool, m->handle);
}

/*
 * Holds nheld mappings of different objects at once (kinds rotate through
 * `kinds`), checks that each shows its own object's bytes, writes through
 * the writable ones, releases in a scrambled order and checks the result.
 */
static void hold_many(struct zs_pool *pool, struct tu_shadow *sh, const size_t *objs, int nheld,
		      const int *kinds, int nkinds)
{
	struct held m[16];
	size_t size = sh->objs[objs[0]].size;

	CHECK(nheld <= 16);
	for (int i = 0; i < nheld; i++) {
		m[i].handle = sh->objs[objs[i]].handle;
		m[i].kind = kinds[i % nkinds];
		m[i].local = malloc(MAX_PAGE);
		CHECK(m[i].local != NULL);
		hold(pool, &m[i]);
	}
	/* While all are held: own bytes, and no two ranges overlap. */
	for (int i = 0; i < nheld; i++) {
		struct tu_obj *o = &sh->objs[objs[i]];

		if (m[i].kind != HELD_MAP_WO)
			CHECK(tu_first_diff(m[i].ptr, o->data, o->size) == o->size,
			      "mapping %d of %d (kind %d) shows wrong bytes", i, nheld,
			      (int)m[i].kind);
		for (int j = 0; j < i; j++)
			CHECK(m[i].ptr + size <= m[j].ptr || m[j].ptr + size <= m[i].ptr,
			      "mappings %d and %d overlap (%p, %p, size %zu)", i, j,
			      (void *)m[i].ptr, (void *)m[j].ptr, size);
	}
	for (int i = 0; i < nheld; i++) {
		struct tu_obj *o = &sh->objs[objs[i]];

		if (m[i].kind == HELD_MAP_RW || m[i].kind == HELD_MAP_WO) {
			tu_fill_random(&rng, o->data, o->size);
			memcpy(m[i].ptr, o->data, o->size);
		}
	}
	/* Read-only ones still show their bytes after the others were written. */
	for (int i = 0; i < nheld; i++) {
		struct tu_obj *o = &sh->objs[objs[i]];

		CHECK(tu_first_diff(m[i].ptr, o->data, o->size) == o->size,
		      "mapping %d of %d changed while others were written", i, nheld);
	}
	/* Release: odd ones first, then even ones backwards. */
	for (int i = 1; i < nheld; i += 2)
		release(pool, &m[i]);
	for (int i = (nheld - 1) & ~1; i >= 0; i -= 2)
		release(pool, &m[i]);
	for (int i = 0; i < nheld; i++)
		free(m[i].local);
	tu_shadow_verify_all(pool, sh, scratch, "after holding several mappings");
}

static void test_many_mappings(size_t ps, unsigned int chain)
{
	static const int all_maps[] = { HELD_MAP_RO, HELD_MAP_RW, HELD_MAP_WO, HELD_MAP_RW };
	static const int mixed[] = { HELD_MAP_RW, HELD_READ, HELD_MAP_RO, HELD_READ };
	static const int rw_only[] = { HELD_MAP_RW };
	struct tu_page_source src;
	struct zs_pool *pool;
	struct tu_shadow sh;
	size_t spanning[64], inplace[64], nspan = 0, ninplace = 0;
	size_t size = ps / 2 + ps / 4 - 40; /* objects of 3/4 page: many span */

	pool = tu_ps_pool(&src, "mappings", ps, TU_PAGES_GAPPED, 1024, chain);
	if (size > zs_huge_class_size(pool))
		size = zs_huge_class_size(pool) - 8;
	tu_shadow_init(&sh);
	for (int i = 0; i < 48; i++)
		CHECK(tu_shadow_alloc(pool, &sh, &rng, size, TU_ACCESS_OBJ, scratch));
	/* Sort objects by whether a mapping of them is in place or a copy. */
	for (size_t i = 0; i < sh.count; i++) {
		void *p = zs_map_object(pool, sh.objs[i].handle, ZS_MM_RO);

		if (tu_ps_in_one_page(&src, p, size)) {
			if (ninplace < 64)
				inplace[ninplace++] = i;
		} else if (nspan < 64) {
			spanning[nspan++] = i;
		}
		zs_unmap_object(pool, sh.objs[i].handle);
	}
	CHECK(nspan >= 8,
	      "page %zu chain %u: only %zu of %zu objects of %zu bytes span "
	      "non-adjacent pages",
	      ps, chain, nspan, sh.count, size);

	/* Four spanning objects mapped at once, in all map modes. */
	hold_many(pool, &sh, spanning, 4, all_maps, 4);
	/* Four at once mixing map and read_begin. */
	hold_many(pool, &sh, spanning + 4, 4, mixed, 4);
	/* More than four: eight spanning objects mapped RW at once. */
	hold_many(pool, &sh, spanning, 8, rw_only, 1);
	/* Eight mixing all kinds, in place and spanning objects. */
	if (ninplace >= 4) {
		size_t objs[8] = { spanning[0], inplace[0], spanning[1], inplace[1],
				   spanning[2], inplace[2], spanning[3], inplace[3] };

		hold_many(pool, &sh, objs, 8, mixed, 4);
		hold_many(pool, &sh, objs, 8, all_maps, 4);
	}
	tu_pool_teardown(pool, &sh, &src, scratch, "after the mappings");
}

int main(void)
{
	tu_init("test_api_objects", 0x5eed0001);
	tu_rng_seed(&rng, tu_state.seed);

	static const size_t page_sizes[] = { 4096, 16384, 65536 };

	for (int i = 0; i < 3; i++) {
		test_many_objects(page_sizes[i], 0, TU_PAGES_GAPPED);
		test_many_objects(page_sizes[i], 0, TU_PAGES_ADJACENT);
	}
	test_many_objects(4096, 1, TU_PAGES_GAPPED);
	test_many_objects(4096, 2, TU_PAGES_GAPPED);
	test_many_objects(4096, 16, TU_PAGES_GAPPED);
	test_many_objects(16384, 5, TU_PAGES_GAPPED);
	CHECK(spanning_copies > 0, "no object ever spanned two non-adjacent pages: the "
				   "spanning path was not exercised");
	printf("many objects done (%lu reads of spanning objects)\n", spanning_copies);

	test_many_mappings(4096, 0);
	test_many_mappings(4096, 4);
	test_many_mappings(16384, 0);
	test_many_mappings(65536, 0);
	printf("test_api_objects: all checks passed\n");
	return 0;
}
