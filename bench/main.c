/*
 * main.c - zsbench: options, the corpus, and the order of the runs.
 *
 * Compares allocators holding the same compressed pages of real memory:
 * glibc malloc, jemalloc, mimalloc, our zsmalloc, zbud and z3fold (through
 * zpool), and the kernel's zram.  See bench/README.md for what it measures
 * and how to read it; `zsbench --help` for the options.
 */
#define _GNU_SOURCE
#include "zsbench.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

#ifndef ZSBENCH_EXE_DIR
#define ZSBENCH_EXE_DIR ""
#endif
#ifndef ZSBENCH_OUT_DIR
#define ZSBENCH_OUT_DIR "zsbench-out"
#endif
#ifndef ZSBENCH_CAPTURE_TOOL
#define ZSBENCH_CAPTURE_TOOL "zs-capture"
#endif

/* The build tree's results folder when run from there, else ./zsbench-out. */
static const char *out_dir(void)
{
	return zs_cli_runs_from(ZSBENCH_EXE_DIR) ? ZSBENCH_OUT_DIR : "zsbench-out";
}

static const char *default_capture_tool(void)
{
	return zs_cli_helper_path("zs-capture", ZSBENCH_CAPTURE_TOOL);
}

static void usage(FILE *out)
{
	const char *folder = out_dir();

	fprintf(out,
		"Usage: zsbench [options]\n"
		"Compares allocators holding the same compressed pages of real process memory:\n"
		"glibc malloc, jemalloc, mimalloc, zsmalloc, zbud, z3fold and the kernel's zram.\n"
		"Each allocator runs in a forked child; resident memory is the child's own\n"
		"anonymous memory, all metadata included.\n"
		"\n"
		"Data:\n"
		"  --pages PATH         a page source: a file (read as 4 KiB pages: a page file,\n"
		"                       a VM image, a core dump, a binary) or a folder of *.pages\n"
		"                       files; repeatable.  Default: the captured corpus below\n"
		"  --corpus-dir DIR     where captured page files are cached\n"
		"                       (default %s/corpus)\n"
		"  --capture-mb N       megabytes each captured program builds up (default 200)\n"
		"  --recapture          capture again even if the cache exists\n"
		"  --capture-tool PATH  the capture program (default %s)\n"
		"  --compressor NAME    lz4 (default) or zstd\n"
		"  --level N            zstd level (default 3)\n"
		"  --huge-threshold N   compressed size from which a page is stored raw\n"
		"                       (default: zs_huge_class_size(), as zram does)\n"
		"Runs:\n"
		"  --sizes LIST         stored-byte sizes of the mixed datasets, e.g. 10M,100M,1G\n"
		"                       (default 10M,100M; 'none' for none)\n"
		"  --no-sources         do not run one dataset per page source\n"
		"  --scale N            each page source's dataset is its pages N times over,\n"
		"                       named e.g. python-x10 (default 1; 1..%d); --scale 10\n"
		"                       stores 0.6-1.2 GB per captured program\n"
		"  --peers LIST         comma-separated subset of: glibc,jemalloc,mimalloc,\n"
		"                       zsmalloc,zbud,z3fold,zram (default: all)\n"
		"  --free-fraction F    fraction freed at random before compaction (default 0.5)\n"
		"  --churn-ops N        churn operations (default: objects, at most 500000)\n"
		"  --read-ops N         random reads (default: 2 x objects, at most 1000000)\n"
		"  --threads N          churn from 1..N threads (default: CPUs, at most %d)\n"
		"  --thread-ops N       churn operations per thread (default 50000)\n"
		"  --seed N             seed of every random choice (default 1)\n"
		"  --peer-timeout S     seconds one peer may take on one dataset; then it is\n"
		"                       stopped and reported 'timeout' with the phases it did\n"
		"                       (default 30; 0: no limit)\n"
		"  --verify-all         check every object's bytes after filling too\n"
		"  --quick              a run of a minute or two: 32 MB captured per program\n"
		"                       (own cache: corpus-quick), one 10M mixed dataset,\n"
		"                       fewer operations; every peer, real figures\n"
		"  --smoke              seconds-long run: tiny capture, one 1M dataset, few ops;\n"
		"                       fails if zsmalloc's memory breakdown misses the measured\n"
		"                       resident growth by more than max(2%%, 256 KiB)\n"
		"Output:\n"
		"  --json PATH          results for machines (default %s/results.json);\n"
		"                       '-': on stdout, the tables then go to stderr\n"
		"  --plot PATH          PNG of the main comparison, drawn by gnuplot\n"
		"                       (default %s/results.png); --no-plot for none\n"
		"  --quiet              no progress on stderr (the bar, drawn when stderr is\n"
		"                       a terminal or ZS_PROGRESS=1, and the lines)\n"
		"  --help               this text\n"
		"  --version            the version\n"
		"Exit status: 0; 1 when a peer failed (an error, or bytes read back wrong:\n"
		"a bug), or on a bad page source; 2 on a bad option.  A missing, busy or\n"
		"timed-out peer is reported, not an error.\n",
		folder, default_capture_tool(), ZSB_MAX_SCALE, ZSB_MAX_THREADS, folder, folder);
}

