/*
 * zpool_conformance.c - the conformance suite every zpool backend must pass,
 * through the public <zpool.h> API only.  Run as
 *     zpool_conformance BACKEND
 * (ctest runs it once per backend).  Covers: the backend registry and
 * creation errors, size errors, byte-exact round trips at every size and
 * every access path, huge objects, several mappings at once, compaction
 * (or its documented no-op), statistics, a shadow-model random test, many
 * threads at once, fault injection of the page source, the misuse every
 * backend must stop (double frees, forged and foreign handles, a write past
 * the end), and that every page goes back to the page source at the end.
 */
#include <time.h>

#include <zpool.h>

#include "zs_test.h"

static const char *backend;
static unsigned int divisor;

/* A pool of the backend drawing its pages from src, a counting source with
 * room for 1 GiB. */
static struct zpool *create_counted(struct tu_page_source *src, size_t page_size)
{
	struct zpool_config config = {
		.page_size = page_size,
		.page_ops = &tu_page_ops,
		.page_ctx = src,
	};
	struct zpool *pool;

	page_size = page_size ? page_size : 4096;
	tu_ps_init(src, page_size, TU_PAGES_ADJACENT, (1UL << 30) / page_size);
	pool = zpool_create(backend, "conformance", &config);
	CHECK(pool, "create %s with page size %zu: %s", backend, page_size, strerror(errno));
	return pool;
}

/* Destroys the pool and checks every page went back. */
static void destroy_counted(struct zpool *pool, struct tu_page_source *src)
{
	zpool_destroy(pool);
	CHECK_EQ(tu_ps_live(src), 0, "pages not given back after destroy");
	tu_ps_destroy(src);
}

static void test_registry(void)
{
	const char *names[8];
	struct zpool_config config = { 0 };
	static const size_t bad_sizes[] = { 1, 1000, 2048, 4095, 4097, 12288, 131072 };
	struct zpool *pool;
	size_t n, i;
	int found = 0, zs = 0, bud = 0, fold = 0;

	n = zpool_backends(NULL, 0);
	CHECK(n == 3, "expected 3 backends, got %zu", n);
	CHECK(zpool_backends(names, 8) == n, "count changed");
	CHECK(zpool_backends(names, 1) == n, "count with a short array");
	n = zpool_backends(names, 8);
	for (i = 0; i < n; i++) {
		found += strcmp(names[i], backend) == 0;
		zs += strcmp(names[i], "zsmalloc") == 0;
		bud += strcmp(names[i], "zbud") == 0;
		fold += strcmp(names[i], "z3fold") == 0;
	}
	CHECK(found == 1 && zs == 1 && bud == 1 && fold == 1,
	      "backend list lacks one of zsmalloc, zbud, z3fold or %s", backend);

	errno = 0;
	CHECK(!zpool_create("no-such-allocator", NULL, NULL) && errno == ENOENT,
	      "unknown backend: errno %d", errno);
	errno = 0;
	CHECK(!zpool_create("", NULL, NULL) && errno == ENOENT, "empty name: errno %d", errno);
	errno = 0;
	CHECK(!zpool_create("ZBUD", NULL, NULL) && errno == ENOENT, "names are exact");
	errno = 0;
	CHECK(!zpool_create(NULL, NULL, NULL) && errno == EINVAL, "NULL backend: errno %d", errno);
	for (i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
		config.page_size = bad_sizes[i];
		errno = 0;
		CHECK(!zpool_create(backend, "bad", &config) && errno == EINVAL,
		      "page size %zu accepted (errno %d)", bad_sizes[i], errno);
	}

	pool = zpool_create(backend, NULL, NULL);
	CHECK(pool, "create with defaults: %s", strerror(errno));
	CHECK(strcmp(zpool_backend_name(pool), backend) == 0, "backend name %s",
	      zpool_backend_name(pool));
	CHECK(zpool_total_pages(pool) == 0, "new pool holds pages");
	zpool_destroy(pool);
	zpool_destroy(NULL); /* no-op */
}

