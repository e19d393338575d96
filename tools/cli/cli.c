/*
 * cli.c - --version and helper programs for the installed tools (see
 * cli.h).  Single-threaded: called while the command line is read.
 */
#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
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
const char *zs_cli_exe_dir(void)
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
	const char *dir = zs_cli_exe_dir();

	if (dir[0] && (size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) < sizeof(path) &&
	    access(path, X_OK) == 0)
		return path;
	return in_tree;
}

bool zs_cli_runs_from(const char *dir)
{
	return strcmp(zs_cli_exe_dir(), dir) == 0;
}

int zs_cli_parse_size(const char *s, uint64_t *bytes)
{
	char *end;
	unsigned long long v;
	unsigned int shift = 0;

	errno = 0;
	if (!s || *s < '0' || *s > '9')
		return -1;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	switch (*end) {
	case 'k':
	case 'K': shift = 10; break;
	case 'm':
	case 'M': shift = 20; break;
	case 'g':
	case 'G': shift = 30; break;
	case 't':
	case 'T': shift = 40; break;
	default: break;
	}
	if (shift)
		end++;
	if (shift && end[0] == 'i' && end[1] == 'B')
		end += 2;
	else if (*end == 'B')
		end++;
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return -1;
	*bytes = (uint64_t)v << shift;
	return 0;
}
