#include <errno.h>
#include <limits.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bare_syscall.h"
#include "log.h"
#include "policy.h"
#include "real.h"
#include "rules.h"

#define BIT(opt)    ((uint8_t)(1u << (opt)))
#define FALLTHROUGH __attribute__((fallthrough))

static const struct {
	int level, name;
	const char *label;
} option[KAP_NOPTS] = {
    [KAP_OPT_IDLE] = {IPPROTO_TCP, TCP_KEEPIDLE, "idle"},
    [KAP_OPT_INTERVAL] = {IPPROTO_TCP, TCP_KEEPINTVL, "interval"},
    [KAP_OPT_COUNT] = {IPPROTO_TCP, TCP_KEEPCNT, "count"},
    [KAP_OPT_USER_TIMEOUT] = {IPPROTO_TCP, TCP_USER_TIMEOUT, "user_timeout"},
    [KAP_OPT_KEEPALIVE] = {SOL_SOCKET, SO_KEEPALIVE, "keepalive"},
};

/*
 * What we know of one descriptor number.  The number can be closed and
 * reused behind our back (dup2, SCM_RIGHTS, raw syscalls), so an entry is
 * a hint that is checked before anything is skipped on its word.
 */
struct kap_fd {
	uint32_t ino;	 /* a listener's socket inode, valid with FD_LEARNED */
	uint8_t flags;	 /* FD_* */
	uint8_t applied; /* options known to hold profile[profile]'s values */
	uint8_t app_set; /* options the application set itself */
	uint8_t profile; /* index into pol.profile */
};

enum {
	FD_TCP = 1,	/* a TCP or MPTCP socket */
	FD_MPTCP = 2,	/* MPTCP: no TCP_USER_TIMEOUT there */
	FD_LEARNED = 4, /* listener examined; ino says which socket that was */
	FD_CARRIES = 8, /* listener holds profile 0's values: accepted sockets inherit them */
	FD_APP_ON = 16, /* the application turned SO_KEEPALIVE on itself */
};

static struct {
	int override;
	int outbound_rules; /* some rule applies to connect() */
	int inbound_rules;  /* some rule applies to accept() */
	int inbound_peer;   /* ... and looks at the peer address */
	int inbound_port;   /* ... and looks at the local port */
	const struct kap_rule *rules;
	int nrules;
	struct kap_profile profile[1 + KAP_MAX_RULES];
	struct kap_fd *fds;
	unsigned nfds;
	struct kap_fd new_socket; /* the entry of a TCP socket made by socket() */
	/* Profile 0's calls for socket(), last first (see kap_socket_tcp). */
	struct plan {
		int n;
		int level[KAP_NOPTS], name[KAP_NOPTS], value[KAP_NOPTS];
	} plan;
} pol;

/* MPTCP has no TCP_USER_TIMEOUT (ENOPROTOOPT): it is never set there. */
static const uint8_t mptcp_skip = BIT(KAP_OPT_USER_TIMEOUT);

static void profile_add(struct kap_profile *p, int opt, int value)
{
	p->mask |= BIT(opt);
	p->opts[p->nopts++] = (uint8_t)opt;
	p->value[opt] = value;
}

/*
 * enable = off in a rule is an order: clear what the socket got from its
 * listener or from socket().  A global off, or a rule that inherits it,
 * just leaves sockets alone.
 */
void kap_profile_build(struct kap_profile *p, const struct kap_params *v, int explicit_off,
		       const struct kap_sysctl *sys)
{
	long uto = v->user_timeout;

	memset(p, 0, sizeof(*p));
	if (v->enable == 0) {
		if (explicit_off)
			profile_add(p, KAP_OPT_KEEPALIVE, 0);
		return;
	}
	if (v->idle != KAP_UNSET)
		profile_add(p, KAP_OPT_IDLE, v->idle);
	if (v->interval != KAP_UNSET)
		profile_add(p, KAP_OPT_INTERVAL, v->interval);
	if (v->count != KAP_UNSET)
		profile_add(p, KAP_OPT_COUNT, v->count);
	if (uto == KAP_UTO_AUTO) {
		/* The peer is declared dead when keepalive would have; see README. */
		long long idle = v->idle != KAP_UNSET ? v->idle : sys->idle;
		long long interval = v->interval != KAP_UNSET ? v->interval : sys->interval;
		long long count = v->count != KAP_UNSET ? v->count : sys->count;
		long long ms = (idle + interval * count) * 1000;

		uto = ms > INT_MAX ? INT_MAX : (long)ms;
	}
	if (uto > 0)
		profile_add(p, KAP_OPT_USER_TIMEOUT, (int)uto);
	profile_add(p, KAP_OPT_KEEPALIVE, 1);
}

