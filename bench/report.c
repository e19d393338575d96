/*
 * report.c - zsbench's output: the readable table, the JSON file, the plot.
 *
 * Overhead is resident memory over live payload, minus one, in percent:
 * (anonymous resident bytes the peer added - stored bytes) / stored bytes.
 * For zram it is the kernel's mem_used_total over compr_data_size (pages
 * only).  The plot is drawn by gnuplot when it is installed; without it the
 * run says so and goes on.
 */
#define _GNU_SOURCE
#include "zsbench.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Overhead in percent of a phase, NAN when unknown. */
static double overhead_pct(const struct zsb_phase *p)
{
	if (!p->valid || p->anon_bytes < 0 || p->payload == 0)
		return NAN;
	return ((double)p->anon_bytes - (double)p->payload) * 100.0 / (double)p->payload;
}

static double ns_per_op(const struct zsb_phase *p)
{
	if (!p->valid || p->ops == 0)
		return NAN;
	return p->seconds * 1e9 / (double)p->ops;
}

static double mb_per_s(const struct zsb_phase *p)
{
	if (!p->valid || p->seconds <= 0)
		return NAN;
	return (double)p->page_bytes / 1e6 / p->seconds;
}

/* Pages the peer holds: its own count, else resident anonymous pages. */
static double pages_used(const struct zsb_phase *p)
{
	if (!p->valid)
		return NAN;
	if (p->pool_pages >= 0)
		return (double)p->pool_pages;
	return p->anon_bytes < 0 ? NAN : (double)p->anon_bytes / ZSB_PAGE_SIZE;
}

/* Pages-only overhead: the allocator's own page count over the payload. */
static double pages_only_pct(const struct zsb_phase *p)
{
	if (!p->valid || p->pool_pages < 0 || p->payload == 0)
		return NAN;
	return ((double)p->pool_pages * ZSB_PAGE_SIZE - (double)p->payload) * 100.0 /
	       (double)p->payload;
}

/* A result whose phases can be shown: complete, or stopped by the timeout. */
static int usable(const struct zsb_result *x)
{
	return x && (x->status == ZSB_OK || x->status == ZSB_TIMEOUT);
}

static const struct zsb_result *find(const struct zsb_result *r, size_t n, const char *dataset,
				     const char *peer)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(r[i].dataset, dataset) == 0 && strcmp(r[i].peer, peer) == 0)
			return &r[i];
	return NULL;
}

static void cell(FILE *out, int width, const char *fmt, double v)
{
	if (isnan(v))
		fprintf(out, " %*s", width, "-");
	else
		fprintf(out, " %*.*f", width, fmt[0] - '0', v);
}

/* ---- memory breakdown ---- */

/*
 * The breakdown sets the allocator's own account (zs_pool_memory() for
 * zsmalloc) against the resident growth the child measured: payload + parts
 * should be that growth.  What is left is memory that malloc holds for the
 * pool beyond what the pool reports: rounding, and free lists (metadata
 * freed after frees and compaction, e.g. slot maps of freed zspages, stays
 * resident in malloc's bins), and fixed costs.  The largest fixed one seen
 * is the pool's first big calloc (the 512 KiB handle directory): the child
 * inherits a heap whose mmap threshold the parent's frees have raised, so
 * malloc serves the directory from the heap and calloc clears the old top of
 * it, about 128 KiB, where the pool counts only the pages it touched.  At
 * smoke sizes (~1-4 MB) these fixed costs are several % of the growth, hence
 * a floor on the tolerance; above it, 2% of the growth.
 */
#define ZSB_BREAKDOWN_TOLERANCE_PCT 2
#define ZSB_BREAKDOWN_TOLERANCE_FLOOR (256 * 1024)

static int64_t breakdown_sum(const struct zsb_breakdown *b)
{
	int64_t sum = (int64_t)b->payload;
	unsigned int i;

	for (i = 0; i < b->nparts; i++)
		sum += b->part[i].bytes;
	return sum;
}

static int64_t breakdown_group(const struct zsb_breakdown *b, enum zsb_part_group g)
{
	int64_t sum = 0;
	unsigned int i;

	for (i = 0; i < b->nparts; i++)
		if (b->part[i].group == g)
			sum += b->part[i].bytes;
	return sum;
}

int64_t zsb_breakdown_difference(const struct zsb_breakdown *b)
{
	return b->measured - breakdown_sum(b);
}

int64_t zsb_breakdown_tolerance(const struct zsb_breakdown *b)
{
	int64_t pct = b->measured > 0 ? b->measured * ZSB_BREAKDOWN_TOLERANCE_PCT / 100 : 0;

	return pct > ZSB_BREAKDOWN_TOLERANCE_FLOOR ? pct : ZSB_BREAKDOWN_TOLERANCE_FLOOR;
}

