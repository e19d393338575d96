/*
 * test_util.h - shared helpers of the libzsmalloc test programs (tests/).
 *
 * Owns: the CHECK macros that end a test with a clear message (and the seed
 * to replay it), the seeded PRNG, the work scale per build configuration,
 * a shadow model that keeps a copy of every live object and compares it byte
 * by byte with the pool, and a counting page source for zs_page_ops that can
 * hand out pages with guard gaps between them (so no two pages of a zspage
 * are adjacent), or adjacent pages, and can fail allocations on demand.
 *
 * Everything here is static inline: each test is one .c file plus this.
 * Environment:
 *   ZS_TEST_SEED    seed of the PRNG (decimal or 0x hex); printed on failure
 *   ZS_TEST_CONFIG  release | asan | tsan: scales the amount of work down for
 *                   the sanitizer builds (default: the configuration the test
 *                   was built in, from ZS_TEST_BUILD_CONFIG)
 */
#ifndef ZS_TEST_UTIL_H
#define ZS_TEST_UTIL_H

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <zsmalloc.h>

#ifndef ZS_TEST_BUILD_CONFIG
#define ZS_TEST_BUILD_CONFIG "release"
#endif

/* ---- Run configuration, seed and failure reporting ---- */

enum tu_config { TU_RELEASE, TU_ASAN, TU_TSAN };

struct tu_state {
	const char *name;	/* test program name, for messages */
	uint64_t seed;		/* seed of this run */
	enum tu_config config;
};

static struct tu_state tu_state;

static inline void tu_vfail(const char *file, int line, const char *what,
			    const char *fmt, va_list ap)
{
	fprintf(stderr, "FAIL %s: %s:%d: %s", tu_state.name ? tu_state.name : "test",
		file, line, what);
	/* The CHECK macros pass " " followed by the caller's format. */
	if (fmt && fmt[0] && strcmp(fmt, " ") != 0) {
		fputs(fmt[0] == ' ' ? ":" : ": ", stderr);
		vfprintf(stderr, fmt, ap);
	}
	fprintf(stderr, "\n  (seed %" PRIu64 ", config %s; replay with ZS_TEST_SEED=%" PRIu64 ")\n",
		tu_state.seed,
		tu_state.config == TU_ASAN ? "asan" :
		tu_state.config == TU_TSAN ? "tsan" : "release",
		tu_state.seed);
	fflush(stderr);
	exit(1);
}

__attribute__((format(printf, 4, 5), noreturn))
static inline void tu_fail(const char *file, int line, const char *what,
			   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tu_vfail(file, line, what, fmt, ap);
	va_end(ap);
	exit(1);	/* not reached */
}

/* CHECK(cond, "fmt", ...): on failure prints the condition and the message. */
#define CHECK(cond, ...)                                                      \
	do {                                                                  \
		if (!(cond))                                                  \
			tu_fail(__FILE__, __LINE__, "CHECK(" #cond ") failed", \
				" " __VA_ARGS__);                              \
	} while (0)

