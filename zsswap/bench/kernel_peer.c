/*
 * kernel_peer.c - the kernel doing zsswap's job: a memory cgroup (v1) with
 * the budget as memory.limit_in_bytes, and /dev/zram0 as lz4 swap.
 *
 * Needs root, cgroup v1's memory controller at /sys/fs/cgroup/memory, zram0
 * free (bench/zram_dev.c, the tree's one kernel-zram driver, checks and
 * takes it) and no other swap active (so every page swapped goes to zram).
 * Everything is undone after the run, whatever happens: swapoff, zram0
 * reset, the cgroup removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "zram_dev.h"

int bench_write_file(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY), ok;

	if (fd < 0)
		return -errno;
	ok = write(fd, value, strlen(value)) == (ssize_t)strlen(value) ? 0 : -errno;
	close(fd);
	return ok;
}

uint64_t bench_read_u64(const char *path)
{
	unsigned long long v = 0;
	FILE *f = fopen(path, "r");

	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

const char *bench_kernel_unavailable(void)
{
	FILE *f;
	char line[256];
	int lines = 0;

	if (geteuid() != 0)
		return "needs root";
	if (access("/sys/fs/cgroup/memory/memory.limit_in_bytes", F_OK))
		return "no cgroup v1 memory controller at /sys/fs/cgroup/memory";
	f = fopen("/proc/swaps", "r");
	while (f && fgets(line, sizeof(line), f))
		lines++;
	if (f)
		fclose(f);
	if (lines > 1)
		return "a swap device is active already; the kernel peer needs zram0 alone";
	return NULL;
}

void bench_kernel_undo(struct zram_dev *dev)
{
	swapoff(ZRAM_DEV_PATH);
	zram_dev_release(dev, "zsswap-bench");
	rmdir(BENCH_CGROUP);
}

int bench_kernel_setup(size_t budget, uint64_t disksize, struct zram_dev *dev, char *why, size_t len)
{
	char v[32];

	if (zram_dev_open(dev, "lz4", NULL, disksize, why, len) != ZRAM_DEV_OK)
		return -1;
	mkdir(BENCH_CGROUP, 0755);
	snprintf(v, sizeof(v), "%zu", budget);
	/* Swappiness 100: at the default 60, cgroup v1 OOM-kills python3
	 * building 200 MB under a 48 MB limit here, with 2 GiB of zram free. */
	if (bench_write_file(BENCH_CGROUP "/memory.limit_in_bytes", v) ||
	    bench_write_file(BENCH_CGROUP "/memory.swappiness", "100") ||
	    system("mkswap " ZRAM_DEV_PATH " >/dev/null") != 0 || swapon(ZRAM_DEV_PATH, 0)) {
		snprintf(why, len, "setting up the cgroup and zram swap failed: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int bench_join_cgroup(void)
{
	char v[32];

	snprintf(v, sizeof(v), "%d", (int)getpid());
	return bench_write_file(BENCH_CGROUP "/cgroup.procs", v);
}

/* In the child: join the cgroup, then the workload in plain memory. */
static void run_in_cgroup(const struct bench_config *b, struct bench_result *r)
{
	unsigned char *mem;

	if (bench_join_cgroup()) {
		snprintf(r->missing, sizeof(r->missing), "cannot join the cgroup");
		return;
	}
	mem = mmap(NULL, b->work.bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED || workload_run(&b->work, mem, &r->work))
		snprintf(r->missing, sizeof(r->missing), "the workload failed");
}

int bench_run_kernel(const struct bench_config *b, struct bench_result *out)
{
	const char *why = bench_kernel_unavailable();
	struct zram_dev dev = { .lock_fd = -1, .fd = -1 };
	uint64_t mm[9] = { 0 };

	memset(out, 0, sizeof(*out));
	if (why) {
		snprintf(out->missing, sizeof(out->missing), "%s", why);
		return 0;
	}
	if (bench_kernel_setup(b->budget, b->work.bytes * 2, &dev, out->missing,
			       sizeof(out->missing))) {
		bench_kernel_undo(&dev);
		return 0;
	}
	bench_in_child(b, out, run_in_cgroup);
	out->kernel_cgroup_peak = bench_read_u64(BENCH_CGROUP "/memory.max_usage_in_bytes");
	if (zram_dev_mm_stat(mm) == 0)
		out->kernel_zram_max = mm[4];
	out->total_memory = out->kernel_cgroup_peak + out->kernel_zram_max;
	bench_kernel_undo(&dev);
	return 0;
}
