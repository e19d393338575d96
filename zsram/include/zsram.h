/*
 * zsram.h - a compressed page store in userspace: the zram block device's
 * model, as a library on top of libzsmalloc.
 *
 * A store holds nr_pages pages (its "disk size"), addressed by page index.
 * Each page written is kept in one of these forms, recorded in its slot:
 *   empty         never written or discarded: reads back as zeros
 *   same-filled   one repeated 64-bit word: the word is kept in the slot,
 *                 nothing is allocated
 *   compressed    compressed by the store's algorithm into one allocator
 *                 object (the slot records the object's handle and size)
 *   huge          did not compress below the allocator's huge size
 *                 (zs_huge_class_size): stored raw, one page-sized object
 *                 (with zbud or z3fold, whose largest object is below the
 *                 page size: one page of the store's own, outside the
 *                 allocator)
 *   recompressed  compressed again by a secondary algorithm (see
 *                 zsram_recompress); the slot records which algorithm, so the
 *                 page always reads back
 *   written back  moved to the backing file (see zsram_writeback); read back
 *                 from it transparently
 *
 * Slot cost: 12 bytes per page of disk size, allocated at creation: an 8-byte
 * value (the handle, the same-fill word or the backing-file block) and a
 * 4-byte word holding the compressed size (17 bits), the algorithm (2 bits),
 * the kind and idle flags and the slot's lock bit.
 *
 * Memory: mem_used_total is zs_get_total_pages() * page_size, the pages the
 * allocator holds for objects, as zram reports it (plus, with zbud or
 * z3fold, the huge pages kept outside the allocator).  zsmalloc takes its
 * pages from its built-in arena, backing a zspage page by page as it fills;
 * zbud and z3fold from the store's page source, which keeps up to 32 free
 * pages for reuse.  The slot table, the allocator's metadata and the codec
 * contexts come on top (the zsram tool reports the process's real resident
 * memory beside it).
 *
 * The memory limit: with zsmalloc, the pool refuses a page past the limit
 * before anything changes (zs_set_max_pages), so mem_used_total never passes
 * it, even for a moment.  With zbud and z3fold, as in zram, the allocation is
 * made and freed again if the store's memory then passes the limit; they
 * free a page as soon as it is empty, so the store is left as it was, and
 * only a concurrent reader of mem_used_total may see it past the limit.
 *
 * Threads: every function may be called from any thread at the same time as
 * any other on the same store.  Each slot has its own lock bit, so different
 * pages are read and written in parallel; operations on one page are
 * serialised.  Each operation in flight uses a codec context of its own; as
 * zram keeps one stream per CPU, a store keeps at most two contexts per
 * processor and algorithm, and a thread that finds them all busy waits for
 * one (a zstd context is 200-300 KiB).
 *
 * Errors: functions that return int return 0 or a negative errno value:
 *   -EINVAL  bad argument (index or range outside the store, NULL buffer,
 *            bad configuration)
 *   -ENOSPC  the write would take the store past its memory limit (and no
 *            page could be written back to make room); the store is unchanged
 *   -ENOMEM  the allocator or the system is out of memory; store unchanged
 *   -EIO     a stored page failed to decompress or the backing file failed
 *
 * Link with -lzsram (pkg-config zsram), which needs libzsmalloc, liblz4 and
 * libzstd.
 */
#ifndef ZSRAM_H
#define ZSRAM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* libzsram is built with -fvisibility=hidden: what this header declares is
 * its whole exported interface. */
#pragma GCC visibility push(default)

struct zsram;

#define ZSRAM_SECTOR_SIZE 512 /* a block device's sector (the block view takes any byte) */

enum zsram_algorithm {
	ZSRAM_ALG_LZ4,	 /* liblz4 fast; level = acceleration (1 default) */
	ZSRAM_ALG_LZ4HC, /* liblz4 high compression; level 1..12 (9) */
	ZSRAM_ALG_ZSTD,	 /* libzstd; level -7..22 (3); optional dictionary */
};

