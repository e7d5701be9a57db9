/*
 * test_source_ads1115.c: the ads1115 source through a fake i2c-dev (the
 * adc_bus test hook): the register writes at open, the conversion-register
 * reads, two's complement decoding (negative and full-scale codes), and the
 * TMP36 datasheet points through raw codes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "adc_bus.h"
#include "pt_tmp36.h"
#include "source.h"

#define FAKE_FD 7
#define MAXX    16
#define assert_near(a, b, eps) near_((a), (b), (eps), #a)

static void
near_(double a, double b, double eps, const char *what)
{
	if (!(fabs(a - b) <= eps))
		fail_msg("%s = %.9g, want %.9g +- %g", what, a, b, eps);
}

struct xfer {
	uint16_t addr;
	uint8_t  w[8];
	size_t   wlen, rlen;
};

static struct {
	char        path[256];
	struct xfer x[MAXX];
	int         n;
	uint16_t    conversion;     /* what register 0 holds */
	int         fail_at;        /* 1-based xfer number that fails, 0 none */
	int         closed;
} bus;

static int
fake_open(const char *path)
{
	snprintf(bus.path, sizeof(bus.path), "%s", path);
	return FAKE_FD;
}

static int
fake_i2c_xfer(int fd, uint16_t addr, const uint8_t *w, size_t wlen,
    uint8_t *r, size_t rlen)
{
	struct xfer *x;

	assert_int_equal(fd, FAKE_FD);
	assert_true(bus.n < MAXX);
	assert_true(wlen <= sizeof(x->w));
	x = &bus.x[bus.n++];
	x->addr = addr;
	memcpy(x->w, w, wlen);
	x->wlen = wlen;
	x->rlen = rlen;
	if (bus.fail_at == bus.n)
		return -EREMOTEIO;
	if (rlen == 2 && wlen == 1 && w[0] == 0x00) {
		r[0] = (uint8_t)(bus.conversion >> 8);
		r[1] = (uint8_t)(bus.conversion & 0xff);
	}
	return 0;
}

static void
fake_close(int fd)
{
	assert_int_equal(fd, FAKE_FD);
	bus.closed++;
}

static const struct adc_bus_ops fake_ops = {
	.open = fake_open,
	.i2c_xfer = fake_i2c_xfer,
	.close = fake_close,
};

static int
setup(void **state)
{
	(void)state;
	memset(&bus, 0, sizeof(bus));
	adc_bus_set_ops(&fake_ops);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	adc_bus_set_ops(NULL);
	return 0;
}

static void
assert_write(int i, uint16_t addr, uint8_t reg, uint16_t val)
{
	const struct xfer *x = &bus.x[i];
	uint8_t want[3] = { reg, (uint8_t)(val >> 8), (uint8_t)(val & 0xff) };

	assert_int_equal(x->addr, addr);
	assert_int_equal(x->wlen, 3);
	assert_int_equal(x->rlen, 0);
	assert_memory_equal(x->w, want, 3);
}

static double
read_code(struct source *s, uint16_t code, int64_t *raw)
{
	struct source_sample smp;
	char err[256];

	bus.conversion = code;
	assert_int_equal(source_read(s, &smp, err, sizeof(err)), 0);
	assert_true(smp.has_raw);
	*raw = smp.raw;
	return smp.mv;
}

static void
ads1115_writes_thresholds_then_config_at_open(void **state)
{
	struct source *s;
	char err[256];

	(void)state;
	s = source_open("ads1115:/dev/i2c-1:0x48:0", err, sizeof(err));
	assert_non_null(s);
	assert_string_equal(bus.path, "/dev/i2c-1");
	assert_int_equal(bus.n, 3);
	/* ALERT/RDY as conversion-ready: Lo_thresh 0x0000, Hi_thresh 0x8000. */
	assert_write(0, 0x48, 0x02, 0x0000);
	assert_write(1, 0x48, 0x03, 0x8000);
	/* MUX 100 (AIN0/GND), PGA 010 (+-2.048 V), MODE 0 (continuous),
	 * DR 110 (475 SPS), comparator active low, queue 00. */
	assert_write(2, 0x48, 0x01, 0x44c0);
	source_close(s);
	assert_int_equal(bus.closed, 1);
}

static void
ads1115_selects_ain_channel_and_address(void **state)
{
	struct source *s;
	char err[256];

	(void)state;
	s = source_open("ads1115:/dev/i2c-1:0x4b:3", err, sizeof(err));
	assert_non_null(s);
	assert_write(2, 0x4b, 0x01, 0x74c0);	/* MUX 111: AIN3/GND */
	source_close(s);
}

static void
ads1115_reads_the_conversion_register_big_endian(void **state)
{
	struct source *s;
	char err[256];
	int64_t raw;

	(void)state;
	s = source_open("ads1115:/dev/i2c-1:0x49:1", err, sizeof(err));
	assert_non_null(s);
	assert_near(read_code(s, 0x2ee0, &raw), 750.0, 1e-9);
	assert_int_equal(raw, 12000);
	assert_int_equal(bus.n, 4);
	assert_int_equal(bus.x[3].addr, 0x49);
	assert_int_equal(bus.x[3].wlen, 1);
	assert_int_equal(bus.x[3].w[0], 0x00);
	assert_int_equal(bus.x[3].rlen, 2);
	source_close(s);
}

