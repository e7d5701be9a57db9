/*
 * options.c: pitemp-bench's command line (getopt_long; the short letters
 * are mosquitto_pub's: -h host, -p port, -q qos, -d debug) and its
 * open-file limit, one descriptor per simulated sensor.
 */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "pt_cli.h"
#include "pt_log.h"
#include "pt_opts.h"
#include "pt_reading.h"

#define FD_SPARE        64      /* descriptors beyond one per sensor */

static const char usage[] =
"Usage: pitemp-bench --sensors N [--rate HZ] [-q QOS] [--duration S]\n"
"                    [-h HOST] [-p PORT] [--prefix NAME] [--first K] [--json]\n"
"\n"
"N simulated pitemp sensors in one process, each with its own MQTT\n"
"connection, client id and device <prefix>NNNN (K, K+1, ...), boot id, seq\n"
"from 0, and retained status topic with will; sends spread evenly over the\n"
"period on absolute deadlines. Prints sent, acknowledged, errors and its own\n"
"CPU every second, then the totals (--json: one JSON object on stdout).\n"
"\n"
"  --sensors N          simulated sensors (1..100000; required)\n"
"  --rate HZ            readings per second per sensor (default 100)\n"
"  -q, --qos 0|1|2      MQTT QoS of the readings (default 1)\n"
"  --duration S         seconds of sending (default 10)\n"
"  -h, --host H         broker (default localhost)\n"
"  -p, --port P         broker port (default 1883)\n"
"  --prefix NAME        device name prefix (default bench-)\n"
"  --first K            number of the first sensor (default 0)\n"
"  --connect-timeout S  wait this long for all N to connect (default 10 + N/50)\n"
"  --drain-timeout S    after sending, wait this long for acknowledgements\n"
"                       (default 30)\n"
"  --json               the totals as one JSON object on stdout\n"
"  -d, --debug          debug logging (--verbose)\n"
"  --help, --version\n"
"\n"
"Sending stops at twice --duration (at least --duration + 5 s) even when the\n"
"schedule is not done: a generator that far behind measures itself.\n"
"\n"
"Exit status: 0 every reading scheduled was sent and acknowledged (QoS 0:\n"
"written), 1 some were not sent in time, dropped, failed or not acknowledged,\n"
"2 usage (also: N needs more open files than the limit allows), 3 not all\n"
"sensors connected within --connect-timeout.\n";

enum { O_SENSORS = 256, O_RATE, O_DURATION, O_PREFIX, O_FIRST, O_JSON,
       O_CONNECT_TIMEOUT, O_DRAIN_TIMEOUT, O_HELP, O_VERSION };

static const struct option longopts[] = {
	{ "sensors", required_argument, NULL, O_SENSORS },
	{ "rate", required_argument, NULL, O_RATE },
	{ "qos", required_argument, NULL, 'q' },
	{ "duration", required_argument, NULL, O_DURATION },
	{ "host", required_argument, NULL, 'h' },
	{ "port", required_argument, NULL, 'p' },
	{ "prefix", required_argument, NULL, O_PREFIX },
	{ "first", required_argument, NULL, O_FIRST },
	{ "connect-timeout", required_argument, NULL, O_CONNECT_TIMEOUT },
	{ "drain-timeout", required_argument, NULL, O_DRAIN_TIMEOUT },
	{ "json", no_argument, NULL, O_JSON },
	{ "debug", no_argument, NULL, 'd' },
	{ "verbose", no_argument, NULL, 'd' },
	{ "help", no_argument, NULL, O_HELP },
	{ "version", no_argument, NULL, O_VERSION },
	{ NULL, 0, NULL, 0 },
};

static int
bad(const char *opt, const char *val, const char *want)
{
	pt_log_errx("option %s: '%s' is not %s (see --help)", opt, val, want);
	return PT_EXIT_USAGE;
}

