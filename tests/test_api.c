/*
 * test_api.c - every public function of libzsmalloc, used as api.md and
 * zsmalloc.h describe, on pools of 4, 16 and 64 KiB pages and several chain
 * sizes: pool configuration checks, bad sizes, byte-exact round trips of
 * every size through write/read and the three map modes, size classes and
 * the huge class, several mappings held at once, statistics and the class
 * table, compaction, page listing and migration (and its errors), and pages
 * going back to the source when objects are freed or the pool is destroyed.
 */
#include "test_util.h"

#include <limits.h>

#define MAX_PAGE 65536

static struct tu_rng rng;
static unsigned char scratch[MAX_PAGE], data[MAX_PAGE], data2[MAX_PAGE];

/* ---- Pool configuration ---- */

static void test_create_config(void)
{
	static const size_t good_sizes[] = { 0, 4096, 8192, 16384, 32768, 65536 };
	static const size_t bad_sizes[] = { 1, 512, 1024, 2048, 3000, 4095, 4097,
					    6000, 12288, 65535, 65537, 131072,
					    1UL << 20, SIZE_MAX };
	static const unsigned int bad_chains[] = { 17, 32, 64, UINT_MAX };
	struct zs_pool *pool;

	pool = tu_create_pool("default", NULL);
	CHECK_EQ(zs_page_size(pool), 4096, "zs_create_pool page size");
	CHECK_EQ(zs_get_total_pages(pool), 0);
	zs_destroy_pool(pool);

	for (size_t i = 0; i < sizeof(good_sizes) / sizeof(good_sizes[0]); i++) {
		struct zs_pool_config cfg = { .page_size = good_sizes[i] };

		pool = tu_create_pool("good", &cfg);
		CHECK_EQ(zs_page_size(pool), good_sizes[i] ? good_sizes[i] : 4096,
			 "page_size %zu", good_sizes[i]);
		CHECK_EQ(zs_get_total_pages(pool), 0);
		CHECK(zs_huge_class_size(pool) > 0 &&
		      zs_huge_class_size(pool) < zs_page_size(pool),
		      "page size %zu: zs_huge_class_size %zu", zs_page_size(pool),
		      zs_huge_class_size(pool));
		zs_destroy_pool(pool);
	}
	for (size_t i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
		struct zs_pool_config cfg = { .page_size = bad_sizes[i] };

		errno = 0;
		pool = zs_create_pool_config("bad", &cfg);
		CHECK(pool == NULL, "page_size %zu accepted", bad_sizes[i]);
		CHECK_EQ(errno, EINVAL, "page_size %zu: errno", bad_sizes[i]);
	}
	for (unsigned int chain = 0; chain <= 16; chain++) {
		for (size_t ps = 4096; ps <= MAX_PAGE; ps *= 4) {
			struct zs_pool_config cfg = { .page_size = ps,
						      .max_pages_per_zspage = chain };
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
	for (size_t i = 0; i < sizeof(bad_chains) / sizeof(bad_chains[0]); i++) {
		struct zs_pool_config cfg = { .max_pages_per_zspage = bad_chains[i] };

		errno = 0;
		pool = zs_create_pool_config("bad", &cfg);
		CHECK(pool == NULL, "chain size %u accepted", bad_chains[i]);
		CHECK_EQ(errno, EINVAL, "chain size %u: errno", bad_chains[i]);
	}
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
	zs_free(pool, 0);	/* a no-op */
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

static void class_stats(struct zs_pool *pool, unsigned int index,
			struct zs_class_stats *st)
{
	int ret = zs_get_class_stats(pool, index, st);

	CHECK_EQ(ret, 0, "zs_get_class_stats(%u)", index);
	CHECK_EQ(st->index, index, "class stats index");
}

static size_t class_size_of(struct zs_pool *pool, size_t size)
{
	struct zs_class_stats st;

	class_stats(pool, zs_lookup_class_index(pool, (unsigned int)size), &st);
	return st.size;
}

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
		CHECK(idx >= prev, "zs_lookup_class_index not monotonic: size %zu -> %u, "
		      "size %zu -> %u", s - 1, prev, s, idx);
		if (s == 1 || idx != prev) {
			class_stats(pool, idx, &st);
			CHECK(st.size >= s && st.size <= ps, "size %zu in class %u of size %u",
			      s, idx, st.size);
			/* The default chain of the built-in arena is 64 pages
			 * (README); a chain asked for is kept. */
			CHECK(st.pages_per_zspage >= 1 &&
			      st.pages_per_zspage <= (chain ? chain : 64),
			      "class %u: pages_per_zspage %u, chain %u", idx,
			      st.pages_per_zspage, chain);
			CHECK(st.objs_per_zspage >= 1 &&
			      (size_t)st.objs_per_zspage * st.size <= st.pages_per_zspage * ps,
			      "class %u: %u objects of %u bytes in %u pages", idx,
			      st.objs_per_zspage, st.size, st.pages_per_zspage);
			CHECK_EQ(st.obj_allocated + st.obj_used + st.pages_used, 0,
				 "empty pool, class %u", idx);
			in_use++;
		}
		if (s > huge) {
			class_stats(pool, idx, &st);
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

/* ---- Round trips of every size ---- */

/* Handles of a batch of round trips, freed together (fewer zspage frees). */
#define ROUNDTRIP_BATCH 64
static unsigned long batch_handles[3 * ROUNDTRIP_BATCH];
static size_t batch_count;

static void roundtrip_batch_free(struct zs_pool *pool)
{
	for (size_t i = 0; i < batch_count; i++)
		zs_free(pool, batch_handles[i]);
	batch_count = 0;
	CHECK_EQ(zs_get_total_pages(pool), 0, "pages after freeing a batch of round trips");
}

/*
 * Three objects of `size`, written and read back by every access method;
 * partial writes keep the rest of the object.  Freed with the batch.
 */
static void roundtrip_one_size(struct zs_pool *pool, size_t size)
{
	unsigned long h[3];
	size_t class_size = class_size_of(pool, size);
	unsigned char *p;

	for (int i = 0; i < 3; i++) {
		h[i] = zs_malloc(pool, size);
		CHECK(h[i] != 0, "zs_malloc(%zu): %s", size, strerror(errno));
		CHECK_EQ(zs_obj_size(pool, h[i]), class_size, "zs_obj_size of size %zu",
			 size);
		CHECK(zs_obj_size(pool, h[i]) >= size);
	}
	CHECK(h[0] != h[1] && h[1] != h[2] && h[0] != h[2], "handles not distinct");

	/* 0: zs_obj_write, read back by read_begin, map RO and map RW. */
	tu_fill_random(&rng, data, size);
	zs_obj_write(pool, h[0], data, size);
	/* 1: map WO; 2: map RW. */
	tu_fill_random(&rng, data2, size);
	p = zs_map_object(pool, h[1], ZS_MM_WO);
	CHECK(p != NULL);
	memcpy(p, data2, size);
	zs_unmap_object(pool, h[1]);
	p = zs_map_object(pool, h[2], ZS_MM_RW);
	CHECK(p != NULL);
	for (size_t i = 0; i < size; i++)
		p[i] = (unsigned char)(data[i] ^ 0x5a);
	zs_unmap_object(pool, h[2]);

	tu_obj_verify(pool, h[0], data, size, TU_ACCESS_OBJ, scratch, "write/read_begin");
	tu_obj_verify(pool, h[0], data, size, TU_ACCESS_MAP_WO_RO, scratch, "write/map RO");
	tu_obj_verify(pool, h[0], data, size, TU_ACCESS_MAP_RW, scratch, "write/map RW");
	tu_obj_verify(pool, h[1], data2, size, TU_ACCESS_MAP_WO_RO, scratch, "map WO/map RO");
	tu_obj_verify(pool, h[1], data2, size, TU_ACCESS_OBJ, scratch, "map WO/read_begin");
	for (size_t i = 0; i < size; i++)
		scratch[i] = (unsigned char)(data[i] ^ 0x5a);
	memcpy(data2, scratch, size);
	tu_obj_verify(pool, h[2], data2, size, TU_ACCESS_OBJ, scratch, "map RW/read_begin");

	/* RW: sees the old bytes, its changes persist. */
	p = zs_map_object(pool, h[0], ZS_MM_RW);
	CHECK(tu_first_diff(p, data, size) == size, "size %zu: map RW content", size);
	p[0] ^= 0xff;
	p[size - 1] ^= 0x0f;
	zs_unmap_object(pool, h[0]);
	data[0] ^= 0xff;
	data[size - 1] ^= 0x0f;
	tu_obj_verify(pool, h[0], data, size, TU_ACCESS_OBJ, scratch, "RW change");

	/* A write of a prefix leaves the rest as it was. */
	if (size >= 2) {
		size_t half = size / 2;

		tu_fill_random(&rng, data, half);	/* data's tail stays */
		zs_obj_write(pool, h[0], data, half);
		tu_obj_verify(pool, h[0], data, size, TU_ACCESS_OBJ, scratch,
			      "write of a prefix");
	}
	/* A write of no bytes changes nothing. */
	zs_obj_write(pool, h[0], data2, 0);
	tu_obj_verify(pool, h[0], data, size, TU_ACCESS_OBJ, scratch, "write of 0 bytes");
	/* The whole usable size can be written and read. */
	tu_fill_random(&rng, data, class_size);
	zs_obj_write(pool, h[1], data, class_size);
	tu_obj_verify(pool, h[1], data, class_size, TU_ACCESS_OBJ, scratch, "obj_size write");
	tu_obj_verify(pool, h[1], data, class_size, TU_ACCESS_MAP_WO_RO, scratch,
		      "obj_size write, map RO");
	tu_obj_verify(pool, h[2], data2, size, TU_ACCESS_MAP_WO_RO, scratch, "neighbour");

	for (int i = 0; i < 3; i++)
		batch_handles[batch_count++] = h[i];
	if (batch_count == 3 * ROUNDTRIP_BATCH)
		roundtrip_batch_free(pool);
}

/* Sizes 1..ps with the given stride, plus both sides of each class boundary. */
static void test_roundtrip_sizes(size_t ps, unsigned int chain, size_t stride)
{
	struct zs_pool_config cfg = { .page_size = ps, .max_pages_per_zspage = chain };
	struct zs_pool *pool = tu_create_pool("roundtrip", &cfg);
	unsigned int prev = zs_lookup_class_index(pool, 1);

	for (size_t s = 1; s <= ps; s++) {
		unsigned int idx = zs_lookup_class_index(pool, (unsigned int)s);
		bool boundary = idx != prev || s == ps;

		if (boundary && s > 1)
			roundtrip_one_size(pool, s - 1);
		if (boundary || s == 1 || s % stride == 0)
			roundtrip_one_size(pool, s);
		prev = idx;
	}
	CHECK_POOL(pool);
	roundtrip_batch_free(pool);
	CHECK_POOL(pool);
	zs_destroy_pool(pool);
}

/* ---- Many objects per class, spanning pages, with a custom source ---- */

/* Checks one class's statistics against n live objects and no frees. */
static void check_class_filled(struct zs_pool *pool, size_t size, unsigned long n)
{
	struct zs_class_stats st;
	unsigned long zspages, sum = 0;

	class_stats(pool, zs_lookup_class_index(pool, (unsigned int)size), &st);
	zspages = (n + st.objs_per_zspage - 1) / st.objs_per_zspage;
	CHECK_EQ(st.obj_used, n, "class of size %zu: obj_used", size);
	CHECK_EQ(st.obj_allocated, zspages * st.objs_per_zspage,
		 "class of size %zu: obj_allocated for %lu objects, %u per zspage",
		 size, n, st.objs_per_zspage);
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
		      "as used)", size, st.pages_used, n, st.size, st.objs_per_zspage,
		      st.pages_per_zspage, eager, lazy);
	}
	for (int g = 0; g < ZS_NR_FULLNESS_GROUPS; g++)
		sum += st.zspages[g];
	CHECK_EQ(sum, zspages, "class of size %zu: zspages over fullness groups", size);
	CHECK(st.zspages[ZS_NR_FULLNESS_GROUPS - 1] >= zspages - 1,
	      "class of size %zu: %lu full zspages of %lu", size,
	      st.zspages[ZS_NR_FULLNESS_GROUPS - 1], zspages);
	CHECK_EQ(st.freeable, 0, "class of size %zu: freeable without frees", size);
}

static unsigned long spanning_copies;

static void test_many_objects(size_t ps, unsigned int chain, enum tu_page_layout layout)
{
	struct tu_page_source src;
	struct zs_pool_config cfg;
	struct zs_pool *pool;
	struct tu_shadow sh;
	size_t sizes[12];
	size_t nsizes = 0, huge;

	tu_ps_init(&src, ps, layout, 8192);
	cfg = tu_ps_config(&src, chain);
	pool = tu_create_pool("many", &cfg);
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
		size_t size = sizes[k], class_size = class_size_of(pool, size);
		struct zs_class_stats st;
		unsigned long n, total;

		class_stats(pool, zs_lookup_class_index(pool, (unsigned int)size), &st);
		/* Enough for three zspages and a bit. */
		n = 3UL * st.objs_per_zspage + 2;
		if (n > tu_scale(3000))
			n = tu_scale(3000);
		for (unsigned long i = 0; i < n; i++)
			CHECK(tu_shadow_alloc(pool, &sh, &rng, size,
					      (enum tu_access)(i % TU_ACCESS_COUNT), scratch),
			      "zs_malloc(%zu): %s", size, strerror(errno));
		check_class_filled(pool, size, n);
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
				 "exactly one page", sizes[k], huge, ps);
			CHECK(zs_obj_size(pool, h[k][i]) >= sizes[k] &&
			      zs_obj_size(pool, h[k][i]) <= ps);
			tu_fill_random(&rng, data, sizes[k]);
			zs_obj_write(pool, h[k][i], data, sizes[k]);
			tu_obj_verify(pool, h[k][i], data, sizes[k], TU_ACCESS_OBJ, scratch,
				      "huge");
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

/* ---- Several mappings held at once by one thread ---- */

struct held {
	unsigned long handle;
	enum { HELD_MAP_RO, HELD_MAP_RW, HELD_MAP_WO, HELD_READ } kind;
	unsigned char *ptr;
	unsigned char *local;	/* read_begin's buffer */
};

static void hold(struct zs_pool *pool, struct held *m)
{
	switch (m->kind) {
	case HELD_MAP_RO:
		m->ptr = zs_map_object(pool, m->handle, ZS_MM_RO);
		break;
	case HELD_MAP_RW:
		m->ptr = zs_map_object(pool, m->handle, ZS_MM_RW);
		break;
	case HELD_MAP_WO:
		m->ptr = zs_map_object(pool, m->handle, ZS_MM_WO);
		break;
	case HELD_READ:
		m->ptr = zs_obj_read_begin(pool, m->handle, m->local);
		break;
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
static void hold_many(struct zs_pool *pool, struct tu_shadow *sh, const size_t *objs,
		      int nheld, const int *kinds, int nkinds)
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
	struct zs_pool_config cfg;
	struct zs_pool *pool;
	struct tu_shadow sh;
	size_t spanning[64], inplace[64], nspan = 0, ninplace = 0;
	size_t size = ps / 2 + ps / 4 - 40;	/* objects of 3/4 page: many span */

	tu_ps_init(&src, ps, TU_PAGES_GAPPED, 1024);
	cfg = tu_ps_config(&src, chain);
	pool = tu_create_pool("mappings", &cfg);
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
	CHECK(nspan >= 8, "page %zu chain %u: only %zu of %zu objects of %zu bytes span "
	      "non-adjacent pages", ps, chain, nspan, sh.count, size);

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
	CHECK_POOL(pool);
	tu_shadow_free_all(pool, &sh);
	CHECK_EQ(src.live, 0);
	zs_destroy_pool(pool);
	tu_shadow_destroy(&sh);
	tu_ps_destroy(&src);
}

/* ---- Statistics and the class table ---- */

static unsigned long sum_pages_used(struct zs_pool *pool, unsigned long *objs)
{
	unsigned long pages = 0, used = 0;
	struct zs_class_stats st;

	for (unsigned int i = 0; i < zs_class_count(pool); i++) {
		if (zs_get_class_stats(pool, i, &st) != 0)
			continue;
		pages += st.pages_used;
		used += st.obj_used;
		CHECK(st.obj_used <= st.obj_allocated, "class %u: used %lu > allocated %lu",
		      i, st.obj_used, st.obj_allocated);
		CHECK(st.freeable <= st.pages_used, "class %u: freeable %lu > pages %lu",
		      i, st.freeable, st.pages_used);
	}
	if (objs)
		*objs = used;
	return pages;
}

static void check_class_table(struct zs_pool *pool)
{
	static const char *const columns[] = {
		"class", "size", "10%", "20%", "30%", "40%", "50%", "60%", "70%",
		"80%", "90%", "99%", "100%", "obj_allocated", "obj_used",
		"pages_used", "pages_per_zspage", "freeable"
	};
	char *text = NULL, *line, *save = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	bool header_seen = false, total_seen = false;
	unsigned int count = zs_class_count(pool);
	unsigned char *listed = calloc(count, 1);

	CHECK(out != NULL && listed != NULL);
	CHECK_EQ(zs_print_class_stats(pool, out), 0, "zs_print_class_stats");
	CHECK_EQ(fclose(out), 0);
	CHECK(len > 0 && text != NULL, "empty class table");
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned int index, size;

		if (!header_seen) {
			/* Every column name, in the kernel's order. */
			const char *at = line;
			bool all = true;

			for (size_t c = 0; c < sizeof(columns) / sizeof(columns[0]); c++) {
				const char *found = strstr(at, columns[c]);

				if (!found) {
					all = false;
					break;
				}
				at = found + strlen(columns[c]);
			}
			if (all)
				header_seen = true;
			continue;
		}
		if (strstr(line, "Total")) {
			total_seen = true;
			continue;
		}
		if (sscanf(line, "%u %u", &index, &size) == 2) {
			struct zs_class_stats st;
			unsigned long v[16];
			int got;

			CHECK(index < count, "class table line \"%s\": bad index", line);
			CHECK_EQ(zs_get_class_stats(pool, index, &st), 0,
				 "class table line \"%s\"", line);
			CHECK_EQ(size, st.size, "class table line \"%s\": size", line);
			/* The other 16 columns agree with zs_get_class_stats (the
			 * pool is idle, so both are the same instant). */
			got = sscanf(line, "%*u %*u %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu "
				     "%lu %lu %lu %lu %lu", &v[0], &v[1], &v[2], &v[3], &v[4],
				     &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &v[11], &v[12],
				     &v[13], &v[14], &v[15]);
			CHECK_EQ(got, 16, "class table line \"%s\": columns", line);
			for (int g = 0; g < ZS_NR_FULLNESS_GROUPS; g++)
				CHECK_EQ(v[g], st.zspages[g], "class table line \"%s\": "
					 "fullness column %d", line, g);
			CHECK_EQ(v[11], st.obj_allocated, "class table line \"%s\"", line);
			CHECK_EQ(v[12], st.obj_used, "class table line \"%s\"", line);
			CHECK_EQ(v[13], st.pages_used, "class table line \"%s\"", line);
			CHECK_EQ(v[14], st.pages_per_zspage, "class table line \"%s\"", line);
			CHECK_EQ(v[15], st.freeable, "class table line \"%s\"", line);
			listed[index] = 1;
		}
	}
	CHECK(header_seen, "class table has no header with the kernel's column names:\n%s",
	      text);
	CHECK(total_seen, "class table has no Total line");
	for (unsigned int i = 0; i < count; i++) {
		struct zs_class_stats st;

		if (zs_get_class_stats(pool, i, &st) == 0 && st.obj_allocated)
			CHECK(listed[i], "class %u in use but not in the class table", i);
	}
	free(listed);
	free(text);

	/* A failed write is reported: -1 with errno. */
	out = fopen("/dev/full", "w");
	if (out) {
		setvbuf(out, NULL, _IONBF, 0);
		errno = 0;
		CHECK_EQ(zs_print_class_stats(pool, out), -1, "writing to /dev/full");
		CHECK_EQ(errno, ENOSPC, "errno after writing to /dev/full");
		fclose(out);
	}
}

static void test_stats(void)
{
	static const size_t sizes[] = { 32, 100, 1000, 2000, 3000, 4096 };
	unsigned long counts[] = { 500, 300, 100, 50, 20, 7 };
	struct zs_pool *pool = tu_create_pool("stats", NULL);
	struct zs_pool_stats ps_stats;
	struct zs_class_stats st;
	struct tu_shadow sh;
	unsigned long objs, total;
	unsigned int idx32;

	tu_shadow_init(&sh);
	/* Enough 32-byte objects for four zspages, whatever the geometry. */
	class_stats(pool, zs_lookup_class_index(pool, 32), &st);
	if (counts[0] < 4UL * st.objs_per_zspage)
		counts[0] = 4UL * st.objs_per_zspage;
	zs_pool_stats(pool, &ps_stats);
	CHECK_EQ(ps_stats.pages_compacted, 0);
	CHECK_EQ(sum_pages_used(pool, NULL), 0);
	check_class_table(pool);
	for (size_t k = 0; k < 6; k++) {
		for (size_t j = 0; j < k; j++)
			CHECK(zs_lookup_class_index(pool, (unsigned int)sizes[j]) !=
			      zs_lookup_class_index(pool, (unsigned int)sizes[k]));
		for (unsigned long i = 0; i < counts[k]; i++)
			CHECK(tu_shadow_alloc(pool, &sh, &rng, sizes[k], TU_ACCESS_OBJ, scratch));
	}
	for (size_t k = 0; k < 6; k++)
		check_class_filled(pool, sizes[k], counts[k]);
	total = zs_get_total_pages(pool);
	CHECK_EQ(sum_pages_used(pool, &objs), total, "sum of pages_used over classes");
	CHECK_EQ(objs, sh.count, "sum of obj_used over classes");
	CHECK_EQ(zs_list_pages(pool, NULL, 0), total);
	check_class_table(pool);

	/* Free 90% of the 32-byte objects at random: compaction has work. */
	idx32 = zs_lookup_class_index(pool, 32);
	for (size_t i = sh.count; i-- > 0;)
		if (sh.objs[i].size == 32 && tu_below(&rng, 10) != 0)
			tu_shadow_free(pool, &sh, i);
	class_stats(pool, idx32, &st);
	{
		unsigned long used32 = 0, sum = 0;

		for (size_t i = 0; i < sh.count; i++)
			used32 += sh.objs[i].size == 32;
		CHECK_EQ(st.obj_used, used32, "obj_used after frees");
		CHECK(st.pages_used <= st.obj_allocated / st.objs_per_zspage * st.pages_per_zspage &&
		      st.pages_used * 4096 >= st.obj_used * st.size,
		      "pages_used %lu for %lu of %lu objects", st.pages_used, st.obj_used,
		      st.obj_allocated);
		for (int g = 0; g < ZS_NR_FULLNESS_GROUPS; g++)
			sum += st.zspages[g];
		CHECK_EQ(sum, st.obj_allocated / st.objs_per_zspage, "fullness groups");
		CHECK(st.freeable > 0, "class of 32 bytes: %lu used of %lu slots, freeable 0",
		      st.obj_used, st.obj_allocated);
	}
	CHECK_EQ(sum_pages_used(pool, &objs), zs_get_total_pages(pool));
	CHECK_EQ(objs, sh.count);
	check_class_table(pool);
	CHECK_POOL(pool);
	{
		unsigned long before = zs_get_total_pages(pool), freed;

		freed = zs_compact(pool);
		CHECK(freed > 0, "zs_compact freed nothing, class said freeable %lu",
		      st.freeable);
		CHECK_COMPACTED(before, zs_get_total_pages(pool), freed, "pages after zs_compact");
		zs_pool_stats(pool, &ps_stats);
		CHECK_EQ(ps_stats.pages_compacted, freed, "pages_compacted");
		class_stats(pool, idx32, &st);
		CHECK_EQ(st.freeable, 0, "freeable right after zs_compact");
	}
	tu_shadow_verify_all(pool, &sh, scratch, "after compaction");
	CHECK_POOL(pool);
	check_class_table(pool);
	tu_shadow_free_all(pool, &sh);
	CHECK_EQ(zs_get_total_pages(pool), 0);
	CHECK_EQ(sum_pages_used(pool, &objs), 0);
	CHECK_EQ(objs, 0);
	zs_destroy_pool(pool);
	tu_shadow_destroy(&sh);
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

	tu_ps_init(&src, ps, TU_PAGES_GAPPED, 8192);
	cfg = tu_ps_config(&src, chain);
	pool = tu_create_pool("compact", &cfg);
	other = tu_create_pool("other", &cfg);	/* same source */
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

		class_stats(pool, zs_lookup_class_index(pool, (unsigned int)size), &cst);
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
	pages[half] = &pages;	/* sentinel */
	CHECK_EQ(zs_list_pages(pool, pages, half), total, "zs_list_pages with max < count");
	CHECK(pages[half] == &pages, "zs_list_pages wrote past max");
	listed = zs_list_pages(pool, pages, total + 1);
	CHECK_EQ(listed, total);
	for (size_t i = 0; i < listed; i++) {
		CHECK(tu_ps_owns_page(&src, pages[i]), "listed page %p is not from the source",
		      pages[i]);
		CHECK(((uintptr_t)pages[i] & (ps - 1)) == 0, "listed page %p not aligned",
		      pages[i]);
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
		CHECK_EQ(zs_page_migrate(pool, other_page, newpage), -EINVAL,
			 "page of another pool");
		CHECK_EQ(zs_page_migrate(other, pages[0], newpage), -EINVAL,
			 "page of another pool");
		zs_page_source_free(pool, unused);
		zs_page_source_free(pool, newpage);
		CHECK_EQ(src.live, total + zs_get_total_pages(other));
		tu_shadow_verify_all(pool, &sh, scratch, "after refused migrations");
		CHECK_POOL(pool);
	}

	/* A page with a mapped or read object cannot move; afterwards it can. */
	for (int how = 0, tries = 0; how < 2 && tries < 1000; tries++) {
		size_t i = tu_below(&rng, sh.count);
		struct tu_obj *o = &sh.objs[i];
		unsigned char *p;
		void *page;

		p = how == 0 ? zs_map_object(pool, o->handle, ZS_MM_RO)
			     : zs_obj_read_begin(pool, o->handle, scratch);
		if (!tu_ps_in_one_page(&src, p, o->size)) {
			/* A copy: try another object. */
			if (how == 0)
				zs_unmap_object(pool, o->handle);
			else
				zs_obj_read_end(pool, o->handle, p);
			continue;
		}
		page = (void *)((uintptr_t)p & ~(uintptr_t)(ps - 1));
		ret = tu_migrate_page(pool, page);
		CHECK_EQ(ret, -EAGAIN, "migrating the page of a %s object",
			 how == 0 ? "mapped" : "read");
		CHECK(tu_first_diff(p, o->data, o->size) == o->size,
		      "object changed while held");
		if (how == 0)
			zs_unmap_object(pool, o->handle);
		else
			zs_obj_read_end(pool, o->handle, p);
		CHECK_EQ(tu_migrate_page(pool, page), 0, "migrating after the release");
		CHECK(!tu_ps_owns_page(&src, page), "old page not given back");
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
	zs_destroy_pool(pool);	/* live objects: all freed, ASan sees no leak */

	{
		struct tu_page_source src;
		struct zs_pool_config cfg;

		tu_ps_init(&src, 16384, TU_PAGES_GAPPED, 1024);
		cfg = tu_ps_config(&src, 0);
		pool = tu_create_pool("destroy", &cfg);
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
	static const size_t page_sizes[] = { 4096, 16384, 65536 };

	tu_init("test_api", 0x5eed0001);
	tu_rng_seed(&rng, tu_state.seed);

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

	/* Every size for 4 KiB pages; a stride and all class edges for larger. */
	test_roundtrip_sizes(4096, 0, tu_stride(1));
	test_roundtrip_sizes(16384, 0, tu_stride(3));
	test_roundtrip_sizes(65536, 0, tu_stride(61));
	for (unsigned int chain = 1; chain <= 16; chain *= 2)
		test_roundtrip_sizes(4096, chain, tu_stride(7));
	test_roundtrip_sizes(16384, 3, tu_stride(29));
	printf("round trips done\n");

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
	printf("mappings done\n");

	test_stats();
	test_compact_and_migrate(4096, 0);
	test_compact_and_migrate(4096, 2);
	test_compact_and_migrate(16384, 0);
	test_compact_and_migrate(65536, 0);
	test_page_source_calls();

	printf("test_api: all checks passed\n");
	return 0;
}
