/*
 * pagemap.c - from a page address to the zspage that holds it.
 *
 * Only migration (and the checker) asks "whose page is this?", so the map is
 * a plain open-addressing hash table with linear probing and backward-shift
 * deletion, kept at most three quarters full (16 bytes an entry).  A contiguous zspage of the built-in
 * arena is entered once, by its first page; a lookup for a page inside it
 * probes the page and the max_chain - 1 pages before it.  A zspage that is
 * not contiguous has an entry per backed page.
 *
 * Locking: the caller holds pool->pagemap.lock (ZS_ASSERT_HELD), except for
 * zs_pagemap_destroy; internal.h says what may nest inside it.
 */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"

static inline uintptr_t key_page(uintptr_t key)
{
	return key & ~ZS_PAGEMAP_LOW_MASK;
}

static inline unsigned int key_class(uintptr_t key)
{
	return (unsigned int)((key & ZS_PAGEMAP_LOW_MASK) >> ZS_PAGEMAP_CLASS_SHIFT);
}

static inline size_t hash_page(uintptr_t page, size_t capacity)
{
	/* Pages are aligned: mix the high bits down (Fibonacci hashing). */
	uint64_t h = (uint64_t)page * 0x9e3779b97f4a7c15ull;
	return (size_t)(h >> 32) & (capacity - 1);
}

void zs_pagemap_destroy(struct zs_pagemap *m)
{
	zs_meta_free(m->slots);
	m->slots = NULL;
	m->capacity = m->count = 0;
}

static int pagemap_resize(struct zs_pagemap *m, size_t capacity)
{
	ZS_ASSERT_HELD(&m->lock);
	struct zs_pagemap_slot *slots = zs_meta_calloc(capacity, sizeof(*slots));
	if (!slots)
		return -1;
	for (size_t i = 0; i < m->capacity; i++) {
		uintptr_t key = m->slots[i].key;
		if (!key)
			continue;
		size_t j = hash_page(key_page(key), capacity);
		while (slots[j].key)
			j = (j + 1) & (capacity - 1);
		slots[j] = m->slots[i];
	}
	zs_meta_free(m->slots);
	m->slots = slots;
	m->capacity = capacity;
	return 0;
}

int zs_pagemap_reserve(struct zs_pagemap *m, size_t n)
{
	ZS_ASSERT_HELD(&m->lock);
	size_t want = m->capacity ? m->capacity : 64;
	while ((m->count + n) * 4 > want * 3)
		want *= 2;
	if (want == m->capacity)
		return 0;
	return pagemap_resize(m, want);
}

int zs_pagemap_insert(struct zs_pagemap *m, const void *page, struct zspage *z, bool run)
{
	ZS_ASSERT_HELD(&m->lock);
	if (zs_pagemap_reserve(m, 1))
		return -1;
	size_t j = hash_page((uintptr_t)page, m->capacity);
	while (m->slots[j].key && key_page(m->slots[j].key) != (uintptr_t)page)
		j = (j + 1) & (m->capacity - 1);
	if (!m->slots[j].key)
		m->count++;
	m->slots[j].key = (uintptr_t)page | (uintptr_t)z->class_index << ZS_PAGEMAP_CLASS_SHIFT |
			  (run ? ZS_PAGEMAP_RUN : 0);
	m->slots[j].zspage = z;
	m->changes++;
	return 0;
}

static size_t pagemap_slot_of(const struct zs_pagemap *m, uintptr_t page)
{
	if (!m->capacity)
		return SIZE_MAX;
	size_t j = hash_page(page, m->capacity);
	while (m->slots[j].key) {
		if (key_page(m->slots[j].key) == page)
			return j;
		j = (j + 1) & (m->capacity - 1);
	}
	return SIZE_MAX;
}

void zs_pagemap_remove(struct zs_pagemap *m, const void *page)
{
	ZS_ASSERT_HELD(&m->lock);
	size_t hole = pagemap_slot_of(m, (uintptr_t)page);
	if (hole == SIZE_MAX)
		return;
	size_t mask = m->capacity - 1;
	/* Shift later members of the probe run back into the hole. */
	for (size_t j = (hole + 1) & mask; m->slots[j].key; j = (j + 1) & mask) {
		size_t home = hash_page(key_page(m->slots[j].key), m->capacity);
		/* Move j into hole unless its home lies cyclically in (hole, j]. */
		bool home_after_hole =
			hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
		if (!home_after_hole) {
			m->slots[hole] = m->slots[j];
			hole = j;
		}
	}
	m->slots[hole].key = 0;
	m->slots[hole].zspage = NULL;
	m->count--;
	m->changes++;
}

/* The zspage keyed by a page at or up to max_chain - 1 pages before page. */
static const struct zs_pagemap_slot *pagemap_probe(const struct zs_pool *pool, const void *page,
						   unsigned int *distance)
{
	uintptr_t p = (uintptr_t)page;
	if (!page || (p & (pool->page_size - 1)))
		return NULL;
	for (unsigned int k = 0; k < pool->max_chain && p >= (uintptr_t)k << pool->page_shift; k++) {
		size_t j = pagemap_slot_of(&pool->pagemap, p - ((uintptr_t)k << pool->page_shift));
		if (j == SIZE_MAX)
			continue;
		/* The first hit decides: pages of different zspages never
		 * overlap a contiguous zspage's run. */
		*distance = k;
		return &pool->pagemap.slots[j];
	}
	return NULL;
}

struct zspage *zs_pagemap_lookup(const struct zs_pool *pool, const void *page,
				 unsigned int *class_index)
{
	ZS_ASSERT_HELD(&pool->pagemap.lock);
	unsigned int k;
	const struct zs_pagemap_slot *slot = pagemap_probe(pool, page, &k);
	if (!slot || (k != 0 && !(slot->key & ZS_PAGEMAP_RUN)) ||
	    k >= pool->classes[key_class(slot->key)].pages_per_zspage)
		return NULL;
	*class_index = key_class(slot->key);
	return slot->zspage;
}

struct zspage *zs_pagemap_find(const struct zs_pool *pool, const void *page, unsigned int *page_index)
{
	ZS_ASSERT_HELD(&pool->pagemap.lock);
	unsigned int k;
	const struct zs_pagemap_slot *slot = pagemap_probe(pool, page, &k);
	if (!slot)
		return NULL;
	struct zspage *z = slot->zspage;
	const struct size_class *c = &pool->classes[key_class(slot->key)];
	if (zs_zspage_contiguous(z)) {
		if (k >= z->backed || k >= c->pages_per_zspage)
			return NULL;
		*page_index = k;
		return z;
	}
	if (k != 0)
		return NULL; /* a page of a chained zspage is keyed itself */
	for (unsigned int i = 0; i < c->pages_per_zspage; i++)
		if (z->pages[i] == page) {
			*page_index = i;
			return z;
		}
	return NULL;
}
