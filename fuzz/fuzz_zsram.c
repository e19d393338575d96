/*
 * fuzz_zsram.c - libFuzzer harness for the zsram page store: the input bytes
 * are a store configuration followed by a program of page and block-view
 * requests and maintenance calls, checked against a shadow copy of the whole
 * disk.
 *
 * Input layout (see fuzz/README.md):
 *   byte 0     nr_pages: 1 + b % 48; b == 0xff: 0 (invalid)
 *   byte 1     page size: 4096 << (b % 3), 65536 when b % 16 == 15, a
 *              non-power of two (invalid) when b % 32 == 31
 *   byte 2     primary algorithm (b % 3) and level class (b >> 2)
 *   byte 3     bit 0: recompression with a secondary algorithm;
 *              bit 1: memory limit (pages follow); bit 2: backing file;
 *              bit 3: zstd dictionary from the input; bits 4-6: allocator
 *              (zsmalloc by default, also zbud, z3fold, an unknown name);
 *              bit 7: metadata allocations of libzsmalloc fail at random
 *   then       configuration arguments, then operations until the input ends
 *
 * The rules checked: a request answers 0 and the disk reads back as the
 * shadow says, or it answers a documented error that the situation allows
 * (-EINVAL only for requests outside the disk or unaligned, -ENOSPC only
 * with a memory limit, -ENOMEM only after an injected allocation failure)
 * and changes nothing (a request over several pages may have done the pages
 * before the failing one; each page is then either all old or all new); the
 * memory limit is never passed; zsram_check passes after every step; an
 * empty slot reads as zeros and a same-filled slot holds one repeated word.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "internal.h"
#include "zsram.h"

#define MAX_REQ_PAGES 4 /* block-view requests span at most this many pages */

struct harness {
	struct fz_input in;
	struct zsram *store;
	uint64_t nr_pages;
	size_t page_size;
	uint64_t disk_size;
	uint64_t mem_limit;
	bool recomp, backing;
	unsigned int meta_rate;
	uint64_t rng;
	unsigned long step;
	unsigned char *disk;	  /* the shadow: nr_pages * page_size bytes */
	unsigned char *old, *buf; /* MAX_REQ_PAGES pages each */
};

static bool meta_fired(bool armed)
{
	return armed && zs_test_meta_countdown() == 0;
}

static void check_error(struct harness *h, int rc, bool armed, const char *what)
{
	FZ_CHECK((rc == -ENOSPC && h->mem_limit) || (rc == -ENOMEM && meta_fired(armed)),
		 "step %lu: %s answered %d (%s)%s", h->step, what, rc, strerror(-rc),
		 h->mem_limit ? "" : " with no memory limit");
}

static void verify_page(struct harness *h, uint64_t index, const char *when)
{
	int rc = zsram_read_page(h->store, index, h->buf);
	const unsigned char *want = h->disk + index * h->page_size;

	FZ_CHECK(rc == 0, "step %lu (%s): zsram_read_page(%lu) = %d", h->step, when,
		 (unsigned long)index, rc);
	if (memcmp(h->buf, want, h->page_size) != 0) {
		size_t at = 0;

		while (h->buf[at] == want[at])
			at++;
		FZ_CHECK(0,
			 "step %lu (%s): page %lu differs from the shadow at byte %zu: "
			 "%#x, expected %#x",
			 h->step, when, (unsigned long)index, at, h->buf[at], want[at]);
	}
}

static bool same_filled(const unsigned char *p, size_t len)
{
	return memcmp(p, p + 8, len - 8) == 0;
}

static bool all_zero(const unsigned char *p, size_t len)
{
	return p[0] == 0 && same_filled(p, len) && memcmp(p, p + 1, 7) == 0;
}

/* Slot kinds against the shadow, counters against the slots, the store's
 * own checker, and the memory limit. */
