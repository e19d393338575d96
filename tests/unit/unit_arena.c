/*
 * unit_arena.c - the built-in arena of page_source.c against a bitmap model:
 * runs of 1..16 pages are page-aligned, never overlap a run still held, are
 * reused after being freed, and are writable; zs_arena_owns knows what is
 * held; a release batch frees its runs only when flushed (so nothing can
 * reuse them before) and merges adjacent ones.  A pool whose pages are larger
 * than the system's makes resident only the system pages its objects reach
 * into, and trimming gives them back.  Emptied one-page zspages keep up to
 * ZS_WARM_PAGES pages resident for the next ones, which zs_compact gives
 * back.
 */
#include "zs_test.h"
#include "internal.h"

#define MAX_RUNS 2048

struct held {
	char *start;
	size_t npages;
};

static bool overlaps(const struct held *a, const struct held *b, size_t ps)
{
	return a->start < b->start + b->npages * ps && b->start < a->start + a->npages * ps;
}

static void check_page_size(size_t ps, struct tu_rng *rng)
{
	struct zs_page_source src;
	CHECK_EQ(zs_source_init(&src, ps, NULL, NULL), 0);
	CHECK(zs_source_is_arena(&src));
	static struct held runs[MAX_RUNS];
	size_t nruns = 0;
	for (unsigned long step = 0; step < tu_scale(2500); step++) {
		if (nruns == MAX_RUNS || (nruns && tu_below(rng, 3) == 0)) {
			size_t i = tu_below(rng, nruns);
			/* Its bytes survived everything done since. */
			CHECK_EQ(runs[i].start[0], (char)(uintptr_t)runs[i].start);
			CHECK(zs_arena_owns(&src, runs[i].start));
			zs_arena_free(&src, runs[i].start, runs[i].npages);
			runs[i] = runs[--nruns];
			continue;
		}
		struct held h = { .npages = 1 + tu_below(rng, 16) };
		h.start = zs_arena_alloc(&src, h.npages);
		CHECK(h.start != NULL);
		CHECK_EQ((uintptr_t)h.start & (ps - 1), 0, "aligned to %zu", ps);
		for (size_t i = 0; i < nruns; i++)
			CHECK(!overlaps(&h, &runs[i], ps), "run %p+%zu overlaps %p+%zu",
			      (void *)h.start, h.npages, (void *)runs[i].start, runs[i].npages);
		/* Writable at both ends (every page costs a fault: two will do). */
		h.start[0] = (char)(uintptr_t)h.start;
		h.start[h.npages * ps - 1] = 1;
		runs[nruns++] = h;
	}
	while (nruns) {
		nruns--;
		zs_arena_free(&src, runs[nruns].start, runs[nruns].npages);
	}
	for (struct zs_arena_chunk *ch = src.chunks; ch; ch = ch->next)
		CHECK_EQ(ch->used, 0);

	/* Batch: runs stay held until the flush; adjacent runs merge. */
	struct zs_release_batch batch = { 0 };
	char *a = zs_arena_alloc(&src, 4), *b = zs_arena_alloc(&src, 4);
	CHECK(a && b);
	memset(a, 1, 4 * ps);
	zs_arena_free_later(&src, &batch, b, 4);
	zs_arena_free_later(&src, &batch, a, 4);
	CHECK(zs_arena_owns(&src, a) && zs_arena_owns(&src, b), "held until flushed");
	char *c = zs_arena_alloc(&src, 4);
	CHECK(c != a && c != b);
	zs_arena_flush(&src, &batch);
	CHECK(!zs_arena_owns(&src, a) && !zs_arena_owns(&src, b));
	CHECK_EQ(batch.count, 0);
	char *again = zs_arena_alloc(&src, 8);
	CHECK(again != NULL);
	/* Released memory reads back as zero when reused. */
	if (again == a)
		CHECK_EQ(a[0], 0);
	zs_arena_free(&src, again, 8);
	zs_arena_free(&src, c, 4);
	zs_source_destroy(&src);
}

/* System pages resident in the n ranges of len bytes that start at the
 * (page-aligned) addresses in pages, by mincore(). */
static size_t resident_in(void *const *pages, size_t n, size_t len)
{
	size_t sys = (size_t)sysconf(_SC_PAGESIZE), resident = 0;
	unsigned char vec[64];

	CHECK(len / sys <= sizeof(vec));
	for (size_t i = 0; i < n; i++) {
		CHECK_EQ(mincore(pages[i], len, vec), 0, "mincore: %s", strerror(errno));
		for (size_t k = 0; k < len / sys; k++)
			resident += vec[k] & 1;
	}
	return resident;
}

