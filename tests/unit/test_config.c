/* Unit tests for the configuration parser (src/config.c): file, environment, precedence. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"
#include "unit.h"

#define FILE_NAME "/etc/keepalive.conf"

static struct kap_config cfg;

/* A fake environment for kap_config_apply_env. */
static struct {
	const char *name, *value;
} env[32];
static int nenv;

static void env_clear(void)
{
	nenv = 0;
}

static void env_set(const char *name, const char *value)
{
	env[nenv].name = name;
	env[nenv].value = value;
	nenv++;
}

static const char *fake_getenv(const char *name)
{
	int i;

	for (i = 0; i < nenv; i++) {
		if (strcmp(env[i].name, name) == 0)
			return env[i].value;
	}
	return NULL;
}

static void parse(const char *text)
{
	kap_config_init(&cfg);
	kap_config_parse_file(&cfg, text, strlen(text), FILE_NAME);
}

/* Parses text (may be NULL) then applies the fake environment. */
static void load(const char *text)
{
	kap_config_init(&cfg);
	if (text)
		kap_config_parse_file(&cfg, text, strlen(text), FILE_NAME);
	kap_config_apply_env(&cfg, fake_getenv);
}

static int diag_is(int i, const char *want)
{
	if (i >= cfg.ndiags)
		return 0;
	if (strcmp(cfg.diags[i].text, want) != 0) {
		printf("# diag %d: got  '%s'\n# diag %d: want '%s'\n", i, cfg.diags[i].text, i,
		       want);
		return 0;
	}
	return 1;
}

static int only_diag_is(const char *want)
{
	if (cfg.ndiags != 1) {
		printf("# %d diags, want 1\n", cfg.ndiags);
		return 0;
	}
	return diag_is(0, want);
}

static int has_diag(const char *sub)
{
	int i;

	for (i = 0; i < cfg.ndiags; i++) {
		if (strstr(cfg.diags[i].text, sub))
			return 1;
	}
	return 0;
}

static int no_diags(void)
{
	int i;

	for (i = 0; i < cfg.ndiags; i++)
		printf("# unexpected diag: %s\n", cfg.diags[i].text);
	return cfg.ndiags == 0 && cfg.dropped_diags == 0;
}

static int globals_unset(void)
{
	return cfg.global.enable == KAP_UNSET && cfg.global.idle == KAP_UNSET &&
	       cfg.global.interval == KAP_UNSET && cfg.global.count == KAP_UNSET &&
	       cfg.global.user_timeout == KAP_UNSET;
}

static void test_init(void)
{
	memset(&cfg, 0x5a, sizeof(cfg));
	kap_config_init(&cfg);
	CHECK("init: globals unset", globals_unset());
	CHECK("init: override off", cfg.override == 0);
	CHECK("init: log warn", cfg.log_level == KAP_LOG_WARN);
	CHECK("init: log target stderr", strcmp(cfg.log_target, "stderr") == 0);
	CHECK("init: no rules", cfg.nrules == 0);
	CHECK("init: no lists", !cfg.include_set && !cfg.exclude_set &&
				    cfg.include_programs[0] == '\0' &&
				    cfg.exclude_programs[0] == '\0');
	CHECK("init: no diags", cfg.ndiags == 0 && cfg.dropped_diags == 0);
	parse("");
	CHECK("empty file: nothing set, silent", globals_unset() && cfg.nrules == 0 && no_diags());
	kap_config_init(&cfg);
	kap_config_parse_file(&cfg, NULL, 0, FILE_NAME);
	CHECK("NULL text: silent", no_diags());
	env_clear();
	load(NULL);
	CHECK("empty environment: nothing set, silent", globals_unset() && no_diags());
}

static void test_file_keys(void)
{
	parse("enable = off\nidle = 30\ninterval = 5\ncount = 4\nuser_timeout = 25000\n"
	      "override = on\nlog = debug\nlog_target = syslog\n"
	      "include_programs = python3* java\nexclude_programs = ssh*\n");
	CHECK("file: enable", cfg.global.enable == 0);
	CHECK("file: idle", cfg.global.idle == 30);
	CHECK("file: interval", cfg.global.interval == 5);
	CHECK("file: count", cfg.global.count == 4);
	CHECK("file: user_timeout", cfg.global.user_timeout == 25000);
	CHECK("file: override", cfg.override == 1);
	CHECK("file: log", cfg.log_level == KAP_LOG_DEBUG);
	CHECK("file: log_target syslog", strcmp(cfg.log_target, "syslog") == 0);
	CHECK("file: include_programs",
	      cfg.include_set && strcmp(cfg.include_programs, "python3* java") == 0);
	CHECK("file: exclude_programs",
	      cfg.exclude_set && strcmp(cfg.exclude_programs, "ssh*") == 0);
	CHECK("file: all keys, no diags", no_diags());

	parse("enable = YES\nuser_timeout = auto\nlog = off\nlog_target = /var/log/kap.log\n");
	CHECK("file: boolean any case", cfg.global.enable == 1);
	CHECK("file: user_timeout auto", cfg.global.user_timeout == KAP_UTO_AUTO);
	CHECK("file: log off", cfg.log_level == KAP_LOG_OFF);
	CHECK("file: log_target path", strcmp(cfg.log_target, "/var/log/kap.log") == 0);
	CHECK("file: second set, no diags", no_diags());

	parse("user_timeout = 0\nlog = error\nlog_target = stderr\noverride = false\n");
	CHECK("file: user_timeout 0", cfg.global.user_timeout == 0);
	CHECK("file: log error", cfg.log_level == KAP_LOG_ERROR);
	CHECK("file: log_target stderr", strcmp(cfg.log_target, "stderr") == 0);
	CHECK("file: override false", cfg.override == 0);

	parse("include_programs =  \tpython3*   java\t nginx  \n");
	CHECK("file: pattern list blanks collapsed",
	      strcmp(cfg.include_programs, "python3* java nginx") == 0 && no_diags());

	parse("idle = 30\nidle = 40\n");
	CHECK("file: later line overrides", cfg.global.idle == 40 && no_diags());
	parse("idle = 30\nidle = abc\n");
	CHECK("file: later bad line keeps earlier value", cfg.global.idle == 30 && cfg.ndiags == 1);
}

/* One bad value in the file: parameter unchanged, exactly one diag with this text. */
static void file_bad(const char *line, const char *want)
{
	char text[256], name[300];

	snprintf(text, sizeof(text), "%s\n", line);
	parse(text);
	snprintf(name, sizeof(name), "file bad: '%s' -> one diag, value unset", line);
	CHECK(name, globals_unset() && cfg.override == 0 && cfg.log_level == KAP_LOG_WARN &&
			strcmp(cfg.log_target, "stderr") == 0 && !cfg.include_set &&
			!cfg.exclude_set && only_diag_is(want));
}

