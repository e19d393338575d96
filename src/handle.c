/*
 * handle.c - the handle table and the checks every handle goes through.
 *
 * A handle names an entry of the pool's table; the entry names the zspage
 * (by its number in the class) and slot where the object is now (compaction
 * re-points it).  The table is a directory of 64 Ki-entry blocks; blocks are
 * reserved with mmap and entries are handed out in order, so only the part
 * of a block in use is resident.  Each class keeps the entries it freed on a
 * list of its own and takes fresh ones from the table ZS_ENTRY_BATCH at a
 * time, so allocation and free touch only the class lock; the table lock is
 * taken once per batch.  The class records its batches, so that its objects
 * can be found by scanning its entries alone (zs_class_for_each_entry).
 *
 * Entries are never given back to the table: the table keeps 5 bytes for the
 * most objects the pool ever held at once (4 of location, 1 of generation),
 * and the class 4 bytes per batch of ZS_ENTRY_BATCH (16).
 *
 * Every public call decodes its handle here and aborts with a message rather
 * than follow a handle that is not live: wrong pool tag, class or index out of
 * range, a free entry or an entry whose generation differs (stale handle).
 * These checks cost a few compares on values the call loads anyway, so they
 * are on in every build.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "internal.h"

#define BLOCK_BYTES ZS_ENTRY_BLOCK_BYTES
#define DIR_BYTES ((size_t)ZS_ENTRY_DIR_SIZE * sizeof(uint32_t *))

int zs_handles_init(struct zs_handle_table *t)
{
	/* mmap'ed, not calloc'ed: malloc may clear a calloc'ed block from its
	 * heap, making all of it resident; a fresh mapping costs only the
	 * pages of block pointers in use (4 KiB per 32 Mi entries). */
	void *dir = zs_meta_should_fail() ? MAP_FAILED
					  : mmap(NULL, DIR_BYTES, PROT_READ | PROT_WRITE,
						 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (dir == MAP_FAILED)
		return -1;
	t->dir = dir;
	atomic_init(&t->next_index, 1); /* index 0 is never a handle */
	if (zs_mutex_init(&t->lock)) {
		munmap(dir, DIR_BYTES);
		t->dir = NULL;
		return -1;
	}
	return 0;
}

void zs_handles_destroy(struct zs_handle_table *t)
{
	if (!t->dir)
		return;
	for (size_t i = 0; i < ZS_ENTRY_DIR_SIZE; i++) {
		uint32_t *block = atomic_load_explicit(&t->dir[i], memory_order_relaxed);
		if (!block)
			break;
		munmap(block, BLOCK_BYTES);
	}
	munmap(t->dir, DIR_BYTES);
	t->dir = NULL;
	zs_mutex_destroy(&t->lock);
}

