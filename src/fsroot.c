/*
 * Opening beneath a root. With openat2 the kernel does all of it. Without
 * it (kernels before 5.6, or a seccomp filter that refuses the call) the
 * walk below resolves the path one component at a time and never lets the
 * kernel follow a symbolic link on its own:
 *
 * - The directories walked through are a stack of O_PATH fds whose bottom
 *   is rootfd itself (borrowed, never closed). ".." pops one; popping the
 *   bottom is EXDEV. Since every fd on the stack was reached by looking up
 *   a plain name in the fd below it, ".." can never climb out.
 * - What is left to resolve is a stack of strings: the request path at the
 *   bottom, then the body of each symbolic link being followed, whose
 *   components come before the rest of the string below it.
 * - A component that is not the last is opened O_PATH|O_NOFOLLOW|O_DIRECTORY;
 *   ENOTDIR there means a non-directory or a symbolic link, which
 *   readlinkat tells apart. The last one is opened for reading with
 *   O_NOFOLLOW, so a symbolic link swapped in after any check only makes the
 *   open fail with ELOOP, after which the link is read and followed by hand.
 * - Link bodies are never handed to the kernel as paths: an absolute one is
 *   EXDEV, a relative one is walked like the rest, at most 40 links in all
 *   (the kernel's MAXSYMLINKS), then ELOOP.
 *
 * The walk gives the kernel's answers, permission errors included (".." and
 * a final "." are looked up for real so that a directory without search
 * permission refuses them, as it does in the kernel), except where noted:
 * it does not emulate fs.protected_symlinks (links in sticky world-writable
 * directories) or the nosymfollow mount option, and it refuses procfs magic
 * links (reachable only when a root contains a procfs mount) with EXDEV or
 * ENOENT where openat2 says ELOOP. Each directory on the way holds an fd
 * until the call returns, so a path thousands of directories deep can fail
 * with EMFILE where the kernel would not.
 */

#include <sys/stat.h>
#include <sys/syscall.h>

#include <linux/openat2.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsroot.h"
#include "xmalloc.h"

#define FSROOT_FLAGS		(O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
#define FSROOT_RESOLVE		(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)
#define FSROOT_MAXSYMLINKS	40	/* the kernel's MAXSYMLINKS */
#define FSROOT_EAGAIN_TRIES	16	/* openat2 may ask to retry a ".." */

/* One string of components still to resolve: the request or a link body. */
struct fsroot_frame {
	char	*buf;		/* owned */
	char	*next;		/* the next component: not at a slash or NUL */
	int	 must_dir;	/* its last component had a trailing slash */
};

/* One walk. Everything in it is owned and released by fsroot_walk_free. */
struct fsroot_walk {
	int			*dirs;	/* dirs[0] is rootfd, borrowed */
	size_t			 ndirs;
	size_t			 dirsalloc;
	struct fsroot_frame	 frames[FSROOT_MAXSYMLINKS + 1];
	size_t			 nframes;
	char			*spent;	/* the buffer of the frame just used up */
	int			 links;	/* symbolic links followed so far */
};

/*
 * Set once by fsroot_init; fsroot_openat2_ok is also cleared for good if
 * openat2 later says ENOSYS (a seccomp filter installed after the check).
 */
static pthread_once_t	fsroot_once = PTHREAD_ONCE_INIT;
static atomic_int	fsroot_openat2_ok;
static int		fsroot_no_openat2;	/* GATHERD_NO_OPENAT2 */

