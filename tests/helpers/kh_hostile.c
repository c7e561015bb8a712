/*
 * kh_hostile: the programs behind tests/integration/hostile_*.sh.  Each
 * command puts a preloaded socket shim in an unfriendly situation (many
 * threads, signal handlers, fork storms, a reused fd 2) and reports what the
 * kernel holds for the sockets it made, so that the scripts only compare
 * lines.  It never assumes a shim is loaded: without one, the same commands
 * report untouched sockets, which is the scripts' negative control.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "usage: kh_hostile COMMAND [ARGS]\n"
    "\n"
    "A socket is reported as `keepalive=V idle=S interval=S count=N user_timeout=MS`\n"
    "(getsockopt; a failing option shows its errno name instead of a number).\n"
    "\n"
    "  sock [--proto P] [--connect IPV4 PORT] [--hold]\n"
    "      socket(AF_INET, SOCK_STREAM, P) (P default 0; 262 is MPTCP), print the\n"
    "      line; with --connect connect and print `connected <line>`; --hold then\n"
    "      waits until killed.\n"
    "  threads T N IDLE\n"
    "      T threads each open N sockets at once (7 of 8 TCP in varied flavours,\n"
    "      the rest UDP or AF_UNIX), twice, the second round shifted so that TCP\n"
    "      and non-TCP swap descriptor numbers.  Checks every TCP socket has\n"
    "      keepalive on and idle IDLE and no other socket has keepalive on.\n"
    "      Prints `tcp=A tcp_bad=B other=C other_bad=D failed=E fds_before=F\n"
    "      fds_after=G`.\n"
    "  signal SECS IDLE\n"
    "      For SECS seconds, a 200 us SIGALRM timer whose handler calls socket()\n"
    "      and accept() while the main loop calls socket(), connect() and\n"
    "      accept().  Prints counts of sockets made and of those not holding\n"
    "      keepalive with idle IDLE.\n"
    "  fork IDLE\n"
    "      Prints `parent|child|grandchild <line>` (fork without exec), then\n"
    "      forks 100 children while 4 threads loop in socket(); each child\n"
    "      checks one socket.  Prints `storm forks=N child_bad=B thread_bad=T`.\n"
    "  fd2 PATH N\n"
    "      Opens PATH (truncating), creates N TCP sockets, writes `data` into\n"
    "      PATH and prints `file_fd=FD` (FD is 2 when fd 2 was closed).\n"
    "\n"
    "Exit status: 0 done (the lines say whether the shim behaved), 1 a system\n"
    "call failed, 2 usage error.\n";

static int want_idle;

static void die(const char *what)
{
	fprintf(stderr, "kh_hostile: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int parse_int(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > 1000000) {
		fprintf(stderr, "kh_hostile: bad number: %s\n", s);
		exit(2);
	}
	return (int)v;
}

static void opt_text(char *buf, size_t size, int fd, int level, int name)
{
	int v = 0;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, level, name, &v, &len) == 0)
		snprintf(buf, size, "%d", v);
	else
		snprintf(buf, size, "%s", strerrorname_np(errno));
}

static void print_line(const char *label, int fd)
{
	char ka[24], idle[24], intvl[24], cnt[24], uto[24];

	opt_text(ka, sizeof(ka), fd, SOL_SOCKET, SO_KEEPALIVE);
	opt_text(idle, sizeof(idle), fd, IPPROTO_TCP, TCP_KEEPIDLE);
	opt_text(intvl, sizeof(intvl), fd, IPPROTO_TCP, TCP_KEEPINTVL);
	opt_text(cnt, sizeof(cnt), fd, IPPROTO_TCP, TCP_KEEPCNT);
	opt_text(uto, sizeof(uto), fd, IPPROTO_TCP, TCP_USER_TIMEOUT);
	printf("%s%skeepalive=%s idle=%s interval=%s count=%s user_timeout=%s\n", label,
	       *label ? " " : "", ka, idle, intvl, cnt, uto);
	fflush(stdout);
}

/* Async-signal-safe: only getsockopt. */
static int configured(int fd)
{
	int on = 0, idle = 0;
	socklen_t len = sizeof(int);

	if (getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, &len) != 0)
		return 0;
	len = sizeof(int);
	if (getsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, &len) != 0)
		return 0;
	return on == 1 && idle == want_idle;
}

