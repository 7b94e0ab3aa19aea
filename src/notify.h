/*
 * The systemd notification protocol (sd_notify): readiness, a status line,
 * the watchdog and shutdown. Everything here does nothing when the daemon
 * does not run under systemd (no NOTIFY_SOCKET).
 */
#ifndef GATHERD_NOTIFY_H
#define GATHERD_NOTIFY_H

struct event_base;

void	 notify_init(struct event_base *);
void	 notify_ready(void);
void	 notify_reloading(void);
void	 notify_stopping(void);
void	 notify_free(void);

#endif
