/*
 * test_gpio.c: lib/gpio.c's line specs and the sensor's GPIO glue
 * (sensor/hw.c) through a fake pt_gpio backend and a fake clock: the LED
 * lit while connected, dark while not, blinking on publishes; DRDY reads
 * on the edge, and on a timeout reads anyway and logs once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hw.h"
#include "pt_gpio.h"
#include "pt_log.h"
#include "pt_opts.h"
#include "pt_pacer.h"

#define MS 1000000LL
#define MAXSET 64

struct fake_line {
	int  output;
	int  value;
	char chip[64];
	char name[64];
	unsigned offset;
};

static struct {
	struct fake_line lines[4];
	int      nlines;
	int      open_rc;       /* returned by the next opens when < 0 */
	int      open_fail_at;  /* 1-based open that fails with open_rc */
	int      opens;
	int      set_rc;
	int      sets[MAXSET];  /* every value written to the output */
	int      nsets;
	int      wait_rc;       /* what wait_edge returns */
	int      waits;
	int64_t  last_timeout;
	int      closed;
	int64_t  now;           /* the fake CLOCK_MONOTONIC */
} fk;

static int
fake_open(const struct pt_gpio_where *w, int output, int value, void **line)
{
	struct fake_line *l;

	fk.opens++;
	if (fk.open_rc < 0 && (fk.open_fail_at == 0 || fk.open_fail_at == fk.opens))
		return fk.open_rc;
	assert_true(fk.nlines < 4);
	l = &fk.lines[fk.nlines++];
	l->output = output;
	l->value = value;
	snprintf(l->chip, sizeof(l->chip), "%s", w->chip ? w->chip : "");
	snprintf(l->name, sizeof(l->name), "%s", w->name ? w->name : "");
	l->offset = w->offset;
	*line = l;
	return 0;
}

static int
fake_open_output(const struct pt_gpio_where *w, const char *consumer,
    int value, void **line)
{
	assert_string_equal(consumer, "pitemp-sensor");
	return fake_open(w, 1, value, line);
}

static int
fake_open_falling(const struct pt_gpio_where *w, const char *consumer,
    void **line)
{
	assert_string_equal(consumer, "pitemp-sensor");
	return fake_open(w, 0, 0, line);
}

static int
fake_set(void *line, int value)
{
	struct fake_line *l = line;

	assert_true(l->output);
	if (fk.set_rc < 0)
		return fk.set_rc;
	assert_true(fk.nsets < MAXSET);
	fk.sets[fk.nsets++] = value;
	l->value = value;
	return 0;
}

static int
fake_wait_edge(void *line, int64_t timeout_ns)
{
	struct fake_line *l = line;

	assert_false(l->output);
	fk.waits++;
	fk.last_timeout = timeout_ns;
	return fk.wait_rc;
}

static void
fake_close(void *line)
{
	(void)line;
	fk.closed++;
}

static const struct pt_gpio_ops fake_ops = {
	.open_output = fake_open_output,
	.open_falling = fake_open_falling,
	.set = fake_set,
	.wait_edge = fake_wait_edge,
	.close = fake_close,
};

static int64_t
fake_now(void)
{
	return fk.now;
}

static int
setup(void **state)
{
	(void)state;
	memset(&fk, 0, sizeof(fk));
	fk.now = 1000 * MS;
	pt_gpio_set_ops(&fake_ops);
	hw_set_clock(fake_now);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	pt_gpio_set_ops(NULL);
	hw_set_clock(NULL);
	return 0;
}

static struct hw *
open_hw(const char *led, const char *drdy, double rate)
{
	struct pt_opts o;
	struct hw *h;
	char err[256];

	memset(&o, 0, sizeof(o));
	o.led = (char *)(uintptr_t)led;
	o.drdy = (char *)(uintptr_t)drdy;
	o.rate = rate;
	if ((h = hw_open(&o, err, sizeof(err))) == NULL)
		fail_msg("hw_open: %s", err);
	return h;
}

/* Run fn with stderr sent to a temp file; return what was logged. */
static char *
capture_stderr(void (*fn)(struct hw *), struct hw *h)
{
	static char buf[4096];
	char path[] = "/tmp/pitemp-test-gpio-XXXXXX";
	int fd, saved;
	ssize_t n;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);
	fn(h);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	assert_true(n >= 0);
	buf[n] = '\0';
	close(fd);
	unlink(path);
	return buf;
}

static int
count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

