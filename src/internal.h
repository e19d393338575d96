/*
 * internal.h - every core type of libzsmalloc, with the rules that guard it.
 *
 * Layers, one source file each:
 *   page_source.c  built-in arena of virtually contiguous pages, or the
 *                  caller's zs_page_ops; the only place pages come from
 *   size_class.c   class geometry (size, pages per zspage, objects) and merging
 *   handle.c       the handle table: handle -> (zspage number, slot) entries
 *   zspage_dir.c   each class's zspage numbers -> zspage headers
 *   pagemap.c      page address -> zspage, for migration and checks
 *   zspage.c       zspage create/destroy, slot alloc/free, lazy page backing,
 *                  fullness groups
 *   pool.c         pool create/destroy, zs_malloc, zs_free
 *   access.c       map/unmap, read/write, per-thread mapping records
 *   compact.c      compaction and page migration
 *   stats.c        statistics and the class table
 *   check.c        the pool consistency checker
 *
 * Locks (struct zs_mutex, lock.h), in the order they nest: a thread that
 * holds one takes only locks below it.  Every function whose rule is
 * "caller holds L" starts with ZS_ASSERT_HELD(&L), checked in debug and
 * sanitizer builds.
 *   size_class.lock      a class's zspages, slots, handle entries and
 *                        counters.  One class lock at a time: borrowing and
 *                        compaction drop one before they take the next.
 *   pool->pagemap.lock   the pagemap; alone, or under a class lock.
 *                        Migration holds it (with the class lock) while
 *                        zs_zspage_make_chained allocates metadata, grows
 *                        the pagemap and gives the zspage's unbacked pages
 *                        back (madvise, then source.lock).
 *   pool->source.lock    the arena's chunks, bitmaps and warm pages; under
 *                        a class lock, under the pagemap lock (above), or
 *                        alone.
 *   pool->header_lock,   leaves: nothing is taken while one is held.
 *   pool->handles.lock
 * The caller's page ops (zs_page_ops) are called with a class lock held and
 * never with the pagemap lock.  Map/read/write take no lock: they guard the
 * zspage with a hazard slot or a pin (see struct zspage, hazard.c).
 *
 * Metadata per object: 5 bytes of handle entry (a 4-byte location and a
 * 1-byte generation), for the most objects the pool held at once (entries
 * are never given back).  No slot -> handle map is kept: compaction and the
 * checker find a class's objects by scanning the class's handle entries
 * (handle.c), and the free slots of a zspage are linked through the free
 * slots' own first bytes.  Metadata per zspage: a 64-byte header, 8 bytes
 * of number -> header in its class's directory (at most twice that while it
 * grows), and one pagemap entry (16 bytes at <= 75% load, so ~21) for a
 * contiguous zspage of the built-in arena; a zspage that is not contiguous
 * (caller's page source, or after migration) adds 8 bytes of page pointer
 * and one pagemap entry per page.  Built-in zspages are up to 64 pages long,
 * so that is about 1.5 bytes per 4 KiB page.  The data pages hold object
 * bytes only.
 */
#ifndef ZS_INTERNAL_H
#define ZS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lock.h"
#include "zsmalloc.h"
#include "pages.h" /* common/: reservation, populate, page-size limits */

#define ZS_API __attribute__((visibility("default")))

#if defined(__GNUC__)
#define zs_likely(x) __builtin_expect(!!(x), 1)
#define zs_unlikely(x) __builtin_expect(!!(x), 0)
#else
#define zs_likely(x) (x)
#define zs_unlikely(x) (x)
#endif

/* Internal invariants: checked in debug and sanitizer builds (ZS_DEBUG),
 * where a failure aborts with the condition and its place. */
