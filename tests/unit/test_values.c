/* Unit tests for the single-value parsers (src/values.c). */
#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "unit.h"
#include "values.h"

static int long_is(const char *s, long min, long max, long want)
{
	long v = 12345;

	return kap_parse_long(s, min, max, &v) == KAP_VALUE_OK && v == want;
}

static int long_rc(const char *s, long min, long max)
{
	long v = 12345;
	int rc = kap_parse_long(s, min, max, &v);

	/* A refused value must leave the output alone. */
	return rc != KAP_VALUE_OK && v != 12345 ? -1 : rc;
}

static void test_long(void)
{
	CHECK("long: 30", long_is("30", 1, 32767, 30));
	CHECK("long: surrounding blanks", long_is(" \t30 \r\n", 1, 32767, 30));
	CHECK("long: leading zeros are decimal", long_is("010", 1, 32767, 10));
	CHECK("long: boundary 1", long_is("1", 1, 32767, 1));
	CHECK("long: boundary 32767", long_is("32767", 1, 32767, 32767));
	CHECK("long: boundary 0 refused", long_rc("0", 1, 32767) == KAP_VALUE_RANGE);
	CHECK("long: boundary 32768 refused", long_rc("32768", 1, 32767) == KAP_VALUE_RANGE);
	CHECK("long: 127 within count", long_is("127", 1, 127, 127));
	CHECK("long: 128 above count", long_rc("128", 1, 127) == KAP_VALUE_RANGE);
	CHECK("long: 500 above count", long_rc("500", 1, 127) == KAP_VALUE_RANGE);
	CHECK("long: 99999 above idle", long_rc("99999", 1, 32767) == KAP_VALUE_RANGE);
	CHECK("long: overflow is range",
	      long_rc("99999999999999999999", 1, 32767) == KAP_VALUE_RANGE);
	CHECK("long: huge overflow is range", long_rc("999999999999999999999999999999999999999999",
						      0, LONG_MAX) == KAP_VALUE_RANGE);
	CHECK("long: LONG_MAX accepted", long_is("9223372036854775807", 0, LONG_MAX, LONG_MAX));
	CHECK("long: LONG_MAX+1 is range",
	      long_rc("9223372036854775808", 0, LONG_MAX) == KAP_VALUE_RANGE);
	CHECK("long: LONG_MIN accepted",
	      long_is("-9223372036854775808", LONG_MIN, LONG_MAX, LONG_MIN));
	CHECK("long: below LONG_MIN is range",
	      long_rc("-9223372036854775809", LONG_MIN, LONG_MAX) == KAP_VALUE_RANGE);
	CHECK("long: negative is range", long_rc("-5", 1, 32767) == KAP_VALUE_RANGE);
	CHECK("long: -0 is range for idle", long_rc("-0", 1, 32767) == KAP_VALUE_RANGE);
	CHECK("long: abc", long_rc("abc", 1, 32767) == KAP_VALUE_SYNTAX);
	CHECK("long: trailing junk 12abc", long_rc("12abc", 1, 32767) == KAP_VALUE_SYNTAX);
	CHECK("long: overflow then junk is syntax",
	      long_rc("99999999999999999999x", 1, 32767) == KAP_VALUE_SYNTAX);
	CHECK("long: 1e3", long_rc("1e3", 1, 32767) == KAP_VALUE_SYNTAX);
	CHECK("long: 3.5", long_rc("3.5", 1, 32767) == KAP_VALUE_SYNTAX);
	CHECK("long: 0x10", long_rc("0x10", 1, 32767) == KAP_VALUE_SYNTAX);
	CHECK("long: +5", long_rc("+5", 1, 32767) == KAP_VALUE_SYNTAX);
	CHECK("long: lone minus", long_rc("-", 1, 32767) == KAP_VALUE_SYNTAX);
	CHECK("long: minus then blank", long_rc("- 5", 1, 32767) == KAP_VALUE_SYNTAX);
	CHECK("long: inner blank", long_rc("1 2", 1, 32767) == KAP_VALUE_SYNTAX);
	CHECK("long: empty", long_rc("", 1, 32767) == KAP_VALUE_EMPTY);
	CHECK("long: blanks only", long_rc(" \t ", 1, 32767) == KAP_VALUE_EMPTY);
	CHECK("long: NULL is empty", long_rc(NULL, 1, 32767) == KAP_VALUE_EMPTY);
}

static int bool_is(const char *s, int want)
{
	int v = 7;

	return kap_parse_bool(s, &v) == KAP_VALUE_OK && v == want;
}

