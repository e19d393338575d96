/*
 * test_byte_range - the block view at any byte offset and length, against a
 * shadow byte array: random reads, writes, zeroes and discards that start
 * and end anywhere (inside a page, on a boundary, spanning many pages), with
 * 4 KiB and 16 KiB pages; after each request the bytes it touched and the
 * pages around it read back as the shadow says.
 *
 * Discard semantics checked: the whole pages inside the range become empty
 * (nothing stored), the partial pages at either end keep their bytes outside
 * the range and read as zeros inside it; zero makes whole pages same-filled
 * (no allocation), never empty.  Out-of-range requests (past the end,
 * overflowing offset + len, a NULL buffer) are refused with -EINVAL, counted
 * in invalid_io, and change nothing.  Two threads patching interleaved bytes
 * of the same pages never lose each other's bytes.
 */
#include <pthread.h>

#include <zsram.h>

#include "zs_test.h"

/* Random bytes, sometimes compressible, sometimes a run of one byte. */
static void fill_bytes(unsigned char *buf, size_t len, struct tu_rng *seed)
{
	uint64_t r = tu_rand(seed);

	for (size_t i = 0; i < len; i++) {
		if (r % 3 == 0)
			buf[i] = (unsigned char)(r >> 8);
		else if (r % 3 == 1)
			buf[i] = (unsigned char)tu_rand(seed);
		else
			buf[i] = (unsigned char)("byte range "[i % 11] + (r & 7));
	}
}

/* Offset and length: any byte, often near a page boundary. */
static void pick(uint64_t size, size_t ps, struct tu_rng *seed, uint64_t *off, uint64_t *len)
{
	uint64_t r = tu_rand(seed);

	*off = tu_rand(seed) % size;
	if (r % 4 == 0)
		*off = *off / ps * ps + (r % 2 ? ps - 1 - (r >> 8) % 3 : (r >> 8) % 3);
	if (*off >= size)
		*off = size - 1;
	*len = r % 8 == 0 ? tu_rand(seed) % (4 * ps) : tu_rand(seed) % (ps + 2);
	if (*len > size - *off)
		*len = size - *off;
}

static struct zsram *new_store(size_t ps, uint64_t nr)
{
	struct zsram_config cfg;
	struct zsram *z;

	zsram_config_init(&cfg);
	cfg.nr_pages = nr;
	cfg.page_size = ps;
	z = zsram_create(&cfg);
	CHECK(z);
	return z;
}

static void check_all(struct zsram *z, const unsigned char *shadow, unsigned char *back, uint64_t size)
{
	memset(back, 0xa5, size);
	CHECK_EQ(zsram_bdev_read(z, 0, back, size), 0);
	CHECK(memcmp(back, shadow, size) == 0);
}

static void random_ranges(size_t ps, uint64_t nr, int ops)
{
	const uint64_t size = nr * ps;
	struct zsram *z = new_store(ps, nr);
	unsigned char *shadow = calloc(size, 1), *buf = malloc(size), *back = malloc(size);
	struct tu_rng seed = tu_rng_from(7 + ps);

	CHECK(shadow && buf && back);
	for (int op = 0; op < ops; op++) {
		uint64_t off, len, r = tu_rand(&seed);

		pick(size, ps, &seed, &off, &len);
		if (r % 4 < 2) {
			fill_bytes(buf, len, &seed);
			CHECK_EQ(zsram_bdev_write(z, off, buf, len), 0);
			memcpy(shadow + off, buf, len);
		} else if (r % 4 == 2) {
			CHECK_EQ((r & 16) ? zsram_bdev_zero(z, off, len)
					  : zsram_bdev_discard(z, off, len),
				 0);
			memset(shadow + off, 0, len);
		}
		/* The request's bytes and a page either side, any alignment. */
		{
			uint64_t lo = off > ps ? off - ps : 0;
			uint64_t hi = off + len + ps < size ? off + len + ps : size;

			memset(back, 0x5a, hi - lo);
			CHECK_EQ(zsram_bdev_read(z, lo, back, hi - lo), 0);
			CHECK(memcmp(back, shadow + lo, hi - lo) == 0);
		}
		if (op % 500 == 0)
			CHECK_STORE(z);
	}
	check_all(z, shadow, back, size);
	CHECK_STORE(z);
	zsram_destroy(z);
	free(shadow);
	free(buf);
	free(back);
}

static int slot_kind(struct zsram *z, uint64_t index)
{
	struct zsram_slot_info info;

	CHECK_EQ(zsram_slot_info(z, index, &info), 0);
	return (int)info.kind;
}

