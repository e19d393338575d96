/*
 * check.c - a program of our own for zsswap-run's tests: heap work whose
 * output is the same with and without the wrapper, and that exits 1 on the
 * first byte that is not what it wrote.
 *
 *   check threads MB    4 threads fill MB of malloc'ed blocks with their own
 *                       pattern, verify, realloc and free half, verify again
 *   check syscalls MB   read(2) a pipe into heap buffers, write(2) them back
 *                       out, checked through a second pipe
 *   check fork MB       fill MB, fork: the child checks everything and
 *                       writes into it, the parent checks its own copy
 *   check zeros MB      mmap'ed and malloc'ed memory, munmap/madvise'd after
 *                       the budget has pushed it out, comes back as zeros
 * Each prints one line: the case and a checksum of what it verified.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define BLOCK 1500 /* bytes: a mix of object sizes around it */

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

/* Compressible but not trivial: words of a small alphabet, from a seed. */
static void fill(unsigned char *p, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)("abcdefgh     \n"[mix(seed + i / 7) % 14]);
}

static int verify(const unsigned char *p, size_t n, uint64_t seed, uint64_t *sum)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char want = (unsigned char)("abcdefgh     \n"[mix(seed + i / 7) % 14]);

		if (p[i] != want) {
			fprintf(stderr, "check: byte %zu of block %llu is %u, want %u\n", i,
				(unsigned long long)seed, p[i], want);
			return -1;
		}
		*sum += p[i] * (i + 1);
	}
	return 0;
}

struct worker {
	int id;
	size_t bytes;
	uint64_t sum;
	int failed;
};

static size_t block_len(uint64_t seed)
{
	return 64 + mix(seed) % (2 * BLOCK);
}

static void *work(void *arg)
{
	struct worker *w = arg;
	size_t n = w->bytes / BLOCK;
	unsigned char **b = calloc(n, sizeof(*b));

	if (!b)
		return (void *)1;
	for (size_t i = 0; i < n; i++) {
		uint64_t seed = (uint64_t)w->id << 40 | i;

		b[i] = malloc(block_len(seed));
		if (!b[i])
			abort();
		fill(b[i], block_len(seed), seed);
	}
	for (int pass = 0; pass < 2 && !w->failed; pass++) {
		for (size_t i = 0; i < n && !w->failed; i++) {
			uint64_t seed = (uint64_t)w->id << 40 | i | (uint64_t)pass << 32;

			if (!b[i])
				continue;
			if (verify(b[i], block_len(seed), seed, &w->sum))
				w->failed = 1;
			if (pass == 0 && i % 2) {
				free(b[i]);
				b[i] = NULL;
			} else if (pass == 0) {
				/* Grow it, keep the old bytes, rewrite under the next seed. */
				uint64_t next = seed | 1ull << 32;

				b[i] = realloc(b[i], block_len(next) + 4096);
				if (!b[i] || verify(b[i], block_len(seed), seed, &w->sum))
					w->failed = 1;
				else
					fill(b[i], block_len(next), next);
			}
		}
	}
	for (size_t i = 0; i < n; i++)
		free(b[i]);
	free(b);
	return NULL;
}

static int threads(size_t mb)
{
	struct worker w[4];
	pthread_t t[4];
	uint64_t sum = 0;

	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ .id = i, .bytes = mb << 18 };
		pthread_create(&t[i], NULL, work, &w[i]);
	}
	for (int i = 0; i < 4; i++) {
		void *r;

		pthread_join(t[i], &r);
		if (r || w[i].failed)
			return 1;
		sum += w[i].sum;
	}
	printf("threads %llu\n", (unsigned long long)sum);
	return 0;
}

/* A writer thread pushes `bytes` of pattern into fd. */
struct feed {
	int fd;
	size_t bytes;
};

