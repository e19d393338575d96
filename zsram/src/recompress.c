/*
 * recompress.c - idle marking and recompression with the secondary
 * algorithm (zram's recompress).
 *
 * Recompression walks the slot table, taking each slot's lock in turn: a
 * selected page is decompressed with the algorithm its slot records,
 * compressed with the secondary one, and kept in the new form only when it
 * comes out smaller (and below the huge size).  The slot then records
 * algorithm 1, so reads use the secondary codec.  Pages of the primary
 * algorithm with an automatic dictionary are recompressed like the others.
 * The re-encoding step itself is shared with the dictionary thread.  A page tried without gain
 * is marked NORECOMP until it is rewritten.
 */
#include <errno.h>
#include <stdlib.h>

#include "zsram_internal.h"

uint64_t zsram_mark_idle(struct zsram *z)
{
	uint64_t marked = 0;

	for (uint64_t i = 0; i < z->nr_pages; i++) {
		uint32_t flags = zsram_slot_lock(&z->slots, i);

		if ((flags & (SLOT_SAME | SLOT_WB)) || (flags & SLOT_SIZE_MASK)) {
			flags |= SLOT_IDLE;
			marked++;
		}
		zsram_slot_unlock_set(&z->slots, i, flags);
	}
	return marked;
}

long zsram_mark_idle_age(struct zsram *z, uint64_t seconds)
{
	uint32_t now;
	long marked = 0;

	if (!z->slots.atime)
		return -EINVAL;
	now = zsram_now(z);
	for (uint64_t i = 0; i < z->nr_pages; i++) {
		uint32_t flags = zsram_slot_lock(&z->slots, i);

		if (((flags & (SLOT_SAME | SLOT_WB)) || (flags & SLOT_SIZE_MASK)) &&
		    (uint64_t)(now - z->slots.atime[i]) >= seconds) {
			flags |= SLOT_IDLE;
			marked++;
		}
		zsram_slot_unlock_set(&z->slots, i, flags);
	}
	return marked;
}

static bool selected(uint32_t flags, unsigned int select)
{
	return (select & ZSRAM_SEL_ALL) || ((select & ZSRAM_SEL_HUGE) && (flags & SLOT_HUGE)) ||
	       ((select & ZSRAM_SEL_IDLE) && (flags & SLOT_IDLE));
}

int zsram_slot_reencode_locked(struct zsram *z, uint64_t i, uint32_t *flags, void *page,
			       unsigned int codec, struct zsram_codec_ctx *ctx, size_t cap)
{
	ZSRAM_ASSERT_SLOT_LOCKED(z, i);
	long n;
	int err;

	err = zsram_slot_read_locked(z, i, *flags, page);
	if (err)
		return err;
	n = zsram_codec_compress(&z->codecs[codec], ctx, page, z->page_size, ctx->buf, cap);
	if (n <= 0)
		return (int)n;
	return zsram_slot_replace_locked(z, i, flags, codec, ctx->buf, (size_t)n);
}

int zsram_slot_replace_locked(struct zsram *z, uint64_t i, uint32_t *flags, unsigned int codec,
			      const void *buf, size_t n)
{
	ZSRAM_ASSERT_SLOT_LOCKED(z, i);
	size_t size = *flags & SLOT_SIZE_MASK;
	unsigned long handle;
	int err;

	/* The memory limit answers as it does for writes. */
	handle = zsram_alloc_within_limit(z, n, false, &err);
	if (!handle)
		return err;
	zpool_write(z->alloc.pool, handle, buf, n);
	zsram_slot_release_mem(z, i, *flags);
	z->slots.values[i] = handle;
	if (*flags & SLOT_HUGE)
		STAT_SUB(z->huge_pages, 1);
	zsram_codec_count(z, slot_alg(*flags), -1);
	zsram_codec_count(z, codec, +1);
	STAT_SUB(z->compr_data_size, size);
	STAT_ADD(z->compr_data_size, n);
	STAT_ADD(z->frees_since_check, 1);
	*flags = (*flags & SLOT_IDLE) | slot_alg_bits(codec) | (uint32_t)n;
	return 1;
}

