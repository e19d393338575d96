/*
 * zsram - load pages into a compressed page store, verify them, report.
 *
 * Sources: files (each padded to whole pages), every regular file of a
 * corpus directory, or a live process's memory (its readable private and
 * anonymous mappings, through /proc/PID/mem).  The pages are written into a
 * store of exactly that many pages, read back and compared byte for byte,
 * and the tool prints mm_stat (the stable line: "mm_stat:" and zram's nine
 * numbers), io_stat, the compression ratio, throughput and memory.
 *
 * Benchmark mode (--bench) measures, in one run on the same pages, bare lz4
 * compress/decompress against the store's write/read (single thread), and
 * with --kernel-zram also the kernel's zram0 mem_used_total for the same
 * pages beside the store's memory.
 *
 * Exit status: 0 all verified; 1 a run-time error or a verify mismatch;
 * 2 a bad command line.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lz4.h>

#include <zsram.h>

#include "pages.h"	/* common/: page-size check, same-filled check */

#define DEFAULT_DICT_SIZE	(16 * 1024)
#define DICT_MAX_SAMPLES	2048
#define MAX_PID_REGION		(4ul << 30)	/* larger mappings are skipped */

struct options {
	struct zsram_config cfg;
	const char *dict_file;
	size_t train_dict;		/* 0: no training; else dictionary bytes */
	const char *corpus_dir;
	long pid;			/* 0: none */
	unsigned int threads;
	double discard;			/* fraction, 0: none */
	uint64_t seed;
	size_t recomp_threshold;
	bool recompress;
	bool class_stats;
	bool bench;
	bool kernel_zram;
	char **files;
	int nr_files;
};

/* The pages to load: one buffer of nr_pages * page_size bytes. */
struct input {
	unsigned char *pages;
	uint64_t nr_pages;
	size_t cap_bytes;
};

static const char *prog = "zsram";

static void usage(FILE *out)
{
	fprintf(out,
"usage: zsram [options] FILE...\n"
"       zsram [options] --corpus DIR\n"
"       zsram [options] --pid PID\n"
"Loads the pages into a compressed store, verifies every page byte-exact and\n"
"prints mm_stat (zram's nine numbers), io_stat, ratio, throughput, memory.\n"
"  -a, --algorithm NAME      lz4 (default), lz4hc, zstd\n"
"  -l, --level N             compression level (lz4: acceleration)\n"
"      --dict FILE           zstd dictionary to use\n"
"      --train-dict[=BYTES]  train a zstd dictionary on the input (16 KiB)\n"
"      --recompress NAME[:LEVEL]  after loading, recompress pages of at least\n"
"                            --recompress-threshold bytes (default 1024)\n"
"      --recompress-threshold BYTES\n"
"      --mem-limit SIZE      memory limit (K, M, G suffixes)\n"
"      --writeback FILE      backing file for cold pages past the limit\n"
"      --discard FRACTION    discard a random fraction of pages, compact,\n"
"                            verify again\n"
"      --seed N              random seed for --discard (1)\n"
"  -t, --threads N           writer/reader threads (1)\n"
"      --page-size N         4096 (default) .. 65536\n"
"      --allocator NAME      zsmalloc (default)%s\n"
"      --class-stats         print the allocator's class table\n"
"      --bench               bare lz4 vs store throughput, single thread\n"
"      --kernel-zram         with --bench, as root: the kernel zram0's\n"
"                            mem_used_total for the same pages\n"
"  -h, --help\n",
#ifdef ZSRAM_TOOL_HAS_ZPOOL
		", zbud, z3fold"
#else
		""
#endif
		);
}

static void die_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", prog);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'zsram --help'.\n");
	exit(2);
}

static double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of the calling thread (user + system): what the benchmark
 * compares, so that other processes on the machine do not skew it. */
static double thread_cpu_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t parse_size(const char *s, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *s == '-')
		die_usage("bad %s", what);
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	default: break;
	}
	if (*end == 'i' || *end == 'B')
		end += (*end == 'i' && end[1] == 'B') ? 2 : 1;
	if (*end)
		die_usage("bad %s", what);
	return v;
}

static long parse_long(const char *s, const char *what, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 0);
	if (errno || end == s || *end || v < min || v > max)
		die_usage("bad %s", what);
	return v;
}

static void parse_codec(const char *arg, struct zsram_codec_config *c)
{
	char name[32];
	const char *colon = strchr(arg, ':');
	size_t len = colon ? (size_t)(colon - arg) : strlen(arg);

	if (len >= sizeof(name))
		die_usage("unknown algorithm '%s' (lz4, lz4hc, zstd)", arg);
	memcpy(name, arg, len);
	name[len] = 0;
	if (zsram_algorithm_from_name(name, &c->algorithm))
		die_usage("unknown algorithm '%s' (lz4, lz4hc, zstd)", name);
	if (colon)
		c->level = (int)parse_long(colon + 1, "level", -100, 100000);
}