static long
fsroot_sys_openat2(int dirfd, const char *path, int flags)
{
	struct open_how	how;

	memset(&how, 0, sizeof how);
	how.flags = (unsigned long long)flags;
	how.resolve = FSROOT_RESOLVE;
	return syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

static void
fsroot_init(void)
{
	const char	*s;
	long		 fd;
	int		 rootfd;

	s = getenv("GATHERD_NO_OPENAT2");
	fsroot_no_openat2 = (s != NULL && *s != '\0' && strcmp(s, "0") != 0);

	/* Any failure here (ENOSYS, EPERM from seccomp...) means the walk. */
	if ((rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1)
		return;
	fd = fsroot_sys_openat2(rootfd, ".", O_PATH | O_CLOEXEC);
	if (fd >= 0) {
		close((int)fd);
		atomic_store(&fsroot_openat2_ok, 1);
	}
	close(rootfd);
}

/* Whether openat2(RESOLVE_BENEATH) works on this kernel (checked once). */
int
fsroot_have_openat2(void)
{
	pthread_once(&fsroot_once, fsroot_init);
	return atomic_load(&fsroot_openat2_ok);
}

static int
fsroot_openat2(int rootfd, const char *rel)
{
	long	fd;
	int	tries;

	/* EAGAIN: a rename raced with "..", the kernel suggests a retry. */
	for (tries = 0; tries < FSROOT_EAGAIN_TRIES; tries++) {
		fd = fsroot_sys_openat2(rootfd, rel, FSROOT_FLAGS);
		if (fd >= 0)
			return (int)fd;
		if (errno != EAGAIN)
			break;
	}
	return -1;
}

static void
fsroot_walk_free(struct fsroot_walk *w)
{
	size_t	i;
	int	saved = errno;

	for (i = 1; i < w->ndirs; i++)
		close(w->dirs[i]);
	free(w->dirs);
	for (i = 0; i < w->nframes; i++)
		free(w->frames[i].buf);
	free(w->spent);
	errno = saved;
}

static int
fsroot_walk_top(struct fsroot_walk *w)
{
	return w->dirs[w->ndirs - 1];
}

static void
fsroot_walk_push_dir(struct fsroot_walk *w, int fd)
{
	if (w->ndirs == w->dirsalloc) {
		w->dirsalloc = w->dirsalloc == 0 ? 16 : w->dirsalloc * 2;
		w->dirs = xreallocarray(w->dirs, w->dirsalloc, sizeof *w->dirs);
	}
	w->dirs[w->ndirs++] = fd;
}

/* Push buf (owned, relative, not empty) as the next components to walk. */
static void
fsroot_walk_push_frame(struct fsroot_walk *w, char *buf, int must_dir)
{
	struct fsroot_frame	*f;

	/* At most the request and one frame per link followed. */
	if (w->nframes == sizeof w->frames / sizeof w->frames[0])
		abort();
	f = &w->frames[w->nframes++];
	f->buf = buf;
	f->next = buf;
	f->must_dir = must_dir;
}

/*
 * Take the next component, NUL-terminated in place. A frame used up is
 * popped at once (its buffer lives until the next call), so the component
 * is the last of the whole path exactly when no frame is left.
 */
static char *
fsroot_walk_take(struct fsroot_walk *w, int *must_dir)
{
	struct fsroot_frame	*f = &w->frames[w->nframes - 1];
	char			*comp = f->next, *end;
	int			 slash;

	end = comp + strcspn(comp, "/");
	slash = (*end == '/');
	if (slash) {
		*end++ = '\0';
		while (*end == '/')
			end++;
	}
	f->next = end;
	*must_dir = slash || f->must_dir;
	if (*end == '\0') {
		free(w->spent);
		w->spent = f->buf;
		w->nframes--;
	}
	return comp;
}

/*
 * Follow the symbolic link comp in the top directory, after an open said
 * ENOTDIR or ELOOP (why). A link may be swapped for something else at any
 * time: then comp is looked at again, counting as a link so that this ends.
 */
static int
fsroot_walk_link(struct fsroot_walk *w, const char *comp, int must_dir,
    int why)
{
	struct stat	 st;
	char		*buf;
	ssize_t		 n;

	buf = xmalloc(PATH_MAX);
	n = readlinkat(fsroot_walk_top(w), comp, buf, PATH_MAX);
	if (n == -1) {
		if (errno != EINVAL && errno != ENOENT)
			goto fail;
		/* Not a link: ENOTDIR stands unless it is now a directory. */
		if (why == ENOTDIR && errno == EINVAL &&
		    fstatat(fsroot_walk_top(w), comp, &st,
		    AT_SYMLINK_NOFOLLOW) == 0 &&
		    !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode)) {
			errno = ENOTDIR;
			goto fail;
		}
		n = (ssize_t)strlen(comp);
		memcpy(buf, comp, (size_t)n);
	}
	if (w->links++ >= FSROOT_MAXSYMLINKS) {
		errno = ELOOP;
		goto fail;
	}
	if (n >= PATH_MAX) {
		errno = ENAMETOOLONG;
		goto fail;
	}
	if (n == 0) {
		errno = ENOENT;
		goto fail;
	}
	if (buf[0] == '/') {
		errno = EXDEV;
		goto fail;
	}
	buf[n] = '\0';
	fsroot_walk_push_frame(w, buf, must_dir);
	return 0;

fail:
	free(buf);
	return -1;
}

/* Step into comp, a component that is not the last. */
static int
fsroot_walk_down(struct fsroot_walk *w, const char *comp)
{
	int	fd;

	fd = openat(fsroot_walk_top(w), comp,
	    O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
	if (fd != -1) {
		fsroot_walk_push_dir(w, fd);
		return 0;
	}
	if (errno != ENOTDIR)
		return -1;
	return fsroot_walk_link(w, comp, 0, ENOTDIR);
}

/* Step back up for "..", never above the root. */
static int
fsroot_walk_up(struct fsroot_walk *w)
{
	int	fd;

	/*
	 * The kernel needs search permission on a directory to look ".." up
	 * in it, and checks that before the root: so does this.
	 */
	fd = openat(fsroot_walk_top(w), ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	close(fd);
	if (w->ndirs == 1) {
		errno = EXDEV;
		return -1;
	}
	close(w->dirs[--w->ndirs]);
	return 0;
}

static int
fsroot_walk(int rootfd, const char *rel)
{
	struct fsroot_walk	 w;
	char			*comp;
	int			 fd, must_dir, flags;

	if (strlen(rel) >= PATH_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (*rel == '/') {
		errno = EXDEV;
		return -1;
	}

	memset(&w, 0, sizeof w);
	fsroot_walk_push_dir(&w, rootfd);
	fsroot_walk_push_frame(&w, xstrdup(rel), 0);

	while (w.nframes > 0) {
		comp = fsroot_walk_take(&w, &must_dir);
		if (strcmp(comp, ".") == 0)
			continue;
		if (strcmp(comp, "..") == 0) {
			if (fsroot_walk_up(&w) == -1)
				goto fail;
			continue;
		}
		if (w.nframes > 0) {
			if (fsroot_walk_down(&w, comp) == -1)
				goto fail;
			continue;
		}

		/* The last component: open it without following a link. */
		flags = FSROOT_FLAGS | O_NOFOLLOW | (must_dir ? O_DIRECTORY : 0);
		if ((fd = openat(fsroot_walk_top(&w), comp, flags)) != -1)
			goto done;
		if (errno != ELOOP && !(errno == ENOTDIR && must_dir))
			goto fail;
		if (fsroot_walk_link(&w, comp, must_dir, errno) == -1)
			goto fail;
	}

	/* The path ended with a directory: ".", ".." or nothing at all. */
	if ((fd = openat(fsroot_walk_top(&w), ".", FSROOT_FLAGS)) == -1)
		goto fail;
done:
	fsroot_walk_free(&w);
	return fd;

fail:
	fsroot_walk_free(&w);
	return -1;
}

/*
 * Open rel beneath the directory rootfd for reading, confined by the kernel:
 * see fsroot.h for the errors.
 */
int
fsroot_openat(int rootfd, const char *rel, enum fsroot_mode mode)
{
	int	fd;

	if (rel == NULL) {
		errno = EFAULT;
		return -1;
	}
	if (*rel == '\0')
		rel = ".";
	pthread_once(&fsroot_once, fsroot_init);

	switch (mode) {
	case FSROOT_OPENAT2:
		return fsroot_openat2(rootfd, rel);
	case FSROOT_WALK:
		return fsroot_walk(rootfd, rel);
	case FSROOT_AUTO:
		break;
	default:
		errno = EINVAL;
		return -1;
	}
	if (!fsroot_no_openat2 && atomic_load(&fsroot_openat2_ok)) {
		if ((fd = fsroot_openat2(rootfd, rel)) != -1 || errno != ENOSYS)
			return fd;
		atomic_store(&fsroot_openat2_ok, 0);
	}
	return fsroot_walk(rootfd, rel);
}
