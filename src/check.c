/*
 * check.c - the pool consistency checker (zs_pool_check).
 *
 * Takes each class lock in turn, with the pagemap lock inside it, and checks
 * that every structure agrees with every other:
 *  - each zspage sits in the fullness group its inuse count says, in its own
 *    class, and the group counts add up;
 *  - every live handle entry of the class names a zspage of the class in
 *    its directory and a slot below fresh, no two the same slot; a zspage's
 *    used slots number inuse; its free list (through the free slots) holds
 *    exactly the other slots below fresh, without cycles;
 *  - the pages backed cover every used slot; chained zspages have a page
 *    pointer exactly where a page is backed; the pagemap finds every page;
 *  - class counters (objects, pages, zspages) match the sums; each class's
 *    free handle entries are free;
 *  - the pool's page total and the pagemap's size match the sums over all
 *    classes.  Other threads may work meanwhile, so this last check is made
 *    only when no page count and no pagemap entry changed during the walk
 *    (always, on a quiet pool).
 * Other threads wait for the class being checked; pins do not matter.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

struct checker {
	struct zs_pool *pool;
	char *why;
	size_t why_len;
	int failed;
};

__attribute__((format(printf, 2, 3))) static int fail(struct checker *ck, const char *fmt, ...)
{
	if (!ck->failed && ck->why && ck->why_len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(ck->why, ck->why_len, fmt, ap);
		va_end(ap);
	}
	ck->failed = 1;
	return -1;
}

static int check_zspage(struct checker *ck, struct size_class *c, struct zspage *z, unsigned int g,
			const struct zs_slot_map *map, size_t *pagemap_entries)
{
	struct zs_pool *pool = ck->pool;
	if (z->class_index != c->index)
		return fail(ck, "class %u: zspage %p says class %u", c->index, (void *)z,
			    z->class_index);
	if (z->group != g || zs_group_of(c, z->inuse) != g)
		return fail(ck,
			    "class %u: zspage %p with %u of %u objects is in group %u "
			    "(marked %u)",
			    c->index, (void *)z, z->inuse, c->objs_per_zspage, g, z->group);
	if (z->inuse == 0 || z->fresh > c->objs_per_zspage || z->inuse > z->fresh)
		return fail(ck, "class %u: zspage %p: inuse %u, fresh %u, objs %u", c->index,
			    (void *)z, z->inuse, z->fresh, c->objs_per_zspage);
	size_t need = ((size_t)z->fresh * c->size + pool->page_size - 1) >> pool->page_shift;
	if (z->backed < need || z->backed > c->pages_per_zspage)
		return fail(ck, "class %u: zspage %p: %u pages backed, slots need %zu", c->index,
			    (void *)z, z->backed, need);

	if (z->number >= c->dir.next_number || zs_dir_lookup(&c->dir, z->number) != z)
		return fail(ck, "class %u: zspage %p: its number %u does not name it", c->index,
			    (void *)z, z->number);
	const uint32_t *slots = zs_slot_map_of(map, z);
	unsigned int used = 0;
	for (unsigned int s = 0; s < c->objs_per_zspage; s++) {
		if (!slots[s])
			continue;
		if (s >= z->fresh)
			return fail(ck,
				    "class %u: zspage %p: entry %u names slot %u, at or above "
				    "fresh %u",
				    c->index, (void *)z, slots[s], s, z->fresh);
		used++;
	}
	if (used != z->inuse)
		return fail(ck, "class %u: zspage %p: %u used slots, inuse says %u", c->index,
			    (void *)z, used, z->inuse);
	unsigned int nfree = 0;
	for (unsigned int s = z->free_head; s != ZS_SLOT_NONE;
	     s = zs_zspage_next_free(pool, c, z, s)) {
		if (s >= z->fresh || slots[s] || ++nfree > z->fresh)
			return fail(ck, "class %u: zspage %p: free list broken at slot %u",
				    c->index, (void *)z, s);
	}
	if (nfree != (unsigned int)(z->fresh - z->inuse))
		return fail(ck, "class %u: zspage %p: %u slots on the free list, %u free", c->index,
			    (void *)z, nfree, z->fresh - z->inuse);

	if (zs_zspage_contiguous(z)) {
		if (!z->base)
			return fail(ck, "class %u: zspage %p: no pages", c->index, (void *)z);
		*pagemap_entries += 1;
	} else {
		for (unsigned int i = 0; i < c->pages_per_zspage; i++)
			if ((z->pages[i] != NULL) != (i < z->backed))
				return fail(ck, "class %u: zspage %p: page %u is %s but %u backed",
					    c->index, (void *)z, i, z->pages[i] ? "set" : "NULL",
					    z->backed);
		*pagemap_entries += z->backed;
	}
	for (unsigned int i = 0; i < z->backed; i++) {
		unsigned int at = ~0u;
		if (zs_pagemap_find(pool, zs_zspage_page(pool, z, i), &at) != z || at != i)
			return fail(ck, "class %u: zspage %p: pagemap does not find page %u",
				    c->index, (void *)z, i);
	}
	return 0;
}

/* Every live entry of the class names a zspage of the class, once per slot. */
struct entry_check {
	struct checker *ck;
	struct size_class *class;
	struct zs_slot_map *map;
	unsigned long live;
};

