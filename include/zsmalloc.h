/*
 * zsmalloc.h - a handle-based allocator for compressed objects, in userspace.
 *
 * Objects of 1 byte up to one page are packed into "zspages" (chains of 1..16
 * pages) by size class, may span page boundaries, and are reached through
 * opaque handles: map/unmap, or read_begin/read_end and write.  Sparse zspages
 * can be compacted and whole pages given back to the page source; any backing
 * page can be migrated to another page while every handle stays valid.
 *
 * The declarations from the kernel-compatible contract come first; the
 * extensions after them are marked as such.  Every function may be called from
 * any thread at the same time as any other, on the same pool, unless its
 * comment says otherwise.
 */
#ifndef ZSMALLOC_H
#define ZSMALLOC_H

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

struct zs_pool;

enum zs_mapmode {
	ZS_MM_RW, /* read-write: copy in at map, copy out at unmap */
	ZS_MM_RO, /* read-only: no copy out at unmap */
	ZS_MM_WO, /* write-only: no copy in at map */
};

struct zs_pool_stats {
	unsigned long pages_compacted; /* pages given back by compaction, ever */
};

/*
 * Optional page source; NULL members or a NULL ops pointer mean built-in.
 * Both callbacks may be called from any thread, with an internal lock of the
 * pool held: they must not call back into the same pool.  alloc_page returning
 * NULL makes the operation that needed the page fail with ENOMEM, and nothing
 * stored is lost.
 */
struct zs_page_ops {
	void *(*alloc_page)(void *ctx); /* one page_size-aligned page, or NULL */
	void (*free_page)(void *ctx, void *page);
};

struct zs_pool_config {
	size_t page_size;		    /* 0: 4096; else a power of two, 4096..65536 */
	unsigned int max_pages_per_zspage;  /* chain size; 0: default; 1..16 */
	const struct zs_page_ops *page_ops; /* NULL: built-in page source */
	void *page_ctx;			    /* passed to page_ops */
	unsigned long max_pages;	    /* 0: no limit; see zs_set_max_pages */
};

/* NULL on failure with errno: EINVAL (bad config), ENOMEM. */
struct zs_pool *zs_create_pool(const char *name);
struct zs_pool *zs_create_pool_config(const char *name, const struct zs_pool_config *config);
void zs_destroy_pool(struct zs_pool *pool); /* frees every page, live objects too */

/* 0 on failure, errno: EINVAL (size 0), E2BIG (size > page_size), ENOSPC
 * (the pool's page limit), ENOMEM. */
unsigned long zs_malloc(struct zs_pool *pool, size_t size);
void zs_free(struct zs_pool *pool, unsigned long handle); /* handle 0: no-op */

/*
 * Returns a pointer to the object's bytes (its whole class size, see
 * zs_obj_size), valid until zs_unmap_object.  The pointer is into the zspage
 * when the object's bytes are contiguous in memory, else into a buffer of the
 * calling thread.  Unmap from the thread that mapped.  NULL with errno ENOMEM
 * if the thread's mapping record or buffer cannot be allocated (the object
 * is then not mapped and needs no unmap).
 */
void *zs_map_object(struct zs_pool *pool, unsigned long handle, enum zs_mapmode mm);
void zs_unmap_object(struct zs_pool *pool, unsigned long handle);

/* Returns a pointer to the object's bytes: in place, or copied into
 * local_copy, which must have room for the object (one page always does). */
void *zs_obj_read_begin(struct zs_pool *pool, unsigned long handle, void *local_copy);
void zs_obj_read_end(struct zs_pool *pool, unsigned long handle, void *handle_mem);
/* Copies mem_len bytes (at most the allocated size) into the object. */
void zs_obj_write(struct zs_pool *pool, unsigned long handle, void *handle_mem, size_t mem_len);

size_t zs_huge_class_size(struct zs_pool *pool);
unsigned int zs_lookup_class_index(struct zs_pool *pool, unsigned int size);
unsigned long zs_get_total_pages(struct zs_pool *pool);
/*
 * The most pages the pool may hold (0: no limit).  zs_malloc refuses with
 * ENOSPC, before anything changes, an object that would need a page past it,
 * so zs_get_total_pages() stays at or below the limit while objects are
 * allocated (zram's mem_limit, kept by the pool).  Compaction and migration
 * are not refused: compaction may back a page of a destination zspage before
 * it frees the source's, and only ever lowers the total in the end.  Lowering
 * the limit below the current total frees nothing; allocations needing a page
 * are refused until the total falls below it.
 */
void zs_set_max_pages(struct zs_pool *pool, unsigned long max_pages);
unsigned long zs_get_max_pages(struct zs_pool *pool);
unsigned long zs_compact(struct zs_pool *pool); /* returns pages freed */
void zs_pool_stats(struct zs_pool *pool, struct zs_pool_stats *stats);

/* Move the contents of the pool's backing page `page` into `newpage` (a page
 * the caller got from the same page source, see zs_page_source_alloc). Every
 * handle stays valid and keeps its bytes. Returns 0 on success: the pool then
 * uses newpage and no longer references page, which is the caller's to dispose
 * of (zs_page_source_free). Returns -EINVAL if page is not a page of this pool
 * (or newpage is NULL or already in use), -EAGAIN if it cannot be moved right
 * now (an object in its zspage is mapped or read), -ENOMEM if the pool could
 * not allocate the metadata the move needs. */
