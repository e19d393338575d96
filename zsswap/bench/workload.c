/*
 * workload.c - the benchmark's workload (see workload.h).  The fill reads
 * the pages file straight into the area; each page's 64-bit hash is kept
 * beside it, and every access re-hashes the page it touches and compares.
 * A write changes one word and updates the hash.  Each access is timed
 * (CLOCK_MONOTONIC, vDSO); the slow ones are the faults.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "workload.h"

#define PAGE 4096u

static uint64_t hash_page(const unsigned char *p)
{
	uint64_t h = 0x9e3779b97f4a7c15ull;

	for (unsigned int k = 0; k < PAGE; k += 8) {
		uint64_t w;

		memcpy(&w, p + k, 8);
		h = (h ^ w) * 0x100000001b3ull;
	}
	return h;
}

static uint64_t rnd(uint64_t *s)
{
	uint64_t x = (*s += 0x9e3779b97f4a7c15ull);

	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t workload_status_bytes(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	size_t len = strlen(field);
	unsigned long long kb = 0;

	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, field, len) == 0 && line[len] == ':' &&
		    sscanf(line + len + 1, "%llu", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb * 1024;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int fill(const struct workload_config *c, unsigned char *mem, uint64_t *hash, size_t pages)
{
	int fd = open(c->pages_file, O_RDONLY);
	size_t done = 0;

	if (fd < 0) {
		fprintf(stderr, "zsswap-bench: %s: %s\n", c->pages_file, strerror(errno));
		return -1;
	}
	while (done < pages) {
		size_t chunk = pages - done < 256 ? pages - done : 256;
		ssize_t n = read(fd, mem + done * PAGE, chunk * PAGE);

		if (n <= 0 || n % PAGE) {
			fprintf(stderr, "zsswap-bench: %s holds fewer than %zu pages\n",
				c->pages_file, pages);
			close(fd);
			return -1;
		}
		for (size_t i = 0; i < (size_t)n / PAGE; i++)
			hash[done + i] = hash_page(mem + (done + i) * PAGE);
		done += (size_t)n / PAGE;
	}
	close(fd);
	return 0;
}

int workload_run(const struct workload_config *c, unsigned char *mem, struct workload_result *r)
{
	size_t pages = c->bytes / PAGE, hot = c->hot_bytes / PAGE;
	uint64_t *hash = malloc(pages * sizeof(*hash));
	uint32_t *slow = malloc(c->accesses * sizeof(*slow));
	uint64_t seed = c->seed;
	struct rusage ru0, ru1;
	double t0;

	memset(r, 0, sizeof(*r));
	if (!hash || !slow || hot == 0 || hot > pages)
		return -1;
	getrusage(RUSAGE_SELF, &ru0);
	t0 = now_s();
	if (fill(c, mem, hash, pages))
		return -1;
	r->fill_s = now_s() - t0;
	r->peak_rss_fill = workload_status_bytes("VmHWM");
	if (c->after_fill)
		c->after_fill(c->after_fill_arg);
	t0 = now_s();
	for (uint64_t a = 0; a < c->accesses; a++) {
		uint64_t x = rnd(&seed);
		size_t page = (x % 100 < c->hot_percent ? (x >> 8) % hot : (x >> 8) % pages);
		unsigned char *p = mem + page * PAGE;
		uint64_t start = now_ns(), took;

		if (hash_page(p) != hash[page])
			r->bad_pages++;
		if ((x >> 40) % c->write_every == 0) {
			uint64_t w = x;

			memcpy(p + ((x >> 20) % (PAGE / 8)) * 8, &w, 8);
			hash[page] = hash_page(p);
		}
		took = now_ns() - start;
		bool warm = a >= c->accesses / 2, is_hot = page < hot;

		r->hot_accesses += warm && is_hot;
		if (took >= WORKLOAD_FAULT_NS) {
			slow[r->slow_accesses++] = (uint32_t)(took > UINT32_MAX ? UINT32_MAX : took);
			r->slow_hot += warm && is_hot;
		}
	}
	r->access_s = now_s() - t0;
	getrusage(RUSAGE_SELF, &ru1);
	r->major_faults = (uint64_t)(ru1.ru_majflt - ru0.ru_majflt);
	if (r->slow_accesses) {
		qsort(slow, r->slow_accesses, sizeof(*slow), cmp_u32);
		r->slow_p50_us = slow[r->slow_accesses / 2] / 1e3;
		r->slow_p99_us = slow[r->slow_accesses * 99 / 100] / 1e3;
	}
	r->peak_rss = workload_status_bytes("VmHWM");
	free(hash);
	free(slow);
	return 0;
}
