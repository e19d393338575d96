/*
 * input.c - the pages the zsram tool loads: files (each padded to whole
 * pages), every regular file of a corpus folder, or a live process's memory,
 * which bench/zs-capture (the tree's one capture tool) copies into a
 * temporary page file; and the zstd dictionary (a file, or trained on the
 * input).  Single-threaded.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "zsram_tool.h"

#ifndef ZSRAM_CAPTURE_TOOL
#define ZSRAM_CAPTURE_TOOL "zs-capture"
#endif

#define DICT_MAX_SAMPLES 2048

static int input_reserve(struct input *in, size_t page_size, size_t more)
{
	size_t need = (size_t)in->nr_pages * page_size + more;
	size_t cap = in->cap_bytes ? in->cap_bytes : (1u << 20);
	unsigned char *p;

	if (need <= in->cap_bytes)
		return 0;
	while (cap < need)
		cap *= 2;
	p = realloc(in->pages, cap);
	if (!p)
		return -ENOMEM;
	in->pages = p;
	in->cap_bytes = cap;
	return 0;
}

/* Appends up to len bytes read from fd, padded to whole pages.  Returns 0,
 * -EIO when nothing could be read, or -errno. */
static int input_append_fd(struct input *in, size_t ps, int fd, size_t len)
{
	size_t pages = (len + ps - 1) / ps;
	unsigned char *dst;
	size_t got = 0;

	if (input_reserve(in, ps, pages * ps))
		return -ENOMEM;
	dst = in->pages + in->nr_pages * ps;
	while (got < len) {
		ssize_t n = read(fd, dst + got, len - got);

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
		fprintf(stderr, "%s: cannot open '%s': %s\n", TOOL_PROG, path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		fprintf(stderr, "%s: '%s' is a directory (use --corpus DIR)\n", TOOL_PROG, path);
		close(fd);
		return -1;
	}
	if (st.st_size == 0 && S_ISREG(st.st_mode)) {
		close(fd);
		return 0; /* adds nothing; an all-empty input is refused later */
	}
	err = input_append_fd(in, ps, fd,
			      S_ISREG(st.st_mode) ? (size_t)st.st_size : ((size_t)1 << 30));
	close(fd);
	if (err && err != -EIO) {
		fprintf(stderr, "%s: cannot read '%s': %s\n", TOOL_PROG, path, strerror(-err));
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
		fprintf(stderr, "%s: cannot open corpus directory '%s': %s\n", TOOL_PROG, dir,
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
			TOOL_PROG, dir);
		return -1;
	}
	return 0;
}

/* zs-capture --pid PID --file TMP, then TMP as a file.  zs-capture names
 * what it could not read. */
static int load_pid(struct input *in, size_t ps, long pid)
{
	const char *tool = zs_cli_helper_path("zs-capture", ZSRAM_CAPTURE_TOOL);
	const char *tmpdir = getenv("TMPDIR");
	char path[PATH_MAX], pids[32];
	int fd, status, err;
	pid_t child;

	snprintf(path, sizeof(path), "%s/zsram-pid-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
	fd = mkstemp(path);
	if (fd < 0) {
		fprintf(stderr, "%s: cannot create a temporary file: %s\n", TOOL_PROG,
			strerror(errno));
		return -1;
	}
	close(fd);
	snprintf(pids, sizeof(pids), "%ld", pid);
	fflush(NULL);
	child = fork();
	if (child == 0) {
		execl(tool, tool, "--pid", pids, "--file", path, (char *)NULL);
		if (errno == EACCES) /* lost its executable bit: it is Python */
			execlp("python3", "python3", tool, "--pid", pids, "--file", path,
			       (char *)NULL);
		execlp("zs-capture", "zs-capture", "--pid", pids, "--file", path, (char *)NULL);
		fprintf(stderr, "%s: cannot run the capture tool '%s': %s\n", TOOL_PROG, tool,
			strerror(errno));
		_exit(127);
	}
	if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		unlink(path);
		return -1;
	}
	err = load_file(in, ps, path);
	unlink(path);
	return err;
}

int tool_load_input(struct input *in, const struct options *o)
{
	size_t ps = o->cfg.page_size;

	if (o->pid)
		return load_pid(in, ps, o->pid);
	if (o->corpus_dir)
		return load_corpus(in, ps, o->corpus_dir);
	for (int i = 0; i < o->nr_files; i++)
		if (load_file(in, ps, o->files[i]))
			return -1;
	return 0;
}

void *tool_read_dict(const char *path, size_t *size)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	void *p;

	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size == 0) {
		fprintf(stderr, "%s: cannot open dictionary '%s': %s\n", TOOL_PROG, path,
			fd < 0 ? strerror(errno) : "empty file");
		exit(1);
	}
	p = malloc((size_t)st.st_size);
	if (!p || read(fd, p, (size_t)st.st_size) != st.st_size) {
		fprintf(stderr, "%s: cannot read dictionary '%s'\n", TOOL_PROG, path);
		exit(1);
	}
	close(fd);
	*size = (size_t)st.st_size;
	return p;
}

void *tool_dictionary(const struct options *o, const struct input *in, size_t *size)
{
	double t = tool_now();
	size_t used;
	void *dict;
	long got;

	if (o->dict_file)
		return tool_read_dict(o->dict_file, size);
	if (!o->train_dict)
		return NULL;
	dict = malloc(o->train_dict);
	got = dict ? zsram_train_dictionary_sampled(in->pages, in->nr_pages, o->cfg.page_size,
						    DICT_MAX_SAMPLES, dict, o->train_dict, &used)
		   : -ENOMEM;
	if (got == -ENOMEM) {
		fprintf(stderr, "%s: out of memory training the dictionary\n", TOOL_PROG);
		exit(1);
	}
	if (got < 0) {
		fprintf(stderr,
			"%s: cannot train a dictionary on this input "
			"(%zu sample pages; too few or too uniform)\n",
			TOOL_PROG, used);
		exit(1);
	}
	*size = (size_t)got;
	printf("dictionary: %zu bytes trained in %.2f s\n", *size, tool_now() - t);
	return dict;
}
