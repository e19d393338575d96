/*
 * z3fold_test.c - z3fold's own invariants, through its internal API: three
 * buddies per page and no more, in-page rearrangement (the middle buddy moves
 * to the first place, or slides down against the first) keeps every byte and
 * every handle, a mapped object is never moved (the move waits for the last
 * unmap), the consistency checker after random work with mappings held,
 * rearrangement while other threads map the objects that move, and the
 * misuse it catches (abort with "zpool").
 */
#include <zpool.h>

#include "zs_test.h"
#include "z3fold.h"

enum { FIRST = 1, MIDDLE = 2, LAST = 3 };

static struct zpool *new_pool(void)
{
	struct zpool *pool = z3fold_create("z3fold-test", NULL);

	CHECK(pool, "z3fold_create: %s", strerror(errno));
	return pool;
}

static unsigned long alloc_filled(struct zpool *pool, size_t size, uint64_t key)
{
	unsigned char buf[4096];
	unsigned long h = z3fold_alloc(pool, size);

	CHECK(h, "alloc %zu: %s", size, strerror(errno));
	tu_pattern_fill(buf, size, key);
	z3fold_write(pool, h, buf, size);
	return h;
}

static void expect_bytes(struct zpool *pool, unsigned long h, size_t size, uint64_t key)
{
	unsigned char *mem = z3fold_map(pool, h, ZS_MM_RW);
	size_t bad = tu_pattern_check(mem, size, key);

	z3fold_unmap(pool, h);
	CHECK(bad == size, "object %#lx (key %llu) differs at byte %zu", h, (unsigned long long)key,
	      bad);
}

static void test_three_per_page(void)
{
	struct zpool *pool = new_pool();
	unsigned long a, b, c, d;

	CHECK(zpool_max_size(pool) == 4096 - 64, "max %zu", zpool_max_size(pool));
	a = alloc_filled(pool, 1000, 1);
	b = alloc_filled(pool, 1000, 2);
	c = alloc_filled(pool, 1000, 3);
	CHECK(zpool_total_pages(pool) == 1, "three buddies in %lu pages", zpool_total_pages(pool));
	CHECK(z3fold_handle_buddy(pool, a) == FIRST && z3fold_handle_buddy(pool, b) == LAST &&
		      z3fold_handle_buddy(pool, c) == MIDDLE,
	      "placement %u %u %u", z3fold_handle_buddy(pool, a), z3fold_handle_buddy(pool, b),
	      z3fold_handle_buddy(pool, c));
	CHECK(z3fold_objects_in_page(pool, a) == 3, "objects in page");
	/* Room is left, but a fourth object needs a new page. */
	d = alloc_filled(pool, 16, 4);
	CHECK(zpool_total_pages(pool) == 2, "fourth object in %lu pages", zpool_total_pages(pool));
	CHECK_CONSISTENT(zpool_check, pool);
	expect_bytes(pool, a, 1000, 1);
	expect_bytes(pool, b, 1000, 2);
	expect_bytes(pool, c, 1000, 3);
	expect_bytes(pool, d, 16, 4);
	z3fold_free(pool, a);
	z3fold_free(pool, b);
	z3fold_free(pool, c);
	z3fold_free(pool, d);
	CHECK(zpool_total_pages(pool) == 0, "pages left");
	zpool_destroy(pool);
}

