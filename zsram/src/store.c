/*
 * store.c - the store: creation, and writing, reading and discarding pages.
 *
 * Write path (slot lock held throughout, so a page's operations are
 * serialised and different pages run in parallel):
 *   1. same-filled? keep the word in the slot, allocate nothing;
 *   2. compress with the primary codec (or, with zstd, its current automatic
 *      dictionary) into a buffer of huge_size - 1 bytes:
 *      if it does not fit, the page is huge and is stored raw;
 *   3. allocate the object; if mem_used_total now exceeds the limit, free it
 *      again (the pool is as before), write cold pages back if there is a
 *      backing file and retry, else fail with -ENOSPC;
 *   4. copy the object in, free what the slot held before, record the new
 *      handle, size and kind.
 * Nothing in the slot changes before step 4, so every failure leaves the
 * store as it was.
 *
 * Read path: under the slot lock, read the object (in place or through the
 * context's scratch buffer) and decompress it with the codec the slot
 * records.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "zsram_internal.h"

#define AUTO_COMPACT_MIN_PAGES 64 /* don't compact tiny pools */
#define AUTO_COMPACT_EVERY 32	  /* frees between fragmentation checks */
#define DEFAULT_COMPACT_THRESHOLD 0.25

void zsram_config_init(struct zsram_config *config)
{
	memset(config, 0, sizeof(*config));
	config->page_size = 4096;
	config->codec.algorithm = ZSRAM_ALG_LZ4;
	for (unsigned int p = 0; p < ZSRAM_MAX_RECOMP; p++)
		config->recomp[p].algorithm = ZSRAM_ALG_ZSTD;
}

uint32_t zsram_now(struct zsram *z)
{
	uint64_t fake = atomic_load_explicit(&z->test_now, memory_order_relaxed);
	struct timespec t;

	if (fake)
		return (uint32_t)fake;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
	return (uint32_t)(t.tv_sec - z->epoch.tv_sec);
}

struct zsram *zsram_create(const struct zsram_config *cfg)
{
	struct zsram *z;
	size_t ps;
	int err;

	if (!cfg || cfg->nr_pages == 0) {
		errno = EINVAL;
		return NULL;
	}
	ps = cfg->page_size ? cfg->page_size : 4096;
	if (!zs_page_size_valid(ps) || cfg->nr_pages > UINT64_MAX / ps ||
	    (cfg->writeback_limit && (!cfg->backing_file || cfg->writeback_limit > INT64_MAX))) {
		errno = EINVAL;
		return NULL;
	}
	z = calloc(1, sizeof(*z));
	if (!z) {
		errno = ENOMEM;
		return NULL;
	}
	z->nr_pages = cfg->nr_pages;
	z->page_size = ps;
	z->page_shift = (unsigned int)__builtin_ctzl(ps);
	z->backing.fd = -1;
	zs_mutex_init(&z->backing.lock);
	zs_mutex_init(&z->backing.scan_lock);
	atomic_flag_clear(&z->compacting);
	z->limit_pages = (cfg->mem_limit + ps - 1) / ps;
	z->compact_threshold =
		cfg->compact_threshold == 0 ? DEFAULT_COMPACT_THRESHOLD : cfg->compact_threshold;

	err = zsram_slots_init(&z->slots, cfg->nr_pages);
	if (err)
		goto fail;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &z->epoch);
	if (cfg->track_access_time && !(z->slots.atime = calloc(cfg->nr_pages, sizeof(uint32_t)))) {
		err = -ENOMEM;
		goto fail;
	}
	err = zsram_codec_init(&z->codecs[0], &cfg->codec, ps);
	if (err)
		goto fail;
	z->nr_codecs = 1;
	if (cfg->nr_recomp > ZSRAM_MAX_RECOMP) {
		err = -EINVAL;
		goto fail;
	}
	for (unsigned int p = 0; p < cfg->nr_recomp; p++) {
		err = zsram_codec_init(&z->codecs[ZSRAM_CODEC_RECOMP + p], &cfg->recomp[p], ps);
		if (err)
			goto fail;
		z->nr_codecs++;
	}
	err = zsram_alloc_init(&z->alloc, cfg->allocator, cfg->name ? cfg->name : "zsram", ps,
			       z->limit_pages);
	if (err)
		goto fail;
	err = zsram_dict_init(z, cfg);
	if (err)
		goto fail;
	if (cfg->backing_file) {
		err = zsram_backing_open(z, cfg->backing_file,
					 cfg->backing_pages ? cfg->backing_pages : cfg->nr_pages);
		if (err)
			goto fail;
		atomic_store(&z->backing.budget,
			     cfg->writeback_limit ? (int64_t)cfg->writeback_limit : -1);
	}
	return z;
