/*
 * test_recompress - recompression with a secondary algorithm: by size
 * threshold, huge pages only, idle pages only; recompressed slots record
 * algorithm 1 and read back byte-exact; compr_data_size drops by the bytes
 * saved; rewriting a page returns it to the primary algorithm.
 */
#include <zsram.h>

#include "zs_test.h"

static struct zsram *make_store(uint64_t nr, enum zsram_algorithm second, int level)
{
	struct zsram_config cfg;
	struct zsram *z;

	zsram_config_init(&cfg);
	cfg.nr_pages = nr;
	cfg.codec.algorithm = ZSRAM_ALG_LZ4;
	cfg.codec.level = 20; /* fast and weak: room for the second one */
	cfg.recomp_enabled = 1;
	cfg.recomp.algorithm = second;
	cfg.recomp.level = level;
	z = zsram_create(&cfg);
	CHECK(z);
	return z;
}

static void verify_all(struct zsram *z, uint64_t nr)
{
	size_t ps = zsram_page_size(z);
	unsigned char *page = malloc(ps), *back = malloc(ps);

	for (uint64_t i = 0; i < nr; i++) {
		tu_make_page(page, ps, (enum tu_page_kind)(i % TU_PAGE_KINDS), i);
		CHECK_EQ(zsram_read_page(z, i, back), 0);
		CHECK(memcmp(page, back, ps) == 0);
	}
	free(page);
	free(back);
}

static void fill(struct zsram *z, uint64_t nr)
{
	size_t ps = zsram_page_size(z);
	unsigned char *page = malloc(ps);

	for (uint64_t i = 0; i < nr; i++) {
		tu_make_page(page, ps, (enum tu_page_kind)(i % TU_PAGE_KINDS), i);
		CHECK_EQ(zsram_write_page(z, i, page), 0);
	}
	free(page);
}

static uint64_t count_alg1(struct zsram *z, uint64_t nr)
{
	struct zsram_slot_info info;
	uint64_t n = 0;

	for (uint64_t i = 0; i < nr; i++) {
		CHECK_EQ(zsram_slot_info(z, i, &info), 0);
		n += info.kind == ZSRAM_SLOT_COMPRESSED && info.algorithm == 1;
	}
	return n;
}

int main(void)
{
	tu_init("zsram_recompress", 0);
	const uint64_t nr = 400 / tu_scale_divisor() + 20;
	const enum zsram_algorithm seconds[] = { ZSRAM_ALG_ZSTD, ZSRAM_ALG_LZ4HC };
	struct zsram_mm_stat before, after;
	struct zsram_recomp_stat rs;
	struct zsram_slot_info info;
	struct zsram *z;
	long n;

	/* No secondary algorithm: refused. */
	{
		struct zsram_config cfg;

		zsram_config_init(&cfg);
		cfg.nr_pages = 4;
		z = zsram_create(&cfg);
		CHECK(z);
		CHECK_EQ(zsram_recompress(z, ZSRAM_SEL_ALL, 0), -EINVAL);
		zsram_destroy(z);
	}

	for (size_t s = 0; s < 2; s++) {
		z = make_store(nr, seconds[s], seconds[s] == ZSRAM_ALG_ZSTD ? 19 : 12);
		fill(z, nr);
		zsram_get_mm_stat(z, &before);
		n = zsram_recompress(z, ZSRAM_SEL_ALL, 1024);
		CHECK(n > 0);
		CHECK_EQ((uint64_t)n, count_alg1(z, nr));
		zsram_get_mm_stat(z, &after);
		zsram_get_recomp_stat(z, &rs);
		CHECK_EQ(rs.recompressed, (uint64_t)n);
		CHECK(rs.saved_bytes > 0);
		CHECK_EQ(after.compr_data_size, before.compr_data_size - rs.saved_bytes);
		/* Below the threshold, nothing was touched. */
		for (uint64_t i = 0; i < nr; i++) {
			CHECK_EQ(zsram_slot_info(z, i, &info), 0);
			if (info.algorithm == 1)
				CHECK(info.size < zsram_page_size(z));
		}
		CHECK_STORE(z);
		verify_all(z, nr);

		/* A second run finds nothing left to gain. */
		CHECK_EQ(zsram_recompress(z, ZSRAM_SEL_ALL, 1024), 0);

		/* Rewriting a recompressed page puts it back to algorithm 0. */
		for (uint64_t i = 0; i < nr; i++) {
			CHECK_EQ(zsram_slot_info(z, i, &info), 0);
			if (info.algorithm == 1) {
				unsigned char page[4096];

				tu_make_page(page, 4096, (enum tu_page_kind)(i % TU_PAGE_KINDS), i);
				CHECK_EQ(zsram_write_page(z, i, page), 0);
				CHECK_EQ(zsram_slot_info(z, i, &info), 0);
				CHECK_EQ(info.algorithm, 0);
				break;
			}
		}
		CHECK_STORE(z);
		verify_all(z, nr);
		zsram_destroy(z);
	}

	/* Idle selection: mark all idle, touch half, recompress idle only. */
	z = make_store(nr, ZSRAM_ALG_ZSTD, 10);
	fill(z, nr);
	CHECK_EQ(zsram_mark_idle(z), nr);
	{
		unsigned char page[4096];

		for (uint64_t i = 0; i < nr; i += 2)
			CHECK_EQ(zsram_read_page(z, i, page), 0);
	}
	n = zsram_recompress(z, ZSRAM_SEL_IDLE, 0);
	CHECK(n > 0);
	for (uint64_t i = 0; i < nr; i++) {
		CHECK_EQ(zsram_slot_info(z, i, &info), 0);
		if (i % 2 == 0)
			CHECK_EQ(info.algorithm, 0);
		else if (info.kind != ZSRAM_SLOT_SAME && info.kind != ZSRAM_SLOT_HUGE)
			CHECK(info.idle);
	}
	CHECK_STORE(z);
	verify_all(z, nr);
	zsram_destroy(z);

	/* Huge selection: only huge pages are tried (random pages stay huge
	 * under any algorithm, so nothing changes, but they are attempted). */
	z = make_store(nr, ZSRAM_ALG_ZSTD, 3);
	fill(z, nr);
	zsram_get_mm_stat(z, &before);
	n = zsram_recompress(z, ZSRAM_SEL_HUGE, 0);
	zsram_get_recomp_stat(z, &rs);
	CHECK_EQ(rs.attempts, before.huge_pages);
	CHECK(n >= 0);
	CHECK_STORE(z);
	verify_all(z, nr);
	zsram_destroy(z);

	printf("recompress: ok\n");
	return 0;
}
