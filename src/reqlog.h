/*
 * The log's lines about requests: one per finished batch with [daemon]
 * log_requests, disconnects with batches in flight, and at debug level
 * error replies and failed jobs.
 */
#ifndef GATHERD_REQLOG_H
#define GATHERD_REQLOG_H

#include "error.h"

struct batch;
struct conn;

void	reqlog_batch(const struct conn *, const struct batch *);
void	reqlog_error(const struct conn *, enum err_code, const char *);
void	reqlog_disconnect(const struct conn *);

#endif
