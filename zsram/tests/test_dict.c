/*
 * test_dict - the automatic dictionary: configuration (good and bad), the
 * first training from the pages written, the switch of new writes, the
 * re-encoding of older pages, retraining when the data drifts and the
 * retirement of the older generation, compression contexts freed at rest,
 * the dense pass at rest,
 * a dictionary that does not help
 * (tested on held-out samples, not used), failed trainings (ZDICT error, no
 * memory) that leave the store on the dictionary it had, and all of it
 * while threads write and read with a shadow copy of every page.
 *
 * The pages are text records drawn from a vocabulary: per-page zstd must
 * spell every word out once per page, a dictionary holds them once, so the
 * dictionary's gain is large and certain.  A new vocabulary is the drift.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include <zsram.h>

#include "zsram_test.h"
#include "../src/zsram_internal.h"

#define PS 4096u
#define NR_WORDS 256

/* Fills page with records "name=W value=W id=N;" of vocabulary vocab. */
static void vocab_page(unsigned char *page, uint64_t vocab, uint64_t seed)
{
	struct tu_rng words = tu_rng_from(vocab), pick = tu_rng_from(seed * 1000003 + vocab);
	char vocabulary[NR_WORDS][16];
	size_t at = 0;

	for (unsigned int w = 0; w < NR_WORDS; w++) {
		unsigned int len = 5 + (unsigned int)tu_below(&words, 10);

		for (unsigned int c = 0; c < len; c++)
			vocabulary[w][c] = (char)('a' + tu_below(&words, 26));
		vocabulary[w][len] = 0;
	}
	while (at < PS) {
		char rec[64];
		int n = snprintf(rec, sizeof(rec), "name=%s value=%s id=%u;",
				 vocabulary[tu_below(&pick, NR_WORDS)],
				 vocabulary[tu_below(&pick, NR_WORDS)],
				 (unsigned int)tu_below(&pick, 100000));

		for (int c = 0; c < n && at < PS; c++)
			page[at++] = (unsigned char)rec[c];
	}
}

static struct zsram *make_store_rest(uint64_t nr, int auto_dict, size_t auto_size, int rest)
{
	struct zsram_config cfg;
	struct zsram *z;

	zsram_config_init(&cfg);
	cfg.nr_pages = nr;
	cfg.codec.algorithm = ZSRAM_ALG_ZSTD;
	cfg.auto_dict = auto_dict;
	cfg.auto_dict_size = auto_size;
	cfg.auto_dict_rest_level = rest;
	z = zsram_create(&cfg);
	/* One page in 4 (the default is 16): training after 2048 pages keeps
	 * the test quick; what is sampled, and when, is otherwise the same. */
	if (z)
		z->dict.sample_every = 4;
	return z;
}

static struct zsram *make_store(uint64_t nr, int auto_dict, size_t auto_size)
{
	return make_store_rest(nr, auto_dict, auto_size, 0);
}

static void write_range(struct zsram *z, uint64_t from, uint64_t to, uint64_t vocab)
{
	unsigned char page[PS];

	for (uint64_t i = from; i < to; i++) {
		vocab_page(page, vocab, i);
		CHECK_EQ(zsram_write_page(z, i, page), 0, "page %" PRIu64, i);
	}
}

static void verify_range(struct zsram *z, uint64_t from, uint64_t to, uint64_t vocab)
{
	unsigned char page[PS], back[PS];

	for (uint64_t i = from; i < to; i++) {
		vocab_page(page, vocab, i);
		CHECK_EQ(zsram_read_page(z, i, back), 0);
		CHECK(memcmp(page, back, PS) == 0, "page %" PRIu64 " differs at %zu", i,
		      tu_first_diff(page, back, PS));
	}
}

static uint64_t compr_size(struct zsram *z)
{
	struct zsram_mm_stat mm;

	zsram_get_mm_stat(z, &mm);
	return mm.compr_data_size;
}

