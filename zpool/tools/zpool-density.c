/*
 * zpool-density - how densely, and how fast, each zpool backend stores the
 * same real data.
 *
 * Reads FILE as 4096-byte pages, compresses each with lz4 (like zram/zswap),
 * drops pages that are one repeated word (zram keeps those without an
 * allocation) and pages whose compressed size exceeds what every chosen
 * backend takes (zswap rejects those), then stores the same compressed
 * objects in each backend, in the same order: malloc + write per object.
 * Reports per backend: pages used, compressed bytes stored, overhead of the
 * pages over those bytes, objects per page, ns per malloc+write (best of
 * several rounds, backends interleaved) and that time against zsmalloc's in
 * the same run, once with the built-in page source (page faults included)
 * and once with pages touched in advance (the allocator's own work); then
 * frees the same random half in every pool, compacts
 * where the backend can, and reports pages and overhead again.  Every object
 * is read back and compared before it is freed.  Not a test: nothing here
 * decides pass or fail except a wrong byte.
 */
#include <errno.h>
#include <getopt.h>
#include <lz4.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <zpool.h>

#include "pages.h"	/* common/: the same-filled check */

#define INPUT_PAGE 4096
#define MAX_BACKENDS 8

struct object {
	size_t offset;		/* into the compressed buffer */
	size_t size;
};

/*
 * A page source for timing the allocators alone: pages from one region
 * touched in advance and never given back to the kernel, so that neither
 * page faults nor madvise land in the measured time.  Same for every
 * backend.
 */
struct prefaulted_source {
	char *region;
	size_t npages, next;		/* pages handed out from the front */
	void **free_pages;		/* given back, reused first */
	size_t nr_free;
};

static void *prefaulted_alloc(void *ctx)
{
	struct prefaulted_source *src = ctx;

	if (src->nr_free)
		return src->free_pages[--src->nr_free];
	if (src->next == src->npages)
		return NULL;
	return src->region + (src->next++) * (size_t)INPUT_PAGE;
}

static void prefaulted_free(void *ctx, void *page)
{
	struct prefaulted_source *src = ctx;

	src->free_pages[src->nr_free++] = page;
}

static const struct zs_page_ops prefaulted_ops = {
	.alloc_page = prefaulted_alloc,
	.free_page = prefaulted_free,
};