static void parse_options(int argc, char **argv, struct options *o)
{
	enum { O_DICT = 256, O_TRAIN, O_RECOMP, O_RECOMP_T, O_LIMIT, O_WB,
	       O_DISCARD, O_SEED, O_PS, O_ALLOC, O_CLASS, O_BENCH, O_KZRAM,
	       O_CORPUS, O_PID };
	static const struct option longopts[] = {
		{ "algorithm", required_argument, NULL, 'a' },
		{ "level", required_argument, NULL, 'l' },
		{ "dict", required_argument, NULL, O_DICT },
		{ "train-dict", optional_argument, NULL, O_TRAIN },
		{ "recompress", required_argument, NULL, O_RECOMP },
		{ "recompress-threshold", required_argument, NULL, O_RECOMP_T },
		{ "mem-limit", required_argument, NULL, O_LIMIT },
		{ "writeback", required_argument, NULL, O_WB },
		{ "discard", required_argument, NULL, O_DISCARD },
		{ "seed", required_argument, NULL, O_SEED },
		{ "threads", required_argument, NULL, 't' },
		{ "page-size", required_argument, NULL, O_PS },
		{ "allocator", required_argument, NULL, O_ALLOC },
		{ "class-stats", no_argument, NULL, O_CLASS },
		{ "bench", no_argument, NULL, O_BENCH },
		{ "kernel-zram", no_argument, NULL, O_KZRAM },
		{ "corpus", required_argument, NULL, O_CORPUS },
		{ "pid", required_argument, NULL, O_PID },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	char *end;

	zsram_config_init(&o->cfg);
	o->threads = 1;
	o->seed = 1;
	o->recomp_threshold = 1024;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":a:l:t:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			if (zsram_algorithm_from_name(optarg, &o->cfg.codec.algorithm))
				die_usage("unknown algorithm '%s' (lz4, lz4hc, zstd)", optarg);
			break;
		case 'l':
			o->cfg.codec.level = (int)parse_long(optarg, "level", -100, 100000);
			break;
		case O_DICT: o->dict_file = optarg; break;
		case O_TRAIN:
			o->train_dict = optarg ? parse_size(optarg, "dictionary size") :
				DEFAULT_DICT_SIZE;
			if (o->train_dict < 256 || o->train_dict > (1u << 20))
				die_usage("dictionary size %s out of range (256..1M)",
					  optarg ? optarg : "");
			break;
		case O_RECOMP:
			parse_codec(optarg, &o->cfg.recomp);
			o->cfg.recomp_enabled = 1;
			o->recompress = true;
			break;
		case O_RECOMP_T:
			o->recomp_threshold = parse_size(optarg, "recompress threshold");
			break;
		case O_LIMIT: o->cfg.mem_limit = parse_size(optarg, "memory limit"); break;
		case O_WB: o->cfg.backing_file = optarg; break;
		case O_DISCARD:
			errno = 0;
			o->discard = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(o->discard >= 0 && o->discard <= 1))
				die_usage("bad discard fraction '%s' (0..1)", optarg);
			break;
		case O_SEED: o->seed = parse_size(optarg, "seed"); break;
		case 't':
			o->threads = (unsigned int)parse_long(optarg, "thread count", 1, 256);
			break;
		case O_PS: o->cfg.page_size = parse_size(optarg, "page size"); break;
		case O_ALLOC: {
			const char *names[8];
			size_t n = zsram_allocators(names, 8);
			bool ok = false;

			for (size_t i = 0; i < n && i < 8; i++)
				ok |= strcmp(names[i], optarg) == 0;
			if (!ok)
				die_usage("unknown or unavailable allocator '%s'", optarg);
			o->cfg.allocator = optarg;
			break;
		}
		case O_CLASS: o->class_stats = true; break;
		case O_BENCH: o->bench = true; break;
		case O_KZRAM: o->kernel_zram = true; break;
		case O_CORPUS: o->corpus_dir = optarg; break;
		case O_PID: o->pid = parse_long(optarg, "process id", 1, INT_MAX); break;
		case 'h': usage(stdout); exit(0);
		case ':': die_usage("option '%s' needs an argument", argv[optind - 1]); break;
		default: die_usage("unknown option '%s'", argv[optind - 1]); break;
		}
	}
	o->files = argv + optind;
	o->nr_files = argc - optind;
	if (!o->nr_files && !o->corpus_dir && !o->pid)
		die_usage("%s", "no input: give FILE..., --corpus DIR or --pid PID");
	if ((o->nr_files != 0) + (o->corpus_dir != NULL) + (o->pid != 0) > 1)
		die_usage("%s", "give only one kind of input: FILE..., --corpus or --pid");
	if ((o->dict_file || o->train_dict) && o->cfg.codec.algorithm != ZSRAM_ALG_ZSTD)
		die_usage("%s", "a dictionary needs --algorithm zstd");
	if (o->kernel_zram && !o->bench)
		die_usage("%s", "--kernel-zram goes with --bench");
	if (o->cfg.backing_file && !o->cfg.mem_limit)
		die_usage("%s", "--writeback needs --mem-limit (pages go back when it is reached)");
}

/* ---- Input ---- */