/* "lz4", "lz4hc", "zstd" -> *alg; 0, or -EINVAL for an unknown name. */
int zsram_algorithm_from_name(const char *name, enum zsram_algorithm *alg);
const char *zsram_algorithm_name(enum zsram_algorithm alg);

struct zsram_codec_config {
	enum zsram_algorithm algorithm;
	int level;	  /* 0: the algorithm's default */
	const void *dict; /* zstd only: a dictionary (see
				 * zsram_train_dictionary); copied at creation */
	size_t dict_size;
};

#define ZSRAM_MAX_RECOMP 3 /* secondary algorithms at most, as zram */

struct zsram_config {
	uint64_t nr_pages;		 /* disk size in pages; required */
	size_t page_size;		 /* 0: 4096; power of two 4096..65536 */
	struct zsram_codec_config codec; /* primary algorithm */
	/* Secondary (recompression) algorithms, as zram's recomp_algorithm:
	 * nr_recomp of them (0..ZSRAM_MAX_RECOMP), recomp[0] of priority 1
	 * (tried first), recomp[1] of priority 2, recomp[2] of priority 3. */
	unsigned int nr_recomp;
	struct zsram_codec_config recomp[ZSRAM_MAX_RECOMP];
	uint64_t mem_limit; /* bytes of mem_used_total; 0: none */
	/*
	 * Backing file for writeback, created or truncated; NULL: none.  When
	 * set, a write that would pass mem_limit first writes cold pages back
	 * to the file (huge pages first, then pages marked idle, then any, each
	 * pass in slot order from a rotating clock hand), compacts, and retries:
	 * a full store degrades instead of failing.
	 */
	const char *backing_file;
	uint64_t backing_pages; /* file capacity in pages; 0: nr_pages */
	/* Pages that may be written back in all (zram's writeback_limit, with
	 * writeback_limit_enable); 0: no limit.  Needs backing_file.  See
	 * zsram_set_writeback_limit. */
	uint64_t writeback_limit;
	/*
	 * Automatic compaction: after pages are freed, when
	 * (mem_used_total - compr_data_size) / mem_used_total exceeds this
	 * fraction (and the pool holds at least 64 pages), the store compacts.
	 * 0: the default, 0.25; negative: never automatically.
	 */
	double compact_threshold;
	/* Allocator: NULL or "zsmalloc"; "zbud" or "z3fold" when the library
	 * was built with zpool (zsram_allocators lists them). */
	const char *allocator;
	const char *name; /* pool name; NULL: "zsram" */
	/*
	 * Automatic dictionary (see "Automatic dictionary" below).  0: the
	 * default, on when the primary algorithm is zstd and no dictionary is
	 * given; 1: on (-EINVAL unless zstd without a dictionary); -1: off.
	 */
	int auto_dict;
	size_t auto_dict_size; /* bytes of dictionary; 0: 64 KiB; 256..1 MiB */
	/* With the automatic dictionary: the zstd level of the dense pass at
	 * rest (see below); 0: 6, negative: no dense pass; at most 22. */
	int auto_dict_rest_level;
	/* 1: keep each page's last access time (4 bytes a page), for
	 * zsram_mark_idle_age; 0: not. */
	int track_access_time;
};

/*
 * zram's algorithm_params: "priority=N" (0 the primary algorithm, 1..3 a
 * secondary one) or "algo=NAME" (the first configured with that algorithm;
 * neither: priority 0), with "level=N" and/or "dict=PATH" (a zstd
 * dictionary file), separated by spaces or commas.
 * zsram_parse_algorithm_params parses text into *params: 0, -EINVAL (an
 * unknown key, a bad number or name, no level or dict), -ENAMETOOLONG.
 * zsram_config_set_algorithm_params sets the level and, if dict is not
 * NULL (the file's bytes, read by the caller, kept until the store is
 * made), the dictionary on the codec of config it names: 0, -ENOENT (no
 * such algorithm or priority configured), -EINVAL (a dictionary for an
 * algorithm other than zstd).
 */
