/*
 * bench.h - zsswap-bench: zsswap against the kernel doing the same job
 * (memory cgroup + zram swap) on one workload, side by side in one run.
 *
 *   main.c         options, running the peers, the report
 *   workload.c     the workload, the same code in both peers
 *   zsswap_peer.c  the workload in a zsswap region; running a peer in a child
 *   kernel_peer.c  the workload in a memory cgroup with zram swap
 */
#ifndef ZSSWAP_BENCH_H
#define ZSSWAP_BENCH_H

#include <zsswap.h>

#include "workload.h"

struct bench_config {
	struct workload_config work;
	size_t budget;	       /* max_resident, memory.limit_in_bytes */
	const char *algorithm; /* zsswap's; the kernel's zram uses lz4 */
};

struct bench_result {
	char missing[160]; /* why the peer did not run, or "" */
	struct workload_result work;
	uint64_t total_memory; /* zsswap: peak RSS; kernel: cgroup peak + zram max */
	uint64_t kernel_cgroup_peak, kernel_zram_max;
	struct zsswap_stats stats;     /* zsswap only: */
	struct zsswap_memory mem;      /* the region's memory at the end */
	struct zsswap_memory mem_fill; /* and after the fill */
	uint64_t rss_fill;	       /* RssAnon after the fill */
	uint64_t rss_before, rss_end;  /* RssAnon before create, at the end */
};

int bench_run_zsswap(const struct bench_config *b, struct bench_result *out);
void bench_in_child(const struct bench_config *b, struct bench_result *out,
		    void (*run)(const struct bench_config *, struct bench_result *));
int bench_run_kernel(const struct bench_config *b, struct bench_result *out);

#endif