static int input_reserve(struct input *in, size_t page_size, size_t more)
{
	size_t need = (size_t)in->nr_pages * page_size + more;

	if (need <= in->cap_bytes)
		return 0;
	size_t cap = in->cap_bytes ? in->cap_bytes : (1u << 20);
	while (cap < need)
		cap *= 2;
	unsigned char *p = realloc(in->pages, cap);
	if (!p)
		return -ENOMEM;
	in->pages = p;
	in->cap_bytes = cap;
	return 0;
}

/* Appends len bytes read from fd at offset (pread) or sequentially (read if
 * offset < 0), padded to whole pages.  Returns 0, or -errno. */
static int input_append_fd(struct input *in, size_t ps, int fd, off_t offset,
			   size_t len)
{
	size_t pages = (len + ps - 1) / ps;
	unsigned char *dst;
	size_t got = 0;

	if (input_reserve(in, ps, pages * ps))
		return -ENOMEM;
	dst = in->pages + in->nr_pages * ps;
	while (got < len) {
		ssize_t n = offset < 0 ? read(fd, dst + got, len - got) :
			pread(fd, dst + got, len - got, offset + (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got == 0)
		return -EIO;
	pages = (got + ps - 1) / ps;
	memset(dst + got, 0, pages * ps - got);
	in->nr_pages += pages;
	return 0;
}

static int load_file(struct input *in, size_t ps, const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int err;

	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "%s: cannot open '%s': %s\n", prog, path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		fprintf(stderr, "%s: '%s' is a directory (use --corpus DIR)\n", prog, path);
		close(fd);
		return -1;
	}
	if (st.st_size == 0 && S_ISREG(st.st_mode)) {
		close(fd);
		return 0;	/* adds nothing; an all-empty input is refused later */
	}
	err = input_append_fd(in, ps, fd, -1, S_ISREG(st.st_mode) ?
			      (size_t)st.st_size : ((size_t)1 << 30));
	close(fd);
	if (err && err != -EIO) {
		fprintf(stderr, "%s: cannot read '%s': %s\n", prog, path, strerror(-err));
		return -1;
	}
	return 0;
}

static int load_corpus(struct input *in, size_t ps, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[PATH_MAX];
	int files = 0;

	if (!d) {
		fprintf(stderr, "%s: cannot open corpus directory '%s': %s\n", prog, dir,
			strerror(errno));
		return -1;
	}
	while ((e = readdir(d))) {
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0)
			continue;
		if (load_file(in, ps, path)) {
			closedir(d);
			return -1;
		}
		files++;
	}
	closedir(d);
	if (!files) {
		fprintf(stderr, "%s: corpus directory '%s' holds no non-empty regular file\n",
			prog, dir);
		return -1;
	}
	return 0;
}

/* Readable mappings of the process, except the kernel's special ones and
 * shared file mappings (code and data of files are not the process's own
 * memory). */
static int load_pid(struct input *in, size_t ps, long pid)
{
	char path[64], line[1024];
	FILE *maps;
	int fd;
	uint64_t regions = 0, skipped = 0;

	snprintf(path, sizeof(path), "/proc/%ld/maps", pid);
	maps = fopen(path, "r");
	if (!maps) {
		fprintf(stderr, "%s: cannot read the memory map of process %ld: %s\n",
			prog, pid, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "/proc/%ld/mem", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "%s: cannot read the memory of process %ld: %s\n",
			prog, pid, strerror(errno));
		fclose(maps);
		return -1;
	}
	while (fgets(line, sizeof(line), maps)) {
		unsigned long start, end, inode;
		char perms[8] = "", name[512] = "";

		if (sscanf(line, "%lx-%lx %7s %*s %*s %lu %511[^\n]", &start, &end, perms,
			   &inode, name) < 4)
			continue;
		if (perms[0] != 'r' || perms[3] != 'p')
			continue;
		if (strstr(name, "[vvar") || strstr(name, "[vsyscall]") ||
		    strstr(name, "[vdso]"))
			continue;
		/* A private file mapping that is not writable is the file's
		 * bytes, not the process's memory. */
		if (inode != 0 && perms[1] != 'w')
			continue;
		/* Reservations far larger than any real heap (sanitizer
		 * shadows, guard areas) are left out. */
		if (end - start > MAX_PID_REGION) {
			skipped++;
			continue;
		}
		if (input_append_fd(in, ps, fd, (off_t)start, end - start) == 0)
			regions++;
	}
	close(fd);
	fclose(maps);
	if (skipped)
		fprintf(stderr, "%s: process %ld: %" PRIu64 " mappings larger than %d GiB left out\n",
			prog, pid, skipped, (int)(MAX_PID_REGION >> 30));
	if (!regions) {
		fprintf(stderr, "%s: cannot read the memory of process %ld: "
			"no readable region (permission? try as root)\n", prog, pid);
		return -1;
	}
	return 0;
}

static void *map_dict(const char *path, size_t *size)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	void *p;

	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size == 0) {
		fprintf(stderr, "%s: cannot open dictionary '%s': %s\n", prog, path,
			fd < 0 ? strerror(errno) : "empty file");
		exit(1);
	}
	p = malloc((size_t)st.st_size);
	if (!p || read(fd, p, (size_t)st.st_size) != st.st_size) {
		fprintf(stderr, "%s: cannot read dictionary '%s'\n", prog, path);
		exit(1);
	}
	close(fd);
	*size = (size_t)st.st_size;
	return p;
}

