/*
 * fuzz_zsswap.c - libFuzzer harness for zsswap regions: the input bytes are
 * a region configuration followed by a program of accesses, system calls,
 * discards, reclaims and budget changes, checked against a shadow copy of
 * the whole region.
 *
 * Input layout (see fuzz/README.md):
 *   byte 0     pages: 1 + b % 64
 *   byte 1     budget in pages: b % (pages + 1) (0: none)
 *   byte 2     algorithm (b % 3: lz4, lz4hc, zstd) and level (b >> 2: 0 the
 *              default, else a level the algorithm takes)
 *   byte 3     bit 0: max_pool of a few pages; bit 1: writeback file;
 *              bit 7: libzsmalloc's metadata allocations fail at random
 *   then       operations until the input ends
 *
 * The rules checked: every byte of the region reads as the shadow says, from
 * the program and through system calls; a discard of a bad range answers
 * -EINVAL and changes nothing, a good one makes its pages read as zeros; a
 * budget below a page answers -EINVAL; with neither a pool limit nor fault
 * injection, resident_pages stays within the budget plus
 * ZSSWAP_RESIDENT_SLACK; the statistics stay consistent.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "zsswap.h"

#define PAGE 4096u

struct harness {
	struct fz_input in;
	struct zsswap *z;
	unsigned char *r, *shadow;
	size_t pages, budget;
	bool strict_budget; /* no pool limit, no injected failures */
	int fd;		    /* a memfd for system calls */
};

static void check_page(struct harness *h, size_t i)
{
	FZ_CHECK(memcmp(h->r + i * PAGE, h->shadow + i * PAGE, PAGE) == 0,
		 "page %zu differs from the shadow", i);
}

static void check_stats(struct harness *h)
{
	struct zsswap_stats s;

	zsswap_get_stats(h->z, &s);
	FZ_CHECK(s.same_filled_pages + s.incompressible_pages <= s.stored_pages,
		 "same %llu + incompressible %llu > stored %llu",
		 (unsigned long long)s.same_filled_pages,
		 (unsigned long long)s.incompressible_pages, (unsigned long long)s.stored_pages);
	FZ_CHECK(s.resident_pages + s.stored_pages + s.written_back_pages <= h->pages,
		 "more pages accounted than the region has");
	if (h->strict_budget && h->budget)
		FZ_CHECK(s.resident_pages <= h->budget + ZSSWAP_RESIDENT_SLACK,
			 "resident %llu over the budget %zu", (unsigned long long)s.resident_pages,
			 h->budget);
}

static void op_write(struct harness *h)
{
	size_t i = fz_below(&h->in, h->pages), off = fz_below(&h->in, PAGE);
	size_t len = 1 + fz_below(&h->in, PAGE - off);
	unsigned char buf[PAGE];

	fz_fill(buf, len, fz_u8(&h->in), fz_u32(&h->in));
	memcpy(h->r + i * PAGE + off, buf, len);
	memcpy(h->shadow + i * PAGE + off, buf, len);
}

static void op_syscall(struct harness *h)
{
	size_t i = fz_below(&h->in, h->pages);
	unsigned char buf[PAGE];

	if (fz_u8(&h->in) & 1) { /* out of the region through the kernel */
		FZ_CHECK(pwrite(h->fd, h->r + i * PAGE, PAGE, 0) == PAGE, "pwrite: %d", errno);
		FZ_CHECK(pread(h->fd, buf, PAGE, 0) == PAGE, "pread: %d", errno);
		FZ_CHECK(memcmp(buf, h->shadow + i * PAGE, PAGE) == 0,
			 "page %zu differs through write(2)", i);
	} else { /* into the region through the kernel */
		fz_fill(buf, PAGE, fz_u8(&h->in), fz_u32(&h->in));
		FZ_CHECK(pwrite(h->fd, buf, PAGE, 0) == PAGE, "pwrite: %d", errno);
		FZ_CHECK(pread(h->fd, h->r + i * PAGE, PAGE, 0) == PAGE, "pread: %d", errno);
		memcpy(h->shadow + i * PAGE, buf, PAGE);
	}
}

