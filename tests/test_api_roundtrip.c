/*
 * test_api_roundtrip.c - byte-exact round trips of every size (a stride and every
 * class edge on larger pages) through zs_obj_write/zs_obj_read_begin and
 * the three map modes; prefix and zero-length writes; zs_obj_size.
 */
#include "zs_test.h"

#define MAX_PAGE 65536

static struct tu_rng rng;
static unsigned char scratch[MAX_PAGE], data[MAX_PAGE], data2[MAX_PAGE];

/* ---- Round trips of every size ---- */

/* Handles of a batch of round trips, freed together (fewer zspage frees). */
#define ROUNDTRIP_BATCH 64
static unsigned long batch_handles[3 * ROUNDTRIP_BATCH];
static size_t batch_count;

static void roundtrip_batch_free(struct zs_pool *pool)
{
	for (size_t i = 0; i < batch_count; i++)
		zs_free(pool, batch_handles[i]);
	batch_count = 0;
	CHECK_EQ(zs_get_total_pages(pool), 0, "pages after freeing a batch of round trips");
}

/*
 * Three objects of `size`, written and read back by every access method;
 * partial writes keep the rest of the object.  Freed with the batch.
 */
static void roundtrip_one_size(struct zs_pool *pool, size_t size)
{
	unsigned long h[3];
	size_t class_size = tu_class_size_of(pool, size);
	unsigned char *p;

	for (int i = 0; i < 3; i++) {
		h[i] = zs_malloc(pool, size);
		CHECK(h[i] != 0, "zs_malloc(%zu): %s", size, strerror(errno));
		CHECK_EQ(zs_obj_size(pool, h[i]), class_size, "zs_obj_size of size %zu", size);
		CHECK(zs_obj_size(pool, h[i]) >= size);
	}
	CHECK(h[0] != h[1] && h[1] != h[2] && h[0] != h[2], "handles not distinct");

	/* 0: zs_obj_write, read back by read_begin, map RO and map RW. */
	tu_fill_random(&rng, data, size);
	zs_obj_write(pool, h[0], data, size);
	/* 1: map WO; 2: map RW. */
	tu_fill_random(&rng, data2, size);
	p = zs_map_object(pool, h[1], ZS_MM_WO);
	CHECK(p != NULL);
	memcpy(p, data2, size);
	zs_unmap_object(pool, h[1]);
	p = zs_map_object(pool, h[2], ZS_MM_RW);
	CHECK(p != NULL);
	for (size_t i = 0; i < size; i++)
		p[i] = (unsigned char)(data[i] ^ 0x5a);
	zs_unmap_object(pool, h[2]);

	tu_obj_verify(pool, h[0], data, size, TU_ACCESS_OBJ, scratch, "write/read_begin");
	tu_obj_verify(pool, h[0], data, size, TU_ACCESS_MAP_WO_RO, scratch, "write/map RO");
	tu_obj_verify(pool, h[0], data, size, TU_ACCESS_MAP_RW, scratch, "write/map RW");
	tu_obj_verify(pool, h[1], data2, size, TU_ACCESS_MAP_WO_RO, scratch, "map WO/map RO");
	tu_obj_verify(pool, h[1], data2, size, TU_ACCESS_OBJ, scratch, "map WO/read_begin");
	for (size_t i = 0; i < size; i++)
		scratch[i] = (unsigned char)(data[i] ^ 0x5a);
	memcpy(data2, scratch, size);
	tu_obj_verify(pool, h[2], data2, size, TU_ACCESS_OBJ, scratch, "map RW/read_begin");

	/* RW: sees the old bytes, its changes persist. */
	p = zs_map_object(pool, h[0], ZS_MM_RW);
	CHECK(tu_first_diff(p, data, size) == size, "size %zu: map RW content", size);
	p[0] ^= 0xff;
	p[size - 1] ^= 0x0f;
	zs_unmap_object(pool, h[0]);
	data[0] ^= 0xff;
	data[size - 1] ^= 0x0f;
	tu_obj_verify(pool, h[0], data, size, TU_ACCESS_OBJ, scratch, "RW change");

	/* A write of a prefix leaves the rest as it was. */
	if (size >= 2) {
		size_t half = size / 2;

		tu_fill_random(&rng, data, half); /* data's tail stays */
		zs_obj_write(pool, h[0], data, half);
		tu_obj_verify(pool, h[0], data, size, TU_ACCESS_OBJ, scratch, "write of a prefix");
	}
	/* A write of no bytes changes nothing. */
	zs_obj_write(pool, h[0], data2, 0);
	tu_obj_verify(pool, h[0], data, size, TU_ACCESS_OBJ, scratch, "write of 0 bytes");
	/* The whole usable size can be written and read. */
	tu_fill_random(&rng, data, class_size);
	zs_obj_write(pool, h[1], data, class_size);
	tu_obj_verify(pool, h[1], data, class_size, TU_ACCESS_OBJ, scratch, "obj_size write");
	tu_obj_verify(pool, h[1], data, class_size, TU_ACCESS_MAP_WO_RO, scratch,
		      "obj_size write, map RO");
	tu_obj_verify(pool, h[2], data2, size, TU_ACCESS_MAP_WO_RO, scratch, "neighbour");

	for (int i = 0; i < 3; i++)
		batch_handles[batch_count++] = h[i];
	if (batch_count == 3 * ROUNDTRIP_BATCH)
		roundtrip_batch_free(pool);
}

/* Sizes 1..ps with the given stride, plus both sides of each class boundary. */
static void test_roundtrip_sizes(size_t ps, unsigned int chain, size_t stride)
{
	struct zs_pool_config cfg = { .page_size = ps, .max_pages_per_zspage = chain };
	struct zs_pool *pool = tu_create_pool("roundtrip", &cfg);
	unsigned int prev = zs_lookup_class_index(pool, 1);

	for (size_t s = 1; s <= ps; s++) {
		unsigned int idx = zs_lookup_class_index(pool, (unsigned int)s);
		bool boundary = idx != prev || s == ps;

		if (boundary && s > 1)
			roundtrip_one_size(pool, s - 1);
		if (boundary || s == 1 || s % stride == 0)
			roundtrip_one_size(pool, s);
		prev = idx;
	}
	CHECK_POOL(pool);
	roundtrip_batch_free(pool);
	CHECK_POOL(pool);
	zs_destroy_pool(pool);
}

int main(void)
{
	tu_init("test_api_roundtrip", 0x5eed0001);
	tu_rng_seed(&rng, tu_state.seed);

	/* Every size for 4 KiB pages; a stride and all class edges for larger. */
	test_roundtrip_sizes(4096, 0, tu_stride(1));
	test_roundtrip_sizes(16384, 0, tu_stride(3));
	test_roundtrip_sizes(65536, 0, tu_stride(61));
	for (unsigned int chain = 1; chain <= 16; chain *= 2)
		test_roundtrip_sizes(4096, chain, tu_stride(7));
	test_roundtrip_sizes(16384, 3, tu_stride(29));
	printf("test_api_roundtrip: all checks passed\n");
	return 0;
}
