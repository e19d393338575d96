/*
 * zsswap_test.h - what zsswap's tests add to the tree's harness (zs_test.h):
 * a region that skips the test when userfaultfd is not permitted, and page
 * contents like real memory.
 */
#ifndef ZSSWAP_TEST_H
#define ZSSWAP_TEST_H

#include <fcntl.h>

#include <zsswap.h>

#include "zs_test.h"

#define PAGE 4096u

/* A zsswap region, or exit 77 (skipped) when userfaultfd is not permitted. */
static inline struct zsswap *test_create_config(const struct zsswap_config *c)
{
	struct zsswap *z = zsswap_create(c);

	if (!z && (errno == EPERM || errno == ENOSYS)) {
		fprintf(stderr, "skipped: %s\n", zsswap_last_error());
		exit(77);
	}
	CHECK(z, "%s", zsswap_last_error());
	return z;
}

/* A region with a pool limit and a writeback target (NULL: none). */
static inline struct zsswap *test_create_pool(size_t size, size_t max_resident, size_t max_pool,
					      const char *writeback)
{
	struct zsswap_config c;

	zsswap_config_init(&c);
	c.size = size;
	c.max_resident = max_resident;
	c.max_pool = max_pool;
	c.writeback = writeback;
	return test_create_config(&c);
}

static inline struct zsswap *test_create(size_t size, size_t max_resident, const char *algorithm)
{
	struct zsswap_config c;

	zsswap_config_init(&c);
	c.size = size;
	c.max_resident = max_resident;
	c.algorithm = algorithm;
	return test_create_config(&c);
}

/* The next page of real program bytes: this program's binary, then libc,
 * then bash, round again; false if none can be read. */
static inline int test_next_file_page(unsigned char *p)
{
	static const char *const files[] = { "/proc/self/exe", "/usr/lib/x86_64-linux-gnu/libc.so.6",
					     "/usr/bin/bash" };
	static int fd = -1;
	static unsigned int which;

	for (unsigned int tries = 0; tries < 6; tries++) {
		if (fd < 0)
			fd = open(files[which++ % 3], O_RDONLY);
		if (fd >= 0 && read(fd, p, PAGE) == PAGE)
			return 1;
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	return 0;
}

/*
 * Fills `pages` pages of `dst` like real memory: five in eight are pages of
 * real binaries (code and data, compressible 2-3x), the rest zero,
 * same-filled, random (incompressible) or text-like pages.
 */
static inline void test_fill_real(unsigned char *dst, size_t pages, uint64_t seed)
{
	struct tu_rng rng = tu_rng_from(seed);

	for (size_t i = 0; i < pages; i++) {
		unsigned char *p = dst + i * PAGE;
		uint64_t r = tu_rand(&rng);

		if (i % 8 < 5 && test_next_file_page(p))
			continue;
		if (r % 4 == 0) {
			memset(p, 0, PAGE);
		} else if (r % 4 == 1) {
			memset(p, (int)(r >> 8) | 1, PAGE);
		} else if (r % 4 == 2) {
			tu_fill_random(&rng, p, PAGE);
		} else {
			for (unsigned int k = 0; k < PAGE; k++)
				p[k] = (unsigned char)("the quick brown fox "[(k + r) % 20] +
						       (k % 97 == 0));
		}
	}
}

#endif /* ZSSWAP_TEST_H */
