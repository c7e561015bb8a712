#!/usr/bin/env bash
# Accepted side: a server under the shim (client without it) gets the
# configured values on every accepted socket: accept(), accept4(), addr NULL,
# Python, and a listener inherited from a parent that never had the shim
# (Python parent, systemd-socket-activate).  Checked inside (getsockopt) and
# outside (ss timer, pidfd_getfd); without the shim the sockets stay untouched.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=../helpers/kt_lib.sh
. "$TESTS_DIR/helpers/kt_lib.sh"
kt_require

kt_check_accepted server_accept shim 127.0.0.1 \
	"${KT_SHIM[@]}" "${KT_CFG[@]}" "$KT_PROBE" server 0 --hold -1
kt_check_accepted server_accept_noshim noshim 127.0.0.1 \
	"${KT_NOSHIM[@]}" "${KT_CFG[@]}" "$KT_PROBE" server 0 --hold -1
kt_check_accepted server_accept_nulladdr shim 127.0.0.1 \
	"${KT_SHIM[@]}" "${KT_CFG[@]}" "$KT_PROBE" server 0 --nullfd-addr --hold -1
kt_check_accepted server_accept4_nulladdr shim 127.0.0.1 \
	"${KT_SHIM[@]}" "${KT_CFG[@]}" "$KT_PROBE" server 0 --accept4 --nullfd-addr --hold -1
kt_check_accepted server_accept4_noshim noshim 127.0.0.1 \
	"${KT_NOSHIM[@]}" "${KT_CFG[@]}" "$KT_PROBE" server 0 --accept4 --hold -1
kt_check_accepted server_py shim 127.0.0.1 \
	"${KT_SHIM[@]}" "${KT_CFG[@]}" "$KT_PY" -c "$KT_PY_SERVER" 127.0.0.1 1 60
kt_check_accepted server_py_noshim noshim 127.0.0.1 \
	"${KT_NOSHIM[@]}" "${KT_CFG[@]}" "$KT_PY" -c "$KT_PY_SERVER" 127.0.0.1 1 60

# A parent without the shim makes the listener and execs the server with
# LD_PRELOAD=KT_CHILD_PRELOAD (empty: none); python3 PARENT PROGRAM ARGS...
# The listener never went through the shim's socket(): only accept() can help.
parent='
import os, socket, sys
l = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
l.bind(("127.0.0.1", 0))
l.listen(16)
l.set_inheritable(True)
env = dict(os.environ)
env.pop("LD_PRELOAD", None)
if os.environ.get("KT_CHILD_PRELOAD"):
    env["LD_PRELOAD"] = os.environ["KT_CHILD_PRELOAD"]
args = [a.replace("{fd}", str(l.fileno())) for a in sys.argv[1:]]
os.execve(args[0], args, env)
'
for mode in accept accept4; do
	flag=()
	[ "$mode" = accept4 ] && flag=(--accept4)
	kt_check_accepted "server_inherited_${mode}" shim 127.0.0.1 \
		"${KT_NOSHIM[@]}" "${KT_CFG[@]}" KT_CHILD_PRELOAD="$KAP_PRELOAD" "$KT_PY" -c "$parent" \
		"$KT_PROBE" server 0 --fd '{fd}' "${flag[@]}" --hold -1
done
# A short address buffer is legal (the address is truncated, *addrlen says
# the real size): the shim must not judge the socket by bytes never written.
for c in accept:0 accept4:1 accept:2; do
	mode=${c%:*}
	len=${c#*:}
	flag=()
	[ "$mode" = accept4 ] && flag=(--accept4)
	kt_check_accepted "server_inherited_${mode}_addrlen_$len" shim 127.0.0.1 \
		"${KT_NOSHIM[@]}" "${KT_CFG[@]}" KT_CHILD_PRELOAD="$KAP_PRELOAD" "$KT_PY" -c "$parent" \
		"$KT_PROBE" server 0 --fd '{fd}' --addrlen "$len" "${flag[@]}" --hold -1
done
kt_check_accepted server_inherited_noshim noshim 127.0.0.1 \
	"${KT_NOSHIM[@]}" "${KT_CFG[@]}" KT_CHILD_PRELOAD= "$KT_PY" -c "$parent" \
	"$KT_PROBE" server 0 --fd '{fd}' --hold -1

# The premise of the inherited case: the listener itself is not configured,
# so the accepted socket's values cannot have come from the listener.
kt_bg "$T_TMP/inh" "${KT_NOSHIM[@]}" "${KT_CFG[@]}" KT_CHILD_PRELOAD="$KAP_PRELOAD" \
	"$KT_PY" -c "$parent" "$KT_PROBE" server 0 --fd '{fd}' --hold -1
if port=$(kt_port "$T_TMP/inh"); then
	t_contains server_inherited_listener_untouched "rport=0 $KT_UNTOUCHED" \
		"$("$KT_PROBE" peek "$KT_PID" "$port")"
else
	t_fail server_inherited_listener_untouched "no listening line: $(cat "$T_TMP/inh.err")"
fi
kt_stop "$KT_PID"

# systemd-socket-activate (not under the shim) passes the listener as fd 3.
if have systemd-socket-activate; then
	for mode in shim noshim; do
		KT_SERVER_PORT=$(free_port)
		env=()
		[ "$mode" = shim ] && env=(-E LD_PRELOAD="$KAP_PRELOAD")
		kt_check_accepted "server_socket_activate_$mode" "$mode" 127.0.0.1 \
			"${KT_NOSHIM[@]}" systemd-socket-activate -l "127.0.0.1:$KT_SERVER_PORT" "${env[@]}" \
			-E KAP_IDLE=45 -E KAP_INTERVAL=6 -E KAP_COUNT=3 -E KAP_CONFIG= \
			"$KT_PROBE" server 0 --fd 3 --hold -1
	done
	KT_SERVER_PORT=
else
	t_skip server_socket_activate "systemd-socket-activate not installed"
fi

t_done
