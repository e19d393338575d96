/*
 * page_source.c - pages for the zbud and z3fold backends.
 *
 * A pool either uses the caller's struct zs_page_ops (the same page sources
 * zsmalloc takes) or the built-in arena: address space reserved in large
 * chunks (mmap MAP_NORESERVE: nothing resident until a page is touched),
 * handed out page by page from the front of the newest chunk.  The last
 * ZPOOL_WARM_PAGES pages given back stay resident and are reused first, so
 * that churn does not drop and fault in a page at every step; past those, a
 * page given back is dropped with MADV_DONTNEED, so the process's resident
 * memory falls at once, and its address goes on a stack of free pages that
 * the next allocation reuses.  Chunks are unmapped when the pool is
 * destroyed.
 *
 * Locking: none here; each backend calls its source with its pool lock held.
 * Metadata: one pointer per free page plus one small struct per chunk.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "zpool_internal.h"

#define ARENA_FIRST_CHUNK_BYTES (16ul << 20)
#define ARENA_MAX_CHUNK_BYTES (1ul << 30)

int zpool_check_page_size(size_t page_size)
{
	if (page_size < 4096 || page_size > 65536)
		return -1;
	if (page_size & (page_size - 1))
		return -1;
	return 0;
}

void zpool_page_source_init(struct zpool_page_source *src,
			    const struct zpool_config *config)
{
	src->page_size = config && config->page_size ? config->page_size : 4096;
	src->ops = NULL;
	src->ctx = NULL;
	/* Both callbacks, or neither: a half-given source means built-in. */
	if (config && config->page_ops && config->page_ops->alloc_page &&
	    config->page_ops->free_page) {
		src->ops = config->page_ops;
		src->ctx = config->page_ctx;
	}
	src->chunks = NULL;
	src->next_chunk_bytes = ARENA_FIRST_CHUNK_BYTES;
	src->free_pages = NULL;
	src->nr_free = 0;
	src->free_capacity = 0;
	src->nr_warm = 0;
}

void zpool_page_source_destroy(struct zpool_page_source *src)
{
	struct zpool_arena_chunk *chunk = src->chunks;

	while (chunk) {
		struct zpool_arena_chunk *next = chunk->next;

		munmap(chunk->mem, chunk->bytes);
		free(chunk);
		chunk = next;
	}
	src->chunks = NULL;
	free(src->free_pages);
	src->free_pages = NULL;
	src->nr_free = src->free_capacity = 0;
}

/* Reserves bytes of address space aligned to the page size. */
static void *reserve_aligned(size_t bytes, size_t align)
{
	long sys = sysconf(_SC_PAGESIZE);
	size_t extra = (sys > 0 && align <= (size_t)sys) ? 0 : align;
	char *map;
	uintptr_t start, aligned;

	map = mmap(NULL, bytes + extra, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
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

static struct zpool_arena_chunk *arena_grow(struct zpool_page_source *src)
{
	struct zpool_arena_chunk *chunk = malloc(sizeof(*chunk));

	if (!chunk)
		return NULL;
	chunk->bytes = src->next_chunk_bytes;
	chunk->mem = reserve_aligned(chunk->bytes, src->page_size);
	if (!chunk->mem) {
		free(chunk);
		return NULL;
	}
	chunk->used = 0;
	chunk->next = src->chunks;
	src->chunks = chunk;
	if (src->next_chunk_bytes < ARENA_MAX_CHUNK_BYTES)
		src->next_chunk_bytes *= 2;
	return chunk;
}

static void *arena_alloc(struct zpool_page_source *src)
{
	struct zpool_arena_chunk *chunk = src->chunks;
	void *page;

	if (src->nr_warm)
		return src->warm[--src->nr_warm];
	if (src->nr_free)
		return src->free_pages[--src->nr_free];
	if (!chunk || chunk->used + src->page_size > chunk->bytes) {
		chunk = arena_grow(src);
		if (!chunk)
			return NULL;
	}
	page = chunk->mem + chunk->used;
	chunk->used += src->page_size;
	return page;
}

static void arena_free(struct zpool_page_source *src, void *page)
{
	if (src->nr_warm < ZPOOL_WARM_PAGES) {
		src->warm[src->nr_warm++] = page;
		return;
	}
	madvise(page, src->page_size, MADV_DONTNEED);
	if (src->nr_free == src->free_capacity) {
		size_t capacity = src->free_capacity ? 2 * src->free_capacity : 256;
		void **grown = realloc(src->free_pages, capacity * sizeof(*grown));

		if (!grown) {
			/* No room to remember it: give the address space back
			 * instead; the chunk's final munmap covers the hole. */
			munmap(page, src->page_size);
			return;
		}
		src->free_pages = grown;
		src->free_capacity = capacity;
	}
	src->free_pages[src->nr_free++] = page;
}

void *zpool_page_alloc(struct zpool_page_source *src)
{
	void *page;

	if (src->ops)
		page = src->ops->alloc_page(src->ctx);
	else
		page = arena_alloc(src);
	if (!page) {
		errno = ENOMEM;
		return NULL;
	}
	if ((uintptr_t)page & (src->page_size - 1))
		zpool_misuse("page source returned %p, not aligned to the page size %zu",
			     page, src->page_size);
	return page;
}

void zpool_page_free(struct zpool_page_source *src, void *page)
{
	if (src->ops)
		src->ops->free_page(src->ctx, page);
	else
		arena_free(src, page);
}
