/*
 * preload_mmap.c - the program's own memory calls on the region, and fork.
 *
 * mmap: an anonymous, private, read-write mapping without an address (how
 * Python's object arenas and many allocators get memory) is served from
 * the region, so it is compressible too; it is recorded in a table so that
 * munmap of the whole mapping frees it.  Everything else goes to the
 * kernel untouched.
 *
 * munmap and madvise(MADV_DONTNEED, MADV_FREE, MADV_REMOVE) of region
 * memory become zsswap_discard: the range reads as zeros and its
 * compressed copies are freed, so nothing stale ever comes back (a plain
 * MADV_DONTNEED would leave a dropped page's copy in the pool).  A partial
 * munmap of a served mapping discards that part; its address space is
 * given back when the rest goes.  mremap of a served mapping moves it
 * within the region.  MADV_DONTFORK/DOFORK/HUGEPAGE on the region are
 * accepted and ignored (the region must stay as zsswap set it up).
 *
 * fork: see zsswap/src/fork.c.  Calls made by zsswap itself (zr_internal)
 * pass straight to the kernel.
 */
#include <dlfcn.h>
#include <errno.h>
#include <mimalloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload.h"
#include "zsswap_internal.h"

extern void *__libc_calloc(size_t, size_t);
extern void __libc_free(void *);

void *zr_sys_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

int zr_sys_munmap(void *addr, size_t len)
{
	return (int)syscall(SYS_munmap, addr, len);
}

int zr_sys_madvise(void *addr, size_t len, int advice)
{
	return (int)syscall(SYS_madvise, addr, len, advice);
}

/* ---- served mappings: start -> length, open addressing ---- */

struct served {
	uintptr_t start; /* 0: free slot; 1: removed */
	size_t len;
};

static pthread_mutex_t served_lock = PTHREAD_MUTEX_INITIALIZER;
static struct served *served;
static size_t served_cap, served_used; /* used counts removed slots too */

static size_t slot_of(uintptr_t start, size_t cap)
{
	return (size_t)((start >> 12) * 0x9e3779b97f4a7c15ull) & (cap - 1);
}

static bool served_grow(void)
{
	size_t cap = served_cap ? served_cap * 2 : 1024;
	struct served *t = __libc_calloc(cap, sizeof(*t));
	size_t live = 0; /* removed slots are not copied */

	if (!t)
		return false;
	for (size_t i = 0; i < served_cap; i++) {
		size_t s;

		if (served[i].start <= 1)
			continue;
		for (s = slot_of(served[i].start, cap); t[s].start; s = (s + 1) & (cap - 1))
			;
		t[s] = served[i];
		live++;
	}
	__libc_free(served);
	served = t;
	served_cap = cap;
	served_used = live;
	return true;
}

static bool served_add(uintptr_t start, size_t len)
{
	bool ok = true;
	size_t s;

	pthread_mutex_lock(&served_lock);
	if ((served_used + 1) * 2 > served_cap)
		ok = served_grow();
	if (ok) {
		for (s = slot_of(start, served_cap); served[s].start > 1;
		     s = (s + 1) & (served_cap - 1))
			;
		served_used += served[s].start == 0;
		served[s] = (struct served){ start, len };
	}
	pthread_mutex_unlock(&served_lock);
	return ok;
}

/* The length of the served mapping at start, or 0; forgets it when that
 * length is at most take (0: never; SIZE_MAX: always). */
static size_t served_find(uintptr_t start, size_t take)
{
	size_t len = 0;

	pthread_mutex_lock(&served_lock);
	for (size_t s = served_cap ? slot_of(start, served_cap) : 0; served_cap && served[s].start;
	     s = (s + 1) & (served_cap - 1)) {
		if (served[s].start == start) {
			len = served[s].len;
			if (len <= take)
				served[s].start = 1;
			break;
		}
	}
	pthread_mutex_unlock(&served_lock);
	return len;
}

/* ---- the region's side ---- */

void zr_discard(void *addr, size_t len)
{
	if (!len)
		return;
	if (atomic_load(&zr.mode) == ZR_ACTIVE && zr.pid == getpid()) {
		zr_internal++;
		zsswap_discard(zr.z, addr, len);
		zr_internal--;
	} else {
		zr_sys_madvise(addr, len, MADV_DONTNEED);
	}
}

static size_t page_round(size_t len)
{
	return (len + zr.page_size - 1) / zr.page_size * zr.page_size;
}

static bool serves(void *addr, int prot, int flags, int fd)
{
	const int refused = MAP_FIXED | MAP_FIXED_NOREPLACE | MAP_STACK | MAP_GROWSDOWN | MAP_HUGETLB;

	return !addr && fd == -1 && (flags & MAP_ANONYMOUS) && (flags & MAP_TYPE) == MAP_PRIVATE &&
	       !(flags & refused) && prot == (PROT_READ | PROT_WRITE) && !zr_in_mi &&
	       zr_routing() && zr.pid == getpid() && atomic_load(&zr.mode) == ZR_ACTIVE;
}

