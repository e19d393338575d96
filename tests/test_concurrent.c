/*
 * test_concurrent.c - several threads on one pool at once, as api.md allows:
 * four churners (size ranges that overlap and that are disjoint) allocate,
 * write, read, map and free their own objects, each against its own shadow
 * and checking the bytes on every read, while one thread loops zs_compact
 * (plus statistics, the class table and zs_pool_check) and another migrates
 * random pages.  Afterwards every object is checked from the main thread,
 * the pool checked, everything freed, and the pool must hold no page.
 * Meant to run clean under TSan (ZS_TEST_CONFIG=tsan scales it down).
 */
#include "zs_test.h"

#include <signal.h>
#include <stdatomic.h>

#define NR_CHURNERS 4

struct shared {
	struct zs_pool *pool;
	struct tu_page_source *src; /* NULL: built-in */
	pthread_barrier_t start;
	atomic_bool stop;
	const char *what;
};

struct churner {
	struct shared *shared;
	pthread_t thread;
	int id;
	size_t min_size, max_size;
	unsigned long ops;
	size_t max_live;
	struct tu_rng rng;
	struct tu_shadow sh;
	unsigned char *scratch, *scratch2, *scratch3;
	unsigned long mallocs, frees, reads, long_holds;
	/* A mapping held across many operations (0: none). */
	unsigned long long_handle;
	const unsigned char *long_ptr, *long_data;
	size_t long_size;
	unsigned long long_until;
};

struct background {
	struct shared *shared;
	pthread_t thread;
	struct tu_rng rng;
	unsigned long loops, pages_freed, pages_moved;
};

/* A random object of the churner other than the one held long; -1 if none. */
static long churner_pick(struct churner *c)
{
	for (int tries = 0; tries < 8 && c->sh.count; tries++) {
		size_t i = tu_below(&c->rng, c->sh.count);

		if (c->sh.objs[i].handle != c->long_handle)
			return (long)i;
	}
	return -1;
}

/*
 * Holds four of its objects at once (map RO, read_begin, map RW, read_begin),
 * checks all four while held, writes through the RW one and releases them
 * out of order.
 */
static void churner_hold_four(struct churner *c, unsigned long op)
{
	struct zs_pool *pool = c->shared->pool;
	long idx[4];
	unsigned char *p[4];

	for (int k = 0; k < 4; k++) {
		idx[k] = churner_pick(c);
		if (idx[k] < 0)
			return;
		for (int j = 0; j < k; j++)
			if (idx[j] == idx[k])
				return;
	}
	p[0] = zs_map_object(pool, c->sh.objs[idx[0]].handle, ZS_MM_RO);
	p[1] = zs_obj_read_begin(pool, c->sh.objs[idx[1]].handle, c->scratch2);
	p[2] = zs_map_object(pool, c->sh.objs[idx[2]].handle, ZS_MM_RW);
	p[3] = zs_obj_read_begin(pool, c->sh.objs[idx[3]].handle, c->scratch3);
	for (int k = 0; k < 4; k++) {
		struct tu_obj *o = &c->sh.objs[idx[k]];

		CHECK(p[k] != NULL);
		CHECK(tu_first_diff(p[k], o->data, o->size) == o->size,
		      "%s, churner %d, op %lu: object %d of 4 held at once differs",
		      c->shared->what, c->id, op, k);
	}
	{
		struct tu_obj *o = &c->sh.objs[idx[2]];

		tu_fill_random(&c->rng, o->data, o->size);
		memcpy(p[2], o->data, o->size);
	}
	zs_obj_read_end(pool, c->sh.objs[idx[1]].handle, p[1]);
	zs_unmap_object(pool, c->sh.objs[idx[2]].handle);
	zs_unmap_object(pool, c->sh.objs[idx[0]].handle);
	zs_obj_read_end(pool, c->sh.objs[idx[3]].handle, p[3]);
	tu_obj_verify(pool, c->sh.objs[idx[2]].handle, c->sh.objs[idx[2]].data,
		      c->sh.objs[idx[2]].size, TU_ACCESS_OBJ, c->scratch, "after hold four");
}

