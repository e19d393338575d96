/*
 * control.c - what a program asks of a region: reclaim now, a new budget,
 * discard a range.  Each call holds z->lock throughout.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>

#include "zsswap_internal.h"

size_t zsswap_reclaim(struct zsswap *z, size_t bytes)
{
	uint64_t done;

	pthread_mutex_lock(&z->lock);
	done = zsswap_evict_locked(z, bytes / z->page_size);
	pthread_mutex_unlock(&z->lock);
	return (size_t)done * z->page_size;
}

int zsswap_set_max_resident(struct zsswap *z, size_t bytes)
{
	if (bytes && bytes < z->page_size) {
		zsswap_set_error(EINVAL, "zsswap: max_resident %zu is below one page", bytes);
		return -EINVAL;
	}
	pthread_mutex_lock(&z->lock);
	z->max_resident_pages = bytes / z->page_size;
	if (z->max_resident_pages && z->resident > z->max_resident_pages)
		zsswap_evict_locked(z, z->resident - z->max_resident_pages);
	pthread_mutex_unlock(&z->lock);
	return 0;
}

int zsswap_discard(struct zsswap *z, void *addr, size_t len)
{
	uintptr_t a = (uintptr_t)addr, base = (uintptr_t)z->base;

	if (a % z->page_size || len % z->page_size || a < base || a - base > z->size ||
	    len > z->size - (a - base)) {
		zsswap_set_error(EINVAL,
				 "zsswap: discard of [%p, +%zu) is not a "
				 "page-aligned range of the region",
				 addr, len);
		return -EINVAL;
	}
	pthread_mutex_lock(&z->lock);
	zsswap_settle_locked(z); /* no page of the range is half evicted */
	for (uint32_t idx = (uint32_t)((a - base) / z->page_size);
	     len && idx < (a - base + len) / z->page_size; idx++) {
		struct zsswap_page *p = &z->pages[idx];

		if (p->state == ZSSWAP_RESIDENT) {
			zsswap_list_remove(z, idx);
			z->resident--;
			p->state = ZSSWAP_EMPTY;
		} else {
			zsswap_copy_free(z, idx);
		}
	}
	if (len)
		madvise(addr, len, MADV_DONTNEED);
	pthread_mutex_unlock(&z->lock);
	return 0;
}
