/*
 * cli.h - what the installed tools (zsram, zsbench, zsram-train-dict) share
 * on their command line: --version, finding a helper program installed
 * beside them, and the progress bar on stderr.  Internal to the tree's
 * tools; never installed.
 */
#ifndef ZS_CLI_H
#define ZS_CLI_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Prints "PROG (zsmalloc) VERSION" to stdout. */
void zs_cli_print_version(const char *prog);

/*
 * The program NAME in the folder of the running executable when it is
 * there and executable (an installed tool finds its installed helper);
 * otherwise in_tree (the build tree's copy).  The result stays valid until
 * the next call.
 */
const char *zs_cli_helper_path(const char *name, const char *in_tree);

/* The folder of the running executable ("" when unknown). */
const char *zs_cli_exe_dir(void);

/* "123", "64K", "48M", "1G", "2TiB", "512KB": bytes, powers of 1024.
 * 0, or -1 for anything else (a sign, a fraction, junk, overflow). */
int zs_cli_parse_size(const char *s, uint64_t *bytes);

/* True when the running executable is in the folder dir: where the build
 * tree puts it (the tree's defaults apply), and not where it is installed. */
bool zs_cli_runs_from(const char *dir);

/*
 * A progress bar on stderr: label, bar, bytes done of total, rate and time
 * left, redrawn at most 10 times a second.  On only when stderr is a
 * terminal, or when ZS_PROGRESS=1 (tests); ZS_PROGRESS=0 turns it off.
 * zs_progress_add may be called from any thread.
 */
struct zs_progress {
	const char *label;
	uint64_t total;		 /* bytes; 0: unknown */
	_Atomic uint64_t done;	 /* bytes */
	_Atomic int64_t next_ns; /* monotonic time of the next redraw */
	atomic_flag drawing;	 /* one thread draws at a time */
	double start;		 /* seconds, monotonic */
	bool on;
};

/* Whether a bar would be drawn now (terminal or ZS_PROGRESS=1). */
bool zs_progress_wanted(void);
void zs_progress_begin(struct zs_progress *p, const char *label, uint64_t total, bool allowed);
void zs_progress_add(struct zs_progress *p, uint64_t bytes);
/* Clears the bar's line, so that a line of text can be printed in its
 * place; the next zs_progress_add draws the bar again below it. */
void zs_progress_clear(struct zs_progress *p);
/* Draws the final state and ends the line. */
void zs_progress_end(struct zs_progress *p);

#endif /* ZS_CLI_H */
