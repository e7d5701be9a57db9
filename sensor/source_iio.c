/*
 * source_iio.c: iio:DEVICE:CH[:VREF_MV], a TMP36 on voltage channel CH of
 * an ADC driven by a kernel IIO driver (mcp320x for the MCP3008, ti-ads1015
 * for the ADS1015/ADS1115), read through sysfs.
 *
 * DEVICE is a directory ("/sys/bus/iio/devices/iio:device0"; it has a
 * colon of its own, so the numeric fields are taken from the end), a bare
 * "iio:deviceN", or the driver's device name ("mcp3008", "ads1115") looked
 * up in the `name` files of /sys/bus/iio/devices/ (*; two devices with
 * the same name are an error: give the path). PITEMP_SYSFS_ROOT in the
 * environment replaces /sys for that lookup (tests use a fake tree).
 *
 * mV = in_voltageCH_raw * scale, the scale from in_voltageCH_scale or else
 * in_voltage_scale (IIO reports voltage scales in mV per count).
 *
 * VREF_MV override: the Pi's mcp3008 overlay gives the chip no vref
 * regulator, so the kernel uses a dummy one and reading in_voltage_scale
 * fails (or is meaningless). With VREF_MV the scale files are not read at
 * all and mV = raw * VREF_MV / 2^bits, the resolution taken from the
 * device's `name`: mcp3001/3002/3004/3008 10 bits, mcp3201/3202/3204/3208
 * 12 bits. Other devices report a real scale and refuse the override.
 */
#include "source.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "adc_bus.h"
#include "pt_opts.h"

#define PATH_CAP 1024
#define IIO_USAGE "iio:/sys/bus/iio/devices/iio:deviceN:CH[:VREF_MV] or iio:NAME:CH[:VREF_MV]"

struct iio {
	int    fd;              /* in_voltageCH_raw, re-read with pread */
	double scale;           /* mV per count */
	char   raw_path[PATH_CAP];
};

static void
iio_close(void *state)
{
	struct iio *s = state;

	if (s == NULL)
		return;
	if (s->fd >= 0)
		(void)close(s->fd);
	free(s);
}

/* Read a small sysfs attribute, newline stripped. 0 or -errno. */
static int
read_attr(const char *path, char *buf, size_t cap)
{
	ssize_t n;
	int fd, rc = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	if ((n = read(fd, buf, cap - 1)) < 0)
		rc = -errno;
	else
		buf[n] = '\0';
	(void)close(fd);
	if (rc == 0)
		buf[strcspn(buf, "\n")] = '\0';
	return rc;
}

/* Check an snprintf result n into cap bytes: 0, or -ENAMETOOLONG. */
static int
fit(int n, size_t cap, const char *what, char *err, size_t err_cap)
{
	if (n < 0 || (size_t)n >= cap) {
		snprintf(err, err_cap, "path too long: %.64s...", what);
		return -ENAMETOOLONG;
	}
	return 0;
}

static int
is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/*
 * DEVICE (see the file comment) -> its directory in out. 0, -ENOENT or
 * -EEXIST (ambiguous name) with a message.
 */
static int
find_device(const char *dev, char *out, size_t cap, char *err, size_t err_cap)
{
	const char *root = getenv("PITEMP_SYSFS_ROOT");
	struct dirent **ents = NULL;
	char dir[PATH_CAP], path[PATH_CAP], name[128], first[256];
	int i, n, found = 0, rc;

	if (strchr(dev, '/') != NULL) {
		if (!is_dir(dev)) {
			snprintf(err, err_cap, "%s: no such IIO device directory", dev);
			return -ENOENT;
		}
		return fit(snprintf(out, cap, "%s", dev), cap, dev, err, err_cap);
	}
	if (root == NULL || *root == '\0')
		root = "/sys";
	if ((rc = fit(snprintf(dir, sizeof(dir), "%s/bus/iio/devices", root),
	    sizeof(dir), root, err, err_cap)) < 0 ||
	    (rc = fit(snprintf(path, sizeof(path), "%s/%s", dir, dev),
	    sizeof(path), dev, err, err_cap)) < 0)
		return rc;
	if (strncmp(dev, "iio:device", 10) == 0 && is_dir(path))
		return fit(snprintf(out, cap, "%s", path), cap, path, err, err_cap);
	if ((n = scandir(dir, &ents, NULL, alphasort)) < 0) {
		rc = -errno;
		snprintf(err, err_cap, "no IIO device named '%s': %s: %s", dev, dir,
		    strerror(errno));
		return rc;
	}
	for (i = 0; i < n; i++) {
		if (ents[i]->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s/name", dir,
		    ents[i]->d_name) >= (int)sizeof(path))
			continue;
		if (read_attr(path, name, sizeof(name)) < 0 || strcmp(name, dev) != 0)
			continue;
		if (found++ == 0) {
			snprintf(first, sizeof(first), "%s", ents[i]->d_name);
			if (snprintf(out, cap, "%s/%s", dir, ents[i]->d_name) >=
			    (int)cap)
				found = 0;	/* cannot happen: dir fits, d_name < 256 */
		} else if (found == 2) {
			snprintf(err, err_cap, "more than one IIO device named '%s' "
			    "(%s, %s): give the path", dev, first, ents[i]->d_name);
		}
	}
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	if (found == 0) {
		snprintf(err, err_cap, "no IIO device named '%s' in %s", dev, dir);
		return -ENOENT;
	}
	return found == 1 ? 0 : -EEXIST;
}