/* CHECK_EQ(a, b): both converted to long long, values shown on failure. */
#define CHECK_EQ(a, b, ...)                                                   \
	do {                                                                  \
		long long tu_a_ = (long long)(a), tu_b_ = (long long)(b);     \
		if (tu_a_ != tu_b_) {                                         \
			char tu_what_[512];                                   \
			snprintf(tu_what_, sizeof(tu_what_),                  \
				 "CHECK_EQ(%s, %s) failed: %lld != %lld",     \
				 #a, #b, tu_a_, tu_b_);                       \
			tu_fail(__FILE__, __LINE__, tu_what_, " " __VA_ARGS__); \
		}                                                             \
	} while (0)

/* CHECK_POOL(pool): zs_pool_check must report the pool consistent. */
#define CHECK_POOL(pool, ...)                                                 \
	do {                                                                  \
		char tu_why_[512] = "";                                       \
		if (zs_pool_check((pool), tu_why_, sizeof(tu_why_)) != 0) {   \
			char tu_what_[700];                                   \
			snprintf(tu_what_, sizeof(tu_what_),                  \
				 "zs_pool_check failed: \"%s\"", tu_why_);    \
			tu_fail(__FILE__, __LINE__, tu_what_, " " __VA_ARGS__); \
		}                                                             \
	} while (0)

/*
 * CHECK_COMPACTED(before, after, freed): zs_compact returned `freed` and the
 * pool's page count went from `before` to `after` with nothing else running.
 * The pages it reports freed are the pages by which the pool shrank.
 */
#define CHECK_COMPACTED(before, after, freed, ...)                            \
	do {                                                                  \
		long long tu_b_ = (long long)(before), tu_a_ = (long long)(after); \
		long long tu_f_ = (long long)(freed);                         \
		if (tu_b_ - tu_a_ != tu_f_) {                                 \
			char tu_what_[512];                                   \
			snprintf(tu_what_, sizeof(tu_what_),                  \
				 "zs_compact returned %lld but the pool went from %lld " \
				 "to %lld pages", tu_f_, tu_b_, tu_a_);       \
			tu_fail(__FILE__, __LINE__, tu_what_, " " __VA_ARGS__); \
		}                                                             \
	} while (0)

static inline uint64_t tu_parse_seed(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end) {
		fprintf(stderr, "ZS_TEST_SEED='%s' is not a number\n", s);
		exit(2);
	}
	return v;
}

/* Reads ZS_TEST_SEED and ZS_TEST_CONFIG; call first in main(). */
static inline void tu_init(const char *name, uint64_t default_seed)
{
	const char *seed = getenv("ZS_TEST_SEED");
	const char *config = getenv("ZS_TEST_CONFIG");

	tu_state.name = name;
	tu_state.seed = seed && *seed ? tu_parse_seed(seed) : default_seed;
	if (!config || !*config)
		config = ZS_TEST_BUILD_CONFIG;
	if (strcmp(config, "asan") == 0)
		tu_state.config = TU_ASAN;
	else if (strcmp(config, "tsan") == 0)
		tu_state.config = TU_TSAN;
	else if (strcmp(config, "release") == 0)
		tu_state.config = TU_RELEASE;
	else {
		fprintf(stderr, "ZS_TEST_CONFIG='%s': expected release, asan or tsan\n",
			config);
		exit(2);
	}
	printf("%s: seed %" PRIu64 ", config %s\n", name, tu_state.seed, config);
	fflush(stdout);
}

/* Amount of work: n in release, n/3 under ASan, n/10 under TSan (>= 1). */
static inline unsigned long tu_scale(unsigned long n)
{
	unsigned long div = tu_state.config == TU_ASAN ? 3 :
			    tu_state.config == TU_TSAN ? 10 : 1;

	return n / div ? n / div : 1;
}

/* A stride through a range: n in release, 3n under ASan, 10n under TSan. */
static inline unsigned long tu_stride(unsigned long n)
{
	unsigned long mul = tu_state.config == TU_ASAN ? 3 :
			    tu_state.config == TU_TSAN ? 10 : 1;

	return n * mul;
}

/* ---- PRNG: xoshiro256** seeded through splitmix64 ---- */

struct tu_rng {
	uint64_t s[4];
};

static inline uint64_t tu_splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline void tu_rng_seed(struct tu_rng *rng, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		rng->s[i] = tu_splitmix64(&seed);
}

static inline uint64_t tu_rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t tu_rand(struct tu_rng *rng)
{
	uint64_t *s = rng->s;
	uint64_t result = tu_rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = tu_rotl(s[3], 45);
	return result;
}

/* Uniform in [0, n); n > 0. */
static inline uint64_t tu_below(struct tu_rng *rng, uint64_t n)
{
	return tu_rand(rng) % n;
}

/* Uniform in [lo, hi]. */
static inline uint64_t tu_range(struct tu_rng *rng, uint64_t lo, uint64_t hi)
{
	return lo + tu_below(rng, hi - lo + 1);
}

