/*
 * test_api_stats.c - zs_get_class_stats and zs_pool_stats against what was
 * allocated, freed and compacted, and zs_print_class_stats: the kernel's
 * column names, lines that match the stats, and a failed write reported.
 */
#include "zs_test.h"

#define MAX_PAGE 65536

static struct tu_rng rng;
static unsigned char scratch[MAX_PAGE];

/* ---- Statistics and the class table ---- */

static unsigned long sum_pages_used(struct zs_pool *pool, unsigned long *objs)
{
	unsigned long pages = 0, used = 0;
	struct zs_class_stats st;

	for (unsigned int i = 0; i < zs_class_count(pool); i++) {
		if (zs_get_class_stats(pool, i, &st) != 0)
			continue;
		pages += st.pages_used;
		used += st.obj_used;
		CHECK(st.obj_used <= st.obj_allocated, "class %u: used %lu > allocated %lu", i,
		      st.obj_used, st.obj_allocated);
		CHECK(st.freeable <= st.pages_used, "class %u: freeable %lu > pages %lu", i,
		      st.freeable, st.pages_used);
	}
	if (objs)
		*objs = used;
	return pages;
}

static void check_class_table(struct zs_pool *pool)
{
	static const char *const columns[] = { "class",
					       "size",
					       "10%",
					       "20%",
					       "30%",
					       "40%",
					       "50%",
					       "60%",
					       "70%",
					       "80%",
					       "90%",
					       "99%",
					       "100%",
					       "obj_allocated",
					       "obj_used",
					       "pages_used",
					       "pages_per_zspage",
					       "freeable" };
	char *text = NULL, *line, *save = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	bool header_seen = false, total_seen = false;
	unsigned int count = zs_class_count(pool);
	unsigned char *listed = calloc(count, 1);

	CHECK(out != NULL && listed != NULL);
	CHECK_EQ(zs_print_class_stats(pool, out), 0, "zs_print_class_stats");
	CHECK_EQ(fclose(out), 0);
	CHECK(len > 0 && text != NULL, "empty class table");
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned int index, size;

		if (!header_seen) {
			/* Every column name, in the kernel's order. */
			const char *at = line;
			bool all = true;

			for (size_t c = 0; c < sizeof(columns) / sizeof(columns[0]); c++) {
				const char *found = strstr(at, columns[c]);

				if (!found) {
					all = false;
					break;
				}
				at = found + strlen(columns[c]);
			}
			if (all)
				header_seen = true;
			continue;
		}
		if (strstr(line, "Total")) {
			total_seen = true;
			continue;
		}
		if (sscanf(line, "%u %u", &index, &size) == 2) {
			struct zs_class_stats st;
			unsigned long v[16];
			int got;

			CHECK(index < count, "class table line \"%s\": bad index", line);
			CHECK_EQ(zs_get_class_stats(pool, index, &st), 0, "class table line \"%s\"",
				 line);
			CHECK_EQ(size, st.size, "class table line \"%s\": size", line);
			/* The other 16 columns agree with zs_get_class_stats (the
			 * pool is idle, so both are the same instant). */
			got = sscanf(line,
				     "%*u %*u %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu "
				     "%lu %lu %lu %lu %lu",
				     &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8],
				     &v[9], &v[10], &v[11], &v[12], &v[13], &v[14], &v[15]);
			CHECK_EQ(got, 16, "class table line \"%s\": columns", line);
			for (int g = 0; g < ZS_NR_FULLNESS_GROUPS; g++)
				CHECK_EQ(v[g], st.zspages[g],
					 "class table line \"%s\": "
					 "fullness column %d",
					 line, g);
			CHECK_EQ(v[11], st.obj_allocated, "class table line \"%s\"", line);
			CHECK_EQ(v[12], st.obj_used, "class table line \"%s\"", line);
			CHECK_EQ(v[13], st.pages_used, "class table line \"%s\"", line);
			CHECK_EQ(v[14], st.pages_per_zspage, "class table line \"%s\"", line);
			CHECK_EQ(v[15], st.freeable, "class table line \"%s\"", line);
			listed[index] = 1;
		}
	}
	CHECK(header_seen, "class table has no header with the kernel's column names:\n%s", text);
	CHECK(total_seen, "class table has no Total line");
	for (unsigned int i = 0; i < count; i++) {
		struct zs_class_stats st;

		if (zs_get_class_stats(pool, i, &st) == 0 && st.obj_allocated)
			CHECK(listed[i], "class %u in use but not in the class table", i);
	}
	free(listed);
	free(text);

	/* A failed write is reported: -1 with errno. */
	out = fopen("/dev/full", "w");
	if (out) {
		setvbuf(out, NULL, _IONBF, 0);
		errno = 0;
		CHECK_EQ(zs_print_class_stats(pool, out), -1, "writing to /dev/full");
		CHECK_EQ(errno, ENOSPC, "errno after writing to /dev/full");
		fclose(out);
	}
}

