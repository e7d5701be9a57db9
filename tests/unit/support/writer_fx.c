/*
 * writer_fx.c: the writer unit tests' shared fixture (see writer_fx.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "writer_fx.h"

int
writer_fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	strcpy(f->dir, "/tmp/pitemp-writer-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/out.txt", f->dir);
	*state = f;
	return 0;
}

int
writer_fx_teardown(void **state)
{
	struct fx *f = *state;
	char p[512];
	struct dirent *e;
	DIR *d;

	if ((d = opendir(f->dir)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			snprintf(p, sizeof(p), "%s/%s", f->dir, e->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

struct pt_reading
reading(uint64_t seq, int with_extras)
{
	struct pt_reading r;

	memset(&r, 0, sizeof(r));
	strcpy(r.device, "pi-sensor-1");
	strcpy(r.boot, "5f0c2a9e41d3b7a8");
	r.seq = seq;
	r.ts_us = TS_US;
	r.temp_c = 22.53;
	r.has_mv = with_extras;
	r.mv = 725.3;
	r.has_raw = with_extras;
	r.raw = 225;
	return r;
}

/* The whole file as a string (static buffer); "" when missing. */
const char *
slurp(const char *path)
{
	static char buf[8192];
	ssize_t n = 0;
	int fd;

	buf[0] = '\0';
	if ((fd = open(path, O_RDONLY)) == -1)
		return buf;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* Entries of dir other than . and .. */
int
count_entries(const char *dir)
{
	struct dirent *e;
	int n = 0;
	DIR *d;

	assert_non_null(d = opendir(dir));
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

void
put(struct writer *w, uint64_t seq, int extras)
{
	struct pt_reading r = reading(seq, extras);

	assert_int_equal(writer_write(w, &r, PAYLOAD, strlen(PAYLOAD), RECV_US), 0);
}

/* Size of the one temporary file ".out.txt.XXXXXX" in dir, -1 if none. */
off_t
temp_size(const char *dir)
{
	char p[512];
	struct dirent *e;
	struct stat st;
	off_t size = -1;
	DIR *d;

	assert_non_null(d = opendir(dir));
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, ".out.txt.", 9) == 0) {
			snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
			assert_int_equal(stat(p, &st), 0);
			size = st.st_size;
		}
	closedir(d);
	return size;
}

int
count_lines(const char *path)
{
	FILE *fp = fopen(path, "r");
	int c, n = 0;

	assert_non_null(fp);
	while ((c = fgetc(fp)) != EOF)
		n += c == '\n';
	fclose(fp);
	return n;
}
