/*
 * test_store_roundtrip - byte-exact round trips of every kind of slot
 * (empty, same-filled, compressed, huge) with every algorithm and several
 * levels, a trained zstd dictionary, two page sizes; overwrite and discard;
 * mm_stat agrees with what was stored; every allocator of the build.
 */
#include <stdbool.h>

#include <zsram.h>

#include "zs_test.h"

struct algo_case {
	enum zsram_algorithm alg;
	int level;
	bool dict;
};

static const struct algo_case cases[] = {
	{ ZSRAM_ALG_LZ4, 0, false },	{ ZSRAM_ALG_LZ4, 8, false },  { ZSRAM_ALG_LZ4HC, 0, false },
	{ ZSRAM_ALG_LZ4HC, 12, false }, { ZSRAM_ALG_ZSTD, 0, false }, { ZSRAM_ALG_ZSTD, -3, false },
	{ ZSRAM_ALG_ZSTD, 19, false },	{ ZSRAM_ALG_ZSTD, 3, true },
};

static const char *allocator; /* NULL: the default (zsmalloc) */

static void *train(size_t ps, size_t *size)
{
	size_t n = tu_scale_divisor() >= 10 ? 96 : 256;
	unsigned char *samples = malloc(n * ps);
	void *dict = malloc(8192);
	long got;

	CHECK(samples && dict);
	for (size_t i = 0; i < n; i++)
		tu_make_page(samples + i * ps, ps, TU_PAGE_TEXT, 100000 + i);
	got = zsram_train_dictionary(samples, n, ps, dict, 8192);
	CHECK(got > 0);
	free(samples);
	*size = (size_t)got;
	return dict;
}

