/*
 * The policy: which sockets are TCP, which values apply to each, applying
 * them, and remembering what the application set itself.  Everything here
 * after kap_policy_setup() is async-signal-safe: no allocation, no lock, no
 * getenv, no stdio, only socket calls on the descriptor at hand.
 */
#ifndef KAP_POLICY_H
#define KAP_POLICY_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config.h"

/* Internal to the library: direct, not GOT-relative, access on the hot path. */
#pragma GCC visibility push(hidden)

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

/*
 * The options we manage, in the order they are applied: the timer values
 * come before SO_KEEPALIVE so that turning keepalive on arms the timer with
 * them rather than with the sysctl's.
 */
enum kap_opt {
	KAP_OPT_IDLE,
	KAP_OPT_INTERVAL,
	KAP_OPT_COUNT,
	KAP_OPT_USER_TIMEOUT,
	KAP_OPT_KEEPALIVE,
	KAP_NOPTS
};

/* What to set on one socket, compiled from kap_params once at start-up. */
struct kap_profile {
	uint8_t mask;		 /* 1 << opt for each option set */
	uint8_t nopts;		 /* entries used in opts[] */
	uint8_t opts[KAP_NOPTS]; /* the options set, in apply order */
	int value[KAP_NOPTS];	 /* indexed by enum kap_opt */
};

/* The kernel's defaults in this network namespace, for user_timeout = auto. */
struct kap_sysctl {
	int idle, interval, count;
};

/* Returns 1 when some socket could need configuring, 0 for pass-through. */
int kap_policy_setup(const struct kap_config *cfg, const struct kap_sysctl *sys);
void kap_profile_build(struct kap_profile *p, const struct kap_params *v, int explicit_off,
		       const struct kap_sysctl *sys);
const struct kap_profile *kap_policy_profile(int index); /* 0 = global, 1 + rule */

/* As the kernel would create it: TCP or MPTCP over IPv4 or IPv6. */
static inline int kap_is_tcp(int domain, int type, int protocol)
{
	/* The type first: it alone turns UDP away, the most common other socket. */
	return (type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) == SOCK_STREAM &&
	       (domain == AF_INET || domain == AF_INET6) &&
	       (protocol == 0 || protocol == IPPROTO_TCP || protocol == IPPROTO_MPTCP);
}

/* socket() for a kap_is_tcp() triple: the real call, then the global values. */
int kap_socket_tcp(int domain, int type, int protocol);
void kap_forget(int fd);
void kap_on_connect(int fd, const struct sockaddr *addr, socklen_t len);
/* addr_len: the part of *addr the kernel filled (the smaller of the caller's buffer and the
 * address). */
void kap_on_accept(int listen_fd, int fd, const struct sockaddr *addr, socklen_t addr_len);

/* enum kap_opt for a (level, name) we manage, or -1. */
int kap_managed_option(int level, int name);
/* 1 when override is on and our value of opt on fd must stay. */
int kap_keeps_option(int fd, int opt);
/* The application set opt on fd itself, to *val. */
void kap_note_app_option(int fd, int opt, const void *val, socklen_t len);

#pragma GCC visibility pop

#endif
