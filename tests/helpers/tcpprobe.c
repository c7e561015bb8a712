/*
 * tcpprobe: a small TCP client/server whose only job is to report, one line
 * per socket, the keepalive options the kernel holds for that socket.  The
 * integration tests run it with and without the shim and compare the lines,
 * so the output format is an interface: keep it stable.
 *
 * libc only; every line on stdout is flushed at once because scripts wait
 * for lines while the program is still running.
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

static const char usage[] =
    "usage: tcpprobe COMMAND [ARGS]\n"
    "\n"
    "Every socket is reported as one line (flushed):\n"
    "  keepalive=0|1 idle=S interval=S count=N user_timeout=MS\n"
    "(SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT, TCP_USER_TIMEOUT\n"
    "as getsockopt returns them; 0 for idle/interval/count never appears, the\n"
    "kernel reports the sysctl then).\n"
    "\n"
    "  client HOST PORT [--hold SECS] [--nonblock] [--raw] [--proto P] [--stale]\n"
    "         [--set IDLE,INTVL,CNT] [--set-keepalive 0|1] [--set-user-timeout MS]\n"
    "         [--set-after] [--recv]\n"
    "      Connect (IPv4 or IPv6 by the address syntax), print the line, hold SECS\n"
    "      (default 0; negative: until killed), exit 0.\n"
    "      --nonblock  non-blocking socket; prints `connect=-1 errno=EINPROGRESS`\n"
    "                  (the real return value and errno name) before polling.\n"
    "      --raw       create the socket with syscall(SYS_socket), behind the back\n"
    "                  of any socket() interposer (only connect() can see it).\n"
    "      --proto P   the protocol argument of socket() (default 0; 6 TCP, 262 MPTCP).\n"
    "      --stale     first make a TCP socket with socket(), set SO_KEEPALIVE=1 on it\n"
    "                  as an application would, and close it: the connecting socket\n"
    "                  reuses its descriptor number (stale per-fd state in a shim).\n"
    "      --set       the program itself sets SO_KEEPALIVE=1 and the three values\n"
    "                  after socket(), before connect() (or after, --set-after).\n"
    "      --set-keepalive V, --set-user-timeout MS: the same for one option.\n"
    "                  A failing setsockopt prints `tcpprobe: setsockopt ...` on\n"
    "                  stderr and exits 1.\n"
    "      --recv      after the line, block in recv() until EOF or error and print\n"
    "                  `recv=N errno=NAME elapsed=SECS` (N is 0 or -1).\n"
    "  server PORT [--bind ADDR] [--accept N] [--hold SECS] [--fd FD] [--accept4]\n"
    "         [--nullfd-addr] [--addrlen N]\n"
    "      Listen on ADDR:PORT (default 127.0.0.1; `::` for IPv6; PORT 0 = any)\n"
    "      or use the inherited listening descriptor FD.  Prints `listening PORT`,\n"
    "      accepts N (default 1) connections with accept(), or accept4(SOCK_CLOEXEC\n"
    "      |SOCK_NONBLOCK) with --accept4, passing addr NULL with --nullfd-addr\n"
    "      (alias --null-addr), prints `accepted <line>` for each, keeps them open\n"
    "      for SECS (default 0; negative: until killed), exits 0.  --addrlen N:\n"
    "      pass *addrlen = N (a short buffer, legal: the address is truncated) with\n"
    "      the buffer prefilled with 0xAA bytes.\n"
    "  errno-connect HOST PORT [--raw]\n"
    "      Non-blocking connect; prints `connect=RET errno=NAME` (errno=0 on\n"
    "      success) exactly as the call returned them.\n"
    "  sockets N\n"
    "      Open N unconnected TCP sockets (IPv4), print the line for each.\n"
    "  nontcp\n"
    "      Open UDP (v4, v6) and AF_UNIX (stream, dgram, socketpair) sockets and\n"
    "      print `KIND keepalive=V` for each (SO_KEEPALIVE).\n"
    "  peek PID [PORT]\n"
    "      From outside: duplicate every TCP socket of process PID with\n"
    "      pidfd_getfd(2) (needs ptrace permission) and print\n"
    "      `fd=N lport=P rport=P <line>`; only sockets with PORT as local or\n"
    "      peer port when PORT is given.  On cgroup-v1 net_cls/net_prio hosts the\n"
    "      kernel re-tags the target's socket with this process's class id.\n"
    "\n"
    "Exit status: 0 success, 1 a system call failed, 2 usage error.\n";

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

static void die(const char *what) __attribute__((noreturn));
static void die(const char *what)
{
	fprintf(stderr, "tcpprobe: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void bad_usage(const char *msg) __attribute__((noreturn));
static void bad_usage(const char *msg)
{
	fprintf(stderr, "tcpprobe: %s (try --help)\n", msg);
	exit(2);
}

static const char *errno_name(int e)
{
	static char buf[16];
	const char *n;

	if (e == 0)
		return "0";
	n = strerrorname_np(e);
	if (n)
		return n;
	snprintf(buf, sizeof(buf), "%d", e);
	return buf;
}

static long parse_num(const char *s, long min, long max, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "tcpprobe: bad %s: '%s'\n", what, s);
		exit(2);
	}
	return v;
}

static double parse_secs(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end)
		bad_usage("bad --hold value");
	return v;
}

static double now_secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Negative means "until killed": the scripts kill their background probes. */
static void hold(double secs)
{
	struct timespec ts;

	if (secs < 0) {
		for (;;)
			pause();
	}
	if (secs == 0)
		return;
	ts.tv_sec = (time_t)secs;
	ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int get_int(int fd, int level, int opt)
{
	int v = -1;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, level, opt, &v, &len) < 0)
		return -1;
	return v;
}

