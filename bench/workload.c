/*
 * workload.c - zsbench's workloads, each peer in a forked child of its own.
 *
 * The child measures its own anonymous resident memory (the "Anonymous:"
 * line of /proc/self/smaps_rollup, which walks the page tables: exact) before
 * the allocator is set up and after each phase.  The corpus, the handle
 * table and every other piece of bookkeeping of ours live in shared mappings,
 * which are not anonymous memory, so the difference is the allocator's pages
 * plus all its metadata.  Phases, in order, on one pool:
 *   fill      store every object of the dataset (allocate + copy in)
 *   verify    read objects back and compare (every object once at the end)
 *   read      random reads of live objects: a pointer to the bytes (in place,
 *             or copied into a page buffer) and a copy into that buffer;
 *             the same on 64 objects that stay in cache ("hot", best of
 *             16 rounds); then the
 *             same split into objects read in place and objects the
 *             allocator had to copy (spanning two pages)
 *   free      free a random fraction of the objects (the same ones for every
 *             peer: the same seed)
 *   compact   the allocator's compaction / give-back call
 *   churn     free a random live object and store a random object of the
 *             dataset in its place, N times
 *   threads   the same churn from 1..T threads, each on its own objects
 * After fill and after compact, a peer that can say where its memory is
 * (zsmalloc: zs_pool_memory) does so right after the measurement, for the
 * report to set the parts against the measured growth.
 * Results go back to the parent through a shared result record.
 */
#define _GNU_SOURCE
#include "zsbench.h"

#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

double zsb_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double zsb_cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

