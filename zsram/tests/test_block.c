/*
 * test_block - the block-device view against a shadow disk: random
 * sector-aligned reads, writes (whole and partial pages, spanning pages) and
 * discards; unaligned requests are served (test_byte_range covers them in
 * depth); out-of-range requests are refused with -EINVAL, counted as
 * invalid_io, and change nothing.
 */
#include <zsram.h>

#include "zs_test.h"

#define SECTOR ZSRAM_SECTOR_SIZE

static void fill_sectors(unsigned char *buf, size_t len, struct tu_rng *seed)
{
	/* Alternate compressible and random sectors, and now and then a run of
	 * one repeated byte so that whole pages become same-filled. */
	for (size_t off = 0; off < len; off += SECTOR) {
		uint64_t r = tu_rand(seed);

		if (r % 4 == 0) {
			memset(buf + off, (int)(r >> 8) & 0xff, SECTOR);
		} else if (r % 4 == 1) {
			for (size_t i = 0; i < SECTOR; i += 8) {
				uint64_t w = tu_rand(seed);

				memcpy(buf + off + i, &w, 8);
			}
		} else {
			for (size_t i = 0; i < SECTOR; i++)
				buf[off + i] = (unsigned char)("zsram block view "[i % 17] + (r & 3));
		}
	}
}

int main(void)
{
	tu_init("zsram_block", 0);
	const size_t ps = 4096;
	const uint64_t nr = 256;
	const uint64_t size = nr * ps;
	const int ops = 6000 / (int)tu_scale_divisor();
	struct zsram_config cfg;
	struct zsram_io_stat io;
	struct zsram *z;
	unsigned char *shadow = calloc(size, 1), *buf = malloc(size), *back = malloc(size);
	struct tu_rng seed = tu_rng_from(42);

	CHECK(shadow && buf && back);
	zsram_config_init(&cfg);
	cfg.nr_pages = nr;
	z = zsram_create(&cfg);
	CHECK(z);
	CHECK_EQ(zsram_bdev_size(z), size);

	for (int op = 0; op < ops; op++) {
		uint64_t r = tu_rand(&seed);
		uint64_t sectors = size / SECTOR;
		uint64_t first = tu_rand(&seed) % sectors;
		uint64_t count = 1 + tu_rand(&seed) % (r % 8 == 0 ? 40 : 10);
		uint64_t off, len;

		if (first + count > sectors)
			count = sectors - first;
		off = first * SECTOR;
		len = count * SECTOR;
		switch (r % 3) {
		case 0:
			fill_sectors(buf, len, &seed);
			CHECK_EQ(zsram_bdev_write(z, off, buf, len), 0);
			memcpy(shadow + off, buf, len);
			break;
		case 1:
			memset(back, 0xee, len);
			CHECK_EQ(zsram_bdev_read(z, off, back, len), 0);
			CHECK(memcmp(back, shadow + off, len) == 0);
			break;
		default:
			if (r % 5 == 0) {
				CHECK_EQ(zsram_bdev_discard(z, off, len), 0);
				memset(shadow + off, 0, len);
			}
			break;
		}
	}
	CHECK_EQ(zsram_bdev_read(z, 0, back, size), 0);
	CHECK(memcmp(back, shadow, size) == 0);
	CHECK_STORE(z);

	/* Whole-disk write then read, at an offset of one sector. */
	fill_sectors(buf, size - SECTOR, &seed);
	CHECK_EQ(zsram_bdev_write(z, SECTOR, buf, size - SECTOR), 0);
	memcpy(shadow + SECTOR, buf, size - SECTOR);
	CHECK_EQ(zsram_bdev_read(z, 0, back, size), 0);
	CHECK(memcmp(back, shadow, size) == 0);

	/* Unaligned requests: served.  Bad requests: refused, counted, nothing
	 * changes. */
	zsram_get_io_stat(z, &io);
	CHECK_EQ(io.invalid_io, 0);
	CHECK_EQ(zsram_bdev_write(z, 100, buf, SECTOR), 0);
	memcpy(shadow + 100, buf, SECTOR);
	CHECK_EQ(zsram_bdev_write(z, 0, buf, 100), 0);
	memcpy(shadow, buf, 100);
	CHECK_EQ(zsram_bdev_read(z, size - SECTOR, back, 2 * SECTOR), -EINVAL);
	CHECK_EQ(zsram_bdev_read(z, size + SECTOR, back, SECTOR), -EINVAL);
	CHECK_EQ(zsram_bdev_discard(z, 1, SECTOR), 0);
	memset(shadow + 1, 0, SECTOR);
	CHECK_IO_STAT(z, 2, 0, 0);
	CHECK_EQ(zsram_bdev_read(z, 0, back, size), 0);
	CHECK(memcmp(back, shadow, size) == 0);

	/* Discarding everything frees every page. */
	CHECK_EQ(zsram_bdev_discard(z, 0, size), 0);
	{
		struct zsram_mm_stat mm;

		zsram_get_mm_stat(z, &mm);
		CHECK_EQ(mm.orig_data_size, 0);
		CHECK_EQ(mm.mem_used_total, 0);
	}
	CHECK_STORE(z);
	zsram_destroy(z);
	free(shadow);
	free(buf);
	free(back);
	printf("block: ok (%d operations)\n", ops);
	return 0;
}
