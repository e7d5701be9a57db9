/*
 * source_mcp3008.c: mcp3008:/dev/spidevB.C:CH[:VREF_MV], a TMP36 on channel
 * CH (0-7, single-ended) of an MCP3008 read through userspace spidev.
 *
 * One conversion is one 3-byte full-duplex frame (datasheet figure 6-1,
 * "8-bit segments"): 0x01 (start bit), (0x08 | CH) << 4 (single-ended,
 * channel), 0x00; the 10-bit result is the low two bits of the second reply
 * byte and the whole third. mV = raw * VREF / 1024; VREF defaults to
 * 3300 mV (the chip's VREF pin tied to the Pi's 3.3 V rail). SPI mode 0,
 * 1 MHz (the MCP3008 allows 1.35 MHz at 2.7 V).
 */
#include "source.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adc_bus.h"
#include "pt_opts.h"
#include "pt_tmp36.h"

#define MCP3008_BITS		10
#define MCP3008_VREF_MV		3300.0
#define MCP3008_SPI_HZ		1000000u
#define MCP3008_SPI_MODE	0u	/* CPOL 0, CPHA 0 */
#define MCP3008_USAGE		"mcp3008:/dev/spidevB.C:CH[:VREF_MV], CH 0-7"

struct mcp3008 {
	int      fd;
	uint8_t  ch;
	double   vref_mv;
	char     path[256];
};

static void
mcp3008_close(void *state)
{
	struct mcp3008 *m = state;

	if (m == NULL)
		return;
	if (m->fd >= 0)
		adc_bus()->close(m->fd);
	free(m);
}

/*
 * args: "PATH:CH[:VREF_MV]". -EINVAL for bad args (naming the field),
 * -errno when the device cannot be opened or configured.
 */
static int
mcp3008_open(const char *args, void **state, char *err, size_t err_cap)
{
	struct mcp3008 *m = NULL;
	const char *path, *f[2];
	char buf[256];
	uint64_t ch;
	int n, rc;

	n = adc_split_args(args, buf, sizeof(buf), &path, f, 1, 2,
	    MCP3008_USAGE, err, err_cap);
	if (n < 0) {
		rc = n;
		goto out;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		snprintf(err, err_cap, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	m->fd = -1;
	m->vref_mv = MCP3008_VREF_MV;
	if (pt_parse_u64(f[0], 0, 7, &ch) < 0) {
		snprintf(err, err_cap, "bad channel '%s' (expected 0-7)", f[0]);
		rc = -EINVAL;
		goto out;
	}
	m->ch = (uint8_t)ch;
	if (n == 2 && pt_parse_double(f[1], 1.0, 5500.0, &m->vref_mv) < 0) {
		snprintf(err, err_cap, "bad VREF_MV '%s' (expected 1-5500 mV)", f[1]);
		rc = -EINVAL;
		goto out;
	}
	snprintf(m->path, sizeof(m->path), "%s", path);
	if ((rc = adc_bus()->open(m->path)) < 0) {
		snprintf(err, err_cap, "%s: %s", m->path, strerror(-rc));
		goto out;
	}
	m->fd = rc;
	rc = adc_bus()->spi_config(m->fd, MCP3008_SPI_MODE, 8, MCP3008_SPI_HZ);
	if (rc < 0) {
		snprintf(err, err_cap, "%s: cannot set SPI mode 0, 8 bits, %u Hz: %s",
		    m->path, MCP3008_SPI_HZ, strerror(-rc));
		goto out;
	}
	*state = m;
	m = NULL;
	rc = 0;
out:
	mcp3008_close(m);
	return rc;
}

/* One conversion. A failed transfer is -EAGAIN (the sample is skipped). */
static int
mcp3008_read(void *state, struct source_sample *out, char *err, size_t err_cap)
{
	struct mcp3008 *m = state;
	uint8_t tx[3], rx[3] = { 0, 0, 0 };
	int64_t raw;
	int rc;

	tx[0] = 0x01;
	tx[1] = (uint8_t)((0x08u | m->ch) << 4);
	tx[2] = 0x00;
	if ((rc = adc_bus()->spi_xfer(m->fd, tx, rx, sizeof(tx),
	    MCP3008_SPI_HZ)) < 0) {
		snprintf(err, err_cap, "%s: SPI transfer failed: %s", m->path,
		    strerror(-rc));
		return -EAGAIN;
	}
	raw = (int64_t)((rx[1] & 0x03u) << 8 | rx[2]);
	out->mv = pt_adc_to_mv(raw, MCP3008_BITS, m->vref_mv);
	out->has_raw = true;
	out->raw = raw;
	return 0;
}

const struct source_ops source_mcp3008_ops = {
	.prefix = "mcp3008",
	.open = mcp3008_open,
	.read = mcp3008_read,
	.close = mcp3008_close,
};
