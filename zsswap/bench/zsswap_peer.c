/*
 * zsswap_peer.c - the workload in a zsswap region whose budget is the
 * benchmark's, run in a forked child so that its peak RSS is its own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

/* Runs run(b, &r) in a forked child and brings r back through a pipe, so
 * that the child's memory figures are its own. */
void bench_in_child(const struct bench_config *b, struct bench_result *out,
		    void (*run)(const struct bench_config *, struct bench_result *))
{
	int pipefd[2], status;
	pid_t pid;

	memset(out, 0, sizeof(*out));
	if (pipe(pipefd) || (pid = fork()) < 0) {
		snprintf(out->missing, sizeof(out->missing), "cannot start a child");
		return;
	}
	if (pid == 0) {
		struct bench_result r = { 0 };

		run(b, &r);
		_exit(write(pipefd[1], &r, sizeof(r)) == sizeof(r) ? 0 : 4);
	}
	close(pipefd[1]);
	if (read(pipefd[0], out, sizeof(*out)) != sizeof(*out))
		snprintf(out->missing, sizeof(out->missing), "the workload died (killed?)");
	close(pipefd[0]);
	waitpid(pid, &status, 0);
}

struct fill_probe {
	struct zsswap *z;
	struct bench_result *r;
};

static void after_fill(void *arg)
{
	struct fill_probe *f = arg;

	zsswap_memory(f->z, &f->r->mem_fill);
	f->r->rss_fill = workload_status_bytes("RssAnon");
}

static void run_zsswap(const struct bench_config *b, struct bench_result *r)
{
	struct workload_config work = b->work;
	struct zsswap_config c;
	struct fill_probe probe = { .r = r };
	struct zsswap *z;

	r->rss_before = workload_status_bytes("RssAnon");
	zsswap_config_init(&c);
	c.size = b->work.bytes;
	c.max_resident = b->budget;
	c.algorithm = b->algorithm;
	z = zsswap_create(&c);
	if (!z) {
		snprintf(r->missing, sizeof(r->missing), "%s", zsswap_last_error());
	} else if (probe.z = z, work.after_fill = after_fill, work.after_fill_arg = &probe,
		   workload_run(&work, zsswap_base(z), &r->work)) {
		snprintf(r->missing, sizeof(r->missing), "the workload failed");
	} else {
		zsswap_get_stats(z, &r->stats);
		zsswap_memory(z, &r->mem);
		r->rss_end = workload_status_bytes("RssAnon");
		r->total_memory = r->work.peak_rss;
	}
}

int bench_run_zsswap(const struct bench_config *b, struct bench_result *out)
{
	bench_in_child(b, out, run_zsswap);
	return 0;
}
