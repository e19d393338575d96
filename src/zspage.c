/*
 * zspage.c - zspages: their headers, slots, pages and fullness groups.
 *
 * A zspage is backed lazily: a new zspage has no page resident; taking a
 * fresh slot backs the pages the slot reaches into.  Freed slots go on a
 * LIFO list and are reused before fresh ones, so the pages of a zspage fill
 * front to back and a class's last, partly used zspage holds only the pages
 * its objects touch.  After compaction, zs_zspage_trim() gives back the
 * pages above the highest live object.
 *
 * The free list of a zspage runs through its free slots: each holds the
 * next free slot's number in its first two bytes (a slot is at least 8
 * bytes).  So freeing writes two bytes of a page the object already made
 * resident, and no metadata outside the data pages says which slot is free.
 *
 * Locking: every function here but zs_headers_destroy runs under the
 * zspage's class lock (ZS_ASSERT_HELD), and takes pool->pagemap.lock or
 * pool->header_lock inside it when it needs them; zs_zspage_make_chained
 * runs under the pagemap lock too.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- Header slab: type-stable zspage headers ---- */

static struct zspage *header_alloc(struct zs_pool *pool)
{
	zs_mutex_lock(&pool->header_lock);
	struct zspage *z = pool->free_headers;
	if (!z) {
		struct zs_header_chunk *chunk = NULL;
		if (!zs_meta_should_fail())
			chunk = aligned_alloc(64, 64 * (ZS_HEADERS_PER_CHUNK + 1));
		if (chunk) {
			memset(chunk, 0, 64 * (ZS_HEADERS_PER_CHUNK + 1));
			chunk->next = pool->header_chunks;
			pool->header_chunks = chunk;
			struct zspage *h = (struct zspage *)((char *)chunk + 64);
			for (unsigned int i = 0; i < ZS_HEADERS_PER_CHUNK; i++) {
				h[i].next = pool->free_headers;
				pool->free_headers = &h[i];
			}
			z = pool->free_headers;
		}
	}
	if (z)
		pool->free_headers = z->next;
	zs_mutex_unlock(&pool->header_lock);
	return z;
}

/* The header stays readable: a stale reader may still pin it (see internal.h),
 * so pins and moving are left as they are. */
static void header_free(struct zs_pool *pool, struct zspage *z)
{
	zs_mutex_lock(&pool->header_lock);
	z->next = pool->free_headers;
	pool->free_headers = z;
	zs_mutex_unlock(&pool->header_lock);
}

void zs_headers_destroy(struct zs_pool *pool)
{
	for (struct zs_header_chunk *chunk = pool->header_chunks, *next; chunk; chunk = next) {
		next = chunk->next;
		free(chunk);
	}
	pool->header_chunks = NULL;
	pool->free_headers = NULL;
}

/* ---- Fullness groups ---- */

unsigned int zs_group_of(const struct size_class *c, unsigned int inuse)
{
	if (inuse >= c->objs_per_zspage)
		return ZS_GROUP_FULL;
	return inuse * 10u / c->objs_per_zspage;
}

void zs_group_insert(struct size_class *c, struct zspage *z)
{
	ZS_ASSERT_HELD(&c->lock);
	unsigned int g = zs_group_of(c, z->inuse);
	z->group = (uint8_t)g;
	z->prev = NULL;
	z->next = c->groups[g];
	if (z->next)
		z->next->prev = z;
	c->groups[g] = z;
	c->group_mask |= (uint16_t)(1u << g);
	c->group_count[g]++;
}

void zs_group_remove(struct size_class *c, struct zspage *z)
{
	ZS_ASSERT_HELD(&c->lock);
	unsigned int g = z->group;
	if (g >= ZS_NR_GROUPS)
		return;
	ZS_ASSERT(c->group_count[g] > 0 && (c->group_mask & (1u << g)));
	ZS_ASSERT(z->prev ? z->prev->next == z : c->groups[g] == z);
	if (z->prev)
		z->prev->next = z->next;
	else
		c->groups[g] = z->next;
	if (z->next)
		z->next->prev = z->prev;
	if (!c->groups[g])
		c->group_mask &= (uint16_t) ~(1u << g);
	c->group_count[g]--;
	z->group = ZS_NR_GROUPS;
	z->next = z->prev = NULL;
}

