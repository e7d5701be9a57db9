/*
 * hw.c: status LED and DRDY pacing for pitemp-sensor (see hw.h). LED
 * failures are logged once and otherwise ignored: a dead LED must never
 * stop the readings.
 */
#include "hw.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pt_gpio.h"
#include "pt_log.h"
#include "pt_time.h"

#define CONSUMER "pitemp-sensor"

struct hw {
	struct pt_gpio *led;
	struct pt_gpio *drdy;
	char            drdy_name[128];
	int64_t         drdy_timeout_ns;
	uint64_t        drdy_timeouts;
	int             connected;
	int             lit;            /* what the LED shows now */
	int             led_failed;     /* logged already */
	int64_t         dark_until_ns;  /* end of the current blink */
	int64_t         next_blink_ns;  /* no new blink before this */
};

static int64_t (*clock_ns)(void) = pt_time_mono_ns;

void
hw_set_clock(int64_t (*now_ns)(void))
{
	clock_ns = now_ns != NULL ? now_ns : pt_time_mono_ns;
}

static void
gpio_error(const char *opt, const char *spec, int rc, char *err, size_t cap)
{
	const char *why;

	switch (rc) {
	case -EINVAL:
		why = "bad line (expected CHIP:LINE like gpiochip0:17, or a "
		    "line name like GPIO17)";
		break;
	case -ENOENT:
	case -ENODEV:
		why = "no such GPIO chip or line";
		break;
	case -EBUSY:
		why = "line busy (held by another program)";
		break;
	case -EACCES:
	case -EPERM:
		why = "permission denied (is the user in group gpio?)";
		break;
	default:
		why = strerror(-rc);
		break;
	}
	snprintf(err, cap, "option --%s: '%s': %s", opt, spec, why);
}

struct hw *
hw_open(const struct pt_opts *o, char *err, size_t err_cap)
{
	struct hw *h;
	int rc;

	if ((h = calloc(1, sizeof(*h))) == NULL) {
		snprintf(err, err_cap, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	h->drdy_timeout_ns = HW_DRDY_TIMEOUT_NS;
	if (o->rate > 0 && 0.5e9 / o->rate < (double)h->drdy_timeout_ns)
		h->drdy_timeout_ns = (int64_t)(0.5e9 / o->rate);
	if (o->led != NULL &&
	    (rc = pt_gpio_open_output(o->led, CONSUMER, 0, &h->led)) < 0) {
		gpio_error("led", o->led, rc, err, err_cap);
		goto fail;
	}
	if (o->drdy != NULL) {
		if ((rc = pt_gpio_open_falling(o->drdy, CONSUMER, &h->drdy)) < 0) {
			gpio_error("drdy", o->drdy, rc, err, err_cap);
			goto fail;
		}
		snprintf(h->drdy_name, sizeof(h->drdy_name), "%s", o->drdy);
	}
	return h;
fail:
	hw_close(h);
	errno = -rc;
	return NULL;
}

static void
led_set(struct hw *h, int on)
{
	int rc;

	if (h->led == NULL || h->lit == on)
		return;
	if ((rc = pt_gpio_set(h->led, on)) < 0) {
		if (!h->led_failed)
			pt_log_warnx("status LED: %s (ignored from now on)",
			    strerror(-rc));
		h->led_failed = 1;
		return;
	}
	h->lit = on;
}

/* End a blink that has run its time. */
static void
led_tick(struct hw *h)
{
	if (h->led != NULL && h->connected && !h->lit &&
	    clock_ns() >= h->dark_until_ns)
		led_set(h, 1);
}

void
hw_on_connect(struct hw *h, int connected)
{
	if (h == NULL)
		return;
	connected = connected != 0;
	if (connected != h->connected) {
		h->connected = connected;
		h->dark_until_ns = 0;
		led_set(h, connected);
	}
	led_tick(h);
}

void
hw_on_publish(struct hw *h)
{
	int64_t now;

	if (h == NULL || h->led == NULL || !h->connected || !h->lit)
		return;
	now = clock_ns();
	if (now < h->next_blink_ns)
		return;
	led_set(h, 0);
	h->dark_until_ns = now + HW_BLINK_OFF_NS;
	h->next_blink_ns = now + HW_BLINK_PERIOD_NS;
}

int
hw_wait_sample(struct hw *h, struct pt_pacer *p)
{
	int rc;

	if ((rc = pt_pacer_wait(p)) < 0)
		return rc;
	if (h == NULL)
		return 0;
	led_tick(h);
	if (h->drdy == NULL)
		return 0;
	rc = pt_gpio_wait_edge(h->drdy, h->drdy_timeout_ns);
	if (rc == 1)
		return 0;
	/* No edge (or a failed wait): read anyway, say so once. */
	if (h->drdy_timeouts++ == 0) {
		if (rc < 0)
			pt_log_warnx("--drdy %s: waiting for ALERT/RDY failed: %s; "
			    "reading on the timer (logged once)", h->drdy_name,
			    strerror(-rc));
		else
			pt_log_warnx("--drdy %s: no ALERT/RDY edge within %.1f ms; "
			    "reading on the timer (logged once)", h->drdy_name,
			    (double)h->drdy_timeout_ns / 1e6);
	}
	return 0;
}

uint64_t
hw_drdy_timeouts(const struct hw *h)
{
	return h != NULL ? h->drdy_timeouts : 0;
}

void
hw_close(struct hw *h)
{
	if (h == NULL)
		return;
	if (h->led != NULL && !h->led_failed)
		(void)pt_gpio_set(h->led, 0);
	pt_gpio_close(h->led);
	pt_gpio_close(h->drdy);
	free(h);
}