static void
gpio_spec_is_chip_and_offset_or_a_line_name(void **state)
{
	struct pt_gpio_where w;
	char buf[64];

	(void)state;
	assert_int_equal(pt_gpio_parse("gpiochip0:17", buf, sizeof(buf), &w), 0);
	assert_string_equal(w.chip, "gpiochip0");
	assert_int_equal(w.offset, 17);
	assert_null(w.name);
	assert_int_equal(pt_gpio_parse("/dev/gpiochip4:27", buf, sizeof(buf), &w), 0);
	assert_string_equal(w.chip, "/dev/gpiochip4");
	assert_int_equal(w.offset, 27);
	assert_int_equal(pt_gpio_parse("GPIO17", buf, sizeof(buf), &w), 0);
	assert_null(w.chip);
	assert_string_equal(w.name, "GPIO17");
	assert_int_equal(pt_gpio_parse("gpiochip0:x", buf, sizeof(buf), &w), -EINVAL);
	assert_int_equal(pt_gpio_parse(":5", buf, sizeof(buf), &w), -EINVAL);
	assert_int_equal(pt_gpio_parse("gpiochip0:-1", buf, sizeof(buf), &w), -EINVAL);
	assert_int_equal(pt_gpio_parse("gpiochip0:5000", buf, sizeof(buf), &w), -EINVAL);
	assert_int_equal(pt_gpio_parse("", buf, sizeof(buf), &w), -EINVAL);
}

static void
led_opens_dark_and_lights_on_connect_and_darkens_on_disconnect(void **state)
{
	struct hw *h;

	(void)state;
	h = open_hw("gpiochip0:17", NULL, 100);
	assert_int_equal(fk.nlines, 1);
	assert_true(fk.lines[0].output);
	assert_string_equal(fk.lines[0].chip, "gpiochip0");
	assert_int_equal(fk.lines[0].offset, 17);
	assert_int_equal(fk.lines[0].value, 0);
	hw_on_connect(h, 1);
	assert_int_equal(fk.lines[0].value, 1);
	hw_on_connect(h, 1);		/* no change, no write */
	hw_on_connect(h, 1);
	assert_int_equal(fk.nsets, 1);
	hw_on_connect(h, 0);
	assert_int_equal(fk.lines[0].value, 0);
	assert_int_equal(fk.nsets, 2);
	hw_close(h);
	assert_int_equal(fk.closed, 1);
}

static void
led_blinks_off_briefly_on_publish_at_a_visible_rate(void **state)
{
	struct hw *h;

	(void)state;
	h = open_hw("GPIO17", NULL, 100);
	assert_string_equal(fk.lines[0].name, "GPIO17");
	hw_on_connect(h, 1);
	hw_on_publish(h);
	assert_int_equal(fk.lines[0].value, 0);		/* blink */
	fk.now += HW_BLINK_OFF_NS - 1;
	hw_on_connect(h, 1);
	assert_int_equal(fk.lines[0].value, 0);		/* still dark */
	fk.now += 1;
	hw_on_connect(h, 1);
	assert_int_equal(fk.lines[0].value, 1);		/* back on */
	hw_on_publish(h);				/* too soon: no blink */
	assert_int_equal(fk.lines[0].value, 1);
	fk.now += HW_BLINK_PERIOD_NS - HW_BLINK_OFF_NS;
	hw_on_publish(h);
	assert_int_equal(fk.lines[0].value, 0);
	assert_int_equal(fk.nsets, 4);			/* on, off, on, off */
	hw_close(h);
	assert_int_equal(fk.sets[fk.nsets - 1], 0);	/* left dark */
}

static void
led_stays_dark_on_publish_while_disconnected(void **state)
{
	struct hw *h;

	(void)state;
	h = open_hw("GPIO17", NULL, 100);
	hw_on_publish(h);
	fk.now += HW_BLINK_PERIOD_NS;
	hw_on_connect(h, 0);
	assert_int_equal(fk.nsets, 0);
	/* A blink cut short by a disconnect does not relight the LED. */
	hw_on_connect(h, 1);
	hw_on_publish(h);
	hw_on_connect(h, 0);
	fk.now += HW_BLINK_PERIOD_NS;
	hw_on_connect(h, 0);
	assert_int_equal(fk.lines[0].value, 0);
	hw_close(h);
}

static void
led_failure_is_logged_once_and_never_stops_the_sensor_(struct hw *h)
{
	hw_on_connect(h, 1);
	hw_on_connect(h, 0);
	hw_on_connect(h, 1);
}

static void
led_failure_is_logged_once_and_never_stops_the_sensor(void **state)
{
	struct hw *h;
	char *log;

	(void)state;
	pt_log_init("test", 0);
	h = open_hw("GPIO17", NULL, 100);
	fk.set_rc = -EIO;
	log = capture_stderr(led_failure_is_logged_once_and_never_stops_the_sensor_, h);
	assert_int_equal(count(log, "status LED: Input/output error"), 1);
	hw_close(h);
}

static void
drdy_wait_reads_on_the_edge_after_the_deadline(void **state)
{
	struct pt_pacer p;
	struct hw *h;

	(void)state;
	h = open_hw(NULL, "gpiochip0:27", 100);
	assert_false(fk.lines[0].output);
	assert_int_equal(fk.lines[0].offset, 27);
	assert_int_equal(pt_pacer_init(&p, 0), 0);
	fk.wait_rc = 1;
	assert_int_equal(hw_wait_sample(h, &p), 0);
	assert_int_equal(hw_wait_sample(h, &p), 0);
	assert_int_equal(fk.waits, 2);
	assert_int_equal(p.k, 2);			/* the pacer ran first */
	assert_int_equal(fk.last_timeout, HW_DRDY_TIMEOUT_NS);
	assert_int_equal(hw_drdy_timeouts(h), 0);
	hw_close(h);
}

