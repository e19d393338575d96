/*
 * launcher.c - zsswap-run: runs a program with its heap in zsswap memory.
 *
 * It checks the options (by creating and destroying a small region with
 * them, so a bad algorithm, an unreachable writeback target or a forbidden
 * userfaultfd is reported here, before the program starts), then starts the
 * program with libzsswap-run.so preloaded and its settings in ZSSWAP_RUN_*
 * variables, waits for it and exits with its status (128 + signal when a
 * signal ended it).  Its own failures exit 125; a program that cannot be
 * run, 126 (not executable) or 127 (not found), as shells do.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "zsswap.h"

#define EXIT_TOOL 125
#define MIN_RESIDENT (1u << 20) /* below this the handler's own working pages do not fit */

static const char usage_text[] =
	"Usage: zsswap-run [OPTION]... [--] PROGRAM [ARG]...\n"
	"Run PROGRAM with its heap in compressed memory (zsswap): what malloc and\n"
	"anonymous mmap hand out stays under a resident budget; colder pages are\n"
	"compressed into a zsmalloc pool and brought back on access.  No swap,\n"
	"cgroup or kernel set-up is needed; userfaultfd must be permitted.\n"
	"\n"
	"  -r, --max-resident SIZE  anonymous memory the program may keep resident,\n"
	"                           counted as a memory cgroup counts it, less the\n"
	"                           compressed pool (default: a quarter of the\n"
	"                           machine's memory; at least 1M)\n"
	"  -a, --algorithm NAME[:LEVEL]  lz4 (default), lz4hc or zstd\n"
	"  -p, --max-pool SIZE      bytes the compressed pool may take (default: no\n"
	"                           limit); then the coldest go to --writeback\n"
	"  -w, --writeback FILE|URI where pages go when the pool is full: a file,\n"
	"                           nbd://HOST[:PORT]/NAME or nbd+unix:///?socket=PATH\n"
	"  -s, --size SIZE          address space of the heap (default: the machine's\n"
	"                           memory); allocations beyond it fail\n"
	"      --stats FILE         write zsswap's statistics to FILE when PROGRAM exits\n"
	"  -h, --help               this text\n"
	"  -V, --version            the version\n"
	"\n"
	"SIZE is bytes, or a number with K, M, G or T (powers of 1024).\n"
	"Exit status: PROGRAM's own, 128+N if signal N ended it, 125 if zsswap-run\n"
	"failed, 126 if PROGRAM cannot be executed, 127 if it is not found.\n"
	"Programs that PROGRAM starts are wrapped too, each with its own budget.\n";

struct options {
	uint64_t max_resident, max_pool, size;
	const char *algorithm, *writeback, *stats;
};

static void __attribute__((noreturn, format(printf, 1, 2))) die_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("zsswap-run: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'zsswap-run --help'.\n", stderr);
	exit(EXIT_TOOL);
}

static uint64_t size_arg(const char *opt, const char *s)
{
	uint64_t v;

	if (zs_cli_parse_size(s, &v))
		die_usage("%s: '%s' is not a size (bytes, or a number with K, M, G or T)", opt, s);
	return v;
}

static uint64_t machine_memory(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), ps = sysconf(_SC_PAGESIZE);

	return pages > 0 && ps > 0 ? (uint64_t)pages * (uint64_t)ps : 1ull << 32;
}

