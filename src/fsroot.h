/*
 * Opening a file strictly beneath a read root, confined by the kernel: with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) where the kernel has it,
 * otherwise with a component-by-component walk that gives the same answers.
 * Meant for worker threads: the calls block on disk, never on a FIFO, and
 * are thread-safe.
 */
#ifndef GATHERD_FSROOT_H
#define GATHERD_FSROOT_H

/* How a path is opened beneath a root. */
enum fsroot_mode {
	FSROOT_AUTO,
	FSROOT_OPENAT2,
	FSROOT_WALK,
};

/*
 * Open rel (a relative path, may contain "..", ".", repeated slashes, symlinks)
 * beneath the directory rootfd (opened O_PATH|O_DIRECTORY) for reading, with
 * O_RDONLY|O_NONBLOCK|O_CLOEXEC|O_NOCTTY. Returns the fd, or -1 with errno:
 * EXDEV when resolution would leave the root (".." above it, a symlink with an
 * absolute target, a symlink whose target leaves the root, directly or through
 * a chain), ELOOP for too many symlinks, ENOENT, ENOTDIR, EACCES... as the
 * kernel says. An empty rel or "." opens the root itself.
 */
int	fsroot_openat(int, const char *, enum fsroot_mode);

/* Whether openat2(RESOLVE_BENEATH) works on this kernel (checked once). */
int	fsroot_have_openat2(void);

#endif
