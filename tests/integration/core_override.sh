#!/usr/bin/env bash
# Applications that set keepalive themselves.  Override off (default, or
# KAP_OVERRIDE=0/off): the application's values win, option by option, set
# before or after connect().  KAP_OVERRIDE=1/on/yes/true: the configured values
# stay and the application's setsockopt still returns 0 (tcpprobe exits 1 with
# a message if its own setsockopt fails).  C client, Python server.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=../helpers/kt_lib.sh
. "$TESTS_DIR/helpers/kt_lib.sh"
kt_require

cfg=("${KT_CFG[@]}" KAP_USER_TIMEOUT=7000)
ours="keepalive=1 idle=45 interval=6 count=3 user_timeout=7000"
apps="keepalive=1 idle=100 interval=20 count=3 user_timeout=7000"

kt_bg "$T_TMP/srv" "$KT_PROBE" server 0 --accept 1000 --hold -1
srv_pid=$KT_PID
port=$(kt_port "$T_TMP/srv") || {
	t_fail override_server_start "no listening line: $(cat "$T_TMP/srv.err")"
	exit 1
}

# probe NAME EXPECTED ENV... -- CLIENT-OPTIONS...: the client's line, its
# stderr and exit status must be exactly EXPECTED, "" and 0.
probe() {
	local name=$1 want=$2 envs=() got rc
	shift 2
	while [ "$1" != -- ]; do
		envs+=("$1")
		shift
	done
	shift
	got=$("${KT_SHIM[@]}" "${envs[@]}" "$KT_PROBE" client 127.0.0.1 "$port" "$@" 2>"$T_TMP/err")
	rc=$?
	t_eq "$name" "$want rc=0 stderr=" "$got rc=$rc stderr=$(cat "$T_TMP/err")"
}

for when in before after; do
	after=()
	[ "$when" = after ] && after=(--set-after)
	probe "override_default_app_wins_$when" "$apps" "${cfg[@]}" -- --set 100,20,3 "${after[@]}"
	probe "override_0_app_wins_$when" "$apps" "${cfg[@]}" KAP_OVERRIDE=0 -- --set 100,20,3 "${after[@]}"
	probe "override_1_ours_stay_$when" "$ours" "${cfg[@]}" KAP_OVERRIDE=1 -- --set 100,20,3 "${after[@]}"
	probe "override_1_keepalive_off_refused_$when" "$ours" "${cfg[@]}" KAP_OVERRIDE=1 -- \
		--set-keepalive 0 "${after[@]}"
	probe "override_off_keepalive_off_wins_$when" "${ours/keepalive=1/keepalive=0}" "${cfg[@]}" -- \
		--set-keepalive 0 "${after[@]}"
	probe "override_1_uto_stays_$when" "$ours" "${cfg[@]}" KAP_OVERRIDE=1 -- \
		--set-user-timeout 1000 "${after[@]}"
	# Option by option: the app's UTO wins, our keepalive values stay.
	probe "override_off_uto_only_$when" "${ours/user_timeout=7000/user_timeout=1000}" "${cfg[@]}" -- \
		--set-user-timeout 1000 "${after[@]}"
done
for v in on yes true TRUE; do
	probe "override_${v}_ours_stay" "$ours" "${cfg[@]}" KAP_OVERRIDE="$v" -- --set 100,20,3
done
for v in off no false; do
	probe "override_${v}_app_wins" "$apps" "${cfg[@]}" KAP_OVERRIDE="$v" -- --set 100,20,3
done
# Override with only some parameters configured: the others are the app's.
probe override_1_partial "keepalive=1 idle=45 interval=20 count=3 user_timeout=0" \
	KAP_IDLE=45 KAP_OVERRIDE=1 -- --set 100,20,3

# Negative control: without the shim the application's values are what it gets.
got=$("${KT_NOSHIM[@]}" "${cfg[@]}" KAP_OVERRIDE=1 "$KT_PROBE" client 127.0.0.1 "$port" --set 100,20,3)
kt_differs override_1_noshim_is_apps "$ours" "$got"
t_eq override_1_noshim_baseline "keepalive=1 idle=100 interval=20 count=3 user_timeout=0" "$got"

# Accepted side, Python: the server sets its own values after accept().
py_srv=$KT_PY_LINE'
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(4)
print("listening %d" % l.getsockname()[1], flush=True)
c, _ = l.accept()
r = [c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 100),
     c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 20),
     c.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 0)]
print("accepted " + line(c) + " set=" + ",".join(map(str, r)), flush=True)
'
# py_case NAME EXPECTED ENV...
py_case() {
	local name=$1 want=$2 p got
	shift 2
	kt_bg "$T_TMP/$name" "${KT_SHIM[@]}" "${cfg[@]}" "$@" "$KT_PY" -c "$py_srv"
	if p=$(kt_port "$T_TMP/$name"); then
		"$KT_PROBE" client 127.0.0.1 "$p" >/dev/null
		got=$(kt_wait_line "$T_TMP/$name" '^accepted ')
		t_eq "$name" "accepted $want set=None,None,None" "$got"
	else
		t_fail "$name" "no listening line: $(cat "$T_TMP/$name.err")"
	fi
	kt_stop "$KT_PID"
}
py_case override_py_server_default_app_wins "keepalive=0 idle=100 interval=20 count=3 user_timeout=7000"
py_case override_py_server_1_ours_stay "$ours" KAP_OVERRIDE=1

kt_stop "$srv_pid"
t_done
