/*
 * zram.c - the kernel's own zram + zsmalloc as a peer, fed the same pages.
 *
 * Needs root and a writable /sys/block/zram0.  Under an exclusive lock file
 * (so that two zsbench runs never share the device), and only when zram0
 * is not set up by anyone (initstate 0, not swap, not mounted), it sets
 * comp_algorithm (lz4, or zstd for a zstd corpus) and a disksize of the
 * dataset, writes the dataset's uncompressed pages to /dev/zram0 with
 * O_DIRECT, and reads mm_stat; then it discards the same random objects the
 * other peers free (BLKDISCARD, page by page), reads mm_stat, writes 1 to
 * compact, reads mm_stat again, and always leaves zram0 reset.  zram
 * compresses the pages itself, with the kernel's copy of the algorithm, and
 * keeps same-filled pages without allocating, as our corpus does.  A kernel
 * without the corpus's algorithm makes zram "missing".
 *
 * Its figures are the kernel's: mem_used_total (zsmalloc's pages only; the
 * struct pages, handles, zspage structs and zram's slot table are not
 * counted) over compr_data_size.
 */
#define _GNU_SOURCE
#include "zsbench.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define ZRAM_SYS "/sys/block/zram0/"
#define ZRAM_DEV "/dev/zram0"
#define ZRAM_LOCK "/tmp/zsbench-zram0.lock"
#define BATCH_PAGES 256

static int sys_write(const char *attr, const char *value)
{
	char path[128];
	int fd, ok;

	snprintf(path, sizeof(path), ZRAM_SYS "%s", attr);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	ok = write(fd, value, strlen(value)) == (ssize_t)strlen(value);
	ok = ok ? 0 : -errno;
	close(fd);
	return ok;
}

static int read_mm_stat(uint64_t mm[9])
{
	unsigned long long v[9] = { 0 };
	FILE *f = fopen(ZRAM_SYS "mm_stat", "r");
	int n, i;

	if (!f)
		return -1;
	n = fscanf(f, "%llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
		   &v[3], &v[4], &v[5], &v[6], &v[7], &v[8]);
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
			if (strstr(line, "/dev/zram0 ") || strstr(line, "/dev/zram0\t"))
				used = 1;
		if (f)
			fclose(f);
	}
	return used;
}

static int zram_initialized(void)
{
	int state = 0;
	FILE *f = fopen(ZRAM_SYS "initstate", "r");

	if (f) {
		if (fscanf(f, "%d", &state) != 1)
			state = 0;
		fclose(f);
	}
	return state != 0;
}

static void set_phase(struct zsb_phase *p, double seconds, uint64_t ops,
		      const uint64_t mm[9], uint64_t page_bytes)
{
	p->valid = 1;
	p->seconds = seconds;
	p->ops = ops;
	p->anon_bytes = (int64_t)mm[2];		/* mem_used_total */
	p->payload = mm[1];			/* compr_data_size */
	p->pool_pages = (int64_t)(mm[2] / ZSB_PAGE_SIZE);
	p->page_bytes = page_bytes;
}

/* The slots the allocator peers free: the same seeded shuffle (workload.c). */
static uint32_t *slots_to_free(const struct zsb_corpus *c, const struct zsb_dataset *d,
			       const struct zsb_options *o, size_t *nfree)
{
	uint32_t *live = malloc(d->nslots * sizeof(*live));
	uint64_t seed = o->seed ^ 0xf4eeULL;
	size_t n = 0, i;

	if (!live)
		return NULL;
	for (i = 0; i < d->nslots; i++)
		if (c->page_obj[d->pages[i]] >= 0)
			live[n++] = (uint32_t)i;
	for (i = n - 1; n && i > 0; i--) {
		size_t j = zsb_rand(&seed) % (i + 1);
		uint32_t t = live[i];

		live[i] = live[j];
		live[j] = t;
	}
	*nfree = (size_t)(o->free_fraction * (double)n);
	memmove(live, live + (n - *nfree), *nfree * sizeof(*live));
	return live;
}

