/*
 * test_source_mcp3008.c: the mcp3008 source through a fake spidev (the
 * adc_bus test hook): the SPI setup, the exact frames sent, the decoding of
 * the replies, and the TMP36 datasheet points through raw codes.
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

#define FAKE_FD 42
#define assert_near(a, b, eps) near_((a), (b), (eps), #a)

static void
near_(double a, double b, double eps, const char *what)
{
	if (!(fabs(a - b) <= eps))
		fail_msg("%s = %.9g, want %.9g +- %g", what, a, b, eps);
}

static struct {
	char     path[256];
	int      open_rc;       /* 0: succeed with FAKE_FD */
	int      config_rc;
	uint8_t  mode, bits;
	uint32_t hz;
	int      xfers;
	uint8_t  tx[3];
	size_t   len;
	uint16_t reply;         /* 10-bit code the chip answers */
	int      xfer_rc;
	int      closed;
} bus;

static int
fake_open(const char *path)
{
	snprintf(bus.path, sizeof(bus.path), "%s", path);
	return bus.open_rc < 0 ? bus.open_rc : FAKE_FD;
}

static int
fake_spi_config(int fd, uint8_t mode, uint8_t bits, uint32_t hz)
{
	assert_int_equal(fd, FAKE_FD);
	bus.mode = mode;
	bus.bits = bits;
	bus.hz = hz;
	return bus.config_rc;
}

