/*
 * fault.c - the fault-handler thread.
 *
 * One thread per region reads the userfaultfd and serves each missing-page
 * fault under z->lock: it makes room if the budget (plus
 * ZSSWAP_RESIDENT_SLACK) has none, then installs the page: zeros for a page
 * never written, with the never-written pages after it, the page's stored
 * copy decompressed (UFFDIO_COPY), whose copy it then frees, or a staged
 * page moved back home.  Each ioctl wakes the faulting thread.  When no
 * fault is waiting, it stores staged pages and stages new ones
 * ZSSWAP_AHEAD_STEP at a time (evict.c) while the region is within
 * ZSSWAP_HEADROOM pages of its budget, looking for faults in between: faults
 * rarely wait for compression, and never for more than a few pages of it.
 *
 * Cost: a handler sleeping in poll(2) pays a wake-up per fault (about 55 us
 * here); after serving, the handler keeps reading the non-blocking
 * userfaultfd for ZSSWAP_SPIN_NS before it sleeps again, yielding the
 * processor each time (the thread it just woke may be waiting for it), so
 * faults that come in bursts are served at about 20 us, while an idle region
 * costs nothing.  The thread blocks every signal: the program's handlers
 * never run on it.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "uffd_abi.h"
#include "zsswap_internal.h"

/*
 * The page's copy could not be read (its writeback target failed).  The
 * copy stays; the thread is woken and faults again, up to LOAD_RETRIES
 * times; then the page is poisoned, so the access gets SIGBUS, as for a
 * memory error: never wrong data, and no thread hangs forever.
 */
#define LOAD_RETRIES 3

static int load_failed(struct zsswap *z, uint32_t idx, unsigned long addr)
{
	struct zsswap_page *p = &z->pages[idx];
	struct uffdio_range range = { .start = addr, .len = z->page_size };

	if (++p->load_failures >= LOAD_RETRIES) {
		struct uffdio_poison poison = { .range = range };

		if (ioctl(z->uffd, UFFDIO_POISON, &poison) == 0)
			return -EIO;
	}
	ioctl(z->uffd, UFFDIO_WAKE, &range);
	return -EIO;
}

/*
 * Zeros at pages [idx, idx + run); returns the pages mapped.  A write gets
 * real zeroed pages (UFFDIO_COPY from z->zeros, never written): the shared
 * zero page would make the write fault again at once, and that fault's
 * flush interrupts the handler's processor.  A read gets the zero page
 * (UFFDIO_ZEROPAGE), which takes no memory until written.
 */
static uint32_t map_zeros(struct zsswap *z, uint32_t idx, uint32_t run, bool write)
{
	unsigned long dst = (unsigned long)(z->base + (size_t)idx * z->page_size);
	size_t len = (size_t)run * z->page_size;
	long done;

	if (write) {
		struct uffdio_copy copy = { .dst = dst, .src = (unsigned long)z->zeros, .len = len };

		if (ioctl(z->uffd, UFFDIO_COPY, &copy) == 0)
			return run;
		done = copy.copy;
	} else {
		struct uffdio_zeropage zero = { .range = { .start = dst, .len = len } };

		if (ioctl(z->uffd, UFFDIO_ZEROPAGE, &zero) == 0)
			return run;
		done = zero.zeropage;
	}
	return done > 0 ? (uint32_t)((size_t)done / z->page_size) : 0;
}

/*
 * A first touch: zeros for the page and the never-written pages after it
 * (up to ZSSWAP_ZERO_RUN, at most an eighth of the budget), in one ioctl,
 * since a program that touches a new page usually goes on to the next (a
 * fill, a read(2) into a buffer).  False if the faulting page could not be
 * mapped (it is present already): the caller then serves the one page.
 */
static bool serve_zero_run(struct zsswap *z, uint32_t idx, bool write)
{
	uint64_t max = z->max_resident_pages, cap = ZSSWAP_ZERO_RUN;
	uint32_t run = 0, done;

	if (max && max / 8 < cap)
		cap = max / 8;
	while (run < cap && idx + run < z->nr_pages && z->pages[idx + run].state == ZSSWAP_EMPTY)
		run++;
	if (!run)
		return false;
	zsswap_make_room_locked(z, run);
	done = map_zeros(z, idx, run, write);
	for (uint32_t i = idx; i < idx + done; i++) {
		z->pages[i].state = ZSSWAP_RESIDENT;
		zsswap_policy_admit(z, i, false);
	}
	z->resident += done;
	return done != 0;
}

