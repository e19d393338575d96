/*
 * preload.h - libzsswap-run.so, the library zsswap-run preloads into a
 * program: its state and what its files share.
 *
 *   preload.c       start-up (the region, mimalloc given it), the malloc family
 *   preload_mmap.c  mmap/munmap/mremap/madvise on the region, fork
 *   preload_budget.c  the budget counting the whole process, as a cgroup does
 *
 * Who allocates where:
 *   - the program's threads: mimalloc, whose only OS memory is the region
 *     (mi_manage_os_memory + mi_option_limit_os_alloc), so the whole heap is
 *     compressible;
 *   - zsswap's own work (the handler thread, and a program thread while it
 *     is inside a zsswap call): the C library's malloc (__libc_malloc), never
 *     region memory, so serving a fault never needs a page that must itself
 *     be faulted in, and no lock the program may hold inside mimalloc;
 *   - before start-up, and when start-up failed: the C library's malloc.
 * A forked child keeps using mimalloc on its plain copy of the region.
 * free() routes by address: region memory to mimalloc, the rest to the C
 * library.
 */
#ifndef ZSSWAP_RUN_PRELOAD_H
#define ZSSWAP_RUN_PRELOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "zsswap.h"

#define ZR_TLS __attribute__((tls_model("initial-exec")))

enum zr_mode {
	ZR_OFF,	   /* before start-up, or start-up failed: the C library's malloc */
	ZR_ACTIVE, /* the heap is in the region */
	ZR_CHILD,  /* a forked child: the region is plain memory now */
};

#pragma GCC visibility push(hidden)

struct zr_state {
	_Atomic int mode; /* enum zr_mode */
	struct zsswap *z;
	uintptr_t lo, hi; /* the region: [lo, hi) */
	size_t page_size;
	pid_t pid; /* the process that owns the region */
};

extern struct zr_state zr;
/* Nesting depth of zsswap's own work on this thread: its allocations go to
 * the C library and its system calls pass through untouched. */
extern __thread int zr_internal ZR_TLS;

/* Depth of calls into mimalloc on this thread: an mmap it makes for its
 * own needs goes to the kernel, never back into mimalloc. */
extern __thread int zr_in_mi ZR_TLS;
#define ZR_MI(call)                                   \
	({                                            \
		zr_in_mi++;                           \
		__typeof__(call) zr_result_ = (call); \
		zr_in_mi--;                           \
		zr_result_;                           \
	})
#define ZR_MI_VOID(call)    \
	do {                \
		zr_in_mi++; \
		call;       \
		zr_in_mi--; \
	} while (0)

static inline bool zr_in_region(const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p;

	return a >= zr.lo && a < zr.hi && len <= zr.hi - a;
}

/* Whether this thread's allocations go into the region now. */
bool zr_routing(void);

/* preload_mmap.c: the raw system calls, and the region's discard */
void *zr_sys_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int zr_sys_munmap(void *addr, size_t len);
int zr_sys_madvise(void *addr, size_t len, int advice);
/* Makes [addr, addr+len) of the region read as zeros (whole pages inside). */
void zr_discard(void *addr, size_t len);

/* preload_budget.c: starts the thread that keeps the process's anonymous
 * memory, less the pool, near max_resident (nothing when 0). */
void zr_budget_start(size_t max_resident);

#pragma GCC visibility pop

#endif /* ZSSWAP_RUN_PRELOAD_H */
