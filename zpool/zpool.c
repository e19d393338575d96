/*
 * zpool.c - the zpool dispatch layer: the table of backends, creation by
 * name, the checks every backend shares (size 0, size above the backend's
 * maximum, handle 0), and the zsmalloc backend.  zbud and z3fold live in
 * zbud.c and z3fold.c; their functions are their table entries as they are,
 * while zsmalloc, a library of its own with its own pool type, gets one thin
 * function per entry here.
 *
 * No state of its own beyond each pool's header, so no locking here: every
 * backend is thread-safe on its own.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "zpool_internal.h"
#include "zbud.h"
#include "z3fold.h"

#define ZPOOL_API __attribute__((visibility("default")))

void zpool_misuse(const char *fmt, ...)
{
	va_list ap;

	fputs("zpool: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* ---- zsmalloc backend ---- */

struct zsm_pool {
	struct zpool base;
	struct zs_pool *zs;
};

static const struct zpool_backend zsmalloc_backend;

static struct zs_pool *zs_of(struct zpool *zp)
{
	return ((struct zsm_pool *)zp)->zs;
}

static struct zpool *zsm_create(const char *name, const struct zpool_config *config)
{
	struct zs_pool_config zs_config = { 0 };
	struct zsm_pool *pool = calloc(1, sizeof(*pool));

	if (!pool)
		return NULL;
	if (config) {
		zs_config.page_size = config->page_size;
		zs_config.max_pages_per_zspage = config->max_pages_per_zspage;
		zs_config.page_ops = config->page_ops;
		zs_config.page_ctx = config->page_ctx;
		zs_config.max_pages = config->max_pages;
	}
	pool->zs = zs_create_pool_config(name ? name : "zsmalloc", &zs_config);
	if (!pool->zs) {
		free(pool);
		return NULL;
	}
	pool->base.backend = &zsmalloc_backend;
	pool->base.page_size = zs_page_size(pool->zs);
	return &pool->base;
}

static void zsm_destroy(struct zpool *zp)
{
	zs_destroy_pool(zs_of(zp));
	free(zp);
}

static unsigned long zsm_malloc(struct zpool *zp, size_t size)
{
	return zs_malloc(zs_of(zp), size);
}

static void zsm_free(struct zpool *zp, unsigned long handle)
{
	zs_free(zs_of(zp), handle);
}

static size_t zsm_max_size(struct zpool *zp)
{
	return zp->page_size;
}

static size_t zsm_huge_size(struct zpool *zp)
{
	return zs_huge_class_size(zs_of(zp));
}

static void *zsm_map(struct zpool *zp, unsigned long handle, enum zs_mapmode mm)
{
	return zs_map_object(zs_of(zp), handle, mm);
}

static void zsm_unmap(struct zpool *zp, unsigned long handle)
{
	zs_unmap_object(zs_of(zp), handle);
}

static void *zsm_read_begin(struct zpool *zp, unsigned long handle, void *local_copy)
{
	return zs_obj_read_begin(zs_of(zp), handle, local_copy);
}

static void zsm_read_end(struct zpool *zp, unsigned long handle, void *handle_mem)
{
	zs_obj_read_end(zs_of(zp), handle, handle_mem);
}

static void zsm_write(struct zpool *zp, unsigned long handle, const void *mem, size_t len)
{
	/* zs_obj_write only reads mem; its prototype has no const. */
	zs_obj_write(zs_of(zp), handle, (void *)mem, len);
}

static unsigned long zsm_total_pages(struct zpool *zp)
{
	return zs_get_total_pages(zs_of(zp));
}

static unsigned long zsm_compact(struct zpool *zp)
{
	return zs_compact(zs_of(zp));
}

static unsigned long zsm_pages_compacted(struct zpool *zp)
{
	struct zs_pool_stats st = { 0 };

	zs_pool_stats(zs_of(zp), &st);
	return st.pages_compacted;
}

static int zsm_print_stats(struct zpool *zp, FILE *out)
{
	return zs_print_class_stats(zs_of(zp), out);
}

static int zsm_pool_memory(struct zpool *zp, struct zs_pool_memory *mem)
{
	zs_pool_memory(zs_of(zp), mem);
	return 0;
}

static int zsm_check(struct zpool *zp, char *why, size_t why_len)
{
	return zs_pool_check(zs_of(zp), why, why_len);
}

static const struct zpool_backend zsmalloc_backend = {
	.name = "zsmalloc",
	.create = zsm_create,
	.destroy = zsm_destroy,
	.malloc = zsm_malloc,
	.free = zsm_free,
	.max_size = zsm_max_size,
	.huge_size = zsm_huge_size,
	.map = zsm_map,
	.unmap = zsm_unmap,
	.read_begin = zsm_read_begin,
	.read_end = zsm_read_end,
	.write = zsm_write,
	.total_pages = zsm_total_pages,
	.compact = zsm_compact,
	.pages_compacted = zsm_pages_compacted,
	.print_stats = zsm_print_stats,
	.pool_memory = zsm_pool_memory,
	.check = zsm_check,
};