/* Starts or ends the long-held mapping (pins a zspage across many ops). */
static void churner_long_hold(struct churner *c, unsigned long op)
{
	struct zs_pool *pool = c->shared->pool;

	if (c->long_handle) {
		if (op < c->long_until)
			return;
		CHECK(tu_first_diff(c->long_ptr, c->long_data, c->long_size) == c->long_size,
		      "%s, churner %d, op %lu: object mapped since op %lu changed under its "
		      "mapping",
		      c->shared->what, c->id, op, c->long_until - 50);
		zs_unmap_object(pool, c->long_handle);
		c->long_handle = 0;
		return;
	}
	if (c->sh.count && tu_below(&c->rng, 100) == 0) {
		struct tu_obj *o = &c->sh.objs[tu_below(&c->rng, c->sh.count)];

		c->long_ptr = zs_map_object(pool, o->handle, ZS_MM_RO);
		CHECK(c->long_ptr != NULL);
		c->long_handle = o->handle;
		c->long_data = o->data;
		c->long_size = o->size;
		c->long_until = op + 50;
		c->long_holds++;
	}
}

static void *churner_main(void *arg)
{
	struct churner *c = arg;
	struct zs_pool *pool = c->shared->pool;
	char where[96];

	snprintf(where, sizeof(where), "%s, churner %d", c->shared->what, c->id);
	pthread_barrier_wait(&c->shared->start);
	for (unsigned long op = 0; op < c->ops; op++) {
		unsigned int r = (unsigned int)tu_below(&c->rng, 100);
		enum tu_access how = (enum tu_access)(op % TU_ACCESS_COUNT);

		if (c->sh.count == 0 || (r < 45 && c->sh.count < c->max_live)) {
			size_t size = tu_range(&c->rng, c->min_size, c->max_size);

			CHECK(tu_shadow_alloc(pool, &c->sh, &c->rng, size, how, c->scratch),
			      "%s: zs_malloc(%zu): %s", where, size, strerror(errno));
			c->mallocs++;
			/* Read it back at once. */
			{
				struct tu_obj *o = &c->sh.objs[c->sh.count - 1];

				tu_obj_verify(pool, o->handle, o->data, o->size,
					      (enum tu_access)((op + 1) % TU_ACCESS_COUNT),
					      c->scratch, where);
			}
		} else if (r < 75) {
			long i = churner_pick(c);

			if (i >= 0) {
				tu_shadow_free(pool, &c->sh, (size_t)i);
				c->frees++;
			}
		} else if (r < 85) {
			long i = churner_pick(c);

			if (i >= 0) {
				tu_shadow_rewrite(pool, &c->sh, &c->rng, (size_t)i, how);
				tu_obj_verify(pool, c->sh.objs[i].handle, c->sh.objs[i].data,
					      c->sh.objs[i].size, how, c->scratch, where);
			}
		} else if (r < 97) {
			long i = churner_pick(c);

			if (i >= 0) {
				tu_obj_verify(pool, c->sh.objs[i].handle, c->sh.objs[i].data,
					      c->sh.objs[i].size, how, c->scratch, where);
				c->reads++;
			}
		} else {
			churner_hold_four(c, op);
		}
		churner_long_hold(c, op);
		if (op % 2000 == 1999 && !c->long_handle)
			tu_shadow_verify_all(pool, &c->sh, c->scratch, where);
	}
	churner_long_hold(c, ~0UL);
	tu_shadow_verify_all(pool, &c->sh, c->scratch, where);
	return NULL;
}

