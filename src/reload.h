/*
 * Reloading the configuration on SIGHUP.
 */
#ifndef GATHERD_RELOAD_H
#define GATHERD_RELOAD_H

struct config_args;
struct event_base;

void	reload_init(struct event_base *, const struct config_args *);
void	reload_start(void);
void	reload_free(void);

#endif