/*
 * Readahead for sequential refaults.  A program that walks its memory (a
 * scan, a garbage collector marking its heap) refaults at ascending pages;
 * each such fault costs a round trip through this thread (20-55 us), while
 * loading a page costs a few.  So refaults are matched against
 * ZSSWAP_RA_STREAMS streams: a refault at or just past a stream's expected
 * page proves it sequential, and the dropped pages after the faulting one
 * (in the pool or same-filled; a written-back page costs a read, not ahead
 * of need) come in at once, 2, 4, then ZSSWAP_READAHEAD at a time, at most
 * 1/64 of the budget.  Any other refault starts a new stream (replacing the
 * oldest) and loads nothing ahead, so random access pays nothing.  Pages
 * loaded ahead join the inactive list as first touches: unused ones go
 * first.
 */
static struct zsswap_ra_stream *ra_stream(struct zsswap *z, uint32_t idx)
{
	struct zsswap_ra_stream *s;

	for (unsigned int i = 0; i < ZSSWAP_RA_STREAMS; i++) {
		s = &z->ra[i];
		if (s->next && idx >= s->next && idx <= s->next + 2) {
			s->window = s->window ? 2 * s->window : 2;
			if (s->window > ZSSWAP_READAHEAD)
				s->window = ZSSWAP_READAHEAD;
			return s;
		}
	}
	s = &z->ra[z->ra_replace++ % ZSSWAP_RA_STREAMS];
	s->window = 0;
	return s;
}

static void read_ahead(struct zsswap *z, uint32_t idx)
{
	struct zsswap_ra_stream *s = ra_stream(z, idx);
	uint64_t n = s->window;
	uint32_t j = idx + 1;

	if (z->max_resident_pages && z->max_resident_pages / 64 < n)
		n = z->max_resident_pages / 64;
	for (; j <= idx + n && j < z->nr_pages; j++) {
		struct zsswap_page *q = &z->pages[j];
		struct uffdio_copy copy = {
			.dst = (unsigned long)(z->base + (size_t)j * z->page_size),
			.src = (unsigned long)z->buf,
			.len = z->page_size,
		};

		if ((q->state != ZSSWAP_STORED && q->state != ZSSWAP_SAME) ||
		    zsswap_copy_load(z, j, z->buf))
			break;
		zsswap_make_room_locked(z, 1); /* evicts resident pages only */
		if (ioctl(z->uffd, UFFDIO_COPY, &copy))
			break; /* the copy stays; the page faults in later */
		zsswap_copy_free(z, j);
		q->load_failures = 0;
		q->state = ZSSWAP_RESIDENT;
		z->resident++;
		z->loads++;
		zsswap_policy_admit(z, j, false);
	}
	s->next = j;
}

int zsswap_serve_fault_locked(struct zsswap *z, uint32_t idx, bool write)
{
	struct zsswap_page *p = &z->pages[idx];
	unsigned long addr = (unsigned long)(z->base + (size_t)idx * z->page_size);
	bool refault;
	int rc;

	if (p->state == ZSSWAP_EMPTY && serve_zero_run(z, idx, write))
		return 0;
	if (p->state == ZSSWAP_STAGED) {
		zsswap_make_room_locked(z, 1); /* may store this very page */
		if (p->state == ZSSWAP_STAGED) {
			/* Touched again before it was stored: home it goes. */
			zsswap_unstage_locked(z, idx);
			zsswap_policy_admit(z, idx, true);
			return 0;
		}
	}
	refault = p->state != ZSSWAP_EMPTY && p->state != ZSSWAP_RESIDENT;
	/* The copy first: by the time it is expanded the faulting thread is
	 * asleep, and making room then sends no flush to its processor. */
	if (refault && zsswap_copy_load(z, idx, z->buf))
		return load_failed(z, idx, addr);
	if (p->state != ZSSWAP_RESIDENT)
		zsswap_make_room_locked(z, 1);
	if (refault) {
		struct uffdio_copy copy = {
			.dst = addr,
			.src = (unsigned long)z->buf,
			.len = z->page_size,
		};
		rc = ioctl(z->uffd, UFFDIO_COPY, &copy);
	} else {
		/* errno stays the ioctl's when it fails */
		rc = map_zeros(z, idx, 1, write) == 1 ? 0 : -1;
	}
	if (rc && errno == EEXIST) {
		/* Present already (the program's own fault raced ours): the
		 * page is what it is; just wake the thread. */
		struct uffdio_range range = { .start = addr, .len = z->page_size };

		ioctl(z->uffd, UFFDIO_WAKE, &range);
	} else if (rc) {
		return -errno;
	}
	if (p->state == ZSSWAP_RESIDENT)
		return 0;
	if (refault) {
		zsswap_copy_free(z, idx);
		p->load_failures = 0;
		z->loads++;
	}
	p->state = ZSSWAP_RESIDENT;
	z->resident++;
	zsswap_policy_admit(z, idx, refault);
	if (refault)
		read_ahead(z, idx);
	return 0;
}

