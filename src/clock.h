/* The monotonic clock every duration in gatherd is measured with. */
#ifndef GATHERD_CLOCK_H
#define GATHERD_CLOCK_H

#include <stdint.h>
#include <sys/time.h>
#include <time.h>

/* Nanoseconds on CLOCK_MONOTONIC. */
static inline uint64_t
clock_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Milliseconds between two clock_ns() readings, as the protocol reports. */
static inline double
clock_ms(uint64_t from, uint64_t to)
{
	return to > from ? (double)(to - from) / 1e6 : 0.0;
}

/*
 * A duration in milliseconds as a timeval for libevent, rounded up to the
 * next microsecond (a timer must never fire early) and clamped to about
 * 31,000 years so any non-negative number from the wire is representable.
 */
static inline void
clock_ms_timeval(double ms, struct timeval *tv)
{
	double	us;

	if (!(ms > 0))
		ms = 0;
	if (ms > 1e15)
		ms = 1e15;
	us = ms * 1000;
	tv->tv_sec = (time_t)(us / 1e6);
	us -= (double)tv->tv_sec * 1e6;
	tv->tv_usec = (suseconds_t)us;
	if ((double)tv->tv_usec < us)
		tv->tv_usec++;
	if (tv->tv_usec >= 1000000) {
		tv->tv_sec++;
		tv->tv_usec -= 1000000;
	}
	if (tv->tv_usec < 0)
		tv->tv_usec = 0;
}

#endif