/* Trains a dictionary on up to DICT_MAX_SAMPLES evenly spaced pages that are
 * not same-filled. */
static void *train_dict(const struct input *in, size_t ps, size_t dict_cap,
			size_t *dict_size)
{
	unsigned char *samples = malloc(DICT_MAX_SAMPLES * ps);
	void *dict = malloc(dict_cap);
	uint64_t step = in->nr_pages / DICT_MAX_SAMPLES + 1;
	size_t n = 0;
	long got;

	if (!samples || !dict) {
		fprintf(stderr, "%s: out of memory training the dictionary\n", prog);
		exit(1);
	}
	for (uint64_t i = 0; i < in->nr_pages && n < DICT_MAX_SAMPLES; i += step) {
		const unsigned char *p = in->pages + i * ps;

		if (!zs_page_same_filled(p, ps, NULL))
			memcpy(samples + n++ * ps, p, ps);
	}
	got = n ? zsram_train_dictionary(samples, n, ps, dict, dict_cap) : -EINVAL;
	free(samples);
	if (got < 0) {
		fprintf(stderr, "%s: cannot train a dictionary on this input "
			"(%zu sample pages; too few or too uniform)\n", prog, n);
		exit(1);
	}
	*dict_size = (size_t)got;
	return dict;
}

/* ---- Memory ---- */

/* RssAnon of this process in bytes (anonymous resident memory: the store's
 * pages and metadata; file mappings do not count). */
static uint64_t rss_anon(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	uint64_t kb = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "RssAnon: %" SCNu64, &kb) == 1)
			break;
	fclose(f);
	return kb * 1024;
}

/* ---- Parallel write / read ---- */

struct io_job {
	struct zsram *store;
	const struct input *in;
	const uint8_t *skip;		/* pages not to verify (refused), or NULL */
	uint8_t *refused;		/* set for pages refused with ENOSPC */
	unsigned int thread, threads;
	bool write;
	uint64_t errors, mismatches, refused_count;
	int first_err;
};

#define IO_CHUNK 64	/* pages per chunk handed round-robin to threads */

static void *io_thread(void *arg)
{
	struct io_job *j = arg;
	size_t ps = zsram_page_size(j->store);
	unsigned char *buf = malloc(ps);

	if (!buf) {
		j->errors++;
		j->first_err = -ENOMEM;
		return NULL;
	}
	for (uint64_t c = (uint64_t)j->thread * IO_CHUNK; c < j->in->nr_pages;
	     c += (uint64_t)j->threads * IO_CHUNK) {
		for (uint64_t i = c; i < c + IO_CHUNK && i < j->in->nr_pages; i++) {
			const unsigned char *want = j->in->pages + i * ps;
			int err;

			if (j->write) {
				err = zsram_write_page(j->store, i, want);
				if (err == -ENOSPC) {
					j->refused[i] = 1;
					j->refused_count++;
					continue;
				}
			} else {
				err = zsram_read_page(j->store, i, buf);
				if (!err && !(j->skip && j->skip[i]) &&
				    memcmp(buf, want, ps) != 0)
					j->mismatches++;
			}
			if (err) {
				if (!j->errors)
					j->first_err = err;
				j->errors++;
			}
		}
	}
	free(buf);
	return NULL;
}

static double process_cpu_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds (all threads) of the last run_io. */
static double last_io_cpu;

/* Runs the write or read pass on `threads` threads; returns wall seconds
 * (and leaves the CPU seconds in last_io_cpu). */
static double run_io(struct zsram *store, const struct input *in, unsigned int threads,
		     bool write, uint8_t *refused, const uint8_t *skip,
		     struct io_job *total)
{
	pthread_t tid[256];
	struct io_job jobs[256];
	double t0, c0 = process_cpu_sec();

	memset(total, 0, sizeof(*total));
	for (unsigned int t = 0; t < threads; t++)
		jobs[t] = (struct io_job){ .store = store, .in = in, .skip = skip,
			.refused = refused, .thread = t, .threads = threads,
			.write = write };
	t0 = now_sec();
	if (threads == 1) {
		io_thread(&jobs[0]);
	} else {
		for (unsigned int t = 0; t < threads; t++)
			if (pthread_create(&tid[t], NULL, io_thread, &jobs[t])) {
				fprintf(stderr, "%s: cannot start a thread\n", prog);
				exit(1);
			}
		for (unsigned int t = 0; t < threads; t++)
			pthread_join(tid[t], NULL);
	}
	t0 = now_sec() - t0;
	last_io_cpu = process_cpu_sec() - c0;
	for (unsigned int t = 0; t < threads; t++) {
		if (jobs[t].errors && !total->errors)
			total->first_err = jobs[t].first_err;
		total->errors += jobs[t].errors;
		total->mismatches += jobs[t].mismatches;
		total->refused_count += jobs[t].refused_count;
	}
	return t0;
}