int zs_page_migrate(struct zs_pool *pool, void *page, void *newpage);

/* ---- Extensions (not in the kernel's API) ---- */

/* The pool's page size in bytes. */
size_t zs_page_size(struct zs_pool *pool);

/* Usable size of a live object: the size of its class, >= the size asked. */
size_t zs_obj_size(struct zs_pool *pool, unsigned long handle);

/* One page from / back to the pool's page source (built-in or page_ops), for
 * callers of zs_page_migrate.  NULL with errno ENOMEM when the source is dry. */
void *zs_page_source_alloc(struct zs_pool *pool);
void zs_page_source_free(struct zs_pool *pool, void *page);

/*
 * Snapshot of the backing pages the pool holds now.  Writes up to max page
 * addresses into pages and returns how many the pool holds (which may exceed
 * max).  The snapshot may be stale by the time it is used; zs_page_migrate
 * answers -EINVAL for a page that has left the pool.
 */
size_t zs_list_pages(struct zs_pool *pool, void **pages, size_t max);

/*
 * Where the pool's memory is, in bytes, now (extension).  The page bytes split
 * exactly into object_bytes + free_slot_bytes + tail_bytes; the metadata
 * fields add up to metadata.  Every figure is memory the pool holds resident
 * (or, for malloc'd structures, asked of malloc), so page_bytes + warm_bytes +
 * metadata is what the pool adds to the process's resident memory, less
 * malloc's own rounding and free lists.  Classes are read one at a time under
 * their locks: on a busy pool the figures are not one instant's.
 */
struct zs_pool_memory {
	size_t page_bytes;	/* pages held from the page source */
	size_t object_bytes;	/* live objects at their class's size */
	size_t free_slot_bytes; /* slots not in use, and the not yet used rest,
				 * in backed pages */
	size_t tail_bytes;	/* bytes at the end of fully backed zspages that
				 * no slot covers */
	size_t warm_bytes;	/* arena pages kept resident for reuse */
	size_t handle_table;	/* handle entries (resident part of the table) */
	size_t zspage_headers;	/* zspage descriptors */
	size_t slot_maps;	/* per-zspage slot -> handle maps, if any */
	size_t zspage_index;	/* zspage number -> descriptor, if any */
	size_t page_lists;	/* page pointers of chained zspages */
	size_t pagemap;		/* page address -> zspage (migration) */
	size_t pool;		/* the pool, its classes, the arena's bitmaps */
	size_t metadata;	/* handle_table + ... + pool */
	unsigned long objects;	/* live objects */
	unsigned long zspages;	/* zspages */
};
void zs_pool_memory(struct zs_pool *pool, struct zs_pool_memory *mem);

/* Fullness groups, as the columns of the kernel's class table. */
#define ZS_NR_FULLNESS_GROUPS 11 /* 10% 20% ... 90% 99% 100% */

struct zs_class_stats {
	unsigned int index; /* class index */
	unsigned int size;  /* bytes each object of the class takes */
	unsigned int pages_per_zspage;
	unsigned int objs_per_zspage;
	/* zspages by fullness: [0] 1-9% used, [1] 10-19%, ... [8] 80-89%,
	 * [9] 90-99%, [10] full */
	unsigned long zspages[ZS_NR_FULLNESS_GROUPS];
	unsigned long obj_allocated; /* object slots in the class's zspages */
	unsigned long obj_used;	     /* live objects */
	unsigned long pages_used;    /* backing pages the class holds */
	/* Pages compaction could give back at most: those beyond the best
	 * layout of the live objects (full zspages, then one filled from the
	 * front).  The kernel counts whole zspages only; ours are also packed
	 * in place. */
	unsigned long freeable;
};

/* Number of class indexes (valid indexes are 0 .. count-1). */
unsigned int zs_class_count(struct zs_pool *pool);
/* 0 and fills *stats; -ENOENT if the index was merged into a larger class
 * (sizes with the same geometry share one class); -EINVAL if out of range. */
int zs_get_class_stats(struct zs_pool *pool, unsigned int index, struct zs_class_stats *stats);
/* Writes the class table in the layout of the kernel's debugfs
 * zsmalloc/<pool>/classes file (a line per class that holds zspages; empty
 * and merged classes are left out) and a Total line.  Returns 0, or -1 with
 * errno set by a failed write. */
int zs_print_class_stats(struct zs_pool *pool, FILE *out);

/*
 * Consistency checker: walks every class, zspage, slot and handle of the pool
 * and checks that they agree (fullness groups, counters, free lists, the
 * handle <-> object links, page accounting).  Returns 0 when consistent; else
 * -1 and, if why is not NULL, a description of the first problem found.  It
 * takes every class lock in turn: other threads may keep working meanwhile.
 */
int zs_pool_check(struct zs_pool *pool, char *why, size_t why_len);

#ifdef __cplusplus
}
#endif

#endif /* ZSMALLOC_H */
