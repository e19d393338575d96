/*
 * pages.c - the internal page layer (see pages.h): reservation, populate,
 * release, page-size validation, the same-filled check and the single-page
 * source.
 *
 * Locking: the helpers keep no state (the populate fallback is the kernel's
 * refusal, asked again each time: a cheap system call that fails at once).
 * A single-page source's lock guards all of it and is a leaf: nothing is
 * called with it held but mmap, madvise and malloc.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pages.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

bool zs_page_size_valid(size_t page_size)
{
	return page_size >= ZS_MIN_PAGE_SIZE && page_size <= ZS_MAX_PAGE_SIZE &&
	       (page_size & (page_size - 1)) == 0;
}

bool zs_page_same_filled(const void *page, size_t page_size, uint64_t *word)
{
	const unsigned char *p = page;
	uint64_t first, w;

	memcpy(&first, p, sizeof(first));
	/* The last word first: most pages that are not same-filled differ
	 * there already. */
	memcpy(&w, p + page_size - sizeof(w), sizeof(w));
	if (w != first)
		return false;
	for (size_t off = sizeof(w); off < page_size; off += sizeof(w)) {
		memcpy(&w, p + off, sizeof(w));
		if (w != first)
			return false;
	}
	if (word)
		*word = first;
	return true;
}