static void test_config(void)
{
	struct zsram_config cfg;
	struct zsram_dict_stat st;
	char dict[512] = { 1 };
	struct zsram *z;

	/* Asked for where it cannot be: refused, nothing made. */
	zsram_config_init(&cfg);
	cfg.nr_pages = 16;
	cfg.auto_dict = 1; /* lz4 */
	errno = 0;
	CHECK(!zsram_create(&cfg) && errno == EINVAL);
	cfg.codec.algorithm = ZSRAM_ALG_ZSTD;
	cfg.codec.dict = dict;
	cfg.codec.dict_size = sizeof(dict);
	errno = 0;
	CHECK(!zsram_create(&cfg) && errno == EINVAL, "a fixed dictionary and an automatic one");
	errno = 0;
	CHECK(!make_store(16, 0, 255) && errno == EINVAL, "a dictionary of 255 bytes");
	errno = 0;
	CHECK(!make_store(16, 0, (1u << 20) + 1) && errno == EINVAL, "over 1 MiB");

	/* On by default for zstd, at the limits of its size. */
	z = make_store(16, 0, 256);
	CHECK(z);
	zsram_get_dict_stat(z, &st);
	CHECK(st.enabled && st.current == 0 && st.generations == 0);
	CHECK_EQ(zsram_dict_train(z), -EAGAIN, "no samples yet");
	CHECK_EQ(zsram_dict_wait(z), 0);
	zsram_destroy(z);
	z = make_store(16, 1, 1u << 20);
	CHECK(z);
	zsram_destroy(z);

	/* Off: for lz4, when turned off, with a fixed dictionary. */
	z = make_store(16, -1, 0);
	CHECK(z);
	zsram_get_dict_stat(z, &st);
	CHECK(!st.enabled && st.mem_bytes == 0);
	CHECK_EQ(zsram_dict_train(z), -EINVAL);
	CHECK_EQ(zsram_dict_wait(z), -EINVAL);
	zsram_destroy(z);
	zsram_config_init(&cfg);
	cfg.nr_pages = 16;
	z = zsram_create(&cfg);
	CHECK(z);
	zsram_get_dict_stat(z, &st);
	CHECK(!st.enabled);
	zsram_destroy(z);
}

/* The first dictionary: trained after 2 MiB of samples (2048 pages written),
 * new writes use it, the pages before are re-encoded, and the store is
 * smaller than the same pages without one. */
static void test_first_training(void)
{
	const uint64_t nr = 3000;
	struct zsram *z = make_store(nr, 0, 0), *plain = make_store(nr, -1, 0);
	struct zsram_dict_stat st;
	uint64_t with, without;

	CHECK(z && plain);
	write_range(z, 0, 8, 1);
	CHECK_EQ(zsram_dict_train(z), -EAGAIN, "2 samples of 8 pages");
	write_range(z, 8, nr, 1);
	write_range(plain, 0, nr, 1);
	CHECK_EQ(zsram_dict_wait(z), 0);
	zsram_get_dict_stat(z, &st);
	CHECK(st.generations == 1 && st.current == ZSRAM_CODEC_DICT && st.failures == 0,
	      "generations %" PRIu64 " current %u failures %" PRIu64 " error %d", st.generations,
	      st.current, st.failures, st.last_error);
	CHECK(st.reencoded > 0 && st.dict_bytes > 0 && st.dict_bytes <= 64u << 10);
	CHECK(st.mem_bytes > st.dict_bytes, "mem %" PRIu64 " dict %" PRIu64, st.mem_bytes,
	      st.dict_bytes);
	/* Every compressed page is in the generation (re-encoded or written
	 * with it), and each reads back. */
	/* (A write in flight across the switch may store a page without
	 * the dictionary after the pass went by: at most one here.) */
	CHECK(zt_count_alg(z, nr, 0) <= 1);
	CHECK(zt_count_alg(z, nr, ZSRAM_CODEC_DICT) >= nr - 1);
	CHECK(st.pages[0] >= nr - 1);
	verify_range(z, 0, nr, 1);
	CHECK_STORE(z);
	with = compr_size(z);
	without = compr_size(plain);
	CHECK(with * 100 < without * 85, "with %" PRIu64 " without %" PRIu64, with, without);

	/* Rewriting and discarding keep the generation's count. */
	write_range(z, 0, 10, 2);
	CHECK_EQ(zsram_discard(z, 10, 10), 0);
	zsram_get_dict_stat(z, &st);
	CHECK(st.pages[0] >= nr - 10 - 1);
	CHECK_STORE(z);
	zsram_destroy(z);
	zsram_destroy(plain);
}

