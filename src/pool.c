/*
 * pool.c - pools, zs_malloc and zs_free, and the metadata allocator.
 *
 * zs_malloc picks the class for the size, then under the class lock takes a
 * slot in the fullest zspage that is not full (so sparse zspages drain and
 * can be freed), creating a zspage when there is none, and a handle entry.
 * zs_free gives both back and frees the zspage when its last object goes.
 */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* ---- Metadata allocations, with fault injection for tests ---- */

static _Atomic unsigned long meta_fail_countdown;	/* 0: off */
static _Atomic bool meta_fail_sticky;

void zs_test_fail_meta_alloc(unsigned long nth, bool sticky)
{
	atomic_store(&meta_fail_sticky, sticky);
	atomic_store(&meta_fail_countdown, nth);
}

unsigned long zs_test_meta_countdown(void)
{
	return atomic_load(&meta_fail_countdown);
}

bool zs_meta_should_fail(void)
{
	unsigned long n = atomic_load_explicit(&meta_fail_countdown, memory_order_relaxed);
	if (zs_likely(n == 0))
		return false;
	if (n == 1) {
		if (!atomic_load(&meta_fail_sticky))
			atomic_store(&meta_fail_countdown, 0);
		return true;
	}
	atomic_fetch_sub(&meta_fail_countdown, 1);
	return false;
}

void *zs_meta_alloc(size_t size)
{
	return zs_meta_should_fail() ? NULL : malloc(size);
}

void *zs_meta_calloc(size_t n, size_t size)
{
	return zs_meta_should_fail() ? NULL : calloc(n, size);
}

void zs_meta_free(void *p)
{
	free(p);
}

size_t zs_meta_usable_size(void *p)
{
	/* The chunk header glibc keeps before the bytes counts too. */
	return p ? malloc_usable_size(p) + sizeof(size_t) : 0;
}

/* ---- Pools ---- */

static _Atomic unsigned int next_pool_tag;

static int config_valid(const struct zs_pool_config *cfg, size_t *page_size, unsigned int *chain)
{
	size_t ps = cfg && cfg->page_size ? cfg->page_size : 4096;
	/* As zs_source_init decides: both callbacks, or the built-in arena. */
	bool arena = !(cfg && cfg->page_ops && cfg->page_ops->alloc_page &&
		       cfg->page_ops->free_page);
	unsigned int ch = cfg && cfg->max_pages_per_zspage ? cfg->max_pages_per_zspage
				: arena ? ZS_ARENA_DEFAULT_CHAIN : ZS_DEFAULT_CHAIN;
	if (ps < ZS_MIN_PAGE_SIZE || ps > ZS_MAX_PAGE_SIZE || (ps & (ps - 1)))
		return 0;
	if (cfg && cfg->max_pages_per_zspage > ZS_MAX_CHAIN_CONFIG)
		return 0;
	*page_size = ps;
	*chain = ch;
	return 1;
}

ZS_API struct zs_pool *zs_create_pool_config(const char *name, const struct zs_pool_config *config)
{
	size_t page_size;
	unsigned int chain;
	if (!config_valid(config, &page_size, &chain)) {
		errno = EINVAL;
		return NULL;
	}
	struct zs_pool *pool = zs_meta_calloc(1, sizeof(*pool));
	if (!pool)
		goto nomem;
	pool->name = zs_meta_alloc(strlen(name ? name : "zsmalloc") + 1);
	if (!pool->name)
		goto nomem_pool;
	strcpy(pool->name, name ? name : "zsmalloc");
	atomic_init(&pool->max_pages, config ? config->max_pages : 0);
	pool->page_size = page_size;
	pool->page_shift = (unsigned int)__builtin_ctzl(page_size);
	long sys_page = sysconf(_SC_PAGESIZE);
	pool->sys_page_shift = sys_page > 0 && (size_t)sys_page < page_size ?
			       (unsigned int)__builtin_ctzl((unsigned long)sys_page) :
			       pool->page_shift;
	pool->max_chain = chain;
	unsigned int tag;
	do
		tag = atomic_fetch_add(&next_pool_tag, 1) & ZS_TAG_MASK;
	while (tag == 0);
	pool->tag = tag;

	if (zs_classes_init(pool))
		goto nomem_name;
	if (zs_source_init(&pool->source, page_size, config ? config->page_ops : NULL,
			   config ? config->page_ctx : NULL))
		goto nomem_classes;
	if (zs_handles_init(&pool->handles))
		goto nomem_source;
	if (pthread_mutex_init(&pool->pagemap_lock, NULL))
		goto nomem_handles;
	if (pthread_mutex_init(&pool->header_lock, NULL))
		goto nomem_pagemap_lock;
	return pool;

nomem_pagemap_lock:
	pthread_mutex_destroy(&pool->pagemap_lock);
nomem_handles:
	zs_handles_destroy(&pool->handles);
nomem_source:
	zs_source_destroy(&pool->source);
nomem_classes:
	zs_classes_destroy(pool);
nomem_name:
	zs_meta_free(pool->name);
nomem_pool:
	zs_meta_free(pool);
nomem:
	errno = ENOMEM;
	return NULL;
}

ZS_API struct zs_pool *zs_create_pool(const char *name)
{
	return zs_create_pool_config(name, NULL);
}