static int breakdown_within(const struct zsb_breakdown *b)
{
	int64_t diff = zsb_breakdown_difference(b);

	return b->measured >= 0 && llabs(diff) <= zsb_breakdown_tolerance(b);
}

static double breakdown_difference_pct(const struct zsb_breakdown *b)
{
	if (b->measured <= 0)
		return NAN;
	return (double)zsb_breakdown_difference(b) * 100.0 / (double)b->measured;
}

/* The part with this key, NULL if the breakdown has none. */
static const struct zsb_part *find_part(const struct zsb_breakdown *b, const char *key)
{
	unsigned int i;

	for (i = 0; b->valid && i < b->nparts; i++)
		if (strcmp(b->part[i].key, key) == 0)
			return &b->part[i];
	return NULL;
}

/* One phase's three cells of a row: bytes, % of payload, bytes per object. */
static void breakdown_cells(FILE *out, const struct zsb_breakdown *b, int known, double bytes)
{
	if (!b->valid || !known) {
		fprintf(out, " %14s %9s %8s", "-", "-", "-");
		return;
	}
	fprintf(out, " %14.0f", bytes);
	cell(out, 9, "2", b->payload ? bytes * 100.0 / (double)b->payload : NAN);
	cell(out, 8, "1", b->objects ? bytes / (double)b->objects : NAN);
}

static void breakdown_row(FILE *out, const char *label, const struct zsb_breakdown *f, int fknown,
			  double fbytes, const struct zsb_breakdown *c, int cknown, double cbytes)
{
	fprintf(out, "  %-34s", label);
	breakdown_cells(out, f, fknown, fbytes);
	fprintf(out, " |");
	breakdown_cells(out, c, cknown, cbytes);
	fprintf(out, "\n");
}

static void print_breakdown(FILE *out, const struct zsb_result *x)
{
	const struct zsb_breakdown *f = &x->mem_fill, *c = &x->mem_compact;
	const struct zsb_breakdown *any = f->valid ? f : c;
	char zero[256] = "";
	unsigned int i;

	fprintf(out, "%s memory breakdown: the allocator's own account, payload + parts, against the measured resident growth\n",
		x->peer);
	fprintf(out, "  %-34s %14s %9s %8s | %14s %9s %8s\n", "part", "fill bytes", "%payload",
		"B/obj", "compact bytes", "%payload", "B/obj");
	breakdown_row(out, "payload (stored bytes)", f, 1, (double)f->payload, c, 1,
		      (double)c->payload);
	for (i = 0; i < any->nparts; i++) {
		const char *key = any->part[i].key;
		const struct zsb_part *pf = find_part(f, key), *pc = find_part(c, key);

		if ((!pf || pf->bytes == 0) && (!pc || pc->bytes == 0)) {
			/* a kind this layout does not have: one line for all */
			if (strlen(zero) + strlen(any->part[i].label) + 3 < sizeof(zero))
				snprintf(zero + strlen(zero), sizeof(zero) - strlen(zero), "%s%s",
					 zero[0] ? ", " : "", any->part[i].label);
			continue;
		}
		breakdown_row(out, any->part[i].label, f, pf != NULL, pf ? (double)pf->bytes : 0, c,
			      pc != NULL, pc ? (double)pc->bytes : 0);
	}
	breakdown_row(out, "= payload + parts", f, 1, (double)breakdown_sum(f), c, 1,
		      (double)breakdown_sum(c));
	breakdown_row(out, "measured resident growth", f, f->measured >= 0, (double)f->measured, c,
		      c->measured >= 0, (double)c->measured);
	breakdown_row(out, "unexplained: measured - sum", f, f->measured >= 0,
		      (double)zsb_breakdown_difference(f), c, c->measured >= 0,
		      (double)zsb_breakdown_difference(c));
	fprintf(out, "  %-34s", "  in % of measured growth");
	cell(out, 13, "2", f->valid ? breakdown_difference_pct(f) : NAN);
	fprintf(out, "%%%19s |", "");
	cell(out, 13, "2", c->valid ? breakdown_difference_pct(c) : NAN);
	fprintf(out, "%%\n");
	if (zero[0])
		fprintf(out, "  (0 in both: %s)\n", zero);
	if (f->note[0])
		fprintf(out, "  note, after fill: %s\n", f->note);
	if (c->note[0])
		fprintf(out, "  note, after compact: %s\n", c->note);
}

