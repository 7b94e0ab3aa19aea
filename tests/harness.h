/*
 * Integration test harness: a real gatherd on a real Unix socket in a
 * private temporary directory, and blocking client helpers to talk to it.
 * Modelled on memcached's new_memcached(): fork, poll for the socket, kill
 * on teardown. Every helper asserts (Criterion) instead of returning errors.
 */
#ifndef GATHERD_HARNESS_H
#define GATHERD_HARNESS_H

#include <sys/types.h>
#include <sys/un.h>

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

/*
 * The programs under test, as built: the harness library is compiled with
 * their paths (GATHERD_BIN and GATHERCTL_BIN), and a suite sees these
 * names as the library's copies of them.
 */
extern const char	harness_gatherd_bin[];
extern const char	harness_gatherctl_bin[];
#ifndef GATHERD_BIN
#define GATHERD_BIN	harness_gatherd_bin
#endif
#ifndef GATHERCTL_BIN
#define GATHERCTL_BIN	harness_gatherctl_bin
#endif

struct daemon {
	pid_t	pid;
	char	dir[256];	/* private temp dir, removed by daemon_stop; "" after */
	char	sock[320];	/* dir/gatherd.sock */
	char	conf[320];	/* dir/gatherd.conf */
	char	log[320];	/* dir/gatherd.log: the daemon's stderr */
	int	paused;		/* stopped by daemon_pause */
};

/*
 * Start gatherd with a config file holding conf_text (may be NULL) plus
 * the socket key, and extra command line arguments (NULL-terminated list,
 * may be NULL). Returns once the socket accepts connections. d is
 * remembered for harness_suite_fini: in a suite that uses it, d must
 * outlive the test (a file-level variable, not one on the stack).
 */
void	 daemon_start(struct daemon *, const char *conf_text, const char *const *args);
/*
 * SIGTERM the daemon, wait for it, remove its dir, then assert it exited
 * 0 (the end of its log in the message). Call it at the end of a test's
 * body: Criterion 2.4.1 prints an assertion that fails in a suite's .fini
 * but still passes the test. Idempotent: once done it clears dir and pid,
 * so a later call (a .fini's safety net for a test that failed midway)
 * does nothing. If the daemon already exited (daemon_wait), it only
 * removes the dir.
 */
void	 daemon_stop(struct daemon *);
/*
 * How daemon_start_opts differs from daemon_start. prefix: a command the
 * daemon is started through (NULL-terminated, e.g. systemd-socket-activate
 * -l {sock}), placed before GATHERD_TEST_WRAPPER and gatherd; it must exec
 * the rest in the same process; an argument "{sock}" stands for d->sock.
 * child: called in the forked child after stderr goes to the log and
 * before exec, to set up its environment (its pid is the daemon's, fd 2
 * is the log). no_wait: return as soon as the process is started, without
 * waiting for the socket.
 */
struct daemon_opts {
	const char *const	*prefix;
	void			(*child)(const struct daemon *);
	int			 no_wait;
};

/* daemon_start with options (opts may be NULL: plain daemon_start). */
void	 daemon_start_opts(struct daemon *, const char *conf_text,
	    const char *const *args, const struct daemon_opts *);
/* daemon_start (no arguments) and a client connected: its socket. */
int	 daemon_start_client(struct daemon *, const char *conf_text);
/* Wait for the daemon to exit by itself; returns its wait status. */
int	 daemon_wait(struct daemon *, int timeout_ms);
/* Assert the daemon exits 0 by itself within ms (stretched). */
void	 daemon_expect_exit_0(struct daemon *, int ms);
/*
 * Start gatherd again in d's directory with d's configuration, after the
 * previous one died or stopped, and wait until it accepts. Unlike
 * daemon_start it runs no GATHERD_TEST_WRAPPER, and it appends to the log.
 */
void	 daemon_respawn(struct daemon *);
/* Wait until the daemon has closed its listener (it is draining). */
void	 daemon_wait_unlisten(struct daemon *);
/*
 * Stop the daemon (SIGSTOP) and return once it is stopped, every thread
 * of it; daemon_resume continues it. Meanwhile a test can put input in
 * its sockets and signals in its queue, and know that all of it is there
 * when it runs again: the way to race nothing in a test of what the
 * daemon does when both come at once.
 */
void	 daemon_pause(struct daemon *);
void	 daemon_resume(struct daemon *);

