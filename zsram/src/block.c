/*
 * block.c - the block-device view: byte offsets and lengths in sectors of
 * ZSRAM_SECTOR_SIZE bytes over the page store.
 *
 * Whole pages go straight to the page interface.  A partial page is read,
 * patched and written back with its slot lock held the whole time, so two
 * writers of different sectors of one page never lose each other's data.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "zsram_internal.h"

uint64_t zsram_bdev_size(const struct zsram *z)
{
	return z->nr_pages * z->page_size;
}

static bool bdev_range_ok(struct zsram *z, uint64_t offset, uint64_t len)
{
	uint64_t size = zsram_bdev_size(z);

	if ((offset | len) % ZSRAM_SECTOR_SIZE || offset > size || len > size - offset) {
		STAT_ADD(z->invalid_io, 1);
		return false;
	}
	return true;
}

/* Reads bytes [off, off+len) of page index into dst (a part of one page). */
static int bdev_read_part(struct zsram *z, uint64_t index, size_t off, size_t len,
			  void *dst)
{
	unsigned char *tmp = malloc(z->page_size);
	uint32_t flags;
	int err;

	if (!tmp)
		return -ENOMEM;
	flags = zsram_slot_lock(&z->slots, index);
	err = zsram_slot_read_locked(z, index, flags, tmp);
	zsram_slot_unlock_set(&z->slots, index, flags & ~SLOT_IDLE);
	if (!err)
		memcpy(dst, tmp + off, len);
	free(tmp);
	return err;
}

/* Read-modify-write of bytes [off, off+len) of page index; src NULL writes
 * zeros. */
static int bdev_write_part(struct zsram *z, uint64_t index, size_t off, size_t len,
			   const void *src)
{
	unsigned char *tmp = malloc(z->page_size);
	uint32_t flags;
	int err;

	if (!tmp)
		return -ENOMEM;
	flags = zsram_slot_lock(&z->slots, index);
	err = zsram_slot_read_locked(z, index, flags, tmp);
	if (!err) {
		if (src)
			memcpy(tmp + off, src, len);
		else
			memset(tmp + off, 0, len);
		err = zsram_slot_store_locked(z, index, &flags, tmp);
	}
	zsram_slot_unlock_set(&z->slots, index, err ? flags :
			      flags & ~(SLOT_IDLE | SLOT_NORECOMP));
	free(tmp);
	return err;
}

int zsram_bdev_read(struct zsram *z, uint64_t offset, void *buf, size_t len)
{
	unsigned char *dst = buf;

	if (!bdev_range_ok(z, offset, len))
		return -EINVAL;
	while (len) {
		uint64_t index = offset >> z->page_shift;
		size_t off = offset & (z->page_size - 1);
		size_t chunk = z->page_size - off;
		int err;

		if (chunk > len)
			chunk = len;
		if (chunk == z->page_size)
			err = zsram_read_page(z, index, dst);
		else
			err = bdev_read_part(z, index, off, chunk, dst);
		if (err) {
			if (chunk != z->page_size)
				STAT_ADD(z->failed_reads, 1);
			return err;
		}
		dst += chunk;
		offset += chunk;
		len -= chunk;
	}
	return 0;
}

int zsram_bdev_write(struct zsram *z, uint64_t offset, const void *buf, size_t len)
{
	const unsigned char *src = buf;

	if (!bdev_range_ok(z, offset, len))
		return -EINVAL;
	while (len) {
		uint64_t index = offset >> z->page_shift;
		size_t off = offset & (z->page_size - 1);
		size_t chunk = z->page_size - off;
		int err;

		if (chunk > len)
			chunk = len;
		if (chunk == z->page_size) {
			err = zsram_write_page(z, index, src);
		} else {
			err = bdev_write_part(z, index, off, chunk, src);
			if (err)
				STAT_ADD(z->failed_writes, 1);
		}
		if (err)
			return err;
		src += chunk;
		offset += chunk;
		len -= chunk;
	}
	zsram_maybe_compact(z);
	return 0;
}

int zsram_bdev_discard(struct zsram *z, uint64_t offset, uint64_t len)
{
	if (!bdev_range_ok(z, offset, len))
		return -EINVAL;
	while (len) {
		uint64_t index = offset >> z->page_shift;
		size_t off = offset & (z->page_size - 1);
		uint64_t chunk = z->page_size - off;
		int err;

		if (chunk > len)
			chunk = len;
		if (chunk == z->page_size)
			err = zsram_discard(z, index, 1);
		else
			err = bdev_write_part(z, index, off, (size_t)chunk, NULL);
		if (err)
			return err;
		offset += chunk;
		len -= chunk;
	}
	return 0;
}