struct zsram_algorithm_params {
	int priority; /* 0..ZSRAM_MAX_RECOMP, unless by_algorithm */
	int by_algorithm;
	enum zsram_algorithm algorithm;
	int has_level;
	int level;
	char dict[4096]; /* path; "" none */
};
int zsram_parse_algorithm_params(const char *text, struct zsram_algorithm_params *params);
int zsram_config_set_algorithm_params(struct zsram_config *config,
				      const struct zsram_algorithm_params *params, const void *dict,
				      size_t dict_size);

/* Fills *config with defaults: lz4, 4096-byte pages, no limit, no
 * recompression, no backing file, an automatic dictionary if the algorithm
 * is then set to zstd.  nr_pages must still be set. */
void zsram_config_init(struct zsram_config *config);

/* Names of the allocators this build supports; returns how many. */
size_t zsram_allocators(const char **names, size_t max);

/* NULL on failure with errno: EINVAL (bad config, unknown allocator, bad
 * level or dictionary), ENOENT/EACCES/... (backing file), ENOMEM. */
struct zsram *zsram_create(const struct zsram_config *config);
void zsram_destroy(struct zsram *store); /* frees everything; no I/O may be
						 * in flight */

size_t zsram_page_size(const struct zsram *store);
uint64_t zsram_nr_pages(const struct zsram *store);

/* ---- Page interface ---- */

/* Stores one page (page_size bytes) at index, replacing what was there. */
int zsram_write_page(struct zsram *store, uint64_t index, const void *page);
/* Reads one page into page (page_size bytes); empty pages read as zeros. */
int zsram_read_page(struct zsram *store, uint64_t index, void *page);
/* Frees pages index .. index+count-1 (they then read as zeros). */
int zsram_discard(struct zsram *store, uint64_t index, uint64_t count);

/*
 * ---- Block-device view: any byte range [offset, offset+len) inside the disk
 * size (zsram_bdev_size); any alignment, any length (0 does nothing).  A
 * range outside the disk, or a NULL buffer with len > 0, is refused with
 * -EINVAL before anything changes (counted in io_stat's invalid_io).  A page
 * the range covers partly is read, patched and written back under the
 * page's lock, so concurrent requests on different bytes of one page never
 * lose each other's data.  Errors of the page interface stop the request
 * there: the pages before are done, the rest untouched.
 *   zsram_bdev_zero     writes zeros: a whole page becomes a same-filled
 *                       zero page (no allocation), a partial page is patched.
 *   zsram_bdev_discard  frees the whole pages of the range (they become
 *                       empty) and zeroes the partial pages at either end;
 *                       the whole range then reads as zeros. ----
 */
int zsram_bdev_read(struct zsram *store, uint64_t offset, void *buf, size_t len);
int zsram_bdev_write(struct zsram *store, uint64_t offset, const void *buf, size_t len);
int zsram_bdev_zero(struct zsram *store, uint64_t offset, uint64_t len);
int zsram_bdev_discard(struct zsram *store, uint64_t offset, uint64_t len);
uint64_t zsram_bdev_size(const struct zsram *store); /* bytes */

/* ---- Maintenance ---- */

/* Marks every stored page idle (as writing "all" to zram's idle file); a
 * read or write of a page clears its mark.  Returns pages marked. */
uint64_t zsram_mark_idle(struct zsram *store);
/* Marks idle the stored pages not read or written for at least seconds (as
 * writing a number to zram's idle file, CONFIG_ZRAM_TRACK_ENTRY_ACTIME).
 * Needs track_access_time; returns pages marked, or -EINVAL without it. */
long zsram_mark_idle_age(struct zsram *store, uint64_t seconds);

/* Which pages zsram_recompress and zsram_writeback consider; or'ed. */
#define ZSRAM_SEL_HUGE 0x1u /* huge (raw) pages */
#define ZSRAM_SEL_IDLE 0x2u /* pages marked idle */
#define ZSRAM_SEL_ALL 0x4u  /* every stored page */

