/*
 * compact.c - compaction and page migration.
 *
 * Compaction works class by class under the class lock.  It takes the
 * sparsest zspage as the source and the fullest non-full one as the
 * destination, moves objects from the top of the source down into the
 * destination's free slots, re-points their handle entries, and frees the
 * source when it empties; a source left partly full gives back the pages
 * above its highest object.  It goes on while two zspages or more have free
 * slots (so the last partly used ones merge), and every move goes from a
 * sparser to a fuller zspage, so it always ends.
 *
 * No slot -> handle map is kept between compactions (that would cost 4 bytes
 * an object): compacting a class first scans the class's handle entries
 * into a map of its slots (zs_slot_map_build), which lives until the class
 * is done, so the class lock is held for the whole class.  The scan reads 4
 * bytes per entry the class ever had; other threads allocating in the class
 * wait for the whole class's moves (not measured apart yet; a pool's whole
 * compaction is in zsbench's figures).
 *
 * A source zspage is marked moving and skipped while any of its objects is
 * pinned (mapped, read or written); destinations are not marked: objects are
 * only written into their free slots, which no reader can reach.
 *
 * Then each zspage left partly used is packed in place when that frees a
 * page: its top objects move down into its lowest free slots and the pages
 * above the last object go back.  (The kernel cannot do this: its zspages
 * hold all their pages for life.  Ours are backed page by page.)
 *
 * Migration moves one backing page: under the class lock it marks the
 * zspage moving, gives up with -EAGAIN if it is pinned, copies the page,
 * and swaps the page pointer (a contiguous zspage becomes a chained one).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#include <sys/mman.h>

/* Slot maps larger than this are mmap'ed, so that freeing one gives its
 * memory back at once instead of leaving it in malloc's heap. */
#define SLOT_MAP_MMAP_BYTES (64u << 10)

struct slot_map_fill {
	struct zs_slot_map *map;
	const struct size_class *class;
};

static int record_entry(uint32_t index, uint32_t location, void *arg)
{
	struct slot_map_fill *f = arg;
	size_t cell = (size_t)zs_entry_number(f->class, location) * f->map->objs +
		      zs_entry_slot(f->class, location);
	if (cell >= f->map->ncells)
		return -1; /* a number past the directory: corrupt */
	f->map->cell[cell] = index;
	return 0;
}

int zs_slot_map_build(struct zs_pool *pool, const struct size_class *c, struct zs_slot_map *m,
		      bool counted)
{
	ZS_ASSERT_HELD(&c->lock);
	m->objs = c->objs_per_zspage;
	m->ncells = (size_t)c->dir.next_number * c->objs_per_zspage;
	m->cell = NULL;
	size_t bytes = m->ncells * sizeof(uint32_t);
	if (bytes == 0)
		return 0;
	if (counted && zs_meta_should_fail())
		return -1;
	if (bytes >= SLOT_MAP_MMAP_BYTES) {
		void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			       0);
		m->cell = p == MAP_FAILED ? NULL : p;
	} else {
		m->cell = calloc(m->ncells, sizeof(uint32_t));
	}
	if (!m->cell)
		return -1;
	struct slot_map_fill f = { .map = m, .class = c };
	if (zs_class_for_each_entry(&pool->handles, c, record_entry, &f)) {
		zs_slot_map_free(m);
		return -2;
	}
	return 0;
}

void zs_slot_map_free(struct zs_slot_map *m)
{
	size_t bytes = m->ncells * sizeof(uint32_t);
	if (m->cell && bytes >= SLOT_MAP_MMAP_BYTES)
		munmap(m->cell, bytes);
	else
		free(m->cell);
	m->cell = NULL;
	m->ncells = 0;
}

/* Zspages found pinned during one class's compaction, passed over after.
 * They stay on their group lists (other threads may free into them or
 * destroy them whenever the lock is dropped), so an entry may go stale: a
 * recycled header that lands in this class again is merely passed over. */
#define ZS_SKIP_MAX 64

struct skip_set {
	struct zspage *z[ZS_SKIP_MAX];
	unsigned int n;
};

static bool skipped(const struct skip_set *skip, const struct zspage *z)
{
	for (unsigned int i = 0; i < skip->n; i++)
		if (skip->z[i] == z)
			return true;
	return false;
}

