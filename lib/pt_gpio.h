/*
 * pt_gpio.h: the few GPIO operations pitemp needs (a status LED output and
 * the ADS1115 ALERT/RDY input), over libgpiod v1.6. lib/gpio.c is the only
 * file that includes gpiod.h, so a move to libgpiod v2 stays in one file.
 *
 * A line is named "CHIP:OFFSET" (CHIP as gpiod_chip_open_lookup takes it:
 * "gpiochip0", "/dev/gpiochip4", "0" or a chip label like "pinctrl-rp1")
 * or by its line name alone ("GPIO17"). Names survive the Pi 5's chip
 * renumbering, so they are the better choice on a Pi.
 *
 * The backend is an ops table; tests replace it with pt_gpio_set_ops().
 */
#ifndef PT_GPIO_H
#define PT_GPIO_H

#include <stddef.h>
#include <stdint.h>

/* Where a line is: by chip and offset, or (chip NULL) by line name. */
struct pt_gpio_where {
	const char *chip;
	unsigned    offset;
	const char *name;
};

struct pt_gpio_ops {
	/* Request an output line at value (0/1). 0 or -errno; sets *line. */
	int  (*open_output)(const struct pt_gpio_where *w, const char *consumer,
	                    int value, void **line);
	/* Request falling-edge events (pull-up bias when the kernel has it). */
	int  (*open_falling)(const struct pt_gpio_where *w, const char *consumer,
	                     void **line);
	int  (*set)(void *line, int value);
	/* Discard edges already queued, then wait up to timeout_ns for the
	 * next one: 1 edge, 0 timeout, -errno. */
	int  (*wait_edge)(void *line, int64_t timeout_ns);
	void (*close)(void *line);
};

struct pt_gpio;

/*
 * Parse "CHIP:OFFSET" or "NAME" into *w (pointers into buf, a copy of
 * spec of cap bytes). 0 or -EINVAL (empty, bad offset, too long).
 */
int pt_gpio_parse(const char *spec, char *buf, size_t cap,
                  struct pt_gpio_where *w);

/* Request spec as an output at value. 0 with *out set, or -EINVAL for a
 * bad spec, -ENOENT for no such chip or line, -EBUSY when another
 * consumer holds it, other -errno. */
int pt_gpio_open_output(const char *spec, const char *consumer, int value,
                        struct pt_gpio **out);
/* Request spec for falling-edge events; errors as pt_gpio_open_output. */
int pt_gpio_open_falling(const char *spec, const char *consumer,
                         struct pt_gpio **out);
/* Drive an output line. 0 or -errno. */
int pt_gpio_set(struct pt_gpio *g, int value);
/* As pt_gpio_ops.wait_edge: 1 edge, 0 timeout, -errno. */
int pt_gpio_wait_edge(struct pt_gpio *g, int64_t timeout_ns);
/* Release the line; accepts NULL. An output is left as it was. */
void pt_gpio_close(struct pt_gpio *g);

/* For tests: lines opened from now on use ops (NULL: libgpiod again).
 * Lines keep the ops they were opened with. */
void pt_gpio_set_ops(const struct pt_gpio_ops *ops);

#endif
