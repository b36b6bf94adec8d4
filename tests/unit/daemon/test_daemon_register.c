/*
 * test_daemon_register.c - this host's own ephemeral record, driven
 * through the whole daemon against the ZooKeeper model: registered under
 * our session and published; re-created after someone deletes it; a node
 * of another live session or a persistent one is refused (the
 * registration error, cleared once the name is ours); a node left by our
 * previous run (session-id file) is taken over in one multi without the
 * name ever missing; SIGTERM's shutdown makes it vanish at once; a new
 * session after expiry registers again.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "harness.h"

#define ME HOSTS "/me"

static int64_t owner(void)
{
	struct zkio_stat st;

	return fakezk_get(ME, &st) ? st.ephemeral_owner : 0;
}

static void registers_and_comes_back_after_a_delete(void **state)
{
	char path[256];
	struct stat sb;
	int creates;

	(void)state;
	fakezk_init();
	h_start_cfg("register = me 10.5.0.1\n", true);
	/* on an empty tree too, at once: hosts is made when the create
	 * finds it missing, and the create sent again without a backoff */
	h_settle();
	assert_int_equal(owner(), fakezk_client_session());
	h_publish();
	assert_int_equal(owner(), fakezk_client_session());
	assert_string_equal(fakezk_get(ME, NULL), "10.5.0.1");
	assert_string_equal(h_addr("me"), "10.5.0.1");
	assert_string_equal(h_status().errors[ZKH_ERR_REGISTRATION], "");
	/* the session is saved, 0600, for the next run */
	snprintf(path, sizeof path, "%s/%s", H_dir, ZKD_SESSION_FILE);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 077, 0);
	/* deleted by someone else: back at once */
	creates = fakezk_count(FZ_CREATE, ME);
	assert_int_equal(fakezk_delete(ME), ZOK);
	h_publish();
	assert_int_equal(owner(), fakezk_client_session());
	assert_int_equal(fakezk_count(FZ_CREATE, ME), creates + 1);
	h_stop();
}

static void conflict_is_refused_then_resolved(void **state)
{
	struct zkh_status st;
	int64_t other;

	(void)state;
	fakezk_init();
	fakezk_mkdirs(HOSTS);
	other = fakezk_session_open();
	assert_int_equal(fakezk_create(ME, "10.5.9.9", other), ZOK);
	h_start_cfg("register = me 10.5.0.1\n", true);
	h_publish();
	assert_int_equal(owner(), other);
	assert_int_equal(fakezk_count(FZ_MULTI | FZ_CREATE, ME), 0);
	st = h_status();
	assert_non_null(strstr(st.errors[ZKH_ERR_REGISTRATION], "held by another live session"));
	assert_string_equal(st.last_error, st.errors[ZKH_ERR_REGISTRATION]);
	assert_string_equal(h_addr("me"), "10.5.9.9");
	/* retries do not take it either */
	h_advance(3 * ZKD_REGISTER_RETRY_MS);
	assert_int_equal(owner(), other);
	/* its session ends: the name is free, ours at once (watch) */
	fakezk_session_close(other);
	h_publish();
	assert_int_equal(owner(), fakezk_client_session());
	assert_string_equal(h_addr("me"), "10.5.0.1");
	st = h_status();
	assert_string_equal(st.errors[ZKH_ERR_REGISTRATION], "");
	assert_string_equal(st.last_error, "");
	/* a persistent node is not replaced either */
	assert_int_equal(fakezk_delete(ME), ZOK);
	assert_int_equal(fakezk_create(ME, "10.5.8.8", 0), ZOK);
	h_publish();
	h_publish();
	assert_int_equal(owner(), 0);
	assert_non_null(strstr(h_status().errors[ZKH_ERR_REGISTRATION], "persistent"));
	h_stop();
}

/* kill -9 and restart: the node of our previous session (still alive in
 * ZooKeeper) is replaced in one multi; no publish lacks the name. */
