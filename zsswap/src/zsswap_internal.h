/*
 * zsswap_internal.h - the region, its page table and the locking rule.
 *
 * Files, one job each:
 *   region.c    create/destroy, configuration, userfaultfd set-up, errors
 *   fault.c     the fault-handler thread: serves missing pages
 *   evict.c     taking pages out of the region (UFFDIO_MOVE) and storing them
 *   policy.c    which resident page is coldest (two FIFO lists, refault distance)
 *   copy.c      a page's stored copy: same-filled word, pool object, writeback
 *   target.c    the writeback target: a file or an NBD export (libnbd)
 *   stats.c     statistics
 *   fork.c      a fork that gives the child a copy of the whole region
 *
 * Locking: one mutex, z->lock, guards every field below the line marked
 * "guarded by lock", the page table, the lists, the pool and the codec
 * context.  The handler thread takes it per fault; zsswap_reclaim,
 * zsswap_discard and zsswap_set_max_resident take it for their whole call.
 * While a page is being evicted its region entry is empty (it was moved out
 * atomically), so a thread touching it faults and its fault waits for the
 * lock: no write can be lost between the copy and the drop.
 */
#ifndef ZSSWAP_INTERNAL_H
#define ZSSWAP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zsswap.h"
#include "zsmalloc.h"
#include "zsram.h"
#include "zsram_internal.h" /* the project's codecs */

#define ZSSWAP_NONE UINT32_MAX	/* end of a list */
#define ZSSWAP_STAGING_PAGES 32 /* pages staged, then dropped at once */
#define ZSSWAP_SPIN_NS 40000	/* the handler polls this long before sleeping */
#define ZSSWAP_HEADROOM 16	/* pages below the budget the handler keeps free */
#define ZSSWAP_AHEAD_STEP 2	/* pages it stores between two looks for faults */
#define ZSSWAP_ZERO_RUN 16	/* never-written pages mapped per first touch */
#define ZSSWAP_READAHEAD 8	/* most pages loaded ahead of a sequential refault */
#define ZSSWAP_RA_STREAMS 8	/* sequential refault streams followed at once */

/* What stands behind a page of the region. */
enum zsswap_page_state {
	ZSSWAP_EMPTY,	 /* never written or discarded: reads as zeros */
	ZSSWAP_RESIDENT, /* in the region */
	ZSSWAP_STAGED,	 /* moved out, not stored yet; copy = staging slot */
	ZSSWAP_SAME,	 /* dropped; copy = the repeated word */
	ZSSWAP_STORED,	 /* dropped; copy = pool handle */
	ZSSWAP_WRITTEN,	 /* dropped; copy = bytes at page index * page
				 * size in the writeback target */
};

enum zsswap_list {
	ZSSWAP_LIST_NONE,
	ZSSWAP_LIST_INACTIVE, /* resident, seen once: evicted first */
	ZSSWAP_LIST_ACTIVE,   /* resident, refaulted soon after eviction */
	ZSSWAP_LIST_STORED,   /* in the pool, in eviction order: written back first */
	ZSSWAP_NR_LISTS,
};

/* 24 bytes a page of the region (the page table is its largest cost) */
struct zsswap_page {
	uint64_t copy;	       /* see enum zsswap_page_state */
	uint32_t prev, next;   /* links in the page's list */
	uint32_t evicted_at;   /* z->evictions when it was last dropped */
	uint16_t stored_len;   /* WRITTEN: bytes in the target */
	uint8_t state : 3;     /* enum zsswap_page_state */
	uint8_t list : 2;      /* enum zsswap_list */
	uint8_t raw : 1;       /* STORED/WRITTEN: kept uncompressed */
	uint8_t load_failures; /* reads of the copy that failed in a row */
};
_Static_assert(sizeof(struct zsswap_page) == 24, "a page's entry grew");
_Static_assert(ZSSWAP_WRITTEN < 8 && ZSSWAP_NR_LISTS <= 4, "fields too narrow");

/* A run of refaults at ascending pages (fault.c's readahead). */
struct zsswap_ra_stream {
	uint32_t next;	 /* the page its next refault is expected at */
	uint32_t window; /* pages it loads ahead now; 0 until it proves sequential */
};

struct zsswap_fifo {
	uint32_t head, tail, count;
};

struct nbd_handle;

/* libnbd's calls, loaded on first use (nbd_lib.c) */
struct zsswap_nbd_api {
	bool loaded;
	struct nbd_handle *(*create)(void);
	void (*close)(struct nbd_handle *);
	const char *(*get_error)(void);
	int (*get_errno)(void);
	int (*connect_uri)(struct nbd_handle *, const char *);
	int64_t (*get_size)(struct nbd_handle *);
	int (*is_read_only)(struct nbd_handle *);
	int (*can_trim)(struct nbd_handle *);
	int (*pread)(struct nbd_handle *, void *, size_t, uint64_t, uint32_t);
	int (*pwrite)(struct nbd_handle *, const void *, size_t, uint64_t, uint32_t);
	int (*trim)(struct nbd_handle *, uint64_t, uint64_t, uint32_t);
};