/* Takes up to ZS_ENTRY_BATCH fresh indexes for class c; 0 on ENOMEM. */
static int table_refill(struct zs_handle_table *t, struct size_class *c)
{
	ZS_ASSERT_HELD(&c->lock);
	int ok = 0;
	if (c->nr_batches == c->batches_cap) {
		uint32_t cap = c->batches_cap ? c->batches_cap * 2 : 4;
		uint32_t *b = zs_meta_should_fail() ? NULL : realloc(c->batches, cap * sizeof(*b));
		if (!b)
			return 0;
		c->batches = b;
		c->batches_cap = cap;
	}
	zs_mutex_lock(&t->lock);
	uint32_t first = atomic_load_explicit(&t->next_index, memory_order_relaxed);
	uint32_t block_end = (first | (ZS_ENTRY_BLOCK - 1)) + 1;
	uint32_t last = first + ZS_ENTRY_BATCH;
	if (last > block_end) /* a batch never crosses blocks */
		last = block_end;
	uint32_t b = first >> ZS_ENTRY_BLOCK_SHIFT;
	if (b >= ZS_ENTRY_DIR_SIZE - 1 && last == block_end)
		goto out; /* 2 Gi entries: free links would not fit */
	if (!atomic_load_explicit(&t->dir[b], memory_order_relaxed)) {
		void *block = NULL;
		if (!zs_meta_should_fail())
			block = mmap(NULL, BLOCK_BYTES, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (block == MAP_FAILED || block == NULL)
			goto out;
		atomic_store_explicit(&t->dir[b], (uint32_t *)block, memory_order_release);
	}
	atomic_store_explicit(&t->next_index, last, memory_order_release);
	c->bump_next = first;
	c->bump_end = last;
	c->batches[c->nr_batches++] = first;
	ok = 1;
out:
	zs_mutex_unlock(&t->lock);
	return ok;
}

uint32_t zs_entry_alloc(struct zs_handle_table *t, struct size_class *c, unsigned int *gen)
{
	ZS_ASSERT_HELD(&c->lock);
	uint32_t index = c->entry_free_head;
	if (index) {
		_Atomic uint32_t *ep = zs_entry_ptr(t, index);
		uint32_t e = atomic_load_explicit(ep, memory_order_relaxed);
		c->entry_free_head = e & ZS_ENTRY_VALUE_MASK;
		*gen = atomic_load_explicit(zs_entry_gen_ptr(ep, index), memory_order_relaxed);
		return index;
	}
	if (c->bump_next == c->bump_end && !table_refill(t, c))
		return 0;
	*gen = 0;
	return c->bump_next++;
}

void zs_entry_free(struct zs_handle_table *t, struct size_class *c, uint32_t index)
{
	ZS_ASSERT_HELD(&c->lock);
	_Atomic uint32_t *ep = zs_entry_ptr(t, index);
	_Atomic uint8_t *gp = zs_entry_gen_ptr(ep, index);
	/* The generation first: a stale reader that sees the free location
	 * or the new generation is caught either way. */
	atomic_store_explicit(gp, (uint8_t)(atomic_load_explicit(gp, memory_order_relaxed) + 1),
			      memory_order_relaxed);
	atomic_store_explicit(ep, c->entry_free_head, memory_order_release);
	c->entry_free_head = index;
}

int zs_class_for_each_entry(struct zs_handle_table *t, const struct size_class *c,
			    int (*fn)(uint32_t index, uint32_t location, void *arg), void *arg)
{
	ZS_ASSERT_HELD(&c->lock);
	for (uint32_t b = 0; b < c->nr_batches; b++) {
		uint32_t first = c->batches[b];
		/* A batch never crosses blocks: one block pointer for it. */
		_Atomic uint32_t *ep = zs_entry_ptr(t, first);
		uint32_t end = first + ZS_ENTRY_BATCH;
		uint32_t block_end = (first | (ZS_ENTRY_BLOCK - 1)) + 1;
		if (end > block_end)
			end = block_end;
		/* The class's last batch may be partly handed out. */
		if (c->bump_end == end && c->bump_next >= first && c->bump_next < end)
			end = c->bump_next;
		for (uint32_t i = first; i < end; i++) {
			uint32_t e = atomic_load_explicit(&ep[i - first], memory_order_relaxed);
			if (e & ZS_ENTRY_USED) {
				int r = fn(i, e, arg);
				if (r)
					return r;
			}
		}
	}
	return 0;
}

void zs_fatal(const struct zs_pool *pool, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "zsmalloc: %s: ", pool && pool->name ? pool->name : "?");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	abort();
}

struct zspage *zs_handle_check_entry(struct zs_pool *pool, unsigned long handle, const char *what,
				     const struct zs_handle_parts *h, uint32_t e)
{
	if (zs_unlikely(!(e & ZS_ENTRY_USED)))
		zs_fatal(pool, "%s: handle %#lx was freed (use after free or double free)", what,
			 handle);
	if (zs_unlikely(atomic_load_explicit(h->entry_gen, memory_order_relaxed) != h->gen))
		zs_fatal(pool, "%s: handle %#lx is stale: it was freed and its entry reused", what,
			 handle);
	struct zspage *z = zs_dir_lookup(&h->class->dir, zs_entry_number(h->class, e));
	if (zs_unlikely(!z || z->class_index != h->class->index))
		zs_fatal(pool, "%s: handle %#lx does not match its object's class (corrupt handle)",
			 what, handle);
	return z;
}
