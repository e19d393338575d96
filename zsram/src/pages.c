/*
 * pages.c - the store's page source (struct zs_page_ops) for zbud and
 * z3fold, and the pages of RAW slots (pages those backends cannot take).
 * zsmalloc uses its own built-in arena instead, where zspages are virtually
 * contiguous and backed page by page.
 *
 * Address space is mapped in chunks of CHUNK_BYTES and made resident
 * POPULATE_BYTES at a time in one call (MADV_POPULATE_WRITE), which costs
 * far less than a page fault per page; so at most POPULATE_BYTES of fresh
 * pages wait resident and unused.
 * Free pages wait for reuse on a list linked through their first word (no
 * memory of its own, so freeing never fails); when more than CACHE_HIGH of
 * them are resident, the excess above CACHE_LOW is given back to the system
 * (MADV_DONTNEED) and marked in its chunk's released bitmap, to be reused
 * after the resident ones.  Chunks are unmapped when the store is destroyed.
 *
 * The memory limit is the store's (zsram_alloc_within_limit), not this
 * file's: it is checked once an allocation is made, for every backend.
 *
 * lock guards everything here; the allocator calls in with a lock of its
 * own held, and nothing here calls back into it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "zsram_internal.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define CHUNK_BYTES	ZSRAM_CHUNK_BYTES
#define POPULATE_BYTES	(64u << 10)	/* made resident at once */
#define CACHE_HIGH	32	/* resident free pages that trigger a release */
#define CACHE_LOW	16	/* ... down to this many */

/* The chunk holding page, or NULL; caller holds lock.  A linear search:
 * it runs only when pages are released or reused after a release. */
static struct zsram_chunk *chunk_of(struct zsram_pages *pg, const void *page)
{
	ZS_ASSERT_HELD(&pg->lock);
	const unsigned char *p = page;

	for (size_t i = 0; i < pg->nr_chunks; i++) {
		struct zsram_chunk *c = &pg->chunks[i];

		if (p >= c->mem && p < c->mem + CHUNK_BYTES)
			return c;
	}
	return NULL;
}

static void free_push(struct zsram_pages *pg, void *page)
{
	*(void **)page = pg->free_head;
	pg->free_head = page;
	pg->nr_free++;
}

static void *free_pop(struct zsram_pages *pg)
{
	void *page = pg->free_head;

	pg->free_head = *(void **)page;
	pg->nr_free--;
	return page;
}

/* Takes a released page back (it faults in again on first use). */
static void *released_take(struct zsram_pages *pg)
{
	size_t per_chunk = CHUNK_BYTES / pg->page_size;

	for (size_t i = 0; i < pg->nr_chunks; i++) {
		struct zsram_chunk *c = &pg->chunks[i];

		for (size_t w = 0; w * 64 < per_chunk; w++) {
			if (!c->released[w])
				continue;
			size_t bit = (size_t)__builtin_ctzll(c->released[w]);

			c->released[w] &= c->released[w] - 1;
			pg->nr_released--;
			return c->mem + (w * 64 + bit) * pg->page_size;
		}
	}
	return NULL;
}

/* Gives the page's memory back to the system and marks it released. */
static void release(struct zsram_pages *pg, void *page)
{
	struct zsram_chunk *c = chunk_of(pg, page);
	size_t at;

	if (!c || madvise(page, pg->page_size, MADV_DONTNEED) != 0) {
		free_push(pg, page);	/* keep it resident instead */
		return;
	}
	at = (size_t)((unsigned char *)page - c->mem) / pg->page_size;
	c->released[at / 64] |= 1ull << (at % 64);
	pg->nr_released++;
}

/* Makes the next POPULATE_BYTES of the current chunk resident (mapping a
 * new chunk first if it is used up) and pushes those pages; caller holds
 * lock. */
static int pages_grow(struct zsram_pages *pg)
{
	ZS_ASSERT_HELD(&pg->lock);
	size_t ps = pg->page_size;
	size_t step = POPULATE_BYTES > ps ? POPULATE_BYTES : ps;
	size_t nr = step / ps;
	unsigned char *mem;

	if (!pg->nr_chunks || pg->chunk_used + step > CHUNK_BYTES) {
		size_t len = CHUNK_BYTES + (ps > 4096 ? ps : 0);
		unsigned char *raw;

		if (pg->nr_chunks == pg->cap_chunks) {
			size_t ncap = pg->cap_chunks ? pg->cap_chunks * 2 : 16;
			struct zsram_chunk *c = realloc(pg->chunks, ncap * sizeof(*c));

			if (!c)
				return -ENOMEM;
			pg->chunks = c;
			pg->cap_chunks = ncap;
		}
		raw = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			   -1, 0);
		if (raw == MAP_FAILED)
			return -ENOMEM;
		mem = (unsigned char *)(((uintptr_t)raw + ps - 1) & ~(uintptr_t)(ps - 1));
		if (mem > raw)
			munmap(raw, (size_t)(mem - raw));
		if (mem + CHUNK_BYTES < raw + len)
			munmap(mem + CHUNK_BYTES, (size_t)(raw + len - (mem + CHUNK_BYTES)));
		memset(&pg->chunks[pg->nr_chunks], 0, sizeof(pg->chunks[0]));
		pg->chunks[pg->nr_chunks++].mem = mem;
		pg->chunk_used = 0;
	}
	mem = pg->chunks[pg->nr_chunks - 1].mem + pg->chunk_used;
	pg->chunk_used += step;
	/* On an older kernel this fails and pages fault in on first use. */
	(void)madvise(mem, step, MADV_POPULATE_WRITE);
	/* Push in reverse so pages are handed out in address order. */
	for (size_t i = nr; i-- > 0;)
		free_push(pg, mem + i * ps);
	return 0;
}

static void *pages_alloc(void *ctx)
{
	struct zsram_pages *pg = ctx;
	void *page = NULL;

	zs_mutex_lock(&pg->lock);
	if (pg->nr_free)
		page = free_pop(pg);
	else if (pg->nr_released)
		page = released_take(pg);
	else if (pages_grow(pg) == 0)
		page = free_pop(pg);
	zs_mutex_unlock(&pg->lock);
	return page;
}

static void pages_free(void *ctx, void *page)
{
	struct zsram_pages *pg = ctx;

	zs_mutex_lock(&pg->lock);
	free_push(pg, page);
	if (pg->nr_free > CACHE_HIGH && !pg->dying)
		while (pg->nr_free > CACHE_LOW)
			release(pg, free_pop(pg));
	zs_mutex_unlock(&pg->lock);
}

void *zsram_pages_get(struct zsram_pages *pg)
{
	return pages_alloc(pg);
}

void zsram_pages_put(struct zsram_pages *pg, void *page)
{
	pages_free(pg, page);
}

const struct zs_page_ops zsram_page_ops = {
	.alloc_page = pages_alloc,
	.free_page = pages_free,
};

int zsram_pages_init(struct zsram_pages *pg, size_t page_size)
{
	memset(pg, 0, sizeof(*pg));
	pg->page_size = page_size;
	zs_mutex_init(&pg->lock);
	return 0;
}

void zsram_pages_dying(struct zsram_pages *pg)
{
	zs_mutex_lock(&pg->lock);
	pg->dying = true;
	zs_mutex_unlock(&pg->lock);
}

void zsram_pages_fini(struct zsram_pages *pg)
{
	for (size_t i = 0; i < pg->nr_chunks; i++)
		munmap(pg->chunks[i].mem, CHUNK_BYTES);
	free(pg->chunks);
	zs_mutex_destroy(&pg->lock);
	memset(pg, 0, sizeof(*pg));
}
