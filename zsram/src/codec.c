/*
 * codec.c - compression algorithms (lz4, lz4hc, zstd with an optional
 * dictionary) and their contexts.
 *
 * A codec is one algorithm at one level, chosen per store.  Its contexts
 * (compressor state, zstd's CCtx/DCtx) are kept in a free list: a thread
 * takes one for one operation and gives it back, so each operation in flight
 * works in its own context.  At most two contexts per processor exist (like
 * zram's per-CPU streams); a thread finding none free waits for one.
 * free_lock guards the list and the count; the dictionary objects are
 * created once and shared read-only.  A dictionary generation of the
 * automatic dictionary (dict.c) uses the primary codec's contexts (pool).
 * Also dictionary training, from given
 * samples or from pages sampled evenly (no lock: caller's buffers only).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <lz4.h>
#include <lz4hc.h>
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
#define ZDICT_STATIC_LINKING_ONLY /* the fastCover parameters */
#include <zdict.h>
#include <zstd_errors.h>

#include "zsram_internal.h"

int zsram_algorithm_from_name(const char *name, enum zsram_algorithm *alg)
{
	if (!name)
		return -EINVAL;
	if (strcmp(name, "lz4") == 0)
		*alg = ZSRAM_ALG_LZ4;
	else if (strcmp(name, "lz4hc") == 0)
		*alg = ZSRAM_ALG_LZ4HC;
	else if (strcmp(name, "zstd") == 0)
		*alg = ZSRAM_ALG_ZSTD;
	else
		return -EINVAL;
	return 0;
}

const char *zsram_algorithm_name(enum zsram_algorithm alg)
{
	switch (alg) {
	case ZSRAM_ALG_LZ4: return "lz4";
	case ZSRAM_ALG_LZ4HC: return "lz4hc";
	case ZSRAM_ALG_ZSTD: return "zstd";
	}
	return "?";
}

static int codec_check_level(enum zsram_algorithm alg, int *level)
{
	switch (alg) {
	case ZSRAM_ALG_LZ4:
		if (*level == 0)
			*level = 1;
		return (*level >= 1 && *level <= 65537) ? 0 : -EINVAL;
	case ZSRAM_ALG_LZ4HC:
		if (*level == 0)
			*level = LZ4HC_CLEVEL_DEFAULT;
		return (*level >= 1 && *level <= LZ4HC_CLEVEL_MAX) ? 0 : -EINVAL;
	case ZSRAM_ALG_ZSTD:
		if (*level == 0)
			*level = ZSTD_CLEVEL_DEFAULT;
		return (*level >= ZSTD_minCLevel() && *level <= ZSTD_maxCLevel()) ? 0 : -EINVAL;
	}
	return -EINVAL;
}

/*
 * zstd's memory: its contexts' workspaces (0.1-0.6 MiB each) and dictionary
 * tables are mapped on their own, smaller blocks come from malloc.  Made and
 * freed as contexts come and go, large blocks from malloc raise glibc's
 * dynamic mmap threshold and then stay in a thread's arena as free memory
 * that the process keeps; mapped, a freed block is returned at once.
 */
#define ZSTD_MAP_MIN (64u << 10)

struct zstd_block {
	size_t bytes; /* of the whole block, header included; 0: from malloc */
	size_t pad;   /* keeps what follows 16-byte aligned */
};

static void *zstd_mem_alloc(void *opaque, size_t size)
{
	struct zstd_block *b;
	size_t bytes = sizeof(*b) + size;

	(void)opaque;
	if (size < ZSTD_MAP_MIN) {
		b = malloc(bytes);
		if (!b)
			return NULL;
		b->bytes = 0;
	} else {
		b = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (b == MAP_FAILED)
			return NULL;
		b->bytes = bytes;
	}
	return b + 1;
}

static void zstd_mem_free(void *opaque, void *p)
{
	struct zstd_block *b = (struct zstd_block *)p - 1;

	(void)opaque;
	if (!p)
		return;
	if (b->bytes)
		munmap(b, b->bytes);
	else
		free(b);
}

static const ZSTD_customMem zstd_mem = { zstd_mem_alloc, zstd_mem_free, NULL };

