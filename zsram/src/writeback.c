/*
 * writeback.c - the backing file: pages written back leave the allocator
 * and live, uncompressed, in one block of the file each; reads fetch them
 * back transparently.
 *
 * Which pages go: a scan from a rotating clock hand over the slot table,
 * in passes: huge pages first (each frees a whole page of the pool), then
 * pages marked idle, then any stored page (zsram_writeback's select limits
 * the passes).  Same-filled pages never go: they take no memory.
 *
 * Locking: backing.lock guards the block bitmap; backing.scan_lock makes one
 * scan run at a time and guards the clock hand.  A scan only ever try-locks
 * slots (a busy slot is skipped), so it may run while its caller holds the
 * lock of the slot it is making room for.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "zsram_internal.h"

#define ROOM_BATCH 64 /* pages written back per attempt to make room */

int zsram_backing_open(struct zsram *z, const char *path, uint64_t nr_blocks)
{
	struct zsram_backing *b = &z->backing;

	b->fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (b->fd < 0)
		return -errno;
	b->nr_blocks = nr_blocks;
	b->bitmap = calloc((nr_blocks + 63) / 64, sizeof(uint64_t));
	if (!b->bitmap) {
		close(b->fd);
		b->fd = -1;
		return -ENOMEM;
	}
	return 0;
}

void zsram_backing_close(struct zsram *z)
{
	if (z->backing.fd >= 0)
		close(z->backing.fd);
	z->backing.fd = -1;
	free(z->backing.bitmap);
	z->backing.bitmap = NULL;
}

static uint64_t backing_alloc_block(struct zsram_backing *b)
{
	uint64_t found = UINT64_MAX;

	zs_mutex_lock(&b->lock);
	for (uint64_t n = 0; n < b->nr_blocks; n++) {
		uint64_t blk = (b->hint + n) % b->nr_blocks;

		if (!(b->bitmap[blk / 64] & (1ull << (blk % 64)))) {
			b->bitmap[blk / 64] |= 1ull << (blk % 64);
			b->hint = blk + 1;
			found = blk;
			break;
		}
	}
	zs_mutex_unlock(&b->lock);
	return found;
}

void zsram_backing_free(struct zsram *z, uint64_t block)
{
	struct zsram_backing *b = &z->backing;

	zs_mutex_lock(&b->lock);
	b->bitmap[block / 64] &= ~(1ull << (block % 64));
	zs_mutex_unlock(&b->lock);
	/* Give the disk space back; a failure only costs disk space. */
	(void)fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			(off_t)(block * z->page_size), (off_t)z->page_size);
}

int zsram_backing_read(struct zsram *z, uint64_t block, void *page)
{
	ssize_t n = pread(z->backing.fd, page, z->page_size, (off_t)(block * z->page_size));

	return n == (ssize_t)z->page_size ? 0 : -EIO;
}

/* Takes one page of the writeback budget: false when none is left. */
static bool budget_take(struct zsram_backing *b)
{
	int64_t left = atomic_load(&b->budget);

	do {
		if (left == 0)
			return false;
		if (left < 0)
			return true; /* no limit */
	} while (!atomic_compare_exchange_weak(&b->budget, &left, left - 1));
	return true;
}

static void budget_give_back(struct zsram_backing *b)
{
	int64_t left = atomic_load(&b->budget);

	/* Unless the limit was lifted (or set anew) meanwhile. */
	while (left >= 0 && !atomic_compare_exchange_weak(&b->budget, &left, left + 1))
		;
}

/* Writes slot i (locked, in the allocator) back; returns 1, or -EDQUOT (the
 * writeback limit is used up) / -ENOSPC (file full) / -EIO / the read's
 * error. */
