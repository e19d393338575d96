/*
 * zs_test.h - the one test harness of the tree (tests/, tests/unit/,
 * zpool/tests/, zsram/tests/), compiled once into libzs_test_common.a.
 *
 *   check.c        CHECK macros that end the test with the seed to replay it,
 *                  ZS_TEST_SEED and ZS_TEST_CONFIG, the work scale
 *   rng.c          the one PRNG (xoshiro256** seeded through splitmix64),
 *                  random sizes, byte patterns keyed by a number, page kinds
 *   shadow.c       object access helpers, the shadow model (a copy of every
 *                  live object, compared byte by byte), page migration
 *   page_source.c  the counting page source for zs_page_ops (and zpool):
 *                  guard gaps or adjacent pages, fault injection per pool
 *   classes.c      a pool's size classes checked through the statistics
 *   death.c        death tests: run a misuse in a forked child, expect it
 *                  to die with a message
 *
 * Environment:
 *   ZS_TEST_SEED    seed of the run (decimal or 0x hex); printed on failure
 *   ZS_TEST_CONFIG  release | asan | tsan: scales the amount of work down for
 *                   the sanitizer builds (default: the build's configuration)
 * Nothing here is thread-safe except the page source and the CHECK macros
 * (a failing CHECK exits the process from any thread).
 */
#ifndef ZS_TEST_H
#define ZS_TEST_H

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

/* ---- check.c: run configuration, seed and failure reporting ---- */

enum tu_config { TU_RELEASE, TU_ASAN, TU_TSAN };

struct tu_state {
	const char *name; /* test program name, for messages */
	uint64_t seed;	  /* seed of this run */
	enum tu_config config;
};

extern struct tu_state tu_state;

/* Reads ZS_TEST_SEED and ZS_TEST_CONFIG and prints them; call first in main(). */
void tu_init(const char *name, uint64_t default_seed);

/* Prints the failure, the seed and the configuration, and exits with 1. */
__attribute__((format(printf, 4, 5), noreturn)) void tu_fail(const char *file, int line,
							     const char *what, const char *fmt, ...);