void *zs_reserve_aligned(size_t bytes, size_t align)
{
	long sys = sysconf(_SC_PAGESIZE);
	/* The kernel aligns to its own page only: past that, reserve one
	 * alignment more and trim both ends. */
	size_t extra = sys > 0 && align <= (size_t)sys ? 0 : align;
	unsigned char *map = mmap(NULL, bytes + extra, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	uintptr_t start, aligned;

	if (map == MAP_FAILED)
		return NULL;
	if (!extra)
		return map;
	start = (uintptr_t)map;
	aligned = (start + align - 1) & ~(uintptr_t)(align - 1);
	if (aligned > start)
		munmap(map, aligned - start);
	if (start + extra > aligned)
		munmap((void *)(aligned + bytes), start + extra - aligned);
	return (void *)aligned;
}

void zs_populate(void *p, size_t bytes)
{
	/* A page fault costs 5-10 times this system call on virtual machines
	 * (measured here: 33-40 us against 6.5 us a page). */
	(void)madvise(p, bytes, MADV_POPULATE_WRITE);
}

int zs_release(void *p, size_t bytes)
{
	return madvise(p, bytes, MADV_DONTNEED);
}

/* ---- the single-page source ---- */

int zs_single_init(struct zs_single_source *src, size_t page_size,
		   const struct zs_single_policy *policy)
{
	memset(src, 0, sizeof(*src));
	src->page_size = page_size;
	src->policy = policy;
	src->next_chunk_bytes = policy->first_chunk_bytes;
	return pthread_mutex_init(&src->lock, NULL) ? -1 : 0;
}

static void free_push(struct zs_single_source *src, void *page)
{
	*(void **)page = src->free_head;
	src->free_head = page;
	src->nr_free++;
}

static void *free_pop(struct zs_single_source *src)
{
	void *page = src->free_head;

	src->free_head = *(void **)page;
	src->nr_free--;
	return page;
}

/* The chunk holding page, or NULL.  A linear search: it runs only when
 * pages are released. */
static struct zs_single_chunk *chunk_of(struct zs_single_source *src, const void *page)
{
	const unsigned char *p = page;

	for (struct zs_single_chunk *c = src->chunks; c; c = c->next)
		if (p >= c->mem && p < c->mem + c->bytes)
			return c;
	return NULL;
}

/* Gives one free page's memory back and marks it released. */
static void release_page(struct zs_single_source *src, void *page)
{
	struct zs_single_chunk *c = chunk_of(src, page);
	size_t at;

	if (!c || zs_release(page, src->page_size) != 0) {
		free_push(src, page); /* keep it resident instead */
		return;
	}
	at = (size_t)((unsigned char *)page - c->mem) / src->page_size;
	c->released[at / 64] |= 1ull << (at % 64);
	c->nr_released++;
	src->nr_released++;
}

/* Takes a released page back (it faults in again on first use). */
static void *released_take(struct zs_single_source *src)
{
	for (struct zs_single_chunk *c = src->chunks; c; c = c->next) {
		if (!c->nr_released)
			continue;
		for (size_t w = 0;; w++) {
			if (!c->released[w])
				continue;
			size_t bit = (size_t)__builtin_ctzll(c->released[w]);

			c->released[w] &= c->released[w] - 1;
			c->nr_released--;
			src->nr_released--;
			return c->mem + (w * 64 + bit) * src->page_size;
		}
	}
	return NULL;
}

static struct zs_single_chunk *chunk_add(struct zs_single_source *src)
{
	size_t bytes = src->next_chunk_bytes;
	size_t words = (bytes / src->page_size + 63) / 64;
	struct zs_single_chunk *c = calloc(1, sizeof(*c));

	if (c)
		c->released = calloc(words, sizeof(*c->released));
	if (c && c->released)
		c->mem = zs_reserve_aligned(bytes, src->page_size);
	if (!c || !c->mem) {
		if (c)
			free(c->released);
		free(c);
		return NULL;
	}
	c->bytes = bytes;
	c->next = src->chunks;
	src->chunks = c;
	src->chunk_used = 0;
	if (bytes < src->policy->max_chunk_bytes)
		src->next_chunk_bytes = bytes * 2;
	return c;
}

/* Cuts the next populate step of fresh pages (mapping a new chunk when the
 * newest is used up) and puts them on the free list; 0 or -1. */
static int cut_fresh(struct zs_single_source *src)
{
	size_t ps = src->page_size;
	size_t step = src->policy->populate_bytes > ps ? src->policy->populate_bytes : ps;
	struct zs_single_chunk *c = src->chunks;
	unsigned char *mem;

	if (!c || src->chunk_used + step > c->bytes) {
		c = chunk_add(src);
		if (!c)
			return -1;
	}
	mem = c->mem + src->chunk_used;
	src->chunk_used += step;
	if (src->policy->populate_bytes)
		zs_populate(mem, step);
	/* Pushed in reverse, so that pages are handed out in address order. */
	for (size_t i = step / ps; i-- > 0;)
		free_push(src, mem + i * ps);
	return 0;
}

void *zs_single_alloc(struct zs_single_source *src)
{
	void *page = NULL;

	pthread_mutex_lock(&src->lock);
	if (src->nr_free)
		page = free_pop(src);
	else if (src->nr_released)
		page = released_take(src);
	else if (cut_fresh(src) == 0)
		page = free_pop(src);
	pthread_mutex_unlock(&src->lock);
	if (!page)
		errno = ENOMEM;
	return page;
}

void zs_single_free(struct zs_single_source *src, void *page)
{
	const struct zs_single_policy *policy = src->policy;

	pthread_mutex_lock(&src->lock);
	free_push(src, page);
	if (src->nr_free > policy->warm_pages && !src->dying)
		for (unsigned int i = 0; i < policy->release_batch && src->nr_free; i++)
			release_page(src, free_pop(src));
	pthread_mutex_unlock(&src->lock);
}

void zs_single_dying(struct zs_single_source *src)
{
	pthread_mutex_lock(&src->lock);
	src->dying = true;
	pthread_mutex_unlock(&src->lock);
}

void zs_single_destroy(struct zs_single_source *src)
{
	struct zs_single_chunk *c = src->chunks;

	while (c) {
		struct zs_single_chunk *next = c->next;

		munmap(c->mem, c->bytes);
		free(c->released);
		free(c);
		c = next;
	}
	pthread_mutex_destroy(&src->lock);
	memset(src, 0, sizeof(*src));
}

static void *single_alloc_page(void *ctx)
{
	return zs_single_alloc(ctx);
}

static void single_free_page(void *ctx, void *page)
{
	zs_single_free(ctx, page);
}

const struct zs_page_ops zs_single_page_ops = {
	.alloc_page = single_alloc_page,
	.free_page = single_free_page,
};
