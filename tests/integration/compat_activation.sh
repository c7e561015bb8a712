#!/usr/bin/env bash
# Socket activation: systemd-socket-activate (no shim) creates the listener
# and passes it as descriptor 3 (LISTEN_FDS=1) to a child server under the
# shim; the child never calls socket(), so only the accept hook can
# configure what it accepts. Checks: accepted sockets configured (33/7/4),
# the inherited listener itself left untouched; without the shim in the
# child, nothing (negative control).
# Known limit, checked too: with --accept (inetd style, systemd Accept=yes)
# the parent accepts and the child receives a connected socket; the shim
# sees no socket(), accept() or connect() for it and cannot configure it.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=compat/compat_lib.sh
. "$TESTS_DIR/integration/compat/compat_lib.sh"
cp_require
cp_need activation systemd-socket-activate || {
	t_done
	exit
}
# The interpreter itself, not a wrapper script (pyenv): the connection must be
# held by the process we look at.
PY=$(python3 -c 'import sys; print(sys.executable)')

# systemd-socket-activate passes the child only PATH, HOME, TERM, LISTEN_*
# and what -E names: the shim and its settings go through -E.
shim_env=(-E "LD_PRELOAD=$KAP_PRELOAD" -E KAP_CONFIG= -E KAP_IDLE=33 -E KAP_INTERVAL=7
	-E KAP_COUNT=4)
[ "${KAP_SANITIZE:-0}" = 1 ] && shim_env+=(-E "ASAN_OPTIONS=$ASAN_OPTIONS")
declare -A port

# activate NAME ACTIVATE-OPTION... -- CHILD...: a systemd-socket-activate
# (itself without the shim) on a free port, and one idle client.
activate() {
	local name=$1 p
	shift
	p=$(free_port)
	cp_bg "$T_TMP/$name" "${CP_NOSHIM[@]}" systemd-socket-activate -l 127.0.0.1:"$p" "$@"
	if ! wait_listen "$p"; then
		t_fail "activation_${name}_listening" "$(cat "$T_TMP/$name.err")"
		return 1
	fi
	port[$name]=$p
	cp_bg "$T_TMP/$name.client" "${CP_NOSHIM[@]}" python3 -c "$CP_PY_HOLD" 60 "$p"
}

activate shim "${shim_env[@]}" -- "$PY" "$CP_DIR/fd3_server.py" 1 60
activate noshim -E KAP_IDLE=33 -- "$PY" "$CP_DIR/fd3_server.py" 1 60
activate accept_yes --accept "${shim_env[@]}" -- "$PY" -c 'import time; time.sleep(60)'

for name in shim noshim; do
	[ -n "${port[$name]:-}" ] || continue
	if ! cp_wait_line "$T_TMP/$name" '^accepted$' >/dev/null; then
		t_fail "activation_${name}_accepted" "$(cat "$T_TMP/$name.err")"
		continue
	fi
	if [ "$name" = shim ]; then
		cp_expect activation_accepted - 25 33 "$(cp_ka 33 7 4)" sport = :"${port[$name]}"
		# The listener belongs to the parent's configuration, not ours.
		lrow=$(ss -Htlnp sport = :"${port[$name]}")
		t_eq activation_inherited_listener_untouched "$CP_UNTOUCHED" "$(cp_exact "$lrow")"
		cp_quiet activation_child_prints_nothing "$T_TMP/$name.err"
	else
		cp_expect activation_accepted_noshim - none none "$CP_UNTOUCHED" sport = :"${port[$name]}"
	fi
done

if [ -n "${port[accept_yes]:-}" ]; then
	# The connection is held by the child (python3), which runs under the shim.
	row=$(cp_row - sport = :"${port[accept_yes]}")
	owner=$(cp_owner "$row")
	t_contains activation_accept_yes_child_has_shim "$(readlink -f "$KAP_LIB")" \
		"$(cat "/proc/${owner%%:*}/maps" 2>/dev/null)"
	cp_expect activation_accept_yes_limit_not_configured - none none "$CP_UNTOUCHED" \
		sport = :"${port[accept_yes]}"
fi
t_done
