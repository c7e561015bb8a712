#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bare_syscall.h"
#include "config.h"
#include "init.h"
#include "log.h"
#include "policy.h"
#include "real.h"

#ifndef KAP_SYSCONFDIR
#define KAP_SYSCONFDIR "/etc"
#endif

int kap_mode = KAP_MODE_UNINIT;
/* Set while this thread runs start-up: its own calls into a wrapper only forward. */
static __thread int init_running_here __attribute__((tls_model("initial-exec")));
static pid_t init_pid;

/*
 * Static: start-up may run on a small thread stack, and nothing is freed.
 * On x86-64, GCC and the linker put .lbss after every other variable: the
 * library's small state then shares the one page that the loader has
 * already written, and start-up touches no other page of data unless a
 * file has rules.  Elsewhere the order is the compiler's, which may cost a
 * page fault or two per process.
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define AFTER_ALL_OTHER_DATA __attribute__((section(".lbss")))
#else
#define AFTER_ALL_OTHER_DATA
#endif
static struct kap_config cfg AFTER_ALL_OTHER_DATA;

/* Environment entries that may be ours, gathered in one pass (env_index). */
#define ENV_OURS_MAX 32
static const char *env_ours[ENV_OURS_MAX];
static int env_nours, env_secure;

/*
 * The index keeps only entries that start like the names the parser asks
 * for (KAP_, KEEP..., DD_...); env_lookup sends any other name to libc.
 */
static int may_be_ours(const char *name)
{
	return name[0] == 'K' || name[0] == 'D';
}

/*
 * One pass over the environment instead of one secure_getenv per name: the
 * parser asks for some twenty names.  Like secure_getenv, a setuid or setgid
 * program sees no environment at all.
 */
static void env_index(void)
{
	char **e;

	env_secure = getauxval(AT_SECURE) != 0;
	env_nours = 0;
	for (e = environ; e && *e && !env_secure; e++) {
		if (!may_be_ours(*e))
			continue;
		if (env_nours == ENV_OURS_MAX) {
			env_nours = -1; /* too many to keep: ask libc instead */
			break;
		}
		env_ours[env_nours++] = *e;
	}
}

/* The value of ENTRY ("NAME=value") if its name is NAME, else NULL. */
static const char *env_value(const char *entry, const char *name)
{
	while (*name && *entry == *name) {
		entry++;
		name++;
	}
	return *name == '\0' && *entry == '=' ? entry + 1 : NULL;
}

/* The first NAME=value entry wins, as with getenv. */
static const char *env_lookup(const char *name)
{
	const char *v = NULL;
	int i;

	if (env_secure)
		return NULL;
	/* Too many entries to keep, or a name the index cannot hold: ask libc. */
	if (env_nours < 0 || !may_be_ours(name))
		return secure_getenv(name);
	for (i = 0; i < env_nours && !v; i++)
		v = env_value(env_ours[i], name);
	return v;
}

/*
 * Reads the whole file into a fresh mapping of KAP_FILE_MAX + 1 bytes, so
 * that a start-up without a file pays nothing for the buffer; returns its
 * length, or -1 (reported) with nothing mapped.
 */
