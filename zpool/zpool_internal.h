/*
 * zpool_internal.h - what the zpool backends share inside libzpool: the page
 * source wrapper (built-in source or the caller's struct zs_page_ops), the
 * misuse abort, the backend operations table that zpool.c dispatches to, and
 * the intrusive page lists (with a bitmap for first fit) that zbud and z3fold
 * keep their pages on.  Never installed.
 */
#ifndef ZPOOL_INTERNAL_H
#define ZPOOL_INTERNAL_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <zsmalloc.h>
#include <zpool.h>

/*
 * Where a backend's pages come from: the caller's struct zs_page_ops, or
 * (ops NULL) the built-in arena: large reservations of address space (mmap
 * MAP_NORESERVE, nothing resident until touched) handed out page by page;
 * a page given back is dropped with MADV_DONTNEED (so resident memory falls
 * at once) and kept on a stack of free pages for reuse.  Not thread-safe on
 * its own: each backend calls it under its pool lock.
 */
struct zpool_arena_chunk {
	struct zpool_arena_chunk *next;
	char *mem;			/* page_size-aligned reservation */
	size_t bytes;
	size_t used;			/* bytes handed out from the front */
};

#define ZPOOL_WARM_PAGES 32

struct zpool_page_source {
	size_t page_size;		/* power of two, 4096..65536 */
	const struct zs_page_ops *ops;	/* caller's source, or NULL: built-in */
	void *ctx;			/* passed to ops */
	/* built-in arena */
	struct zpool_arena_chunk *chunks;	/* newest first */
	size_t next_chunk_bytes;	/* size of the next reservation */
	void **free_pages;		/* pages given back, dropped, reusable */
	size_t nr_free, free_capacity;
	/* The last pages given back, kept resident and reused first: churn
	 * would otherwise drop and fault in a page at nearly every free and
	 * allocation (a TLB flush and a fault, tens of microseconds each on a
	 * virtual machine).  At most ZPOOL_WARM_PAGES pages. */
	void *warm[ZPOOL_WARM_PAGES];
	size_t nr_warm;
};

void zpool_page_source_init(struct zpool_page_source *src,
			    const struct zpool_config *config);
/* Unmaps the arena; every page must have been given back (or be forgotten). */
void zpool_page_source_destroy(struct zpool_page_source *src);
/* One page_size-aligned page, or NULL (errno ENOMEM). */
void *zpool_page_alloc(struct zpool_page_source *src);
void zpool_page_free(struct zpool_page_source *src, void *page);

/* 0 for a valid page size (after defaulting 0 to 4096), -1 otherwise. */
int zpool_check_page_size(size_t page_size);

/* Prints "zpool: <message>" to stderr and aborts; for misuse the backend can
 * see cheaply (double free, forged handle, write past an object). */
void zpool_misuse(const char *fmt, ...)
	__attribute__((noreturn, format(printf, 1, 2)));

/*
 * One backend: zpool.c holds a table of these and dispatches every public
 * call through it.  Size checks (0, above max_size) and handle 0 are dealt
 * with in zpool.c before a backend is called.
 */
struct zpool_backend {
	const char *name;
	void *(*create)(const char *name, const struct zpool_config *config);
	void (*destroy)(void *impl);
	unsigned long (*malloc)(void *impl, size_t size);
	void (*free)(void *impl, unsigned long handle);
	size_t (*max_size)(void *impl);
	size_t (*huge_size)(void *impl);
	void *(*map)(void *impl, unsigned long handle, enum zs_mapmode mm);
	void (*unmap)(void *impl, unsigned long handle);
	void *(*read_begin)(void *impl, unsigned long handle, void *local_copy);
	void (*read_end)(void *impl, unsigned long handle, void *handle_mem);
	void (*write)(void *impl, unsigned long handle, const void *mem, size_t len);
	unsigned long (*total_pages)(void *impl);
	unsigned long (*compact)(void *impl);	/* NULL: cannot compact */
	int (*print_stats)(void *impl, FILE *out);
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
#define ZPOOL_NOT_LISTED 0xffffu	/* a page's list index when on no array list */

struct zpool_lists {
	struct zpool_list *heads;	/* [count] */
	uint64_t *nonempty;		/* bit i set: heads[i] is not empty */
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
static inline int zpool_lists_check(const struct zpool_lists *lists, const char *backend,
				    char *why, size_t why_len)
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

#endif /* ZPOOL_INTERNAL_H */
