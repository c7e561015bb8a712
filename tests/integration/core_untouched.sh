#!/usr/bin/env bash
# Sockets the shim must leave alone: UDP and AF_UNIX sockets (C and Python)
# get no setsockopt at all (strace) and keep SO_KEEPALIVE 0; KAP_ENABLE=0 /
# off / no / false (any case) leaves TCP sockets alone too.  Negative
# controls: the same strace sees the shim's calls on a TCP socket, and the
# "true" spellings do configure.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=../helpers/kt_lib.sh
. "$TESTS_DIR/helpers/kt_lib.sh"
kt_require

nontcp_want="udp4 keepalive=0, udp6 keepalive=0, unix-stream keepalive=0, unix-dgram keepalive=0,"
nontcp_want="$nontcp_want unix-pair keepalive=0"
got=$("${KT_SHIM[@]}" "${KT_CFG[@]}" "$KT_PROBE" nontcp 2>&1 | paste -sd , | sed 's/,/, /g')
t_eq untouched_nontcp_so_keepalive_0 "$nontcp_want" "$got"

py_nontcp='
import socket
S = socket.socket
for name, s in (("udp4", S(socket.AF_INET, socket.SOCK_DGRAM)),
                ("udp6", S(socket.AF_INET6, socket.SOCK_DGRAM)),
                ("unix-stream", S(socket.AF_UNIX, socket.SOCK_STREAM)),
                ("unix-dgram", S(socket.AF_UNIX, socket.SOCK_DGRAM)),
                ("unix-pair", socket.socketpair()[0])):
    print("%s keepalive=%d" % (name, s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)))
'
got=$("${KT_SHIM[@]}" "${KT_CFG[@]}" "$KT_PY" -c "$py_nontcp" 2>&1 | paste -sd , | sed 's/,/, /g')
t_eq untouched_py_nontcp_so_keepalive_0 "$nontcp_want" "$got"

# strace_count [ENV...] PROGRAM ARGS...: setsockopt calls seen by strace -f
# in the program run under the shim (the shim's and the program's own).
strace_count() {
	strace -f -qq -e trace=setsockopt -o "$T_TMP/strace" \
		"${KT_SHIM[@]}" "$@" >/dev/null 2>&1
	grep -c 'setsockopt(' "$T_TMP/strace"
}

kt_bg "$T_TMP/srv" "$KT_PROBE" server 0 --accept 1000 --hold -1
srv_pid=$KT_PID
port=$(kt_port "$T_TMP/srv") || {
	t_fail untouched_server_start "no listening line: $(cat "$T_TMP/srv.err")"
	exit 1
}

if have strace; then
	t_eq untouched_nontcp_strace_no_setsockopt 0 "$(strace_count "${KT_CFG[@]}" "$KT_PROBE" nontcp)"
	t_eq untouched_py_nontcp_strace_no_setsockopt 0 \
		"$(strace_count "${KT_CFG[@]}" "$KT_PY" -c "$py_nontcp")"
	# Negative control: the same count sees the shim at work on TCP.
	n=$(strace_count "${KT_CFG[@]}" "$KT_PROBE" sockets 1)
	kt_differs untouched_strace_sees_tcp_setsockopt 0 "$n"
else
	t_skip untouched_strace "strace not installed"
fi

for v in 0 off no false OFF False No FALSE; do
	got=$("${KT_SHIM[@]}" "${KT_CFG[@]}" KAP_USER_TIMEOUT=5000 KAP_ENABLE="$v" \
		"$KT_PROBE" client 127.0.0.1 "$port" 2>&1)
	t_eq "untouched_enable_${v}_client" "$KT_UNTOUCHED" "$got"
done
if have strace; then
	for v in 0 off; do
		t_eq "untouched_enable_${v}_strace_no_setsockopt" 0 \
			"$(strace_count "${KT_CFG[@]}" KAP_ENABLE="$v" "$KT_PROBE" client 127.0.0.1 "$port")"
	done
	n=$(strace_count "${KT_CFG[@]}" KAP_ENABLE=1 "$KT_PROBE" client 127.0.0.1 "$port")
	kt_differs untouched_enable_1_strace_sees_setsockopt 0 "$n"
fi
kt_check_accepted untouched_enable_0_server noshim 127.0.0.1 \
	"${KT_SHIM[@]}" "${KT_CFG[@]}" KAP_ENABLE=0 "$KT_PROBE" server 0 --hold -1
kt_check_accepted untouched_enable_off_py_server noshim 127.0.0.1 \
	"${KT_SHIM[@]}" "${KT_CFG[@]}" KAP_ENABLE=off "$KT_PY" -c "$KT_PY_SERVER" 127.0.0.1 1 60

# Negative controls: every "true" spelling configures.
for v in 1 on yes true ON True Yes TRUE; do
	got=$("${KT_SHIM[@]}" "${KT_CFG[@]}" KAP_ENABLE="$v" "$KT_PROBE" client 127.0.0.1 "$port" 2>&1)
	t_eq "untouched_enable_${v}_configures" "$KT_WANT" "$got"
done

kt_stop "$srv_pid"
t_done
