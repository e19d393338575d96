/*
 * test_race.c - writers on every page racing with reclaim: each thread owns
 * a slice of pages and keeps writing a new version into them and checking
 * the version it wrote last, while the handler evicts to keep a tight budget
 * and another thread calls zsswap_reclaim and zsswap_get_stats in a loop.
 * One writer moves its pages through system calls (pwrite(2) from the
 * region into a file, pread(2) back into the region), so kernel-mode faults
 * race too.  The run is made twice: with an unlimited pool, and with a
 * small one that writes back to a file, so writeback races as well.
 * No write may be lost while its page is evicted.
 *
 * Then the zero-page race: a thread reads fresh pages (the handler maps the
 * shared zero page) and writes them at once (a copy-on-write fault) while
 * reclaim moves them out; Linux 6.18 can move such a page and still report
 * the move as failed (evict.c), which would turn the write into zeros.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "zsswap_test.h"

#define THREADS 3
#define PAGES_PER_THREAD 256

struct worker {
	unsigned char *base;
	unsigned int id;
	unsigned int rounds;
	int fd; /* >= 0: this writer goes through system calls */
};

static atomic_int writers_left;

static void fill(unsigned char *p, uint32_t page, uint32_t version)
{
	for (unsigned int k = 0; k < PAGE; k += 8) {
		uint64_t w = ((uint64_t)page << 32 | version) ^ (k * 0x9e37ull);

		memcpy(p + k, &w, 8);
	}
}

static void *writer(void *arg)
{
	struct worker *w = arg;
	uint32_t version[PAGES_PER_THREAD] = { 0 };
	unsigned char expect[PAGE];
	struct tu_rng seed = tu_rng_from(w->id + 1);

	for (unsigned int round = 0; round < w->rounds; round++) {
		uint32_t i = (uint32_t)(tu_rand(&seed) % PAGES_PER_THREAD);
		uint32_t page = w->id * PAGES_PER_THREAD + i;
		unsigned char *p = w->base + (size_t)page * PAGE;

		fill(expect, page, version[i]);
		if (memcmp(p, expect, PAGE) != 0) {
			fprintf(stderr, "page %u lost version %u\n", page, version[i]);
			exit(1);
		}
		version[i]++;
		fill(expect, page, version[i]);
		if (w->fd >= 0) {
			/* The new version goes into the file, then from the file
			 * into the page (a kernel-mode write into a page that
			 * may be dropped), then from the page back out. */
			off_t at = (off_t)i * PAGE;
			unsigned char out[PAGE];

			if (pwrite(w->fd, expect, PAGE, at) != PAGE ||
			    pread(w->fd, p, PAGE, at) != PAGE || pwrite(w->fd, p, PAGE, at) != PAGE ||
			    pread(w->fd, out, PAGE, at) != PAGE || memcmp(out, expect, PAGE) != 0) {
				fprintf(stderr, "page %u: system call round trip failed\n", page);
				exit(1);
			}
			continue;
		}
		/* Write it piece by piece, so evictions can fall in between. */
		memcpy(p, expect, PAGE / 2);
		memcpy(p + PAGE / 2, expect + PAGE / 2, PAGE / 2);
	}
	atomic_fetch_sub(&writers_left, 1);
	return NULL;
}

static void *reclaimer(void *arg)
{
	struct zsswap *z = arg;
	struct zsswap_stats s;

	while (atomic_load(&writers_left) > 0) {
		zsswap_reclaim(z, 16 * PAGE);
		zsswap_get_stats(z, &s);
		if (s.resident_pages > 96 + THREADS + ZSSWAP_RESIDENT_SLACK) {
			fprintf(stderr, "resident %llu over budget\n",
				(unsigned long long)s.resident_pages);
			exit(1);
		}
	}
	return NULL;
}