static inline void tu_fill_random(struct tu_rng *rng, void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len >= 8) {
		uint64_t v = tu_rand(rng);

		memcpy(p, &v, 8);
		p += 8;
		len -= 8;
	}
	if (len) {
		uint64_t v = tu_rand(rng);

		memcpy(p, &v, len);
	}
}

/* Index of the first differing byte of a and b, or len if equal. */
static inline size_t tu_first_diff(const void *a, const void *b, size_t len)
{
	const unsigned char *x = a, *y = b;

	if (memcmp(a, b, len) == 0)
		return len;
	for (size_t i = 0; i < len; i++)
		if (x[i] != y[i])
			return i;
	return len;
}

/* A random object size: mostly small and medium, some above the huge size. */
static inline size_t tu_random_size(struct tu_rng *rng, size_t page_size,
				    size_t huge_size)
{
	unsigned int kind = (unsigned int)tu_below(rng, 100);

	if (kind < 35)
		return tu_range(rng, 1, 256);
	if (kind < 80)
		return tu_range(rng, 257, huge_size);
	if (kind < 92)
		return tu_range(rng, huge_size + 1, page_size);
	return tu_range(rng, 1, page_size);
}

/* ---- Object access helpers ---- */

/* How an object is written or read in tests; rotated through by callers. */
enum tu_access {
	TU_ACCESS_OBJ,		/* zs_obj_write / zs_obj_read_begin */
	TU_ACCESS_MAP_RW,	/* zs_map_object(ZS_MM_RW) */
	TU_ACCESS_MAP_WO_RO,	/* write with ZS_MM_WO, read with ZS_MM_RO */
	TU_ACCESS_COUNT
};

/* Stores size bytes of data into the object of handle. */
static inline void tu_obj_store(struct zs_pool *pool, unsigned long handle,
				const void *data, size_t size, enum tu_access how)
{
	void *p;

	switch (how) {
	case TU_ACCESS_OBJ:
		zs_obj_write(pool, handle, (void *)data, size);
		break;
	case TU_ACCESS_MAP_RW:
		p = zs_map_object(pool, handle, ZS_MM_RW);
		CHECK(p != NULL, "zs_map_object(RW) returned NULL for handle %#lx", handle);
		memcpy(p, data, size);
		zs_unmap_object(pool, handle);
		break;
	default:
		p = zs_map_object(pool, handle, ZS_MM_WO);
		CHECK(p != NULL, "zs_map_object(WO) returned NULL for handle %#lx", handle);
		memcpy(p, data, size);
		zs_unmap_object(pool, handle);
		break;
	}
}

/*
 * Compares the object of handle with expect (size bytes); scratch must hold a
 * page.  Fails the test with the first differing offset and `where`.
 */
static inline void tu_obj_verify(struct zs_pool *pool, unsigned long handle,
				 const void *expect, size_t size,
				 enum tu_access how, void *scratch,
				 const char *where)
{
	const void *p;
	size_t diff;

	switch (how) {
	case TU_ACCESS_OBJ:
		p = zs_obj_read_begin(pool, handle, scratch);
		CHECK(p != NULL, "%s: zs_obj_read_begin returned NULL", where);
		diff = tu_first_diff(p, expect, size);
		zs_obj_read_end(pool, handle, (void *)p);
		break;
	case TU_ACCESS_MAP_RW:
		p = zs_map_object(pool, handle, ZS_MM_RW);
		CHECK(p != NULL, "%s: zs_map_object(RW) returned NULL", where);
		diff = tu_first_diff(p, expect, size);
		zs_unmap_object(pool, handle);
		break;
	default:
		p = zs_map_object(pool, handle, ZS_MM_RO);
		CHECK(p != NULL, "%s: zs_map_object(RO) returned NULL", where);
		diff = tu_first_diff(p, expect, size);
		zs_unmap_object(pool, handle);
		break;
	}
	if (diff != size)
		tu_fail(__FILE__, __LINE__, "object bytes differ from the shadow",
			"%s: handle %#lx, size %zu, first difference at byte %zu",
			where, handle, size, diff);
}

/* ---- Shadow model: a copy of every live object ---- */

