/*
 * adc_bus.h: the bus transfers of the hardware ADC sources (spidev for the
 * MCP3008, i2c-dev for the ADS1115), behind one small ops table so tests
 * can record the exact frames a source sends and feed back the replies.
 * Private to sensor/: the sources and their tests include it, nothing else.
 */
#ifndef ADC_BUS_H
#define ADC_BUS_H

#include <stddef.h>
#include <stdint.h>

struct adc_bus_ops {
	/* Open a device node read-write; a descriptor >= 0 or -errno. */
	int  (*open)(const char *path);
	/* spidev: set mode (SPI_MODE_0 = 0), word size and max clock. 0/-errno. */
	int  (*spi_config)(int fd, uint8_t mode, uint8_t bits, uint32_t hz);
	/* One full-duplex transfer of len bytes: tx out, rx in. 0/-errno. */
	int  (*spi_xfer)(int fd, const uint8_t *tx, uint8_t *rx, size_t len,
	                 uint32_t hz);
	/* i2c: write wlen bytes to addr, then (rlen > 0) read rlen bytes after
	 * a repeated start, as one transaction. 0/-errno. */
	int  (*i2c_xfer)(int fd, uint16_t addr, const uint8_t *w, size_t wlen,
	                 uint8_t *r, size_t rlen);
	void (*close)(int fd);
};

/* The ops in use: the test replacement if one is set, else the real
 * ioctl-based ones. Never NULL. */
const struct adc_bus_ops *adc_bus(void);

/* For tests: use ops from now on (NULL restores the real ones). Not
 * thread-safe; set it before opening a source. */
void adc_bus_set_ops(const struct adc_bus_ops *ops);

/*
 * Split a source's args "PATH:F1[:F2...]" at its trailing fields: up to
 * nmax colon-separated fields at the end that look like numbers (start
 * with a digit) are stored in fields[] (pointers into buf, a copy of args
 * of cap bytes), the rest is the path (*path, in buf; it may contain
 * colons itself, like "iio:device0"). Returns the number of fields (at
 * least nmin), or -EINVAL with a message naming args and the expected
 * form `usage` in err.
 */
int adc_split_args(const char *args, char *buf, size_t cap, const char **path,
                   const char **fields, int nmin, int nmax, const char *usage,
                   char *err, size_t err_cap);

#endif
