/*
 * page_source.c - where a pool's pages come from and go back to.
 *
 * Two sources:
 *  - the caller's struct zs_page_ops: one page per call, any address;
 *  - the built-in arena: large reservations of virtual memory (mmap with
 *    MAP_NORESERVE, nothing resident until touched) carved into runs of
 *    pages with a bitmap.  A zspage reserves its whole run at once, so its
 *    pages are virtually contiguous and objects that cross a page boundary
 *    are reached in place; physical memory appears only where objects are
 *    written.  Pages given back are dropped with MADV_DONTNEED, so the
 *    process's resident memory falls at once.
 *
 * Locking: source->lock guards the arena's chunks and bitmaps; it is a leaf
 * lock.  The caller's ops are called with a class lock held.
 *
 * Reservation (zs_reserve_aligned) and populate (zs_populate) are the page
 * layer's in common/pages.h.  Pages are made resident as zspages back them,
 * with one madvise(MADV_POPULATE_WRITE) per backing rather than a page fault
 * on first write, which costs several times more on virtual machines.
 *
 * Releasing pages costs a system call and a TLB flush each time, and the
 * flush dominates on virtual machines.  A release batch goes to the kernel in
 * one process_madvise(MADV_DONTNEED) call per 1024 ranges (Linux 6.13+ takes
 * it for the calling process, 6.16+ flushes the TLB once per call), or in one
 * madvise call per range where the kernel refuses that.
 *
 * Metadata: one bit per arena page (bitmap) plus 64 bytes per chunk.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"

#define ARENA_FIRST_CHUNK_BYTES (64ul << 20)
#define ARENA_MAX_CHUNK_BYTES (4ul << 30)

int zs_source_init(struct zs_page_source *src, size_t page_size, const struct zs_page_ops *ops,
		   void *ctx)
{
	memset(src, 0, sizeof(*src));
	src->page_size = page_size;
	src->ctx = ctx;
	/* Both callbacks, or neither: a half-given source means built-in. */
	if (ops && ops->alloc_page && ops->free_page)
		src->ops = ops;
	src->next_chunk_pages = ARENA_FIRST_CHUNK_BYTES / page_size;
	return zs_mutex_init(&src->lock) ? -1 : 0;
}

void zs_source_destroy(struct zs_page_source *src)
{
	struct zs_arena_chunk *ch = src->chunks;
	while (ch) {
		struct zs_arena_chunk *next = ch->next;
		munmap(ch->mem, ch->npages * src->page_size);
		zs_meta_free(ch->bitmap);
		zs_meta_free(ch);
		ch = next;
	}
	src->chunks = NULL;
	zs_mutex_destroy(&src->lock);
}

static struct zs_arena_chunk *arena_add_chunk(struct zs_page_source *src, size_t min_pages)
{
	size_t npages = src->next_chunk_pages;
	while (npages < min_pages)
		npages *= 2;
	size_t bytes = npages * src->page_size;
	struct zs_arena_chunk *ch = zs_meta_calloc(1, sizeof(*ch));
	uint64_t *bitmap = zs_meta_calloc((npages + 63) / 64, sizeof(uint64_t));
	void *mem = ch && bitmap ? zs_reserve_aligned(bytes, src->page_size) : NULL;
	if (!mem) {
		zs_meta_free(ch);
		zs_meta_free(bitmap);
		return NULL;
	}
	ch->mem = mem;
	ch->npages = npages;
	ch->bitmap = bitmap;
	ch->next = src->chunks;
	src->chunks = ch;
	if (bytes * 2 <= ARENA_MAX_CHUNK_BYTES)
		src->next_chunk_pages = npages * 2;
	return ch;
}

static inline bool bit_test(const uint64_t *bm, size_t i)
{
	return bm[i / 64] >> (i % 64) & 1;
}

/* Sets or clears bits [i, i + n). */
static void bits_assign(uint64_t *bm, size_t i, size_t n, bool set)
{
	while (n) {
		size_t off = i % 64;
		size_t take = 64 - off < n ? 64 - off : n;
		uint64_t mask = (take == 64 ? ~0ull : ((1ull << take) - 1)) << off;
		if (set)
			bm[i / 64] |= mask;
		else
			bm[i / 64] &= ~mask;
		i += take;
		n -= take;
	}
}

/* First run of n clear bits in [from, limit), or limit if none. */
static size_t find_clear_run(const uint64_t *bm, size_t from, size_t limit, size_t n)
{
	size_t i = from;
	while (i + n <= limit) {
		/* Skip whole words that are full. */
		if (i % 64 == 0 && bm[i / 64] == ~0ull) {
			i += 64;
			continue;
		}
		if (bit_test(bm, i)) {
			i++;
			continue;
		}
		size_t run = 1;
		while (run < n && !bit_test(bm, i + run))
			run++;
		if (run == n)
			return i;
		i += run + 1;
	}
	return limit;
}

