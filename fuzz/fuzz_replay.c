/*
 * fuzz_replay.c - runs a harness without libFuzzer: replays files and
 * directories of inputs (a corpus, a crash) through LLVMFuzzerTestOneInput,
 * then, with --random N, N random inputs made from a seed.  Built with the
 * project's own compiler in every configuration (release, asan, tsan), so the
 * seed corpus and a random walk of fault injection run in each; and handy to
 * debug a crash with gdb.
 *
 * Usage: fuzz_replay_<harness> [--random N] [--seed S] [--max-len L]
 *                              [--last FILE] [PATH...]
 * --last FILE: each random input is written to FILE before it runs, so that
 * after a failure FILE holds the input that failed (replay it as a PATH).
 * Exit status 0; a harness check that fails aborts with its message.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_common.h"

static unsigned long replayed;

static void replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	unsigned char *data;
	long len;

	if (!f) {
		fprintf(stderr, "fuzz_replay: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	data = malloc(len > 0 ? (size_t)len : 1);
	if (!data || (len > 0 && fread(data, 1, (size_t)len, f) != (size_t)len)) {
		fprintf(stderr, "fuzz_replay: %s: cannot read\n", path);
		exit(2);
	}
	fclose(f);
	LLVMFuzzerTestOneInput(data, (size_t)len);
	free(data);
	replayed++;
}

static void replay_path(const char *path)
{
	struct stat st;
	struct dirent **names;
	int n;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "fuzz_replay: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	if (!S_ISDIR(st.st_mode)) {
		replay_file(path);
		return;
	}
	/* Sorted, so a run is the same every time. */
	n = scandir(path, &names, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "fuzz_replay: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	for (int i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.') {
			char sub[4096];

			snprintf(sub, sizeof(sub), "%s/%s", path, names[i]->d_name);
			replay_path(sub);
		}
		free(names[i]);
	}
	free(names);
}

static unsigned long parse_number(const char *opt, const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s ? s : "", &end, 0);
	if (!s || errno || *end || end == s) {
		fprintf(stderr, "fuzz_replay: %s needs a number, got '%s'\n", opt, s ? s : "");
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	unsigned long random_runs = 0, max_len = 2048;
	const char *last = NULL;
	uint64_t seed = 1;
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--random") == 0)
			random_runs = parse_number(argv[i], argv[i + 1]), i++;
		else if (strcmp(argv[i], "--seed") == 0)
			seed = parse_number(argv[i], argv[i + 1]), i++;
		else if (strcmp(argv[i], "--last") == 0 && i + 1 < argc)
			last = argv[++i];
		else if (strcmp(argv[i], "--max-len") == 0)
			max_len = parse_number(argv[i], argv[i + 1]), i++;
		else if (argv[i][0] == '-') {
			fprintf(stderr,
				"fuzz_replay: unknown option '%s'\n"
				"usage: %s [--random N] [--seed S] [--max-len L] [--last FILE] "
				"[PATH...]\n",
				argv[i], argv[0]);
			return 2;
		} else {
			replay_path(argv[i]);
		}
	}
	if (random_runs) {
		unsigned char *data = malloc(max_len + 1);
		uint64_t st = seed;

		if (!data)
			return 2;
		for (unsigned long r = 0; r < random_runs; r++) {
			size_t len = (size_t)(fz_rand(&st) % (max_len + 1));

			for (size_t k = 0; k < len; k++)
				data[k] = (unsigned char)(fz_rand(&st) >> 56);
			if (last) {
				FILE *f = fopen(last, "wb");

				if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
					fprintf(stderr, "fuzz_replay: %s: cannot write\n", last);
					return 2;
				}
			}
			LLVMFuzzerTestOneInput(data, len);
			replayed++;
		}
		free(data);
	}
	printf("%s: %lu inputs run (random seed %lu), all checks passed\n", argv[0], replayed,
	       (unsigned long)seed);
	return 0;
}