static void check_store(struct harness *h, const char *when)
{
	struct zsram_mm_stat mm;
	uint64_t same = 0, huge = 0;
	char why[256];

	for (uint64_t i = 0; i < h->nr_pages; i++) {
		struct zsram_slot_info si;
		const unsigned char *p = h->disk + i * h->page_size;

		FZ_CHECK(zsram_slot_info(h->store, i, &si) == 0, "step %lu: slot_info(%lu)",
			 h->step, (unsigned long)i);
		if (si.kind == ZSRAM_SLOT_EMPTY)
			FZ_CHECK(all_zero(p, h->page_size),
				 "step %lu (%s): page %lu is empty "
				 "but the shadow holds data",
				 h->step, when, (unsigned long)i);
		if (si.kind == ZSRAM_SLOT_SAME)
			FZ_CHECK(same_filled(p, h->page_size),
				 "step %lu (%s): page %lu is "
				 "same-filled but the shadow is not",
				 h->step, when, (unsigned long)i);
		same += si.kind == ZSRAM_SLOT_SAME;
		huge += si.kind == ZSRAM_SLOT_HUGE;
	}
	zsram_get_mm_stat(h->store, &mm);
	FZ_CHECK(mm.same_pages == same && mm.huge_pages == huge,
		 "step %lu (%s): mm_stat says %lu same and %lu huge pages, the slots %lu "
		 "and %lu",
		 h->step, when, (unsigned long)mm.same_pages, (unsigned long)mm.huge_pages,
		 (unsigned long)same, (unsigned long)huge);
	if (h->mem_limit)
		FZ_CHECK(mm.mem_used_total <= h->mem_limit && mm.mem_used_max <= h->mem_limit,
			 "step %lu (%s): %lu bytes used (max %lu), past the limit %lu", h->step,
			 when, (unsigned long)mm.mem_used_total, (unsigned long)mm.mem_used_max,
			 (unsigned long)h->mem_limit);
	FZ_CHECK(zsram_check(h->store, why, sizeof(why)) == 0, "step %lu (%s): %s", h->step, when,
		 why);
}

/* ---- Page interface ---- */

static uint64_t pick_index(struct harness *h)
{
	/* Now and then one outside the disk. */
	return fz_below(&h->in, h->nr_pages + 2);
}

static void op_write_page(struct harness *h)
{
	uint64_t index = pick_index(h);
	uint8_t kind = fz_u8(&h->in);
	bool armed = zs_test_meta_countdown() != 0;
	int rc;

	if (kind >= 0xc0 && index < h->nr_pages) {
		/* A few bytes changed in what is there. */
		memcpy(h->buf, h->disk + index * h->page_size, h->page_size);
		for (unsigned int k = 0, n = 1 + fz_u8(&h->in) % 8; k < n; k++)
			h->buf[fz_below(&h->in, h->page_size)] = fz_u8(&h->in);
	} else {
		fz_fill(h->buf, h->page_size, kind, fz_u32(&h->in));
		/* Compressible to a chosen degree: a random tail of n bytes. */
		if (kind & 0x20) {
			size_t n = fz_below(&h->in, h->page_size);

			fz_fill(h->buf + h->page_size - n, n, 0, kind);
		}
	}
	rc = zsram_write_page(h->store, index, h->buf);
	if (index >= h->nr_pages) {
		FZ_CHECK(rc == -EINVAL,
			 "step %lu: zsram_write_page(%lu) outside a disk of %lu "
			 "pages = %d",
			 h->step, (unsigned long)index, (unsigned long)h->nr_pages, rc);
		return;
	}
	if (rc == 0)
		memcpy(h->disk + index * h->page_size, h->buf, h->page_size);
	else
		check_error(h, rc, armed, "zsram_write_page");
	verify_page(h, index, "after a page write");
}

static void op_read_page(struct harness *h)
{
	uint64_t index = pick_index(h);

	if (index >= h->nr_pages) {
		int rc = zsram_read_page(h->store, index, h->buf);

		FZ_CHECK(rc == -EINVAL, "step %lu: zsram_read_page(%lu) outside = %d", h->step,
			 (unsigned long)index, rc);
		return;
	}
	verify_page(h, index, "read");
}