struct tu_obj {
	unsigned long handle;
	size_t size;		/* bytes asked for and tracked */
	unsigned char *data;	/* what the object must hold */
};

struct tu_shadow {
	struct tu_obj *objs;
	size_t count, cap;
	unsigned long bytes;	/* sum of sizes */
};

static inline void tu_shadow_init(struct tu_shadow *sh)
{
	memset(sh, 0, sizeof(*sh));
}

/* Records a new live object holding a copy of data. */
static inline struct tu_obj *tu_shadow_add(struct tu_shadow *sh, unsigned long handle,
					   const void *data, size_t size)
{
	struct tu_obj *o;

	if (sh->count == sh->cap) {
		sh->cap = sh->cap ? 2 * sh->cap : 256;
		sh->objs = realloc(sh->objs, sh->cap * sizeof(*sh->objs));
		CHECK(sh->objs != NULL, "out of memory in the shadow");
	}
	o = &sh->objs[sh->count++];
	o->handle = handle;
	o->size = size;
	o->data = malloc(size);
	CHECK(o->data != NULL, "out of memory in the shadow");
	memcpy(o->data, data, size);
	sh->bytes += size;
	return o;
}

/* Forgets object i (the last one takes its place). */
static inline void tu_shadow_remove(struct tu_shadow *sh, size_t i)
{
	sh->bytes -= sh->objs[i].size;
	free(sh->objs[i].data);
	sh->objs[i] = sh->objs[--sh->count];
}

/*
 * Allocates an object of size, fills it with random bytes by the given access
 * and records it.  Returns the handle, or 0 with errno from zs_malloc.
 */
static inline unsigned long tu_shadow_alloc(struct zs_pool *pool, struct tu_shadow *sh,
					    struct tu_rng *rng, size_t size,
					    enum tu_access how, void *scratch)
{
	unsigned long handle = zs_malloc(pool, size);
	int saved;

	if (!handle)
		return 0;
	saved = errno;
	CHECK(zs_obj_size(pool, handle) >= size,
	      "zs_obj_size %zu < size asked %zu", zs_obj_size(pool, handle), size);
	tu_fill_random(rng, scratch, size);
	tu_obj_store(pool, handle, scratch, size, how);
	tu_shadow_add(sh, handle, scratch, size);
	errno = saved;
	return handle;
}

/* Gives object i new random contents. */
static inline void tu_shadow_rewrite(struct zs_pool *pool, struct tu_shadow *sh,
				     struct tu_rng *rng, size_t i, enum tu_access how)
{
	struct tu_obj *o = &sh->objs[i];

	tu_fill_random(rng, o->data, o->size);
	tu_obj_store(pool, o->handle, o->data, o->size, how);
}

/* Frees object i in the pool and forgets it. */
static inline void tu_shadow_free(struct zs_pool *pool, struct tu_shadow *sh, size_t i)
{
	zs_free(pool, sh->objs[i].handle);
	tu_shadow_remove(sh, i);
}

/* Checks every byte of every live object (rotating the access method). */
static inline void tu_shadow_verify_all(struct zs_pool *pool, struct tu_shadow *sh,
					void *scratch, const char *where)
{
	for (size_t i = 0; i < sh->count; i++)
		tu_obj_verify(pool, sh->objs[i].handle, sh->objs[i].data,
			      sh->objs[i].size, (enum tu_access)(i % TU_ACCESS_COUNT),
			      scratch, where);
}

static inline void tu_shadow_free_all(struct zs_pool *pool, struct tu_shadow *sh)
{
	while (sh->count)
		tu_shadow_free(pool, sh, sh->count - 1);
}

static inline void tu_shadow_destroy(struct tu_shadow *sh)
{
	for (size_t i = 0; i < sh->count; i++)
		free(sh->objs[i].data);
	free(sh->objs);
	memset(sh, 0, sizeof(*sh));
}

/* ---- Counting page source for zs_page_ops ---- */

enum tu_page_layout {
	TU_PAGES_GAPPED,	/* an inaccessible guard page between any two pages */
	TU_PAGES_ADJACENT,	/* pages handed out from one run, in address order */
};

