/*
 * test_concurrent - many threads reading and writing at once, against a
 * shadow model, while another thread compacts.
 *
 * Page i's content is a function of (i, version).  Each page has one writing
 * thread (i % threads), which writes version v+1 (or discards, for the
 * versions whose content is zeros) and then publishes v+1.  Every thread
 * also reads random pages of any owner: what it reads must be the content of
 * a version between the one published before the read and the one after it
 * plus one.  A compactor thread runs zsram_compact in a loop meanwhile, and
 * one thread uses the block view on partial pages of its own pages.  At the
 * end every page must hold its last version exactly, and no more codec
 * contexts exist than the cap (two per processor) allows.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <zsram.h>

#include "zs_test.h"
#include "../src/zsram_internal.h"

#define THREADS 4

static struct zsram *store;
static uint64_t nr_pages;
static _Atomic uint32_t *versions;
static atomic_bool stop;
static int ops_per_thread;
static const size_t ps = 4096;

static enum tu_page_kind kind_of(uint64_t i, uint32_t v)
{
	return (enum tu_page_kind)((i + v) % TU_PAGE_KINDS);
}

static void content(void *page, uint64_t i, uint32_t v)
{
	tu_make_page(page, ps, kind_of(i, v), i * 1000003 + v);
}

static void *worker(void *arg)
{
	unsigned int t = (unsigned int)(uintptr_t)arg;
	unsigned char *page = malloc(ps), *want = malloc(ps);
	struct tu_rng seed = tu_rng_from(1000 + t);

	CHECK(page && want);
	for (int op = 0; op < ops_per_thread; op++) {
		uint64_t r = tu_rand(&seed);

		if (r % 2 == 0) {
			/* Write or discard one of my pages. */
			uint64_t i = (tu_rand(&seed) % (nr_pages / THREADS)) * THREADS + t;
			uint32_t v = atomic_load(&versions[i]) + 1;

			if (kind_of(i, v) == TU_PAGE_ZERO) {
				CHECK_EQ(zsram_discard(store, i, 1), 0);
			} else {
				content(page, i, v);
				CHECK_EQ(zsram_write_page(store, i, page), 0);
			}
			atomic_store(&versions[i], v);
		} else {
			/* Read any page. */
			uint64_t i = tu_rand(&seed) % nr_pages;
			uint32_t v0 = atomic_load(&versions[i]), v1;
			bool found = false;

			CHECK_EQ(zsram_read_page(store, i, page), 0);
			v1 = atomic_load(&versions[i]);
			for (uint32_t v = v0; v <= v1 + 1 && !found; v++) {
				if (v == 0) {
					memset(want, 0, ps);
				} else {
					content(want, i, v);
				}
				found = memcmp(page, want, ps) == 0;
			}
			if (!found) {
				fprintf(stderr,
					"page %" PRIu64 ": read content of no version in %u..%u\n",
					i, v0, v1 + 1);
				exit(1);
			}
		}
	}
	free(page);
	free(want);
	return NULL;
}

static void *compactor(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		zsram_compact(store);
		struct zsram_mm_stat mm;

		zsram_get_mm_stat(store, &mm);
	}
	return NULL;
}

/* Partial-page writes through the block view on pages nobody else writes:
 * the last page of every group of THREADS is left to this thread by making
 * the page count one group larger than the workers use. */
static void *block_user(void *arg)
{
	uint64_t first = *(uint64_t *)arg;
	struct tu_rng seed = tu_rng_from(77);
	unsigned char sector[ZSRAM_SECTOR_SIZE], back[ZSRAM_SECTOR_SIZE];

	for (int op = 0; op < ops_per_thread; op++) {
		uint64_t page = first + tu_rand(&seed) % THREADS;
		uint64_t s = tu_rand(&seed) % (ps / ZSRAM_SECTOR_SIZE);
		uint64_t off = page * ps + s * ZSRAM_SECTOR_SIZE;

		memset(sector, (int)(op & 0xff), sizeof(sector));
		sector[0] = (unsigned char)s;
		CHECK_EQ(zsram_bdev_write(store, off, sector, sizeof(sector)), 0);
		CHECK_EQ(zsram_bdev_read(store, off, back, sizeof(back)), 0);
		CHECK(memcmp(sector, back, sizeof(back)) == 0);
	}
	return NULL;
}

int main(void)
{
	tu_init("zsram_concurrent", 0);
	struct zsram_config cfg;
	pthread_t tid[THREADS], comp, blk;
	unsigned char *page = malloc(ps), *want = malloc(ps);
	uint64_t worker_pages;

	ops_per_thread = 20000 / (int)tu_scale_divisor();
	worker_pages = 512 / tu_scale_divisor() * THREADS / THREADS;
	worker_pages -= worker_pages % THREADS;
	nr_pages = worker_pages + THREADS; /* the last group: block_user's */
	versions = calloc(nr_pages, sizeof(*versions));
	CHECK(versions && page && want);

	zsram_config_init(&cfg);
	cfg.nr_pages = nr_pages;
	cfg.compact_threshold = 0.05; /* automatic compaction often, too */
	store = zsram_create(&cfg);
	CHECK(store);

	{
		uint64_t nr = nr_pages;

		nr_pages = worker_pages;
		CHECK(pthread_create(&comp, NULL, compactor, NULL) == 0);
		CHECK(pthread_create(&blk, NULL, block_user, &nr_pages) == 0);
		for (unsigned int t = 0; t < THREADS; t++)
			CHECK(pthread_create(&tid[t], NULL, worker, (void *)(uintptr_t)t) == 0);
		for (unsigned int t = 0; t < THREADS; t++)
			pthread_join(tid[t], NULL);
		pthread_join(blk, NULL);
		atomic_store(&stop, true);
		pthread_join(comp, NULL);
		nr_pages = nr;
	}

	for (uint64_t i = 0; i < worker_pages; i++) {
		uint32_t v = atomic_load(&versions[i]);

		if (v == 0 || kind_of(i, v) == TU_PAGE_ZERO)
			memset(want, 0, ps);
		else
			content(want, i, v);
		CHECK_EQ(zsram_read_page(store, i, page), 0);
		CHECK(memcmp(page, want, ps) == 0);
	}
	CHECK_STORE(store);
	CHECK(store->codecs[0].nr_ctx >= 1 && store->codecs[0].nr_ctx <= store->codecs[0].max_ctx);
	CHECK_IO_STAT(store, 0, 0, 0);
	zsram_destroy(store);
	free((void *)versions);
	free(page);
	free(want);
	printf("concurrent: ok (%d threads x %d operations, compaction running)\n", THREADS,
	       ops_per_thread);
	return 0;
}