/* A rule's values, parameter by parameter over the global ones. */
static struct kap_params merge(const struct kap_params *rule, const struct kap_params *global)
{
	struct kap_params m;

	m.enable = rule->enable != KAP_UNSET ? rule->enable : global->enable;
	m.idle = rule->idle != KAP_UNSET ? rule->idle : global->idle;
	m.interval = rule->interval != KAP_UNSET ? rule->interval : global->interval;
	m.count = rule->count != KAP_UNSET ? rule->count : global->count;
	m.user_timeout =
	    rule->user_timeout != KAP_UNSET ? rule->user_timeout : global->user_timeout;
	return m;
}

int kap_policy_setup(const struct kap_config *cfg, const struct kap_sysctl *sys)
{
	struct kap_params global = cfg->global;
	int i, active;

	if (global.enable == KAP_UNSET)
		global.enable = 1;
	kap_profile_build(&pol.profile[0], &global, 0, sys);
	active = pol.profile[0].mask != 0;
	pol.override = cfg->override == 1;
	pol.rules = cfg->rules;
	pol.nrules = cfg->nrules;
	pol.outbound_rules = pol.inbound_rules = pol.inbound_peer = pol.inbound_port = 0;
	for (i = 0; i < cfg->nrules; i++) {
		const struct kap_rule *r = &cfg->rules[i];
		struct kap_params m = merge(&r->params, &global);

		kap_profile_build(&pol.profile[1 + i], &m, r->params.enable == 0, sys);
		active |= pol.profile[1 + i].mask != 0;
		if (r->direction != KAP_DIR_INBOUND)
			pol.outbound_rules = 1;
		if (r->direction != KAP_DIR_OUTBOUND) {
			pol.inbound_rules = 1;
			pol.inbound_peer |= r->nprefixes > 0;
			pol.inbound_port |= r->port_lo != 0 || r->port_hi != 65535;
		}
	}
	pol.new_socket = (struct kap_fd){.flags = FD_TCP, .applied = pol.profile[0].mask};
	pol.plan.n = pol.profile[0].nopts;
	for (i = 0; i < pol.plan.n; i++) {
		int o = pol.profile[0].opts[pol.plan.n - 1 - i];

		pol.plan.level[i] = option[o].level;
		pol.plan.name[i] = option[o].name;
		pol.plan.value[i] = pol.profile[0].value[o];
	}
	return active;
}

const struct kap_profile *kap_policy_profile(int index)
{
	return &pol.profile[index];
}

/*
 * One entry per possible descriptor, sized by the hard limit and mapped on
 * first use, so that a process that never makes a TCP socket pays nothing:
 * the kernel provides only the pages touched.  Threads racing here each map
 * a table; one wins, the others unmap theirs.
 */
