/*
 * zram_dev.c - the kernel's zram0 for zsbench and the zsram tool: claiming
 * it (lock file, initstate/swap/mount checks, reset), setting it up, writing,
 * discarding, compacting, reading mm_stat, and always leaving it reset.
 *
 * Locking: the lock file (flock, exclusive, non-blocking) is the only lock;
 * a struct zram_dev is used by one thread.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "zram_dev.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int sys_write(const char *attr, const char *value)
{
	char path[128];
	int fd, ok;

	snprintf(path, sizeof(path), ZRAM_DEV_SYS "%s", attr);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	ok = write(fd, value, strlen(value)) == (ssize_t)strlen(value);
	ok = ok ? 0 : -errno;
	close(fd);
	return ok;
}

int zram_dev_mm_stat(uint64_t mm[9])
{
	unsigned long long v[9] = { 0 };
	FILE *f = fopen(ZRAM_DEV_SYS "mm_stat", "r");
	int n, i;

	if (!f)
		return -1;
	n = fscanf(f, "%llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &v[6], &v[7], &v[8]);
	fclose(f);
	for (i = 0; i < 9; i++)
		mm[i] = v[i];
	return n >= 7 ? 0 : -1;
}

/* Is zram0 used as swap or mounted? */
static int zram_in_use(void)
{
	const char *files[] = { "/proc/swaps", "/proc/mounts" };
	char line[512];
	unsigned int i;
	int used = 0;

	for (i = 0; i < 2 && !used; i++) {
		FILE *f = fopen(files[i], "r");

		while (f && fgets(line, sizeof(line), f))
			if (strstr(line, ZRAM_DEV_PATH " ") || strstr(line, ZRAM_DEV_PATH "\t"))
				used = 1;
		if (f)
			fclose(f);
	}
	return used;
}

static int zram_initialized(void)
{
	int state = 0;
	FILE *f = fopen(ZRAM_DEV_SYS "initstate", "r");

	if (f) {
		if (fscanf(f, "%d", &state) != 1)
			state = 0;
		fclose(f);
	}
	return state != 0;
}

static enum zram_dev_status zram_dev_claim(struct zram_dev *z, char *why, size_t why_len)
{
	enum zram_dev_status st = ZRAM_DEV_BUSY;
	int err;

	z->lock_fd = z->fd = -1;
	z->direct = 0;
	z->batch = NULL;
	if (access(ZRAM_DEV_SYS "reset", W_OK) != 0 || access(ZRAM_DEV_PATH, W_OK) != 0) {
		snprintf(why, why_len,
			 "missing: no writable " ZRAM_DEV_SYS " and " ZRAM_DEV_PATH
			 " (needs root and the zram module)");
		return ZRAM_DEV_MISSING;
	}
	z->lock_fd = open(ZRAM_DEV_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (z->lock_fd < 0 || flock(z->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		snprintf(why, why_len, "busy: another zsbench or zsram holds " ZRAM_DEV_LOCK);
		goto fail;
	}
	if (zram_in_use()) {
		snprintf(why, why_len, "busy: " ZRAM_DEV_PATH " is swap or mounted");
		goto fail;
	}
	if (zram_initialized()) {
		/* Someone else's device (or one a crashed run left): not ours
		 * to wipe. */
		snprintf(why, why_len,
			 "busy: zram0 is set up (initstate 1) by someone else; if it is stale: "
			 "echo 1 > " ZRAM_DEV_SYS "reset");
		goto fail;
	}
	err = sys_write("reset", "1");
	if (err) {
		st = err == -EBUSY ? ZRAM_DEV_BUSY : ZRAM_DEV_FAILED;
		snprintf(why, why_len, "%s: cannot reset zram0: %s",
			 err == -EBUSY ? "busy" : "failed", strerror(-err));
		goto fail;
	}
	return ZRAM_DEV_OK;
fail:
	if (z->lock_fd >= 0)
		close(z->lock_fd);
	z->lock_fd = -1;
	return st;
}

static enum zram_dev_status zram_dev_setup(struct zram_dev *z, const char *algorithm,
					   const char *params, uint64_t disksize, char *why,
					   size_t why_len)
{
	char value[64];
	int err = sys_write("comp_algorithm", algorithm);

	if (err) {
		snprintf(why, why_len, "missing: this kernel's zram has no %s (comp_algorithm: %s)",
			 algorithm, strerror(-err));
		return ZRAM_DEV_MISSING;
	}
	if (params && sys_write("algorithm_params", params) != 0)
		fprintf(stderr, "note: zram took no %s (algorithm_params); it uses its default\n",
			params);
	snprintf(value, sizeof(value), "%llu", (unsigned long long)disksize);
	err = sys_write("disksize", value);
	if (err) {
		snprintf(why, why_len, "cannot set disksize %s: %s", value, strerror(-err));
		return ZRAM_DEV_FAILED;
	}
	z->direct = 1;
	z->fd = open(ZRAM_DEV_PATH, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (z->fd < 0) {
		z->direct = 0;
		z->fd = open(ZRAM_DEV_PATH, O_RDWR | O_CLOEXEC);
	}
	if (z->fd < 0 || posix_memalign((void **)&z->batch, 4096, ZRAM_DEV_BATCH) != 0) {
		z->batch = NULL;
		snprintf(why, why_len, "cannot open " ZRAM_DEV_PATH ": %s", strerror(errno));
		return ZRAM_DEV_FAILED;
	}
	return ZRAM_DEV_OK;
}

enum zram_dev_status zram_dev_open(struct zram_dev *z, const char *algorithm, const char *params,
				   uint64_t disksize, char *why, size_t why_len)
{
	enum zram_dev_status st = zram_dev_claim(z, why, why_len);

	if (st == ZRAM_DEV_OK)
		st = zram_dev_setup(z, algorithm, params, disksize, why, why_len);
	if (st != ZRAM_DEV_OK)
		zram_dev_release(z, NULL);
	return st;
}

int zram_dev_write_batch(struct zram_dev *z, size_t len, uint64_t offset)
{
	errno = 0;
	if (pwrite(z->fd, z->batch, len, (off_t)offset) != (ssize_t)len)
		return errno ? -errno : -EIO;
	return 0;
}

void zram_dev_sync(struct zram_dev *z)
{
	if (!z->direct)
		fsync(z->fd);
}

int zram_dev_discard(struct zram_dev *z, uint64_t offset, uint64_t len)
{
	uint64_t range[2] = { offset, len };

	return ioctl(z->fd, BLKDISCARD, range) != 0 ? -errno : 0;
}

int zram_dev_compact(void)
{
	return sys_write("compact", "1");
}

void zram_dev_release(struct zram_dev *z, const char *prog)
{
	int err;

	free(z->batch);
	z->batch = NULL;
	if (z->fd >= 0)
		close(z->fd);
	z->fd = -1;
	if (z->lock_fd < 0)
		return;
	err = sys_write("reset", "1");
	if (err)
		fprintf(stderr, "%s: warning: could not reset zram0 at the end: %s\n",
			prog ? prog : "zram_dev", strerror(-err));
	close(z->lock_fd);
	z->lock_fd = -1;
}
