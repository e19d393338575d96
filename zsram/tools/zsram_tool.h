/*
 * zsram_tool.h - the parts of the zsram tool (internal to zsram/tools/):
 *   options.c  the command line
 *   input.c    the pages to load: files, a corpus folder, a live process
 *              (through bench/zs-capture), and the dictionary
 *   io.c       the parallel write and read-and-verify passes, clocks and
 *              resident memory
 *   bench.c    --bench: bare lz4 against the store, and --kernel-zram
 *              through the shared kernel-zram driver (bench/zram_dev.c)
 *   report.c   the report, as text or as one JSON object (--json)
 *   zsram.c    main: the order of the passes
 * Single-threaded except io.c's workers, which share nothing but the store.
 */
#ifndef ZSRAM_TOOL_H
#define ZSRAM_TOOL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <zsram.h>

#define TOOL_PROG "zsram"

struct options {
	struct zsram_config cfg;
	const char *dict_file;
	size_t train_dict;			      /* 0: no training; else dictionary bytes */
	bool auto_dict_size_set;		      /* --auto-dict-size given */
	bool rest_level_set;			      /* --rest-level given */
	uint64_t writeback_limit;		      /* --writeback-limit, bytes; 0: none */
	const char *alg_params[ZSRAM_MAX_RECOMP + 1]; /* --algorithm-params */
	void *alg_params_dict[ZSRAM_MAX_RECOMP + 1];  /* their dictionaries */
	unsigned int nr_alg_params;
	const char *corpus_dir;
	long pid; /* 0: none */
	unsigned int threads;
	double discard; /* fraction, 0: none */
	uint64_t seed;
	size_t recomp_threshold;
	bool recompress;
	bool class_stats;
	bool bench;
	bool kernel_zram;
	bool json; /* --json: the report as JSON on stdout */
	char **files;
	int nr_files;
};

/* The pages to load: one buffer of nr_pages * page_size bytes. */
struct input {
	unsigned char *pages;
	uint64_t nr_pages;
	size_t cap_bytes;
};

/* options.c: fills *o or exits with status 2 and a message. */
void tool_parse_options(int argc, char **argv, struct options *o);
__attribute__((noreturn, format(printf, 1, 2))) void tool_die_usage(const char *fmt, ...);

/* input.c: a dictionary file's bytes (malloc'ed); exits with a message when
 * it cannot be read. */
void *tool_read_dict(const char *path, size_t *size);
/* input.c: 0, or -1 with a message on stderr. */
int tool_load_input(struct input *in, const struct options *o);
/* The dictionary of --dict or --train-dict (NULL: none); exits on failure. */
void *tool_dictionary(const struct options *o, const struct input *in, size_t *size);

/* io.c */
double tool_now(void);
double tool_thread_cpu(void);
uint64_t tool_rss_anon(void);
double tool_mib(uint64_t bytes);

struct io_totals {
	uint64_t errors, mismatches, refused;
	int first_err;
	double cpu_seconds; /* all threads */
};

/* Writes every page (refused[i] set for pages refused with ENOSPC) or reads
 * and compares every page, on threads threads; returns wall seconds.  With
 * a progress label, draws the progress bar (tools/cli) as it goes. */
double tool_run_io(struct zsram *store, const struct input *in, unsigned int threads, bool write,
		   uint8_t *refused, const char *progress, struct io_totals *total);
void tool_print_mm_stat(const struct zsram_mm_stat *mm, const char *label);

/* What a run measured, for the report (report.c). */
struct run_report {
	double write_s, write_cpu, read_s, read_cpu; /* wall and CPU seconds */
	uint64_t rss_growth;			     /* RssAnon growth over the load */
	uint64_t refused;			     /* pages refused under --mem-limit */
	bool verified;				     /* every page read back as written */
	uint64_t read_errors, mismatches;
	struct zsram_mm_stat mm; /* the store after loading */
	struct zsram_io_stat io;
	struct zsram_bd_stat bd;
	long recomp_pages; /* --recompress */
	struct zsram_recomp_stat recomp;
	double recomp_s;
	struct zsram_dict_stat dict; /* the automatic dictionary, after loading */
	double dict_s;		     /* waiting for it after the write pass */
	uint64_t discarded;	     /* --discard */
	unsigned long compact_freed;
	double compact_ms;
	bool verified_after_discard;
	struct zsram_mm_stat mm_after_discard;
};

/* report.c: the text report, or with --json one JSON object, on stdout. */
void tool_report(const struct options *o, const struct input *in, const struct run_report *r);

/* bench.c: the process's exit status. */
int tool_run_bench(const struct options *o, const struct input *in);

#endif /* ZSRAM_TOOL_H */