/* Contexts in existence (free or in use) of the store's zstd codecs. */
static unsigned int contexts(struct zsram *z)
{
	unsigned int n;

	zs_mutex_lock(&z->codecs[0].free_lock);
	n = z->codecs[0].nr_ctx;
	zs_mutex_unlock(&z->codecs[0].free_lock);
	return n;
}

/* A store at rest frees its compression contexts (the thread notices after
 * DICT_IDLE_MS without an operation) and makes one again at the next. */
static void test_idle_contexts(void)
{
	const uint64_t nr = 3000;
	struct zsram *z = make_store(nr, 0, 0);
	unsigned int waited = 0;

	CHECK(z);
	write_range(z, 0, nr, 1);
	CHECK_EQ(zsram_dict_wait(z), 0);
	verify_range(z, 0, 16, 1);
	CHECK(contexts(z) >= 1);
	/* Waiting for an event, not timing it: up to 10 s on a loaded machine. */
	while (contexts(z) && waited++ < 1000)
		usleep(10000);
	CHECK_EQ(contexts(z), 0, "after %u ms at rest", waited * 10);
	verify_range(z, 16, 32, 1);
	CHECK(contexts(z) >= 1);
	write_range(z, 0, 16, 1);
	verify_range(z, 0, nr, 1);
	CHECK_STORE(z);
	zsram_destroy(z);
}

static uint32_t slot_flags(struct zsram *z, uint64_t i)
{
	uint32_t flags = zsram_slot_lock(&z->slots, i);

	zsram_slot_unlock_set(&z->slots, i, flags);
	return flags;
}

/* The dense pass (done now by zsram_dict_wait, or by the store at rest by
 * itself): pages smaller than with the pass off, each passed over once,
 * reading back the same; a page written after waits for the next pass;
 * a bad level is refused. */
static void test_dense_pass(void)
{
	const uint64_t nr = 3000;
	struct zsram_config cfg;
	struct zsram *z = make_store(nr, 0, 0), *off = make_store_rest(nr, 0, 0, -1);
	struct zsram_dict_stat st, st_off;
	uint64_t dense = 0, dense_off = 0, after;
	unsigned int waited = 0;

	CHECK(z && off);
	write_range(z, 0, nr, 1);
	write_range(off, 0, nr, 1);
	CHECK_EQ(zsram_dict_wait(z), 0);
	CHECK_EQ(zsram_dict_wait(off), 0);
	zsram_get_dict_stat(z, &st);
	zsram_get_dict_stat(off, &st_off);
	after = compr_size(z);
	CHECK(st.densified > nr / 2 && st.dense_saved > 0 && st_off.densified == 0,
	      "densified %" PRIu64 " (off: %" PRIu64 ")", st.densified, st_off.densified);
	CHECK(after < compr_size(off), "%" PRIu64 " with the pass, %" PRIu64 " without", after,
	      compr_size(off));
	for (uint64_t i = 0; i < nr; i++) {
		dense += (slot_flags(z, i) & SLOT_DENSE) != 0;
		dense_off += (slot_flags(off, i) & SLOT_DENSE) != 0;
	}
	CHECK(dense == nr && dense_off == 0, "dense %" PRIu64 " off %" PRIu64, dense, dense_off);
	verify_range(z, 0, nr, 1);
	verify_range(off, 0, nr, 1);
	CHECK_STORE(z);
	/* Nothing new: nothing changes. */
	CHECK_EQ(zsram_dict_wait(z), 0);
	CHECK_EQ(compr_size(z), after);
	/* A rewritten page is not dense; the store at rest passes over it by
	 * itself (waiting for the event, up to 10 s). */
	write_range(z, 5, 6, 2);
	CHECK(!(slot_flags(z, 5) & SLOT_DENSE));
	while (!(slot_flags(z, 5) & SLOT_DENSE) && waited++ < 1000)
		usleep(10000);
	CHECK(slot_flags(z, 5) & SLOT_DENSE, "after %u ms at rest", waited * 10);
	verify_range(z, 5, 6, 2);
	verify_range(z, 6, nr, 1);
	zsram_destroy(z);
	zsram_destroy(off);

	/* Out of range: refused. */
	zsram_config_init(&cfg);
	cfg.nr_pages = nr;
	cfg.codec.algorithm = ZSRAM_ALG_ZSTD;
	cfg.auto_dict_rest_level = 23;
	errno = 0;
	CHECK(!zsram_create(&cfg) && errno == EINVAL);
}