size_t zsb_check_breakdowns(FILE *err, const struct zsb_result *r, size_t n)
{
	static const char *const when[2] = { "fill", "compact" };
	size_t i, bad = 0;
	int k;

	for (i = 0; i < n; i++) {
		const struct zsb_breakdown *b[2] = { &r[i].mem_fill, &r[i].mem_compact };

		if (!usable(&r[i]) || !r[i].rss_honest)
			continue; /* sanitizers: shadow memory in the growth */
		for (k = 0; k < 2; k++) {
			if (!b[k]->valid)
				continue;
			if (b[k]->note[0]) {
				fprintf(err, "zsbench: %s on %s, after %s: the allocator's figures disagree: %s\n",
					r[i].peer, r[i].dataset, when[k], b[k]->note);
				bad++;
			}
			if (breakdown_within(b[k]))
				continue;
			fprintf(err, "zsbench: %s on %s, after %s: payload + parts = %lld bytes, measured resident growth %lld: off by %lld (%.2f%%), more than the tolerance %lld (max(%d%%, %d KiB))\n",
				r[i].peer, r[i].dataset, when[k], (long long)breakdown_sum(b[k]),
				(long long)b[k]->measured, (long long)zsb_breakdown_difference(b[k]),
				breakdown_difference_pct(b[k]),
				(long long)zsb_breakdown_tolerance(b[k]),
				ZSB_BREAKDOWN_TOLERANCE_PCT, ZSB_BREAKDOWN_TOLERANCE_FLOOR / 1024);
			bad++;
		}
	}
	return bad;
}

void zsb_print_corpus(FILE *out, const struct zsb_corpus *c)
{
	unsigned int i;

	fprintf(out, "Corpus: %zu pages of %d bytes, %s%s%.0d; stored raw when compressed >= %zu bytes (%s); compressed in %.1f s\n",
		c->npages, ZSB_PAGE_SIZE, c->compressor == ZSB_LZ4 ? "lz4" : "zstd",
		c->compressor == ZSB_ZSTD ? " level " : "", c->compressor == ZSB_ZSTD ? c->level : 0,
		c->huge_threshold, c->huge_rule, c->compress_seconds);
	fprintf(out, "  %-16s %9s %8s %8s %12s %7s %9s\n", "source", "pages", "same%", "raw%",
		"stored MB", "ratio", "avg obj");
	for (i = 0; i < c->nsources; i++) {
		const struct zsb_source *s = &c->sources[i];
		size_t objs = s->npages - s->same_filled;

		fprintf(out, "  %-16s %9zu %8.1f %8.1f %12.1f %7.2f %9.0f\n", s->name, s->npages,
			100.0 * (double)s->same_filled / (double)s->npages,
			objs ? 100.0 * (double)s->huge / (double)objs : 0.0,
			(double)s->compressed_bytes / 1e6,
			s->compressed_bytes ? (double)objs * ZSB_PAGE_SIZE / (double)s->compressed_bytes
					    : 0.0,
			objs ? (double)s->compressed_bytes / (double)objs : 0.0);
	}
}