static void test_file_bad(void)
{
	file_bad("idle = abc", FILE_NAME ":1: idle = abc: not a number, allowed 1..32767; ignored");
	file_bad("idle = 0", FILE_NAME ":1: idle = 0: out of range, allowed 1..32767; ignored");
	file_bad("idle = 99999",
		 FILE_NAME ":1: idle = 99999: out of range, allowed 1..32767; ignored");
	file_bad("idle = 32768",
		 FILE_NAME ":1: idle = 32768: out of range, allowed 1..32767; ignored");
	file_bad("idle = 99999999999999999999",
		 FILE_NAME ":1: idle = 99999999999999999999: out of range, allowed 1..32767; "
			   "ignored");
	file_bad("idle = 12abc",
		 FILE_NAME ":1: idle = 12abc: not a number, allowed 1..32767; ignored");
	file_bad("idle = 1e3", FILE_NAME ":1: idle = 1e3: not a number, allowed 1..32767; ignored");
	file_bad("idle = 3.5", FILE_NAME ":1: idle = 3.5: not a number, allowed 1..32767; ignored");
	file_bad("idle = 0x10",
		 FILE_NAME ":1: idle = 0x10: not a number, allowed 1..32767; ignored");
	file_bad("idle = -5", FILE_NAME ":1: idle = -5: out of range, allowed 1..32767; ignored");
	file_bad("idle = +5", FILE_NAME ":1: idle = +5: not a number, allowed 1..32767; ignored");
	file_bad("idle =", FILE_NAME ":1: idle: empty value, allowed 1..32767; ignored");
	file_bad("idle =   \t", FILE_NAME ":1: idle: empty value, allowed 1..32767; ignored");
	file_bad("interval = 0",
		 FILE_NAME ":1: interval = 0: out of range, allowed 1..32767; ignored");
	file_bad("interval = 32768",
		 FILE_NAME ":1: interval = 32768: out of range, allowed 1..32767; ignored");
	file_bad("interval = abc",
		 FILE_NAME ":1: interval = abc: not a number, allowed 1..32767; ignored");
	file_bad("count = 500", FILE_NAME ":1: count = 500: out of range, allowed 1..127; ignored");
	file_bad("count = 128", FILE_NAME ":1: count = 128: out of range, allowed 1..127; ignored");
	file_bad("count = 0", FILE_NAME ":1: count = 0: out of range, allowed 1..127; ignored");
	file_bad("count = abc", FILE_NAME ":1: count = abc: not a number, allowed 1..127; ignored");
	file_bad("user_timeout = 2147483648",
		 FILE_NAME ":1: user_timeout = 2147483648: out of range, allowed 0..2147483647 or "
			   "auto; ignored");
	file_bad("user_timeout = -1",
		 FILE_NAME ":1: user_timeout = -1: out of range, allowed 0..2147483647 or auto; "
			   "ignored");
	file_bad("user_timeout = soon",
		 FILE_NAME ":1: user_timeout = soon: not a number, allowed 0..2147483647 or auto; "
			   "ignored");
	file_bad("enable = maybe",
		 FILE_NAME ":1: enable = maybe: not a boolean, allowed on/off, yes/no, true/false, "
			   "1/0; ignored");
	file_bad("enable = 2", FILE_NAME ":1: enable = 2: not a boolean, allowed on/off, yes/no, "
					 "true/false, 1/0; ignored");
	file_bad("override = sure",
		 FILE_NAME ":1: override = sure: not a boolean, allowed on/off, yes/no, "
			   "true/false, 1/0; ignored");
	file_bad("log = loud",
		 FILE_NAME ":1: log = loud: not a log level, allowed off, error, warn, info, "
			   "debug; ignored");
	file_bad("log_target = journal",
		 FILE_NAME ":1: log_target = journal: not a log target, allowed stderr, syslog or "
			   "an absolute path; ignored");
	file_bad("log_target = var/log/x",
		 FILE_NAME ":1: log_target = var/log/x: not a log target, allowed stderr, syslog "
			   "or an absolute path; ignored");
	file_bad("include_programs =",
		 FILE_NAME ":1: include_programs: empty value, allowed space-separated glob "
			   "patterns; ignored");
	file_bad("foo = 1", FILE_NAME ":1: unknown key 'foo'; line ignored");
	file_bad("IDLE = 30", FILE_NAME ":1: unknown key 'IDLE'; line ignored");
	file_bad("keep idle = 30", FILE_NAME ":1: unknown key 'keep idle'; line ignored");
	file_bad("idle 30", FILE_NAME ":1: expected 'key = value'; line ignored");
	file_bad("= 30", FILE_NAME ":1: expected 'key = value'; line ignored");
	file_bad("port = 80",
		 FILE_NAME ":1: key 'port' belongs in a [rule NAME] section; line ignored");
	file_bad("remote = 10.0.0.0/8",
		 FILE_NAME ":1: key 'remote' belongs in a [rule NAME] section; line ignored");
	file_bad("direction = outbound",
		 FILE_NAME ":1: key 'direction' belongs in a [rule NAME] section; line ignored");
}

static void test_file_boundaries(void)
{
	parse("idle = 1\ninterval = 1\ncount = 1\n");
	CHECK("bound: idle/interval/count 1", cfg.global.idle == 1 && cfg.global.interval == 1 &&
						  cfg.global.count == 1 && no_diags());
	parse("idle = 32767\ninterval = 32767\ncount = 127\nuser_timeout = 2147483647\n");
	CHECK("bound: maxima", cfg.global.idle == 32767 && cfg.global.interval == 32767 &&
				   cfg.global.count == 127 &&
				   cfg.global.user_timeout == 2147483647L && no_diags());
	parse("idle = 32768\ninterval = 32768\ncount = 128\n");
	CHECK("bound: max+1 refused, three diags", globals_unset() && cfg.ndiags == 3);
	CHECK("bound: diags name their lines",
	      diag_is(0, FILE_NAME ":1: idle = 32768: out of "
				   "range, allowed 1..32767; ignored") &&
		  has_diag(FILE_NAME ":2: interval = 32768") &&
		  has_diag(FILE_NAME ":3: count = 128"));
	parse("idle = 0\ninterval = 0\ncount = 0\n");
	CHECK("bound: 0 refused", globals_unset() && cfg.ndiags == 3);
}

