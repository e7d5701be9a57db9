/*
 * source.h: where samples come from. Every source (sim, replay:FILE, and the
 * hardware ADCs that join later) sits behind one ops table, so tests run the
 * real sensor against sim or replay in place of hardware.
 */
#ifndef SOURCE_H
#define SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct source_sample {
	double  mv;       /* TMP36 output in millivolts */
	bool    has_raw;
	int64_t raw;      /* ADC counts, when the source has an ADC */
};

struct source;

struct source_ops {
	const char *prefix;   /* "sim", "replay", ... as in --source PREFIX[:ARGS] */
	/* args: the text after "PREFIX:" (NULL if none). Returns 0 or -errno,
	 * with a message naming the problem in err. Sets *state. */
	int  (*open)(const char *args, void **state, char *err, size_t err_cap);
	/* One sample. Returns 0, -EAGAIN for a failed read that may succeed next
	 * time (logged and counted by the caller, the sample skipped), -ENODATA
	 * at the end of a finite source, or another -errno. */
	int  (*read)(void *state, struct source_sample *out, char *err, size_t err_cap);
	void (*close)(void *state);
};

/* The ops tables source_open dispatches to (source_sim.c, source_replay.c). */
extern const struct source_ops source_sim_ops;
extern const struct source_ops source_replay_ops;
/* Hardware ADCs (source_mcp3008.c, source_iio.c, source_ads1115.c). */
extern const struct source_ops source_mcp3008_ops;
extern const struct source_ops source_iio_ops;
extern const struct source_ops source_ads1115_ops;

/*
 * Open the source named by spec ("sim", "sim:SEED", "replay:FILE", ...).
 * Returns NULL with errno set and a message in err that names the spec on
 * failure (unknown prefix: EINVAL).
 */
struct source *source_open(const char *spec, char *err, size_t err_cap);
int source_read(struct source *s, struct source_sample *out, char *err, size_t err_cap);
/* The spec s was opened with; owned by s, valid until source_close. */
const char *source_name(const struct source *s);
void source_close(struct source *s); /* accepts NULL */

struct pt_reading;
/*
 * Fill the measured fields of r (temp_c, mv, raw) from one sample, rounded
 * as the payload carries them (temp_c 2 decimals, mv 1). 0, or -ERANGE when
 * the temperature or the voltage lies outside what a TMP36 can report: such
 * a sample is never published (pitemp-sensor and pitemp-bench share this).
 */
int source_fill_reading(const struct source_sample *s, struct pt_reading *r);

#endif