static void test_size_errors(size_t page_size)
{
	struct tu_page_source src;
	struct zpool *pool = create_counted(&src, page_size);
	size_t max = zpool_max_size(pool), huge = zpool_huge_size(pool);
	unsigned long h;

	CHECK(max <= page_size && max >= page_size - 128, "max size %zu for page size %zu", max,
	      page_size);
	CHECK(huge < max && huge >= page_size / 2, "huge size %zu, max %zu", huge, max);
	errno = 0;
	CHECK(zpool_malloc(pool, 0) == 0 && errno == EINVAL, "size 0: errno %d", errno);
	errno = 0;
	CHECK(zpool_malloc(pool, max + 1) == 0 && errno == E2BIG, "size max+1: errno %d", errno);
	errno = 0;
	CHECK(zpool_malloc(pool, (size_t)-1) == 0 && errno == E2BIG, "size -1: errno %d", errno);
	CHECK(zpool_total_pages(pool) == 0, "failed mallocs took pages");
	h = zpool_malloc(pool, max);
	CHECK(h, "size max %zu: %s", max, strerror(errno));
	zpool_free(pool, h);
	zpool_free(pool, 0); /* no-op */
	CHECK(zpool_total_pages(pool) == 0, "pages left after freeing all");
	CHECK(tu_ps_live(&src) == 0, "source pages out after freeing all");
	destroy_counted(pool, &src);
}

/* Writes object `key` of size bytes by one of three paths. */
static void write_object(struct zpool *pool, unsigned long h, size_t size, uint64_t key,
			 unsigned int path, unsigned char *buf)
{
	tu_pattern_fill(buf, size, key);
	if (path % 3 == 0) {
		zpool_write(pool, h, buf, size);
		return;
	}
	memcpy(zpool_map(pool, h, path % 3 == 1 ? ZS_MM_WO : ZS_MM_RW), buf, size);
	zpool_unmap(pool, h);
}

/* Checks object `key` by one of two paths. */
static void verify_object(struct zpool *pool, unsigned long h, size_t size, uint64_t key,
			  unsigned int path, unsigned char *local)
{
	const unsigned char *mem;
	size_t bad;

	if (path & 1) {
		mem = zpool_read_begin(pool, h, local);
		bad = tu_pattern_check(mem, size, key);
		zpool_read_end(pool, h, (void *)mem);
	} else {
		mem = zpool_map(pool, h, ZS_MM_RO);
		bad = tu_pattern_check(mem, size, key);
		zpool_unmap(pool, h);
	}
	CHECK(bad == size, "%s: object %#lx of %zu bytes (key %llu) differs at byte %zu", backend,
	      h, size, (unsigned long long)key, bad);
}

static void shuffle(unsigned long *v, size_t n, struct tu_rng *seed)
{
	size_t i;

	for (i = n; i > 1; i--) {
		size_t j = (size_t)(tu_rand(seed) % i);
		unsigned long t = v[i - 1];

		v[i - 1] = v[j];
		v[j] = t;
	}
}

/*
 * Every size from 1 to the maximum (every step-th above 512 for large
 * pages): allocate, write by a rotating path, keep all live, verify all by
 * both read paths, free in random order, and check that nothing is left.
 */
static void test_round_trips(size_t page_size, size_t step)
{
	struct tu_page_source src;
	struct zpool *pool = create_counted(&src, page_size);
	size_t max = zpool_max_size(pool), n = 0, i, size;
	unsigned long *handles = calloc(max + 1, sizeof(*handles));
	size_t *sizes = calloc(max + 1, sizeof(*sizes));
	unsigned char *buf = malloc(page_size), *local = malloc(page_size);
	struct tu_rng seed = tu_rng_from(42);

	CHECK(handles && sizes && buf && local, "out of memory");
	for (size = 1; size <= max; size += (size < 512 ? 1 : step)) {
		unsigned long h = zpool_malloc(pool, size);

		CHECK(h, "malloc(%zu): %s", size, strerror(errno));
		write_object(pool, h, size, size, (unsigned int)size, buf);
		verify_object(pool, h, size, size, (unsigned int)size, local);
		handles[n] = h;
		sizes[n++] = size;
		if (size != max && size + step > max && size >= 512)
			size = max - step; /* make sure max itself is done */
	}
	for (i = 0; i < n; i++)
		verify_object(pool, handles[i], sizes[i], sizes[i], (unsigned int)i + 1, local);
	/* Free in random order, checking the survivors now and then. */
	{
		unsigned long *order = malloc(n * sizeof(*order));

		CHECK(order, "out of memory");
		for (i = 0; i < n; i++)
			order[i] = i;
		shuffle(order, n, &seed);
		for (i = 0; i < n; i++) {
			size_t k = order[i];

			zpool_free(pool, handles[k]);
			handles[k] = 0;
			if (i % 512 == 0) {
				size_t j;

				for (j = 0; j < n; j++)
					if (handles[j])
						verify_object(pool, handles[j], sizes[j], sizes[j],
							      (unsigned int)j, local);
			}
		}
		free(order);
	}
	CHECK(zpool_total_pages(pool) == 0, "%lu pages left after freeing all",
	      zpool_total_pages(pool));
	CHECK_EQ(tu_ps_live(&src), 0, "source pages out after freeing all");
	destroy_counted(pool, &src);
	free(handles);
	free(sizes);
	free(buf);
	free(local);
}

