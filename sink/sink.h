/*
 * sink.h: what the parts of pitemp-sink share. main.c wires the program
 * (options, transports, the output, signals, exit status); ingest.c is the
 * one path every payload takes, from either transport: codec + validate ->
 * dedup -> store.
 */
#ifndef SINK_H
#define SINK_H

#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "dedup.h"
#include "listener.h"
#include "pt_notify.h"
#include "pt_opts.h"
#include "pt_ratelimit.h"
#include "stats.h"
#include "store.h"

#define HOLD_MS         200     /* retry period while the store cannot take readings */

struct sink_ctx {
	struct pt_opts      opts;
	struct store_cfg    scfg;
	pthread_mutex_t     lock;       /* guards all below */
	struct dedup       *dedup;
	char               *state_dir;  /* paho's file persistence, or NULL */
	int                 shared;     /* a shared subscription: this sink
	                                 * sees part of each device's seqs */
	struct store       *store;
	struct stats        st;
	int                 done;       /* --count N reached */
	int                 failed;     /* no more stores (failed, or finishing) */
	int64_t             held_ns;    /* sink_hold() began (monotonic), 0: not holding */
	struct pt_notify_wd wd;         /* the main thread's watchdog pacing */
	/* Lines a publisher or peer can trigger at will (pt_ratelimit.h);
	 * the counters in st still count every event. */
	struct pt_ratelimit rl_invalid, rl_gap, rl_dup;
	volatile sig_atomic_t *stop;    /* main.c's: SIGINT/SIGTERM seen */
};

/* ingest.c. MQTT: paho's thread; non-zero leaves the message
 * unacknowledged (paho delivers it again later). */
int sink_on_message(void *vctx, const char *topic, const void *payload,
                    size_t len);
/* Socket mode: the main thread, from listener_run(). What is not taken
 * stays unanswered, whatever the session: the sensor keeps it. */
enum listener_verdict sink_on_line(void *vctx, const char *peer,
                                   const char *line, size_t len);
/*
 * The store cannot take a reading now (rc, a store_transient error). Wait
 * HOLD_MS with c->lock (held by the caller) released, then 0 to try again,
 * or -1 when the run is ending; sink_resumed() says when it is over.
 */
int sink_hold(struct sink_ctx *c, int rc);
void sink_resumed(struct sink_ctx *c);
/* Say what the rate limits held back (force: all of it, at exit). */
void sink_log_held(struct sink_ctx *c, int force);

#endif
