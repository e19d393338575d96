/*
 * block.c - the block-device view: any byte range [offset, offset+len) of
 * the store, read, written, zeroed or discarded.
 *
 * One loop cuts a range at page boundaries.  Whole pages go straight to the
 * page interface (store.c).  A partial page is read, patched and written
 * back with its slot lock held the whole time, so two writers of different
 * bytes of one page never lose each other's data; no other lock is taken.
 * A range outside the disk size is refused with -EINVAL before any page is
 * touched.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "zsram_internal.h"

/* What a range operation does to each page it covers. */
enum bdev_op { BDEV_READ, BDEV_WRITE, BDEV_ZERO, BDEV_DISCARD };

/* Source of a whole zero page (ZERO): the largest page size. */
static const unsigned char zero_page[65536];

uint64_t zsram_bdev_size(const struct zsram *z)
{
	return z->nr_pages * z->page_size;
}

/* Reads bytes [off, off+len) of page index into dst, or (op other than READ)
 * replaces them with src (WRITE) or zeros, under the page's slot lock. */
static int bdev_page_part(struct zsram *z, uint64_t index, size_t off, size_t len, enum bdev_op op,
			  void *dst, const void *src)
{
	unsigned char *tmp = malloc(z->page_size);
	uint32_t flags;
	int err;

	if (!tmp)
		return -ENOMEM;
	flags = zsram_slot_lock(&z->slots, index);
	err = zsram_slot_read_locked(z, index, flags, tmp);
	zsram_slot_touch(z, index);
	if (op == BDEV_READ) {
		zsram_slot_unlock_set(&z->slots, index, flags & ~SLOT_IDLE);
		if (!err)
			memcpy(dst, tmp + off, len);
	} else {
		if (!err) {
			if (op == BDEV_WRITE)
				memcpy(tmp + off, src, len);
			else
				memset(tmp + off, 0, len);
			err = zsram_slot_store_locked(z, index, &flags, tmp);
		}
		zsram_slot_unlock_set(&z->slots, index,
				      err ? flags : flags & ~(SLOT_IDLE | SLOT_NORECOMP));
	}
	free(tmp);
	return err;
}

/* A whole page: the page interface counts its own failures. */
static int bdev_page_whole(struct zsram *z, uint64_t index, enum bdev_op op, void *dst,
			   const void *src)
{
	switch (op) {
	case BDEV_READ: return zsram_read_page(z, index, dst);
	case BDEV_WRITE: return zsram_write_page(z, index, src);
	case BDEV_ZERO: return zsram_write_page(z, index, zero_page);
	default: return zsram_discard(z, index, 1);
	}
}

static int bdev_range(struct zsram *z, uint64_t offset, uint64_t len, enum bdev_op op, void *dst,
		      const void *src)
{
	uint64_t size = zsram_bdev_size(z);
	size_t done = 0;

	if (offset > size || len > size - offset ||
	    (len && ((op == BDEV_READ && !dst) || (op == BDEV_WRITE && !src)))) {
		STAT_ADD(z->invalid_io, 1);
		return -EINVAL;
	}
	while (len) {
		uint64_t index = offset >> z->page_shift;
		size_t off = offset & (z->page_size - 1);
		size_t chunk = len < z->page_size - off ? (size_t)len : z->page_size - off;
		void *d = dst ? (unsigned char *)dst + done : NULL;
		const void *s = src ? (const unsigned char *)src + done : NULL;
		int err;

		if (chunk == z->page_size) {
			err = bdev_page_whole(z, index, op, d, s);
		} else {
			err = bdev_page_part(z, index, off, chunk, op, d, s);
			if (err && op == BDEV_READ)
				STAT_ADD(z->failed_reads, 1);
			else if (err && op != BDEV_DISCARD)
				STAT_ADD(z->failed_writes, 1);
		}
		if (err)
			return err;
		done += chunk;
		offset += chunk;
		len -= chunk;
	}
	if (op == BDEV_WRITE || op == BDEV_ZERO)
		zsram_maybe_compact(z);
	return 0;
}

int zsram_bdev_read(struct zsram *z, uint64_t offset, void *buf, size_t len)
{
	return bdev_range(z, offset, len, BDEV_READ, buf, NULL);
}

int zsram_bdev_write(struct zsram *z, uint64_t offset, const void *buf, size_t len)
{
	return bdev_range(z, offset, len, BDEV_WRITE, NULL, buf);
}

int zsram_bdev_zero(struct zsram *z, uint64_t offset, uint64_t len)
{
	return bdev_range(z, offset, len, BDEV_ZERO, NULL, NULL);
}

int zsram_bdev_discard(struct zsram *z, uint64_t offset, uint64_t len)
{
	return bdev_range(z, offset, len, BDEV_DISCARD, NULL, NULL);
}
