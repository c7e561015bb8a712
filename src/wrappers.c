/*
 * The interposed calls.  Each forwards to the real one and hands the result
 * to the policy; return value and errno are always the real call's.
 *
 * Each wrapper has a hot path (start-up done: one load, then either the
 * policy or a tail call to the real function, so a program's AF_UNIX and
 * UDP sockets pay a handful of instructions) and a cold path taken only
 * before start-up finished, e.g. from another library's constructor.
 */
#include <errno.h>

#include "init.h"
#include "policy.h"
#include "real.h"

#define EXPORT __attribute__((visibility("default")))
#define COLD   __attribute__((noinline, cold))

static inline int mode_now(void)
{
	return __atomic_load_n(&kap_mode, __ATOMIC_ACQUIRE);
}

/* Before start-up resolved it, or when dlsym found nothing, never call NULL. */
static int missing(void)
{
	errno = ENOSYS;
	return -1;
}

static inline int do_socket(int mode, int domain, int type, int protocol)
{
	if (mode == KAP_MODE_ACTIVE && kap_is_tcp(domain, type, protocol))
		return kap_socket_tcp(domain, type, protocol);
	return kap_real.socket ? kap_real.socket(domain, type, protocol) : missing();
}

static COLD int socket_cold(int domain, int type, int protocol)
{
	return do_socket(kap_init_slow(), domain, type, protocol);
}

EXPORT int socket(int domain, int type, int protocol)
{
	int mode = mode_now();

	if (__builtin_expect(mode < KAP_MODE_PASS, 0))
		return socket_cold(domain, type, protocol);
	if (mode == KAP_MODE_ACTIVE && kap_is_tcp(domain, type, protocol))
		return kap_socket_tcp(domain, type, protocol);
	return kap_real.socket(domain, type, protocol);
}

static inline int do_connect(int mode, int fd, const struct sockaddr *addr, socklen_t len)
{
	/* Only an IPv4 or IPv6 destination can start a TCP connection. */
	if (mode == KAP_MODE_ACTIVE && addr && len >= sizeof(struct sockaddr_in) &&
	    (addr->sa_family == AF_INET || addr->sa_family == AF_INET6))
		kap_on_connect(fd, addr, len);
	return kap_real.connect ? kap_real.connect(fd, addr, len) : missing();
}

static COLD int connect_cold(int fd, const struct sockaddr *addr, socklen_t len)
{
	return do_connect(kap_init_slow(), fd, addr, len);
}

EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	int mode = mode_now();

	if (__builtin_expect(mode < KAP_MODE_PASS, 0))
		return connect_cold(fd, addr, len);
	return do_connect(mode, fd, addr, len);
}

static inline int do_accept4(int mode, int fd, struct sockaddr *addr, socklen_t *len, int flags,
			     int with_flags)
{
	/* The kernel reports the full address length even when it truncated it. */
	socklen_t given = addr && len ? *len : 0;
	int new_fd;

	/* accept() stays accept(): a seccomp filter may allow one and not the other. */
	if (with_flags ? !kap_real.accept4 : !kap_real.accept)
		return missing();
	new_fd =
	    with_flags ? kap_real.accept4(fd, addr, len, flags) : kap_real.accept(fd, addr, len);
	if (new_fd >= 0 && mode == KAP_MODE_ACTIVE)
		kap_on_accept(fd, new_fd, addr, given && given > *len ? *len : given);
	return new_fd;
}

static COLD int accept_cold(int fd, struct sockaddr *addr, socklen_t *len, int flags,
			    int with_flags)
{
	return do_accept4(kap_init_slow(), fd, addr, len, flags, with_flags);
}

EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	int mode = mode_now();

	if (__builtin_expect(mode < KAP_MODE_PASS, 0))
		return accept_cold(fd, addr, len, 0, 0);
	return do_accept4(mode, fd, addr, len, 0, 0);
}

EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	int mode = mode_now();

	if (__builtin_expect(mode < KAP_MODE_PASS, 0))
		return accept_cold(fd, addr, len, flags, 1);
	return do_accept4(mode, fd, addr, len, flags, 1);
}

/* Needed to know what the application set itself, and for override. */
static inline int do_setsockopt(int mode, int fd, int level, int name, const void *val,
				socklen_t len)
{
	int opt, rc;

	if (!kap_real.setsockopt)
		return missing();
	if (mode != KAP_MODE_ACTIVE || (opt = kap_managed_option(level, name)) < 0)
		return kap_real.setsockopt(fd, level, name, val, len);
	if (kap_keeps_option(fd, opt))
		return 0; /* override: our value stays, the call still succeeds */
	rc = kap_real.setsockopt(fd, level, name, val, len);
	if (rc == 0)
		kap_note_app_option(fd, opt, val, len);
	return rc;
}

static COLD int setsockopt_cold(int fd, int level, int name, const void *val, socklen_t len)
{
	return do_setsockopt(kap_init_slow(), fd, level, name, val, len);
}

EXPORT int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	int mode = mode_now();

	if (__builtin_expect(mode < KAP_MODE_PASS, 0))
		return setsockopt_cold(fd, level, name, val, len);
	return do_setsockopt(mode, fd, level, name, val, len);
}