/* Discard and zero of ranges that start and end inside pages. */
static void discard_semantics(void)
{
	const size_t ps = 4096;
	const uint64_t nr = 8, size = nr * ps;
	struct zsram *z = new_store(ps, nr);
	unsigned char *shadow = malloc(size), *back = malloc(size);

	CHECK(shadow && back);
	for (uint64_t i = 0; i < nr; i++)
		tu_make_page(shadow + i * ps, ps, TU_PAGE_TEXT, i + 1);
	CHECK_EQ(zsram_bdev_write(z, 0, shadow, size), 0);

	/* Discard from the middle of page 1 to the middle of page 4: pages 2
	 * and 3 become empty, 1 and 4 stay stored with their outer bytes. */
	CHECK_EQ(zsram_bdev_discard(z, ps + 100, 3 * ps), 0);
	memset(shadow + ps + 100, 0, 3 * ps);
	CHECK_EQ(slot_kind(z, 1), ZSRAM_SLOT_COMPRESSED);
	CHECK_EQ(slot_kind(z, 2), ZSRAM_SLOT_EMPTY);
	CHECK_EQ(slot_kind(z, 3), ZSRAM_SLOT_EMPTY);
	CHECK_EQ(slot_kind(z, 4), ZSRAM_SLOT_COMPRESSED);
	check_all(z, shadow, back, size);

	/* A discard inside one page frees nothing: the page is patched. */
	CHECK_EQ(zsram_bdev_discard(z, 5 * ps + 1, ps - 2), 0);
	memset(shadow + 5 * ps + 1, 0, ps - 2);
	CHECK_EQ(slot_kind(z, 5), ZSRAM_SLOT_COMPRESSED);
	check_all(z, shadow, back, size);

	/* Zero of whole pages: same-filled, not empty; of a part: patched. */
	CHECK_EQ(zsram_bdev_zero(z, 6 * ps - 10, ps + 10), 0);
	memset(shadow + 6 * ps - 10, 0, ps + 10);
	CHECK_EQ(slot_kind(z, 6), ZSRAM_SLOT_SAME);
	CHECK_EQ(slot_kind(z, 5), ZSRAM_SLOT_COMPRESSED);
	check_all(z, shadow, back, size);

	/* Zero-length requests anywhere inside, and at the very end. */
	CHECK_EQ(zsram_bdev_write(z, 3, shadow, 0), 0);
	CHECK_EQ(zsram_bdev_read(z, size, back, 0), 0);
	CHECK_EQ(zsram_bdev_discard(z, size, 0), 0);
	CHECK_EQ(zsram_bdev_zero(z, 17, 0), 0);
	/* The last byte alone. */
	CHECK_EQ(zsram_bdev_write(z, size - 1, "x", 1), 0);
	shadow[size - 1] = 'x';
	check_all(z, shadow, back, size);
	CHECK_STORE(z);
	zsram_destroy(z);
	free(shadow);
	free(back);
}

/* Out-of-range requests: refused, counted, nothing changes. */
static void bad_ranges(void)
{
	const size_t ps = 4096;
	const uint64_t nr = 4, size = nr * ps;
	struct zsram_io_stat io;
	struct zsram_mm_stat before, after;
	struct zsram *z = new_store(ps, nr);
	unsigned char *shadow = malloc(size), *back = malloc(size + 1);

	CHECK(shadow && back);
	for (uint64_t i = 0; i < nr; i++)
		tu_make_page(shadow + i * ps, ps, TU_PAGE_MIXED, i);
	CHECK_EQ(zsram_bdev_write(z, 0, shadow, size), 0);
	zsram_get_mm_stat(z, &before);
	CHECK_EQ(zsram_bdev_write(z, size - 1, back, 2), -EINVAL);
	CHECK_EQ(zsram_bdev_read(z, size + 1, back, 0), -EINVAL);
	CHECK_EQ(zsram_bdev_read(z, 1, back, size), -EINVAL);
	CHECK_EQ(zsram_bdev_discard(z, 5, UINT64_MAX - 2), -EINVAL);
	CHECK_EQ(zsram_bdev_zero(z, UINT64_MAX, 1), -EINVAL);
	CHECK_EQ(zsram_bdev_write(z, 0, NULL, 1), -EINVAL);
	CHECK_EQ(zsram_bdev_read(z, 0, NULL, 1), -EINVAL);
	zsram_get_io_stat(z, &io);
	CHECK_EQ(io.invalid_io, 7);
	CHECK_EQ(io.failed_reads, 0);
	CHECK_EQ(io.failed_writes, 0);
	zsram_get_mm_stat(z, &after);
	CHECK_EQ(after.orig_data_size, before.orig_data_size);
	CHECK_EQ(after.compr_data_size, before.compr_data_size);
	check_all(z, shadow, back, size);
	zsram_destroy(z);
	free(shadow);
	free(back);
}

/* Two threads patch the even and the odd bytes of the same pages. */
struct interleave {
	struct zsram *z;
	uint64_t size;
	unsigned int parity;
};

static void *interleave_thread(void *arg)
{
	struct interleave *t = arg;

	for (uint64_t off = t->parity; off < t->size; off += 2) {
		unsigned char b = (unsigned char)(off * 7 + 1);

		CHECK_EQ(zsram_bdev_write(t->z, off, &b, 1), 0);
	}
	return NULL;
}

static void interleaved_writers(void)
{
	const size_t ps = 4096;
	const uint64_t nr = 2, size = nr * ps / (tu_scale_divisor() > 1 ? 2 : 1);
	struct interleave t[2];
	pthread_t tid[2];
	unsigned char *back = malloc(size);

	CHECK(back);
	t[0].z = new_store(ps, nr);
	for (unsigned int i = 0; i < 2; i++) {
		t[i].z = t[0].z;
		t[i].size = size;
		t[i].parity = i;
		CHECK_EQ(pthread_create(&tid[i], NULL, interleave_thread, &t[i]), 0);
	}
	for (unsigned int i = 0; i < 2; i++)
		CHECK_EQ(pthread_join(tid[i], NULL), 0);
	CHECK_EQ(zsram_bdev_read(t[0].z, 0, back, size), 0);
	for (uint64_t off = 0; off < size; off++)
		CHECK_EQ(back[off], (unsigned char)(off * 7 + 1));
	CHECK_STORE(t[0].z);
	zsram_destroy(t[0].z);
	free(back);
}

int main(void)
{
	tu_init("zsram_byte_range", 0);
	const int ops = 4000 / (int)tu_scale_divisor();

	random_ranges(4096, 64, ops);
	random_ranges(16384, 16, ops / 2);
	discard_semantics();
	bad_ranges();
	interleaved_writers();
	printf("byte_range: ok (%d operations)\n", ops + ops / 2);
	return 0;
}
