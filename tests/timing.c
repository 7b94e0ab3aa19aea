/*
 * Time for tests: the monotonic clock, how much slower than bare the
 * daemon runs (slack), and the CPU lock shared by every suite on the
 * machine; see harness.h.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"

/* Milliseconds on the monotonic clock. */
double
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Sleep ms milliseconds. */
void
sleep_ms(int ms)
{
	struct timespec	ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/*
 * Whether this program, and so the daemon built with the same flags, has
 * AddressSanitizer (--enable-sanitizers).
 */
static int
harness_asan(void)
{
#if defined(__SANITIZE_ADDRESS__)
	return 1;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
	return 1;
#endif
#endif
	return 0;
}

/* 1.0, or more under GATHERD_TEST_WRAPPER or ASan; see harness.h. */
double
harness_slack(void)
{
	if (harness_wrapped())
		return HARNESS_SLOW_SLACK;
	return harness_asan() ? HARNESS_ASAN_SLACK : 1.0;
}

/* Whether GATHERD_TEST_WRAPPER is set and not empty. */
bool
harness_wrapped(void)
{
	const char	*wrapper = getenv("GATHERD_TEST_WRAPPER");

	return wrapper != NULL && *wrapper != '\0';
}

/* Whether the daemon is slower than bare. */
bool
harness_slowed(void)
{
	return harness_slack() > 1;
}

/* ms stretched by harness_slack(). */
int
slack_ms(double ms)
{
	return (int)(ms * harness_slack());
}

/* Whether RSS bounds hold; see harness.h. */
int
harness_rss_meaningful(void)
{
	return !harness_asan() && harness_slack() <= 1;
}

/*
 * The CPU lock: two files. Shared takers pass through the turnstile, which
 * a taker that wants the CPU alone holds while it waits, so that a stream
 * of shared takers cannot starve it (flock has no writer preference).
 */
#define CPU_LOCK_FILE		"/tmp/gatherd-test.cpu.lock"
#define CPU_TURNSTILE_FILE	"/tmp/gatherd-test.cpu.turnstile"

static int
cpu_lock_open(const char *path)
{
	int	fd;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	cr_assert_neq(fd, -1, "open %s: %s", path, strerror(errno));
	/* Another user's test may create it: let it be shared. */
	(void)fchmod(fd, 0666);
	return fd;
}

static void
cpu_flock(int fd, int op)
{
	while (flock(fd, op) == -1)
		cr_assert_eq(errno, EINTR, "flock: %s", strerror(errno));
}

/* Take the CPU lock for the rest of this process; see harness.h. */
void
cpu_lock(int how)
{
	int	lock, turnstile;

	lock = cpu_lock_open(CPU_LOCK_FILE);
	turnstile = cpu_lock_open(CPU_TURNSTILE_FILE);
	cpu_flock(turnstile, LOCK_EX);
	cpu_flock(lock, how == CPU_LOCK_ALONE ? LOCK_EX : LOCK_SH);
	close(turnstile);
	/* lock stays open, and so held, until the process ends. */
}