static void test_bool(void)
{
	static const char *const yes[] = {"on", "ON", "yes", "Yes", "true", "TRUE", "1", " on "};
	static const char *const no[] = {"off",	  "Off",   "no", "NO",
					 "false", "False", "0",	 "\toff\r"};
	char name[64];
	size_t i;
	int v = 7;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		snprintf(name, sizeof(name), "bool: '%s' is true", yes[i]);
		CHECK(name, bool_is(yes[i], 1));
	}
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		snprintf(name, sizeof(name), "bool: '%s' is false", no[i]);
		CHECK(name, bool_is(no[i], 0));
	}
	CHECK("bool: 2 refused", kap_parse_bool("2", &v) == KAP_VALUE_SYNTAX && v == 7);
	CHECK("bool: onn refused", kap_parse_bool("onn", &v) == KAP_VALUE_SYNTAX);
	CHECK("bool: o refused", kap_parse_bool("o", &v) == KAP_VALUE_SYNTAX);
	CHECK("bool: enabled refused", kap_parse_bool("enabled", &v) == KAP_VALUE_SYNTAX);
	CHECK("bool: empty", kap_parse_bool("  ", &v) == KAP_VALUE_EMPTY);
}

static void test_log_level(void)
{
	int v = 99;

	CHECK("log: off", kap_parse_log_level("off", &v) == KAP_VALUE_OK && v == KAP_LOG_OFF);
	CHECK("log: error", kap_parse_log_level("error", &v) == KAP_VALUE_OK && v == KAP_LOG_ERROR);
	CHECK("log: warn", kap_parse_log_level("warn", &v) == KAP_VALUE_OK && v == KAP_LOG_WARN);
	CHECK("log: info", kap_parse_log_level("info", &v) == KAP_VALUE_OK && v == KAP_LOG_INFO);
	CHECK("log: DEBUG any case",
	      kap_parse_log_level(" DEBUG ", &v) == KAP_VALUE_OK && v == KAP_LOG_DEBUG);
	v = 99;
	CHECK("log: loud refused", kap_parse_log_level("loud", &v) == KAP_VALUE_SYNTAX && v == 99);
	CHECK("log: warning refused", kap_parse_log_level("warning", &v) == KAP_VALUE_SYNTAX);
	CHECK("log: empty", kap_parse_log_level("", &v) == KAP_VALUE_EMPTY);
}

static void test_user_timeout(void)
{
	long v = 5;

	CHECK("uto: 0", kap_parse_user_timeout("0", &v) == KAP_VALUE_OK && v == 0);
	CHECK("uto: 2147483647",
	      kap_parse_user_timeout("2147483647", &v) == KAP_VALUE_OK && v == 2147483647L);
	v = 5;
	CHECK("uto: 2147483648 refused",
	      kap_parse_user_timeout("2147483648", &v) == KAP_VALUE_RANGE && v == 5);
	CHECK("uto: auto", kap_parse_user_timeout("auto", &v) == KAP_VALUE_OK && v == KAP_UTO_AUTO);
	CHECK("uto: AUTO any case",
	      kap_parse_user_timeout(" AUTO ", &v) == KAP_VALUE_OK && v == KAP_UTO_AUTO);
	CHECK("uto: -1 refused", kap_parse_user_timeout("-1", &v) == KAP_VALUE_RANGE);
	CHECK("uto: autox refused", kap_parse_user_timeout("autox", &v) == KAP_VALUE_SYNTAX);
	CHECK("uto: empty", kap_parse_user_timeout("", &v) == KAP_VALUE_EMPTY);
}

static int prefix_is(const char *s, int family, int len, const char *addr)
{
	struct kap_prefix p;
	uint8_t want[16] = {0};

	if (kap_parse_prefix(s, &p) != KAP_VALUE_OK)
		return 0;
	if (inet_pton(family, addr, want) != 1)
		return 0;
	return p.family == family && p.len == len && memcmp(p.addr, want, 16) == 0;
}