struct zsswap_target {
	int fd;				  /* a file, or -1 */
	struct nbd_handle *nbd;		  /* an NBD export, or NULL */
	const struct zsswap_nbd_api *lib; /* set with nbd */
	bool can_trim;
};

struct zsswap {
	char *base; /* the region */
	size_t size;
	size_t page_size;
	uint32_t nr_pages;
	char *staging; /* ZSSWAP_STAGING_PAGES, registered too:
			* UFFDIO_MOVE needs its target registered */
	char *zeros;   /* ZSSWAP_ZERO_RUN pages never written: a source of zeros */
	int uffd;
	int stop_fd; /* eventfd: the handler exits when readable */
	pthread_t handler;
	bool handler_running;
	struct zsswap_target target; /* where written-back pages go */

	pthread_mutex_t lock;
	/* ---- guarded by lock ---- */
	struct zsswap_page *pages;
	struct zsswap_fifo lists[ZSSWAP_NR_LISTS];
	uint64_t resident;
	uint64_t max_resident_pages;	       /* 0: no automatic reclaim */
	uint64_t fork_max_resident_pages;      /* the budget, while a fork lifts it */
	uint32_t evictions;		       /* clock of refault distances */
	uint32_t staged[ZSSWAP_STAGING_PAGES]; /* page in each slot, or NONE */
	unsigned int staging_used;	       /* slots used since the last drop */
	unsigned int staged_held;	       /* slots holding a page not stored */
	bool pool_refused;		       /* a store failed; no reclaim ahead until a free */
	struct zsswap_ra_stream ra[ZSSWAP_RA_STREAMS];
	unsigned int ra_replace; /* the stream a new one replaces next */
	struct zs_pool *pool;
	size_t huge_size; /* compressed at or above: kept raw */
	struct zsram_codec codec;
	struct zsram_codec_ctx *ctx;
	unsigned char *buf; /* a page of scratch for loads */
	uint64_t same_filled, incompressible, stored, written_back;
	uint64_t stored_bytes; /* bytes of the pool's objects */
	uint32_t frees_since_compact;
	uint64_t stores, loads, pool_limit_hit, writeback_errors;
};

/* The page table's size: its own mapping (region.c), resident where used. */
static inline size_t zsswap_page_table_bytes(const struct zsswap *z)
{
	return (size_t)z->nr_pages * sizeof(*z->pages);
}

/* region.c */
void zsswap_set_error(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* nbd_lib.c: libnbd, or NULL with the error set (uri names the target) */
const struct zsswap_nbd_api *zsswap_nbd_api(const char *uri);

/* target.c: 0 or -errno (open: -1 with errno and message) */
int zsswap_target_open(struct zsswap_target *t, const char *where, uint64_t need);
void zsswap_target_close(struct zsswap_target *t);
bool zsswap_target_set(const struct zsswap_target *t);
int zsswap_target_write(struct zsswap_target *t, const void *buf, size_t len, uint64_t offset);
int zsswap_target_read(struct zsswap_target *t, void *buf, size_t len, uint64_t offset);
void zsswap_target_forget(struct zsswap_target *t, size_t len, uint64_t offset);

/* fault.c.  True on a handler thread: zsswap-run's allocator sends the
 * allocations of this thread to the C library, never into region memory,
 * which this thread serves. */
extern __thread bool zsswap_on_handler_thread __attribute__((tls_model("initial-exec")));
int zsswap_handler_start(struct zsswap *z);
void zsswap_handler_stop(struct zsswap *z);
int zsswap_serve_fault_locked(struct zsswap *z, uint32_t idx, bool write);

/* evict.c: caller holds lock */
int zsswap_move_page(struct zsswap *z, void *dst, void *src);
uint64_t zsswap_evict_locked(struct zsswap *z, uint64_t nr);
void zsswap_make_room_locked(struct zsswap *z, uint64_t n);
void zsswap_unstage_locked(struct zsswap *z, uint32_t idx);
uint64_t zsswap_store_staged_locked(struct zsswap *z, uint64_t nr, bool *failed);
bool zsswap_drop_staging_locked(struct zsswap *z);
bool zsswap_settle_locked(struct zsswap *z);
uint64_t zsswap_reclaim_ahead_locked(struct zsswap *z, unsigned int step);

/* policy.c: caller holds lock */
void zsswap_list_remove(struct zsswap *z, uint32_t idx);
void zsswap_list_push(struct zsswap *z, uint32_t idx, enum zsswap_list list);
void zsswap_policy_admit(struct zsswap *z, uint32_t idx, bool refault);
uint32_t zsswap_policy_victim(struct zsswap *z);

/* copy.c: caller holds lock */
int zsswap_copy_store(struct zsswap *z, uint32_t idx, const void *page);
int zsswap_copy_load(struct zsswap *z, uint32_t idx, void *page);
void zsswap_copy_free(struct zsswap *z, uint32_t idx);
bool zsswap_pool_full(struct zsswap *z);
int zsswap_writeback_locked(struct zsswap *z, unsigned int nr);

/* fork.c: for zsswap-run, which wraps fork(2) */
int zsswap_fork_prepare(struct zsswap *z);
void zsswap_fork_parent(struct zsswap *z);
void zsswap_fork_child(struct zsswap *z);

#endif /* ZSSWAP_INTERNAL_H */