/*
 * A suite's .init and .fini, for suites whose tests start daemons and
 * make files: TestSuite(x, .init = harness_suite_init, .fini =
 * harness_suite_fini). Every test stops its daemons at the end of its
 * body, where daemon_stop's assertion of a clean exit counts (Criterion
 * 2.4.1 prints an assertion that fails in a suite's .fini but still
 * passes the test); the .fini is the safety net for a test that failed
 * midway. It runs the functions given to harness_at_fini (last first),
 * removes the directories made by harness_tmpdir, then stops every daemon
 * that daemon_start started and that still runs (that may assert, so it
 * comes last). The .init ignores SIGPIPE: writing to a socket the daemon
 * closed must fail, not kill the test.
 */
void	 harness_suite_init(void);
void	 harness_suite_fini(void);
/* A Criterion suite with the harness's init and fini, timing out in secs. */
#define HARNESS_SUITE(name, secs) \
	TestSuite(name, .init = harness_suite_init, \
	    .fini = harness_suite_fini, .timeout = (secs))
/* Have harness_suite_fini call fn (once, however often this is called). */
void	 harness_at_fini(void (*fn)(void));
/*
 * Make a private directory /tmp/PREFIX.XXXXXX (its real path) into dir
 * (size bytes), which harness_suite_fini removes with what it holds;
 * asserts. Returns dir.
 */
char	*harness_tmpdir(char *dir, size_t size, const char *prefix);


/* The daemon's log (its stderr) as a string; caller frees. */
char	*daemon_log(const struct daemon *);
/*
 * Wait until the log holds needle at least count times; returns how many
 * times it does (fewer than count on timeout).
 */
int	 daemon_log_wait(const struct daemon *, const char *needle, int count,
	    int timeout_ms);

/* A Unix socket address for path; asserts it fits. */
void	 sun_set(struct sockaddr_un *, const char *path);
/* Connect to a Unix stream socket, or -1 (nothing listening there). */
int	 try_connect(const char *sock);
/* Connect to a Unix socket; asserts success. */
int	 client_connect(const char *sock);
/*
 * Connect to a Unix socket as uid and gid (the caller must be root): a
 * child drops to them, connects, and hands the socket back, so the daemon
 * sees uid and gid as the peer (SO_PEERCRED is taken at connect) while
 * this process drives the connection. Asserts success. The socket's
 * directory and mode must let uid in.
 */
int	 client_connect_as(const char *sock, uid_t uid, gid_t gid);
/*
 * A uid and gid other than root's and the caller's, for clients of
 * another user: nobody's (65534), or its neighbours for a second one.
 */
#define HARNESS_UID_OTHER	65534
#define HARNESS_UID_THIRD	65533
/* Write all of buf (len bytes); asserts success. */
void	 client_write(int fd, const void *buf, size_t len);
/* Write a string and a newline. */
void	 client_send(int fd, const char *line);
/*
 * Wait until the daemon has read everything written on fd (nothing left
 * in the socket), within 20 s (stretched).
 */
void	 client_wait_read(int fd);
/* Read one line (without its newline), or NULL on EOF or timeout. Caller frees. */
char	*client_recv(int fd, int timeout_ms);
/* client_recv and parse as JSON; asserts a line came and parsed. Caller decrefs. */
json_t	*client_recv_json(int fd, int timeout_ms);
/*
 * How long a reply may take to come, before slack_ms(), where nothing
 * but its coming is checked.
 */
#define HARNESS_REPLY_MS	10000
/*
 * Send one line on fd and read its reply (within HARNESS_REPLY_MS,
 * stretched). Caller decrefs.
 */
json_t	*rpc(int fd, const char *line);
/* Assert nothing (no data, no EOF) arrives on fd for ms milliseconds. */
void	 expect_silence(int fd, int ms);
/* Assert the daemon closes fd within ms (stretched), nothing more sent. */
void	 expect_eof(int fd, int ms);
/*
 * Read fd until it ends (EOF, a reset, or EIO from a pty whose child
 * side has closed), within ms (stretched): what came, NUL-terminated,
 * its length in *lenp. Caller frees.
 */
char	*read_to_end(int fd, int ms, size_t *lenp);
/* read_to_end, dropping what came; returns the bytes dropped. */
size_t	 drain_to_eof(int fd, int ms);
/* Whether a client can connect to the Unix socket path now. */
bool	 can_connect(const char *path);
/* A non-blocking client socket connected to path, or -1 with errno. */
int	 nb_try_connect(const char *path);
/*
 * A non-blocking client socket connected to path, or -1 when the
 * listener's backlog is full (EAGAIN): the caller lets the daemon accept
 * and tries again. Any other failure asserts.
 */