static void op_discard(struct harness *h)
{
	uint64_t index = pick_index(h), count = fz_below(&h->in, h->nr_pages + 2);
	int rc = zsram_discard(h->store, index, count);

	if (index > h->nr_pages || count > h->nr_pages - index ||
	    (index == h->nr_pages && count > 0)) {
		FZ_CHECK(rc == -EINVAL, "step %lu: zsram_discard(%lu, %lu) on %lu pages = %d",
			 h->step, (unsigned long)index, (unsigned long)count,
			 (unsigned long)h->nr_pages, rc);
		return;
	}
	if (count == 0) {
		FZ_CHECK(rc == 0 || rc == -EINVAL, "step %lu: zsram_discard(%lu, 0) = %d", h->step,
			 (unsigned long)index, rc);
		return;
	}
	FZ_CHECK(rc == 0, "step %lu: zsram_discard(%lu, %lu) = %d", h->step, (unsigned long)index,
		 (unsigned long)count, rc);
	memset(h->disk + index * h->page_size, 0, count * h->page_size);
	for (uint64_t i = index; i < index + count; i++)
		verify_page(h, i, "after a discard");
}

/* ---- Block-device view ---- */

/* A byte range: mostly sector-aligned and inside the disk, sometimes
 * unaligned (served too), sometimes outside the disk (refused). */
static void pick_range(struct harness *h, uint64_t *offset, uint64_t *len)
{
	uint64_t sectors = h->disk_size / ZSRAM_SECTOR_SIZE;
	uint64_t max = (uint64_t)MAX_REQ_PAGES * h->page_size / ZSRAM_SECTOR_SIZE;
	uint8_t shape = fz_u8(&h->in);

	*offset = fz_below(&h->in, sectors + 1) * ZSRAM_SECTOR_SIZE;
	*len = fz_below(&h->in, max + 1) * ZSRAM_SECTOR_SIZE;
	if (shape % 16 == 0)
		*offset += 1 + fz_below(&h->in, ZSRAM_SECTOR_SIZE - 1);
	else if (shape % 16 == 1)
		*len += 1 + fz_below(&h->in, ZSRAM_SECTOR_SIZE - 1);
	else if (shape % 16 == 2)
		*len = UINT64_MAX - *offset / 2; /* overflows offset + len */
	else if (*offset + *len > h->disk_size && shape % 16 != 3)
		*len = h->disk_size - *offset; /* clipped: valid */
}

static bool range_valid(const struct harness *h, uint64_t offset, uint64_t len)
{
	return offset <= h->disk_size && len <= h->disk_size - offset;
}

/* After a failed multi-page request: each page of [offset, offset+len) is
 * either as before (h->old) or as the request would have left it (wanted,
 * in the shadow); the shadow takes what the store holds. */
static void settle_pages(struct harness *h, uint64_t offset, uint64_t len)
{
	uint64_t first = offset / h->page_size, last = (offset + len - 1) / h->page_size;

	for (uint64_t i = first; i <= last; i++) {
		unsigned char *want = h->disk + i * h->page_size;
		const unsigned char *before = h->old + (i - first) * h->page_size;

		FZ_CHECK(zsram_read_page(h->store, i, h->buf) == 0, "step %lu: read %lu", h->step,
			 (unsigned long)i);
		if (memcmp(h->buf, want, h->page_size) == 0)
			continue;
		FZ_CHECK(memcmp(h->buf, before, h->page_size) == 0,
			 "step %lu: after a failed request, page %lu is neither as before nor "
			 "as written",
			 h->step, (unsigned long)i);
		memcpy(want, before, h->page_size);
	}
}