static void die_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "zsbench: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'zsbench --help'.\n");
	exit(2);
}

static uint64_t parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max) {
		fprintf(stderr,
			"zsbench: %s: '%s' is not a whole number in %llu..%llu\n"
			"Try 'zsbench --help'.\n",
			opt, s, (unsigned long long)min, (unsigned long long)max);
		exit(2);
	}
	return v;
}

/* "10M", "1G", "512K", "123": bytes. */
static int parse_size(const char *s, uint64_t *bytes)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v <= 0)
		return -1;
	switch (*end) {
	case 'K':
	case 'k':
		v *= 1024;
		end++;
		break;
	case 'M':
	case 'm':
		v *= 1024 * 1024;
		end++;
		break;
	case 'G':
	case 'g':
		v *= 1024.0 * 1024 * 1024;
		end++;
		break;
	case '\0': break;
	default: return -1;
	}
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end || v < 4096 || v > 1e13)
		return -1;
	*bytes = (uint64_t)v;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds the *.pages files of dir (sorted), or dir itself when a file. */
static int add_pages(char **paths, unsigned int *n, const char *path)
{
	struct stat st;
	DIR *dir;
	struct dirent *e;
	unsigned int first = *n;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "zsbench: page source '%s': %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		if (*n >= ZSB_MAX_SOURCES) {
			fprintf(stderr, "zsbench: at most %d page sources\n", ZSB_MAX_SOURCES);
			return -1;
		}
		paths[(*n)++] = strdup(path);
		return 0;
	}
	dir = opendir(path);
	if (!dir) {
		fprintf(stderr, "zsbench: cannot read folder '%s': %s\n", path, strerror(errno));
		return -1;
	}
	while ((e = readdir(dir)) != NULL) {
		size_t len = strlen(e->d_name);
		char *full;

		if (len <= 6 || strcmp(e->d_name + len - 6, ".pages") != 0)
			continue;
		if (*n >= ZSB_MAX_SOURCES)
			break;
		if (asprintf(&full, "%s/%s", path, e->d_name) < 0)
			break;
		paths[(*n)++] = full;
	}
	closedir(dir);
	qsort(paths + first, *n - first, sizeof(*paths), cmp_str);
	return 0;
}

static int mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	char *p;

	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static int run_capture(const char *tool, const char *dir, unsigned int mb, int quiet)
{
	char mbs[32];
	pid_t pid;
	int status;

	if (mkdir_p(dir) != 0) {
		fprintf(stderr, "zsbench: cannot create '%s': %s\n", dir, strerror(errno));
		return -1;
	}
	snprintf(mbs, sizeof(mbs), "%u", mb);
	if (!quiet)
		fprintf(stderr, "zsbench: capturing real programs' memory (%s MB each) into %s\n",
			mbs, dir);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		execl(tool, tool, "--out", dir, "--mb", mbs, (char *)NULL);
		if (errno == EACCES) /* lost its executable bit: it is Python */
			execlp("python3", "python3", tool, "--out", dir, "--mb", mbs, (char *)NULL);
		fprintf(stderr, "zsbench: cannot run the capture tool '%s': %s\n", tool,
			strerror(errno));
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "zsbench: the capture failed; give page sources with --pages\n");
		return -1;
	}
	return 0;
}