static void serve_messages(struct zsswap *z, const struct uffd_msg *msg, ssize_t n)
{
	pthread_mutex_lock(&z->lock);
	for (ssize_t i = 0; i < n; i++) {
		uintptr_t a = (uintptr_t)msg[i].arg.pagefault.address;

		if (msg[i].event != UFFD_EVENT_PAGEFAULT)
			continue;
		if (a >= (uintptr_t)z->base && a < (uintptr_t)z->base + z->size)
			zsswap_serve_fault_locked(
				z, (uint32_t)((a - (uintptr_t)z->base) / z->page_size),
				msg[i].arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE);
	}
	pthread_mutex_unlock(&z->lock);
}

/* Between faults: stores a few staged pages, or else stages a few more
 * (evict.c).  False when there is nothing to do. */
static bool reclaim_ahead(struct zsswap *z)
{
	bool failed = false;
	uint64_t done;

	pthread_mutex_lock(&z->lock);
	done = zsswap_store_staged_locked(z, ZSSWAP_AHEAD_STEP, &failed);
	if (!done)
		done = zsswap_reclaim_ahead_locked(z, ZSSWAP_AHEAD_STEP);
	pthread_mutex_unlock(&z->lock);
	return done != 0;
}

/* Before sleeping: the stored pages' old bytes go. */
static void drop_staging(struct zsswap *z)
{
	pthread_mutex_lock(&z->lock);
	zsswap_drop_staging_locked(z);
	pthread_mutex_unlock(&z->lock);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

__thread bool zsswap_on_handler_thread __attribute__((tls_model("initial-exec")));

static void *handler_main(void *arg)
{
	struct zsswap *z = arg;
	struct uffd_msg msg[16];
	struct pollfd fds[2] = {
		{ .fd = z->uffd, .events = POLLIN },
		{ .fd = z->stop_fd, .events = POLLIN },
	};
	uint64_t spin_until = 0;

	zsswap_on_handler_thread = true;
	for (;;) {
		ssize_t n = read(z->uffd, msg, sizeof(msg));

		if (n > 0) {
			serve_messages(z, msg, n / (ssize_t)sizeof(msg[0]));
			spin_until = now_ns() + ZSSWAP_SPIN_NS;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			break;
		if (reclaim_ahead(z)) {
			spin_until = now_ns() + ZSSWAP_SPIN_NS;
			continue;
		}
		if (spin_until && now_ns() < spin_until) {
			/* The thread just woken may wait for this processor:
			 * let it run first. */
			sched_yield();
			continue;
		}
		spin_until = 0;
		drop_staging(z);
		if (poll(fds, 2, -1) < 0 && errno != EINTR)
			break;
		if (fds[1].revents)
			break;
	}
	return NULL;
}

int zsswap_handler_start(struct zsswap *z)
{
	sigset_t all, old;
	int err;

	z->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (z->stop_fd < 0) {
		zsswap_set_error(errno, "zsswap: eventfd: %s", strerror(errno));
		return -1;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&z->handler, NULL, handler_main, z);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		zsswap_set_error(err, "zsswap: cannot start the fault handler: %s", strerror(err));
		return -1;
	}
	z->handler_running = true;
	return 0;
}

void zsswap_handler_stop(struct zsswap *z)
{
	if (z->handler_running) {
		uint64_t one = 1;

		if (write(z->stop_fd, &one, sizeof(one)) != sizeof(one))
			abort();
		pthread_join(z->handler, NULL);
		z->handler_running = false;
	}
	if (z->stop_fd >= 0)
		close(z->stop_fd);
	z->stop_fd = -1;
}