/* Objects above the huge size take a page each. */
static void test_huge_objects(void)
{
	struct tu_page_source src;
	struct zpool *pool = create_counted(&src, 4096);
	size_t huge = zpool_huge_size(pool), max = zpool_max_size(pool);
	unsigned long h[16];
	unsigned char buf[4096], local[4096];
	int i;

	for (i = 0; i < 16; i++) {
		size_t size = huge + 1 + (size_t)i * (max - huge - 1) / 15;

		h[i] = zpool_malloc(pool, size);
		CHECK(h[i], "malloc(%zu)", size);
		write_object(pool, h[i], size, 1000 + (uint64_t)i, (unsigned int)i, buf);
	}
	CHECK(zpool_total_pages(pool) == 16, "16 huge objects in %lu pages", zpool_total_pages(pool));
	for (i = 0; i < 16; i++) {
		size_t size = huge + 1 + (size_t)i * (max - huge - 1) / 15;

		verify_object(pool, h[i], size, 1000 + (uint64_t)i, (unsigned int)i, local);
		zpool_free(pool, h[i]);
	}
	CHECK(zpool_total_pages(pool) == 0, "pages left");
	destroy_counted(pool, &src);
}

/* One thread holds four mappings (and four reads) at once. */
static void test_many_mappings(void)
{
	struct tu_page_source src;
	struct zpool *pool = create_counted(&src, 4096);
	static const size_t sizes[4] = { 100, 1500, 2900, 4000 };
	unsigned long h[4];
	unsigned char *mem[4], buf[4096], local[4][4096];
	int i;

	for (i = 0; i < 4; i++) {
		h[i] = zpool_malloc(pool, sizes[i]);
		CHECK(h[i], "malloc");
		write_object(pool, h[i], sizes[i], 7 + (uint64_t)i, 0, buf);
	}
	for (i = 0; i < 4; i++)
		mem[i] = zpool_map(pool, h[i], ZS_MM_RW);
	for (i = 0; i < 4; i++) {
		CHECK(tu_pattern_check(mem[i], sizes[i], 7 + (uint64_t)i) == sizes[i],
		      "mapping %d wrong while four are held", i);
		tu_pattern_fill(mem[i], sizes[i], 70 + (uint64_t)i);
	}
	for (i = 3; i >= 0; i--)
		zpool_unmap(pool, h[i]);
	for (i = 0; i < 4; i++)
		mem[i] = zpool_read_begin(pool, h[i], local[i]);
	for (i = 0; i < 4; i++)
		CHECK(tu_pattern_check(mem[i], sizes[i], 70 + (uint64_t)i) == sizes[i],
		      "RW mapping %d did not keep its writes", i);
	for (i = 0; i < 4; i++)
		zpool_read_end(pool, h[i], mem[i]);
	/* A shorter write leaves the tail as it was. */
	tu_pattern_fill(buf, 10, 99);
	zpool_write(pool, h[1], buf, 10);
	mem[1] = zpool_read_begin(pool, h[1], local[1]);
	CHECK(tu_pattern_check(mem[1], 10, 99) == 10, "short write lost");
	{
		unsigned char expect[1500];

		tu_pattern_fill(expect, sizes[1], 71);
		CHECK(memcmp(mem[1] + 10, expect + 10, sizes[1] - 10) == 0,
		      "short write changed the tail");
	}
	zpool_read_end(pool, h[1], mem[1]);
	for (i = 0; i < 4; i++)
		zpool_free(pool, h[i]);
	destroy_counted(pool, &src);
}