/*
 * The dictionary's compression tables.  zstd sizes them for the page and the
 * dictionary together, which at the fast levels gives 64 Ki-entry hash
 * tables: a 424 KiB dictionary and compressors of 280 KiB (16 KiB pages) to
 * 540 KiB (32 KiB pages) each.  Tables of 8 Ki entries compressed the pages
 * of a python heap 0.3-0.6% smaller here, at the speed of the large ones for
 * 4 KiB pages (6% slower for 16 KiB, 22% faster for 32 KiB), in a fifth of
 * the memory; so the fast strategies get them.  The slower ones search
 * deeper and keep zstd's sizes.
 */
#define DICT_FAST_HASH_LOG 13

static ZSTD_CDict *create_cdict(const struct zsram_codec *c)
{
	ZSTD_compressionParameters cp = ZSTD_getCParams(c->level, c->page_size, c->dict_size);

	if (cp.strategy <= ZSTD_dfast) {
		if (cp.hashLog > DICT_FAST_HASH_LOG)
			cp.hashLog = DICT_FAST_HASH_LOG;
		if (cp.chainLog > DICT_FAST_HASH_LOG - 1)
			cp.chainLog = DICT_FAST_HASH_LOG - 1;
	}
	return ZSTD_createCDict_advanced(c->dict, c->dict_size, ZSTD_dlm_byRef, ZSTD_dct_auto, cp,
					 zstd_mem);
}

int zsram_codec_init(struct zsram_codec *c, const struct zsram_codec_config *cfg, size_t page_size)
{
	int err;

	memset(c, 0, sizeof(*c));
	c->algorithm = cfg->algorithm;
	c->level = cfg->level;
	c->page_size = page_size;
	err = codec_check_level(c->algorithm, &c->level);
	if (err)
		return err;
	if (cfg->dict_size) {
		if (c->algorithm != ZSRAM_ALG_ZSTD || !cfg->dict)
			return -EINVAL;
		c->dict = malloc(cfg->dict_size);
		if (!c->dict)
			return -ENOMEM;
		memcpy(c->dict, cfg->dict, cfg->dict_size);
		c->dict_size = cfg->dict_size;
		c->zstd_cdict = create_cdict(c);
		/* Both refer to our copy, which lives as long as they do. */
		c->zstd_ddict = ZSTD_createDDict_advanced(c->dict, c->dict_size, ZSTD_dlm_byRef,
							  ZSTD_dct_auto, zstd_mem);
		if (!c->zstd_cdict || !c->zstd_ddict) {
			zsram_codec_fini(c);
			return -EINVAL;
		}
	}
	/* Two contexts per processor, as zram keeps a stream per CPU: a zstd
	 * context with its scratch is 200-300 KiB that a thread-per-request
	 * server (nbdkit: 16 threads per connection) would otherwise keep per
	 * thread it ever ran.  Two, not one: with one per processor, threads
	 * that wait for a context hand over through the scheduler on every
	 * page, which halved nbdkit's copy-in speed here. */
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	c->max_ctx = cpus > 2 ? 2 * (unsigned int)cpus : 4;
	c->pool = c;
	zs_mutex_init(&c->free_lock);
	pthread_cond_init(&c->ctx_freed, NULL);
	return 0;
}

static void codec_ctx_free(struct zsram_codec_ctx *ctx)
{
	free(ctx->lz4_state);
	free(ctx->buf);
	ZSTD_freeCCtx(ctx->zstd_cctx);
	ZSTD_freeDCtx(ctx->zstd_dctx);
	free(ctx);
}

void zsram_codec_fini(struct zsram_codec *c)
{
	struct zsram_codec_ctx *ctx = c->free_list;

	while (ctx) {
		struct zsram_codec_ctx *next = ctx->next;

		codec_ctx_free(ctx);
		ctx = next;
	}
	c->free_list = NULL;
	ZSTD_freeCDict(c->zstd_cdict);
	ZSTD_freeDDict(c->zstd_ddict);
	free(c->dict);
	c->zstd_cdict = c->zstd_ddict = c->dict = NULL;
	if (c->max_ctx) {
		pthread_cond_destroy(&c->ctx_freed);
		zs_mutex_destroy(&c->free_lock);
		c->max_ctx = 0;
	}
}

