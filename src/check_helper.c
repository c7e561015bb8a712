/*
 * keepalive-check-helper: prints the keepalive settings of sockets owned by
 * other processes, as getsockopt() sees them from inside those processes.
 *
 * ss and /proc/net/tcp only show the keepalive timer, and only while no data
 * is in flight; interval, count and TCP_USER_TIMEOUT are not visible at all.
 * pidfd_getfd() gives us a duplicate of the target's socket (same open file,
 * so the same struct sock) and getsockopt() on it reads the real values.
 *
 * Usage: keepalive-check-helper PID:FD...
 * One output line per argument, in order:
 *   PID FD ino=INODE keepalive=0|1 idle=S interval=S count=N user_timeout=MS
 *   PID FD error=ERRNO-NAME
 * A value the kernel refuses to report prints as "-".
 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef KAP_VERSION
#define KAP_VERSION "unknown"
#endif

/* Older headers lack the numbers; they are the same on every architecture but alpha. */
#ifndef SYS_pidfd_open
#if defined(__alpha__)
#define SYS_pidfd_open 544
#else
#define SYS_pidfd_open 434
#endif
#endif
#ifndef SYS_pidfd_getfd
#if defined(__alpha__)
#define SYS_pidfd_getfd 548
#else
#define SYS_pidfd_getfd 438
#endif
#endif

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

/* Exit statuses; the most serious problem seen wins. */
enum {
	EXIT_ALL_READ = 0,
	EXIT_SOME_UNREADABLE = 1, /* process or fd gone, or not a TCP socket */
	EXIT_USAGE = 2,
	EXIT_PERMISSION = 3, /* no ptrace permission over a target */
	EXIT_NO_KERNEL_SUPPORT = 4,
};

static const char prog[] = "keepalive-check-helper";

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: %s PID:FD...\n"
		"Print the keepalive settings of socket FD of process PID, read with\n"
		"pidfd_getfd(2) and getsockopt(2). One line per argument:\n"
		"  PID FD ino=INODE keepalive=0|1 idle=S interval=S count=N user_timeout=MS\n"
		"  PID FD error=ERRNO-NAME\n"
		"'-' stands for a value the kernel does not report for that socket.\n"
		"Needs Linux 5.6+ and ptrace permission over PID (root, or the same user\n"
		"with kernel.yama.ptrace_scope=0).\n"
		"Exit status: 0 all read, 1 some could not be read (process or fd gone,\n"
		"not a TCP socket), 2 usage error, 3 permission denied, 4 kernel too old.\n",
		prog);
}

static const char *errno_name(int e)
{
	switch (e) {
	case ESRCH:
		return "ESRCH";
	case EPERM:
		return "EPERM";
	case EACCES:
		return "EACCES";
	case EBADF:
		return "EBADF";
	case ENOTSOCK:
		return "ENOTSOCK";
	case EPROTOTYPE:
		return "EPROTOTYPE";
	case EMFILE:
		return "EMFILE";
	case ENFILE:
		return "ENFILE";
	case ENOSYS:
		return "ENOSYS";
	case EINVAL:
		return "EINVAL";
	default:
		return "EIO";
	}
}

static int parse_int(const char *s, const char *end, long max, long *out)
{
	char *stop;
	long v;

	if (s == end || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &stop, 10);
	if (errno || stop != end || v < 0 || v > max)
		return -1;
	*out = v;
	return 0;
}

/*
 * The kernel's __receive_sock() re-tags a received socket with the net_cls
 * classid and net_prio index of the *receiving* task; pidfd_getfd() goes
 * through it, so on a cgroup-v1 net_cls/net_prio host reading a socket can
 * change how the target's traffic is classified from then on.
 */
static int cgroup_v1_tagging_active(void)
{
	char line[512];
	int found = 0;
	FILE *f;

	/* A non-zero hierarchy id means "mounted as v1", whatever our mount namespace shows. */
	f = fopen("/proc/cgroups", "re");
	if (f) {
		while (!found && fgets(line, sizeof(line), f)) {
			char name[64];
			unsigned hier;

			if (sscanf(line, "%63s %u", name, &hier) == 2 && hier != 0 &&
			    (!strcmp(name, "net_cls") || !strcmp(name, "net_prio")))
				found = 1;
		}
		fclose(f);
	}
	f = fopen("/proc/self/mounts", "re");
	if (f) {
		while (!found && fgets(line, sizeof(line), f)) {
			char type[64], opts[384];

			if (sscanf(line, "%*s %*s %63s %383s", type, opts) != 2 ||
			    strcmp(type, "cgroup"))
				continue;
			if (strstr(opts, "net_cls") || strstr(opts, "net_prio"))
				found = 1;
		}
		fclose(f);
	}
	return found;
}

