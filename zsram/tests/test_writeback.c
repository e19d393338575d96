/*
 * test_writeback - the backing file: past the memory limit, writes degrade
 * (cold pages go to the file) instead of failing; written-back pages read
 * back byte-exact, and can be overwritten and discarded; explicit writeback
 * by selection; bd_stat counts; the file full gives -ENOSPC at the limit;
 * the writeback limit (a budget of pages) refuses with -EDQUOT when used
 * up, and writes at the memory limit then fail as without a file; a file
 * that refuses writes leaves every page of the failed batch in memory.
 */
#include <fcntl.h>
#include <unistd.h>

#include <zsram.h>

#include "zs_test.h"
#include "../src/zsram_internal.h" /* limit_pages, to set a limit now */

static char path[] = "/tmp/zsram-test-wb-XXXXXX";

static struct zsram *make_store(uint64_t nr, uint64_t limit_pages, uint64_t file_pages)
{
	struct zsram_config cfg;
	struct zsram *z;

	zsram_config_init(&cfg);
	cfg.nr_pages = nr;
	cfg.mem_limit = limit_pages * 4096;
	cfg.backing_file = path;
	cfg.backing_pages = file_pages;
	z = zsram_create(&cfg);
	CHECK(z);
	return z;
}

static void page_for(unsigned char *page, uint64_t i, uint64_t gen)
{
	tu_make_page(page, 4096, (enum tu_page_kind)((i + gen) % 3), i * 7 + gen);
}

/* A store of nr pages with the backing file, no memory limit, and
 * writeback_limit wb_limit (0: none); pages 0..nr-1 written (gen 0). */
static struct zsram *filled_store(uint64_t nr, uint64_t wb_limit)
{
	struct zsram_config cfg;
	unsigned char page[4096];
	struct zsram *z;

	zsram_config_init(&cfg);
	cfg.nr_pages = nr;
	cfg.backing_file = path;
	cfg.writeback_limit = wb_limit;
	z = zsram_create(&cfg);
	CHECK(z);
	for (uint64_t i = 0; i < nr; i++) {
		page_for(page, i, 0);
		CHECK_EQ(zsram_write_page(z, i, page), 0);
	}
	return z;
}

