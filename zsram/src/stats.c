/*
 * stats.c - the store's statistics in zram's formats (mm_stat, io_stat,
 * bd_stat), the allocator's class table, slot inspection and the
 * consistency checker.
 *
 * Counters are relaxed atomics updated on the I/O paths; a snapshot taken
 * while I/O runs is a mix of moments, as zram's is.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "zsram_internal.h"

void zsram_get_mm_stat(struct zsram *z, struct zsram_mm_stat *st)
{
	uint64_t ps = z->page_size;
	uint64_t used = zsram_mem_pages(z);
	uint64_t max = STAT_GET(z->max_used_pages);

	st->orig_data_size = STAT_GET(z->pages_stored) * ps;
	st->compr_data_size = STAT_GET(z->compr_data_size);
	st->mem_used_total = used * ps;
	st->mem_limit = z->limit_pages * ps;
	st->mem_used_max = (max > used ? max : used) * ps;
	st->same_pages = STAT_GET(z->same_pages);
	st->pages_compacted = zpool_pages_compacted(z->alloc.pool);
	st->huge_pages = STAT_GET(z->huge_pages);
	st->huge_pages_since = STAT_GET(z->huge_pages_since);
}

void zsram_get_io_stat(struct zsram *z, struct zsram_io_stat *st)
{
	*st = (struct zsram_io_stat){ .failed_reads = STAT_GET(z->failed_reads),
				      .failed_writes = STAT_GET(z->failed_writes),
				      .invalid_io = STAT_GET(z->invalid_io),
				      .notify_free = STAT_GET(z->notify_free) };
}

void zsram_get_bd_stat(struct zsram *z, struct zsram_bd_stat *st)
{
	*st = (struct zsram_bd_stat){ .bd_count = STAT_GET(z->bd_count),
				      .bd_reads = STAT_GET(z->bd_reads),
				      .bd_writes = STAT_GET(z->bd_writes) };
}

void zsram_get_recomp_stat(struct zsram *z, struct zsram_recomp_stat *st)
{
	st->recompressed = STAT_GET(z->recompressed);
	st->attempts = STAT_GET(z->recomp_attempts);
	st->saved_bytes = STAT_GET(z->recomp_saved);
}

int zsram_print_mm_stat(struct zsram *z, FILE *out)
{
	struct zsram_mm_stat s;

	zsram_get_mm_stat(z, &s);
	return fprintf(out,
		       "%8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %8" PRIu64
		       " %8" PRIu64 " %8" PRIu64 " %8" PRIu64 "\n",
		       s.orig_data_size, s.compr_data_size, s.mem_used_total, s.mem_limit,
		       s.mem_used_max, s.same_pages, s.pages_compacted, s.huge_pages,
		       s.huge_pages_since) < 0
		       ? -1
		       : 0;
}

int zsram_print_io_stat(struct zsram *z, FILE *out)
{
	struct zsram_io_stat s;

	zsram_get_io_stat(z, &s);
	return fprintf(out, "%8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %8" PRIu64 "\n", s.failed_reads,
		       s.failed_writes, s.invalid_io, s.notify_free) < 0
		       ? -1
		       : 0;
}

int zsram_print_bd_stat(struct zsram *z, FILE *out)
{
	struct zsram_bd_stat s;

	zsram_get_bd_stat(z, &s);
	return fprintf(out, "%8" PRIu64 " %8" PRIu64 " %8" PRIu64 "\n", s.bd_count, s.bd_reads,
		       s.bd_writes) < 0
		       ? -1
		       : 0;
}

int zsram_print_class_stats(struct zsram *z, FILE *out)
{
	return zpool_print_stats(z->alloc.pool, out);
}

int zsram_slot_info(struct zsram *z, uint64_t index, struct zsram_slot_info *info)
{
	uint32_t flags;

	if (index >= z->nr_pages)
		return -EINVAL;
	flags = zsram_slot_lock(&z->slots, index);
	zsram_slot_unlock_set(&z->slots, index, flags);
	memset(info, 0, sizeof(*info));
	info->idle = !!(flags & SLOT_IDLE);
	if (flags & SLOT_SAME) {
		info->kind = ZSRAM_SLOT_SAME;
	} else if (flags & SLOT_WB) {
		info->kind = ZSRAM_SLOT_WRITTEN_BACK;
		info->size = (unsigned int)z->page_size;
	} else if (flags & SLOT_SIZE_MASK) {
		info->kind = (flags & SLOT_HUGE) ? ZSRAM_SLOT_HUGE : ZSRAM_SLOT_COMPRESSED;
		info->size = flags & SLOT_SIZE_MASK;
		info->algorithm = slot_alg(flags);
	} else {
		info->kind = ZSRAM_SLOT_EMPTY;
	}
	return 0;
}

static int check_fail(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	if (why && why_len) {
		va_start(ap, fmt);
		vsnprintf(why, why_len, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* Whether a slot may record codec: set up at creation, or a dictionary
 * generation that is alive (the thread is idle: see zsram_check). */
