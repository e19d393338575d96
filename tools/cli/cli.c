/*
 * cli.c - --version and helper programs for the installed tools (see
 * cli.h).  Single-threaded: called while the command line is read.
 */
#define _GNU_SOURCE
#include "cli.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zs_version.h"

void zs_cli_print_version(const char *prog)
{
	printf("%s (zsmalloc) %s\n", prog, ZS_VERSION);
}

/* The folder of the running executable, without the trailing slash;
 * "" when /proc/self/exe cannot be read. */
static const char *exe_dir(void)
{
	static char dir[PATH_MAX];
	ssize_t n;
	char *slash;

	if (dir[0])
		return dir;
	n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
	if (n <= 0) {
		dir[0] = 0;
		return dir;
	}
	dir[n] = 0;
	slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	return dir;
}

const char *zs_cli_helper_path(const char *name, const char *in_tree)
{
	static char path[PATH_MAX];
	const char *dir = exe_dir();

	if (dir[0] && (size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) < sizeof(path) &&
	    access(path, X_OK) == 0)
		return path;
	return in_tree;
}

bool zs_cli_runs_from(const char *dir)
{
	return strcmp(exe_dir(), dir) == 0;
}