size_t zsram_codec_dict_mem(const struct zsram_codec *c)
{
	return c->dict_size + ZSTD_sizeof_CDict(c->zstd_cdict) + ZSTD_sizeof_DDict(c->zstd_ddict);
}

static struct zsram_codec_ctx *codec_ctx_new(struct zsram_codec *c)
{
	struct zsram_codec_ctx *ctx = calloc(1, sizeof(*ctx));

	if (!ctx)
		return NULL;
	ctx->buf = malloc(c->page_size);
	if (!ctx->buf)
		goto fail;
	switch (c->algorithm) {
	case ZSRAM_ALG_LZ4: ctx->lz4_state = malloc((size_t)LZ4_sizeofState()); break;
	case ZSRAM_ALG_LZ4HC: ctx->lz4_state = malloc((size_t)LZ4_sizeofStateHC()); break;
	case ZSRAM_ALG_ZSTD:
		/* zstd's contexts come at first use (zstd_cctx, zstd_dctx): a
		 * context that only ever wrote holds no decompressor. */
		return ctx;
	}
	if (!ctx->lz4_state)
		goto fail;
	return ctx;
fail:
	codec_ctx_free(ctx);
	return NULL;
}

/* Contexts the calling thread holds, of any codec: a thread that holds one
 * and needs another (a write that writes pages back to make room reads them
 * first) must not wait for one, or two such threads would wait for each
 * other. */
static __thread unsigned int ctx_held __attribute__((tls_model("initial-exec")));

struct zsram_codec_ctx *zsram_codec_get(struct zsram_codec *codec)
{
	struct zsram_codec *c = codec->pool;
	struct zsram_codec_ctx *ctx;
	bool first = false;

	zs_mutex_lock(&c->free_lock);
	while (!c->free_list && c->nr_ctx >= c->max_ctx && !ctx_held)
		zs_mutex_wait(&c->free_lock, &c->ctx_freed);
	ctx = c->free_list;
	if (ctx) {
		c->free_list = ctx->next;
	} else {
		first = c->nr_ctx++ == 0; /* counted now, so others wait for it */
	}
	zs_mutex_unlock(&c->free_lock);
	if (!ctx) {
		ctx = codec_ctx_new(c);
		if (!ctx) {
			zs_mutex_lock(&c->free_lock);
			c->nr_ctx--;
			pthread_cond_signal(&c->ctx_freed);
			zs_mutex_unlock(&c->free_lock);
			return NULL;
		}
		if (first && c->first_ctx)
			c->first_ctx(c->first_ctx_arg);
	}
	ctx_held++;
	return ctx;
}

void zsram_codec_put(struct zsram_codec *codec, struct zsram_codec_ctx *ctx)
{
	struct zsram_codec *c = codec->pool;
	bool extra;

	ctx_held--;
	zs_mutex_lock(&c->free_lock);
	/* One made past the cap for a thread that held one already goes. */
	extra = c->nr_ctx > c->max_ctx;
	c->puts++;
	if (extra) {
		c->nr_ctx--;
	} else {
		ctx->next = c->free_list;
		c->free_list = ctx;
	}
	pthread_cond_signal(&c->ctx_freed);
	zs_mutex_unlock(&c->free_lock);
	if (extra)
		codec_ctx_free(ctx);
}

void zsram_codec_trim(struct zsram_codec *codec, unsigned int keep)
{
	struct zsram_codec *c = codec->pool;
	struct zsram_codec_ctx *ctx, *drop = NULL;
	unsigned int kept = 0;

	zs_mutex_lock(&c->free_lock);
	for (struct zsram_codec_ctx **at = &c->free_list; *at;) {
		ctx = *at;
		if (kept < keep) {
			kept++;
			at = &ctx->next;
			continue;
		}
		*at = ctx->next;
		ctx->next = drop;
		drop = ctx;
		c->nr_ctx--;
	}
	zs_mutex_unlock(&c->free_lock);
	while (drop) {
		ctx = drop->next;
		codec_ctx_free(drop);
		drop = ctx;
	}
}

