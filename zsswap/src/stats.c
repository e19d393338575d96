/*
 * stats.c - a region's statistics, as zswap names them, and its memory
 * taken apart.
 */
#include <inttypes.h>
#include <sys/mman.h>

#include <lz4.h>
#include <lz4hc.h>
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include "zsswap_internal.h"

void zsswap_get_stats(struct zsswap *z, struct zsswap_stats *s)
{
	pthread_mutex_lock(&z->lock);
	zsswap_settle_locked(z); /* every page counted where it stays */
	*s = (struct zsswap_stats){
		.resident_pages = z->resident,
		.stored_pages = z->stored,
		.same_filled_pages = z->same_filled,
		.incompressible_pages = z->incompressible,
		.pool_total_size = (uint64_t)zs_get_total_pages(z->pool) * zs_page_size(z->pool),
		.written_back_pages = z->written_back,
		.stores = z->stores,
		.loads = z->loads,
		.pool_limit_hit = z->pool_limit_hit,
	};
	pthread_mutex_unlock(&z->lock);
}

int zsswap_print_stats(struct zsswap *z, FILE *out)
{
	struct zsswap_stats s;

	zsswap_get_stats(z, &s);
	return fprintf(out,
		       "resident_pages %" PRIu64 "\nstored_pages %" PRIu64 "\n"
		       "same_filled_pages %" PRIu64 "\nincompressible_pages %" PRIu64 "\n"
		       "pool_total_size %" PRIu64 "\nwritten_back_pages %" PRIu64 "\n"
		       "stores %" PRIu64 "\nloads %" PRIu64 "\npool_limit_hit %" PRIu64 "\n",
		       s.resident_pages, s.stored_pages, s.same_filled_pages,
		       s.incompressible_pages, s.pool_total_size, s.written_back_pages, s.stores,
		       s.loads, s.pool_limit_hit) < 0
		       ? -1
		       : 0;
}

/* The codec context's bytes: its state and its scratch page. */
static size_t codec_bytes(const struct zsswap *z)
{
	size_t n = z->codec.page_size;

	if (z->codec.algorithm == ZSRAM_ALG_LZ4)
		n += (size_t)LZ4_sizeofState();
	else if (z->codec.algorithm == ZSRAM_ALG_LZ4HC)
		n += (size_t)LZ4_sizeofStateHC();
	n += ZSTD_sizeof_CCtx(z->ctx->zstd_cctx) + ZSTD_sizeof_DCtx(z->ctx->zstd_dctx);
	return n;
}

/*
 * The resident part of the page table.  It is a mapping of its own
 * (region.c), so only the entries of pages ever used become resident (a 24
 * GiB region's table is 148 MB, of which a program using 200 MB of it
 * touches about 1.2 MB).  mincore(2) tells which pages; when it cannot, the
 * whole table is counted.
 */
static size_t page_table_resident(const struct zsswap *z)
{
	size_t ps = z->page_size, bytes = zsswap_page_table_bytes(z), resident = 0;
	uintptr_t start = (uintptr_t)z->pages; /* page-aligned: mmap'ed */
	uintptr_t end = (start + bytes + ps - 1) & ~(uintptr_t)(ps - 1);
	unsigned char vec[1024];

	for (uintptr_t a = start; a < end; a += sizeof(vec) * ps) {
		size_t n = (end - a) / ps < sizeof(vec) ? (end - a) / ps : sizeof(vec);

		if (mincore((void *)a, n * ps, vec))
			return bytes;
		for (size_t i = 0; i < n; i++)
			resident += vec[i] & 1;
	}
	return resident * ps < bytes ? resident * ps : bytes;
}

void zsswap_memory(struct zsswap *z, struct zsswap_memory *m)
{
	struct zs_pool_memory pm;

	pthread_mutex_lock(&z->lock);
	zsswap_settle_locked(z); /* every page counted where it stays */
	zs_pool_memory(z->pool, &pm);
	*m = (struct zsswap_memory){
		.resident = z->resident * z->page_size,
		.pool_pages = pm.page_bytes,
		.pool_metadata = pm.metadata,
		.page_table = page_table_resident(z),
		.buffers = codec_bytes(z) + z->page_size,
	};
	pthread_mutex_unlock(&z->lock);
	m->total = m->resident + m->pool_pages + m->pool_metadata + m->page_table + m->buffers;
}
