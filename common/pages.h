/*
 * pages.h - the internal page layer that libzsmalloc, libzpool and libzsram
 * share: address space reserved aligned to a pool page, made resident
 * (populate) and given back (release); page-size validation; the
 * same-filled page check; and one single-page source with an explicit
 * policy, the built-in source of zbud and z3fold and the page source of
 * zsram.  Compiled into each library with hidden visibility (common/
 * CMakeLists.txt); never installed, no public symbol.
 */
#ifndef ZS_COMMON_PAGES_H
#define ZS_COMMON_PAGES_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zsmalloc.h>

/* Pool page sizes every allocator here takes: powers of two in this range. */
#define ZS_MIN_PAGE_SIZE 4096u
#define ZS_MAX_PAGE_SIZE 65536u

/* True for a power of two in ZS_MIN_PAGE_SIZE..ZS_MAX_PAGE_SIZE. */
bool zs_page_size_valid(size_t page_size);

/* True when the page is one 64-bit word repeated; *word (may be NULL) gets
 * the word.  page_size is a multiple of 8. */
bool zs_page_same_filled(const void *page, size_t page_size, uint64_t *word);

/* bytes of address space aligned to align (a power of two), nothing resident
 * until touched (MAP_NORESERVE); NULL when the system refuses.  Unmap with
 * munmap(p, bytes). */
void *zs_reserve_aligned(size_t bytes, size_t align);
/* Makes bytes at p resident in one system call (MADV_POPULATE_WRITE, Linux
 * 5.14+), which costs several times less than a fault per page on virtual
 * machines.  Where the kernel refuses, the first write faults pages in as
 * usual, so failure is not reported. */
void zs_populate(void *p, size_t bytes);
/* Gives the memory of bytes at p back to the system (MADV_DONTNEED): the
 * range reads as zeros afterwards.  0, or -1 with errno. */
int zs_release(void *p, size_t bytes);

/*
 * The single-page source: pages of one size, one at a time, cut from
 * reservations ("chunks") that are unmapped only when the source is
 * destroyed.
 *
 * Policy (struct zs_single_policy): fresh pages are cut populate_bytes at a
 * time (made resident at once; 0: one page, faulted in on first touch); up
 * to warm_pages free pages are kept resident for reuse; the free that goes
 * past them releases release_batch pages (MADV_DONTNEED), which are reused
 * after the resident ones.  Chunks start at first_chunk_bytes and double up
 * to max_chunk_bytes.
 *
 * Resident free pages are linked through their first word and released ones
 * are marked in their chunk's bitmap, so freeing never allocates or fails.
 * lock guards everything; callers may hold locks of their own, nothing here
 * calls out.
 */
struct zs_single_policy {
	size_t first_chunk_bytes;   /* first reservation, a multiple of the page */
	size_t max_chunk_bytes;	    /* reservations double up to this */
	size_t populate_bytes;	    /* fresh pages made resident at once; 0: none */
	unsigned int warm_pages;    /* free pages kept resident */
	unsigned int release_batch; /* pages released past warm_pages, >= 1 */
};

struct zs_single_chunk {
	struct zs_single_chunk *next; /* older chunk */
	unsigned char *mem;	      /* bytes, page_size-aligned */
	size_t bytes;
	size_t nr_released; /* bits set in released */
	uint64_t *released; /* bit i: page i given back, free */
};

struct zs_single_source {
	pthread_mutex_t lock; /* guards everything below */
	size_t page_size;
	const struct zs_single_policy *policy;
	struct zs_single_chunk *chunks; /* newest first; pages cut from the newest */
	size_t chunk_used;		/* bytes of the newest chunk cut into pages */
	size_t next_chunk_bytes;
	void *free_head; /* resident free pages */
	size_t nr_free;
	size_t nr_released; /* released free pages, all chunks */
	bool dying;	    /* being destroyed: release nothing more */
};

/* 0, or -1 (mutex). page_size valid; policy outlives the source. */
int zs_single_init(struct zs_single_source *src, size_t page_size,
		   const struct zs_single_policy *policy);
/* One page_size-aligned page, or NULL with errno ENOMEM. */
void *zs_single_alloc(struct zs_single_source *src);
void zs_single_free(struct zs_single_source *src, void *page);
/* From now on pages given back stay as they are: the source is about to be
 * destroyed, which unmaps them all at once. */
void zs_single_dying(struct zs_single_source *src);
/* Unmaps every chunk, pages still handed out included. */
void zs_single_destroy(struct zs_single_source *src);

/* The source as a struct zs_page_ops; ctx is the struct zs_single_source. */
extern const struct zs_page_ops zs_single_page_ops;

#endif /* ZS_COMMON_PAGES_H */