static int prefaulted_init(struct prefaulted_source *src, size_t npages)
{
	src->region = mmap(NULL, npages * (size_t)INPUT_PAGE, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	src->free_pages = calloc(npages, sizeof(void *));
	if (src->region == MAP_FAILED || !src->free_pages)
		return -1;
	memset(src->region, 0x5a, npages * (size_t)INPUT_PAGE);
	src->npages = npages;
	src->next = 0;
	src->nr_free = 0;
	return 0;
}

struct result {
	const char *backend;
	double best_ns;			/* per malloc+write, best round */
	double best_ns_prefaulted;	/* the same with pre-faulted pages */
	unsigned long pages;
	unsigned long pages_after;	/* after freeing half (+ compact) */
	unsigned long compacted;
	double ns_free_half;
};

static void usage(FILE *out, const char *prog)
{
	fprintf(out,
		"usage: %s [-b BACKENDS] [-r ROUNDS] [-n MAX_PAGES] [-s SEED] [-v] FILE\n"
		"  -b BACKENDS  comma-separated list (default: every backend)\n"
		"  -r ROUNDS    timing rounds per backend, best kept (default 3)\n"
		"  -n MAX_PAGES read at most this many pages of FILE (default all)\n"
		"  -s SEED      seed of the random half freed (default 1)\n"
		"  -v           print each backend's own statistics after filling\n",
		prog);
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t next_random(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dull;
}

/* Fills a pool with every object; returns the ns it took, or -1. */
static double fill(struct zpool *pool, const unsigned char *data,
		   const struct object *objs, size_t n, unsigned long *handles)
{
	double start = now_ns();
	size_t i;

	for (i = 0; i < n; i++) {
		handles[i] = zpool_malloc(pool, objs[i].size);
		if (!handles[i]) {
			fprintf(stderr, "zpool-density: %s: malloc(%zu) failed: %s\n",
				zpool_backend_name(pool), objs[i].size, strerror(errno));
			return -1;
		}
		zpool_write(pool, handles[i], data + objs[i].offset, objs[i].size);
	}
	return now_ns() - start;
}

static int verify(struct zpool *pool, const unsigned char *data,
		  const struct object *objs, size_t i, unsigned long handle,
		  unsigned char *local)
{
	void *mem = zpool_read_begin(pool, handle, local);
	int same = memcmp(mem, data + objs[i].offset, objs[i].size) == 0;

	zpool_read_end(pool, handle, mem);
	if (!same)
		fprintf(stderr, "zpool-density: %s: object %zu read back wrong\n",
			zpool_backend_name(pool), i);
	return same ? 0 : -1;
}

/* One round for one backend; the last round also measures density. */
static int run_round(const char *backend, const struct zpool_config *config,
		     const unsigned char *data, const struct object *objs, size_t n,
		     const unsigned char *free_mask, int measure, int verbose,
		     struct result *res)
{
	struct zpool *pool = zpool_create(backend, "density", config);
	unsigned long *handles = calloc(n, sizeof(*handles));
	unsigned char local[65536];
	double ns, start;
	size_t i;
	int ret = -1;

	if (!pool || !handles) {
		fprintf(stderr, "zpool-density: %s: %s\n", backend, strerror(errno));
		goto out;
	}
	ns = fill(pool, data, objs, n, handles);
	if (ns < 0)
		goto out;
	if (config) {
		if (n && (res->best_ns_prefaulted == 0 ||
			  ns / (double)n < res->best_ns_prefaulted))
			res->best_ns_prefaulted = ns / (double)n;
	} else if (n && (res->best_ns == 0 || ns / (double)n < res->best_ns)) {
		res->best_ns = ns / (double)n;
	}
	if (measure) {
		res->pages = zpool_total_pages(pool);
		if (verbose) {
			printf("--- %s statistics after filling ---\n", backend);
			zpool_print_stats(pool, stdout);
		}
		for (i = 0; i < n; i++)
			if (verify(pool, data, objs, i, handles[i], local))
				goto out;
		start = now_ns();
		for (i = 0; i < n; i++)
			if (free_mask[i]) {
				zpool_free(pool, handles[i]);
				handles[i] = 0;
			}
		res->compacted = zpool_compact(pool);
		res->ns_free_half = now_ns() - start;
		res->pages_after = zpool_total_pages(pool);
		for (i = 0; i < n; i++)
			if (handles[i] && verify(pool, data, objs, i, handles[i], local))
				goto out;
	}
	ret = 0;
out:
	for (i = 0; handles && i < n; i++)
		zpool_free(pool, handles[i]);
	zpool_destroy(pool);
	free(handles);
	return ret;
}

static double overhead_pct(unsigned long pages, unsigned long long bytes)
{
	if (!bytes)
		return 0.0;
	return 100.0 * ((double)pages * INPUT_PAGE - (double)bytes) / (double)bytes;
}

int main(int argc, char **argv)
{
	const char *backends[MAX_BACKENDS], *list = NULL, *path;
	struct result results[MAX_BACKENDS];
	size_t nbackends, max_pages = (size_t)-1, rounds = 3, npages = 0, n = 0, i, r;
	size_t same = 0, too_big = 0, limit = (size_t)-1;
	unsigned long long stored_bytes = 0, stored_after = 0;
	unsigned char page[INPUT_PAGE], *data = NULL, *free_mask;
	size_t data_len = 0, data_cap = 0, obj_cap = 0;
	struct object *objs = NULL;
	uint64_t seed = 1;
	struct prefaulted_source prefaulted;
	struct zpool_config prefaulted_config = { 0 };
	double zs_ns = 0, zs_ns_prefaulted = 0;
	int opt, verbose = 0;
	char *end;
	FILE *in;

	while ((opt = getopt(argc, argv, "b:r:n:s:vh")) != -1) {
		switch (opt) {
		case 'b':
			list = optarg;
			break;
		case 'r':
		case 'n':
		case 's':
			errno = 0;
			{
				unsigned long long v = strtoull(optarg, &end, 10);

				if (errno || *end || end == optarg || v == 0) {
					fprintf(stderr, "zpool-density: -%c wants a positive number, not '%s'\n",
						opt, optarg);
					return 2;
				}
				if (opt == 'r')
					rounds = (size_t)v;
				else if (opt == 'n')
					max_pages = (size_t)v;
				else
					seed = v;
			}
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			usage(stdout, argv[0]);
			return 0;
		default:
			usage(stderr, argv[0]);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr, argv[0]);
		return 2;
	}
	path = argv[optind];

	/* Which backends, each checked by creating a pool. */
	if (list) {
		static char names[256];
		char *tok, *save;

		snprintf(names, sizeof(names), "%s", list);
		nbackends = 0;
		for (tok = strtok_r(names, ",", &save); tok && nbackends < MAX_BACKENDS;
		     tok = strtok_r(NULL, ",", &save))
			backends[nbackends++] = tok;
		if (nbackends == 0) {
			fprintf(stderr, "zpool-density: -b names no backend\n");
			return 2;
		}
	} else {
		nbackends = zpool_backends(backends, MAX_BACKENDS);
	}
	for (i = 0; i < nbackends; i++) {
		struct zpool *pool = zpool_create(backends[i], "probe", NULL);

		if (!pool) {
			const char *all[MAX_BACKENDS];
			size_t k, count = zpool_backends(all, MAX_BACKENDS);

			fprintf(stderr, "zpool-density: backend '%s': %s; available:",
				backends[i], errno == ENOENT ? "no such backend" : strerror(errno));
			for (k = 0; k < count; k++)
				fprintf(stderr, " %s", all[k]);
			fputc('\n', stderr);
			return 2;
		}
		if (zpool_max_size(pool) < limit)
			limit = zpool_max_size(pool);
		zpool_destroy(pool);
	}

	in = fopen(path, "rb");
	if (!in) {
		fprintf(stderr, "zpool-density: %s: %s\n", path, strerror(errno));
		return 1;
	}
	while (npages < max_pages && fread(page, 1, INPUT_PAGE, in) == INPUT_PAGE) {
		int bound = LZ4_compressBound(INPUT_PAGE), size;

		npages++;
		if (zs_page_same_filled(page, INPUT_PAGE, NULL)) {
			same++;
			continue;
		}
		if (data_len + (size_t)bound > data_cap) {
			data_cap = data_cap ? 2 * data_cap : (1u << 20);
			data = realloc(data, data_cap);
		}
		if (n == obj_cap) {
			obj_cap = obj_cap ? 2 * obj_cap : 1024;
			objs = realloc(objs, obj_cap * sizeof(*objs));
		}
		if (!data || !objs) {
			fprintf(stderr, "zpool-density: out of memory\n");
			return 1;
		}
		size = LZ4_compress_default((const char *)page, (char *)data + data_len,
					    INPUT_PAGE, bound);
		if (size <= 0 || (size_t)size > limit) {
			too_big++;
			continue;
		}
		objs[n].offset = data_len;
		objs[n].size = (size_t)size;
		data_len += (size_t)size;
		stored_bytes += (unsigned long long)size;
		n++;
	}
	if (ferror(in)) {
		fprintf(stderr, "zpool-density: %s: read error\n", path);
		return 1;
	}
	fclose(in);
	if (n == 0) {
		fprintf(stderr, "zpool-density: %s: no page to store (%zu pages read)\n",
			path, npages);
		return 1;
	}

	free_mask = calloc(n, 1);
	if (!free_mask) {
		fprintf(stderr, "zpool-density: out of memory\n");
		return 1;
	}
	for (i = 0; i < n; i++) {
		free_mask[i] = (unsigned char)(next_random(&seed) & 1);
		if (!free_mask[i])
			stored_after += objs[i].size;
	}

	/* Enough pages for one object per page plus every zsmalloc class's
	 * largest zspage left partly used. */
	if (prefaulted_init(&prefaulted, n + 512 * 16)) {
		fprintf(stderr, "zpool-density: cannot set up %zu pre-faulted pages\n",
			n + 512 * 16);
		return 1;
	}
	prefaulted_config.page_ops = &prefaulted_ops;
	prefaulted_config.page_ctx = &prefaulted;
	memset(results, 0, sizeof(results));
	for (r = 0; r < rounds; r++)
		for (i = 0; i < nbackends; i++) {
			results[i].backend = backends[i];
			if (run_round(backends[i], &prefaulted_config, data, objs, n,
				      free_mask, 0, 0, &results[i]) ||
			    run_round(backends[i], NULL, data, objs, n, free_mask,
				      r == rounds - 1, verbose, &results[i]))
				return 1;
		}
	for (i = 0; i < nbackends; i++)
		if (strcmp(backends[i], "zsmalloc") == 0) {
			zs_ns = results[i].best_ns;
			zs_ns_prefaulted = results[i].best_ns_prefaulted;
		}

	printf("input %s: %zu pages of %d bytes; %zu same-filled and %zu over %zu bytes compressed not stored\n",
	       path, npages, INPUT_PAGE, same, too_big, limit);
	printf("stored %zu lz4 objects, %llu bytes (%.2f KiB mean, ratio %.2f); best of %zu rounds\n\n",
	       n, stored_bytes, (double)stored_bytes / (double)n / 1024.0,
	       (double)n * INPUT_PAGE / (double)stored_bytes, rounds);
	printf("%-9s %8s %8s %9s %10s %7s %10s %7s | %-30s\n", "backend", "pages",
	       "overhead", "obj/page", "ns/op", "vs_zs", "ns/op-pf", "vs_zs",
	       "after freeing half (+compact)");
	for (i = 0; i < nbackends; i++) {
		const struct result *res = &results[i];
		char vs[32], vs_pf[32];

		snprintf(vs, sizeof(vs), "-");
		snprintf(vs_pf, sizeof(vs_pf), "-");
		if (zs_ns > 0)
			snprintf(vs, sizeof(vs), "%.2fx", res->best_ns / zs_ns);
		if (zs_ns_prefaulted > 0)
			snprintf(vs_pf, sizeof(vs_pf), "%.2fx",
				 res->best_ns_prefaulted / zs_ns_prefaulted);
		printf("%-9s %8lu %7.1f%% %9.3f %10.1f %7s %10.1f %7s | %7lu pages, %5.1f%% over, %lu compacted\n",
		       res->backend, res->pages, overhead_pct(res->pages, stored_bytes),
		       (double)n / (double)res->pages, res->best_ns, vs,
		       res->best_ns_prefaulted, vs_pf, res->pages_after,
		       overhead_pct(res->pages_after, stored_after), res->compacted);
	}
	printf("\nstored bytes: %llu in every backend (%llu after freeing half)\n"
	       "overhead  = pages * %d / stored bytes - 1 (page bytes only: no metadata outside pages)\n"
	       "ns/op     = ns per malloc+write with the built-in page source (page faults included)\n"
	       "ns/op-pf  = the same with pages touched in advance: the allocator's own work\n"
	       "vs_zs     = against zsmalloc in this run (<1: faster)\n",
	       stored_bytes, stored_after, INPUT_PAGE);
	free(free_mask);
	free(objs);
	free(data);
	return 0;
}