int main(void)
{
	tu_init("zsram_writeback", 0);
	const uint64_t nr = 1024 / tu_scale_divisor() + 64;
	unsigned char page[4096], back[4096];
	struct zsram_slot_info info;
	struct zsram_bd_stat bd;
	struct zsram_mm_stat mm, before_fail;
	uint64_t wb = 0;
	struct zsram *z;
	long n;
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	close(fd);

	/* Degrade instead of failing. */
	z = make_store(nr, 32, 0);
	for (uint64_t i = 0; i < nr; i++) {
		page_for(page, i, 0);
		CHECK_EQ(zsram_write_page(z, i, page), 0);
	}
	zsram_get_mm_stat(z, &mm);
	CHECK(mm.mem_used_total <= 32 * 4096);
	zsram_get_bd_stat(z, &bd);
	CHECK(bd.bd_count > 0);
	CHECK_EQ(bd.bd_writes, bd.bd_count);
	for (uint64_t i = 0; i < nr; i++) {
		CHECK_EQ(zsram_slot_info(z, i, &info), 0);
		wb += info.kind == ZSRAM_SLOT_WRITTEN_BACK;
	}
	CHECK_EQ(wb, bd.bd_count);
	CHECK_STORE(z);
	for (uint64_t i = 0; i < nr; i++) {
		page_for(page, i, 0);
		CHECK_EQ(zsram_read_page(z, i, back), 0);
		CHECK(memcmp(page, back, 4096) == 0);
	}
	zsram_get_bd_stat(z, &bd);
	CHECK_EQ(bd.bd_reads, wb);

	/* Overwrite and discard written-back pages. */
	for (uint64_t i = 0; i < nr; i++) {
		CHECK_EQ(zsram_slot_info(z, i, &info), 0);
		if (info.kind != ZSRAM_SLOT_WRITTEN_BACK)
			continue;
		if (i % 2) {
			CHECK_EQ(zsram_discard(z, i, 1), 0);
		} else {
			page_for(page, i, 1);
			CHECK_EQ(zsram_write_page(z, i, page), 0);
		}
	}
	CHECK_STORE(z);
	for (uint64_t i = 0; i < nr; i++) {
		CHECK_EQ(zsram_read_page(z, i, back), 0);
		CHECK_EQ(zsram_slot_info(z, i, &info), 0);
		if (info.kind == ZSRAM_SLOT_EMPTY) {
			memset(page, 0, 4096);
		} else {
			/* Either generation: pages may have been written back
			 * again by later writes. */
			page_for(page, i, 1);
			if (memcmp(page, back, 4096) != 0)
				page_for(page, i, 0);
		}
		CHECK(memcmp(page, back, 4096) == 0);
	}
	zsram_destroy(z);

	/* Explicit writeback by selection, no pressure. */
	z = filled_store(64, 0);
	zsram_get_mm_stat(z, &mm);
	n = zsram_writeback(z, ZSRAM_SEL_HUGE, 1000);
	CHECK_EQ((uint64_t)n, mm.huge_pages);
	zsram_get_mm_stat(z, &mm);
	CHECK_EQ(mm.huge_pages, 0);
	CHECK_EQ(zsram_mark_idle(z), 64);
	page_for(page, 3, 0);
	CHECK_EQ(zsram_write_page(z, 3, page), 0); /* no longer idle */
	n = zsram_writeback(z, ZSRAM_SEL_IDLE, 1000);
	CHECK(n > 0);
	CHECK_EQ(zsram_slot_info(z, 3, &info), 0);
	CHECK(info.kind != ZSRAM_SLOT_WRITTEN_BACK);
	CHECK_STORE(z);
	for (uint64_t i = 0; i < 64; i++) {
		page_for(page, i, 0);
		CHECK_EQ(zsram_read_page(z, i, back), 0);
		CHECK(memcmp(page, back, 4096) == 0);
	}
	zsram_destroy(z);

	/* A full file: the limit holds again, with -ENOSPC. */
	z = make_store(nr, 8, 16);
	{
		uint64_t refused = 0;

		for (uint64_t i = 0; i < nr; i++) {
			int err;

			tu_make_page(page, 4096, TU_PAGE_RANDOM, i);
			err = zsram_write_page(z, i, page);
			CHECK(err == 0 || err == -ENOSPC);
			refused += err != 0;
		}
		CHECK(refused > 0);
		zsram_get_bd_stat(z, &bd);
		CHECK_EQ(bd.bd_count, 16);
		zsram_get_mm_stat(z, &mm);
		CHECK(mm.mem_used_total <= 8 * 4096);
	}
	CHECK_STORE(z);
	zsram_destroy(z);

	/* The writeback limit: a budget of pages, for explicit writeback and
	 * for writes at mem_limit alike; used up, nothing changes. */
	{
		struct zsram_config cfg;
		uint64_t stored = 0;
		int err = 0;

		zsram_config_init(&cfg);
		cfg.nr_pages = nr;
		cfg.backing_file = path;
		cfg.writeback_limit = 3;
		z = zsram_create(&cfg);
		CHECK(z);
		CHECK_EQ(zsram_writeback_limit(z), 3);
		for (uint64_t i = 0; i < 64; i++) {
			page_for(page, i, 0);
			CHECK_EQ(zsram_write_page(z, i, page), 0);
		}
		CHECK_EQ(zsram_writeback(z, ZSRAM_SEL_ALL, 10), 3);
		CHECK_EQ(zsram_writeback_limit(z), 0);
		zsram_get_mm_stat(z, &mm);
		CHECK_EQ(zsram_writeback(z, ZSRAM_SEL_ALL, 10), -EDQUOT);
		zsram_get_bd_stat(z, &bd);
		CHECK_EQ(bd.bd_count, 3);
		CHECK_EQ(bd.bd_writes, 3);
		{
			struct zsram_mm_stat mm2;

			zsram_get_mm_stat(z, &mm2);
			CHECK_EQ(mm2.compr_data_size, mm.compr_data_size, "refused: unchanged");
		}
		CHECK_EQ(zsram_set_writeback_limit(z, 2), 0);
		CHECK_EQ(zsram_writeback(z, ZSRAM_SEL_ALL, 10), 2);
		CHECK_EQ(zsram_set_writeback_limit(z, -5), 0);
		CHECK_EQ(zsram_writeback_limit(z), -1);
		CHECK_EQ(zsram_writeback(z, ZSRAM_SEL_ALL, 4), 4);
		/* At mem_limit with the budget used up: writes fail with
		 * ENOSPC as without a backing file, and the store is intact. */
		CHECK_EQ(zsram_set_writeback_limit(z, 0), 0);
		zsram_get_mm_stat(z, &mm);
		z->limit_pages = mm.mem_used_total / 4096;
		for (uint64_t i = 64; i < nr && !err; i++) {
			page_for(page, i, 1);
			err = zsram_write_page(z, i, page);
			stored += !err;
		}
		CHECK_EQ(err, -ENOSPC);
		zsram_get_bd_stat(z, &bd);
		CHECK_EQ(bd.bd_count, 9);
		for (uint64_t i = 0; i < 64 + stored; i++) {
			page_for(page, i, i < 64 ? 0 : 1);
			CHECK_EQ(zsram_read_page(z, i, back), 0);
			CHECK(memcmp(page, back, 4096) == 0, "page %" PRIu64, i);
		}
		CHECK_STORE(z);
		zsram_destroy(z);
		/* Without a backing file: refused. */
		cfg.backing_file = NULL;
		errno = 0;
		CHECK(zsram_create(&cfg) == NULL && errno == EINVAL);
	}

	/* A failing file (writes refused: the descriptor swapped for a
	 * read-only one): writeback reports -EIO, every page stays in memory
	 * as it was, the budget and the file's blocks are given back. */
	{
		int rdonly, saved;

		z = filled_store(100, 1000);
		zsram_get_mm_stat(z, &before_fail);
		rdonly = open(path, O_RDONLY);
		CHECK(rdonly >= 0);
		saved = z->backing.fd;
		z->backing.fd = rdonly;
		CHECK_EQ(zsram_writeback(z, ZSRAM_SEL_ALL, 100), -EIO);
		z->backing.fd = saved;
		close(rdonly);
		CHECK_EQ(zsram_writeback_limit(z), 1000);
		zsram_get_bd_stat(z, &bd);
		CHECK_EQ(bd.bd_count, 0);
		zsram_get_mm_stat(z, &mm);
		CHECK_EQ(mm.compr_data_size, before_fail.compr_data_size);
		for (uint64_t i = 0; i < 100; i++) {
			page_for(page, i, 0);
			CHECK_EQ(zsram_read_page(z, i, back), 0);
			CHECK(memcmp(page, back, 4096) == 0, "page %" PRIu64, i);
		}
		/* Working again: batches of 32 and a last one of the rest. */
		n = zsram_writeback(z, ZSRAM_SEL_ALL, 100);
		CHECK(n > 64, "%ld written back", n);
		zsram_get_bd_stat(z, &bd);
		CHECK_EQ(bd.bd_count, (uint64_t)n);
		for (uint64_t i = 0; i < 100; i++) {
			page_for(page, i, 0);
			CHECK_EQ(zsram_read_page(z, i, back), 0);
			CHECK(memcmp(page, back, 4096) == 0, "page %" PRIu64, i);
		}
		CHECK_STORE(z);
		zsram_destroy(z);
	}

	/* No backing file: writeback refused. */
	{
		struct zsram_config cfg;

		zsram_config_init(&cfg);
		cfg.nr_pages = 4;
		z = zsram_create(&cfg);
		CHECK_EQ(zsram_writeback(z, ZSRAM_SEL_ALL, 1), -EINVAL);
		CHECK_EQ(zsram_set_writeback_limit(z, 4), -EINVAL);
		CHECK_EQ(zsram_writeback_limit(z), -1);
		zsram_destroy(z);
	}
	/* A backing file that cannot be created. */
	{
		struct zsram_config cfg;

		zsram_config_init(&cfg);
		cfg.nr_pages = 4;
		cfg.backing_file = "/nonexistent-dir/zsram-wb";
		errno = 0;
		CHECK(zsram_create(&cfg) == NULL);
		CHECK_EQ(errno, ENOENT);
	}
	unlink(path);
	printf("writeback: ok\n");
	return 0;
}