/*
 * Recompresses the selected pages whose stored size is at least threshold
 * bytes (0: any size) with the secondary algorithms, as zram's recompress:
 * each page is tried with them in priority order, starting after the one
 * it is already in (a page in priority 1 is tried with 2 and 3), and kept
 * in the first form that comes out smaller.  Pages that none of them made
 * smaller are marked and not tried again until rewritten.
 * zsram_recompress_prio tries only the algorithm of that priority (1..3;
 * 0: all, as zsram_recompress), on pages not yet in it or a later one,
 * and marks none.  Returns how many pages were recompressed, or -EINVAL if
 * the store has no secondary algorithm (of that priority); it stops at the
 * first page whose new form cannot be stored: -ENOSPC when the memory limit
 * refuses it (as writes do), -ENOMEM when memory cannot be had.  Pages
 * already recompressed stay so, and no page is lost.
 */
long zsram_recompress(struct zsram *store, unsigned int select, size_t threshold);
long zsram_recompress_prio(struct zsram *store, unsigned int select, size_t threshold,
			   unsigned int priority);

/*
 * Writes up to max_pages selected pages (same-filled pages never: they take
 * no memory) to the backing file and frees their memory.  Returns how many
 * were written back, -EINVAL if the store has no backing file, -ENOSPC if the
 * file is full before any page could go, -EDQUOT if the writeback limit is
 * used up before any page could go, -EIO on a write error (the pages of
 * the failed write stay in memory as they were).  Pages go in batches of
 * 32, written with one write per run of consecutive blocks of the file.
 */
long zsram_writeback(struct zsram *store, unsigned int select, uint64_t max_pages);
/*
 * The writeback limit, as zram's writeback_limit: a budget of pages that may
 * still be written back, by zsram_writeback and by writes at mem_limit
 * alike.  Each page written back takes one; at 0, zsram_writeback returns
 * -EDQUOT and writes at the limit fail with -ENOSPC as without a backing
 * file (nothing stored changes).  zsram_set_writeback_limit sets the budget
 * (negative: no limit); 0 or -EINVAL without a backing file.
 * zsram_writeback_limit returns what is left, or -1 for no limit.
 */
int zsram_set_writeback_limit(struct zsram *store, int64_t pages);
int64_t zsram_writeback_limit(const struct zsram *store);

/* Compacts the allocator now; returns pages freed. */
unsigned long zsram_compact(struct zsram *store);

/* ---- Statistics, in zram's formats ---- */

struct zsram_mm_stat {
	uint64_t orig_data_size;   /* bytes of pages held in memory, incl.
					 * same-filled (not written back) */
	uint64_t compr_data_size;  /* bytes of compressed data (huge pages
					 * count page_size) */
	uint64_t mem_used_total;   /* zs_get_total_pages() * page_size (+ raw
					 * huge pages with zbud/z3fold) */
	uint64_t mem_limit;	   /* bytes; 0: none */
	uint64_t mem_used_max;	   /* highest mem_used_total seen */
	uint64_t same_pages;	   /* same-filled pages now */
	uint64_t pages_compacted;  /* pages freed by compaction, ever */
	uint64_t huge_pages;	   /* huge pages now */
	uint64_t huge_pages_since; /* huge pages written, ever */
};

struct zsram_io_stat {
	uint64_t failed_reads;	/* reads that returned an error */
	uint64_t failed_writes; /* writes that returned an error */
	uint64_t invalid_io;	/* requests out of range or unaligned */
	uint64_t notify_free;	/* stored pages freed by discard */
};

struct zsram_bd_stat {
	uint64_t bd_count;  /* pages in the backing file now */
	uint64_t bd_reads;  /* pages read back from it, ever */
	uint64_t bd_writes; /* pages written to it, ever */
};

