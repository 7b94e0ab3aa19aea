/*
 * What a client's SQL may do to an SQLite database, stated once: the
 * connection settings, limits and authorizer every connection of
 * db/sqlite.c runs with (sqlite.org/security.html, "Defense Against the
 * Dark Arts"). A connection is shared by every job its worker runs, so
 * nothing a statement may do can outlive its job: no PRAGMA but a few that
 * only read, no ATTACH or DETACH, nothing created in temp, no tokenizer or
 * extension; a writable database may still change its own tables.
 */
#ifndef GATHERD_SQLITE_POLICY_H
#define GATHERD_SQLITE_POLICY_H

#include <stdint.h>

#include <sqlite3.h>

/* What the authorizer saw of the statement being prepared. */
#define SQLITE_POLICY_DML	0x1	/* INSERT, UPDATE or DELETE, top level */
#define SQLITE_POLICY_DDL	0x2	/* changes the schema */

/*
 * One connection's authorizer state. Only the worker that owns the
 * connection touches it.
 */
struct sqlite_policy {
	char		 deny[320];	/* why the last refusal; "" if none */
	unsigned	 seen;		/* SQLITE_POLICY_*, while preparing */
	int		 preparing;	/* collect seen */
	int		 internal;	/* gatherd's own statement: allow all */
};

int	sqlite_policy_apply(sqlite3 *, struct sqlite_policy *, char **);
void	sqlite_policy_length(sqlite3 *, uint64_t);
void	sqlite_policy_heap(unsigned, uint64_t);
uint64_t sqlite_policy_heap_limit(void);

#endif