static void test_prefix(void)
{
	struct kap_prefix p;

	CHECK("prefix: 10.0.0.0/8", prefix_is("10.0.0.0/8", AF_INET, 8, "10.0.0.0"));
	CHECK("prefix: host without length is /32",
	      prefix_is("192.168.1.7", AF_INET, 32, "192.168.1.7"));
	CHECK("prefix: host bits masked", prefix_is("10.1.2.3/8", AF_INET, 8, "10.0.0.0"));
	CHECK("prefix: odd length masks within a byte",
	      prefix_is("10.255.0.0/12", AF_INET, 12, "10.240.0.0"));
	CHECK("prefix: /0", prefix_is("1.2.3.4/0", AF_INET, 0, "0.0.0.0"));
	CHECK("prefix: blanks around slash", prefix_is(" 10.0.0.0 / 8 ", AF_INET, 8, "10.0.0.0"));
	CHECK("prefix: fd00::/8", prefix_is("fd00::/8", AF_INET6, 8, "fd00::"));
	CHECK("prefix: IPv6 host", prefix_is("2001:db8::1", AF_INET6, 128, "2001:db8::1"));
	CHECK("prefix: IPv6 host bits masked",
	      prefix_is("2001:db8:ffff::1/33", AF_INET6, 33, "2001:db8:8000::"));
	CHECK("prefix: v4-mapped text stays IPv6",
	      prefix_is("::ffff:10.0.0.0/104", AF_INET6, 104, "::ffff:10.0.0.0"));
	CHECK("prefix: /33 is range", kap_parse_prefix("10.0.0.0/33", &p) == KAP_VALUE_RANGE);
	CHECK("prefix: /129 is range", kap_parse_prefix("fd00::/129", &p) == KAP_VALUE_RANGE);
	CHECK("prefix: /-1 is range", kap_parse_prefix("10.0.0.0/-1", &p) == KAP_VALUE_RANGE);
	CHECK("prefix: empty length", kap_parse_prefix("10.0.0.0/", &p) == KAP_VALUE_SYNTAX);
	CHECK("prefix: length junk", kap_parse_prefix("10.0.0.0/8x", &p) == KAP_VALUE_SYNTAX);
	CHECK("prefix: two slashes", kap_parse_prefix("10.0.0.0/8/8", &p) == KAP_VALUE_SYNTAX);
	CHECK("prefix: 10.0.0.300", kap_parse_prefix("10.0.0.300", &p) == KAP_VALUE_SYNTAX);
	CHECK("prefix: short dotted", kap_parse_prefix("10.0.0/8", &p) == KAP_VALUE_SYNTAX);
	CHECK("prefix: hostname", kap_parse_prefix("db.example", &p) == KAP_VALUE_SYNTAX);
	CHECK("prefix: bad IPv6", kap_parse_prefix("fd00:::1", &p) == KAP_VALUE_SYNTAX);
	CHECK("prefix: overlong address",
	      kap_parse_prefix("1111:2222:3333:4444:5555:6666:7777:8888:9999:0000:1111/8", &p) ==
		  KAP_VALUE_SYNTAX);
	CHECK("prefix: only slash", kap_parse_prefix("/8", &p) == KAP_VALUE_SYNTAX);
	CHECK("prefix: empty", kap_parse_prefix(" ", &p) == KAP_VALUE_EMPTY);
}

static int port_is(const char *s, int lo, int hi)
{
	uint16_t a = 1, b = 1;

	return kap_parse_port_range(s, &a, &b) == KAP_VALUE_OK && a == lo && b == hi;
}

static void test_port(void)
{
	uint16_t a = 9, b = 9;

	CHECK("port: 5432", port_is("5432", 5432, 5432));
	CHECK("port: 1", port_is("1", 1, 1));
	CHECK("port: 65535", port_is("65535", 65535, 65535));
	CHECK("port: range", port_is("8000-8100", 8000, 8100));
	CHECK("port: range with blanks", port_is(" 8000 - 8100 ", 8000, 8100));
	CHECK("port: one-port range", port_is("80-80", 80, 80));
	CHECK("port: 0 refused", kap_parse_port_range("0", &a, &b) == KAP_VALUE_RANGE);
	CHECK("port: 65536 refused", kap_parse_port_range("65536", &a, &b) == KAP_VALUE_RANGE);
	CHECK("port: 70000 refused", kap_parse_port_range("70000", &a, &b) == KAP_VALUE_RANGE);
	CHECK("port: backwards range refused",
	      kap_parse_port_range("2000-1000", &a, &b) == KAP_VALUE_RANGE);
	CHECK("port: range end out of range",
	      kap_parse_port_range("1-70000", &a, &b) == KAP_VALUE_RANGE);
	CHECK("port: negative", kap_parse_port_range("-5", &a, &b) == KAP_VALUE_RANGE);
	CHECK("port: open range", kap_parse_port_range("80-", &a, &b) == KAP_VALUE_SYNTAX);
	CHECK("port: two dashes", kap_parse_port_range("1-2-3", &a, &b) == KAP_VALUE_SYNTAX);
	CHECK("port: name", kap_parse_port_range("http", &a, &b) == KAP_VALUE_SYNTAX);
	CHECK("port: empty", kap_parse_port_range("", &a, &b) == KAP_VALUE_EMPTY);
	CHECK("port: refused values leave outputs", a == 9 && b == 9);
}

static void test_direction(void)
{
	enum kap_direction d = KAP_DIR_INBOUND;

	CHECK("direction: outbound",
	      kap_parse_direction("outbound", &d) == KAP_VALUE_OK && d == KAP_DIR_OUTBOUND);
	CHECK("direction: inbound",
	      kap_parse_direction("Inbound", &d) == KAP_VALUE_OK && d == KAP_DIR_INBOUND);
	CHECK("direction: any",
	      kap_parse_direction(" any ", &d) == KAP_VALUE_OK && d == KAP_DIR_ANY);
	CHECK("direction: out refused", kap_parse_direction("out", &d) == KAP_VALUE_SYNTAX);
	CHECK("direction: both refused", kap_parse_direction("both", &d) == KAP_VALUE_SYNTAX);
	CHECK("direction: empty", kap_parse_direction("", &d) == KAP_VALUE_EMPTY);
}

int main(void)
{
	test_long();
	test_bool();
	test_log_level();
	test_user_timeout();
	test_prefix();
	test_port();
	test_direction();
	UNIT_EXIT();
}
