/*
 * target.c - where written-back pages go: a file, or an NBD export through
 * libnbd (nbd://host[:port]/export, nbd+unix:///export?socket=PATH), which
 * can be an `nbdkit zsram` server on this machine or another.
 *
 * Page idx lives at byte idx x page size of the target (a file is sparse; an
 * export must be at least as large as the region).  Freed pages are punched
 * out of a file and trimmed on an export that can trim.  Calls are made under
 * z->lock; libnbd's handle has its own lock too.  libnbd is loaded on first
 * use (nbd_lib.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "zsswap_internal.h"

static bool is_nbd_uri(const char *s)
{
	return strncmp(s, "nbd://", 6) == 0 || strncmp(s, "nbds://", 7) == 0 ||
	       strncmp(s, "nbd+unix://", 11) == 0 || strncmp(s, "nbds+unix://", 12) == 0;
}

static int open_nbd(struct zsswap_target *t, const char *uri, uint64_t need)
{
	const struct zsswap_nbd_api *nbd = zsswap_nbd_api(uri);
	int64_t size;

	if (!nbd)
		return -1;
	t->lib = nbd;
	t->nbd = nbd->create();
	if (!t->nbd) {
		zsswap_set_error(ENOMEM, "zsswap: writeback %s: %s", uri, nbd->get_error());
		return -1;
	}
	if (nbd->connect_uri(t->nbd, uri) == -1) {
		int err = nbd->get_errno() ? nbd->get_errno() : EIO;

		zsswap_set_error(err, "zsswap: writeback %s: %s", uri, nbd->get_error());
		return -1;
	}
	size = nbd->get_size(t->nbd);
	if (size < 0 || (uint64_t)size < need || nbd->is_read_only(t->nbd) == 1) {
		zsswap_set_error(ENOSPC,
				 "zsswap: writeback %s: the export must be "
				 "writable and hold %llu bytes (the region); it has %lld%s",
				 uri, (unsigned long long)need, (long long)size,
				 nbd->is_read_only(t->nbd) == 1 ? " and is read-only" : "");
		return -1;
	}
	t->can_trim = nbd->can_trim(t->nbd) == 1;
	return 0;
}

int zsswap_target_open(struct zsswap_target *t, const char *where, uint64_t need)
{
	memset(t, 0, sizeof(*t));
	t->fd = -1;
	if (!where)
		return 0;
	if (is_nbd_uri(where))
		return open_nbd(t, where, need);
	t->fd = open(where, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (t->fd < 0) {
		zsswap_set_error(errno, "zsswap: writeback file %s: %s", where, strerror(errno));
		return -1;
	}
	return 0;
}

void zsswap_target_close(struct zsswap_target *t)
{
	if (t->nbd)
		t->lib->close(t->nbd);
	if (t->fd >= 0)
		close(t->fd);
	t->nbd = NULL;
	t->fd = -1;
}

bool zsswap_target_set(const struct zsswap_target *t)
{
	return t->fd >= 0 || t->nbd;
}

int zsswap_target_write(struct zsswap_target *t, const void *buf, size_t len, uint64_t offset)
{
	if (t->nbd)
		return t->lib->pwrite(t->nbd, buf, len, offset, 0) == -1 ? -EIO : 0;
	ssize_t n = pwrite(t->fd, buf, len, (off_t)offset);

	return n == (ssize_t)len ? 0 : n < 0 ? -errno : -EIO;
}

int zsswap_target_read(struct zsswap_target *t, void *buf, size_t len, uint64_t offset)
{
	if (t->nbd)
		return t->lib->pread(t->nbd, buf, len, offset, 0) == -1 ? -EIO : 0;
	ssize_t n = pread(t->fd, buf, len, (off_t)offset);

	return n == (ssize_t)len ? 0 : n < 0 ? -errno : -EIO;
}

void zsswap_target_forget(struct zsswap_target *t, size_t len, uint64_t offset)
{
	if (t->nbd && t->can_trim)
		t->lib->trim(t->nbd, len, offset, 0);
	else if (t->fd >= 0)
		fallocate(t->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset,
			  (off_t)len);
}
