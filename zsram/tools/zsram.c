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
 * This file: main and the order of the passes (the parts are listed in
 * zsram_tool.h; report.c writes the report, as text or with --json as JSON).  Exit status: 0 all verified; 1 a run-time error
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

/* The automatic dictionary, if the store has one: trained now on what was
 * sampled if the input was too small to start it, the re-encoding of the
 * pages loaded before it and the dense pass (which a store at rest does by
 * itself) waited for, so that the figures are those of the store at rest. */
static void wait_for_dictionary(struct zsram *store, struct run_report *r)
{
	double t = tool_now();

	if (zsram_dict_train(store) == -EINVAL)
		return; /* none */
	zsram_dict_wait(store);
	r->dict_s = tool_now() - t;
	zsram_get_dict_stat(store, &r->dict);
}

/* Reads every page back; 0 when all are as expected. */
static int verify(struct zsram *store, const struct input *in, const struct options *o,
		  const char *when, double *seconds, double *cpu, struct run_report *r)
{
	struct io_totals tot;

	*seconds = tool_run_io(store, in, o->threads, false, NULL, "verify", &tot);
	*cpu = tot.cpu_seconds;
	r->read_errors += tot.errors;
	r->mismatches += tot.mismatches;
	if (tot.errors || tot.mismatches) {
		fprintf(stderr,
			"%s: verify%s FAILED: %" PRIu64 " read errors, %" PRIu64 " pages differ\n",
			TOOL_PROG, when, tot.errors, tot.mismatches);
		return 1;
	}
	if (!o->json)
		printf("verify%s: %" PRIu64 " pages byte-exact\n", when, in->nr_pages);
	return 0;
}

/* --discard: a random fraction of pages discarded, compaction, verify. */
static int discard_and_verify(struct zsram *store, const struct options *o, struct input *in,
			      struct run_report *r)
{
	uint64_t s = o->seed ? o->seed : 1;
	double t, tr, cr;
	int status;

	for (uint64_t i = 0; i < in->nr_pages; i++) {
		if ((double)(xorshift64(&s) >> 11) / 9007199254740992.0 < o->discard) {
			zsram_discard(store, i, 1);
			memset(in->pages + i * o->cfg.page_size, 0, o->cfg.page_size);
			r->discarded++;
		}
	}
	t = tool_now();
	r->compact_freed = zsram_compact(store);
	r->compact_ms = (tool_now() - t) * 1e3;
	if (!o->json)
		printf("discard: %" PRIu64 " pages; compaction freed %lu pages in %.1f ms\n",
		       r->discarded, r->compact_freed, r->compact_ms);
	status = verify(store, in, o, " after discard", &tr, &cr, r);
	r->verified_after_discard = status == 0;
	zsram_get_mm_stat(store, &r->mm_after_discard);
	if (!o->json)
		tool_print_mm_stat(&r->mm_after_discard, "mm_stat_after_discard:");
	return status;
}

int main(int argc, char **argv)
{
	struct options o = { 0 };
	struct input in = { 0 };
	struct run_report r = { 0 };
	struct zsram *store;
	struct io_totals tot;
	uint8_t *refused;
	uint64_t rss0, rss1;
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

	r.write_s = tool_run_io(store, &in, o.threads, true, refused, "write", &tot);
	r.write_cpu = tot.cpu_seconds;
	wait_for_dictionary(store, &r);
	rss1 = tool_rss_anon();
	r.rss_growth = rss1 > rss0 ? rss1 - rss0 : 0;
	r.refused = tot.refused;
	if (tot.errors) {
		fprintf(stderr, "%s: %" PRIu64 " page writes failed: %s\n", TOOL_PROG, tot.errors,
			strerror(-tot.first_err));
		status = 1;
	}
	if (tot.refused && !o.json)
		printf("mem_limit: %" PRIu64 " of %" PRIu64 " pages refused (ENOSPC)\n",
		       tot.refused, in.nr_pages);

	if (o.recompress) {
		double t = tool_now();

		r.recomp_pages = zsram_recompress(store, ZSRAM_SEL_ALL, o.recomp_threshold);
		r.recomp_s = tool_now() - t;
		zsram_get_recomp_stat(store, &r.recomp);
		if (!o.json) {
			printf("recompress: %ld of %" PRIu64 " pages tried recompressed with",
			       r.recomp_pages, r.recomp.attempts);
			for (unsigned int p = 0; p < o.cfg.nr_recomp; p++)
				printf(" %s%s", p ? "then " : "",
				       zsram_algorithm_name(o.cfg.recomp[p].algorithm));
			printf(", %" PRIu64 " bytes saved, %.2f s\n", r.recomp.saved_bytes,
			       r.recomp_s);
		}
	}

	/* Pages refused under the limit were never stored: they read as zeros. */
	for (uint64_t i = 0; i < in.nr_pages; i++)
		if (refused[i])
			memset(in.pages + i * ps, 0, ps);
	{
		int bad = verify(store, &in, &o, "", &r.read_s, &r.read_cpu, &r);

		r.verified = bad == 0;
		status |= bad;
	}
	/* The report's statistics are the store's after loading; the JSON
	 * object comes last, with the --discard pass in it. */
	zsram_get_mm_stat(store, &r.mm);
	zsram_get_io_stat(store, &r.io);
	zsram_get_bd_stat(store, &r.bd);
	if (!o.json)
		tool_report(&o, &in, &r);
	if (o.discard > 0)
		status |= discard_and_verify(store, &o, &in, &r);
	if (o.json)
		tool_report(&o, &in, &r);
	if (o.class_stats)
		zsram_print_class_stats(store, stdout);
	zsram_destroy(store);
	free(refused);
	free(dict);
	for (unsigned int i = 0; i < o.nr_alg_params; i++)
		free(o.alg_params_dict[i]);
	free(in.pages);
	return status;
}
