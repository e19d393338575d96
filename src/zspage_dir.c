/*
 * zspage_dir.c - each class's directory of zspage numbers.
 *
 * A handle entry names its object's zspage by a number within the class
 * rather than by the header's address, so that an entry fits 4 bytes.  The
 * directory turns the number back into the header: one array of cells per
 * class, read without locks (map/read/write, see zs_dir_lookup in
 * internal.h).  Numbers are reused lowest-freed-last (a LIFO list through
 * the free cells), so the numbers in use stay dense and the array small.
 *
 * Growth copies the cells into an array twice the size and publishes it
 * with a release store; the old array is kept on a list until the pool is
 * destroyed, because a reader may still be loading from it.  Its cells stay
 * as they were: a reader that found a header through an old array checks
 * the current one again after pinning (access.c), so a stale old cell is
 * harmless.
 *
 * Locking: the class lock for add, remove and growth; none for lookups.
 * Memory: 8 bytes per number handed out, less than twice that while the
 * old arrays are kept.
 */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"

#define DIR_FIRST_CAP 4u

static uintptr_t free_cell(uint32_t next_plus_one)
{
	return (uintptr_t)next_plus_one << 1 | 1;
}

void zs_dir_destroy(struct zs_zspage_dir *d)
{
	struct zs_dir_array *a = atomic_load_explicit(&d->cur, memory_order_relaxed);
	while (a) {
		struct zs_dir_array *older = a->older;
		zs_meta_free(a);
		a = older;
	}
	atomic_store_explicit(&d->cur, NULL, memory_order_relaxed);
	d->next_number = d->free_number = 0;
}

static int dir_grow(struct zs_zspage_dir *d)
{
	struct zs_dir_array *old = atomic_load_explicit(&d->cur, memory_order_relaxed);
	uint32_t cap = old ? old->cap * 2 : DIR_FIRST_CAP;
	if (cap > d->max_numbers)
		cap = d->max_numbers;
	if (old && cap <= old->cap)
		return -1; /* the class has every number it can encode */
	struct zs_dir_array *a = zs_meta_alloc(sizeof(*a) + cap * sizeof(a->cell[0]));
	if (!a)
		return -1;
	a->older = old;
	a->cap = cap;
	uint32_t i = 0;
	if (old)
		for (; i < old->cap; i++)
			atomic_init(&a->cell[i],
				    atomic_load_explicit(&old->cell[i], memory_order_relaxed));
	for (; i < cap; i++)
		atomic_init(&a->cell[i], 0);
	atomic_store_explicit(&d->cur, a, memory_order_release);
	return 0;
}

int zs_dir_add(struct size_class *c, struct zspage *z)
{
	ZS_ASSERT_HELD(&c->lock);
	struct zs_zspage_dir *d = &c->dir;
	struct zs_dir_array *a = atomic_load_explicit(&d->cur, memory_order_relaxed);
	uint32_t number;
	if (d->free_number) {
		number = d->free_number - 1;
		d->free_number =
			(uint32_t)(atomic_load_explicit(&a->cell[number], memory_order_relaxed) >> 1);
	} else {
		if (!a || d->next_number == a->cap) {
			if (dir_grow(d)) {
				errno = ENOMEM;
				return -1;
			}
			a = atomic_load_explicit(&d->cur, memory_order_relaxed);
		}
		number = d->next_number++;
	}
	z->number = number;
	/* Release: a reader that finds z here sees it set up. */
	atomic_store_explicit(&a->cell[number], (uintptr_t)z, memory_order_release);
	return 0;
}

void zs_dir_remove(struct size_class *c, struct zspage *z)
{
	ZS_ASSERT_HELD(&c->lock);
	struct zs_zspage_dir *d = &c->dir;
	struct zs_dir_array *a = atomic_load_explicit(&d->cur, memory_order_relaxed);
	ZS_ASSERT(a && z->number < d->next_number && atomic_load(&a->cell[z->number]) == (uintptr_t)z);
	atomic_store_explicit(&a->cell[z->number], free_cell(d->free_number), memory_order_release);
	d->free_number = z->number + 1;
}

size_t zs_dir_bytes(const struct zs_zspage_dir *d)
{
	size_t bytes = 0;
	for (const struct zs_dir_array *a = atomic_load(&d->cur); a; a = a->older)
		bytes += zs_meta_usable_size((void *)a);
	return bytes;
}
