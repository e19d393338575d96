/*
 * test_page_limit - the pool's page limit (zs_pool_config.max_pages,
 * zs_set_max_pages): zs_malloc refuses with ENOSPC, before anything changes,
 * an object that would need a page past the limit; the pool's pages never
 * pass it, not even for a moment with threads allocating at once; what is
 * stored stays intact; freeing, compaction and a raised limit make room
 * again.  Run on the built-in arena and on a caller's page source.
 */
#include "zs_test.h"

#define MAX_PAGE 65536

static struct tu_rng rng;
static unsigned char scratch[MAX_PAGE];

/* Allocates random sizes until `refusals` allocations in a row have been
 * refused; every refusal must be ENOSPC and change nothing. */
static void fill_to_limit(struct zs_pool *pool, struct tu_shadow *sh, struct tu_page_source *src,
			  unsigned int refusals)
{
	size_t ps = zs_page_size(pool);
	unsigned long max = zs_get_max_pages(pool);
	unsigned int in_a_row = 0;

	while (in_a_row < refusals) {
		size_t size = tu_random_size(&rng, ps, zs_huge_class_size(pool));
		unsigned long before = zs_get_total_pages(pool);
		unsigned long h = tu_shadow_alloc(pool, sh, &rng, size, TU_ACCESS_OBJ, scratch);

		if (h) {
			in_a_row = 0;
		} else {
			CHECK_EQ(errno, ENOSPC);
			CHECK_EQ(zs_get_total_pages(pool), before);
			in_a_row++;
		}
		CHECK(zs_get_total_pages(pool) <= max, "%lu pages, limit %lu",
		      zs_get_total_pages(pool), max);
		if (src)
			CHECK(tu_ps_live(src) <= (long)max, "page source: %ld pages out, limit %lu",
			      tu_ps_live(src), max);
	}
}

static void check_pool(struct zs_pool *pool, struct tu_shadow *sh, const char *where)
{
	char why[256];

	tu_shadow_verify_all(pool, sh, scratch, where);
	CHECK(zs_pool_check(pool, why, sizeof(why)) == 0, "%s: %s", where, why);
}

static void run_limit(size_t ps, bool own_source)
{
	struct tu_page_source src;
	struct zs_pool_config cfg = { .page_size = ps, .max_pages = 32 };
	struct tu_shadow sh;
	struct zs_pool *pool;

	if (own_source) {
		tu_ps_init(&src, ps, TU_PAGES_GAPPED, 256);
		cfg.page_ops = &tu_page_ops;
		cfg.page_ctx = &src;
	}
	pool = zs_create_pool_config("limit", &cfg);
	CHECK(pool != NULL, "zs_create_pool_config: %s", strerror(errno));
	CHECK_EQ(zs_get_max_pages(pool), 32);
	tu_shadow_init(&sh);

	/* Up to the limit; refusals change nothing. */
	fill_to_limit(pool, &sh, own_source ? &src : NULL, 64);
	CHECK(sh.count > 0, "nothing fit under a 32-page limit");
	check_pool(pool, &sh, "at the limit");

	/* A page-sized object needs a page of its own: refused. */
	CHECK_EQ(zs_malloc(pool, ps), 0);
	CHECK_EQ(errno, ENOSPC);

	/* Freeing half and compacting makes room again. */
	for (size_t n = sh.count / 2; n > 0; n--)
		tu_shadow_free(pool, &sh, (size_t)tu_below(&rng, sh.count));
	zs_compact(pool);
	CHECK(zs_get_total_pages(pool) < 32, "%lu pages after freeing half and compacting",
	      zs_get_total_pages(pool));
	check_pool(pool, &sh, "after compaction under the limit");
	CHECK(tu_shadow_alloc(pool, &sh, &rng, ps, TU_ACCESS_OBJ, scratch) != 0,
	      "a page-sized object refused with %lu of 32 pages used: %s", zs_get_total_pages(pool),
	      strerror(errno));

	/* Lowering the limit below the total frees nothing, refuses what
	 * needs a page, and frees still work. */
	fill_to_limit(pool, &sh, NULL, 64);
	unsigned long total = zs_get_total_pages(pool);
	zs_set_max_pages(pool, total / 2);
	CHECK_EQ(zs_get_total_pages(pool), total);
	CHECK_EQ(zs_malloc(pool, ps), 0);
	CHECK_EQ(errno, ENOSPC);
	check_pool(pool, &sh, "after lowering the limit");

	/* No limit: the refused size fits. */
	zs_set_max_pages(pool, 0);
	CHECK(tu_shadow_alloc(pool, &sh, &rng, ps, TU_ACCESS_OBJ, scratch) != 0,
	      "refused with no limit: %s", strerror(errno));
	CHECK(zs_get_total_pages(pool) > total, "a page-sized object took no page");
	check_pool(pool, &sh, "with the limit lifted");

	tu_shadow_free_all(pool, &sh);
	zs_destroy_pool(pool);
	tu_shadow_destroy(&sh);
	if (own_source) {
		CHECK_EQ(tu_ps_live(&src), 0);
		tu_ps_destroy(&src);
	}
}

