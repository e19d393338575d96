/*
 * test_stress.c - single-threaded random workload against a shadow copy of
 * every live object: random sizes across all classes including huge ones,
 * random writes through every access method, frees; periodically zs_compact
 * and the migration of random backing pages (zs_list_pages,
 * zs_page_source_alloc, zs_page_migrate, zs_page_source_free), with the
 * built-in page source and with custom ones.  Every byte of every live object
 * is checked after every compaction and migration, and zs_pool_check runs
 * after them.  A second part frees a random half of a filled pool and checks
 * that compaction gives pages back and is counted in pages_compacted.
 */
#include "zs_test.h"

#define MAX_PAGE 65536

static unsigned char scratch[MAX_PAGE];

struct stress {
	struct zs_pool *pool;
	struct tu_page_source *src; /* NULL: built-in source */
	struct tu_shadow sh;
	struct tu_rng rng;
	char what[96];
	unsigned long compactions, pages_compacted, migrations, pages_moved;
};

static void check_pages(struct stress *s, const char *when)
{
	if (s->src)
		CHECK_EQ(zs_get_total_pages(s->pool), tu_ps_live(s->src),
			 "%s, %s: pool pages vs pages held from the source", s->what, when);
	else
		CHECK_EQ(zs_list_pages(s->pool, NULL, 0), zs_get_total_pages(s->pool),
			 "%s, %s: zs_list_pages vs zs_get_total_pages", s->what, when);
}

static void compact_and_check(struct stress *s)
{
	struct zs_pool_stats before_stats, after_stats;
	unsigned long before = zs_get_total_pages(s->pool), freed;
	char where[160];

	zs_pool_stats(s->pool, &before_stats);
	freed = zs_compact(s->pool);
	zs_pool_stats(s->pool, &after_stats);
	snprintf(where, sizeof(where), "%s, after compaction %lu", s->what, s->compactions);
	CHECK_COMPACTED(before, zs_get_total_pages(s->pool), freed, "%s: zs_compact returned %lu",
			where, freed);
	CHECK_EQ(after_stats.pages_compacted - before_stats.pages_compacted, freed,
		 "%s: pages_compacted grew by a different amount than zs_compact returned", where);
	s->compactions++;
	s->pages_compacted += freed;
	tu_shadow_verify_all(s->pool, &s->sh, scratch, where);
	CHECK_POOL(s->pool, "%s", where);
	check_pages(s, where);
}

static void migrate_and_check(struct stress *s, unsigned long count)
{
	unsigned long before = zs_get_total_pages(s->pool);
	char where[160];

	snprintf(where, sizeof(where), "%s, after migration %lu", s->what, s->migrations);
	s->pages_moved += tu_migrate_random(s->pool, &s->rng, count, TU_MIG_STRICT);
	s->migrations++;
	CHECK_EQ(zs_get_total_pages(s->pool), before, "%s: page count changed", where);
	tu_shadow_verify_all(s->pool, &s->sh, scratch, where);
	CHECK_POOL(s->pool, "%s", where);
	check_pages(s, where);
}

