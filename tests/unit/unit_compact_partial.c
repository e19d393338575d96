/*
 * unit_compact_partial.c - compaction that empties a source zspage only in
 * part (the fuller zspages fill up first) leaves free slots below the
 * source's highest object; the trim that follows must rebuild its free list
 * from them.  Rounds of fills and random frees at rising rates make such
 * partial evacuations, and every object's bytes and the pool are checked.
 */
#include "zs_test.h"
#include "internal.h"

#define OBJS 3000

int main(void)
{
	tu_init("unit_compact_partial", 5);
	struct tu_rng rng;
	tu_rng_seed(&rng, tu_state.seed);
	struct zs_pool *pool = zs_create_pool("partial");
	CHECK(pool != NULL);
	static unsigned long handles[OBJS];
	static uint8_t buf[512], got[512];
	unsigned int rounds = (unsigned int)tu_scale(40);
	for (unsigned int round = 0; round < rounds; round++) {
		for (int i = 0; i < OBJS; i++) {
			handles[i] = zs_malloc(pool, 300);
			CHECK(handles[i] != 0);
			memset(buf, (uint8_t)i, 300);
			zs_obj_write(pool, handles[i], buf, 300);
		}
		for (int i = 0; i < OBJS; i++)
			if (tu_below(&rng, 100) < 30 + round) {
				zs_free(pool, handles[i]);
				handles[i] = 0;
			}
		unsigned long before = zs_get_total_pages(pool);
		unsigned long freed = zs_compact(pool);
		CHECK_COMPACTED(before, zs_get_total_pages(pool), freed, "round %u", round);
		CHECK_POOL(pool, "round %u", round);
		for (int i = 0; i < OBJS; i++) {
			if (!handles[i])
				continue;
			void *p = zs_obj_read_begin(pool, handles[i], got);
			memset(buf, (uint8_t)i, 300);
			CHECK(memcmp(p, buf, 300) == 0, "object %d, round %u", i, round);
			zs_obj_read_end(pool, handles[i], p);
			zs_free(pool, handles[i]);
		}
		CHECK_EQ(zs_get_total_pages(pool), 0);
	}
	zs_destroy_pool(pool);
	printf("unit_compact_partial: ok\n");
	return 0;
}
