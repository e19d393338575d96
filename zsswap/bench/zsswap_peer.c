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

uint64_t bench_rss_anon(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long long kb = 0;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "RssAnon: %llu kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb * 1024;
}

int bench_run_zsswap(const struct bench_config *b, struct bench_result *out)
{
	int pipefd[2], status;
	pid_t pid;

	memset(out, 0, sizeof(*out));
	if (pipe(pipefd))
		return -1;
	pid = fork();
	if (pid == 0) {
		struct bench_result r = { 0 };
		struct zsswap_config c;
		struct zsswap *z;

		r.rss_before = bench_rss_anon();
		zsswap_config_init(&c);
		c.size = b->work.bytes;
		c.max_resident = b->budget;
		c.algorithm = b->algorithm;
		z = zsswap_create(&c);
		if (!z) {
			snprintf(r.missing, sizeof(r.missing), "%s", zsswap_last_error());
		} else if (workload_run(&b->work, zsswap_base(z), &r.work)) {
			snprintf(r.missing, sizeof(r.missing), "the workload failed");
		} else {
			zsswap_get_stats(z, &r.stats);
			zsswap_memory(z, &r.mem);
			r.rss_end = bench_rss_anon();
			r.total_memory = r.work.peak_rss;
		}
		if (write(pipefd[1], &r, sizeof(r)) != sizeof(r))
			_exit(4);
		_exit(0);
	}
	close(pipefd[1]);
	if (read(pipefd[0], out, sizeof(*out)) != sizeof(*out))
		snprintf(out->missing, sizeof(out->missing), "the child died");
	close(pipefd[0]);
	waitpid(pid, &status, 0);
	return 0;
}
