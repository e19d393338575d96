/*
 * zsram - load pages into a compressed page store, verify them, report.
 *
 * Sources: files (each padded to whole pages), every regular file of a
 * corpus directory, or a live process's memory (its present writable
 * anonymous pages, copied by bench/zs-capture).  The pages are written into
 * a store of exactly that many pages, read back and compared byte for byte,
 * and the tool prints mm_stat (the stable line: "mm_stat:" and zram's nine
 * numbers), io_stat, the compression ratio, throughput and memory.
 *
 * Benchmark mode (--bench, bench.c) measures, in one run on the same pages,
 * bare lz4 compress/decompress against the store's write/read (single
 * thread), and with --kernel-zram also the kernel's zram0 mem_used_total for
 * the same pages beside the store's memory.
 *
 * This file: main, the order of the passes and the report (the parts are
 * listed in zsram_tool.h).  Exit status: 0 all verified; 1 a run-time error
 * or a verify mismatch; 2 a bad command line.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "zsram_tool.h"

static uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static struct zsram *create_store(const struct options *o)
{
	struct zsram *store = zsram_create(&o->cfg);

	if (!store && errno == EINVAL)
		fprintf(stderr,
			"%s: cannot create the store: invalid configuration "
			"(level out of range, bad dictionary or page size)\n",
			TOOL_PROG);
	else if (!store)
		fprintf(stderr, "%s: cannot create the store%s%s: %s\n", TOOL_PROG,
			o->cfg.backing_file ? " with backing file " : "",
			o->cfg.backing_file ? o->cfg.backing_file : "", strerror(errno));
	return store;
}

/* Reads every page back; 0 when all are as expected. */
static int verify(struct zsram *store, const struct input *in, const struct options *o,
		  const char *when, double *seconds, double *cpu)
{
	struct io_totals tot;

	*seconds = tool_run_io(store, in, o->threads, false, NULL, &tot);
	*cpu = tot.cpu_seconds;
	if (tot.errors || tot.mismatches) {
		fprintf(stderr,
			"%s: verify%s FAILED: %" PRIu64 " read errors, %" PRIu64 " pages differ\n",
			TOOL_PROG, when, tot.errors, tot.mismatches);
		return 1;
	}
	printf("verify%s: %" PRIu64 " pages byte-exact\n", when, in->nr_pages);
	return 0;
}

static void print_report(struct zsram *store, const struct options *o, const struct input *in,
			 double tw, double cw, double tr, double cr, uint64_t rss_growth)
{
	struct zsram_mm_stat mm;
	struct zsram_io_stat io;
	uint64_t bytes = in->nr_pages * o->cfg.page_size;

	zsram_get_mm_stat(store, &mm);
	zsram_get_io_stat(store, &io);
	printf("input: %" PRIu64 " pages of %zu bytes (%.2f MiB); algorithm %s", in->nr_pages,
	       o->cfg.page_size, tool_mib(bytes), zsram_algorithm_name(o->cfg.codec.algorithm));
	if (o->cfg.codec.level)
		printf(" level %d", o->cfg.codec.level);
	if (o->cfg.codec.dict_size)
		printf(", dictionary %zu bytes", o->cfg.codec.dict_size);
	printf("; allocator %s; %u thread%s\n", o->cfg.allocator ? o->cfg.allocator : "zsmalloc",
	       o->threads, o->threads == 1 ? "" : "s");
	tool_print_mm_stat(&mm, "mm_stat:");
	printf("io_stat: %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", io.failed_reads,
	       io.failed_writes, io.invalid_io, io.notify_free);
	if (o->cfg.backing_file) {
		struct zsram_bd_stat bd;

		zsram_get_bd_stat(store, &bd);
		printf("bd_stat: %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", bd.bd_count, bd.bd_reads,
		       bd.bd_writes);
	}
	printf("ratio: orig/compr %.3f, orig/mem_used_total %.3f\n",
	       mm.compr_data_size ? (double)mm.orig_data_size / (double)mm.compr_data_size : 0.0,
	       mm.mem_used_total ? (double)mm.orig_data_size / (double)mm.mem_used_total : 0.0);
	printf("throughput: write %.1f MB/s, read+verify %.1f MB/s (wall clock); "
	       "per CPU second: write %.1f MB/s, read+verify %.1f MB/s\n",
	       (double)bytes / tw / 1e6, (double)bytes / tr / 1e6, (double)bytes / cw / 1e6,
	       (double)bytes / cr / 1e6);
	printf("memory: mem_used_total %.2f MiB, slot table %.2f MiB (12 bytes/page), "
	       "store resident (RssAnon delta) %.2f MiB\n",
	       tool_mib(mm.mem_used_total), tool_mib(in->nr_pages * 12), tool_mib(rss_growth));
}