void zs_group_update(struct size_class *c, struct zspage *z)
{
	ZS_ASSERT_HELD(&c->lock);
	if (zs_group_of(c, z->inuse) != z->group) {
		zs_group_remove(c, z);
		zs_group_insert(c, z);
	}
}

/* ---- Pages ---- */

static void account_pages(struct zs_pool *pool, struct size_class *c, long delta)
{
	ZS_ASSERT_HELD(&c->lock);
	ZS_ASSERT(delta >= 0 || c->pages_used >= (unsigned long)-delta);
	c->pages_used += (unsigned long)delta;
	/* The event first: zs_pool_check reads the total, then the events. */
	atomic_fetch_add(&pool->page_events, 1);
	atomic_fetch_add(&pool->total_pages, (unsigned long)delta);
}

/* Counts n more pages in the pool's total, first checking the limit when
 * limited; -1 (errno ENOSPC) if they would pass it.  The pages are counted
 * before they are backed, so that two classes backing at once cannot both
 * pass the limit. */
static int reserve_pages(struct zs_pool *pool, unsigned long n, bool limited)
{
	unsigned long max =
		limited ? atomic_load_explicit(&pool->max_pages, memory_order_relaxed) : 0;
	/* The event before the total changes, as in account_pages (an event
	 * for a refusal only makes a concurrent check skip its comparison). */
	atomic_fetch_add(&pool->page_events, 1);
	if (!max) {
		atomic_fetch_add(&pool->total_pages, n);
		return 0;
	}
	unsigned long cur = atomic_load(&pool->total_pages);
	do {
		if (cur + n > max) {
			errno = ENOSPC;
			return -1;
		}
	} while (!atomic_compare_exchange_weak(&pool->total_pages, &cur, cur + n));
	return 0;
}

/* Backs pages [z->backed, need); -1 (errno ENOMEM, or ENOSPC past the limit
 * when limited) if one cannot be had, with the pages backed so far kept. */
static int back_pages(struct zs_pool *pool, struct size_class *c, struct zspage *z,
		      unsigned int need, bool limited)
{
	ZS_ASSERT_HELD(&c->lock);
	if (reserve_pages(pool, need - z->backed, limited))
		return -1;
	while (z->backed < need) {
		unsigned int i = z->backed;
		if (!zs_zspage_contiguous(z)) {
			void *page = zs_source_alloc_page(&pool->source);
			int err = !page;
			if (page) {
				zs_mutex_lock(&pool->pagemap.lock);
				err = zs_pagemap_insert(&pool->pagemap, page, z, false);
				zs_mutex_unlock(&pool->pagemap.lock);
				if (err)
					zs_source_free_page(&pool->source, page);
			}
			if (err) {
				/* Uncount the pages reserved and not backed. */
				atomic_fetch_add(&pool->page_events, 1);
				atomic_fetch_sub(&pool->total_pages, need - i);
				errno = ENOMEM;
				return -1;
			}
			z->pages[i] = page;
		}
		/* A contiguous zspage's pages are reserved already; they are
		 * made resident as slots reach into them (populate_to). */
		z->backed++;
		c->pages_used++;
		atomic_fetch_add(&pool->page_events, 1);
	}
	return 0;
}

static unsigned int sys_pages_per_page(const struct zs_pool *pool)
{
	return 1u << (pool->page_shift - pool->sys_page_shift);
}

/* Makes the system's pages of a contiguous zspage resident up to byte end,
 * one system call for what a new slot reaches into.  With pool pages larger
 * than the system's, a class's last, partly filled page then costs only the
 * system pages its objects touch. */
static void populate_to(struct zs_pool *pool, struct zspage *z, size_t end)
{
	unsigned int shift = pool->sys_page_shift;
	unsigned int want = (unsigned int)((end + ((size_t)1 << shift) - 1) >> shift);
	if (want <= z->populated)
		return;
	zs_populate(z->base + ((size_t)z->populated << shift), (size_t)(want - z->populated)
								       << shift);
	z->populated = (uint16_t)want;
}