static void op_bdev_write(struct harness *h, bool discard)
{
	uint64_t offset, len, first;
	bool armed;
	int rc;

	pick_range(h, &offset, &len);
	if (!range_valid(h, offset, len)) {
		/* h->buf has room for any length pick_range makes that does not
		 * overflow; the overflowing ones must be refused unread. */
		rc = discard ? zsram_bdev_discard(h->store, offset, len)
			     : zsram_bdev_write(h->store, offset, h->buf, len);
		FZ_CHECK(rc == -EINVAL, "step %lu: bdev %s(%lu, %lu) on %lu bytes = %d", h->step,
			 discard ? "discard" : "write", (unsigned long)offset, (unsigned long)len,
			 (unsigned long)h->disk_size, rc);
		return;
	}
	if (len == 0) {
		rc = discard ? zsram_bdev_discard(h->store, offset, 0)
			     : zsram_bdev_write(h->store, offset, h->buf, 0);
		FZ_CHECK(rc == 0, "step %lu: empty bdev request = %d", h->step, rc);
		return;
	}
	first = offset / h->page_size;
	{
		uint64_t last = (offset + len - 1) / h->page_size;

		memcpy(h->old, h->disk + first * h->page_size, (last - first + 1) * h->page_size);
	}
	if (discard) {
		memset(h->disk + offset, 0, len);
		armed = zs_test_meta_countdown() != 0;
		rc = zsram_bdev_discard(h->store, offset, len);
	} else {
		unsigned char *data = malloc(len);

		FZ_CHECK(data != NULL, "out of memory in the harness");
		fz_fill(data, len, fz_u8(&h->in), fz_u32(&h->in));
		memcpy(h->disk + offset, data, len);
		armed = zs_test_meta_countdown() != 0;
		rc = zsram_bdev_write(h->store, offset, data, len);
		free(data);
	}
	if (rc != 0)
		check_error(h, rc, armed, discard ? "zsram_bdev_discard" : "zsram_bdev_write");
	settle_pages(h, offset, len);
	if (rc == 0) {
		/* Success: every page as written (settle_pages accepted either). */
		uint64_t last = (offset + len - 1) / h->page_size;

		for (uint64_t i = first; i <= last; i++)
			verify_page(h, i, "after a block write");
	}
}

static void op_bdev_read(struct harness *h)
{
	uint64_t offset, len;
	unsigned char *data;
	int rc;

	pick_range(h, &offset, &len);
	if (!range_valid(h, offset, len)) {
		rc = zsram_bdev_read(h->store, offset, h->buf, len);
		FZ_CHECK(rc == -EINVAL, "step %lu: bdev read(%lu, %lu) on %lu bytes = %d", h->step,
			 (unsigned long)offset, (unsigned long)len, (unsigned long)h->disk_size, rc);
		return;
	}
	data = malloc(len ? len : 1);
	FZ_CHECK(data != NULL, "out of memory in the harness");
	rc = zsram_bdev_read(h->store, offset, data, len);
	FZ_CHECK(rc == 0, "step %lu: zsram_bdev_read(%lu, %lu) = %d", h->step,
		 (unsigned long)offset, (unsigned long)len, rc);
	FZ_CHECK(memcmp(data, h->disk + offset, len) == 0,
		 "step %lu: zsram_bdev_read(%lu, %lu) differs from the shadow", h->step,
		 (unsigned long)offset, (unsigned long)len);
	free(data);
}

/* ---- Maintenance ---- */

static void verify_all(struct harness *h, const char *when)
{
	for (uint64_t i = 0; i < h->nr_pages; i++)
		verify_page(h, i, when);
}

static void op_maintain(struct harness *h, uint8_t op)
{
	unsigned int select = fz_u8(&h->in) & 7;
	bool armed;
	long rc;

	switch (op % 4) {
	case 0: zsram_mark_idle(h->store); break;
	case 1:
		armed = zs_test_meta_countdown() != 0;
		rc = zsram_recompress(h->store, select, fz_below(&h->in, h->page_size + 1));
		/* It stops at a page that cannot be had: -ENOSPC under a
		 * memory limit, -ENOMEM after an injected failure. */
		if (h->recomp && rc < 0 && rc != -EINVAL)
			check_error(h, (int)rc, armed, "zsram_recompress");
		else
			FZ_CHECK(h->recomp ? rc >= 0 : rc == -EINVAL,
				 "step %lu: zsram_recompress = %ld (%s)", h->step, rc,
				 h->recomp ? "has a secondary algorithm" : "has none");
		break;
	case 2:
		rc = zsram_writeback(h->store, select, fz_u8(&h->in) % 16);
		FZ_CHECK(h->backing ? (rc >= 0 || rc == -ENOSPC) : rc == -EINVAL,
			 "step %lu: zsram_writeback = %ld (%s)", h->step, rc,
			 h->backing ? "has a backing file" : "has none");
		break;
	default: zsram_compact(h->store); break;
	}
	verify_all(h, "after maintenance");
}