fail:
	zsram_destroy(z);
	errno = -err;
	return NULL;
}

void zsram_destroy(struct zsram *z)
{
	if (!z)
		return;
	zsram_dict_fini(z); /* its thread works on slots: first */
	zsram_alloc_fini(&z->alloc);
	zsram_backing_close(z);
	for (unsigned int i = 0; i < z->nr_codecs; i++)
		zsram_codec_fini(&z->codecs[i]);
	zsram_slots_fini(&z->slots);
	zs_mutex_destroy(&z->backing.lock);
	zs_mutex_destroy(&z->backing.scan_lock);
	free(z);
}

size_t zsram_page_size(const struct zsram *z)
{
	return z->page_size;
}

uint64_t zsram_nr_pages(const struct zsram *z)
{
	return z->nr_pages;
}

static void fill_word(void *page, size_t page_size, uint64_t word)
{
	unsigned char *p = page;

	for (size_t off = 0; off < page_size; off += sizeof(word))
		memcpy(p + off, &word, sizeof(word));
}

uint64_t zsram_mem_pages(struct zsram *z)
{
	return zpool_total_pages(z->alloc.pool) + STAT_GET(z->raw_pages);
}

void zsram_release_handle(struct zsram *z, unsigned long handle, bool raw)
{
	if (raw) {
		zs_single_free(&z->alloc.pages, (void *)(uintptr_t)handle);
		STAT_SUB(z->raw_pages, 1);
	} else {
		zpool_free(z->alloc.pool, handle);
	}
}

void zsram_slot_release_mem(struct zsram *z, uint64_t index, uint32_t flags)
{
	zsram_release_handle(z, z->slots.values[index], flags & SLOT_RAW);
}

void zsram_note_mem_used(struct zsram *z)
{
	uint64_t pages = zsram_mem_pages(z);
	uint64_t max = STAT_GET(z->max_used_pages);

	while (pages > max &&
	       !atomic_compare_exchange_weak_explicit(&z->max_used_pages, &max, pages,
						      memory_order_relaxed, memory_order_relaxed))
		;
}

void zsram_slot_free_locked(struct zsram *z, uint64_t index, uint32_t flags)
{
	ZSRAM_ASSERT_SLOT_LOCKED(z, index);
	if (flags & SLOT_SAME) {
		STAT_SUB(z->same_pages, 1);
		STAT_SUB(z->pages_stored, 1);
	} else if (flags & SLOT_WB) {
		zsram_backing_free(z, z->slots.values[index]);
		STAT_SUB(z->bd_count, 1);
	} else if (flags & SLOT_SIZE_MASK) {
		zsram_slot_release_mem(z, index, flags);
		STAT_SUB(z->compr_data_size, flags & SLOT_SIZE_MASK);
		STAT_SUB(z->pages_stored, 1);
		if (flags & SLOT_HUGE)
			STAT_SUB(z->huge_pages, 1);
		zsram_codec_count(z, slot_alg(flags), -1);
		STAT_ADD(z->frees_since_check, 1);
	} else {
		return;
	}
	z->slots.values[index] = 0;
}

unsigned long zsram_alloc_within_limit(struct zsram *z, size_t size, bool raw, int *err)
{
	unsigned long handle;

	if (raw)
		handle = (unsigned long)(uintptr_t)zs_single_alloc(&z->alloc.pages);
	else
		handle = zpool_malloc(z->alloc.pool, size);
	if (!handle) {
		/* The pool keeps the limit for its own pages and says
		 * ENOSPC (see zsram_alloc_init). */
		*err = errno == ENOSPC ? -ENOSPC : -ENOMEM;
		return 0;
	}
	if (raw)
		STAT_ADD(z->raw_pages, 1);
	/* With RAW pages, as in zram: allocate, and free again what passes
	 * the limit (zbud and z3fold free a page as soon as it is empty, so
	 * this undoes the allocation exactly). */
	if (z->limit_pages && zsram_mem_pages(z) > z->limit_pages) {
		zsram_release_handle(z, handle, raw);
		*err = -ENOSPC;
		return 0;
	}
	return handle;
}