#ifdef ZS_DEBUG
#define ZS_ASSERT(cond)                                                                           \
	do {                                                                                      \
		if (zs_unlikely(!(cond)))                                                         \
			zs_fatal(NULL, "internal error: %s at %s:%d", #cond, __FILE__, __LINE__); \
	} while (0)
#else
#define ZS_ASSERT(cond) ((void)0)
#endif

/* ---- Geometry ---- */

/* ZS_MIN_PAGE_SIZE, ZS_MAX_PAGE_SIZE: common/pages.h. */
/* Chain sizes a caller may ask for (zs_pool_config.max_pages_per_zspage). */
#define ZS_MAX_CHAIN_CONFIG 16u
/* The default: the kernel's limit for a caller's page source, whose zspages
 * are chained page by page; longer for the built-in arena, whose zspages are
 * one virtual run backed page by page, so a long one costs nothing up front
 * and wastes less at its tail (a 2,120-byte class: 3% in 16 pages, 0.5% in
 * 64). */
#define ZS_DEFAULT_CHAIN 16u
#define ZS_ARENA_DEFAULT_CHAIN 64u
#define ZS_MAX_CHAIN ZS_ARENA_DEFAULT_CHAIN
/* Class spacing is page_size >> ZS_CLASS_SHIFT: 8 bytes for 4 KiB pages,
 * 32 for 16 KiB, 128 for 64 KiB. */
#define ZS_CLASS_SHIFT 9u
#define ZS_MAX_CLASSES (1u << ZS_CLASS_SHIFT)
/* Objects a zspage may hold: chains are cut short for the smallest classes
 * so that slots fit 13 bits (free_head and fresh are 16-bit). */
#define ZS_MAX_OBJS 8192u
/* How many class steps up an allocation may borrow a slot (pool.c). */
#define ZS_BORROW_STEPS 4u

/* Fullness groups: 0 = 1-9% used, ..., 9 = 90-99%, 10 = full.  An empty
 * zspage is freed at once and belongs to no group. */
#define ZS_NR_GROUPS ZS_NR_FULLNESS_GROUPS /* zsmalloc.h: the stats' columns */
#define ZS_GROUP_FULL (ZS_NR_GROUPS - 1)
_Static_assert(ZS_GROUP_FULL == 10, "fullness groups are tenths, then full");

/* ---- Handles and handle entries ----
 *
 * A handle (unsigned long, 64 bits):
 *   bits  0..31  entry index (>= 1; index 0 is never used, so no handle is 0)
 *   bits 32..39  generation of the entry when the object was allocated
 *   bits 40..49  class index
 *   bits 50..63  the pool's tag, so a handle of another pool is caught
 *
 * An entry is 4 bytes of location and 1 byte of generation, in two arrays of
 * the same block (read without locks, written under the class lock):
 *   location, allocated: bit 31 = 1, bits 0..30 = zspage number << the
 *             class's slot_bits | slot (so a class holds at most 2^31
 *             objects, in at most 2^(31 - slot_bits) zspages);
 *   location, free:      bit 31 = 0, bits 0..30 = next free entry index of
 *             the class (0: none);
 *   generation: advances at every free, so a stale handle is caught unless
 *             its entry has been reused 256 times since.
 * A zspage number names the zspage within its class (zspage_dir.c), so an
 * entry survives the zspage's header being recycled: readers check the
 * number still names the header they pinned.
 */
#define ZS_HANDLE_INDEX_BITS 32
#define ZS_HANDLE_GEN_SHIFT 32
#define ZS_HANDLE_GEN_MASK 0xffu
#define ZS_HANDLE_CLASS_SHIFT 40
#define ZS_HANDLE_CLASS_MASK 0x3ffu
#define ZS_HANDLE_TAG_SHIFT 50
#define ZS_TAG_MASK 0x3fffu

#define ZS_ENTRY_USED 0x80000000u
#define ZS_ENTRY_VALUE_MASK 0x7fffffffu
#define ZS_ENTRY_MAX_INDEX ZS_ENTRY_VALUE_MASK /* free links are 31 bits */

/* The table: a directory of blocks of entries, blocks mmap'ed lazily.  A
 * block holds ZS_ENTRY_BLOCK locations, then as many generations. */
#define ZS_ENTRY_BLOCK_SHIFT 16
#define ZS_ENTRY_BLOCK (1u << ZS_ENTRY_BLOCK_SHIFT)
#define ZS_ENTRY_DIR_SIZE (1u << (31 - ZS_ENTRY_BLOCK_SHIFT))
#define ZS_ENTRY_BLOCK_BYTES ((size_t)ZS_ENTRY_BLOCK * (sizeof(uint32_t) + 1))
/* Entries a class takes from the table at once: few, because each class
 * holding objects keeps a partly used batch (500 classes x 64 entries were
 * 160 KB of table for nothing). */
#define ZS_ENTRY_BATCH 16u

struct zs_handle_table {
	struct zs_mutex lock;	     /* next_index and directory growth */
	_Atomic(uint32_t *) *dir;    /* ZS_ENTRY_DIR_SIZE block pointers */
	_Atomic uint32_t next_index; /* entries [1, next_index) were handed out */
};

/* ---- zspages ----
 *
 * A zspage is the unit a class allocates: pages_per_zspage pages whose bytes
 * are laid out as one run of objects, slot s at byte s * size, objects
 * crossing page boundaries freely.
 *
 * Headers are type-stable: they come from a per-pool slab and are recycled,
 * never returned to malloc until the pool is destroyed.  That lets map/read
 * guard a zspage without a lock: a reader loads the handle entry, stores the
 * header it names in a hazard slot of its thread (read, write; hazard.c) or
 * increments its pins (map, or no slot free), then checks that moving is 0
 * and the entry has not changed; compaction and migration set moving, then
 * look for readers (zs_hazard_claim), and back off if there are any.  (The
 * two sides' store-then-load are ordered, by sequentially consistent atomics
 * or by membarrier, so at least one of them sees the other.)  A reader that
 * guarded a header that was recycled meanwhile sees the entry changed, or
 * its class's directory naming another header for the number, lets go and
 * retries.
 *
 * Free slots below fresh form a LIFO list linked through their own first
 * two bytes (a slot number, or ZS_SLOT_NONE): no byte outside the data
 * pages says which slot is free.
 */
#define ZS_SLOT_NONE 0xffffu /* end of a zspage's free slot list */

struct zspage {
	struct zspage *next, *prev; /* fullness group list (class lock) */
	/* Contiguous zspage (pages == NULL): the built-in arena's run of
	 * pages_per_zspage pages reserved for it; pages [0, backed) may be
	 * resident, the rest are not. */
	char *base;
	/* Chained zspage: one pointer per page, each page owned singly from the
	 * pool's page source; NULL where not backed.  Caller's page sources
	 * always give chained zspages; a contiguous one becomes chained when a
	 * page of it is migrated. */
	void **pages;
	uint32_t number;	 /* in its class's directory (class lock) */
	_Atomic uint32_t pins;	 /* maps (and reads with no hazard slot) */
	_Atomic uint32_t moving; /* compaction or migration in progress */
	uint16_t class_index;	 /* owning class (class lock) */
	uint16_t inuse;		 /* live objects */
	uint16_t free_head;	 /* first freed slot or ZS_SLOT_NONE */
	uint16_t fresh;		 /* slots [fresh, objs) never used */
	uint8_t backed;		 /* pages [0, backed) are backed */
	uint8_t group;		 /* fullness group, ZS_NR_GROUPS if none */
	/* Contiguous: the system's pages [0, populated) of the run were made
	 * resident (the system's pages may be smaller than the pool's). */
	uint16_t populated;
} __attribute__((aligned(64)));

/* ---- Zspage directory: a class's zspage numbers -> headers ----
 *
 * An array of header pointers, read without locks by map/read/write;
 * numbers not in use are linked through their cells as (next << 1) | 1, so
 * a cell that is NULL or odd names no zspage.  It grows by copying into one
 * twice the size; the old array stays until the pool is destroyed (a reader
 * may still be looking at it), so all the arrays of a class add up to less
 * than twice the last one.
 */
struct zs_dir_array {
	struct zs_dir_array *older; /* the array it replaced */
	uint32_t cap;
	_Atomic(uintptr_t) cell[];
};

struct zs_zspage_dir {
	_Atomic(struct zs_dir_array *) cur;
	uint32_t next_number; /* numbers [0, next_number) handed out */
	uint32_t free_number; /* first free number + 1; 0: none */
	uint32_t max_numbers; /* 2^(31 - slot_bits) */
};

/* ---- Size classes ---- */

struct size_class {
	struct zs_mutex lock;
	uint32_t size;	/* bytes per object */
	uint16_t index; /* this class's index */
	uint16_t pages_per_zspage;
	uint16_t objs_per_zspage;
	uint16_t group_mask;		     /* bit g set: groups[g] not empty */
	struct zspage *groups[ZS_NR_GROUPS]; /* list heads */
	uint32_t group_count[ZS_NR_GROUPS];
	unsigned long nr_zspages;
	unsigned long obj_used;
	unsigned long pages_used; /* backed pages */
	uint8_t slot_bits;	  /* bits of a slot number in an entry */
	/* Bytes of rounding this class may still spend borrowing slots of
	 * larger classes instead of starting a zspage (pool.c). */
	_Atomic long borrow_budget;
	/* Handle entries of this class not in use: a free list through the
	 * entries, then a run [bump_next, bump_end) taken from the table. */
	uint32_t entry_free_head; /* 0: empty */
	uint32_t bump_next, bump_end;
	/* Every batch of entries the class took (their first indexes), so
	 * that compaction and the checker can find the class's objects. */
	uint32_t *batches;
	uint32_t nr_batches, batches_cap;
	struct zs_zspage_dir dir;
}; /* not cache-line aligned: 500 classes at 64-byte multiples cost 50 KiB more */

/* ---- Page source ---- */

struct zs_arena_chunk {
	struct zs_arena_chunk *next;
	char *mem; /* npages pages, reserved with mmap */
	size_t npages;
	size_t used;	  /* pages handed out */
	size_t hint;	  /* where the next search starts */
	uint64_t *bitmap; /* bit set: page handed out */
};

#define ZS_WARM_PAGES 32

struct zs_page_source {
	const struct zs_page_ops *ops; /* NULL: the built-in arena */
	void *ctx;
	size_t page_size;
	struct zs_mutex lock; /* arena only */
	struct zs_arena_chunk *chunks;
	size_t next_chunk_pages;
	bool unmapping; /* pool destruction: skip madvise */
	/* Single pages of emptied one-page zspages, still held in the arena's
	 * bitmap and still resident, for the next one-page zspage: churn of
	 * objects that take a page each then costs no system call. */
	void *warm[ZS_WARM_PAGES];
	unsigned int nr_warm;
};

/* ---- Pagemap: page address -> zspage (open addressing, linear probing) ---- */

struct zs_pagemap_slot {
	/* The page address (aligned to at least 4 KiB) with, in its low bits,
	 * the zspage's class index (bits 1..10: fixed while it is in the map,
	 * so migration finds the class lock without reading the zspage) and
	 * bit 0 set when the key is a contiguous zspage's first page, which
	 * covers the pages after it.  0: empty. */
	uintptr_t key;
	struct zspage *zspage;
};

#define ZS_PAGEMAP_RUN 1u
#define ZS_PAGEMAP_CLASS_SHIFT 1
#define ZS_PAGEMAP_LOW_MASK ((uintptr_t)ZS_MIN_PAGE_SIZE - 1)

struct zs_pagemap {
	struct zs_mutex lock; /* guards the fields below */
	struct zs_pagemap_slot *slots;
	size_t capacity; /* power of two */
	size_t count;
	unsigned long changes; /* inserts and removes, ever */
};

/* ---- The pool ---- */

struct zs_header_chunk {
	struct zs_header_chunk *next;
};
#define ZS_HEADERS_PER_CHUNK 63 /* a 4 KiB chunk: a link, then 63 headers */

struct zs_pool {
	char *name;
	size_t page_size;
	unsigned int page_shift;
	unsigned int sys_page_shift; /* the system's page size, <= page_shift */
	unsigned int class_shift;    /* log2 of the class spacing */
	unsigned int max_chain;
	unsigned int tag;
	size_t huge_class_size;
	struct size_class *classes; /* ZS_MAX_CLASSES; merged ones unused */
	uint16_t *class_of_index;   /* index -> the class that serves it */

	struct zs_page_source source;
	struct zs_handle_table handles;

	struct zs_pagemap pagemap;

	struct zs_mutex header_lock;
	struct zspage *free_headers;
	struct zs_header_chunk *header_chunks;

	_Atomic unsigned long total_pages;
	_Atomic unsigned long max_pages; /* 0: no limit (zs_set_max_pages) */
	/* Bumped at every change of a page count (under a class lock), so the
	 * checker can tell that nothing changed while it summed the classes. */
	_Atomic unsigned long page_events;
	_Atomic unsigned long pages_compacted;
};

/* ---- page_source.c ---- */
int zs_source_init(struct zs_page_source *src, size_t page_size, const struct zs_page_ops *ops,
		   void *ctx);
void zs_source_destroy(struct zs_page_source *src);
static inline bool zs_source_is_arena(const struct zs_page_source *src)
{
	return src->ops == NULL;
}
/* Arena: reserve n contiguous pages (not touched: no memory used yet). */
void *zs_arena_alloc(struct zs_page_source *src, size_t n);
/* Arena: give n pages from p back to the system. */
void zs_arena_free(struct zs_page_source *src, void *p, size_t n);
/* Arena: a warm page (resident, held), or NULL if none is kept. */
void *zs_arena_take_warm(struct zs_page_source *src);
/* Arena: keeps a held, resident page warm; false if ZS_WARM_PAGES are kept
 * already (the caller frees it). */
bool zs_arena_keep_warm(struct zs_page_source *src, void *page);
/* Arena: gives every warm page back to the system (zs_compact). */
void zs_arena_drop_warm(struct zs_page_source *src);
/* Arena memory is made resident with zs_populate (common/pages.h). */
/* Arena: drop the memory of n pages from p, keeping them reserved. */
void zs_arena_release(struct zs_page_source *src, void *p, size_t n);
/* Arena runs given up but not yet released: compaction collects the runs of
 * the zspages it empties and releases them together at its end, sorted and
 * merged, because each release is a system call and a TLB flush.  The runs
 * stay marked in use until then, so nothing can reuse them early. */
struct zs_release_batch {
	struct zs_release_run {
		char *start;
		size_t npages;
	} * runs;
	size_t count, cap;
};
/* Adds a run to the batch, or frees it at once if the batch cannot grow. */
void zs_arena_free_later(struct zs_page_source *src, struct zs_release_batch *batch, void *p,
			 size_t n);
/* Releases every run of the batch and empties it. */
void zs_arena_flush(struct zs_page_source *src, struct zs_release_batch *batch);
/* Whether p is a page the arena handed out. */
bool zs_arena_owns(struct zs_page_source *src, const void *p);
/* One page from the source (arena or ops), NULL if dry. */
void *zs_source_alloc_page(struct zs_page_source *src);
void zs_source_free_page(struct zs_page_source *src, void *page);

/* ---- size_class.c ---- */
int zs_classes_init(struct zs_pool *pool);
void zs_classes_destroy(struct zs_pool *pool);
/* The class after prev that serves sizes itself (merged ones are skipped),
 * the first one when prev is NULL; NULL after the last. */
static inline struct size_class *zs_next_class(struct zs_pool *pool, struct size_class *prev)
{
	unsigned int i = prev ? prev->index + 1u : 0;
	while (i < ZS_MAX_CLASSES && pool->class_of_index[i] != i)
		i++;
	return i < ZS_MAX_CLASSES ? &pool->classes[i] : NULL;
}
#define zs_for_each_class(pool, c) \
	for (struct size_class *c = zs_next_class(pool, NULL); c; c = zs_next_class(pool, c))
static inline struct size_class *zs_class_for_size(struct zs_pool *pool, size_t size)
{
	unsigned int idx = (unsigned int)((size - 1) >> pool->class_shift);
	return &pool->classes[pool->class_of_index[idx]];
}

/* ---- handle.c ---- */
int zs_handles_init(struct zs_handle_table *t);
void zs_handles_destroy(struct zs_handle_table *t);
/* Under the class lock: an unused entry index of the class, 0 if none can be
 * had (ENOMEM).  *gen gets its generation. */
uint32_t zs_entry_alloc(struct zs_handle_table *t, struct size_class *c, unsigned int *gen);
/* Under the class lock: entry back to the class, generation advanced. */
void zs_entry_free(struct zs_handle_table *t, struct size_class *c, uint32_t index);
/* Under the class lock: calls fn(index, location, arg) for every entry of
 * class c that is in use; stops early and returns what fn returned if that
 * is not 0. */
int zs_class_for_each_entry(struct zs_handle_table *t, const struct size_class *c,
			    int (*fn)(uint32_t index, uint32_t location, void *arg), void *arg);

static inline _Atomic uint32_t *zs_entry_ptr(struct zs_handle_table *t, uint32_t index)
{
	uint32_t *block =
		atomic_load_explicit(&t->dir[index >> ZS_ENTRY_BLOCK_SHIFT], memory_order_acquire);
	return (_Atomic uint32_t *)&block[index & (ZS_ENTRY_BLOCK - 1)];
}
/* The entry's generation: after the block's locations. */
static inline _Atomic uint8_t *zs_entry_gen_ptr(_Atomic uint32_t *entry, uint32_t index)
{
	uint32_t *block = (uint32_t *)entry - (index & (ZS_ENTRY_BLOCK - 1));
	return (_Atomic uint8_t *)((uint8_t *)(block + ZS_ENTRY_BLOCK) +
				   (index & (ZS_ENTRY_BLOCK - 1)));
}

static inline uint32_t zs_entry_make_used(const struct size_class *c, const struct zspage *z,
					  unsigned int slot)
{
	return ZS_ENTRY_USED | z->number << c->slot_bits | slot;
}
static inline uint32_t zs_entry_number(const struct size_class *c, uint32_t e)
{
	return (e & ZS_ENTRY_VALUE_MASK) >> c->slot_bits;
}
static inline unsigned int zs_entry_slot(const struct size_class *c, uint32_t e)
{
	return e & ((1u << c->slot_bits) - 1);
}

static inline unsigned long zs_handle_make(const struct zs_pool *pool, unsigned int class_index,
					   uint32_t index, unsigned int gen)
{
	return (unsigned long)pool->tag << ZS_HANDLE_TAG_SHIFT |
	       (unsigned long)class_index << ZS_HANDLE_CLASS_SHIFT |
	       (unsigned long)(gen & ZS_HANDLE_GEN_MASK) << ZS_HANDLE_GEN_SHIFT | index;
}

/* A handle taken apart and checked against the pool; see handle.c. */
struct zs_handle_parts {
	struct size_class *class;
	uint32_t index;
	unsigned int gen;
	_Atomic uint32_t *entry;
	_Atomic uint8_t *entry_gen;
};
/* Aborts the process with "zsmalloc: <pool>: <message>". */
void zs_fatal(const struct zs_pool *pool, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 2, 3)));
/* Decodes a handle; aborts with a message naming the problem (what is the
 * operation's name) if it is not a live handle of this pool.  The entry is
 * read without a lock: callers that need it stable hold the class lock or a
 * pin.  Inline: every read and write starts here. */