/* Pages that share nothing (each its own vocabulary): a dictionary trained
 * on some does not help the held-out others, so it is not used; the store
 * stays without one, tries on new samples a few times, then stops. */
static void test_no_gain(void)
{
	const uint64_t nr = 3000, chunk = 500;
	struct zsram *z = make_store_rest(nr, 0, 0, -1); /* the pass is not what this tests */
	struct zsram_dict_stat st;
	unsigned char page[PS];

	CHECK(z);
	/* Three times what four trainings need, waiting as it goes so
	 * that each round collects anew. */
	for (uint64_t w = 0; w < 3 * 4 * 2048; w += chunk) {
		for (uint64_t i = w; i < w + chunk; i++) {
			vocab_page(page, 1000 + i % nr, i % nr);
			CHECK_EQ(zsram_write_page(z, i % nr, page), 0);
		}
		CHECK_EQ(zsram_dict_wait(z), 0);
	}
	zsram_get_dict_stat(z, &st);
	CHECK(st.rejected == 4 && st.generations == 0 && st.failures == 0 && st.current == 0,
	      "rejected %" PRIu64 " generations %" PRIu64 " failures %" PRIu64 " current %u",
	      st.rejected, st.generations, st.failures, st.current);
	CHECK(st.eval_plain > 0 && st.eval_dict * 100 > st.eval_plain * 98,
	      "held out: %" PRIu64 " without, %" PRIu64 " with", st.eval_plain, st.eval_dict);
	CHECK_EQ(zt_count_alg(z, nr, 0), nr);
	CHECK_EQ(st.mem_bytes, 0, "nothing kept once it stops trying");
	for (uint64_t i = 0; i < nr; i++) {
		unsigned char back[PS];

		vocab_page(page, 1000 + i, i);
		CHECK_EQ(zsram_read_page(z, i, back), 0);
		CHECK(memcmp(page, back, PS) == 0, "page %" PRIu64, i);
	}
	CHECK_STORE(z);
	zsram_destroy(z);
}

/* Drift: a new vocabulary compresses worse with the first dictionary, the
 * store retrains, moves every page to the second generation and frees the
 * first.  The first retraining fails (fault), the store stays on its
 * dictionary and tries again. */
