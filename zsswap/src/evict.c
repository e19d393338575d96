/*
 * evict.c - taking pages out of the region and storing them, in two steps.
 *
 * Staging: a victim is moved, one UFFDIO_MOVE each, from the region into a
 * free slot of the staging area.  The move is atomic: from then on the
 * region's entry is empty and any access faults, so a write can never land
 * in a page that is being compressed.  A staged page counts as evicted
 * (z->resident drops), its state is ZSSWAP_STAGED and its copy the slot.
 *
 * Storing: each staged page is then compressed into the pool (copy.c); its
 * slot keeps the old bytes until the whole staging area, every page in it
 * stored, is dropped with one MADV_DONTNEED.  A page the pool cannot take
 * (max_pool reached, no writeback room) is moved back and stays resident:
 * the budget yields, nothing is lost, pool_limit_hit counts it.  A fault on
 * a staged page moves it back home (fault.c).
 *
 * Why two steps: between faults the handler stages and stores a couple of
 * pages at a time (zsswap_reclaim_ahead_locked), so a fault waits for its
 * own page only; and the drop, a system call that must also flush the TLB
 * of every processor running the program, is paid once per half staging
 * area instead of once per batch.  (Measured on the 2-vCPU machine: the
 * access phase of zsswap-bench took 0.59-0.65 s this way, 0.81-0.83 s with
 * the staging done inside each fault, 0.76-0.88 s with the old one-step
 * batches.)  A fault moves pages out itself only when the budget plus
 * ZSSWAP_RESIDENT_SLACK leaves no room.  The cost: up to
 * ZSSWAP_STAGING_PAGES pages of memory beyond the budget while staged pages
 * wait.  Callers that need a settled table (control.c, stats.c) store and
 * drop everything first with zsswap_settle_locked().  Caller holds z->lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "uffd_abi.h"
#include "zsswap_internal.h"

static int move_once(struct zsswap *z, void *dst, void *src)
{
	struct uffdio_move mv = {
		.dst = (unsigned long)dst,
		.src = (unsigned long)src,
		.len = z->page_size,
	};

	return ioctl(z->uffd, UFFDIO_MOVE, &mv) ? -errno : 0;
}

/*
 * One page from src to dst; 0 or -errno (-ENOENT: src not present; any
 * other error: the page is still at src).  Linux 6.18 can move a page and
 * still answer -EEXIST when the move races with a copy-on-write fault of
 * the zero page at src (seen about once in 20,000 races, reproduced outside
 * zsswap): trusting the error would leave the page in dst while its home
 * reads as zeros.  So a failed move is checked by moving back: if that
 * works, the page did move, is home again, and the move is tried anew.
 */
#define MOVE_TRIES 4

int zsswap_move_page(struct zsswap *z, void *dst, void *src)
{
	int err = 0;

	for (int i = 0; i < MOVE_TRIES; i++) {
		err = move_once(z, dst, src);
		if (err == 0 || err == -ENOENT || move_once(z, src, dst) != 0)
			return err;
	}
	return err;
}

static char *slot_addr(const struct zsswap *z, unsigned int s)
{
	return z->staging + (size_t)s * z->page_size;
}

/* Moves up to nr victims into free slots; returns the pages that left the
 * region, and sets *stop when no more can leave now (no victim, or one is
 * busy).  Returns early, without *stop, when the slots run out. */
