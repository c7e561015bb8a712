#!/usr/bin/env bash
# Python 3 through its stdlib layers (asyncio, socketserver, a dual-stack
# socket.create_server), connected and accepted ends. Three processes at once:
#   shim   - global values: both ends 33/7/4;
#   rule   - plus an inbound rule (idle 22) in a config file: the accepted
#            end differs from the listener it was accepted from, so this
#            proves the accept hook itself ran, not only the kernel's
#            copying of the listener's values;
#   noshim - the negative control.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=compat/compat_lib.sh
. "$TESTS_DIR/integration/compat/compat_lib.sh"
cp_require

cfg=(KAP_IDLE=33 KAP_INTERVAL=7 KAP_COUNT=4)
want=$(cp_ka 33 7 4)
want_in=$(cp_ka 22 7 4)
printf '[rule accepted]\ndirection = inbound\nidle = 22\n' >"$T_TMP/kap.conf"

cp_bg "$T_TMP/shim" "${CP_SHIM[@]}" "${cfg[@]}" python3 "$CP_DIR/py_pair.py" 60
shim_pid=$CP_PID
cp_bg "$T_TMP/rule" "${CP_SHIM[@]}" "${cfg[@]}" KAP_CONFIG="$T_TMP/kap.conf" \
	python3 "$CP_DIR/py_pair.py" 60
rule_pid=$CP_PID
cp_bg "$T_TMP/noshim" "${CP_NOSHIM[@]}" "${cfg[@]}" python3 "$CP_DIR/py_pair.py" 60
noshim_pid=$CP_PID

for mode in shim rule noshim; do
	if ! cp_wait_line "$T_TMP/$mode" '^ready$' >/dev/null; then
		t_fail "python_${mode}_started" "no ready line: $(cat "$T_TMP/$mode.err")"
		continue
	fi
	pid=${mode}_pid
	pid=${!pid}
	for kind in asyncio sockserv dualstack; do
		port=$(sed -n "s/^$kind \([0-9]*\)$/\1/p" "$T_TMP/$mode")
		if [ -z "$port" ]; then
			t_skip "python_${kind}_$mode" "$(grep "^$kind" "$T_TMP/$mode")"
			continue
		fi
		n=python_${kind}
		case $mode in
		shim)
			cp_expect "${n}_connected" "$pid" 25 33 "$want" dport = :"$port"
			cp_expect "${n}_accepted" "$pid" 25 33 "$want" sport = :"$port"
			;;
		rule)
			cp_expect "${n}_connected_rule" "$pid" 25 33 "$want" dport = :"$port"
			cp_expect "${n}_accepted_inbound_rule" "$pid" 15 22 "$want_in" sport = :"$port"
			;;
		noshim)
			cp_expect "${n}_connected_noshim" "$pid" none none "$CP_UNTOUCHED" dport = :"$port"
			cp_expect "${n}_accepted_noshim" "$pid" none none "$CP_UNTOUCHED" sport = :"$port"
			;;
		esac
	done
	[ "$mode" = noshim ] || cp_quiet "python_${mode}_prints_nothing" "$T_TMP/$mode.err"
done
cp_stop "$shim_pid" "$rule_pid" "$noshim_pid"
t_done