static void test_drift(enum zsram_dict_fault fault, int expect_error)
{
	const uint64_t nr = 4096, chunk = 256;
	struct zsram *z = make_store(nr, 0, 0);
	struct zsram_dict_stat st;
	uint64_t written = 0;

	CHECK(z);
	/* Train (2048 pages), then at least one window of 4096 pages written
	 * with the dictionary sets the base. */
	write_range(z, 0, nr, 1);
	CHECK_EQ(zsram_dict_wait(z), 0);
	write_range(z, 0, nr, 1);
	zsram_get_dict_stat(z, &st);
	CHECK(st.generations == 1 && st.retrains == 0);
	atomic_store(&z->dict.fault, fault);
	/* A new vocabulary: a window compresses worse, the store samples
	 * again and the training fails.  Written a chunk at a time, waiting
	 * after each, so that it stops where the failure is reported. */
	do {
		write_range(z, written % nr, written % nr + chunk, 2);
		written += chunk;
		CHECK_EQ(zsram_dict_wait(z), 0);
		zsram_get_dict_stat(z, &st);
	} while (!st.failures && written < 8 * nr);
	CHECK(st.retrains == 1 && st.failures == 1 && st.last_error == expect_error,
	      "retrains %" PRIu64 " failures %" PRIu64 " error %d after %" PRIu64 " pages",
	      st.retrains, st.failures, st.last_error, written);
	CHECK(st.generations == 1 && st.current == ZSRAM_CODEC_DICT && st.pages[0] == nr);
	verify_range(z, 0, written < nr ? written : nr, 2);
	verify_range(z, written < nr ? written : nr, nr, 1);
	CHECK_STORE(z);
	/* It collects again: with the whole store rewritten, the retraining
	 * succeeds and every page moves to the new generation. */
	write_range(z, 0, nr, 2);
	CHECK_EQ(zsram_dict_wait(z), 0);
	zsram_get_dict_stat(z, &st);
	CHECK(st.generations == 2 && st.current == ZSRAM_CODEC_DICT + 1 && st.failures == 1,
	      "generations %" PRIu64 " current %u error %d", st.generations, st.current,
	      st.last_error);
	CHECK(st.retired == 1 && st.pages[0] == 0 && st.pages[1] == nr,
	      "retired %" PRIu64 " pages %" PRIu64 " %" PRIu64, st.retired, st.pages[0], st.pages[1]);
	CHECK_EQ(zt_count_alg(z, nr, ZSRAM_CODEC_DICT + 1), nr);
	verify_range(z, 0, nr, 2);
	CHECK_STORE(z);
	zsram_destroy(z);
}

/* ---- Concurrent writers and readers through all of it ---- */

#define WRITERS 2
#define SHARE 2048 /* pages each writer owns */
#define FROZEN 512 /* pages written once, then only read */

struct shared {
	struct zsram *z;
	_Atomic uint64_t vocab[WRITERS * SHARE + FROZEN]; /* what each page holds */
	atomic_bool done;
	pthread_barrier_t trained, go; /* the writers and the main thread */
};

struct writer {
	struct shared *sh;
	unsigned int id;
};

static void *writer_thread(void *arg)
{
	struct writer *w = arg;
	struct shared *sh = w->sh;
	struct tu_rng rng = tu_rng_from(100 + w->id);
	unsigned char page[PS], back[PS];
	const uint64_t base = (uint64_t)w->id * SHARE;

	/* Rounds over the share: vocabulary 1 twice (the store trains), a
	 * pause while the main thread waits for the dictionary, twice more
	 * (the ratio's base), then vocabulary 3 four times (the ratio falls,
	 * the store retrains while these writes go on). */
	for (unsigned int round = 0; round < 8; round++) {
		uint64_t vocab = round < 4 ? 1 : 3;

		if (round == 2) {
			pthread_barrier_wait(&sh->trained);
			pthread_barrier_wait(&sh->go);
		}
		for (uint64_t k = 0; k < SHARE; k++) {
			uint64_t i = base + k;

			vocab_page(page, vocab, i);
			CHECK_EQ(zsram_write_page(sh->z, i, page), 0);
			atomic_store(&sh->vocab[i], vocab);
			/* Read back one of its own pages now and then. */
			if (tu_below(&rng, 8) == 0) {
				uint64_t j = base + tu_below(&rng, SHARE);
				uint64_t v = atomic_load(&sh->vocab[j]);

				CHECK_EQ(zsram_read_page(sh->z, j, back), 0);
				if (v) {
					vocab_page(page, v, j);
					CHECK(memcmp(page, back, PS) == 0, "page %" PRIu64, j);
				}
			}
		}
	}
	return NULL;
}

