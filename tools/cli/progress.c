/*
 * progress.c - the progress bar of the installed tools (see cli.h):
 *
 *   load [#########...........]  45.0 MiB / 100.0 MiB  120.3 MiB/s  0:00:01 left
 *
 * Redrawn in place with '\r' at most every 100 ms, by whichever thread
 * adds bytes when the time has come (the others do not wait); the last
 * draw, from zs_progress_end, ends the line.
 */
#define _GNU_SOURCE
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define REDRAW_NS 100000000LL
#define BAR_WIDTH 24

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

bool zs_progress_wanted(void)
{
	const char *env = getenv("ZS_PROGRESS");

	if (env && *env)
		return strcmp(env, "0") != 0;
	return isatty(STDERR_FILENO);
}

void zs_progress_begin(struct zs_progress *p, const char *label, uint64_t total, bool allowed)
{
	p->label = label;
	p->total = total;
	atomic_init(&p->done, 0);
	atomic_init(&p->next_ns, 0);
	atomic_flag_clear(&p->drawing);
	p->start = (double)now_ns() / 1e9;
	p->on = allowed && zs_progress_wanted();
}

static double mib(uint64_t bytes)
{
	return (double)bytes / (1024.0 * 1024.0);
}

static void draw(struct zs_progress *p, uint64_t done, bool last)
{
	double elapsed = (double)now_ns() / 1e9 - p->start;
	double rate = elapsed > 0 ? (double)done / elapsed : 0;
	char bar[BAR_WIDTH + 1], left[32] = "";
	unsigned int filled = 0;

	if (p->total) {
		if (done > p->total)
			done = p->total;
		filled = (unsigned int)((double)done / (double)p->total * BAR_WIDTH);
	}
	memset(bar, '#', filled);
	memset(bar + filled, '.', BAR_WIDTH - filled);
	bar[BAR_WIDTH] = 0;
	if (last) {
		snprintf(left, sizeof(left), "%.1f s", elapsed);
	} else if (p->total && rate > 0) {
		unsigned long s = (unsigned long)((double)(p->total - done) / rate + 0.5);

		snprintf(left, sizeof(left), "%lu:%02lu:%02lu left", s / 3600, s / 60 % 60, s % 60);
	} else {
		snprintf(left, sizeof(left), "-:--:-- left");
	}
	fprintf(stderr, "\r%s [%s] %7.1f MiB / %.1f MiB %7.1f MiB/s  %s\033[K%s", p->label, bar,
		mib(done), mib(p->total), mib((uint64_t)rate), left, last ? "\n" : "");
	fflush(stderr);
}

void zs_progress_add(struct zs_progress *p, uint64_t bytes)
{
	uint64_t done = atomic_fetch_add_explicit(&p->done, bytes, memory_order_relaxed) + bytes;
	int64_t t;

	if (!p->on)
		return;
	t = now_ns();
	if (t < atomic_load_explicit(&p->next_ns, memory_order_relaxed))
		return;
	if (atomic_flag_test_and_set_explicit(&p->drawing, memory_order_acquire))
		return;
	atomic_store_explicit(&p->next_ns, t + REDRAW_NS, memory_order_relaxed);
	draw(p, done, false);
	atomic_flag_clear_explicit(&p->drawing, memory_order_release);
}

void zs_progress_clear(struct zs_progress *p)
{
	if (!p->on)
		return;
	fprintf(stderr, "\r\033[K");
	atomic_store(&p->next_ns, 0); /* draw again at the next add */
}

void zs_progress_end(struct zs_progress *p)
{
	if (!p->on)
		return;
	while (atomic_flag_test_and_set_explicit(&p->drawing, memory_order_acquire))
		;
	draw(p, atomic_load(&p->done), true);
	p->on = false;
	atomic_flag_clear_explicit(&p->drawing, memory_order_release);
}
