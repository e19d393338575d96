/*
 * zs-soak.c - the soak test: worker threads churn a multi-gigabyte pool
 * (allocate, free, rewrite, read) while a compaction thread and a migration
 * thread keep moving objects under them, for a given time; every object is
 * checked on every read, all of them periodically and at the end.
 *
 * No shadow copy is kept: each object's bytes are a pseudo-random stream
 * derived from (run seed, object slot, generation), so a reader regenerates
 * what must be there.  Each worker owns a range of slots, so no two threads
 * touch one object; compaction and migration touch them all.
 *
 * Prints operations, bytes written and verified, compaction and migration
 * counts and errors; exits 1 on any error (a byte that differs, a call that
 * failed when it must not, a pool check that fails), 2 on bad options.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "zsmalloc.h"

struct options {
	unsigned int threads;
	uint64_t bytes;	     /* object bytes to keep live */
	double seconds;	     /* churn time */
	double verify_every; /* seconds between full verifications */
	size_t page_size;
	unsigned int chain;
	uint64_t seed;
	bool no_compact, no_migrate;
};

struct object {
	unsigned long handle; /* 0: slot empty */
	uint32_t size;
	uint32_t gen; /* bumped at every new content */
};

struct worker {
	pthread_t thread;
	unsigned int id;
	struct object *objs; /* this worker's slots */
	size_t nr_objs;
	uint64_t first_slot; /* global number of objs[0] */
	uint64_t bytes_target, bytes_live;
	uint64_t rng;
	unsigned char *buf, *copy; /* page_size each */
	/* Figures. */
	uint64_t mallocs, frees, writes, reads, full_passes;
	uint64_t bytes_written, bytes_verified;
	uint64_t errors;
};

static struct options opt = {
	.threads = 2,
	.bytes = 2ull << 30,
	.seconds = 180,
	.verify_every = 60,
	.page_size = 4096,
	.chain = 0,
	.seed = 1,
};
static struct zs_pool *pool;
static size_t huge_size;
static atomic_bool stop_movers, churn_over;
static atomic_uint_fast64_t total_errors;
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t next_rand(uint64_t *s)
{
	return mix(*s += 0x9e3779b97f4a7c15ull);
}