/* n pages of chunk ch, marked in use, or NULL; arena lock held. */
static void *arena_take(struct zs_page_source *src, struct zs_arena_chunk *ch, size_t n)
{
	ZS_ASSERT_HELD(&src->lock);
	if (ch->npages - ch->used < n)
		return NULL;
	size_t at = find_clear_run(ch->bitmap, ch->hint, ch->npages, n);
	if (at == ch->npages)
		at = find_clear_run(ch->bitmap, 0, ch->npages, n);
	if (at == ch->npages)
		return NULL;
	bits_assign(ch->bitmap, at, n, true);
	ch->used += n;
	ch->hint = at + n;
	return ch->mem + at * src->page_size;
}

void *zs_arena_alloc(struct zs_page_source *src, size_t n)
{
	void *p = NULL;
	zs_mutex_lock(&src->lock);
	for (struct zs_arena_chunk *ch = src->chunks; ch && !p; ch = ch->next)
		p = arena_take(src, ch, n);
	if (!p) {
		struct zs_arena_chunk *ch = arena_add_chunk(src, n);
		if (ch)
			p = arena_take(src, ch, n);
	}
	zs_mutex_unlock(&src->lock);
	if (!p)
		errno = ENOMEM;
	return p;
}

static struct zs_arena_chunk *arena_chunk_of(struct zs_page_source *src, const void *p)
{
	for (struct zs_arena_chunk *ch = src->chunks; ch; ch = ch->next)
		if ((const char *)p >= ch->mem &&
		    (const char *)p < ch->mem + ch->npages * src->page_size)
			return ch;
	return NULL;
}

/* Marks n pages from p free again; arena lock held. */
static void arena_unmark(struct zs_page_source *src, void *p, size_t n)
{
	ZS_ASSERT_HELD(&src->lock);
	struct zs_arena_chunk *ch = arena_chunk_of(src, p);
	if (ch) {
		size_t at = (size_t)((char *)p - ch->mem) / src->page_size;
		bits_assign(ch->bitmap, at, n, false);
		ch->used -= n;
		if (at < ch->hint)
			ch->hint = at;
	}
}

void zs_arena_free(struct zs_page_source *src, void *p, size_t n)
{
	/* Drop the memory first: the system call needs no lock. */
	if (!src->unmapping)
		madvise(p, n * src->page_size, MADV_DONTNEED);
	zs_mutex_lock(&src->lock);
	arena_unmark(src, p, n);
	zs_mutex_unlock(&src->lock);
}

void *zs_arena_take_warm(struct zs_page_source *src)
{
	void *page = NULL;
	zs_mutex_lock(&src->lock);
	if (src->nr_warm)
		page = src->warm[--src->nr_warm];
	zs_mutex_unlock(&src->lock);
	return page;
}

bool zs_arena_keep_warm(struct zs_page_source *src, void *page)
{
	bool kept = false;
	zs_mutex_lock(&src->lock);
	if (src->nr_warm < ZS_WARM_PAGES && !src->unmapping) {
		src->warm[src->nr_warm++] = page;
		kept = true;
	}
	zs_mutex_unlock(&src->lock);
	return kept;
}

void zs_arena_drop_warm(struct zs_page_source *src)
{
	void *pages[ZS_WARM_PAGES];
	zs_mutex_lock(&src->lock);
	unsigned int n = src->nr_warm;
	memcpy(pages, src->warm, n * sizeof(pages[0]));
	src->nr_warm = 0;
	zs_mutex_unlock(&src->lock);
	struct zs_release_batch batch = { 0 };
	for (unsigned int i = 0; i < n; i++)
		zs_arena_free_later(src, &batch, pages[i], 1);
	zs_arena_flush(src, &batch);
}

void zs_arena_free_later(struct zs_page_source *src, struct zs_release_batch *batch, void *p, size_t n)
{
	if (batch->count == batch->cap) {
		size_t cap = batch->cap ? batch->cap * 2 : 64;
		struct zs_release_run *runs = NULL;
		if (!zs_meta_should_fail())
			runs = realloc(batch->runs, cap * sizeof(*runs));
		if (!runs) {
			zs_arena_free(src, p, n);
			return;
		}
		batch->runs = runs;
		batch->cap = cap;
	}
	batch->runs[batch->count++] = (struct zs_release_run){ .start = p, .npages = n };
}