static int check_entry(uint32_t index, uint32_t e, void *arg)
{
	struct entry_check *ec = arg;
	struct size_class *c = ec->class;
	uint32_t number = zs_entry_number(c, e);
	unsigned int slot = zs_entry_slot(c, e);
	struct zspage *z = zs_dir_lookup(&c->dir, number);
	if (!z || z->class_index != c->index || slot >= c->objs_per_zspage)
		return fail(ec->ck,
			    "class %u: entry %u names zspage number %u slot %u, which "
			    "the class does not have",
			    c->index, index, number, slot);
	uint32_t *cell = &zs_slot_map_of(ec->map, z)[slot];
	if (*cell)
		return fail(ec->ck,
			    "class %u: entries %u and %u name the same slot %u of zspage "
			    "%p",
			    c->index, *cell, index, slot, (void *)z);
	*cell = index;
	ec->live++;
	return 0;
}

static int check_class(struct checker *ck, struct size_class *c, unsigned long *pages,
		       size_t *pagemap_entries)
{
	ZS_ASSERT_HELD(&c->lock);
	ZS_ASSERT_HELD(&ck->pool->pagemap.lock);
	unsigned long zspages = 0, objs = 0, backed = 0;
	/* The map is built here from scratch, not by zs_slot_map_build, so
	 * that duplicate slots are caught; plain calloc: the checker is not
	 * one of the pool's metadata allocations. */
	struct zs_slot_map map = { .objs = c->objs_per_zspage,
				   .ncells = (size_t)c->dir.next_number * c->objs_per_zspage };
	map.cell = calloc(map.ncells ? map.ncells : 1, sizeof(uint32_t));
	if (!map.cell)
		return fail(ck, "class %u: no memory to check it", c->index);
	struct entry_check ec = { .ck = ck, .class = c, .map = &map };
	int r = zs_class_for_each_entry(&ck->pool->handles, c, check_entry, &ec);
	if (!r && ec.live != c->obj_used)
		r = fail(ck, "class %u: %lu live handle entries, %lu objects", c->index, ec.live,
			 c->obj_used);
	if (r) {
		free(map.cell);
		return -1;
	}
	for (unsigned int g = 0; g < ZS_NR_GROUPS; g++) {
		unsigned long n = 0;
		for (struct zspage *z = c->groups[g]; z; z = z->next, n++) {
			if (n > c->nr_zspages) {
				free(map.cell);
				return fail(ck, "class %u: group %u list loops", c->index, g);
			}
			if (check_zspage(ck, c, z, g, &map, pagemap_entries)) {
				free(map.cell);
				return -1;
			}
			objs += z->inuse;
			backed += z->backed;
		}
		if (n != c->group_count[g] || (n != 0) != !!(c->group_mask & (1u << g))) {
			free(map.cell);
			return fail(ck, "class %u: group %u holds %lu zspages, counted %u",
				    c->index, g, n, c->group_count[g]);
		}
		zspages += n;
	}
	free(map.cell);
	if (zspages != c->nr_zspages || objs != c->obj_used || backed != c->pages_used)
		return fail(ck,
			    "class %u: counted %lu zspages %lu objects %lu pages; class says "
			    "%lu %lu %lu",
			    c->index, zspages, objs, backed, c->nr_zspages, c->obj_used,
			    c->pages_used);
	unsigned long n = 0;
	uint32_t limit = atomic_load(&ck->pool->handles.next_index);
	for (uint32_t i = c->entry_free_head; i; n++) {
		if (i >= limit)
			return fail(ck, "class %u: free handle entry %u past the table (%u)",
				    c->index, i, limit);
		uint32_t e = atomic_load(zs_entry_ptr(&ck->pool->handles, i));
		if ((e & ZS_ENTRY_USED) || n > (1ul << 31))
			return fail(ck, "class %u: free handle entry %u is in use", c->index, i);
		i = e & ZS_ENTRY_VALUE_MASK;
	}
	*pages += backed;
	return 0;
}

ZS_API int zs_pool_check(struct zs_pool *pool, char *why, size_t why_len)
{
	struct checker ck = { .pool = pool, .why = why, .why_len = why_len };
	if (why && why_len)
		why[0] = '\0';
	unsigned long events = atomic_load(&pool->page_events);
	zs_mutex_lock(&pool->pagemap.lock);
	unsigned long map_changes = pool->pagemap.changes;
	zs_mutex_unlock(&pool->pagemap.lock);

	unsigned long pages = 0;
	size_t pagemap_entries = 0;
	for (unsigned int i = 0; i < ZS_MAX_CLASSES && !ck.failed; i++) {
		unsigned int ci = pool->class_of_index[i];
		if (ci < i || pool->class_of_index[ci] != ci) {
			fail(&ck, "class index %u maps to %u", i, ci);
			break;
		}
		if (ci != i)
			continue;
		struct size_class *c = &pool->classes[i];
		zs_mutex_lock(&c->lock);
		zs_mutex_lock(&pool->pagemap.lock);
		check_class(&ck, c, &pages, &pagemap_entries);
		zs_mutex_unlock(&pool->pagemap.lock);
		zs_mutex_unlock(&c->lock);
	}

	zs_mutex_lock(&pool->pagemap.lock);
	/* The total before the events: every change bumps the events before
	 * it touches the total, so a total that moved while the classes were
	 * summed shows in the events. */
	unsigned long total = atomic_load(&pool->total_pages);
	bool quiet =
		map_changes == pool->pagemap.changes && events == atomic_load(&pool->page_events);
	if (!ck.failed && quiet && pages != total)
		fail(&ck, "classes hold %lu pages, the pool counts %lu", pages, total);
	if (!ck.failed && quiet && pagemap_entries != pool->pagemap.count)
		fail(&ck, "pagemap has %zu entries, zspages need %zu", pool->pagemap.count,
		     pagemap_entries);
	zs_mutex_unlock(&pool->pagemap.lock);
	return ck.failed ? -1 : 0;
}
