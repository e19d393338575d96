/*
 * fork.c - a fork(2) whose child gets a copy of the whole region, for
 * zsswap-run, which wraps fork() in programs it runs.
 *
 * A region is MADV_DONTFORK, and a child does not inherit userfaultfd
 * registrations (no UFFD_FEATURE_EVENT_FORK), so a dropped page would read
 * as zeros there.  So before the fork every dropped page is loaded back (the
 * budget is lifted meanwhile) and the region is made inheritable; the child
 * then holds a plain copy-on-write copy of it and runs uncompressed, while
 * the parent gets its region back as before.  The cost is a load of every
 * dropped page per fork, and pages shared with the child cannot be evicted
 * (UFFDIO_MOVE refuses them) until it exits or execs; vfork(2) and
 * posix_spawn(3), which Python's subprocess, system(3) and popen(3) use,
 * share the address space and cost nothing.
 *
 * zsswap_fork_prepare returns with z->lock held; zsswap_fork_parent or
 * zsswap_fork_child releases it (the child never uses the region again).
 */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "zsswap_internal.h"

static void restore_budget_locked(struct zsswap *z)
{
	z->max_resident_pages = z->fork_max_resident_pages;
}

int zsswap_fork_prepare(struct zsswap *z)
{
	pthread_mutex_lock(&z->lock);
	zsswap_settle_locked(z);
	z->fork_max_resident_pages = z->max_resident_pages;
	z->max_resident_pages = 0; /* loading must not evict */
	for (uint32_t idx = 0; idx < z->nr_pages; idx++) {
		struct zsswap_page *p = &z->pages[idx];

		if (p->state == ZSSWAP_EMPTY || p->state == ZSSWAP_RESIDENT)
			continue;
		if (zsswap_serve_fault_locked(z, idx, false) || p->state != ZSSWAP_RESIDENT) {
			zsswap_set_error(EIO,
					 "zsswap: fork: page %u of the region cannot be "
					 "read back; the child would not see it",
					 idx);
			restore_budget_locked(z);
			pthread_mutex_unlock(&z->lock);
			return -EIO;
		}
	}
	if (madvise(z->base, z->size, MADV_DOFORK)) {
		int err = errno;

		restore_budget_locked(z);
		pthread_mutex_unlock(&z->lock);
		zsswap_set_error(err, "zsswap: fork: madvise(MADV_DOFORK) failed");
		return -err;
	}
	return 0;
}

void zsswap_fork_parent(struct zsswap *z)
{
	madvise(z->base, z->size, MADV_DONTFORK);
	restore_budget_locked(z);
	pthread_mutex_unlock(&z->lock);
}

void zsswap_fork_child(struct zsswap *z)
{
	/* The region is plain memory here; the parent's descriptors go. */
	close(z->uffd);
	close(z->stop_fd);
	z->uffd = z->stop_fd = -1;
	z->handler_running = false;
}
