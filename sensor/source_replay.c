/*
 * source_replay.c: replay:FILE plays back recorded TMP36 output, one
 * millivolt value per line; blank lines and lines starting with '#' are
 * skipped. The whole file is validated at open, so a bad file fails at
 * startup (a configuration error) rather than minutes into a run; reads
 * then stream it line by line, so a large file is never held in memory.
 * At the end of the file read returns -ENODATA and the sensor stops.
 */
#include "source.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pt_reading.h"

struct replay {
	FILE          *fp;
	char          *path;
	char          *line;   /* getline buffer, reused */
	size_t         cap;
	unsigned long  lineno;
};

enum line_kind { LINE_SKIP, LINE_VALUE, LINE_BAD, LINE_RANGE };

/* Classify one line (trimmed in place) and parse its value into *mv. */
static enum line_kind
parse_line(char *line, double *mv)
{
	char *p = line, *end;
	size_t n = strlen(line);
	double v;

	while (n > 0 && isspace((unsigned char)line[n - 1]))
		line[--n] = '\0';
	while (isspace((unsigned char)*p))
		p++;
	if (*p == '\0' || *p == '#')
		return LINE_SKIP;
	errno = 0;
	v = strtod(p, &end);
	if (end == p || *end != '\0' || isnan(v))
		return LINE_BAD;
	if (errno == ERANGE || !(v >= PT_MV_MIN && v <= PT_MV_MAX))
		return LINE_RANGE;
	*mv = v;
	return LINE_VALUE;
}

/*
 * Next value from the file: 0, -ENODATA at the end, -EINVAL for a bad line
 * or -EIO, with "FILE:LINE: ..." in err.
 */
static int
next_value(struct replay *r, double *mv, char *err, size_t err_cap)
{
	char *text;

	for (;;) {
		if (getline(&r->line, &r->cap, r->fp) < 0) {
			if (ferror(r->fp)) {
				snprintf(err, err_cap, "%s:%lu: read error",
				    r->path, r->lineno + 1);
				return -EIO;
			}
			return -ENODATA;
		}
		r->lineno++;
		text = r->line;
		switch (parse_line(text, mv)) {
		case LINE_SKIP:
			continue;
		case LINE_VALUE:
			return 0;
		case LINE_BAD:
			snprintf(err, err_cap, "%s:%lu: bad millivolt value "
			    "'%.64s'", r->path, r->lineno, text);
			return -EINVAL;
		case LINE_RANGE:
			snprintf(err, err_cap, "%s:%lu: millivolt value '%.64s' "
			    "out of range (%g .. %g)", r->path, r->lineno, text,
			    PT_MV_MIN, PT_MV_MAX);
			return -EINVAL;
		}
	}
}

static void
replay_close(void *state)
{
	struct replay *r = state;

	if (r == NULL)
		return;
	if (r->fp != NULL)
		fclose(r->fp);
	free(r->line);
	free(r->path);
	free(r);
}

/*
 * args: the file name. Fails with -EINVAL for a missing name, a file that
 * is not a regular file (it is read twice), a bad line or no values at all;
 * -errno when it cannot be opened or read.
 */
static int
replay_open(const char *args, void **state, char *err, size_t err_cap)
{
	struct replay *r = NULL;
	struct stat st;
	unsigned long values = 0;
	double mv;
	int rc;

	if (args == NULL || *args == '\0') {
		snprintf(err, err_cap, "missing file name (replay:FILE)");
		rc = -EINVAL;
		goto out;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->path = strdup(args)) == NULL) {
		snprintf(err, err_cap, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	if ((r->fp = fopen(args, "re")) == NULL || fstat(fileno(r->fp), &st) < 0) {
		rc = -errno;
		snprintf(err, err_cap, "%s: %s", args, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, err_cap, "%s: not a regular file", args);
		rc = -EINVAL;
		goto out;
	}
	while ((rc = next_value(r, &mv, err, err_cap)) == 0)
		values++;
	if (rc != -ENODATA)
		goto out;
	if (values == 0) {
		snprintf(err, err_cap, "%s: no millivolt values", args);
		rc = -EINVAL;
		goto out;
	}
	if (fseek(r->fp, 0, SEEK_SET) < 0) {
		rc = -errno;
		snprintf(err, err_cap, "%s: %s", args, strerror(errno));
		goto out;
	}
	r->lineno = 0;
	*state = r;
	r = NULL;
	rc = 0;
out:
	replay_close(r);
	return rc;
}

/*
 * The next value in file order; -ENODATA at the end (and after). A line
 * that went bad after open (file changed) is -EINVAL, naming file and line.
 */
static int
replay_read(void *state, struct source_sample *out, char *err, size_t err_cap)
{
	struct replay *r = state;
	double mv;
	int rc;

	if ((rc = next_value(r, &mv, err, err_cap)) < 0)
		return rc;
	out->mv = mv;
	out->has_raw = false;
	out->raw = 0;
	return 0;
}

const struct source_ops source_replay_ops = {
	.prefix = "replay",
	.open = replay_open,
	.read = replay_read,
	.close = replay_close,
};
