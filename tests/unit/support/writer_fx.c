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
