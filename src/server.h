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
struct snapshot;

extern struct event_base	*server_base;
extern struct snapshot		*server_snap;	/* the configuration in force */
extern struct config		*server_cfg;	/* &server_snap->cfg */
extern int			 server_draining;
extern int			 server_stopping;

int	 server_init(struct snapshot *, char **);
void	 server_set_snapshot(struct snapshot *);
void	 server_run(void);
void	 server_free(void);
void	 server_conn_closed(struct conn *);
void	 server_batch_finished(void);
unsigned server_cancel(struct conn *, const json_t *, int64_t);
json_t	*server_batch_list(const struct conn *);
json_t	*server_conn_list(const struct conn *);

#endif
