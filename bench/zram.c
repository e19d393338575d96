/*
 * zram.c - the kernel's own zram + zsmalloc as a peer, fed the same pages.
 *
 * Needs root and a writable /sys/block/zram0, taken through zram_dev.c (the
 * lock file, and only when zram0 is not set up by anyone: initstate 0, not
 * swap, not mounted).  It sets comp_algorithm (lz4, or zstd for a zstd
 * corpus) and a disksize of the dataset, writes the dataset's uncompressed
 * pages to /dev/zram0 with O_DIRECT, and reads mm_stat; then it discards
 * the same random objects the other peers free (BLKDISCARD, page by page),
 * reads mm_stat, writes 1 to compact, reads mm_stat again, and always leaves
 * zram0 reset.  zram compresses the pages itself, with the kernel's copy of
 * the algorithm, and keeps same-filled pages without allocating, as our
 * corpus does.  A kernel without the corpus's algorithm makes zram
 * "missing".
 *
 * Its figures are the kernel's: mem_used_total (zsmalloc's pages only; the
 * struct pages, handles, zspage structs and zram's slot table are not
 * counted) over compr_data_size.
 */
#define _GNU_SOURCE
#include "zsbench.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "zram_dev.h"

#define BATCH_PAGES (ZRAM_DEV_BATCH / ZSB_PAGE_SIZE)

static void set_phase(struct zsb_phase *p, double seconds, uint64_t ops, const uint64_t mm[9],
		      uint64_t page_bytes)
{
	p->valid = 1;
	p->seconds = seconds;
	p->ops = ops;
	p->anon_bytes = (int64_t)mm[2]; /* mem_used_total */
	p->payload = mm[1];		/* compr_data_size */
	p->pool_pages = (int64_t)(mm[2] / ZSB_PAGE_SIZE);
	p->page_bytes = page_bytes;
}

/* The slots the allocator peers free: the same seeded shuffle (workload.c). */
static uint32_t *slots_to_free(const struct zsb_corpus *c, const struct zsb_dataset *d,
			       const struct zsb_options *o, size_t *nfree)
{
	uint32_t *live = malloc(d->nslots * sizeof(*live));
	size_t n = 0, i;

	if (!live)
		return NULL;
	for (i = 0; i < d->nslots; i++)
		if (c->page_obj[d->pages[i]] >= 0)
			live[n++] = (uint32_t)i;
	zsb_shuffle(live, n, o->seed ^ 0xf4eeULL);
	*nfree = (size_t)(o->free_fraction * (double)n);
	memmove(live, live + (n - *nfree), *nfree * sizeof(*live));
	return live;
}

static int zram_fill_and_shrink(struct zram_dev *z, const struct zsb_corpus *c,
				const struct zsb_dataset *d, const struct zsb_options *o,
				struct zsb_result *r)
{
	uint32_t *victims = NULL;
	size_t nvictims = 0, s, i;
	double t0;
	int err;
	uint64_t before_compacted;

	t0 = zsb_now();
	for (s = 0; s < d->nslots; s += BATCH_PAGES) {
		size_t n = d->nslots - s < BATCH_PAGES ? d->nslots - s : BATCH_PAGES;

		for (i = 0; i < n; i++)
			memcpy(z->batch + i * ZSB_PAGE_SIZE, c->page_data[d->pages[s + i]],
			       ZSB_PAGE_SIZE);
		err = zram_dev_write_batch(z, n * ZSB_PAGE_SIZE, (uint64_t)s * ZSB_PAGE_SIZE);
		if (err) {
			snprintf(r->reason, sizeof(r->reason), "writing " ZRAM_DEV_PATH ": %s",
				 strerror(-err));
			return -1;
		}
	}
	zram_dev_sync(z);
	t0 = zsb_now() - t0;
	if (zram_dev_mm_stat(r->mm_stat[0]) != 0)
		goto no_mm_stat;
	set_phase(&r->fill, t0, d->nslots, r->mm_stat[0], (uint64_t)d->nslots * ZSB_PAGE_SIZE);

	victims = slots_to_free(c, d, o, &nvictims);
	if (!victims) {
		snprintf(r->reason, sizeof(r->reason), "out of memory");
		return -1;
	}
	t0 = zsb_now();
	for (i = 0; i < nvictims; i++) {
		err = zram_dev_discard(z, (uint64_t)victims[i] * ZSB_PAGE_SIZE, ZSB_PAGE_SIZE);
		if (err) {
			snprintf(r->reason, sizeof(r->reason), "BLKDISCARD: %s", strerror(-err));
			goto fail;
		}
	}
	if (zram_dev_mm_stat(r->mm_stat[1]) != 0)
		goto no_mm_stat;
	set_phase(&r->free, zsb_now() - t0, nvictims, r->mm_stat[1],
		  (uint64_t)nvictims * ZSB_PAGE_SIZE);

	before_compacted = r->mm_stat[1][6];
	t0 = zsb_now();
	err = zram_dev_compact();
	if (err) {
		snprintf(r->reason, sizeof(r->reason), "compact: %s", strerror(-err));
		goto fail;
	}
	if (zram_dev_mm_stat(r->mm_stat[2]) != 0)
		goto no_mm_stat;
	set_phase(&r->compact, zsb_now() - t0, 1, r->mm_stat[2], 0);
	r->compact_pages_reported = (int64_t)(r->mm_stat[2][6] - before_compacted);
	free(victims);
	return 0;

no_mm_stat:
	snprintf(r->reason, sizeof(r->reason), "cannot read " ZRAM_DEV_SYS "mm_stat");
fail:
	free(victims);
	return -1;
}

void zsb_run_zram(const struct zsb_corpus *c, const struct zsb_dataset *d,
		  const struct zsb_options *o, struct zsb_result *r)
{
	static const enum zsb_status status[] = {
		[ZRAM_DEV_OK] = ZSB_OK,
		[ZRAM_DEV_MISSING] = ZSB_MISSING,
		[ZRAM_DEV_BUSY] = ZSB_BUSY,
		[ZRAM_DEV_FAILED] = ZSB_FAILED,
	};
	struct zram_dev z;
	enum zram_dev_status st;
	char params[64];

	memset(r, 0, sizeof(*r));
	snprintf(r->dataset, sizeof(r->dataset), "%s", d->name);
	snprintf(r->peer, sizeof(r->peer), "zram");
	r->compact_pages_reported = -1;
	r->rss_honest = 0; /* pages only: see the header comment */
	snprintf(params, sizeof(params), "algo=zstd level=%d", c->level);
	st = zram_dev_open(&z, c->compressor == ZSB_ZSTD ? "zstd" : "lz4",
			   c->compressor == ZSB_ZSTD ? params : NULL,
			   (uint64_t)d->nslots * ZSB_PAGE_SIZE, r->reason, sizeof(r->reason));
	if (st != ZRAM_DEV_OK) {
		r->status = status[st];
		return;
	}
	if (zram_fill_and_shrink(&z, c, d, o, r) == 0) {
		r->status = ZSB_OK;
		snprintf(r->reason, sizeof(r->reason),
			 "kernel figures: pages only, no metadata counted");
	} else {
		r->status = ZSB_FAILED;
	}
	zram_dev_release(&z, "zsbench");
}
