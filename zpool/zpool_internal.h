/*
 * zpool_internal.h - what the zpool backends share inside libzpool: the pool
 * header every backend's pool starts with (struct zpool), the backend table
 * that zpool.c dispatches to, the page source wrapper (the caller's struct
 * zs_page_ops, or common/'s single-page source), the misuse abort, and the
 * intrusive page lists (with a bitmap for first fit) that zbud and z3fold
 * keep their pages on.  Never installed.
 */
#ifndef ZPOOL_INTERNAL_H
#define ZPOOL_INTERNAL_H

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <zsmalloc.h>
#include <zpool.h>

#include "pages.h"

/*
 * Where a zbud or z3fold pool's pages come from: the caller's struct
 * zs_page_ops, or (none given) a single-page source of its own with
 * zpool_page_policy: reservations of 16 MiB doubling to 1 GiB, pages cut one
 * at a time and faulted in on first touch, the last 32 pages given back kept
 * resident, every one past them dropped (MADV_DONTNEED) at once.  It also
 * keeps the page limit.  Its own fields are guarded by the backend's pool
 * lock, which every call holds.
 */
struct zpool_page_source {
	size_t page_size;		 /* power of two, 4096..65536 */
	const struct zs_page_ops *ops;	 /* caller's, or zs_single_page_ops */
	void *ctx;			 /* passed to ops */
	unsigned long pages;		 /* pages held */
	unsigned long max_pages;	 /* limit; 0: none */
	struct zs_single_source builtin; /* when the caller gave no source */
};

/* 0, or -1 with errno ENOMEM. */
int zpool_page_source_init(struct zpool_page_source *src, const struct zpool_config *config);
/* Unmaps the built-in source; every page must have been given back (or be
 * forgotten). */
void zpool_page_source_destroy(struct zpool_page_source *src);
/* One page_size-aligned page, or NULL with errno ENOSPC (page limit) or
 * ENOMEM. */
void *zpool_page_alloc(struct zpool_page_source *src);
void zpool_page_free(struct zpool_page_source *src, void *page);

/* Prints "zpool: <message>" to stderr and aborts; for misuse the backend can
 * see cheaply (double free, forged handle, write past an object). */
