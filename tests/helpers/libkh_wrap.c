/*
 * Another socket shim, for hostile_ctor.sh: a pass-through socket(),
 * connect() and setsockopt() that resolve the next definition with
 * dlsym(RTLD_NEXT), as most shims do.  It aborts on re-entry in the same
 * thread (two shims calling each other in a loop) and prints at exit how
 * many socket() calls went through it, so a test sees each call pass exactly
 * once whichever of the two shims comes first in LD_PRELOAD.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static _Thread_local int depth;
static unsigned long sockets, connects, setsockopts;

static void enter(const char *name)
{
	if (depth++ > 0) {
		char msg[80];
		int n = snprintf(msg, sizeof(msg), "kh_wrap: %s re-entered: recursion\n", name);

		if (n > 0 && write(2, msg, (size_t)n) < 0)
			abort();
		abort();
	}
}

int socket(int domain, int type, int protocol)
{
	int (*real)(int, int, int);
	int rc;

	enter("socket");
	*(void **)&real = dlsym(RTLD_NEXT, "socket");
	rc = real ? real(domain, type, protocol) : -1;
	__atomic_add_fetch(&sockets, 1, __ATOMIC_RELAXED);
	depth--;
	return rc;
}

int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	int (*real)(int, const struct sockaddr *, socklen_t);
	int rc;

	enter("connect");
	*(void **)&real = dlsym(RTLD_NEXT, "connect");
	rc = real ? real(fd, addr, len) : -1;
	__atomic_add_fetch(&connects, 1, __ATOMIC_RELAXED);
	depth--;
	return rc;
}

int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	int (*real)(int, int, int, const void *, socklen_t);
	int rc;

	enter("setsockopt");
	*(void **)&real = dlsym(RTLD_NEXT, "setsockopt");
	rc = real ? real(fd, level, name, val, len) : -1;
	__atomic_add_fetch(&setsockopts, 1, __ATOMIC_RELAXED);
	depth--;
	return rc;
}

__attribute__((destructor)) static void kh_wrap_report(void)
{
	char msg[120];
	int n = snprintf(msg, sizeof(msg), "kh_wrap socket=%lu connect=%lu setsockopt=%lu\n",
			 sockets, connects, setsockopts);

	if (n > 0 && write(2, msg, (size_t)n) < 0)
		return;
}