#define TU_PS_MAGIC 0x7a73707375726365ULL

/*
 * Pages come from one reserved arena: slot i's page lies at
 * base + i * stride, stride = page_size (adjacent) or 2 * page_size (gapped:
 * the page after each slot stays PROT_NONE).  A slot's page stays PROT_NONE
 * until first handed out; with protect_freed it becomes PROT_NONE again when
 * given back, so the library touching a page it gave back faults.  Every page
 * handed out is filled with 0xa5 first: the library cannot rely on zeroes.
 */
struct tu_page_source {
	uint64_t magic;		/* checks the ctx the pool passes back */
	pthread_mutex_t lock;	/* protects everything below */
	size_t page_size;
	enum tu_page_layout layout;
	unsigned char *base;	/* first slot's page */
	unsigned char *mapping;	/* what mmap returned, for munmap */
	size_t mapping_len;
	size_t stride;
	size_t slots;		/* capacity in pages */
	unsigned char *in_use;	/* per slot: 1 when handed out */
	unsigned char *mapped;	/* per slot: 1 when its page is accessible */
	bool protect_freed;	/* make pages given back inaccessible (slower) */
	size_t *free_slots;	/* stack of free slots, next one on top */
	size_t nr_free;
	long live;		/* pages handed out and not given back */
	long peak;		/* highest live */
	unsigned long alloc_calls;	/* alloc_page calls, failed ones too */
	unsigned long alloc_failed;	/* alloc_page calls answered NULL */
	unsigned long frees;
	unsigned long fail_countdown;	/* > 0: the call that brings it to 0 fails */
	bool dry;		/* every alloc_page fails while set */
};

static inline void *tu_ps_alloc_page(void *ctx)
{
	struct tu_page_source *ps = ctx;
	unsigned char *page;
	size_t slot;

	if (!ps || ps->magic != TU_PS_MAGIC)
		tu_fail(__FILE__, __LINE__, "page source", "alloc_page got a wrong ctx %p", ctx);
	pthread_mutex_lock(&ps->lock);
	ps->alloc_calls++;
	if (ps->fail_countdown && --ps->fail_countdown == 0) {
		ps->alloc_failed++;
		pthread_mutex_unlock(&ps->lock);
		return NULL;
	}
	if (ps->dry || ps->nr_free == 0) {
		ps->alloc_failed++;
		pthread_mutex_unlock(&ps->lock);
		return NULL;
	}
	slot = ps->free_slots[--ps->nr_free];
	ps->in_use[slot] = 1;
	ps->live++;
	if (ps->live > ps->peak)
		ps->peak = ps->live;
	page = ps->base + slot * ps->stride;
	if (!ps->mapped[slot]) {
		if (mprotect(page, ps->page_size, PROT_READ | PROT_WRITE) != 0)
			tu_fail(__FILE__, __LINE__, "page source", "mprotect: %s",
				strerror(errno));
		ps->mapped[slot] = 1;
	}
	/* Garbage, so that the library cannot rely on zeroed pages. */
	memset(page, 0xa5, ps->page_size);
	pthread_mutex_unlock(&ps->lock);
	return page;
}

/* Slot of a page address handed out by ps, or (size_t)-1. */
static inline size_t tu_ps_slot_of(struct tu_page_source *ps, const void *page)
{
	const unsigned char *p = page;
	size_t off;

	if (p < ps->base || p >= ps->base + ps->slots * ps->stride)
		return (size_t)-1;
	off = (size_t)(p - ps->base);
	if (off % ps->stride)
		return (size_t)-1;
	return off / ps->stride;
}

