/*
 * gatherctl top: a live view of the daemon, refreshed every interval; a
 * screen on a terminal, plain or JSON lines elsewhere.
 */
#ifndef GATHERD_CTL_TOP_H
#define GATHERD_CTL_TOP_H

struct top_opts {
	int		 fd;		/* connected to gatherd; taken */
	const char	*sock;		/* its path, for the title */
	double		 interval;	/* seconds between views */
	long		 count;		/* views to show, 0 for no end */
	int		 json;		/* JSON lines instead of a screen */
};

int	top_main(const struct top_opts *);

#endif
