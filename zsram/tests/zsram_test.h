/*
 * zsram_test.h - helpers shared by zsram's tests: checks that report where
 * they failed, the work scale for the build (ZS_TEST_CONFIG), and page
 * generators for every kind of slot.
 */
#ifndef ZSRAM_TEST_H
#define ZSRAM_TEST_H

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zsram.h>

#define CHECK(cond)								\
	do {									\
		if (!(cond)) {							\
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,	\
				__LINE__, #cond);				\
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

#define CHECK_STORE(z)								\
	do {									\
		char why_[256];							\
		if (zsram_check((z), why_, sizeof(why_))) {			\
			fprintf(stderr, "%s:%d: zsram_check: %s\n", __FILE__,	\
				__LINE__, why_);				\
			exit(1);						\
		}								\
	} while (0)

/* Work divisor: 1 in release, 3 under ASan, 10 under TSan. */
static inline unsigned int test_scale_div(void)
{
	const char *c = getenv("ZS_TEST_CONFIG");

	if (c && strcmp(c, "tsan") == 0)
		return 10;
	if (c && strcmp(c, "asan") == 0)
		return 3;
	return 1;
}

static inline uint64_t test_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x ? x : 0x9e3779b97f4a7c15ull;
}

enum page_kind {
	PAGE_TEXT,	/* compresses well */
	PAGE_MIXED,	/* compresses to about half */
	PAGE_RANDOM,	/* does not compress: huge */
	PAGE_SAME,	/* one repeated word */
	PAGE_ZERO,	/* zeros (same-filled too) */
	PAGE_KINDS
};

/* Fills page (ps bytes) with content of the kind, determined by seed. */
static inline void make_page(void *page, size_t ps, enum page_kind kind, uint64_t seed)
{
	static const char *const words[] = { "alpha ", "beta ", "gamma ", "delta ",
		"epsilon ", "zeta ", "eta ", "theta ", "iota ", "kappa ", "lambda ",
		"{\"key\": ", "value, ", "0x7f00ff12 ", "NULL ", "\n" };
	unsigned char *p = page;
	uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;

	switch (kind) {
	case PAGE_TEXT:
		for (size_t off = 0; off < ps;) {
			const char *w = words[test_rand(&s) % 16];
			size_t n = strlen(w);

			if (n > ps - off)
				n = ps - off;
			memcpy(p + off, w, n);
			off += n;
		}
		/* Mark the page so two seeds never give the same page. */
		memcpy(p, &seed, sizeof(seed));
		break;
	case PAGE_MIXED:
		for (size_t off = 0; off < ps; off += 8) {
			uint64_t w = test_rand(&s);

			if ((off / 8) % 2)
				w &= 0xff;
			memcpy(p + off, &w, 8);
		}
		break;
	case PAGE_RANDOM:
		for (size_t off = 0; off < ps; off += 8) {
			uint64_t w = test_rand(&s);

			memcpy(p + off, &w, 8);
		}
		break;
	case PAGE_SAME: {
		uint64_t w = seed * 0x0101010101010101ull + 0x1234;

		for (size_t off = 0; off < ps; off += 8)
			memcpy(p + off, &w, 8);
		break;
	}
	default:
		memset(p, 0, ps);
		break;
	}
}

#endif /* ZSRAM_TEST_H */