static inline void zs_handle_decode(struct zs_pool *pool, unsigned long handle, const char *what,
				    struct zs_handle_parts *out)
{
	unsigned int tag = (unsigned int)(handle >> ZS_HANDLE_TAG_SHIFT) & ZS_TAG_MASK;
	unsigned int ci = (unsigned int)(handle >> ZS_HANDLE_CLASS_SHIFT) & ZS_HANDLE_CLASS_MASK;
	uint32_t index = (uint32_t)handle;

	if (zs_unlikely(tag != pool->tag))
		zs_fatal(pool, "%s: handle %#lx is not a handle of this pool (foreign or forged)",
			 what, handle);
	if (zs_unlikely(ci >= ZS_MAX_CLASSES || pool->class_of_index[ci] != ci))
		zs_fatal(pool, "%s: handle %#lx names no size class (corrupt handle)", what, handle);
	uint32_t limit = atomic_load_explicit(&pool->handles.next_index, memory_order_acquire);
	if (zs_unlikely(index == 0 || index >= limit))
		zs_fatal(pool, "%s: handle %#lx names no handle entry (corrupt handle)", what,
			 handle);
	out->class = &pool->classes[ci];
	out->index = index;
	out->gen = (unsigned int)(handle >> ZS_HANDLE_GEN_SHIFT) & ZS_HANDLE_GEN_MASK;
	out->entry = zs_entry_ptr(&pool->handles, index);
	out->entry_gen = zs_entry_gen_ptr(out->entry, index);
}
/* Checks a loaded entry against the handle: in use, of the handle's
 * generation, naming a zspage of its class (aborts if not).  Returns the
 * zspage the entry names, which is stable only under the class lock or a
 * pin. */
