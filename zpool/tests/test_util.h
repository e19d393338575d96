/*
 * test_util.h - what zpool's test programs share: failure macros, the test
 * scale from ZS_TEST_CONFIG, a seeded PRNG, byte patterns that depend on the
 * handle and a generation, a counting page source with fault injection, and
 * a death-test helper that runs a function in a child and checks it aborts
 * with a message.  Header-only; every function is static.
 */
#ifndef ZPOOL_TEST_UTIL_H
#define ZPOOL_TEST_UTIL_H

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zpool.h>

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, \
				__LINE__, #cond);                              \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
			exit(1);                                               \
		}                                                              \
	} while (0)

/* 1 in release, more in sanitizer builds: divide work by this.  From
 * ZS_TEST_CONFIG, else the configuration the test was built in. */
static inline unsigned int test_scale_divisor(void)
{
	const char *config = getenv("ZS_TEST_CONFIG");

#ifdef ZPOOL_TEST_BUILD_CONFIG
	if (!config || !*config)
		config = ZPOOL_TEST_BUILD_CONFIG;
#endif

	if (config && strcmp(config, "tsan") == 0)
		return 10;
	if (config && strcmp(config, "asan") == 0)
		return 3;
	return 1;
}

/* xorshift64*: reproducible, per-thread state. */
static inline uint64_t test_rand(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dull;
}

/* Bytes of object (key, generation): every byte depends on both. */
static inline void test_fill(unsigned char *buf, size_t len, uint64_t key)
{
	uint64_t s = key * 0x9e3779b97f4a7c15ull + 1;
	size_t i;

	for (i = 0; i < len; i++) {
		if ((i & 7) == 0)
			test_rand(&s);
		buf[i] = (unsigned char)(s >> ((i & 7) * 8));
	}
}

/* Index of the first byte that differs from the pattern, or len. */
static inline size_t test_verify(const unsigned char *buf, size_t len, uint64_t key)
{
	unsigned char expect[8];
	uint64_t s = key * 0x9e3779b97f4a7c15ull + 1;
	size_t i, j;

	for (i = 0; i < len; i += 8) {
		test_rand(&s);
		for (j = 0; j < 8; j++)
			expect[j] = (unsigned char)(s >> (j * 8));
		for (j = 0; j < 8 && i + j < len; j++)
			if (buf[i + j] != expect[j])
				return i + j;
	}
	return len;
}

/*
 * Counting page source: pages from aligned_alloc; fails the fail_at-th
 * allocation (1-based, 0: never) and, with fail_after set, every one after.
 */
struct test_source {
	pthread_mutex_t lock;
	size_t page_size;
	unsigned long live;		/* pages handed out and not returned */
	unsigned long allocs;		/* successful and failed calls */
	unsigned long fail_at;
	int fail_after;
	unsigned long failures;
};

static inline void *test_source_alloc(void *ctx)
{
	struct test_source *src = ctx;
	void *page = NULL;
	int fail;

	pthread_mutex_lock(&src->lock);
	src->allocs++;
	fail = src->fail_at &&
	       (src->allocs == src->fail_at || (src->fail_after && src->allocs > src->fail_at));
	if (fail) {
		src->failures++;
	} else {
		page = aligned_alloc(src->page_size, src->page_size);
		if (page)
			src->live++;
	}
	pthread_mutex_unlock(&src->lock);
	return page;
}

static inline void test_source_free(void *ctx, void *page)
{
	struct test_source *src = ctx;

	pthread_mutex_lock(&src->lock);
	if (src->live == 0) {
		fprintf(stderr, "test source: page %p given back but none is out\n", page);
		abort();
	}
	src->live--;
	pthread_mutex_unlock(&src->lock);
	/* Poison the ends (the headers live there): use after free shows. */
	memset(page, 0x6b, 256);
	memset((char *)page + src->page_size - 256, 0x6b, 256);
	free(page);
}

static const struct zs_page_ops test_source_ops = {
	.alloc_page = test_source_alloc,
	.free_page = test_source_free,
};

static inline void test_source_init(struct test_source *src, size_t page_size)
{
	memset(src, 0, sizeof(*src));
	pthread_mutex_init(&src->lock, NULL);
	src->page_size = page_size;
}

static inline unsigned long test_source_live(struct test_source *src)
{
	unsigned long live;

	pthread_mutex_lock(&src->lock);
	live = src->live;
	pthread_mutex_unlock(&src->lock);
	return live;
}

/*
 * Runs fn(arg) in a child process and checks that it dies of SIGABRT with
 * `needle` in what it wrote to stderr.  Returns 0 when so, else -1 with a
 * description on stderr.
 */
static inline int test_expect_abort(void (*fn)(void *), void *arg, const char *needle)
{
	int pipefd[2], status;
	char out[4096];
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	fflush(NULL);
	if (pipe(pipefd))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(pipefd[1], 2);
		close(pipefd[0]);
		close(pipefd[1]);
		fn(arg);
		_exit(0);	/* did not abort */
	}
	close(pipefd[1]);
	while (got < sizeof(out) - 1 &&
	       (n = read(pipefd[0], out + got, sizeof(out) - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = 0;
	close(pipefd[0]);
	waitpid(pid, &status, 0);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT) {
		fprintf(stderr, "death test: child did not abort (status %#x), said: %s\n",
			status, out);
		return -1;
	}
	if (!strstr(out, needle)) {
		fprintf(stderr, "death test: child's message lacks \"%s\": %s\n", needle, out);
		return -1;
	}
	return 0;
}

#endif /* ZPOOL_TEST_UTIL_H */