struct zsram_recomp_stat {
	uint64_t recompressed; /* pages now in the secondary algorithm */
	uint64_t attempts;     /* pages tried, ever */
	uint64_t saved_bytes;  /* bytes saved by recompression, ever */
};

void zsram_get_mm_stat(struct zsram *store, struct zsram_mm_stat *st);
void zsram_get_io_stat(struct zsram *store, struct zsram_io_stat *st);
void zsram_get_bd_stat(struct zsram *store, struct zsram_bd_stat *st);
void zsram_get_recomp_stat(struct zsram *store, struct zsram_recomp_stat *st);

/* One line each, in the layout of zram's sysfs files (mm_stat, io_stat,
 * bd_stat).  Return 0, or -1 with errno set by a failed write. */
int zsram_print_mm_stat(struct zsram *store, FILE *out);
int zsram_print_io_stat(struct zsram *store, FILE *out);
int zsram_print_bd_stat(struct zsram *store, FILE *out);
/* The allocator's class table (zsmalloc: zs_print_class_stats). */
int zsram_print_class_stats(struct zsram *store, FILE *out);

/* ---- Inspection ---- */

enum zsram_slot_kind {
	ZSRAM_SLOT_EMPTY,
	ZSRAM_SLOT_SAME,
	ZSRAM_SLOT_COMPRESSED,
	ZSRAM_SLOT_HUGE,
	ZSRAM_SLOT_WRITTEN_BACK,
};

struct zsram_slot_info {
	enum zsram_slot_kind kind;
	unsigned int size;	/* stored bytes (0 for empty and same-filled) */
	unsigned int algorithm; /* 0: primary, 1..3: the secondary algorithm
				 * of that priority (recompressed),
				 * 4 or 5: primary with an automatic
				 * dictionary of that generation */
	int idle;		/* marked idle */
};

/* 0, or -EINVAL for an index outside the store. */
int zsram_slot_info(struct zsram *store, uint64_t index, struct zsram_slot_info *info);

/* Checks that the slot table and the statistics agree (counts of each kind,
 * compressed bytes) and runs the allocator's consistency checker.  Returns
 * 0, or -1 with a description in why.  Takes each slot lock in turn; call it
 * with no I/O in flight for exact counters. */
int zsram_check(struct zsram *store, char *why, size_t why_len);

/* ---- Dictionary ---- */

/*
 * Trains a zstd dictionary (libzstd's ZDICT_trainFromBuffer) on samples:
 * nr_samples pages of page_size bytes laid out back to back.  Writes at most
 * dict_capacity bytes into dict and returns the dictionary's size, or -EINVAL
 * (too few or too uniform samples: the builder's error) / -ENOMEM.
 */
long zsram_train_dictionary(const void *samples, size_t nr_samples, size_t page_size, void *dict,
			    size_t dict_capacity);
/*
 * The same on up to max_samples evenly spaced pages of pages[0..nr_pages)
 * that are not same-filled (what the zsram tool and zsram-train-dict
 * sample).  *used (if not NULL) is set to the number of sample pages.
 */
long zsram_train_dictionary_sampled(const void *pages, uint64_t nr_pages, size_t page_size,
				    size_t max_samples, void *dict, size_t dict_capacity,
				    size_t *used);

