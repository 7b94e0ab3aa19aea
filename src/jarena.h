/*
 * An arena for the JSON tree of a big request. jansson allocates every
 * node, key and string of a tree separately: a million-job batch is some
 * seven million malloc()s and as many free()s, and the freed tree stays
 * resident under the jobs allocated after it. While an arena is on, the
 * calling thread's jansson allocations come from a few large blocks
 * instead, and jarena_end() drops the whole tree at once.
 *
 * jarena_reset() drops the values but keeps the memory, for the next
 * small tree of a run of them (the jobs of a big batch, one at a time).
 *
 * jarena_malloc and jarena_free are jansson's allocator (xmalloc.c
 * installs them): without an arena they are xmalloc and free.
 */
#ifndef GATHERD_JARENA_H
#define GATHERD_JARENA_H

#include <stddef.h>

void	*jarena_malloc(size_t);
void	 jarena_free(void *);
void	 jarena_begin(void);
void	 jarena_pause(void);
void	 jarena_resume(void);
void	 jarena_reset(void);
void	 jarena_end(void);

#endif
