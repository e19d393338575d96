/*
 * bench.h - zsswap-bench: zsswap against the kernel doing the same job
 * (memory cgroup + zram swap) on one workload, side by side in one run.
 *
 *   main.c         options, running the peers, the report
 *   workload.c     the workload, the same code in both peers
 *   zsswap_peer.c  the workload in a zsswap region; running a peer in a child
 *   kernel_peer.c  the workload in a memory cgroup with zram swap; the
 *                  cgroup and zram0 set up and undone
 *   command.c      --run: an unmodified program under both (zsswap-run)
 */
#ifndef ZSSWAP_BENCH_H
#define ZSSWAP_BENCH_H

#include <stdbool.h>

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

/* The kernel peer's pieces (kernel_peer.c).  BENCH_CGROUP is a memory
 * cgroup v1 of ours, made by setup and removed by undo. */
#define BENCH_CGROUP "/sys/fs/cgroup/memory/zsswap-bench"
struct zram_dev;
/* Why the kernel peer cannot run here beyond what zram_dev checks, or NULL. */
const char *bench_kernel_unavailable(void);
/* zram0 (disksize bytes) as lz4 swap and BENCH_CGROUP limited to budget;
 * 0, or -1 with why (then call bench_kernel_undo). */
int bench_kernel_setup(size_t budget, uint64_t disksize, struct zram_dev *dev, char *why, size_t len);
/* swapoff, zram0 reset, BENCH_CGROUP removed: whatever setup did. */
void bench_kernel_undo(struct zram_dev *dev);
/* The calling process joins BENCH_CGROUP: 0 or -errno. */
int bench_join_cgroup(void);
int bench_write_file(const char *path, const char *value);
uint64_t bench_read_u64(const char *path); /* 0 when unreadable */

/* zsswap-bench --run: PROGRAM (argv) under the kernel and under zsswap-run
 * with the same budget; prints the report; the exit status. */
int bench_run_command(size_t budget, const char *algorithm, bool kernel, char **argv);

#endif
