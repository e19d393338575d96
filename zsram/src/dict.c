/*
 * dict.c - the automatic dictionary: sampling the pages written, training a
 * dictionary on a thread of the store's own, switching new writes to it,
 * re-encoding older pages, retiring generations no slot refers to, and
 * retraining when the data drifts (the design is in zsram_internal.h, the
 * behaviour in zsram.h).
 *
 * The thread starts when it is first needed (the sample buffer full, or
 * zsram_dict_train), not at creation: a program that forks after making
 * the store (nbdkit does, to serve in the background) keeps it in the
 * child, where the I/O is.  It sleeps on dict.lock's `wake` condition
 * (waking every DICT_IDLE_MS while compression contexts are free, to free
 * them once the store is at rest).  Writers wake it when
 * the sample buffer is full; zsram_dict_train wakes it to train on fewer
 * samples; destroy wakes it to stop.  It trains and re-encodes with
 * dict.lock released, so writers that add samples never wait for it.
 */
#include <errno.h>
#include <inttypes.h>
#ifdef __GLIBC__
#include <malloc.h> /* malloc_trim */
#endif
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "zsram_internal.h"

#define DICT_SAMPLE_EVERY 16	      /* one page in this many is sampled */
#define DICT_SAMPLE_BYTES (2u << 20)  /* samples held before training */
#define DICT_DEFAULT_SIZE (64u << 10) /* bytes of dictionary */
#define DICT_MIN_SAMPLES 8	      /* ZDICT needs a few */
#define DICT_WINDOW 4096	      /* pages per drift window */
#define DICT_DRIFT_PERCENT 12	      /* a window this much worse retrains */
#define DICT_MAX_FAILURES 4	      /* trainings in a row before giving up */
#define DICT_REENCODE_PASSES 4	      /* passes while an older generation is used */
#define DICT_IDLE_MS 200	      /* at rest this long: contexts go */
#define DICT_REST_LEVEL 6	      /* the dense pass at rest */
#define DICT_HOLD_OUT 4		      /* one sample in this many tests the result */
#define DICT_MIN_GAIN_PERCENT 2	      /* what it must save on them to be used */

static void *dict_thread(void *arg);

/* The sample buffer is mapped, not malloc'd: freeing a 2 MiB malloc'd
 * block raises glibc's dynamic mmap threshold to 2 MiB for the whole
 * process (and its trim threshold to 4 MiB), which would keep more of the
 * caller's own freed memory resident. */
