/*
 * Allocation wrappers: failure is fatal, never a NULL to check.
 *
 * jansson and libevent allocate through xmalloc too (xmalloc_install, run
 * before main), so their constructors and appenders (json_object,
 * json_pack, evbuffer_new, evbuffer_add...) never fail for want of memory
 * either: no reply is silently cut short and no NULL tree is sent. What
 * else they return NULL or -1 for is a bad argument, a bug.
 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>

#include "jarena.h"
#include "xmalloc.h"

static void	xmalloc_install(void) __attribute__((constructor));

static void __attribute__((noreturn))
xmalloc_fail(const char *what, size_t size)
{
	fprintf(stderr, "gatherd: out of memory: %s of %zu bytes\n", what, size);
	abort();
}

/* Allocate size bytes (at least one). */
void *
xmalloc(size_t size)
{
	void	*p;

	if ((p = malloc(size == 0 ? 1 : size)) == NULL)
		xmalloc_fail("malloc", size);
	return p;
}

/* Allocate a zeroed array of n elements of size bytes. */
void *
xcalloc(size_t n, size_t size)
{
	void	*p;

	if (n == 0 || size == 0)
		n = size = 1;
	if ((p = calloc(n, size)) == NULL)
		xmalloc_fail("calloc", n * size);
	return p;
}

/* Resize p to size bytes. */
void *
xrealloc(void *p, size_t size)
{
	return xreallocarray(p, 1, size);
}

/* Resize p to n elements of size bytes, refusing an overflowing product. */
void *
xreallocarray(void *p, size_t n, size_t size)
{
	void	*q;

	if (size != 0 && n > SIZE_MAX / size)
		xmalloc_fail("reallocarray overflow", SIZE_MAX);
	if (n * size == 0)
		n = size = 1;
	if ((q = realloc(p, n * size)) == NULL)
		xmalloc_fail("realloc", n * size);
	return q;
}

/* Copy a string. */
char *
xstrdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		xmalloc_fail("strdup", strlen(s));
	return p;
}

/* Copy at most n bytes of a string, always terminated. */
char *
xstrndup(const char *s, size_t n)
{
	char	*p;

	if ((p = strndup(s, n)) == NULL)
		xmalloc_fail("strndup", n);
	return p;
}

/* Format into a new string. */
char *
xvasprintf(const char *fmt, va_list ap)
{
	char	*s;

	if (vasprintf(&s, fmt, ap) == -1)
		xmalloc_fail("vasprintf", 0);
	return s;
}

/* Format into a new string. */
char *
xasprintf(const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	return s;
}

/*
 * Make jansson and libevent allocate through xmalloc. libevent requires
 * this before its first allocation, hence a constructor: every program
 * linked with this file (gatherd, gatherctl, the tests) gets it.
 */
static void
xmalloc_install(void)
{
	/* xmalloc and free, or an arena while a big request is parsed. */
	json_set_alloc_funcs(jarena_malloc, jarena_free);
	event_set_mem_functions(xmalloc, xrealloc, free);
}
