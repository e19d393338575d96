/*
 * page_source.c - pages for the zbud and z3fold backends, and their page
 * limit.
 *
 * A pool either uses the caller's struct zs_page_ops (the same page sources
 * zsmalloc takes) or a single-page source of its own (common/pages.h) with
 * zpool_page_policy below.  Either way this file counts the pages the pool
 * holds, refuses one past config.max_pages (ENOSPC) and checks that every
 * page is aligned to the page size.
 *
 * Locking: each backend calls its source with its pool lock held; the
 * built-in source has a leaf lock of its own.
 */
#include <errno.h>
#include <stdint.h>

#include "zpool_internal.h"

/* Churn would otherwise drop and fault in a page at nearly every free and
 * allocation (a TLB flush and a fault, tens of microseconds each on a virtual
 * machine): the last 32 pages given back stay resident; past them, each page
 * given back is dropped at once, so the process's resident memory falls.
 * Pages fault in when the backend writes their header. */
static const struct zs_single_policy zpool_page_policy = {
	.first_chunk_bytes = 16ul << 20,
	.max_chunk_bytes = 1ul << 30,
	.populate_bytes = 0,
	.warm_pages = 32,
	.release_batch = 1,
};

int zpool_page_source_init(struct zpool_page_source *src, const struct zpool_config *config)
{
	src->page_size = config && config->page_size ? config->page_size : 4096;
	src->pages = 0;
	src->max_pages = config ? config->max_pages : 0;
	/* Both callbacks, or neither: a half-given source means built-in. */
	if (config && config->page_ops && config->page_ops->alloc_page &&
	    config->page_ops->free_page) {
		src->ops = config->page_ops;
		src->ctx = config->page_ctx;
		return 0;
	}
	src->ops = &zs_single_page_ops;
	src->ctx = &src->builtin;
	if (zs_single_init(&src->builtin, src->page_size, &zpool_page_policy)) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

void zpool_page_source_destroy(struct zpool_page_source *src)
{
	if (src->ctx == &src->builtin)
		zs_single_destroy(&src->builtin);
}

void *zpool_page_alloc(struct zpool_page_source *src)
{
	void *page;

	if (src->max_pages && src->pages >= src->max_pages) {
		errno = ENOSPC;
		return NULL;
	}
	page = src->ops->alloc_page(src->ctx);
	if (!page) {
		errno = ENOMEM;
		return NULL;
	}
	if ((uintptr_t)page & (src->page_size - 1))
		zpool_misuse("page source returned %p, not aligned to the page size %zu", page,
			     src->page_size);
	src->pages++;
	return page;
}

void zpool_page_free(struct zpool_page_source *src, void *page)
{
	src->pages--;
	src->ops->free_page(src->ctx, page);
}
