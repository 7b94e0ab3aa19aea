/*
 * The server: the event loop, the listening socket, the connections, and
 * shutdown. The loop thread owns all of it.
 */
#ifndef GATHERD_SERVER_H
#define GATHERD_SERVER_H

#include <stdint.h>

#include <jansson.h>

struct conn;
struct config;
struct event_base;

extern struct event_base	*server_base;
extern struct config		*server_cfg;
extern int			 server_draining;
extern int			 server_stopping;

int	 server_init(struct config *, const char *, char **);
void	 server_run(void);
void	 server_free(void);
void	 server_conn_closed(struct conn *);
void	 server_batch_finished(void);
unsigned server_cancel(struct conn *, const json_t *, int64_t);
json_t	*server_batch_list(void);

#endif
