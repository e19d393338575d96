/*
 * test_fault.c - fault injection of the page source.  A fixed workload
 * (objects of every size class including huge ones, frees, rewrites,
 * compaction, page migration) runs once for every N, with the N-th page
 * allocation failing, until N is past the workload's last allocation.  At
 * each failure: zs_malloc returns 0 with errno ENOMEM (or the migration's
 * zs_page_source_alloc returns NULL with ENOMEM), every object stored before
 * is byte-exact, zs_pool_check passes and the pool holds exactly the pages it
 * got from the source (a zspage that could not be completed went back).
 * After freeing everything the source has every page back.  A second part
 * lets the source run dry for good in the middle of the workload and then
 * recover.
 */
#include "zs_test.h"

#define MAX_PAGE 65536

static unsigned char scratch[MAX_PAGE];

struct workload {
	struct zs_pool *pool;
	struct tu_page_source *src;
	struct tu_shadow sh;
	struct tu_rng rng;
	unsigned long failed_mallocs;	 /* zs_malloc returned 0 */
	unsigned long failed_migrations; /* no page for a migration */
	unsigned long mallocs;
	const char *what; /* for messages */
	unsigned long n;  /* which allocation fails, for messages */
};

/* The pool after a failed allocation: nothing lost, nothing leaked. */
static void check_after_failure(struct workload *w, unsigned long op)
{
	char where[160];

	snprintf(where, sizeof(where), "%s, N=%lu, after the failure at op %lu", w->what, w->n, op);
	CHECK_POOL(w->pool, "%s", where);
	CHECK_EQ(zs_get_total_pages(w->pool), tu_ps_live(w->src),
		 "%s: pool pages vs pages held from the source", where);
	tu_shadow_verify_all(w->pool, &w->sh, scratch, where);
}

/* One workload step. */
static void workload_op(struct workload *w, unsigned long op)
{
	size_t ps = zs_page_size(w->pool), huge = zs_huge_class_size(w->pool);
	unsigned int r = (unsigned int)tu_below(&w->rng, 100);

	if (r < 55 || w->sh.count == 0) {
		size_t size = tu_random_size(&w->rng, ps, huge);
		unsigned long failed_before = w->src->alloc_failed;
		unsigned long h;

		errno = 0;
		h = tu_shadow_alloc(w->pool, &w->sh, &w->rng, size,
				    (enum tu_access)(op % TU_ACCESS_COUNT), scratch);
		w->mallocs++;
		if (!h) {
			CHECK_EQ(errno, ENOMEM,
				 "%s, N=%lu, op %lu: zs_malloc(%zu) failed with "
				 "errno %d (%s), not ENOMEM",
				 w->what, w->n, op, size, errno, strerror(errno));
			CHECK(w->src->alloc_failed > failed_before,
			      "%s, N=%lu, op %lu: zs_malloc(%zu) failed but the page source "
			      "refused nothing",
			      w->what, w->n, op, size);
			w->failed_mallocs++;
			check_after_failure(w, op);
		}
	} else if (r < 80) {
		tu_shadow_free(w->pool, &w->sh, tu_below(&w->rng, w->sh.count));
	} else if (r < 90) {
		size_t i = tu_below(&w->rng, w->sh.count);

		tu_shadow_rewrite(w->pool, &w->sh, &w->rng, i,
				  (enum tu_access)(op % TU_ACCESS_COUNT));
	} else if (r < 95) {
		long before = tu_ps_live(w->src);
		unsigned long freed = zs_compact(w->pool);

		CHECK_COMPACTED(before, tu_ps_live(w->src), freed,
				"%s, N=%lu, op %lu: pages after zs_compact", w->what, w->n, op);
	} else {
		unsigned long failed_before = w->src->alloc_failed;

		tu_migrate_random(w->pool, &w->rng, 3, TU_MIG_STRICT | TU_MIG_ENOMEM);
		if (w->src->alloc_failed > failed_before) {
			w->failed_migrations++;
			check_after_failure(w, op);
		}
	}
}

static void workload_begin(struct workload *w, struct tu_page_source *src, size_t ps,
			   unsigned int chain, uint64_t seed, const char *what, unsigned long n)
{
	memset(w, 0, sizeof(*w));
	w->pool = tu_ps_pool(src, "fault", ps, TU_PAGES_GAPPED, 1024, chain);
	w->src = src;
	w->what = what;
	w->n = n;
	tu_shadow_init(&w->sh);
	tu_rng_seed(&w->rng, seed);
}

