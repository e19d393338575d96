/*
 * preload.c - libzsswap-run.so's start-up and the malloc family.
 *
 * Why mimalloc (Debian's libmimalloc2.0): a real, fast allocator that can
 * be told to take all its memory from one given range
 * (mi_manage_os_memory) and never from the OS (mi_option_limit_os_alloc),
 * and whose frees give pages back with madvise(2), which preload_mmap.c
 * turns into zsswap_discard, so freed memory is neither kept compressed nor
 * read back stale.  jemalloc's extent hooks could do the same with more
 * code of our own.
 *
 * Start-up reads what zsswap-run put in the environment (ZSSWAP_RUN_*),
 * creates the region (its size aligned to mimalloc's 64 MiB segments) and
 * hands it to mimalloc.  If that fails the program still runs, on the C
 * library's malloc, after a message on stderr.
 */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <mimalloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "preload.h"
#include "zsswap_internal.h"

#define ZR_ALIGN (64u << 20) /* mimalloc's segment alignment, rounded up */

struct zr_state zr;
__thread int zr_internal ZR_TLS;
__thread int zr_in_mi ZR_TLS;

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static size_t (*libc_usable_size)(void *);

bool zr_routing(void)
{
	return atomic_load_explicit(&zr.mode, memory_order_acquire) != ZR_OFF && !zr_internal &&
	       !zsswap_on_handler_thread;
}

void *malloc(size_t n)
{
	return zr_routing() ? ZR_MI(mi_malloc(n)) : __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
	return zr_routing() ? ZR_MI(mi_calloc(n, size)) : __libc_calloc(n, size);
}

void free(void *p)
{
	if (zr_in_region(p, 1))
		ZR_MI_VOID(mi_free(p));
	else
		__libc_free(p);
}

size_t malloc_usable_size(void *p)
{
	if (!p)
		return 0;
	if (zr_in_region(p, 1))
		return ZR_MI(mi_usable_size(p));
	return libc_usable_size ? libc_usable_size(p) : 0;
}

void *realloc(void *p, size_t n)
{
	void *q;
	size_t old;

	if (!p || zr_in_region(p, 1))
		return zr_routing() || p ? ZR_MI(mi_realloc(p, n)) : __libc_realloc(p, n);
	if (!zr_routing())
		return __libc_realloc(p, n);
	/* Allocated before start-up: it moves into the region. */
	if (n == 0) {
		__libc_free(p);
		return NULL;
	}
	q = ZR_MI(mi_malloc(n));
	if (!q)
		return NULL;
	old = malloc_usable_size(p);
	memcpy(q, p, old < n ? old : n);
	__libc_free(p);
	return q;
}

void *reallocarray(void *p, size_t n, size_t size)
{
	size_t bytes;

	if (__builtin_mul_overflow(n, size, &bytes)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, bytes);
}

static bool bad_alignment(size_t align)
{
	return align == 0 || (align & (align - 1));
}

void *memalign(size_t align, size_t n)
{
	if (bad_alignment(align)) {
		errno = EINVAL;
		return NULL;
	}
	return zr_routing() ? ZR_MI(mi_malloc_aligned(n, align)) : __libc_memalign(align, n);
}

void *aligned_alloc(size_t align, size_t n)
{
	return memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
	void *p;

	if (bad_alignment(align) || align % sizeof(void *))
		return EINVAL;
	p = memalign(align, n);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

void *valloc(size_t n)
{
	return memalign((size_t)sysconf(_SC_PAGESIZE), n);
}

void *pvalloc(size_t n)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);

	return memalign(ps, (n + ps - 1) / ps * ps);
}

/*
 * A new thread's TLS bookkeeping (its dynamic thread vector) is calloc'ed
 * by the thread that creates it.  From mimalloc it would sit in the region,
 * and the new thread, reading it at every __tls_get_addr, would fault while
 * it holds the region's lock inside a zsswap call (a munmap or madvise of
 * heap memory becomes zsswap_discard): a fault only the lock's holder could
 * serve.  So threads are created with the C library's allocator.  (The
 * vector can still be reallocated later by the program's own access to the
 * TLS of a library it dlopens; zsmalloc's, zsram's and zsswap's thread
 * variables are initial-exec, so their code never reads it.)
 */
