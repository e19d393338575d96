/*
 * zsram_internal.h - the store's types, shared by the files of libzsram and
 * never installed.
 *
 * Layers, one file each:
 *   alloc.c      the allocator (a zpool of any backend) and the page source
 *                of zbud, z3fold and RAW slots (common/'s single-page source)
 *   codec.c      compression algorithms and their per-thread contexts
 *   slot.c       the slot table: packed flags, the per-slot lock bit
 *   store.c      creation, page write/read/discard, memory limit, compaction
 *   block.c      the block-device view: any byte range, partial pages
 *                patched under the slot lock
 *   recompress.c recompression with the secondary algorithm, idle marking
 *   dict.c       the automatic dictionary: sampling, training, re-encoding
 *   writeback.c  the backing file
 *   stats.c      mm_stat, io_stat, bd_stat, the class table, the checker
 *
 * Locks, in the order they nest (a thread that holds one takes only locks
 * below it).  Every function whose rule is "caller holds L" starts with
 * ZS_ASSERT_HELD(&L) or ZSRAM_ASSERT_SLOT_LOCKED, checked in debug and
 * sanitizer builds (../../src/lock.h).
 *   slot lock            the LOCK bit of a slot (slot.c): its value and
 *                        flags.  A thread waits for one slot lock at a time;
 *                        holding one, it only try-locks others (the
 *                        writeback scan, which skips a busy slot).
 *   backing.scan_lock    one writeback scan at a time, and its clock hand;
 *                        under the slot lock of the write making room.
 *   the allocator's      (zsmalloc's class and pagemap locks, zbud's and
 *   locks                z3fold's pool locks): under a slot lock, or the
 *                        scan lock, or alone (compaction, statistics).
 *   alloc.pages.lock     common/'s page source of zbud, z3fold, RAW slots:
 *                        under the allocator's locks (its page ops) or a
 *                        slot lock (RAW pages).
 *   backing.lock,        leaves: nothing is taken while one is held.  A
 *   codec free_lock,     thread holding a slot lock may wait on free_lock's
 *   dict.lock            condition for a context; holders of a context
 *                        take no slot lock to give it back.  Writers add
 *                        samples under dict.lock inside their slot lock;
 *                        the dictionary thread takes slot locks only with
 *                        dict.lock released.
 */
#ifndef ZSRAM_INTERNAL_H
#define ZSRAM_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <zsmalloc.h>
#include <zpool.h>

#include "pages.h"

#include "zsram.h"
/* The core's lock wrapper (header only; nothing else of src/ is used). */
#include "../../src/lock.h"

/* ---- The allocator (alloc.c) ---- */

struct zsram_alloc {
	struct zpool *pool;	       /* any backend: zsmalloc, zbud, z3fold */
	struct zs_single_source pages; /* zbud's and z3fold's pages, RAW slots' */
	bool pages_ready;	       /* pages initialised (for fini) */
	size_t huge_size;	       /* objects above this take a whole page */
	size_t max_size;	       /* largest object the backend takes */
};

/* The pool keeps limit_pages (0: none) for its own pages; the store checks
 * it for them and RAW pages together.  0 or a negative errno. */
int zsram_alloc_init(struct zsram_alloc *a, const char *backend, const char *name, size_t page_size,
		     uint64_t limit_pages);
/* Safe on a zeroed or half-initialised struct. */
void zsram_alloc_fini(struct zsram_alloc *a);

/* ---- Codecs (codec.c) ---- */

/* One context: what one thread needs for one operation.  Kept in the codec's
 * free list between uses. */
struct zsram_codec_ctx {
	struct zsram_codec_ctx *next; /* free list link */
	void *lz4_state;	      /* LZ4 / LZ4HC state */
	void *zstd_cctx;	      /* ZSTD_CCtx, made at first compression */
	void *zstd_dctx;	      /* ZSTD_DCtx, made at first decompression */
	unsigned char *buf;	      /* page_size bytes of scratch: compressed
					 * output, or the allocator's local copy */
};

