#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "real.h"

int kap_log_level = KAP_LOG_WARN;

enum target { TARGET_STDERR, TARGET_SYSLOG, TARGET_FILE };

static const char prefix[] = "libkapreload: ";
#define PREFIX_LEN (sizeof(prefix) - 1)

static enum target log_target = TARGET_STDERR;
static char log_path[KAP_PATH_MAX];
/* What fd 2 was at start-up, when it was a log then. */
static int stderr_was_log;
static dev_t stderr_dev;
static ino_t stderr_ino;

void kap_log_setup(int level, const char *target)
{
	struct stat st;

	kap_log_level = level;
	/*
	 * fstatat with our own "", not fstat: glibc's fstat passes the kernel a ""
	 * from libc's read-only data, a page that a small program never touches,
	 * and that page fault is the dearest part of this call.
	 */
	stderr_was_log = fstatat(2, "", &st, AT_EMPTY_PATH) == 0 && !S_ISSOCK(st.st_mode);
	stderr_dev = st.st_dev;
	stderr_ino = st.st_ino;
	if (strcmp(target, "syslog") == 0) {
		log_target = TARGET_SYSLOG;
	} else if (target[0] == '/' && strlen(target) < sizeof(log_path)) {
		log_target = TARGET_FILE;
		memcpy(log_path, target, strlen(target) + 1);
	} else {
		log_target = TARGET_STDERR;
	}
}

void kap_msg_str(struct kap_msg *m, const char *s)
{
	while (*s && m->len < sizeof(m->text) - 1)
		m->text[m->len++] = *s++;
	m->text[m->len] = '\0';
}

void kap_msg_int(struct kap_msg *m, long v)
{
	char digits[24];
	int n = 0;
	unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;

	do {
		digits[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		digits[n++] = '-';
	while (n > 0 && m->len < sizeof(m->text) - 1)
		m->text[m->len++] = digits[--n];
	m->text[m->len] = '\0';
}

/* syslog(3) takes a lock and may allocate; this speaks to /dev/log itself. */
static void send_syslog(int level, const char *line, size_t len)
{
	static const int severity[] = {
	    [KAP_LOG_ERROR] = 3, [KAP_LOG_WARN] = 4, [KAP_LOG_INFO] = 6, [KAP_LOG_DEBUG] = 7};
	struct sockaddr_un addr = {.sun_family = AF_UNIX, .sun_path = "/dev/log"};
	struct kap_msg m = {.len = 0};
	int fd;

	if (!kap_real.socket)
		return;
	/* <PRI> with facility LOG_USER (1 << 3); the tag carries the pid. */
	kap_msg_str(&m, "<");
	kap_msg_int(&m, 8 + severity[level]);
	kap_msg_str(&m, ">libkapreload[");
	kap_msg_int(&m, (long)getpid());
	kap_msg_str(&m, "]: ");
	if (m.len + len < sizeof(m.text)) {
		memcpy(m.text + m.len, line, len);
		m.len += len;
	}
	fd = kap_real.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	(void)sendto(fd, m.text, m.len, MSG_NOSIGNAL, (struct sockaddr *)&addr, sizeof(addr));
	close(fd);
}

/*
 * Under inetd fds 0-2 are the client's socket, and a program started with
 * fd 2 closed may later open its own data file there: fd 2 is a log only
 * if it was one at start-up (a file, a pipe or a terminal, not a socket)
 * and still is that same file.
 */
static int stderr_is_a_log(void)
{
	struct stat st;

	return stderr_was_log && fstat(2, &st) == 0 && st.st_dev == stderr_dev &&
	       st.st_ino == stderr_ino;
}

void kap_log(int level, const char *msg)
{
	struct kap_msg m = {.len = 0};
	int saved_errno = errno;
	int fd;

	if (level > kap_log_level || level <= KAP_LOG_OFF)
		return;
	kap_msg_str(&m, prefix);
	kap_msg_str(&m, msg);
	/* One line per message even when msg is cut short. */
	if (m.len == sizeof(m.text) - 1)
		m.len--;
	m.text[m.len++] = '\n';

	switch (log_target) {
	case TARGET_FILE:
		fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
		if (fd >= 0) {
			(void)write(fd, m.text, m.len);
			close(fd);
			break;
		}
		send_syslog(level, m.text + PREFIX_LEN, m.len - PREFIX_LEN - 1);
		break;
	case TARGET_STDERR:
		if (stderr_is_a_log()) {
			(void)write(2, m.text, m.len);
			break;
		}
		/* fall through */
	case TARGET_SYSLOG:
		send_syslog(level, m.text + PREFIX_LEN, m.len - PREFIX_LEN - 1);
		break;
	}
	errno = saved_errno;
}