/* Nanoseconds of one first-touch page fault here: on a virtual machine under
 * load it can dominate every allocator's fill and churn time. */
static double page_fault_ns(void)
{
	const size_t pages = 2048;
	unsigned char *m = mmap(NULL, pages * ZSB_PAGE_SIZE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	double t0;
	size_t i;

	if (m == MAP_FAILED)
		return 0;
	t0 = zsb_now();
	for (i = 0; i < pages; i++)
		((volatile unsigned char *)m)[i * ZSB_PAGE_SIZE] = 1;
	t0 = zsb_now() - t0;
	munmap(m, pages * ZSB_PAGE_SIZE);
	return t0 * 1e9 / (double)pages;
}

static int peer_wanted(const char *list, const char *name)
{
	size_t len = strlen(name);
	const char *p = list;

	if (!list)
		return 1;
	while ((p = strstr(p, name)) != NULL) {
		if ((p == list || p[-1] == ',') && (p[len] == ',' || p[len] == '\0'))
			return 1;
		p += len;
	}
	return 0;
}

static void check_peer_list(const char *list)
{
	char *copy = strdup(list), *tok, *save = NULL;

	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (!zsb_peer_find(tok) && strcmp(tok, "zram") != 0)
			die_usage("--peers: unknown peer '%s' (glibc, jemalloc, mimalloc, "
				  "zsmalloc, zbud, z3fold, zram)",
				  tok);
	free(copy);
}

enum {
	OPT_PAGES = 256,
	OPT_CORPUS_DIR,
	OPT_CAPTURE_MB,
	OPT_RECAPTURE,
	OPT_CAPTURE_TOOL,
	OPT_COMPRESSOR,
	OPT_LEVEL,
	OPT_HUGE,
	OPT_SIZES,
	OPT_NO_SOURCES,
	OPT_PEERS,
	OPT_FREE_FRACTION,
	OPT_CHURN_OPS,
	OPT_READ_OPS,
	OPT_THREADS,
	OPT_THREAD_OPS,
	OPT_SEED,
	OPT_VERIFY_ALL,
	OPT_SMOKE,
	OPT_JSON,
	OPT_PLOT,
	OPT_NO_PLOT,
	OPT_QUIET,
	OPT_HELP,
	OPT_PEER_TIMEOUT,
	OPT_SCALE,
	OPT_QUICK,
	OPT_VERSION,
};

static const struct option long_options[] = {
	{ "pages", required_argument, NULL, OPT_PAGES },
	{ "corpus-dir", required_argument, NULL, OPT_CORPUS_DIR },
	{ "capture-mb", required_argument, NULL, OPT_CAPTURE_MB },
	{ "recapture", no_argument, NULL, OPT_RECAPTURE },
	{ "capture-tool", required_argument, NULL, OPT_CAPTURE_TOOL },
	{ "compressor", required_argument, NULL, OPT_COMPRESSOR },
	{ "level", required_argument, NULL, OPT_LEVEL },
	{ "huge-threshold", required_argument, NULL, OPT_HUGE },
	{ "sizes", required_argument, NULL, OPT_SIZES },
	{ "no-sources", no_argument, NULL, OPT_NO_SOURCES },
	{ "peers", required_argument, NULL, OPT_PEERS },
	{ "free-fraction", required_argument, NULL, OPT_FREE_FRACTION },
	{ "churn-ops", required_argument, NULL, OPT_CHURN_OPS },
	{ "read-ops", required_argument, NULL, OPT_READ_OPS },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "thread-ops", required_argument, NULL, OPT_THREAD_OPS },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "verify-all", no_argument, NULL, OPT_VERIFY_ALL },
	{ "smoke", no_argument, NULL, OPT_SMOKE },
	{ "json", required_argument, NULL, OPT_JSON },
	{ "plot", required_argument, NULL, OPT_PLOT },
	{ "no-plot", no_argument, NULL, OPT_NO_PLOT },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "peer-timeout", required_argument, NULL, OPT_PEER_TIMEOUT },
	{ "scale", required_argument, NULL, OPT_SCALE },
	{ "quick", no_argument, NULL, OPT_QUICK },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