/* Freeing the first buddy moves the middle one into its place. */
static void test_middle_becomes_first(void)
{
	struct zpool *pool = new_pool();
	unsigned long a, b, c, d;
	struct z3fold_stats st;
	size_t before;

	a = alloc_filled(pool, 1200, 11);
	b = alloc_filled(pool, 900, 12); /* last */
	c = alloc_filled(pool, 777, 13); /* middle */
	before = z3fold_handle_offset(pool, c);
	CHECK(before == 64 + 1200, "middle at %zu", before);
	z3fold_free(pool, a);
	CHECK(z3fold_handle_buddy(pool, c) == FIRST, "middle did not become first");
	CHECK(z3fold_handle_offset(pool, c) == 64, "moved middle at %zu",
	      z3fold_handle_offset(pool, c));
	expect_bytes(pool, c, 777, 13);
	expect_bytes(pool, b, 900, 12);
	z3fold_get_stats(pool, &st);
	CHECK(st.rearrangements == 1, "%llu rearrangements", st.rearrangements);
	/* The freed room is one run: a new middle fits between. */
	d = alloc_filled(pool, 2000, 14);
	CHECK(zpool_total_pages(pool) == 1 && z3fold_handle_buddy(pool, d) == MIDDLE,
	      "room after rearrangement not reused");
	CHECK_CONSISTENT(zpool_check, pool);
	expect_bytes(pool, b, 900, 12);
	expect_bytes(pool, c, 777, 13);
	expect_bytes(pool, d, 2000, 14);
	zpool_destroy(pool);
}

/* A mapped object is never moved: the move waits for the last unmap. */
static void test_mapped_not_moved(void)
{
	struct zpool *pool = new_pool();
	unsigned long a, b, c, e;
	unsigned char *pc, *pc2;
	struct z3fold_stats st;

	a = alloc_filled(pool, 1200, 21);
	b = alloc_filled(pool, 900, 22);
	c = alloc_filled(pool, 777, 23); /* middle at 64 + 1200 */
	pc = z3fold_map(pool, c, ZS_MM_RW);
	pc2 = z3fold_map(pool, c, ZS_MM_RW); /* twice: both must go */
	z3fold_free(pool, a);
	CHECK(z3fold_handle_offset(pool, c) == 64 + 1200, "mapped object moved");
	CHECK(tu_pattern_check(pc, 777, 23) == 777, "mapped bytes changed");
	z3fold_get_stats(pool, &st);
	CHECK(st.rearrangements == 0 && st.deferred == 1, "rearranged %llu, deferred %llu",
	      st.rearrangements, st.deferred);
	CHECK_CONSISTENT(zpool_check, pool);
	z3fold_unmap(pool, c);
	CHECK(z3fold_handle_offset(pool, c) == 64 + 1200, "moved while still mapped once");
	CHECK(pc2 == pc, "two mappings differ");
	z3fold_unmap(pool, c);
	CHECK(z3fold_handle_offset(pool, c) == 64 && z3fold_handle_buddy(pool, c) == FIRST,
	      "move not done at the last unmap");
	expect_bytes(pool, c, 777, 23);
	CHECK_CONSISTENT(zpool_check, pool);
	zpool_destroy(pool);

	/* While the middle is mapped, a small first takes the room before it;
	 * freeing the last then slides the middle down against the first. */
	pool = new_pool();
	a = alloc_filled(pool, 1200, 31);
	b = alloc_filled(pool, 900, 32);
	c = alloc_filled(pool, 777, 33); /* middle at 64 + 1200 */
	pc = z3fold_map(pool, c, ZS_MM_RW);
	z3fold_free(pool, a);		 /* move put off */
	e = alloc_filled(pool, 500, 34); /* first, before the middle */
	CHECK(z3fold_handle_buddy(pool, e) == FIRST && zpool_total_pages(pool) == 1,
	      "room before a mapped middle not used");
	z3fold_unmap(pool, c); /* full page: nothing to move */
	CHECK(z3fold_handle_offset(pool, c) == 64 + 1200, "middle moved in a full page");
	CHECK_CONSISTENT(zpool_check, pool);
	z3fold_free(pool, b); /* now slide down */
	CHECK(z3fold_handle_offset(pool, c) == 64 + 512 && z3fold_handle_buddy(pool, c) == MIDDLE,
	      "middle at %zu after the last went", z3fold_handle_offset(pool, c));
	expect_bytes(pool, c, 777, 33);
	expect_bytes(pool, e, 500, 34);
	CHECK_CONSISTENT(zpool_check, pool);
	z3fold_free(pool, c);
	z3fold_free(pool, e);
	CHECK(zpool_total_pages(pool) == 0, "pages left");
	zpool_destroy(pool);
}