static void test_file_syntax(void)
{
	parse("# a comment\n   # indented comment\n\n\t\n idle\t=\t30   # trailing comment\n");
	CHECK("syntax: comments, blanks, tabs", cfg.global.idle == 30 && no_diags());
	parse("idle = 3#0\n");
	CHECK("syntax: # in a value starts a comment", cfg.global.idle == 3 && no_diags());
	parse("#idle = 30\n");
	CHECK("syntax: commented-out key", globals_unset() && no_diags());
	parse("idle = 30 # comment with = and [brackets]\n");
	CHECK("syntax: comment with = and [", cfg.global.idle == 30 && no_diags());
	parse("idle = 30\r\ninterval = 5\r\ncount = 4\r\n");
	CHECK("syntax: CRLF lines", cfg.global.idle == 30 && cfg.global.interval == 5 &&
					cfg.global.count == 4 && no_diags());
	parse("idle = 30");
	CHECK("syntax: no final newline", cfg.global.idle == 30 && no_diags());
	parse("\xef\xbb\xbfidle = 30\n");
	CHECK("syntax: UTF-8 BOM skipped", cfg.global.idle == 30 && no_diags());
	parse("\n\n\nidle = x\n");
	CHECK("syntax: line numbers count blank lines", has_diag(FILE_NAME ":4: idle = x"));

	{
		/* The text is not NUL-terminated: the parser must stop at len. */
		char buf[] = {'i', 'd', 'l', 'e', '=', '1', '2', '3'};

		kap_config_init(&cfg);
		kap_config_parse_file(&cfg, buf, 7, FILE_NAME);
		CHECK("syntax: len honoured without NUL", cfg.global.idle == 12 && no_diags());
	}
	{
		static const char text[] = "idle = 3\0000\ncount = 4 # \0 in a comment\n"
					   "interval\0 = 5\n\0\ninterval = 6\n";

		kap_config_init(&cfg);
		kap_config_parse_file(&cfg, text, sizeof(text) - 1, FILE_NAME);
		CHECK("syntax: NUL byte in a value refused", cfg.global.idle == KAP_UNSET);
		CHECK("syntax: NUL diag shown as ?",
		      diag_is(0, FILE_NAME ":1: idle = 3?0: NUL byte in value, allowed 1..32767; "
					   "ignored"));
		CHECK("syntax: NUL in a comment is harmless", cfg.global.count == 4);
		CHECK("syntax: NUL in a key is an unknown key",
		      diag_is(1, FILE_NAME ":3: unknown key 'interval?'; line ignored"));
		CHECK("syntax: lone NUL line is malformed",
		      diag_is(2, FILE_NAME ":4: expected 'key = value'; line ignored"));
		CHECK("syntax: parsing goes on after NUL",
		      cfg.global.interval == 6 && cfg.ndiags == 3);
	}
	{
		char text[400], want[128];

		snprintf(text, sizeof(text), "log_target = /%0300d\n", 7);
		snprintf(want, sizeof(want), "log_target = /%059d...: path too long", 0);
		parse(text);
		CHECK("show: long value cut to 60 characters with ...", has_diag(want));
	}
	parse("log_target = /tmp/\x1b[31mred\n");
	CHECK("show: escape shown as ?, control char refused",
	      only_diag_is(FILE_NAME ":1: log_target = /tmp/?[31mred: control character in path, "
				     "allowed stderr, syslog or an absolute path; ignored"));
	parse("include_programs = curl\x01 wget\n");
	CHECK("syntax: control character in a pattern list refused",
	      !cfg.include_set && only_diag_is(FILE_NAME ":1: include_programs = curl? wget: "
							 "control character in pattern, allowed "
							 "space-separated glob patterns; ignored"));
	parse("log = \xc3\xa9\n");
	CHECK("show: non-ASCII shown as ?", has_diag("log = ??: not a log level"));
	{
		static char big[2100];

		memcpy(big, "idle = ", 7);
		memset(big + 7, '1', 2000);
		parse(big);
		CHECK("syntax: 2000-digit value refused as too long",
		      globals_unset() && has_diag("value too long, allowed 1..32767; ignored") &&
			  cfg.ndiags == 1);
	}
	{
		/* One long line of 60000 characters and a valid line after it. */
		static char big[KAP_FILE_MAX];
		size_t n = 0;

		memset(big, 'x', 60000);
		n = 60000;
		memcpy(big + n, "\nidle = 9\n", 10);
		n += 10;
		kap_config_init(&cfg);
		kap_config_parse_file(&cfg, big, n, FILE_NAME);
		CHECK("syntax: very long line is one problem, next line still read",
		      cfg.global.idle == 9 && cfg.ndiags == 1 &&
			  diag_is(0, FILE_NAME ":1: expected 'key = value'; line ignored"));
	}
}

static void test_file_limits(void)
{
	static char junk[KAP_FILE_MAX + 1];
	size_t i;
	int k;

	/* Deterministic junk: every byte value, many short lines, '=' and '[' included. */
	srand(42);
	for (i = 0; i < KAP_FILE_MAX; i++)
		junk[i] = (char)(rand() % 256);
	kap_config_init(&cfg);
	kap_config_parse_file(&cfg, junk, KAP_FILE_MAX, FILE_NAME);
	CHECK("junk 64 KiB: diags bounded", cfg.ndiags <= KAP_MAX_DIAGS && cfg.ndiags > 0);
	CHECK("junk 64 KiB: extra problems counted", cfg.dropped_diags > 0);
	{
		int ok = 1;

		for (k = 0; k < cfg.ndiags; k++) {
			const char *t = cfg.diags[k].text;

			if (memchr(t, '\0', KAP_DIAG_LEN) == NULL || strchr(t, '\n'))
				ok = 0;
			else
				for (; *t; t++)
					if ((unsigned char)*t < 0x20 || *t == 0x7f)
						ok = 0;
		}
		CHECK("junk 64 KiB: diags are single printable lines", ok);
	}
	kap_config_init(&cfg);
	kap_config_parse_file(&cfg, junk, KAP_FILE_MAX + 1, FILE_NAME);
	CHECK("file over 64 KiB refused with one diag",
	      only_diag_is(FILE_NAME ": larger than 65536 bytes; no file used") && globals_unset());

	{
		char text[64 * 20];
		size_t n = 0;

		for (k = 0; k < 20; k++)
			n += (size_t)snprintf(text + n, sizeof(text) - n, "idle = bad%d\n", k);
		parse(text);
		CHECK("diags: 16 kept, 4 counted as dropped",
		      cfg.ndiags == KAP_MAX_DIAGS && cfg.dropped_diags == 4);
		CHECK("diags: kept in order",
		      diag_is(15, FILE_NAME ":16: idle = bad15: not a "
					    "number, allowed 1..32767; ignored"));
	}
	for (k = 0; k < 3; k++)
		kap_config_diag(&cfg, KAP_LOG_ERROR, "extra %d", k);
	CHECK("kap_config_diag: counts when full", cfg.dropped_diags == 7);
	kap_config_init(&cfg);
	kap_config_diag(&cfg, KAP_LOG_INFO, "a %s\nb %d", "x", 5);
	CHECK("kap_config_diag: formats, keeps level, one line",
	      cfg.ndiags == 1 && cfg.diags[0].level == KAP_LOG_INFO &&
		  strcmp(cfg.diags[0].text, "a x?b 5") == 0);
	{
		char longer[600];

		memset(longer, 'y', sizeof(longer) - 1);
		longer[sizeof(longer) - 1] = '\0';
		kap_config_diag(&cfg, KAP_LOG_WARN, "%s", longer);
		CHECK("kap_config_diag: long text truncated and terminated",
		      strlen(cfg.diags[1].text) == KAP_DIAG_LEN - 1);
	}
	parse("idle = x\n");
	CHECK("diag level of a bad value is warn", cfg.diags[0].level == KAP_LOG_WARN);
}