/* Resolution of the mcp320x driver's chips, for the VREF_MV override. */
static int
mcp_bits(const char *name)
{
	static const struct { const char *name; int bits; } chips[] = {
		{ "mcp3001", 10 }, { "mcp3002", 10 }, { "mcp3004", 10 },
		{ "mcp3008", 10 }, { "mcp3201", 12 }, { "mcp3202", 12 },
		{ "mcp3204", 12 }, { "mcp3208", 12 },
	};

	for (size_t i = 0; i < sizeof(chips) / sizeof(chips[0]); i++)
		if (strcmp(name, chips[i].name) == 0)
			return chips[i].bits;
	return -1;
}

/* The scale in mV per count, from the override or the scale files. */
static int
find_scale(const char *dir, unsigned ch, const char *vref_arg, double *scale,
    char *err, size_t err_cap)
{
	char path[PATH_CAP + 32], val[128];
	double vref;
	int bits, rc;

	if (vref_arg != NULL) {
		if (pt_parse_double(vref_arg, 1.0, 5500.0, &vref) < 0) {
			snprintf(err, err_cap, "bad VREF_MV '%s' (expected 1-5500 mV)",
			    vref_arg);
			return -EINVAL;
		}
		snprintf(path, sizeof(path), "%s/name", dir);
		if ((rc = read_attr(path, val, sizeof(val))) < 0) {
			snprintf(err, err_cap, "%s: %s", path, strerror(-rc));
			return rc;
		}
		if ((bits = mcp_bits(val)) < 0) {
			snprintf(err, err_cap, "VREF_MV override is for mcp300x/mcp320x "
			    "devices; '%s' reports its own scale (drop :%s)", val,
			    vref_arg);
			return -EINVAL;
		}
		*scale = vref / (double)(1L << bits);
		return 0;
	}
	snprintf(path, sizeof(path), "%s/in_voltage%u_scale", dir, ch);
	rc = read_attr(path, val, sizeof(val));
	if (rc == -ENOENT) {
		snprintf(path, sizeof(path), "%s/in_voltage_scale", dir);
		rc = read_attr(path, val, sizeof(val));
	}
	if (rc == -ENOENT) {
		snprintf(err, err_cap, "%s: no in_voltage%u_scale or in_voltage_scale",
		    dir, ch);
		return rc;
	}
	if (rc < 0) {
		snprintf(err, err_cap, "%s: %s (no vref regulator? give the Vref: "
		    "iio:DEVICE:%u:VREF_MV)", path, strerror(-rc), ch);
		return rc;
	}
	if (pt_parse_double(val, 1e-12, 1e6, scale) < 0) {
		snprintf(err, err_cap, "%s: bad scale '%s'", path, val);
		return -EINVAL;
	}
	return 0;
}

/* One raw value; -EAGAIN with a message when it cannot be read or parsed. */
static int
read_raw(struct iio *s, int64_t *raw, char *err, size_t err_cap)
{
	char buf[64], *end;
	ssize_t n;
	long long v;

	if ((n = pread(s->fd, buf, sizeof(buf) - 1, 0)) < 0) {
		snprintf(err, err_cap, "%s: %s", s->raw_path, strerror(errno));
		return -EAGAIN;
	}
	buf[n] = '\0';
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (end == buf || errno != 0 || (*end != '\0' && *end != '\n')) {
		buf[strcspn(buf, "\n")] = '\0';
		snprintf(err, err_cap, "%s: bad value '%s'", s->raw_path, buf);
		return -EAGAIN;
	}
	*raw = v;
	return 0;
}

/*
 * args: "DEVICE:CH[:VREF_MV]". -EINVAL for bad args, -ENOENT for a missing
 * device or file, -errno when a file cannot be read; the message names
 * the path.
 */
static int
iio_open(const char *args, void **state, char *err, size_t err_cap)
{
	struct iio *s = NULL;
	const char *dev, *f[2];
	char buf[512], dir[PATH_CAP];
	uint64_t ch;
	int64_t raw;
	int n, rc;

	if ((n = adc_split_args(args, buf, sizeof(buf), &dev, f, 1, 2, IIO_USAGE,
	    err, err_cap)) < 0) {
		rc = n;
		goto out;
	}
	if (pt_parse_u64(f[0], 0, 255, &ch) < 0) {
		snprintf(err, err_cap, "bad channel '%s' (expected 0-255)", f[0]);
		rc = -EINVAL;
		goto out;
	}
	if ((rc = find_device(dev, dir, sizeof(dir), err, err_cap)) < 0)
		goto out;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, err_cap, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	s->fd = -1;
	if ((rc = find_scale(dir, (unsigned)ch, n == 2 ? f[1] : NULL, &s->scale,
	    err, err_cap)) < 0)
		goto out;
	if ((rc = fit(snprintf(s->raw_path, sizeof(s->raw_path),
	    "%s/in_voltage%u_raw", dir, (unsigned)ch), sizeof(s->raw_path), dir,
	    err, err_cap)) < 0)
		goto out;
	if ((s->fd = open(s->raw_path, O_RDONLY | O_CLOEXEC)) < 0) {
		rc = -errno;
		snprintf(err, err_cap, "%s: %s", s->raw_path, strerror(errno));
		goto out;
	}
	/* One read now, so a channel the driver cannot read fails at start. */
	if (read_raw(s, &raw, err, err_cap) < 0) {
		rc = -EIO;
		goto out;
	}
	*state = s;
	s = NULL;
	rc = 0;
out:
	iio_close(s);
	return rc;
}

static int
iio_read(void *state, struct source_sample *out, char *err, size_t err_cap)
{
	struct iio *s = state;
	int64_t raw;
	int rc;

	if ((rc = read_raw(s, &raw, err, err_cap)) < 0)
		return rc;
	out->mv = (double)raw * s->scale;
	out->has_raw = true;
	out->raw = raw;
	return 0;
}

const struct source_ops source_iio_ops = {
	.prefix = "iio",
	.open = iio_open,
	.read = iio_read,
	.close = iio_close,
};
