/*
 * test_source_iio.c: the iio source against a fake sysfs tree in a temp
 * directory (PITEMP_SYSFS_ROOT points the name lookup at it): raw * scale,
 * per-channel and shared scales, lookup by name, the VREF_MV override for
 * the mcp3008's dummy regulator, and clear errors for what is missing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pt_tmp36.h"
#include "source.h"

#define assert_near(a, b, eps) near_((a), (b), (eps), #a)

static void
near_(double a, double b, double eps, const char *what)
{
	if (!(fabs(a - b) <= eps))
		fail_msg("%s = %.9g, want %.9g +- %g", what, a, b, eps);
}

static char root[256];          /* the fake /sys */
static char devs[320];          /* root/bus/iio/devices */

static void
mkdirs(const char *path)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		(void)mkdir(buf, 0755);
		*p = '/';
	}
	(void)mkdir(buf, 0755);
}

/* Write text to devs/dev/attr, creating the device directory. */
static void
put(const char *dev, const char *attr, const char *text)
{
	char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", devs, dev);
	mkdirs(path);
	snprintf(path, sizeof(path), "%s/%s/%s", devs, dev, attr);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_true(fputs(text, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	char path[512];

	(void)state;
	snprintf(root, sizeof(root), "/tmp/pitemp-test-iio-XXXXXX");
	if (mkdtemp(root) == NULL)
		return -1;
	snprintf(devs, sizeof(devs), "%s/bus/iio/devices", root);
	mkdirs(devs);
	/* iio:device0: the Pi's mcp3008 overlay (dummy vref: no scale file). */
	put("iio:device0", "name", "mcp3008\n");
	put("iio:device0", "in_voltage0_raw", "375\n");
	/* iio:device1: ti-ads1015 driving an ADS1115, per-channel scale. */
	put("iio:device1", "name", "ads1115\n");
	put("iio:device1", "in_voltage1_raw", "12000\n");
	put("iio:device1", "in_voltage1_scale", "0.062500000\n");
	/* No name file (and a trigger, whose name differs): skipped. */
	snprintf(path, sizeof(path), "%s/iio:device5", devs);
	mkdirs(path);
	put("trigger0", "name", "mcp3008-trigger\n");
	setenv("PITEMP_SYSFS_ROOT", root, 1);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unsetenv("PITEMP_SYSFS_ROOT");
	return nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Open "iio:" a b; fail the test with the message if it does not open. */
static struct source *
open_ok(const char *a, const char *b)
{
	struct source *s;
	char spec[512], err[512];

	snprintf(spec, sizeof(spec), "iio:%s%s", a, b);
	err[0] = '\0';
	s = source_open(spec, err, sizeof(err));
	if (s == NULL)
		fail_msg("source_open(%s): %s", spec, err);
	return s;
}

static double
read_mv(struct source *s, int64_t *raw)
{
	struct source_sample smp;
	char err[512];
	int rc;

	if ((rc = source_read(s, &smp, err, sizeof(err))) != 0)
		fail_msg("source_read: %d %s", rc, err);
	assert_true(smp.has_raw);
	*raw = smp.raw;
	return smp.mv;
}

static void
iio_by_path_multiplies_raw_by_the_channel_scale(void **state)
{
	struct source *s;
	int64_t raw;

	(void)state;
	s = open_ok(devs, "/iio:device1:1");
	assert_near(read_mv(s, &raw), 750.0, 1e-9);
	assert_int_equal(raw, 12000);
	source_close(s);
}

static void
iio_uses_the_shared_scale_when_there_is_no_channel_scale(void **state)
{
	struct source *s;
	int64_t raw;

	(void)state;
	put("iio:device0", "in_voltage_scale", "3.222656250\n");  /* 3300/1024 */
	s = open_ok(devs, "/iio:device0:0");
	assert_near(read_mv(s, &raw), 375 * 3300.0 / 1024, 1e-6);
	source_close(s);
}

static void
iio_finds_the_device_by_name_under_the_sysfs_root(void **state)
{
	struct source *s;
	int64_t raw;

	(void)state;
	s = open_ok("ads1115", ":1");
	assert_near(read_mv(s, &raw), 750.0, 1e-9);
	source_close(s);
	s = open_ok("iio:device1", ":1");
	assert_near(read_mv(s, &raw), 750.0, 1e-9);
	source_close(s);
}

static void
iio_rereads_raw_on_every_sample_and_hits_datasheet_points(void **state)
{
	struct source *s;
	int64_t raw;

	(void)state;
	s = open_ok("ads1115", ":1");
	put("iio:device1", "in_voltage1_raw", "1600\n");
	assert_near(pt_tmp36_mv_to_c(read_mv(s, &raw)), -40.0, 1e-9);
	put("iio:device1", "in_voltage1_raw", "12000\n");
	assert_near(pt_tmp36_mv_to_c(read_mv(s, &raw)), 25.0, 1e-9);
	put("iio:device1", "in_voltage1_raw", "28000\n");
	assert_near(pt_tmp36_mv_to_c(read_mv(s, &raw)), 125.0, 1e-9);
	assert_int_equal(raw, 28000);
	source_close(s);
}

static void
iio_vref_override_scales_mcp3008_codes_by_vref_over_1024(void **state)
{
	struct source *s;
	int64_t raw;

	(void)state;
	/* A dummy regulator's scale, if present, must be ignored. */
	put("iio:device0", "in_voltage_scale", "0.000000000\n");
	s = open_ok("mcp3008", ":0:2048");
	put("iio:device0", "in_voltage0_raw", "50\n");
	assert_near(pt_tmp36_mv_to_c(read_mv(s, &raw)), -40.0, 1e-9);
	put("iio:device0", "in_voltage0_raw", "375\n");
	assert_near(pt_tmp36_mv_to_c(read_mv(s, &raw)), 25.0, 1e-9);
	put("iio:device0", "in_voltage0_raw", "875\n");
	assert_near(pt_tmp36_mv_to_c(read_mv(s, &raw)), 125.0, 1e-9);
	source_close(s);
	s = open_ok(devs, "/iio:device0:0:3300");
	assert_near(read_mv(s, &raw), 875 * 3300.0 / 1024, 1e-9);
	source_close(s);
}

static void
iio_refuses_a_vref_override_for_devices_with_a_real_scale(void **state)
{
	char err[512];

	(void)state;
	assert_null(source_open("iio:ads1115:1:3300", err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, "'ads1115' reports its own scale"));
}

static void
iio_missing_scale_asks_for_the_vref(void **state)
{
	char err[512];

	(void)state;
	assert_null(source_open("iio:mcp3008:0", err, sizeof(err)));
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(err, "no in_voltage0_scale or in_voltage_scale"));
	/* An unreadable scale (a dummy regulator gives EINVAL; a directory
	 * gives EISDIR, even to root) says what to do. */
	snprintf(err, sizeof(err), "%s/iio:device0/in_voltage0_scale", devs);
	mkdirs(err);
	assert_null(source_open("iio:mcp3008:0", err, sizeof(err)));
	assert_non_null(strstr(err, "in_voltage0_scale"));
	assert_non_null(strstr(err, "give the Vref: iio:DEVICE:0:VREF_MV"));
}

static void
iio_missing_device_or_channel_names_what_is_missing(void **state)
{
	char err[512], spec[512];

	(void)state;
	assert_null(source_open("iio:mcp3208:0", err, sizeof(err)));
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(err, "no IIO device named 'mcp3208'"));
	snprintf(spec, sizeof(spec), "iio:%s/iio:device9:0", devs);
	assert_null(source_open(spec, err, sizeof(err)));
	assert_non_null(strstr(err, "iio:device9: no such IIO device directory"));
	assert_null(source_open("iio:ads1115:2", err, sizeof(err)));
	assert_non_null(strstr(err, "in_voltage2_scale or in_voltage_scale"));
	put("iio:device1", "in_voltage_scale", "0.0625\n");
	assert_null(source_open("iio:ads1115:2", err, sizeof(err)));
	assert_non_null(strstr(err, "iio:device1/in_voltage2_raw: No such file"));
}

static void
iio_two_devices_with_one_name_is_an_error(void **state)
{
	char err[512];

	(void)state;
	put("iio:device2", "name", "mcp3008\n");
	assert_null(source_open("iio:mcp3008:0:3300", err, sizeof(err)));
	assert_int_equal(errno, EEXIST);
	assert_non_null(strstr(err, "more than one IIO device named 'mcp3008' "
	    "(iio:device0, iio:device2)"));
}

static void
iio_unreadable_raw_is_eagain_and_bad_args_name_the_field(void **state)
{
	struct source_sample smp;
	struct source *s;
	char err[512];

	(void)state;
	s = open_ok("ads1115", ":1");
	put("iio:device1", "in_voltage1_raw", "busy\n");
	assert_int_equal(source_read(s, &smp, err, sizeof(err)), -EAGAIN);
	assert_non_null(strstr(err, "in_voltage1_raw: bad value 'busy'"));
	source_close(s);
	assert_null(source_open("iio:ads1115:x", err, sizeof(err)));
	assert_non_null(strstr(err, "expected iio:"));
	assert_null(source_open("iio:ads1115:1:-5", err, sizeof(err)));
	assert_non_null(strstr(err, "expected iio:"));
	assert_null(source_open("iio:mcp3008:0:0", err, sizeof(err)));
	assert_non_null(strstr(err, "bad VREF_MV '0'"));
	assert_null(source_open("iio", err, sizeof(err)));
	assert_non_null(strstr(err, "missing arguments"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(iio_by_path_multiplies_raw_by_the_channel_scale, setup, teardown),
		cmocka_unit_test_setup_teardown(iio_uses_the_shared_scale_when_there_is_no_channel_scale, setup, teardown),
		cmocka_unit_test_setup_teardown(iio_finds_the_device_by_name_under_the_sysfs_root, setup, teardown),
		cmocka_unit_test_setup_teardown(iio_rereads_raw_on_every_sample_and_hits_datasheet_points, setup, teardown),
		cmocka_unit_test_setup_teardown(iio_vref_override_scales_mcp3008_codes_by_vref_over_1024, setup, teardown),
		cmocka_unit_test_setup_teardown(iio_refuses_a_vref_override_for_devices_with_a_real_scale, setup, teardown),
		cmocka_unit_test_setup_teardown(iio_missing_scale_asks_for_the_vref, setup, teardown),
		cmocka_unit_test_setup_teardown(iio_missing_device_or_channel_names_what_is_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(iio_two_devices_with_one_name_is_an_error, setup, teardown),
		cmocka_unit_test_setup_teardown(iio_unreadable_raw_is_eagain_and_bad_args_name_the_field, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