static void test_env_keys(void)
{
	env_clear();
	env_set("KAP_ENABLE", "off");
	env_set("KAP_IDLE", "30");
	env_set("KAP_INTERVAL", "5");
	env_set("KAP_COUNT", "4");
	env_set("KAP_USER_TIMEOUT", "auto");
	env_set("KAP_OVERRIDE", "yes");
	env_set("KAP_LOG", "info");
	env_set("KAP_LOG_TARGET", "/tmp/kap.log");
	env_set("KAP_INCLUDE_PROGRAMS", "curl wget");
	env_set("KAP_EXCLUDE_PROGRAMS", "sshd");
	load(NULL);
	CHECK("env: KAP_ENABLE", cfg.global.enable == 0);
	CHECK("env: KAP_IDLE", cfg.global.idle == 30);
	CHECK("env: KAP_INTERVAL", cfg.global.interval == 5);
	CHECK("env: KAP_COUNT", cfg.global.count == 4);
	CHECK("env: KAP_USER_TIMEOUT auto", cfg.global.user_timeout == KAP_UTO_AUTO);
	CHECK("env: KAP_OVERRIDE", cfg.override == 1);
	CHECK("env: KAP_LOG", cfg.log_level == KAP_LOG_INFO);
	CHECK("env: KAP_LOG_TARGET", strcmp(cfg.log_target, "/tmp/kap.log") == 0);
	CHECK("env: KAP_INCLUDE_PROGRAMS",
	      cfg.include_set && strcmp(cfg.include_programs, "curl wget") == 0);
	CHECK("env: KAP_EXCLUDE_PROGRAMS",
	      cfg.exclude_set && strcmp(cfg.exclude_programs, "sshd") == 0);
	CHECK("env: all keys, no diags", no_diags());

	env_clear();
	env_set("KAP_USER_TIMEOUT", "1500");
	env_set("KAP_LOG_TARGET", "syslog");
	env_set("KAP_ENABLE", "TRUE");
	load(NULL);
	CHECK("env: KAP_USER_TIMEOUT number", cfg.global.user_timeout == 1500);
	CHECK("env: KAP_LOG_TARGET syslog", strcmp(cfg.log_target, "syslog") == 0);
	CHECK("env: boolean any case", cfg.global.enable == 1);

	env_clear();
	env_set("KAP_IDLE", "  30\t");
	load(NULL);
	CHECK("env: value trimmed", cfg.global.idle == 30 && no_diags());

	env_clear();
	env_set("KEEPALIVE", "off");
	env_set("KEEPIDLE", "31");
	env_set("KEEPINTVL", "6");
	env_set("KEEPCNT", "5");
	load(NULL);
	CHECK("env: libkeepalive names", cfg.global.enable == 0 && cfg.global.idle == 31 &&
					     cfg.global.interval == 6 && cfg.global.count == 5 &&
					     no_diags());

	env_clear();
	env_set("DD_USE_KEEPALIVE", "1");
	env_set("DD_TCP_KEEPALIVE_TIME", "32");
	env_set("DD_TCP_KEEPALIVE_INTVL", "7");
	env_set("DD_TCP_KEEPALIVE_PROBES", "6");
	load(NULL);
	CHECK("env: libdontdie names", cfg.global.enable == 1 && cfg.global.idle == 32 &&
					   cfg.global.interval == 7 && cfg.global.count == 6 &&
					   no_diags());

	kap_config_init(&cfg);
	kap_config_apply_env(&cfg, NULL);
	CHECK("env: NULL getenv function is a no-op", globals_unset() && no_diags());

	env_clear();
	env_set("KAP_CONFIG", "/nonexistent");
	load(NULL);
	CHECK("env: KAP_CONFIG is not the parser's business", globals_unset() && no_diags());
}

/* One bad environment value: parameter unchanged, one diag with this text. */
static void env_bad(const char *name, const char *value, const char *want)
{
	char title[200];

	env_clear();
	env_set(name, value);
	load(NULL);
	snprintf(title, sizeof(title), "env bad: %s=%s -> one diag, value unset", name, value);
	CHECK(title, globals_unset() && cfg.override == 0 && cfg.log_level == KAP_LOG_WARN &&
			 strcmp(cfg.log_target, "stderr") == 0 && only_diag_is(want));
}

