/*
 * source_sim.c: a simulated TMP36 behind a 10-bit, 3.3 V ADC (MCP3008-like),
 * so every test and demo runs without hardware. The room temperature is a
 * mean-reverting random walk (Ornstein-Uhlenbeck) around 22 C that wanders
 * about half a degree over minutes; a few mV of Gaussian noise sit on the
 * sensor output, which is then quantised to an ADC code and converted back,
 * so mv and raw are exactly what a real MCP3008 would give.
 *
 * Args: "sim" seeds from time and pid; "sim:SEED" (decimal, 64-bit) gives a
 * reproducible run. The private PRNG is splitmix64, not rand(), so nothing
 * else in the process can disturb the sequence.
 */
#include "source.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "pt_tmp36.h"

#define SIM_BITS	10
#define SIM_VREF_MV	3300.0
#define SIM_MEAN_C	22.0
/*
 * One step per read; time constants assume the default 100 Hz. Reversion
 * over ~1 min (6000 steps); step size chosen for a stationary spread of
 * about 0.4 C: sigma = 0.4 * sqrt(2 * theta).
 */
#define SIM_THETA	(1.0 / 6000.0)
#define SIM_STEP_C	0.0073
#define SIM_NOISE_MV	2.0

struct sim {
	uint64_t rng;      /* splitmix64 state */
	double   temp_c;   /* the true room temperature */
	double   spare;    /* second Box-Muller deviate, when have_spare */
	int      have_spare;
};

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in (0, 1): 53 random bits, never exactly 0 (log below). */
static double
uniform(struct sim *s)
{
	return ((double)(splitmix64(&s->rng) >> 11) + 0.5) * 0x1.0p-53;
}

/* Standard normal deviate (Box-Muller, both halves used). */
static double
gauss(struct sim *s)
{
	double r, a;

	if (s->have_spare) {
		s->have_spare = 0;
		return s->spare;
	}
	r = sqrt(-2.0 * log(uniform(s)));
	a = 2.0 * M_PI * uniform(s);
	s->spare = r * sin(a);
	s->have_spare = 1;
	return r * cos(a);
}

static double
code_to_c(int64_t raw)
{
	return pt_tmp36_mv_to_c(pt_adc_to_mv(raw, SIM_BITS, SIM_VREF_MV));
}

/*
 * The codes at the ends of the TMP36 range can map just outside it
 * (code 31 is 99.9 mV, -40.01 C): step such a code back inside.
 */
static int64_t
in_range_code(int64_t raw)
{
	while (code_to_c(raw) < -40.0)
		raw++;
	while (code_to_c(raw) > 125.0)
		raw--;
	return raw;
}

static int
parse_seed(const char *args, uint64_t *seed, char *err, size_t err_cap)
{
	unsigned long long v;
	char *end;

	/* strtoull would accept "-1" and " 1"; a seed is digits only. */
	if (!isdigit((unsigned char)args[0])) {
		snprintf(err, err_cap, "bad seed '%s' (expected an unsigned "
		    "decimal integer)", args);
		return -EINVAL;
	}
	errno = 0;
	v = strtoull(args, &end, 10);
	if (*end != '\0') {
		snprintf(err, err_cap, "bad seed '%s' (expected an unsigned "
		    "decimal integer)", args);
		return -EINVAL;
	}
	if (errno == ERANGE) {
		snprintf(err, err_cap, "seed '%s' out of range (0 .. %llu)",
		    args, (unsigned long long)UINT64_MAX);
		return -ERANGE;
	}
	*seed = (uint64_t)v;
	return 0;
}

static uint64_t
default_seed(void)
{
	struct timespec rt, mono;

	(void)clock_gettime(CLOCK_REALTIME, &rt);
	(void)clock_gettime(CLOCK_MONOTONIC, &mono);
	return (uint64_t)rt.tv_sec * 1000000007ULL ^ (uint64_t)rt.tv_nsec ^
	    (uint64_t)mono.tv_nsec << 20 ^ (uint64_t)getpid() << 40;
}

/* args: NULL or a decimal seed. -EINVAL/-ERANGE for a bad seed, -ENOMEM. */
static int
sim_open(const char *args, void **state, char *err, size_t err_cap)
{
	struct sim *s = NULL;
	uint64_t seed;
	int rc;

	if (args == NULL)
		seed = default_seed();
	else if ((rc = parse_seed(args, &seed, err, err_cap)) < 0)
		goto out;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, err_cap, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	s->rng = seed;
	/* Start somewhere in the room's usual spread, not always at the mean. */
	s->temp_c = SIM_MEAN_C + (uniform(s) - 0.5);
	*state = s;
	s = NULL;
	rc = 0;
out:
	free(s);
	return rc;
}

/* Never fails; mv lies on an ADC step and maps into -40 .. 125 C. */
static int
sim_read(void *state, struct source_sample *out, char *err, size_t err_cap)
{
	struct sim *s = state;
	double mv;
	int64_t raw;

	(void)err;
	(void)err_cap;
	s->temp_c += SIM_THETA * (SIM_MEAN_C - s->temp_c) +
	    SIM_STEP_C * gauss(s);
	/* Physically impossible here, but the walk must never leave range. */
	if (s->temp_c < -40.0)
		s->temp_c = -40.0;
	else if (s->temp_c > 125.0)
		s->temp_c = 125.0;
	mv = pt_tmp36_c_to_mv(s->temp_c) + SIM_NOISE_MV * gauss(s);
	raw = in_range_code(pt_adc_from_mv(mv, SIM_BITS, SIM_VREF_MV));
	out->mv = pt_adc_to_mv(raw, SIM_BITS, SIM_VREF_MV);
	out->has_raw = true;
	out->raw = raw;
	return 0;
}

static void
sim_close(void *state)
{
	free(state);
}

const struct source_ops source_sim_ops = {
	.prefix = "sim",
	.open = sim_open,
	.read = sim_read,
	.close = sim_close,
};