static void print_mm_stat_line_values(const struct zsram_mm_stat *mm, const char *label)
{
	const struct zsram_mm_stat s = *mm;

	printf("%s %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
	       " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", label,
	       s.orig_data_size, s.compr_data_size, s.mem_used_total, s.mem_limit,
	       s.mem_used_max, s.same_pages, s.pages_compacted, s.huge_pages,
	       s.huge_pages_since);
}

static void print_mm_stat_line(struct zsram *store, const char *label)
{
	struct zsram_mm_stat s;

	zsram_get_mm_stat(store, &s);
	print_mm_stat_line_values(&s, label);
}

static double mib(uint64_t bytes)
{
	return (double)bytes / (1024.0 * 1024.0);
}

/* ---- Benchmark ---- */

static int kernel_zram_mem_used(const struct input *in, size_t ps,
				const char *alg, uint64_t *mem_used, uint64_t *compr);

/*
 * Bare lz4 and the store on the same pages, interleaved in batches of
 * BENCH_BATCH pages (bare batch, then the same batch through the store) so
 * that both see the same machine load; each side's time is summed over the
 * batches, and the best of BENCH_ROUNDS rounds is kept.  The store's write
 * is measured twice: into a fresh store (which includes getting its memory
 * from the system) and rewriting the same pages into the filled store
 * (steady state: memory is reused).  Times are the thread's CPU time (user
 * and system, so page faults count), not wall time.
 *
 * Bare lz4 writes into a buffer made resident beforehand, so the fresh store
 * also pays for memory bare lz4 never asks for.  A third peer shows that
 * price alone: bare lz4 packing its output into fresh memory, made resident
 * BENCH_POPULATE bytes at a time ahead of the output (the cheapest way to get
 * new memory from the kernel), which is the least any store filling fresh
 * memory can cost.
 */
#define BENCH_BATCH	32
#define BENCH_ROUNDS	5
#define BENCH_POPULATE	(1u << 20)

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* Bare lz4 into fresh memory: compresses pages [b, e) to *out, packed,
 * populating the region ahead of the output. */
struct fresh_out {
	unsigned char *mem;
	size_t cap, used, populated;
};

static void compress_into_fresh(struct fresh_out *f, void *state, const unsigned char *pages,
				uint64_t b, uint64_t e, size_t ps, int bound, int accel)
{
	for (uint64_t i = b; i < e; i++) {
		if (f->used + (size_t)bound > f->populated && f->populated < f->cap) {
			size_t step = f->cap - f->populated < BENCH_POPULATE ?
				      f->cap - f->populated : BENCH_POPULATE;

			(void)madvise(f->mem + f->populated, step, MADV_POPULATE_WRITE);
			f->populated += step;
		}
		f->used += (size_t)LZ4_compress_fast_extState(state,
				(const char *)pages + i * ps, (char *)f->mem + f->used,
				(int)ps, bound, accel);
	}
}