static uint64_t stage_victims(struct zsswap *z, uint64_t nr, bool *stop)
{
	uint64_t done = 0;

	while (done < nr && z->staging_used < ZSSWAP_STAGING_PAGES) {
		uint32_t idx = zsswap_policy_victim(z);
		struct zsswap_page *p = &z->pages[idx];
		unsigned int s = z->staging_used;
		int err;

		if (idx == ZSSWAP_NONE) {
			*stop = true;
			break;
		}
		zsswap_list_remove(z, idx);
		err = zsswap_move_page(z, slot_addr(z, s), z->base + (size_t)idx * z->page_size);
		if (err == -ENOENT) {
			/* Not present: the program dropped it itself
			 * (madvise); it reads as zeros now. */
			p->state = ZSSWAP_EMPTY;
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
		p->state = ZSSWAP_STAGED;
		p->copy = s;
		p->evicted_at = ++z->evictions;
		z->staged[s] = idx;
		z->staging_used++;
		z->staged_held++;
		z->resident--;
		done++;
	}
	return done;
}

void zsswap_unstage_locked(struct zsswap *z, uint32_t idx)
{
	struct zsswap_page *p = &z->pages[idx];
	unsigned int s = (unsigned int)p->copy;

	/* The home entry is empty and ours: the move cannot fail.  It wakes
	 * a thread waiting for the page. */
	if (zsswap_move_page(z, z->base + (size_t)idx * z->page_size, slot_addr(z, s)))
		abort();
	z->staged[s] = ZSSWAP_NONE;
	z->staged_held--;
	p->state = ZSSWAP_RESIDENT;
	p->copy = 0;
	z->resident++;
}

/* Stores the page in slot s.  False if it had to go back home. */
static bool store_slot(struct zsswap *z, unsigned int s)
{
	uint32_t idx = z->staged[s];

	z->staged[s] = ZSSWAP_NONE;
	z->staged_held--;
	if (zsswap_copy_store(z, idx, slot_addr(z, s)) == 0) {
		z->stores++;
		return true;
	}
	z->staged[s] = idx;
	z->staged_held++;
	z->pool_refused = true;
	zsswap_unstage_locked(z, idx);
	zsswap_list_push(z, idx, ZSSWAP_LIST_INACTIVE);
	return false;
}

uint64_t zsswap_store_staged_locked(struct zsswap *z, uint64_t nr, bool *failed)
{
	uint64_t done = 0;

	for (unsigned int s = 0; s < z->staging_used && z->staged_held && done < nr; s++) {
		if (z->staged[s] == ZSSWAP_NONE)
			continue;
		if (!store_slot(z, s))
			*failed = true;
		done++;
	}
	return done;
}

bool zsswap_drop_staging_locked(struct zsswap *z)
{
	if (!z->staging_used || z->staged_held)
		return false;
	madvise(z->staging, (size_t)z->staging_used * z->page_size, MADV_DONTNEED);
	z->staging_used = 0;
	return true;
}

bool zsswap_settle_locked(struct zsswap *z)
{
	bool failed = false;

	zsswap_store_staged_locked(z, ZSSWAP_STAGING_PAGES, &failed);
	zsswap_drop_staging_locked(z); /* every slot is stored or went home */
	return !failed;
}

/* Takes up to nr pages out of the region.  When the staging area is full,
 * it is stored and dropped for the first `must` of them; the rest wait
 * for free slots.  Stops early when the pool refuses a page. */
static void take_out(struct zsswap *z, uint64_t nr, uint64_t must)
{
	uint64_t done = 0;
	bool stop = false;

	while (done < nr && !stop) {
		if (z->staging_used == ZSSWAP_STAGING_PAGES &&
		    (done >= must || !zsswap_settle_locked(z)))
			break;
		done += stage_victims(z, nr - done, &stop);
	}
}

uint64_t zsswap_evict_locked(struct zsswap *z, uint64_t nr)
{
	uint64_t before = z->resident;

	take_out(z, nr, nr);
	zsswap_settle_locked(z);
	/* Pages the pool refused are back home: they did not leave. */
	return before > z->resident ? before - z->resident : 0;
}

/* A drop costs a system call and a flush of every processor running the
 * program: once per half staging area, unless slots run out first. */
static void drop_if_half_used(struct zsswap *z)
{
	if (z->staging_used >= ZSSWAP_STAGING_PAGES / 2)
		zsswap_drop_staging_locked(z);
}

/* Before n pages come in, while the faulting thread waits: room for them
 * within the budget plus ZSSWAP_RESIDENT_SLACK.  Usually there is, thanks
 * to zsswap_reclaim_ahead_locked() between faults. */
void zsswap_make_room_locked(struct zsswap *z, uint64_t n)
{
	uint64_t max = z->max_resident_pages;

	if (!max || z->resident + n <= max + ZSSWAP_RESIDENT_SLACK)
		return;
	uint64_t must = z->resident + n - max - ZSSWAP_RESIDENT_SLACK;

	drop_if_half_used(z);
	take_out(z, must, must);
}

/* Between faults: stages at most `step` pages while the region is within
 * ZSSWAP_HEADROOM pages of its budget, so that faults find room.  Returns
 * the pages that left (0: nothing to do, no free slot, or the pool refused
 * a page and nothing was freed since: the handler may sleep). */
uint64_t zsswap_reclaim_ahead_locked(struct zsswap *z, unsigned int step)
{
	uint64_t max = z->max_resident_pages, before = z->resident;
	uint64_t headroom = max / 8 < ZSSWAP_HEADROOM ? max / 8 : ZSSWAP_HEADROOM;

	if (!max || z->resident + headroom <= max || z->pool_refused)
		return 0;
	uint64_t want = z->resident + headroom - max;

	drop_if_half_used(z);
	take_out(z, want < step ? want : step, 0);
	return before - z->resident;
}