static void test_env_bad(void)
{
	env_bad("KAP_IDLE", "abc", "KAP_IDLE=abc: not a number, allowed 1..32767; ignored");
	env_bad("KAP_IDLE", "0", "KAP_IDLE=0: out of range, allowed 1..32767; ignored");
	env_bad("KAP_IDLE", "99999", "KAP_IDLE=99999: out of range, allowed 1..32767; ignored");
	env_bad("KAP_IDLE", "32768", "KAP_IDLE=32768: out of range, allowed 1..32767; ignored");
	env_bad("KAP_IDLE", "99999999999999999999",
		"KAP_IDLE=99999999999999999999: out of range, allowed 1..32767; ignored");
	env_bad("KAP_IDLE", "12abc", "KAP_IDLE=12abc: not a number, allowed 1..32767; ignored");
	env_bad("KAP_IDLE", "-1", "KAP_IDLE=-1: out of range, allowed 1..32767; ignored");
	env_bad("KAP_INTERVAL", "0", "KAP_INTERVAL=0: out of range, allowed 1..32767; ignored");
	env_bad("KAP_COUNT", "500", "KAP_COUNT=500: out of range, allowed 1..127; ignored");
	env_bad("KAP_COUNT", "128", "KAP_COUNT=128: out of range, allowed 1..127; ignored");
	env_bad("KAP_USER_TIMEOUT", "2147483648",
		"KAP_USER_TIMEOUT=2147483648: out of range, allowed 0..2147483647 or auto; "
		"ignored");
	env_bad("KAP_ENABLE", "nope",
		"KAP_ENABLE=nope: not a boolean, allowed on/off, yes/no, true/false, 1/0; ignored");
	env_bad("KAP_OVERRIDE", "2",
		"KAP_OVERRIDE=2: not a boolean, allowed on/off, yes/no, true/false, 1/0; ignored");
	env_bad("KAP_LOG", "verbose",
		"KAP_LOG=verbose: not a log level, allowed off, error, warn, info, debug; ignored");
	env_bad("KAP_LOG_TARGET", "file.log",
		"KAP_LOG_TARGET=file.log: not a log target, allowed stderr, syslog or an absolute "
		"path; ignored");
	env_bad("KEEPIDLE", "abc", "KEEPIDLE=abc: not a number, allowed 1..32767; ignored");
	env_bad("KEEPCNT", "500", "KEEPCNT=500: out of range, allowed 1..127; ignored");
	env_bad("KEEPALIVE", "maybe",
		"KEEPALIVE=maybe: not a boolean, allowed on/off, yes/no, true/false, 1/0; ignored");
	env_bad("DD_TCP_KEEPALIVE_TIME", "0",
		"DD_TCP_KEEPALIVE_TIME=0: out of range, allowed 1..32767; ignored");
	env_bad("DD_TCP_KEEPALIVE_PROBES", "128",
		"DD_TCP_KEEPALIVE_PROBES=128: out of range, allowed 1..127; ignored");
	env_bad("DD_USE_KEEPALIVE", "x",
		"DD_USE_KEEPALIVE=x: not a boolean, allowed on/off, yes/no, true/false, 1/0; "
		"ignored");
	{
		static char longpath[400];

		longpath[0] = '/';
		memset(longpath + 1, 'p', 300);
		env_clear();
		env_set("KAP_LOG_TARGET", longpath);
		load(NULL);
		CHECK("env: path too long refused",
		      strcmp(cfg.log_target, "stderr") == 0 && has_diag("...: path too long"));
	}
	{
		static char longlist[700];

		memset(longlist, 'a', 600);
		env_clear();
		env_set("KAP_INCLUDE_PROGRAMS", longlist);
		load(NULL);
		CHECK("env: pattern list too long refused",
		      !cfg.include_set && has_diag("KAP_INCLUDE_PROGRAMS=") &&
			  has_diag(": list too long, allowed space-separated glob patterns"));
	}

	/* Empty counts as unset for every variable: silent, and the next source is used. */
	{
		static const char *const names[] = {
		    "KAP_ENABLE",
		    "KEEPALIVE",
		    "DD_USE_KEEPALIVE",
		    "KAP_IDLE",
		    "KEEPIDLE",
		    "DD_TCP_KEEPALIVE_TIME",
		    "KAP_INTERVAL",
		    "KEEPINTVL",
		    "DD_TCP_KEEPALIVE_INTVL",
		    "KAP_COUNT",
		    "KEEPCNT",
		    "DD_TCP_KEEPALIVE_PROBES",
		    "KAP_USER_TIMEOUT",
		    "KAP_OVERRIDE",
		    "KAP_LOG",
		    "KAP_LOG_TARGET",
		    "KAP_INCLUDE_PROGRAMS",
		    "KAP_EXCLUDE_PROGRAMS",
		};
		size_t i;

		env_clear();
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			env_set(names[i], i % 2 ? "" : "  ");
		load("idle = 30\noverride = on\nlog = debug\nlog_target = syslog\n"
		     "include_programs = a\nexclude_programs = b\n");
		CHECK("env: every variable empty = unset, silent",
		      cfg.global.idle == 30 && cfg.global.enable == KAP_UNSET &&
			  cfg.override == 1 && cfg.log_level == KAP_LOG_DEBUG &&
			  strcmp(cfg.log_target, "syslog") == 0 &&
			  strcmp(cfg.include_programs, "a") == 0 &&
			  strcmp(cfg.exclude_programs, "b") == 0 && no_diags());
	}
}