static __attribute__((cold, noinline)) struct kap_fd *fd_table_miss(int fd)
{
	struct kap_fd *none = NULL;
	struct rlimit rl;
	size_t n = 65536;
	void *p;

	if (fd < 0 || __atomic_load_n(&pol.fds, __ATOMIC_ACQUIRE))
		return NULL; /* beyond the table: such descriptors go unrecorded */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY && rl.rlim_max > n)
		n = rl.rlim_max;
	if (n > (1u << 22))
		n = 1u << 22;
	p = mmap(NULL, n * sizeof(struct kap_fd), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (!__atomic_compare_exchange_n(&pol.fds, &none, (struct kap_fd *)p, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		munmap(p, n * sizeof(struct kap_fd));
		while (!__atomic_load_n(&pol.nfds, __ATOMIC_ACQUIRE))
			; /* the winner publishes the size right after the table */
	} else {
		__atomic_store_n(&pol.nfds, (unsigned)n, __ATOMIC_RELEASE);
	}
	return (unsigned)fd < __atomic_load_n(&pol.nfds, __ATOMIC_ACQUIRE) ? &pol.fds[fd] : NULL;
}

static inline struct kap_fd *fd_entry(int fd)
{
	if (__builtin_expect((unsigned)fd < __atomic_load_n(&pol.nfds, __ATOMIC_ACQUIRE), 1))
		return &pol.fds[fd];
	return fd_table_miss(fd);
}

static void debug_applied(int fd, const char *event, uint8_t done, int profile)
{
	struct kap_msg m = {.len = 0};
	int o;

	kap_msg_str(&m, "fd ");
	kap_msg_int(&m, fd);
	kap_msg_str(&m, ": ");
	kap_msg_str(&m, event);
	kap_msg_str(&m, profile ? ": rule " : ": global values");
	if (profile)
		kap_msg_str(&m, pol.rules[profile - 1].name);
	for (o = 0; o < KAP_NOPTS; o++) {
		if (!(done & BIT(o)))
			continue;
		kap_msg_str(&m, " ");
		kap_msg_str(&m, option[o].label);
		kap_msg_str(&m, "=");
		kap_msg_int(&m, pol.profile[profile].value[o]);
	}
	kap_log(KAP_LOG_DEBUG, m.text);
}

/*
 * Sets want's options on fd, except those in skip and those that `have`
 * (the values the socket is known to hold, for the options in have_mask)
 * already matches.  Returns the options that now hold want's values.
 */
static uint8_t apply(int fd, const struct kap_profile *want, const struct kap_profile *have,
		     uint8_t have_mask, uint8_t skip)
{
	uint8_t done = 0;
	int i;

	for (i = 0; i < want->nopts; i++) {
		int o = want->opts[i];

		if (skip & BIT(o))
			continue;
		if ((have_mask & BIT(o)) && have->value[o] == want->value[o]) {
			done |= BIT(o);
			continue;
		}
		if (kap_setsockopt_int(fd, option[o].level, option[o].name, &want->value[o]) == 0)
			done |= BIT(o);
	}
	return done;
}

/* MPTCP is rare and has no TCP_USER_TIMEOUT: the general path serves it. */
static __attribute__((cold, noinline)) int mptcp_socket(int domain, int type, int protocol)
{
	const struct kap_profile *p = &pol.profile[0];
	int fd = kap_real.socket(domain, type, protocol);
	struct kap_fd *e;
	uint8_t done;

	if (fd < 0)
		return fd;
	done = apply(fd, p, p, 0, mptcp_skip);
	e = fd_entry(fd);

	if (e)
		*e = (struct kap_fd){.flags = FD_TCP | FD_MPTCP, .applied = done};
	if (kap_log_level >= KAP_LOG_DEBUG)
		debug_applied(fd, "socket", done, 0);
	return fd;
}

/*
 * The hot path: runs for every TCP socket a program makes.  Straight-line
 * calls, entered by one jump (the plan lists them last first, so falling
 * through makes them in order).  The values were validated at start-up and
 * the socket is new, so the calls cannot fail for a reason of ours; whoever
 * later relies on what the table says (override, connect) reads the socket
 * back first.
 */
int kap_socket_tcp(int domain, int type, int protocol)
{
	const struct plan *plan = &pol.plan;
	struct kap_fd *e;
	int fd;

	if (__builtin_expect(protocol == IPPROTO_MPTCP, 0))
		return mptcp_socket(domain, type, protocol);
	fd = kap_real.socket(domain, type, protocol);
	if (fd < 0)
		return fd;
#define CALL(i) kap_setsockopt_int(fd, plan->level[i], plan->name[i], &plan->value[i])
	switch (plan->n) {
	case 5:
		CALL(4);
		FALLTHROUGH;
	case 4:
		CALL(3);
		FALLTHROUGH;
	case 3:
		CALL(2);
		FALLTHROUGH;
	case 2:
		CALL(1);
		FALLTHROUGH;
	case 1:
		CALL(0);
		break;
	case 0:
		break;
	default:
		__builtin_unreachable(); /* a profile has at most KAP_NOPTS options */
	}
#undef CALL
	if (__builtin_expect((unsigned)fd < __atomic_load_n(&pol.nfds, __ATOMIC_ACQUIRE), 1))
		pol.fds[fd] = pol.new_socket;
	else if ((e = fd_table_miss(fd)))
		*e = pol.new_socket;
	if (__builtin_expect(kap_log_level >= KAP_LOG_DEBUG, 0))
		debug_applied(fd, "socket", pol.new_socket.applied, 0);
	return fd;
}

void kap_forget(int fd)
{
	struct kap_fd *e = fd_entry(fd);

	if (e)
		*e = (struct kap_fd){0};
}

/* FD_TCP (| FD_MPTCP) when fd is a TCP socket over IPv4 or IPv6, else 0. */
static uint8_t classify(int fd)
{
	int domain, type, protocol;
	socklen_t len = sizeof(int);

	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &len) != 0 ||
	    !kap_is_tcp(domain, type, protocol))
		return 0;
	return protocol == IPPROTO_MPTCP ? FD_TCP | FD_MPTCP : FD_TCP;
}

