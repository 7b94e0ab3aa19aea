/*
 * A job: one asynchronous coroutine of a batch, written as an explicit
 * state machine. WAITING (held back by the batch's concurrency), RUNNING
 * (suspended on a timer, a worker or a socket; the loop's callbacks move it
 * on), RETRYING (a try failed with a transient code and the next waits on
 * a timer: it holds no worker and no connection, only its concurrency
 * slot), DONE (its result is kept until the batch replies).
 *
 * A job type is a table entry: a struct job_type in its own file under
 * jobs/, listed once in job_types[] (job.c). Each type's own struct begins
 * with a struct job, and type->size says how big it is, so a job is one
 * allocation. Only the loop thread touches jobs once they are built
 * (a big request's are built on the parse thread, see parse below).
 *
 * A type with settings brings its own configuration section, which
 * config.c reads, prints and frees from the section's table of keys. A
 * type that owns shared state (a pool of connections, a multi handle) or
 * state per configuration (the read roots) keeps it through hooks per
 * configuration snapshot, which snapshot.c, server.c and status.c call for
 * every type in the table, naming none: check, load and unload as a
 * snapshot is made and freed, attach and detach as it comes into force
 * and goes, the descriptors the type may hold, and its part of the status
 * op's object.
 */
#ifndef GATHERD_JOB_H
#define GATHERD_JOB_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "error.h"
#include "timerq.h"

struct batch;
struct config;
struct config_section;
struct event;
struct event_base;
struct job;

enum job_state {
	JOB_WAITING,
	JOB_RUNNING,
	JOB_RETRYING,
	JOB_DONE,
};

enum job_outcome {
	JOB_OK,
	JOB_FAILED,
	JOB_CANCELLED,
	JOB_TIMED_OUT,
};

struct job_type {
	const char	 *name;
	size_t		  size;		/* of the type's struct, >= sizeof(struct job) */
	const char *const *keys;	/* fields besides type and timeout_ms; NULL-ended */

	/*
	 * Validate the job's JSON object and fill the job. path names the job
	 * in messages ("jobs[3]"). Returns ERR_NONE, or an error code with
	 * *cause set to a message naming the field. Must not keep references
	 * into obj: the request tree is freed after parsing. A big request
	 * is parsed on the parse thread (parser.c), so parse, and free for a
	 * job of a refused request, touch only the job, obj and the
	 * configuration (read only); an integer field is read through
	 * jnum_integer(), which knows integers beyond 64 bits.
	 */
	enum err_code	(*parse)(struct job *, json_t *obj, const char *path,
			    const struct config *, char **cause);
	/*
	 * Start running: arm a timer, hand work to a worker, send a query.
	 * Called again for each try of a retried job (job_retry_left says
	 * whether one may follow): what parse built must still be there, so
	 * a type hands a worker copies of it, or moves it only when no try
	 * can follow.
	 */
	void		(*start)(struct job *);
	/* Stop a running job at once (timers removed, work abandoned). */
	void		(*cancel)(struct job *);
	/*
	 * A job that owns others (a group): stop it, waiting or running,
	 * so that everything unfinished inside it ends with code and why,
	 * and finish the job before returning. Called instead of cancel
	 * when set; NULL for every other type.
	 */
	void		(*stop)(struct job *, enum err_code, const char *why);
	/*
	 * A job that owns others: the nested batch whose results are its
	 * value (proto.c writes them, for a failed job too). NULL: the
	 * value is the job's text.
	 */
	struct batch	*(*nested)(const struct job *);
	/*
	 * When a try just started ends by itself (clock_ns()), if the type
	 * knows it for sure (a sleep: its timer), or 0. A try that ends
	 * before its deadline is given no deadline timer. May be NULL.
	 */
	uint64_t	(*ends)(const struct job *);
	/* Free what the type owns (not the job itself). May be NULL. */
	void		(*free)(struct job *);
	/* At start-up, on the loop: set up the type's own state. May be NULL. */
	void		(*init)(struct event_base *);
	/*
	 * At exit, after every job and the last snapshot: free the type's
	 * own state. May be NULL.
	 */
	void		(*fini)(void);

	/* Its own section of the configuration file ([NAME]), or NULL. */
	const struct config_section *section;

	/*
	 * Per configuration snapshot; each may be NULL. check: a snapshot
	 * is to be made of a configuration, on any thread: 0, or -1 with
	 * *cause saying what config.c could not see is wrong; nothing else.
	 * load: once every type's check passed, on any thread, and may block
	 * (open files): what the type keeps for the snapshot, which
	 * snapshot_state() gives back. unload: the snapshot is freed, with
	 * what load returned if not NULL. attach: on the loop, the snapshot
	 * comes into force; detach: its last reference has gone (no job of
	 * it is left), before unload.
	 */
	int		(*check)(const struct config *, char **cause);
	void		*(*load)(const struct config *);
	void		(*unload)(void *state);
	void		(*attach)(const struct config *);
	void		(*detach)(const struct config *);
	/* The descriptors the type may hold open under a configuration. */
	uint64_t	(*fds)(const struct config *);
	/*
	 * gatherd --check-config only, after check: look at the files and
	 * directories the settings name, without changing anything. 0, or
	 * -1 with *cause as config_key_message() writes it. May be NULL.
	 */
	int		(*check_files)(const struct config *, char **cause);
	/* Add the type's own part (its own key) to the status object. */
	void		(*status)(const struct config *, json_t *);
};