/* The sparsest zspage of c that is not full and not passed over, or NULL. */
static struct zspage *sparsest(struct size_class *c, const struct skip_set *skip)
{
	unsigned int mask = c->group_mask & ((1u << ZS_GROUP_FULL) - 1);
	while (mask) {
		unsigned int g = (unsigned int)__builtin_ctz(mask);
		for (struct zspage *z = c->groups[g]; z; z = z->next)
			if (!skipped(skip, z))
				return z;
		mask &= mask - 1;
	}
	return NULL;
}

/* One class's compaction: the slot map of the class and a page-sized
 * buffer for objects that cannot be copied in place. */
struct compaction {
	struct zs_slot_map map;
	char *bounce;
	struct zs_release_batch *batch;
};

/* Moves the object in slot s of src into a free slot of dst; -1 if dst
 * could not back a page for it. */
static int move_object(struct zs_pool *pool, struct size_class *c, struct compaction *cp,
		       struct zspage *src, unsigned int s, struct zspage *dst)
{
	ZS_ASSERT_HELD(&c->lock);
	int d = zs_zspage_take_slot(pool, c, dst, false);
	if (d < 0)
		return -1;
	uint32_t *src_slots = zs_slot_map_of(&cp->map, src);
	uint32_t index = src_slots[s];
	char *bounce = cp->bounce;
	/* Not pins == 0: a reader that loaded the entry before src was marked
	 * may hold a pin for a moment, until it sees moving and backs off. */
	ZS_ASSERT(dst != src && atomic_load(&src->moving));
	char *from = zs_obj_in_place(pool, c, src, s);
	char *to = zs_obj_in_place(pool, c, dst, (unsigned int)d);
	if (from && to) {
		memcpy(to, from, c->size);
	} else if (from) {
		zs_obj_copy_in(pool, c, dst, (unsigned int)d, from, c->size);
	} else {
		zs_obj_copy_out(pool, c, src, s, bounce, c->size);
		zs_obj_copy_in(pool, c, dst, (unsigned int)d, bounce, c->size);
	}
	zs_slot_map_of(&cp->map, dst)[d] = index;
	dst->inuse++;
	/* Release: a reader that sees the new entry sees the bytes. */
	atomic_store_explicit(zs_entry_ptr(&pool->handles, index),
			      zs_entry_make_used(c, dst, (unsigned int)d), memory_order_release);
	src_slots[s] = 0;
	zs_zspage_put_slot(pool, c, src, s);
	src->inuse--;
	return 0;
}

/* Empties src into the fullest zspages of c, as far as they take it.  src is
 * off the group lists, and is destroyed if it empties: do not touch it after.
 * Returns the objects moved. */
static unsigned int evacuate(struct zs_pool *pool, struct size_class *c, struct compaction *cp,
			     struct zspage *src)
{
	ZS_ASSERT_HELD(&c->lock);
	unsigned int moved = 0;
	const uint32_t *used = zs_slot_map_of(&cp->map, src);
	for (unsigned int s = src->fresh; s-- > 0 && src->inuse > 0;) {
		if (!used[s])
			continue;
		struct zspage *dst = zs_fullest_nonfull(c);
		if (!dst || dst->inuse < src->inuse)
			break; /* nothing fuller left to fill */
		if (move_object(pool, c, cp, src, s, dst))
			break;
		moved++;
		zs_group_update(c, dst);
	}
	atomic_store(&src->moving, 0);
	if (src->inuse == 0) {
		zs_zspage_destroy_batched(pool, c, src, cp->batch);
	} else {
		zs_zspage_trim(pool, c, src, used);
		zs_group_insert(c, src);
	}
	return moved;
}

/* Pages a zspage would need with its objects packed at the bottom. */
static unsigned int packed_pages(const struct zs_pool *pool, const struct size_class *c,
				 const struct zspage *z)
{
	size_t end = (size_t)z->inuse * c->size;
	return (unsigned int)((end + pool->page_size - 1) >> pool->page_shift);
}

/* Whether packing z in place would give a page back. */
static bool packing_frees_pages(const struct zs_pool *pool, const struct size_class *c,
				const struct zspage *z)
{
	return z->backed > packed_pages(pool, c, z);
}