/*
 * jemalloc keeps its thread state in initial-exec TLS, which a dlopen'd
 * library can only get from the static TLS surplus that glibc reserves at
 * start-up ("cannot allocate memory in static TLS block").  So zsbench
 * re-executes itself once with a larger surplus (a glibc tunable that changes
 * nothing else) before doing anything.
 */
static void reexec_with_static_tls_room(char **argv)
{
	const char *tunable = "glibc.rtld.optional_static_tls=65536";
	const char *old = getenv("GLIBC_TUNABLES");
	const char *saved = getenv("ZSBENCH_SAVED_TUNABLES");
	char *value;

	if (saved) {
		/* Re-executed: the tunable is in force; the programs we start
		 * (capture, gnuplot) get the environment we were given. */
		if (strcmp(saved, "-") == 0)
			unsetenv("GLIBC_TUNABLES");
		else
			setenv("GLIBC_TUNABLES", saved, 1);
		unsetenv("ZSBENCH_SAVED_TUNABLES");
		return;
	}
	if (asprintf(&value, "%s%s%s", old ? old : "", old ? ":" : "", tunable) < 0)
		return;
	setenv("ZSBENCH_SAVED_TUNABLES", old ? old : "-", 1);
	setenv("GLIBC_TUNABLES", value, 1);
	execv("/proc/self/exe", argv);
	/* exec failed: go on; jemalloc may then be reported missing */
	free(value);
	unsetenv("ZSBENCH_SAVED_TUNABLES");
	if (old)
		setenv("GLIBC_TUNABLES", old, 1);
	else
		unsetenv("GLIBC_TUNABLES");
}

