/*
 * test_recompress - recompression with a secondary algorithm: by size
 * threshold, huge pages only, idle pages only; recompressed slots record
 * algorithm 1 and read back byte-exact; compr_data_size drops by the bytes
 * saved; rewriting a page returns it to the primary algorithm.
 */
#include <zsram.h>

#include "zsram_test.h"

static struct zsram *make_store(uint64_t nr, enum zsram_algorithm second, int level)
{
	struct zsram_config cfg;
	struct zsram *z;

	zsram_config_init(&cfg);
	cfg.nr_pages = nr;
	cfg.codec.algorithm = ZSRAM_ALG_LZ4;
	cfg.codec.level = 20; /* fast and weak: room for the second one */
	cfg.nr_recomp = 1;
	cfg.recomp[0].algorithm = second;
	cfg.recomp[0].level = level;
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

/* nr pages of lz4 at acceleration 60 (weak: room for the secondary ones),
 * with nr_recomp secondary algorithms for the caller to choose. */
static void weak_lz4_config(struct zsram_config *cfg, uint64_t nr, unsigned int nr_recomp)
{
	zsram_config_init(cfg);
	cfg->nr_pages = nr;
	cfg->codec.algorithm = ZSRAM_ALG_LZ4;
	cfg->codec.level = 60;
	cfg->nr_recomp = nr_recomp;
}

/* Three secondary algorithms by priority (lz4, lz4hc 9, zstd 19 over a
 * weak lz4): one priority alone takes pages into it only; all of them try
 * each page in order after the one it is in (pages in 2 move on to 3),
 * keep the first smaller form, and a page in the last is not tried again
 * by the earlier ones. */
static void test_priorities(uint64_t nr)
{
	struct zsram_config cfg;
	struct zsram_recomp_stat rs;
	struct zsram_mm_stat before, after;
	struct zsram *z;
	long n, n2;

	weak_lz4_config(&cfg, nr, 3);
	cfg.recomp[0].algorithm = ZSRAM_ALG_LZ4;
	cfg.recomp[1].algorithm = ZSRAM_ALG_LZ4HC;
	cfg.recomp[1].level = 9;
	cfg.recomp[2].algorithm = ZSRAM_ALG_ZSTD;
	cfg.recomp[2].level = 19;
	z = zsram_create(&cfg);
	CHECK(z);
	fill(z, nr);
	CHECK_EQ(zsram_recompress_prio(z, ZSRAM_SEL_ALL, 0, 4), -EINVAL);

	/* Priority 2 alone. */
	n = zsram_recompress_prio(z, ZSRAM_SEL_ALL, 0, 2);
	CHECK(n > 0);
	CHECK(zt_count_alg(z, nr, 2) == (uint64_t)n && zt_count_alg(z, nr, 1) == 0 &&
	      zt_count_alg(z, nr, 3) == 0);
	/* All, by priority: pages in 2 are tried with 3 only; what the weak
	 * primary left is taken by priority 1 first (plain lz4 beats
	 * acceleration 60). */
	zsram_get_mm_stat(z, &before);
	zsram_get_recomp_stat(z, &rs);
	n2 = zsram_recompress(z, ZSRAM_SEL_ALL, 0);
	CHECK(n2 > 0);
	CHECK(zt_count_alg(z, nr, 3) > 0 && zt_count_alg(z, nr, 2) < (uint64_t)n,
	      "priority 1: %" PRIu64 ", 2: %" PRIu64 ", 3: %" PRIu64, zt_count_alg(z, nr, 1),
	      zt_count_alg(z, nr, 2), zt_count_alg(z, nr, 3));
	zsram_get_mm_stat(z, &after);
	CHECK(after.compr_data_size < before.compr_data_size);
	{
		struct zsram_recomp_stat rs2;

		zsram_get_recomp_stat(z, &rs2);
		CHECK_EQ(rs2.recompressed,
			 zt_count_alg(z, nr, 1) + zt_count_alg(z, nr, 2) + zt_count_alg(z, nr, 3));
		CHECK_EQ(after.compr_data_size,
			 before.compr_data_size - (rs2.saved_bytes - rs.saved_bytes));
	}
	verify_all(z, nr);
	CHECK_STORE(z);
	/* Pages in priority 3 are past 1 and 2; the rest were tried with all:
	 * nothing more. */
	CHECK_EQ(zsram_recompress_prio(z, ZSRAM_SEL_ALL, 0, 1), 0);
	CHECK_EQ(zsram_recompress(z, ZSRAM_SEL_ALL, 0), 0);
	zsram_destroy(z);

	/* From the primary, all by priority: the first that is smaller keeps
	 * the page (plain lz4 beats acceleration 60 on most). */
	z = zsram_create(&cfg);
	CHECK(z);
	fill(z, nr);
	n = zsram_recompress(z, ZSRAM_SEL_ALL, 0);
	CHECK(n > 0 && zt_count_alg(z, nr, 1) * 2 > (uint64_t)n,
	      "%ld recompressed, priority 1: %" PRIu64, n, zt_count_alg(z, nr, 1));
	CHECK_EQ((uint64_t)n,
		 zt_count_alg(z, nr, 1) + zt_count_alg(z, nr, 2) + zt_count_alg(z, nr, 3));
	verify_all(z, nr);
	CHECK_STORE(z);
	zsram_destroy(z);

	/* More than three, or a priority past those configured: refused. */
	cfg.nr_recomp = 4;
	errno = 0;
	CHECK(!zsram_create(&cfg) && errno == EINVAL);
	cfg.nr_recomp = 1;
	z = zsram_create(&cfg);
	CHECK(z);
	CHECK_EQ(zsram_recompress_prio(z, ZSRAM_SEL_ALL, 0, 2), -EINVAL);
	zsram_destroy(z);
}

/* zram's algorithm_params: parsed (good and bad), set on the codec named,
 * and a secondary zstd with a dictionary recompresses smaller than
 * without one, every page reading back. */
static void test_algorithm_params(uint64_t nr)
{
	struct zsram_algorithm_params p;
	struct zsram_config cfg;
	static const char *bad[] = { "",
				     "level=",
				     "priority=4 level=1",
				     "priority=1",
				     "algo=nope level=1",
				     "size=3",
				     "level=1x",
				     "dict=" };
	unsigned char dict[4096];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ(zsram_parse_algorithm_params(bad[i], &p), -EINVAL, "'%s'", bad[i]);
	CHECK_EQ(zsram_parse_algorithm_params("priority=2, level=-3 dict=/x/y", &p), 0);
	CHECK(p.priority == 2 && !p.by_algorithm && p.has_level && p.level == -3 &&
	      strcmp(p.dict, "/x/y") == 0);
	CHECK_EQ(zsram_parse_algorithm_params("algo=lz4hc level=9", &p), 0);
	CHECK(p.by_algorithm && p.algorithm == ZSRAM_ALG_LZ4HC && !p.dict[0]);

	weak_lz4_config(&cfg, nr, 2);
	cfg.recomp[0].algorithm = ZSRAM_ALG_LZ4HC;
	cfg.recomp[1].algorithm = ZSRAM_ALG_ZSTD;
	CHECK_EQ(zsram_config_set_algorithm_params(&cfg, &p, NULL, 0), 0);
	CHECK_EQ(cfg.recomp[0].level, 9);
	CHECK_EQ(zsram_config_set_algorithm_params(&cfg, &p, dict, 1), -EINVAL, "lz4hc: no dict");
	zsram_parse_algorithm_params("priority=3 level=1", &p);
	CHECK_EQ(zsram_config_set_algorithm_params(&cfg, &p, NULL, 0), -ENOENT);

	/* zstd with a dictionary: page 1 itself as raw content (so that it
	 * surely helps), against the same without one. */
	tu_make_page(dict, 4096, (enum tu_page_kind)(1 % TU_PAGE_KINDS), 1);
	cfg.nr_recomp = 1;
	cfg.recomp[0].algorithm = ZSRAM_ALG_ZSTD;
	cfg.recomp[0].level = 3;
	for (int d = 0; d < 2; d++) {
		struct zsram_slot_info info;
		struct zsram *z;

		if (d) {
			CHECK_EQ(zsram_parse_algorithm_params("priority=1 dict=unused", &p), 0);
			CHECK_EQ(zsram_config_set_algorithm_params(&cfg, &p, dict, 4096), 0);
		}
		z = zsram_create(&cfg);
		CHECK(z);
		fill(z, nr);
		CHECK(zsram_recompress(z, ZSRAM_SEL_ALL, 0) > 0);
		CHECK_EQ(zsram_slot_info(z, 1, &info), 0);
		CHECK(d ? info.size < 256 : info.size > 1024, "page 1: %u bytes %s the dictionary",
		      (unsigned int)info.size, d ? "with" : "without");
		verify_all(z, nr);
		CHECK_STORE(z);
		zsram_destroy(z);
	}
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
		CHECK_EQ((uint64_t)n, zt_count_alg(z, nr, 1));
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

	test_priorities(nr);
	test_algorithm_params(nr);
	printf("recompress: ok\n");
	return 0;
}