static void
drdy_timeout_reads_anyway_and_logs_once_(struct hw *h)
{
	struct pt_pacer p;

	assert_int_equal(pt_pacer_init(&p, 0), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(hw_wait_sample(h, &p), 0);
	fk.wait_rc = -EIO;
	assert_int_equal(hw_wait_sample(h, &p), 0);
}

static void
drdy_timeout_reads_anyway_and_logs_once(void **state)
{
	struct hw *h;
	char *log;

	(void)state;
	pt_log_init("test", 0);
	h = open_hw(NULL, "GPIO27", 100);
	fk.wait_rc = 0;
	log = capture_stderr(drdy_timeout_reads_anyway_and_logs_once_, h);
	assert_int_equal(count(log, "--drdy GPIO27: no ALERT/RDY edge within 5.0 ms"), 1);
	assert_int_equal(count(log, "\n"), 1);
	assert_int_equal(hw_drdy_timeouts(h), 4);
	hw_close(h);
}

static void
drdy_timeout_stays_within_half_a_sample_period(void **state)
{
	struct pt_pacer p;
	struct hw *h;

	(void)state;
	h = open_hw(NULL, "GPIO27", 400);
	assert_int_equal(pt_pacer_init(&p, 400), 0);
	fk.wait_rc = 1;
	assert_int_equal(hw_wait_sample(h, &p), 0);	/* deadline 0: at once */
	assert_int_equal(fk.last_timeout, 1250000);
	hw_close(h);
}

static void
hw_without_lines_is_a_no_op(void **state)
{
	struct pt_pacer p;
	struct hw *h;

	(void)state;
	h = open_hw(NULL, NULL, 100);
	assert_int_equal(pt_pacer_init(&p, 0), 0);
	hw_on_connect(h, 1);
	hw_on_publish(h);
	assert_int_equal(hw_wait_sample(h, &p), 0);
	hw_close(h);
	hw_close(NULL);
	assert_int_equal(fk.opens + fk.nsets + fk.waits + fk.closed, 0);
}

static void
hw_open_names_the_option_and_line_on_failure(void **state)
{
	struct pt_opts o;
	char err[256];

	(void)state;
	memset(&o, 0, sizeof(o));
	o.rate = 100;
	o.led = (char *)(uintptr_t)"GPIO99";
	fk.open_rc = -ENOENT;
	assert_null(hw_open(&o, err, sizeof(err)));
	assert_int_equal(errno, ENOENT);
	assert_string_equal(err, "option --led: 'GPIO99': no such GPIO chip or line");
	o.led = (char *)(uintptr_t)"gpiochip0:x";
	assert_null(hw_open(&o, err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, "option --led: 'gpiochip0:x': bad line"));
	/* The LED opens, DRDY is busy: the LED is released again. */
	o.led = (char *)(uintptr_t)"GPIO17";
	o.drdy = (char *)(uintptr_t)"GPIO27";
	fk.opens = 0;
	fk.open_rc = -EBUSY;
	fk.open_fail_at = 2;
	assert_null(hw_open(&o, err, sizeof(err)));
	assert_int_equal(errno, EBUSY);
	assert_string_equal(err, "option --drdy: 'GPIO27': line busy (held by another program)");
	assert_int_equal(fk.closed, 1);
}

static void
libgpiod_backend_reports_an_unknown_line_name_as_enoent(void **state)
{
	struct pt_gpio *g = NULL;

	(void)state;
	pt_gpio_set_ops(NULL);
	/* No chip has this line (and a CI container has no chips at all). */
	assert_int_equal(pt_gpio_open_output("PITEMP-NO-SUCH-LINE", "test", 0, &g),
	    -ENOENT);
	assert_null(g);
	assert_int_equal(pt_gpio_open_falling("pitemp-no-such-chip:3", "test", &g) < 0, 1);
	assert_null(g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(gpio_spec_is_chip_and_offset_or_a_line_name, setup, teardown),
		cmocka_unit_test_setup_teardown(led_opens_dark_and_lights_on_connect_and_darkens_on_disconnect, setup, teardown),
		cmocka_unit_test_setup_teardown(led_blinks_off_briefly_on_publish_at_a_visible_rate, setup, teardown),
		cmocka_unit_test_setup_teardown(led_stays_dark_on_publish_while_disconnected, setup, teardown),
		cmocka_unit_test_setup_teardown(led_failure_is_logged_once_and_never_stops_the_sensor, setup, teardown),
		cmocka_unit_test_setup_teardown(drdy_wait_reads_on_the_edge_after_the_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(drdy_timeout_reads_anyway_and_logs_once, setup, teardown),
		cmocka_unit_test_setup_teardown(drdy_timeout_stays_within_half_a_sample_period, setup, teardown),
		cmocka_unit_test_setup_teardown(hw_without_lines_is_a_no_op, setup, teardown),
		cmocka_unit_test_setup_teardown(hw_open_names_the_option_and_line_on_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(libgpiod_backend_reports_an_unknown_line_name_as_enoent, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