int main(int argc, char **argv)
{
	struct zsb_options o = {
		.seed = 1, .free_fraction = 0.5, .thread_ops = 50000, .progress = 1, .peer_timeout = 30
	};
	char *paths[ZSB_MAX_SOURCES];
	unsigned int npaths = 0, capture_mb = 200, scale = 1, i, k;
	const char *corpus_dir = NULL, *capture_tool = default_capture_tool();
	const char *sizes = "10M,100M", *peers = NULL;
	const char *folder = out_dir();
	static char json_default[PATH_MAX], plot_default[PATH_MAX], corpus_default[PATH_MAX];
	const char *json_path, *plot_path;
	enum zsb_compressor comp = ZSB_LZ4;
	int level = 3, recapture = 0, sources = 1, smoke = 0, quick = 0, opt, threads_set = 0,
	    sizes_set = 0;
	uint64_t size_list[ZSB_MAX_DATASETS];
	unsigned int nsizes = 0;
	size_t huge = 0, nd = 0, nr = 0, nres;
	const char *huge_rule = "zs_huge_class_size()";
	static struct zsb_corpus corpus;
	struct zsb_dataset *datasets;
	struct zsb_result *results;
	char command[1024] = "", why[512];
	struct zsb_run_info info = { 0 };
	struct zs_progress bar;
	static char bar_label[160] = "zsbench: runs";
	FILE *out;
	double load = 0;
	size_t failed = 0;
	double start = zsb_now();
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	reexec_with_static_tls_room(argv);
	snprintf(json_default, sizeof(json_default), "%s/results.json", folder);
	snprintf(plot_default, sizeof(plot_default), "%s/results.png", folder);
	json_path = json_default;
	plot_path = plot_default;
	o.max_threads = cpus < 1		 ? 1
			: cpus > ZSB_MAX_THREADS ? ZSB_MAX_THREADS
						 : (unsigned int)cpus;
	for (i = 0; i < (unsigned int)argc; i++) {
		strncat(command, argv[i], sizeof(command) - strlen(command) - 2);
		strncat(command, " ", sizeof(command) - strlen(command) - 1);
	}
	while ((opt = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
		switch (opt) {
		case OPT_PAGES: {
			unsigned int before = npaths;

			if (add_pages(paths, &npaths, optarg) != 0)
				return 2;
			if (npaths == before) {
				fprintf(stderr, "zsbench: folder '%s' holds no *.pages file\n",
					optarg);
				return 2;
			}
			break;
		}
		case OPT_CORPUS_DIR: corpus_dir = optarg; break;
		case OPT_CAPTURE_MB:
			capture_mb = (unsigned int)parse_u64("--capture-mb", optarg, 1, 16384);
			break;
		case OPT_RECAPTURE: recapture = 1; break;
		case OPT_CAPTURE_TOOL: capture_tool = optarg; break;
		case OPT_COMPRESSOR:
			if (strcmp(optarg, "lz4") == 0)
				comp = ZSB_LZ4;
			else if (strcmp(optarg, "zstd") == 0)
				comp = ZSB_ZSTD;
			else
				die_usage("--compressor: '%s' is not lz4 or zstd", optarg);
			break;
		case OPT_LEVEL: level = (int)parse_u64("--level", optarg, 1, 22); break;
		case OPT_HUGE:
			huge = parse_u64("--huge-threshold", optarg, 1, ZSB_PAGE_SIZE);
			huge_rule = "--huge-threshold";
			break;
		case OPT_SIZES:
			sizes = optarg;
			sizes_set = 1;
			break;
		case OPT_NO_SOURCES: sources = 0; break;
		case OPT_SCALE:
			scale = (unsigned int)parse_u64("--scale", optarg, 1, ZSB_MAX_SCALE);
			break;
		case OPT_PEERS:
			check_peer_list(optarg);
			peers = optarg;
			break;
		case OPT_FREE_FRACTION: {
			char *end;

			o.free_fraction = strtod(optarg, &end);
			if (end == optarg || *end || !(o.free_fraction >= 0 && o.free_fraction <= 1))
				die_usage("--free-fraction: '%s' is not a number in 0..1", optarg);
			break;
		}
		case OPT_CHURN_OPS:
			o.churn_ops = parse_u64("--churn-ops", optarg, 1, 1ULL << 40);
			break;
		case OPT_READ_OPS:
			o.read_ops = parse_u64("--read-ops", optarg, 1, 1ULL << 40);
			break;
		case OPT_THREADS:
			o.max_threads =
				(unsigned int)parse_u64("--threads", optarg, 1, ZSB_MAX_THREADS);
			threads_set = 1;
			break;
		case OPT_THREAD_OPS:
			o.thread_ops = parse_u64("--thread-ops", optarg, 1, 1ULL << 40);
			break;
		case OPT_PEER_TIMEOUT:
			o.peer_timeout = (double)parse_u64("--peer-timeout", optarg, 0, 86400);
			break;
		case OPT_SEED: o.seed = parse_u64("--seed", optarg, 0, UINT64_MAX); break;
		case OPT_VERIFY_ALL: o.verify_all = 1; break;
		case OPT_SMOKE: smoke = 1; break;
		case OPT_QUICK: quick = 1; break;
		case OPT_VERSION: zs_cli_print_version("zsbench"); return 0;
		case OPT_JSON: json_path = optarg; break;
		case OPT_PLOT: plot_path = optarg; break;
		case OPT_NO_PLOT: plot_path = NULL; break;
		case OPT_QUIET: o.progress = 0; break;
		case OPT_HELP:
		case 'h': usage(stdout); return 0;
		default: fprintf(stderr, "Try 'zsbench --help'.\n"); return 2;
		}
	}
	if (optind < argc)
		die_usage("unexpected argument '%s'", argv[optind]);
	if (smoke && quick)
		die_usage("%s: give --smoke or --quick, not both", "--quick");
	if (quick) {
		capture_mb = 32;
		if (!sizes_set)
			sizes = "10M";
		sources = 0;
		if (!o.churn_ops)
			o.churn_ops = 100000;
		if (!o.read_ops)
			o.read_ops = 100000;
		o.thread_ops = 20000;
	}
	if (smoke) {
		capture_mb = 4;
		if (!sizes_set)
			sizes = "1M";
		sources = 0;
		o.verify_all = 1;
		if (!o.churn_ops)
			o.churn_ops = 20000;
		if (!o.read_ops)
			o.read_ops = 20000;
		o.thread_ops = 10000;
		if (!threads_set)
			o.max_threads = 2;
	}
	/* Every option is checked before anything is done. */
	if (strcmp(sizes, "none") != 0) {
		char *copy = strdup(sizes), *tok, *save = NULL;

		for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			if (nsizes == ZSB_MAX_DATASETS || parse_size(tok, &size_list[nsizes]) != 0)
				die_usage("--sizes: '%s' is not a size of at least 4K (e.g. 10M, "
					  "1G), or too many sizes",
					  tok);
			nsizes++;
		}
		free(copy);
	}
	if (scale > 1 && !sources)
		fprintf(stderr, "zsbench: note: --scale applies to the per-source datasets, which "
				"are not run here\n");
	snprintf(corpus_default, sizeof(corpus_default), "%s/%s", folder,
		 smoke	 ? "corpus-smoke"
		 : quick ? "corpus-quick"
			 : "corpus");
	if (!corpus_dir)
		corpus_dir = corpus_default;

	/* The huge threshold: zsmalloc's, as zram takes it. */
	if (huge == 0) {
		huge = zsb_zsmalloc_huge_size();
		if (huge == 0 || huge > ZSB_PAGE_SIZE) {
			fprintf(stderr, "zsbench: zs_huge_class_size() gave %zu; using %d\n", huge,
				ZSB_PAGE_SIZE);
			huge = ZSB_PAGE_SIZE;
			huge_rule = "page size (zs_huge_class_size() unavailable)";
		}
	}

	/* The corpus: given sources, or the cached capture (made if absent). */
	if (npaths == 0) {
		if (!recapture && access(corpus_dir, F_OK) == 0)
			add_pages(paths, &npaths, corpus_dir);
		if (npaths == 0) {
			if (run_capture(capture_tool, corpus_dir, capture_mb, !o.progress) != 0)
				return 1;
			if (add_pages(paths, &npaths, corpus_dir) != 0 || npaths == 0) {
				fprintf(stderr, "zsbench: the capture left no page file in %s\n",
					corpus_dir);
				return 1;
			}
		} else if (o.progress) {
			fprintf(stderr,
				"zsbench: using the cached corpus in %s (--recapture to redo)\n",
				corpus_dir);
		}
	}
	if (zsb_corpus_load(&corpus, paths, npaths, comp, level, huge, huge_rule, o.progress) != 0)
		return 1;

	/* The datasets. */
	datasets = calloc(ZSB_MAX_DATASETS, sizeof(*datasets));
	if (!datasets)
		return 1;
	if (sources)
		for (i = 0; i < corpus.nsources && nd < ZSB_MAX_DATASETS; i++)
			if (zsb_dataset_source(&corpus, i, scale, &datasets[nd]) == 0)
				nd++;
	for (i = 0; i < nsizes && nd < ZSB_MAX_DATASETS; i++)
		if (zsb_dataset_mixed(&corpus, size_list[i], o.seed, &datasets[nd]) == 0)
			nd++;
	if (nd == 0) {
		fprintf(stderr, "zsbench: no dataset to run\n");
		return 1;
	}

	nres = 0;
	for (i = 0; i <= zsb_npeers; i++)
		nres += peer_wanted(peers, i < zsb_npeers ? zsb_peers[i]->name : "zram") ? nd : 0;
	results = calloc(nres ? nres : 1, sizeof(*results));
	if (!results)
		return 1;
	/* With --json -, stdout carries the JSON alone: the tables go to stderr. */
	out = strcmp(json_path, "-") == 0 ? stderr : stdout;
	zsb_print_corpus(out, &corpus);
	{
		FILE *f = fopen("/proc/loadavg", "r");

		if (f && fscanf(f, "%lf", &load) == 1 && load > (double)cpus)
			fprintf(out,
				"Note: load average %.1f on %ld CPUs: other work is running, "
				"timings are disturbed.\n",
				load, cpus);
		if (f)
			fclose(f);
	}
	info.page_fault_ns = page_fault_ns();
	fprintf(out, "Page fault (first touch of an anonymous page): %.0f ns here\n",
		info.page_fault_ns);
	if (zsb_running_under_sanitizer())
		fprintf(out,
			"Note: built with a sanitizer: resident figures include its shadow memory "
			"and timings are slow; only the output format means anything here; "
			"\"glibc\" is the sanitizer's malloc.\n");
	fflush(out);

	/* On a terminal, a bar over the bytes every run stores (it moves as
	 * runs end: each runs in a child) under the line of each run done. */
	{
		uint64_t all = 0;

		for (k = 0; k < nd; k++)
			for (i = 0; i <= zsb_npeers; i++)
				if (peer_wanted(peers, i < zsb_npeers ? zsb_peers[i]->name : "zram"))
					all += datasets[k].payload;
		zs_progress_begin(&bar, bar_label, all, o.progress);
	}
	for (k = 0; k < nd; k++) {
		for (i = 0; i <= zsb_npeers; i++) {
			const char *name = i < zsb_npeers ? zsb_peers[i]->name : "zram";
			struct zsb_result *r = &results[nr];
			double t0 = zsb_now();
			char run[160];

			if (!peer_wanted(peers, name))
				continue;
			snprintf(run, sizeof(run),
				 "zsbench: [%zu/%zu] %s on %s (%zu objects, %.1f MB)", nr + 1, nres,
				 name, datasets[k].name, datasets[k].nobjs,
				 (double)datasets[k].payload / 1e6);
			if (bar.on) {
				snprintf(bar_label, sizeof(bar_label), "[%zu/%zu] %s on %s", nr + 1,
					 nres, name, datasets[k].name);
				zs_progress_clear(&bar);
				zs_progress_add(&bar, 0);
			} else if (o.progress) {
				fprintf(stderr, "%s... ", run);
			}
			if (i < zsb_npeers)
				zsb_run_peer(zsb_peers[i], &corpus, &datasets[k], &o, r);
			else
				zsb_run_zram(&corpus, &datasets[k], &o, r);
			if (bar.on) {
				zs_progress_clear(&bar);
				fprintf(stderr, "%s: %s (%.1f s)\n", run,
					r->status == ZSB_OK ? "ok" : r->reason, zsb_now() - t0);
				zs_progress_add(&bar, datasets[k].payload);
			} else if (o.progress) {
				fprintf(stderr, "%s (%.1f s)\n",
					r->status == ZSB_OK ? "ok" : r->reason, zsb_now() - t0);
			}
			nr++;
		}
	}
	snprintf(bar_label, sizeof(bar_label), "zsbench: all runs");
	zs_progress_end(&bar);

	zsb_print_table(out, results, nr, datasets, nd);
	zsb_print_goals(out, results, nr, datasets, nd);

	info.load_average = load;
	info.command_line = command;
	info.json_path = json_path;
	info.plot_path = plot_path;
	info.sanitizer = zsb_running_under_sanitizer() ? "yes" : "";
	info.total_seconds = zsb_now() - start;
	{
		char dir[PATH_MAX], *slash;

		snprintf(dir, sizeof(dir), "%s", json_path);
		slash = strrchr(dir, '/');
		if (slash && slash != dir && out == stdout) {
			*slash = '\0';
			mkdir_p(dir);
		}
		if (plot_path) {
			snprintf(dir, sizeof(dir), "%s", plot_path);
			slash = strrchr(dir, '/');
			if (slash && slash != dir) {
				*slash = '\0';
				mkdir_p(dir);
			}
		}
	}
	if (zsb_write_json(json_path, &info, &corpus, datasets, nd, results, nr, &o) != 0)
		return 1;
	if (out == stdout)
		printf("\nJSON: %s\n", json_path);
	if (plot_path) {
		int rc = zsb_write_plot(plot_path, results, nr, datasets, nd, why, sizeof(why));

		if (rc == 0)
			fprintf(out, "Plot: %s\n", plot_path);
		else
			fprintf(out, "Plot: none: %s\n", why);
	}
	fprintf(out, "Total: %.1f s\n", zsb_now() - start);
	for (i = 0; i < nr; i++)
		if (results[i].status == ZSB_FAILED) {
			fprintf(stderr, "zsbench: %s on %s FAILED: %s\n", results[i].peer,
				results[i].dataset, results[i].reason);
			failed++;
		}
	/* The smoke run also checks that zsmalloc's account of its memory adds
	 * up to what the kernel says the child holds: a kind of metadata left
	 * out of zs_pool_memory() shows here first. */
	if (smoke)
		failed += zsb_check_breakdowns(stderr, results, nr);
	fflush(out);
	for (k = 0; k < nd; k++)
		zsb_shared_free(datasets[k].pages, datasets[k].nslots * sizeof(*datasets[k].pages));
	free(datasets);
	free(results);
	for (i = 0; i < npaths; i++)
		free(paths[i]);
	return failed ? 1 : 0;
}