/* The one line every test parses: keep the keys and their order. */
static void format_line(int fd, char *buf, size_t size)
{
	unsigned int uto = 0;
	socklen_t len = sizeof(uto);
	long uto_print;

	if (getsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &uto, &len) < 0)
		uto_print = -1;
	else
		uto_print = (long)uto;
	snprintf(buf, size, "keepalive=%d idle=%d interval=%d count=%d user_timeout=%ld",
		 get_int(fd, SOL_SOCKET, SO_KEEPALIVE), get_int(fd, IPPROTO_TCP, TCP_KEEPIDLE),
		 get_int(fd, IPPROTO_TCP, TCP_KEEPINTVL), get_int(fd, IPPROTO_TCP, TCP_KEEPCNT),
		 uto_print);
}

static void print_line(const char *prefix, int fd)
{
	char line[160];

	format_line(fd, line, sizeof(line));
	out("%s%s\n", prefix, line);
}

/* Numeric addresses only: a name lookup would open sockets of its own. */
static void resolve(const char *host, const char *port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo hints, *res;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		fprintf(stderr, "tcpprobe: address %s port %s: %s\n", host, port, gai_strerror(rc));
		exit(2);
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
}

static void must_set(int fd, int level, int opt, const char *name, int v)
{
	if (setsockopt(fd, level, opt, &v, sizeof(v)) < 0) {
		fprintf(stderr, "tcpprobe: setsockopt %s=%d: %s (%s)\n", name, v, strerror(errno),
			errno_name(errno));
		exit(1);
	}
}

struct client_opts {
	double hold;
	int nonblock;
	int raw;
	int set_vals; /* --set given */
	int idle, intvl, cnt;
	int set_ka;   /* -1: not given */
	long set_uto; /* -1: not given */
	int set_after;
	int recv;
	int proto;
	int stale;
};

