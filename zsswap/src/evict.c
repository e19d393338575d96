/*
 * evict.c - taking pages out of the region and storing them.
 *
 * A batch of victims is moved, one UFFDIO_MOVE each, from the region into
 * the staging area.  The move is atomic: from then on the region's entry is
 * empty and any access faults, so a write can never land in a page that is
 * being compressed (the handler serves that fault only after this batch,
 * because the caller holds z->lock).  Each staged page is then stored
 * (copy.c) and the staging area is dropped with one MADV_DONTNEED.  A page
 * the pool cannot take (max_pool reached, no writeback room) is moved back
 * and stays resident: the budget yields, nothing is lost, pool_limit_hit
 * counts it.  Caller holds z->lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "uffd_abi.h"
#include "zsswap_internal.h"

static int move_page(struct zsswap *z, void *dst, void *src)
{
	struct uffdio_move mv = {
		.dst = (unsigned long)dst,
		.src = (unsigned long)src,
		.len = z->page_size,
	};

	return ioctl(z->uffd, UFFDIO_MOVE, &mv) ? -errno : 0;
}

/* Stores the page at staging slot s, taken from region page idx.  False if
 * it had to go back (it is resident again). */
static bool store_staged(struct zsswap *z, uint32_t idx, char *staged)
{
	struct zsswap_page *p = &z->pages[idx];
	char *home = z->base + (size_t)idx * z->page_size;

	if (zsswap_copy_store(z, idx, staged) == 0) {
		p->evicted_at = ++z->evictions;
		z->resident--;
		z->stores++;
		return true;
	}
	if (move_page(z, home, staged))
		abort(); /* the home entry is empty and ours: cannot fail */
	zsswap_list_push(z, idx, ZSSWAP_LIST_INACTIVE);
	return false;
}

/* One batch of at most ZSSWAP_STAGING_PAGES; returns pages evicted, and
 * sets *stop when nothing more can be evicted now. */
static uint64_t evict_batch(struct zsswap *z, uint64_t nr, bool *stop)
{
	uint32_t victims[ZSSWAP_STAGING_PAGES];
	unsigned int staged = 0;
	uint64_t done = 0;

	while (staged < nr && staged < ZSSWAP_STAGING_PAGES) {
		uint32_t idx = zsswap_policy_victim(z);
		char *home;
		int err;

		if (idx == ZSSWAP_NONE) {
			*stop = true;
			break;
		}
		zsswap_list_remove(z, idx);
		home = z->base + (size_t)idx * z->page_size;
		err = move_page(z, z->staging + (size_t)staged * z->page_size, home);
		if (err == -ENOENT) {
			/* Not present: the program dropped it itself
			 * (madvise); it reads as zeros now. */
			z->pages[idx].state = ZSSWAP_EMPTY;
			z->resident--;
			done++;
			continue;
		}
		if (err) {
			/* Pinned or shared right now (-EBUSY): keep it. */
			zsswap_list_push(z, idx, ZSSWAP_LIST_INACTIVE);
			*stop = true;
			break;
		}
		victims[staged++] = idx;
	}
	for (unsigned int s = 0; s < staged; s++) {
		if (store_staged(z, victims[s], z->staging + (size_t)s * z->page_size))
			done++;
		else
			*stop = true;
	}
	if (staged)
		madvise(z->staging, (size_t)staged * z->page_size, MADV_DONTNEED);
	return done;
}

uint64_t zsswap_evict_locked(struct zsswap *z, uint64_t nr)
{
	uint64_t done = 0;
	bool stop = false;

	while (done < nr && !stop)
		done += evict_batch(z, nr - done, &stop);
	return done;
}

/* Before n pages come in: room for them within the budget plus
 * ZSSWAP_RESIDENT_SLACK.  Usually there is, thanks to the call below. */
void zsswap_make_room_locked(struct zsswap *z, uint64_t n)
{
	uint64_t max = z->max_resident_pages;

	if (max && z->resident + n > max + ZSSWAP_RESIDENT_SLACK)
		zsswap_evict_locked(z, z->resident + n - max - ZSSWAP_RESIDENT_SLACK);
}

/* Between faults, when no fault is waiting: evict at most `step` pages
 * while the region is within ZSSWAP_HEADROOM pages of its budget, so that
 * faults find room and do not wait for compression; a few pages at a time,
 * so that a fault arriving meanwhile waits for little.  Returns the pages
 * evicted (0: nothing to do). */
uint64_t zsswap_reclaim_ahead_locked(struct zsswap *z, unsigned int step)
{
	uint64_t max = z->max_resident_pages;
	uint64_t headroom = max / 8 < ZSSWAP_HEADROOM ? max / 8 : ZSSWAP_HEADROOM;

	if (!max || z->resident + headroom <= max)
		return 0;
	uint64_t want = z->resident + headroom - max;

	return zsswap_evict_locked(z, want < step ? want : step);
}