void zsb_print_table(FILE *out, const struct zsb_result *r, size_t n, const struct zsb_dataset *d,
		     size_t nd)
{
	size_t k, i;

	for (k = 0; k < nd; k++) {
		fprintf(out, "\n== %s: %zu pages, %zu same-filled, %zu objects, %.1f MB stored\n",
			d[k].name, d[k].nslots, d[k].same_filled, d[k].nobjs,
			(double)d[k].payload / 1e6);
		fprintf(out, "memory: resident over live payload, overhead %%; pages: the "
			     "allocator's own count, else resident pages\n");
		fprintf(out, "  %-9s %8s %9s %8s %9s %9s %10s %9s %8s\n", "peer", "fill%", "pages",
			"freed%", "compact%", "pages", "compact ms", "reclaimed", "churn%");
		for (i = 0; i < n; i++) {
			const struct zsb_result *x = &r[i];
			double reclaimed = NAN;

			if (strcmp(x->dataset, d[k].name) != 0)
				continue;
			if (x->status != ZSB_OK && x->status != ZSB_TIMEOUT) {
				fprintf(out, "  %-9s %s\n", x->peer, x->reason);
				continue;
			}
			if (x->compact_pages_reported >= 0)
				reclaimed = (double)x->compact_pages_reported;
			else if (x->free.valid && x->compact.valid)
				reclaimed = pages_used(&x->free) - pages_used(&x->compact);
			fprintf(out, "  %-9s", x->peer);
			cell(out, 8, "2", overhead_pct(&x->fill));
			cell(out, 9, "0", pages_used(&x->fill));
			cell(out, 8, "2", overhead_pct(&x->free));
			cell(out, 9, "2", overhead_pct(&x->compact));
			cell(out, 9, "0", pages_used(&x->compact));
			cell(out, 10, "2", x->compact.valid ? x->compact.seconds * 1e3 : NAN);
			cell(out, 9, "0", reclaimed);
			cell(out, 8, "2", overhead_pct(&x->churn));
			if (x->status == ZSB_TIMEOUT)
				fprintf(out, "  (%s)", x->reason);
			fprintf(out, "%s\n",
				x->rss_honest ? ""
				: strcmp(x->peer, "zram") == 0
					? "  (kernel: pages only)"
					: "  (sanitizer shadow memory counted)");
		}
		fprintf(out, "speed: ns per operation; fill and read MB/s of page data; threads: "
			     "churn ops/s and scaling over 1 thread\n");
		fprintf(out, "  %-9s %8s %8s %7s %8s %7s %9s %9s %6s %8s %11s %s\n", "peer",
			"fill ns", "fill MB/s", "xglibc", "read ns", "hot ns", "in-place",
			"spanning", "span%", "churn ns", "1T ops/s", "scaling");
		for (i = 0; i < n; i++) {
			const struct zsb_result *x = &r[i];
			const struct zsb_result *g = find(r, n, x->dataset, "glibc");
			double ratio = NAN, span = NAN;
			unsigned int t;

			if (strcmp(x->dataset, d[k].name) != 0 ||
			    (x->status != ZSB_OK && x->status != ZSB_TIMEOUT))
				continue;
			if (usable(g) && g->fill.valid && g->fill.seconds > 0)
				ratio = x->fill.seconds / g->fill.seconds;
			if (x->read_inplace.valid || x->read_spanning.valid)
				span = x->read_spanning.valid
					       ? 100.0 * (double)x->read_spanning.ops /
							 (double)(x->read_spanning.ops +
								  x->read_inplace.ops)
					       : 0.0;
			fprintf(out, "  %-9s", x->peer);
			cell(out, 8, "1", ns_per_op(&x->fill));
			cell(out, 8, "0", mb_per_s(&x->fill));
			cell(out, 7, "2", ratio);
			cell(out, 8, "1", ns_per_op(&x->read));
			cell(out, 7, "1", ns_per_op(&x->read_hot));
			cell(out, 9, "1", ns_per_op(&x->read_inplace));
			cell(out, 9, "1", ns_per_op(&x->read_spanning));
			cell(out, 6, "0", span);
			cell(out, 8, "1", ns_per_op(&x->churn));
			cell(out, 11, "0", x->nthreads ? x->thread_ops_per_sec[1] : NAN);
			for (t = 2; t <= x->nthreads; t++)
				fprintf(out, " %uT:%.2f", t,
					x->thread_ops_per_sec[t] / x->thread_ops_per_sec[1]);
			fprintf(out, "\n");
		}
		for (i = 0; i < n; i++)
			if (strcmp(r[i].dataset, d[k].name) == 0 && usable(&r[i]) &&
			    (r[i].mem_fill.valid || r[i].mem_compact.valid))
				print_breakdown(out, &r[i]);
	}
}

/* ---- JSON ---- */

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static void json_number(FILE *f, double v)
{
	if (isnan(v) || isinf(v))
		fputs("null", f);
	else
		fprintf(f, "%.6g", v);
}

static void json_phase(FILE *f, const char *name, const struct zsb_phase *p, int last)
{
	fprintf(f, "      ");
	json_string(f, name);
	if (!p->valid) {
		fprintf(f, ": null%s\n", last ? "" : ",");
		return;
	}
	fprintf(f, ": {\"seconds\": ");
	json_number(f, p->seconds);
	fprintf(f, ", \"cpu_seconds\": ");
	json_number(f, p->cpu_seconds);
	fprintf(f, ", \"ops\": %llu, \"ns_per_op\": ", (unsigned long long)p->ops);
	json_number(f, ns_per_op(p));
	fprintf(f, ", \"mb_per_s\": ");
	json_number(f, mb_per_s(p));
	fprintf(f, ", \"resident_bytes\": %lld, \"payload_bytes\": %llu, \"overhead_pct\": ",
		(long long)p->anon_bytes, (unsigned long long)p->payload);
	json_number(f, overhead_pct(p));
	fprintf(f, ", \"pages_only_overhead_pct\": ");
	json_number(f, pages_only_pct(p));
	fprintf(f, ", \"pool_pages\": %lld, \"pages_used\": ", (long long)p->pool_pages);
	json_number(f, pages_used(p));
	fprintf(f, "}%s\n", last ? "" : ",");
}