static void run_case(const struct algo_case *c, size_t ps, uint64_t nr)
{
	struct zsram_config cfg;
	struct zsram_mm_stat mm;
	struct zsram_slot_info info;
	struct zsram *z;
	unsigned char *page = malloc(ps), *back = malloc(ps);
	int *shadow_kind = malloc(nr * sizeof(int));
	uint64_t *shadow_seed = malloc(nr * sizeof(uint64_t));
	uint64_t same = 0, huge = 0, stored = 0;
	void *dict = NULL;

	CHECK(page && back && shadow_kind && shadow_seed);
	zsram_config_init(&cfg);
	cfg.nr_pages = nr;
	cfg.page_size = ps;
	cfg.codec.algorithm = c->alg;
	cfg.codec.level = c->level;
	cfg.allocator = allocator;
	if (c->dict) {
		dict = train(ps, &cfg.codec.dict_size);
		cfg.codec.dict = dict;
	}
	z = zsram_create(&cfg);
	CHECK(z);
	CHECK_EQ(zsram_page_size(z), ps);
	CHECK_EQ(zsram_nr_pages(z), nr);

	/* Pass 1: every page once, kinds in rotation (last slot stays empty). */
	for (uint64_t i = 0; i + 1 < nr; i++) {
		enum tu_page_kind k = (enum tu_page_kind)(i % TU_PAGE_KINDS);

		tu_make_page(page, ps, k, i);
		CHECK_EQ(zsram_write_page(z, i, page), 0);
		CHECK_EQ(zsram_slot_info(z, i, &info), 0);
		switch (k) {
		case TU_PAGE_SAME:
		case TU_PAGE_ZERO:
			CHECK_EQ(info.kind, ZSRAM_SLOT_SAME);
			same++;
			break;
		case TU_PAGE_RANDOM:
			CHECK_EQ(info.kind, ZSRAM_SLOT_HUGE);
			CHECK_EQ(info.size, ps);
			huge++;
			break;
		case TU_PAGE_TEXT:
			CHECK_EQ(info.kind, ZSRAM_SLOT_COMPRESSED);
			CHECK(info.size > 0 && info.size < zsram_page_size(z) * 3 / 4);
			break;
		default:
			CHECK(info.kind == ZSRAM_SLOT_COMPRESSED || info.kind == ZSRAM_SLOT_HUGE);
			huge += info.kind == ZSRAM_SLOT_HUGE;
			break;
		}
		stored++;
	}
	CHECK_EQ(zsram_slot_info(z, nr - 1, &info), 0);
	CHECK_EQ(info.kind, ZSRAM_SLOT_EMPTY);
	CHECK_STORE(z);

	zsram_get_mm_stat(z, &mm);
	CHECK_EQ(mm.orig_data_size, stored * ps);
	CHECK_EQ(mm.same_pages, same);
	CHECK_EQ(mm.huge_pages, huge);
	CHECK_EQ(mm.huge_pages_since, huge);
	CHECK(mm.compr_data_size >= huge * ps);
	CHECK(mm.mem_used_total >= mm.compr_data_size);
	CHECK(mm.mem_used_max >= mm.mem_used_total);
	CHECK_EQ(mm.mem_limit, 0);

	for (uint64_t i = 0; i < nr; i++) {
		if (i + 1 < nr)
			tu_make_page(page, ps, (enum tu_page_kind)(i % TU_PAGE_KINDS), i);
		else
			memset(page, 0, ps);
		memset(back, 0xa5, ps);
		CHECK_EQ(zsram_read_page(z, i, back), 0);
		CHECK(memcmp(page, back, ps) == 0);
	}

	/* Pass 2: overwrite every other page with another kind, discard every
	 * third, then read everything back against a shadow of (kind, seed). */
	for (uint64_t i = 0; i < nr; i++) {
		shadow_kind[i] = i + 1 < nr ? (int)(i % TU_PAGE_KINDS) : TU_PAGE_ZERO;
		shadow_seed[i] = i;
	}
	for (uint64_t i = 0; i + 1 < nr; i += 2) {
		shadow_kind[i] = (int)((i + 2) % TU_PAGE_KINDS);
		shadow_seed[i] = i + 7;
		tu_make_page(page, ps, (enum tu_page_kind)shadow_kind[i], shadow_seed[i]);
		CHECK_EQ(zsram_write_page(z, i, page), 0);
	}
	for (uint64_t i = 1; i + 1 < nr; i += 3) {
		CHECK_EQ(zsram_discard(z, i, 1), 0);
		shadow_kind[i] = TU_PAGE_ZERO;
	}
	CHECK_STORE(z);
	for (uint64_t i = 0; i < nr; i++) {
		tu_make_page(page, ps, (enum tu_page_kind)shadow_kind[i], shadow_seed[i]);
		CHECK_EQ(zsram_read_page(z, i, back), 0);
		CHECK(memcmp(page, back, ps) == 0);
	}

	/* Discard everything: the pool gives every page back. */
	CHECK_EQ(zsram_discard(z, 0, nr), 0);
	CHECK_STORE(z);
	zsram_get_mm_stat(z, &mm);
	CHECK_EQ(mm.orig_data_size, 0);
	CHECK_EQ(mm.compr_data_size, 0);
	CHECK_EQ(mm.same_pages, 0);
	CHECK_EQ(mm.huge_pages, 0);
	CHECK_EQ(mm.mem_used_total, 0);

	/* Out of range: refused, counted, nothing changes. */
	CHECK_EQ(zsram_write_page(z, nr, page), -EINVAL);
	CHECK_EQ(zsram_read_page(z, nr, page), -EINVAL);
	CHECK_EQ(zsram_discard(z, nr - 1, 2), -EINVAL);
	CHECK_IO_STAT(z, 3, 0, 0);
	zsram_destroy(z);
	free(dict);
	free(page);
	free(back);
	free(shadow_kind);
	free(shadow_seed);
}

static void bad_configs(void)
{
	struct zsram_config cfg;
	enum zsram_algorithm alg;

	zsram_config_init(&cfg);
	errno = 0;
	CHECK(zsram_create(&cfg) == NULL && errno == EINVAL); /* nr_pages 0 */
	cfg.nr_pages = 16;
	cfg.page_size = 5000;
	CHECK(zsram_create(&cfg) == NULL && errno == EINVAL);
	cfg.page_size = 4096;
	cfg.codec.algorithm = ZSRAM_ALG_ZSTD;
	cfg.codec.level = 99;
	CHECK(zsram_create(&cfg) == NULL && errno == EINVAL);
	cfg.codec.level = 0;
	cfg.codec.algorithm = ZSRAM_ALG_LZ4;
	cfg.codec.dict = "x";
	cfg.codec.dict_size = 1; /* a dictionary is for zstd only */
	CHECK(zsram_create(&cfg) == NULL && errno == EINVAL);
	cfg.codec.dict = NULL;
	cfg.codec.dict_size = 0;
	cfg.allocator = "no-such-allocator";
	CHECK(zsram_create(&cfg) == NULL && errno == EINVAL);
	CHECK_EQ(zsram_algorithm_from_name("lz4", &alg), 0);
	CHECK_EQ(alg, ZSRAM_ALG_LZ4);
	CHECK_EQ(zsram_algorithm_from_name("zstd", &alg), 0);
	CHECK_EQ(alg, ZSRAM_ALG_ZSTD);
	CHECK_EQ(zsram_algorithm_from_name("gzip", &alg), -EINVAL);
}

