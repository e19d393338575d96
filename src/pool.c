/*
 * pool.c - pools, zs_malloc and zs_free, and the metadata allocator.
 *
 * zs_malloc picks the class for the size, then under the class lock takes a
 * slot in the fullest zspage that is not full (so sparse zspages drain and
 * can be freed), creating a zspage when there is none, and a handle entry.
 * zs_free gives both back and frees the zspage when its last object goes.
 *
 * Borrowing: every class that holds objects keeps one partly used page (its
 * last zspage is backed page by page), half a page on average; with 500
 * classes 8 bytes apart that is about 1 MB, which at 100 MB of objects
 * costs more than all the rounding.  So a class that would have to start a
 * zspage first takes a free slot, in a page already resident, of a class up
 * to ZS_BORROW_STEPS steps larger, paying the difference in size instead of
 * a new page; each class may pay at most half a page of such differences in
 * its life, after which it starts zspages of its own.  A small pool then
 * keeps fewer partly used pages, and a large one loses at most half a page
 * a class.
 */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* ---- Metadata allocations, with fault injection for tests ---- */

/* The countdown is process-wide; aimed at a pool, it counts only what this
 * thread allocates while serving that pool (zs_meta_serve at the entry of
 * every call that can allocate metadata). */
static _Atomic unsigned long meta_fail_countdown; /* 0: off */
static _Atomic bool meta_fail_sticky;
static const struct zs_pool *_Atomic meta_fail_pool; /* NULL: any pool */
_Thread_local const struct zs_pool *zs_meta_pool __attribute__((tls_model("initial-exec")));

void zs_test_fail_meta_alloc_pool(const struct zs_pool *pool, unsigned long nth, bool sticky)
{
	atomic_store(&meta_fail_pool, pool);
	atomic_store(&meta_fail_sticky, sticky);
	atomic_store(&meta_fail_countdown, nth);
}

void zs_test_fail_meta_alloc(unsigned long nth, bool sticky)
{
	zs_test_fail_meta_alloc_pool(NULL, nth, sticky);
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
	const struct zs_pool *aim = atomic_load(&meta_fail_pool);
	if (aim && aim != zs_meta_pool)
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
	bool arena = !(cfg && cfg->page_ops && cfg->page_ops->alloc_page && cfg->page_ops->free_page);
	unsigned int ch = cfg && cfg->max_pages_per_zspage ? cfg->max_pages_per_zspage
			  : arena			   ? ZS_ARENA_DEFAULT_CHAIN
							   : ZS_DEFAULT_CHAIN;
	if (!zs_page_size_valid(ps))
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
	zs_hazard_init(); /* before any read of any pool: fixes the readers' mode */
	struct zs_pool *pool = zs_meta_calloc(1, sizeof(*pool));
	if (!pool)
		goto nomem;
	zs_meta_serve(pool);
	pool->name = zs_meta_alloc(strlen(name ? name : "zsmalloc") + 1);
	if (!pool->name)
		goto nomem_pool;
	strcpy(pool->name, name ? name : "zsmalloc");
	atomic_init(&pool->max_pages, config ? config->max_pages : 0);
	pool->page_size = page_size;
	pool->page_shift = (unsigned int)__builtin_ctzl(page_size);
	long sys_page = sysconf(_SC_PAGESIZE);
	pool->sys_page_shift = sys_page > 0 && (size_t)sys_page < page_size
				       ? (unsigned int)__builtin_ctzl((unsigned long)sys_page)
				       : pool->page_shift;
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
	if (zs_mutex_init(&pool->pagemap.lock))
		goto nomem_handles;
	if (zs_mutex_init(&pool->header_lock))
		goto nomem_pagemap_lock;
	return pool;

nomem_pagemap_lock:
	zs_mutex_destroy(&pool->pagemap.lock);
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
	zs_for_each_class (pool, c) {
		zs_mutex_lock(&c->lock);
		for (unsigned int g = 0; g < ZS_NR_GROUPS; g++)
			while (c->groups[g])
				zs_zspage_destroy(pool, c, c->groups[g]);
		zs_mutex_unlock(&c->lock);
	}
	zs_headers_destroy(pool);
	zs_pagemap_destroy(&pool->pagemap);
	zs_mutex_destroy(&pool->header_lock);
	zs_mutex_destroy(&pool->pagemap.lock);
	zs_handles_destroy(&pool->handles);
	zs_source_destroy(&pool->source);
	zs_classes_destroy(pool);
	zs_meta_free(pool->name);
	zs_meta_free(pool);
}

/* ---- Allocation ---- */

/* Class lock held: stores a new object in z, a zspage of c with a free
 * slot, or in a new zspage when z is NULL.  The handle, or 0 with errno. */