uint64_t zsb_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void zsb_shuffle(uint32_t *v, size_t n, uint64_t seed)
{
	for (size_t i = n ? n - 1 : 0; i > 0; i--) {
		size_t j = zsb_rand(&seed) % (i + 1);
		uint32_t t = v[i];

		v[i] = v[j];
		v[j] = t;
	}
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define ZSB_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define ZSB_SANITIZED 1
#endif
#endif

int zsb_running_under_sanitizer(void)
{
#ifdef ZSB_SANITIZED
	return 1;
#else
	return 0;
#endif
}

/* Anonymous resident bytes of this process, -1 if unreadable. */
static int64_t anon_resident_bytes(void)
{
	char line[256];
	int64_t kb = -1;
	FILE *f = fopen("/proc/self/smaps_rollup", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		long long v;

		if (sscanf(line, "Anonymous: %lld kB", &v) == 1) {
			kb = v;
			break;
		}
	}
	fclose(f);
	return kb < 0 ? -1 : kb * 1024;
}

/* State of one child run: all in shared mappings, none of it anonymous. */
struct child_run {
	const struct zsb_peer_ops *peer;
	void *ctx;
	const struct zsb_corpus *c;
	const struct zsb_dataset *d;
	const struct zsb_options *o;
	struct zsb_result *r;
	int64_t base;
	unsigned long *handle; /* per slot */
	int64_t *obj;	       /* per slot: object stored, -1 none */
	uint32_t *live;	       /* slots holding an object */
	size_t nlive;
	uint32_t *objslots; /* slots of the dataset that have objects */
	size_t nobjslots;
	uint64_t payload;
	double cpu0;			     /* CPU time at the start of the phase */
	unsigned char (*buf)[ZSB_PAGE_SIZE]; /* one page buffer per thread */
};

/* Starts a phase's clocks: returns the wall clock. */
static double phase_start(struct child_run *run)
{
	run->cpu0 = zsb_cpu_now();
	return zsb_now();
}

static const unsigned char *obj_bytes(const struct zsb_corpus *c, int64_t o)
{
	return c->blob + c->obj_offset[o];
}

static void phase_end(struct child_run *run, struct zsb_phase *p, double seconds, uint64_t ops,
		      uint64_t page_bytes)
{
	double cpu = zsb_cpu_now() - run->cpu0;
	int64_t anon = anon_resident_bytes();

	p->valid = 1;
	p->seconds = seconds;
	p->cpu_seconds = cpu;
	p->ops = ops;
	p->anon_bytes = anon < 0 ? -1 : anon - run->base;
	p->payload = run->payload;
	p->pool_pages = run->peer->pool_pages(run->ctx);
	p->page_bytes = page_bytes;
}

/* The allocator's own account of its memory, right after phase_end measured
 * the resident growth it is to be set against: nothing runs in between. */
static void record_breakdown(struct child_run *run, const struct zsb_phase *p,
			     struct zsb_breakdown *b)
{
	if (!run->peer->breakdown)
		return;
	memset(b, 0, sizeof(*b));
	b->payload = run->payload;
	b->measured = p->anon_bytes;
	run->peer->breakdown(run->ctx, run->payload, b);
	if (b->objects != run->nlive) {
		size_t used = strlen(b->note);

		snprintf(b->note + used, sizeof(b->note) - used,
			 "%sthe allocator counts %llu live objects, zsbench %zu", used ? "; " : "",
			 (unsigned long long)b->objects, run->nlive);
	}
	b->valid = 1;
}

static void child_fail(struct child_run *run, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

static void child_fail(struct child_run *run, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	run->r->status = ZSB_FAILED;
	vsnprintf(run->r->reason, sizeof(run->r->reason), fmt, ap);
	va_end(ap);
	_exit(0);
}

static unsigned long store_obj(struct child_run *run, int64_t o)
{
	size_t len = run->c->obj_size[o];
	unsigned long h = run->peer->store(run->ctx, obj_bytes(run->c, o), len);

	if (!h)
		child_fail(run, "storing an object of %zu bytes failed (%s)", len, strerror(errno));
	return h;
}

/* One read: the bytes end up in buf; returns a byte of them. */
static inline unsigned char read_obj(struct child_run *run, unsigned long h, size_t len,
				     unsigned char *buf)
{
	const void *p = run->peer->read_begin(run->ctx, h, buf, len);
	unsigned char last;

	if (p != buf)
		memcpy(buf, p, len);
	last = buf[len - 1];
	run->peer->read_end(run->ctx, h, p);
	return last;
}

static uint64_t verify_live(struct child_run *run, size_t step)
{
	uint64_t errors = 0, checked = 0;
	size_t i;

	for (i = 0; i < run->nlive; i += step) {
		uint32_t s = run->live[i];
		int64_t o = run->obj[s];
		size_t len = run->c->obj_size[o];
		const void *p = run->peer->read_begin(run->ctx, run->handle[s], run->buf[0], len);

		if (memcmp(p, obj_bytes(run->c, o), len) != 0)
			errors++;
		run->peer->read_end(run->ctx, run->handle[s], p);
		checked++;
	}
	run->r->verify_errors += errors;
	run->r->verified += checked;
	return errors;
}

static void phase_fill(struct child_run *run)
{
	const struct zsb_dataset *d = run->d;
	double t0 = phase_start(run);
	size_t s;

	for (s = 0; s < d->nslots; s++) {
		int64_t o = run->c->page_obj[d->pages[s]];

		run->obj[s] = o;
		if (o < 0)
			continue;
		run->handle[s] = store_obj(run, o);
		run->payload += run->c->obj_size[o];
		run->live[run->nlive++] = (uint32_t)s;
	}
	phase_end(run, &run->r->fill, zsb_now() - t0, run->nlive,
		  (uint64_t)run->nlive * ZSB_PAGE_SIZE);
	record_breakdown(run, &run->r->fill, &run->r->mem_fill);
	memcpy(run->objslots, run->live, run->nlive * sizeof(*run->live));
	run->nobjslots = run->nlive;
}

static void timed_reads(struct child_run *run, const uint32_t *slots, size_t n, uint64_t ops,
			struct zsb_phase *p)
{
	uint64_t seed = run->o->seed ^ 0x5eadULL, i, bytes = 0;
	unsigned int sink = 0;
	double t0;

	if (n == 0)
		return;
	t0 = phase_start(run);
	for (i = 0; i < ops; i++) {
		uint32_t s = slots[zsb_rand(&seed) % n];
		size_t len = run->c->obj_size[run->obj[s]];

		sink += read_obj(run, run->handle[s], len, run->buf[0]);
		bytes += len;
	}
	phase_end(run, p, zsb_now() - t0, ops, ops * ZSB_PAGE_SIZE);
	__asm__ volatile("" : : "r"(sink));
	(void)bytes;
}

static void phase_read(struct child_run *run)
{
	uint64_t ops = run->o->read_ops			    ? run->o->read_ops
		       : 2 * (uint64_t)run->nlive < 1000000 ? 2 * (uint64_t)run->nlive
							    : 1000000;
	uint32_t *inplace = zsb_shared_alloc(run->nlive * sizeof(uint32_t));
	uint32_t *spanning = zsb_shared_alloc(run->nlive * sizeof(uint32_t));
	size_t ni = 0, ns = 0, i;

	timed_reads(run, run->live, run->nlive, ops, &run->r->read);
	/* The same on 64 objects that stay in the CPU cache: the cost of the
	 * access path itself, without memory latency.  Best of 16 rounds, so
	 * that a moment of preemption by other work does not count. */
	{
		struct zsb_phase round, best = { 0 };
		unsigned int k;

		for (k = 0; k < 16; k++) {
			memset(&round, 0, sizeof(round));
			timed_reads(run, run->live, run->nlive < 64 ? run->nlive : 64, ops / 16 + 1,
				    &round);
			if (!best.valid || round.seconds < best.seconds)
				best = round;
		}
		run->r->read_hot = best;
	}
	for (i = 0; i < run->nlive; i++) {
		uint32_t s = run->live[i];
		const void *p = run->peer->read_begin(run->ctx, run->handle[s], run->buf[0],
						      run->c->obj_size[run->obj[s]]);

		if (p == run->buf[0])
			spanning[ns++] = s;
		else
			inplace[ni++] = s;
		run->peer->read_end(run->ctx, run->handle[s], p);
	}
	timed_reads(run, inplace, ni, ops / 2, &run->r->read_inplace);
	timed_reads(run, spanning, ns, ops / 2, &run->r->read_spanning);
	zsb_shared_free(inplace, run->nlive * sizeof(uint32_t));
	zsb_shared_free(spanning, run->nlive * sizeof(uint32_t));
}

static void phase_free(struct child_run *run)
{
	size_t nfree = (size_t)(run->o->free_fraction * (double)run->nlive), i;
	double t0;

	/* Which ones: a seeded shuffle of the slots, the same for every peer. */
	zsb_shuffle(run->live, run->nlive, run->o->seed ^ 0xf4eeULL);
	t0 = phase_start(run);
	for (i = 0; i < nfree; i++) {
		uint32_t s = run->live[run->nlive - 1 - i];
		size_t len = run->c->obj_size[run->obj[s]];

		run->peer->release(run->ctx, run->handle[s], len);
		run->handle[s] = 0;
		run->payload -= len;
		run->obj[s] = -1;
	}
	run->nlive -= nfree;
	phase_end(run, &run->r->free, zsb_now() - t0, nfree, (uint64_t)nfree * ZSB_PAGE_SIZE);
}

static void phase_compact(struct child_run *run)
{
	double t0 = phase_start(run);
	long reported = run->peer->compact(run->ctx);

	phase_end(run, &run->r->compact, zsb_now() - t0, 1, 0);
	record_breakdown(run, &run->r->compact, &run->r->mem_compact);
	run->r->compact_pages_reported = reported;
}

/* Churns the live slots live[k * nthreads + index]: free one at random and
 * store a random object of the dataset in its place, ops times. */
static int64_t churn(struct child_run *run, unsigned int index, unsigned int nthreads, uint64_t ops)
{
	uint64_t seed = run->o->seed * 7919 + index + 1, i;
	size_t mine = run->nlive / nthreads + (index < run->nlive % nthreads);
	int64_t delta = 0;

	if (mine == 0 || run->nobjslots == 0)
		return 0;
	for (i = 0; i < ops; i++) {
		uint32_t s = run->live[(zsb_rand(&seed) % mine) * nthreads + index];
		uint32_t pick = run->objslots[zsb_rand(&seed) % run->nobjslots];
		int64_t old = run->obj[s];
		int64_t neu = run->c->page_obj[run->d->pages[pick]];

		run->peer->release(run->ctx, run->handle[s], run->c->obj_size[old]);
		run->handle[s] = store_obj(run, neu);
		run->obj[s] = neu;
		delta += (int64_t)run->c->obj_size[neu] - (int64_t)run->c->obj_size[old];
	}
	return delta;
}

static void phase_churn(struct child_run *run)
{
	uint64_t ops = run->o->churn_ops	 ? run->o->churn_ops
		       : run->nobjslots < 500000 ? run->nobjslots
						 : 500000;
	double t0 = phase_start(run);

	run->payload += churn(run, 0, 1, ops);
	phase_end(run, &run->r->churn, zsb_now() - t0, ops, 2 * ops * ZSB_PAGE_SIZE);
}

struct churn_thread {
	struct child_run *run;
	unsigned int index, nthreads;
	uint64_t ops;
	int64_t delta;
};

static void *churn_thread_main(void *arg)
{
	struct churn_thread *t = arg;

	t->delta = churn(t->run, t->index, t->nthreads, t->ops);
	return NULL;
}

static void phase_threads(struct child_run *run)
{
	struct churn_thread *threads = zsb_shared_alloc(ZSB_MAX_THREADS * sizeof(*threads));
	pthread_t tid[ZSB_MAX_THREADS];
	unsigned int n, i;

	for (n = 1; n <= run->o->max_threads; n++) {
		double t0 = zsb_now();
		unsigned int started = 0;

		for (i = 0; i < n; i++) {
			threads[i] = (struct churn_thread){ run, i, n, run->o->thread_ops, 0 };
			if (pthread_create(&tid[i], NULL, churn_thread_main, &threads[i]) != 0)
				break;
			started++;
		}
		for (i = 0; i < started; i++) {
			pthread_join(tid[i], NULL);
			run->payload += threads[i].delta;
		}
		if (started < n)
			child_fail(run, "could not start %u threads", n);
		run->r->thread_ops_per_sec[n] =
			(double)n * (double)run->o->thread_ops / (zsb_now() - t0);
		run->r->nthreads = n;
	}
	zsb_shared_free(threads, ZSB_MAX_THREADS * sizeof(*threads));
}

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

/* Maps the compressed corpus into this child's page tables before anything
 * is timed: its faults are nobody's cost (and it is shared memory, not
 * anonymous, so it does not count as resident either). */
static void prefault_corpus(const struct zsb_corpus *c)
{
	volatile const unsigned char *p = c->blob;
	uint64_t off;

	if (madvise(c->blob, c->blob_len, MADV_POPULATE_READ) == 0)
		return;
	for (off = 0; off < c->blob_len; off += ZSB_PAGE_SIZE)
		(void)p[off];
}

static void child_main(struct child_run *run)
{
	const struct zsb_dataset *d = run->d;
	char why[ZSB_REASON_LEN] = "";
	size_t nbuf = (size_t)ZSB_MAX_THREADS + 1;

	run->handle = zsb_shared_alloc(d->nslots * sizeof(*run->handle));
	run->obj = zsb_shared_alloc(d->nslots * sizeof(*run->obj));
	run->live = zsb_shared_alloc(d->nslots * sizeof(*run->live));
	run->objslots = zsb_shared_alloc(d->nslots * sizeof(*run->objslots));
	run->buf = zsb_shared_alloc(nbuf * ZSB_PAGE_SIZE);
	run->r->rss_honest = !zsb_running_under_sanitizer();
	prefault_corpus(run->c);

	run->base = anon_resident_bytes();
	run->ctx = run->peer->open(why, sizeof(why));
	if (!run->ctx) {
		run->r->status = strncmp(why, "missing", 7) == 0 ? ZSB_MISSING : ZSB_FAILED;
		snprintf(run->r->reason, sizeof(run->r->reason), "%s", why);
		_exit(0);
	}
	phase_fill(run);
	verify_live(run, run->o->verify_all ? 1 : 61);
	phase_read(run);
	phase_free(run);
	phase_compact(run);
	phase_churn(run);
	phase_threads(run);
	verify_live(run, 1);
	if (run->r->verify_errors)
		child_fail(run, "%llu of %llu objects read back wrong",
			   (unsigned long long)run->r->verify_errors,
			   (unsigned long long)run->r->verified);
	run->peer->close(run->ctx);
	run->r->status = ZSB_OK;
	_exit(0);
}

void zsb_run_peer(const struct zsb_peer_ops *peer, const struct zsb_corpus *c,
		  const struct zsb_dataset *d, const struct zsb_options *o, struct zsb_result *r)
{
	struct child_run *run = zsb_shared_alloc(sizeof(*run));
	struct zsb_result *shared = zsb_shared_alloc(sizeof(*shared));
	int wstatus = 0;
	pid_t pid;

	memset(shared, 0, sizeof(*shared));
	snprintf(shared->dataset, sizeof(shared->dataset), "%s", d->name);
	snprintf(shared->peer, sizeof(shared->peer), "%s", peer->name);
	shared->status = ZSB_FAILED;
	snprintf(shared->reason, sizeof(shared->reason), "the child exited without a result");
	shared->compact_pages_reported = -1;
	*run = (struct child_run){ .peer = peer, .c = c, .d = d, .o = o, .r = shared };

	/* Free memory the parent's heap still holds would be reused by the
	 * child without new resident pages: give it back first. */
	malloc_trim(0);
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		snprintf(shared->reason, sizeof(shared->reason), "fork: %s", strerror(errno));
	} else if (pid == 0) {
		child_main(run);
		_exit(0);
	} else {
		double deadline = zsb_now() + o->peer_timeout;
		pid_t done;

		while ((done = waitpid(pid, &wstatus, WNOHANG)) == 0) {
			if (o->peer_timeout > 0 && zsb_now() > deadline) {
				kill(pid, SIGKILL);
				waitpid(pid, &wstatus, 0);
				shared->status = ZSB_TIMEOUT;
				snprintf(shared->reason,
					 sizeof(shared->reason), "timeout: stopped after %.0f s (--peer-timeout); the phases done are reported",
					 o->peer_timeout);
				break;
			}
			usleep(5000);
		}
		if (done == pid && WIFSIGNALED(wstatus)) {
			shared->status = ZSB_FAILED;
			snprintf(shared->reason, sizeof(shared->reason),
				 "the child was killed by signal %d (%s)", WTERMSIG(wstatus),
				 strsignal(WTERMSIG(wstatus)));
		}
	}
	*r = *shared;
	zsb_shared_free(shared, sizeof(*shared));
	zsb_shared_free(run, sizeof(*run));
}

const char *zsb_status_name(enum zsb_status s)
{
	switch (s) {
	case ZSB_OK: return "ok";
	case ZSB_MISSING: return "missing";
	case ZSB_FAILED: return "failed";
	case ZSB_BUSY: return "busy";
	case ZSB_SKIPPED: return "skipped";
	case ZSB_TIMEOUT: return "timeout";
	}
	return "?";
}
