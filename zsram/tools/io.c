/*
 * io.c - the zsram tool's write and read-and-verify passes over the input,
 * on N threads that take chunks of pages round-robin, and the clocks and
 * resident-memory figure the report uses.  Workers share only the store
 * (which any thread may call), the input (read only; each writes its
 * own entries of refused[]) and the progress bar (atomic counters).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "zsram_tool.h"

#define IO_CHUNK 64 /* pages per chunk handed round-robin to threads */
#define IO_MAX_THREADS 256

static double clock_sec(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double tool_now(void)
{
	return clock_sec(CLOCK_MONOTONIC);
}

/* CPU time of the calling thread (user + system): what the benchmark
 * compares, so that other processes on the machine do not skew it. */
double tool_thread_cpu(void)
{
	return clock_sec(CLOCK_THREAD_CPUTIME_ID);
}

double tool_mib(uint64_t bytes)
{
	return (double)bytes / (1024.0 * 1024.0);
}

/* RssAnon of this process in bytes (anonymous resident memory: the store's
 * pages and metadata; file mappings do not count). */
uint64_t tool_rss_anon(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	uint64_t kb = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "RssAnon: %" SCNu64, &kb) == 1)
			break;
	fclose(f);
	return kb * 1024;
}

struct io_job {
	struct zsram *store;
	const struct input *in;
	uint8_t *refused; /* set for pages refused with ENOSPC */
	struct zs_progress *progress;
	unsigned int thread, threads;
	bool write;
	struct io_totals t;
};

static void *io_thread(void *arg)
{
	struct io_job *j = arg;
	size_t ps = zsram_page_size(j->store);
	unsigned char *buf = malloc(ps);

	if (!buf) {
		j->t.errors++;
		j->t.first_err = -ENOMEM;
		return NULL;
	}
	for (uint64_t c = (uint64_t)j->thread * IO_CHUNK; c < j->in->nr_pages;
	     c += (uint64_t)j->threads * IO_CHUNK) {
		for (uint64_t i = c; i < c + IO_CHUNK && i < j->in->nr_pages; i++) {
			const unsigned char *want = j->in->pages + i * ps;
			int err;

			if (j->write) {
				err = zsram_write_page(j->store, i, want);
				if (err == -ENOSPC) {
					j->refused[i] = 1;
					j->t.refused++;
					continue;
				}
			} else {
				err = zsram_read_page(j->store, i, buf);
				if (!err && memcmp(buf, want, ps) != 0)
					j->t.mismatches++;
			}
			if (err) {
				if (!j->t.errors)
					j->t.first_err = err;
				j->t.errors++;
			}
		}
		zs_progress_add(j->progress, (uint64_t)IO_CHUNK * ps);
	}
	free(buf);
	return NULL;
}

double tool_run_io(struct zsram *store, const struct input *in, unsigned int threads, bool write,
		   uint8_t *refused, const char *progress, struct io_totals *total)
{
	pthread_t tid[IO_MAX_THREADS];
	struct io_job jobs[IO_MAX_THREADS];
	struct zs_progress bar;
	double t0, c0 = clock_sec(CLOCK_PROCESS_CPUTIME_ID);

	zs_progress_begin(&bar, progress ? progress : "", in->nr_pages * zsram_page_size(store),
			  progress != NULL);

	memset(total, 0, sizeof(*total));
	for (unsigned int t = 0; t < threads; t++)
		jobs[t] = (struct io_job){ .store = store,
					   .in = in,
					   .refused = refused,
					   .thread = t,
					   .threads = threads,
					   .write = write,
					   .progress = &bar };
	t0 = tool_now();
	if (threads == 1) {
		io_thread(&jobs[0]);
	} else {
		for (unsigned int t = 0; t < threads; t++)
			if (pthread_create(&tid[t], NULL, io_thread, &jobs[t])) {
				fprintf(stderr, "%s: cannot start a thread\n", TOOL_PROG);
				exit(1);
			}
		for (unsigned int t = 0; t < threads; t++)
			pthread_join(tid[t], NULL);
	}
	t0 = tool_now() - t0;
	zs_progress_end(&bar);
	total->cpu_seconds = clock_sec(CLOCK_PROCESS_CPUTIME_ID) - c0;
	for (unsigned int t = 0; t < threads; t++) {
		if (jobs[t].t.errors && !total->errors)
			total->first_err = jobs[t].t.first_err;
		total->errors += jobs[t].t.errors;
		total->mismatches += jobs[t].t.mismatches;
		total->refused += jobs[t].t.refused;
	}
	return t0;
}

void tool_print_mm_stat(const struct zsram_mm_stat *s, const char *label)
{
	printf("%s %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
	       " %" PRIu64 " %" PRIu64 "\n",
	       label, s->orig_data_size, s->compr_data_size, s->mem_used_total, s->mem_limit,
	       s->mem_used_max, s->same_pages, s->pages_compacted, s->huge_pages,
	       s->huge_pages_since);
}