static int keepalive_on(int fd)
{
	int on = 0;
	socklen_t len = sizeof(on);

	return getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, &len) == 0 && on;
}

static int cmd_sock(int argc, char **argv)
{
	int proto = 0, hold = 0, fd, i;
	const char *host = NULL, *port = NULL;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--proto") == 0 && i + 1 < argc) {
			proto = parse_int(argv[++i]);
		} else if (strcmp(argv[i], "--connect") == 0 && i + 2 < argc) {
			host = argv[++i];
			port = argv[++i];
		} else if (strcmp(argv[i], "--hold") == 0) {
			hold = 1;
		} else {
			fputs(usage, stderr);
			return 2;
		}
	}
	fd = socket(AF_INET, SOCK_STREAM, proto);
	if (fd < 0)
		die("socket");
	print_line("", fd);
	if (host) {
		struct sockaddr_in sin = {.sin_family = AF_INET};

		sin.sin_port = htons((uint16_t)parse_int(port));
		if (inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
			fprintf(stderr, "kh_hostile: not an IPv4 address: %s\n", host);
			return 2;
		}
		if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0)
			die("connect");
		print_line("connected", fd);
	}
	while (hold)
		pause();
	return 0;
}

/* Descriptors open in this process, counted through /proc/self/fd. */
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!d)
		die("opendir /proc/self/fd");
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

struct worker {
	pthread_t tid;
	int n, round;
	int *fds;
	unsigned char *is_tcp;
	int tcp, tcp_bad, other, other_bad, failed;
};

static pthread_barrier_t barrier;

/* Eight flavours of socket() call; the first seven make TCP sockets. */
static int open_kind(int kind, unsigned char *is_tcp)
{
	static const struct {
		int domain, type, protocol;
	} kinds[8] = {
	    {AF_INET, SOCK_STREAM, 0},
	    {AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0},
	    {AF_INET, SOCK_STREAM | SOCK_NONBLOCK, IPPROTO_TCP},
	    {AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP},
	    {AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0},
	    {AF_INET6, SOCK_STREAM, IPPROTO_TCP},
	    {AF_INET, SOCK_STREAM, IPPROTO_TCP},
	    {AF_INET, SOCK_DGRAM, 0},
	};

	/* Every other round the non-TCP slot is an AF_UNIX stream socket. */
	if (kind == 8) {
		*is_tcp = 0;
		return socket(AF_UNIX, SOCK_STREAM, 0);
	}
	*is_tcp = kind < 7;
	return socket(kinds[kind].domain, kinds[kind].type, kinds[kind].protocol);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	int i;

	pthread_barrier_wait(&barrier);
	for (i = 0; i < w->n; i++) {
		int kind = (i + w->round) % 8;

		if (kind == 7 && w->round % 2)
			kind = 8;
		w->fds[i] = open_kind(kind, &w->is_tcp[i]);
		if (w->fds[i] < 0)
			w->failed++;
	}
	/* Everything is open in every thread before anyone looks or closes. */
	pthread_barrier_wait(&barrier);
	for (i = 0; i < w->n; i++) {
		if (w->fds[i] < 0)
			continue;
		if (w->is_tcp[i]) {
			w->tcp++;
			w->tcp_bad += !configured(w->fds[i]);
		} else {
			w->other++;
			w->other_bad += keepalive_on(w->fds[i]);
		}
	}
	pthread_barrier_wait(&barrier);
	for (i = 0; i < w->n; i++) {
		if (w->fds[i] >= 0)
			close(w->fds[i]);
	}
	return NULL;
}