static void test_stats(void)
{
	static const size_t sizes[] = { 32, 100, 1000, 2000, 3000, 4096 };
	unsigned long counts[] = { 500, 300, 100, 50, 20, 7 };
	struct zs_pool *pool = tu_create_pool("stats", NULL);
	struct zs_pool_stats ps_stats;
	struct zs_class_stats st;
	struct tu_shadow sh;
	unsigned long objs, total;
	unsigned int idx32;

	tu_shadow_init(&sh);
	/* Enough 32-byte objects for four zspages, whatever the geometry. */
	tu_class_stats(pool, zs_lookup_class_index(pool, 32), &st);
	if (counts[0] < 4UL * st.objs_per_zspage)
		counts[0] = 4UL * st.objs_per_zspage;
	zs_pool_stats(pool, &ps_stats);
	CHECK_EQ(ps_stats.pages_compacted, 0);
	CHECK_EQ(sum_pages_used(pool, NULL), 0);
	check_class_table(pool);
	for (size_t k = 0; k < 6; k++) {
		for (size_t j = 0; j < k; j++)
			CHECK(zs_lookup_class_index(pool, (unsigned int)sizes[j]) !=
			      zs_lookup_class_index(pool, (unsigned int)sizes[k]));
		for (unsigned long i = 0; i < counts[k]; i++)
			CHECK(tu_shadow_alloc(pool, &sh, &rng, sizes[k], TU_ACCESS_OBJ, scratch));
	}
	for (size_t k = 0; k < 6; k++)
		tu_check_class_filled(pool, sizes[k], counts[k]);
	total = zs_get_total_pages(pool);
	CHECK_EQ(sum_pages_used(pool, &objs), total, "sum of pages_used over classes");
	CHECK_EQ(objs, sh.count, "sum of obj_used over classes");
	CHECK_EQ(zs_list_pages(pool, NULL, 0), total);
	check_class_table(pool);

	/* Free 90% of the 32-byte objects at random: compaction has work. */
	idx32 = zs_lookup_class_index(pool, 32);
	for (size_t i = sh.count; i-- > 0;)
		if (sh.objs[i].size == 32 && tu_below(&rng, 10) != 0)
			tu_shadow_free(pool, &sh, i);
	tu_class_stats(pool, idx32, &st);
	{
		unsigned long used32 = 0, sum = 0;

		for (size_t i = 0; i < sh.count; i++)
			used32 += sh.objs[i].size == 32;
		CHECK_EQ(st.obj_used, used32, "obj_used after frees");
		CHECK(st.pages_used <= st.obj_allocated / st.objs_per_zspage * st.pages_per_zspage &&
			      st.pages_used * 4096 >= st.obj_used * st.size,
		      "pages_used %lu for %lu of %lu objects", st.pages_used, st.obj_used,
		      st.obj_allocated);
		for (int g = 0; g < ZS_NR_FULLNESS_GROUPS; g++)
			sum += st.zspages[g];
		CHECK_EQ(sum, st.obj_allocated / st.objs_per_zspage, "fullness groups");
		CHECK(st.freeable > 0, "class of 32 bytes: %lu used of %lu slots, freeable 0",
		      st.obj_used, st.obj_allocated);
	}
	CHECK_EQ(sum_pages_used(pool, &objs), zs_get_total_pages(pool));
	CHECK_EQ(objs, sh.count);
	check_class_table(pool);
	CHECK_POOL(pool);
	{
		unsigned long before = zs_get_total_pages(pool), freed;

		freed = zs_compact(pool);
		CHECK(freed > 0, "zs_compact freed nothing, class said freeable %lu", st.freeable);
		CHECK_COMPACTED(before, zs_get_total_pages(pool), freed, "pages after zs_compact");
		zs_pool_stats(pool, &ps_stats);
		CHECK_EQ(ps_stats.pages_compacted, freed, "pages_compacted");
		tu_class_stats(pool, idx32, &st);
		CHECK_EQ(st.freeable, 0, "freeable right after zs_compact");
	}
	tu_shadow_verify_all(pool, &sh, scratch, "after compaction");
	CHECK_POOL(pool);
	check_class_table(pool);
	tu_shadow_free_all(pool, &sh);
	CHECK_EQ(zs_get_total_pages(pool), 0);
	CHECK_EQ(sum_pages_used(pool, &objs), 0);
	CHECK_EQ(objs, 0);
	zs_destroy_pool(pool);
	tu_shadow_destroy(&sh);
}

int main(void)
{
	tu_init("test_api_stats", 0x5eed0001);
	tu_rng_seed(&rng, tu_state.seed);

	test_stats();
	printf("test_api_stats: all checks passed\n");
	return 0;
}