int
options_parse(struct bench_opts *o, int argc, char **argv)
{
	uint64_t u;
	int c, have_sensors = 0;

	memset(o, 0, sizeof(*o));
	o->rate = 100;
	o->qos = 1;
	o->duration = 10;
	o->host = "localhost";
	o->port = PT_PORT_MQTT;
	o->prefix = "bench-";
	o->drain_timeout = 30;
	o->connect_timeout = -1;
	while ((c = getopt_long(argc, argv, "q:h:p:d", longopts, NULL)) != -1) {
		switch (c) {
		case O_SENSORS:
			if (pt_parse_u64(optarg, 1, 100000, &u) < 0)
				return bad("--sensors", optarg, "a whole number in 1..100000");
			o->sensors = (unsigned)u;
			have_sensors = 1;
			break;
		case O_RATE:
			if (pt_parse_double(optarg, 0.001, 100000, &o->rate) < 0)
				return bad("--rate", optarg, "a rate in 0.001..100000 Hz");
			break;
		case 'q':
			if (pt_parse_u64(optarg, 0, 2, &u) < 0)
				return bad("--qos", optarg, "0, 1 or 2");
			o->qos = (int)u;
			break;
		case O_DURATION:
			if (pt_parse_double(optarg, 0.001, 86400, &o->duration) < 0)
				return bad("--duration", optarg, "a time in 0.001..86400 s");
			break;
		case 'h':
			o->host = optarg;
			break;
		case 'p':
			if (pt_parse_u64(optarg, 1, 65535, &u) < 0)
				return bad("--port", optarg, "a port in 1..65535");
			o->port = (int)u;
			break;
		case O_PREFIX:
			if (strlen(optarg) > PT_DEVICE_MAX - 5 ||
			    strspn(optarg, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			    "0123456789._-") != strlen(optarg))
				return bad("--prefix", optarg, "0-59 of A-Z a-z 0-9 . _ -");
			o->prefix = optarg;
			break;
		case O_FIRST:
			if (pt_parse_u64(optarg, 0, 1000000, &u) < 0)
				return bad("--first", optarg, "a whole number in 0..1000000");
			o->first = (unsigned)u;
			break;
		case O_CONNECT_TIMEOUT:
			if (pt_parse_double(optarg, 0.1, 3600, &o->connect_timeout) < 0)
				return bad("--connect-timeout", optarg, "a time in 0.1..3600 s");
			break;
		case O_DRAIN_TIMEOUT:
			if (pt_parse_double(optarg, 0, 3600, &o->drain_timeout) < 0)
				return bad("--drain-timeout", optarg, "a time in 0..3600 s");
			break;
		case O_JSON:
			o->json = 1;
			break;
		case 'd':
			o->verbose = 1;
			break;
		case O_HELP:
			fputs(usage, stdout);
			return PT_EXIT_OK;
		case O_VERSION:
			printf("pitemp-bench %s\n", PITEMP_VERSION);
			return PT_EXIT_OK;
		default:
			pt_log_errx("unknown option or missing value (see --help)");
			return PT_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		pt_log_errx("unexpected argument '%s' (see --help)", argv[optind]);
		return PT_EXIT_USAGE;
	}
	if (!have_sensors) {
		pt_log_errx("option --sensors is required (see --help)");
		return PT_EXIT_USAGE;
	}
	if (llround(o->duration * o->rate) < 1)
		return bad("--duration", "too short", "long enough for one reading per sensor");
	if (o->connect_timeout < 0)
		o->connect_timeout = 10.0 + o->sensors / 50.0;
	return -1;
}

/* See options.h. Past the hard limit only a privileged process can go. */
int
options_raise_nofile(const struct bench_opts *o, uint64_t *have, uint64_t *needed)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)o->sensors + FD_SPARE;

	*needed = need;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		pt_log_err("getrlimit(RLIMIT_NOFILE)");
		return -errno;
	}
	if (rl.rlim_cur < need) {
		struct rlimit want = rl;

		want.rlim_cur = need;
		if (want.rlim_max != RLIM_INFINITY && want.rlim_max < need)
			want.rlim_max = need;       /* works with CAP_SYS_RESOURCE */
		if (setrlimit(RLIMIT_NOFILE, &want) == 0)
			rl = want;
		else if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max > rl.rlim_cur) {
			rl.rlim_cur = rl.rlim_max;  /* as far as we may */
			(void)setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	*have = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
		pt_log_errx("option --sensors: %u sensors need %llu open files, the limit "
		    "is %llu (ulimit -Hn; raising it needs root or CAP_SYS_RESOURCE): "
		    "at most %llu sensors can be served", o->sensors,
		    (unsigned long long)need, (unsigned long long)rl.rlim_cur,
		    rl.rlim_cur > FD_SPARE ? (unsigned long long)(rl.rlim_cur - FD_SPARE) : 0ULL);
		return -EMFILE;
	}
	return 0;
}