static int zram_fill_and_shrink(const struct zsb_corpus *c, const struct zsb_dataset *d,
				const struct zsb_options *o, struct zsb_result *r)
{
	unsigned char *batch = NULL;
	uint32_t *victims = NULL;
	size_t nvictims = 0, s, i;
	char value[64];
	double t0;
	int fd = -1, err, direct = 1;
	uint64_t before_compacted;

	const char *algorithm = c->compressor == ZSB_ZSTD ? "zstd" : "lz4";

	err = sys_write("comp_algorithm", algorithm);
	if (err) {
		snprintf(r->reason, sizeof(r->reason),
			 "missing: this kernel's zram has no %s (comp_algorithm: %s)", algorithm,
			 strerror(-err));
		return -2;
	}
	if (c->compressor == ZSB_ZSTD) {
		snprintf(value, sizeof(value), "algo=zstd level=%d", c->level);
		if (sys_write("algorithm_params", value) != 0)
			fprintf(stderr, "zsbench: note: zram took no zstd level (algorithm_params); "
				"it uses its default level\n");
	}
	snprintf(value, sizeof(value), "%llu",
		 (unsigned long long)d->nslots * ZSB_PAGE_SIZE);
	err = sys_write("disksize", value);
	if (err) {
		snprintf(r->reason, sizeof(r->reason), "cannot set disksize %s: %s", value,
			 strerror(-err));
		return -1;
	}
	fd = open(ZRAM_DEV, O_RDWR | O_DIRECT);
	if (fd < 0) {
		direct = 0;
		fd = open(ZRAM_DEV, O_RDWR);
	}
	if (fd < 0 || posix_memalign((void **)&batch, ZSB_PAGE_SIZE,
				     BATCH_PAGES * ZSB_PAGE_SIZE) != 0) {
		snprintf(r->reason, sizeof(r->reason), "cannot open " ZRAM_DEV ": %s",
			 strerror(errno));
		goto fail;
	}

	t0 = zsb_now();
	for (s = 0; s < d->nslots; s += BATCH_PAGES) {
		size_t n = d->nslots - s < BATCH_PAGES ? d->nslots - s : BATCH_PAGES;
		size_t len = n * ZSB_PAGE_SIZE;

		for (i = 0; i < n; i++)
			memcpy(batch + i * ZSB_PAGE_SIZE, c->page_data[d->pages[s + i]],
			       ZSB_PAGE_SIZE);
		if (pwrite(fd, batch, len, (off_t)(s * ZSB_PAGE_SIZE)) != (ssize_t)len) {
			snprintf(r->reason, sizeof(r->reason), "writing " ZRAM_DEV ": %s",
				 strerror(errno));
			goto fail;
		}
	}
	if (!direct)
		fsync(fd);
	t0 = zsb_now() - t0;
	if (read_mm_stat(r->mm_stat[0]) != 0)
		goto no_mm_stat;
	set_phase(&r->fill, t0, d->nslots, r->mm_stat[0],
		  (uint64_t)d->nslots * ZSB_PAGE_SIZE);

	victims = slots_to_free(c, d, o, &nvictims);
	if (!victims) {
		snprintf(r->reason, sizeof(r->reason), "out of memory");
		goto fail;
	}
	t0 = zsb_now();
	for (i = 0; i < nvictims; i++) {
		uint64_t range[2] = { (uint64_t)victims[i] * ZSB_PAGE_SIZE, ZSB_PAGE_SIZE };

		if (ioctl(fd, BLKDISCARD, range) != 0) {
			snprintf(r->reason, sizeof(r->reason), "BLKDISCARD: %s", strerror(errno));
			goto fail;
		}
	}
	if (read_mm_stat(r->mm_stat[1]) != 0)
		goto no_mm_stat;
	set_phase(&r->free, zsb_now() - t0, nvictims, r->mm_stat[1],
		  (uint64_t)nvictims * ZSB_PAGE_SIZE);

	before_compacted = r->mm_stat[1][6];
	t0 = zsb_now();
	err = sys_write("compact", "1");
	if (err) {
		snprintf(r->reason, sizeof(r->reason), "compact: %s", strerror(-err));
		goto fail;
	}
	if (read_mm_stat(r->mm_stat[2]) != 0)
		goto no_mm_stat;
	set_phase(&r->compact, zsb_now() - t0, 1, r->mm_stat[2], 0);
	r->compact_pages_reported = (int64_t)(r->mm_stat[2][6] - before_compacted);
	free(victims);
	free(batch);
	close(fd);
	return 0;

no_mm_stat:
	snprintf(r->reason, sizeof(r->reason), "cannot read " ZRAM_SYS "mm_stat");
fail:
	free(victims);
	free(batch);
	if (fd >= 0)
		close(fd);
	return -1;
}

void zsb_run_zram(const struct zsb_corpus *c, const struct zsb_dataset *d,
		  const struct zsb_options *o, struct zsb_result *r)
{
	int lock, err;

	memset(r, 0, sizeof(*r));
	snprintf(r->dataset, sizeof(r->dataset), "%s", d->name);
	snprintf(r->peer, sizeof(r->peer), "zram");
	r->compact_pages_reported = -1;
	r->rss_honest = 0;	/* pages only: see the header comment */
	if (access(ZRAM_SYS "reset", W_OK) != 0 || access(ZRAM_DEV, W_OK) != 0) {
		r->status = ZSB_MISSING;
		snprintf(r->reason, sizeof(r->reason),
			 "missing: no writable " ZRAM_SYS " and " ZRAM_DEV
			 " (needs root and the zram module)");
		return;
	}
	lock = open(ZRAM_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock < 0 || flock(lock, LOCK_EX | LOCK_NB) != 0) {
		r->status = ZSB_BUSY;
		snprintf(r->reason, sizeof(r->reason), "busy: another zsbench holds " ZRAM_LOCK);
		if (lock >= 0)
			close(lock);
		return;
	}
	if (zram_in_use()) {
		r->status = ZSB_BUSY;
		snprintf(r->reason, sizeof(r->reason), "busy: " ZRAM_DEV " is swap or mounted");
		close(lock);
		return;
	}
	if (zram_initialized()) {
		/* Someone else's device (or one a crashed run left): not ours
		 * to wipe. */
		r->status = ZSB_BUSY;
		snprintf(r->reason, sizeof(r->reason),
			 "busy: zram0 is set up (initstate 1) by someone else; if it is stale: "
			 "echo 1 > " ZRAM_SYS "reset");
		close(lock);
		return;
	}
	err = sys_write("reset", "1");
	if (err) {
		r->status = err == -EBUSY ? ZSB_BUSY : ZSB_FAILED;
		snprintf(r->reason, sizeof(r->reason), "%s: cannot reset zram0: %s",
			 err == -EBUSY ? "busy" : "failed", strerror(-err));
		close(lock);
		return;
	}
	err = zram_fill_and_shrink(c, d, o, r);
	if (err == 0) {
		r->status = ZSB_OK;
		snprintf(r->reason, sizeof(r->reason),
			 "kernel figures: pages only, no metadata counted");
	} else {
		r->status = err == -2 ? ZSB_MISSING : ZSB_FAILED;
	}
	err = sys_write("reset", "1");
	if (err)
		fprintf(stderr, "zsbench: warning: could not reset zram0 at the end: %s\n",
			strerror(-err));
	close(lock);
}