struct zspage *zs_handle_check_entry(struct zs_pool *pool, unsigned long handle, const char *what,
				     const struct zs_handle_parts *h, uint32_t e);

/* ---- zspage_dir.c ---- */
void zs_dir_destroy(struct zs_zspage_dir *d);
/* Class lock held: a number for z in c's directory, recorded; -1 (ENOMEM)
 * if none can be had. */
int zs_dir_add(struct size_class *c, struct zspage *z);
/* Class lock held: z's number is free again. */
void zs_dir_remove(struct size_class *c, struct zspage *z);
/* The zspage a number names, or NULL if none (no lock needed). */
static inline struct zspage *zs_dir_lookup(const struct zs_zspage_dir *d, uint32_t number)
{
	const struct zs_dir_array *a = atomic_load_explicit(&d->cur, memory_order_acquire);
	if (zs_unlikely(!a || number >= a->cap))
		return NULL;
	uintptr_t v = atomic_load_explicit(&a->cell[number], memory_order_acquire);
	return (v & 1) ? NULL : (struct zspage *)v;
}
/* Bytes the directory's arrays take. */
size_t zs_dir_bytes(const struct zs_zspage_dir *d);

/* ---- hazard.c: read guards (see its header comment) ---- */
#define ZS_HAZARD_SLOTS 4u
struct zs_hazard_record {
	_Atomic(struct zspage *) slot[ZS_HAZARD_SLOTS]; /* written by its thread only */
	unsigned long handle[ZS_HAZARD_SLOTS];		/* what each slot is for (own thread) */
	struct zs_hazard_record *next;			/* set before it is listed */
	atomic_bool taken;				/* a live thread owns it */
} __attribute__((aligned(64)));
extern _Atomic(struct zs_hazard_record *) zs_hazard_records;
extern __thread struct zs_hazard_record *zs_hazard_mine __attribute__((tls_model("initial-exec")));
extern bool zs_hazard_asymmetric; /* membarrier orders the readers' stores */
/* Chooses the mode, once per process; called when a pool is created. */
void zs_hazard_init(void);
/* This thread's record, taken on its first read; NULL if none can be had. */
struct zs_hazard_record *zs_hazard_record_get(void);
/* Mover: z is marked moving; whether no reader holds it (a slot or pins).
 * If one does, the caller clears moving and passes z over. */
