/*
 * workload.h - the zsswap benchmark's workload, run the same way in every
 * peer: a real captured heap copied into a memory area, then random page
 * accesses (most to a hot set), each checking the page's hash, some writing.
 */
#ifndef ZSSWAP_BENCH_WORKLOAD_H
#define ZSSWAP_BENCH_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>

struct workload_config {
	const char *pages_file; /* captured heap, 4 KiB pages */
	size_t bytes;		/* how much of it to use */
	uint64_t accesses;
	size_t hot_bytes;	  /* the hot set: the first pages of the area */
	unsigned int hot_percent; /* accesses that go to the hot set */
	unsigned int write_every; /* one access in this many writes */
	uint64_t seed;
	void (*after_fill)(void *arg); /* if set, called between the phases */
	void *after_fill_arg;
};

/* Latency below which an access counts as served from memory (no fault). */
#define WORKLOAD_FAULT_NS 2000

struct workload_result {
	double fill_s, access_s;	 /* wall time of the two phases */
	uint64_t slow_accesses;		 /* accesses of WORKLOAD_FAULT_NS or more */
	uint64_t slow_hot;		 /* of those, to the hot set in the second
					 * half of the accesses (after warm-up):
					 * refaults of hot pages */
	uint64_t hot_accesses;		 /* accesses to the hot set in the second half */
	double slow_p50_us, slow_p99_us; /* their latency */
	uint64_t bad_pages;		 /* checks that failed: must be 0 */
	uint64_t major_faults;		 /* getrusage's, over both phases */
	uint64_t peak_rss;		 /* VmHWM at the end, bytes */
	uint64_t peak_rss_fill;		 /* VmHWM after the fill */
};

/* A "kB" field of /proc/self/status ("VmHWM", "RssAnon"), in bytes. */
uint64_t workload_status_bytes(const char *field);

/* Runs the workload on mem (bytes long); 0, or -1 with a message. */
int workload_run(const struct workload_config *c, unsigned char *mem, struct workload_result *r);

#endif
