/*
 * test_idle - idle marking by age (zsram_mark_idle_age, with
 * track_access_time) on a controllable clock: pages not read or written for
 * the given seconds are marked, others are not; a read or a write (page or
 * byte range) renews a page; writeback of idle pages then takes exactly the
 * old ones, which read back intact; a store without the clock refuses.
 */
#include <unistd.h>

#include <zsram.h>

#include "zs_test.h"
#include "../src/zsram_internal.h" /* test_now: the store's clock, set */

#define NR 64u

static char path[] = "/tmp/zsram-test-idle-XXXXXX";

static void page_for(unsigned char *page, uint64_t i)
{
	tu_make_page(page, 4096, i % 4 == 3 ? TU_PAGE_ZERO : TU_PAGE_TEXT, i);
}

static bool idle(struct zsram *z, uint64_t i)
{
	struct zsram_slot_info info;

	CHECK_EQ(zsram_slot_info(z, i, &info), 0);
	return info.idle;
}

int main(void)
{
	tu_init("zsram_idle", 0);
	struct zsram_config cfg;
	unsigned char page[4096], back[4096];
	struct zsram *z;
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	close(fd);
	zsram_config_init(&cfg);
	cfg.nr_pages = NR;
	cfg.track_access_time = 1;
	cfg.backing_file = path;
	z = zsram_create(&cfg);
	CHECK(z);

	/* t = 10: everything written; t = 100: the first half read (pages),
	 * one page of the rest touched by a byte-range write and one by a
	 * byte-range read. */
	atomic_store(&z->test_now, 10);
	for (uint64_t i = 0; i < NR; i++) {
		page_for(page, i);
		CHECK_EQ(zsram_write_page(z, i, page), 0);
	}
	atomic_store(&z->test_now, 100);
	for (uint64_t i = 0; i < NR / 2; i++)
		CHECK_EQ(zsram_read_page(z, i, back), 0);
	CHECK_EQ(zsram_bdev_write(z, 40 * 4096 + 100, "x", 1), 0);
	CHECK_EQ(zsram_bdev_read(z, 41 * 4096 + 7, back, 3), 0);
	/* t = 150: not accessed for 100 s are the second half but 40, 41. */
	atomic_store(&z->test_now, 150);
	CHECK_EQ(zsram_mark_idle_age(z, 100), NR / 2 - 2);
	for (uint64_t i = 0; i < NR; i++)
		CHECK(idle(z, i) == (i >= NR / 2 && i != 40 && i != 41), "page %" PRIu64, i);
	/* Older than 200 s: none (the marks stay). */
	CHECK_EQ(zsram_mark_idle_age(z, 200), 0);
	/* A read clears the mark and renews the page. */
	CHECK_EQ(zsram_read_page(z, 50, back), 0);
	CHECK(!idle(z, 50));
	/* Writeback of idle pages takes exactly those (same-filled pages
	 * take no memory and stay). */
	{
		struct zsram_bd_stat bd;
		uint64_t expect = 0;

		for (uint64_t i = NR / 2; i < NR; i++)
			expect += i != 40 && i != 41 && i != 50 && i % 4 != 3;
		CHECK_EQ(zsram_writeback(z, ZSRAM_SEL_IDLE, NR), (long)expect);
		zsram_get_bd_stat(z, &bd);
		CHECK_EQ(bd.bd_count, expect);
	}
	for (uint64_t i = 0; i < NR; i++) {
		page_for(page, i);
		if (i == 40)
			page[100] = 'x';
		CHECK_EQ(zsram_read_page(z, i, back), 0);
		CHECK(memcmp(page, back, 4096) == 0, "page %" PRIu64, i);
	}
	/* All read just now: nothing is 1 s old. */
	CHECK_EQ(zsram_mark_idle_age(z, 1), 0);
	CHECK_EQ(zsram_mark_idle_age(z, 0), NR);
	CHECK_STORE(z);
	zsram_destroy(z);

	/* Without track_access_time: refused. */
	cfg.track_access_time = 0;
	z = zsram_create(&cfg);
	CHECK(z);
	CHECK_EQ(zsram_mark_idle_age(z, 10), -EINVAL);
	zsram_destroy(z);
	unlink(path);
	printf("idle: ok\n");
	return 0;
}