static bool codec_configured(struct zsram *z, unsigned int codec)
{
	if (codec_is_dict(codec))
		return z->dict.enabled && z->dict.gen_dict_size[codec - ZSRAM_CODEC_DICT];
	return codec < z->nr_codecs;
}

int zsram_check(struct zsram *z, char *why, size_t why_len)
{
	uint64_t stored = 0, same = 0, huge = 0, wb = 0, recomp = 0, compr = 0, raw = 0;
	uint64_t gen[ZSRAM_DICT_GENS] = { 0 };

	/* The dictionary thread's work first, so the counters are exact. */
	if (z->dict.enabled)
		zsram_dict_wait(z);

	for (uint64_t i = 0; i < z->nr_pages; i++) {
		uint32_t flags = zsram_slot_lock(&z->slots, i);
		uint64_t value = z->slots.values[i];

		zsram_slot_unlock_set(&z->slots, i, flags);
		if (flags & SLOT_SAME) {
			same++;
			stored++;
			if (flags & (SLOT_WB | SLOT_HUGE | SLOT_SIZE_MASK))
				return check_fail(why, why_len,
						  "slot %" PRIu64
						  ": same-filled with other bits %#x",
						  i, flags);
		} else if (flags & SLOT_WB) {
			wb++;
			if (value >= z->backing.nr_blocks)
				return check_fail(why, why_len,
						  "slot %" PRIu64 ": backing block %" PRIu64
						  " out of range",
						  i, value);
		} else if (flags & SLOT_SIZE_MASK) {
			size_t size = flags & SLOT_SIZE_MASK;

			stored++;
			compr += size;
			if (!value)
				return check_fail(why, why_len,
						  "slot %" PRIu64 ": stored with handle 0", i);
			if ((flags & SLOT_HUGE) && size != z->page_size)
				return check_fail(why, why_len,
						  "slot %" PRIu64 ": huge with size %zu", i, size);
			if (!(flags & SLOT_HUGE) && size >= z->alloc.huge_size)
				return check_fail(why, why_len,
						  "slot %" PRIu64
						  ": compressed size %zu >= huge size %zu",
						  i, size, z->alloc.huge_size);
			if (flags & SLOT_HUGE)
				huge++;
			if (!codec_configured(z, slot_alg(flags)) ||
			    ((flags & SLOT_HUGE) && slot_alg(flags)))
				return check_fail(why, why_len,
						  "slot %" PRIu64 ": algorithm %u not configured",
						  i, slot_alg(flags));
			recomp += codec_is_recomp(slot_alg(flags));
			if (codec_is_dict(slot_alg(flags)))
				gen[slot_alg(flags) - ZSRAM_CODEC_DICT]++;
			if ((flags & SLOT_RAW) && !(flags & SLOT_HUGE))
				return check_fail(why, why_len,
						  "slot %" PRIu64 ": raw but not huge", i);
			raw += !!(flags & SLOT_RAW);
		} else if (value) {
			return check_fail(why, why_len,
					  "slot %" PRIu64 ": empty with value %#" PRIx64, i, value);
		}
	}
#define CHECK_COUNTER(name, counted)                                                           \
	do {                                                                                   \
		if (STAT_GET(z->name) != (counted))                                            \
			return check_fail(why, why_len,                                        \
					  #name " is %" PRIu64 " but the slots hold %" PRIu64, \
					  (uint64_t)STAT_GET(z->name), (uint64_t)(counted));   \
	} while (0)
	CHECK_COUNTER(pages_stored, stored);
	CHECK_COUNTER(same_pages, same);
	CHECK_COUNTER(huge_pages, huge);
	CHECK_COUNTER(bd_count, wb);
	CHECK_COUNTER(recompressed, recomp);
	CHECK_COUNTER(compr_data_size, compr);
	CHECK_COUNTER(raw_pages, raw);
	for (unsigned int g = 0; g < ZSRAM_DICT_GENS; g++)
		CHECK_COUNTER(dict.refs[g], gen[g]);
#undef CHECK_COUNTER
	if (zpool_check(z->alloc.pool, why, why_len)) {
		if (why && why_len) {
			char inner[256];

			snprintf(inner, sizeof(inner), "%s", why);
			snprintf(why, why_len, "allocator: %s", inner);
		}
		return -1;
	}
	return 0;
}