static unsigned long alloc_locked(struct zs_pool *pool, struct size_class *c, struct zspage *z)
{
	ZS_ASSERT_HELD(&c->lock);
	unsigned int gen;
	uint32_t index = zs_entry_alloc(&pool->handles, c, &gen);
	if (zs_unlikely(!index)) {
		errno = ENOMEM;
		return 0;
	}
	bool created = false;
	if (!z) {
		z = zs_zspage_create(pool, c);
		if (!z)
			goto fail;
		created = true;
	}
	int slot = zs_zspage_take_slot(pool, c, z, true);
	if (zs_unlikely(slot < 0)) {
		int err = errno;
		if (created)
			zs_zspage_destroy(pool, c, z);
		errno = err;
		goto fail;
	}
	z->inuse++;
	c->obj_used++;
	if (created)
		zs_group_insert(c, z);
	else
		zs_group_update(c, z);
	atomic_store_explicit(zs_entry_ptr(&pool->handles, index),
			      zs_entry_make_used(c, z, (unsigned int)slot), memory_order_release);
	return zs_handle_make(pool, c->index, index, gen);

fail:;
	/* Back on the class's list, its generation advanced: harmless. */
	int err = errno;
	zs_entry_free(&pool->handles, c, index);
	errno = err;
	return 0;
}

/* Whether z has a free slot in memory that is resident already. */
static bool has_resident_free_slot(const struct zs_pool *pool, const struct size_class *c,
				   const struct zspage *z)
{
	if (z->free_head != ZS_SLOT_NONE)
		return true; /* freed slots lie below fresh, in backed pages */
	if (z->fresh >= c->objs_per_zspage)
		return false;
	size_t end = (size_t)(z->fresh + 1) * c->size;
	size_t resident = zs_zspage_contiguous(z) ? (size_t)z->populated << pool->sys_page_shift
						  : (size_t)z->backed << pool->page_shift;
	return end <= resident;
}

/* Borrowing a slot of a slightly larger class (see ZS_BORROW_STEPS): the
 * handle, or 0 if no class up to ZS_BORROW_STEPS steps above c has a free
 * slot in a resident page.  Takes one class lock at a time. */
static unsigned long borrow_slot(struct zs_pool *pool, struct size_class *c)
{
	unsigned int last = c->index + ZS_BORROW_STEPS;
	for (unsigned int i = c->index + 1; i < ZS_MAX_CLASSES && i <= last; i++) {
		if (pool->class_of_index[i] != i)
			continue; /* merged: served by a class further up */
		struct size_class *d = &pool->classes[i];
		if (d->objs_per_zspage == d->pages_per_zspage)
			break; /* one object per page: nothing to share */
		unsigned long h = 0;
		zs_mutex_lock(&d->lock);
		struct zspage *z = zs_fullest_nonfull(d);
		if (z && has_resident_free_slot(pool, d, z))
			h = alloc_locked(pool, d, z);
		zs_mutex_unlock(&d->lock);
		if (h) {
			atomic_fetch_sub_explicit(&c->borrow_budget, (long)(d->size - c->size),
						  memory_order_relaxed);
			return h;
		}
	}
	return 0;
}

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
	zs_meta_serve(pool);
	struct size_class *c = zs_class_for_size(pool, size);
	zs_mutex_lock(&c->lock);
	struct zspage *z = zs_fullest_nonfull(c);
	if (zs_unlikely(!z) && atomic_load_explicit(&c->borrow_budget, memory_order_relaxed) > 0) {
		/* A new zspage would cost a partly used page for a while:
		 * first try a free slot of a class a little larger. */
		zs_mutex_unlock(&c->lock);
		unsigned long h = borrow_slot(pool, c);
		if (h)
			return h;
		zs_mutex_lock(&c->lock);
		z = zs_fullest_nonfull(c);
	}
	unsigned long h = alloc_locked(pool, c, z);
	int err = errno;
	zs_mutex_unlock(&c->lock);
	if (!h)
		errno = err;
	return h;
}

ZS_API void zs_free(struct zs_pool *pool, unsigned long handle)
{
	if (!handle)
		return;
	zs_meta_serve(pool);
	struct zs_handle_parts h;
	zs_handle_decode(pool, handle, "zs_free", &h);
	struct size_class *c = h.class;
	zs_mutex_lock(&c->lock);
	uint32_t e = atomic_load_explicit(h.entry, memory_order_relaxed);
	struct zspage *z = zs_handle_check_entry(pool, handle, "zs_free", &h, e);
	unsigned int slot = zs_entry_slot(c, e);
	if (zs_unlikely(slot >= z->fresh || z->inuse == 0))
		zs_fatal(pool,
			 "zs_free: handle %#lx: its entry names slot %u of a zspage with %u "
			 "slots in use (corrupt pool metadata)",
			 handle, slot, z->fresh);
	zs_zspage_put_slot(pool, c, z, slot);
	z->inuse--;
	c->obj_used--;
	zs_entry_free(&pool->handles, c, h.index);
	if (z->inuse == 0)
		zs_zspage_destroy(pool, c, z);
	else
		zs_group_update(c, z);
	zs_mutex_unlock(&c->lock);
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
	zs_meta_serve(pool);
	return zs_source_alloc_page(&pool->source);
}

ZS_API void zs_page_source_free(struct zs_pool *pool, void *page)
{
	if (page)
		zs_source_free_page(&pool->source, page);
}