static int
fake_spi_xfer(int fd, const uint8_t *tx, uint8_t *rx, size_t len, uint32_t hz)
{
	assert_int_equal(fd, FAKE_FD);
	(void)hz;
	bus.xfers++;
	bus.len = len;
	memcpy(bus.tx, tx, len < 3 ? len : 3);
	if (bus.xfer_rc < 0)
		return bus.xfer_rc;
	/* Junk in the undefined high bits: the source must mask them. */
	rx[0] = 0xff;
	rx[1] = (uint8_t)(0xf8 | (bus.reply >> 8));
	rx[2] = (uint8_t)(bus.reply & 0xff);
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
	.spi_config = fake_spi_config,
	.spi_xfer = fake_spi_xfer,
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

static double
read_code(struct source *s, uint16_t code, int64_t *raw)
{
	struct source_sample smp;
	char err[256];

	bus.reply = code;
	assert_int_equal(source_read(s, &smp, err, sizeof(err)), 0);
	assert_true(smp.has_raw);
	*raw = smp.raw;
	return smp.mv;
}

static void
mcp3008_opens_spidev_in_mode_0_at_1_mhz(void **state)
{
	struct source *s;
	char err[256];

	(void)state;
	s = source_open("mcp3008:/dev/spidev0.0:0", err, sizeof(err));
	assert_non_null(s);
	assert_string_equal(bus.path, "/dev/spidev0.0");
	assert_int_equal(bus.mode, 0);
	assert_int_equal(bus.bits, 8);
	assert_int_equal(bus.hz, 1000000);
	source_close(s);
	assert_int_equal(bus.closed, 1);
}

static void
mcp3008_sends_start_single_ended_channel_frame(void **state)
{
	static const uint8_t want[8][3] = {
		{ 0x01, 0x80, 0x00 }, { 0x01, 0x90, 0x00 }, { 0x01, 0xa0, 0x00 },
		{ 0x01, 0xb0, 0x00 }, { 0x01, 0xc0, 0x00 }, { 0x01, 0xd0, 0x00 },
		{ 0x01, 0xe0, 0x00 }, { 0x01, 0xf0, 0x00 },
	};
	struct source_sample smp;
	struct source *s;
	char spec[64], err[256];

	(void)state;
	for (int ch = 0; ch < 8; ch++) {
		snprintf(spec, sizeof(spec), "mcp3008:/dev/spidev0.1:%d", ch);
		s = source_open(spec, err, sizeof(err));
		assert_non_null(s);
		assert_int_equal(source_read(s, &smp, err, sizeof(err)), 0);
		assert_int_equal(bus.len, 3);
		assert_memory_equal(bus.tx, want[ch], 3);
		source_close(s);
	}
}

static void
mcp3008_decodes_ten_bits_from_bytes_one_and_two(void **state)
{
	struct source *s;
	char err[256];
	int64_t raw;
	double mv;

	(void)state;
	s = source_open("mcp3008:/dev/spidev0.0:0", err, sizeof(err));
	assert_non_null(s);
	mv = read_code(s, 0x3ff, &raw);
	assert_int_equal(raw, 1023);
	assert_near(mv, 1023 * 3300.0 / 1024, 1e-9);
	mv = read_code(s, 0x000, &raw);
	assert_int_equal(raw, 0);
	assert_near(mv, 0.0, 1e-9);
	mv = read_code(s, 0x2a5, &raw);
	assert_int_equal(raw, 0x2a5);
	source_close(s);
}

static void
mcp3008_hits_tmp36_datasheet_points_with_a_2048_mv_vref(void **state)
{
	struct source *s;
	char err[256];
	int64_t raw;

	(void)state;
	/* 2 mV per code: 50, 375 and 875 are exactly 100, 750 and 1750 mV. */
	s = source_open("mcp3008:/dev/spidev0.0:3:2048", err, sizeof(err));
	assert_non_null(s);
	assert_near(pt_tmp36_mv_to_c(read_code(s, 50, &raw)), -40.0, 1e-9);
	assert_near(pt_tmp36_mv_to_c(read_code(s, 375, &raw)), 25.0, 1e-9);
	assert_near(pt_tmp36_mv_to_c(read_code(s, 875, &raw)), 125.0, 1e-9);
	source_close(s);
}

static void
mcp3008_default_vref_is_3300_mv_within_half_a_code(void **state)
{
	struct source *s;
	char err[256];
	int64_t raw;
	double half = 3300.0 / 1024 / 2;

	(void)state;
	s = source_open("mcp3008:/dev/spidev0.0:0", err, sizeof(err));
	assert_non_null(s);
	/* The codes nearest 750 and 1750 mV. */
	assert_near(read_code(s, 233, &raw), 750.0, half);
	assert_near(read_code(s, 543, &raw), 1750.0, half);
	assert_near(pt_tmp36_mv_to_c(read_code(s, 233, &raw)), 25.0,
	    half / 10);
	source_close(s);
}

static void
mcp3008_failed_transfer_is_eagain_with_a_message(void **state)
{
	struct source_sample smp;
	struct source *s;
	char err[256];

	(void)state;
	s = source_open("mcp3008:/dev/spidev0.0:0", err, sizeof(err));
	assert_non_null(s);
	bus.xfer_rc = -EIO;
	err[0] = '\0';
	assert_int_equal(source_read(s, &smp, err, sizeof(err)), -EAGAIN);
	assert_non_null(strstr(err, "/dev/spidev0.0"));
	assert_non_null(strstr(err, "SPI transfer failed"));
	bus.xfer_rc = 0;
	bus.reply = 100;
	assert_int_equal(source_read(s, &smp, err, sizeof(err)), 0);
	assert_int_equal(smp.raw, 100);
	source_close(s);
}

static void
mcp3008_rejects_bad_args_naming_the_field(void **state)
{
	char err[256];

	(void)state;
	assert_null(source_open("mcp3008:/dev/spidev0.0:8", err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, "bad channel '8'"));
	assert_null(source_open("mcp3008:/dev/spidev0.0", err, sizeof(err)));
	assert_non_null(strstr(err, "expected mcp3008:"));
	assert_null(source_open("mcp3008", err, sizeof(err)));
	assert_non_null(strstr(err, "missing arguments"));
	assert_null(source_open("mcp3008:/dev/spidev0.0:0:0", err, sizeof(err)));
	assert_non_null(strstr(err, "bad VREF_MV '0'"));
	assert_null(source_open("mcp3008:/dev/spidev0.0:0:3.3V", err, sizeof(err)));
	assert_non_null(strstr(err, "bad VREF_MV '3.3V'"));
	assert_int_equal(bus.closed, 0);	/* nothing was opened */
}

static void
mcp3008_reports_open_and_setup_errors_and_closes(void **state)
{
	char err[256];

	(void)state;
	bus.open_rc = -ENOENT;
	assert_null(source_open("mcp3008:/dev/spidev9.9:0", err, sizeof(err)));
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(err, "/dev/spidev9.9: No such file or directory"));
	bus.open_rc = 0;
	bus.config_rc = -EINVAL;
	assert_null(source_open("mcp3008:/dev/spidev0.0:0", err, sizeof(err)));
	assert_non_null(strstr(err, "cannot set SPI mode 0"));
	assert_int_equal(bus.closed, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(mcp3008_opens_spidev_in_mode_0_at_1_mhz, setup, teardown),
		cmocka_unit_test_setup_teardown(mcp3008_sends_start_single_ended_channel_frame, setup, teardown),
		cmocka_unit_test_setup_teardown(mcp3008_decodes_ten_bits_from_bytes_one_and_two, setup, teardown),
		cmocka_unit_test_setup_teardown(mcp3008_hits_tmp36_datasheet_points_with_a_2048_mv_vref, setup, teardown),
		cmocka_unit_test_setup_teardown(mcp3008_default_vref_is_3300_mv_within_half_a_code, setup, teardown),
		cmocka_unit_test_setup_teardown(mcp3008_failed_transfer_is_eagain_with_a_message, setup, teardown),
		cmocka_unit_test_setup_teardown(mcp3008_rejects_bad_args_naming_the_field, setup, teardown),
		cmocka_unit_test_setup_teardown(mcp3008_reports_open_and_setup_errors_and_closes, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
