/*
 * preload_budget.c - the budget covers the whole process, as a memory
 * cgroup's limit does.
 *
 * --max-resident is what the program may keep resident: its heap pages in
 * the region and everything else it holds (stacks, the C library's data,
 * zsswap's page table, pool metadata and staging pages), but not the pages
 * of the compressed pool, which stand where the kernel's zram pool stands,
 * outside a cgroup's limit.  A thread of ours looks every
 * ZR_BUDGET_PERIOD_MS: other = the process's anonymous resident memory
 * (/proc/self/statm: resident - shared) - the region's resident pages - the
 * pool's pages, and gives the region max_resident - other, never less than
 * a quarter of max_resident or ZR_BUDGET_FLOOR.  Cost: a read of statm and
 * zsswap_get_stats (which stores the staged pages) 20 times a second.
 *
 * The thread blocks every signal, allocates nothing and is not inherited by
 * a forked child (whose region is plain memory anyway).
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "preload.h"

#define ZR_BUDGET_PERIOD_MS 50
#define ZR_BUDGET_FLOOR (1u << 20)

static size_t budget; /* --max-resident */
static int statm_fd = -1;

/* The process's anonymous resident bytes, or 0 when statm cannot be read. */
static uint64_t anon_resident(void)
{
	char buf[128];
	unsigned long long size, resident, shared;
	ssize_t n = pread(statm_fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if (sscanf(buf, "%llu %llu %llu", &size, &resident, &shared) != 3 || shared > resident)
		return 0;
	return (resident - shared) * zr.page_size;
}

static void adjust(size_t *current)
{
	struct zsswap_stats s;
	uint64_t anon = anon_resident(), in_region, other;
	size_t floor = budget / 4 > ZR_BUDGET_FLOOR ? budget / 4 : ZR_BUDGET_FLOOR, want;

	if (!anon)
		return;
	zsswap_get_stats(zr.z, &s);
	in_region = s.resident_pages * zr.page_size + s.pool_total_size;
	other = anon > in_region ? anon - in_region : 0;
	want = budget > other + floor ? budget - (size_t)other : floor;
	want -= want % zr.page_size;
	/* Only changes of 64 KiB or more: each call may evict. */
	if (want + (64u << 10) <= *current || want >= *current + (64u << 10)) {
		if (zsswap_set_max_resident(zr.z, want) == 0)
			*current = want;
	}
}

static void *keeper(void *arg)
{
	size_t current = budget;
	struct timespec period = { 0, ZR_BUDGET_PERIOD_MS * 1000000L };

	(void)arg;
	zr_internal++; /* anything allocated here goes to the C library */
	for (;;) {
		nanosleep(&period, NULL);
		if (zr.pid != getpid())
			break; /* never in a child; defensive */
		adjust(&current);
	}
	return NULL;
}

void zr_budget_start(size_t max_resident)
{
	pthread_t t;
	pthread_attr_t attr;
	sigset_t all, old;

	if (!max_resident)
		return;
	statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (statm_fd < 0)
		return; /* no /proc: the budget is the heap's alone */
	budget = max_resident;
	sigfillset(&all);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64u << 10);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (pthread_create(&t, &attr, keeper, NULL) != 0) {
		close(statm_fd);
		statm_fd = -1;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
}