struct zsram_codec {
	enum zsram_algorithm algorithm;
	int level;
	size_t page_size; /* size of each context's buf */
	void *dict;	  /* our copy of the dictionary, or NULL */
	size_t dict_size;
	void *zstd_cdict;	   /* ZSTD_CDict, shared read-only */
	void *zstd_ddict;	   /* ZSTD_DDict, shared read-only */
	struct zs_mutex free_lock; /* protects free_list and nr_ctx */
	pthread_cond_t ctx_freed;  /* signalled when a context is put */
	struct zsram_codec_ctx *free_list;
	unsigned int nr_ctx; /* contexts in existence */
	uint64_t puts;	     /* operations done, for idle detection */
	/* Called (no lock held) when a context is made while none existed:
	 * the dictionary thread watches for rest only while there are some. */
	void (*first_ctx)(void *arg);
	void *first_ctx_arg;
	unsigned int max_ctx;	  /* at most this many, except for a thread
					 * that holds one already; 0: not set up */
	struct zsram_codec *pool; /* whose contexts it uses: itself, or (a
				   * dictionary generation) the primary's */
};

int zsram_codec_init(struct zsram_codec *c, const struct zsram_codec_config *cfg, size_t page_size);
void zsram_codec_fini(struct zsram_codec *c);
/* Bytes of the codec's dictionary and its zstd tables. */
size_t zsram_codec_dict_mem(const struct zsram_codec *c);
/* A context for one operation: from the free list, or a new one while
 * fewer than max_ctx exist (one per processor), else it waits for one to be
 * put back.  NULL: ENOMEM. */
struct zsram_codec_ctx *zsram_codec_get(struct zsram_codec *c); /* NULL: ENOMEM */
void zsram_codec_put(struct zsram_codec *c, struct zsram_codec_ctx *ctx);
/* Frees the free contexts beyond the first keep (each holds 0.3-0.7 MiB of
 * zstd state); they are made again when needed. */
void zsram_codec_trim(struct zsram_codec *c, unsigned int keep);
/* A zstd compressor writing what codec c (zstd) decodes, at another level,
 * with c's dictionary if it has one: the dense pass at rest (dict.c).
 * dense_compress answers as zsram_codec_compress.  NULL: out of memory. */
void *zsram_codec_dense_new(const struct zsram_codec *c, int level);
long zsram_codec_dense_compress(void *dense, const void *src, size_t src_len, void *dst,
				size_t dst_cap);
void zsram_codec_dense_free(void *dense);
/* Contexts in existence now, and operations done so far. */
void zsram_codec_usage(struct zsram_codec *c, unsigned int *nr_ctx, uint64_t *puts);
/* Compresses src_len bytes into dst (capacity dst_cap).  Returns the
 * compressed size, 0 if it does not fit in dst_cap, -EIO on a codec error,
 * -ENOMEM if zstd's compressor cannot be made (at a context's first use). */
long zsram_codec_compress(struct zsram_codec *c, struct zsram_codec_ctx *ctx, const void *src,
			  size_t src_len, void *dst, size_t dst_cap);
/* Decompresses exactly dst_len bytes; 0, -EIO, or -ENOMEM as above. */
int zsram_codec_decompress(struct zsram_codec *c, struct zsram_codec_ctx *ctx, const void *src,
			   size_t src_len, void *dst, size_t dst_len);

/* ---- Slot table (slot.c) ----
 *
 * Slot i is values[i] (8 bytes) and flags[i] (4 bytes).  flags holds:
 *   bits  0..16  stored size in bytes (compressed or huge; 0 otherwise)
 *   bits 17..19  codec (ZSRAM_CODEC_*): 0 primary, 1 secondary
 *                (recompressed), 4 and 5 the primary algorithm with an
 *                automatic dictionary of one generation or the other
 *   bit  20      SAME: same-filled, values[i] is the word
 *   bit  21      HUGE: raw page in a page-sized object
 *   bit  22      WB: written back, values[i] is the backing-file block
 *   bit  23      IDLE: marked idle and not accessed since
 *   bit  24      NORECOMP: recompression tried without gain
 *   bit  25      RAW: (with HUGE) a page straight from the page source,
 *                values[i] is its address: for allocators whose largest
 *                object is below the page size (zbud, z3fold)
 *   bit  26      DENSE: the dense pass at rest has been over it (dict.c)
 *   bit  31      LOCK: held by the thread working on the slot
 * A slot holds memory iff its size is nonzero and neither SAME nor WB is
 * set; values[i] is then the handle (or, with RAW, the page).  values[i] and every bit
 * but LOCK are read and written only with LOCK held.
 */
#define SLOT_SIZE_MASK 0x1ffffu
#define SLOT_ALG_SHIFT 17
#define SLOT_ALG_MASK (0x7u << SLOT_ALG_SHIFT)
#define SLOT_SAME (1u << 20)
#define SLOT_HUGE (1u << 21)
#define SLOT_WB (1u << 22)
#define SLOT_IDLE (1u << 23)
#define SLOT_NORECOMP (1u << 24)
#define SLOT_RAW (1u << 25)
#define SLOT_DENSE (1u << 26)
#define SLOT_LOCK (1u << 31)