/*
 * The members every job type fills the same way, from its prefix p (the
 * type's name): struct p_job and p_keys, p_parse, p_start, p_cancel and
 * p_free. Its entry names the rest itself.
 */
#define JOB_TYPE_COMMON(p)						\
	.name = #p, .size = sizeof(struct p##_job), .keys = p##_keys,	\
	.parse = p##_parse, .start = p##_start, .cancel = p##_cancel

/*
 * The members a type that owns state its jobs share (a pool of database
 * connections, a multi handle) fills the same way: p_init and p_fini for
 * the loop's life, p_check, p_attach, p_detach, p_fds and p_status for
 * each configuration snapshot.
 */
#define JOB_TYPE_SHARED(p)						\
	.init = p##_init, .fini = p##_fini, .check = p##_check,		\
	.attach = p##_attach, .detach = p##_detach, .fds = p##_fds,	\
	.status = p##_status

struct job {
	const struct job_type	*type;
	struct batch		*batch;
	char			*text;		/* owned: value JSON if ok, else message */
	uint64_t		 start_ns;
	double			 timeout_ms;	/* < 0: none */
	float			 ms;		/* own running time */
	uint32_t		 text_len;	/* strlen(text), or JOB_LEN_UNKNOWN */
	uint32_t		 index;
	struct timerq_node	 deadline;	/* queued while a try runs */
	/*
	 * A place in a timer queue of the type's own (a sleep's), where
	 * the struct has room to spare: a separate one would make a sleep
	 * one malloc size class bigger.
	 */
	struct timerq_node	 timer;
	uint8_t			 state;		/* enum job_state */
	uint8_t			 outcome;	/* enum job_outcome */
	uint8_t			 code;		/* enum err_code when not ok */
	uint8_t			 flags;		/* JOB_* below */
};

#define JOB_CAPPED	0x01	/* its deadline is max_job_ms */
#define JOB_EXTRA	0x02	/* a struct job_extra comes before it */
#define JOB_DEADLINE	0x04	/* this try reached its own deadline */

#define JOB_LEN_UNKNOWN	UINT32_MAX

/*
 * What only some jobs have: a name, a retry policy and its state. It is
 * kept in front of the job, in the same allocation (job_new_extra), and
 * JOB_EXTRA says it is there, so a job without them (a million sleeps)
 * pays nothing for them. Only job.c and retry.c touch it.
 */
struct job_extra {
	_Alignas(16) char	*name;		/* owned: as JSON text, or NULL */
	uint64_t		 first_ns;	/* when the first try started */
	float			 backoff_ms;	/* the wait after the first try */
	float			 hint_ms;	/* this try's retry-after; < 0 none */
	struct timerq_node	 wait;		/* queued between tries */
	uint8_t			 tries;		/* tries allowed; 0: no retry */
	uint8_t			 attempts;	/* tries made */
	uint8_t			 transient;	/* this try's ok result is retried */
};
extern const struct job_type *const job_types[];

const struct job_type *job_type_find(const char *);
size_t		 job_type_index(const struct job_type *);
const void	*job_owner(const struct job *);
void		 job_init(struct event_base *);
void		 job_fini(void);
void		 job_types_init(struct event_base *);
void		 job_types_fini(void);
int		 job_types_check(const struct config *, char **);
int		 job_types_check_files(const struct config *, char **);
void		**job_types_load(const struct config *);
void		 job_types_unload(void **);
void		 job_types_attach(const struct config *);
void		 job_types_detach(const struct config *);
uint64_t	 job_types_fds(const struct config *);
void		 job_types_status(const struct config *, json_t *);
struct job	*job_new(const struct job_type *, uint32_t, double);
struct job	*job_new_extra(const struct job_type *, uint32_t, double);
struct job_extra *job_extra(const struct job *);
const char	*job_name(const struct job *);
int		 job_attempts(const struct job *);
int		 job_retry_left(const struct job *);
void		 job_set_retry(struct job *, unsigned, double);

/*
 * For a type whose success may still be worth another try (http: a
 * response with status 429 or 5xx): call it before job_finish_ok* for
 * such a result. Under the job's retry, with tries left, that try is then
 * made again, after the backoff or after retry_after_ms (a Retry-After,
 * honoured up to 30 s) if that is longer; otherwise, or at the last try,
 * the result is the success it is. retry_after_ms < 0: no hint. A failed
 * try needs nothing of the sort: its code says whether it is transient
 * (retry.c), and a hint given before job_finish_error* is used too.
 */
void		 job_try_transient(struct job *, double);
enum err_code	 job_parse(json_t *, struct batch *, uint32_t,
		    const struct config *, struct job **, char **);
void		 job_start(struct job *, uint64_t);
void		 job_retry(struct job *, uint64_t);
void		 job_cancel(struct job *, enum err_code, const char *);
void		 job_free(struct job *);
void		 job_finish_ok(struct job *, char *);
void		 job_finish_ok_len(struct job *, char *, size_t);
void		 job_finish_error(struct job *, enum err_code, char *);
void		 job_finish_result(struct job *, enum err_code, char *, size_t);
void		 job_finish_errorf(struct job *, enum err_code, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

/* Helpers for a type's parse function. */
json_t		*job_require(json_t *, const char *, const char *, char **);
enum err_code	 job_get_ms(json_t *, const char *, const char *, int,
		    double *, char **);
enum err_code	 job_get_int(json_t *, const char *, const char *, int64_t,
		    int64_t *, char **);

#endif