bool zs_hazard_claim(struct zspage *z);

/* Reader: guards z in a free slot of this thread's record, ordered before
 * the caller's next load of z->moving.  NULL when no slot is free (the
 * caller pins instead). */
static inline _Atomic(struct zspage *) *zs_hazard_set(struct zspage *z, unsigned long handle)
{
	struct zs_hazard_record *r = zs_hazard_mine;
	if (zs_unlikely(!r) && !(r = zs_hazard_record_get()))
		return NULL;
	for (unsigned int i = 0; i < ZS_HAZARD_SLOTS; i++) {
		if (atomic_load_explicit(&r->slot[i], memory_order_relaxed))
			continue;
		if (zs_likely(zs_hazard_asymmetric)) {
			atomic_store_explicit(&r->slot[i], z, memory_order_relaxed);
			atomic_signal_fence(memory_order_seq_cst); /* membarrier does the rest */
		} else {
			atomic_store(&r->slot[i], z);
		}
		r->handle[i] = handle;
		return &r->slot[i];
	}
	return NULL;
}

/* Reader: drops the guard this thread set for handle; false if it holds
 * none (the read pinned its zspage instead, or never began). */
static inline bool zs_hazard_clear(unsigned long handle)
{
	struct zs_hazard_record *r = zs_hazard_mine;
	if (!r)
		return false;
	for (unsigned int i = 0; i < ZS_HAZARD_SLOTS; i++)
		if (r->handle[i] == handle &&
		    atomic_load_explicit(&r->slot[i], memory_order_relaxed)) {
			atomic_store_explicit(&r->slot[i], NULL, memory_order_release);
			return true;
		}
	return false;
}