static void test_precedence(void)
{
	const char *file = "enable = on\nidle = 100\ninterval = 10\ncount = 9\nuser_timeout = 1\n"
			   "override = off\nlog = error\nlog_target = syslog\n"
			   "include_programs = filein\nexclude_programs = fileout\n";

	env_clear();
	load(file);
	CHECK("prec: file alone", cfg.global.idle == 100 && cfg.global.enable == 1 && no_diags());

	env_clear();
	env_set("DD_TCP_KEEPALIVE_TIME", "70");
	load(file);
	CHECK("prec: libdontdie beats file", cfg.global.idle == 70);

	env_set("KEEPIDLE", "50");
	load(file);
	CHECK("prec: libkeepalive beats libdontdie", cfg.global.idle == 50);

	env_set("KAP_IDLE", "30");
	load(file);
	CHECK("prec: KAP_ beats libkeepalive", cfg.global.idle == 30 && no_diags());

	env_clear();
	env_set("KAP_IDLE", "abc");
	env_set("KEEPIDLE", "30");
	load(file);
	CHECK("prec: bad KAP_IDLE falls back to KEEPIDLE", cfg.global.idle == 30);
	CHECK("prec: and names KAP_IDLE once",
	      only_diag_is("KAP_IDLE=abc: not a number, allowed 1..32767; ignored"));

	env_clear();
	env_set("KAP_IDLE", "0");
	env_set("KEEPIDLE", "x");
	env_set("DD_TCP_KEEPALIVE_TIME", "40");
	load(file);
	CHECK("prec: two bad names fall back to libdontdie",
	      cfg.global.idle == 40 && cfg.ndiags == 2 && has_diag("KAP_IDLE=0:") &&
		  has_diag("KEEPIDLE=x:"));

	env_clear();
	env_set("KAP_IDLE", "0");
	env_set("KEEPIDLE", "x");
	env_set("DD_TCP_KEEPALIVE_TIME", "99999");
	load(file);
	CHECK("prec: all environment bad falls back to the file",
	      cfg.global.idle == 100 && cfg.ndiags == 3);

	env_clear();
	env_set("KAP_IDLE", "abc");
	load(NULL);
	CHECK("prec: bad with nothing below leaves it unset", cfg.global.idle == KAP_UNSET);

	env_clear();
	env_set("KAP_IDLE", "");
	env_set("KEEPIDLE", "44");
	load(file);
	CHECK("prec: empty KAP_IDLE is unset, KEEPIDLE used", cfg.global.idle == 44 && no_diags());

	env_clear();
	env_set("KAP_IDLE", "30");
	env_set("KEEPIDLE", "abc");
	load(file);
	CHECK("prec: shadowed weaker name is not looked at", cfg.global.idle == 30 && no_diags());

	env_clear();
	env_set("KEEPALIVE", "off");
	env_set("DD_USE_KEEPALIVE", "on");
	load(file);
	CHECK("prec: KEEPALIVE=off beats DD_USE_KEEPALIVE and file", cfg.global.enable == 0);
	env_set("KAP_ENABLE", "on");
	load(file);
	CHECK("prec: KAP_ENABLE beats KEEPALIVE", cfg.global.enable == 1);

	env_clear();
	env_set("KEEPINTVL", "3");
	env_set("DD_TCP_KEEPALIVE_INTVL", "4");
	env_set("KEEPCNT", "5");
	env_set("DD_TCP_KEEPALIVE_PROBES", "6");
	load(file);
	CHECK("prec: KEEPINTVL beats DD_TCP_KEEPALIVE_INTVL", cfg.global.interval == 3);
	CHECK("prec: KEEPCNT beats DD_TCP_KEEPALIVE_PROBES", cfg.global.count == 5);
	env_set("KAP_INTERVAL", "2");
	env_set("KAP_COUNT", "1");
	load(file);
	CHECK("prec: KAP_INTERVAL and KAP_COUNT win",
	      cfg.global.interval == 2 && cfg.global.count == 1);

	env_clear();
	env_set("KAP_USER_TIMEOUT", "auto");
	env_set("KAP_OVERRIDE", "on");
	env_set("KAP_LOG", "debug");
	env_set("KAP_LOG_TARGET", "/run/kap.log");
	env_set("KAP_INCLUDE_PROGRAMS", "envin");
	env_set("KAP_EXCLUDE_PROGRAMS", "envout");
	load(file);
	CHECK("prec: KAP_USER_TIMEOUT beats file", cfg.global.user_timeout == KAP_UTO_AUTO);
	CHECK("prec: KAP_OVERRIDE beats file", cfg.override == 1);
	CHECK("prec: KAP_LOG beats file", cfg.log_level == KAP_LOG_DEBUG);
	CHECK("prec: KAP_LOG_TARGET beats file", strcmp(cfg.log_target, "/run/kap.log") == 0);
	CHECK("prec: env include list replaces the file's",
	      strcmp(cfg.include_programs, "envin") == 0);
	CHECK("prec: env exclude list replaces the file's",
	      strcmp(cfg.exclude_programs, "envout") == 0);
	CHECK("prec: per parameter, the rest from the file",
	      cfg.global.idle == 100 && cfg.global.interval == 10 && cfg.global.count == 9);

	env_clear();
	env_set("KAP_LOG", "loud");
	env_set("KAP_OVERRIDE", "perhaps");
	env_set("KAP_LOG_TARGET", "relative");
	load(file);
	CHECK("prec: bad log, override, target keep the file's",
	      cfg.log_level == KAP_LOG_ERROR && cfg.override == 0 &&
		  strcmp(cfg.log_target, "syslog") == 0 && cfg.ndiags == 3);
}

static struct kap_rule *rule_named(const char *name)
{
	int i;

	for (i = 0; i < cfg.nrules; i++) {
		if (strcmp(cfg.rules[i].name, name) == 0)
			return &cfg.rules[i];
	}
	return NULL;
}

static int prefix_is(const struct kap_prefix *p, int family, int len, const char *addr)
{
	uint8_t want[16] = {0};

	return inet_pton(family, addr, want) == 1 && p->family == family && p->len == len &&
	       memcmp(p->addr, want, 16) == 0;
}

static void test_rules(void)
{
	struct kap_rule *r;

	parse("idle = 60\n"
	      "[rule postgres]\n"
	      "direction = outbound          # outbound (connect) | inbound (accept) | any\n"
	      "remote = 10.0.0.0/8, fd00::/8 # peer address prefixes\n"
	      "port = 5432\n"
	      "idle = 30\n"
	      "interval = 5\n"
	      "count = 4\n"
	      "user_timeout = auto\n"
	      "enable = on\n");
	r = rule_named("postgres");
	CHECK("rule: parsed", cfg.nrules == 1 && r != NULL && no_diags());
	if (r == NULL)
		return;
	CHECK("rule: header line", r->line == 2);
	CHECK("rule: direction", r->direction == KAP_DIR_OUTBOUND);
	CHECK("rule: two prefixes", r->nprefixes == 2 &&
					prefix_is(&r->prefixes[0], AF_INET, 8, "10.0.0.0") &&
					prefix_is(&r->prefixes[1], AF_INET6, 8, "fd00::"));
	CHECK("rule: port", r->port_lo == 5432 && r->port_hi == 5432);
	CHECK("rule: params", r->params.idle == 30 && r->params.interval == 5 &&
				  r->params.count == 4 && r->params.user_timeout == KAP_UTO_AUTO &&
				  r->params.enable == 1);
	CHECK("rule: globals stay apart", cfg.global.idle == 60 && cfg.global.count == KAP_UNSET);

	parse("[rule bare]\n");
	r = rule_named("bare");
	CHECK("rule defaults: kept", cfg.nrules == 1 && r && no_diags());
	CHECK("rule defaults: any direction, peer, port",
	      r && r->direction == KAP_DIR_ANY && r->nprefixes == 0 && r->port_lo == 0 &&
		  r->port_hi == 65535);
	CHECK("rule defaults: params unset",
	      r && r->params.enable == KAP_UNSET && r->params.idle == KAP_UNSET &&
		  r->params.interval == KAP_UNSET && r->params.count == KAP_UNSET &&
		  r->params.user_timeout == KAP_UNSET);

	parse("[ rule   a.b-c_9 ]\ndirection = INBOUND\nport = 8000 - 8100\nremote = 10.1.2.3/8\n"
	      "[rule two]\ndirection = any\nremote = 192.168.1.7\nenable = off\n");
	CHECK("rule: two rules in file order",
	      cfg.nrules == 2 && strcmp(cfg.rules[0].name, "a.b-c_9") == 0 &&
		  strcmp(cfg.rules[1].name, "two") == 0 && no_diags());
	CHECK("rule: inbound, port range", cfg.rules[0].direction == KAP_DIR_INBOUND &&
					       cfg.rules[0].port_lo == 8000 &&
					       cfg.rules[0].port_hi == 8100);
	CHECK("rule: host bits masked silently",
	      prefix_is(&cfg.rules[0].prefixes[0], AF_INET, 8, "10.0.0.0"));
	CHECK("rule: host address is /32",
	      prefix_is(&cfg.rules[1].prefixes[0], AF_INET, 32, "192.168.1.7"));
	CHECK("rule: enable off", cfg.rules[1].params.enable == 0);

	parse("[rule r]\nremote = 10.0.0.0/8\nremote = 172.16.0.0/12\nport = 1\nport = 2-3\n");
	CHECK("rule: later remote and port replace earlier",
	      cfg.nrules == 1 && cfg.rules[0].nprefixes == 1 &&
		  prefix_is(&cfg.rules[0].prefixes[0], AF_INET, 12, "172.16.0.0") &&
		  cfg.rules[0].port_lo == 2 && cfg.rules[0].port_hi == 3);
}