static void takeover_of_our_previous_session(void **state)
{
	char dir[100], path[300], line[128];
	int64_t prev;
	int fd;

	(void)state;
	fakezk_init();
	fakezk_mkdirs(HOSTS);
	/* the killed run's session lives on, holding our node */
	prev = fakezk_session_open();
	assert_int_equal(fakezk_create(ME, "10.5.0.1", prev), ZOK);
	snprintf(dir, sizeof dir, "/tmp/zkd-unit-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/.master", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof path, "%s/%s", dir, ZKD_SESSION_FILE);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	snprintf(line, sizeof line, "0x%016llx 00\n", (unsigned long long)prev);
	assert_int_equal(write(fd, line, strlen(line)), (ssize_t)strlen(line));
	close(fd);
	/* a daemon on that cache directory */
	h_start_in(dir, "register = me 10.5.0.2\n", true);
	for (int i = 0; i < 200; i++) {
		if (!fakezk_step())
			break;
		zkd_process_events(&H, H_now);
		H_now += 50;
		zkd_tick(&H, H_now);
		assert_non_null(fakezk_get(ME, NULL));	/* never absent */
	}
	h_publish();
	assert_int_equal(fakezk_count(FZ_MULTI, ME), 1);
	assert_int_equal(owner(), fakezk_client_session());
	assert_string_equal(h_addr("me"), "10.5.0.2");
	assert_string_equal(h_status().errors[ZKH_ERR_REGISTRATION], "");
	h_stop();
}

/* SIGTERM: the session closes first, so the record vanishes at once;
 * the status says stopped. */
static void shutdown_removes_the_registration(void **state)
{
	struct zkh_status st;
	char dir[128], cmd[256];

	(void)state;
	fakezk_init();
	h_start_cfg("register = me 10.5.0.1\n", true);
	h_publish();
	assert_int_equal(owner(), fakezk_client_session());
	zkd_shutdown(&H, H_now);
	assert_null(fakezk_get(ME, NULL));
	assert_int_equal(zkh_status_read(H_dir, &st), 0);
	assert_string_equal(st.state, "stopped");
	assert_false(st.connected);
	zkh_pub_close(H_pub);
	H.pub = NULL;
	zkd_free(&H);
	snprintf(dir, sizeof dir, "%s", H_dir);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	fakezk_reset();
}

/* Expiry takes the ephemeral node with the session; the next session
 * registers again (and the old session is "ours" from then on). */
static void registers_again_after_expiry(void **state)
{
	int64_t first;

	(void)state;
	fakezk_init();
	h_start_cfg("register = me 10.5.0.1\n", true);
	h_publish();
	first = fakezk_client_session();
	assert_int_equal(owner(), first);
	fakezk_expire();
	h_settle();
	assert_null(fakezk_get(ME, NULL));
	h_advance(ZKD_BACKOFF_MAX_MS);
	h_publish();
	assert_true(fakezk_client_session() != first);
	assert_int_equal(owner(), fakezk_client_session());
	h_stop();
}

/* Credentials refused: the auth error, the session ends. Accepted: the
 * error clears and a protected tree reads. */
static void auth_refused_then_accepted(void **state)
{
	char auth[128], extra[256];
	struct zkh_status st;
	int fd;

	(void)state;
	fakezk_init();
	fakezk_mkdirs(HOSTS);
	fakezk_create(HOSTS "/a", "10.0.0.1", 0);
	fakezk_protect(HOSTS "/a");
	fakezk_set_credentials("digest", "u:right");
	snprintf(auth, sizeof auth, "/tmp/zkd-unit-auth-%d", (int)getpid());
	fd = open(auth, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "digest:u:wrong\n", 15), 15);
	close(fd);
	snprintf(extra, sizeof extra, "auth_file = %s\n", auth);
	h_start_cfg(extra, true);
	h_settle();
	st = h_status();
	assert_non_null(strstr(st.errors[ZKH_ERR_AUTH], "refused the credentials"));
	assert_string_equal(st.state, "expired");
	h_stop();
	fakezk_init();
	fakezk_mkdirs(HOSTS);
	fakezk_create(HOSTS "/a", "10.0.0.1", 0);
	fakezk_protect(HOSTS "/a");
	fakezk_set_credentials("digest", "u:right");
	fd = open(auth, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, "digest:u:right\n", 15), 15);
	close(fd);
	h_start_cfg(extra, true);
	h_publish();
	st = h_status();
	assert_string_equal(st.errors[ZKH_ERR_AUTH], "");
	assert_string_equal(h_addr("a"), "10.0.0.1");
	h_stop();
	unlink(auth);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(registers_and_comes_back_after_a_delete),
		cmocka_unit_test(conflict_is_refused_then_resolved),
		cmocka_unit_test(takeover_of_our_previous_session),
		cmocka_unit_test(shutdown_removes_the_registration),
		cmocka_unit_test(registers_again_after_expiry),
		cmocka_unit_test(auth_refused_then_accepted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