static int writeback_slot(struct zsram *z, uint64_t i, uint32_t *flags, void *page)
{
	ZSRAM_ASSERT_SLOT_LOCKED(z, i);
	uint64_t block;
	int err;

	if (!budget_take(&z->backing))
		return -EDQUOT;
	err = zsram_slot_read_locked(z, i, *flags, page);
	if (err) {
		budget_give_back(&z->backing);
		return err;
	}
	block = backing_alloc_block(&z->backing);
	if (block == UINT64_MAX) {
		budget_give_back(&z->backing);
		return -ENOSPC;
	}
	if (pwrite(z->backing.fd, page, z->page_size, (off_t)(block * z->page_size)) !=
	    (ssize_t)z->page_size) {
		zsram_backing_free(z, block);
		budget_give_back(&z->backing);
		return -EIO;
	}
	zsram_slot_free_locked(z, i, *flags);
	z->slots.values[i] = block;
	*flags = SLOT_WB | (*flags & SLOT_IDLE);
	STAT_ADD(z->bd_count, 1);
	STAT_ADD(z->bd_writes, 1);
	return 1;
}

static bool pass_takes(uint32_t flags, unsigned int pass)
{
	if (!slot_in_allocator(flags))
		return false;
	switch (pass) {
	case ZSRAM_SEL_HUGE: return flags & SLOT_HUGE;
	case ZSRAM_SEL_IDLE: return flags & SLOT_IDLE;
	default: return true;
	}
}

/* The scan; caller holds scan_lock.  Skips slot `self` (UINT64_MAX: none). */
static long writeback_scan(struct zsram *z, unsigned int select, uint64_t max, uint64_t self)
{
	ZS_ASSERT_HELD(&z->backing.scan_lock);
	static const unsigned int passes[] = { ZSRAM_SEL_HUGE, ZSRAM_SEL_IDLE, ZSRAM_SEL_ALL };
	struct zsram_backing *b = &z->backing;
	long done = 0;
	int err = 0;
	void *page = malloc(z->page_size);

	if (!page)
		return -ENOMEM;
	for (unsigned int p = 0; p < 3 && (uint64_t)done < max && !err; p++) {
		uint64_t start = b->clock;

		if (!(select & passes[p]))
			continue;
		for (uint64_t n = 0; n < z->nr_pages && (uint64_t)done < max; n++) {
			uint64_t i = (start + n) % z->nr_pages;
			uint32_t flags;

			if (i == self || !zsram_slot_trylock(&z->slots, i, &flags))
				continue;
			if (pass_takes(flags, passes[p])) {
				err = writeback_slot(z, i, &flags, page);
				if (err > 0) {
					done++;
					err = 0;
					b->clock = i + 1;
				}
			}
			zsram_slot_unlock_set(&z->slots, i, flags);
			if (err)
				break;
		}
	}
	free(page);
	return done ? done : err;
}

long zsram_writeback(struct zsram *z, unsigned int select, uint64_t max_pages)
{
	long done;

	if (z->backing.fd < 0)
		return -EINVAL;
	zs_mutex_lock(&z->backing.scan_lock);
	done = writeback_scan(z, select, max_pages, UINT64_MAX);
	zs_mutex_unlock(&z->backing.scan_lock);
	if (done > 0)
		zpool_compact(z->alloc.pool);
	return done;
}

int zsram_set_writeback_limit(struct zsram *z, int64_t pages)
{
	if (z->backing.fd < 0)
		return -EINVAL;
	atomic_store(&z->backing.budget, pages < 0 ? -1 : pages);
	return 0;
}

int64_t zsram_writeback_limit(const struct zsram *z)
{
	return z->backing.fd < 0 ? -1 : atomic_load(&((struct zsram *)z)->backing.budget);
}

long zsram_writeback_for_room(struct zsram *z, uint64_t self)
{
	ZSRAM_ASSERT_SLOT_LOCKED(z, self);
	long done;

	zs_mutex_lock(&z->backing.scan_lock);
	done = writeback_scan(z, ZSRAM_SEL_HUGE | ZSRAM_SEL_IDLE | ZSRAM_SEL_ALL, ROOM_BATCH, self);
	zs_mutex_unlock(&z->backing.scan_lock);
	if (done > 0)
		zpool_compact(z->alloc.pool);
	return done;
}
