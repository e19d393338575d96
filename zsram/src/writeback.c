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

/*
 * Writeback goes in batches: up to WB_BATCH slots are staged (locked, their
 * pages read into one buffer, a block of the file and a page of the budget
 * taken for each), then written with one pwrite per run of consecutive
 * blocks, then freed from memory and unlocked.  Blocks come from a rotating
 * hint, so a batch is mostly one run: one system call instead of 32.
 */
#define WB_BATCH 32

struct wb_batch {
	unsigned char *pages; /* WB_BATCH pages, staged in order */
	uint64_t slot[WB_BATCH], block[WB_BATCH];
	uint32_t flags[WB_BATCH];
	unsigned int n;
};

/* Stages slot i (locked, in the allocator): 1, or -EDQUOT (the writeback
 * limit is used up) / -ENOSPC (file full) / the read's error, the slot
 * then left as it was (still locked, for the caller to unlock). */
static int wb_stage(struct zsram *z, struct wb_batch *wb, uint64_t i, uint32_t flags)
{
	ZSRAM_ASSERT_SLOT_LOCKED(z, i);
	unsigned char *page = wb->pages + (size_t)wb->n * z->page_size;
	uint64_t block;
	int err;

	if (!budget_take(&z->backing))
		return -EDQUOT;
	err = zsram_slot_read_locked(z, i, flags, page);
	if (err) {
		budget_give_back(&z->backing);
		return err;
	}
	block = backing_alloc_block(&z->backing);
	if (block == UINT64_MAX) {
		budget_give_back(&z->backing);
		return -ENOSPC;
	}
	wb->slot[wb->n] = i;
	wb->flags[wb->n] = flags;
	wb->block[wb->n] = block;
	wb->n++;
	return 1;
}

/* Writes the staged pages and unlocks their slots: those written now point
 * into the file; after a failed write, that run's slots stay in memory as
 * they were.  Returns the pages written back, or -EIO if none was. */
static long wb_flush(struct zsram *z, struct wb_batch *wb)
{
	long done = 0;
	int err = 0;

	for (unsigned int a = 0, b; a < wb->n; a = b) {
		bool ok;

		for (b = a + 1; b < wb->n && wb->block[b] == wb->block[b - 1] + 1; b++)
			;
		size_t bytes = (size_t)(b - a) * z->page_size;
		ok = pwrite(z->backing.fd, wb->pages + (size_t)a * z->page_size, bytes,
			    (off_t)(wb->block[a] * z->page_size)) == (ssize_t)bytes;
		for (unsigned int k = a; k < b; k++) {
			uint64_t i = wb->slot[k];
			uint32_t flags = wb->flags[k];

			if (ok) {
				zsram_slot_free_locked(z, i, flags);
				z->slots.values[i] = wb->block[k];
				flags = SLOT_WB | (flags & SLOT_IDLE);
				STAT_ADD(z->bd_count, 1);
				STAT_ADD(z->bd_writes, 1);
				done++;
			} else {
				zsram_backing_free(z, wb->block[k]);
				budget_give_back(&z->backing);
				err = -EIO;
			}
			zsram_slot_unlock_set(&z->slots, i, flags);
		}
	}
	wb->n = 0;
	return done ? done : err;
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
	struct wb_batch wb = { .pages = malloc((size_t)WB_BATCH * z->page_size) };
	uint64_t staged = 0;
	long done = 0, n;
	int err = 0;

	if (!wb.pages)
		return -ENOMEM;
	for (unsigned int p = 0; p < 3 && staged < max && !err; p++) {
		uint64_t start = b->clock;

		if (!(select & passes[p]))
			continue;
		for (uint64_t k = 0; k < z->nr_pages && staged < max && !err; k++) {
			uint64_t i = (start + k) % z->nr_pages;
			uint32_t flags;

			if (i == self || !zsram_slot_trylock(&z->slots, i, &flags))
				continue;
			if (!pass_takes(flags, passes[p])) {
				zsram_slot_unlock_set(&z->slots, i, flags);
				continue;
			}
			err = wb_stage(z, &wb, i, flags);
			if (err <= 0) {
				zsram_slot_unlock_set(&z->slots, i, flags);
				break;
			}
			err = 0;
			staged++;
			b->clock = i + 1;
			if (wb.n == WB_BATCH) {
				n = wb_flush(z, &wb);
				if (n < 0)
					err = (int)n;
				else
					done += n;
			}
		}
		/* A pass ends with its batch written: the next may take the
		 * same slots' neighbours, not the same slots. */
		n = wb_flush(z, &wb);
		if (n < 0 && !err)
			err = (int)n;
		else if (n > 0)
			done += n;
	}
	free(wb.pages);
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
