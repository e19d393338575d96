/*
 * zsram-train-dict.c - writes a zstd dictionary for the nbdkit zsram plugin's
 * dictionary= parameter, trained with zsram_train_dictionary() on the pages
 * of a sample file (for example a capture of the data the disk will hold).
 *
 * usage: zsram-train-dict [--size BYTES] [--samples N] [--page-size N]
 *                         INPUT OUTPUT
 * Samples up to N (default 4096) evenly spaced pages of INPUT that are
 * not one repeated word (zsram_train_dictionary_sampled), and writes a
 * dictionary of at most BYTES (default 16 KiB) to OUTPUT.  Exit status 0 on
 * success, 1 on a run-time error, 2 on a bad command line.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "pages.h" /* common/: the page-size check */
#include "zsram.h"

static const char *prog = "zsram-train-dict";
static size_t page_bytes = 4096; /* --page-size: the store's page size */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: %s [--size BYTES] [--samples N] [--page-size N] INPUT OUTPUT\n"
		"Trains a zstd dictionary on the pages of INPUT (zsram_train_dictionary) and\n"
		"writes it to OUTPUT, for nbdkit zsram ... algorithm=zstd dictionary=OUTPUT.\n"
		"  --size BYTES     dictionary capacity, 256..1048576 (16384)\n"
		"  --samples N      sample pages, 8..65536 (4096)\n"
		"  --page-size N    the plugin's page_size, 4096..65536 (4096)\n"
		"  -h, --help       this text\n"
		"  -V, --version    the version\n"
		"Exit status: 0; 1 a run-time error; 2 a bad command line.\n",
		prog);
}

static unsigned long parse_number(const char *what, const char *s, unsigned long lo, unsigned long hi)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "%s: bad %s '%s' (%lu..%lu)\n", prog, what, s, lo, hi);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	unsigned long dict_cap = 16384, max_samples = 4096;
	const char *in_path, *out_path;
	unsigned char *dict;
	void *pages;
	size_t n = 0;
	uint64_t nr_pages;
	struct stat st;
	long got;
	FILE *out;
	int i, fd;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "-V") == 0 || strcmp(argv[i], "--version") == 0) {
			zs_cli_print_version(prog);
			return 0;
		} else if (strcmp(argv[i], "--size") == 0 && i + 1 < argc) {
			dict_cap = parse_number("dictionary size", argv[++i], 256, 1ul << 20);
		} else if (strcmp(argv[i], "--page-size") == 0 && i + 1 < argc) {
			page_bytes = parse_number("page size", argv[++i], 4096, 65536);
			if (!zs_page_size_valid(page_bytes)) {
				fprintf(stderr,
					"%s: page size %zu is not a power "
					"of two\n",
					prog, page_bytes);
				return 2;
			}
		} else if (strcmp(argv[i], "--samples") == 0 && i + 1 < argc) {
			max_samples = parse_number("sample count", argv[++i], 8, 65536);
		} else {
			fprintf(stderr, "%s: unknown option or missing value '%s'\n", prog, argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (argc - i != 2) {
		usage(stderr);
		return 2;
	}
	in_path = argv[i];
	out_path = argv[i + 1];

	fd = open(in_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		fprintf(stderr, "%s: cannot open '%s': %s\n", prog, in_path, strerror(errno));
		return 1;
	}
	nr_pages = (uint64_t)st.st_size / page_bytes;
	if (nr_pages == 0) {
		fprintf(stderr, "%s: '%s' holds no whole %zu-byte page\n", prog, in_path, page_bytes);
		return 1;
	}
	pages = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	dict = malloc(dict_cap);
	if (pages == MAP_FAILED || !dict) {
		fprintf(stderr, "%s: cannot read '%s': %s\n", prog, in_path, strerror(errno));
		return 1;
	}
	got = zsram_train_dictionary_sampled(pages, nr_pages, page_bytes, max_samples, dict,
					     dict_cap, &n);
	munmap(pages, (size_t)st.st_size);
	close(fd);
	if (got < 0) {
		fprintf(stderr,
			"%s: cannot train a dictionary on '%s' (%zu sample "
			"pages; too few or too uniform)\n",
			prog, in_path, n);
		return 1;
	}
	out = fopen(out_path, "wb");
	if (!out || fwrite(dict, 1, (size_t)got, out) != (size_t)got || fclose(out) != 0) {
		fprintf(stderr, "%s: cannot write '%s': %s\n", prog, out_path, strerror(errno));
		return 1;
	}
	printf("%s: %ld-byte dictionary from %zu pages of %s\n", prog, got, n, in_path);
	free(dict);
	return 0;
}