/* One random operation. */
static void stress_op(struct stress *s, unsigned long op, size_t max_live)
{
	size_t ps = zs_page_size(s->pool), huge = zs_huge_class_size(s->pool);
	unsigned int r = (unsigned int)tu_below(&s->rng, 100);
	/* Drift the population between a third and all of max_live. */
	bool grow = s->sh.count < max_live / 3 || (s->sh.count < max_live && (op / 5000) % 2 == 0);

	if (s->sh.count == 0 || (r < 40 && grow) || r < 20) {
		if (s->sh.count >= max_live)
			return;
		CHECK(tu_shadow_alloc(s->pool, &s->sh, &s->rng, tu_random_size(&s->rng, ps, huge),
				      (enum tu_access)(op % TU_ACCESS_COUNT), scratch),
		      "%s, op %lu: zs_malloc: %s", s->what, op, strerror(errno));
	} else if (r < 70) {
		tu_shadow_free(s->pool, &s->sh, tu_below(&s->rng, s->sh.count));
	} else if (r < 82) {
		tu_shadow_rewrite(s->pool, &s->sh, &s->rng, tu_below(&s->rng, s->sh.count),
				  (enum tu_access)(op % TU_ACCESS_COUNT));
	} else if (r < 92) {
		size_t i = tu_below(&s->rng, s->sh.count);
		struct tu_obj *o = &s->sh.objs[i];
		char where[128];

		snprintf(where, sizeof(where), "%s, op %lu", s->what, op);
		tu_obj_verify(s->pool, o->handle, o->data, o->size,
			      (enum tu_access)(op % TU_ACCESS_COUNT), scratch, where);
	} else {
		/* Change a few random bytes in place through a RW mapping. */
		size_t i = tu_below(&s->rng, s->sh.count);
		struct tu_obj *o = &s->sh.objs[i];
		unsigned char *p = zs_map_object(s->pool, o->handle, ZS_MM_RW);

		CHECK(p != NULL);
		CHECK(tu_first_diff(p, o->data, o->size) == o->size,
		      "%s, op %lu: RW mapping shows wrong bytes", s->what, op);
		for (int k = 0; k < 4; k++) {
			size_t at = tu_below(&s->rng, o->size);

			o->data[at] = (unsigned char)tu_rand(&s->rng);
			p[at] = o->data[at];
		}
		zs_unmap_object(s->pool, o->handle);
	}
}

static void stress_begin(struct stress *s, struct tu_page_source *src, size_t ps,
			 unsigned int chain, enum tu_page_layout layout, uint64_t seed)
{
	struct zs_pool_config cfg = { .page_size = ps, .max_pages_per_zspage = chain };

	memset(s, 0, sizeof(*s));
	if (src) {
		tu_ps_init(src, ps, layout, 32768);
		cfg = tu_ps_config(src, chain);
	}
	s->src = src;
	s->pool = tu_create_pool("stress", &cfg);
	tu_shadow_init(&s->sh);
	tu_rng_seed(&s->rng, seed);
	snprintf(s->what, sizeof(s->what), "page %zu chain %u %s", ps, chain,
		 !src			     ? "built-in source"
		 : layout == TU_PAGES_GAPPED ? "gapped source"
					     : "adjacent source");
}

static void stress_end(struct stress *s)
{
	tu_pool_teardown(s->pool, &s->sh, s->src, scratch, s->what);
}

static void run_random(size_t ps, unsigned int chain, bool custom, enum tu_page_layout layout,
		       unsigned long ops, size_t max_live, uint64_t seed)
{
	struct tu_page_source src;
	struct stress s;

	stress_begin(&s, custom ? &src : NULL, ps, chain, layout, seed);
	/* One configuration makes pages given back inaccessible (slow). */
	if (custom && ps == 16384)
		src.protect_freed = true;
	for (unsigned long op = 1; op <= ops; op++) {
		stress_op(&s, op, max_live);
		if (op % 1000 == 0)
			compact_and_check(&s);
		if (op % 1500 == 0)
			migrate_and_check(&s, 1 + tu_below(&s.rng, 16));
		if (op % 250 == 0) {
			CHECK_POOL(s.pool, "%s, op %lu", s.what, op);
			check_pages(&s, "periodic");
		}
	}
	/* Migrate every page once, then compact, checking all bytes. */
	migrate_and_check(&s, zs_get_total_pages(s.pool));
	compact_and_check(&s);
	printf("%s: %lu ops, %lu compactions freed %lu pages, %lu migrations moved %lu "
	       "pages, %zu objects live at the end\n",
	       s.what, ops, s.compactions, s.pages_compacted, s.migrations, s.pages_moved,
	       s.sh.count);
	stress_end(&s);
}