/* Allocates size bytes within the memory limit, for slot `index` (locked);
 * with a backing file, cold pages are written back and the allocation
 * retried.  Returns the handle, or 0 with *err set. */
static unsigned long alloc_for_slot(struct zsram *z, uint64_t index, size_t size, bool raw, int *err)
{
	ZSRAM_ASSERT_SLOT_LOCKED(z, index);
	for (;;) {
		int e = 0;
		unsigned long handle = zsram_alloc_within_limit(z, size, raw, &e);

		if (handle)
			return handle;
		if (e != -ENOSPC || z->backing.fd < 0 || zsram_writeback_for_room(z, index) <= 0) {
			*err = e;
			return 0;
		}
	}
}

int zsram_slot_store_locked(struct zsram *z, uint64_t index, uint32_t *flags, const void *page)
{
	ZSRAM_ASSERT_SLOT_LOCKED(z, index);
	struct zsram_codec *codec;
	struct zsram_codec_ctx *ctx;
	unsigned long handle;
	unsigned int alg;
	const void *src;
	uint32_t newflags;
	uint64_t word;
	size_t size;
	long n;
	int err = 0;

	if (zs_page_same_filled(page, z->page_size, &word)) {
		zsram_slot_free_locked(z, index, *flags);
		z->slots.values[index] = word;
		*flags = SLOT_SAME;
		STAT_ADD(z->same_pages, 1);
		STAT_ADD(z->pages_stored, 1);
		return 0;
	}

	alg = zsram_dict_get(z); /* the primary, or its current dictionary */
	codec = &z->codecs[alg];
	ctx = zsram_codec_get(codec);
	if (!ctx) {
		zsram_dict_put(z, alg);
		return -ENOMEM;
	}
	n = zsram_codec_compress(codec, ctx, page, z->page_size, ctx->buf, z->alloc.huge_size - 1);
	if (n < 0) {
		err = (int)n;
		goto out;
	}
	if (n == 0) {
		src = page;
		size = z->page_size;
		newflags = SLOT_HUGE;
		if (size > z->alloc.max_size)
			newflags |= SLOT_RAW; /* the backend cannot take it */
	} else {
		src = ctx->buf;
		size = (size_t)n;
		newflags = slot_alg_bits(alg);
	}
	handle = alloc_for_slot(z, index, size, newflags & SLOT_RAW, &err);
	if (!handle)
		goto out;
	if (newflags & SLOT_RAW) {
		memcpy((void *)(uintptr_t)handle, src, size);
	} else {
		zpool_write(z->alloc.pool, handle, src, size);
	}

	zsram_slot_free_locked(z, index, *flags);
	z->slots.values[index] = handle;
	*flags = newflags | (uint32_t)size;
	STAT_ADD(z->pages_stored, 1);
	STAT_ADD(z->compr_data_size, size);
	if (newflags & SLOT_HUGE) {
		STAT_ADD(z->huge_pages, 1);
		STAT_ADD(z->huge_pages_since, 1);
	}
	zsram_note_mem_used(z);
	zsram_dict_note_write(z, page, alg, n > 0 ? (size_t)n : 0);
out:
	/* The slot keeps the generation's reference only if it records it. */
	if (err || n == 0)
		zsram_dict_put(z, alg);
	zsram_codec_put(codec, ctx);
	return err;
}