/* System pages resident in the pool's pages. */
static size_t resident_sys_pages(struct zs_pool *pool)
{
	static void *pages[1024];
	size_t n = zs_list_pages(pool, pages, 1024);

	CHECK(n <= 1024);
	return resident_in(pages, n, zs_page_size(pool));
}

static void check_sub_page_residency(void)
{
	struct zs_pool_config cfg = { .page_size = 65536 };
	struct zs_pool *pool = zs_create_pool_config("sub-page", &cfg);
	size_t sys = (size_t)sysconf(_SC_PAGESIZE);
	unsigned long h[100];
	size_t size = 1000, n = 0;

	CHECK(pool != NULL);
	if (sys >= 65536) {
		zs_destroy_pool(pool);
		return;
	}
	/* Objects of one class fill the zspage front to back: the resident
	 * system pages follow the bytes used, not the 64 KiB pool page. */
	while (n < 100) {
		h[n] = zs_malloc(pool, size);
		CHECK(h[n] != 0);
		n++;
		size_t used = n * zs_obj_size(pool, h[0]);
		size_t want = (used + sys - 1) / sys;
		CHECK_EQ(zs_get_total_pages(pool), (used + 65535) / 65536);
		CHECK_EQ(resident_sys_pages(pool), want, "%zu objects of %zu bytes", n,
			 zs_obj_size(pool, h[0]));
	}
	/* Free all but the first and compact: the zspage is trimmed to its
	 * first pool page, and writing new objects into it again makes only
	 * what they reach resident. */
	while (n > 1)
		zs_free(pool, h[--n]);
	CHECK_EQ(zs_get_total_pages(pool), 2);
	zs_compact(pool);
	CHECK_EQ(zs_get_total_pages(pool), 1);
	CHECK_EQ(resident_sys_pages(pool), 65536 / sys);
	h[n++] = zs_malloc(pool, size);
	CHECK(h[1] != 0);
	char why[256];
	CHECK(zs_pool_check(pool, why, sizeof(why)) == 0, "%s", why);
	zs_destroy_pool(pool);
}

static void check_warm_pages(void)
{
	struct zs_pool *pool = zs_create_pool("warm");
	enum { N = ZS_WARM_PAGES + 8 };
	unsigned long h[N];
	void *where[N]; /* the page each object was in */

	CHECK(pool != NULL);
	for (int i = 0; i < N; i++) {
		h[i] = zs_malloc(pool, 4096); /* one object per page */
		CHECK(h[i] != 0);
		char *obj = zs_map_object(pool, h[i], ZS_MM_WO);
		memset(obj, i, 4096);
		zs_unmap_object(pool, h[i]);
		where[i] = (void *)((uintptr_t)obj & ~(uintptr_t)4095);
	}
	CHECK_EQ(zs_get_total_pages(pool), N);
	for (int i = 0; i < N; i++)
		zs_free(pool, h[i]);
	CHECK_EQ(zs_get_total_pages(pool), 0);
	CHECK_EQ(resident_in(where, N, 4096), ZS_WARM_PAGES, "pages kept warm after freeing %d", N);
	/* The next one-page object takes a warm page: one of those freed. */
	unsigned long again = zs_malloc(pool, 4096);
	void *at = zs_map_object(pool, again, ZS_MM_RO);
	bool reused = false;
	for (int i = 0; i < N; i++)
		reused |= ((uintptr_t)at & ~(uintptr_t)4095) == (uintptr_t)where[i];
	zs_unmap_object(pool, again);
	CHECK(reused, "a one-page object after frees did not reuse a warm page");
	CHECK_EQ(zs_get_total_pages(pool), 1);
	char why[256];
	CHECK(zs_pool_check(pool, why, sizeof(why)) == 0, "%s", why);
	zs_free(pool, again);
	/* Compaction gives every warm page back. */
	zs_compact(pool);
	CHECK_EQ(resident_in(where, N, 4096), 0, "pages still resident after zs_compact");
	zs_destroy_pool(pool);
}

int main(void)
{
	tu_init("unit_arena", 11);
	struct tu_rng rng;
	tu_rng_seed(&rng, tu_state.seed);
	for (size_t ps = 4096; ps <= 65536; ps *= 4)
		check_page_size(ps, &rng);
	check_sub_page_residency();
	check_warm_pages();
	printf("unit_arena: ok\n");
	return 0;
}