/* Compaction, statistics, the class table and the checker, in a loop. */
static void *compactor_main(void *arg)
{
	struct background *b = arg;
	struct zs_pool *pool = b->shared->pool;
	FILE *devnull = fopen("/dev/null", "w");
	unsigned long last_compacted = 0;

	CHECK(devnull != NULL);
	pthread_barrier_wait(&b->shared->start);
	do {
		struct zs_pool_stats st;
		struct zs_class_stats cs;
		unsigned int idx;

		b->pages_freed += zs_compact(pool);
		zs_pool_stats(pool, &st);
		CHECK(st.pages_compacted >= last_compacted, "%s: pages_compacted went down",
		      b->shared->what);
		last_compacted = st.pages_compacted;
		idx = (unsigned int)tu_below(&b->rng, zs_class_count(pool));
		if (zs_get_class_stats(pool, idx, &cs) == 0)
			CHECK(cs.obj_used <= cs.obj_allocated,
			      "%s: class %u used %lu > "
			      "allocated %lu",
			      b->shared->what, idx, cs.obj_used, cs.obj_allocated);
		if (b->loops % 8 == 0) {
			CHECK_EQ(zs_print_class_stats(pool, devnull), 0);
			CHECK_POOL(pool, "%s: while other threads work", b->shared->what);
		}
		(void)zs_get_total_pages(pool);
		b->loops++;
		if (tu_state.config == TU_RELEASE)
			usleep(200);
	} while (!atomic_load(&b->shared->stop));
	fclose(devnull);
	CHECK_EQ(last_compacted >= b->pages_freed, 1,
		 "%s: pages_compacted %lu < pages "
		 "freed by this thread's zs_compact calls %lu",
		 b->shared->what, last_compacted, b->pages_freed);
	return NULL;
}

static void *migrator_main(void *arg)
{
	struct background *b = arg;

	pthread_barrier_wait(&b->shared->start);
	do {
		b->pages_moved += tu_migrate_random(b->shared->pool, &b->rng, 4, 0);
		b->loops++;
		if (tu_state.config == TU_RELEASE)
			usleep(100);
	} while (!atomic_load(&b->shared->stop));
	return NULL;
}

/*
 * custom: pages from a gapped tu_page_source; protect: that source makes
 * pages given back inaccessible, so a thread still reading a page that
 * compaction or migration gave back crashes.
 */