/* A rule with one bad line: dropped whole, the good rule after it kept, one diag. */
static void rule_bad(const char *line, const char *want)
{
	char text[512], title[300];

	snprintf(text, sizeof(text),
		 "[rule db]\ndirection = outbound\n%s\nidle = 30\nport = 99999\n"
		 "[rule good]\nidle = 7\n",
		 line);
	parse(text);
	snprintf(title, sizeof(title), "rule bad: '%s' -> rule skipped whole, one diag", line);
	CHECK(title, cfg.nrules == 1 && strcmp(cfg.rules[0].name, "good") == 0 &&
			 cfg.rules[0].params.idle == 7 && cfg.rules[0].direction == KAP_DIR_ANY &&
			 only_diag_is(want));
}

static void test_rules_bad(void)
{
	rule_bad("remote = 10.0.0.300/8",
		 FILE_NAME ":3: remote = 10.0.0.300/8: not an address prefix, allowed "
			   "ADDRESS[/LEN], IPv4 or IPv6; rule 'db' skipped");
	rule_bad("remote = 10.0.0.0/8, db.example",
		 FILE_NAME ":3: remote = 10.0.0.0/8, db.example: not an address prefix, allowed "
			   "ADDRESS[/LEN], IPv4 or IPv6; rule 'db' skipped");
	rule_bad("remote = 10.0.0.0/33",
		 FILE_NAME ":3: remote = 10.0.0.0/33: prefix length out of range, allowed "
			   "ADDRESS[/LEN], IPv4 or IPv6; rule 'db' skipped");
	rule_bad("remote = 10.0.0.0/8,",
		 FILE_NAME ":3: remote = 10.0.0.0/8,: empty prefix in list, allowed "
			   "ADDRESS[/LEN], IPv4 or IPv6; rule 'db' skipped");
	rule_bad("remote =", FILE_NAME ":3: remote: empty value, allowed ADDRESS[/LEN], IPv4 or "
				       "IPv6; rule 'db' skipped");
	rule_bad("port = 70000", FILE_NAME ":3: port = 70000: out of range, allowed 1..65535 or "
					   "N-M; rule 'db' skipped");
	rule_bad("port = 0", FILE_NAME ":3: port = 0: out of range, allowed 1..65535 or N-M; rule "
				       "'db' skipped");
	rule_bad("port = 2000-1000", FILE_NAME ":3: port = 2000-1000: first port above last, "
					       "allowed 1..65535 or N-M; rule 'db' skipped");
	rule_bad("port = http", FILE_NAME ":3: port = http: not a port, allowed 1..65535 or N-M; "
					  "rule 'db' skipped");
	rule_bad("direction = sideways",
		 FILE_NAME ":3: direction = sideways: not a direction, allowed outbound, inbound "
			   "or any; rule 'db' skipped");
	rule_bad("idle = 0",
		 FILE_NAME ":3: idle = 0: out of range, allowed 1..32767; rule 'db' skipped");
	rule_bad("count = 128",
		 FILE_NAME ":3: count = 128: out of range, allowed 1..127; rule 'db' skipped");
	rule_bad("interval = x",
		 FILE_NAME ":3: interval = x: not a number, allowed 1..32767; rule 'db' skipped");
	rule_bad("enable = perhaps",
		 FILE_NAME ":3: enable = perhaps: not a boolean, allowed on/off, yes/no, "
			   "true/false, 1/0; rule 'db' skipped");
	rule_bad("user_timeout = -5",
		 FILE_NAME ":3: user_timeout = -5: out of range, allowed 0..2147483647 or auto; "
			   "rule 'db' skipped");
	rule_bad("colour = red", FILE_NAME ":3: unknown key 'colour'; rule 'db' skipped");
	rule_bad("just words", FILE_NAME ":3: expected 'key = value'; rule 'db' skipped");
	rule_bad("override = on", FILE_NAME ":3: key 'override' is global, put it before the "
					    "first [rule]; rule 'db' skipped");
	rule_bad("log = debug", FILE_NAME ":3: key 'log' is global, put it before the first "
					  "[rule]; rule 'db' skipped");

	{
		char text[2048];
		size_t n;
		int i;

		n = (size_t)snprintf(text, sizeof(text), "[rule many]\nremote = 10.0.0.0/8");
		for (i = 1; i < KAP_MAX_PREFIXES; i++)
			n += (size_t)snprintf(text + n, sizeof(text) - n, ", 10.%d.0.0/16", i);
		snprintf(text + n, sizeof(text) - n, "\n");
		parse(text);
		CHECK("rule: 16 prefixes allowed",
		      cfg.nrules == 1 && cfg.rules[0].nprefixes == KAP_MAX_PREFIXES && no_diags());
		n = (size_t)snprintf(text, sizeof(text), "[rule many]\nremote = 10.0.0.0/8");
		for (i = 1; i <= KAP_MAX_PREFIXES; i++)
			n += (size_t)snprintf(text + n, sizeof(text) - n, ",10.%d.0.0/16", i);
		snprintf(text + n, sizeof(text) - n, "\n");
		parse(text);
		CHECK("rule: 17 prefixes refused",
		      cfg.nrules == 0 && has_diag("too many prefixes, at most 16") &&
			  has_diag("rule 'many' skipped") && cfg.ndiags == 1);
	}

	parse("[rule]\nidle = 5\n[rule bad name]\nidle = 5\n[rule "
	      "a234567890123456789012345678901x]\n[rule ok]\nidle = 6\n");
	CHECK("rule: bad names skipped, good one kept",
	      cfg.nrules == 1 && strcmp(cfg.rules[0].name, "ok") == 0 && cfg.ndiags == 3);
	CHECK("rule: empty name message",
	      diag_is(0, FILE_NAME ":1: bad rule name '', allowed 1..31 characters of A-Z a-z 0-9 "
				   "_ . -; section skipped"));
	CHECK("rule: name with blank message", has_diag(":3: bad rule name 'bad name'"));
	CHECK("rule: 32-character name refused",
	      has_diag(":5: bad rule name 'a234567890123456789012345678901x'"));
	parse("[rule a234567890123456789012345678901]\n");
	CHECK("rule: 31-character name accepted", cfg.nrules == 1 && no_diags());

	parse("[global]\nidle = 5\n[rules x]\nidle = 6\n[rule x\nidle = 7\n[rule y]\ncount = 3\n");
	CHECK("section: unknown sections skipped with their lines",
	      cfg.nrules == 1 && strcmp(cfg.rules[0].name, "y") == 0 &&
		  cfg.global.idle == KAP_UNSET && cfg.ndiags == 3);
	CHECK("section: message",
	      diag_is(0, FILE_NAME ":1: unknown section '[global]', expected '[rule NAME]'; "
				   "section skipped"));

	parse("[rule a]\nidle = 0\ncount = 500\nport = 0\nbogus\n[rule b]\ncount = 500\n");
	CHECK("rule: only the first problem of a dropped rule is reported",
	      cfg.nrules == 0 && cfg.ndiags == 2 && has_diag(":2: idle = 0") &&
		  has_diag(":7: count = 500: out of range, allowed 1..127; rule 'b' skipped"));

	parse("[rule a]\nidle = 0\n[rule a]\nidle = 5\n");
	CHECK("rule: a dropped rule's slot is reused cleanly",
	      cfg.nrules == 1 && cfg.rules[0].params.idle == 5 && cfg.rules[0].line == 3);

	{
		char text[4096];
		size_t n = 0;
		int i;

		n += (size_t)snprintf(text + n, sizeof(text) - n, "idle = 11\n");
		for (i = 0; i < KAP_MAX_RULES + 3; i++)
			n += (size_t)snprintf(text + n, sizeof(text) - n, "[rule r%d]\nport = %d\n",
					      i, i + 1);
		parse(text);
		CHECK("rules: at most KAP_MAX_RULES kept", cfg.nrules == KAP_MAX_RULES);
		CHECK("rules: kept in file order", strcmp(cfg.rules[0].name, "r0") == 0 &&
						       strcmp(cfg.rules[31].name, "r31") == 0 &&
						       cfg.rules[31].port_lo == 32);
		CHECK("rules: each extra one reported once", cfg.ndiags == 3);
		CHECK("rules: extra rule message names file:line",
		      diag_is(0, FILE_NAME ":66: too many rules, at most 32; rule 'r32' skipped") &&
			  diag_is(2, FILE_NAME ":70: too many rules, at most 32; rule 'r34' "
					       "skipped"));
		CHECK("rules: globals unaffected", cfg.global.idle == 11);
	}
}

