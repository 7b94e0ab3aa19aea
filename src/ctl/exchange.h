/*
 * The exchange with gatherd: one connection to its Unix socket, request
 * lines out, reply lines in, each reply matched to its request, until
 * every request has its final reply.
 */
#ifndef GATHERD_CTL_EXCHANGE_H
#define GATHERD_CTL_EXCHANGE_H

#include <sys/types.h>
#include <sys/un.h>

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* A request sent on the connection, until its final reply comes. */
struct exchange_request {
	json_t		*id;		/* owned: its id, JSON null if absent */
	json_t		*jobs;		/* owned: a batch's jobs, or NULL */
	size_t		 njobs;		/* jobs of a batch, 0 for other ops */
	size_t		 nevents;	/* stream events received */
	int		 show_events;	/* the user asked for stream events */
	int		 done;		/* its final reply has come */
};

/*
 * Print a reply line for the user: a final reply, or a stream event of a
 * request that shows them (or that answers none). req is the request it
 * answers, or NULL; msg is the line parsed (a JSON object), line and len
 * its text without the newline.
 */
typedef void	(*exchange_show_cb)(void *, const struct exchange_request *req,
		    const json_t *msg, const char *line, size_t len);

struct exchange {
	int		 fd;
	char		*out;		/* owned: request lines to send */
	size_t		 outlen;
	size_t		 outsize;
	size_t		 outoff;
	int		 send_errno;	/* why sending stopped early, or 0 */
	char		*in;		/* owned: received, not yet a line */
	size_t		 inlen;
	size_t		 insize;
	struct exchange_request *reqs;	/* owned, nreqs entries */
	size_t		 nreqs;
	size_t		 reqsize;
	size_t		 first;		/* reqs before this one are done */
	size_t		 nleft;		/* requests without a final reply */
	uint64_t	 started;	/* clock_ns() when sending began */
	int		 failed;	/* a final reply was not "ok" */
	json_t		*last;		/* owned: the last final reply */

	/* The progress bar on stderr, drawn when bar is set. */
	int		 bar;
	int		 bar_shown;
	size_t		 bar_total;
	size_t		 bar_done;
	uint64_t	 bar_drawn;

	exchange_show_cb show;
	void		*arg;
};

void	exchange_init(struct exchange *, exchange_show_cb, void *);
void	exchange_free(struct exchange *);
int	exchange_add(struct exchange *, json_t *, int, char **);
int	exchange_run(struct exchange *, int, const char *, int, char **);

/* Fill in the address of the socket at path; -1 if the path is too long. */
int	exchange_sockaddr(struct sockaddr_un *, const char *);

#endif
