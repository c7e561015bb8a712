/*
 * The configuration as one plain struct, and the pure parser that fills it.
 *
 * Nothing here does I/O: the caller hands in the file's text and a function
 * that looks up environment variables, and reads problems back from
 * cfg->diags.  That keeps the parser unit-testable and fuzzable without
 * LD_PRELOAD, and lets the library print its messages only once it knows
 * where messages should go (KAP_LOG_TARGET may be parsed after a bad value).
 */
#ifndef KAP_CONFIG_H
#define KAP_CONFIG_H

#include <stddef.h>
#include <stdint.h>

/* Kernel limits from include/net/tcp.h, which userspace headers lack. */
#define KAP_IDLE_MAX	 32767
#define KAP_INTERVAL_MAX 32767
#define KAP_COUNT_MAX	 127
#define KAP_UTO_MAX	 2147483647L

#define KAP_UNSET    (-1)  /* no source set this parameter */
#define KAP_UTO_AUTO (-2L) /* user_timeout = auto: idle + interval * count */

/* Bounded so that the whole configuration is one static object. */
#define KAP_FILE_MAX	  (64 * 1024)
#define KAP_MAX_RULES	  32
#define KAP_MAX_PREFIXES  16 /* per rule */
#define KAP_RULE_NAME_MAX 32
#define KAP_PATH_MAX	  256
#define KAP_PATTERNS_MAX  512
#define KAP_MAX_DIAGS	  16
#define KAP_DIAG_LEN	  256

enum kap_log_level {
	KAP_LOG_OFF = 0,
	KAP_LOG_ERROR,
	KAP_LOG_WARN,
	KAP_LOG_INFO,
	KAP_LOG_DEBUG,
};

enum kap_direction {
	KAP_DIR_ANY = 0,
	KAP_DIR_OUTBOUND, /* connect() */
	KAP_DIR_INBOUND,  /* accept() */
};

/* What one source (environment, file, a rule) says about a socket. */
struct kap_params {
	int enable;	   /* KAP_UNSET, 0 or 1 */
	int idle;	   /* seconds, 1..KAP_IDLE_MAX or KAP_UNSET */
	int interval;	   /* seconds, 1..KAP_INTERVAL_MAX or KAP_UNSET */
	int count;	   /* probes, 1..KAP_COUNT_MAX or KAP_UNSET */
	long user_timeout; /* ms, 0..KAP_UTO_MAX, KAP_UTO_AUTO or KAP_UNSET; 0 = leave alone */
};

struct kap_prefix {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t len;	/* prefix length in bits */
	uint8_t addr[16];
};

struct kap_rule {
	char name[KAP_RULE_NAME_MAX];
	int line; /* line of the [rule NAME] header, for messages */
	enum kap_direction direction;
	int nprefixes; /* 0 = any peer */
	struct kap_prefix prefixes[KAP_MAX_PREFIXES];
	uint16_t port_lo, port_hi; /* 0..65535 = any port */
	struct kap_params params;
};

struct kap_diag {
	int level; /* enum kap_log_level of the message */
	char text[KAP_DIAG_LEN];
};

/* The scalars come first: a start-up without a file touches one page of this. */
struct kap_config {
	struct kap_params global;
	int override;  /* 0 or 1 */
	int log_level; /* enum kap_log_level, default KAP_LOG_WARN */
	int nrules;
	int include_set, exclude_set; /* the lists below were given */
	int ndiags;
	int dropped_diags;			 /* problems past KAP_MAX_DIAGS, counted not kept */
	char log_target[KAP_PATH_MAX];		 /* "stderr", "syslog" or an absolute path */
	char include_programs[KAP_PATTERNS_MAX]; /* space-separated globs */
	char exclude_programs[KAP_PATTERNS_MAX];
	struct kap_rule rules[KAP_MAX_RULES];
	struct kap_diag diags[KAP_MAX_DIAGS];
};

typedef const char *(*kap_getenv_fn)(const char *name);

void kap_config_init(struct kap_config *cfg);
void kap_config_parse_file(struct kap_config *cfg, const char *text, size_t len,
			   const char *filename);
void kap_config_apply_env(struct kap_config *cfg, kap_getenv_fn getenv_fn);
void kap_config_diag(struct kap_config *cfg, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
