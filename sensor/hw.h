/*
 * hw.h: the sensor's GPIO glue (through lib/pt_gpio.h): a status LED that
 * is lit while connected and blinks off on publishes, and sample pacing on
 * the ADS1115's ALERT/RDY edge. main.c calls these from its own thread
 * only; with neither --led nor --drdy every call is a cheap no-op.
 */
#ifndef HW_H
#define HW_H

#include <stddef.h>
#include <stdint.h>

#include "pt_opts.h"
#include "pt_pacer.h"

/* A publish turns the LED off for HW_BLINK_OFF_NS, at most once per
 * HW_BLINK_PERIOD_NS, so 100 Hz publishing shows as a visible flicker. */
#define HW_BLINK_OFF_NS		(30 * 1000000LL)
#define HW_BLINK_PERIOD_NS	(100 * 1000000LL)
/* DRDY timeout: two conversions of the ADS1115 at 475 SPS (4.2 ms),
 * rounded up; never more than half a --rate period. */
#define HW_DRDY_TIMEOUT_NS	(5 * 1000000LL)

struct hw;

/*
 * Request the lines named by o->led and o->drdy (either may be NULL).
 * Returns the handle, or NULL with errno set and a message naming the
 * option and the line in err (EINVAL bad spec, ENOENT no such line, EBUSY,
 * EACCES, ENOMEM).
 */
struct hw *hw_open(const struct pt_opts *o, char *err, size_t err_cap);

/* The transport's state, polled by the main loop (call it every
 * iteration; only a change touches the LED): on = lit, off = dark. */
void hw_on_connect(struct hw *h, int connected);

/* A reading was handed to the transport: blink (see HW_BLINK_*). */
void hw_on_publish(struct hw *h);

/*
 * Wait for the next sample time: the pacer's deadline, then (with --drdy)
 * the next ALERT/RDY falling edge, so the read gets a conversion that has
 * just completed while --rate still sets the rate. No edge within the
 * timeout: read anyway, log once, count it. Returns 0, or -EINTR from the
 * pacer (deadline not consumed: check the stop flag, call again).
 */
int hw_wait_sample(struct hw *h, struct pt_pacer *p);

/* DRDY waits that timed out so far. */
uint64_t hw_drdy_timeouts(const struct hw *h);

/* LED off, lines released. Accepts NULL. */
void hw_close(struct hw *h);

/* For tests: the CLOCK_MONOTONIC source (NULL: the real clock). */
void hw_set_clock(int64_t (*now_ns)(void));

#endif
