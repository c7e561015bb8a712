#!/usr/bin/env bash
# inetd style: the service's fds 0, 1 and 2 are the client's socket and the
# configuration has a bad value (KAP_IDLE=abc). The client must receive only
# the service's own bytes; the message goes to syslog (/dev/log), never to
# the socket. The same with fd 2 closed, where the service then opens a data
# file that becomes fd 2: the file must hold only the service's data.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"

KH=$KAP_BIN/kh_hostile
t_require_files "$KAP_LIB" "$KH"

# inetd MODE COMMAND...: a one-connection inetd plus its client in one
# process (no shim in it). The child accepts, puts the socket on fds 0 and 1,
# and on fd 2 too (MODE all), or closes fd 2 (MODE close2), or opens the file
# FILE there (MODE file2:FILE), then execs COMMAND. Prints what the client
# received.
inetd() {
	env -u LD_PRELOAD python3 - "$@" <<'EOF'
import os, socket, sys
mode, cmd = sys.argv[1], sys.argv[2:]
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(1)
pid = os.fork()
if pid == 0:
    conn, _ = ls.accept()
    ls.close()
    fd = conn.detach()
    os.dup2(fd, 0)
    os.dup2(fd, 1)
    if mode == "all":
        os.dup2(fd, 2)
    elif mode == "close2":
        os.close(2)
    else:
        f = os.open(mode.split(":", 1)[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(f, 2)
        os.close(f)
    os.close(fd)
    os.execvp(cmd[0], cmd)
c = socket.create_connection(ls.getsockname())
ls.close()
data = b""
while True:
    b = c.recv(65536)
    if not b:
        break
    data += b
os.waitpid(pid, 0)
sys.stdout.write(data.decode("latin-1"))
EOF
}

svc=(env LD_PRELOAD="$KAP_PRELOAD" KAP_IDLE=abc KAP_INTERVAL=11)

# fds 0-2 are the socket; strace records where the message went.
if have strace; then
	got=$(inetd all strace -f -qq -s 400 -e trace=write,sendto -o "$T_TMP/st" "${svc[@]}" "$KH" sock)
else
	got=$(inetd all "${svc[@]}" "$KH" sock)
fi
t_contains inetd_service_ran_under_shim "keepalive=1 idle=$(cat /proc/sys/net/ipv4/tcp_keepalive_time) interval=11" "$got"
t_not_contains inetd_client_gets_no_shim_bytes "libkapreload" "$got"
if have strace; then
	st=$(cat "$T_TMP/st")
	t_contains inetd_message_sent_to_syslog 'KAP_IDLE=abc' "$(grep 'sendto(' <<<"$st")"
	t_contains inetd_syslog_socket_is_dev_log 'sun_path="/dev/log"' "$(grep 'KAP_IDLE=abc' <<<"$st")"
	t_eq inetd_message_never_written_to_an_fd "" "$(grep 'write(.*libkapreload' <<<"$st")"
else
	t_skip inetd_message_sent_to_syslog "strace not installed"
fi
# Control: with fd 2 a file the same service does print the message, there.
got=$(inetd "file2:$T_TMP/err" "${svc[@]}" "$KH" sock)
t_contains inetd_control_message_exists "libkapreload: KAP_IDLE=abc" "$(cat "$T_TMP/err")"
t_not_contains inetd_control_client_clean "libkapreload" "$got"

# fd 2 closed; the service's first open() takes fd 2 (kh_hostile fd2).
got=$(inetd close2 "${svc[@]}" "$KH" fd2 "$T_TMP/data" 3)
t_eq fd2_closed_inetd_file_is_fd2 "file_fd=2" "$got"
t_eq fd2_closed_inetd_file_clean "data" "$(cat "$T_TMP/data")"
# The same from a shell: 2>&-.
rm -f "$T_TMP/data"
got=$("${svc[@]}" "$KH" fd2 "$T_TMP/data" 3 2>&-)
t_eq fd2_closed_shell_file_is_fd2 "file_fd=2" "$got"
t_eq fd2_closed_shell_file_clean "data" "$(cat "$T_TMP/data")"
# With debug logging every socket() logs a line: those must not land in
# the program's data file that now holds fd 2 either.
rm -f "$T_TMP/data"
got=$("${svc[@]}" KAP_LOG=debug "$KH" fd2 "$T_TMP/data" 3 2>&-)
t_eq fd2_closed_debug_file_is_fd2 "file_fd=2" "$got"
t_eq fd2_closed_debug_file_clean "data" "$(cat "$T_TMP/data")"
# Control: fd 2 open from the start is a log, and gets the message.
got=$("${svc[@]}" "$KH" fd2 "$T_TMP/data" 3 2>"$T_TMP/err2")
t_contains fd2_control_open_stderr_gets_message "libkapreload: KAP_IDLE=abc" "$(cat "$T_TMP/err2")"

t_done