static void client_apply_settings(int fd, const struct client_opts *o)
{
	if (o->set_vals) {
		must_set(fd, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE", 1);
		must_set(fd, IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE", o->idle);
		must_set(fd, IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL", o->intvl);
		must_set(fd, IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT", o->cnt);
	}
	if (o->set_ka >= 0)
		must_set(fd, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE", o->set_ka);
	if (o->set_uto >= 0)
		must_set(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, "TCP_USER_TIMEOUT", (int)o->set_uto);
}

static int make_socket(int family, int type, int proto, int raw)
{
	int fd;

	if (raw)
		fd = (int)syscall(SYS_socket, family, type, proto);
	else
		fd = socket(family, type, proto);
	if (fd < 0)
		die("socket");
	return fd;
}

/* Waits for a non-blocking connect to finish; exits on failure. */
static void finish_connect(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	int err;

	while (poll(&p, 1, 10000) < 0 && errno == EINTR)
		;
	err = get_int(fd, SOL_SOCKET, SO_ERROR);
	if (err != 0) {
		errno = err;
		die("connect");
	}
}

static void do_recv(int fd)
{
	char buf[4096];
	double start = now_secs();
	ssize_t n;
	int e = 0;

	/* Data is not the point: keep reading until the peer closes or fails. */
	do {
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0)
			e = errno;
	} while (n > 0 || (n < 0 && e == EINTR));
	out("recv=%zd errno=%s elapsed=%.2f\n", n, errno_name(n < 0 ? e : 0), now_secs() - start);
}

static int cmd_client(int argc, char **argv)
{
	struct client_opts o = {.set_ka = -1, .set_uto = -1};
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, i, rc, e;

	if (argc < 2)
		bad_usage("client needs HOST PORT");
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--hold") && i + 1 < argc) {
			o.hold = parse_secs(argv[++i]);
		} else if (!strcmp(argv[i], "--nonblock")) {
			o.nonblock = 1;
		} else if (!strcmp(argv[i], "--raw")) {
			o.raw = 1;
		} else if (!strcmp(argv[i], "--set") && i + 1 < argc) {
			if (sscanf(argv[++i], "%d,%d,%d", &o.idle, &o.intvl, &o.cnt) != 3)
				bad_usage("--set wants IDLE,INTVL,CNT");
			o.set_vals = 1;
		} else if (!strcmp(argv[i], "--set-keepalive") && i + 1 < argc) {
			o.set_ka = (int)parse_num(argv[++i], 0, 1, "--set-keepalive");
		} else if (!strcmp(argv[i], "--set-user-timeout") && i + 1 < argc) {
			o.set_uto = parse_num(argv[++i], 0, 2147483647L, "--set-user-timeout");
		} else if (!strcmp(argv[i], "--set-after")) {
			o.set_after = 1;
		} else if (!strcmp(argv[i], "--recv")) {
			o.recv = 1;
		} else if (!strcmp(argv[i], "--proto") && i + 1 < argc) {
			o.proto = (int)parse_num(argv[++i], 0, 65535, "--proto");
		} else if (!strcmp(argv[i], "--stale")) {
			o.stale = 1;
		} else {
			bad_usage("unknown client option");
		}
	}
	resolve(argv[0], argv[1], &ss, &len);
	if (o.stale) {
		int old = make_socket(ss.ss_family, SOCK_STREAM, o.proto, 0);

		must_set(old, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE", 1);
		close(old);
	}
	fd = make_socket(ss.ss_family, SOCK_STREAM | (o.nonblock ? SOCK_NONBLOCK : 0), o.proto,
			 o.raw);
	if (!o.set_after)
		client_apply_settings(fd, &o);
	errno = 0;
	rc = connect(fd, (struct sockaddr *)&ss, len);
	e = errno;
	if (o.nonblock) {
		out("connect=%d errno=%s\n", rc, errno_name(rc < 0 ? e : 0));
		if (rc < 0 && e != EINPROGRESS) {
			errno = e;
			die("connect");
		}
		finish_connect(fd);
	} else if (rc < 0) {
		errno = e;
		die("connect");
	}
	if (o.set_after)
		client_apply_settings(fd, &o);
	print_line("", fd);
	if (o.recv)
		do_recv(fd);
	hold(o.hold);
	return 0;
}

static int cmd_errno_connect(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, rc, e, raw = 0;

	if (argc < 2 || argc > 3)
		bad_usage("errno-connect needs HOST PORT [--raw]");
	if (argc == 3) {
		if (strcmp(argv[2], "--raw"))
			bad_usage("unknown errno-connect option");
		raw = 1;
	}
	resolve(argv[0], argv[1], &ss, &len);
	fd = make_socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0, raw);
	errno = 0;
	rc = connect(fd, (struct sockaddr *)&ss, len);
	e = errno;
	out("connect=%d errno=%s\n", rc, errno_name(rc < 0 ? e : 0));
	close(fd);
	return 0;
}

static int local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -1;
}

static int peer_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return 0;
}

