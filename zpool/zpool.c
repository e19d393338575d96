/*
 * zpool.c - the zpool dispatch layer: the table of backends, creation by
 * name, the checks every backend shares (size 0, size above the backend's
 * maximum, handle 0), and the zsmalloc backend as thin wrappers over
 * <zsmalloc.h>.  zbud and z3fold live in zbud.c and z3fold.c.
 *
 * No state of its own beyond each pool's backend pointer, so no locking here:
 * every backend is thread-safe on its own.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "zpool_internal.h"
#include "zbud.h"
#include "z3fold.h"

#define ZPOOL_API __attribute__((visibility("default")))

struct zpool {
	const struct zpool_backend *backend;
	void *impl;			/* the backend's own pool */
};

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

/* ---- zsmalloc backend: thin wrappers ---- */

static void *zsmalloc_create(const char *name, const struct zpool_config *config)
{
	struct zs_pool_config zs_config = { 0 };

	if (config) {
		zs_config.page_size = config->page_size;
		zs_config.max_pages_per_zspage = config->max_pages_per_zspage;
		zs_config.page_ops = config->page_ops;
		zs_config.page_ctx = config->page_ctx;
	}
	return zs_create_pool_config(name ? name : "zsmalloc", &zs_config);
}

static void zsmalloc_destroy(void *impl)
{
	zs_destroy_pool(impl);
}

static unsigned long zsmalloc_malloc(void *impl, size_t size)
{
	return zs_malloc(impl, size);
}

static void zsmalloc_free(void *impl, unsigned long handle)
{
	zs_free(impl, handle);
}

static size_t zsmalloc_max_size(void *impl)
{
	return zs_page_size(impl);
}

static size_t zsmalloc_huge_size(void *impl)
{
	return zs_huge_class_size(impl);
}

static void *zsmalloc_map(void *impl, unsigned long handle, enum zs_mapmode mm)
{
	return zs_map_object(impl, handle, mm);
}

static void zsmalloc_unmap(void *impl, unsigned long handle)
{
	zs_unmap_object(impl, handle);
}

static void *zsmalloc_read_begin(void *impl, unsigned long handle, void *local_copy)
{
	return zs_obj_read_begin(impl, handle, local_copy);
}

static void zsmalloc_read_end(void *impl, unsigned long handle, void *handle_mem)
{
	zs_obj_read_end(impl, handle, handle_mem);
}

static void zsmalloc_write(void *impl, unsigned long handle, const void *mem,
			   size_t len)
{
	/* zs_obj_write only reads mem; its prototype has no const. */
	zs_obj_write(impl, handle, (void *)mem, len);
}

static unsigned long zsmalloc_total_pages(void *impl)
{
	return zs_get_total_pages(impl);
}

static unsigned long zsmalloc_compact(void *impl)
{
	return zs_compact(impl);
}

static int zsmalloc_print_stats(void *impl, FILE *out)
{
	return zs_print_class_stats(impl, out);
}

static const struct zpool_backend zsmalloc_backend = {
	.name = "zsmalloc",
	.create = zsmalloc_create,
	.destroy = zsmalloc_destroy,
	.malloc = zsmalloc_malloc,
	.free = zsmalloc_free,
	.max_size = zsmalloc_max_size,
	.huge_size = zsmalloc_huge_size,
	.map = zsmalloc_map,
	.unmap = zsmalloc_unmap,
	.read_begin = zsmalloc_read_begin,
	.read_end = zsmalloc_read_end,
	.write = zsmalloc_write,
	.total_pages = zsmalloc_total_pages,
	.compact = zsmalloc_compact,
	.print_stats = zsmalloc_print_stats,
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
	int saved;

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
	if (config && config->page_size && zpool_check_page_size(config->page_size)) {
		errno = EINVAL;
		return NULL;
	}
	pool = malloc(sizeof(*pool));
	if (!pool)
		return NULL;
	pool->backend = chosen;
	pool->impl = chosen->create(name, config);
	if (!pool->impl) {
		saved = errno ? errno : ENOMEM;
		free(pool);
		errno = saved;
		return NULL;
	}
	return pool;
}

ZPOOL_API void zpool_destroy(struct zpool *pool)
{
	if (!pool)
		return;
	pool->backend->destroy(pool->impl);
	free(pool);
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
	if (size > pool->backend->max_size(pool->impl)) {
		errno = E2BIG;
		return 0;
	}
	return pool->backend->malloc(pool->impl, size);
}

ZPOOL_API void zpool_free(struct zpool *pool, unsigned long handle)
{
	if (handle)
		pool->backend->free(pool->impl, handle);
}

ZPOOL_API size_t zpool_max_size(struct zpool *pool)
{
	return pool->backend->max_size(pool->impl);
}

ZPOOL_API size_t zpool_huge_size(struct zpool *pool)
{
	return pool->backend->huge_size(pool->impl);
}

ZPOOL_API void *zpool_map(struct zpool *pool, unsigned long handle, enum zs_mapmode mm)
{
	if (!handle)
		zpool_misuse("map of handle 0");
	return pool->backend->map(pool->impl, handle, mm);
}

ZPOOL_API void zpool_unmap(struct zpool *pool, unsigned long handle)
{
	if (!handle)
		zpool_misuse("unmap of handle 0");
	pool->backend->unmap(pool->impl, handle);
}

ZPOOL_API void *zpool_read_begin(struct zpool *pool, unsigned long handle,
				 void *local_copy)
{
	if (!handle)
		zpool_misuse("read of handle 0");
	return pool->backend->read_begin(pool->impl, handle, local_copy);
}

ZPOOL_API void zpool_read_end(struct zpool *pool, unsigned long handle, void *handle_mem)
{
	if (!handle)
		zpool_misuse("read_end of handle 0");
	pool->backend->read_end(pool->impl, handle, handle_mem);
}

ZPOOL_API void zpool_write(struct zpool *pool, unsigned long handle, const void *mem,
			   size_t len)
{
	if (!handle)
		zpool_misuse("write to handle 0");
	pool->backend->write(pool->impl, handle, mem, len);
}

ZPOOL_API unsigned long zpool_total_pages(struct zpool *pool)
{
	return pool->backend->total_pages(pool->impl);
}

ZPOOL_API unsigned long zpool_compact(struct zpool *pool)
{
	if (!pool->backend->compact)
		return 0;	/* documented no-op: the backend cannot compact */
	return pool->backend->compact(pool->impl);
}

ZPOOL_API int zpool_can_compact(const struct zpool *pool)
{
	return pool->backend->compact != NULL;
}

ZPOOL_API int zpool_print_stats(struct zpool *pool, FILE *out)
{
	return pool->backend->print_stats(pool->impl, out);
}