/* Checks everything, frees everything: the source must have every page. */
static void workload_end(struct workload *w)
{
	char where[160];

	snprintf(where, sizeof(where), "%s, N=%lu, at the end", w->what, w->n);
	tu_pool_teardown(w->pool, &w->sh, w->src, scratch, where);
}

/* Fails allocation N for N = 1, 2, ... until the workload never reaches N. */
static void fail_every_nth(size_t ps, unsigned int chain, unsigned long ops, uint64_t seed,
			   const char *what)
{
	unsigned long n, total_failures = 0;

	for (n = 1;; n++) {
		struct tu_page_source src;
		struct workload w;
		bool reached;

		workload_begin(&w, &src, ps, chain, seed, what, n);
		tu_ps_fail_nth(&src, n, false);
		for (unsigned long op = 0; op < ops; op++)
			workload_op(&w, op);
		reached = src.alloc_failed > 0;
		CHECK(src.alloc_failed <= 1, "%s: %lu failures for one armed failure", what,
		      src.alloc_failed);
		total_failures += w.failed_mallocs + w.failed_migrations;
		workload_end(&w);
		if (!reached)
			break;
		CHECK(n < 100000, "%s: the workload never completes", what);
	}
	CHECK(n > 1, "%s: the workload allocated no page", what);
	printf("%s: failed each of the %lu page allocations in turn; %lu failures seen by "
	       "callers\n",
	       what, n - 1, total_failures);
}

/* The source runs dry for good in the middle, then recovers. */
static void dry_then_recover(size_t ps, unsigned int chain, unsigned long ops, uint64_t seed,
			     const char *what)
{
	struct tu_page_source src;
	struct workload w;
	unsigned long op, dry_mallocs_failed, dry_mallocs;

	workload_begin(&w, &src, ps, chain, seed, what, 0);
	for (op = 0; op < ops / 2; op++)
		workload_op(&w, op);
	CHECK_EQ(w.failed_mallocs, 0);
	tu_ps_set_dry(&src, true);
	dry_mallocs = w.mallocs;
	for (; op < ops; op++)
		workload_op(&w, op);
	/* Keep allocating while dry: only ENOMEM, nothing lost. */
	for (int i = 0; i < 200; i++) {
		unsigned long h =
			zs_malloc(w.pool, tu_random_size(&w.rng, ps, zs_huge_class_size(w.pool)));
		if (h)
			zs_free(w.pool, h);
		else
			CHECK_EQ(errno, ENOMEM, "%s: zs_malloc while the source is dry", what);
	}
	dry_mallocs = w.mallocs - dry_mallocs;
	dry_mallocs_failed = w.failed_mallocs;
	CHECK(dry_mallocs_failed > 0,
	      "%s: no zs_malloc failed in %lu while the source was "
	      "dry",
	      what, dry_mallocs);
	check_after_failure(&w, op);
	tu_ps_set_dry(&src, false);
	for (unsigned long i = 0; i < ops; i++) {
		unsigned long before = w.failed_mallocs;

		workload_op(&w, op + i);
		CHECK_EQ(w.failed_mallocs, before,
			 "%s: zs_malloc failed after the source "
			 "recovered",
			 what);
	}
	printf("%s: %lu of %lu allocations failed while dry; recovered\n", what, dry_mallocs_failed,
	       dry_mallocs);
	workload_end(&w);
}

int main(void)
{
	unsigned long ops;

	tu_init("test_fault", 0x5eed0003);
	/* The cost grows with the square of the workload: one run per page. */
	ops = tu_state.config == TU_RELEASE ? 400 : tu_state.config == TU_ASAN ? 250 : 120;
	fail_every_nth(4096, 0, ops, tu_state.seed, "4K pages, default chain");
	fail_every_nth(4096, 4, ops, tu_state.seed + 1, "4K pages, chain 4");
	fail_every_nth(16384, 0, ops / 2, tu_state.seed + 2, "16K pages, default chain");
	fail_every_nth(65536, 2, ops / 4, tu_state.seed + 3, "64K pages, chain 2");
	dry_then_recover(4096, 0, 2 * ops, tu_state.seed + 4, "dry 4K pages");
	dry_then_recover(16384, 16, 2 * ops, tu_state.seed + 5, "dry 16K pages, chain 16");
	printf("test_fault: all checks passed\n");
	return 0;
}