static void run(const char *writeback, unsigned int rounds)
{
	struct zsswap *z;
	struct worker w[THREADS];
	pthread_t t[THREADS + 1];
	unsigned char *base;
	char path[] = "/tmp/zsswap-race-XXXXXX";
	int fd = mkstemp(path);
	struct zsswap_stats s;

	CHECK(fd >= 0);
	unlink(path);
	z = test_create_pool(THREADS * PAGES_PER_THREAD * PAGE, 96 * PAGE,
			     writeback ? 48 * PAGE : 0, writeback);
	base = zsswap_base(z);
	for (uint32_t page = 0; page < THREADS * PAGES_PER_THREAD; page++)
		fill(base + (size_t)page * PAGE, page, 0);
	for (uint32_t i = 0; i < PAGES_PER_THREAD; i++)
		CHECK(pwrite(fd,
			     base + (size_t)(THREADS - 1) * PAGES_PER_THREAD * PAGE + (size_t)i * PAGE,
			     PAGE, (off_t)i * PAGE) == PAGE);
	atomic_store(&writers_left, THREADS);
	for (unsigned int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ base, i, rounds, i == THREADS - 1 ? fd : -1 };
		CHECK(pthread_create(&t[i], NULL, writer, &w[i]) == 0);
	}
	CHECK(pthread_create(&t[THREADS], NULL, reclaimer, z) == 0);
	for (unsigned int i = 0; i <= THREADS; i++)
		pthread_join(t[i], NULL);
	zsswap_get_stats(z, &s);
	CHECK(s.stores > THREADS * PAGES_PER_THREAD);
	CHECK(s.loads > 0);
	if (writeback)
		CHECK(s.written_back_pages > 0 || s.pool_limit_hit > 0);
	printf("zsswap race%s: %llu stores, %llu loads, %llu written back now\n",
	       writeback ? " with writeback" : "", (unsigned long long)s.stores,
	       (unsigned long long)s.loads, (unsigned long long)s.written_back_pages);
	zsswap_destroy(z);
	close(fd);
}

struct cow_worker {
	struct zsswap *z;
	unsigned char *base;
	unsigned int rounds;
};

#define COW_PAGES 64

static void *cow_writer(void *arg)
{
	struct cow_worker *w = arg;
	uint64_t written[COW_PAGES] = { 0 };

	for (unsigned int round = 0; round < w->rounds; round++) {
		uint32_t i = round % COW_PAGES;
		unsigned char *p = w->base + (size_t)i * PAGE;
		uint64_t got, want = ((uint64_t)round << 8) | i | 1;

		memcpy(&got, p + (round % 7) * 512, sizeof(got));
		if (got != written[i]) {
			fprintf(stderr, "page %u reads %#llx, was written %#llx\n", i,
				(unsigned long long)got, (unsigned long long)written[i]);
			exit(1);
		}
		if (zsswap_discard(w->z, p, PAGE) != 0) {
			fprintf(stderr, "discard failed\n");
			exit(1);
		}
		(void)*(volatile unsigned char *)p; /* read: the zero page */
		for (unsigned int k = 0; k < PAGE; k += 512)
			memcpy(p + k, &want, sizeof(want)); /* write: copy on write */
		written[i] = want;
	}
	atomic_fetch_sub(&writers_left, 1);
	return NULL;
}

static void run_zero_page_cow(unsigned int rounds)
{
	struct zsswap *z = test_create_pool(COW_PAGES * PAGE, 8 * PAGE, 0, NULL);
	struct cow_worker w = { z, zsswap_base(z), rounds };
	pthread_t t[2];
	struct zsswap_stats s;

	memset(w.base, 0, COW_PAGES * PAGE);
	atomic_store(&writers_left, 1);
	CHECK(pthread_create(&t[0], NULL, cow_writer, &w) == 0);
	CHECK(pthread_create(&t[1], NULL, reclaimer, z) == 0);
	for (unsigned int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	zsswap_get_stats(z, &s);
	CHECK(s.stores > 0);
	printf("zsswap zero-page race: %u rounds, %llu stores\n", rounds,
	       (unsigned long long)s.stores);
	zsswap_destroy(z);
}

int main(void)
{
	tu_init("zsswap_race", 1);
	unsigned int rounds = (unsigned int)tu_scale(20000);
	char wb[] = "/tmp/zsswap-race-wb-XXXXXX";
	int fd = mkstemp(wb);

	CHECK(fd >= 0);
	close(fd);
	run(NULL, rounds);
	run(wb, rounds);
	unlink(wb);
	run_zero_page_cow(rounds * 3);
	printf("zsswap race: ok\n");
	return 0;
}
