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

#include <jansson.h>

struct daemon {
	pid_t	pid;
	char	dir[256];	/* private temp dir, removed by daemon_stop; "" after */
	char	sock[320];	/* dir/gatherd.sock */
	char	conf[320];	/* dir/gatherd.conf */
	char	log[320];	/* dir/gatherd.log: the daemon's stderr */
};

/*
 * Start gatherd with a config file holding conf_text (may be NULL) plus
 * the socket key, and extra command line arguments (NULL-terminated list,
 * may be NULL). Returns once the socket accepts connections.
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
/* Wait for the daemon to exit by itself; returns its wait status. */
int	 daemon_wait(struct daemon *, int timeout_ms);

/*
 * The daemon's status object, asked on a fresh connection within
 * timeout_ms; asserts it came. Caller decrefs.
 */
json_t	*daemon_status(struct daemon *, int timeout_ms);

/* Assert the daemon answers a ping on a fresh connection within ms. */
void	 daemon_ping(struct daemon *, int ms);

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
/* Read one line (without its newline), or NULL on EOF or timeout. Caller frees. */
char	*client_recv(int fd, int timeout_ms);
/* client_recv and parse as JSON; asserts a line came and parsed. Caller decrefs. */
json_t	*client_recv_json(int fd, int timeout_ms);
/* Send one line on fd and read its reply (within 10 s, stretched). Caller decrefs. */
json_t	*rpc(int fd, const char *line);
/* The status object, asked on fd. Caller decrefs. */
json_t	*status_on(int fd);
/* Assert nothing (no data, no EOF) arrives on fd for ms milliseconds. */
void	 expect_silence(int fd, int ms);
/* Assert the daemon closes fd within ms (stretched), nothing more sent. */
void	 expect_eof(int fd, int ms);
/*
 * Read and drop what fd has until the daemon closes it (EOF or a reset),
 * within ms (stretched); returns the bytes dropped.
 */
size_t	 drain_to_eof(int fd, int ms);
/* Connect, send one line, read one reply, close. Caller decrefs. */
json_t	*daemon_request(struct daemon *, const char *line);

/*
 * Connect, send one line, read one reply of any size within timeout_ms
 * (read in large chunks: replies of megabytes are fine), close. Asserts a
 * reply came and parsed (with JSON_ALLOW_NUL). Caller decrefs.
 */
json_t	*daemon_request_ms(struct daemon *, const char *line, int timeout_ms);

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

/* Format a string like printf into new memory; asserts success; caller frees. */
char	*harness_fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));

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
 * Run a shell command (through /bin/sh) with GATHERD_SOCKET unset, capture
 * stdout into *out (caller frees; may be NULL to discard) and return the
 * exit status (0..255), or -1 if it died by a signal.
 */
int	 run_command(const char *cmd, char **out);
/* run_command of a formatted command line. */
int	 run_commandf(char **out, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

#endif