/*
 * ---- Automatic dictionary ----
 *
 * With zstd and no dictionary of the caller's, the store trains one from
 * the pages it receives, without a training step of the caller's:
 *   sampling   1 page in 16 of those written that are neither same-filled
 *              nor huge, copied aside until 2 MiB of samples are held
 *              (the first 32 MiB or so of compressible writes: spread that
 *              far, the samples stand for a heap far better than its
 *              first 8 MiB, measured on real heaps in zsram's README);
 *   training   then, on a thread of the store's own (started then, not at
 *              creation, so a process may fork after zsram_create and
 *              use the store in the child), libzstd's
 *              ZDICT_trainFromBuffer makes a dictionary of auto_dict_size
 *              bytes (64 KiB: the size that compressed real heaps best
 *              here; see zsram's README);
 *   switching  new writes compress with it from then on (the slot records
 *              the generation, so every page reads back with the dictionary
 *              it was written with);
 *   re-encoding when the store is at rest (no compression or
 *              decompression for 0.2 s; not during a load, whose writers
 *              need the processors), the thread re-encodes the pages stored
 *              before, one slot lock at a time (a page's I/O waits for one
 *              page's work at most), keeping the new form only where it is
 *              smaller; pages of an older generation are always moved, and
 *              a generation no slot records is freed;
 *   retraining when the pages written with the current dictionary compress
 *              12% worse than the first 4096 did (the data changed), it
 *              samples again and trains the next generation.  At most two
 *              generations are alive: before a retrain switches, the pages
 *              of the older one are moved (then, not at rest).
 *   testing    one sample in 4 is held out of the training; the new
 *              dictionary is used only if it compresses those at least 2%
 *              smaller than zstd does without one, and than the current
 *              dictionary if there is one (some data compresses better
 *              page by page: a Node.js heap in 16 KiB pages here).
 *   dense pass  then, at rest, the thread compresses each page written
 *              since the last pass
 *              again at zstd level auto_dict_rest_level (6), with its
 *              dictionary, and keeps it if smaller: writes go at the fast
 *              level, the store at rest is 4-12% smaller.  Pages read
 *              back as before (a zstd level is not part of the format).
 *              Then the compression contexts are freed, to be made again
 *              at the next operation.
 * A training that fails (too few or too uniform samples, out of memory) or
 * whose dictionary does not help leaves the store on the dictionary it had
 * (or none); it tries again on new samples, up to 4 times in a row.  The
 * dictionaries, their zstd tables and the sample buffer are counted in
 * zsram_dict_stat.mem_bytes, on top of mem_used_total.
 */
struct zsram_dict_stat {
	int enabled;	      /* the store trains dictionaries */
	unsigned int current; /* generation codec of new writes (4, 5), 0: none */
	uint64_t generations; /* dictionaries trained and switched to, ever */
	uint64_t failures;    /* trainings that failed, ever */
	uint64_t retired;     /* generations freed, ever */
	uint64_t retrains;    /* retrains started because the ratio fell */
	uint64_t reencoded;   /* pages re-encoded into a newer generation */
	uint64_t pages[2];    /* slots recording generation 4 and 5 now */
	uint64_t dict_bytes;  /* bytes of the current dictionary */
	uint64_t mem_bytes;   /* dictionaries, zstd tables, samples now */
	int last_error;	      /* negative errno of the last failure, or 0 */
	uint64_t rejected;    /* dictionaries trained but not used: no gain */
	uint64_t eval_plain;  /* the last test: held-out samples' bytes without */
	uint64_t eval_dict;   /*   and with the dictionary it tested */
	uint64_t densified;   /* pages the dense pass made smaller */
	uint64_t dense_saved; /*   and the bytes it saved */
};

void zsram_get_dict_stat(struct zsram *store, struct zsram_dict_stat *st);
/* One line: enabled current generations failures retired retrains
 * reencoded pages4 pages5 dict_bytes mem_bytes rejected eval_plain
 * eval_dict densified dense_saved. */
int zsram_print_dict_stat(struct zsram *store, FILE *out);
/*
 * Trains now on the samples gathered so far, if there are not yet enough to
 * start by themselves (a store that received less than 32 MiB, or the end of a load).
 * Returns 0 when a training was started or is under way, -EINVAL without an
 * automatic dictionary, -EAGAIN with fewer than 8 sample pages.
 */
int zsram_dict_train(struct zsram *store);
/* Waits until the dictionary thread has nothing to do: a training under
 * way or due, and what it does at rest (re-encoding, the dense pass), done
 * now rather than after 0.2 s at rest.  0, or -EINVAL without one. */
int zsram_dict_wait(struct zsram *store);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* ZSRAM_H */
