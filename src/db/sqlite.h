/*
 * SQLite on the worker pool (db/sqlite.c): the driver's settings, its keys
 * under [db.NAME] (driver = sqlite).
 */
#ifndef GATHERD_DB_SQLITE_H
#define GATHERD_DB_SQLITE_H

struct sqlite_settings {
	char		*path;		/* owned: the database file */
	int		 writable;	/* else opened read-only */
	unsigned	 busy_timeout_ms; /* how long a lock is waited for */
};

extern const struct db_driver db_driver_sqlite;

#endif