static void *reader_thread(void *arg)
{
	struct shared *sh = arg;
	struct tu_rng rng = tu_rng_from(7);
	unsigned char page[PS], back[PS];
	const uint64_t frozen = WRITERS * SHARE;
	uint64_t reads = 0;

	while (!atomic_load(&sh->done) || reads < 1000) {
		uint64_t i = frozen + tu_below(&rng, FROZEN);

		CHECK_EQ(zsram_read_page(sh->z, i, back), 0);
		vocab_page(page, 1, i);
		CHECK(memcmp(page, back, PS) == 0, "frozen page %" PRIu64 " read %" PRIu64, i, reads);
		reads++;
	}
	return NULL;
}

static void test_concurrent(void)
{
	const uint64_t nr = WRITERS * SHARE + FROZEN;
	static struct shared sh;
	struct writer w[WRITERS];
	pthread_t wt[WRITERS], rt;
	struct zsram_dict_stat st;
	unsigned char back[PS], page[PS];

	sh.z = make_store(nr, 0, 0);
	CHECK(sh.z);
	CHECK_EQ(pthread_barrier_init(&sh.trained, NULL, WRITERS + 1), 0);
	CHECK_EQ(pthread_barrier_init(&sh.go, NULL, WRITERS + 1), 0);
	write_range(sh.z, WRITERS * SHARE, nr, 1);
	CHECK_EQ(pthread_create(&rt, NULL, reader_thread, &sh), 0);
	for (unsigned int t = 0; t < WRITERS; t++) {
		w[t] = (struct writer){ &sh, t };
		CHECK_EQ(pthread_create(&wt[t], NULL, writer_thread, &w[t]), 0);
	}
	pthread_barrier_wait(&sh.trained);
	CHECK_EQ(zsram_dict_wait(sh.z), 0); /* the reader goes on meanwhile */
	zsram_get_dict_stat(sh.z, &st);
	CHECK(st.generations == 1 && st.reencoded > 0, "generations %" PRIu64, st.generations);
	pthread_barrier_wait(&sh.go);
	for (unsigned int t = 0; t < WRITERS; t++)
		pthread_join(wt[t], NULL);
	CHECK_EQ(zsram_dict_wait(sh.z), 0);
	atomic_store(&sh.done, true);
	pthread_join(rt, NULL);

	zsram_get_dict_stat(sh.z, &st);
	CHECK(st.generations == 2 && st.retrains == 1 && st.failures == 0,
	      "generations %" PRIu64 " failures %" PRIu64 " error %d", st.generations, st.failures,
	      st.last_error);
	CHECK(st.pages[0] + st.pages[1] >= nr - WRITERS, "pages in a generation: %" PRIu64,
	      st.pages[0] + st.pages[1]);
	for (uint64_t i = 0; i < nr; i++) {
		vocab_page(page, atomic_load(&sh.vocab[i]) ? atomic_load(&sh.vocab[i]) : 1, i);
		CHECK_EQ(zsram_read_page(sh.z, i, back), 0);
		CHECK(memcmp(page, back, PS) == 0, "page %" PRIu64, i);
	}
	CHECK(st.retired == 1 || st.pages[0] > 0, "retired when no slot records it");
	CHECK_STORE(sh.z);
	pthread_barrier_destroy(&sh.trained);
	pthread_barrier_destroy(&sh.go);
	printf("concurrent: dictionary stat: ");
	CHECK_EQ(zsram_print_dict_stat(sh.z, stdout), 0);
	zsram_destroy(sh.z);
}

int main(void)
{
	tu_init("zsram_dict", 0);
	test_config();
	test_first_training();
	test_no_gain();
	test_idle_contexts();
	test_dense_pass();
	test_drift(ZSRAM_DICT_FAULT_TRAIN, -EINVAL);
	test_drift(ZSRAM_DICT_FAULT_NOMEM, -ENOMEM);
	test_concurrent();
	return 0;
}
