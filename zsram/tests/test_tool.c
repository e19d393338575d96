/*
 * test_tool - the zsram tool: its stable output form
 * (`zsram --algorithm lz4|zstd FILE` prints "mm_stat:" and nine numbers in
 * zram's order), its options end to end, and clear errors with the
 * documented exit status for a missing file, an unreadable process and bad
 * options.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zsram.h>

#include "zs_test.h"

static char out[1 << 16];

/* Runs the tool with args, output (stdout and stderr) into out; returns
 * the exit status. */
static int run(const char *args)
{
	char cmd[1024];
	FILE *p;
	size_t n;
	int st;

	snprintf(cmd, sizeof(cmd), "'%s' %s 2>&1", ZSRAM_TOOL, args);
	p = popen(cmd, "r");
	CHECK(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = 0;
	st = pclose(p);
	CHECK(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static void expect(const char *args, int status, const char *text)
{
	int got = run(args);

	if (got != status || !strstr(out, text)) {
		fprintf(stderr, "zsram %s: exit %d (want %d), output:\n%s\n(want \"%s\")\n", args,
			got, status, out, text);
		exit(1);
	}
}

/* Parses the mm_stat: line into v[9]. */
static void mm_stat_of(uint64_t v[9])
{
	const char *line = strstr(out, "mm_stat:");
	int n;

	CHECK(line && (line == out || line[-1] == '\n'));
	n = sscanf(line,
		   "mm_stat: %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
		   " %" SCNu64 " %" SCNu64 " %" SCNu64,
		   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8]);
	CHECK_EQ(n, 9);
}

/* Bad command lines: arguments (%s: the input file), exit status, message. */
static const struct {
	const char *args;
	int status;
	const char *message;
} errors[] = {
	{ "--algorithm lz4 /nonexistent/zsram-input", 1, "cannot open '/nonexistent/zsram-input'" },
	{ "--algorithm gzip %s", 2, "unknown algorithm 'gzip'" },
	{ "--frobnicate %s", 2, "unknown option '--frobnicate'" },
	{ "--algorithm", 2, "needs an argument" },
	{ "", 2, "no input" },
	{ "--mem-limit lots %s", 2, "bad memory limit" },
	{ "--discard 1.5 %s", 2, "bad discard fraction" },
	{ "-a zstd --rest-level 0 %s", 2, "bad rest level '0' (1..22)" },
	{ "--algorithm-params 'priority=1 level=3' %s", 2, "no such algorithm (give --recompress" },
	{ "--recompress zstd --algorithm-params 'priority=9 level=3' %s", 2, "bad syntax" },
	{ "--recompress zstd --algorithm-params 'priority=1' %s", 2, "bad syntax" },
	{ "--recompress zstd --algorithm-params 'priority=1 speed=3' %s", 2, "bad syntax" },
	{ "--recompress zstd --algorithm-params 'priority=0 level=3' %s", 2,
	  "use --level and --dict" },
	{ "--recompress lz4 --algorithm-params 'priority=1 dict=/etc/hostname' %s", 2,
	  "a dictionary is for zstd" },
	{ "--recompress zstd --algorithm-params 'algo=zstd dict=/nonexistent/d' %s", 1,
	  "cannot open dictionary '/nonexistent/d'" },
	{ "--recompress lz4 --recompress lz4hc --recompress zstd --recompress zstd:9 %s", 2,
	  "--recompress at most 3 times" },
	{ "--writeback-limit 1M %s", 2, "--writeback-limit goes with --writeback" },
	{ "--mem-limit 64K --writeback /tmp/zsram-tool-nowb --writeback-limit 100 %s", 2,
	  "--writeback-limit is less than a page (4096 bytes)" },
	{ "--writeback-limit 0 %s", 2, "bad writeback limit '0' (more than 0)" },
	{ "-a zstd --rest-level 23 %s", 2, "bad rest level '23' (1..22)" },
	{ "-a lz4 --rest-level 9 %s", 2, "--rest-level needs --algorithm zstd" },
	{ "-a zstd --no-auto-dict --rest-level 9 %s", 2, "--rest-level needs" },
	{ "-a lz4 --train-dict %s", 2, "a dictionary needs --algorithm zstd" },
	{ "-a zstd -l 99 %s", 1, "invalid configuration" },
	{ "--pid 2147483647", 1, "cannot read the memory map of process 2147483647" },
	{ "--corpus /nonexistent-dir", 1, "cannot open corpus directory" },
};

int main(void)
{
	tu_init("zsram_tool", 0);
	char file[] = "/tmp/zsram-tool-XXXXXX";
	char wbfile[] = "/tmp/zsram-tool-wb-XXXXXX";
	char args[512];
	unsigned char page[4096];
	const int text = 96, zero = 16, random = 16;
	uint64_t v[9];
	int fd = mkstemp(file);
	int wfd = mkstemp(wbfile);

	CHECK(fd >= 0 && wfd >= 0);
	close(wfd);
	for (int i = 0; i < text + zero + random; i++) {
		enum tu_page_kind k = i < text		? TU_PAGE_TEXT
				      : i < text + zero ? TU_PAGE_ZERO
							: TU_PAGE_RANDOM;

		tu_make_page(page, sizeof(page), k, (uint64_t)i);
		CHECK_EQ(write(fd, page, sizeof(page)), (long)sizeof(page));
	}
	/* A partial last page: padded with zeros, still one page. */
	CHECK_EQ(write(fd, "tail", 4), 4);
	close(fd);

	/* The stable form. */
	const char *algs[] = { "lz4", "zstd" };

	for (int a = 0; a < 2; a++) {
		snprintf(args, sizeof(args), "--algorithm %s --page-size 4096 %s", algs[a], file);
		expect(args, 0, "verify: ");
		mm_stat_of(v);
		CHECK_EQ(v[0], (uint64_t)(text + zero + random + 1) * 4096); /* orig */
		CHECK(v[1] > 0 && v[1] < v[0]);				     /* compr */
		CHECK(v[2] >= v[1]);					     /* mem_used */
		CHECK_EQ(v[3], 0);					     /* limit */
		CHECK(v[4] >= v[2]);					     /* max */
		CHECK_EQ(v[5], zero);					     /* same */
		CHECK_EQ(v[7], random);					     /* huge */
		CHECK_EQ(v[8], random);					     /* since */
	}

	/* zstd without --page-size stores 32 KiB pages: eight of the file's
	 * pages each, the tail padded into a seventeenth. */
	snprintf(args, sizeof(args), "--algorithm zstd %s", file);
	expect(args, 0, "pages of 32768 bytes");
	mm_stat_of(v);
	CHECK_EQ(v[0], (uint64_t)((text + zero + random) / 8 + 1) * 32768);
	CHECK_EQ(v[5], zero / 8);
	CHECK_EQ(v[7], random / 8);

	/* Options end to end. */
	snprintf(args, sizeof(args), "-a zstd --train-dict=4096 --discard 0.5 %s", file);
	expect(args, 0, "verify after discard: ");
	snprintf(args, sizeof(args), "-a lz4 --recompress zstd:12 --recompress-threshold 512 %s",
		 file);
	expect(args, 0, "recompress: ");
	snprintf(args, sizeof(args),
		 "-a lz4 -l 60 --recompress lz4 --recompress lz4hc:9 --recompress zstd:19 "
		 "--recompress-threshold 0 %s",
		 file);
	expect(args, 0, "recompressed with lz4 then lz4hc then zstd");
	snprintf(args, sizeof(args), "--mem-limit 64K %s", file);
	expect(args, 0, "pages refused (ENOSPC)");
	mm_stat_of(v);
	CHECK_EQ(v[3], 65536);
	CHECK(v[2] <= 65536);
	snprintf(args, sizeof(args), "--mem-limit 64K --writeback %s -t 2 %s", wbfile, file);
	expect(args, 0, "bd_stat: ");
	/* With a writeback limit of 8 pages: 8 go to the file, the rest of
	 * what does not fit is refused, every stored page verifies. */
	snprintf(args, sizeof(args), "--mem-limit 64K --writeback %s --writeback-limit 32K %s",
		 wbfile, file);
	expect(args, 0, "pages refused (ENOSPC)");
	{
		const char *bd = strstr(out, "bd_stat: ");
		uint64_t count = 0, reads = 0, writes = 0;

		CHECK(bd && sscanf(bd, "bd_stat: %" SCNu64 " %" SCNu64 " %" SCNu64, &count, &reads,
				   &writes) == 3);
		CHECK(count == 8 && writes == 8, "bd_stat %" PRIu64 " %" PRIu64 " %" PRIu64, count,
		      reads, writes);
	}
	snprintf(args, sizeof(args), "-t 3 --class-stats %s", file);
	expect(args, 0, "verify: ");

	/* A corpus directory (two files, each padded to whole pages), and a
	 * dictionary given as a file. */
	{
		char dir[] = "/tmp/zsram-corpus-XXXXXX";
		char path[256], dictpath[300];
		unsigned char *samples = malloc(64 * 4096);
		unsigned char dict[4096];
		long dsize;
		FILE *f;

		CHECK(mkdtemp(dir) && samples);
		for (int k = 0; k < 2; k++) {
			snprintf(path, sizeof(path), "%s/part%d", dir, k);
			f = fopen(path, "w");
			CHECK(f);
			for (int i = 0; i < 10; i++) {
				tu_make_page(page, sizeof(page), TU_PAGE_TEXT,
					     (uint64_t)(1000 * k + i));
				CHECK_EQ(fwrite(page, 1, 100 + 300 * (size_t)i, f), 100 + 300 * i);
			}
			fclose(f);
		}
		snprintf(args, sizeof(args), "--corpus %s", dir);
		expect(args, 0, "verify: ");
		mm_stat_of(v);
		/* 13500 bytes per file: 4 pages each. */
		CHECK_EQ(v[0], 8 * 4096);

		for (int i = 0; i < 64; i++)
			tu_make_page(samples + (size_t)i * 4096, 4096, TU_PAGE_TEXT,
				     (uint64_t)(5000 + i));
		dsize = zsram_train_dictionary(samples, 64, 4096, dict, sizeof(dict));
		CHECK(dsize > 0);
		snprintf(dictpath, sizeof(dictpath), "%s/dict", dir);
		f = fopen(dictpath, "w");
		CHECK(f && fwrite(dict, 1, (size_t)dsize, f) == (size_t)dsize);
		fclose(f);
		snprintf(args, sizeof(args), "-a zstd --dict %s %s", dictpath, file);
		expect(args, 0, "verify: ");
		CHECK(strstr(out, "dictionary"));
		snprintf(args, sizeof(args), "-a zstd --dict %s/missing %s", dir, file);
		expect(args, 1, "cannot open dictionary");
		/* A dictionary for the secondary algorithm, as algorithm_params. */
		snprintf(args, sizeof(args),
			 "-a lz4 -l 60 --recompress zstd:3 --recompress-threshold 0 "
			 "--algorithm-params 'priority=1,level=5,dict=%s' %s",
			 dictpath, file);
		expect(args, 0, "recompressed with zstd");
		unlink(dictpath);
		snprintf(path, sizeof(path), "%s/part0", dir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/part1", dir);
		unlink(path);
		rmdir(dir);
		free(samples);
	}

	/* Errors. */
	for (size_t i = 0; i < TU_ARRAY_SIZE(errors); i++) {
		snprintf(args, sizeof(args), errors[i].args, file);
		expect(args, errors[i].status, errors[i].message);
	}
	{
		/* A live process's memory: a child sleeping.  As root (or its
		 * parent, with ptrace allowed) it loads; otherwise the error
		 * must say the memory cannot be read. */
		int st;
		pid_t child = fork();

		CHECK(child >= 0);
		if (child == 0) {
			execlp("sleep", "sleep", "30", (char *)NULL);
			_exit(127);
		}
		usleep(100000);
		snprintf(args, sizeof(args), "--pid %ld", (long)child);
		st = run(args);
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		if (!((st == 0 && strstr(out, "verify: ")) ||
		      (st == 1 && strstr(out, "cannot read the memory")))) {
			fprintf(stderr, "zsram %s: exit %d, output:\n%s\n", args, st, out);
			exit(1);
		}
	}
	unlink(file);
	unlink(wbfile);
	printf("tool: ok\n");
	return 0;
}