/* ---- pagemap.c (caller holds pool->pagemap.lock, but for destroy) ---- */
void zs_pagemap_destroy(struct zs_pagemap *m);
/* Room for n more inserts without failing; -1 on ENOMEM. */
int zs_pagemap_reserve(struct zs_pagemap *m, size_t n);
int zs_pagemap_insert(struct zs_pagemap *m, const void *page, struct zspage *z, bool run);
void zs_pagemap_remove(struct zs_pagemap *m, const void *page);
/* The zspage that may hold page, and its class, from the map alone (a
 * contiguous zspage is keyed by its first page only, so this may name one
 * whose run covers page but has not backed it).  Reads no zspage field, so
 * the class lock is not needed.  NULL if none. */
struct zspage *zs_pagemap_lookup(const struct zs_pool *pool, const void *page,
				 unsigned int *class_index);
/* With the zspage's class lock held too: the zspage holding page as a
 * backed page, and the page's position in it; NULL if none. */
struct zspage *zs_pagemap_find(const struct zs_pool *pool, const void *page,
			       unsigned int *page_index);

/* ---- zspage.c (class lock held, but for zs_headers_destroy) ---- */
void zs_headers_destroy(struct zs_pool *pool);
/* Turns a contiguous zspage into a chained one (for migration): -1 on
 * ENOMEM, nothing changed.  Caller holds the pagemap lock too. */