void zsram_codec_usage(struct zsram_codec *codec, unsigned int *nr_ctx, uint64_t *puts)
{
	struct zsram_codec *c = codec->pool;

	zs_mutex_lock(&c->free_lock);
	*nr_ctx = c->nr_ctx;
	*puts = c->puts;
	zs_mutex_unlock(&c->free_lock);
}

/* A compressor writing the store's zstd frame format at level (checked
 * when the codec was made): pages are small and their size is known, so
 * no frame checksum, no content size, no magic number, to keep each page
 * short.  NULL: out of memory. */
static ZSTD_CCtx *zstd_cctx_new(int level)
{
	ZSTD_CCtx *cctx = ZSTD_createCCtx_advanced(zstd_mem);

	if (!cctx)
		return NULL;
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 0);
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0);
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_dictIDFlag, 0);
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_format, ZSTD_f_zstd1_magicless);
	return cctx;
}

/* One frame of src into dst with cctx: its size, 0 if it does not fit in
 * dst_cap, -EIO on another error (the context reset for reuse). */
static long zstd_frame(ZSTD_CCtx *cctx, const void *src, size_t src_len, void *dst, size_t dst_cap)
{
	size_t n = ZSTD_compress2(cctx, dst, dst_cap, src, src_len);

	if (!ZSTD_isError(n))
		return (long)n;
	/* The context is left mid-frame: reset it for reuse. */
	ZSTD_CCtx_reset(cctx, ZSTD_reset_session_only);
	return ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall ? 0 : -EIO;
}

/* The context's zstd compressor, made at first use, set up for codec c:
 * contexts are shared by the codecs of one pool (the primary and its
 * dictionary generations), so each operation references its codec's
 * dictionary (cheap: a pointer; NULL returns to the level).  NULL: out of
 * memory. */
static ZSTD_CCtx *zstd_cctx(struct zsram_codec *c, struct zsram_codec_ctx *ctx)
{
	if (!ctx->zstd_cctx && !(ctx->zstd_cctx = zstd_cctx_new(c->level)))
		return NULL;
	ZSTD_CCtx_refCDict(ctx->zstd_cctx, c->zstd_cdict);
	return ctx->zstd_cctx;
}

void *zsram_codec_dense_new(const struct zsram_codec *c, int level)
{
	ZSTD_CCtx *cctx = zstd_cctx_new(level);

	if (!cctx)
		return NULL;
	if (c->dict_size && ZSTD_isError(ZSTD_CCtx_loadDictionary_advanced(
				    cctx, c->dict, c->dict_size, ZSTD_dlm_byRef, ZSTD_dct_auto))) {
		ZSTD_freeCCtx(cctx);
		return NULL;
	}
	return cctx;
}

long zsram_codec_dense_compress(void *dense, const void *src, size_t src_len, void *dst,
				size_t dst_cap)
{
	return zstd_frame(dense, src, src_len, dst, dst_cap);
}

void zsram_codec_dense_free(void *dense)
{
	ZSTD_freeCCtx(dense);
}

/* The context's zstd decompressor, made at first use, set up for codec c
 * as above; NULL: out of memory. */
static ZSTD_DCtx *zstd_dctx(struct zsram_codec *c, struct zsram_codec_ctx *ctx)
{
	if (!ctx->zstd_dctx && (ctx->zstd_dctx = ZSTD_createDCtx_advanced(zstd_mem)))
		ZSTD_DCtx_setParameter(ctx->zstd_dctx, ZSTD_d_format, ZSTD_f_zstd1_magicless);
	if (ctx->zstd_dctx)
		ZSTD_DCtx_refDDict(ctx->zstd_dctx, c->zstd_ddict);
	return ctx->zstd_dctx;
}

/* zstd's part of zsram_codec_compress (same answers). */
static long zstd_compress(struct zsram_codec *c, struct zsram_codec_ctx *ctx, const void *src,
			  size_t src_len, void *dst, size_t dst_cap)
{
	ZSTD_CCtx *cctx = zstd_cctx(c, ctx);

	return cctx ? zstd_frame(cctx, src, src_len, dst, dst_cap) : -ENOMEM;
}

