/*
 * copy.c - a dropped page's copy: one repeated word, an object in the
 * zsmalloc pool (compressed, or raw when it would not shrink below the huge
 * class size), or bytes in the writeback file.
 *
 * Writeback: when the pool is at max_pool and a writeback target is set,
 * the oldest pool objects (the stored list is in eviction order, so the
 * coldest come first) are written to the target (target.c) and freed from
 * the pool.  Pages brought back leave holes in the pool: every COMPACT_EVERY
 * frees, when the pool's pages exceed its objects' bytes by more than 1/16,
 * it is compacted (zswap leaves that to the kernel's shrinker; we have none).
 * A write that fails
 * leaves the object in the pool (counted in writeback_errors): nothing is
 * lost.  Caller holds z->lock for every function here.
 */
#include <errno.h>
#include <string.h>

#include "zsswap_internal.h"

#define WRITEBACK_BATCH 16
#define COMPACT_EVERY 1024 /* pool frees between looks at fragmentation */

static size_t stored_bytes(const struct zsswap *z, const struct zsswap_page *p)
{
	return p->raw ? z->page_size : p->stored_len;
}

static void fill_word(void *page, size_t size, uint64_t word)
{
	for (size_t off = 0; off < size; off += sizeof(word))
		memcpy((char *)page + off, &word, sizeof(word));
}

bool zsswap_pool_full(struct zsswap *z)
{
	unsigned long max = zs_get_max_pages(z->pool);

	return max && zs_get_total_pages(z->pool) >= max;
}

static void pool_free(struct zsswap *z, const struct zsswap_page *p)
{
	zs_free(z->pool, p->copy);
	z->stored_bytes -= stored_bytes(z, p);
	z->pool_refused = false;
	if (++z->frees_since_compact < COMPACT_EVERY)
		return;
	z->frees_since_compact = 0;
	uint64_t pool_bytes = (uint64_t)zs_get_total_pages(z->pool) * zs_page_size(z->pool);

	if (pool_bytes > z->stored_bytes + z->stored_bytes / 64)
		zs_compact(z->pool);
}

/* Writes the stored object of page idx to the file; 0 or -errno. */
static int write_back_one(struct zsswap *z, uint32_t idx)
{
	struct zsswap_page *p = &z->pages[idx];
	void *mem = zs_obj_read_begin(z->pool, p->copy, z->ctx->buf);
	int err = zsswap_target_write(&z->target, mem, stored_bytes(z, p),
				      (uint64_t)idx * z->page_size);

	zs_obj_read_end(z->pool, p->copy, mem);
	if (err)
		return err;
	pool_free(z, p);
	zsswap_list_remove(z, idx);
	if (p->raw)
		z->incompressible--;
	p->state = ZSSWAP_WRITTEN;
	p->copy = 0;
	z->stored--;
	z->written_back++;
	return 0;
}

int zsswap_writeback_locked(struct zsswap *z, unsigned int nr)
{
	unsigned int done = 0;

	if (!zsswap_target_set(&z->target))
		return 0;
	while (done < nr && z->lists[ZSSWAP_LIST_STORED].count) {
		if (write_back_one(z, z->lists[ZSSWAP_LIST_STORED].head)) {
			z->writeback_errors++;
			break;
		}
		done++;
	}
	return (int)done;
}

static unsigned long pool_alloc(struct zsswap *z, size_t len)
{
	unsigned long h = zs_malloc(z->pool, len);

	if (h || errno != ENOSPC)
		return h;
	z->pool_limit_hit++;
	if (zsswap_writeback_locked(z, WRITEBACK_BATCH) == 0)
		return 0;
	zs_compact(z->pool);
	return zs_malloc(z->pool, len);
}

int zsswap_copy_store(struct zsswap *z, uint32_t idx, const void *page)
{
	struct zsswap_page *p = &z->pages[idx];
	const void *data = page;
	uint64_t word;
	long len;
	unsigned long h;

	if (zs_page_same_filled(page, z->page_size, &word)) {
		p->state = ZSSWAP_SAME;
		p->copy = word;
		z->same_filled++;
		z->stored++;
		return 0;
	}
	len = zsram_codec_compress(&z->codec, z->ctx, page, z->page_size, z->ctx->buf,
				   z->huge_size - 1);
	if (len < 0)
		return (int)len;
	p->raw = len == 0;
	if (p->raw)
		len = (long)z->page_size;
	else
		data = z->ctx->buf;
	h = pool_alloc(z, (size_t)len);
	if (!h)
		return -ENOSPC;
	zs_obj_write(z->pool, h, (void *)data, (size_t)len);
	p->state = ZSSWAP_STORED;
	p->copy = h;
	p->stored_len = p->raw ? 0 : (uint16_t)len;
	z->stored_bytes += (uint64_t)len;
	z->incompressible += p->raw;
	z->stored++;
	zsswap_list_push(z, idx, ZSSWAP_LIST_STORED);
	return 0;
}

static int expand(struct zsswap *z, const struct zsswap_page *p, const void *src, void *page)
{
	if (p->raw) {
		memcpy(page, src, z->page_size);
		return 0;
	}
	return zsram_codec_decompress(&z->codec, z->ctx, src, p->stored_len, page, z->page_size);
}

int zsswap_copy_load(struct zsswap *z, uint32_t idx, void *page)
{
	struct zsswap_page *p = &z->pages[idx];
	int err;

	switch (p->state) {
	case ZSSWAP_SAME: fill_word(page, z->page_size, p->copy); return 0;
	case ZSSWAP_STORED: {
		void *mem = zs_obj_read_begin(z->pool, p->copy, z->ctx->buf);

		err = expand(z, p, mem, page);
		zs_obj_read_end(z->pool, p->copy, mem);
		return err;
	}
	case ZSSWAP_WRITTEN: {
		err = zsswap_target_read(&z->target, z->ctx->buf, stored_bytes(z, p),
					 (uint64_t)idx * z->page_size);
		return err ? err : expand(z, p, z->ctx->buf, page);
	}
	default: memset(page, 0, z->page_size); return 0;
	}
}

void zsswap_copy_free(struct zsswap *z, uint32_t idx)
{
	struct zsswap_page *p = &z->pages[idx];

	switch (p->state) {
	case ZSSWAP_SAME:
		z->same_filled--;
		z->stored--;
		break;
	case ZSSWAP_STORED:
		pool_free(z, p);
		zsswap_list_remove(z, idx);
		z->incompressible -= p->raw;
		z->stored--;
		break;
	case ZSSWAP_WRITTEN:
		zsswap_target_forget(&z->target, z->page_size, (uint64_t)idx * z->page_size);
		z->written_back--;
		break;
	default: return;
	}
	p->state = ZSSWAP_EMPTY;
	p->copy = 0;
	p->raw = 0;
}
