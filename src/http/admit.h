/*
 * Admission of transfers to a libcurl multi handle: at most so many
 * transfers in libcurl's hands per origin (host and port) and in all;
 * the rest wait here, in a queue per origin, and origins with room take
 * turns, one transfer each.
 *
 * libcurl queues what its connection limits hold back itself, but 7.88
 * walks that whole queue on every curl_multi_remove_handle(): ten
 * thousand requests to one host took the loop seconds of CPU, and each
 * held an easy handle while it waited. Here a waiting transfer holds no
 * easy handle, and leaving costs O(1). Per origin, max_host_connections
 * transfers are admitted, each with a connection of its own, until one
 * of them has come back over HTTP/2: from then on (while the origin has
 * transfers), a hundred times that, as many as its connections can
 * multiplex. In all, four times max_connections. So a transfer admitted
 * waits in libcurl for nothing but its connection (and, over TLS, for
 * the first connection's ALPN), and its connect timeout counts none of
 * the wait for a place.
 *
 * Only the loop thread touches it.
 */
#ifndef GATHERD_HTTP_ADMIT_H
#define GATHERD_HTTP_ADMIT_H

#include <stddef.h>
#include <sys/queue.h>

struct http_origin;

/* A transfer's place: waiting, admitted, or neither (origin NULL). */
struct http_slot {
	TAILQ_ENTRY(http_slot)	 entry;		/* in its origin's queue */
	struct http_origin	*origin;
	int			 admitted;
	/* Called once admitted: hand the transfer to libcurl. */
	void			(*admit)(struct http_slot *);
};

struct http_admit {
	struct http_origin	**buckets;	/* owned: by the key's hash */
	size_t			 nbuckets;
	size_t			 norigins;
	TAILQ_HEAD(, http_origin) ready;	/* waiting, with room: in turn */
	unsigned		 admitted;	/* in libcurl's hands */
	unsigned		 waiting;
	unsigned		 max;		/* admitted at most */
	unsigned		 per_origin;	/* an origin's, without HTTP/2 */
};

void	 http_admit_init(struct http_admit *, unsigned, unsigned);
void	 http_admit_free(struct http_admit *);
void	 http_admit_ask(struct http_admit *, struct http_slot *, const char *);
void	 http_admit_multiplexed(struct http_admit *, struct http_slot *);
void	 http_admit_leave(struct http_admit *, struct http_slot *);

#endif
