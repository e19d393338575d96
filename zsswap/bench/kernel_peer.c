/*
 * kernel_peer.c - the kernel doing zsswap's job: a memory cgroup (v1) with
 * the budget as memory.limit_in_bytes, and /dev/zram0 as lz4 swap.
 *
 * Needs root, cgroup v1's memory controller at /sys/fs/cgroup/memory, zram0
 * free (not initialised, not swap, not mounted; taken under bench's lock
 * file) and no other swap active (so every page swapped goes to zram).
 * Everything is undone after the run, whatever happens: swapoff, zram0
 * reset, the cgroup removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define CG "/sys/fs/cgroup/memory/zsswap-bench"
#define ZRAM_SYS "/sys/block/zram0/"
#define ZRAM_DEV "/dev/zram0"
#define ZRAM_LOCK "/tmp/zsbench-zram0.lock"

static int write_file(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY), ok;

	if (fd < 0)
		return -errno;
	ok = write(fd, value, strlen(value)) == (ssize_t)strlen(value) ? 0 : -errno;
	close(fd);
	return ok;
}

static uint64_t read_u64(const char *path, unsigned int field)
{
	unsigned long long v[9] = { 0 };
	FILE *f = fopen(path, "r");

	if (!f)
		return 0;
	if (fscanf(f, "%llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
		   &v[3], &v[4], &v[5], &v[6], &v[7], &v[8]) < (int)field + 1)
		v[field] = 0;
	fclose(f);
	return v[field];
}

/* Why the kernel peer cannot run here, or NULL. */
static const char *unavailable(void)
{
	FILE *f;
	char line[256];
	int lines = 0;

	if (geteuid() != 0)
		return "needs root";
	if (access("/sys/fs/cgroup/memory/memory.limit_in_bytes", F_OK))
		return "no cgroup v1 memory controller at /sys/fs/cgroup/memory";
	if (access(ZRAM_SYS "disksize", W_OK))
		return "no writable /sys/block/zram0 (modprobe zram)";
	if (read_u64(ZRAM_SYS "initstate", 0))
		return "zram0 is in use (initstate 1)";
	f = fopen("/proc/swaps", "r");
	while (f && fgets(line, sizeof(line), f))
		lines++;
	if (f)
		fclose(f);
	if (lines > 1)
		return "a swap device is active already; the kernel peer needs zram0 alone";
	return NULL;
}

static void undo(void)
{
	swapoff(ZRAM_DEV);
	write_file(ZRAM_SYS "reset", "1");
	rmdir(CG);
}

static int setup(const struct bench_config *b)
{
	char v[32];

	mkdir(CG, 0755);
	snprintf(v, sizeof(v), "%zu", b->budget);
	if (write_file(CG "/memory.limit_in_bytes", v) ||
	    write_file(ZRAM_SYS "comp_algorithm", "lz4"))
		return -1;
	snprintf(v, sizeof(v), "%zu", b->work.bytes * 2);
	if (write_file(ZRAM_SYS "disksize", v))
		return -1;
	if (system("mkswap " ZRAM_DEV " >/dev/null") != 0 || swapon(ZRAM_DEV, 0))
		return -1;
	return 0;
}

int bench_run_kernel(const struct bench_config *b, struct bench_result *out)
{
	const char *why = unavailable();
	int lock, status, pipefd[2];
	pid_t pid;

	memset(out, 0, sizeof(*out));
	if (why) {
		snprintf(out->missing, sizeof(out->missing), "%s", why);
		return 0;
	}
	lock = open(ZRAM_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock < 0 || flock(lock, LOCK_EX | LOCK_NB)) {
		snprintf(out->missing, sizeof(out->missing), "zram0 is locked by another run");
		if (lock >= 0)
			close(lock);
		return 0;
	}
	if (setup(b)) {
		snprintf(out->missing, sizeof(out->missing), "setting up cgroup + zram swap "
			 "failed: %s", strerror(errno));
		undo();
		close(lock);
		return 0;
	}
	if (pipe(pipefd))
		abort();
	pid = fork();
	if (pid == 0) {
		struct bench_result r = { 0 };
		char v[32];
		unsigned char *mem;

		snprintf(v, sizeof(v), "%d", (int)getpid());
		if (write_file(CG "/cgroup.procs", v))
			_exit(2);
		mem = mmap(NULL, b->work.bytes, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (mem == MAP_FAILED || workload_run(&b->work, mem, &r.work))
			_exit(3);
		if (write(pipefd[1], &r, sizeof(r)) != sizeof(r))
			_exit(4);
		_exit(0);
	}
	close(pipefd[1]);
	if (read(pipefd[0], out, sizeof(*out)) != sizeof(*out))
		snprintf(out->missing, sizeof(out->missing), "the workload failed");
	close(pipefd[0]);
	waitpid(pid, &status, 0);
	out->kernel_cgroup_peak = read_u64(CG "/memory.max_usage_in_bytes", 0);
	out->kernel_zram_max = read_u64(ZRAM_SYS "mm_stat", 4);
	out->total_memory = out->kernel_cgroup_peak + out->kernel_zram_max;
	undo();
	close(lock);
	return 0;
}