/* Gives back pages [keep, z->backed). */
static void unback_pages(struct zs_pool *pool, struct size_class *c, struct zspage *z,
			 unsigned int keep)
{
	ZS_ASSERT_HELD(&c->lock);
	if (z->backed <= keep)
		return;
	unsigned int n = z->backed - keep;
	if (zs_zspage_contiguous(z)) {
		zs_arena_release(&pool->source, z->base + ((size_t)keep << pool->page_shift), n);
		unsigned int kept = keep * sys_pages_per_page(pool);
		if (z->populated > kept)
			z->populated = (uint16_t)kept;
	} else {
		zs_mutex_lock(&pool->pagemap.lock);
		for (unsigned int i = keep; i < z->backed; i++)
			zs_pagemap_remove(&pool->pagemap, z->pages[i]);
		zs_mutex_unlock(&pool->pagemap.lock);
		for (unsigned int i = keep; i < z->backed; i++) {
			zs_source_free_page(&pool->source, z->pages[i]);
			z->pages[i] = NULL;
		}
	}
	z->backed = (uint8_t)keep;
	account_pages(pool, c, -(long)n);
}

/* ---- Create and destroy ---- */

struct zspage *zs_zspage_create(struct zs_pool *pool, struct size_class *c)
{
	ZS_ASSERT_HELD(&c->lock);
	struct zspage *z = header_alloc(pool);
	if (!z)
		goto nomem;
	z->pages = NULL;
	z->base = NULL;
	z->class_index = c->index; /* before the pagemap records it */
	z->backed = 0;
	z->populated = 0;
	z->inuse = 0;
	z->free_head = ZS_SLOT_NONE;
	z->fresh = 0;
	if (zs_source_is_arena(&pool->source)) {
		if (c->pages_per_zspage == 1 && (z->base = zs_arena_take_warm(&pool->source)))
			z->populated = (uint16_t)sys_pages_per_page(pool);
		else
			z->base = zs_arena_alloc(&pool->source, c->pages_per_zspage);
		if (!z->base)
			goto nomem_header;
		zs_mutex_lock(&pool->pagemap.lock);
		int err = zs_pagemap_insert(&pool->pagemap, z->base, z, true);
		zs_mutex_unlock(&pool->pagemap.lock);
		if (err)
			goto nomem_run;
	} else {
		z->pages = zs_meta_calloc(c->pages_per_zspage, sizeof(void *));
		if (!z->pages)
			goto nomem_header;
	}
	z->next = z->prev = NULL;
	z->group = ZS_NR_GROUPS;
	/* Last: from here on readers can find z by its number. */
	if (zs_dir_add(c, z))
		goto nomem_listed;
	c->nr_zspages++;
	return z;

nomem_listed:
	if (!zs_zspage_contiguous(z)) {
		zs_meta_free(z->pages);
		z->pages = NULL;
		goto nomem_header;
	}
	zs_mutex_lock(&pool->pagemap.lock);
	zs_pagemap_remove(&pool->pagemap, z->base);
	zs_mutex_unlock(&pool->pagemap.lock);
nomem_run:
	zs_arena_free(&pool->source, z->base, c->pages_per_zspage);
	z->base = NULL;
nomem_header:
	header_free(pool, z);
nomem:
	errno = ENOMEM;
	return NULL;
}

void zs_zspage_destroy_batched(struct zs_pool *pool, struct size_class *c, struct zspage *z,
			       struct zs_release_batch *batch)
{
	ZS_ASSERT_HELD(&c->lock);
	ZS_ASSERT(z->inuse == 0 || pool->source.unmapping);
	zs_group_remove(c, z);
	zs_dir_remove(c, z);
	if (zs_zspage_contiguous(z)) {
		zs_mutex_lock(&pool->pagemap.lock);
		zs_pagemap_remove(&pool->pagemap, z->base);
		zs_mutex_unlock(&pool->pagemap.lock);
		account_pages(pool, c, -(long)z->backed);
		/* A one-page zspage freed by zs_free leaves its page warm for
		 * the next, when the page is wholly resident; compaction (batch)
		 * gives pages back instead. */
		if (batch)
			zs_arena_free_later(&pool->source, batch, z->base, c->pages_per_zspage);
		else if (c->pages_per_zspage != 1 || z->populated != sys_pages_per_page(pool) ||
			 !zs_arena_keep_warm(&pool->source, z->base))
			zs_arena_free(&pool->source, z->base, c->pages_per_zspage);
		z->backed = 0;
	} else {
		unback_pages(pool, c, z, 0);
		zs_meta_free(z->pages);
		z->pages = NULL;
	}
	z->base = NULL;
	c->nr_zspages--;
	header_free(pool, z);
}