/* Compaction: a real one on zsmalloc, a documented no-op elsewhere. */
static void test_compact(void)
{
	struct tu_page_source src;
	struct zpool *pool = create_counted(&src, 4096);
	size_t n = 3000, i;
	unsigned long *h = calloc(n, sizeof(*h));
	unsigned char buf[4096], local[4096];
	unsigned long before, freed, after;
	struct tu_rng seed = tu_rng_from(7);

	CHECK(h, "out of memory");
	CHECK(zpool_can_compact(pool) == (strcmp(backend, "zsmalloc") == 0),
	      "can_compact %d for %s", zpool_can_compact(pool), backend);
	for (i = 0; i < n; i++) {
		size_t size = 200 + (size_t)(tu_rand(&seed) % 1800);

		h[i] = zpool_malloc(pool, size);
		CHECK(h[i], "malloc");
		write_object(pool, h[i], size, i, (unsigned int)i, buf);
	}
	seed = tu_rng_from(7);
	for (i = 0; i < n; i += 2)
		zpool_free(pool, h[i]);
	before = zpool_total_pages(pool);
	freed = zpool_compact(pool);
	after = zpool_total_pages(pool);
	if (zpool_can_compact(pool))
		/* What compaction gives back, less any page it had to back in a
		 * destination zspage, is what the pool holds less. */
		CHECK(after <= before && before - after <= freed && freed > 0,
		      "compact says %lu freed, pages %lu -> %lu", freed, before, after);
	else
		CHECK(freed == 0 && after == before, "no-op compact changed pages");
	for (i = 0; i < n; i++) {
		size_t size = 200 + (size_t)(tu_rand(&seed) % 1800);

		if (i % 2)
			verify_object(pool, h[i], size, i, (unsigned int)i, local);
	}
	for (i = 1; i < n; i += 2)
		zpool_free(pool, h[i]);
	CHECK(zpool_total_pages(pool) == 0, "pages left");
	CHECK(zpool_compact(pool) == 0, "compacting an empty pool freed pages");
	destroy_counted(pool, &src);
	free(h);
}

static void test_stats(void)
{
	struct tu_page_source src;
	struct zpool *pool = create_counted(&src, 4096);
	unsigned long h = zpool_malloc(pool, 1000);
	FILE *out = tmpfile();
	long len;

	CHECK(out, "tmpfile");
	CHECK(zpool_print_stats(pool, out) == 0, "print_stats failed");
	len = ftell(out);
	CHECK(len > 20, "print_stats wrote %ld bytes", len);
	fclose(out);
	zpool_free(pool, h);
	destroy_counted(pool, &src);
}

/* Random size: mostly the lz4 sizes of real pages, some small, some huge. */
static size_t random_size(struct tu_rng *seed, size_t max)
{
	uint64_t r = tu_rand(seed);

	switch (r % 10) {
	case 0: return 1 + (size_t)((r >> 8) % 300);
	case 1: return max - (size_t)((r >> 8) % 600);
	default: return 300 + (size_t)((r >> 8) % 2500);
	}
}

struct shadow {
	unsigned long handle;
	size_t size;
	uint64_t key;
};

/*
 * Random allocate / rewrite / verify / free against a shadow of every live
 * object, the last byte of every object checked at the end.
 */
