/*
 * evqueue.c - the hand-over between ZooKeeper's completion thread and the
 * daemon's main loop (contract: evqueue.h): a mutex-protected FIFO of events plus an eventfd that
 * makes poll() return while events wait. Callbacks only allocate, copy and
 * push here; they never block on anything but this short lock, never touch
 * LMDB and never close the handle. If memory runs out inside a callback the
 * event is counted as lost and the main loop answers with a full resync.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "evqueue.h"

int evq_init(struct zkd_evq *q)
{
	memset(q, 0, sizeof *q);
	q->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->efd < 0)
		return -errno;
	int rc = pthread_mutex_init(&q->lock, NULL);
	if (rc) {
		close(q->efd);
		q->efd = -1;
		return -rc;
	}
	return 0;
}

void evq_destroy(struct zkd_evq *q)
{
	struct zkd_event *e = evq_take_all(q);
	while (e) {
		struct zkd_event *next = e->next;
		zkd_ev_free(e);
		e = next;
	}
	pthread_mutex_destroy(&q->lock);
	if (q->efd >= 0)
		close(q->efd);
	q->efd = -1;
}

void evq_push(struct zkd_evq *q, struct zkd_event *e)
{
	uint64_t one = 1;
	bool wake;

	pthread_mutex_lock(&q->lock);
	if (!e) {
		q->lost++;
		wake = true;
	} else {
		e->next = NULL;
		wake = q->head == NULL;
		if (q->tail)
			q->tail->next = e;
		else
			q->head = e;
		q->tail = e;
	}
	pthread_mutex_unlock(&q->lock);
	if (wake) {
		ssize_t w = write(q->efd, &one, sizeof one);
		(void)w;	/* EAGAIN: counter full, poll wakes anyway */
	}
}

struct zkd_event *evq_take_all(struct zkd_evq *q)
{
	uint64_t v;
	ssize_t r = read(q->efd, &v, sizeof v);
	(void)r;	/* EAGAIN when nothing was signalled */
	pthread_mutex_lock(&q->lock);
	struct zkd_event *e = q->head;
	q->head = q->tail = NULL;
	pthread_mutex_unlock(&q->lock);
	return e;
}

int evq_take_lost(struct zkd_evq *q)
{
	pthread_mutex_lock(&q->lock);
	int n = q->lost;
	q->lost = 0;
	pthread_mutex_unlock(&q->lock);
	return n;
}

struct zkd_event *zkd_ev_new(enum zkd_ev_kind kind, enum zkd_ev_tag tag,
			     uint64_t gen, const char *path)
{
	struct zkd_event *e = calloc(1, sizeof *e);
	if (!e)
		return NULL;
	e->kind = kind;
	e->tag = tag;
	e->gen = gen;
	if (path) {
		e->path = strdup(path);
		if (!e->path) {
			free(e);
			return NULL;
		}
	}
	return e;
}

void zkd_ev_free(struct zkd_event *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->nnames; i++)
		free(e->names[i]);
	free(e->names);
	free(e->data);
	free(e->path);
	free(e);
}