static void op_stats(struct harness *h)
{
	struct zsram_io_stat io;
	struct zsram_bd_stat bd;
	struct zsram_recomp_stat rs;
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	FZ_CHECK(out != NULL, "out of memory in the harness");
	zsram_get_io_stat(h->store, &io);
	zsram_get_bd_stat(h->store, &bd);
	zsram_get_recomp_stat(h->store, &rs);
	FZ_CHECK(zsram_print_mm_stat(h->store, out) == 0 && zsram_print_io_stat(h->store, out) == 0 &&
			 zsram_print_bd_stat(h->store, out) == 0 &&
			 zsram_print_class_stats(h->store, out) == 0,
		 "step %lu: printing statistics failed", h->step);
	fclose(out);
	free(text);
	FZ_CHECK(h->backing || bd.bd_count == 0,
		 "step %lu: pages in a backing file that "
		 "does not exist",
		 h->step);
}

static void run_op(struct harness *h)
{
	uint8_t op = fz_u8(&h->in);

	fz_maybe_fail_meta(&h->rng, h->meta_rate, 4);
	switch (op % 12) {
	case 0:
	case 1:
	case 2: op_write_page(h); break;
	case 3: op_read_page(h); break;
	case 4: op_discard(h); break;
	case 5: op_bdev_write(h, false); break;
	case 6: op_bdev_read(h); break;
	case 7: op_bdev_write(h, true); break;
	case 8:
	case 9: op_maintain(h, op >> 4); break;
	case 10: op_stats(h); break;
	default: verify_all(h, "verify"); break;
	}
	check_store(h, "after a step");
}

/* ---- Store creation from the input's first bytes ---- */