/* Inputs the fuzzer found or that once broke the parser: must not crash, must stay sane. */
static void test_regressions(void)
{
	static const char *const inputs[] = {
	    "[",
	    "[]",
	    "[rule",
	    "[rule ]",
	    "[rule x]]",
	    "=",
	    "==",
	    "\r",
	    "#",
	    "[rule x]\nremote = ,",
	    "[rule x]\nremote = /",
	    "[rule x]\nport = -",
	    "[rule x]\nport = --",
	    "[rule x]\nport = 1-",
	    "[rule x]\nport = -1-2",
	    "include_programs = \t \t",
	    "log_target = /",
	    "\xef\xbb\xbf",
	    "\xef\xbb",
	};
	size_t i;
	int ok = 1;

	for (i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		parse(inputs[i]);
		if (cfg.ndiags > KAP_MAX_DIAGS || cfg.nrules > KAP_MAX_RULES)
			ok = 0;
	}
	CHECK("regressions: edge inputs parse sanely", ok);
	parse("log_target = /");
	CHECK("regression: log_target = / is a path", strcmp(cfg.log_target, "/") == 0);
	parse("include_programs = \t \t");
	CHECK("regression: blank pattern list is empty value",
	      !cfg.include_set && cfg.ndiags == 1 && has_diag("empty value"));
}

/*
 * keepalive.conf.example must change nothing as installed, and every setting
 * it shows must be valid once uncommented.
 */
static void test_example_file(void)
{
	static char text[KAP_FILE_MAX + 1], on[KAP_FILE_MAX + 1];
	const char *here = __FILE__, *build = getenv("KAP_BUILD");
	const char *tail = strstr(here, "tests/unit/test_config.c");
	char path[4096];
	size_t n = 0, i, o = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%.*skeepalive.conf.example", tail ? (int)(tail - here) : 0,
		 here);
	f = fopen(path, "r");
	if (f == NULL && build) {
		snprintf(path, sizeof(path), "%s/../keepalive.conf.example", build);
		f = fopen(path, "r");
	}
	if (f == NULL) {
		printf("SKIP example file: keepalive.conf.example not found\n");
		return;
	}
	n = fread(text, 1, sizeof(text), f);
	fclose(f);
	kap_config_init(&cfg);
	kap_config_parse_file(&cfg, text, n, "keepalive.conf.example");
	CHECK("example: installed as is, it sets nothing",
	      n > 0 && globals_unset() && cfg.nrules == 0 && cfg.override == 0 &&
		  cfg.log_level == KAP_LOG_WARN && strcmp(cfg.log_target, "stderr") == 0 &&
		  !cfg.include_set && !cfg.exclude_set && no_diags());

	/* Uncomment "#key" and "#[rule" lines, the settings rather than the prose. */
	for (i = 0; i < n; i++) {
		int bol = i == 0 || text[i - 1] == '\n';

		if (bol && text[i] == '#' && i + 1 < n &&
		    ((text[i + 1] >= 'a' && text[i + 1] <= 'z') || text[i + 1] == '['))
			continue;
		on[o++] = text[i];
	}
	kap_config_init(&cfg);
	kap_config_parse_file(&cfg, on, o, "keepalive.conf.example");
	CHECK("example: uncommented, every setting is valid", no_diags());
	CHECK("example: uncommented, every global key is shown",
	      cfg.global.enable == 1 && cfg.global.idle > 0 && cfg.global.interval > 0 &&
		  cfg.global.count > 0 && cfg.global.user_timeout != KAP_UNSET && cfg.include_set &&
		  cfg.exclude_set);
	CHECK("example: uncommented, the postgres rule is there",
	      cfg.nrules >= 1 && strcmp(cfg.rules[0].name, "postgres") == 0 &&
		  cfg.rules[0].port_lo == 5432 && cfg.rules[0].nprefixes == 2);
}

int main(void)
{
	test_init();
	test_file_keys();
	test_file_bad();
	test_file_boundaries();
	test_file_syntax();
	test_file_limits();
	test_env_keys();
	test_env_bad();
	test_precedence();
	test_rules();
	test_rules_bad();
	test_regressions();
	test_example_file();
	UNIT_EXIT();
}
