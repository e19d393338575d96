/*
 * test_limit - the memory limit: writes that would pass it fail with
 * -ENOSPC and change nothing (slot, data, mm_stat), whether the slot was
 * empty or held a page; same-filled pages still go in (they take no
 * memory); discarding makes room again.  io_stat counts the failures.
 */
#include <zsram.h>

#include "zs_test.h"

static void snapshot_equal(const struct zsram_mm_stat *a, const struct zsram_mm_stat *b)
{
	CHECK_EQ(a->orig_data_size, b->orig_data_size);
	CHECK_EQ(a->compr_data_size, b->compr_data_size);
	CHECK_EQ(a->mem_used_total, b->mem_used_total);
	CHECK_EQ(a->same_pages, b->same_pages);
	CHECK_EQ(a->huge_pages, b->huge_pages);
	CHECK_EQ(a->huge_pages_since, b->huge_pages_since);
}

int main(void)
{
	tu_init("zsram_limit", 0);
	const size_t ps = 4096;
	const uint64_t nr = 2048 / tu_scale_divisor() + 64;
	const uint64_t limit = 64 * ps;
	struct zsram_config cfg;
	struct zsram_mm_stat before, after;
	struct zsram_slot_info info;
	struct zsram_io_stat io;
	struct zsram *z;
	unsigned char *page = malloc(ps), *back = malloc(ps);
	uint64_t stored = 0, refused = 0, first_refused = UINT64_MAX;

	CHECK(page && back);
	zsram_config_init(&cfg);
	cfg.nr_pages = nr;
	cfg.mem_limit = limit;
	z = zsram_create(&cfg);
	CHECK(z);

	/* Fill with incompressible pages until refused. */
	for (uint64_t i = 0; i < nr; i++) {
		int err;

		tu_make_page(page, ps, TU_PAGE_RANDOM, i);
		zsram_get_mm_stat(z, &before);
		err = zsram_write_page(z, i, page);
		if (err == 0) {
			stored++;
			continue;
		}
		CHECK_EQ(err, -ENOSPC);
		refused++;
		if (first_refused == UINT64_MAX)
			first_refused = i;
		zsram_get_mm_stat(z, &after);
		snapshot_equal(&before, &after);
		CHECK_EQ(zsram_slot_info(z, i, &info), 0);
		CHECK_EQ(info.kind, ZSRAM_SLOT_EMPTY);
		CHECK(after.mem_used_total <= limit);
	}
	CHECK(stored > 0 && refused > 0);
	CHECK(stored <= limit / ps);
	zsram_get_mm_stat(z, &after);
	CHECK_EQ(after.mem_limit, limit);
	CHECK(after.mem_used_max <= limit);
	CHECK_STORE(z);

	/* Overwriting a stored page with a page that needs new memory is
	 * refused too, and the old page stays readable. */
	tu_make_page(page, ps, TU_PAGE_MIXED, 999);
	zsram_get_mm_stat(z, &before);
	CHECK_EQ(zsram_write_page(z, 0, page), -ENOSPC);
	zsram_get_mm_stat(z, &after);
	snapshot_equal(&before, &after);
	CHECK_EQ(zsram_read_page(z, 0, back), 0);
	tu_make_page(page, ps, TU_PAGE_RANDOM, 0);
	CHECK(memcmp(page, back, ps) == 0);

	/* Same-filled pages take no memory: accepted at the limit. */
	tu_make_page(page, ps, TU_PAGE_SAME, 5);
	CHECK_EQ(zsram_write_page(z, first_refused, page), 0);
	CHECK_EQ(zsram_read_page(z, first_refused, back), 0);
	CHECK(memcmp(page, back, ps) == 0);

	zsram_get_io_stat(z, &io);
	CHECK_EQ(io.failed_writes, refused + 1);
	CHECK_EQ(io.failed_reads, 0);

	/* Every stored page reads back intact. */
	for (uint64_t i = 0; i < first_refused; i++) {
		tu_make_page(page, ps, TU_PAGE_RANDOM, i);
		CHECK_EQ(zsram_read_page(z, i, back), 0);
		CHECK(memcmp(page, back, ps) == 0);
	}

	/* Discarding makes room again. */
	CHECK_EQ(zsram_discard(z, 0, 8), 0);
	zsram_compact(z);
	tu_make_page(page, ps, TU_PAGE_RANDOM, 12345);
	CHECK_EQ(zsram_write_page(z, first_refused + 1, page), 0);
	CHECK_EQ(zsram_read_page(z, first_refused + 1, back), 0);
	CHECK(memcmp(page, back, ps) == 0);
	CHECK_STORE(z);
	zsram_destroy(z);

	/* Compressible pages: many more fit under the same limit. */
	zsram_config_init(&cfg);
	cfg.nr_pages = nr;
	cfg.mem_limit = limit;
	z = zsram_create(&cfg);
	CHECK(z);
	stored = 0;
	for (uint64_t i = 0; i < nr; i++) {
		tu_make_page(page, ps, TU_PAGE_TEXT, i);
		int err = zsram_write_page(z, i, page);

		CHECK(err == 0 || err == -ENOSPC);
		stored += err == 0;
		zsram_get_mm_stat(z, &after);
		if (after.mem_used_total > limit) {
			fprintf(stderr, "page %" PRIu64 " err %d: mem_used_total %" PRIu64 "\n", i,
				err, after.mem_used_total);
			exit(1);
		}
	}
	zsram_get_mm_stat(z, &after);
	CHECK(after.mem_used_total <= limit);
	CHECK(stored > limit / ps);
	CHECK_STORE(z);
	zsram_destroy(z);
	free(page);
	free(back);
	printf("limit: ok (%" PRIu64 " incompressible pages refused)\n", refused);
	return 0;
}