int zs_zspage_make_chained(struct zs_pool *pool, struct size_class *c, struct zspage *z);
struct zspage *zs_zspage_create(struct zs_pool *pool, struct size_class *c);
void zs_zspage_destroy(struct zs_pool *pool, struct size_class *c, struct zspage *z);
/* The same, but a contiguous zspage's run goes into batch (see above). */
void zs_zspage_destroy_batched(struct zs_pool *pool, struct size_class *c, struct zspage *z,
			       struct zs_release_batch *batch);
/* A free slot of z, backing the pages it reaches into; -1 if none is free
 * or a page cannot be had (errno ENOMEM, or ENOSPC when limited and the
 * pool's max_pages would be passed). */
int zs_zspage_take_slot(struct zs_pool *pool, struct size_class *c, struct zspage *z, bool limited);
void zs_zspage_put_slot(struct zs_pool *pool, const struct size_class *c, struct zspage *z,
			unsigned int slot);
/* The slot after slot on z's free list (ZS_SLOT_NONE at the end). */
unsigned int zs_zspage_next_free(const struct zs_pool *pool, const struct size_class *c,
				 const struct zspage *z, unsigned int slot);
/* After compaction moved objects out: gives back the pages above the
 * highest used slot and rebuilds the free list.  used[s] is the entry index
 * in slot s, 0 if the slot is free.  Returns pages given back. */
