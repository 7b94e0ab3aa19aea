/*
 * gatherctl bench: a load generator for gatherd in the manner of
 * redis-benchmark, on one libevent loop so that the client is never the
 * bottleneck.
 */
#ifndef GATHERD_CTL_BENCH_H
#define GATHERD_CTL_BENCH_H

/*
 * Run "gatherctl bench" with its own options (argv[0] names the command)
 * against sock, unless -s overrides it; returns the exit status.
 */
int	bench_main(const char *sock, int argc, char **argv);

#endif
