/*
 * ensure.c - the daemon's persistent layout nodes (<root>, hosts, boot,
 * the index directory) made to exist at the cost of a read when they
 * already do (ensure.h says why: a failed create is a quorum write). A
 * session asks exists(path) first and creates the whole chain only when
 * the node is missing; the rare fresh tree pays what it paid before, the
 * usual start of a session pays one read per node instead of one write
 * per component.
 */
#include <string.h>

#include "ensure.h"
#include "mirror.h"

void ensure_node(struct zkio *io, const char *path, enum zkd_ev_tag stat_tag)
{
	zkio_stat(io, path, false, stat_tag);
}

void ensure_create_chain(struct zkio *io, const char *path,
			 enum zkd_ev_tag create_tag)
{
	char p[ZKD_PATH_CAP];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof p)
		return;
	for (size_t i = 1; i <= n; i++)
		if (i == n || path[i] == '/') {
			memcpy(p, path, i);
			p[i] = '\0';
			zkio_create(io, p, "", ZKIO_PERSISTENT, create_tag);
		}
}

bool ensure_on_stat(struct zkio *io, const struct zkd_event *e,
		    enum zkd_ev_tag create_tag)
{
	if (e->rc != ZNONODE || !e->path)
		return false;
	ensure_create_chain(io, e->path, create_tag);
	return true;
}