/* Random work with mappings held: checker, three-per-page, bytes. */
static void test_random(void)
{
	enum { N = 3000, HELD = 8 };
	struct zpool *pool = new_pool();
	static unsigned long h[N];
	static size_t size[N];
	static uint64_t key[N];
	size_t held[HELD];
	unsigned char *held_mem[HELD];
	struct tu_rng seed = tu_rng_from(17);
	size_t ops = 300000 / tu_scale_divisor(), op, i, j;
	struct z3fold_stats st;

	memset(h, 0, sizeof(h));
	for (j = 0; j < HELD; j++)
		held[j] = (size_t)-1;
	for (op = 0; op < ops; op++) {
		i = (size_t)(tu_rand(&seed) % N);
		if (op % 16 == 0) {
			/* Swap one held mapping for another. */
			j = (size_t)(tu_rand(&seed) % HELD);
			if (held[j] != (size_t)-1) {
				CHECK(tu_pattern_check(held_mem[j], size[held[j]], key[held[j]]) ==
					      size[held[j]],
				      "held mapping changed");
				z3fold_unmap(pool, h[held[j]]);
				held[j] = (size_t)-1;
			}
			if (h[i]) {
				held[j] = i;
				held_mem[j] = z3fold_map(pool, h[i], ZS_MM_RW);
			}
			continue;
		}
		if (h[i]) {
			int is_held = 0;

			for (j = 0; j < HELD; j++)
				is_held |= held[j] == i;
			if (is_held)
				continue;
			CHECK(z3fold_objects_in_page(pool, h[i]) <= 3, "more than three");
			expect_bytes(pool, h[i], size[i], key[i]);
			z3fold_free(pool, h[i]);
			h[i] = 0;
		} else {
			size[i] = 1 + (size_t)(tu_rand(&seed) % 2500);
			key[i] = op;
			h[i] = alloc_filled(pool, size[i], key[i]);
		}
		if (op % 5000 == 0) {
			CHECK_CONSISTENT(zpool_check, pool);
			z3fold_get_stats(pool, &st);
			CHECK(st.objects <= 3 * st.pages && st.objects >= st.pages &&
				      st.pages_by_objects[1] + st.pages_by_objects[2] +
						      st.pages_by_objects[3] ==
					      st.pages,
			      "%lu objects in %lu pages", st.objects, st.pages);
		}
	}
	for (j = 0; j < HELD; j++)
		if (held[j] != (size_t)-1)
			z3fold_unmap(pool, h[held[j]]);
	CHECK_CONSISTENT(zpool_check, pool);
	z3fold_get_stats(pool, &st);
	CHECK(st.rearrangements > 0, "random work never rearranged");
	for (i = 0; i < N; i++)
		if (h[i]) {
			expect_bytes(pool, h[i], size[i], key[i]);
			z3fold_free(pool, h[i]);
		}
	CHECK(zpool_total_pages(pool) == 0, "pages left");
	CHECK_CONSISTENT(zpool_check, pool);
	zpool_destroy(pool);
}

/* ---- rearrangement under concurrent mappings ---- */

enum { TPAGES = 64 };

struct concurrent {
	struct zpool *pool;
	unsigned long stable[TPAGES];	 /* middles: never freed, read by readers */
	unsigned long churn[2 * TPAGES]; /* freed and replaced by the writer */
	size_t ops;
	int stop;
};

static void *reader(void *p)
{
	struct concurrent *c = p;
	struct tu_rng seed = tu_rng_from((uint64_t)(uintptr_t)p ^ 77);

	while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
		size_t i = (size_t)(tu_rand(&seed) % TPAGES);
		unsigned char *mem = z3fold_map(c->pool, c->stable[i], ZS_MM_RW);
		size_t bad = tu_pattern_check(mem, 700, 1000 + i);

		CHECK(bad == 700, "stable object %zu changed at byte %zu while mapped", i, bad);
		z3fold_unmap(c->pool, c->stable[i]);
	}
	return NULL;
}