static unsigned char *samples_alloc(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void samples_free(struct zsram *z, unsigned char *samples)
{
	if (samples)
		munmap(samples, z->dict.max_samples * z->page_size);
}

/* Starts collecting samples: a new buffer.  Caller holds dict.lock. */
static int dict_start_collecting(struct zsram *z)
{
	struct zsram_dict *d = &z->dict;

	ZS_ASSERT_HELD(&d->lock);
	if (!d->samples) {
		d->samples = samples_alloc(d->max_samples * z->page_size);
		if (!d->samples)
			return -ENOMEM;
	}
	d->nr_samples = 0;
	atomic_store(&d->collecting, true);
	return 0;
}

/* Starts the thread if it is not running; on failure the store stops
 * collecting and stays without a dictionary.  Caller holds dict.lock. */
static bool dict_start_thread(struct zsram *z)
{
	struct zsram_dict *d = &z->dict;
	int err;

	ZS_ASSERT_HELD(&d->lock);
	if (d->thread_started)
		return true;
	err = pthread_create(&d->thread, NULL, dict_thread, z);
	if (err) {
		atomic_store(&d->collecting, false);
		d->failures++;
		d->last_error = -err;
		return false;
	}
	d->thread_started = true;
	return true;
}

/* codecs[0].first_ctx: a context was made while none existed. */
static void dict_first_ctx(void *arg)
{
	struct zsram *z = arg;

	zs_mutex_lock(&z->dict.lock);
	pthread_cond_signal(&z->dict.wake);
	zs_mutex_unlock(&z->dict.lock);
}

int zsram_dict_init(struct zsram *z, const struct zsram_config *cfg)
{
	struct zsram_dict *d = &z->dict;
	bool plain_zstd = cfg->codec.algorithm == ZSRAM_ALG_ZSTD && !cfg->codec.dict_size;
	int err;

	if (cfg->auto_dict > 0 && !plain_zstd)
		return -EINVAL;
	if (cfg->auto_dict_size && (cfg->auto_dict_size < 256 || cfg->auto_dict_size > (1u << 20)))
		return -EINVAL;
	if (cfg->auto_dict < 0 || !plain_zstd)
		return 0;
	if (cfg->auto_dict_rest_level > 22)
		return -EINVAL;
	d->capacity = cfg->auto_dict_size ? cfg->auto_dict_size : DICT_DEFAULT_SIZE;
	d->rest_level = cfg->auto_dict_rest_level ? cfg->auto_dict_rest_level : DICT_REST_LEVEL;
	if (d->rest_level <= z->codecs[0].level)
		d->rest_level = 0; /* nothing to gain over the writes' level */
	d->max_samples = DICT_SAMPLE_BYTES / z->page_size;
	d->sample_every = DICT_SAMPLE_EVERY;
	zs_mutex_init(&d->lock);
	pthread_cond_init(&d->wake, NULL);
	pthread_cond_init(&d->idle, NULL);
	d->enabled = true;
	z->codecs[0].first_ctx = dict_first_ctx;
	z->codecs[0].first_ctx_arg = z;
	zs_mutex_lock(&d->lock);
	err = dict_start_collecting(z);
	zs_mutex_unlock(&d->lock);
	return err;
}

void zsram_dict_fini(struct zsram *z)
{
	struct zsram_dict *d = &z->dict;

	if (!d->enabled)
		return;
	if (d->thread_started) {
		zs_mutex_lock(&d->lock);
		atomic_store(&d->stop, true);
		pthread_cond_signal(&d->wake);
		zs_mutex_unlock(&d->lock);
		pthread_join(d->thread, NULL);
		d->thread_started = false;
	}
	for (unsigned int g = 0; g < ZSRAM_DICT_GENS; g++)
		zsram_codec_fini(&z->codecs[ZSRAM_CODEC_DICT + g]);
	samples_free(z, d->samples);
	d->samples = NULL;
	pthread_cond_destroy(&d->wake);
	pthread_cond_destroy(&d->idle);
	zs_mutex_destroy(&d->lock);
	d->enabled = false;
}

/* ---- The writers' side ---- */

unsigned int zsram_dict_get(struct zsram *z)
{
	struct zsram_dict *d = &z->dict;

	for (;;) {
		unsigned int g = atomic_load(&d->current);

		if (!g)
			return ZSRAM_CODEC_PRIMARY;
		atomic_fetch_add(&d->refs[g - ZSRAM_CODEC_DICT], 1);
		/* Still current: the thread, which switches before it reads
		 * refs, cannot free it now (see zsram_internal.h). */
		if (atomic_load(&d->current) == g)
			return g;
		atomic_fetch_sub(&d->refs[g - ZSRAM_CODEC_DICT], 1);
	}
}

void zsram_dict_put(struct zsram *z, unsigned int codec)
{
	if (codec_is_dict(codec))
		atomic_fetch_sub(&z->dict.refs[codec - ZSRAM_CODEC_DICT], 1);
}

void zsram_codec_count(struct zsram *z, unsigned int codec, int delta)
{
	if (codec_is_recomp(codec)) {
		if (delta > 0)
			STAT_ADD(z->recompressed, 1);
		else
			STAT_SUB(z->recompressed, 1);
	} else if (codec_is_dict(codec)) {
		if (delta > 0)
			atomic_fetch_add(&z->dict.refs[codec - ZSRAM_CODEC_DICT], 1);
		else
			atomic_fetch_sub(&z->dict.refs[codec - ZSRAM_CODEC_DICT], 1);
	}
}

/* The generation that is not current and no slot records, or 0. */
static unsigned int dict_free_generation(struct zsram *z)
{
	unsigned int cur = atomic_load(&z->dict.current);

	for (unsigned int g = 0; g < ZSRAM_DICT_GENS; g++)
		if (ZSRAM_CODEC_DICT + g != cur && atomic_load(&z->dict.refs[g]) == 0)
			return ZSRAM_CODEC_DICT + g;
	return 0;
}

/* A drift window ended with bytes of compressed pages.  Caller holds
 * dict.lock. */
static void dict_window_end(struct zsram *z, uint64_t bytes)
{
	struct zsram_dict *d = &z->dict;

	ZS_ASSERT_HELD(&d->lock);
	if (!d->base_bytes) {
		d->base_bytes = bytes ? bytes : 1;
		return;
	}
	if (bytes * 100 <= d->base_bytes * (100 + DICT_DRIFT_PERCENT) || d->busy ||
	    atomic_load(&d->collecting) || d->failures_in_row >= DICT_MAX_FAILURES ||
	    (!dict_free_generation(z) && !d->reencode_pending))
		return;
	if (dict_start_collecting(z) == 0)
		d->retrains++;
}

void zsram_dict_note_write(struct zsram *z, const void *page, unsigned int codec, size_t size)
{
	struct zsram_dict *d = &z->dict;

	if (!d->enabled || !size)
		return;
	if (d->rest_level)
		atomic_fetch_add_explicit(&d->undense, 1, memory_order_relaxed);
	if (atomic_load_explicit(&d->collecting, memory_order_relaxed) &&
	    atomic_fetch_add_explicit(&d->offered, 1, memory_order_relaxed) % d->sample_every == 0) {
		zs_mutex_lock(&d->lock);
		if (atomic_load(&d->collecting) && d->nr_samples < d->max_samples) {
			memcpy(d->samples + d->nr_samples++ * z->page_size, page, z->page_size);
			if (d->nr_samples == d->max_samples && dict_start_thread(z))
				pthread_cond_signal(&d->wake);
		}
		zs_mutex_unlock(&d->lock);
	}
	if (codec_is_dict(codec) && codec == atomic_load_explicit(&d->current, memory_order_relaxed)) {
		atomic_fetch_add_explicit(&d->win_bytes, size, memory_order_relaxed);
		if (atomic_fetch_add_explicit(&d->win_pages, 1, memory_order_relaxed) + 1 ==
		    DICT_WINDOW) {
			zs_mutex_lock(&d->lock);
			atomic_store(&d->win_pages, 0);
			dict_window_end(z, atomic_exchange(&d->win_bytes, 0));
			zs_mutex_unlock(&d->lock);
		}
	}
}

/* ---- The thread's side ---- */

/* Frees each generation that is not current and that no slot records. */
static void dict_retire(struct zsram *z)
{
	struct zsram_dict *d = &z->dict;
	unsigned int cur = atomic_load(&d->current);

	for (unsigned int g = 0; g < ZSRAM_DICT_GENS; g++) {
		if (ZSRAM_CODEC_DICT + g == cur || !d->gen_dict_size[g] ||
		    atomic_load(&d->refs[g]) != 0)
			continue;
		zsram_codec_fini(&z->codecs[ZSRAM_CODEC_DICT + g]);
		zs_mutex_lock(&d->lock);
		d->gen_dict_size[g] = 0;
		d->gen_mem[g] = 0;
		d->retired++;
		zs_mutex_unlock(&d->lock);
	}
}

/*
 * Moves one sample in DICT_HOLD_OUT (by its place in time) to the end of the
 * buffer and returns how many stay in front, for training; those at the end
 * test the dictionary.  With fewer than 4 * DICT_HOLD_OUT samples every one
 * trains and tests.
 */
static size_t dict_hold_out(unsigned char *samples, size_t nr, size_t page_size, void *tmp)
{
	size_t held = nr / DICT_HOLD_OUT, front = nr - held, a = 0, b = front;

	if (nr < 4 * DICT_HOLD_OUT)
		return nr;
	/* Held out in front swap with trained at the back: as many of each. */
	for (;;) {
		while (a < front && a % DICT_HOLD_OUT != DICT_HOLD_OUT - 1)
			a++;
		while (b < nr && b % DICT_HOLD_OUT == DICT_HOLD_OUT - 1)
			b++;
		if (a >= front || b >= nr)
			break;
		memcpy(tmp, samples + a * page_size, page_size);
		memcpy(samples + a * page_size, samples + b * page_size, page_size);
		memcpy(samples + b * page_size, tmp, page_size);
		a++;
		b++;
	}
	return front;
}

/* Compressed bytes of pages[0..nr) with codec c (a page that does not fit
 * counts whole, as it would be stored); -errno. */
static long dict_eval(struct zsram *z, struct zsram_codec *c, const unsigned char *pages, size_t nr,
		      void *dst)
{
	struct zsram_codec_ctx *ctx = zsram_codec_get(c);
	long total = 0;

	if (!ctx)
		return -ENOMEM;
	for (size_t i = 0; i < nr && total >= 0; i++) {
		long n = zsram_codec_compress(c, ctx, pages + i * z->page_size, z->page_size, dst,
					      z->page_size - 1);
		total = n < 0 ? n : total + (n ? n : (long)z->page_size);
	}
	zsram_codec_put(c, ctx);
	return total;
}

/* Whether generation c makes the held-out samples at least
 * DICT_MIN_GAIN_PERCENT smaller than the primary codec and the current
 * generation (if any) do (0: no, 1: yes,
 * -errno).  Some heaps compress better page by page than with any
 * dictionary trained on them (a Node.js heap in 16 KiB pages here). */
static int dict_helps(struct zsram *z, struct zsram_codec *c, const unsigned char *pages, size_t nr)
{
	struct zsram_dict *d = &z->dict;
	unsigned int cur = atomic_load(&d->current);
	void *dst = malloc(z->page_size);
	long plain, with, base;

	if (!dst)
		return -ENOMEM;
	plain = dict_eval(z, &z->codecs[0], pages, nr, dst);
	with = plain < 0 ? plain : dict_eval(z, c, pages, nr, dst);
	/* A retrain must also beat the dictionary it would replace (this
	 * thread alone retires generations: it is alive). */
	base = plain;
	if (with >= 0 && codec_is_dict(cur)) {
		long now = dict_eval(z, &z->codecs[cur], pages, nr, dst);

		if (now < 0)
			with = now;
		else if (now < base)
			base = now;
	}
	free(dst);
	if (with < 0)
		return (int)with;
	zs_mutex_lock(&d->lock);
	d->eval_plain = (uint64_t)plain;
	d->eval_dict = (uint64_t)with;
	zs_mutex_unlock(&d->lock);
	return with * 100 <= base * (100 - DICT_MIN_GAIN_PERCENT);
}

static void dict_reencode_all(struct zsram *z);

/* Whether a re-encoding was left for the store's rest; it is now taken. */
static bool dict_take_reencode(struct zsram *z)
{
	bool pending;

	zs_mutex_lock(&z->dict.lock);
	pending = z->dict.reencode_pending;
	z->dict.reencode_pending = false;
	zs_mutex_unlock(&z->dict.lock);
	return pending;
}

/* Trains on samples (freed here) and switches new writes to the result in a
 * free generation.  0, 1 (trained, but it does not help: not used) or a
 * negative errno: the store keeps what it had. */
static int dict_train_and_switch(struct zsram *z, unsigned char *samples, size_t nr)
{
	struct zsram_dict *d = &z->dict;
	int fault = atomic_exchange(&d->fault, ZSRAM_DICT_FAULT_NONE);
	struct zsram_codec_config cc = { .algorithm = ZSRAM_ALG_ZSTD, .level = z->codecs[0].level };
	struct zsram_codec *c;
	unsigned int g;
	void *dict = malloc(d->capacity), *tmp = malloc(z->page_size);
	size_t trained = 0;
	long n;
	int err;

	if (!dict || !tmp) {
		free(dict);
		free(tmp);
		samples_free(z, samples);
		return -ENOMEM;
	}
	trained = dict_hold_out(samples, nr, z->page_size, tmp);
	free(tmp);
	n = fault == ZSRAM_DICT_FAULT_TRAIN
		    ? -EINVAL
		    : zsram_train_dictionary(samples, trained, z->page_size, dict, d->capacity);
	dict_retire(z); /* a free generation may still hold its tables */
	g = dict_free_generation(z);
	if (!g && n >= 0 && dict_take_reencode(z)) {
		/* The older generation's pages, left for the store's rest:
		 * moved now, so that it can be retired. */
		dict_reencode_all(z);
		g = dict_free_generation(z);
	}
	if (n < 0 || !g) {
		free(dict);
		samples_free(z, samples);
		return n < 0 ? (int)n : -EBUSY;
	}
	c = &z->codecs[g];
	cc.dict = dict;
	cc.dict_size = (size_t)n;
	err = fault == ZSRAM_DICT_FAULT_NOMEM ? -ENOMEM : zsram_codec_init(c, &cc, z->page_size);
	free(dict); /* the codec keeps its own copy */
	if (err) {
		samples_free(z, samples);
		return err;
	}
	/* Its contexts are the primary codec's: one set for every zstd codec
	 * of the store, each operation referencing its codec's tables. */
	c->pool = &z->codecs[0];
	err = dict_helps(z, c, samples + (trained < nr ? trained : 0) * z->page_size,
			 trained < nr ? nr - trained : nr);
	samples_free(z, samples);
	if (err != 1) {
		zsram_codec_fini(c);
		return err < 0 ? err : 1;
	}
	zs_mutex_lock(&d->lock);
	d->gen_dict_size[g - ZSRAM_CODEC_DICT] = (size_t)n;
	d->gen_mem[g - ZSRAM_CODEC_DICT] = zsram_codec_dict_mem(c);
	d->base_bytes = 0;
	atomic_store(&d->win_pages, 0);
	atomic_store(&d->win_bytes, 0);
	d->generations++;
	zs_mutex_unlock(&d->lock);
	atomic_store(&d->current, g);
	return 0;
}

/* Re-encodes slot i (locked, *flags) into generation cur; page is scratch. */
static void dict_reencode_slot(struct zsram *z, uint64_t i, uint32_t *flags, unsigned int cur,
			       void *page)
{
	ZSRAM_ASSERT_SLOT_LOCKED(z, i);
	unsigned int alg = slot_alg(*flags);
	bool must = codec_is_dict(alg); /* an older generation, to retire */
	size_t size = *flags & SLOT_SIZE_MASK;
	size_t cap = z->alloc.huge_size - 1;
	struct zsram_codec_ctx *ctx;
	int r;

	if (!must && size - 1 < cap)
		cap = size - 1; /* only if it comes out smaller */
	ctx = zsram_codec_get(&z->codecs[cur]);
	if (!ctx)
		return;
	r = zsram_slot_reencode_locked(z, i, flags, page, cur, ctx, cap);
	zsram_codec_put(&z->codecs[cur], ctx);
	if (r == 0 && must) {
		/* Huge with the new dictionary: stored as a write would. */
		uint32_t idle = *flags & SLOT_IDLE;

		r = zsram_slot_store_locked(z, i, flags, page) == 0;
		*flags |= idle;
	}
	if (r > 0) {
		zs_mutex_lock(&z->dict.lock);
		z->dict.reencoded++;
		zs_mutex_unlock(&z->dict.lock);
	}
}

/* True while a generation other than cur still has slots or writers. */
static bool dict_old_in_use(struct zsram *z, unsigned int cur)
{
	for (unsigned int g = 0; g < ZSRAM_DICT_GENS; g++)
		if (ZSRAM_CODEC_DICT + g != cur && atomic_load(&z->dict.refs[g]) != 0)
			return true;
	return false;
}

/* One pass over the slots: pages without a dictionary (first pass only) or
 * with an older one move to the current generation.  A writer that took the
 * older generation just before the switch may store into it after the pass
 * has gone by, so the passes repeat while an older generation is in use, a
 * few times; then what nothing records is retired. */
static void dict_reencode_all(struct zsram *z)
{
	unsigned int cur = atomic_load(&z->dict.current);
	void *page = malloc(z->page_size);

	if (!page)
		return;
	for (unsigned int pass = 0; pass < DICT_REENCODE_PASSES; pass++) {
		if (pass && !dict_old_in_use(z, cur))
			break;
		for (uint64_t i = 0; i < z->nr_pages && !atomic_load(&z->dict.stop); i++) {
			uint32_t flags = zsram_slot_lock(&z->slots, i);
			unsigned int alg = slot_alg(flags);
			bool older = codec_is_dict(alg) && alg != cur;

			if (slot_in_allocator(flags) && ((alg == 0 && !pass) || older))
				dict_reencode_slot(z, i, &flags, cur, page);
			zsram_slot_unlock_set(&z->slots, i, flags);
		}
	}
	free(page);
	dict_retire(z);
	/* The re-encoded pages left holes in the pool's zspages. */
	zsram_compact(z);
}

/*
 * The dense pass: each compressed page that no pass has been over is
 * compressed again at rest_level with its codec's dictionary, and kept if
 * smaller.  The level is not part of zstd's format: the slot's codec reads
 * it back as before.  Slot by slot under the slot's lock, as re-encoding;
 * a page written since is compressed at the writes' level and waits for the
 * next pass (SLOT_DENSE is cleared by the write).
 */
static void dict_dense_pass(struct zsram *z)
{
	struct zsram_dict *d = &z->dict;
	void *dense[ZSRAM_NR_CODECS] = { 0 };
	void *page = malloc(z->page_size), *buf = malloc(z->page_size);
	uint64_t done = 0, saved = 0;

	atomic_store(&d->undense, 0);
	for (uint64_t i = 0; page && buf && i < z->nr_pages && !atomic_load(&d->stop); i++) {
		uint32_t flags = zsram_slot_lock(&z->slots, i);
		unsigned int alg = slot_alg(flags);
		size_t size = flags & SLOT_SIZE_MASK;
		long n;

		if (slot_in_allocator(flags) && !(flags & (SLOT_HUGE | SLOT_DENSE)) &&
		    (alg == ZSRAM_CODEC_PRIMARY || codec_is_dict(alg)) &&
		    (dense[alg] ||
		     (dense[alg] = zsram_codec_dense_new(&z->codecs[alg], d->rest_level))) &&
		    zsram_slot_read_locked(z, i, flags, page) == 0) {
			n = zsram_codec_dense_compress(dense[alg], page, z->page_size, buf, size - 1);
			if (n > 0 &&
			    zsram_slot_replace_locked(z, i, &flags, alg, buf, (size_t)n) > 0) {
				done++;
				saved += size - (size_t)n;
			}
			flags |= SLOT_DENSE; /* smaller or not: tried */
		}
		zsram_slot_unlock_set(&z->slots, i, flags);
	}
	for (unsigned int c = 0; c < ZSRAM_NR_CODECS; c++)
		zsram_codec_dense_free(dense[c]);
	free(page);
	free(buf);
	zs_mutex_lock(&d->lock);
	d->densified += done;
	d->dense_saved += saved;
	zs_mutex_unlock(&d->lock);
	if (done)
		zsram_compact(z);
}

/* Caller holds dict.lock. */
static bool dict_due(const struct zsram_dict *d)
{
	if (!atomic_load(&d->collecting))
		return false;
	return d->nr_samples >= d->max_samples || (d->train_now && d->nr_samples >= DICT_MIN_SAMPLES);
}

/*
 * After a training and its re-encoding: the contexts that the thread's work
 * made (re-encoding holds two at once) and ZDICT's working memory, freed in
 * this thread's malloc arena, go back to the system, so that a store at rest
 * holds what its statistics say.  A context is made again when one is
 * needed; at most keep stay free.
 */
static void dict_give_back(struct zsram *z, unsigned int keep)
{
	zsram_codec_trim(&z->codecs[0], keep);
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

/* Whether the store's rest has work: a re-encoding left for it, pages for
 * the dense pass.  Caller holds dict.lock. */
static bool dict_rest_work(struct zsram_dict *d)
{
	return d->reencode_pending || (d->rest_level && atomic_load(&d->undense));
}

/*
 * The thread's sleep between trainings.  While compression contexts exist
 * it wakes every DICT_IDLE_MS (the first one made wakes it, dict_first_ctx),
 * and when none was used meanwhile (the store is at rest) runs the dense
 * pass if pages await it, then frees the free contexts: a zstd context is
 * 0.3-0.7 MiB, and a server that wrote from four threads at once would keep
 * four.  The next operation makes one again.  Caller holds dict.lock.
 */
static void dict_idle_wait(struct zsram *z)
{
	struct zsram_dict *d = &z->dict;
	struct timespec at;
	unsigned int nr_ctx;
	uint64_t puts, puts_after;

	zsram_codec_usage(&z->codecs[0], &nr_ctx, &puts);
	if (!nr_ctx) {
		zs_mutex_wait(&d->lock, &d->wake);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &at);
	at.tv_nsec += DICT_IDLE_MS * 1000000L;
	at.tv_sec += at.tv_nsec / 1000000000L;
	at.tv_nsec %= 1000000000L;
	if (zs_mutex_timedwait(&d->lock, &d->wake, &at) != ETIMEDOUT)
		return;
	zsram_codec_usage(&z->codecs[0], &nr_ctx, &puts_after);
	if (puts_after != puts)
		return;
	if (dict_rest_work(d)) {
		d->rest_now = true; /* the rest's work, then the contexts go */
		return;
	}
	zs_mutex_unlock(&d->lock);
	dict_give_back(z, 0);
	zs_mutex_lock(&d->lock);
}

static void *dict_thread(void *arg)
{
	struct zsram *z = arg;
	struct zsram_dict *d = &z->dict;

	zs_mutex_lock(&d->lock);
	for (;;) {
		unsigned char *samples;
		size_t nr;
		int err;

		while (!atomic_load(&d->stop) && !dict_due(d) && !d->rest_now) {
			d->busy = false;
			pthread_cond_broadcast(&d->idle);
			dict_idle_wait(z);
		}
		if (atomic_load(&d->stop))
			break;
		d->busy = true;
		if (!dict_due(d)) {
			bool reencode = d->reencode_pending;

			d->rest_now = false;
			d->reencode_pending = false;
			zs_mutex_unlock(&d->lock);
			if (reencode)
				dict_reencode_all(z);
			if (d->rest_level)
				dict_dense_pass(z);
			dict_give_back(z, 0);
			zs_mutex_lock(&d->lock);
			continue;
		}
		atomic_store(&d->collecting, false);
		samples = d->samples;
		nr = d->nr_samples;
		d->samples = NULL;
		d->nr_samples = 0;
		d->train_now = false;
		zs_mutex_unlock(&d->lock);

		/* The pages stored before wait for the rest: re-encoding them
		 * now would take the processors from the writers. */
		err = dict_train_and_switch(z, samples, nr);
		dict_give_back(z, 1);

		zs_mutex_lock(&d->lock);
		if (!err)
			d->reencode_pending = true;
		if (err) {
			if (err > 0) {
				d->rejected++;
			} else {
				d->failures++;
				d->last_error = err;
			}
			/* Try again on new samples, a few times. */
			if (++d->failures_in_row < DICT_MAX_FAILURES)
				dict_start_collecting(z);
		} else {
			d->failures_in_row = 0;
		}
	}
	d->busy = false;
	pthread_cond_broadcast(&d->idle);
	zs_mutex_unlock(&d->lock);
	return NULL;
}

/* ---- Control and statistics ---- */

int zsram_dict_train(struct zsram *z)
{
	struct zsram_dict *d = &z->dict;
	int err = 0;

	if (!d->enabled)
		return -EINVAL;
	zs_mutex_lock(&d->lock);
	if (!d->busy) {
		if (!atomic_load(&d->collecting) || d->nr_samples < DICT_MIN_SAMPLES) {
			err = -EAGAIN;
		} else if (dict_start_thread(z)) {
			d->train_now = true;
			d->busy = true; /* so a wait that follows waits for it */
			pthread_cond_signal(&d->wake);
		} else {
			err = d->last_error;
		}
	}
	zs_mutex_unlock(&d->lock);
	return err;
}

int zsram_dict_wait(struct zsram *z)
{
	struct zsram_dict *d = &z->dict;

	if (!d->enabled)
		return -EINVAL;
	zs_mutex_lock(&d->lock);
	/* The rest's work now, not after DICT_IDLE_MS. */
	if (dict_rest_work(d) && dict_start_thread(z)) {
		d->rest_now = true;
		d->busy = true; /* so that the wait below waits for it */
		pthread_cond_signal(&d->wake);
	}
	while (d->busy || dict_due(d) || d->rest_now)
		zs_mutex_wait(&d->lock, &d->idle);
	zs_mutex_unlock(&d->lock);
	return 0;
}

void zsram_get_dict_stat(struct zsram *z, struct zsram_dict_stat *st)
{
	struct zsram_dict *d = &z->dict;

	memset(st, 0, sizeof(*st));
	if (!d->enabled)
		return;
	zs_mutex_lock(&d->lock);
	st->enabled = 1;
	st->current = atomic_load(&d->current);
	st->generations = d->generations;
	st->failures = d->failures;
	st->rejected = d->rejected;
	st->densified = d->densified;
	st->dense_saved = d->dense_saved;
	st->eval_plain = d->eval_plain;
	st->eval_dict = d->eval_dict;
	st->retired = d->retired;
	st->retrains = d->retrains;
	st->reencoded = d->reencoded;
	for (unsigned int g = 0; g < ZSRAM_DICT_GENS; g++) {
		st->pages[g] = atomic_load(&d->refs[g]);
		st->mem_bytes += d->gen_mem[g];
	}
	if (st->current)
		st->dict_bytes = d->gen_dict_size[st->current - ZSRAM_CODEC_DICT];
	/* The sample buffer is resident as far as it was filled. */
	if (d->samples)
		st->mem_bytes += d->nr_samples * z->page_size;
	st->last_error = d->last_error;
	zs_mutex_unlock(&d->lock);
}

int zsram_print_dict_stat(struct zsram *z, FILE *out)
{
	struct zsram_dict_stat st;

	zsram_get_dict_stat(z, &st);
	if (fprintf(out,
		    "%d %u %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
		    " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
		    " %" PRIu64 " %" PRIu64 "\n",
		    st.enabled, st.current, st.generations, st.failures, st.retired, st.retrains,
		    st.reencoded, st.pages[0], st.pages[1], st.dict_bytes, st.mem_bytes,
		    st.rejected, st.eval_plain, st.eval_dict, st.densified, st.dense_saved) < 0)
		return -1;
	return 0;
}
