/*
 * JSON arenas. Blocks are mapped from the kernel, 1 MiB doubling up to
 * 64 MiB, and bump-allocated with 16-byte alignment; jarena_end() unmaps
 * them, so the memory goes back at once. A free() of memory from a block
 * of the current arena is a no-op: jansson frees its scratch buffers and
 * replaced hash tables as it parses.
 *
 * The arena is per thread: big requests are parsed on the parse thread
 * (parser.c), while the loop, the workers and the tests allocate through
 * the same hooks, which jansson makes process-wide. So jarena_malloc
 * serves the calling thread's arena only while that thread has one on,
 * and jarena_free treats as arena memory only what lies in the calling
 * thread's blocks. That is right because no value made in an arena
 * reaches another thread: nothing that came out of it may be used after
 * jarena_end(), and callers copy what they keep (json_deep_copy, after
 * jarena_pause()) before handing it on.
 */

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "jarena.h"
#include "log.h"
#include "xmalloc.h"

#define JARENA_FIRST	((size_t)1 << 20)
#define JARENA_MAX	((size_t)64 << 20)
#define JARENA_ALIGN	16
/* The block's header, rounded up to the alignment. */
#define JARENA_HEADER	((sizeof(struct jarena_block) + JARENA_ALIGN - 1) & \
			    ~(size_t)(JARENA_ALIGN - 1))

struct jarena_block {
	struct jarena_block	*next;
	size_t			 size;		/* of the mapping */
	size_t			 used;		/* header included */
};

struct jarena {
	struct jarena_block	*blocks;	/* newest first */
	int			 on;		/* allocate from it */
};

static _Thread_local struct jarena	jarena;

/* A new block with room for size bytes, in front of the list. */
static struct jarena_block *
jarena_grow(size_t size)
{
	struct jarena_block	*b;
	size_t			 want;

	want = jarena.blocks == NULL ? JARENA_FIRST : jarena.blocks->size * 2;
	if (want > JARENA_MAX)
		want = JARENA_MAX;
	if (size > SIZE_MAX / 2 - JARENA_ALIGN)
		fatalx("%s: %zu bytes", __func__, size);
	while (want < size + JARENA_HEADER)
		want *= 2;
	b = mmap(NULL, want, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED)
		fatal("%s: mmap %zu bytes", __func__, want);
	b->next = jarena.blocks;
	b->size = want;
	b->used = JARENA_HEADER;
	jarena.blocks = b;
	return b;
}

/* jansson's malloc: from the arena when it is on, else xmalloc. */
void *
jarena_malloc(size_t size)
{
	struct jarena_block	*b = jarena.blocks;
	void			*p;

	if (!jarena.on)
		return xmalloc(size);
	size = (size + JARENA_ALIGN - 1) & ~(size_t)(JARENA_ALIGN - 1);
	if (b == NULL || b->size - b->used < size)
		b = jarena_grow(size);
	p = (char *)b + b->used;
	b->used += size;
	return p;
}

/* Is p in a block of this thread's arena? */
static int
jarena_owns(const void *p)
{
	const struct jarena_block	*b;

	for (b = jarena.blocks; b != NULL; b = b->next) {
		if ((const char *)p >= (const char *)b &&
		    (const char *)p < (const char *)b + b->size)
			return 1;
	}
	return 0;
}

/* jansson's free: nothing for arena memory (it goes all at once). */
void
jarena_free(void *p)
{
	if (p != NULL && !jarena_owns(p))
		free(p);
}

/* Allocate jansson's values on this thread from a fresh arena. */
void
jarena_begin(void)
{
	if (jarena.blocks != NULL)
		fatalx("%s: an arena is already in use", __func__);
	jarena.on = 1;
}

/* Back to xmalloc for new values; the arena's stay valid until the end. */
void
jarena_pause(void)
{
	jarena.on = 0;
}

/* Allocate from the arena again, after jarena_pause(). */
void
jarena_resume(void)
{
	jarena.on = 1;
}

/*
 * Drop every value allocated in the arena but keep its newest block for
 * the next ones: a request's jobs parsed one after another each reuse
 * the same memory, already mapped and in the cache.
 */
void
jarena_reset(void)
{
	struct jarena_block	*b, *keep = jarena.blocks;

	if (keep == NULL)
		return;
	while ((b = keep->next) != NULL) {
		keep->next = b->next;
		munmap(b, b->size);
	}
	keep->used = JARENA_HEADER;
}

/* Drop every value allocated in the arena. */
void
jarena_end(void)
{
	struct jarena_block	*b;

	jarena.on = 0;
	while ((b = jarena.blocks) != NULL) {
		jarena.blocks = b->next;
		munmap(b, b->size);
	}
}