static void shadow_run(struct zpool *pool, struct shadow *slots, size_t nslots, size_t ops,
		       uint64_t stream, uint64_t key_base)
{
	struct tu_rng seed = tu_rng_from(stream);
	size_t max = zpool_max_size(pool), op;
	unsigned char *buf = malloc(65536), *local = malloc(65536);

	CHECK(buf && local, "out of memory");
	for (op = 0; op < ops; op++) {
		struct shadow *s = &slots[tu_rand(&seed) % nslots];
		unsigned int what = (unsigned int)(tu_rand(&seed) % 8);

		if (!s->handle) {
			s->size = random_size(&seed, max);
			s->handle = zpool_malloc(pool, s->size);
			CHECK(s->handle, "malloc(%zu): %s", s->size, strerror(errno));
			s->key = key_base + op;
			write_object(pool, s->handle, s->size, s->key, what, buf);
		} else if (what < 3) {
			verify_object(pool, s->handle, s->size, s->key, what, local);
			zpool_free(pool, s->handle);
			s->handle = 0;
		} else if (what < 5) {
			s->key = key_base + op;
			write_object(pool, s->handle, s->size, s->key, what, buf);
		} else {
			verify_object(pool, s->handle, s->size, s->key, what, local);
		}
	}
	free(buf);
	free(local);
}

static void test_shadow_model(size_t page_size)
{
	struct tu_page_source src;
	struct zpool *pool = create_counted(&src, page_size);
	size_t nslots = 2000, ops = 200000 / divisor / (page_size / 4096 > 4 ? 4 : 1), i;
	struct shadow *slots = calloc(nslots, sizeof(*slots));
	unsigned char *local = malloc(page_size);

	CHECK(slots && local, "out of memory");
	shadow_run(pool, slots, nslots, ops / 2, 1234 + page_size, 1);
	zpool_compact(pool);
	shadow_run(pool, slots, nslots, ops / 2, 4321 + page_size, 1ull << 40);
	for (i = 0; i < nslots; i++) {
		if (!slots[i].handle)
			continue;
		verify_object(pool, slots[i].handle, slots[i].size, slots[i].key, (unsigned int)i,
			      local);
		zpool_free(pool, slots[i].handle);
	}
	CHECK(zpool_total_pages(pool) == 0, "%lu pages left", zpool_total_pages(pool));
	CHECK(tu_ps_live(&src) == 0, "source pages out");
	destroy_counted(pool, &src);
	free(slots);
	free(local);
}

/* ---- threads ---- */

#define SHARED_OBJECTS 64

struct thread_arg {
	struct zpool *pool;
	unsigned int index;
	size_t ops;
	unsigned long *shared; /* read by every thread */
	size_t *shared_sizes;
};

static void *worker(void *p)
{
	struct thread_arg *arg = p;
	size_t nslots = 300, round;
	struct shadow *slots = calloc(nslots, sizeof(*slots));
	unsigned char *local = malloc(65536);
	uint64_t stream = 99 + arg->index;
	size_t i;

	CHECK(slots && local, "out of memory");
	for (round = 0; round < 10; round++) {
		shadow_run(arg->pool, slots, nslots, arg->ops / 10, stream + round * 1000,
			   ((uint64_t)arg->index << 48) + round * arg->ops);
		for (i = 0; i < SHARED_OBJECTS; i++)
			verify_object(arg->pool, arg->shared[i], arg->shared_sizes[i], 5000000 + i,
				      (unsigned int)(i + round), local);
	}
	for (i = 0; i < nslots; i++)
		if (slots[i].handle) {
			verify_object(arg->pool, slots[i].handle, slots[i].size, slots[i].key,
				      (unsigned int)i, local);
			zpool_free(arg->pool, slots[i].handle);
		}
	free(slots);
	free(local);
	return NULL;
}

static volatile int stop_background;

static void *background(void *p)
{
	struct zpool *pool = p;
	FILE *null = fopen("/dev/null", "w");

	CHECK(null, "/dev/null");
	while (!__atomic_load_n(&stop_background, __ATOMIC_ACQUIRE)) {
		zpool_compact(pool);
		zpool_total_pages(pool);
		zpool_print_stats(pool, null);
		usleep(1000);
	}
	fclose(null);
	return NULL;
}