/* ---- the table and the public API ---- */

static const struct zpool_backend *const backends[] = {
	&zsmalloc_backend,
	&zbud_backend,
	&z3fold_backend,
};

#define NR_BACKENDS (sizeof(backends) / sizeof(backends[0]))

ZPOOL_API size_t zpool_backends(const char **names, size_t max)
{
	size_t i;

	for (i = 0; names && i < max && i < NR_BACKENDS; i++)
		names[i] = backends[i]->name;
	return NR_BACKENDS;
}

ZPOOL_API struct zpool *zpool_create(const char *backend, const char *name,
				     const struct zpool_config *config)
{
	const struct zpool_backend *chosen = NULL;
	struct zpool *pool;
	size_t i;

	if (!backend) {
		errno = EINVAL;
		return NULL;
	}
	for (i = 0; i < NR_BACKENDS; i++)
		if (strcmp(backends[i]->name, backend) == 0)
			chosen = backends[i];
	if (!chosen) {
		errno = ENOENT;
		return NULL;
	}
	if (config && config->page_size && !zs_page_size_valid(config->page_size)) {
		errno = EINVAL;
		return NULL;
	}
	errno = 0;
	pool = chosen->create(name, config);
	if (!pool && !errno)
		errno = ENOMEM;
	return pool;
}

ZPOOL_API void zpool_destroy(struct zpool *pool)
{
	if (pool)
		pool->backend->destroy(pool);
}

ZPOOL_API const char *zpool_backend_name(const struct zpool *pool)
{
	return pool->backend->name;
}

ZPOOL_API unsigned long zpool_malloc(struct zpool *pool, size_t size)
{
	if (size == 0) {
		errno = EINVAL;
		return 0;
	}
	if (size > pool->backend->max_size(pool)) {
		errno = E2BIG;
		return 0;
	}
	return pool->backend->malloc(pool, size);
}

ZPOOL_API void zpool_free(struct zpool *pool, unsigned long handle)
{
	if (handle)
		pool->backend->free(pool, handle);
}

ZPOOL_API size_t zpool_max_size(struct zpool *pool)
{
	return pool->backend->max_size(pool);
}

ZPOOL_API size_t zpool_huge_size(struct zpool *pool)
{
	return pool->backend->huge_size(pool);
}

ZPOOL_API size_t zpool_page_size(const struct zpool *pool)
{
	return pool->page_size;
}

ZPOOL_API void *zpool_map(struct zpool *pool, unsigned long handle, enum zs_mapmode mm)
{
	if (!handle)
		zpool_misuse("map of handle 0");
	return pool->backend->map(pool, handle, mm);
}

ZPOOL_API void zpool_unmap(struct zpool *pool, unsigned long handle)
{
	if (!handle)
		zpool_misuse("unmap of handle 0");
	if (pool->backend->unmap)
		pool->backend->unmap(pool, handle);
}

ZPOOL_API void *zpool_read_begin(struct zpool *pool, unsigned long handle, void *local_copy)
{
	if (!handle)
		zpool_misuse("read of handle 0");
	if (!pool->backend->read_begin) /* objects in place: reading maps */
		return pool->backend->map(pool, handle, ZS_MM_RO);
	return pool->backend->read_begin(pool, handle, local_copy);
}

ZPOOL_API void zpool_read_end(struct zpool *pool, unsigned long handle, void *handle_mem)
{
	if (!handle)
		zpool_misuse("read_end of handle 0");
	if (pool->backend->read_end)
		pool->backend->read_end(pool, handle, handle_mem);
	else if (pool->backend->unmap)
		pool->backend->unmap(pool, handle);
}

ZPOOL_API void zpool_write(struct zpool *pool, unsigned long handle, const void *mem, size_t len)
{
	if (!handle)
		zpool_misuse("write to handle 0");
	pool->backend->write(pool, handle, mem, len);
}

ZPOOL_API unsigned long zpool_total_pages(struct zpool *pool)
{
	return pool->backend->total_pages(pool);
}

ZPOOL_API unsigned long zpool_compact(struct zpool *pool)
{
	if (!pool->backend->compact)
		return 0; /* documented no-op: the backend cannot compact */
	return pool->backend->compact(pool);
}

ZPOOL_API int zpool_can_compact(const struct zpool *pool)
{
	return pool->backend->compact != NULL;
}

ZPOOL_API unsigned long zpool_pages_compacted(struct zpool *pool)
{
	return pool->backend->pages_compacted ? pool->backend->pages_compacted(pool) : 0;
}

ZPOOL_API int zpool_print_stats(struct zpool *pool, FILE *out)
{
	return pool->backend->print_stats(pool, out);
}

ZPOOL_API int zpool_pool_memory(struct zpool *pool, struct zs_pool_memory *mem)
{
	if (!pool->backend->pool_memory) {
		errno = ENOTSUP;
		return -1;
	}
	return pool->backend->pool_memory(pool, mem);
}

ZPOOL_API int zpool_check(struct zpool *pool, char *why, size_t why_len)
{
	return pool->backend->check(pool, why, why_len);
}