static int cmd_threads(int argc, char **argv)
{
	struct worker *w;
	struct rlimit rl;
	int t, n, i, round, before, after;
	int tcp = 0, tcp_bad = 0, other = 0, other_bad = 0, failed = 0;

	if (argc != 3) {
		fputs(usage, stderr);
		return 2;
	}
	t = parse_int(argv[0]);
	n = parse_int(argv[1]);
	want_idle = parse_int(argv[2]);
	if (t < 1 || n < 1)
		return 2;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	w = calloc((size_t)t, sizeof(*w));
	if (!w)
		die("calloc");
	for (i = 0; i < t; i++) {
		w[i].n = n;
		w[i].fds = calloc((size_t)n, sizeof(int));
		w[i].is_tcp = calloc((size_t)n, 1);
		if (!w[i].fds || !w[i].is_tcp)
			die("calloc");
	}
	before = count_fds();
	for (round = 0; round < 2; round++) {
		if (pthread_barrier_init(&barrier, NULL, (unsigned)t) != 0)
			die("pthread_barrier_init");
		for (i = 0; i < t; i++) {
			w[i].round = round;
			errno = pthread_create(&w[i].tid, NULL, worker_main, &w[i]);
			if (errno)
				die("pthread_create");
		}
		for (i = 0; i < t; i++)
			pthread_join(w[i].tid, NULL);
		pthread_barrier_destroy(&barrier);
	}
	after = count_fds();
	for (i = 0; i < t; i++) {
		tcp += w[i].tcp;
		tcp_bad += w[i].tcp_bad;
		other += w[i].other;
		other_bad += w[i].other_bad;
		failed += w[i].failed;
		free(w[i].fds);
		free(w[i].is_tcp);
	}
	free(w);
	printf("tcp=%d tcp_bad=%d other=%d other_bad=%d failed=%d fds_before=%d fds_after=%d\n",
	       tcp, tcp_bad, other, other_bad, failed, before, after);
	return 0;
}

static int listen_fd = -1;
static volatile sig_atomic_t h_sockets, h_bad, h_accepts, h_accept_bad, h_fail;

static void on_alarm(int sig)
{
	int saved_errno = errno, fd;

	(void)sig;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		h_sockets++;
		h_bad += !configured(fd);
		close(fd);
	} else {
		h_fail++;
	}
	/* Alternate accept and accept4: both wrappers must be safe here. */
	fd = h_accepts % 2 ? accept(listen_fd, NULL, NULL)
			   : accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd >= 0) {
		h_accepts++;
		h_accept_bad += !configured(fd);
		close(fd);
	}
	errno = saved_errno;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmd_signal(int argc, char **argv)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t slen = sizeof(sin);
	struct sigaction sa;
	struct itimerval it = {.it_interval = {0, 200}, .it_value = {0, 200}};
	long m_sockets = 0, m_bad = 0, m_accepts = 0, m_accept_bad = 0;
	double end;

	if (argc != 2) {
		fputs(usage, stderr);
		return 2;
	}
	end = now() + parse_int(argv[0]);
	want_idle = parse_int(argv[1]);
	/*
	 * A listener the shim never saw (raw syscall), so that every accept()
	 * has to classify it and set options on the new socket itself.
	 */
	listen_fd =
	    (int)syscall(SYS_socket, AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(listen_fd, 4096) != 0 ||
	    getsockname(listen_fd, (struct sockaddr *)&sin, &slen) != 0)
		die("listener");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) != 0 || setitimer(ITIMER_REAL, &it, NULL) != 0)
		die("timer");
	while (now() < end) {
		int c = socket(AF_INET, SOCK_STREAM, 0), a;

		if (c < 0) {
			if (errno == EINTR)
				continue;
			die("socket");
		}
		m_sockets++;
		m_bad += !configured(c);
		/* EINTR leaves the connection completing in the background: fine. */
		if (connect(c, (struct sockaddr *)&sin, sizeof(sin)) != 0 && errno != EINTR)
			die("connect");
		a = accept(listen_fd, NULL, NULL);
		if (a >= 0) {
			m_accepts++;
			m_accept_bad += !configured(a);
			close(a);
		}
		close(c);
	}
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	printf("main_sockets=%ld main_bad=%ld main_accepts=%ld main_accept_bad=%ld "
	       "handler_sockets=%ld handler_bad=%ld handler_accepts=%ld handler_accept_bad=%ld "
	       "handler_fail=%ld\n",
	       m_sockets, m_bad, m_accepts, m_accept_bad, (long)h_sockets, (long)h_bad,
	       (long)h_accepts, (long)h_accept_bad, (long)h_fail);
	return 0;
}

