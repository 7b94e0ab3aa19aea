/*
 * Tell systemd how the daemon is doing, through sd_notify(3):
 *
 *   READY=1      once the socket listens and the configuration is loaded;
 *   STATUS=...   a one-line summary of the load, checked once a second and
 *                sent only when it changed;
 *   WATCHDOG=1   from a timer on the loop at half the unit's WatchdogSec=,
 *                so a loop that stalls stops the pings and gets the daemon
 *                restarted;
 *   STOPPING=1   when shutdown starts.
 *
 * Without NOTIFY_SOCKET in the environment no timer is armed and nothing
 * is sent. Reloading the configuration on SIGHUP is not implemented yet:
 * notify_reloading() and notify_ready() are the two messages its handler
 * will send around the reload (Type=notify-reload).
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "notify.h"
#include "status.h"

#define NOTIFY_STATUS_MS	1000

static int		 notify_on;
static struct event	*notify_status_timer;
static struct event	*notify_watchdog_timer;
static char		 notify_status_text[256];

/* The summary line: "3 connections, 2 batches and 1200 jobs in flight". */
static void
notify_status_format(char *buf, size_t len)
{
	unsigned long long	conns = status.conns_open;
	unsigned long long	batches = status.batches_in_flight;
	unsigned long long	jobs = status.jobs_running + status.jobs_waiting;

	snprintf(buf, len, "%llu connection%s, %llu batch%s and %llu job%s"
	    " in flight", conns, conns == 1 ? "" : "s", batches,
	    batches == 1 ? "" : "es", jobs, jobs == 1 ? "" : "s");
}

static void
notify_send(const char *msg)
{
	int	rc;

	if ((rc = sd_notify(0, msg)) < 0)
		log_debug("sd_notify: %s", strerror(-rc));
}

/* Send STATUS= if the summary changed since it was last sent. */
static void
notify_status(evutil_socket_t fd, short events, void *arg)
{
	char	text[sizeof notify_status_text], msg[sizeof text + 16];

	(void)fd;
	(void)events;
	(void)arg;
	notify_status_format(text, sizeof text);
	if (strcmp(text, notify_status_text) == 0)
		return;
	memcpy(notify_status_text, text, sizeof text);
	snprintf(msg, sizeof msg, "STATUS=%s", text);
	notify_send(msg);
}

static void
notify_watchdog(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	notify_send("WATCHDOG=1");
}

/*
 * Arm the status timer and, if the unit has a watchdog for this process,
 * the watchdog timer on base. Does nothing outside systemd.
 */
void
notify_init(struct event_base *base)
{
	struct timeval	 tv;
	uint64_t	 usec = 0;
	const char	*sock = getenv("NOTIFY_SOCKET");
	int		 rc;

	if (sock == NULL || *sock == '\0')
		return;
	notify_on = 1;
	notify_status_timer = event_new(base, -1, EV_PERSIST, notify_status,
	    NULL);
	if (notify_status_timer == NULL)
		fatalx("%s: event_new failed", __func__);
	tv.tv_sec = NOTIFY_STATUS_MS / 1000;
	tv.tv_usec = (NOTIFY_STATUS_MS % 1000) * 1000;
	evtimer_add(notify_status_timer, &tv);

	if ((rc = sd_watchdog_enabled(0, &usec)) < 0)
		log_warnx("watchdog: %s", strerror(-rc));
	if (rc <= 0 || usec == 0)
		return;
	usec /= 2;
	notify_watchdog_timer = event_new(base, -1, EV_PERSIST,
	    notify_watchdog, NULL);
	if (notify_watchdog_timer == NULL)
		fatalx("%s: event_new failed", __func__);
	tv.tv_sec = (time_t)(usec / 1000000);
	tv.tv_usec = (suseconds_t)(usec % 1000000);
	evtimer_add(notify_watchdog_timer, &tv);
	log_debug("watchdog: pinging every %llu us", (unsigned long long)usec);
}

/*
 * The daemon is ready: the socket listens, the configuration is loaded.
 * Also the end of a reload, whether it took or not.
 */
void
notify_ready(void)
{
	char	msg[sizeof notify_status_text + 32];

	if (!notify_on)
		return;
	notify_status_format(notify_status_text, sizeof notify_status_text);
	snprintf(msg, sizeof msg, "READY=1\nSTATUS=%s", notify_status_text);
	notify_send(msg);
}

/*
 * A reload starts. The timestamp is what Type=notify-reload requires with
 * RELOADING=1.
 */
void
notify_reloading(void)
{
	struct timespec	ts;
	char		msg[64];

	if (!notify_on)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000ULL);
	notify_send(msg);
}

/* Shutdown starts. */
void
notify_stopping(void)
{
	if (notify_on)
		notify_send("STOPPING=1");
}

/* Free the timers; call before the loop is freed. */
void
notify_free(void)
{
	if (notify_status_timer != NULL) {
		event_free(notify_status_timer);
		notify_status_timer = NULL;
	}
	if (notify_watchdog_timer != NULL) {
		event_free(notify_watchdog_timer);
		notify_watchdog_timer = NULL;
	}
	notify_on = 0;
}