static void op_discard(struct harness *h)
{
	size_t start = fz_below(&h->in, h->pages + 1), n = fz_below(&h->in, 4);
	unsigned int bad = fz_u8(&h->in) % 4; /* 0: a good range */
	char *at = (char *)h->r + start * PAGE + (bad == 1);
	size_t len = n * PAGE + (bad == 2);
	struct zsswap_stats before, after;

	if (bad == 3)
		at = (char *)h->r - PAGE;
	zsswap_get_stats(h->z, &before);
	int rc = zsswap_discard(h->z, at, len);

	if (bad || start + n > h->pages) {
		FZ_CHECK(rc == -EINVAL, "bad discard answered %d", rc);
		zsswap_get_stats(h->z, &after);
		/* The handler may evict meanwhile, which moves pages from
		 * resident to stored: their sum is what a discard changes. */
		FZ_CHECK(before.stored_pages + before.resident_pages + before.written_back_pages ==
				 after.stored_pages + after.resident_pages + after.written_back_pages,
			 "a refused discard changed the region");
		return;
	}
	FZ_CHECK(rc == 0, "discard answered %d", rc);
	memset(h->shadow + start * PAGE, 0, n * PAGE);
}

static void op_budget(struct harness *h)
{
	size_t pages = fz_below(&h->in, h->pages + 1);
	bool bad = fz_u8(&h->in) % 8 == 0;
	int rc = zsswap_set_max_resident(h->z, bad ? PAGE - 1 : pages * PAGE);

	if (bad) {
		FZ_CHECK(rc == -EINVAL, "a budget below a page answered %d", rc);
		return;
	}
	FZ_CHECK(rc == 0, "set_max_resident answered %d", rc);
	h->budget = pages;
}

static const char *algorithm(uint8_t b, char *buf, size_t len)
{
	static const char *const names[] = { "lz4", "lz4hc", "zstd" };
	static const int levels[][4] = { { 1, 2, 8, 100 }, { 1, 4, 9, 12 }, { -5, 1, 3, 19 } };
	unsigned int a = b % 3, l = (b >> 2) % 5;

	if (l == 0)
		return names[a];
	snprintf(buf, len, "%s:%d", names[a], levels[a][l - 1]);
	return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct harness h = { .fd = -1 };
	struct zsswap_config c;
	char alg[32], wb[] = "/tmp/fuzz-zsswap-XXXXXX";
	uint8_t flags;
	uint64_t rng = size;

	fz_input_init(&h.in, data, size);
	h.pages = 1 + fz_u8(&h.in) % 64;
	h.budget = fz_u8(&h.in) % (h.pages + 1);
	zsswap_config_init(&c);
	c.size = h.pages * PAGE;
	c.max_resident = h.budget * PAGE;
	c.algorithm = algorithm(fz_u8(&h.in), alg, sizeof(alg));
	flags = fz_u8(&h.in);
	if (flags & 1)
		c.max_pool = (1 + fz_below(&h.in, 8)) * PAGE;
	if (flags & 2) {
		int fd = mkstemp(wb);

		FZ_CHECK(fd >= 0, "mkstemp: %d", errno);
		close(fd);
		c.writeback = wb;
	}
	h.strict_budget = !(flags & 1) && !(flags & 0x80);
	h.z = zsswap_create(&c);
	if (!h.z) {
		/* Without userfaultfd nothing can be fuzzed here. */
		FZ_CHECK(errno == EPERM || errno == ENOSYS, "create: %s", zsswap_last_error());
		goto out;
	}
	h.r = zsswap_base(h.z);
	h.shadow = calloc(h.pages, PAGE);
	h.fd = memfd_create("fuzz-zsswap", MFD_CLOEXEC);
	FZ_CHECK(h.shadow && h.fd >= 0, "out of memory");
	while (!fz_done(&h.in)) {
		if (flags & 0x80)
			fz_maybe_fail_meta(&rng, 8, 4);
		switch (fz_u8(&h.in) % 8) {
		case 0:
		case 1: op_write(&h); break;
		case 2: check_page(&h, fz_below(&h.in, h.pages)); break;
		case 3: op_discard(&h); break;
		case 4: zsswap_reclaim(h.z, fz_below(&h.in, h.pages + 1) * PAGE); break;
		case 5: op_budget(&h); break;
		case 6: op_syscall(&h); break;
		default: check_stats(&h); break;
		}
	}
	zs_test_fail_meta_alloc(0, false);
	for (size_t i = 0; i < h.pages; i++)
		check_page(&h, i);
	check_stats(&h);
	zsswap_destroy(h.z);
out:
	zs_test_fail_meta_alloc(0, false);
	if (h.fd >= 0)
		close(h.fd);
	free(h.shadow);
	if (c.writeback)
		unlink(wb);
	return 0;
}
