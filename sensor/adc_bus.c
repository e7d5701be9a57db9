/*
 * adc_bus.c: the real spidev and i2c-dev transfers behind struct
 * adc_bus_ops (see adc_bus.h), and the args splitter the ADC sources share.
 */
#include "adc_bus.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/i2c-dev.h>
#include <linux/i2c.h>
#include <linux/spi/spidev.h>

static int
real_open(const char *path)
{
	int fd;

	if ((fd = open(path, O_RDWR | O_CLOEXEC)) < 0)
		return -errno;
	return fd;
}

static int
real_spi_config(int fd, uint8_t mode, uint8_t bits, uint32_t hz)
{
	if (ioctl(fd, SPI_IOC_WR_MODE, &mode) < 0 ||
	    ioctl(fd, SPI_IOC_WR_BITS_PER_WORD, &bits) < 0 ||
	    ioctl(fd, SPI_IOC_WR_MAX_SPEED_HZ, &hz) < 0)
		return -errno;
	return 0;
}

static int
real_spi_xfer(int fd, const uint8_t *tx, uint8_t *rx, size_t len, uint32_t hz)
{
	struct spi_ioc_transfer t;

	memset(&t, 0, sizeof(t));
	t.tx_buf = (uintptr_t)tx;
	t.rx_buf = (uintptr_t)rx;
	t.len = (uint32_t)len;
	t.speed_hz = hz;
	t.bits_per_word = 8;
	if (ioctl(fd, SPI_IOC_MESSAGE(1), &t) < 0)
		return -errno;
	return 0;
}

static int
real_i2c_xfer(int fd, uint16_t addr, const uint8_t *w, size_t wlen,
    uint8_t *r, size_t rlen)
{
	struct i2c_msg msgs[2];
	struct i2c_rdwr_ioctl_data data;
	uint8_t wcopy[8];

	if (wlen > sizeof(wcopy))
		return -EINVAL;
	/* i2c_msg.buf is not const; the kernel does not write a write buffer. */
	memcpy(wcopy, w, wlen);
	memset(msgs, 0, sizeof(msgs));
	msgs[0].addr = addr;
	msgs[0].flags = 0;
	msgs[0].len = (uint16_t)wlen;
	msgs[0].buf = wcopy;
	msgs[1].addr = addr;
	msgs[1].flags = I2C_M_RD;
	msgs[1].len = (uint16_t)rlen;
	msgs[1].buf = r;
	data.msgs = msgs;
	data.nmsgs = rlen > 0 ? 2 : 1;
	if (ioctl(fd, I2C_RDWR, &data) < 0)
		return -errno;
	return 0;
}

static void
real_close(int fd)
{
	if (fd >= 0)
		(void)close(fd);
}

static const struct adc_bus_ops real_ops = {
	.open = real_open,
	.spi_config = real_spi_config,
	.spi_xfer = real_spi_xfer,
	.i2c_xfer = real_i2c_xfer,
	.close = real_close,
};

/* Set only by tests, before any source is opened (see adc_bus.h). */
static const struct adc_bus_ops *bus_ops = &real_ops;

const struct adc_bus_ops *
adc_bus(void)
{
	return bus_ops;
}

void
adc_bus_set_ops(const struct adc_bus_ops *ops)
{
	bus_ops = ops != NULL ? ops : &real_ops;
}

int
adc_split_args(const char *args, char *buf, size_t cap, const char **path,
    const char **fields, int nmin, int nmax, const char *usage,
    char *err, size_t err_cap)
{
	char *colon;
	int n = 0, i;

	if (args == NULL || *args == '\0') {
		snprintf(err, err_cap, "missing arguments (expected %s)", usage);
		return -EINVAL;
	}
	if ((size_t)snprintf(buf, cap, "%s", args) >= cap) {
		snprintf(err, err_cap, "arguments too long (%zu bytes max)", cap - 1);
		return -EINVAL;
	}
	/* Peel numeric fields off the end; a path component never starts
	 * with a digit after a colon here ("iio:device0", "spidev0.0"). */
	while (n < nmax && (colon = strrchr(buf, ':')) != NULL &&
	    isdigit((unsigned char)colon[1])) {
		*colon = '\0';
		fields[n++] = colon + 1;
	}
	if (n < nmin || buf[0] == '\0') {
		snprintf(err, err_cap, "bad arguments '%s' (expected %s)", args,
		    usage);
		return -EINVAL;
	}
	/* Peeled from the right: put them back in written order. */
	for (i = 0; i < n / 2; i++) {
		const char *t = fields[i];

		fields[i] = fields[n - 1 - i];
		fields[n - 1 - i] = t;
	}
	*path = buf;
	return n;
}
