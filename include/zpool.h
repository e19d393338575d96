/*
 * zpool.h - one interface over three compressed-object allocators.
 *
 * Backends, chosen by name at creation:
 *   "zsmalloc"  size classes and zspages (dense; compacts)
 *   "zbud"      at most two objects per page, one from each end
 *   "z3fold"    up to three objects per page (first, middle, last)
 * All take the same page sources as zsmalloc (struct zs_page_ops) and a page
 * limit, and keep zsmalloc's thread-safety rules: any call from any thread at
 * any time; a handle must not be freed while it is mapped or read.  This is
 * the one allocator interface of the tree: zsram and zsbench reach every
 * backend, zsmalloc too, through it.
 *
 * Link with -lzpool (pkg-config zpool).
 */
#ifndef ZPOOL_H
#define ZPOOL_H

#include <stddef.h>
#include <stdio.h>
#include <zsmalloc.h>

#ifdef __cplusplus
extern "C" {
#endif

struct zpool;

struct zpool_config {
	size_t page_size;		    /* 0: 4096; power of two 4096..65536 */
	unsigned int max_pages_per_zspage;  /* zsmalloc only; 0: default */
	const struct zs_page_ops *page_ops; /* NULL: built-in page source */
	void *page_ctx;
	unsigned long max_pages; /* page limit; 0: none (zpool_malloc) */
};

/* Names of the available backends; writes up to max of them into names and
 * returns how many there are. */
size_t zpool_backends(const char **names, size_t max);

/* NULL on failure with errno: ENOENT (no backend of that name), EINVAL (bad
 * config), ENOMEM.  config may be NULL for defaults. */
struct zpool *zpool_create(const char *backend, const char *name, const struct zpool_config *config);
void zpool_destroy(struct zpool *pool); /* frees every page, live objects too */
const char *zpool_backend_name(const struct zpool *pool);

/* 0 on failure, errno: EINVAL (size 0), E2BIG (size > zpool_max_size),
 * ENOSPC (the object needs a page past config.max_pages; nothing changed),
 * ENOMEM. */
unsigned long zpool_malloc(struct zpool *pool, size_t size);
void zpool_free(struct zpool *pool, unsigned long handle); /* 0: no-op */

/* Largest object the backend takes (zbud and z3fold keep a header per page,
 * so theirs is below the page size). */
size_t zpool_max_size(struct zpool *pool);
/* Objects larger than this take a page of their own. */
size_t zpool_huge_size(struct zpool *pool);
size_t zpool_page_size(const struct zpool *pool);

void *zpool_map(struct zpool *pool, unsigned long handle, enum zs_mapmode mm);
void zpool_unmap(struct zpool *pool, unsigned long handle);
void *zpool_read_begin(struct zpool *pool, unsigned long handle, void *local_copy);
void zpool_read_end(struct zpool *pool, unsigned long handle, void *handle_mem);
void zpool_write(struct zpool *pool, unsigned long handle, const void *mem, size_t len);

unsigned long zpool_total_pages(struct zpool *pool);
/* Pages freed by compaction; backends that cannot compact return 0 and do
 * nothing (zpool_can_compact says which). */
unsigned long zpool_compact(struct zpool *pool);
int zpool_can_compact(const struct zpool *pool);
/* Pages compaction has freed over the pool's life (0 where it cannot). */
unsigned long zpool_pages_compacted(struct zpool *pool);

/* Human-readable statistics of the backend (zsmalloc: its class table). */
int zpool_print_stats(struct zpool *pool, FILE *out);
/* The backend's account of its memory (zsmalloc: zs_pool_memory): 0, or -1
 * with errno ENOTSUP for a backend that keeps none (zbud, z3fold). */
int zpool_pool_memory(struct zpool *pool, struct zs_pool_memory *mem);
/* The backend's consistency checker: walks every page and list it keeps and
 * checks them against its counters.  0 when consistent, else -1 and a reason
 * in why (may be NULL). */
int zpool_check(struct zpool *pool, char *why, size_t why_len);

#ifdef __cplusplus
}
#endif

#endif /* ZPOOL_H */