static int cmd_server(int argc, char **argv)
{
	const char *bind_addr = "127.0.0.1";
	double hold_secs = 0;
	long naccept = 1, addrlen = -1;
	int lfd = -1, use4 = 0, nulladdr = 0, i, one = 1;

	if (argc < 1)
		bad_usage("server needs PORT");
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--bind") && i + 1 < argc) {
			bind_addr = argv[++i];
		} else if (!strcmp(argv[i], "--accept") && i + 1 < argc) {
			naccept = parse_num(argv[++i], 0, 100000, "--accept");
		} else if (!strcmp(argv[i], "--hold") && i + 1 < argc) {
			hold_secs = parse_secs(argv[++i]);
		} else if (!strcmp(argv[i], "--fd") && i + 1 < argc) {
			lfd = (int)parse_num(argv[++i], 0, 65535, "--fd");
		} else if (!strcmp(argv[i], "--accept4")) {
			use4 = 1;
		} else if (!strcmp(argv[i], "--nullfd-addr") || !strcmp(argv[i], "--null-addr")) {
			nulladdr = 1;
		} else if (!strcmp(argv[i], "--addrlen") && i + 1 < argc) {
			addrlen =
			    parse_num(argv[++i], 0, sizeof(struct sockaddr_storage), "--addrlen");
		} else {
			bad_usage("unknown server option");
		}
	}
	if (lfd < 0) {
		struct sockaddr_storage ss;
		socklen_t len;

		resolve(bind_addr, argv[0], &ss, &len);
		lfd = socket(ss.ss_family, SOCK_STREAM, 0);
		if (lfd < 0)
			die("socket");
		if (setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
			die("setsockopt SO_REUSEADDR");
		if (bind(lfd, (struct sockaddr *)&ss, len) < 0)
			die("bind");
		if (listen(lfd, 64) < 0)
			die("listen");
	}
	out("listening %d\n", local_port(lfd));
	for (i = 0; i < naccept; i++) {
		struct sockaddr_storage peer;
		socklen_t plen = addrlen < 0 ? sizeof(peer) : (socklen_t)addrlen;
		struct sockaddr *pa = nulladdr ? NULL : (struct sockaddr *)&peer;
		socklen_t *pl = nulladdr ? NULL : &plen;
		int cfd;

		memset(&peer, 0xAA, sizeof(peer));
		do {
			if (use4)
				cfd = accept4(lfd, pa, pl, SOCK_CLOEXEC | SOCK_NONBLOCK);
			else
				cfd = accept(lfd, pa, pl);
		} while (cfd < 0 && errno == EINTR);
		if (cfd < 0)
			die(use4 ? "accept4" : "accept");
		/* Leaked on purpose: the connection stays open while we hold. */
		print_line("accepted ", cfd);
	}
	hold(hold_secs);
	return 0;
}

static int cmd_sockets(int argc, char **argv)
{
	long n, i;

	if (argc != 1)
		bad_usage("sockets needs N");
	n = parse_num(argv[0], 0, 1000, "N");
	for (i = 0; i < n; i++)
		print_line("", make_socket(AF_INET, SOCK_STREAM, 0, 0));
	return 0;
}