/*
 * An entry that says keepalive is on (we turned it on, or the application
 * did) is believed only while the socket still has it on: otherwise the
 * number now names another socket, made behind our back.
 */
static int entry_still_valid(int fd, const struct kap_fd *e)
{
	int on = 0, expect_on;
	socklen_t len = sizeof(on);

	if (e->app_set & BIT(KAP_OPT_KEEPALIVE))
		expect_on = e->flags & FD_APP_ON;
	else
		expect_on = (e->applied & BIT(KAP_OPT_KEEPALIVE)) &&
			    pol.profile[e->profile].value[KAP_OPT_KEEPALIVE];
	if (!expect_on)
		return 1;
	return getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, &len) == 0 && on;
}

static uint16_t port_of(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return 0;
}

void kap_on_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	struct kap_fd scratch = {0}, *e = fd_entry(fd);
	const struct kap_profile *want;
	int saved_errno = errno, index = 0;
	uint8_t skip, done;

	if (!e)
		e = &scratch;
	if (!(e->flags & FD_TCP) || !entry_still_valid(fd, e)) {
		/*
		 * What the application set on a socket we never saw still
		 * counts; what a stale entry says of another socket does not.
		 */
		uint8_t app_set = e->flags & FD_TCP ? 0 : e->app_set;
		uint8_t app_on = e->flags & FD_TCP ? 0 : e->flags & FD_APP_ON;

		*e = (struct kap_fd){.flags = classify(fd), .app_set = app_set};
		if (!e->flags)
			goto out;
		e->flags |= app_on;
	}
	if (pol.outbound_rules)
		index = 1 + kap_rules_find(pol.rules, pol.nrules, KAP_DIR_OUTBOUND, addr, len,
					   port_of(addr));
	want = &pol.profile[index];
	skip = pol.override ? 0 : e->app_set;
	if (e->flags & FD_MPTCP)
		skip |= mptcp_skip;
	/* The common case: socket() already set these very values. */
	if (index == e->profile && !(want->mask & (uint8_t) ~(e->applied | skip)))
		goto out;
	done = apply(fd, want, &pol.profile[e->profile], e->applied, skip);
	e->applied = done | (e->applied & (uint8_t)~want->mask);
	e->profile = (uint8_t)index;
	if (kap_log_level >= KAP_LOG_DEBUG)
		debug_applied(fd, "connect", done, index);
out:
	errno = saved_errno;
}

/* 1 when every option of profile 0 reads back with its value on fd. */
static int holds_profile0(int fd, uint8_t skip)
{
	const struct kap_profile *p = &pol.profile[0];
	int i;

	for (i = 0; i < p->nopts; i++) {
		int o = p->opts[i], v = -1;
		socklen_t len = sizeof(v);

		if (skip & BIT(o))
			continue;
		if (getsockopt(fd, option[o].level, option[o].name, &v, &len) != 0 ||
		    v != p->value[o])
			return 0;
	}
	return 1;
}

/*
 * The kernel copies a listener's keepalive settings to each accepted socket.
 * We rely on that only for a listener we examined ourselves, recognised by
 * its inode: one fstat per accept instead of up to five setsockopt.
 */
static int listener_known(int fd, struct kap_fd *l)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return 0;
	if ((l->flags & FD_LEARNED) && l->ino == (uint32_t)st.st_ino)
		return 1;
	if (!(l->flags & FD_TCP))
		l->applied = 0; /* not from our socket(): we set nothing there */
	l->flags = classify(fd);
	l->ino = (uint32_t)st.st_ino;
	if (l->flags && holds_profile0(fd, l->flags & FD_MPTCP ? mptcp_skip : 0))
		l->flags |= FD_CARRIES;
	l->flags |= FD_LEARNED;
	return 1;
}