/* The dictionary must help small, similar pages. */
static void dictionary_helps(void)
{
	size_t ps = 4096, nr = 512;
	uint64_t sizes[2];

	for (int with = 0; with < 2; with++) {
		struct zsram_config cfg;
		struct zsram_mm_stat mm;
		struct zsram *z;
		unsigned char *page = malloc(ps);
		void *dict = NULL;

		zsram_config_init(&cfg);
		cfg.nr_pages = nr;
		cfg.codec.algorithm = ZSRAM_ALG_ZSTD;
		if (with) {
			dict = train(ps, &cfg.codec.dict_size);
			cfg.codec.dict = dict;
		}
		z = zsram_create(&cfg);
		CHECK(z);
		for (size_t i = 0; i < nr; i++) {
			tu_make_page(page, ps, TU_PAGE_TEXT, i);
			CHECK_EQ(zsram_write_page(z, i, page), 0);
		}
		zsram_get_mm_stat(z, &mm);
		sizes[with] = mm.compr_data_size;
		zsram_destroy(z);
		free(dict);
		free(page);
	}
	printf("zstd compr_data_size without dictionary %" PRIu64 ", with %" PRIu64 "\n", sizes[0],
	       sizes[1]);
	CHECK(sizes[1] < sizes[0]);
}

/* Discarding a random half fragments the pool; with a threshold set, the
 * store compacts by itself (pages_compacted grows with no zsram_compact),
 * and with a negative threshold it does not. */
static void auto_compaction(void)
{
	const size_t ps = 4096, nr = 3000 / tu_scale_divisor() + 500;

	for (int on = 0; on < 2; on++) {
		struct zsram_config cfg;
		struct zsram_mm_stat mm;
		struct zsram *z;
		unsigned char page[4096];
		struct tu_rng seed = tu_rng_from(5);

		zsram_config_init(&cfg);
		cfg.nr_pages = nr;
		cfg.compact_threshold = on ? 0.10 : -1;
		z = zsram_create(&cfg);
		CHECK(z);
		for (size_t i = 0; i < nr; i++) {
			tu_make_page(page, ps, i % 2 ? TU_PAGE_TEXT : TU_PAGE_MIXED, i);
			CHECK_EQ(zsram_write_page(z, i, page), 0);
		}
		for (size_t i = 0; i < nr; i++)
			if (tu_rand(&seed) % 2)
				CHECK_EQ(zsram_discard(z, i, 1), 0);
		zsram_get_mm_stat(z, &mm);
		if (on) {
			CHECK(mm.pages_compacted > 0);
			CHECK((double)(mm.mem_used_total - mm.compr_data_size) <=
			      0.10 * (double)mm.mem_used_total + 64.0 * ps);
		} else {
			CHECK_EQ(mm.pages_compacted, 0);
		}
		CHECK_STORE(z);
		zsram_destroy(z);
	}
}

int main(void)
{
	tu_init("zsram_store_roundtrip", 0);
	uint64_t nr = 600 / tu_scale_divisor() + 20;

	bad_configs();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run_case(&cases[i], 4096, nr);
		/* 16 KiB pages: every case in release, two under TSan. */
		if (tu_scale_divisor() < 10 || i < 2)
			run_case(&cases[i], 16384, nr / 4 + 10);
	}
	dictionary_helps();
	auto_compaction();

	/* Every allocator this build has (zbud and z3fold with zpool). */
	{
		const char *names[8];
		size_t n = zsram_allocators(names, 8);

		CHECK(n >= 1 && strcmp(names[0], "zsmalloc") == 0);
		for (size_t a = 0; a < n && a < 8; a++) {
			allocator = names[a];
			run_case(&cases[0], 4096, nr);
			run_case(&cases[4], 4096, nr);
			printf("allocator %s: ok\n", allocator);
		}
		allocator = NULL;
	}
	printf("store_roundtrip: ok\n");
	return 0;
}