/* Moves z's objects from its top slots into its lowest free ones, then gives
 * back the pages above them.  z is marked moving and not pinned; its group
 * does not change (inuse does not). */
static void pack_in_place(struct zs_pool *pool, struct size_class *c, struct compaction *cp,
			  struct zspage *z)
{
	ZS_ASSERT_HELD(&c->lock);
	uint32_t *slots = zs_slot_map_of(&cp->map, z);
	unsigned int lo = 0, hi = z->fresh; /* hi - 1: highest slot to look at */
	for (;;) {
		while (lo < hi && slots[lo])
			lo++;
		while (hi > lo && !slots[hi - 1])
			hi--;
		if (lo >= hi)
			break;
		unsigned int from = hi - 1;
		uint32_t index = slots[from];
		ZS_ASSERT(from > lo && !slots[lo]);
		char *src = zs_obj_in_place(pool, c, z, from);
		if (!src) {
			zs_obj_copy_out(pool, c, z, from, cp->bounce, c->size);
			src = cp->bounce;
		}
		zs_obj_copy_in(pool, c, z, lo, src, c->size);
		slots[lo] = index;
		slots[from] = 0; /* the free list is rebuilt below */
		atomic_store_explicit(zs_entry_ptr(&pool->handles, index),
				      zs_entry_make_used(c, z, lo), memory_order_release);
		lo++;
		hi--;
	}
	zs_zspage_trim(pool, c, z, slots);
}

/* Packs every partly used zspage of c that would give a page back. */
static void pack_class(struct zs_pool *pool, struct size_class *c, struct compaction *cp)
{
	ZS_ASSERT_HELD(&c->lock);
	for (unsigned int g = 0; g < ZS_GROUP_FULL; g++)
		for (struct zspage *z = c->groups[g]; z; z = z->next) {
			if (!packing_frees_pages(pool, c, z))
				continue;
			atomic_store(&z->moving, 1);
			if (zs_hazard_claim(z))
				pack_in_place(pool, c, cp, z);
			atomic_store(&z->moving, 0);
		}
}

/* Whether c has two zspages or more with free slots: merging them can
 * free pages even when their free slots add up to less than a zspage (the
 * kernel's criterion), because the one left is then packed in place. */
static bool has_partials_to_merge(const struct size_class *c)
{
	unsigned long partial = 0;
	for (unsigned int g = 0; g < ZS_GROUP_FULL; g++)
		partial += c->group_count[g];
	return partial >= 2;
}

/* Whether packing some zspage of c in place would give a page back. */
static bool has_zspage_to_pack(const struct zs_pool *pool, const struct size_class *c)
{
	for (unsigned int g = 0; g < ZS_GROUP_FULL; g++)
		for (const struct zspage *z = c->groups[g]; z; z = z->next)
			if (packing_frees_pages(pool, c, z))
				return true;
	return false;
}

/* Returns the pages by which the class shrank: the sources' pages given
 * back, less any page a destination had to back for a fresh slot.  Counted
 * while the lock is held, so other threads' allocations do not count. */
static long compact_class(struct zs_pool *pool, struct size_class *c, char *bounce,
			  struct zs_release_batch *batch)
{
	struct skip_set skip = { .n = 0 };
	struct compaction cp = { .bounce = bounce, .batch = batch };
	zs_mutex_lock(&c->lock);
	unsigned long pages_before = c->pages_used;
	if ((!has_partials_to_merge(c) && !has_zspage_to_pack(pool, c)) ||
	    zs_slot_map_build(pool, c, &cp.map, true)) {
		/* Nothing to gain, or no memory for the map: nothing moves. */
		zs_mutex_unlock(&c->lock);
		return 0;
	}
	while (has_partials_to_merge(c)) {
		struct zspage *src = sparsest(c, &skip);
		if (!src)
			break;
		zs_group_remove(c, src); /* back on a list before any unlock */
		struct zspage *dst = zs_fullest_nonfull(c);
		if (dst && dst->inuse < src->inuse && !skipped(&skip, dst)) {
			/* Same fullness group, and the first one found holds more:
			 * empty the other one into it instead. */
			zs_group_insert(c, src);
			zs_group_remove(c, dst);
			struct zspage *t = src;
			src = dst;
			dst = t;
		}
		if (!dst || dst->inuse < src->inuse) {
			zs_group_insert(c, src);
			break;
		}
		atomic_store(&src->moving, 1);
		if (!zs_hazard_claim(src)) {
			atomic_store(&src->moving, 0);
			zs_group_insert(c, src);
			if (skip.n == ZS_SKIP_MAX)
				break; /* too much of the class is in use now */
			skip.z[skip.n++] = src;
			continue;
		}
		if (evacuate(pool, c, &cp, src) == 0)
			break; /* no progress (a page could not be had) */
	}
	pack_class(pool, c, &cp);
	long freed = (long)(pages_before - c->pages_used);
	zs_mutex_unlock(&c->lock);
	zs_slot_map_free(&cp.map);
	return freed;
}

