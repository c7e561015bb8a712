/*
 * The interposed calls.  Each forwards to the real one and hands the result
 * to the policy; return value and errno are always the real call's.
 */
#include <errno.h>

#include "init.h"
#include "policy.h"
#include "real.h"

#define EXPORT __attribute__((visibility("default")))

/* dlsym found no next definition: fail like a missing system call. */
static int missing(void)
{
	errno = ENOSYS;
	return -1;
}

EXPORT int socket(int domain, int type, int protocol)
{
	int active = kap_ready();
	int fd;

	if (__builtin_expect(!kap_real.socket, 0))
		return missing();
	fd = kap_real.socket(domain, type, protocol);
	if (fd >= 0 && active) {
		if (kap_is_tcp(domain, type, protocol))
			kap_on_socket(fd, protocol);
		else
			kap_forget(fd);
	}
	return fd;
}

EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	int active = kap_ready();

	if (__builtin_expect(!kap_real.connect, 0))
		return missing();
	/* Only an IPv4 or IPv6 destination can start a TCP connection. */
	if (active && addr && len >= sizeof(struct sockaddr_in) &&
	    (addr->sa_family == AF_INET || addr->sa_family == AF_INET6))
		kap_on_connect(fd, addr, len);
	return kap_real.connect(fd, addr, len);
}

EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	int active = kap_ready();
	int new_fd;

	if (__builtin_expect(!kap_real.accept, 0))
		return missing();
	new_fd = kap_real.accept(fd, addr, len);
	if (new_fd >= 0 && active)
		kap_on_accept(fd, new_fd, addr, len);
	return new_fd;
}

EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	int active = kap_ready();
	int new_fd;

	if (__builtin_expect(!kap_real.accept4, 0))
		return missing();
	new_fd = kap_real.accept4(fd, addr, len, flags);
	if (new_fd >= 0 && active)
		kap_on_accept(fd, new_fd, addr, len);
	return new_fd;
}

/* Needed to know what the application set itself, and for override. */
EXPORT int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	int active = kap_ready();
	int opt, rc;

	if (__builtin_expect(!kap_real.setsockopt, 0))
		return missing();
	if (!active || (opt = kap_managed_option(level, name)) < 0)
		return kap_real.setsockopt(fd, level, name, val, len);
	if (kap_keeps_option(fd, opt))
		return 0; /* override: our value stays, the call still succeeds */
	rc = kap_real.setsockopt(fd, level, name, val, len);
	if (rc == 0)
		kap_note_app_option(fd, opt);
	return rc;
}