int	 nb_connect(const char *path);
/*
 * Connect, send one line, read one reply (within HARNESS_REPLY_MS,
 * stretched), close. Caller decrefs.
 */
json_t	*daemon_request(struct daemon *, const char *line);

/*
 * Connect, send one line, read one reply of any size within timeout_ms
 * (read in large chunks: replies of megabytes are fine), close. Asserts a
 * reply came and parsed (with JSON_ALLOW_NUL). Caller decrefs.
 */
json_t	*daemon_request_ms(struct daemon *, const char *line, int timeout_ms);

/*
 * A buffered line reader on a client socket, for replies of megabytes and
 * for many clients polled at once (client_recv reads one line and nothing
 * past it). Lines are parsed with JSON_ALLOW_NUL: data may hold NUL bytes.
 */
struct reader {
	int	 fd;
	char	*buf;
	size_t	 len;
	size_t	 cap;
	size_t	 scan;	/* buf[0..scan) holds no newline */
};

/* A reader on fd, with an empty buffer. */
void	 reader_init(struct reader *, int fd);
/* A reader on a new connection to sock; asserts it connects. */
void	 reader_open(struct reader *, const char *sock);
/* Free the buffer; the socket is the caller's. */
void	 reader_free(struct reader *);
/* Close the socket and free the buffer. */
void	 reader_close(struct reader *);
/*
 * Read what the socket has, waiting up to timeout_ms for it: 1 if
 * something came, 0 at EOF (or a reset), -1 if nothing did.
 */
int	 reader_fill(struct reader *, int timeout_ms);
/* The length of the first whole line read (its newline's offset), or -1. */
ssize_t	 reader_has_line(struct reader *);
/* The next line within timeout_ms, or NULL on EOF or timeout. Caller frees. */
char	*reader_line(struct reader *, int timeout_ms);
/* The next line as JSON; asserts one comes in timeout_ms. Caller decrefs. */
json_t	*reader_json(struct reader *, int timeout_ms);
/* The next line already read, as JSON, or NULL. Caller decrefs. */
json_t	*reader_next_json(struct reader *);

/*
 * The daemon's status object, asked on a fresh connection within
 * timeout_ms; asserts it came. Caller decrefs.
 */
json_t	*daemon_status(struct daemon *, int timeout_ms);
/* daemon_status within HARNESS_REPLY_MS, stretched. Caller decrefs. */
json_t	*status_of(struct daemon *);
/* The status object, asked on fd. Caller decrefs. */
json_t	*status_on(int fd);
/* Assert the daemon answers a ping (ok, pong) on a new connection in ms. */
void	 daemon_ping(struct daemon *, int ms);
/*
 * Assert status st shows no job in flight, waiting or retrying and no
 * batch in flight.
 */
void	 expect_idle(json_t *st);
/* expect_idle on status_of(d). */
void	 daemon_expect_idle(struct daemon *);

/*
 * What await_settled waits for besides what expect_idle asserts: that
 * many connections open and jobs done (when > 0), and the pool's queue
 * empty (SETTLED_QUEUED) or its workers idle too (SETTLED_POOL).
 */
#define SETTLED_QUEUED	1
#define SETTLED_POOL	2
struct settled {
	json_int_t	 conns;
	json_int_t	 jobs_done;
	int		 pool;
};
/*
 * Ask status (on fd, or on a fresh connection to d when fd is -1) until
 * the daemon is settled as want says; assert that comes within within_ms
 * of since (not stretched here), the failure message naming what. Returns
 * that status; caller decrefs.
 */
json_t	*await_settled(struct daemon *, int fd, const struct settled *want,
	    double since, double within_ms, const char *what);

/*
 * Ask status (on fd, or on a fresh connection to d when fd is -1) until
 * the integer at path is want; assert that comes within within_ms (not
 * stretched here). Returns that status; caller decrefs.
 */
json_t	*await_status(struct daemon *, int fd, const char *path,
	    json_int_t want, double within_ms);

/*
 * Ask status (on a fresh connection to d) until n batches have started,
 * in flight or done (a count that never goes back, so a batch that ends
 * between two looks is not missed); assert that comes within within_ms
 * (not stretched here). Returns that status; caller decrefs.
 */
json_t	*await_batches_started(struct daemon *, json_int_t n,
	    double within_ms);

/*
 * A bad value in a request (JSON text) and the path its error message
 * names ("jobs[1].params"), for tables of refusals.
 */
struct bad_field {
	const char	*text;
	const char	*path;
};

