/*
 * source.c: --source SPEC -> one ops table. The spec is PREFIX[:ARGS]; the
 * prefix picks the table below, the rest goes to its open unparsed (iio
 * paths contain colons of their own, so only the first colon splits).
 */
#include "source.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pt_reading.h"
#include "pt_tmp36.h"

struct source {
	const struct source_ops *ops;
	void *state;
	char *spec;
};

/* Adding a source is one line here (plus its extern in source.h). */
static const struct source_ops *const source_table[] = {
	&source_sim_ops,
	&source_replay_ops,
	&source_mcp3008_ops,
	&source_iio_ops,
	&source_ads1115_ops,
};

#define NSOURCES (sizeof(source_table) / sizeof(source_table[0]))

static const struct source_ops *
find_ops(const char *spec, size_t len)
{
	size_t i;

	for (i = 0; i < NSOURCES; i++)
		if (strlen(source_table[i]->prefix) == len &&
		    memcmp(source_table[i]->prefix, spec, len) == 0)
			return source_table[i];
	return NULL;
}

static void
unknown_prefix(const char *spec, char *err, size_t err_cap)
{
	char known[128];
	size_t i, n = 0;
	int m;

	known[0] = '\0';
	for (i = 0; i < NSOURCES && n < sizeof(known); i++) {
		m = snprintf(known + n, sizeof(known) - n, "%s%s",
		    i > 0 ? ", " : "", source_table[i]->prefix);
		if (m < 0)
			break;
		n += (size_t)m;
	}
	snprintf(err, err_cap, "unknown source '%s' (known: %s)", spec, known);
}

/*
 * err may be NULL (the message is dropped). On failure errno is EINVAL for
 * a bad or unknown spec, ENOMEM, or whatever the source's open returned.
 */
struct source *
source_open(const char *spec, char *err, size_t err_cap)
{
	const struct source_ops *ops;
	struct source *s = NULL;
	const char *args;
	char msg[512], dummy[1];
	size_t len;
	int rc;

	if (err == NULL) {
		err = dummy;
		err_cap = sizeof(dummy);
	}
	if (spec == NULL || *spec == '\0') {
		snprintf(err, err_cap, "empty source spec");
		rc = -EINVAL;
		goto out;
	}
	len = strcspn(spec, ":");
	if ((ops = find_ops(spec, len)) == NULL) {
		unknown_prefix(spec, err, err_cap);
		rc = -EINVAL;
		goto out;
	}
	args = spec[len] == ':' ? spec + len + 1 : NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->spec = strdup(spec)) == NULL) {
		snprintf(err, err_cap, "source '%s': out of memory", spec);
		rc = -ENOMEM;
		goto out;
	}
	s->ops = ops;
	msg[0] = '\0';
	if ((rc = ops->open(args, &s->state, msg, sizeof(msg))) < 0) {
		snprintf(err, err_cap, "source '%s': %s", spec, msg);
		s->state = NULL;
		goto out;
	}
	rc = 0;
out:
	if (rc < 0) {
		if (s != NULL) {
			free(s->spec);
			free(s);
		}
		errno = -rc;
		return NULL;
	}
	return s;
}

/* As the ops read: 0, -EAGAIN, -ENODATA or -errno; err may be NULL. */
int
source_read(struct source *s, struct source_sample *out, char *err, size_t err_cap)
{
	char dummy[1];

	if (err == NULL) {
		err = dummy;
		err_cap = sizeof(dummy);
	}
	if (s == NULL || out == NULL) {
		snprintf(err, err_cap, "no source");
		return -EINVAL;
	}
	return s->ops->read(s->state, out, err, err_cap);
}

const char *
source_name(const struct source *s)
{
	return s != NULL ? s->spec : "(none)";
}

void
source_close(struct source *s)
{
	if (s == NULL)
		return;
	s->ops->close(s->state);
	free(s->spec);
	free(s);
}

int
source_fill_reading(const struct source_sample *s, struct pt_reading *r)
{
	r->temp_c = round(pt_tmp36_mv_to_c(s->mv) * 100.0) / 100.0;
	r->has_mv = 1;
	r->mv = round(s->mv * 10.0) / 10.0;
	r->has_raw = s->has_raw;
	r->raw = s->raw;
	if (!pt_tmp36_in_range(r->temp_c) || r->mv < PT_MV_MIN || r->mv > PT_MV_MAX)
		return -ERANGE;
	return 0;
}