static void run(size_t ps, unsigned int chain, bool custom, bool protect, unsigned long ops,
		uint64_t seed, const char *what)
{
	struct tu_page_source src;
	struct zs_pool_config cfg = { .page_size = ps, .max_pages_per_zspage = chain };
	struct shared shared = { .what = what };
	struct churner ch[NR_CHURNERS];
	struct background compactor = { .shared = &shared }, migrator = { .shared = &shared };
	size_t huge;
	unsigned char *scratch = malloc(ps);

	CHECK(scratch != NULL);
	if (custom) {
		tu_ps_init(&src, ps, TU_PAGES_GAPPED, 32768);
		src.protect_freed = protect;
		cfg = tu_ps_config(&src, chain);
	}
	shared.src = custom ? &src : NULL;
	shared.pool = tu_create_pool("concurrent", &cfg);
	atomic_init(&shared.stop, false);
	huge = zs_huge_class_size(shared.pool);
	pthread_barrier_init(&shared.start, NULL, NR_CHURNERS + 2);

	for (int i = 0; i < NR_CHURNERS; i++) {
		struct churner *c = &ch[i];

		memset(c, 0, sizeof(*c));
		c->shared = &shared;
		c->id = i;
		c->ops = ops;
		c->max_live = 600;
		tu_rng_seed(&c->rng, seed * 31 + (uint64_t)i);
		tu_shadow_init(&c->sh);
		c->scratch = malloc(ps);
		c->scratch2 = malloc(ps);
		c->scratch3 = malloc(ps);
		CHECK(c->scratch && c->scratch2 && c->scratch3);
	}
	/* Small; small to medium (overlaps 0); everything; huge only (disjoint from 0, 1). */
	ch[0].min_size = 1, ch[0].max_size = ps / 16;
	ch[1].min_size = ps / 32, ch[1].max_size = ps / 2;
	ch[2].min_size = 1, ch[2].max_size = ps;
	ch[3].min_size = huge + 1, ch[3].max_size = ps;
	tu_rng_seed(&compactor.rng, seed + 1000);
	tu_rng_seed(&migrator.rng, seed + 2000);

	for (int i = 0; i < NR_CHURNERS; i++)
		CHECK_EQ(pthread_create(&ch[i].thread, NULL, churner_main, &ch[i]), 0);
	CHECK_EQ(pthread_create(&compactor.thread, NULL, compactor_main, &compactor), 0);
	CHECK_EQ(pthread_create(&migrator.thread, NULL, migrator_main, &migrator), 0);
	for (int i = 0; i < NR_CHURNERS; i++)
		pthread_join(ch[i].thread, NULL);
	atomic_store(&shared.stop, true);
	pthread_join(compactor.thread, NULL);
	pthread_join(migrator.thread, NULL);

	/* Everything, from this thread. */
	for (int i = 0; i < NR_CHURNERS; i++)
		tu_shadow_verify_all(shared.pool, &ch[i].sh, scratch, what);
	CHECK_POOL(shared.pool, "%s: after the threads", what);
	if (custom)
		CHECK_EQ(zs_get_total_pages(shared.pool), tu_ps_live(&src), "%s", what);
	{
		unsigned long before = zs_get_total_pages(shared.pool);
		unsigned long freed = zs_compact(shared.pool);

		CHECK_COMPACTED(before, zs_get_total_pages(shared.pool), freed, "%s", what);
		tu_migrate_random(shared.pool, &migrator.rng, 64, TU_MIG_STRICT);
		for (int i = 0; i < NR_CHURNERS; i++)
			tu_shadow_verify_all(shared.pool, &ch[i].sh, scratch, what);
		CHECK_POOL(shared.pool, "%s", what);
	}
	for (int i = 0; i < NR_CHURNERS; i++) {
		printf("%s: churner %d: %lu mallocs, %lu frees, %lu reads, %lu long holds, %zu "
		       "live\n",
		       what, i, ch[i].mallocs, ch[i].frees, ch[i].reads, ch[i].long_holds,
		       ch[i].sh.count);
		tu_shadow_free_all(shared.pool, &ch[i].sh);
		tu_shadow_destroy(&ch[i].sh);
		free(ch[i].scratch);
		free(ch[i].scratch2);
		free(ch[i].scratch3);
	}
	printf("%s: compactor: %lu loops, %lu pages freed; migrator: %lu loops, %lu pages "
	       "moved\n",
	       what, compactor.loops, compactor.pages_freed, migrator.loops, migrator.pages_moved);
	CHECK_EQ(zs_get_total_pages(shared.pool), 0, "%s: pages after freeing all", what);
	if (custom)
		CHECK_EQ(tu_ps_live(&src), 0, "%s: pages not back in the source", what);
	CHECK_POOL(shared.pool, "%s", what);
	zs_destroy_pool(shared.pool);
	pthread_barrier_destroy(&shared.start);
	if (custom)
		tu_ps_destroy(&src);
	free(scratch);
}

/* ---- Compaction over pinned zspages while their other objects are freed ---- */

struct pinned_race {
	struct zs_pool *pool;
	pthread_barrier_t start;
	unsigned long *handles;
	unsigned int per_zspage, pinned_zspages;
};

static void *pinned_race_freer(void *arg)
{
	struct pinned_race *r = arg;

	pthread_barrier_wait(&r->start);
	for (unsigned int j = 0; j < r->pinned_zspages; j++) {
		zs_free(r->pool, r->handles[j * r->per_zspage + 1]);
		r->handles[j * r->per_zspage + 1] = 0;
	}
	return NULL;
}

static void *pinned_race_compactor(void *arg)
{
	struct pinned_race *r = arg;

	pthread_barrier_wait(&r->start);
	zs_compact(r->pool);
	return NULL;
}

static void watchdog(int sig)
{
	static const char msg[] = "FAIL test_concurrent: no progress for a long time: a "
				  "deadlock or an endless loop (e.g. in zs_compact)\n";

	(void)sig;
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
		_exit(1);
	_exit(1);
}

/*
 * Many sparse zspages of one class, the sparsest ones pinned by mappings
 * held here, while one thread runs zs_compact (which must skip the pinned
 * zspages) and another frees the other object of each pinned zspage.  The
 * class lists must stay intact: no endless loop, zs_pool_check passes, and
 * every page comes back at the end.
 */