static void test_threads(void)
{
	enum { NTHREADS = 4 };
	struct tu_page_source src;
	struct zpool *pool = create_counted(&src, 4096);
	pthread_t threads[NTHREADS], bg;
	struct thread_arg args[NTHREADS];
	unsigned long shared[SHARED_OBJECTS];
	size_t shared_sizes[SHARED_OBJECTS];
	unsigned char buf[4096];
	struct tu_rng seed = tu_rng_from(5);
	int i;

	for (i = 0; i < SHARED_OBJECTS; i++) {
		shared_sizes[i] = random_size(&seed, zpool_max_size(pool));
		shared[i] = zpool_malloc(pool, shared_sizes[i]);
		CHECK(shared[i], "malloc");
		write_object(pool, shared[i], shared_sizes[i], 5000000 + (uint64_t)i,
			     (unsigned int)i, buf);
	}
	__atomic_store_n(&stop_background, 0, __ATOMIC_RELEASE);
	CHECK(pthread_create(&bg, NULL, background, pool) == 0, "pthread_create");
	for (i = 0; i < NTHREADS; i++) {
		args[i] = (struct thread_arg){
			.pool = pool,
			.index = (unsigned int)i,
			.ops = 60000 / divisor,
			.shared = shared,
			.shared_sizes = shared_sizes,
		};
		CHECK(pthread_create(&threads[i], NULL, worker, &args[i]) == 0, "pthread_create");
	}
	for (i = 0; i < NTHREADS; i++)
		pthread_join(threads[i], NULL);
	__atomic_store_n(&stop_background, 1, __ATOMIC_RELEASE);
	pthread_join(bg, NULL);
	for (i = 0; i < SHARED_OBJECTS; i++)
		zpool_free(pool, shared[i]);
	CHECK(zpool_total_pages(pool) == 0, "%lu pages left after threads", zpool_total_pages(pool));
	CHECK(tu_ps_live(&src) == 0, "source pages out after threads");
	destroy_counted(pool, &src);
}

/* ---- fault injection ---- */

/*
 * For every N up to a bound: the page source fails its N-th allocation (and,
 * in the second mode, every one after).  The failing malloc returns 0 with
 * ENOMEM, every object stored before keeps its bytes, later mallocs work
 * once the source recovers, and every page goes back in the end.
 */
static void test_fault_injection(void)
{
	unsigned long fail_at, bound = 48;
	int mode;

	for (mode = 0; mode < 2; mode++) {
		for (fail_at = 1; fail_at <= bound; fail_at++) {
			struct tu_page_source src;
			struct zpool *pool = create_counted(&src, 4096);
			struct shadow objs[400];
			unsigned char buf[4096], local[4096];
			struct tu_rng seed = tu_rng_from(fail_at * 31 + (uint64_t)mode);
			size_t n = 0, i, failures = 0;

			tu_ps_fail_nth(&src, fail_at, mode);
			memset(objs, 0, sizeof(objs));
			for (i = 0; i < 400; i++) {
				size_t size = random_size(&seed, zpool_max_size(pool));
				unsigned long h;

				errno = 0;
				h = zpool_malloc(pool, size);
				if (!h) {
					CHECK(errno == ENOMEM, "failed malloc: errno %d", errno);
					failures++;
					continue;
				}
				objs[n] = (struct shadow){ h, size, fail_at * 1000 + i };
				write_object(pool, h, size, objs[n].key, (unsigned int)i, buf);
				n++;
			}
			/* A backend may retry with fewer pages after one failure,
			 * but with the source dry, mallocs must fail. */
			if (mode == 1 && src.alloc_calls >= fail_at)
				CHECK(failures > 0, "fail_at %lu: no malloc failed", fail_at);
			for (i = 0; i < n; i++)
				verify_object(pool, objs[i].handle, objs[i].size, objs[i].key,
					      (unsigned int)i, local);
			if (mode == 0) {
				/* Free half, check, destroy with the rest live. */
				for (i = 0; i < n; i += 2)
					zpool_free(pool, objs[i].handle);
				for (i = 1; i < n; i += 2)
					verify_object(pool, objs[i].handle, objs[i].size,
						      objs[i].key, (unsigned int)i, local);
				destroy_counted(pool, &src);
			} else {
				for (i = 0; i < n; i++)
					zpool_free(pool, objs[i].handle);
				CHECK(zpool_total_pages(pool) == 0, "pages left");
				CHECK(tu_ps_live(&src) == 0, "source pages out");
				destroy_counted(pool, &src);
			}
		}
	}
}

/* ---- misuse that every backend catches ---- */

static void map_handle_zero(void *arg)
{
	struct zpool *pool = arg;

	zpool_map(pool, 0, ZS_MM_RO);
}