static int run_bench(const struct options *o, const struct input *in)
{
	size_t ps = o->cfg.page_size;
	uint64_t n = in->nr_pages;
	int bound = LZ4_compressBound((int)ps);
	unsigned char *comp = malloc((size_t)n * (size_t)bound);
	int *clen = malloc(n * sizeof(int));
	unsigned char *out = malloc(ps);
	void *state = malloc((size_t)LZ4_sizeofState());
	int accel = o->cfg.codec.level ? o->cfg.codec.level : 1;
	double best[6] = { 1e30, 1e30, 1e30, 1e30, 1e30, 1e30 };	/* c, d, w, rw, r, cf */
	uint64_t bytes = n * ps;
	struct zsram_mm_stat mm = { 0 };
	uint64_t store_rss = 0;

	if (!comp || !clen || !out || !state) {
		fprintf(stderr, "%s: out of memory for the benchmark\n", prog);
		return 1;
	}
	if (o->cfg.codec.algorithm != ZSRAM_ALG_LZ4) {
		fprintf(stderr, "%s: --bench compares with bare lz4: use --algorithm lz4\n", prog);
		return 2;
	}
	/* Make the bare side's buffers resident now, so that the first
	 * round's resident-memory delta is the store's alone. */
	memset(comp, 0, (size_t)n * (size_t)bound);
	memset(clen, 0, n * sizeof(int));
	memset(out, 0, ps);
	for (int r = 0; r < BENCH_ROUNDS; r++) {
		struct zsram_config cfg = o->cfg;
		struct zsram *store;
		double t[6] = { 0 }, t0;
		uint64_t rss0;
		struct fresh_out fresh = { .cap = (size_t)n * (size_t)bound };

		cfg.nr_pages = n;
		rss0 = rss_anon();
		store = zsram_create(&cfg);
		if (!store) {
			fprintf(stderr, "%s: cannot create the store: %s\n", prog, strerror(errno));
			return 1;
		}
		/* Compress / fresh write, then rewrite.  The fresh-memory peer
		 * is mapped after the store's memory is measured (round 0) */
		if (r > 0) {
			fresh.mem = mmap(NULL, fresh.cap, PROT_READ | PROT_WRITE,
					 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
			if (fresh.mem == MAP_FAILED)
				fresh.mem = NULL;
		}
		for (int pass = 0; pass < 2; pass++) {
			for (uint64_t b = 0; b < n; b += BENCH_BATCH) {
				uint64_t e = b + BENCH_BATCH < n ? b + BENCH_BATCH : n;

				t0 = thread_cpu_sec();
				for (uint64_t i = b; i < e; i++)
					clen[i] = LZ4_compress_fast_extState(state,
						(const char *)in->pages + i * ps,
						(char *)comp + i * (size_t)bound, (int)ps, bound, accel);
				t[0] += thread_cpu_sec() - t0;
				t0 = thread_cpu_sec();
				for (uint64_t i = b; i < e; i++)
					if (zsram_write_page(store, i, in->pages + i * ps)) {
						fprintf(stderr, "%s: store write failed\n", prog);
						return 1;
					}
				t[pass ? 3 : 2] += thread_cpu_sec() - t0;
				if (pass == 0 && fresh.mem) {
					t0 = thread_cpu_sec();
					compress_into_fresh(&fresh, state, in->pages, b, e, ps,
							    bound, accel);
					t[5] += thread_cpu_sec() - t0;
				}
			}
			/* Memory: from the first round only, when nothing a
			 * destroyed store freed can be reused unseen. */
			if (pass == 0 && r == 0) {
				store_rss = rss_anon() - rss0;
				zsram_get_mm_stat(store, &mm);
			}
		}
		/* Decompress / read. */
		for (uint64_t b = 0; b < n; b += BENCH_BATCH) {
			uint64_t e = b + BENCH_BATCH < n ? b + BENCH_BATCH : n;

			t0 = thread_cpu_sec();
			for (uint64_t i = b; i < e; i++)
				if (LZ4_decompress_safe((const char *)comp + i * (size_t)bound,
							(char *)out, clen[i], (int)ps) != (int)ps) {
					fprintf(stderr, "%s: bare lz4 failed on page %" PRIu64 "\n",
						prog, i);
					return 1;
				}
			t[1] += thread_cpu_sec() - t0;
			t0 = thread_cpu_sec();
			for (uint64_t i = b; i < e; i++)
				if (zsram_read_page(store, i, out)) {
					fprintf(stderr, "%s: store read failed\n", prog);
					return 1;
				}
			t[4] += thread_cpu_sec() - t0;
		}
		t[0] /= 2;	/* compressed twice: once per write pass */
		for (int k = 0; k < 6; k++)
			if (t[k] < best[k] && (k != 5 || fresh.mem))
				best[k] = t[k];
		if (fresh.mem)
			munmap(fresh.mem, fresh.cap);
		zsram_destroy(store);
	}
	printf("bench: %" PRIu64 " pages, %.1f MiB, lz4 acceleration %d, single thread, "
	       "thread CPU time, best of %d\n", n, mib(bytes), accel, BENCH_ROUNDS);
	printf("bare lz4: compress %.1f MB/s, decompress %.1f MB/s\n",
	       (double)bytes / best[0] / 1e6, (double)bytes / best[1] / 1e6);
	printf("zsram: write (fresh store) %.1f MB/s, write (rewrite) %.1f MB/s, read %.1f MB/s\n",
	       (double)bytes / best[2] / 1e6, (double)bytes / best[3] / 1e6,
	       (double)bytes / best[4] / 1e6);
	printf("store/bare: write fresh %.1f%%, rewrite %.1f%%, read %.1f%%\n",
	       100.0 * best[0] / best[2], 100.0 * best[0] / best[3], 100.0 * best[1] / best[4]);
	if (best[5] < 1e30)
		printf("bare lz4 into fresh memory: %.1f MB/s (%.1f%% of bare lz4); "
		       "store write fresh / this: %.1f%%\n", (double)bytes / best[5] / 1e6,
		       100.0 * best[0] / best[5], 100.0 * best[5] / best[2]);
	printf("memory: store mem_used_total %" PRIu64 " (%.2f MiB), store resident "
	       "(RssAnon delta) %" PRIu64 " (%.2f MiB), compr_data_size %" PRIu64 "\n",
	       mm.mem_used_total, mib(mm.mem_used_total), store_rss, mib(store_rss),
	       mm.compr_data_size);
	print_mm_stat_line_values(&mm, "mm_stat:");
	if (o->kernel_zram) {
		uint64_t kused = 0, kcompr = 0;

		if (kernel_zram_mem_used(in, ps, "lz4", &kused, &kcompr) == 0) {
			printf("kernel zram0 (lz4): mem_used_total %" PRIu64 " (%.2f MiB), "
			       "compr_data_size %" PRIu64 "\n", kused, mib(kused), kcompr);
			printf("store resident / kernel mem_used_total: %.3f; "
			       "store mem_used_total / kernel: %.3f\n",
			       (double)store_rss / (double)kused,
			       (double)mm.mem_used_total / (double)kused);
		}
	}
	free(comp);
	free(clen);
	free(out);
	free(state);
	return 0;
}

static int write_sysfs(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, value, strlen(value));
	close(fd);
	return n == (ssize_t)strlen(value) ? 0 : -EIO;
}

/* Writes the pages to /dev/zram0 (which must be unused: disksize 0) with
 * O_DIRECT, reads its mm_stat, and resets the device. */
