/*
 * source_ads1115.c: ads1115:/dev/i2c-N:ADDR:CH, a TMP36 on input AIN<CH>
 * (0-3, single-ended against GND) of a TI ADS1115 on I2C bus N at ADDR
 * (0x48-0x4B, set by the ADDR pin).
 *
 * Open writes the threshold and config registers once: continuous mode,
 * PGA +-2.048 V (LSB 62.5 uV; the TMP36 tops out at 1.75 V), 475 SPS so
 * a 100 Hz reader never sees the same conversion twice, and ALERT/RDY as a
 * conversion-ready pulse (Hi_thresh MSB 1, Lo_thresh MSB 0, COMP_QUE 00;
 * datasheet 9.3.8) for --drdy. Each read then fetches the conversion
 * register (pointer 0x00), big-endian two's complement: mV = raw * 0.0625.
 * Negative codes (input a hair below GND) and the full-scale code 0x7FFF
 * (input at or above 2.048 V) are passed on as they are; the sensor's
 * TMP36 range check rejects them.
 */
#include "source.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adc_bus.h"
#include "pt_opts.h"

#define REG_CONVERSION	0x00
#define REG_CONFIG	0x01
#define REG_LO_THRESH	0x02
#define REG_HI_THRESH	0x03

#define CFG_MUX_SINGLE(ch)	((uint16_t)((4u + (ch)) << 12))	/* AINch vs GND */
#define CFG_PGA_2048		((uint16_t)(2u << 9))		/* +-2.048 V */
#define CFG_MODE_CONT		((uint16_t)0)			/* continuous */
#define CFG_DR_475		((uint16_t)(6u << 5))		/* 475 SPS */
#define CFG_COMP_QUE_1		((uint16_t)0)			/* RDY after each conversion */

#define ADS1115_LSB_MV		(2048.0 / 32768.0)
#define ADS1115_SPS		475
#define ADS1115_USAGE		"ads1115:/dev/i2c-N:ADDR:CH, ADDR 0x48-0x4B, CH 0-3"

struct ads1115 {
	int      fd;
	uint16_t addr;
	uint8_t  ch;
	char     path[256];
};

static void
ads1115_close(void *state)
{
	struct ads1115 *a = state;

	if (a == NULL)
		return;
	if (a->fd >= 0)
		adc_bus()->close(a->fd);
	free(a);
}

static int
parse_addr(const char *s, uint16_t *addr)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno != 0 || end == s || *end != '\0' || v < 0x48 || v > 0x4b)
		return -EINVAL;
	*addr = (uint16_t)v;
	return 0;
}

static int
write_reg(struct ads1115 *a, uint8_t reg, uint16_t val)
{
	uint8_t w[3] = { reg, (uint8_t)(val >> 8), (uint8_t)(val & 0xff) };

	return adc_bus()->i2c_xfer(a->fd, a->addr, w, sizeof(w), NULL, 0);
}

/* The config register value open writes for channel ch (0-3). */
static uint16_t
config_for(uint8_t ch)
{
	return (uint16_t)(CFG_MUX_SINGLE(ch) | CFG_PGA_2048 | CFG_MODE_CONT |
	    CFG_DR_475 | CFG_COMP_QUE_1);
}

/*
 * args: "PATH:ADDR:CH". -EINVAL for bad args (naming the field), -errno
 * when the bus cannot be opened or the chip does not answer.
 */
static int
ads1115_open(const char *args, void **state, char *err, size_t err_cap)
{
	struct ads1115 *a = NULL;
	struct timespec settle = { 0, 2 * 1000000000L / ADS1115_SPS + 1000000L };
	const char *path, *f[2];
	char buf[256];
	uint64_t ch;
	int rc;

	if ((rc = adc_split_args(args, buf, sizeof(buf), &path, f, 2, 2,
	    ADS1115_USAGE, err, err_cap)) < 0)
		goto out;
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		snprintf(err, err_cap, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	a->fd = -1;
	if (parse_addr(f[0], &a->addr) < 0) {
		snprintf(err, err_cap, "bad I2C address '%s' (expected 0x48-0x4B)",
		    f[0]);
		rc = -EINVAL;
		goto out;
	}
	if (pt_parse_u64(f[1], 0, 3, &ch) < 0) {
		snprintf(err, err_cap, "bad channel '%s' (expected 0-3)", f[1]);
		rc = -EINVAL;
		goto out;
	}
	a->ch = (uint8_t)ch;
	snprintf(a->path, sizeof(a->path), "%s", path);
	if ((rc = adc_bus()->open(a->path)) < 0) {
		snprintf(err, err_cap, "%s: %s", a->path, strerror(-rc));
		goto out;
	}
	a->fd = rc;
	/* Thresholds first: the config write starts the conversions. */
	if ((rc = write_reg(a, REG_LO_THRESH, 0x0000)) < 0 ||
	    (rc = write_reg(a, REG_HI_THRESH, 0x8000)) < 0 ||
	    (rc = write_reg(a, REG_CONFIG, config_for(a->ch))) < 0) {
		snprintf(err, err_cap, "%s: no ADS1115 answering at 0x%02x: %s",
		    a->path, a->addr, strerror(-rc));
		goto out;
	}
	/* Let the first conversion finish, so sample 0 is not the power-up
	 * (or previous channel's) value. */
	(void)nanosleep(&settle, NULL);
	*state = a;
	a = NULL;
	rc = 0;
out:
	ads1115_close(a);
	return rc;
}

/* The latest conversion. A failed transfer is -EAGAIN (sample skipped). */
static int
ads1115_read(void *state, struct source_sample *out, char *err, size_t err_cap)
{
	struct ads1115 *a = state;
	uint8_t ptr = REG_CONVERSION, r[2] = { 0, 0 };
	int16_t raw;
	int rc;

	if ((rc = adc_bus()->i2c_xfer(a->fd, a->addr, &ptr, 1, r, sizeof(r))) < 0) {
		snprintf(err, err_cap, "%s: ADS1115 at 0x%02x: read failed: %s",
		    a->path, a->addr, strerror(-rc));
		return -EAGAIN;
	}
	raw = (int16_t)(uint16_t)((unsigned)r[0] << 8 | r[1]);
	out->mv = raw * ADS1115_LSB_MV;
	out->has_raw = true;
	out->raw = raw;
	return 0;
}

const struct source_ops source_ads1115_ops = {
	.prefix = "ads1115",
	.open = ads1115_open,
	.read = ads1115_read,
	.close = ads1115_close,
};