static inline void tu_ps_free_page(void *ctx, void *page)
{
	struct tu_page_source *ps = ctx;
	size_t slot;

	if (!ps || ps->magic != TU_PS_MAGIC)
		tu_fail(__FILE__, __LINE__, "page source", "free_page got a wrong ctx %p", ctx);
	pthread_mutex_lock(&ps->lock);
	slot = tu_ps_slot_of(ps, page);
	if (slot == (size_t)-1 || !ps->in_use[slot])
		tu_fail(__FILE__, __LINE__, "page source",
			"free_page(%p): not a page this source handed out, or freed twice",
			page);
	/* Make the page inaccessible again if asked (mprotect is slow). */
	if (ps->protect_freed) {
		if (mprotect(page, ps->page_size, PROT_NONE) != 0)
			tu_fail(__FILE__, __LINE__, "page source", "mprotect: %s",
				strerror(errno));
		ps->mapped[slot] = 0;
	}
	ps->in_use[slot] = 0;
	ps->free_slots[ps->nr_free++] = slot;
	ps->live--;
	ps->frees++;
	pthread_mutex_unlock(&ps->lock);
}

static const struct zs_page_ops tu_page_ops = {
	.alloc_page = tu_ps_alloc_page,
	.free_page = tu_ps_free_page,
};

/* Reserves room for `slots` pages of page_size laid out as asked. */
static inline void tu_ps_init(struct tu_page_source *ps, size_t page_size,
			      enum tu_page_layout layout, size_t slots)
{
	uintptr_t start;

