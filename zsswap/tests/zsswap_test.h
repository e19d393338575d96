/*
 * zsswap_test.h - what zsswap's tests share: checks, a PRNG, real page
 * contents, and a shadow comparison of a whole region.
 */
#ifndef ZSSWAP_TEST_H
#define ZSSWAP_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zsswap.h>

#define CHECK(cond)								\
	do {									\
		if (!(cond)) {							\
			fprintf(stderr, "%s:%d: check failed: %s (%s)\n",	\
				__FILE__, __LINE__, #cond, zsswap_last_error()); \
			exit(1);						\
		}								\
	} while (0)

#define CHECK_EQ(a, b)								\
	do {									\
		long long a_ = (long long)(a), b_ = (long long)(b);		\
		if (a_ != b_) {							\
			fprintf(stderr, "%s:%d: check failed: %s == %s (%lld != %lld)\n", \
				__FILE__, __LINE__, #a, #b, a_, b_);		\
			exit(1);						\
		}								\
	} while (0)

#define PAGE 4096u

static inline uint64_t test_rand(uint64_t *s)
{
	uint64_t x = (*s += 0x9e3779b97f4a7c15ull);

	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* A zsswap region, or exit 77 (skipped) when userfaultfd is not permitted. */
static inline struct zsswap *test_create(size_t size, size_t max_resident,
					 const char *algorithm)
{
	struct zsswap_config c;
	struct zsswap *z;

	zsswap_config_init(&c);
	c.size = size;
	c.max_resident = max_resident;
	c.algorithm = algorithm;
	z = zsswap_create(&c);
	if (!z && (errno == EPERM || errno == ENOSYS)) {
		fprintf(stderr, "skipped: %s\n", zsswap_last_error());
		exit(77);
	}
	CHECK(z);
	return z;
}

/* The next page of real program bytes: this program's binary, then libc,
 * then bash, round again; false if none can be read. */
static inline int test_next_file_page(unsigned char *p)
{
	static const char *const files[] = { "/proc/self/exe",
		"/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/bin/bash" };
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
	for (size_t i = 0; i < pages; i++) {
		unsigned char *p = dst + i * PAGE;
		uint64_t r = test_rand(&seed);

		if (i % 8 < 5 && test_next_file_page(p))
			continue;
		if (r % 4 == 0) {
			memset(p, 0, PAGE);
		} else if (r % 4 == 1) {
			memset(p, (int)(r >> 8) | 1, PAGE);
		} else if (r % 4 == 2) {
			for (unsigned int k = 0; k < PAGE; k += 8) {
				uint64_t w = test_rand(&seed);

				memcpy(p + k, &w, 8);
			}
		} else {
			for (unsigned int k = 0; k < PAGE; k++)
				p[k] = (unsigned char)("the quick brown fox "[(k + r) % 20] +
						       (k % 97 == 0));
		}
	}
}

#endif /* ZSSWAP_TEST_H */