int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	static int (*real_create)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
	int rc;

	zr_internal++;
	if (!real_create)
		real_create = (int (*)(pthread_t *, const pthread_attr_t *, void *(*)(void *),
				       void *))dlsym(RTLD_NEXT, "pthread_create");
	rc = real_create ? real_create(thread, attr, fn, arg) : EAGAIN;
	zr_internal--;
	return rc;
}

/* A byte count from the environment; 0 when unset. */
static size_t env_size(const char *name)
{
	const char *s = getenv(name);

	return s ? (size_t)strtoull(s, NULL, 10) : 0;
}

static void start(void)
{
	struct zsswap_config cfg;
	pid_t top = (pid_t)env_size("ZSSWAP_RUN_PID");
	struct zsswap *z;
	uintptr_t lo;

	zsswap_config_init(&cfg);
	cfg.size = env_size("ZSSWAP_RUN_SIZE") + ZR_ALIGN;
	cfg.max_resident = env_size("ZSSWAP_RUN_MAX_RESIDENT");
	cfg.max_pool = env_size("ZSSWAP_RUN_MAX_POOL");
	cfg.algorithm = getenv("ZSSWAP_RUN_ALGORITHM");
	/* Programs the program starts get a region of their own, but only
	 * the program itself writes back: two processes must not share the
	 * target's offsets. */
	if (top == getpid())
		cfg.writeback = getenv("ZSSWAP_RUN_WRITEBACK");
	z = zsswap_create(&cfg);
	if (!z) {
		fprintf(stderr, "zsswap-run: %s; this process runs without compressed memory\n",
			zsswap_last_error());
		return;
	}
	lo = ((uintptr_t)zsswap_base(z) + ZR_ALIGN - 1) & ~(uintptr_t)(ZR_ALIGN - 1);
	zr.z = z;
	zr.lo = lo;
	zr.hi = (uintptr_t)zsswap_base(z) + zsswap_size(z);
	zr.page_size = (size_t)sysconf(_SC_PAGESIZE);
	zr.pid = getpid();
	/* Given as not committed, and with page reset on, so that mimalloc
	 * gives back each page it frees (madvise, here a zsswap_discard):
	 * otherwise freed pages keep their bytes and go into the pool as
	 * garbage.  sqlite3 building a 130 MB database under -r 48M: 137k
	 * pages stored and a 32 MB pool at exit before, 103k and 0.1 MB
	 * after. */
	mi_option_set(mi_option_page_reset, 1);
	if (!mi_manage_os_memory((void *)lo, zr.hi - lo, false, false, true, -1)) {
		fprintf(stderr, "zsswap-run: mimalloc refused the region; this process runs "
				"without compressed memory\n");
		zr.lo = zr.hi = 0;
		return;
	}
	mi_option_set(mi_option_limit_os_alloc, 1);
	atomic_store_explicit(&zr.mode, ZR_ACTIVE, memory_order_release);
	zr_budget_start(cfg.max_resident);
}

__attribute__((constructor(101))) static void zr_init(void)
{
	void *libc;

	if (!getenv("ZSSWAP_RUN_SIZE"))
		return; /* preloaded by hand, without zsswap-run: do nothing */
	zr_internal++;
	libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
	if (libc)
		libc_usable_size = (size_t(*)(void *))dlsym(libc, "malloc_usable_size");
	start();
	zr_internal--;
}

/* --stats: the program's own process writes them when it exits. */
__attribute__((destructor)) static void zr_fini(void)
{
	const char *path = getenv("ZSSWAP_RUN_STATS");
	struct zsswap_memory mem;
	FILE *f;

	if (!path || atomic_load(&zr.mode) != ZR_ACTIVE || zr.pid != getpid() ||
	    (pid_t)env_size("ZSSWAP_RUN_PID") != getpid())
		return;
	zr_internal++;
	f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "zsswap-run: cannot write the statistics to %s: %s\n", path,
			strerror(errno));
	} else {
		zsswap_print_stats(zr.z, f);
		zsswap_memory(zr.z, &mem);
		fprintf(f,
			"memory_resident %zu\nmemory_pool_pages %zu\nmemory_pool_metadata %zu\n"
			"memory_page_table %zu\nmemory_buffers %zu\nmemory_total %zu\n",
			mem.resident, mem.pool_pages, mem.pool_metadata, mem.page_table,
			mem.buffers, mem.total);
		fclose(f);
	}
	zr_internal--;
}