static void print_nontcp(const char *kind, int fd)
{
	if (fd < 0) {
		out("%s error=%s\n", kind, errno_name(errno));
		return;
	}
	out("%s keepalive=%d\n", kind, get_int(fd, SOL_SOCKET, SO_KEEPALIVE));
}

static int cmd_nontcp(int argc, char **argv)
{
	int sv[2];

	(void)argv;
	if (argc != 0)
		bad_usage("nontcp takes no arguments");
	print_nontcp("udp4", socket(AF_INET, SOCK_DGRAM, 0));
	print_nontcp("udp6", socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP));
	print_nontcp("unix-stream", socket(AF_UNIX, SOCK_STREAM, 0));
	print_nontcp("unix-dgram", socket(AF_UNIX, SOCK_DGRAM, 0));
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
		print_nontcp("unix-pair", -1);
	} else {
		print_nontcp("unix-pair", sv[0]);
	}
	return 0;
}

static int is_tcp(int fd)
{
	int dom = get_int(fd, SOL_SOCKET, SO_DOMAIN);
	int type = get_int(fd, SOL_SOCKET, SO_TYPE);
	int proto = get_int(fd, SOL_SOCKET, SO_PROTOCOL);

	return (dom == AF_INET || dom == AF_INET6) && type == SOCK_STREAM &&
	       (proto == IPPROTO_TCP || proto == 262 /* IPPROTO_MPTCP */);
}

static int cmd_peek(int argc, char **argv)
{
	char dir[64], path[320], link[64];
	struct dirent *de;
	long pid, port = -1;
	int pidfd, found = 0;
	DIR *d;

	if (argc < 1 || argc > 2)
		bad_usage("peek needs PID [PORT]");
	pid = parse_num(argv[0], 1, 1L << 30, "PID");
	if (argc == 2)
		port = parse_num(argv[1], 0, 65535, "PORT");
	pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
	if (pidfd < 0)
		die("pidfd_open");
	snprintf(dir, sizeof(dir), "/proc/%ld/fd", pid);
	d = opendir(dir);
	if (!d)
		die(dir);
	while ((de = readdir(d)) != NULL) {
		char *end;
		long tfd = strtol(de->d_name, &end, 10);
		ssize_t n;
		int fd, lp, rp;

		if (*end || end == de->d_name)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n < 0)
			continue;
		link[n] = '\0';
		if (strncmp(link, "socket:", 7))
			continue;
		fd = (int)syscall(SYS_pidfd_getfd, pidfd, (int)tfd, 0);
		if (fd < 0)
			die("pidfd_getfd");
		if (is_tcp(fd)) {
			char line[160];

			lp = local_port(fd);
			rp = peer_port(fd);
			if (port < 0 || lp == port || rp == port) {
				format_line(fd, line, sizeof(line));
				out("fd=%ld lport=%d rport=%d %s\n", tfd, lp, rp, line);
				found++;
			}
		}
		close(fd);
	}
	closedir(d);
	return found ? 0 : 1;
}

int main(int argc, char **argv)
{
	const char *cmd;

	/* A peer that went away must not kill us quietly with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2)
		bad_usage("missing command");
	cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		fputs(usage, stdout);
		return 0;
	}
	if (!strcmp(cmd, "client"))
		return cmd_client(argc - 2, argv + 2);
	if (!strcmp(cmd, "server"))
		return cmd_server(argc - 2, argv + 2);
	if (!strcmp(cmd, "errno-connect"))
		return cmd_errno_connect(argc - 2, argv + 2);
	if (!strcmp(cmd, "sockets"))
		return cmd_sockets(argc - 2, argv + 2);
	if (!strcmp(cmd, "nontcp"))
		return cmd_nontcp(argc - 2, argv + 2);
	if (!strcmp(cmd, "peek"))
		return cmd_peek(argc - 2, argv + 2);
	bad_usage("unknown command");
}
