/*
 * gpio.c: pt_gpio over libgpiod v1.6 (Debian 12: 1.6.3), the only file
 * including gpiod.h. The v1 API used here (gpiod_line_find,
 * gpiod_chip_open_lookup, gpiod_line_request_*) is gone in v2, whose
 * request model is different; a port replaces the libgpiod ops below.
 */
#include "pt_gpio.h"

#include <ctype.h>
#include <errno.h>
#include <gpiod.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DRAIN 64	/* queued edges discarded before a wait, at most */

struct pt_gpio {
	const struct pt_gpio_ops *ops;
	void *line;
};

/* libgpiod sets errno but returns NULL/-1; keep a usable -errno. */
static int
neg_errno(int fallback)
{
	return errno > 0 ? -errno : -fallback;
}

static int
find_line(const struct pt_gpio_where *w, struct gpiod_line **out)
{
	struct gpiod_chip *chip;
	struct gpiod_line *line;
	int rc;

	errno = 0;
	if (w->chip == NULL) {
		if ((line = gpiod_line_find(w->name)) == NULL)
			return neg_errno(ENOENT);
		*out = line;
		return 0;
	}
	if ((chip = gpiod_chip_open_lookup(w->chip)) == NULL)
		return neg_errno(ENOENT);
	if ((line = gpiod_chip_get_line(chip, w->offset)) == NULL) {
		rc = neg_errno(ENOENT);
		gpiod_chip_close(chip);
		return rc;
	}
	*out = line;
	return 0;
}

static int
gd_open_output(const struct pt_gpio_where *w, const char *consumer,
    int value, void **out)
{
	struct gpiod_line *line;
	int rc;

	if ((rc = find_line(w, &line)) < 0)
		return rc;
	if (gpiod_line_request_output(line, consumer, value) < 0) {
		rc = neg_errno(EIO);
		gpiod_line_close_chip(line);
		return rc;
	}
	*out = line;
	return 0;
}

static int
gd_open_falling(const struct pt_gpio_where *w, const char *consumer,
    void **out)
{
	struct gpiod_line *line;
	int rc;

	if ((rc = find_line(w, &line)) < 0)
		return rc;
	/* ALERT/RDY is open drain: ask for the pull-up, and do without on
	 * kernels before 5.5 that know no bias (an external one works). */
	if (gpiod_line_request_falling_edge_events_flags(line, consumer,
	    GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP) < 0 &&
	    gpiod_line_request_falling_edge_events(line, consumer) < 0) {
		rc = neg_errno(EIO);
		gpiod_line_close_chip(line);
		return rc;
	}
	*out = line;
	return 0;
}

static int
gd_set(void *line, int value)
{
	if (gpiod_line_set_value(line, value) < 0)
		return neg_errno(EIO);
	return 0;
}

static int
gd_wait_edge(void *line, int64_t timeout_ns)
{
	struct gpiod_line_event ev;
	struct timespec zero = { 0, 0 }, ts;
	int i, rc;

	/* The ADC converts faster than we read: drop the stale edges. */
	for (i = 0; i < MAX_DRAIN; i++) {
		if ((rc = gpiod_line_event_wait(line, &zero)) < 0)
			return neg_errno(EIO);
		if (rc == 0)
			break;
		if (gpiod_line_event_read(line, &ev) < 0)
			return neg_errno(EIO);
	}
	if (timeout_ns < 0)
		timeout_ns = 0;
	ts.tv_sec = (time_t)(timeout_ns / 1000000000);
	ts.tv_nsec = (long)(timeout_ns % 1000000000);
	if ((rc = gpiod_line_event_wait(line, &ts)) < 0)
		return neg_errno(EIO);
	if (rc == 0)
		return 0;
	if (gpiod_line_event_read(line, &ev) < 0)
		return neg_errno(EIO);
	return 1;
}

static void
gd_close(void *line)
{
	/* Closing the chip releases the line too. */
	if (line != NULL)
		gpiod_line_close_chip(line);
}

static const struct pt_gpio_ops libgpiod_ops = {
	.open_output = gd_open_output,
	.open_falling = gd_open_falling,
	.set = gd_set,
	.wait_edge = gd_wait_edge,
	.close = gd_close,
};

/* Replaced only by tests, before lines are opened (see pt_gpio.h). */
static const struct pt_gpio_ops *gpio_ops = &libgpiod_ops;

void
pt_gpio_set_ops(const struct pt_gpio_ops *ops)
{
	gpio_ops = ops != NULL ? ops : &libgpiod_ops;
}

int
pt_gpio_parse(const char *spec, char *buf, size_t cap, struct pt_gpio_where *w)
{
	char *colon, *end;
	unsigned long v;

	if (spec == NULL || *spec == '\0' || strlen(spec) >= cap)
		return -EINVAL;
	memcpy(buf, spec, strlen(spec) + 1);
	memset(w, 0, sizeof(*w));
	if ((colon = strrchr(buf, ':')) == NULL) {
		w->name = buf;
		return 0;
	}
	*colon = '\0';
	if (buf[0] == '\0' || !isdigit((unsigned char)colon[1]))
		return -EINVAL;
	errno = 0;
	v = strtoul(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || v > 1023)
		return -EINVAL;
	w->chip = buf;
	w->offset = (unsigned)v;
	return 0;
}

static int
open_line(const char *spec, const char *consumer, int output, int value,
    struct pt_gpio **out)
{
	struct pt_gpio_where w;
	struct pt_gpio *g = NULL;
	char buf[256];
	int rc;

	if ((rc = pt_gpio_parse(spec, buf, sizeof(buf), &w)) < 0)
		goto out;
	if ((g = calloc(1, sizeof(*g))) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	g->ops = gpio_ops;
	rc = output ? g->ops->open_output(&w, consumer, value, &g->line) :
	    g->ops->open_falling(&w, consumer, &g->line);
	if (rc < 0)
		goto out;
	*out = g;
	g = NULL;
	rc = 0;
out:
	free(g);
	return rc;
}

int
pt_gpio_open_output(const char *spec, const char *consumer, int value,
    struct pt_gpio **out)
{
	return open_line(spec, consumer, 1, value != 0, out);
}

int
pt_gpio_open_falling(const char *spec, const char *consumer,
    struct pt_gpio **out)
{
	return open_line(spec, consumer, 0, 0, out);
}

int
pt_gpio_set(struct pt_gpio *g, int value)
{
	if (g == NULL)
		return -EINVAL;
	return g->ops->set(g->line, value != 0);
}

int
pt_gpio_wait_edge(struct pt_gpio *g, int64_t timeout_ns)
{
	if (g == NULL)
		return -EINVAL;
	return g->ops->wait_edge(g->line, timeout_ns);
}

void
pt_gpio_close(struct pt_gpio *g)
{
	if (g == NULL)
		return;
	g->ops->close(g->line);
	free(g);
}