/* CHECK(cond, "fmt", ...): on failure prints the condition and the message. */
#define CHECK(cond, ...)                                                                         \
	do {                                                                                     \
		if (!(cond))                                                                     \
			tu_fail(__FILE__, __LINE__, "CHECK(" #cond ") failed", " " __VA_ARGS__); \
	} while (0)

/* CHECK_EQ(a, b): both converted to long long, values shown on failure. */
#define CHECK_EQ(a, b, ...)                                                                    \
	do {                                                                                   \
		long long tu_a_ = (long long)(a), tu_b_ = (long long)(b);                      \
		if (tu_a_ != tu_b_)                                                            \
			tu_fail_eq(__FILE__, __LINE__, #a, #b, tu_a_, tu_b_, " " __VA_ARGS__); \
	} while (0)
__attribute__((format(printf, 7, 8), noreturn)) void tu_fail_eq(const char *file, int line,
								const char *a, const char *b,
								long long va, long long vb,
								const char *fmt, ...);

/*
 * CHECK_CONSISTENT(checker, obj): checker(obj, why, len) is one of the
 * consistency checkers (zs_pool_check, zsram_check, zbud_check, ...) and
 * must answer 0; otherwise the test fails with its reason.
 */
#define CHECK_CONSISTENT(checker, obj, ...)                                                    \
	do {                                                                                   \
		char tu_why_[512] = "";                                                        \
		if ((checker)((obj), tu_why_, sizeof(tu_why_)) != 0)                           \
			tu_fail_check(__FILE__, __LINE__, #checker, tu_why_, " " __VA_ARGS__); \
	} while (0)
__attribute__((format(printf, 5, 6), noreturn)) void
tu_fail_check(const char *file, int line, const char *checker, const char *why, const char *fmt, ...);
#define CHECK_POOL(pool, ...) CHECK_CONSISTENT(zs_pool_check, pool, __VA_ARGS__)
#define CHECK_STORE(z, ...) CHECK_CONSISTENT(zsram_check, z, __VA_ARGS__)

/* CHECK_IO_STAT(z, invalid, failed_reads, failed_writes): zsram's I/O
 * counters (zsram tests only). */
#define CHECK_IO_STAT(z, invalid, reads, writes)                               \
	do {                                                                   \
		struct zsram_io_stat tu_io_;                                   \
		zsram_get_io_stat((z), &tu_io_);                               \
		CHECK_EQ(tu_io_.invalid_io, invalid, "zsram invalid_io");      \
		CHECK_EQ(tu_io_.failed_reads, reads, "zsram failed_reads");    \
		CHECK_EQ(tu_io_.failed_writes, writes, "zsram failed_writes"); \
	} while (0)

/*
 * CHECK_COMPACTED(before, after, freed): zs_compact returned `freed` and the
 * pool's page count went from `before` to `after` with nothing else running.
 */
#define CHECK_COMPACTED(before, after, freed, ...)                \
	CHECK_EQ((long long)(before) - (long long)(after), freed, \
		 "zs_compact's answer vs the pages the pool lost " __VA_ARGS__)

/* Amount of work: n in release, n/3 under ASan, n/10 under TSan (>= 1). */
unsigned long tu_scale(unsigned long n);
/* A stride through a range: n in release, 3n under ASan, 10n under TSan. */
unsigned long tu_stride(unsigned long n);
/* What tu_scale divides by: 1, 3 or 10. */
unsigned int tu_scale_divisor(void);

/* ---- rng.c: the PRNG, random sizes, byte patterns, page kinds ---- */

struct tu_rng {
	uint64_t s[4];
};

void tu_rng_seed(struct tu_rng *rng, uint64_t seed);
/* A stream for part `part` of the run: seeded with the run's seed + part, so
 * ZS_TEST_SEED replays (or varies) every stream of the program. */
struct tu_rng tu_rng_from(uint64_t part);
uint64_t tu_rand(struct tu_rng *rng);
/* Uniform in [0, n); n > 0. */
uint64_t tu_below(struct tu_rng *rng, uint64_t n);
/* Uniform in [lo, hi]. */
uint64_t tu_range(struct tu_rng *rng, uint64_t lo, uint64_t hi);
void tu_fill_random(struct tu_rng *rng, void *buf, size_t len);
/* Index of the first differing byte of a and b, or len if equal. */
size_t tu_first_diff(const void *a, const void *b, size_t len);
/* A random object size: mostly small and medium, some above the huge size. */
size_t tu_random_size(struct tu_rng *rng, size_t page_size, size_t huge_size);

/* Bytes that depend on key alone (every byte on the whole key). */
void tu_pattern_fill(void *buf, size_t len, uint64_t key);
/* Index of the first byte that differs from key's pattern, or len. */
size_t tu_pattern_check(const void *buf, size_t len, uint64_t key);

/* Pages of each kind a compressed store sees. */
enum tu_page_kind {
	TU_PAGE_TEXT,	/* compresses well */
	TU_PAGE_MIXED,	/* compresses to about half */
	TU_PAGE_RANDOM, /* does not compress: huge */
	TU_PAGE_SAME,	/* one repeated word */
	TU_PAGE_ZERO,	/* zeros (same-filled too) */
	TU_PAGE_KINDS
};
/* Fills page (ps bytes, a multiple of 8) with content of the kind, the same
 * for the same seed. */
void tu_make_page(void *page, size_t ps, enum tu_page_kind kind, uint64_t seed);

/* ---- shadow.c: object access, the shadow model, migration ---- */

/* How an object is written or read in tests; rotated through by callers. */
enum tu_access {
	TU_ACCESS_OBJ,	     /* zs_obj_write / zs_obj_read_begin */
	TU_ACCESS_MAP_RW,    /* zs_map_object(ZS_MM_RW) */
	TU_ACCESS_MAP_WO_RO, /* write with ZS_MM_WO, read with ZS_MM_RO */
	TU_ACCESS_COUNT
};

/* Stores size bytes of data into the object of handle. */
void tu_obj_store(struct zs_pool *pool, unsigned long handle, const void *data, size_t size,
		  enum tu_access how);
/* Compares the object of handle with expect (size bytes); scratch must hold a
 * page.  Fails the test with the first differing offset and `where`. */
void tu_obj_verify(struct zs_pool *pool, unsigned long handle, const void *expect, size_t size,
		   enum tu_access how, void *scratch, const char *where);

struct tu_obj {
	unsigned long handle;
	size_t size;	     /* bytes asked for and tracked */
	unsigned char *data; /* what the object must hold */
};

/* A copy of every live object of a pool. */
struct tu_shadow {
	struct tu_obj *objs;
	size_t count, cap;
	unsigned long bytes; /* sum of sizes */
};

void tu_shadow_init(struct tu_shadow *sh);
/* Records a new live object holding a copy of data. */
struct tu_obj *tu_shadow_add(struct tu_shadow *sh, unsigned long handle, const void *data,
			     size_t size);
/* Forgets object i (the last one takes its place). */
void tu_shadow_remove(struct tu_shadow *sh, size_t i);
/* Allocates an object of size, fills it with random bytes by the given access
 * and records it.  Returns the handle, or 0 with errno from zs_malloc. */
unsigned long tu_shadow_alloc(struct zs_pool *pool, struct tu_shadow *sh, struct tu_rng *rng,
			      size_t size, enum tu_access how, void *scratch);
/* Gives object i new random contents. */
void tu_shadow_rewrite(struct zs_pool *pool, struct tu_shadow *sh, struct tu_rng *rng, size_t i,
		       enum tu_access how);
/* Frees object i in the pool and forgets it. */
void tu_shadow_free(struct zs_pool *pool, struct tu_shadow *sh, size_t i);
/* Checks every byte of every live object (rotating the access method). */
void tu_shadow_verify_all(struct zs_pool *pool, struct tu_shadow *sh, void *scratch,
			  const char *where);
void tu_shadow_free_all(struct zs_pool *pool, struct tu_shadow *sh);
void tu_shadow_destroy(struct tu_shadow *sh);

/* A pool that must be created (NULL cfg: zs_create_pool); fails otherwise. */
struct zs_pool *tu_create_pool(const char *name, const struct zs_pool_config *cfg);

/* Moves one backing page of the pool to a fresh page of its source.  Returns
 * zs_page_migrate's answer, or -ENOMEM when the source was dry.  On success
 * the old page goes back to the source, else the new one does. */
int tu_migrate_page(struct zs_pool *pool, void *page);

/* Flags of tu_migrate_random. */
#define TU_MIG_STRICT 1 /* nothing else runs: every move must succeed */
#define TU_MIG_ENOMEM 2 /* the page source may be dry: -ENOMEM is fine */

/* Migrates up to `count` random backing pages of the pool (each page at most
 * once).  Without TU_MIG_STRICT, -EAGAIN (an object in use) and -EINVAL (the
 * page left the pool since the snapshot) are accepted.  Anything else fails
 * the test.  Returns how many pages moved. */
unsigned long tu_migrate_random(struct zs_pool *pool, struct tu_rng *rng, unsigned long count,
				int flags);

/* ---- classes.c: a pool's size classes through the public statistics ---- */

/* zs_get_class_stats(index) must succeed and name that index. */
void tu_class_stats(struct zs_pool *pool, unsigned int index, struct zs_class_stats *st);
/* The size of the class that serves objects of size. */
size_t tu_class_size_of(struct zs_pool *pool, size_t size);
/* The class of size holds n live objects and has seen no frees: its counts,
 * pages (backed in full or as used), fullness groups, nothing freeable. */
void tu_check_class_filled(struct zs_pool *pool, size_t size, unsigned long n);

/* ---- page_source.c: the counting page source ---- */

enum tu_page_layout {
	TU_PAGES_GAPPED,   /* an inaccessible guard page between any two pages */
	TU_PAGES_ADJACENT, /* pages handed out from one run, in address order */
};

/*
 * Pages come from one reserved arena: slot i's page lies at
 * base + i * stride, stride = page_size (adjacent) or 2 * page_size (gapped:
 * the page after each slot stays PROT_NONE).  A slot's page stays PROT_NONE
 * until first handed out; with protect_freed it becomes PROT_NONE again when
 * given back, so the library touching a page it gave back faults.  Every page
 * handed out is filled with 0xa5 first: the library cannot rely on zeroes.
 * One source per pool aims fault injection at that pool alone (tu_ps_fail_nth,
 * tu_ps_set_dry); the pool's metadata allocations fail through
 * zs_test_fail_meta_alloc_pool (tests of internals).
 */
struct tu_page_source {
	uint64_t magic;	      /* checks the ctx the pool passes back */
	pthread_mutex_t lock; /* protects everything below */
	size_t page_size;
	enum tu_page_layout layout;
	unsigned char *base;	/* first slot's page */
	unsigned char *mapping; /* what mmap returned, for munmap */
	size_t mapping_len;
	size_t stride;
	size_t slots;	       /* capacity in pages */
	unsigned char *in_use; /* per slot: 1 when handed out */
	unsigned char *mapped; /* per slot: 1 when its page is accessible */
	bool protect_freed;    /* make pages given back inaccessible (slower) */
	size_t *free_slots;    /* stack of free slots, next one on top */
	size_t nr_free;
	long live;		    /* pages handed out and not given back */
	long peak;		    /* highest live */
	unsigned long alloc_calls;  /* alloc_page calls, failed ones too */
	unsigned long alloc_failed; /* alloc_page calls answered NULL */
	unsigned long frees;
	unsigned long fail_countdown; /* > 0: the call that brings it to 0 fails */
	bool fail_sticky;	      /* and with it every call after */
	bool dry;		      /* every alloc_page fails while set */
};

/* The callbacks; ctx is a struct tu_page_source. */
extern const struct zs_page_ops tu_page_ops;

/* Reserves room for `slots` pages of page_size laid out as asked. */
void tu_ps_init(struct tu_page_source *ps, size_t page_size, enum tu_page_layout layout,
		size_t slots);
void tu_ps_destroy(struct tu_page_source *ps);
long tu_ps_live(struct tu_page_source *ps);
/* Makes the n-th alloc_page call from now fail (once; with sticky, every call
 * from it on); 0 disarms. */
void tu_ps_fail_nth(struct tu_page_source *ps, unsigned long n, bool sticky);
void tu_ps_set_dry(struct tu_page_source *ps, bool dry);
/* True when [p, p + len) lies inside one page currently handed out. */
bool tu_ps_in_one_page(struct tu_page_source *ps, const void *p, size_t len);
/* True when page is a page the source handed out and has not got back. */
bool tu_ps_owns_page(struct tu_page_source *ps, const void *page);
/* A pool config drawing pages from ps. */
struct zs_pool_config tu_ps_config(struct tu_page_source *ps, unsigned int chain);

/* (shadow.c) tu_ps_init(ps, ...) and a pool drawing its pages from it. */
struct zs_pool *tu_ps_pool(struct tu_page_source *ps, const char *name, size_t page_size,
			   enum tu_page_layout layout, size_t slots, unsigned int chain);
/* The end of a test's pool: every object checked and freed, no page left in
 * the pool nor out of the source (src may be NULL: the built-in one), the
 * pool consistent before and after; then pool, shadow and source destroyed. */
void tu_pool_teardown(struct zs_pool *pool, struct tu_shadow *sh, struct tu_page_source *src,
		      void *scratch, const char *where);

/* ---- death.c: death tests ---- */

/* The child's exit code when it could not set up what the misuse needs. */
#define TU_SETUP_FAILED 3

/*
 * Runs setup() (unless NULL), then fn(arg) in a forked child (no core file,
 * its stderr captured).  When
 * strict, the child must die by SIGABRT with `needle` in its stderr; else
 * (ASan may catch the misuse before the library does) any end but returning
 * normally or TU_SETUP_FAILED is accepted.  Returns true when the child died
 * as required, else prints why (with `name`) and returns false.
 */
bool tu_expect_death(const char *name, void (*setup)(void), void (*fn)(void *), void *arg,
		     const char *needle, bool strict);

struct tu_death_case {
	const char *name;
	void (*fn)(void *);
	void *arg; /* passed to fn, unless the caller's arg is used */
};

/* Runs every case (with `arg` when the case has none); fails the test, after
 * running all, when any child did not die as required. */
void tu_expect_deaths(const struct tu_death_case *cases, size_t n, void (*setup)(void), void *arg,
		      const char *needle, bool strict);

#define TU_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define TU_UNUSED __attribute__((unused))

#endif /* ZS_TEST_H */