static int parse(int argc, char **argv, struct options *o)
{
	static const struct option longs[] = {
		{ "max-resident", required_argument, NULL, 'r' },
		{ "algorithm", required_argument, NULL, 'a' },
		{ "max-pool", required_argument, NULL, 'p' },
		{ "writeback", required_argument, NULL, 'w' },
		{ "size", required_argument, NULL, 's' },
		{ "stats", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct options){ .max_resident = machine_memory() / 4, .size = machine_memory() };
	/* '+': options end at PROGRAM, whose own options are its own. */
	while ((c = getopt_long(argc, argv, "+r:a:p:w:s:hV", longs, NULL)) != -1) {
		switch (c) {
		case 'r': o->max_resident = size_arg("--max-resident", optarg); break;
		case 'a': o->algorithm = optarg; break;
		case 'p': o->max_pool = size_arg("--max-pool", optarg); break;
		case 'w': o->writeback = optarg; break;
		case 's': o->size = size_arg("--size", optarg); break;
		case 'S': o->stats = optarg; break;
		case 'h': fputs(usage_text, stdout); exit(0);
		case 'V': zs_cli_print_version("zsswap-run"); exit(0);
		default: fputs("Try 'zsswap-run --help'.\n", stderr); exit(EXIT_TOOL);
		}
	}
	if (optind >= argc)
		die_usage("no PROGRAM to run");
	if (o->max_resident < MIN_RESIDENT)
		die_usage("--max-resident %" PRIu64 " is below the 1M (1048576 bytes) that "
			  "zsswap-run needs to work",
			  o->max_resident);
	if (o->size < o->max_resident)
		die_usage("--size %" PRIu64 " is below --max-resident %" PRIu64, o->size,
			  o->max_resident);
	return optind;
}

/* A small region with the options: the errors the program's would meet. */
static void check_region(const struct options *o)
{
	struct zsswap_config cfg;
	struct zsswap *z;

	zsswap_config_init(&cfg);
	cfg.size = MIN_RESIDENT;
	cfg.max_resident = MIN_RESIDENT;
	cfg.algorithm = o->algorithm;
	cfg.max_pool = o->max_pool;
	cfg.writeback = o->writeback;
	z = zsswap_create(&cfg);
	if (!z) {
		fprintf(stderr, "zsswap-run: %s\n",
			strncmp(zsswap_last_error(), "zsswap: ", 8) ? zsswap_last_error()
								    : zsswap_last_error() + 8);
		exit(EXIT_TOOL);
	}
	zsswap_destroy(z);
}

/* libzsswap-run.so: $ZSSWAP_RUN_LIBRARY, beside this program (the build
 * tree), or in the installed library folder. */
static const char *preload_path(void)
{
	static char path[PATH_MAX];
	const char *env = getenv("ZSSWAP_RUN_LIBRARY"), *dir = zs_cli_exe_dir();

	if (env && *env)
		return env;
	snprintf(path, sizeof(path), "%s/libzsswap-run.so", dir);
	if (access(path, R_OK) == 0)
		return path;
	snprintf(path, sizeof(path), "%s/%s/libzsswap-run.so", dir, ZSSWAP_RUN_LIB_FROM_BIN);
	if (access(path, R_OK) == 0)
		return path;
	fprintf(stderr, "zsswap-run: cannot find libzsswap-run.so (looked beside %s and in %s)\n",
		dir, path);
	exit(EXIT_TOOL);
}

static void set_env(const char *name, uint64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	setenv(name, buf, 1);
}

static void __attribute__((noreturn)) run_child(const struct options *o, const char *lib, char **argv)
{
	const char *old = getenv("LD_PRELOAD");
	char *preload;
	int err;

	set_env("ZSSWAP_RUN_MAX_RESIDENT", o->max_resident);
	set_env("ZSSWAP_RUN_MAX_POOL", o->max_pool);
	set_env("ZSSWAP_RUN_SIZE", o->size);
	set_env("ZSSWAP_RUN_PID", (uint64_t)getpid());
	if (o->algorithm)
		setenv("ZSSWAP_RUN_ALGORITHM", o->algorithm, 1);
	if (o->writeback)
		setenv("ZSSWAP_RUN_WRITEBACK", o->writeback, 1);
	if (o->stats)
		setenv("ZSSWAP_RUN_STATS", o->stats, 1);
	if (asprintf(&preload, "%s%s%s", lib, old && *old ? ":" : "", old && *old ? old : "") < 0)
		_exit(EXIT_TOOL);
	setenv("LD_PRELOAD", preload, 1);
	execvp(argv[0], argv);
	err = errno;
	fprintf(stderr, "zsswap-run: %s: %s\n", argv[0], strerror(err));
	_exit(err == ENOENT || err == ENOTDIR ? 127 : 126);
}

static pid_t child_pid;

static void forward(int sig)
{
	if (child_pid > 0)
		kill(child_pid, sig);
}

int main(int argc, char **argv)
{
	struct options o;
	int first = parse(argc, argv, &o), status;
	const char *lib = preload_path();
	struct sigaction fw = { .sa_handler = forward }, ign = { .sa_handler = SIG_IGN };

	check_region(&o);
	if (o.stats)
		unlink(o.stats); /* what it holds afterwards is this run's */
	child_pid = fork();
	if (child_pid < 0) {
		fprintf(stderr, "zsswap-run: fork: %s\n", strerror(errno));
		return EXIT_TOOL;
	}
	if (child_pid == 0)
		run_child(&o, lib, argv + first);
	/* The terminal sends ^C and ^\ to the program itself; other signals
	 * sent to zsswap-run are passed on. */
	sigaction(SIGINT, &ign, NULL);
	sigaction(SIGQUIT, &ign, NULL);
	sigaction(SIGTERM, &fw, NULL);
	sigaction(SIGHUP, &fw, NULL);
	sigaction(SIGUSR1, &fw, NULL);
	sigaction(SIGUSR2, &fw, NULL);
	while (waitpid(child_pid, &status, 0) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "zsswap-run: waitpid: %s\n", strerror(errno));
			return EXIT_TOOL;
		}
	}
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}
