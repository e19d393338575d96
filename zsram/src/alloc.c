/*
 * alloc.c - the store's allocator indirection.
 *
 * The store calls its allocator only through struct zsram_alloc_ops, so the
 * allocator can be chosen at creation: zsmalloc (always, through its public
 * API) and, when libzsram is built with zpool (ZSRAM_HAVE_ZPOOL), zpool's
 * backends (zbud, z3fold).  Every op is thread-safe as the allocator itself
 * is; this file adds no locking.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zsmalloc.h>
#ifdef ZSRAM_HAVE_ZPOOL
#include <zpool.h>
#endif

#include "zsram_internal.h"

/* ---- zsmalloc ---- */

static unsigned long zsm_malloc(void *pool, size_t size)
{
	return zs_malloc(pool, size);
}

static void zsm_free(void *pool, unsigned long handle)
{
	zs_free(pool, handle);
}

static void *zsm_read_begin(void *pool, unsigned long handle, void *local_copy)
{
	return zs_obj_read_begin(pool, handle, local_copy);
}

static void zsm_read_end(void *pool, unsigned long handle, void *mem)
{
	zs_obj_read_end(pool, handle, mem);
}

static void zsm_write(void *pool, unsigned long handle, const void *mem, size_t len)
{
	zs_obj_write(pool, handle, (void *)mem, len);
}

static unsigned long zsm_total_pages(void *pool)
{
	return zs_get_total_pages(pool);
}

static unsigned long zsm_compact(void *pool)
{
	return zs_compact(pool);
}

static unsigned long zsm_pages_compacted(void *pool)
{
	struct zs_pool_stats st = { 0 };

	zs_pool_stats(pool, &st);
	return st.pages_compacted;
}

static int zsm_print_stats(void *pool, FILE *out)
{
	return zs_print_class_stats(pool, out);
}

static int zsm_check(void *pool, char *why, size_t why_len)
{
	return zs_pool_check(pool, why, why_len);
}

static void zsm_destroy(void *pool)
{
	zs_destroy_pool(pool);
}

static const struct zsram_alloc_ops zsmalloc_ops = {
	.malloc = zsm_malloc,
	.free = zsm_free,
	.read_begin = zsm_read_begin,
	.read_end = zsm_read_end,
	.write = zsm_write,
	.total_pages = zsm_total_pages,
	.compact = zsm_compact,
	.pages_compacted = zsm_pages_compacted,
	.print_stats = zsm_print_stats,
	.check = zsm_check,
	.destroy = zsm_destroy,
};

/* ---- zpool (zbud, z3fold; zsmalloc stays direct) ---- */

#ifdef ZSRAM_HAVE_ZPOOL
static unsigned long zp_malloc(void *pool, size_t size)
{
	return zpool_malloc(pool, size);
}

static void zp_free(void *pool, unsigned long handle)
{
	zpool_free(pool, handle);
}

static void *zp_read_begin(void *pool, unsigned long handle, void *local_copy)
{
	return zpool_read_begin(pool, handle, local_copy);
}

static void zp_read_end(void *pool, unsigned long handle, void *mem)
{
	zpool_read_end(pool, handle, mem);
}

static void zp_write(void *pool, unsigned long handle, const void *mem, size_t len)
{
	zpool_write(pool, handle, mem, len);
}

static unsigned long zp_total_pages(void *pool)
{
	return zpool_total_pages(pool);
}

static unsigned long zp_compact(void *pool)
{
	return zpool_compact(pool);
}

static int zp_print_stats(void *pool, FILE *out)
{
	return zpool_print_stats(pool, out);
}

static void zp_destroy(void *pool)
{
	zpool_destroy(pool);
}

static const struct zsram_alloc_ops zpool_ops = {
	.malloc = zp_malloc,
	.free = zp_free,
	.read_begin = zp_read_begin,
	.read_end = zp_read_end,
	.write = zp_write,
	.total_pages = zp_total_pages,
	.compact = zp_compact,
	.pages_compacted = NULL,
	.print_stats = zp_print_stats,
	.check = NULL,
	.destroy = zp_destroy,
};
#endif

size_t zsram_allocators(const char **names, size_t max)
{
#ifdef ZSRAM_HAVE_ZPOOL
	static const char *const all[] = { "zsmalloc", "zbud", "z3fold" };
#else
	static const char *const all[] = { "zsmalloc" };
#endif
	size_t n = sizeof(all) / sizeof(all[0]);

	for (size_t i = 0; i < n && i < max; i++)
		names[i] = all[i];
	return n;
}

int zsram_alloc_init(struct zsram_alloc *a, const char *backend,
		     const char *name, size_t page_size, struct zsram_pages *pages,
		     uint64_t limit_pages)
{
	memset(a, 0, sizeof(*a));
	if (!backend || strcmp(backend, "zsmalloc") == 0) {
		/* The built-in arena: virtually contiguous zspages backed page
		 * by page, which keeps the pool smaller than pages from a
		 * caller's source would (no page pointers, one pagemap entry
		 * per zspage, no copies for objects that span pages).  The
		 * pool keeps the limit: it refuses a page before backing it,
		 * since a zspage's pages, once backed, are given back only by
		 * compaction. */
		struct zs_pool_config cfg = { .page_size = page_size,
					       .max_pages = (unsigned long)limit_pages };

		a->pool = zs_create_pool_config(name, &cfg);
		if (!a->pool)
			return -errno;
		a->ops = &zsmalloc_ops;
		a->name = "zsmalloc";
		a->huge_size = zs_huge_class_size(a->pool);
		a->max_size = page_size;
	} else {
#ifdef ZSRAM_HAVE_ZPOOL
		struct zpool_config cfg = { .page_size = page_size,
					    .page_ops = &zsram_page_ops,
					    .page_ctx = pages };

		if (strcmp(backend, "zbud") != 0 && strcmp(backend, "z3fold") != 0)
			return -EINVAL;
		a->pool = zpool_create(backend, name, &cfg);
		if (!a->pool)
			return errno == ENOENT ? -EINVAL : -errno;
		a->ops = &zpool_ops;
		a->name = zpool_backend_name(a->pool);
		a->huge_size = zpool_huge_size(a->pool);
		a->max_size = zpool_max_size(a->pool);
#else
		return -EINVAL;
#endif
	}
	a->page_size = page_size;
	if (a->huge_size > a->max_size)
		a->huge_size = a->max_size;
	return 0;
}

void zsram_alloc_fini(struct zsram_alloc *a)
{
	if (a->pool)
		a->ops->destroy(a->pool);
	a->pool = NULL;
}

unsigned long zsram_alloc_compact(struct zsram_alloc *a)
{
	unsigned long freed = a->ops->compact(a->pool);

	atomic_fetch_add_explicit(&a->pages_compacted, freed, memory_order_relaxed);
	return freed;
}

uint64_t zsram_alloc_pages_compacted(struct zsram_alloc *a)
{
	if (a->ops->pages_compacted)
		return a->ops->pages_compacted(a->pool);
	return atomic_load_explicit(&a->pages_compacted, memory_order_relaxed);
}
