#!/usr/bin/env bash
# Bad input: each bad variable gives exactly one "libkapreload: " line per
# process (not per socket), naming the variable, the value and the range; the
# parameter falls back (kernel default, or the file); stdout and the exit
# status are unchanged.  With no problem nothing at all is printed.  Messages
# never go into a socket: an inetd-style server whose fd 2 is the client's
# socket (or closed) sends the client none of the shim's bytes, and
# KAP_LOG_TARGET=/abs/file receives the message instead.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=../helpers/kt_lib.sh
. "$TESTS_DIR/helpers/kt_lib.sh"
kt_require

# runp NAME ENV...: run "tcpprobe sockets 3" under the shim; sets OUT
# (stdout, lines joined by |), ERR (stderr) and RC.
runp() {
	local name=$1
	shift
	"${KT_SHIM[@]}" "$@" "$KT_PROBE" sockets 3 >"$T_TMP/$name.out" 2>"$T_TMP/$name.err"
	RC=$?
	OUT=$(paste -sd '|' "$T_TMP/$name.out")
	ERR=$(cat "$T_TMP/$name.err")
}

# bad NAME VAR VALUE RANGE-TEXT [GOOD-ENV...]: VAR=VALUE is refused with one
# line; everything else as if VAR were not set at all.
bad() {
	local name=$1 var=$2 val=$3 range=$4 ref_out
	shift 4
	runp "$name.ref" "$@"
	ref_out=$OUT
	runp "$name" "$@" "$var=$val"
	t_eq "${name}_stdout_and_rc_unchanged" "$ref_out rc=0" "$OUT rc=$RC"
	t_eq "${name}_one_line" 1 "$(grep -c . "$T_TMP/$name.err")"
	t_contains "${name}_prefix" "libkapreload: " "${ERR:0:14}"
	t_contains "${name}_names_variable" "$var" "$ERR"
	t_contains "${name}_names_value" "$val" "$ERR"
	[ -n "$range" ] && t_contains "${name}_names_range" "$range" "$ERR"
}

good=(KAP_IDLE=45 KAP_INTERVAL=6 KAP_COUNT=3)
bad bad_idle_abc KAP_IDLE abc 32767 KAP_INTERVAL=6 KAP_COUNT=3
bad bad_idle_0 KAP_IDLE 0 32767 KAP_INTERVAL=6
bad bad_idle_99999 KAP_IDLE 99999 32767 KAP_COUNT=3
bad bad_idle_32768 KAP_IDLE 32768 32767
bad bad_idle_trailing_junk KAP_IDLE 45s 32767 KAP_COUNT=3
bad bad_interval_0 KAP_INTERVAL 0 32767 KAP_IDLE=45
bad bad_interval_40000 KAP_INTERVAL 40000 32767 KAP_IDLE=45
bad bad_count_500 KAP_COUNT 500 127 KAP_IDLE=45 KAP_INTERVAL=6
bad bad_count_128 KAP_COUNT 128 127 KAP_IDLE=45
bad bad_count_0 KAP_COUNT 0 127 KAP_IDLE=45
bad bad_uto_negative KAP_USER_TIMEOUT -1 2147483647 "${good[@]}"
bad bad_uto_overflow KAP_USER_TIMEOUT 2147483648 2147483647 "${good[@]}"
bad bad_uto_abc KAP_USER_TIMEOUT abc 2147483647 "${good[@]}"
bad bad_enable_maybe KAP_ENABLE maybe off "${good[@]}"
bad bad_override_perhaps KAP_OVERRIDE perhaps off "${good[@]}"
bad bad_log_loud KAP_LOG loud debug "${good[@]}"
bad bad_log_target_relative KAP_LOG_TARGET relative/file.log syslog "${good[@]}"

# The fallback is the kernel default when nothing else sets it...
runp bad_idle_falls_back KAP_IDLE=abc KAP_INTERVAL=6
t_eq bad_idle_falls_back_to_kernel "keepalive=1 idle=$KT_DEF_IDLE interval=6 count=$KT_DEF_CNT user_timeout=0" \
	"${OUT%%|*}"
# ...and the file when it sets the parameter.
printf 'idle = 40\ncount = 4\n' >"$T_TMP/k.conf"
runp bad_idle_falls_back_file KAP_CONFIG="$T_TMP/k.conf" KAP_IDLE=abc KAP_COUNT=500
t_eq bad_idle_falls_back_to_file "keepalive=1 idle=40 interval=$KT_DEF_INTVL count=4 user_timeout=0" "${OUT%%|*}"
t_eq bad_two_problems_two_lines 2 "$(grep -c '^libkapreload: ' "$T_TMP/bad_idle_falls_back_file.err")"
t_eq bad_two_problems_nothing_else 2 "$(grep -c . "$T_TMP/bad_idle_falls_back_file.err")"

# Once per process: many sockets, several threads, accept and connect.
py_many='
import socket, threading, sys
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(64)
def work():
    for _ in range(5):
        c = socket.create_connection(l.getsockname()); a, _ = l.accept(); c.close(); a.close()
ts = [threading.Thread(target=work) for _ in range(4)]
[t.start() for t in ts]; [t.join() for t in ts]
print("done"); sys.exit(3)
'
"${KT_SHIM[@]}" KAP_IDLE=abc "$KT_PY" -c "$py_many" >"$T_TMP/many.out" 2>"$T_TMP/many.err"
rc=$?
t_eq bad_once_per_process_many_sockets_threads "1 done rc=3" \
	"$(grep -c '^libkapreload: ' "$T_TMP/many.err") $(cat "$T_TMP/many.out") rc=$rc"