/*
 * Something refused (a request's field, a URL, configuration text) and
 * what the error it draws says, for tables of refusals.
 */
struct refusal {
	const char	*text;
	const char	*says;
};

/* Assert v is an error reply with this id (JSON text), code and a message. */
void	 expect_error(json_t *v, const char *id, const char *code);
/* Assert v is the successful reply to request id (JSON text). */
void	 expect_ok(json_t *v, const char *id);
/* Send line on fd; assert its reply is a success with this id. */
void	 rpc_ok(int fd, const char *line, const char *id);
/*
 * Send line on fd; assert its reply has the shape want gives: pairs of a
 * path and its JSON text, ended by NULL (jexpect in jsonpath.h).
 */
void	 rpc_expect(int fd, const char *line, const char *const *want);
/* Send line on fd; assert its reply holds pattern (JSON text, see jhas). */
void	 rpc_has(int fd, const char *line, const char *pattern);
/* Assert the next reply on fd, within ms, holds pattern (see jhas). */
void	 recv_has(int fd, int ms, const char *pattern);
/*
 * Assert the next reply on fd holds pattern (see jhas) and comes lo to
 * hi ms after t0 (now_ms()); hi is the caller's to stretch.
 */
void	 recv_has_between(int fd, const char *pattern, double t0, double lo,
	    double hi);
/* Assert the next reply on fd, within ms, is a success with this id. */
void	 recv_ok(int fd, int ms, const char *id);
/* Send line on fd; assert its reply is an error with this id and code. */
void	 rpc_error(int fd, const char *line, const char *id, const char *code);
/* Send a ping line on fd; assert its reply is a pong with this id. */
void	 rpc_pong(int fd, const char *line, const char *id);
/* Assert the next reply on fd, within ms, is a pong with this id. */
void	 recv_pong(int fd, int ms, const char *id);
/* rpc_pong on a fresh connection to the daemon. */
void	 daemon_pong(struct daemon *, const char *line, const char *id);
/*
 * Send line on a fresh connection to the daemon; assert its reply is an
 * error with code whose message holds says.
 */
void	 daemon_refuses(struct daemon *, const char *line, const char *code,
	    const char *says);
/*
 * Assert the stats of batch reply r count ok, failed, cancelled and
 * timed_out jobs, and as many jobs as these add up to.
 */
void	 expect_stats(json_t *r, int ok, int failed, int cancelled,
	    int timed_out);
/*
 * Start d with no configuration and a client (its socket in *fd), send
 * line on it; its reply. Caller decrefs.
 */
json_t	*daemon_rpc(struct daemon *, int *fd, const char *line);
/*
 * Send line on fd; assert its reply comes no sooner than lo ms and within
 * hi ms (the caller stretches it). Caller decrefs.
 */
json_t	*rpc_between(int fd, const char *line, double lo, double hi);
/*
 * Start d with no configuration and a client (its socket in *fd), send
 * line on it; assert the reply comes no sooner than lo ms and within hi
 * ms (the caller stretches it). Caller decrefs.
 */
json_t	*daemon_rpc_between(struct daemon *, int *fd, const char *line,
	    double lo, double hi);
/*
 * Assert two replies, which may be in either order, are a cancel op's,
 * which has "cancelled" and holds cancel (JSON text, see jhas), and that
 * of the batch it ended, which holds batch. Decrefs both.
 */
void	 expect_cancel_and_batch(json_t *, json_t *, const char *cancel,
	    const char *batch);
/*
 * Read the next two replies on fd, each within ms (not stretched here),
 * which may come in either order: a cancel op's, which has "cancelled"
 * and must hold cancel (JSON text, see jhas), and that of the batch it
 * ended, which must hold batch.
 */
void	 recv_cancel_and_batch(int fd, int ms, const char *cancel,
	    const char *batch);
/*
 * Read a streamed batch's lines on fd, each within ms: n result events,
 * then its reply (not an event). Returns them as an array, in the order
 * they came, the reply last. Caller decrefs.
 */
json_t	*recv_stream(int fd, int n, int ms);
/* Send line on fd and read its reply; *ms is how long that took. */
json_t	*rpc_timed(int fd, const char *line, double *ms);
/* A value from /proc/PID/status in kB (key "VmRSS", "VmHWM"), or -1. */
long	 proc_kb(pid_t pid, const char *key);
/*
 * How long the main thread of pid has been running or runnable (on a CPU
 * or waiting in a run queue), in ms, from /proc/PID/schedstat: a thread
 * that spins adds about the whole of any interval, however loaded the
 * machine; one that sleeps adds about nothing.
 */
