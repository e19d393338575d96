/*
 * main.c - zsswap-bench: options, the two peers, the report.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: zsswap-bench [options]\n"
		"       zsswap-bench --run [--budget-mb N] [--algorithm A] [--no-kernel] -- "
		"PROGRAM [ARG]...\n"
		"Runs one workload in a zsswap region and in the kernel doing the same job\n"
		"(a memory cgroup v1 with /dev/zram0 as lz4 swap; root, undone after), side\n"
		"by side: a captured heap copied in, then random page accesses, most to a hot\n"
		"set, each checking the page, some writing it.\n"
		"  --pages FILE      captured heap, 4 KiB pages (default: zsbench's python\n"
		"                    capture, %s)\n"
		"  --mb N            megabytes of it to use (default 160)\n"
		"  --budget-mb N     resident budget (default 32)\n"
		"  --accesses N      page accesses (default 200000)\n"
		"  --hot-mb N        hot set (default 8); --hot-percent P (default 90)\n"
		"  --write-every N   one access in N writes (default 4)\n"
		"  --algorithm A     zsswap's algorithm[:level] (default lz4)\n"
		"  --no-kernel       zsswap only\n"
		"  --run             instead: PROGRAM alone, in the kernel's cgroup + zram\n"
		"                    under the budget, and under zsswap-run with it (found\n"
		"                    next to zsswap-bench, else on PATH); wall time, peak\n"
		"                    memory and whether the output is the same\n"
		"  --help\n",
		ZSSWAP_BENCH_PAGES);
}

static size_t mb(const char *s, const char *opt)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v == 0 || v > (1ul << 20)) {
		fprintf(stderr, "zsswap-bench: %s: '%s' is not a number of megabytes\n", opt, s);
		exit(2);
	}
	return (size_t)v << 20;
}

static void report(const char *name, const struct bench_result *r, const struct bench_result *base)
{
	if (r->missing[0]) {
		printf("  %-8s missing: %s\n", name, r->missing);
		return;
	}
	printf("  %-8s %9.3f %9.3f %8.2f %10.1f %8llu %8.1f %8.1f %9llu %8.3f%% %6llu", name,
	       r->work.fill_s, r->work.access_s,
	       base && !base->missing[0] ? r->work.access_s / base->work.access_s : 1.0,
	       r->total_memory / 1048576.0, (unsigned long long)r->work.slow_accesses,
	       r->work.slow_p50_us, r->work.slow_p99_us, (unsigned long long)r->work.major_faults,
	       r->work.hot_accesses ? 100.0 * r->work.slow_hot / r->work.hot_accesses : 0.0,
	       (unsigned long long)r->work.bad_pages);
	if (r->kernel_cgroup_peak)
		printf("   cgroup peak %.1f MB + zram mem_used_max %.1f MB",
		       r->kernel_cgroup_peak / 1048576.0, r->kernel_zram_max / 1048576.0);
	else
		printf("   loads %llu, stored %llu, pool %.1f MB",
		       (unsigned long long)r->stats.loads, (unsigned long long)r->stats.stored_pages,
		       r->stats.pool_total_size / 1048576.0);
	printf("\n");
}

/* zsswap's memory by part, against the RssAnon measured at that moment. */
static void print_breakdown(const char *when, const struct zsswap_memory *m, uint64_t before,
			    uint64_t rss)
{
	double sum = (double)(before + m->total);

	printf("zsswap's memory %s, MB: process before the region %.2f + "
	       "resident region pages %.2f + pool pages %.2f + pool metadata %.2f + "
	       "page table %.2f + codec buffers %.2f = %.2f; RssAnon %.2f (%+.2f%%)\n",
	       when, before / 1048576.0, m->resident / 1048576.0, m->pool_pages / 1048576.0,
	       m->pool_metadata / 1048576.0, m->page_table / 1048576.0, m->buffers / 1048576.0,
	       sum / 1048576.0, rss / 1048576.0, 100.0 * ((double)rss - sum) / (double)rss);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "pages", required_argument, NULL, 'p' },
					      { "mb", required_argument, NULL, 'm' },
					      { "budget-mb", required_argument, NULL, 'b' },
					      { "accesses", required_argument, NULL, 'a' },
					      { "hot-mb", required_argument, NULL, 'h' },
					      { "hot-percent", required_argument, NULL, 'P' },
					      { "write-every", required_argument, NULL, 'w' },
					      { "algorithm", required_argument, NULL, 'A' },
					      { "no-kernel", no_argument, NULL, 'K' },
					      { "run", no_argument, NULL, 'R' },
					      { "help", no_argument, NULL, 'H' },
					      { 0 } };
	struct bench_config b = {
		.work = { .pages_file = ZSSWAP_BENCH_PAGES,
			  .bytes = 160u << 20,
			  .accesses = 200000,
			  .hot_bytes = 8u << 20,
			  .hot_percent = 90,
			  .write_every = 4,
			  .seed = 1 },
		.budget = 32u << 20,
	};
	struct bench_result k = { 0 }, z;
	int kernel = 1, command = 0, c;

	/* "+": options end at PROGRAM, whose own options are its own */
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'p': b.work.pages_file = optarg; break;
		case 'm': b.work.bytes = mb(optarg, "--mb"); break;
		case 'b': b.budget = mb(optarg, "--budget-mb"); break;
		case 'a': b.work.accesses = strtoull(optarg, NULL, 10); break;
		case 'h': b.work.hot_bytes = mb(optarg, "--hot-mb"); break;
		case 'P': b.work.hot_percent = (unsigned int)atoi(optarg); break;
		case 'w': b.work.write_every = (unsigned int)atoi(optarg); break;
		case 'A': b.algorithm = optarg; break;
		case 'K': kernel = 0; break;
		case 'R': command = 1; break;
		case 'H': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (command) {
		if (optind == argc) {
			fprintf(stderr, "zsswap-bench: --run needs a PROGRAM\n");
			usage(stderr);
			return 2;
		}
		return bench_run_command(b.budget, b.algorithm, kernel, argv + optind);
	}
	if (optind < argc || b.work.accesses == 0 || b.work.hot_percent > 100 ||
	    b.work.write_every == 0 || b.work.hot_bytes > b.work.bytes) {
		usage(stderr);
		return 2;
	}
	printf("workload: %zu MB of %s, %llu accesses (%u%% to %zu MB), one in %u writes, "
	       "budget %zu MB\n",
	       b.work.bytes >> 20, b.work.pages_file, (unsigned long long)b.work.accesses,
	       b.work.hot_percent, b.work.hot_bytes >> 20, b.work.write_every, b.budget >> 20);
	if (kernel)
		bench_run_kernel(&b, &k);
	bench_run_zsswap(&b, &z);
	printf("  peer       fill s  access s  xkernel  memory MB   faults  p50 us   p99 us    "
	       "majflt  hot-ref    bad\n");
	printf("  (faults: accesses of %d us or more, their latency p50/p99; hot-ref: hot-set "
	       "accesses\n"
	       "   that faulted in the second half, after warm-up; memory: zsswap's peak RSS,\n"
	       "   the kernel's cgroup peak + zram mem_used_max)\n",
	       WORKLOAD_FAULT_NS / 1000);
	if (kernel)
		report("kernel", &k, NULL);
	report("zsswap", &z, kernel ? &k : NULL);
	if (!z.missing[0]) {
		printf("zsswap's peak RSS: %.1f MB after the fill, %.1f MB at the end\n",
		       z.work.peak_rss_fill / 1048576.0, z.work.peak_rss / 1048576.0);
		print_breakdown("after the fill", &z.mem_fill, z.rss_before, z.rss_fill);
		print_breakdown("at the end", &z.mem, z.rss_before, z.rss_end);
	}
	return (z.missing[0] || z.work.bad_pages || k.work.bad_pages) ? 1 : 0;
}