/* Levels that must be accepted for each algorithm, and some that may not. */
static int pick_level(struct fz_input *in, enum zsram_algorithm alg, uint8_t cls, bool *surely_valid)
{
	int8_t raw = (int8_t)fz_u8(in);

	*surely_valid = true;
	switch (cls % 4) {
	case 0: return 0; /* default */
	case 1:
		switch (alg) {
		case ZSRAM_ALG_LZ4: return 1 + (uint8_t)raw % 16;
		case ZSRAM_ALG_LZ4HC: return 1 + (uint8_t)raw % 12;
		default: return -7 + (uint8_t)raw % 20; /* -7 .. 12: quick ones */
		}
	case 2: return alg == ZSRAM_ALG_ZSTD ? 1 : 2;
	default: *surely_valid = false; return raw * 1000; /* mostly out of range */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const allocators[] = { NULL,	  "zsmalloc", "zsmalloc", "zsmalloc",
						  "zbud", "z3fold",   "zsmalloc", "nonesuch" };
	static char backing_path[64];
	struct harness hs, *h = &hs;
	struct zsram_config cfg;
	unsigned char dict[128];
	uint8_t b0, b1, b2, b3;
	bool valid = true, surely, supported = false;
	const char *names[8];
	size_t nr_alloc;
	int err;

	memset(h, 0, sizeof(*h));
	fz_input_init(&h->in, data, size);
	zs_test_fail_meta_alloc(0, false);
	if (!backing_path[0])
		snprintf(backing_path, sizeof(backing_path), "/tmp/fuzz_zsram.%d.bin", (int)getpid());

	b0 = fz_u8(&h->in);
	b1 = fz_u8(&h->in);
	b2 = fz_u8(&h->in);
	b3 = fz_u8(&h->in);
	zsram_config_init(&cfg);
	cfg.nr_pages = b0 == 0xff ? 0 : 1 + b0 % 48;
	cfg.page_size = (size_t)4096 << (b1 % 3);
	if (b1 % 16 == 15)
		cfg.page_size = 65536;
	if (b1 % 32 == 31)
		cfg.page_size = 4096 + 512;
	valid = cfg.nr_pages > 0 && (cfg.page_size & (cfg.page_size - 1)) == 0;
	cfg.codec.algorithm = (enum zsram_algorithm)(b2 % 3);
	cfg.codec.level = pick_level(&h->in, cfg.codec.algorithm, b2 >> 2, &surely);
	valid &= surely;
	if (b3 & 1) {
		uint8_t r = fz_u8(&h->in);

		cfg.nr_recomp = 1;
		cfg.recomp[0].algorithm = (enum zsram_algorithm)(r % 3);
		cfg.recomp[0].level = pick_level(&h->in, cfg.recomp[0].algorithm, r >> 2, &surely);
		valid &= surely;
		h->recomp = true;
	}
	if (b3 & 2) {
		cfg.mem_limit = (uint64_t)(1 + fz_u8(&h->in) % 32) * cfg.page_size;
		h->mem_limit = cfg.mem_limit;
	}
	if (b3 & 4) {
		cfg.backing_file = backing_path;
		cfg.backing_pages = fz_u8(&h->in) % 8;
		h->backing = true;
	}
	if ((b3 & 8) && cfg.codec.algorithm == ZSRAM_ALG_ZSTD) {
		size_t n = 8 + fz_below(&h->in, sizeof(dict) - 8);

		for (size_t i = 0; i < n; i++)
			dict[i] = fz_u8(&h->in);
		cfg.codec.dict = dict;
		cfg.codec.dict_size = n;
		valid = false; /* raw bytes may or may not make a dictionary */
	}
	cfg.allocator = allocators[(b3 >> 4) & 7];
	nr_alloc = zsram_allocators(names, 8);
	for (size_t i = 0; i < nr_alloc && i < 8; i++)
		supported |= cfg.allocator == NULL || strcmp(names[i], cfg.allocator) == 0;
	valid &= supported;
	cfg.compact_threshold = (double)((int8_t)fz_u8(&h->in)) / 100.0;
	if (b3 & 0x80)
		h->meta_rate = 2 + fz_u8(&h->in) % 32;
	h->rng = fz_u64(&h->in);

	errno = 0;
	h->store = zsram_create(&cfg);
	err = errno;
	if (h->backing)
		unlink(backing_path); /* the store keeps it open */
	if (!h->store) {
		FZ_CHECK(!valid && err == EINVAL,
			 "zsram_create(nr_pages %lu, page_size %zu, %s level %d, recomp %u, "
			 "allocator %s) failed: %s",
			 (unsigned long)cfg.nr_pages, cfg.page_size,
			 zsram_algorithm_name(cfg.codec.algorithm), cfg.codec.level, cfg.nr_recomp,
			 cfg.allocator ? cfg.allocator : "default", strerror(err));
		return 0;
	}
	FZ_CHECK(supported && cfg.nr_pages > 0,
		 "zsram_create accepted a bad configuration "
		 "(nr_pages %lu, allocator %s)",
		 (unsigned long)cfg.nr_pages, cfg.allocator ? cfg.allocator : "default");
	h->nr_pages = zsram_nr_pages(h->store);
	h->page_size = zsram_page_size(h->store);
	FZ_CHECK(h->nr_pages == cfg.nr_pages && h->page_size == cfg.page_size,
		 "store of %lu pages of %zu bytes, asked %lu of %zu", (unsigned long)h->nr_pages,
		 h->page_size, (unsigned long)cfg.nr_pages, cfg.page_size);
	h->disk_size = zsram_bdev_size(h->store);
	FZ_CHECK(h->disk_size == h->nr_pages * h->page_size, "bdev size %lu",
		 (unsigned long)h->disk_size);
	h->disk = calloc(h->nr_pages, h->page_size);
	h->old = malloc(((size_t)MAX_REQ_PAGES + 1) * h->page_size);
	h->buf = malloc(((size_t)MAX_REQ_PAGES + 1) * h->page_size);
	FZ_CHECK(h->disk && h->old && h->buf, "out of memory in the harness");

	while (!fz_done(&h->in)) {
		h->step++;
		run_op(h);
	}
	zs_test_fail_meta_alloc(0, false);
	verify_all(h, "at the end");
	check_store(h, "at the end");
	zsram_destroy(h->store);
	free(h->disk);
	free(h->old);
	free(h->buf);
	return 0;
}
