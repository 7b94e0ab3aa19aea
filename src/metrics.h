/*
 * Prometheus metrics: the status op's figures as the text exposition
 * format (0.0.4), for the metrics op and for GET /metrics over HTTP on
 * [metrics] listen.
 */
#ifndef GATHERD_METRICS_H
#define GATHERD_METRICS_H

#include <jansson.h>

struct config;
struct evbuffer;
struct event_base;

void		 metrics_write(struct evbuffer *, const struct config *);
int		 metrics_listen(struct event_base *, const struct config *,
		    char **);
void		 metrics_status(json_t *);
void		 metrics_free(void);

#endif