t_eq bad_once_nothing_else 1 "$(grep -c . "$T_TMP/many.err")"

# KAP_LOG=off silences it.
runp bad_log_off KAP_IDLE=abc KAP_LOG=off
t_eq bad_log_off_silent "" "$ERR"

# No config and no problem: nothing at all, in any role.
runp quiet_sockets "${good[@]}" KAP_USER_TIMEOUT=5000 KAP_OVERRIDE=1 KAP_ENABLE=yes KAP_LOG=warn
t_eq quiet_no_problem_sockets "" "$ERR"
"${KT_SHIM[@]}" "${good[@]}" "$KT_PY" -c "$py_many" >/dev/null 2>"$T_TMP/q.err"
t_eq quiet_no_problem_python "" "$(cat "$T_TMP/q.err")"
# Negative control for the message checks: without the shim, nothing.
"${KT_NOSHIM[@]}" KAP_IDLE=abc "$KT_PROBE" sockets 3 >/dev/null 2>"$T_TMP/n.err"
t_eq bad_noshim_says_nothing "" "$(cat "$T_TMP/n.err")"

# inetd style: the service's fds 0, 1 and 2 are the client's socket.
# "$KT_PY" -c "$inetd" MODE PROGRAM ARGS... (run without the shim; the
# service gets LD_PRELOAD=KT_CHILD_PRELOAD).  MODE: socket (fd 2 = socket),
# file (fd 2 = $T_TMP/svc.err), closed (fd 2 closed: the service's own first
# socket gets fd 2).  Prints the service's status and everything the client
# received, then what a second listener received from the service ("peer:").
inetd='
import os, socket, subprocess, sys
mode, cmd = sys.argv[1], sys.argv[2:]
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(1)
l2 = socket.socket(); l2.bind(("127.0.0.1", 0)); l2.listen(1)
cmd = [a.replace("{peer}", str(l2.getsockname()[1])) for a in cmd]
c = socket.create_connection(l.getsockname())
a, _ = l.accept()
env = dict(os.environ, LD_PRELOAD=os.environ["KT_CHILD_PRELOAD"])
err = {"socket": a, "file": open(os.environ["KT_ERRFILE"], "w"), "closed": a}[mode]
pre = (lambda: os.close(2)) if mode == "closed" else None
p = subprocess.Popen(cmd, stdin=a, stdout=a, stderr=err, env=env, preexec_fn=pre)
peer = b""
if "{peer}" in sys.argv[2:] or any(str(l2.getsockname()[1]) == x for x in cmd):
    l2.settimeout(5)
    b, _ = l2.accept(); b.settimeout(5)
    while True:
        d = b.recv(65536)
        if not d: break
        peer += d
p.wait(); a.close()
c.settimeout(5)
data = b""
while True:
    d = c.recv(65536)
    if not d: break
    data += d
print("rc=%d" % p.returncode)
sys.stdout.write(data.decode(errors="replace"))
print("peer:" + repr(peer))
'
svc() {
	"${KT_NOSHIM[@]}" KT_CHILD_PRELOAD="$KAP_PRELOAD" KT_ERRFILE="$T_TMP/svc.err" \
		"$KT_PY" -c "$inetd" "$@" 2>&1
}
three="keepalive=1 idle=$KT_DEF_IDLE interval=$KT_DEF_INTVL count=$KT_DEF_CNT user_timeout=0"
three="$three|$three|$three"
got=$(KAP_IDLE=abc svc socket "$KT_PROBE" sockets 3 | paste -sd '|')
t_eq inetd_stderr_socket_client_gets_no_message "rc=0|$three|peer:b''" "$got"
# Negative control: bytes a service writes to fd 2 do reach the client here.
# shellcheck disable=SC2016 # $0 is expanded by the inner sh
got=$(svc socket sh -c 'echo "libkapreload: fake" >&2; exec "$0" sockets 3' "$KT_PROBE" | paste -sd '|')
t_contains inetd_negative_control_stderr_bytes_reach_client "libkapreload: fake" "$got"
got=$(KAP_IDLE=abc svc file "$KT_PROBE" sockets 3 | paste -sd '|')
t_eq inetd_negative_control_stderr_file_output "rc=0|$three|peer:b''" "$got"
t_contains inetd_negative_control_message_exists "libkapreload: KAP_IDLE" "$(cat "$T_TMP/svc.err")"
got=$(KAP_IDLE=abc KAP_LOG_TARGET="$T_TMP/kap.log" svc socket "$KT_PROBE" sockets 3 | paste -sd '|')
t_eq inetd_log_target_client_gets_no_message "rc=0|$three|peer:b''" "$got"
t_contains inetd_log_target_file_gets_message "libkapreload: KAP_IDLE" "$(cat "$T_TMP/kap.log" 2>&1)"
t_eq inetd_log_target_file_one_line 1 "$(grep -c . "$T_TMP/kap.log" 2>/dev/null)"
# fd 2 closed: the service's connection to the second listener becomes fd 2.
got=$(KAP_IDLE=abc svc closed "$KT_PROBE" client 127.0.0.1 '{peer}' | paste -sd '|')
t_eq inetd_fd2_closed_peer_gets_no_message \
	"rc=0|keepalive=1 idle=$KT_DEF_IDLE interval=$KT_DEF_INTVL count=$KT_DEF_CNT user_timeout=0|peer:b''" "$got"

t_done
