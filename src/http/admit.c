/*
 * Admission of transfers (admit.h): origins in a hash table, each with
 * its queue of waiting transfers and its count of admitted ones; an
 * origin with both waiting transfers and room is on the ready list, and
 * admission takes the ready origins in turn. An origin with nothing
 * waiting and nothing admitted is freed.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/admit.h"
#include "xmalloc.h"

#define HTTP_STREAMS	100	/* libcurl's HTTP/2 streams per connection */

struct http_origin {
	struct http_origin	*next;		/* in its bucket */
	char			*key;		/* owned: "host:port" */
	unsigned		 admitted;
	unsigned		 max;
	int			 ready;		/* on the ready list */
	TAILQ_HEAD(, http_slot)	 waiting;
	TAILQ_ENTRY(http_origin) entry;		/* in the ready list */
};

/* FNV-1a. */
static size_t
http_admit_hash(const char *key)
{
	uint64_t	h = 14695981039346656037ULL;

	for (; *key != '\0'; key++)
		h = (h ^ (unsigned char)*key) * 1099511628211ULL;
	return (size_t)h;
}

/* Set up: at most max admitted, per_origin each (max_host_connections). */
void
http_admit_init(struct http_admit *a, unsigned max, unsigned per_origin)
{
	memset(a, 0, sizeof *a);
	a->nbuckets = 64;
	a->buckets = xcalloc(a->nbuckets, sizeof *a->buckets);
	TAILQ_INIT(&a->ready);
	a->max = max;
	a->per_origin = per_origin;
}

/* Free what is left (no transfer may wait or be admitted). */
void
http_admit_free(struct http_admit *a)
{
	struct http_origin	*o, *next;
	size_t			 i;

	for (i = 0; i < a->nbuckets; i++) {
		for (o = a->buckets[i]; o != NULL; o = next) {
			next = o->next;
			free(o->key);
			free(o);
		}
	}
	free(a->buckets);
	a->buckets = NULL;
}

/* Double the buckets once origins outnumber them two to one. */
static void
http_admit_grow(struct http_admit *a)
{
	struct http_origin	**b, *o, *next;
	size_t			  i, n = a->nbuckets * 2, h;

	b = xcalloc(n, sizeof *b);
	for (i = 0; i < a->nbuckets; i++) {
		for (o = a->buckets[i]; o != NULL; o = next) {
			next = o->next;
			h = http_admit_hash(o->key) % n;
			o->next = b[h];
			b[h] = o;
		}
	}
	free(a->buckets);
	a->buckets = b;
	a->nbuckets = n;
}

/* The origin of key, made if it does not exist. */
static struct http_origin *
http_admit_origin(struct http_admit *a, const char *key)
{
	struct http_origin	*o;
	size_t			 h = http_admit_hash(key) % a->nbuckets;

	for (o = a->buckets[h]; o != NULL; o = o->next) {
		if (strcmp(o->key, key) == 0)
			break;
	}
	if (o == NULL) {
		if (a->norigins >= 2 * a->nbuckets) {
			http_admit_grow(a);
			h = http_admit_hash(key) % a->nbuckets;
		}
		o = xcalloc(1, sizeof *o);
		o->key = xstrdup(key);
		o->max = a->per_origin;
		TAILQ_INIT(&o->waiting);
		o->next = a->buckets[h];
		a->buckets[h] = o;
		a->norigins++;
	}
	return o;
}

/* Free an origin with nothing waiting and nothing admitted. */
static void
http_admit_drop(struct http_admit *a, struct http_origin *o)
{
	struct http_origin	**p;

	if (o->admitted > 0 || !TAILQ_EMPTY(&o->waiting))
		return;
	if (o->ready)
		TAILQ_REMOVE(&a->ready, o, entry);
	for (p = &a->buckets[http_admit_hash(o->key) % a->nbuckets]; *p != o;
	    p = &(*p)->next)
		/* nothing */;
	*p = o->next;
	a->norigins--;
	free(o->key);
	free(o);
}

/* Put o on the ready list, or take it off, as it has room and waiters. */
static void
http_admit_mark(struct http_admit *a, struct http_origin *o)
{
	int	ready = o->admitted < o->max && !TAILQ_EMPTY(&o->waiting);

	if (ready && !o->ready)
		TAILQ_INSERT_TAIL(&a->ready, o, entry);
	else if (!ready && o->ready)
		TAILQ_REMOVE(&a->ready, o, entry);
	o->ready = ready;
}

/* Admit what there is room for, one transfer per ready origin in turn. */
static void
http_admit_run(struct http_admit *a)
{
	struct http_origin	*o;
	struct http_slot	*s;

	while (a->admitted < a->max && (o = TAILQ_FIRST(&a->ready)) != NULL) {
		s = TAILQ_FIRST(&o->waiting);
		TAILQ_REMOVE(&o->waiting, s, entry);
		a->waiting--;
		o->admitted++;
		a->admitted++;
		s->admitted = 1;
		/* Its turn taken: to the back of the list, if still ready. */
		TAILQ_REMOVE(&a->ready, o, entry);
		o->ready = 0;
		http_admit_mark(a, o);
		s->admit(s);
	}
}

/*
 * A transfer to origin key asks for a place: s->admit(s) is called now if
 * there is room, else once there is.
 */
void
http_admit_ask(struct http_admit *a, struct http_slot *s, const char *key)
{
	struct http_origin	*o = http_admit_origin(a, key);

	s->origin = o;
	s->admitted = 0;
	TAILQ_INSERT_TAIL(&o->waiting, s, entry);
	a->waiting++;
	http_admit_mark(a, o);
	http_admit_run(a);
}

/*
 * An admitted transfer came back over HTTP/2: its origin multiplexes, and
 * takes as many transfers as its connections carry.
 */
void
http_admit_multiplexed(struct http_admit *a, struct http_slot *s)
{
	struct http_origin	*o = s->origin;

	if (o == NULL || o->max == a->per_origin * HTTP_STREAMS)
		return;
	o->max = a->per_origin * HTTP_STREAMS;
	http_admit_mark(a, o);
	http_admit_run(a);
}

/*
 * A transfer leaves: its place goes to another (admission runs), or it
 * stops waiting. Nothing if it has no place.
 */
void
http_admit_leave(struct http_admit *a, struct http_slot *s)
{
	struct http_origin	*o = s->origin;

	if (o == NULL)
		return;
	s->origin = NULL;
	if (s->admitted) {
		s->admitted = 0;
		o->admitted--;
		a->admitted--;
	} else {
		TAILQ_REMOVE(&o->waiting, s, entry);
		a->waiting--;
	}
	http_admit_mark(a, o);
	http_admit_drop(a, o);
	http_admit_run(a);
}