static ssize_t read_file(const char *path, int report_missing, char **text)
{
	struct stat st;
	ssize_t len = 0, n;
	char *buf;
	int fd;

	/* O_NONBLOCK: a FIFO named as the config must not hang the program. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (report_missing || errno != ENOENT)
			kap_config_diag(&cfg, KAP_LOG_ERROR, "%s: cannot open: %s; no file used",
					path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		kap_config_diag(&cfg, KAP_LOG_ERROR, "%s: not a regular file; no file used", path);
		close(fd);
		return -1;
	}
	buf = mmap(NULL, KAP_FILE_MAX + 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		   0);
	if (buf == MAP_FAILED) {
		kap_config_diag(&cfg, KAP_LOG_ERROR, "%s: cannot map a buffer: %s; no file used",
				path, strerror(errno));
		close(fd);
		return -1;
	}
	while (len <= KAP_FILE_MAX &&
	       (n = read(fd, buf + len, KAP_FILE_MAX + 1 - (size_t)len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			kap_config_diag(&cfg, KAP_LOG_ERROR, "%s: cannot read: %s; no file used",
					path, strerror(errno));
			len = -1;
			break;
		}
		len += n;
	}
	close(fd);
	if (len > KAP_FILE_MAX) {
		kap_config_diag(&cfg, KAP_LOG_ERROR, "%s: larger than %d bytes; no file used", path,
				KAP_FILE_MAX);
		len = -1;
	}
	if (len < 0)
		munmap(buf, KAP_FILE_MAX + 1);
	else
		*text = buf;
	return len;
}

/* KAP_CONFIG names the file; empty means none; unset means the default, silently if absent. */
static void load_config(void)
{
	const char *env = env_lookup("KAP_CONFIG");
	const char *path = env ? env : KAP_SYSCONFDIR "/keepalive.conf";
	ssize_t len;
	char *text;

	kap_config_init(&cfg);
	if (env && !*env)
		return;
	len = read_file(path, env != NULL, &text);
	if (len >= 0) {
		kap_config_parse_file(&cfg, text, (size_t)len, path);
		munmap(text, KAP_FILE_MAX + 1);
	}
}

static int read_sysctl(const char *path, int fallback)
{
	char buf[32];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), v;

	if (fd < 0)
		return fallback;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return fallback;
	buf[n] = '\0';
	v = atoi(buf);
	return v > 0 ? v : fallback;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/*
 * The base name of argv[0], streamed from /proc/self/cmdline: argv[0] may
 * be far longer than any buffer, and only what follows its last '/' counts.
 */
static void argv0_base_name(char *out, size_t size)
{
	char buf[512];
	size_t len = 0;
	ssize_t n, i;
	int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);

	out[0] = '\0';
	if (fd < 0)
		return;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (i = 0; i < n && buf[i]; i++) {
			if (buf[i] == '/')
				len = 0;
			else if (len < size - 1)
				out[len++] = buf[i];
		}
		out[len] = '\0';
		if (i < n)
			break; /* the NUL that ends argv[0] */
	}
	close(fd);
}

/* Reads the base names of /proc/self/exe and of argv[0]. */
static void program_names(char *exe, size_t exe_size, char *argv0, size_t argv0_size)
{
	char buf[PATH_MAX];
	ssize_t n;

	exe[0] = '\0';
	n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	if (n > 0) {
		const char *base;
		size_t len;

		buf[n] = '\0';
		base = base_name(buf);
		len = strlen(base) < exe_size ? strlen(base) : exe_size - 1;
		memcpy(exe, base, len);
		exe[len] = '\0';
	}
	argv0_base_name(argv0, argv0_size);
}

/* 1 when a space-separated glob of list matches either name. */
static int list_matches(const char *list, const char *exe, const char *argv0)
{
	char pattern[KAP_PATTERNS_MAX];
	const char *p = list;

	while (*p) {
		size_t n;

		p += strspn(p, " \t");
		n = strcspn(p, " \t");
		if (n == 0)
			break;
		snprintf(pattern, sizeof(pattern), "%.*s", (int)n, p);
		if ((exe[0] && fnmatch(pattern, exe, 0) == 0) ||
		    (argv0[0] && fnmatch(pattern, argv0, 0) == 0))
			return 1;
		p += n;
	}
	return 0;
}

static int program_selected(void)
{
	char exe[KAP_PATH_MAX], argv0[KAP_PATH_MAX], msg[KAP_DIAG_LEN];

	if (!cfg.include_set && !cfg.exclude_set)
		return 1;
	program_names(exe, sizeof(exe), argv0, sizeof(argv0));
	if (cfg.exclude_set && list_matches(cfg.exclude_programs, exe, argv0)) {
		snprintf(msg, sizeof(msg),
			 "%.64s: excluded by exclude_programs; not touching sockets", exe);
		kap_log(KAP_LOG_INFO, msg);
		return 0;
	}
	if (cfg.include_set && !list_matches(cfg.include_programs, exe, argv0)) {
		snprintf(msg, sizeof(msg), "%.64s: not in include_programs; not touching sockets",
			 exe);
		kap_log(KAP_LOG_INFO, msg);
		return 0;
	}
	return 1;
}

