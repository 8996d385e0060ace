/* The sensor (docs/ARCHITECTURE.md): reads pcap files (-r, several as one timeline) or live
 * interfaces (-i) into the passive pipeline, judges every handshake with the verdicts and the
 * baselines and writes its event, then its alerts; writes the stats with the sensor.* alerts
 * (drops, overload); runs the scheduled probes (live) and the triggered certificate fetches
 * (live, probe_trigger.h) and judges the certificates they fetch;
 * reopens logs and reloads the policy on SIGHUP, flushes every event on SIGINT/SIGTERM, and
 * keeps the learned baselines in the --state file. tools/mitmwatch.c turns the command line
 * into sensor_opts. */
#ifndef SENSOR_H
#define SENSOR_H

#include <stdbool.h>
#include <stdint.h>

#include "bl_baseline.h"
#include "cap_csum.h"

#define SENSOR_MAX_SOURCES 16    /* -r files, -i interfaces, -o outputs */
#define SENSOR_MAX_PROBES 64     /* --probe */
#define SENSOR_MAX_POL_FLAGS 256 /* policy flags (pol_cli.h) */

typedef struct {
    const char *files[SENSOR_MAX_SOURCES];
    int nfiles;
    const char *ifaces[SENSOR_MAX_SOURCES];
    int nifaces;
    const char *bpf;
    const char *out_paths[SENSOR_MAX_SOURCES];
    int nouts;
    char observer[256];
    uint64_t stats_interval_us;
    uint32_t max_flows;
    bool no_ndpi;
    cap_csum_mode checksum; /* --checksum: auto (default), on, off */
    int summary;            /* -r summary on stderr: 1 --summary, 0 --no-summary, -1 a tty */
    const char *state_path;
    uint64_t state_interval_us; /* --state-interval: periodic save; 0 = signals and exit only */
    unsigned flush_ms;          /* --flush-timeout: the network outputs' flush budget at exit */
    bl_cfg bl;
    const char *probes[SENSOR_MAX_PROBES];
    int nprobes;
    uint64_t probe_interval_us;
    unsigned probe_jitter;
    uint64_t trigger_interval_us; /* --trigger-interval: 0 the default (5 minutes) */
    bool no_triggers;             /* --trigger-interval 0: no triggered certificate fetches */
    /* Live capture drops to user once the interfaces and raw sockets are open: --user, else
     * the default (SENSOR_DEFAULT_USER if that account exists, else nobody; user_default set);
     * NULL with --no-drop-privileges (no_drop: it keeps what it started with, and warns). */
    const char *user;
    bool user_default, no_drop;
    bool observer_given;
    const char *config;
    struct {
        const char *flag, *arg;
    } pol_flags[SENSOR_MAX_POL_FLAGS];
    int npol_flags;
    bool test_config; /* -T: check the configuration, capture nothing */
    unsigned workers;        /* --workers: 0 = the online CPUs (capped, workers.h) */
    uint32_t capture_buffer; /* --capture-buffer: live kernel buffer per socket; 0 = default */
    unsigned debug_delay_us; /* --debug-delay-us: sleep per packet (tests: a slow sensor) */
    bool debug_reader_only;  /* --debug-reader-only: -r workers drop every frame (bench) */
    bool debug_unordered;    /* --debug-unordered: -r workers judge without waiting (bench) */
} sensor_opts;

/* Runs to the end of the files, or until SIGINT/SIGTERM or a lost interface (live). Fills what
 * o leaves unset from the policy file (observer, state file, outputs). Returns the exit code:
 * 0 done, 1 runtime failure, 2 unusable policy, probe, output, state or input (nothing was
 * read: no stats event either), 3 done but events did not reach an output (said on stderr). */
#define SENSOR_EXIT_LOST 3
int sensor_run(sensor_opts *o);
/* The account live capture runs as when --user names none: mitmwatch (the Debian package
 * creates it), else nobody; NULL when neither exists. */
#define SENSOR_DEFAULT_USER "mitmwatch"
const char *sensor_default_user(void);
/* -T, --test-config: loads and checks the whole configuration (the policy, every file it names,
 * the outputs, the state file, the probes) without capturing. Warnings on stderr
 * ("mitmwatch: warning: ..."), then "configuration OK" on stdout and 0, or every problem on
 * stderr and 2. */
int sensor_test_config(sensor_opts *o);

#endif