ZS_API unsigned long zs_compact(struct zs_pool *pool)
{
	zs_meta_serve(pool);
	char *bounce = malloc(pool->page_size);
	if (!bounce)
		return 0;
	long freed = 0;
	struct zs_release_batch batch = { 0 };
	for (unsigned int i = ZS_MAX_CLASSES; i-- > 0;) {
		if (pool->class_of_index[i] != i)
			continue;
		freed += compact_class(pool, &pool->classes[i], bounce, &batch);
	}
	zs_arena_flush(&pool->source, &batch);
	zs_arena_drop_warm(&pool->source);
	free(bounce);
	if (freed < 0)
		freed = 0; /* cannot happen: every move goes to a fuller zspage */
	atomic_fetch_add(&pool->pages_compacted, (unsigned long)freed);
	return (unsigned long)freed;
}

ZS_API void zs_pool_stats(struct zs_pool *pool, struct zs_pool_stats *stats)
{
	stats->pages_compacted = atomic_load(&pool->pages_compacted);
}

/* ---- Migration ---- */

ZS_API int zs_page_migrate(struct zs_pool *pool, void *page, void *newpage)
{
	if (!page || !newpage || page == newpage || ((uintptr_t)newpage & (pool->page_size - 1)))
		return -EINVAL;
	zs_meta_serve(pool);
	unsigned int pidx, ci = 0;
	zs_mutex_lock(&pool->pagemap.lock);
	struct zspage *z = zs_pagemap_lookup(pool, page, &ci);
	zs_mutex_unlock(&pool->pagemap.lock);
	if (!z)
		return -EINVAL;

	struct size_class *c = &pool->classes[ci];
	zs_mutex_lock(&c->lock);
	int ret = 0;
	zs_mutex_lock(&pool->pagemap.lock);
	/* The zspage may have gone or changed while no lock was held. */
	unsigned int now_ci = ~0u;
	if (zs_pagemap_lookup(pool, page, &now_ci) != z || now_ci != ci) {
		ret = -EAGAIN;
		goto out_pagemap;
	}
	if (!zs_pagemap_find(pool, page, &pidx)) {
		ret = -EINVAL; /* in the zspage's run, but not backed */
		goto out_pagemap;
	}
	unsigned int other_ci;
	if (zs_pagemap_lookup(pool, newpage, &other_ci)) {
		ret = -EINVAL; /* newpage is in use by this pool */
		goto out_pagemap;
	}
	atomic_store(&z->moving, 1);
	if (!zs_hazard_claim(z)) {
		ret = -EAGAIN;
		goto out_moving;
	}
	if (zs_zspage_contiguous(z) && zs_zspage_make_chained(pool, c, z)) {
		ret = -ENOMEM;
		goto out_moving;
	}
	if (zs_pagemap_reserve(&pool->pagemap, 1)) {
		ret = -ENOMEM;
		goto out_moving;
	}
	memcpy(newpage, page, pool->page_size);
	zs_pagemap_remove(&pool->pagemap, page);
	zs_pagemap_insert(&pool->pagemap, newpage, z, false); /* reserved: cannot fail */
	z->pages[pidx] = newpage;
out_moving:
	/* Release: a reader that pins after this sees the new page. */
	atomic_store(&z->moving, 0);
out_pagemap:
	zs_mutex_unlock(&pool->pagemap.lock);
	zs_mutex_unlock(&c->lock);
	return ret;
}