void zpool_misuse(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/*
 * Every backend's pool starts with this header: a struct zpool * is the
 * backend's own pool, so the table below takes the backends' functions as
 * they are (zbud.h, z3fold.h), with no layer between.
 */
struct zpool {
	const struct zpool_backend *backend;
	size_t page_size;
};

/*
 * One backend: zpool.c holds a table of these and dispatches every public
 * call through it.  Size checks (0, above max_size) and handle 0 are dealt
 * with in zpool.c before a backend is called.  Optional entries (NULL):
 * unmap and read_end (nothing to do), read_begin (map), compact (cannot
 * compact), pages_compacted (0), pool_memory (ENOTSUP).
 */
struct zpool_backend {
	const char *name;
	/* Fills in the header; NULL with errno. */
	struct zpool *(*create)(const char *name, const struct zpool_config *config);
	void (*destroy)(struct zpool *pool);
	unsigned long (*malloc)(struct zpool *pool, size_t size);
	void (*free)(struct zpool *pool, unsigned long handle);
	size_t (*max_size)(struct zpool *pool);
	size_t (*huge_size)(struct zpool *pool);
	void *(*map)(struct zpool *pool, unsigned long handle, enum zs_mapmode mm);
	void (*unmap)(struct zpool *pool, unsigned long handle);
	void *(*read_begin)(struct zpool *pool, unsigned long handle, void *local_copy);
	void (*read_end)(struct zpool *pool, unsigned long handle, void *handle_mem);
	void (*write)(struct zpool *pool, unsigned long handle, const void *mem, size_t len);
	unsigned long (*total_pages)(struct zpool *pool);
	unsigned long (*compact)(struct zpool *pool);
	unsigned long (*pages_compacted)(struct zpool *pool);
	int (*print_stats)(struct zpool *pool, FILE *out);
	int (*pool_memory)(struct zpool *pool, struct zs_pool_memory *mem);
	int (*check)(struct zpool *pool, char *why, size_t why_len);
};

/*
 * Intrusive circular doubly linked list, for the backends' page lists.  A
 * list head is a node that links to itself when the list is empty.
 */
struct zpool_list {
	struct zpool_list *prev, *next;
};

static inline void zpool_list_init(struct zpool_list *head)
{
	head->prev = head->next = head;
}

static inline int zpool_list_empty(const struct zpool_list *head)
{
	return head->next == head;
}

/* Inserts node right after head (at the front). */
static inline void zpool_list_add(struct zpool_list *head, struct zpool_list *node)
{
	node->next = head->next;
	node->prev = head;
	head->next->prev = node;
	head->next = node;
}

static inline void zpool_list_del(struct zpool_list *node)
{
	node->prev->next = node->next;
	node->next->prev = node->prev;
	node->prev = node->next = node;
}

/*
 * An array of page lists indexed by free room (the backends' "unbuddied"
 * lists) with a bitmap of the non-empty ones, so that first fit finds the
 * lowest non-empty list at or above a size in a few word operations instead
 * of walking every list head (4,092 of them for z3fold with 64 KiB pages).
 * Callers hold their pool lock.
 */
#define ZPOOL_NOT_LISTED 0xffffu /* a page's list index when on no array list */

struct zpool_lists {
	struct zpool_list *heads; /* [count] */
	uint64_t *nonempty;	  /* bit i set: heads[i] is not empty */
	unsigned int count;
};

static inline void zpool_lists_destroy(struct zpool_lists *lists)
{
	free(lists->heads);
	free(lists->nonempty);
	lists->heads = NULL;
	lists->nonempty = NULL;
	lists->count = 0;
}

/* 0, or -1 with errno ENOMEM. */
static inline int zpool_lists_init(struct zpool_lists *lists, unsigned int count)
{
	unsigned int i;

	lists->count = count;
	lists->heads = calloc(count, sizeof(*lists->heads));
	lists->nonempty = calloc((count + 63) / 64, sizeof(*lists->nonempty));
	if (!lists->heads || !lists->nonempty) {
		zpool_lists_destroy(lists);
		errno = ENOMEM;
		return -1;
	}
	for (i = 0; i < count; i++)
		zpool_list_init(&lists->heads[i]);
	return 0;
}

static inline void zpool_lists_add(struct zpool_lists *lists, unsigned int index,
				   struct zpool_list *node)
{
	zpool_list_add(&lists->heads[index], node);
	lists->nonempty[index / 64] |= 1ull << (index % 64);
}

static inline void zpool_lists_del(struct zpool_lists *lists, unsigned int index,
				   struct zpool_list *node)
{
	zpool_list_del(node);
	if (zpool_list_empty(&lists->heads[index]))
		lists->nonempty[index / 64] &= ~(1ull << (index % 64));
}

/* Consistency check for the backends' checkers: list 0 (no free room: such
 * pages belong on no array list) is empty, and the bitmap agrees with every
 * list.  0, or -1 with why filled in, naming the backend. */
static inline int zpool_lists_check(const struct zpool_lists *lists, const char *backend, char *why,
				    size_t why_len)
{
	unsigned int i;

	if (!zpool_list_empty(&lists->heads[0])) {
		snprintf(why, why_len, "%s: unbuddied list 0 is not empty", backend);
		return -1;
	}
	for (i = 0; i < lists->count; i++)
		if (((lists->nonempty[i / 64] >> (i % 64)) & 1) ==
		    (uint64_t)zpool_list_empty(&lists->heads[i])) {
			snprintf(why, why_len, "%s: bitmap wrong for list %u", backend, i);
			return -1;
		}
	return 0;
}

/* Lowest index >= from whose list is not empty, or -1. */
static inline int zpool_lists_first(const struct zpool_lists *lists, unsigned int from)
{
	unsigned int word = from / 64, words = (lists->count + 63) / 64;
	uint64_t bits;

	if (from >= lists->count)
		return -1;
	bits = lists->nonempty[word] & (~0ull << (from % 64));
	for (;;) {
		if (bits)
			return (int)(word * 64 + (unsigned int)__builtin_ctzll(bits));
		if (++word == words)
			return -1;
		bits = lists->nonempty[word];
	}
}

/*
 * What zbud and z3fold share (paged.c): a pool of pages, each starting with
 * a header that begins with struct zpool_page_header, kept on first-fit
 * lists by the room one more object would find there.  The backend says
 * how much room a page has and what else its page header must satisfy
 * (struct zpool_paged_ops); the shared part does the lists, the page
 * source, the counters both keep and the checker's walk.
 */
struct zpool_page_header {
	struct zpool_list list;	  /* on an unbuddied list or the full list */
	struct zpool_paged *pool; /* owner; set once when the page is taken */
	uint32_t magic;		  /* the backend's magic while in use */
	uint16_t list_index;	  /* its unbuddied list, or ZPOOL_NOT_LISTED */
};

struct zpool_paged_ops {
	uint32_t magic;		    /* in every page header in use */
	size_t chunk_size;	    /* allocation granule */
	unsigned int header_chunks; /* chunks the page header takes */
	/* Chunks one more object could take in the page, 0: none (full). */
	unsigned int (*room)(const struct zpool_paged *pool, const struct zpool_page_header *page);
	/* The backend's own checks of a page whose shared header is sound:
	 * NULL when fine; adds the page's objects and bytes. */
	const char *(*page_problem)(const struct zpool_paged *pool,
				    const struct zpool_page_header *page, unsigned long *objects,
				    unsigned long long *bytes);
};

struct zpool_paged {
	struct zpool base; /* backend table, page size; set at creation */
	const struct zpool_paged_ops *ops;
	pthread_mutex_t lock;		 /* protects everything below and headers */
	struct zpool_page_source source; /* pages: source.pages */
	unsigned int nchunks;		 /* chunks per page for objects */
	/* unbuddied list n: pages where one more object of up to n chunks
	 * fits, 1 <= n <= nchunks */
	struct zpool_lists unbuddied;
	struct zpool_list full;		 /* pages with no room for another object */
	unsigned long objects;		 /* live objects */
	unsigned long long stored_bytes; /* sum of their sizes */
	char name[32];
};

/* A zeroed pool of pool_bytes that starts with struct zpool_paged, that
 * part set up; NULL with errno EINVAL (bad page size) or ENOMEM. */
struct zpool *zpool_paged_create(size_t pool_bytes, const struct zpool_backend *backend,
				 const struct zpool_paged_ops *ops, const char *name,
				 const struct zpool_config *config);
/* Starts an allocation of size bytes: checks the size (0: EINVAL, above
 * the maximum: E2BIG), takes the lock and returns a page with room for
 * *chunks (set) chunks: first fit, else a new page (its header's first
 * header_bytes zeroed, the shared header set).  The lock stays held for
 * zpool_paged_alloc_end; on NULL (errno E2BIG, EINVAL, ENOSPC, ENOMEM) it
 * is not held. */
void *zpool_paged_alloc_begin(struct zpool_paged *pool, size_t size, size_t header_bytes,
			      unsigned int *chunks);
/* Ends it once the backend has placed the object: lists the page by its
 * room, counts the object, drops the lock. */
void zpool_paged_alloc_end(struct zpool_paged *pool, struct zpool_page_header *page, size_t size);
/* Gives an empty page back to the source.  Lock held. */
void zpool_paged_release_page(struct zpool_paged *pool, struct zpool_page_header *page);
/* Puts a page that holds an object on the list its room says.  Lock held. */
void zpool_paged_place(struct zpool_paged *pool, struct zpool_page_header *page);
/* The page of handle, whose low bits (below the page size) must all be in
 * low_mask; aborts when that or the header's magic and owner say the
 * handle cannot be an object of this pool. */
struct zpool_page_header *zpool_paged_page_of(struct zpool_paged *pool, unsigned long handle,
					      unsigned long low_mask);

/* Backend table entries both take as they are (pool: a struct zpool_paged);
 * ZPOOL_PAGED_ENTRIES puts them in a table. */
#define ZPOOL_PAGED_ENTRIES                                                         \
	.destroy = zpool_paged_destroy, .max_size = zpool_paged_max_size,           \
	.huge_size = zpool_paged_huge_size, .total_pages = zpool_paged_total_pages, \
	.check = zpool_paged_check
void zpool_paged_destroy(struct zpool *pool); /* frees every page, then the pool */
size_t zpool_paged_max_size(struct zpool *pool);
size_t zpool_paged_huge_size(struct zpool *pool);
unsigned long zpool_paged_total_pages(struct zpool *pool);
/* Walks the full list and every unbuddied list: each page's shared header,
 * the backend's page_problem, its list against its room; then the counters
 * against what the lists hold.  0, or -1 and why (may be NULL). */
int zpool_paged_check(struct zpool *pool, char *why, size_t why_len);

#endif /* ZPOOL_INTERNAL_H */
