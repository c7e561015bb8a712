/*
 * A library that calls socket() from inside open(), for hostile_ctor.sh.
 * Preloaded after the shim, its open() is the one the shim's start-up calls
 * to read its configuration file, so the shim is entered again while its
 * start-up is still running:
 * - by default, socket() in the same thread: the wrapper must forward at
 *   once, since waiting for start-up would wait for itself forever;
 * - with KH_REENTER_FORK set, another thread forks and the child calls
 *   socket(): in the child nobody is running start-up any more, so the shim
 *   must start over there instead of waiting, and configure the socket.
 * Prints at exit what happened, one "kh_reenter ..." line on stderr.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *result = "none"; /* open() was never called */

/* The forked child: 0 when its TCP socket came out with keepalive on. */
static void child_socket(void)
{
	int on = 0, fd = socket(AF_INET, SOCK_STREAM, 0);
	socklen_t len = sizeof(on);

	if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, &len) != 0)
		_exit(2);
	_exit(on ? 0 : 1);
}

/* Forks, and gives the child 10 s to finish before calling it hung. */
static void *fork_and_wait(void *arg)
{
	struct timespec tick = {0, 10 * 1000 * 1000};
	int status, i;
	pid_t pid = fork();

	(void)arg;
	if (pid == 0)
		child_socket();
	if (pid < 0) {
		result = "fork_failed";
		return NULL;
	}
	for (i = 0; i < 1000; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;

			result = code == 0   ? "child_configured"
				 : code == 1 ? "child_unconfigured"
					     : "child_failed";
			return NULL;
		}
		nanosleep(&tick, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	result = "child_hung";
	return NULL;
}

static void nested_socket(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	result = fd >= 0 ? "nested_socket_ok" : "nested_socket_failed";
	if (fd >= 0)
		close(fd);
}

int open(const char *path, int flags, ...)
{
	static int done;
	int (*real)(const char *, int, ...);
	mode_t mode = 0;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_list ap;

		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	if (!done) {
		done = 1;
		if (getenv("KH_REENTER_FORK")) {
			pthread_t t;

			if (pthread_create(&t, NULL, fork_and_wait, NULL) == 0)
				pthread_join(t, NULL);
			else
				result = "thread_failed";
		} else {
			nested_socket();
		}
	}
	*(void **)&real = dlsym(RTLD_NEXT, "open");
	return real ? real(path, flags, mode) : -1;
}

__attribute__((destructor)) static void report(void)
{
	char msg[64];
	int n = snprintf(msg, sizeof(msg), "kh_reenter %s\n", result);

	if (n > 0)
		(void)!write(2, msg, (size_t)n);
}
