/*
 * A libcurl multi handle driven by gatherd's libevent loop, as curl's
 * docs/examples/hiperfifo.c does it: libcurl says which sockets to watch
 * (CURLMOPT_SOCKETFUNCTION) and when to call it back
 * (CURLMOPT_TIMERFUNCTION); the loop calls curl_multi_socket_action when
 * either fires, then hands every finished transfer to done().
 *
 * One multi handle serves every http job whose configuration names the
 * same connection limits, so keep-alive connections, TLS sessions and the
 * DNS cache are shared between batches and clients (jobs/http.c keeps
 * the list). Only the loop thread touches it.
 */
#ifndef GATHERD_HTTP_MULTI_H
#define GATHERD_HTTP_MULTI_H

#include <sys/queue.h>

#include <curl/curl.h>

#include "http/admit.h"

struct event;
struct event_base;
struct http_reap;

/*
 * A transfer's easy handle as the multi handle has it: queued to be
 * added at the end of the loop's pass, or in libcurl's hands. Its owner
 * keeps it (in the transfer) until removed.
 */
struct http_handle {
	CURL			*easy;
	TAILQ_ENTRY(http_handle) entry;		/* in m->starts, while queued */
	int			 queued;
};

/* Easy handles kept for reuse, reset: a handle's cleanup and init cost more. */
#define HTTP_MULTI_IDLE	64

struct http_multi {
	CURLM			*multi;		/* owned */
	struct event_base	*base;
	struct event		*timer;		/* owned: libcurl's timeout */
	struct event		*reaper;	/* owned: removals put off */
	struct event		*starter;	/* owned: adds the queued handles */
	int			 starting;	/* in the starter's libcurl run */
	void			(*done)(CURL *, CURLcode);
	unsigned		 refs;		/* its owner's, and a running call's */
	unsigned		 snaps;		/* the owner's: snapshots naming it */
	int			 in_curl;	/* inside libcurl: no removal */
	long			 max_total;	/* CURLMOPT_MAX_TOTAL_CONNECTIONS */
	long			 max_host;	/* CURLMOPT_MAX_HOST_CONNECTIONS */
	unsigned		 sockets;	/* open: connections, connecting */
	unsigned		 transfers;	/* easy handles added */
	unsigned		 queued;	/* of those, without a connection */
	struct http_admit	 admit;		/* what may be added: by origin */
	CURL			*idle[HTTP_MULTI_IDLE];	/* owned: easy handles to reuse */
	unsigned		 nidle;
	TAILQ_HEAD(, http_reap)	 reaps;		/* removals put off */
	TAILQ_HEAD(, http_handle) starts;	/* handles to add, in order */
	TAILQ_ENTRY(http_multi)	 entry;		/* the owner's list */
};

struct http_multi *http_multi_new(struct event_base *, long, long,
		    void (*)(CURL *, CURLcode));
void		 http_multi_unref(struct http_multi *);
CURL		*http_multi_easy(struct http_multi *);
void		 http_multi_easy_done(struct http_multi *, CURL *);
void		 http_multi_add(struct http_multi *, struct http_handle *);
void		 http_multi_remove(struct http_multi *, struct http_handle *,
		    void (*)(void *), void *);
curl_socket_t	 http_multi_socket(struct http_multi *,
		    const struct curl_sockaddr *);
int		 http_multi_closesocket(void *, curl_socket_t);

#endif