struct zsram_slots {
	uint64_t nr;
	uint64_t *values;
	_Atomic uint32_t *flags;
	/* With track_access_time: seconds (zsram_now) of each slot's last read
	 * or write, under the slot's lock; NULL: not tracked. */
	uint32_t *atime;
#ifdef ZS_DEBUG
	_Atomic uintptr_t *owner; /* the holder's pthread_self(), 0: none */
#endif
};

/* Debug builds: aborts unless this thread holds slot i's lock. */
#ifdef ZS_DEBUG
#define ZSRAM_ASSERT_SLOT_LOCKED(z, i)                                                       \
	ZS_ASSERT_LOCKED(atomic_load_explicit(&(z)->slots.owner[i], memory_order_relaxed) == \
				 (uintptr_t)pthread_self(),                                  \
			 "slot lock " #i)
#else
#define ZSRAM_ASSERT_SLOT_LOCKED(z, i) ((void)0)
#endif

int zsram_slots_init(struct zsram_slots *s, uint64_t nr);
void zsram_slots_fini(struct zsram_slots *s);
/* Lock and unlock; lock returns the slot's flags without LOCK. */
uint32_t zsram_slot_lock(struct zsram_slots *s, uint64_t i);
bool zsram_slot_trylock(struct zsram_slots *s, uint64_t i, uint32_t *flags);
/* Sets the slot's flags (without LOCK) and releases the lock. */
void zsram_slot_unlock_set(struct zsram_slots *s, uint64_t i, uint32_t flags);
static inline bool slot_in_allocator(uint32_t flags)
{
	return (flags & SLOT_SIZE_MASK) && !(flags & (SLOT_SAME | SLOT_WB));
}
static inline unsigned int slot_alg(uint32_t flags)
{
	return (flags & SLOT_ALG_MASK) >> SLOT_ALG_SHIFT;
}
static inline uint32_t slot_alg_bits(unsigned int codec)
{
	return (uint32_t)codec << SLOT_ALG_SHIFT;
}

/* ---- Backing file (writeback.c) ---- */

struct zsram_backing {
	int fd; /* -1: none */
	uint64_t nr_blocks;
	struct zs_mutex lock;	   /* protects bitmap and hint */
	uint64_t *bitmap;	   /* 1 bit per block: in use */
	uint64_t hint;		   /* where to look for a free block */
	uint64_t clock;		   /* next slot the victim scan looks at */
	struct zs_mutex scan_lock; /* one writeback scan at a time */
	/* Pages that may still be written back (zram's writeback_limit);
	 * negative: no limit.  Taken before a page is written, given back
	 * if the write fails. */
	_Atomic int64_t budget;
};

/* ---- Automatic dictionary (dict.c) ----
 *
 * With zstd and no dictionary given, the store samples the pages written
 * (1 in DICT_SAMPLE_EVERY, until the sample buffer is full), and a thread of
 * its own trains a dictionary on them, sets up a codec with it in a free
 * generation (codec 4 or 5), switches new writes to it, and re-encodes the
 * pages stored before, one slot lock at a time.  A generation no slot refers
 * to any more is freed; so at most two are alive, and a retrain (when pages
 * written with the current one compress clearly worse than the first ones
 * did) needs the older one retired first.
 *
 * refs[g] counts the slots that record generation g plus writers that are
 * compressing with it.  A writer increments it and then checks that g is
 * still current; the thread switches current and then checks refs: with
 * sequentially consistent atomics one of them sees the other, so a codec is
 * never freed under a writer (dict_acquire in dict.c).
 */
#define ZSRAM_CODEC_PRIMARY 0
#define ZSRAM_CODEC_RECOMP 1
#define ZSRAM_CODEC_DICT 4 /* generations: ZSRAM_CODEC_DICT + 0, + 1 */
#define ZSRAM_DICT_GENS 2
#define ZSRAM_NR_CODECS (ZSRAM_CODEC_DICT + ZSRAM_DICT_GENS)

static inline bool codec_is_dict(unsigned int codec)
{
	return codec >= ZSRAM_CODEC_DICT;
}
_Static_assert(ZSRAM_CODEC_RECOMP + ZSRAM_MAX_RECOMP <= ZSRAM_CODEC_DICT,
	       "the secondary algorithms' codecs end before the dictionaries'");

static inline bool codec_is_recomp(unsigned int codec)
{
	return codec >= ZSRAM_CODEC_RECOMP && codec < ZSRAM_CODEC_DICT;
}

/* Test hooks (tests of internals): the next training fails this way. */
enum zsram_dict_fault {
	ZSRAM_DICT_FAULT_NONE,
	ZSRAM_DICT_FAULT_TRAIN, /* ZDICT reports an error */
	ZSRAM_DICT_FAULT_NOMEM, /* the codec cannot be set up */
};

struct zsram_dict {
	bool enabled;
	size_t capacity;	      /* bytes of dictionary to train */
	_Atomic unsigned int current; /* codec of new writes: 0 or a generation */
	_Atomic uint64_t refs[ZSRAM_DICT_GENS];
	_Atomic bool collecting;   /* writers add samples */
	_Atomic uint64_t offered;  /* pages offered while collecting */
	_Atomic bool stop;	   /* destroy: the thread ends */
	_Atomic int fault;	   /* enum zsram_dict_fault, test hook */
	unsigned int sample_every; /* one page in this many; tests lower it */

	struct zs_mutex lock; /* protects what follows */
	pthread_cond_t wake;  /* the thread: samples full, retrain, stop */
	pthread_cond_t idle;  /* waiters: the thread has nothing to do */
	unsigned char *samples;
	size_t nr_samples, max_samples;
	bool train_now; /* train on what there is (zsram_dict_train) */
	bool busy;	/* training or re-encoding */
	bool thread_started;
	pthread_t thread;
	/* Drift: compressed bytes of the pages written with the current
	 * generation, per window; the first window is the baseline. */
	_Atomic uint64_t win_pages, win_bytes;
	uint64_t base_bytes;		       /* 0: no baseline yet */
	size_t gen_dict_size[ZSRAM_DICT_GENS]; /* 0: generation not set up */
	size_t gen_mem[ZSRAM_DICT_GENS];       /* dictionary + zstd tables */
	unsigned int failures_in_row;
	int last_error;
	uint64_t generations, failures, reencoded, retired, retrains;
	uint64_t rejected; /* dictionaries that did not help */
	/* The store's rest: re-encoding left for it (after a switch), the
	 * dense pass's level (0: none) and pages compressed since the last
	 * pass, the rest's work asked for now (zsram_dict_wait). */
	bool reencode_pending;
	int rest_level;
	_Atomic uint64_t undense;
	bool rest_now;
	uint64_t densified, dense_saved; /* pages made smaller, bytes saved */
	uint64_t eval_plain, eval_dict;	 /* the last held-out samples, compressed */
};

/* ---- The store ---- */

struct zsram {
	uint64_t nr_pages;
	size_t page_size;
	unsigned int page_shift;
	struct zsram_alloc alloc; /* the pool and its page source */
	/* ZSRAM_CODEC_*: [0] primary, [1] secondary, [4..5] dictionary
	 * generations (set up by the dictionary thread). */
	struct zsram_codec codecs[ZSRAM_NR_CODECS];
	unsigned int nr_codecs; /* codecs 0 .. nr_codecs-1 set up at creation */
	struct zsram_dict dict;
	struct zsram_slots slots;
	struct timespec epoch;	   /* zsram_now's 0 */
	_Atomic uint64_t test_now; /* tests: nonzero replaces the clock */
	uint64_t limit_pages;	   /* 0: none */
	double compact_threshold;  /* < 0: never automatically */
	struct zsram_backing backing;

	/* Statistics, updated with relaxed atomics. */
	_Atomic uint64_t pages_stored;
	_Atomic uint64_t compr_data_size;
	_Atomic uint64_t same_pages;
	_Atomic uint64_t huge_pages;
	_Atomic uint64_t huge_pages_since;
	_Atomic uint64_t max_used_pages;
	_Atomic uint64_t failed_reads;
	_Atomic uint64_t failed_writes;
	_Atomic uint64_t invalid_io;
	_Atomic uint64_t notify_free;
	_Atomic uint64_t bd_count;
	_Atomic uint64_t bd_reads;
	_Atomic uint64_t bd_writes;
	_Atomic uint64_t recompressed;
	_Atomic uint64_t recomp_attempts;
	_Atomic uint64_t recomp_saved;
	_Atomic uint64_t raw_pages;	    /* RAW slots: pages outside the allocator */
	_Atomic uint64_t frees_since_check; /* drives automatic compaction */
	atomic_flag compacting;		    /* one automatic compaction at a time */
};

#define STAT_ADD(field, n) atomic_fetch_add_explicit(&(field), (n), memory_order_relaxed)
#define STAT_SUB(field, n) atomic_fetch_sub_explicit(&(field), (n), memory_order_relaxed)
#define STAT_GET(field) atomic_load_explicit(&(field), memory_order_relaxed)

/* store.c: with the slot's lock held. */
int zsram_slot_read_locked(struct zsram *z, uint64_t index, uint32_t flags, void *page);
/* Stores page into the slot whose flags (locked) are *flags; on success
 * updates *flags (the caller unlocks with them).  Changes nothing on error. */
int zsram_slot_store_locked(struct zsram *z, uint64_t index, uint32_t *flags, const void *page);
/* Frees what the slot holds and updates the statistics; the slot's flags
 * are 0 (empty) after it.  Frees of stored pages count toward automatic
 * compaction. */
void zsram_slot_free_locked(struct zsram *z, uint64_t index, uint32_t flags);
void zsram_maybe_compact(struct zsram *z);
/* Allocates size bytes (raw: a whole page from the store's page source)
 * and keeps the store within its memory limit the way zram does: if the
 * store's memory passes the limit once the allocation is made, it is freed
 * again and the answer is -ENOSPC; -ENOMEM if memory cannot be had.  Returns
 * the handle (or the RAW page's address), or 0 with *err set. */
unsigned long zsram_alloc_within_limit(struct zsram *z, size_t size, bool raw, int *err);
/* Frees what zsram_alloc_within_limit returned. */
void zsram_release_handle(struct zsram *z, unsigned long handle, bool raw);
/* Frees the memory a slot holds (handle or RAW page); flags say which. */
void zsram_slot_release_mem(struct zsram *z, uint64_t index, uint32_t flags);
/* Pages of memory the store holds: the allocator's plus RAW pages. */
uint64_t zsram_mem_pages(struct zsram *z);
void zsram_note_mem_used(struct zsram *z);

/* dict.c */
int zsram_dict_init(struct zsram *z, const struct zsram_config *cfg);
void zsram_dict_fini(struct zsram *z); /* stops the thread first */
/* The codec a write compresses with (a reference taken on a generation);
 * zsram_dict_put gives it back when the page is not stored with it. */
unsigned int zsram_dict_get(struct zsram *z);
void zsram_dict_put(struct zsram *z, unsigned int codec);
/* A page written with codec (compressed to size bytes, 0: huge): sampled
 * while collecting, counted for drift. */
void zsram_dict_note_write(struct zsram *z, const void *page, unsigned int codec, size_t size);
/* Slot accounting of the codec a slot records: recompressed pages and
 * generations' references. */
void zsram_codec_count(struct zsram *z, unsigned int codec, int delta);

/* recompress.c: re-encodes slot i (locked, *flags) with codec, using page
 * and ctx (of that codec) as scratch: kept only if it fits in cap bytes.
 * Returns 1 if re-encoded (*flags updated), 0 if it did not fit, or a
 * negative errno (the slot unchanged). */
int zsram_slot_reencode_locked(struct zsram *z, uint64_t i, uint32_t *flags, void *page,
			       unsigned int codec, struct zsram_codec_ctx *ctx, size_t cap);
/* Stores buf (n bytes, compressed by codec) in slot i (locked, *flags)
 * in place of what it held.  1, or a negative errno (the slot unchanged). */
int zsram_slot_replace_locked(struct zsram *z, uint64_t i, uint32_t *flags, unsigned int codec,
			      const void *buf, size_t n);

/* writeback.c */
int zsram_backing_open(struct zsram *z, const char *path, uint64_t nr_blocks);
void zsram_backing_close(struct zsram *z);
/* Reads block into page; 0 or -EIO. */
int zsram_backing_read(struct zsram *z, uint64_t block, void *page);
void zsram_backing_free(struct zsram *z, uint64_t block);
/* Makes room for a write to slot `self` (whose lock the caller holds):
 * writes back cold pages; returns how many. */
long zsram_writeback_for_room(struct zsram *z, uint64_t self);

/* ---- Access time (store.c) ---- */

/* Seconds since the store was made (CLOCK_MONOTONIC_COARSE). */
uint32_t zsram_now(struct zsram *z);
/* A read or write of slot i (locked): its access time is now. */
static inline void zsram_slot_touch(struct zsram *z, uint64_t i)
{
	if (z->slots.atime)
		z->slots.atime[i] = zsram_now(z);
}

#endif /* ZSRAM_INTERNAL_H */