static void *writer(void *p)
{
	struct concurrent *c = p;
	struct tu_rng seed = tu_rng_from(4242);
	size_t op;

	for (op = 0; op < c->ops; op++) {
		size_t i = (size_t)(tu_rand(&seed) % (2 * TPAGES));

		z3fold_free(c->pool, c->churn[i]);
		c->churn[i] = alloc_filled(c->pool, 200 + (size_t)(tu_rand(&seed) % 1500), 5000 + i);
	}
	__atomic_store_n(&c->stop, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void test_concurrent_rearrangement(void)
{
	static struct concurrent c;
	pthread_t readers[2], w;
	struct z3fold_stats st;
	size_t i;

	memset(&c, 0, sizeof(c));
	c.pool = new_pool();
	c.ops = 40000 / tu_scale_divisor();
	for (i = 0; i < TPAGES; i++) {
		c.churn[2 * i] = alloc_filled(c.pool, 1000, 5000 + 2 * i);	   /* first */
		c.churn[2 * i + 1] = alloc_filled(c.pool, 1000, 5000 + 2 * i + 1); /* last */
		c.stable[i] = alloc_filled(c.pool, 700, 1000 + i);		   /* middle */
		CHECK(z3fold_handle_buddy(c.pool, c.stable[i]) == MIDDLE, "setup");
	}
	for (i = 0; i < 2; i++)
		CHECK(pthread_create(&readers[i], NULL, reader, &c) == 0, "pthread_create");
	CHECK(pthread_create(&w, NULL, writer, &c) == 0, "pthread_create");
	pthread_join(w, NULL);
	for (i = 0; i < 2; i++)
		pthread_join(readers[i], NULL);
	CHECK_CONSISTENT(zpool_check, c.pool);
	z3fold_get_stats(c.pool, &st);
	CHECK(st.rearrangements > 0, "no rearrangement happened");
	printf("concurrent: %llu rearrangements, %llu put off while mapped\n", st.rearrangements,
	       st.deferred);
	for (i = 0; i < TPAGES; i++)
		expect_bytes(c.pool, c.stable[i], 700, 1000 + i);
	for (i = 0; i < 2 * TPAGES; i++) {
		unsigned char *mem = z3fold_map(c.pool, c.churn[i], ZS_MM_RW);

		CHECK(tu_pattern_check(mem, 200, 5000 + i) == 200, "churned object %zu changed", i);
		z3fold_unmap(c.pool, c.churn[i]);
	}
	for (i = 0; i < TPAGES; i++)
		z3fold_free(c.pool, c.stable[i]);
	for (i = 0; i < 2 * TPAGES; i++)
		z3fold_free(c.pool, c.churn[i]);
	CHECK(zpool_total_pages(c.pool) == 0, "pages left");
	zpool_destroy(c.pool);
}

/* ---- misuse ---- */

static void free_while_mapped(void *arg)
{
	struct zpool *pool = arg;
	unsigned long a = z3fold_alloc(pool, 100);

	z3fold_map(pool, a, ZS_MM_RW);
	z3fold_free(pool, a);
}

static void unmap_unmapped(void *arg)
{
	struct zpool *pool = arg;
	unsigned long a = z3fold_alloc(pool, 100);

	z3fold_unmap(pool, a);
}

static void test_misuse(void)
{
	/* The misuse every backend catches: zpool_conformance. */
	const struct tu_death_case cases[] = {
		{ "free while mapped", free_while_mapped, NULL },
		{ "unmap of unmapped", unmap_unmapped, NULL },
	};
	struct zpool *pool = new_pool();

	tu_expect_deaths(cases, TU_ARRAY_SIZE(cases), NULL, pool, "zpool", true);
	zpool_destroy(pool);
}

int main(void)
{
	tu_init("z3fold_test", 0);
	test_three_per_page();
	test_middle_becomes_first();
	test_mapped_not_moved();
	test_random();
	test_concurrent_rearrangement();
	test_misuse();
	printf("z3fold_test passed\n");
	return 0;
}