static void warn_cgroup_tagging_once(void)
{
	static int checked;

	if (checked)
		return;
	checked = 1;
	if (cgroup_v1_tagging_active())
		fprintf(stderr,
			"%s: warning: cgroup-v1 net_cls/net_prio is mounted: pidfd_getfd re-tags "
			"each socket it reads with the net_cls classid and net_prio index of the "
			"checking process (kernel __receive_sock), which can change how the "
			"target's traffic is classified\n",
			prog);
}

static void put_opt(int fd, int level, int name)
{
	int v = 0;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, level, name, &v, &len) == 0)
		printf("%d", v);
	else
		putchar('-');
}

/* Returns 0 or an errno value describing why fd is not a readable TCP socket. */
static int print_socket(long pid, long tfd, int fd)
{
	struct stat st;
	int domain = 0, type = 0, proto = 0;
	socklen_t len;

	if (fstat(fd, &st) != 0)
		return errno;
	if (!S_ISSOCK(st.st_mode))
		return ENOTSOCK;
	len = sizeof(domain);
	getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len);
	len = sizeof(type);
	getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len);
	len = sizeof(proto);
	getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len);
	if ((domain != AF_INET && domain != AF_INET6) || type != SOCK_STREAM ||
	    (proto != IPPROTO_TCP && proto != IPPROTO_MPTCP))
		return EPROTOTYPE;

	printf("%ld %ld ino=%llu keepalive=", pid, tfd, (unsigned long long)st.st_ino);
	put_opt(fd, SOL_SOCKET, SO_KEEPALIVE);
	fputs(" idle=", stdout);
	put_opt(fd, IPPROTO_TCP, TCP_KEEPIDLE);
	fputs(" interval=", stdout);
	put_opt(fd, IPPROTO_TCP, TCP_KEEPINTVL);
	fputs(" count=", stdout);
	put_opt(fd, IPPROTO_TCP, TCP_KEEPCNT);
	fputs(" user_timeout=", stdout);
	put_opt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT);
	putchar('\n');
	return 0;
}

int main(int argc, char **argv)
{
	long cur_pid = -1;
	int pidfd = -1, pidfd_err = 0, denied_pid_reported = 0;
	int status = EXIT_ALL_READ;
	int i;

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout);
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "--version")) {
		printf("%s (libkapreload) %s\n", prog, KAP_VERSION);
		return 0;
	}
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	/* Validate everything first so a typo does not leave half the work done. */
	for (i = 1; i < argc; i++) {
		const char *colon = strchr(argv[i], ':');
		long v;

		if (!colon || parse_int(argv[i], colon, INT_MAX, &v) || v == 0 ||
		    parse_int(colon + 1, colon + strlen(colon), INT_MAX, &v)) {
			fprintf(stderr, "%s: bad argument '%s': expected PID:FD (try --help)\n",
				prog, argv[i]);
			return EXIT_USAGE;
		}
	}

	for (i = 1; i < argc; i++) {
		const char *colon = strchr(argv[i], ':');
		long pid, tfd;
		int fd, err;

		parse_int(argv[i], colon, INT_MAX, &pid);
		parse_int(colon + 1, colon + strlen(colon), INT_MAX, &tfd);

		if (pid != cur_pid) {
			if (pidfd >= 0)
				close(pidfd);
			cur_pid = pid;
			denied_pid_reported = 0;
			pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0u);
			pidfd_err = pidfd < 0 ? errno : 0;
			if (pidfd_err == ESRCH)
				fprintf(stderr, "%s: pid %ld: no such process\n", prog, pid);
		}
		if (pidfd < 0) {
			err = pidfd_err;
		} else {
			warn_cgroup_tagging_once();
			fd = (int)syscall(SYS_pidfd_getfd, pidfd, (int)tfd, 0u);
			if (fd < 0) {
				err = errno;
			} else {
				err = print_socket(pid, tfd, fd);
				/* A duplicate kept open would outlive the target's close(). */
				close(fd);
			}
		}
		if (err == 0)
			continue;

		printf("%ld %ld error=%s\n", pid, tfd, errno_name(err));
		if (err == ENOSYS) {
			fprintf(stderr,
				"%s: pidfd_open/pidfd_getfd not supported by this kernel "
				"(Linux 5.6 or later is needed)\n",
				prog);
			fflush(stdout);
			return EXIT_NO_KERNEL_SUPPORT;
		}
		if (err == EPERM || err == EACCES) {
			if (!denied_pid_reported)
				fprintf(stderr,
					"%s: pid %ld: no permission to read its sockets: "
					"pidfd_getfd needs ptrace permission over the process "
					"(run as root, or as the same user with "
					"kernel.yama.ptrace_scope=0)\n",
					prog, pid);
			denied_pid_reported = 1;
			status = EXIT_PERMISSION;
		} else if (status == EXIT_ALL_READ) {
			status = EXIT_SOME_UNREADABLE;
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "%s: write error: %s\n", prog, strerror(errno));
		return EXIT_USAGE;
	}
	return status;
}