unsigned int zs_zspage_trim(struct zs_pool *pool, struct size_class *c, struct zspage *z,
			    const uint32_t *used);
void zs_group_insert(struct size_class *c, struct zspage *z);
void zs_group_remove(struct size_class *c, struct zspage *z);
/* Moves z to the group its inuse count says, if it is not there. */
void zs_group_update(struct size_class *c, struct zspage *z);
unsigned int zs_group_of(const struct size_class *c, unsigned int inuse);
/* The fullest zspage of c that has a free slot, or NULL. */
static inline struct zspage *zs_fullest_nonfull(const struct size_class *c)
{
	unsigned int mask = c->group_mask & ((1u << ZS_GROUP_FULL) - 1);
	if (!mask)
		return NULL;
	return c->groups[31 - __builtin_clz(mask)];
}
/* Address of page i of z, or NULL if not backed. */
static inline char *zs_zspage_page(const struct zs_pool *pool, const struct zspage *z, unsigned int i)
{
	if (z->pages == NULL)
		return z->base + ((size_t)i << pool->page_shift);
	return z->pages[i];
}
static inline bool zs_zspage_contiguous(const struct zspage *z)
{
	return z->pages == NULL;
}

/* ---- access.c ---- */
/* Copies the object at slot of z out to / in from a flat buffer. */
void zs_obj_copy_out(const struct zs_pool *pool, const struct size_class *c, const struct zspage *z,
		     unsigned int slot, void *dst, size_t len);
void zs_obj_copy_in(const struct zs_pool *pool, const struct size_class *c, const struct zspage *z,
		    unsigned int slot, const void *src, size_t len);
/* Pointer to the object's bytes if they are contiguous in memory, else NULL. */
char *zs_obj_in_place(const struct zs_pool *pool, const struct size_class *c,
		      const struct zspage *z, unsigned int slot);

/* ---- Slot maps built on demand (compact.c, check.c) ----
 * For each zspage number of a class, objs_per_zspage cells: the entry index
 * in each slot, 0 where free.  Built by one scan of the class's entries
 * under the class lock. */
struct zs_slot_map {
	uint32_t *cell;
	size_t ncells;
	unsigned int objs;
};
/* 0, or -1 on ENOMEM (counted as metadata when counted is true). */
int zs_slot_map_build(struct zs_pool *pool, const struct size_class *c, struct zs_slot_map *m,
		      bool counted);
void zs_slot_map_free(struct zs_slot_map *m);
static inline uint32_t *zs_slot_map_of(const struct zs_slot_map *m, const struct zspage *z)
{
	return m->cell + (size_t)z->number * m->objs;
}

/* ---- Internal allocations (metadata), counted for fault injection ---- */
void *zs_meta_alloc(size_t size);
void *zs_meta_calloc(size_t n, size_t size);
void zs_meta_free(void *p);
/* Bytes a metadata allocation takes of the heap, its header included (0 for NULL). */
size_t zs_meta_usable_size(void *p);
/* Counts one metadata allocation for fault injection: true if it must fail. */
bool zs_meta_should_fail(void);
/* Tests only: fail the nth metadata allocation from now (1 = the next one),
 * and every one after it if sticky; 0 turns injection off. */
void zs_test_fail_meta_alloc(unsigned long nth, bool sticky);
/* Tests only: the same, counting only the allocations made for pool (by the
 * calls on it that start with zs_meta_serve); NULL: any pool's. */
void zs_test_fail_meta_alloc_pool(const struct zs_pool *pool, unsigned long nth, bool sticky);
/* The pool this thread's current call allocates metadata for.  Thread
 * variables of the libraries are initial-exec: reached without
 * __tls_get_addr, which reads the thread's malloc'ed vector of TLS blocks,
 * memory that zsswap-run may have put in a region whose lock the thread
 * holds at that moment. */
extern _Thread_local const struct zs_pool *zs_meta_pool __attribute__((tls_model("initial-exec")));
static inline void zs_meta_serve(const struct zs_pool *pool)
{
	zs_meta_pool = pool;
}
/* Tests only: metadata allocations still to go before the injected failure;
 * 0 once it has happened (or with injection off). */
unsigned long zs_test_meta_countdown(void);

#endif /* ZS_INTERNAL_H */