/* ---- Threads allocating at once must not pass the limit together ---- */

#define RACE_THREADS 2
#define RACE_LIMIT 48

struct racer {
	struct zs_pool *pool;
	uint64_t seed;
	unsigned long allocated, refused, over;
	unsigned long handles[4096];
};

static void *race(void *arg)
{
	struct racer *r = arg;
	struct tu_rng local;
	unsigned long n = 0;

	tu_rng_seed(&local, r->seed);
	for (unsigned long i = 0; i < tu_scale(20000); i++) {
		if (n == sizeof(r->handles) / sizeof(r->handles[0]) ||
		    (n && tu_below(&local, 3) == 0)) {
			size_t k = (size_t)tu_below(&local, n);

			zs_free(r->pool, r->handles[k]);
			r->handles[k] = r->handles[--n];
			continue;
		}
		unsigned long h =
			zs_malloc(r->pool, tu_random_size(&local, 4096, zs_huge_class_size(r->pool)));
		if (h) {
			r->handles[n++] = h;
			r->allocated++;
		} else {
			r->refused += errno == ENOSPC;
		}
		if (zs_get_total_pages(r->pool) > RACE_LIMIT)
			r->over++;
	}
	while (n)
		zs_free(r->pool, r->handles[--n]);
	return NULL;
}

static void run_race(void)
{
	struct zs_pool_config cfg = { .max_pages = RACE_LIMIT };
	struct zs_pool *pool = zs_create_pool_config("limit-race", &cfg);
	static struct racer racers[RACE_THREADS];
	pthread_t threads[RACE_THREADS];
	unsigned long refused = 0;

	CHECK(pool != NULL, "zs_create_pool_config: %s", strerror(errno));
	for (int t = 0; t < RACE_THREADS; t++) {
		racers[t] = (struct racer){ .pool = pool, .seed = tu_rand(&rng) };
		CHECK_EQ(pthread_create(&threads[t], NULL, race, &racers[t]), 0);
	}
	for (int t = 0; t < RACE_THREADS; t++) {
		CHECK_EQ(pthread_join(threads[t], NULL), 0);
		CHECK(racers[t].over == 0, "thread %d saw the pool past its limit %lu times", t,
		      racers[t].over);
		refused += racers[t].refused;
	}
	CHECK(refused > 0, "the limit never refused anything: the race tested nothing");
	CHECK_EQ(zs_get_total_pages(pool), 0);
	zs_destroy_pool(pool);
}

int main(void)
{
	tu_init("test_page_limit", 0x5eed0007);
	tu_rng_seed(&rng, tu_state.seed);
	run_limit(4096, false);
	run_limit(4096, true);
	run_limit(16384, false);
	run_limit(65536, true);
	run_race();
	printf("test_page_limit: all checks passed\n");
	return 0;
}