	memset(ps, 0, sizeof(*ps));
	ps->magic = TU_PS_MAGIC;
	pthread_mutex_init(&ps->lock, NULL);
	ps->page_size = page_size;
	ps->layout = layout;
	ps->stride = layout == TU_PAGES_GAPPED ? 2 * page_size : page_size;
	ps->slots = slots;
	ps->mapping_len = slots * ps->stride + page_size;
	ps->mapping = mmap(NULL, ps->mapping_len, PROT_NONE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	CHECK(ps->mapping != MAP_FAILED, "page source: mmap of %zu bytes: %s",
	      ps->mapping_len, strerror(errno));
	start = ((uintptr_t)ps->mapping + page_size - 1) & ~(uintptr_t)(page_size - 1);
	ps->base = (unsigned char *)start;
	ps->in_use = calloc(slots, 1);
	ps->mapped = calloc(slots, 1);
	ps->free_slots = malloc(slots * sizeof(*ps->free_slots));
	CHECK(ps->in_use && ps->mapped && ps->free_slots, "page source: out of memory");
	/* Lowest slot on top: consecutive allocations get ascending addresses. */
	for (size_t i = 0; i < slots; i++)
		ps->free_slots[i] = slots - 1 - i;
	ps->nr_free = slots;
}

static inline void tu_ps_destroy(struct tu_page_source *ps)
{
	munmap(ps->mapping, ps->mapping_len);
	free(ps->in_use);
	free(ps->mapped);
	free(ps->free_slots);
	pthread_mutex_destroy(&ps->lock);
	ps->magic = 0;
}

static inline long tu_ps_live(struct tu_page_source *ps)
{
	long live;

	pthread_mutex_lock(&ps->lock);
	live = ps->live;
	pthread_mutex_unlock(&ps->lock);
	return live;
}

/* Makes the n-th alloc_page call from now fail (once); 0 disarms. */
static inline void tu_ps_fail_nth(struct tu_page_source *ps, unsigned long n)
{
	pthread_mutex_lock(&ps->lock);
	ps->fail_countdown = n;
	pthread_mutex_unlock(&ps->lock);
}

static inline void tu_ps_set_dry(struct tu_page_source *ps, bool dry)
{
	pthread_mutex_lock(&ps->lock);
	ps->dry = dry;
	pthread_mutex_unlock(&ps->lock);
}

/* True when [p, p + len) lies inside one page currently handed out. */
static inline bool tu_ps_in_one_page(struct tu_page_source *ps, const void *p, size_t len)
{
	const unsigned char *c = p;
	uintptr_t page = (uintptr_t)c & ~(uintptr_t)(ps->page_size - 1);
	size_t slot;
	bool ok;

	if (len == 0 || (uintptr_t)c + len - 1 >= page + ps->page_size)
		return false;
	pthread_mutex_lock(&ps->lock);
	slot = tu_ps_slot_of(ps, (void *)page);
	ok = slot != (size_t)-1 && ps->in_use[slot];
	pthread_mutex_unlock(&ps->lock);
	return ok;
}

/* True when page is a page the source handed out and has not got back. */
static inline bool tu_ps_owns_page(struct tu_page_source *ps, const void *page)
{
	size_t slot;
	bool ok;

	pthread_mutex_lock(&ps->lock);
	slot = tu_ps_slot_of(ps, page);
	ok = slot != (size_t)-1 && ps->in_use[slot];
	pthread_mutex_unlock(&ps->lock);
	return ok;
}

/* A pool config drawing pages from ps. */
static inline struct zs_pool_config tu_ps_config(struct tu_page_source *ps,
						 unsigned int chain)
{
	struct zs_pool_config cfg = {
		.page_size = ps->page_size,
		.max_pages_per_zspage = chain,
		.page_ops = &tu_page_ops,
		.page_ctx = ps,
	};
	return cfg;
}

/* A pool that must be created; fails the test otherwise. */
static inline struct zs_pool *tu_create_pool(const char *name,
					     const struct zs_pool_config *cfg)
{
	struct zs_pool *pool = cfg ? zs_create_pool_config(name, cfg) : zs_create_pool(name);

	CHECK(pool != NULL, "zs_create_pool_config(%s, page_size %zu, chain %u): %s",
	      name, cfg ? cfg->page_size : 0, cfg ? cfg->max_pages_per_zspage : 0,
	      strerror(errno));
	return pool;
}

/*
 * Moves one backing page of the pool to a fresh page of its source.
 * Returns zs_page_migrate's answer, or -ENOMEM when the source was dry.
 * On success the old page goes back to the source, else the new one does.
 */
static inline int tu_migrate_page(struct zs_pool *pool, void *page)
{
	void *newpage = zs_page_source_alloc(pool);
	int ret;

	if (!newpage) {
		CHECK(errno == ENOMEM, "zs_page_source_alloc: NULL with errno %d, not ENOMEM",
		      errno);
		return -ENOMEM;
	}
	ret = zs_page_migrate(pool, page, newpage);
	if (ret == 0)
		zs_page_source_free(pool, page);
	else
		zs_page_source_free(pool, newpage);
	return ret;
}

/* Flags of tu_migrate_random. */
#define TU_MIG_STRICT	1	/* nothing else runs: every move must succeed */
#define TU_MIG_ENOMEM	2	/* the page source may be dry: -ENOMEM is fine */

/*
 * Migrates up to `count` random backing pages of the pool (each page at most
 * once).  Without TU_MIG_STRICT, -EAGAIN (an object in use) and -EINVAL (the
 * page left the pool since the snapshot) are accepted.  Anything else fails
 * the test.  Returns how many pages moved.
 */
static inline unsigned long tu_migrate_random(struct zs_pool *pool, struct tu_rng *rng,
					      unsigned long count, int flags)
{
	size_t room = zs_get_total_pages(pool) + 16, listed;
	void **pages;
	unsigned long moved = 0;

	pages = malloc(room * sizeof(*pages));
	CHECK(pages != NULL, "out of memory");
	listed = zs_list_pages(pool, pages, room);
	if (flags & TU_MIG_STRICT)
		CHECK_EQ(listed, zs_get_total_pages(pool), "zs_list_pages count");
	if (listed > room)
		listed = room;
	for (unsigned long i = 0; i < count && listed; i++) {
		size_t pick = tu_below(rng, listed);
		void *page = pages[pick];
		int ret = tu_migrate_page(pool, page);

		pages[pick] = pages[--listed];
		if (ret == 0)
			moved++;
		else if (ret == -ENOMEM && (flags & TU_MIG_ENOMEM))
			continue;
		else if (flags & TU_MIG_STRICT)
			tu_fail(__FILE__, __LINE__, "zs_page_migrate failed",
				"page %p of the pool, nothing mapped: returned %d", page, ret);
		else
			CHECK(ret == -EAGAIN || ret == -EINVAL,
			      "zs_page_migrate(%p) = %d", page, ret);
	}
	free(pages);
	return moved;
}

#endif /* ZS_TEST_UTIL_H */