static void log_summary(void)
{
	const struct kap_profile *p = kap_policy_profile(0);
	char msg[KAP_DIAG_LEN];
	int n;

	if (kap_log_level < KAP_LOG_INFO)
		return;
	n = snprintf(msg, sizeof(msg), "active: keepalive %s",
		     p->mask & (1u << KAP_OPT_KEEPALIVE) ? "on" : "untouched");
	if (p->mask & (1u << KAP_OPT_IDLE))
		n += snprintf(msg + n, sizeof(msg) - (size_t)n, ", idle %d s",
			      p->value[KAP_OPT_IDLE]);
	if (p->mask & (1u << KAP_OPT_INTERVAL))
		n += snprintf(msg + n, sizeof(msg) - (size_t)n, ", interval %d s",
			      p->value[KAP_OPT_INTERVAL]);
	if (p->mask & (1u << KAP_OPT_COUNT))
		n += snprintf(msg + n, sizeof(msg) - (size_t)n, ", count %d",
			      p->value[KAP_OPT_COUNT]);
	if (p->mask & (1u << KAP_OPT_USER_TIMEOUT))
		n += snprintf(msg + n, sizeof(msg) - (size_t)n, ", user timeout %d ms",
			      p->value[KAP_OPT_USER_TIMEOUT]);
	snprintf(msg + n, sizeof(msg) - (size_t)n, ", override %s, %d rule%s",
		 cfg.override == 1 ? "on" : "off", cfg.nrules, cfg.nrules == 1 ? "" : "s");
	kap_log(KAP_LOG_INFO, msg);
}

static int uses_auto_user_timeout(void)
{
	int i;

	if (cfg.global.user_timeout == KAP_UTO_AUTO)
		return 1;
	for (i = 0; i < cfg.nrules; i++)
		if (cfg.rules[i].params.user_timeout == KAP_UTO_AUTO)
			return 1;
	return 0;
}

static int run_init(void)
{
	struct kap_sysctl sys;
	int i;

	if (!kap_real.socket || !kap_real.connect || !kap_real.accept || !kap_real.accept4 ||
	    !kap_real.setsockopt)
		return KAP_MODE_BROKEN;
	env_index();
	load_config();
	kap_config_apply_env(&cfg, env_lookup);
	kap_log_setup(cfg.log_level, cfg.log_target);
	for (i = 0; i < cfg.ndiags; i++)
		kap_log(cfg.diags[i].level, cfg.diags[i].text);
	if (cfg.dropped_diags > 0) {
		char msg[64];

		snprintf(msg, sizeof(msg), "%d more problems not shown", cfg.dropped_diags);
		kap_log(KAP_LOG_WARN, msg);
	}
	if (!program_selected())
		return KAP_MODE_PASS;
	/* The sysctls matter only to user_timeout = auto: skip three opens otherwise. */
	sys = (struct kap_sysctl){7200, 75, 9};
	if (uses_auto_user_timeout()) {
		sys.idle = read_sysctl("/proc/sys/net/ipv4/tcp_keepalive_time", sys.idle);
		sys.interval = read_sysctl("/proc/sys/net/ipv4/tcp_keepalive_intvl", sys.interval);
		sys.count = read_sysctl("/proc/sys/net/ipv4/tcp_keepalive_probes", sys.count);
	}
	if (!kap_policy_setup(&cfg, &sys)) {
		kap_log(KAP_LOG_INFO, "keepalive disabled: not touching sockets");
		return KAP_MODE_PASS;
	}
	log_summary();
	return KAP_MODE_ACTIVE;
}

int kap_init_slow(void)
{
	for (;;) {
		int expected = KAP_MODE_UNINIT;

		if (__atomic_compare_exchange_n(&kap_mode, &expected, KAP_MODE_INITIALIZING, 0,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			init_running_here = 1;
			__atomic_store_n(&init_pid, kap_getpid(), __ATOMIC_RELAXED);
			kap_real_resolve();
			__atomic_store_n(&kap_mode, run_init(), __ATOMIC_RELEASE);
			init_running_here = 0;
			break;
		}
		if (expected != KAP_MODE_INITIALIZING)
			break;
		/* Our own start-up calling back into a wrapper: just forward. */
		if (init_running_here)
			break;
		/* Forked while another thread was initialising: start over here. */
		pid_t pid = __atomic_load_n(&init_pid, __ATOMIC_RELAXED);

		if (pid != 0 && pid != kap_getpid()) {
			__atomic_compare_exchange_n(&kap_mode, &expected, KAP_MODE_UNINIT, 0,
						    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
			continue;
		}
		sched_yield();
	}
	/* While we initialise, our own calls only forward: they need the pointers. */
	kap_real_resolve();
	return __atomic_load_n(&kap_mode, __ATOMIC_ACQUIRE);
}

__attribute__((constructor)) static void kap_constructor(void)
{
	kap_init_slow();
}