static void report_error(struct worker *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void report_error(struct worker *w, const char *fmt, ...)
{
	va_list ap;
	uint64_t n = atomic_fetch_add(&total_errors, 1);

	if (w)
		w->errors++;
	if (n >= 20)
		return;
	pthread_mutex_lock(&report_lock);
	fprintf(stderr, "zs-soak: ERROR: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	pthread_mutex_unlock(&report_lock);
}

/* ---- Object contents: a stream from (seed, slot, generation) ---- */

/* Compressed pages: mostly a third to three quarters of a page, some small,
 * some too big to compress (the huge class). */
static uint32_t pick_size(uint64_t *rng)
{
	uint64_t r = next_rand(rng);
	size_t ps = opt.page_size;

	switch (r % 10) {
	case 0: return (uint32_t)(32 + (r >> 8) % 224);
	case 1: return (uint32_t)(huge_size + 1 + (r >> 8) % (ps - huge_size));
	case 2:
	case 3: return (uint32_t)(ps * 3 / 4 + (r >> 8) % (huge_size + 1 - ps * 3 / 4));
	default: return (uint32_t)(ps / 8 + (r >> 8) % (ps * 5 / 8));
	}
}

static void make_bytes(unsigned char *dst, size_t len, uint64_t slot, uint32_t gen)
{
	uint64_t s = mix(opt.seed ^ mix(slot * 0x100000001b3ull + gen));
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t v = next_rand(&s);

		memcpy(dst + i, &v, 8);
	}
	if (i < len) {
		uint64_t v = next_rand(&s);

		memcpy(dst + i, &v, len - i);
	}
}

/* Whether p holds what the object must hold; reports the first difference. */
static bool check_bytes(struct worker *w, const unsigned char *p, size_t len, uint64_t slot,
			uint32_t gen, const char *how)
{
	make_bytes(w->buf, len, slot, gen);
	if (memcmp(p, w->buf, len) == 0) {
		w->bytes_verified += len;
		return true;
	}
	size_t at = 0;

	while (p[at] == w->buf[at])
		at++;
	report_error(w,
		     "object %" PRIu64 " (gen %u, %zu bytes) read by %s differs at byte "
		     "%zu: %#x, expected %#x",
		     slot, gen, len, how, at, p[at], w->buf[at]);
	return false;
}

/* ---- Worker operations ---- */

static void fill_object(struct worker *w, size_t i)
{
	struct object *o = &w->objs[i];
	uint64_t slot = w->first_slot + i;

	o->gen++;
	if (next_rand(&w->rng) & 1) {
		make_bytes(w->buf, o->size, slot, o->gen);
		zs_obj_write(pool, o->handle, w->buf, o->size);
	} else {
		unsigned char *p = zs_map_object(pool, o->handle, ZS_MM_WO);

		if (!p) {
			report_error(w, "zs_map_object(WO) failed: %s", strerror(errno));
			return;
		}
		make_bytes(p, o->size, slot, o->gen);
		zs_unmap_object(pool, o->handle);
	}
	w->writes++;
	w->bytes_written += o->size;
}

static bool alloc_object(struct worker *w, size_t i)
{
	struct object *o = &w->objs[i];

	o->size = pick_size(&w->rng);
	o->handle = zs_malloc(pool, o->size);
	if (!o->handle) {
		report_error(w, "zs_malloc(%u) failed: %s", o->size, strerror(errno));
		return false;
	}
	w->mallocs++;
	w->bytes_live += o->size;
	fill_object(w, i);
	return true;
}

static void free_object(struct worker *w, size_t i)
{
	struct object *o = &w->objs[i];

	zs_free(pool, o->handle);
	w->bytes_live -= o->size;
	o->handle = 0;
	w->frees++;
}

static void verify_object(struct worker *w, size_t i)
{
	struct object *o = &w->objs[i];
	uint64_t slot = w->first_slot + i;
	const unsigned char *p;

	w->reads++;
	if (next_rand(&w->rng) & 1) {
		p = zs_obj_read_begin(pool, o->handle, w->copy);
		check_bytes(w, p, o->size, slot, o->gen, "zs_obj_read_begin");
		zs_obj_read_end(pool, o->handle, (void *)p);
	} else {
		p = zs_map_object(pool, o->handle, ZS_MM_RO);
		if (!p) {
			report_error(w, "zs_map_object(RO) failed: %s", strerror(errno));
			return;
		}
		check_bytes(w, p, o->size, slot, o->gen, "zs_map_object(RO)");
		zs_unmap_object(pool, o->handle);
	}
}

static void verify_all(struct worker *w)
{
	for (size_t i = 0; i < w->nr_objs; i++)
		if (w->objs[i].handle)
			verify_object(w, i);
	w->full_passes++;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	double next_full, end;
	size_t i;

	/* Fill: allocate until this worker's share of the bytes is live. */
	for (i = 0; i < w->nr_objs && w->bytes_live < w->bytes_target; i++)
		if (!alloc_object(w, i))
			break;
	verify_all(w);
	next_full = now() + opt.verify_every;
	end = now() + opt.seconds;

	while (!atomic_load(&churn_over)) {
		for (int k = 0; k < 1024; k++) {
			uint64_t r = next_rand(&w->rng);
			struct object *o;

			i = (size_t)(r >> 16) % w->nr_objs;
			o = &w->objs[i];
			switch (r % 10) {
			case 0:
			case 1:
			case 2:
			case 3:
				/* Replace: free if live, then allocate (keeps the
				 * live bytes near the target). */
				if (o->handle)
					free_object(w, i);
				if (w->bytes_live < w->bytes_target)
					alloc_object(w, i);
				break;
			case 4:
			case 5:
				if (o->handle)
					fill_object(w, i);
				else if (w->bytes_live < w->bytes_target)
					alloc_object(w, i);
				break;
			default:
				if (o->handle)
					verify_object(w, i);
				break;
			}
		}
		if (now() >= next_full) {
			verify_all(w);
			next_full = now() + opt.verify_every;
		}
		if (now() >= end)
			atomic_store(&churn_over, true);
	}
	verify_all(w);
	return NULL;
}

/* ---- Compaction and migration threads ---- */

struct mover_stats {
	uint64_t compactions, pages_compacted;
	uint64_t migrations, migrate_busy, migrate_stale, migrate_nomem, migrate_other;
};

static struct mover_stats movers;

static void *compactor_main(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop_movers)) {
		movers.pages_compacted += zs_compact(pool);
		movers.compactions++;
		usleep(20000);
	}
	return NULL;
}

static void *migrator_main(void *arg)
{
	size_t cap = 0, n;
	void **pages = NULL;
	uint64_t rng = opt.seed * 77 + 1;

	(void)arg;
	while (!atomic_load(&stop_movers)) {
		n = zs_list_pages(pool, pages, cap);
		if (n > cap) {
			cap = n + n / 4 + 1024;
			free(pages);
			pages = malloc(cap * sizeof(*pages));
			if (!pages) {
				report_error(NULL, "migrator: out of memory");
				return NULL;
			}
			continue;
		}
		/* A batch of random pages from the snapshot (it goes stale). */
		for (int k = 0; k < 2048 && n > 0 && !atomic_load(&stop_movers); k++) {
			void *page = pages[next_rand(&rng) % n];
			void *newpage = zs_page_source_alloc(pool);
			int rc;

			if (!newpage) {
				movers.migrate_nomem++;
				continue;
			}
			rc = zs_page_migrate(pool, page, newpage);
			if (rc == 0) {
				zs_page_source_free(pool, page);
				movers.migrations++;
				continue;
			}
			zs_page_source_free(pool, newpage);
			if (rc == -EAGAIN)
				movers.migrate_busy++;
			else if (rc == -EINVAL)
				movers.migrate_stale++; /* left the pool since the snapshot */
			else if (rc == -ENOMEM)
				movers.migrate_nomem++;
			else {
				movers.migrate_other++;
				report_error(NULL, "zs_page_migrate = %d (%s)", rc, strerror(-rc));
			}
		}
		usleep(1000);
	}
	free(pages);
	return NULL;
}