void zs_zspage_destroy(struct zs_pool *pool, struct size_class *c, struct zspage *z)
{
	zs_zspage_destroy_batched(pool, c, z, NULL);
}

int zs_zspage_make_chained(struct zs_pool *pool, struct size_class *c, struct zspage *z)
{
	ZS_ASSERT_HELD(&c->lock);
	ZS_ASSERT_HELD(&pool->pagemap.lock);
	unsigned int n = c->pages_per_zspage;
	void **pages = zs_meta_calloc(n, sizeof(void *));
	if (!pages || zs_pagemap_reserve(&pool->pagemap, z->backed)) {
		zs_meta_free(pages);
		return -1;
	}
	zs_pagemap_remove(&pool->pagemap, z->base);
	for (unsigned int i = 0; i < z->backed; i++) {
		pages[i] = z->base + ((size_t)i << pool->page_shift);
		zs_pagemap_insert(&pool->pagemap, pages[i], z, false); /* reserved: cannot fail */
	}
	/* The reserved pages not backed yet go back now; from here on each
	 * page is owned singly. */
	if (z->backed < n)
		zs_arena_free(&pool->source, z->base + ((size_t)z->backed << pool->page_shift),
			      n - z->backed);
	z->pages = pages;
	z->base = NULL;
	return 0;
}

/* ---- Slots ---- */

/* The free-list link is a slot's first two bytes, which may straddle two
 * pages of a chained zspage: read and written like object bytes. */
unsigned int zs_zspage_next_free(const struct zs_pool *pool, const struct size_class *c,
				 const struct zspage *z, unsigned int slot)
{
	ZS_ASSERT_HELD(&c->lock);
	uint16_t next;
	zs_obj_copy_out(pool, c, z, slot, &next, sizeof(next));
	return next;
}

static void set_next_free(const struct zs_pool *pool, const struct size_class *c,
			  const struct zspage *z, unsigned int slot, unsigned int next)
{
	ZS_ASSERT_HELD(&c->lock);
	uint16_t link = (uint16_t)next;
	zs_obj_copy_in(pool, c, z, slot, &link, sizeof(link));
}

int zs_zspage_take_slot(struct zs_pool *pool, struct size_class *c, struct zspage *z, bool limited)
{
	ZS_ASSERT_HELD(&c->lock);
	unsigned int slot = z->free_head;
	if (slot != ZS_SLOT_NONE) {
		ZS_ASSERT(slot < z->fresh);
		z->free_head = (uint16_t)zs_zspage_next_free(pool, c, z, slot);
		return (int)slot;
	}
	if (z->fresh >= c->objs_per_zspage)
		return -1;
	slot = z->fresh;
	size_t end = (size_t)(slot + 1) * c->size;
	unsigned int need = (unsigned int)((end + pool->page_size - 1) >> pool->page_shift);
	if (need > z->backed && back_pages(pool, c, z, need, limited))
		return -1;
	if (zs_zspage_contiguous(z))
		populate_to(pool, z, end);
	z->fresh++;
	return (int)slot;
}

void zs_zspage_put_slot(struct zs_pool *pool, const struct size_class *c, struct zspage *z,
			unsigned int slot)
{
	ZS_ASSERT_HELD(&c->lock);
	ZS_ASSERT(slot < z->fresh);
	set_next_free(pool, c, z, slot, z->free_head);
	z->free_head = (uint16_t)slot;
}

unsigned int zs_zspage_trim(struct zs_pool *pool, struct size_class *c, struct zspage *z,
			    const uint32_t *used)
{
	ZS_ASSERT_HELD(&c->lock);
	unsigned int top = z->fresh;
	while (top > 0 && !used[top - 1])
		top--;
	/* Rebuild the free list below top, lowest slots first out, so the
	 * zspage keeps filling front to back. */
	z->fresh = (uint16_t)top;
	z->free_head = ZS_SLOT_NONE;
	for (unsigned int s = top; s-- > 0;)
		if (!used[s]) {
			set_next_free(pool, c, z, s, z->free_head);
			z->free_head = (uint16_t)s;
		}
	size_t end = (size_t)top * c->size;
	unsigned int keep = (unsigned int)((end + pool->page_size - 1) >> pool->page_shift);
	unsigned int before = z->backed;
	unback_pages(pool, c, z, keep);
	return before - z->backed;
}