static void json_breakdown(FILE *f, const char *name, const struct zsb_breakdown *b, int last)
{
	unsigned int i;

	fprintf(f, "        ");
	json_string(f, name);
	if (!b->valid) {
		fprintf(f, ": null%s\n", last ? "" : ",");
		return;
	}
	fprintf(f, ": {\"payload_bytes\": %llu, \"objects\": %llu,\n          \"parts\": {",
		(unsigned long long)b->payload, (unsigned long long)b->objects);
	for (i = 0; i < b->nparts; i++) {
		const struct zsb_part *p = &b->part[i];

		fprintf(f, "%s\n            ", i ? "," : "");
		json_string(f, p->key);
		fprintf(f, ": {\"bytes\": %lld, \"pct_of_payload\": ", (long long)p->bytes);
		json_number(f, b->payload ? (double)p->bytes * 100.0 / (double)b->payload : NAN);
		fprintf(f, ", \"bytes_per_object\": ");
		json_number(f, b->objects ? (double)p->bytes / (double)b->objects : NAN);
		fprintf(f, "}");
	}
	fprintf(f, "},\n          \"page_bytes\": %lld, \"warm_bytes\": %lld, \"metadata_bytes\": %lld",
		(long long)((int64_t)b->payload + breakdown_group(b, ZSB_PART_PAGES)),
		(long long)breakdown_group(b, ZSB_PART_WARM),
		(long long)breakdown_group(b, ZSB_PART_METADATA));
	fprintf(f, ", \"sum_bytes\": %lld, \"measured_bytes\": %lld, \"difference_bytes\": %lld, \"difference_pct_of_measured\": ",
		(long long)breakdown_sum(b), (long long)b->measured,
		(long long)zsb_breakdown_difference(b));
	json_number(f, breakdown_difference_pct(b));
	fprintf(f, ", \"tolerance_bytes\": %lld, \"within_tolerance\": %s, \"note\": ",
		(long long)zsb_breakdown_tolerance(b), breakdown_within(b) ? "true" : "false");
	json_string(f, b->note);
	fprintf(f, "}%s\n", last ? "" : ",");
}

