/*
 * zsswap.h - compressed memory regions in userspace (the zswap half of
 * zsmalloc's users).
 *
 * A region is ordinary read/write memory with a resident budget.  When more
 * of it is resident than the budget allows, its coldest pages are compressed
 * into a zsmalloc pool and dropped; the next access to a dropped page faults
 * (userfaultfd) and the page is decompressed back before the access goes on,
 * from any thread and from system calls (read(2) into the region, write(2)
 * out of it).  No swap, kernel module or cgroup is needed; userfaultfd must
 * be permitted for kernel-mode faults (root, CAP_SYS_PTRACE,
 * vm.unprivileged_userfaultfd=1, or access to /dev/userfaultfd).
 *
 * Budget: after any call or fault returns, resident_pages is at most
 * max_resident / page size + ZSSWAP_RESIDENT_SLACK (one page being handed to
 * a faulting thread while the handler evicts ahead), except when the pool
 * is full and cannot write back: then the budget yields (pool_limit_hit).
 *
 * Fork: the region is not inherited (MADV_DONTFORK): in a child, an access
 * to it is a fault (SIGSEGV), never wrong data.
 *
 * Link with -lzsswap (pkg-config zsswap).
 */
#ifndef ZSSWAP_H
#define ZSSWAP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* libzsswap is built with -fvisibility=hidden and links its parts (zsram's
 * codecs, libzsmalloc) statically: what this header declares is its whole
 * ABI. */
#pragma GCC visibility push(default)

struct zsswap;

/* Pages by which resident_pages may pass the budget when a call or fault
 * returns: the page just handed to a faulting thread, before the handler
 * evicts ahead of the next fault. */
#define ZSSWAP_RESIDENT_SLACK 1

struct zsswap_config {
	size_t size;	       /* bytes of the region, rounded up to whole pages; required */
	size_t max_resident;   /* resident bytes of the region the reclaimer keeps it
				 * under; 0: no automatic reclaim */
	const char *algorithm; /* NULL or "lz4" (default), "lz4hc", "zstd", with an
				 * optional ":LEVEL" */
	size_t max_pool;       /* bytes of pages the compressed pool may take
				 * (zswap's max_pool_percent, as bytes); 0: no limit */
	const char *writeback; /* NULL: none; a file path; or an NBD URI
				 * (nbd://..., nbd+unix://...): where compressed pages
				 * go, coldest first, when the pool is at max_pool */
};

void zsswap_config_init(struct zsswap_config *config); /* all defaults; size 0 */

/* NULL with errno: EINVAL (size 0, unknown algorithm or level, a set
 * max_resident or max_pool below one page), EPERM (userfaultfd not
 * permitted: zsswap_last_error() names what to enable), ENOMEM, or the
 * errno of opening the writeback target. */
struct zsswap *zsswap_create(const struct zsswap_config *config);
const char *zsswap_last_error(void);   /* message for this thread's last failure */
void zsswap_destroy(struct zsswap *z); /* unmaps the region, frees the pool */

void *zsswap_base(const struct zsswap *z); /* page aligned */
size_t zsswap_size(const struct zsswap *z);

/* Compresses up to `bytes` of the coldest resident pages now; returns the
 * bytes made non-resident. */
size_t zsswap_reclaim(struct zsswap *z, size_t bytes);
int zsswap_set_max_resident(struct zsswap *z, size_t bytes); /* 0 or -errno */
/* The page-aligned range [addr, addr+len) of the region reads back as zeros
 * from now on and its stored copies are freed. 0, or -EINVAL (not page
 * aligned, or not inside the region). */
int zsswap_discard(struct zsswap *z, void *addr, size_t len);

struct zsswap_stats {
	uint64_t resident_pages;       /* pages of the region in memory now */
	uint64_t stored_pages;	       /* pages held in the pool (zswap's stored_pages) */
	uint64_t same_filled_pages;    /* of those, kept as one repeated word */
	uint64_t incompressible_pages; /* of those, kept raw: no gain from compressing */
	uint64_t pool_total_size;      /* bytes of the pool's pages (zswap's pool_total_size) */
	uint64_t written_back_pages;   /* pages now in the writeback target */
	uint64_t stores;	       /* pages compressed, ever */
	uint64_t loads;		       /* faults served from the pool or writeback, ever */
	uint64_t pool_limit_hit;       /* times the pool was found at max_pool */
};
void zsswap_get_stats(struct zsswap *z, struct zsswap_stats *stats);
/* One "name value" line per field above, in that order, names as above. */
int zsswap_print_stats(struct zsswap *z, FILE *out);

/* ---- Extensions (beyond zsswap.md's contract) ---- */

/* What the region holds of the process's memory, in bytes, so that a figure
 * of its memory can be taken apart: the parts add up to total. */
struct zsswap_memory {
	size_t resident;      /* region pages in memory */
	size_t pool_pages;    /* the pool's pages (pool_total_size) */
	size_t pool_metadata; /* the pool's own metadata (handles, zspage
				 * headers, classes) */
	size_t page_table;    /* zsswap's entry for each page of the region:
			       * its resident part (mincore) */
	size_t buffers;	      /* the codec's context and scratch pages */
	size_t total;
};
void zsswap_memory(struct zsswap *z, struct zsswap_memory *mem);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* ZSSWAP_H */