static int kernel_zram_mem_used(const struct input *in, size_t ps,
				const char *alg, uint64_t *mem_used, uint64_t *compr)
{
	const char *sys = "/sys/block/zram0";
	char path[128], buf[256];
	unsigned long long v[9] = { 0 };
	unsigned char *io;
	size_t chunk = 256 * ps;
	FILE *f;
	int fd, err = 0;

	if (ps != (size_t)sysconf(_SC_PAGESIZE)) {
		fprintf(stderr, "%s: kernel zram: page size differs from the kernel's\n", prog);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/disksize", sys);
	f = fopen(path, "r");
	if (!f || !fgets(buf, sizeof(buf), f) || strtoull(buf, NULL, 10) != 0) {
		fprintf(stderr, "%s: kernel zram: %s missing or in use (disksize not 0); skipped\n",
			prog, sys);
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	snprintf(path, sizeof(path), "%s/comp_algorithm", sys);
	if (write_sysfs(path, alg)) {
		fprintf(stderr, "%s: kernel zram: cannot select %s (root needed)\n", prog, alg);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/disksize", sys);
	snprintf(buf, sizeof(buf), "%" PRIu64, in->nr_pages * ps);
	if (write_sysfs(path, buf)) {
		fprintf(stderr, "%s: kernel zram: cannot set disksize\n", prog);
		return -1;
	}
	fd = open("/dev/zram0", O_WRONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0 || posix_memalign((void **)&io, ps, chunk)) {
		fprintf(stderr, "%s: kernel zram: cannot open /dev/zram0: %s\n", prog,
			strerror(errno));
		err = -1;
		goto reset;
	}
	for (uint64_t off = 0; off < in->nr_pages * ps; off += chunk) {
		size_t len = in->nr_pages * ps - off < chunk ? in->nr_pages * ps - off : chunk;

		memcpy(io, in->pages + off, len);
		if (pwrite(fd, io, len, (off_t)off) != (ssize_t)len) {
			fprintf(stderr, "%s: kernel zram: write failed: %s\n", prog, strerror(errno));
			err = -1;
			break;
		}
	}
	fsync(fd);
	close(fd);
	free(io);
	snprintf(path, sizeof(path), "%s/mm_stat", sys);
	f = fopen(path, "r");
	if (!err && f && fscanf(f, "%llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
				&v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8]) >= 3) {
		*compr = v[1];
		*mem_used = v[2];
	} else {
		err = -1;
	}
	if (f)
		fclose(f);
reset:
	snprintf(path, sizeof(path), "%s/reset", sys);
	write_sysfs(path, "1");
	return err;
}

/* ---- Main ---- */

static uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

int main(int argc, char **argv)
{
	struct options o = { 0 };
	struct input in = { 0 };
	struct zsram *store;
	struct io_job tot;
	struct zsram_mm_stat mm;
	struct zsram_io_stat io;
	uint8_t *refused;
	uint64_t rss0, rss1;
	double tw, tr, cw, cr;
	size_t ps;
	void *dict = NULL;
	int status = 0;

	parse_options(argc, argv, &o);
	ps = o.cfg.page_size;
	if (!zs_page_size_valid(ps))
		die_usage("page size must be a power of two, 4096..65536%s", "");

	if (o.pid) {
		if (load_pid(&in, ps, o.pid))
			return 1;
	} else if (o.corpus_dir) {
		if (load_corpus(&in, ps, o.corpus_dir))
			return 1;
	} else {
		for (int i = 0; i < o.nr_files; i++)
			if (load_file(&in, ps, o.files[i]))
				return 1;
	}
	if (!in.nr_pages) {
		fprintf(stderr, "%s: the input is empty: nothing to store\n", prog);
		return 1;
	}
	o.cfg.nr_pages = in.nr_pages;

	if (o.dict_file) {
		dict = map_dict(o.dict_file, &o.cfg.codec.dict_size);
	} else if (o.train_dict) {
		double t = now_sec();

		dict = train_dict(&in, ps, o.train_dict, &o.cfg.codec.dict_size);
		printf("dictionary: %zu bytes trained in %.2f s\n", o.cfg.codec.dict_size,
		       now_sec() - t);
	}
	o.cfg.codec.dict = dict;

	if (o.bench)
		return run_bench(&o, &in);

	refused = calloc(in.nr_pages, 1);
	if (!refused) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return 1;
	}
	rss0 = rss_anon();
	store = zsram_create(&o.cfg);
	if (!store) {
		if (errno == EINVAL)
			fprintf(stderr, "%s: cannot create the store: invalid configuration "
				"(level out of range, bad dictionary or page size)\n", prog);
		else
			fprintf(stderr, "%s: cannot create the store%s%s: %s\n", prog,
				o.cfg.backing_file ? " with backing file " : "",
				o.cfg.backing_file ? o.cfg.backing_file : "", strerror(errno));
		return 1;
	}

	tw = run_io(store, &in, o.threads, true, refused, NULL, &tot);
	cw = last_io_cpu;
	rss1 = rss_anon();
	if (tot.errors) {
		fprintf(stderr, "%s: %" PRIu64 " page writes failed: %s\n", prog, tot.errors,
			strerror(-tot.first_err));
		status = 1;
	}
	if (tot.refused_count)
		printf("mem_limit: %" PRIu64 " of %" PRIu64 " pages refused (ENOSPC)\n",
		       tot.refused_count, in.nr_pages);

	if (o.recompress) {
		double t = now_sec();
		long n = zsram_recompress(store, ZSRAM_SEL_ALL, o.recomp_threshold);
		struct zsram_recomp_stat rs;

		zsram_get_recomp_stat(store, &rs);
		printf("recompress: %ld of %" PRIu64 " pages tried recompressed with %s, "
		       "%" PRIu64 " bytes saved, %.2f s\n", n, rs.attempts,
		       zsram_algorithm_name(o.cfg.recomp.algorithm), rs.saved_bytes,
		       now_sec() - t);
	}

	/* Pages refused under the limit were never stored: they read as zeros. */
	for (uint64_t i = 0; i < in.nr_pages; i++)
		if (refused[i])
			memset(in.pages + i * ps, 0, ps);
	tr = run_io(store, &in, o.threads, false, NULL, NULL, &tot);
	cr = last_io_cpu;
	if (tot.errors || tot.mismatches) {
		fprintf(stderr, "%s: verify FAILED: %" PRIu64 " read errors, %" PRIu64
			" pages differ\n", prog, tot.errors, tot.mismatches);
		status = 1;
	} else {
		printf("verify: %" PRIu64 " pages byte-exact\n", in.nr_pages);
	}

	zsram_get_mm_stat(store, &mm);
	zsram_get_io_stat(store, &io);
	printf("input: %" PRIu64 " pages of %zu bytes (%.2f MiB); algorithm %s",
	       in.nr_pages, ps, mib(in.nr_pages * ps),
	       zsram_algorithm_name(o.cfg.codec.algorithm));
	if (o.cfg.codec.level)
		printf(" level %d", o.cfg.codec.level);
	if (o.cfg.codec.dict_size)
		printf(", dictionary %zu bytes", o.cfg.codec.dict_size);
	printf("; allocator %s; %u thread%s\n", o.cfg.allocator ? o.cfg.allocator : "zsmalloc",
	       o.threads, o.threads == 1 ? "" : "s");
	print_mm_stat_line(store, "mm_stat:");
	printf("io_stat: %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
	       io.failed_reads, io.failed_writes, io.invalid_io, io.notify_free);
	if (o.cfg.backing_file) {
		struct zsram_bd_stat bd;

		zsram_get_bd_stat(store, &bd);
		printf("bd_stat: %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", bd.bd_count,
		       bd.bd_reads, bd.bd_writes);
	}
	printf("ratio: orig/compr %.3f, orig/mem_used_total %.3f\n",
	       mm.compr_data_size ? (double)mm.orig_data_size / (double)mm.compr_data_size : 0.0,
	       mm.mem_used_total ? (double)mm.orig_data_size / (double)mm.mem_used_total : 0.0);
	printf("throughput: write %.1f MB/s, read+verify %.1f MB/s (wall clock); "
	       "per CPU second: write %.1f MB/s, read+verify %.1f MB/s\n",
	       (double)(in.nr_pages * ps) / tw / 1e6, (double)(in.nr_pages * ps) / tr / 1e6,
	       (double)(in.nr_pages * ps) / cw / 1e6, (double)(in.nr_pages * ps) / cr / 1e6);
	printf("memory: mem_used_total %.2f MiB, slot table %.2f MiB (12 bytes/page), "
	       "store resident (RssAnon delta) %.2f MiB\n", mib(mm.mem_used_total),
	       mib(in.nr_pages * 12), mib(rss1 > rss0 ? rss1 - rss0 : 0));

	if (o.discard > 0) {
		uint64_t s = o.seed ? o.seed : 1, discarded = 0;
		unsigned long freed;
		double t;

		for (uint64_t i = 0; i < in.nr_pages; i++) {
			if ((double)(xorshift64(&s) >> 11) / 9007199254740992.0 < o.discard) {
				zsram_discard(store, i, 1);
				memset(in.pages + i * ps, 0, ps);
				discarded++;
			}
		}
		t = now_sec();
		freed = zsram_compact(store);
		t = now_sec() - t;
		tr = run_io(store, &in, o.threads, false, NULL, NULL, &tot);
		printf("discard: %" PRIu64 " pages; compaction freed %lu pages in %.1f ms\n",
		       discarded, freed, t * 1e3);
		if (tot.errors || tot.mismatches) {
			fprintf(stderr, "%s: verify after discard FAILED: %" PRIu64 " read errors, %"
				PRIu64 " pages differ\n", prog, tot.errors, tot.mismatches);
			status = 1;
		} else {
			printf("verify after discard: %" PRIu64 " pages byte-exact\n", in.nr_pages);
		}
		print_mm_stat_line(store, "mm_stat_after_discard:");
	}
	if (o.class_stats)
		zsram_print_class_stats(store, stdout);
	zsram_destroy(store);
	free(refused);
	free(dict);
	free(in.pages);
	return status;
}
