/*
 * report.c - the zsram tool's report of a run: the text lines (mm_stat:
 * first among them, the stable form scripts grep) or, with --json, one
 * JSON object on stdout with the same figures under stable names.
 * Single-threaded: called once the passes are done.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "zsram_tool.h"

static double ratio(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : 0.0;
}

/* How much smaller with is than plain, in percent (negative: larger). */
static double gain_percent(uint64_t plain, uint64_t with)
{
	return plain ? 100.0 * ((double)plain - (double)with) / (double)plain : 0.0;
}

static double mb_per_s(uint64_t bytes, double seconds)
{
	return seconds > 0 ? (double)bytes / seconds / 1e6 : 0.0;
}

static void print_text(const struct options *o, const struct input *in, const struct run_report *r)
{
	const struct zsram_mm_stat mm = r->mm;
	const struct zsram_io_stat io = r->io;
	const struct zsram_bd_stat bd = r->bd;
	uint64_t bytes = in->nr_pages * o->cfg.page_size;

	printf("input: %" PRIu64 " pages of %zu bytes (%.2f MiB); algorithm %s", in->nr_pages,
	       o->cfg.page_size, tool_mib(bytes), zsram_algorithm_name(o->cfg.codec.algorithm));
	if (o->cfg.codec.level)
		printf(" level %d", o->cfg.codec.level);
	if (o->cfg.codec.dict_size)
		printf(", dictionary %zu bytes", o->cfg.codec.dict_size);
	printf("; allocator %s; %u thread%s\n", o->cfg.allocator ? o->cfg.allocator : "zsmalloc",
	       o->threads, o->threads == 1 ? "" : "s");
	tool_print_mm_stat(&mm, "mm_stat:");
	if (r->dict.enabled)
		printf("auto_dictionary: %s; %" PRIu64 " trained, %" PRIu64 " failed (%s), "
		       "%" PRIu64 " not used (held-out samples %.1f%% smaller in the last test), "
		       "%" PRIu64 " pages re-encoded, %" PRIu64 " made denser at rest "
		       "(%.1f%% of compr_data_size), %.2f s after the load; "
		       "%.1f KiB of dictionaries, tables and samples\n",
		       r->dict.current ? "on" : "none", r->dict.generations, r->dict.failures,
		       r->dict.last_error ? strerror(-r->dict.last_error) : "no error",
		       r->dict.rejected, gain_percent(r->dict.eval_plain, r->dict.eval_dict),
		       r->dict.reencoded, r->dict.densified,
		       gain_percent(mm.compr_data_size + r->dict.dense_saved, mm.compr_data_size),
		       r->dict_s, (double)r->dict.mem_bytes / 1024);
	printf("io_stat: %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", io.failed_reads,
	       io.failed_writes, io.invalid_io, io.notify_free);
	if (o->cfg.backing_file)
		printf("bd_stat: %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", bd.bd_count, bd.bd_reads,
		       bd.bd_writes);
	printf("ratio: orig/compr %.3f, orig/mem_used_total %.3f\n",
	       ratio(mm.orig_data_size, mm.compr_data_size),
	       ratio(mm.orig_data_size, mm.mem_used_total));
	printf("throughput: write %.1f MB/s, read+verify %.1f MB/s (wall clock); "
	       "per CPU second: write %.1f MB/s, read+verify %.1f MB/s\n",
	       mb_per_s(bytes, r->write_s), mb_per_s(bytes, r->read_s),
	       mb_per_s(bytes, r->write_cpu), mb_per_s(bytes, r->read_cpu));
	printf("memory: mem_used_total %.2f MiB, slot table %.2f MiB (12 bytes/page), "
	       "store resident (RssAnon delta) %.2f MiB\n",
	       tool_mib(mm.mem_used_total), tool_mib(in->nr_pages * 12), tool_mib(r->rss_growth));
}

static void json_dict(const struct run_report *r)
{
	const struct zsram_dict_stat *d = &r->dict;

	if (!d->enabled)
		return;
	printf(",\n  \"auto_dictionary\": {\"current\": %u, \"generations\": %" PRIu64
	       ", \"failures\": %" PRIu64 ", \"last_error\": %d, \"reencoded\": %" PRIu64
	       ", \"dict_bytes\": %" PRIu64 ", \"mem_bytes\": %" PRIu64 ", \"rejected\": %" PRIu64
	       ", \"eval_plain_bytes\": %" PRIu64 ", \"eval_dict_bytes\": %" PRIu64
	       ", \"densified\": %" PRIu64 ", \"dense_saved_bytes\": %" PRIu64
	       ", \"seconds\": %.3f}",
	       d->current, d->generations, d->failures, d->last_error, d->reencoded, d->dict_bytes,
	       d->mem_bytes, d->rejected, d->eval_plain, d->eval_dict, d->densified, d->dense_saved,
	       r->dict_s);
}

