/*
 * recover.c: rebuild the sink's dedup state from its output file's tail
 * (see recover.h). Runs once at start-up, before the MQTT client exists,
 * so nothing here is shared with paho's thread.
 */
#include "recover.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pt_codec.h"
#include "pt_time.h"

/* Enough for RECOVER_MAX_LINES lines of text (~60 bytes) or jsonl (~170). */
#define TAIL_BYTES  (4u << 20)

struct seen {
	uint64_t seq;
	int64_t  ts_us;
	char     device[PT_DEVICE_MAX + 1];
};

struct recover {
	struct seen *v;     /* text format: sorted by seen_cmp */
	size_t       n;
};

static int
seen_cmp(const void *a, const void *b)
{
	const struct seen *x = a, *y = b;

	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	if (x->ts_us != y->ts_us)
		return x->ts_us < y->ts_us ? -1 : 1;
	return strcmp(x->device, y->device);
}

/* Copy the field [s, end) into out (cap bytes) when it fits. 0 or -1. */
static int
field(const char *s, const char *end, char *out, size_t cap)
{
	size_t n = (size_t)(end - s);

	if (end <= s || n >= cap)
		return -1;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

static int
parse_seq(const char *s, const char *end, uint64_t *out)
{
	char buf[24], *ep;
	unsigned long long v;

	if (field(s, end, buf, sizeof(buf)) < 0 || buf[0] < '0' || buf[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(buf, &ep, 10);
	if (errno != 0 || *ep != '\0' || v > PT_SEQ_MAX)
		return -1;
	*out = v;
	return 0;
}

/* "seq ts device temp_c" */
static int
parse_text(const char *s, const char *end, struct seen *out)
{
	const char *sp1, *sp2, *sp3;

	if (*s == '#')
		return -1;
	if ((sp1 = memchr(s, ' ', (size_t)(end - s))) == NULL ||
	    (sp2 = memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1))) == NULL ||
	    (sp3 = memchr(sp2 + 1, ' ', (size_t)(end - sp2 - 1))) == NULL)
		return -1;
	if (parse_seq(s, sp1, &out->seq) < 0 ||
	    pt_time_parse(sp1 + 1, (size_t)(sp2 - sp1 - 1), &out->ts_us) < 0 ||
	    field(sp2 + 1, sp3, out->device, sizeof(out->device)) < 0)
		return -1;
	return 0;
}

/* "device,boot,seq,ts,temp_c,mv,raw,recv_ts" */
static int
parse_csv(const char *s, const char *end, struct pt_reading *r)
{
	const char *c1, *c2, *c3;

	if ((c1 = memchr(s, ',', (size_t)(end - s))) == NULL ||
	    (c2 = memchr(c1 + 1, ',', (size_t)(end - c1 - 1))) == NULL ||
	    (c3 = memchr(c2 + 1, ',', (size_t)(end - c2 - 1))) == NULL)
		return -1;
	if (field(s, c1, r->device, sizeof(r->device)) < 0 ||
	    field(c1 + 1, c2, r->boot, sizeof(r->boot)) < 0 ||
	    parse_seq(c2 + 1, c3, &r->seq) < 0)
		return -1;
	return strcmp(r->device, "device") == 0 ? -1 : 0;  /* the header */
}

/* The payload plus ,"recv_ts":"..."} (writer.c format_jsonl): cut the
 * member off again and decode what the sensor sent. */
static int
parse_jsonl(const char *s, const char *end, struct pt_reading *r)
{
	static const char key[] = "\"recv_ts\"";
	char buf[PT_PAYLOAD_MAX + 2];
	const char *k = NULL, *p;
	size_t n;

	for (p = s; (p = memmem(p, (size_t)(end - p), key, sizeof(key) - 1)) != NULL;
	    p++)
		k = p;
	if (k == NULL)
		return -1;
	n = (size_t)(k - s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n > 0 && s[n - 1] == ',')
		n--;
	if (n + 1 >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n++] = '}';
	return pt_codec_decode(buf, n, r, NULL, 0) < 0 ? -1 : 0;
}

/* The last TAIL_BYTES of fd's file into *buf; *len bytes, *from_start
 * when that is the whole file. 0 or -errno. */
static int
read_tail(int fd, char **buf, size_t *len, int *from_start)
{
	struct stat st;
	off_t from;
	size_t want, got = 0;
	ssize_t n;

	*buf = NULL;
	*len = 0;
	if (fstat(fd, &st) == -1)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size == 0)
		return 0;
	from = st.st_size > (off_t)TAIL_BYTES ? st.st_size - (off_t)TAIL_BYTES : 0;
	want = (size_t)(st.st_size - from);
	if ((*buf = malloc(want)) == NULL)
		return -ENOMEM;
	while (got < want) {
		n = pread(fd, *buf + got, want - got, from + (off_t)got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	*len = got;
	*from_start = from == 0;
	return 0;
}

/* Start of the line that ends the last `max` complete lines of buf. */
static size_t
tail_start(const char *buf, size_t len, int from_start, size_t max)
{
	size_t i = len, lines = 0;

	while (i > 0) {
		if (buf[i - 1] == '\n' && i != len && ++lines >= max)
			return i;
		i--;
	}
	if (from_start)
		return 0;
	/* Cut in the middle of a line: skip past its end. */
	{
		const char *nl = memchr(buf, '\n', len);

		return nl != NULL ? (size_t)(nl - buf) + 1 : len;
	}
}

static int
load(struct recover *rec, const char *buf, size_t len, int from_start,
     enum writer_format fmt, struct dedup *d, struct recover_info *info)
{
	size_t pos = tail_start(buf, len, from_start, RECOVER_MAX_LINES);
	const char *s, *nl;
	struct pt_reading r;

	if (fmt == WRITER_TEXT &&
	    (rec->v = calloc(RECOVER_MAX_LINES, sizeof(*rec->v))) == NULL)
		return -ENOMEM;
	for (; pos < len; pos = (size_t)(nl - buf) + 1) {
		s = buf + pos;
		/* A last line with no newline is torn: not a reading. */
		if ((nl = memchr(s, '\n', len - pos)) == NULL)
			break;
		if (nl == s)
			continue;
		memset(&r, 0, sizeof(r));
		if (fmt == WRITER_TEXT) {
			if (rec->n >= RECOVER_MAX_LINES ||
			    parse_text(s, nl, &rec->v[rec->n]) < 0) {
				if (*s != '#')
					info->skipped++;
				continue;
			}
			rec->n++;
		} else if ((fmt == WRITER_CSV ? parse_csv(s, nl, &r) :
		    parse_jsonl(s, nl, &r)) == 0) {
			dedup_seed(d, r.device, r.boot, r.seq);
		} else {
			if (!(fmt == WRITER_CSV && strncmp(s, "device,", 7) == 0))
				info->skipped++;
			continue;
		}
		info->lines++;
	}
	if (rec->n > 1)
		qsort(rec->v, rec->n, sizeof(*rec->v), seen_cmp);
	return 0;
}

struct recover *
recover_load(const char *path, enum writer_format fmt, struct dedup *d,
             struct recover_info *info)
{
	struct recover_info scratch;
	struct recover *rec = NULL;
	char *buf = NULL;
	size_t len = 0;
	int fd = -1, rc, from_start = 1;

	if (info == NULL)
		info = &scratch;
	memset(info, 0, sizeof(*info));
	if (path == NULL || d == NULL || (unsigned)fmt > WRITER_JSONL) {
		errno = EINVAL;
		return NULL;
	}
	if ((rec = calloc(1, sizeof(*rec))) == NULL)
		return NULL;
	if (strcmp(path, "-") == 0)
		return rec;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		rc = errno == ENOENT ? 0 : -errno;
		goto out;
	}
	if ((rc = read_tail(fd, &buf, &len, &from_start)) == 0 && len > 0)
		rc = load(rec, buf, len, from_start, fmt, d, info);
out:
	free(buf);
	if (fd != -1)
		close(fd);
	if (rc != 0) {
		recover_free(rec);
		errno = -rc;
		return NULL;
	}
	return rec;
}

int
recover_seen(const struct recover *rec, const struct pt_reading *r)
{
	struct seen key;

	if (rec == NULL || r == NULL || rec->n == 0)
		return 0;
	memset(&key, 0, sizeof(key));
	key.seq = r->seq;
	key.ts_us = r->ts_us;
	snprintf(key.device, sizeof(key.device), "%s", r->device);
	return bsearch(&key, rec->v, rec->n, sizeof(*rec->v), seen_cmp) != NULL;
}

int
recover_last_before(const struct recover *rec, const struct pt_reading *r,
                    uint64_t *seq)
{
	size_t lo = 0, hi;

	if (rec == NULL || r == NULL || rec->n == 0)
		return 0;
	/* The first entry with seq >= r->seq (sorted by seq first)... */
	hi = rec->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (rec->v[mid].seq < r->seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* ...and back from there to the device's latest earlier one. Once per
	 * stream (the caller asks only for one the dedup does not know). */
	while (lo-- > 0)
		if (rec->v[lo].ts_us < r->ts_us &&
		    strcmp(rec->v[lo].device, r->device) == 0) {
			*seq = rec->v[lo].seq;
			return 1;
		}
	return 0;
}

void
recover_free(struct recover *rec)
{
	if (rec == NULL)
		return;
	free(rec->v);
	free(rec);
}