/* ---- Options and the run ---- */

static void usage(FILE *out)
{
	fprintf(out, "usage: zs-soak [options]\n"
		     "  --threads N        worker threads (default 2)\n"
		     "  --bytes SIZE       object bytes kept live, with K/M/G (default 2G)\n"
		     "  --seconds S        churn time (default 180)\n"
		     "  --verify-every S   seconds between full verifications (default 60)\n"
		     "  --page-size P      pool page size, 4096..65536 (default 4096)\n"
		     "  --chain C          max pages per zspage, 0..16 (default 0: library's)\n"
		     "  --seed S           seed of sizes and contents (default 1)\n"
		     "  --no-compact, --no-migrate   leave a mover thread out\n");
}

static bool parse_size(const char *s, uint64_t *v)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(s, &end);
	if (errno || end == s || d < 0)
		return false;
	switch (*end) {
	case 'k':
	case 'K':
		d *= 1024;
		end++;
		break;
	case 'm':
	case 'M':
		d *= 1024 * 1024;
		end++;
		break;
	case 'g':
	case 'G':
		d *= 1024.0 * 1024 * 1024;
		end++;
		break;
	}
	if (*end)
		return false;
	*v = (uint64_t)d;
	return true;
}

static void parse_options(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		uint64_t n;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			exit(0);
		} else if (strcmp(a, "--no-compact") == 0) {
			opt.no_compact = true;
			continue;
		} else if (strcmp(a, "--no-migrate") == 0) {
			opt.no_migrate = true;
			continue;
		}
		if (!v || !parse_size(v, &n)) {
			fprintf(stderr, "zs-soak: %s needs a number%s%s\n", a, v ? ", got " : "",
				v ? v : "");
			exit(2);
		}
		i++;
		if (strcmp(a, "--threads") == 0 && n >= 1 && n <= 256)
			opt.threads = (unsigned int)n;
		else if (strcmp(a, "--bytes") == 0 && n >= 1)
			opt.bytes = n;
		else if (strcmp(a, "--seconds") == 0)
			opt.seconds = strtod(v, NULL);
		else if (strcmp(a, "--verify-every") == 0 && strtod(v, NULL) > 0)
			opt.verify_every = strtod(v, NULL);
		else if (strcmp(a, "--page-size") == 0)
			opt.page_size = (size_t)n;
		else if (strcmp(a, "--chain") == 0 && n <= 16)
			opt.chain = (unsigned int)n;
		else if (strcmp(a, "--seed") == 0)
			opt.seed = n;
		else {
			fprintf(stderr, "zs-soak: bad option or value: %s %s\n", a, v);
			usage(stderr);
			exit(2);
		}
	}
}

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