static void json_mm_stat(const char *key, const struct zsram_mm_stat *s)
{
	printf("  \"%s\": {\"orig_data_size\": %" PRIu64 ", \"compr_data_size\": %" PRIu64
	       ", \"mem_used_total\": %" PRIu64 ", \"mem_limit\": %" PRIu64
	       ", \"mem_used_max\": %" PRIu64 ", \"same_pages\": %" PRIu64
	       ", \"pages_compacted\": %" PRIu64 ", \"huge_pages\": %" PRIu64
	       ", \"huge_pages_since\": %" PRIu64 "}",
	       key, s->orig_data_size, s->compr_data_size, s->mem_used_total, s->mem_limit,
	       s->mem_used_max, s->same_pages, s->pages_compacted, s->huge_pages,
	       s->huge_pages_since);
}

static void print_json(const struct options *o, const struct input *in, const struct run_report *r)
{
	const struct zsram_mm_stat mm = r->mm;
	const struct zsram_io_stat io = r->io;
	const struct zsram_bd_stat bd = r->bd;
	uint64_t bytes = in->nr_pages * o->cfg.page_size;

	/* Names and algorithm names are ours (no quote or backslash in them). */
	printf("{\n  \"input\": {\"pages\": %" PRIu64 ", \"page_size\": %zu, \"bytes\": %" PRIu64
	       ", \"algorithm\": \"%s\", \"level\": %d, \"dictionary_bytes\": %zu"
	       ", \"allocator\": \"%s\", \"threads\": %u},\n",
	       in->nr_pages, o->cfg.page_size, bytes, zsram_algorithm_name(o->cfg.codec.algorithm),
	       o->cfg.codec.level, o->cfg.codec.dict_size,
	       o->cfg.allocator ? o->cfg.allocator : "zsmalloc", o->threads);
	printf("  \"verified\": %s, \"read_errors\": %" PRIu64 ", \"mismatches\": %" PRIu64
	       ", \"refused_pages\": %" PRIu64 ",\n",
	       r->verified ? "true" : "false", r->read_errors, r->mismatches, r->refused);
	json_mm_stat("mm_stat", &mm);
	printf(",\n  \"io_stat\": {\"failed_reads\": %" PRIu64 ", \"failed_writes\": %" PRIu64
	       ", \"invalid_io\": %" PRIu64 ", \"notify_free\": %" PRIu64 "},\n",
	       io.failed_reads, io.failed_writes, io.invalid_io, io.notify_free);
	if (o->cfg.backing_file)
		printf("  \"bd_stat\": {\"bd_count\": %" PRIu64 ", \"bd_reads\": %" PRIu64
		       ", \"bd_writes\": %" PRIu64 "},\n",
		       bd.bd_count, bd.bd_reads, bd.bd_writes);
	printf("  \"ratio\": {\"orig_compr\": %.4f, \"orig_mem_used_total\": %.4f},\n",
	       ratio(mm.orig_data_size, mm.compr_data_size),
	       ratio(mm.orig_data_size, mm.mem_used_total));
	printf("  \"throughput_mb_s\": {\"write\": %.2f, \"read_verify\": %.2f, "
	       "\"write_per_cpu_second\": %.2f, \"read_verify_per_cpu_second\": %.2f},\n",
	       mb_per_s(bytes, r->write_s), mb_per_s(bytes, r->read_s),
	       mb_per_s(bytes, r->write_cpu), mb_per_s(bytes, r->read_cpu));
	printf("  \"memory_bytes\": {\"mem_used_total\": %" PRIu64 ", \"slot_table\": %" PRIu64
	       ", \"rss_anon_growth\": %" PRIu64 "}",
	       mm.mem_used_total, in->nr_pages * 12, r->rss_growth);
	json_dict(r);
	if (o->recompress)
		printf(",\n  \"recompress\": {\"algorithm\": \"%s\", \"pages\": %ld, \"attempts\": "
		       "%" PRIu64 ", \"saved_bytes\": %" PRIu64 ", \"seconds\": %.3f}",
		       zsram_algorithm_name(o->cfg.recomp[0].algorithm), r->recomp_pages,
		       r->recomp.attempts, r->recomp.saved_bytes, r->recomp_s);
	if (o->discard > 0) {
		printf(",\n  \"discard\": {\"pages\": %" PRIu64 ", \"compaction_freed_pages\": %lu"
		       ", \"compaction_ms\": %.3f, \"verified\": %s},\n",
		       r->discarded, r->compact_freed, r->compact_ms,
		       r->verified_after_discard ? "true" : "false");
		json_mm_stat("mm_stat_after_discard", &r->mm_after_discard);
	}
	printf("\n}\n");
}

void tool_report(const struct options *o, const struct input *in, const struct run_report *r)
{
	if (o->json)
		print_json(o, in, r);
	else
		print_text(o, in, r);
}