long	 proc_busy_ms(pid_t pid);

/*
 * The CPU lock, shared by every suite (and every checkout) on the machine:
 * a test that keeps the CPUs busy for seconds takes it shared
 * (CPU_LOCK_SHARED), one that measures latency takes it alone
 * (CPU_LOCK_ALONE), so that what it measures is the daemon, not a
 * neighbouring test. Held until the test's process ends.
 */
#define CPU_LOCK_SHARED	1
#define CPU_LOCK_ALONE	2
void	 cpu_lock(int how);

/* Remove a directory tree (symbolic links are removed, not followed). */
void	 harness_rmtree(const char *);

/* Milliseconds on the monotonic clock. */
double	 now_ms(void);
/* Sleep ms milliseconds (usleep need not accept a second or more). */
void	 sleep_ms(int ms);

/* A string of n bytes c (and a NUL); caller frees. */
char	*harness_fill(int c, size_t n);
/* s times times, then tail, as a string; caller frees. */
char	*harness_repeat(const char *s, size_t times, const char *tail);
/* Format a string like printf into new memory; asserts success; caller frees. */
char	*harness_fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
/*
 * Append what f formats to *s (from harness_fmt), which becomes a new
 * string (the old one is freed); asserts success.
 */
void	 harness_append(char **s, const char *f, ...)
	    __attribute__((format(printf, 2, 3)));
/*
 * A batch line of depth groups and sequences, each holding the next, the
 * last holding innermost (a job's JSON); the innermost level is of type
 * first ("group" or "sequence"), the levels around it alternate. Caller
 * frees.
 */
char	*harness_nested_line(int depth, const char *innermost,
	    const char *first);

/*
 * How much slower than bare the daemon may be: 1.0, or HARNESS_SLOW_SLACK
 * when GATHERD_TEST_WRAPPER is set and not empty (valgrind is some 10 to
 * 50 times slower), or HARNESS_ASAN_SLACK in a --enable-sanitizers build
 * (ASan and UBSan make it some 2 to 3 times slower). Tests multiply upper
 * timing bounds, time-outs and waits for a state by it, or only the overhead part of a bound where
 * they tell concurrent from sequential; never a lower bound.
 */
#define HARNESS_SLOW_SLACK	20.0
#define HARNESS_ASAN_SLACK	4.0
double	 harness_slack(void);
/* An upper bound, time-out or wait of ms milliseconds, stretched so. */
int	 slack_ms(double ms);
/*
 * Whether the daemon is slower than bare (harness_slack() > 1: under
 * GATHERD_TEST_WRAPPER or ASan), for tests that do less work then.
 */
bool	 harness_slowed(void);
/* Whether GATHERD_TEST_WRAPPER (valgrind) runs the daemon, ASan or not. */
bool	 harness_wrapped(void);

/*
 * How long a reply the loop is free to give at once (a ping beside a
 * stalled client, a busy pool, a big reply being sent) may take, before
 * slack_ms(): on a two-core machine with other builds and suites beside
 * (load average 8), such pings were measured at 20 ms at most; a loop
 * held up by what it must not wait for (a client, a disk, a reply's
 * whole length) takes seconds, or for ever.
 */
#define HARNESS_PROMPT_MS	250

/*
 * Whether the daemon's memory use means anything: not under
 * GATHERD_TEST_WRAPPER (valgrind's memory is measured) nor in a
 * --enable-sanitizers build (the daemon is built with the tests' flags, and
 * ASan's shadow memory and quarantine of freed blocks dominate its RSS).
 * Tests skip bounds on the daemon's RSS when it does not.
 */
int	 harness_rss_meaningful(void);

/*
 * The next number of a deterministic xorshift64 generator whose state
 * (not 0) is *state, so that a test's random cases reproduce.
 */
uint64_t rng_next(uint64_t *state);

/*
 * Run a shell command (through /bin/sh) with GATHERD_SOCKET unset, capture
 * stdout into *out (caller frees; may be NULL to discard) and return the
 * exit status (0..255), or -1 if it died by a signal.
 */
int	 run_command(const char *cmd, char **out);
/* run_command of a formatted command line. */
int	 run_commandf(char **out, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/*
 * Run a shell command as run_command does, but on a pseudo-terminal (for
 * gatherctl's human output), stdout and stderr together in *out; fails
 * the test when it has not ended in slack_ms(10000).
 */
int	 run_command_pty(const char *cmd, char **out);

#endif