static void run_pinned_free_race(unsigned int reps)
{
	unsigned char scratch[4096], expect[128];

	for (unsigned int rep = 0; rep < reps; rep++) {
		struct pinned_race r = { 0 };
		struct zs_class_stats st;
		unsigned int zspages = 300, n;
		pthread_t freer, compactor;

		/* One-page zspages of 128-byte objects: 32 per zspage. */
		struct zs_pool_config cfg = { .max_pages_per_zspage = 1 };

		r.pool = tu_create_pool("pinned-race", &cfg);
		CHECK_EQ(zs_get_class_stats(r.pool, zs_lookup_class_index(r.pool, 128), &st), 0);
		r.per_zspage = st.objs_per_zspage;
		r.pinned_zspages = 48;
		CHECK(r.per_zspage >= 8 && r.per_zspage <= 256, "%u objects per zspage",
		      r.per_zspage);
		n = zspages * r.per_zspage;
		r.handles = malloc(n * sizeof(*r.handles));
		CHECK(r.handles != NULL);
		/* Filled in order: object i lies in the i / per_zspage-th zspage. */
		for (unsigned int i = 0; i < n; i++) {
			r.handles[i] = zs_malloc(r.pool, 128);
			CHECK(r.handles[i] != 0);
			memset(expect, (int)(i & 0xff), 128);
			zs_obj_write(r.pool, r.handles[i], expect, 128);
		}
		/* Pinned zspages keep 2 objects, the others a quarter. */
		for (unsigned int j = 0; j < zspages; j++) {
			unsigned int keep = j < r.pinned_zspages ? 2 : r.per_zspage / 4;

			for (unsigned int k = keep; k < r.per_zspage; k++) {
				zs_free(r.pool, r.handles[j * r.per_zspage + k]);
				r.handles[j * r.per_zspage + k] = 0;
			}
		}
		for (unsigned int j = 0; j < r.pinned_zspages; j++)
			CHECK(zs_map_object(r.pool, r.handles[j * r.per_zspage], ZS_MM_RO));
		pthread_barrier_init(&r.start, NULL, 2);
		CHECK_EQ(pthread_create(&freer, NULL, pinned_race_freer, &r), 0);
		CHECK_EQ(pthread_create(&compactor, NULL, pinned_race_compactor, &r), 0);
		pthread_join(freer, NULL);
		pthread_join(compactor, NULL);
		pthread_barrier_destroy(&r.start);
		for (unsigned int j = 0; j < r.pinned_zspages; j++)
			zs_unmap_object(r.pool, r.handles[j * r.per_zspage]);
		CHECK_POOL(r.pool, "pinned race, repetition %u", rep);
		zs_compact(r.pool);
		CHECK_POOL(r.pool, "pinned race, repetition %u, compacted again", rep);
		for (unsigned int i = 0; i < n; i++) {
			void *p;

			if (!r.handles[i])
				continue;
			memset(expect, (int)(i & 0xff), 128);
			p = zs_obj_read_begin(r.pool, r.handles[i], scratch);
			CHECK(memcmp(p, expect, 128) == 0, "pinned race: object %u changed", i);
			zs_obj_read_end(r.pool, r.handles[i], p);
			zs_free(r.pool, r.handles[i]);
		}
		CHECK_EQ(zs_get_total_pages(r.pool), 0, "pinned race, repetition %u", rep);
		zs_destroy_pool(r.pool);
		free(r.handles);
	}
}

int main(void)
{
	tu_init("test_concurrent", 0x5eed0005);
	/* A hang is a failure too (this is no timing check: it never fires on
	 * a working library, which needs a few seconds). */
	signal(SIGALRM, watchdog);
	alarm((unsigned int)tu_stride(90));
	run_pinned_free_race((unsigned int)tu_scale(40));
	printf("pinned race done\n");
	run(4096, 0, true, false, tu_scale(18000), tu_state.seed, "4K pages, gapped source");
	run(4096, 4, false, false, tu_scale(18000), tu_state.seed + 1, "4K pages, chain 4, built-in");
	run(16384, 0, true, true, tu_scale(8000), tu_state.seed + 2,
	    "16K pages, gapped source, freed pages inaccessible");
	run(65536, 0, false, false, tu_scale(2500), tu_state.seed + 3, "64K pages, built-in");
	printf("test_concurrent: all checks passed\n");
	return 0;
}
