/*
 * command.c - zsswap-bench --run: one unmodified program, run three times
 * one after the other with its output kept: alone (no budget; its wall time
 * and output are what the others are compared with), under the kernel
 * (BENCH_CGROUP limited to the budget, zram0 as lz4 swap) and under
 * zsswap-run with the same budget.
 *
 * Memory is measured the same way for both: the peak charge of the memory
 * cgroup v1 the program runs in (memory.max_usage_in_bytes: anonymous
 * memory and the page cache it brings in), plus, for the kernel, zram's
 * mem_used_max, since compressed pages live outside the cgroup.  The
 * zsswap-run run is in BENCH_CGROUP too, without a limit, so that its pool,
 * metadata and fault handler, all inside the process, are charged like the
 * kernel's resident pages.  The run alone goes first, so that the program's
 * files are in the page cache (charged to nobody of ours) for both.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "cli.h"
#include "zram_dev.h"

#define SWAP_BYTES (2ull << 30) /* zram0's disksize: room for what is swapped */

struct run_result {
	char missing[160];
	double wall_s;
	int status;				/* as from waitpid */
	uint64_t maxrss;			/* largest process of the tree */
	uint64_t cgroup_peak;			/* 0: not measured */
	uint64_t zram_max;			/* kernel only */
	unsigned long long stores, loads, pool; /* zsswap-run's --stats */
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Runs argv with stdout into out_path (stdin /dev/null), in BENCH_CGROUP
 * when in_cgroup; fills wall time, status and maxrss. */
static void run_program(char **argv, const char *out_path, bool in_cgroup, struct run_result *r)
{
	struct rusage ru;
	double start = now_s();
	pid_t pid = fork();

	if (pid < 0) {
		snprintf(r->missing, sizeof(r->missing), "fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		int in = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (out < 0 || in < 0 || dup2(out, 1) < 0 || dup2(in, 0) < 0)
			_exit(125);
		if (in_cgroup && bench_join_cgroup()) {
			fprintf(stderr, "zsswap-bench: cannot join %s\n", BENCH_CGROUP);
			_exit(125);
		}
		execvp(argv[0], argv);
		fprintf(stderr, "zsswap-bench: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	while (wait4(pid, &r->status, 0, &ru) < 0 && errno == EINTR)
		;
	r->wall_s = now_s() - start;
	r->maxrss = (uint64_t)ru.ru_maxrss * 1024; /* wait4: the child and its reaped children */
	if (!WIFEXITED(r->status) || WEXITSTATUS(r->status) != 0)
		snprintf(r->missing, sizeof(r->missing), "%s exited with status %d%s", argv[0],
			 WIFEXITED(r->status) ? WEXITSTATUS(r->status) : 128 + WTERMSIG(r->status),
			 WIFSIGNALED(r->status) ? " (a signal: out of memory?)" : "");
}

static void run_kernel(size_t budget, char **argv, const char *out_path, struct run_result *r)
{
	const char *why = bench_kernel_unavailable();
	struct zram_dev dev = { .lock_fd = -1, .fd = -1 };
	uint64_t mm[9] = { 0 };

	if (why) {
		snprintf(r->missing, sizeof(r->missing), "%s", why);
		return;
	}
	if (bench_kernel_setup(budget, SWAP_BYTES, &dev, r->missing, sizeof(r->missing)) == 0) {
		run_program(argv, out_path, true, r);
		r->cgroup_peak = bench_read_u64(BENCH_CGROUP "/memory.max_usage_in_bytes");
		if (zram_dev_mm_stat(mm) == 0)
			r->zram_max = mm[4];
	}
	bench_kernel_undo(&dev);
}

static unsigned long long stat_of(const char *path, const char *key)
{
	FILE *f = fopen(path, "r");
	char k[64];
	unsigned long long v, found = 0;

	while (f && fscanf(f, "%63s %llu", k, &v) == 2)
		if (strcmp(k, key) == 0)
			found = v;
	if (f)
		fclose(f);
	return found;
}

/* zsswap-run next to this program (the build tree, or an installed bin),
 * else the one on PATH. */
static const char *zsswap_run_path(char *buf, size_t len)
{
	const char *dir = zs_cli_exe_dir();

	if (dir) {
		snprintf(buf, len, "%s/zsswap-run", dir);
		if (access(buf, X_OK) == 0)
			return buf;
	}
	return "zsswap-run";
}

static void run_zsswap(size_t budget, const char *algorithm, char **argv, const char *dir,
		       const char *out_path, struct run_result *r)
{
	char run[4096], size[32], stats[4096];
	int argc = 0;

	while (argv[argc])
		argc++;
	char **args = calloc((size_t)argc + 9, sizeof(*args));
	int n = 0;

	if (!args) {
		snprintf(r->missing, sizeof(r->missing), "out of memory");
		return;
	}
	snprintf(size, sizeof(size), "%zu", budget);
	snprintf(stats, sizeof(stats), "%s/stats", dir);
	args[n++] = (char *)zsswap_run_path(run, sizeof(run));
	args[n++] = "--max-resident";
	args[n++] = size;
	args[n++] = "--stats";
	args[n++] = stats;
	if (algorithm) {
		args[n++] = "--algorithm";
		args[n++] = (char *)algorithm;
	}
	args[n++] = "--";
	memcpy(args + n, argv, (size_t)argc * sizeof(*args));
	/* Measured in the cgroup when the kernel peer could make one. */
	bool cgroup = geteuid() == 0 && mkdir(BENCH_CGROUP, 0755) == 0;

	run_program(args, out_path, cgroup, r);
	if (cgroup) {
		r->cgroup_peak = bench_read_u64(BENCH_CGROUP "/memory.max_usage_in_bytes");
		rmdir(BENCH_CGROUP);
	}
	r->stores = stat_of(stats, "stores");
	r->loads = stat_of(stats, "loads");
	r->pool = stat_of(stats, "pool_total_size");
	free(args);
}

static bool same_file(const char *a, const char *b)
{
	FILE *fa = fopen(a, "r"), *fb = fopen(b, "r");
	bool same = fa && fb;
	int ca, cb;

	while (same) {
		ca = getc(fa);
		cb = getc(fb);
		same = ca == cb;
		if (ca == EOF)
			break;
	}
	if (fa)
		fclose(fa);
	if (fb)
		fclose(fb);
	return same;
}

static double mb(uint64_t bytes)
{
	return bytes / 1048576.0;
}

static void report(const char *name, const struct run_result *r, const struct run_result *kernel,
		   const char *out, const char *alone_out)
{
	if (r->missing[0]) {
		printf("  %-10s missing: %s\n", name, r->missing);
		return;
	}
	printf("  %-10s %8.2f", name, r->wall_s);
	if (kernel && !kernel->missing[0])
		printf(" %8.2fx", r->wall_s / kernel->wall_s);
	else
		printf(" %9s", "");
	if (r->cgroup_peak)
		printf(" %9.1f", mb(r->cgroup_peak + r->zram_max));
	else
		printf(" %9s", "-");
	printf(" %9.1f  %s", mb(r->maxrss),
	       !alone_out || same_file(out, alone_out) ? "same" : "DIFFERS");
	if (r->zram_max)
		printf("; cgroup peak %.1f + zram mem_used_max %.1f", mb(r->cgroup_peak),
		       mb(r->zram_max));
	if (r->stores)
		printf("; %llu stores, %llu loads, pool at exit %.1f MB", r->stores, r->loads,
		       mb(r->pool));
	printf("\n");
}

int bench_run_command(size_t budget, const char *algorithm, bool kernel, char **argv)
{
	char dir[] = "/tmp/zsswap-bench-run-XXXXXX", alone_out[64], kernel_out[64], zs_out[64];
	struct run_result alone = { 0 }, k = { 0 }, z = { 0 };
	int bad;

	if (!mkdtemp(dir)) {
		fprintf(stderr, "zsswap-bench: mkdtemp: %s\n", strerror(errno));
		return 2;
	}
	snprintf(alone_out, sizeof(alone_out), "%s/alone", dir);
	snprintf(kernel_out, sizeof(kernel_out), "%s/kernel", dir);
	snprintf(zs_out, sizeof(zs_out), "%s/zsswap", dir);
	printf("program:");
	for (char **a = argv; *a; a++)
		printf(" %s", *a);
	printf("\nbudget %zu MB; memory: the peak charge of the memory cgroup the program ran in\n"
	       "(+ zram's mem_used_max for the kernel); maxrss: its largest process\n",
	       budget >> 20);
	run_program(argv, alone_out, false, &alone);
	if (kernel)
		run_kernel(budget, argv, kernel_out, &k);
	else
		snprintf(k.missing, sizeof(k.missing), "not run (--no-kernel)");
	run_zsswap(budget, algorithm, argv, dir, zs_out, &z);
	printf("  run          wall s  x kernel memory MB maxrss MB  output\n");
	report("alone", &alone, NULL, alone_out, NULL);
	report("kernel", &k, NULL, kernel_out, alone_out);
	report("zsswap-run", &z, &k, zs_out, alone_out);
	bad = alone.missing[0] || z.missing[0] || !same_file(zs_out, alone_out) ||
	      (!k.missing[0] && !same_file(kernel_out, alone_out));
	unlink(alone_out);
	unlink(kernel_out);
	unlink(zs_out);
	char stats[64];

	snprintf(stats, sizeof(stats), "%s/stats", dir);
	unlink(stats);
	rmdir(dir);
	return bad ? 1 : 0;
}