/* --discard: a random fraction of pages discarded, compaction, verify. */
static int discard_and_verify(struct zsram *store, const struct options *o, struct input *in)
{
	uint64_t s = o->seed ? o->seed : 1, discarded = 0;
	struct zsram_mm_stat mm;
	unsigned long freed;
	double t, tr, cr;
	int status;

	for (uint64_t i = 0; i < in->nr_pages; i++) {
		if ((double)(xorshift64(&s) >> 11) / 9007199254740992.0 < o->discard) {
			zsram_discard(store, i, 1);
			memset(in->pages + i * o->cfg.page_size, 0, o->cfg.page_size);
			discarded++;
		}
	}
	t = tool_now();
	freed = zsram_compact(store);
	t = tool_now() - t;
	printf("discard: %" PRIu64 " pages; compaction freed %lu pages in %.1f ms\n", discarded,
	       freed, t * 1e3);
	status = verify(store, in, o, " after discard", &tr, &cr);
	zsram_get_mm_stat(store, &mm);
	tool_print_mm_stat(&mm, "mm_stat_after_discard:");
	return status;
}

int main(int argc, char **argv)
{
	struct options o = { 0 };
	struct input in = { 0 };
	struct zsram *store;
	struct io_totals tot;
	uint8_t *refused;
	uint64_t rss0, rss1;
	double tw, tr, cw, cr;
	size_t ps;
	void *dict;
	int status = 0;

	tool_parse_options(argc, argv, &o);
	ps = o.cfg.page_size;
	if (tool_load_input(&in, &o))
		return 1;
	if (!in.nr_pages) {
		fprintf(stderr, "%s: the input is empty: nothing to store\n", TOOL_PROG);
		return 1;
	}
	o.cfg.nr_pages = in.nr_pages;
	dict = tool_dictionary(&o, &in, &o.cfg.codec.dict_size);
	o.cfg.codec.dict = dict;
	if (o.bench)
		return tool_run_bench(&o, &in);

	refused = calloc(in.nr_pages, 1);
	if (!refused) {
		fprintf(stderr, "%s: out of memory\n", TOOL_PROG);
		return 1;
	}
	rss0 = tool_rss_anon();
	store = create_store(&o);
	if (!store)
		return 1;

	tw = tool_run_io(store, &in, o.threads, true, refused, &tot);
	cw = tot.cpu_seconds;
	rss1 = tool_rss_anon();
	if (tot.errors) {
		fprintf(stderr, "%s: %" PRIu64 " page writes failed: %s\n", TOOL_PROG, tot.errors,
			strerror(-tot.first_err));
		status = 1;
	}
	if (tot.refused)
		printf("mem_limit: %" PRIu64 " of %" PRIu64 " pages refused (ENOSPC)\n",
		       tot.refused, in.nr_pages);

	if (o.recompress) {
		double t = tool_now();
		long n = zsram_recompress(store, ZSRAM_SEL_ALL, o.recomp_threshold);
		struct zsram_recomp_stat rs;

		zsram_get_recomp_stat(store, &rs);
		printf("recompress: %ld of %" PRIu64 " pages tried recompressed with %s, "
		       "%" PRIu64 " bytes saved, %.2f s\n",
		       n, rs.attempts, zsram_algorithm_name(o.cfg.recomp.algorithm), rs.saved_bytes,
		       tool_now() - t);
	}

	/* Pages refused under the limit were never stored: they read as zeros. */
	for (uint64_t i = 0; i < in.nr_pages; i++)
		if (refused[i])
			memset(in.pages + i * ps, 0, ps);
	status |= verify(store, &in, &o, "", &tr, &cr);
	print_report(store, &o, &in, tw, cw, tr, cr, rss1 > rss0 ? rss1 - rss0 : 0);
	if (o.discard > 0)
		status |= discard_and_verify(store, &o, &in);
	if (o.class_stats)
		zsram_print_class_stats(store, stdout);
	zsram_destroy(store);
	free(refused);
	free(dict);
	free(in.pages);
	return status;
}