/* A zeroed, page-aligned block of the region, or NULL. */
static void *serve(size_t len)
{
	void *p = ZR_MI(mi_malloc_aligned(len, zr.page_size));

	if (!p)
		return NULL;
	if (!served_add((uintptr_t)p, len)) {
		ZR_MI_VOID(mi_free(p));
		return NULL;
	}
	zr_discard(p, len); /* reads as zeros, as fresh mmap memory does */
	return p;
}

static void unserve(void *p, size_t len)
{
	zr_discard(p, len);
	ZR_MI_VOID(mi_free(p));
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (len && serves(addr, prot, flags, fd)) {
		void *p = serve(page_round(len));

		if (p)
			return p;
		/* The region is full: the kernel's memory, outside the budget. */
	}
	if (!zr_internal && zr.hi && (flags & MAP_FIXED) && zr_in_region(addr, len)) {
		/* Over region memory: only anonymous memory can be put there. */
		if (fd != -1 || !(flags & MAP_ANONYMOUS) || (uintptr_t)addr % zr.page_size) {
			errno = EINVAL;
			return MAP_FAILED;
		}
		zr_discard(addr, page_round(len));
		if (prot != (PROT_READ | PROT_WRITE) && mprotect(addr, page_round(len), prot))
			return MAP_FAILED;
		return addr;
	}
	return zr_sys_mmap(addr, len, prot, flags, fd, off);
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return mmap(addr, len, prot, flags, fd, off);
}

int munmap(void *addr, size_t len)
{
	size_t whole;

	if (zr_internal || !zr.hi || !zr_in_region(addr, len))
		return zr_sys_munmap(addr, len);
	if ((uintptr_t)addr % zr.page_size || !len) {
		errno = EINVAL;
		return -1;
	}
	len = page_round(len);
	whole = served_find((uintptr_t)addr, len);
	if (whole && whole <= len) {
		unserve(addr, whole);
		return 0;
	}
	zr_discard(addr, len);
	return 0;
}

void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	void *new_addr = NULL, *p;
	size_t whole;
	va_list ap;

	if (flags & MREMAP_FIXED) {
		va_start(ap, flags);
		new_addr = va_arg(ap, void *);
		va_end(ap);
	}
	if (zr_internal || !zr.hi || !zr_in_region(old, 1))
		return (void *)syscall(SYS_mremap, old, old_len, new_len, flags, new_addr);
	whole = served_find((uintptr_t)old, 0);
	new_len = page_round(new_len);
	if (!whole || (flags & MREMAP_FIXED) || !new_len) {
		errno = EINVAL;
		return MAP_FAILED;
	}
	if (new_len <= whole) {
		zr_discard((char *)old + new_len, whole - new_len);
		return old;
	}
	if (!(flags & MREMAP_MAYMOVE) || !(p = serve(new_len))) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	memcpy(p, old, whole < old_len ? whole : page_round(old_len));
	if (served_find((uintptr_t)old, SIZE_MAX))
		unserve(old, whole);
	return p;
}

int madvise(void *addr, size_t len, int advice)
{
	if (zr_internal || !zr.hi || !zr_in_region(addr, len))
		return zr_sys_madvise(addr, len, advice);
	switch (advice) {
	case MADV_DONTNEED:
	case MADV_DONTNEED_LOCKED:
	case MADV_FREE:
	case MADV_REMOVE:
		if ((uintptr_t)addr % zr.page_size) {
			errno = EINVAL;
			return -1;
		}
		zr_discard(addr, page_round(len));
		return 0;
	case MADV_DONTFORK:
	case MADV_DOFORK:
	case MADV_HUGEPAGE: return 0;
	default: return zr_sys_madvise(addr, len, advice);
	}
}

int posix_madvise(void *addr, size_t len, int advice)
{
	/* POSIX_MADV_DONTNEED is only a hint: glibc ignores it too. */
	if (advice == POSIX_MADV_DONTNEED)
		return 0;
	return madvise(addr, len, advice) ? errno : 0;
}

pid_t fork(void)
{
	static pid_t (*real_fork)(void);
	pid_t pid;

	if (!real_fork) {
		zr_internal++; /* dlsym may allocate */
		real_fork = (pid_t(*)(void))dlsym(RTLD_NEXT, "fork");
		zr_internal--;
	}
	if (atomic_load(&zr.mode) != ZR_ACTIVE || zr.pid != getpid())
		return real_fork();
	zr_internal++;
	if (zsswap_fork_prepare(zr.z)) {
		zr_internal--;
		errno = ENOMEM;
		return -1;
	}
	pid = real_fork();
	if (pid == 0) {
		zsswap_fork_child(zr.z);
		atomic_store(&zr.mode, ZR_CHILD);
	} else {
		zsswap_fork_parent(zr.z);
	}
	zr_internal--;
	return pid;
}