long zsram_codec_compress(struct zsram_codec *c, struct zsram_codec_ctx *ctx, const void *src,
			  size_t src_len, void *dst, size_t dst_cap)
{
	switch (c->algorithm) {
	case ZSRAM_ALG_LZ4:
		return LZ4_compress_fast_extState(ctx->lz4_state, src, dst, (int)src_len,
						  (int)dst_cap, c->level);
	case ZSRAM_ALG_LZ4HC:
		return LZ4_compress_HC_extStateHC(ctx->lz4_state, src, dst, (int)src_len,
						  (int)dst_cap, c->level);
	case ZSRAM_ALG_ZSTD: return zstd_compress(c, ctx, src, src_len, dst, dst_cap);
	}
	return -EIO;
}

int zsram_codec_decompress(struct zsram_codec *c, struct zsram_codec_ctx *ctx, const void *src,
			   size_t src_len, void *dst, size_t dst_len)
{
	switch (c->algorithm) {
	case ZSRAM_ALG_LZ4:
	case ZSRAM_ALG_LZ4HC: {
		int n = LZ4_decompress_safe(src, dst, (int)src_len, (int)dst_len);

		return n == (int)dst_len ? 0 : -EIO;
	}
	case ZSRAM_ALG_ZSTD: {
		ZSTD_DCtx *dctx = zstd_dctx(c, ctx);
		size_t n;

		if (!dctx)
			return -ENOMEM;
		n = ZSTD_decompressDCtx(dctx, dst, dst_len, src, src_len);
		if (ZSTD_isError(n)) {
			ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only);
			return -EIO;
		}
		return n == dst_len ? 0 : -EIO;
	}
	}
	return -EIO;
}

long zsram_train_dictionary(const void *samples, size_t nr_samples, size_t page_size, void *dict,
			    size_t dict_capacity)
{
	size_t *sizes;
	size_t n;

	if (!samples || !dict || nr_samples == 0 || page_size == 0 || dict_capacity == 0)
		return -EINVAL;
	sizes = malloc(nr_samples * sizeof(*sizes));
	if (!sizes)
		return -ENOMEM;
	for (size_t i = 0; i < nr_samples; i++)
		sizes[i] = page_size;
	/* fastCover with fixed parameters: segments of k = 500 bytes, d = 8,
	 * a frequency table of 2^16 entries.  ZDICT_trainFromBuffer's search
	 * over k (4 steps, 2^20 entries) compressed the captured Python,
	 * Node.js and SQLite heaps (32 KiB pages) no better here, took four
	 * times as long, and its working memory (4 MiB table, a compressor
	 * and dictionary tables per candidate), once freed, raised glibc's
	 * dynamic mmap and trim thresholds so that the training thread's
	 * arena stayed 1-8 MiB resident; with these it keeps under 0.2 MiB. */
	ZDICT_fastCover_params_t params = { .k = 500, .d = 8, .f = 16, .accel = 1 };

	params.zParams.compressionLevel = ZSTD_CLEVEL_DEFAULT;
	n = ZDICT_trainFromBuffer_fastCover(dict, dict_capacity, samples, sizes,
					    (unsigned int)nr_samples, params);
	free(sizes);
	if (ZDICT_isError(n))
		return -EINVAL;
	return (long)n;
}

long zsram_train_dictionary_sampled(const void *pages, uint64_t nr_pages, size_t page_size,
				    size_t max_samples, void *dict, size_t dict_capacity,
				    size_t *used)
{
	const unsigned char *src = pages;
	unsigned char *samples;
	uint64_t step;
	size_t n = 0;
	long got;

	if (used)
		*used = 0;
	if (!pages || page_size == 0 || max_samples == 0)
		return -EINVAL;
	samples = malloc(max_samples * page_size);
	if (!samples)
		return -ENOMEM;
	step = nr_pages / max_samples + 1;
	for (uint64_t i = 0; i < nr_pages && n < max_samples; i += step) {
		const unsigned char *p = src + i * page_size;
		uint64_t word;

		if (!zs_page_same_filled(p, page_size, &word))
			memcpy(samples + n++ * page_size, p, page_size);
	}
	got = n ? zsram_train_dictionary(samples, n, page_size, dict, dict_capacity) : -EINVAL;
	free(samples);
	if (used)
		*used = n;
	return got;
}