/* A pidfd of this process for process_madvise: -1 not tried yet, -2 not
 * available (then plain madvise).  Opened once; a fork's child opens its own
 * (the pid differs). */
static _Atomic int self_pidfd = -1;
static _Atomic pid_t self_pidfd_pid;

static int release_pidfd(void)
{
#if defined(SYS_process_madvise) && defined(SYS_pidfd_open)
	pid_t pid = getpid();
	int fd = atomic_load(&self_pidfd);
	if (fd != -1 && atomic_load(&self_pidfd_pid) == pid)
		return fd;
	int opened = (int)syscall(SYS_pidfd_open, pid, 0);
	if (opened < 0)
		opened = -2;
	int expected = fd;
	if (atomic_compare_exchange_strong(&self_pidfd, &expected, opened)) {
		atomic_store(&self_pidfd_pid, pid);
		return opened;
	}
	if (opened >= 0)
		close(opened); /* another thread won */
	return atomic_load(&self_pidfd);
#else
	return -2;
#endif
}

/* Drops the memory of n ranges, in as few system calls as the kernel allows. */
static void release_ranges(struct iovec *iov, size_t n)
{
	int fd = release_pidfd();
	size_t done = 0;
#if defined(SYS_process_madvise)
	while (fd >= 0 && done < n) {
		size_t k = n - done < 1024 ? n - done : 1024; /* UIO_MAXIOV */
		size_t bytes = 0;
		for (size_t i = 0; i < k; i++)
			bytes += iov[done + i].iov_len;
		long r = syscall(SYS_process_madvise, fd, iov + done, k, MADV_DONTNEED, 0);
		if (r != (long)bytes) {
			/* Refused (older kernel) or partial: finish with madvise,
			 * which is idempotent on what was done. */
			if (r < 0 && (errno == EINVAL || errno == ENOSYS || errno == EPERM))
				atomic_store(&self_pidfd, -2);
			break;
		}
		done += k;
	}
#endif
	(void)fd;
	for (; done < n; done++)
		madvise(iov[done].iov_base, iov[done].iov_len, MADV_DONTNEED);
}

static int run_order(const void *a, const void *b)
{
	const struct zs_release_run *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

void zs_arena_flush(struct zs_page_source *src, struct zs_release_batch *batch)
{
	if (!batch->count)
		goto out;
	qsort(batch->runs, batch->count, sizeof(*batch->runs), run_order);
	/* One range per stretch of adjacent runs; the ranges can reuse the
	 * front of the run array, which is read ahead of where they are
	 * written... but iovecs are larger, so build them apart. */
	struct iovec *iov = malloc(batch->count * sizeof(*iov));
	size_t nranges = 0, i = 0;
	while (i < batch->count) {
		char *start = batch->runs[i].start;
		size_t npages = batch->runs[i].npages;
		size_t j = i + 1;
		while (j < batch->count && batch->runs[j].start == start + npages * src->page_size) {
			npages += batch->runs[j].npages;
			j++;
		}
		if (iov)
			iov[nranges++] = (struct iovec){ start, npages * src->page_size };
		else
			madvise(start, npages * src->page_size, MADV_DONTNEED);
		i = j;
	}
	if (iov) {
		release_ranges(iov, nranges);
		free(iov);
	}
	zs_mutex_lock(&src->lock);
	for (i = 0; i < batch->count; i++)
		arena_unmark(src, batch->runs[i].start, batch->runs[i].npages);
	zs_mutex_unlock(&src->lock);
out:
	free(batch->runs);
	batch->runs = NULL;
	batch->count = batch->cap = 0;
}

void zs_arena_release(struct zs_page_source *src, void *p, size_t n)
{
	madvise(p, n * src->page_size, MADV_DONTNEED);
}

bool zs_arena_owns(struct zs_page_source *src, const void *p)
{
	bool owned = false;
	zs_mutex_lock(&src->lock);
	struct zs_arena_chunk *ch = arena_chunk_of(src, p);
	if (ch && ((uintptr_t)p & (src->page_size - 1)) == 0)
		owned = bit_test(ch->bitmap, (size_t)((const char *)p - ch->mem) / src->page_size);
	zs_mutex_unlock(&src->lock);
	return owned;
}

void *zs_source_alloc_page(struct zs_page_source *src)
{
	if (zs_source_is_arena(src))
		return zs_arena_alloc(src, 1);
	void *page = src->ops->alloc_page(src->ctx);
	if (!page)
		errno = ENOMEM;
	return page;
}

void zs_source_free_page(struct zs_page_source *src, void *page)
{
	if (zs_source_is_arena(src))
		zs_arena_free(src, page, 1);
	else
		src->ops->free_page(src->ctx, page);
}