static void line_of_new_socket(const char *label)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		die("socket");
	print_line(label, fd);
	close(fd);
}

static volatile int storm_stop;
static int thread_bad;

static void *storm_thread(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&storm_stop, __ATOMIC_RELAXED)) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		if (fd < 0)
			continue;
		if (!configured(fd))
			__atomic_add_fetch(&thread_bad, 1, __ATOMIC_RELAXED);
		close(fd);
	}
	return NULL;
}

static int cmd_fork(int argc, char **argv)
{
	pthread_t tids[4];
	int i, child_bad = 0, forks = 0;
	pid_t pid;

	if (argc != 1) {
		fputs(usage, stderr);
		return 2;
	}
	want_idle = parse_int(argv[0]);
	line_of_new_socket("parent");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		line_of_new_socket("child");
		pid = fork();
		if (pid == 0) {
			line_of_new_socket("grandchild");
			_exit(0);
		}
		waitpid(pid, NULL, 0);
		_exit(0);
	}
	waitpid(pid, NULL, 0);

	/* fork() while other threads are inside the wrappers. */
	for (i = 0; i < 4; i++) {
		errno = pthread_create(&tids[i], NULL, storm_thread, NULL);
		if (errno)
			die("pthread_create");
	}
	for (i = 0; i < 100; i++) {
		int status = 0;

		pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			int fd;

			alarm(5); /* a child stuck on a lock copied mid-call dies, and counts */
			fd = socket(AF_INET, SOCK_STREAM, 0);
			_exit(fd >= 0 && configured(fd) ? 0 : 1);
		}
		forks++;
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			child_bad++;
	}
	__atomic_store_n(&storm_stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < 4; i++)
		pthread_join(tids[i], NULL);
	printf("storm forks=%d child_bad=%d thread_bad=%d\n", forks, child_bad, thread_bad);
	return 0;
}

static int cmd_fd2(int argc, char **argv)
{
	int fd, i, n;

	if (argc != 2) {
		fputs(usage, stderr);
		return 2;
	}
	n = parse_int(argv[1]);
	fd = open(argv[0], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die(argv[0]);
	for (i = 0; i < n; i++) {
		int s = socket(AF_INET, SOCK_STREAM, 0);

		if (s >= 0)
			close(s);
	}
	if (write(fd, "data\n", 5) != 5)
		die("write");
	close(fd);
	printf("file_fd=%d\n", fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	if (strcmp(argv[1], "sock") == 0)
		return cmd_sock(argc - 2, argv + 2);
	if (strcmp(argv[1], "threads") == 0)
		return cmd_threads(argc - 2, argv + 2);
	if (strcmp(argv[1], "signal") == 0)
		return cmd_signal(argc - 2, argv + 2);
	if (strcmp(argv[1], "fork") == 0)
		return cmd_fork(argc - 2, argv + 2);
	if (strcmp(argv[1], "fd2") == 0)
		return cmd_fd2(argc - 2, argv + 2);
	if (strcmp(argv[1], "--help") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	fputs(usage, stderr);
	return 2;
}