static void double_free(void *arg)
{
	struct zpool *pool = arg;
	unsigned long a = zpool_malloc(pool, 100);

	zpool_malloc(pool, 100); /* keeps the page alive */
	zpool_free(pool, a);
	zpool_free(pool, a);
}

static void write_too_much(void *arg)
{
	struct zpool *pool = arg;
	unsigned long a = zpool_malloc(pool, 100);
	char buf[400] = { 0 };

	zpool_write(pool, a, buf, sizeof(buf));
}

static void free_forged_low_bits(void *arg)
{
	struct zpool *pool = arg;
	unsigned long a = zpool_malloc(pool, 100);

	zpool_free(pool, a & ~3ul);
}

static void free_forged_plus_4(void *arg)
{
	struct zpool *pool = arg;
	unsigned long a = zpool_malloc(pool, 100);

	zpool_free(pool, a + 4);
}

static void double_free_only_object(void *arg)
{
	struct zpool *pool = arg;
	unsigned long a = zpool_malloc(pool, 100);

	zpool_free(pool, a);
	zpool_free(pool, a); /* its page went back with it */
}

static void map_other_pools_handle(void *arg)
{
	struct zpool *other = zpool_create(backend, "other", NULL);
	unsigned long a = zpool_malloc(other, 100);

	zpool_map(arg, a, ZS_MM_RO);
}

static void test_misuse(void)
{
	const struct tu_death_case cases[] = {
		{ "map of handle 0", map_handle_zero, NULL },
		{ "double free", double_free, NULL },
		{ "write past the end", write_too_much, NULL },
		{ "free of a handle with its low bits cleared", free_forged_low_bits, NULL },
		{ "free of a handle plus 4", free_forged_plus_4, NULL },
		{ "double free of a page's only object", double_free_only_object, NULL },
		{ "map of another pool's handle", map_other_pools_handle, NULL },
	};
	struct zpool *pool = zpool_create(backend, "misuse", NULL);

	/* zbud and z3fold catch misuse in zpool; zsmalloc in itself, and under
	 * ASan the sanitizer may stop it first. */
	bool in_zpool = strcmp(backend, "zsmalloc") != 0;

	CHECK(pool, "create");
	tu_expect_deaths(cases, 1, NULL, pool, "zpool", true);
	tu_expect_deaths(cases + 1, TU_ARRAY_SIZE(cases) - 1, NULL, pool,
			 in_zpool ? "zpool" : "zsmalloc", in_zpool || tu_state.config != TU_ASAN);
	zpool_destroy(pool);
}

/* Runs one part, telling how long it took when ZPOOL_TEST_VERBOSE is set. */
#define RUN(call)                                                                   \
	do {                                                                        \
		struct timespec t0_, t1_;                                           \
		clock_gettime(CLOCK_MONOTONIC, &t0_);                               \
		call;                                                               \
		clock_gettime(CLOCK_MONOTONIC, &t1_);                               \
		if (getenv("ZPOOL_TEST_VERBOSE"))                                   \
			fprintf(stderr, "%-32s %.3f s\n", #call,                    \
				(double)(t1_.tv_sec - t0_.tv_sec) +                 \
					(double)(t1_.tv_nsec - t0_.tv_nsec) / 1e9); \
	} while (0)

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s BACKEND (zsmalloc, zbud or z3fold)\n", argv[0]);
		return 2;
	}
	backend = argv[1];
	tu_init("zpool_conformance", 0);
	divisor = tu_scale_divisor();
	RUN(test_registry());
	RUN(test_size_errors(4096));
	RUN(test_size_errors(16384));
	RUN(test_size_errors(65536));
	RUN(test_round_trips(4096, 1));
	RUN(test_round_trips(16384, 7 * divisor));
	RUN(test_round_trips(65536, 61 * divisor));
	RUN(test_huge_objects());
	RUN(test_many_mappings());
	RUN(test_compact());
	RUN(test_stats());
	RUN(test_shadow_model(4096));
	RUN(test_shadow_model(65536));
	RUN(test_fault_injection());
	RUN(test_misuse());
	RUN(test_threads());
	printf("zpool conformance: backend %s passed\n", backend);
	return 0;
}