/* addr_len: how much of *addr the kernel filled, 0 when nothing. */
static int inbound_rule(int fd, const struct sockaddr *addr, socklen_t addr_len)
{
	struct sockaddr_storage peer, local;
	socklen_t peer_len = sizeof(peer), local_len = sizeof(local);
	const struct sockaddr *p = NULL;
	uint16_t port = 0;

	if (pol.inbound_peer) {
		if (addr &&
		    ((addr_len >= sizeof(struct sockaddr_in) && addr->sa_family == AF_INET) ||
		     (addr_len >= sizeof(struct sockaddr_in6) && addr->sa_family == AF_INET6))) {
			p = addr;
			peer_len = addr_len;
		} else if (getpeername(fd, (struct sockaddr *)&peer, &peer_len) == 0) {
			p = (struct sockaddr *)&peer;
		}
	}
	if (pol.inbound_port && getsockname(fd, (struct sockaddr *)&local, &local_len) == 0)
		port = port_of((struct sockaddr *)&local);
	return 1 +
	       kap_rules_find(pol.rules, pol.nrules, KAP_DIR_INBOUND, p, p ? peer_len : 0, port);
}

void kap_on_accept(int listen_fd, int fd, const struct sockaddr *addr, socklen_t addr_len)
{
	struct kap_fd lscratch = {0}, *l = fd_entry(listen_fd), *e = fd_entry(fd);
	const struct kap_profile *want;
	int saved_errno = errno, index = 0;
	uint8_t have, skip, done;

	/* The peer's address already tells an AF_UNIX server apart: no syscall. */
	if (addr && addr_len >= sizeof(sa_family_t) && addr->sa_family != AF_INET &&
	    addr->sa_family != AF_INET6)
		goto not_tcp;
	if (!l)
		l = &lscratch;
	if (!listener_known(listen_fd, l) || !(l->flags & FD_TCP))
		goto not_tcp;
	if (pol.inbound_rules)
		index = inbound_rule(fd, addr, addr_len);
	want = &pol.profile[index];
	have = l->flags & FD_CARRIES ? pol.profile[0].mask : 0;
	skip = pol.override ? 0 : l->app_set;
	if (l->flags & FD_MPTCP)
		skip |= mptcp_skip;
	/* The common case: the listener passed on exactly the global values. */
	if (index == 0 && (l->flags & FD_CARRIES))
		done = have;
	else
		done = apply(fd, want, &pol.profile[0], have, skip);
	if (e)
		*e = (struct kap_fd){
		    .flags = l->flags & (FD_TCP | FD_MPTCP),
		    .applied = done | (have & (uint8_t)~want->mask),
		    .app_set = l->app_set,
		    .profile = (uint8_t)index,
		};
	if (kap_log_level >= KAP_LOG_DEBUG)
		debug_applied(fd, "accept", done, index);
	errno = saved_errno;
	return;
not_tcp:
	kap_forget(fd);
	errno = saved_errno;
}

int kap_managed_option(int level, int name)
{
	if (level == SOL_SOCKET)
		return name == SO_KEEPALIVE ? KAP_OPT_KEEPALIVE : -1;
	if (level != IPPROTO_TCP)
		return -1;
	switch (name) {
	case TCP_KEEPIDLE:
		return KAP_OPT_IDLE;
	case TCP_KEEPINTVL:
		return KAP_OPT_INTERVAL;
	case TCP_KEEPCNT:
		return KAP_OPT_COUNT;
	case TCP_USER_TIMEOUT:
		return KAP_OPT_USER_TIMEOUT;
	default:
		return -1;
	}
}

/*
 * Swallowing the application's call changes what it sees, so make sure: the
 * entry may describe a socket that was closed, its number reused.
 */
int kap_keeps_option(int fd, int opt)
{
	const struct kap_fd *e = fd_entry(fd);
	int v = -1, saved_errno = errno, ours;
	socklen_t len = sizeof(v);

	if (!pol.override || !e || !(e->flags & FD_TCP) || !(e->applied & BIT(opt)))
		return 0;
	ours = getsockopt(fd, option[opt].level, option[opt].name, &v, &len) == 0 &&
	       v == pol.profile[e->profile].value[opt];
	errno = saved_errno;
	return ours;
}

void kap_note_app_option(int fd, int opt, const void *val, socklen_t len)
{
	struct kap_fd *e = fd_entry(fd);

	if (!e)
		return;
	e->app_set |= BIT(opt);
	e->applied &= (uint8_t)~BIT(opt);
	if (opt == KAP_OPT_KEEPALIVE) {
		/* Remembered so that connect() can tell this socket from a stranger. */
		int on = val && len >= sizeof(int) && *(const int *)val != 0;

		e->flags = (uint8_t)(on ? e->flags | FD_APP_ON : e->flags & ~FD_APP_ON);
	}
	/* A listener whose settings changed must be examined again. */
	e->flags &= (uint8_t) ~(FD_LEARNED | FD_CARRIES);
}
