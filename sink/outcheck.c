/*
 * outcheck.c: the start-up checks of a file --output (see outcheck.h).
 */
#include "outcheck.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEAD_MAX    256     /* enough to tell the formats apart */

static const char text_header[] = "# seq ts device temp_c\n";
static const char csv_header[] = "device,boot,seq,ts,temp_c,mv,raw,recv_ts\n";
static const char sqlite_magic[] = "SQLite format 3";

static int
starts(const char *head, size_t len, const char *with)
{
	size_t n = strlen(with);

	return len >= n && memcmp(head, with, n) == 0;
}

const char *
output_format_of(const char *head, size_t len)
{
	if (starts(head, len, text_header))
		return "text";
	if (starts(head, len, csv_header))
		return "csv";
	if (starts(head, len, sqlite_magic))
		return "sqlite";
	if (len > 0 && head[0] == '{')
		return "jsonl";
	return NULL;
}

/* The directory part of path, in buf. */
static void
dir_of(const char *path, char *buf, size_t cap)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		snprintf(buf, cap, ".");
	else if (slash == path)
		snprintf(buf, cap, "/");
	else
		snprintf(buf, cap, "%.*s", (int)(slash - path), path);
}

/* Appending to an existing file: its first line must be format's. */
static int
check_contents(const char *path, const char *format, char *err, size_t cap)
{
	char head[HEAD_MAX];
	const char *found;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, cap, "option --output: cannot read '%s': %s", path,
		    strerror(errno));
		return -EINVAL;
	}
	n = read(fd, head, sizeof(head));
	close(fd);
	if (n <= 0)
		return 0;       /* empty: it gets format's header */
	found = output_format_of(head, (size_t)n);
	if (found != NULL && strcmp(found, format) == 0)
		return 0;
	if (found != NULL)
		snprintf(err, cap, "option --format %s: '%s' holds %s, not %s; a "
		    "logger appends, so give --format %s to add to it, or another "
		    "--output", format, path, found, format, found);
	else
		snprintf(err, cap, "option --output: '%s' is not a pitemp %s file (its "
		    "first line is no %s header); give another --output", path,
		    format, format);
	return -EINVAL;
}

int
output_check(const char *path, const char *format, int append, char *err,
             size_t err_cap)
{
	char dir[4096];
	struct stat st;

	if (strcmp(path, "-") == 0)
		return 0;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(err, err_cap, "option --output: '%s' is a directory; give a "
		    "file name (e.g. %s%sreadings.txt)", path, path,
		    path[strlen(path) - 1] == '/' ? "" : "/");
		return -EINVAL;
	}
	dir_of(path, dir, sizeof(dir));
	if (stat(dir, &st) < 0) {
		snprintf(err, err_cap, "option --output: '%s': its directory '%s': %s",
		    path, dir, strerror(errno));
		return -EINVAL;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, err_cap, "option --output: '%s': '%s' is not a directory",
		    path, dir);
		return -EINVAL;
	}
	/* The writer makes a temporary file beside path (replacing) or
	 * creates path (a new logger file): the directory must take it. */
	if ((!append || access(path, F_OK) < 0) && access(dir, W_OK | X_OK) < 0) {
		snprintf(err, err_cap, "option --output: cannot create files in '%s': %s",
		    dir, strerror(errno));
		return -EINVAL;
	}
	if (!append || stat(path, &st) < 0)
		return 0;
	if (access(path, W_OK) < 0) {
		snprintf(err, err_cap, "option --output: cannot write '%s': %s", path,
		    strerror(errno));
		return -EINVAL;
	}
	return S_ISREG(st.st_mode) ? check_contents(path, format, err, err_cap) : 0;
}