int zsb_write_json(const char *path, const struct zsb_run_info *info, const struct zsb_corpus *c,
		   const struct zsb_dataset *d, size_t nd, const struct zsb_result *r, size_t n,
		   const struct zsb_options *o)
{
	/* "-": stdout, for scripts (main then prints its tables on stderr). */
	FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
	struct utsname u;
	char when[64];
	time_t now = time(NULL);
	size_t i;
	unsigned int t;

	if (!f) {
		fprintf(stderr, "zsbench: cannot write JSON to '%s': %s\n", path, strerror(errno));
		return -1;
	}
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	uname(&u);
	fprintf(f, "{\n  \"zsbench\": {\"version\": 1, \"date\": \"%s\", \"kernel\": ", when);
	json_string(f, u.release);
	fprintf(f, ", \"cpus\": %ld, \"sanitizer\": ", sysconf(_SC_NPROCESSORS_ONLN));
	json_string(f, info->sanitizer);
	fprintf(f, ", \"command\": ");
	json_string(f, info->command_line);
	fprintf(f, ", \"seconds\": ");
	json_number(f, info->total_seconds);
	fprintf(f, ", \"page_fault_ns\": ");
	json_number(f, info->page_fault_ns);
	fprintf(f, ", \"load_average\": ");
	json_number(f, info->load_average);
	fprintf(f,
		",\n    \"options\": {\"seed\": %llu, \"free_fraction\": %g, \"churn_ops\": %llu, "
		"\"read_ops\": %llu, \"thread_ops\": %llu, \"max_threads\": %u}},\n",
		(unsigned long long)o->seed, o->free_fraction, (unsigned long long)o->churn_ops,
		(unsigned long long)o->read_ops, (unsigned long long)o->thread_ops, o->max_threads);

	fprintf(f, "  \"corpus\": {\"page_size\": %d, \"compressor\": \"%s\", \"level\": %d, \"huge_threshold\": %zu, \"huge_rule\": ",
		ZSB_PAGE_SIZE, c->compressor == ZSB_LZ4 ? "lz4" : "zstd", c->level,
		c->huge_threshold);
	json_string(f, c->huge_rule);
	fprintf(f, ", \"compress_seconds\": ");
	json_number(f, c->compress_seconds);
	fprintf(f, ",\n    \"sources\": [\n");
	for (i = 0; i < c->nsources; i++) {
		const struct zsb_source *s = &c->sources[i];

		fprintf(f, "      {\"name\": ");
		json_string(f, s->name);
		fprintf(f, ", \"path\": ");
		json_string(f, s->path);
		fprintf(f, ", \"pages\": %zu, \"same_filled\": %zu, \"stored_raw\": %zu, \"compressed_bytes\": %llu}%s\n",
			s->npages, s->same_filled, s->huge, (unsigned long long)s->compressed_bytes,
			i + 1 < c->nsources ? "," : "");
	}
	fprintf(f, "    ]},\n  \"datasets\": [\n");
	for (i = 0; i < nd; i++) {
		fprintf(f, "    {\"name\": ");
		json_string(f, d[i].name);
		fprintf(f, ", \"scale\": %u, \"pages\": %zu, \"same_filled\": %zu, \"objects\": %zu, \"payload_bytes\": %llu}%s\n",
			d[i].scale, d[i].nslots, d[i].same_filled, d[i].nobjs,
			(unsigned long long)d[i].payload, i + 1 < nd ? "," : "");
	}
	fprintf(f, "  ],\n  \"peers\": [");
	for (i = 0; i < zsb_npeers; i++) {
		json_string(f, zsb_peers[i]->name);
		fputs(", ", f);
	}
	fprintf(f, "\"zram\"],\n  \"results\": [\n");
	for (i = 0; i < n; i++) {
		const struct zsb_result *x = &r[i];

		fprintf(f, "    {\"dataset\": ");
		json_string(f, x->dataset);
		fprintf(f, ", \"peer\": ");
		json_string(f, x->peer);
		fprintf(f, ", \"status\": \"%s\", \"reason\": ", zsb_status_name(x->status));
		json_string(f, x->reason);
		fprintf(f, ", \"resident_is_honest\": %s,\n", x->rss_honest ? "true" : "false");
		json_phase(f, "fill", &x->fill, 0);
		json_phase(f, "read", &x->read, 0);
		json_phase(f, "read_hot", &x->read_hot, 0);
		json_phase(f, "read_inplace", &x->read_inplace, 0);
		json_phase(f, "read_spanning", &x->read_spanning, 0);
		json_phase(f, "free", &x->free, 0);
		json_phase(f, "compact", &x->compact, 0);
		json_phase(f, "churn", &x->churn, 0);
		fprintf(f, "      \"compact_pages_reported\": %lld, \"verified\": %llu, \"verify_errors\": %llu,\n",
			(long long)x->compact_pages_reported, (unsigned long long)x->verified,
			(unsigned long long)x->verify_errors);
		fprintf(f, "      \"threads\": [");
		for (t = 1; t <= x->nthreads; t++) {
			fprintf(f, "{\"threads\": %u, \"ops_per_sec\": ", t);
			json_number(f, x->thread_ops_per_sec[t]);
			fprintf(f, ", \"scaling\": ");
			json_number(f, x->thread_ops_per_sec[t] / x->thread_ops_per_sec[1]);
			fprintf(f, "}%s", t < x->nthreads ? ", " : "");
		}
		fprintf(f, "]");
		if (strcmp(x->peer, "zram") == 0 && x->status == ZSB_OK) {
			static const char *const phase[3] = { "fill", "free", "compact" };
			static const char *const field[9] = { "orig_data_size",	 "compr_data_size",
							      "mem_used_total",	 "mem_limit",
							      "mem_used_max",	 "same_pages",
							      "pages_compacted", "huge_pages",
							      "huge_pages_since" };
			int p, k;

			fprintf(f, ",\n      \"mm_stat\": {");
			for (p = 0; p < 3; p++) {
				fprintf(f, "\"%s\": {", phase[p]);
				for (k = 0; k < 9; k++)
					fprintf(f, "\"%s\": %llu%s", field[k],
						(unsigned long long)x->mm_stat[p][k],
						k < 8 ? ", " : "");
				fprintf(f, "}%s", p < 2 ? ", " : "");
			}
			fprintf(f, "}");
		}
		if (x->mem_fill.valid || x->mem_compact.valid) {
			/* difference = measured - sum, in bytes and in % of measured */
			fprintf(f, ",\n      \"memory_breakdown\": {\n");
			json_breakdown(f, "fill", &x->mem_fill, 0);
			json_breakdown(f, "compact", &x->mem_compact, 1);
			fprintf(f, "      }");
		}
		fprintf(f, "}%s\n", i + 1 < n ? "," : "");
	}
	fprintf(f, "  ]\n}\n");
	if (f == stdout ? fflush(f) != 0 : fclose(f) != 0) {
		fprintf(stderr, "zsbench: writing '%s' failed: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- plot ---- */

static int have_gnuplot(void)
{
	return system("command -v gnuplot >/dev/null 2>&1") == 0;
}

int zsb_write_plot(const char *png_path, const struct zsb_result *r, size_t n,
		   const struct zsb_dataset *d, size_t nd, char *why, size_t why_len)
{
	char dat[4200], gp[4200], cmd[8600];
	const char *peers[ZSB_NAME_LEN];
	size_t np = 0, i, k, p;
	FILE *f;
	int rc;

	if (!have_gnuplot()) {
		snprintf(why, why_len,
			 "gnuplot is missing (Debian package gnuplot-nox): no plot drawn");
		return 1;
	}
	snprintf(dat, sizeof(dat), "%s.dat", png_path);
	snprintf(gp, sizeof(gp), "%s.gp", png_path);
	char notrun[512] = "";

	for (i = 0; i < n && np < ZSB_NAME_LEN; i++) {
		if (!usable(&r[i])) {
			int any = 0;

			for (k = 0; k < n; k++)
				if (strcmp(r[k].peer, r[i].peer) == 0 && usable(&r[k]))
					any = 1;
			if (!any && !strstr(notrun, r[i].peer) &&
			    strlen(notrun) + strlen(r[i].peer) + 3 < sizeof(notrun)) {
				strcat(notrun, notrun[0] ? ", " : "");
				strcat(notrun, r[i].peer);
			}
			if (!any)
				continue;
		}
		for (p = 0; p < np; p++)
			if (strcmp(peers[p], r[i].peer) == 0)
				break;
		if (p == np)
			peers[np++] = r[i].peer;
	}
	/* One row per dataset; per peer two columns: after fill, after
	 * free + compact. */
	f = fopen(dat, "w");
	if (!f) {
		snprintf(why, why_len, "cannot write %s: %s", dat, strerror(errno));
		return -1;
	}
	fprintf(f, "dataset");
	for (p = 0; p < np; p++)
		fprintf(f, " %s %s", peers[p], peers[p]);
	fprintf(f, "\n");
	for (k = 0; k < nd; k++) {
		fprintf(f, "%s", d[k].name);
		for (p = 0; p < np; p++) {
			const struct zsb_result *x = find(r, n, d[k].name, peers[p]);
			double a = usable(x) ? overhead_pct(&x->fill) : NAN;
			double b = usable(x) ? overhead_pct(&x->compact) : NAN;

			fprintf(f, isnan(a) ? " ?" : " %.3f", a);
			fprintf(f, isnan(b) ? " ?" : " %.3f", b);
		}
		fprintf(f, "\n");
	}
	fclose(f);

	f = fopen(gp, "w");
	if (!f) {
		snprintf(why, why_len, "cannot write %s: %s", gp, strerror(errno));
		return -1;
	}
	fprintf(f, "set terminal pngcairo size 1400,900 noenhanced font 'sans,11'\n");
	fprintf(f, "set output '%s'\n", png_path);
	fprintf(f, "set datafile missing '?'\n");
	fprintf(f, "set style data histograms\nset style histogram clustered gap 1\n");
	fprintf(f, "set style fill solid 0.85 border -1\nset boxwidth 0.9\n");
	fprintf(f, "set grid ytics\nset key outside right top vertical\nset yrange [0:*]\n");
	fprintf(f,
		"set xtics rotate by -20\nset ylabel 'resident over stored bytes, overhead %%'\n");
	fprintf(f,
		"set multiplot layout 2,1 title \"zsbench: memory overhead of each allocator "
		"holding the same compressed pages (lower is better)\\n"
		"zram: the kernel's own figures, pages only; the others: resident memory, all "
		"metadata included%s%s\"\n",
		notrun[0] ? "\\nnot run (missing or failed): " : "", notrun);
	fprintf(f, "set title 'after filling'\n");
	fprintf(f, "plot for [p=0:%zu] '%s' using (column(2+2*p)):xtic(1) title columnhead(2+2*p)\n",
		np - 1, dat);
	fprintf(f, "set title 'after a random %s is freed and the allocator compacts (or trims/purges)'\n",
		"fraction");
	fprintf(f, "plot for [p=0:%zu] '%s' using (column(3+2*p)):xtic(1) title columnhead(3+2*p)\n",
		np - 1, dat);
	fprintf(f, "unset multiplot\n");
	fclose(f);
	snprintf(cmd, sizeof(cmd), "gnuplot '%s' 2>'%s.log'", gp, gp);
	rc = system(cmd);
	if (rc != 0) {
		snprintf(why, why_len, "gnuplot failed (exit %d); see %s.log", WEXITSTATUS(rc), gp);
		return -1;
	}
	return 0;
}

/* ---- the allocator core's goals ---- */

static double peer_value(const struct zsb_result *r, size_t n, const char *dataset, const char *peer,
			 double (*f)(const struct zsb_phase *), size_t phase_offset)
{
	const struct zsb_result *x = find(r, n, dataset, peer);

	if (!usable(x))
		return NAN;
	return f((const struct zsb_phase *)((const char *)x + phase_offset));
}

#define PHASE(name) offsetof(struct zsb_result, name)

static const char *verdict(double v, double limit)
{
	if (isnan(v) || isnan(limit))
		return "n/a";
	return v <= limit ? "met" : "NOT met";
}

void zsb_print_goals(FILE *out, const struct zsb_result *r, size_t n, const struct zsb_dataset *d,
		     size_t nd)
{
	size_t k;

	fprintf(out, "\n== Goals of the allocator core: zsmalloc (all metadata counted) against "
		     "the same run's peers\n");
	fprintf(out, "   zram = the kernel's zsmalloc, pages only (reference: 3.7-5.0%% after "
		     "fill, 4.9-7.5%% after free+compact)\n");
	fprintf(out,
		"   zs = resident, all metadata; zs pg = zsmalloc's pages only, as zram's figure;\n"
		"   fill xglibc and cpu ms: CPU time of the process (less disturbed by other load "
		"than the wall clock)\n");
	fprintf(out, "  %-10s %8s %6s %6s %6s | %9s %6s %6s | %11s | %9s %9s | %10s %7s %8s %8s\n",
		"dataset", "zs fill%", "zs pg", "zram", "glibc", "zs cmpct%", "zs pg", "zram",
		"fill xglibc", "zs hot rd", "glibc hot", "compact ms", "cpu ms", "zram ms",
		"freed MB");
	for (k = 0; k < nd; k++) {
		const char *ds = d[k].name;
		const struct zsb_result *zs = find(r, n, ds, "zsmalloc");
		const struct zsb_result *g = find(r, n, ds, "glibc");
		double ratio = NAN, cms = NAN, freed = NAN;

		if (usable(zs) && zs->fill.valid && usable(g) && g->fill.valid &&
		    g->fill.cpu_seconds > 0)
			ratio = zs->fill.cpu_seconds / g->fill.cpu_seconds;
		if (usable(zs) && zs->compact.valid) {
			cms = zs->compact.seconds * 1e3;
			freed = (double)zs->compact_pages_reported * ZSB_PAGE_SIZE / 1e6;
		}
		fprintf(out, "  %-10s", ds);
		cell(out, 8, "2", peer_value(r, n, ds, "zsmalloc", overhead_pct, PHASE(fill)));
		cell(out, 6, "2", peer_value(r, n, ds, "zsmalloc", pages_only_pct, PHASE(fill)));
		cell(out, 6, "2", peer_value(r, n, ds, "zram", overhead_pct, PHASE(fill)));
		cell(out, 6, "2", peer_value(r, n, ds, "glibc", overhead_pct, PHASE(fill)));
		fprintf(out, " |");
		cell(out, 9, "2", peer_value(r, n, ds, "zsmalloc", overhead_pct, PHASE(compact)));
		cell(out, 6, "2", peer_value(r, n, ds, "zsmalloc", pages_only_pct, PHASE(compact)));
		cell(out, 6, "2", peer_value(r, n, ds, "zram", overhead_pct, PHASE(compact)));
		fprintf(out, " |");
		cell(out, 11, "2", ratio);
		fprintf(out, " |");
		cell(out, 9, "1", peer_value(r, n, ds, "zsmalloc", ns_per_op, PHASE(read_hot)));
		cell(out, 9, "1", peer_value(r, n, ds, "glibc", ns_per_op, PHASE(read_hot)));
		fprintf(out, " |");
		cell(out, 10, "2", cms);
		cell(out, 7, "2",
		     usable(zs) && zs->compact.valid ? zs->compact.cpu_seconds * 1e3 : NAN);
		{
			const struct zsb_result *zr = find(r, n, ds, "zram");

			cell(out, 8, "2",
			     usable(zr) && zr->compact.valid ? zr->compact.seconds * 1e3 : NAN);
		}
		cell(out, 8, "1", freed);
		fprintf(out, "\n");
	}
	for (k = 0; k < nd; k++) {
		const char *ds = d[k].name;
		double zf = peer_value(r, n, ds, "zsmalloc", overhead_pct, PHASE(fill));
		double rf = peer_value(r, n, ds, "zram", overhead_pct, PHASE(fill));
		double gf = peer_value(r, n, ds, "glibc", overhead_pct, PHASE(fill));
		double zc = peer_value(r, n, ds, "zsmalloc", overhead_pct, PHASE(compact));
		double rc = peer_value(r, n, ds, "zram", overhead_pct, PHASE(compact));
		const struct zsb_result *zs = find(r, n, ds, "zsmalloc");
		const struct zsb_result *g = find(r, n, ds, "glibc");
		double ratio = NAN;

		if (usable(zs) && zs->fill.valid && usable(g) && g->fill.valid &&
		    g->fill.cpu_seconds > 0)
			ratio = zs->fill.cpu_seconds / g->fill.cpu_seconds;
		fprintf(out, "  %s: fill overhead <= zram's: %s; <= glibc's: %s; after free+compact <= zram's: %s; fill CPU time <= 1.5x glibc's: %s",
			ds, verdict(zf, rf), verdict(zf, gf), verdict(zc, rc), verdict(ratio, 1.5));
		if (d[k].payload >= 90000000ULL && d[k].payload <= 130000000ULL && usable(zs) &&
		    zs->compact.valid)
			fprintf(out, "; compaction of ~100 MB < 50 ms: %s (CPU time: %s)",
				verdict(zs->compact.seconds * 1e3, 50.0),
				verdict(zs->compact.cpu_seconds * 1e3, 50.0));
		{
			double zh = peer_value(r, n, ds, "zsmalloc", ns_per_op, PHASE(read_hot));
			double gh = peer_value(r, n, ds, "glibc", ns_per_op, PHASE(read_hot));

			if (!isnan(zh) && !isnan(gh) && gh > 0)
				fprintf(out, "; read (cached) = %.2fx glibc's copy", zh / gh);
		}
		fprintf(out, "\n");
	}
}
