#!/usr/bin/env bash
# Return values and errno are the real call's: a non-blocking connect under
# the shim still returns -1/EINPROGRESS (socket seen at socket() or only at
# connect(), with and without KAP_USER_TIMEOUT, v4 and v6, C and Python);
# a refused blocking connect, a bad protocol and an empty non-blocking accept
# report what they report without the shim.  Negative control: a broken shim
# (tests/helpers/libkt_errclobber.c) that clobbers errno turns the answer red.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=../helpers/kt_lib.sh
. "$TESTS_DIR/helpers/kt_lib.sh"
kt_require

inprogress="connect=-1 errno=EINPROGRESS"
kt_bg "$T_TMP/srv" "$KT_PROBE" server 0 --accept 1000 --hold -1
srv_pid=$KT_PID
port=$(kt_port "$T_TMP/srv") || {
	t_fail errno_server_start "no listening line: $(cat "$T_TMP/srv.err")"
	exit 1
}
closed=$(free_port)

t_eq errno_baseline_noshim "$inprogress" "$("${KT_NOSHIM[@]}" "$KT_PROBE" errno-connect 127.0.0.1 "$port")"
for uto in "" 5000 auto; do
	for raw in "" --raw; do
		for dst in "$port" "$closed"; do
			name="errno_nonblock${uto:+_uto$uto}${raw:+_raw}"
			[ "$dst" = "$closed" ] && name="${name}_closed_port"
			got=$("${KT_SHIM[@]}" "${KT_CFG[@]}" ${uto:+KAP_USER_TIMEOUT=$uto} \
				"$KT_PROBE" errno-connect 127.0.0.1 "$dst" ${raw:+"$raw"} 2>/dev/null)
			t_eq "$name" "$inprogress" "$got"
		done
	done
done
got=$("${KT_SHIM[@]}" "${KT_CFG[@]}" KAP_OVERRIDE=1 KAP_USER_TIMEOUT=5000 \
	"$KT_PROBE" client 127.0.0.1 "$port" --nonblock --set 100,20,3)
t_eq errno_nonblock_override_app_set \
	"$inprogress|keepalive=1 idle=45 interval=6 count=3 user_timeout=5000" "$(echo "$got" | paste -sd '|')"

# Negative control: the check goes red when a shim clobbers errno.
clobber=$KAP_BIN/libkt_errclobber.so
if [ -f "$clobber" ]; then
	got=$(env LD_PRELOAD="$clobber" "$KT_PROBE" errno-connect 127.0.0.1 "$port")
	kt_differs errno_clobbering_shim_detected "$inprogress" "$got"
else
	t_fail errno_clobbering_shim_detected "missing $clobber (make test-programs)"
fi

if ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/'; then
	kt_bg "$T_TMP/srv6" "$KT_PROBE" server 0 --bind ::1 --accept 10 --hold -1
	if port6=$(kt_port "$T_TMP/srv6"); then
		for raw in "" --raw; do
			got=$("${KT_SHIM[@]}" "${KT_CFG[@]}" KAP_USER_TIMEOUT=5000 \
				"$KT_PROBE" errno-connect ::1 "$port6" ${raw:+"$raw"} 2>/dev/null)
			t_eq "errno_nonblock_ipv6${raw:+_raw}" "$inprogress" "$got"
		done
	else
		t_fail errno_ipv6_server "no listening line"
	fi
	kt_stop "$KT_PID"
else
	t_skip errno_nonblock_ipv6 "no ::1 on lo"
fi

# A refused blocking connect: same message and exit status as without the shim.
"${KT_NOSHIM[@]}" "$KT_PROBE" client 127.0.0.1 "$closed" >/dev/null 2>"$T_TMP/ref0"
rc0=$?
"${KT_SHIM[@]}" "${KT_CFG[@]}" KAP_USER_TIMEOUT=5000 "$KT_PROBE" client 127.0.0.1 "$closed" \
	>/dev/null 2>"$T_TMP/ref1"
rc1=$?
t_eq errno_refused_status "1 $(cat "$T_TMP/ref0")" "$rc1 $(cat "$T_TMP/ref1")"
t_eq errno_refused_baseline "1 tcpprobe: connect: Connection refused" "$rc0 $(cat "$T_TMP/ref0")"

py_errno='
import errno, socket, sys
out = []
s = socket.socket(); s.setblocking(False)
out.append("connect_ex=" + errno.errorcode.get(s.connect_ex(("127.0.0.1", int(sys.argv[1]))), "0"))
try:
    socket.socket(socket.AF_INET, socket.SOCK_STREAM, 17)
    out.append("badproto=ok")
except OSError as e:
    out.append("badproto=" + errno.errorcode[e.errno])
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(1); l.setblocking(False)
try:
    l.accept()
    out.append("accept=ok")
except OSError as e:
    out.append("accept=" + errno.errorcode[e.errno])
print(" ".join(out))
'
want=$("${KT_NOSHIM[@]}" "$KT_PY" -c "$py_errno" "$port")
t_eq errno_py_baseline "connect_ex=EINPROGRESS badproto=EPROTONOSUPPORT accept=EAGAIN" "$want"
got=$("${KT_SHIM[@]}" "${KT_CFG[@]}" KAP_USER_TIMEOUT=5000 "$KT_PY" -c "$py_errno" "$port")
t_eq errno_py_shim "$want" "$got"

kt_stop "$srv_pid"
t_done