/* Recompresses slot i (locked, *flags), its page read into page, with the
 * secondary algorithms of priorities first..last (0-based; ctx[p] is a
 * context of each), keeping the first form that is smaller.  Returns 1 if
 * it was recompressed, 0 if none was smaller, or a negative errno. */
static int recompress_slot(struct zsram *z, uint64_t i, uint32_t *flags, void *page,
			   struct zsram_codec_ctx **ctx, unsigned int first, unsigned int last)
{
	ZSRAM_ASSERT_SLOT_LOCKED(z, i);
	size_t size = *flags & SLOT_SIZE_MASK;
	size_t cap = size - 1;
	int err;

	STAT_ADD(z->recomp_attempts, 1);
	if (cap > z->alloc.huge_size - 1)
		cap = z->alloc.huge_size - 1;
	err = zsram_slot_read_locked(z, i, *flags, page);
	if (err)
		return err;
	for (unsigned int p = first; p <= last; p++) {
		unsigned int codec = ZSRAM_CODEC_RECOMP + p;
		long n = zsram_codec_compress(&z->codecs[codec], ctx[p], page, z->page_size,
					      ctx[p]->buf, cap);

		if (n < 0)
			return (int)n;
		if (n == 0)
			continue; /* not smaller: the next priority */
		err = zsram_slot_replace_locked(z, i, flags, codec, ctx[p]->buf, (size_t)n);
		if (err > 0)
			STAT_ADD(z->recomp_saved, size - (size_t)n);
		return err;
	}
	return 0;
}

long zsram_recompress_prio(struct zsram *z, unsigned int select, size_t threshold,
			   unsigned int priority)
{
	unsigned int nr = z->nr_codecs - 1; /* secondary algorithms */
	unsigned int lo = priority ? priority - 1 : 0, hi = priority ? priority - 1 : nr - 1;
	struct zsram_codec_ctx *ctx[ZSRAM_MAX_RECOMP] = { 0 };
	long done = 0;
	void *page;
	int err = 0;

	if (nr == 0 || priority > nr)
		return -EINVAL;
	page = malloc(z->page_size);
	for (unsigned int p = lo; p <= hi; p++)
		if (!(ctx[p] = zsram_codec_get(&z->codecs[ZSRAM_CODEC_RECOMP + p])))
			err = -ENOMEM;
	if (!page)
		err = -ENOMEM;
	for (uint64_t i = 0; i < z->nr_pages && err >= 0; i++) {
		uint32_t flags = zsram_slot_lock(&z->slots, i);
		unsigned int alg = slot_alg(flags);
		/* Only priorities after the one the page is in. */
		unsigned int first = codec_is_recomp(alg) ? alg - ZSRAM_CODEC_RECOMP + 1 : 0;

		if (first < lo)
			first = lo;
		if (slot_in_allocator(flags) && first <= hi && !(flags & SLOT_NORECOMP) &&
		    selected(flags, select) && (flags & SLOT_SIZE_MASK) >= threshold) {
			err = recompress_slot(z, i, &flags, page, ctx, first, hi);
			if (err > 0)
				done++;
			else if (err == 0 && !priority)
				flags |= SLOT_NORECOMP; /* none of them helps */
		}
		zsram_slot_unlock_set(&z->slots, i, flags);
	}
	for (unsigned int p = lo; p <= hi; p++)
		if (ctx[p])
			zsram_codec_put(&z->codecs[ZSRAM_CODEC_RECOMP + p], ctx[p]);
	free(page);
	zsram_maybe_compact(z);
	return err < 0 && done == 0 ? err : done;
}

long zsram_recompress(struct zsram *z, unsigned int select, size_t threshold)
{
	return zsram_recompress_prio(z, select, threshold, 0);
}