/* Fill, free a random half, compact: pages must come back, and be counted. */
static void run_compaction_gain(size_t ps, unsigned int chain, bool custom, unsigned long objects,
				uint64_t seed)
{
	struct tu_page_source src;
	struct stress s;
	struct zs_pool_stats st0, st1;
	unsigned long full, half, before, freed, freeable = 0;
	struct zs_class_stats cs;

	stress_begin(&s, custom ? &src : NULL, ps, chain, TU_PAGES_GAPPED, seed);
	for (unsigned long i = 0; i < objects; i++)
		CHECK(tu_shadow_alloc(s.pool, &s.sh, &s.rng,
				      tu_range(&s.rng, 1, zs_huge_class_size(s.pool)),
				      (enum tu_access)(i % TU_ACCESS_COUNT), scratch),
		      "%s: zs_malloc: %s", s.what, strerror(errno));
	full = zs_get_total_pages(s.pool);
	for (size_t i = s.sh.count; i-- > 0;)
		if (tu_below(&s.rng, 2))
			tu_shadow_free(s.pool, &s.sh, i);
	tu_shadow_verify_all(s.pool, &s.sh, scratch, s.what);
	for (unsigned int i = 0; i < zs_class_count(s.pool); i++)
		if (zs_get_class_stats(s.pool, i, &cs) == 0)
			freeable += cs.freeable;
	zs_pool_stats(s.pool, &st0);
	before = half = zs_get_total_pages(s.pool);
	freed = zs_compact(s.pool);
	zs_pool_stats(s.pool, &st1);
	CHECK(freed > 0,
	      "%s: zs_compact freed nothing after a random half of %lu objects "
	      "was freed (%lu pages)",
	      s.what, objects, before);
	CHECK_COMPACTED(before, zs_get_total_pages(s.pool), freed, "%s: pages after zs_compact",
			s.what);
	CHECK(zs_get_total_pages(s.pool) < before, "%s", s.what);
	CHECK_EQ(st1.pages_compacted - st0.pages_compacted, freed, "%s: pages_compacted", s.what);
	tu_shadow_verify_all(s.pool, &s.sh, scratch, s.what);
	CHECK_POOL(s.pool, "%s", s.what);
	check_pages(&s, "after compaction");
	/* A second compaction right away finds (almost) nothing more. */
	before = zs_get_total_pages(s.pool);
	freed = zs_compact(s.pool);
	CHECK_COMPACTED(before, zs_get_total_pages(s.pool), freed);
	printf("%s: %lu pages full, %lu after freeing half (freeable %lu), %lu after "
	       "compaction\n",
	       s.what, full, half, freeable, zs_get_total_pages(s.pool));
	stress_end(&s);
}

int main(void)
{
	uint64_t seed;

	tu_init("test_stress", 0x5eed0004);
	seed = tu_state.seed;
	run_random(4096, 0, false, TU_PAGES_GAPPED, tu_scale(60000), 3000, seed);
	run_random(4096, 0, true, TU_PAGES_GAPPED, tu_scale(60000), 3000, seed + 1);
	run_random(4096, 4, true, TU_PAGES_ADJACENT, tu_scale(30000), 2000, seed + 2);
	run_random(4096, 16, true, TU_PAGES_GAPPED, tu_scale(30000), 2000, seed + 3);
	run_random(16384, 0, true, TU_PAGES_GAPPED, tu_scale(20000), 1000, seed + 4);
	run_random(65536, 0, false, TU_PAGES_GAPPED, tu_scale(8000), 300, seed + 5);
	run_random(65536, 3, true, TU_PAGES_GAPPED, tu_scale(8000), 300, seed + 6);

	run_compaction_gain(4096, 0, false, tu_scale(20000), seed + 7);
	run_compaction_gain(4096, 0, true, tu_scale(20000), seed + 8);
	run_compaction_gain(16384, 8, true, tu_scale(5000), seed + 9);
	run_compaction_gain(65536, 0, false, tu_scale(1500), seed + 10);
	printf("test_stress: all checks passed\n");
	return 0;
}