int zsram_slot_read_locked(struct zsram *z, uint64_t index, uint32_t flags, void *page)
{
	ZSRAM_ASSERT_SLOT_LOCKED(z, index);
	unsigned long handle = z->slots.values[index];
	size_t size = flags & SLOT_SIZE_MASK;
	struct zsram_codec *codec;
	struct zsram_codec_ctx *ctx;
	void *mem;
	int err;

	if (flags & SLOT_SAME) {
		fill_word(page, z->page_size, z->slots.values[index]);
		return 0;
	}
	if (flags & SLOT_WB) {
		err = zsram_backing_read(z, z->slots.values[index], page);
		if (!err)
			STAT_ADD(z->bd_reads, 1);
		return err;
	}
	if (!size) {
		memset(page, 0, z->page_size);
		return 0;
	}
	if (flags & SLOT_RAW) {
		memcpy(page, (const void *)(uintptr_t)handle, z->page_size);
		return 0;
	}
	if (flags & SLOT_HUGE) {
		/* The page itself has room for the allocator's local copy. */
		mem = zpool_read_begin(z->alloc.pool, handle, page);
		if (mem != page)
			memcpy(page, mem, z->page_size);
		zpool_read_end(z->alloc.pool, handle, mem);
		return 0;
	}
	codec = &z->codecs[slot_alg(flags)];
	ctx = zsram_codec_get(codec);
	if (!ctx)
		return -ENOMEM;
	mem = zpool_read_begin(z->alloc.pool, handle, ctx->buf);
	err = zsram_codec_decompress(codec, ctx, mem, size, page, z->page_size);
	zpool_read_end(z->alloc.pool, handle, mem);
	zsram_codec_put(codec, ctx);
	return err;
}

void zsram_maybe_compact(struct zsram *z)
{
	uint64_t total, compr;

	if (z->compact_threshold < 0 || STAT_GET(z->frees_since_check) < AUTO_COMPACT_EVERY)
		return;
	atomic_store_explicit(&z->frees_since_check, 0, memory_order_relaxed);
	total = zsram_mem_pages(z);
	if (total < AUTO_COMPACT_MIN_PAGES)
		return;
	total *= z->page_size;
	compr = STAT_GET(z->compr_data_size);
	if (compr >= total || (double)(total - compr) / (double)total <= z->compact_threshold)
		return;
	if (atomic_flag_test_and_set(&z->compacting))
		return; /* another thread is at it */
	zpool_compact(z->alloc.pool);
	atomic_flag_clear(&z->compacting);
}

unsigned long zsram_compact(struct zsram *z)
{
	return zpool_compact(z->alloc.pool);
}

/* The page interface's argument check: a bad one is counted as invalid_io. */
static bool page_args_ok(struct zsram *z, uint64_t index, const void *page)
{
	if (index < z->nr_pages && page)
		return true;
	STAT_ADD(z->invalid_io, 1);
	return false;
}

int zsram_write_page(struct zsram *z, uint64_t index, const void *page)
{
	uint32_t flags;
	int err;

	if (!page_args_ok(z, index, page))
		return -EINVAL;
	flags = zsram_slot_lock(&z->slots, index);
	err = zsram_slot_store_locked(z, index, &flags, page);
	zsram_slot_touch(z, index);
	zsram_slot_unlock_set(&z->slots, index, err ? flags : flags & ~(SLOT_IDLE | SLOT_NORECOMP));
	if (err)
		STAT_ADD(z->failed_writes, 1);
	else
		zsram_maybe_compact(z);
	return err;
}

int zsram_read_page(struct zsram *z, uint64_t index, void *page)
{
	uint32_t flags;
	int err;

	if (!page_args_ok(z, index, page))
		return -EINVAL;
	flags = zsram_slot_lock(&z->slots, index);
	err = zsram_slot_read_locked(z, index, flags, page);
	zsram_slot_touch(z, index);
	zsram_slot_unlock_set(&z->slots, index, flags & ~SLOT_IDLE);
	if (err)
		STAT_ADD(z->failed_reads, 1);
	return err;
}

int zsram_discard(struct zsram *z, uint64_t index, uint64_t count)
{
	if (index >= z->nr_pages || count > z->nr_pages - index) {
		STAT_ADD(z->invalid_io, 1);
		return -EINVAL;
	}
	for (uint64_t i = index; i < index + count; i++) {
		uint32_t flags = zsram_slot_lock(&z->slots, i);

		if ((flags & (SLOT_SAME | SLOT_WB)) || (flags & SLOT_SIZE_MASK))
			STAT_ADD(z->notify_free, 1);
		zsram_slot_free_locked(z, i, flags);
		zsram_slot_unlock_set(&z->slots, i, 0);
	}
	zsram_maybe_compact(z);
	return 0;
}