int main(int argc, char **argv)
{
	struct zs_pool_config cfg;
	struct worker *workers;
	pthread_t compactor, migrator;
	uint64_t per_thread_objs, mallocs = 0, frees = 0, writes = 0, reads = 0;
	uint64_t written = 0, verified = 0, passes = 0, errors;
	unsigned long peak_pages = 0;
	double t0, next_print, elapsed;
	char why[256];
	int status = 0;

	parse_options(argc, argv);
	memset(&cfg, 0, sizeof(cfg));
	cfg.page_size = opt.page_size;
	cfg.max_pages_per_zspage = opt.chain;
	pool = zs_create_pool_config("soak", &cfg);
	if (!pool) {
		fprintf(stderr, "zs-soak: zs_create_pool_config(page size %zu, chain %u): %s\n",
			opt.page_size, opt.chain, strerror(errno));
		return 2;
	}
	huge_size = zs_huge_class_size(pool);
	/* Slots: room for the target at the smallest average size, and more,
	 * so that freed slots are found when replacing. */
	per_thread_objs = opt.bytes / opt.threads / (opt.page_size / 4) + 1024;
	printf("zs-soak: %u threads, %.2f GiB of objects, %.0f s, page size %zu, chain %u, "
	       "seed %" PRIu64 ", compaction %s, migration %s\n",
	       opt.threads, (double)opt.bytes / (1 << 30), opt.seconds, opt.page_size, opt.chain,
	       opt.seed, opt.no_compact ? "off" : "on", opt.no_migrate ? "off" : "on");
	fflush(stdout);

	workers = calloc(opt.threads, sizeof(*workers));
	if (!workers)
		return 2;
	t0 = now();
	for (unsigned int t = 0; t < opt.threads; t++) {
		struct worker *w = &workers[t];

		w->id = t;
		w->nr_objs = per_thread_objs;
		w->objs = calloc(w->nr_objs, sizeof(*w->objs));
		w->first_slot = (uint64_t)t * per_thread_objs;
		w->bytes_target = opt.bytes / opt.threads;
		w->rng = mix(opt.seed + t + 1);
		w->buf = malloc(opt.page_size);
		w->copy = malloc(opt.page_size);
		if (!w->objs || !w->buf || !w->copy) {
			fprintf(stderr, "zs-soak: out of memory for the object table\n");
			return 2;
		}
	}
	if (!opt.no_compact)
		pthread_create(&compactor, NULL, compactor_main, NULL);
	if (!opt.no_migrate)
		pthread_create(&migrator, NULL, migrator_main, NULL);
	for (unsigned int t = 0; t < opt.threads; t++)
		pthread_create(&workers[t].thread, NULL, worker_main, &workers[t]);

	/* Watch: the peak and a line of progress every 30 seconds. */
	next_print = t0 + 30;
	while (!atomic_load(&churn_over)) {
		unsigned long pages = zs_get_total_pages(pool);

		if (pages > peak_pages)
			peak_pages = pages;
		usleep(200000);
		if (now() >= next_print) {
			printf("  %4.0f s: %lu pages (%.2f GiB), %" PRIu64 " errors\n", now() - t0,
			       pages, (double)pages * opt.page_size / (1 << 30),
			       (uint64_t)atomic_load(&total_errors));
			fflush(stdout);
			next_print += 30;
		}
	}
	for (unsigned int t = 0; t < opt.threads; t++)
		pthread_join(workers[t].thread, NULL);
	atomic_store(&stop_movers, true);
	if (!opt.no_compact)
		pthread_join(compactor, NULL);
	if (!opt.no_migrate)
		pthread_join(migrator, NULL);
	elapsed = now() - t0;

	/* Last checks: the pool is consistent; freeing everything gives every
	 * page back. */
	if (zs_pool_check(pool, why, sizeof(why)) != 0)
		report_error(NULL, "zs_pool_check at the end: %s", why);
	for (unsigned int t = 0; t < opt.threads; t++) {
		struct worker *w = &workers[t];

		for (size_t i = 0; i < w->nr_objs; i++)
			if (w->objs[i].handle)
				free_object(w, i);
		mallocs += w->mallocs;
		frees += w->frees;
		writes += w->writes;
		reads += w->reads;
		written += w->bytes_written;
		verified += w->bytes_verified;
		passes += w->full_passes;
		free(w->objs);
		free(w->buf);
		free(w->copy);
	}
	if (zs_get_total_pages(pool) != 0)
		report_error(NULL, "every object freed, the pool still holds %lu pages",
			     zs_get_total_pages(pool));
	if (zs_pool_check(pool, why, sizeof(why)) != 0)
		report_error(NULL, "zs_pool_check after freeing everything: %s", why);
	zs_destroy_pool(pool);
	errors = atomic_load(&total_errors);

	printf("zs-soak: %.0f s, %u threads\n", elapsed, opt.threads);
	printf("  operations:   %" PRIu64 " (%" PRIu64 " mallocs, %" PRIu64 " frees, %" PRIu64
	       " writes, %" PRIu64 " reads)\n",
	       mallocs + frees + writes + reads, mallocs, frees, writes, reads);
	printf("  bytes:        %.2f GiB written, %.2f GiB verified (%" PRIu64 " full passes)\n",
	       (double)written / (1 << 30), (double)verified / (1 << 30), passes);
	printf("  pool:         peak %lu pages (%.2f GiB), peak RSS %.2f GiB\n", peak_pages,
	       (double)peak_pages * opt.page_size / (1 << 30), (double)rss_kib() / (1 << 20));
	printf("  compaction:   %" PRIu64 " runs, %" PRIu64 " pages freed\n", movers.compactions,
	       movers.pages_compacted);
	printf("  migration:    %" PRIu64 " pages moved, %" PRIu64 " busy (EAGAIN), %" PRIu64
	       " stale (EINVAL), %" PRIu64 " ENOMEM, %" PRIu64 " other\n",
	       movers.migrations, movers.migrate_busy, movers.migrate_stale, movers.migrate_nomem,
	       movers.migrate_other);
	printf("  errors:       %" PRIu64 "\n", errors);
	if (errors)
		status = 1;
	return status;
}