static void
ads1115_hits_tmp36_datasheet_points(void **state)
{
	struct source *s;
	char err[256];
	int64_t raw;

	(void)state;
	/* 62.5 uV per code: 1600, 12000, 28000 codes. */
	s = source_open("ads1115:/dev/i2c-1:0x48:0", err, sizeof(err));
	assert_non_null(s);
	assert_near(pt_tmp36_mv_to_c(read_code(s, 1600, &raw)), -40.0, 1e-9);
	assert_near(pt_tmp36_mv_to_c(read_code(s, 12000, &raw)), 25.0, 1e-9);
	assert_near(pt_tmp36_mv_to_c(read_code(s, 28000, &raw)), 125.0, 1e-9);
	source_close(s);
}

static void
ads1115_passes_negative_and_full_scale_codes_for_the_range_check(void **state)
{
	struct source *s;
	char err[256];
	int64_t raw;
	double mv;

	(void)state;
	s = source_open("ads1115:/dev/i2c-1:0x48:0", err, sizeof(err));
	assert_non_null(s);
	mv = read_code(s, 0xffff, &raw);		/* -1: a hair below GND */
	assert_int_equal(raw, -1);
	assert_near(mv, -0.0625, 1e-12);
	assert_false(pt_tmp36_in_range(pt_tmp36_mv_to_c(mv)));
	mv = read_code(s, 0x8000, &raw);		/* most negative */
	assert_int_equal(raw, -32768);
	assert_near(mv, -2048.0, 1e-9);
	mv = read_code(s, 0x7fff, &raw);		/* saturated at +2.048 V */
	assert_int_equal(raw, 32767);
	assert_near(mv, 2047.9375, 1e-9);
	assert_false(pt_tmp36_in_range(pt_tmp36_mv_to_c(mv)));
	source_close(s);
}

static void
ads1115_failed_read_is_eagain_with_a_message(void **state)
{
	struct source_sample smp;
	struct source *s;
	char err[256];

	(void)state;
	s = source_open("ads1115:/dev/i2c-1:0x48:0", err, sizeof(err));
	assert_non_null(s);
	bus.fail_at = bus.n + 1;
	assert_int_equal(source_read(s, &smp, err, sizeof(err)), -EAGAIN);
	assert_non_null(strstr(err, "ADS1115 at 0x48: read failed"));
	bus.conversion = 12000;
	assert_int_equal(source_read(s, &smp, err, sizeof(err)), 0);
	assert_int_equal(smp.raw, 12000);
	source_close(s);
}

static void
ads1115_without_an_answer_fails_at_open(void **state)
{
	char err[256];

	(void)state;
	bus.fail_at = 1;
	assert_null(source_open("ads1115:/dev/i2c-1:0x48:0", err, sizeof(err)));
	assert_int_equal(errno, EREMOTEIO);
	assert_non_null(strstr(err, "no ADS1115 answering at 0x48"));
	assert_int_equal(bus.closed, 1);
}

static void
ads1115_rejects_bad_args_naming_the_field(void **state)
{
	char err[256];

	(void)state;
	assert_null(source_open("ads1115:/dev/i2c-1:0x50:0", err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, "bad I2C address '0x50'"));
	assert_null(source_open("ads1115:/dev/i2c-1:0x48:4", err, sizeof(err)));
	assert_non_null(strstr(err, "bad channel '4'"));
	assert_null(source_open("ads1115:/dev/i2c-1:0", err, sizeof(err)));
	assert_non_null(strstr(err, "expected ads1115:"));
	assert_null(source_open("ads1115:/dev/i2c-1:0x4g:0", err, sizeof(err)));
	assert_non_null(strstr(err, "bad I2C address '0x4g'"));
	assert_int_equal(bus.n, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(ads1115_writes_thresholds_then_config_at_open, setup, teardown),
		cmocka_unit_test_setup_teardown(ads1115_selects_ain_channel_and_address, setup, teardown),
		cmocka_unit_test_setup_teardown(ads1115_reads_the_conversion_register_big_endian, setup, teardown),
		cmocka_unit_test_setup_teardown(ads1115_hits_tmp36_datasheet_points, setup, teardown),
		cmocka_unit_test_setup_teardown(ads1115_passes_negative_and_full_scale_codes_for_the_range_check, setup, teardown),
		cmocka_unit_test_setup_teardown(ads1115_failed_read_is_eagain_with_a_message, setup, teardown),
		cmocka_unit_test_setup_teardown(ads1115_without_an_answer_fails_at_open, setup, teardown),
		cmocka_unit_test_setup_teardown(ads1115_rejects_bad_args_naming_the_field, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