ZS_API void zs_destroy_pool(struct zs_pool *pool)
{
	if (!pool)
		return;
	/* The arena's chunks are unmapped below: no need to drop pages one
	 * zspage at a time first. */
	pool->source.unmapping = true;
	for (unsigned int i = 0; i < pool->nr_classes; i++) {
		if (pool->class_of_index[i] != i)
			continue;
		struct size_class *c = &pool->classes[i];
		pthread_mutex_lock(&c->lock);
		for (unsigned int g = 0; g < ZS_NR_GROUPS; g++)
			while (c->groups[g])
				zs_zspage_destroy(pool, c, c->groups[g]);
		pthread_mutex_unlock(&c->lock);
	}
	zs_headers_destroy(pool);
	zs_pagemap_destroy(&pool->pagemap);
	pthread_mutex_destroy(&pool->header_lock);
	pthread_mutex_destroy(&pool->pagemap_lock);
	zs_handles_destroy(&pool->handles);
	zs_source_destroy(&pool->source);
	zs_classes_destroy(pool);
	zs_meta_free(pool->name);
	zs_meta_free(pool);
}

/* ---- Allocation ---- */


ZS_API unsigned long zs_malloc(struct zs_pool *pool, size_t size)
{
	if (zs_unlikely(size == 0)) {
		errno = EINVAL;
		return 0;
	}
	if (zs_unlikely(size > pool->page_size)) {
		errno = E2BIG;
		return 0;
	}
	struct size_class *c = zs_class_for_size(pool, size);
	int err = ENOMEM;
	pthread_mutex_lock(&c->lock);

	unsigned int gen;
	uint32_t index = zs_entry_alloc(&pool->handles, c, &gen);
	if (zs_unlikely(!index))
		goto nomem;

	struct zspage *z = zs_fullest_nonfull(c);
	bool created = false;
	if (!z) {
		z = zs_zspage_create(pool, c);
		if (!z)
			goto nomem_entry;
		created = true;
	}
	int slot = zs_zspage_take_slot(pool, c, z, true);
	if (zs_unlikely(slot < 0)) {
		err = errno;
		if (created)
			zs_zspage_destroy(pool, c, z);
		goto nomem_entry;
	}
	z->inuse++;
	c->obj_used++;
	if (created)
		zs_group_insert(c, z);
	else
		zs_group_update(c, z);
	atomic_store_explicit(zs_entry_ptr(&pool->handles, index),
			      zs_entry_make_used(c, z, (unsigned int)slot), memory_order_release);
	pthread_mutex_unlock(&c->lock);
	return zs_handle_make(pool, c->index, index, gen);

nomem_entry:
	/* Back on the class's list, its generation advanced: harmless. */
	zs_entry_free(&pool->handles, c, index);
nomem:
	pthread_mutex_unlock(&c->lock);
	errno = err;
	return 0;
}

ZS_API void zs_free(struct zs_pool *pool, unsigned long handle)
{
	if (!handle)
		return;
	struct zs_handle_parts h;
	zs_handle_decode(pool, handle, "zs_free", &h);
	struct size_class *c = h.class;
	pthread_mutex_lock(&c->lock);
	uint32_t e = atomic_load_explicit(h.entry, memory_order_relaxed);
	struct zspage *z = zs_handle_check_entry(pool, handle, "zs_free", &h, e);
	unsigned int slot = zs_entry_slot(c, e);
	if (zs_unlikely(slot >= z->fresh || z->inuse == 0))
		zs_fatal(pool, "zs_free: handle %#lx: its entry names slot %u of a zspage with %u "
			       "slots in use (corrupt pool metadata)", handle, slot, z->fresh);
	zs_zspage_put_slot(pool, c, z, slot);
	z->inuse--;
	c->obj_used--;
	zs_entry_free(&pool->handles, c, h.index);
	if (z->inuse == 0)
		zs_zspage_destroy(pool, c, z);
	else
		zs_group_update(c, z);
	pthread_mutex_unlock(&c->lock);
}

/* ---- Small queries ---- */

ZS_API size_t zs_huge_class_size(struct zs_pool *pool)
{
	return pool->huge_class_size;
}

ZS_API unsigned int zs_lookup_class_index(struct zs_pool *pool, unsigned int size)
{
	if (size == 0)
		size = 1;
	if (size > pool->page_size)
		size = (unsigned int)pool->page_size;
	return zs_class_for_size(pool, size)->index;
}

ZS_API unsigned long zs_get_total_pages(struct zs_pool *pool)
{
	return atomic_load_explicit(&pool->total_pages, memory_order_relaxed);
}

ZS_API void zs_set_max_pages(struct zs_pool *pool, unsigned long max_pages)
{
	atomic_store_explicit(&pool->max_pages, max_pages, memory_order_relaxed);
}

ZS_API unsigned long zs_get_max_pages(struct zs_pool *pool)
{
	return atomic_load_explicit(&pool->max_pages, memory_order_relaxed);
}

ZS_API size_t zs_page_size(struct zs_pool *pool)
{
	return pool->page_size;
}

ZS_API size_t zs_obj_size(struct zs_pool *pool, unsigned long handle)
{
	struct zs_handle_parts h;
	zs_handle_decode(pool, handle, "zs_obj_size", &h);
	uint32_t e = atomic_load_explicit(h.entry, memory_order_acquire);
	if (zs_unlikely(!(e & ZS_ENTRY_USED) ||
			atomic_load_explicit(h.entry_gen, memory_order_relaxed) != h.gen))
		zs_fatal(pool, "zs_obj_size: handle %#lx was freed", handle);
	return h.class->size;
}

ZS_API void *zs_page_source_alloc(struct zs_pool *pool)
{
	return zs_source_alloc_page(&pool->source);
}

ZS_API void zs_page_source_free(struct zs_pool *pool, void *page)
{
	if (page)
		zs_source_free_page(&pool->source, page);
}