static void *feeder(void *arg)
{
	struct feed *f = arg;
	unsigned char buf[65536];

	for (size_t off = 0; off < f->bytes; off += sizeof(buf)) {
		fill(buf, sizeof(buf), off / sizeof(buf));
		if (write(f->fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			abort();
	}
	close(f->fd);
	return NULL;
}

static int full_read(int fd, unsigned char *p, size_t n)
{
	for (size_t done = 0; done < n;) {
		ssize_t r = read(fd, p + done, n - done);

		if (r <= 0)
			return -1;
		done += (size_t)r;
	}
	return 0;
}

static int syscalls(size_t mb)
{
	size_t chunk = 65536, n = (mb << 20) / chunk;
	unsigned char **b = calloc(n, sizeof(*b)), *back = malloc(chunk);
	int in[2], out[2];
	struct feed f;
	pthread_t t;
	uint64_t sum = 0;

	if (!b || !back || pipe(in) || pipe(out))
		return 1;
	f = (struct feed){ in[1], n * chunk };
	pthread_create(&t, NULL, feeder, &f);
	for (size_t i = 0; i < n; i++) {
		b[i] = malloc(chunk); /* read(2) into fresh heap pages */
		if (!b[i] || full_read(in[0], b[i], chunk))
			return 1;
	}
	pthread_join(t, NULL);
	/* By now the first buffers were pushed out: write(2) faults them in. */
	for (size_t i = 0; i < n; i++) {
		if (write(out[1], b[i], chunk) != (ssize_t)chunk ||
		    full_read(out[0], back, chunk) || verify(back, chunk, i, &sum))
			return 1;
		free(b[i]);
	}
	printf("syscalls %llu\n", (unsigned long long)sum);
	return 0;
}

static int fork_case(size_t mb)
{
	size_t n = (mb << 20) / BLOCK;
	unsigned char **b = calloc(n, sizeof(*b));
	uint64_t sum = 0, child_sum = 0;
	int status;
	pid_t pid;

	for (size_t i = 0; i < n; i++) {
		b[i] = malloc(BLOCK);
		fill(b[i], BLOCK, i);
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("check: fork");
		return 1;
	}
	if (pid == 0) {
		for (size_t i = 0; i < n; i++) {
			if (verify(b[i], BLOCK, i, &child_sum))
				_exit(1);
			fill(b[i], BLOCK, i + n); /* the parent must not see this */
			free(b[i]);
			b[i] = malloc(BLOCK);
		}
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "check: the forked child found wrong memory\n");
		return 1;
	}
	for (size_t i = 0; i < n; i++)
		if (verify(b[i], BLOCK, i, &sum))
			return 1;
	printf("fork %llu\n", (unsigned long long)sum);
	return 0;
}

static int all_zero(const unsigned char *p, size_t n, const char *what)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i]) {
			fprintf(stderr, "check: %s: byte %zu is %u after it was dropped\n", what, i,
				p[i]);
			return -1;
		}
	}
	return 0;
}

static int zeros(size_t mb)
{
	size_t len = 1 << 20, n = mb;
	unsigned char **m = calloc(n, sizeof(*m));
	uint64_t sum = 0;

	for (size_t i = 0; i < n; i++) {
		m[i] = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m[i] == MAP_FAILED || all_zero(m[i], len, "fresh mmap"))
			return 1;
		fill(m[i], len, i);
	}
	/* The first mappings are cold now: dropped pages must not come back. */
	for (size_t i = 0; i < n; i++) {
		if (verify(m[i], len, i, &sum))
			return 1;
		if (i % 2 == 0) {
			if (madvise(m[i], len, MADV_DONTNEED) || all_zero(m[i], len, "madvise"))
				return 1;
		}
		if (munmap(m[i], len))
			return 1;
		m[i] = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m[i] == MAP_FAILED || all_zero(m[i], len, "mmap after munmap"))
			return 1;
	}
	printf("zeros %llu\n", (unsigned long long)sum);
	return 0;
}

int main(int argc, char **argv)
{
	size_t mb = argc > 2 ? strtoul(argv[2], NULL, 10) : 64;

	if (argc < 2)
		return 2;
	if (!strcmp(argv[1], "threads"))
		return threads(mb);
	if (!strcmp(argv[1], "syscalls"))
		return syscalls(mb);
	if (!strcmp(argv[1], "fork"))
		return fork_case(mb);
	if (!strcmp(argv[1], "zeros"))
		return zeros(mb);
	return 2;
}
