#!/usr/bin/env bash
# Node.js: net.connect and net.createServer (libuv: non-blocking sockets,
# accept4 with flags), over IPv4 and IPv6, connected and accepted ends; and a
# socket whose program calls setKeepAlive(true, 20000) itself (libuv then
# sets idle 20, and on current versions interval 1, count 10): the program
# wins with override off, the configured values with override on.
# Three processes at once: shim, shim with KAP_OVERRIDE=1, no shim.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=compat/compat_lib.sh
. "$TESTS_DIR/integration/compat/compat_lib.sh"
cp_require
cp_need node node || {
	t_done
	exit
}

cfg=(KAP_IDLE=33 KAP_INTERVAL=7 KAP_COUNT=4)
want=$(cp_ka 33 7 4)

cp_bg "$T_TMP/shim" "${CP_SHIM[@]}" "${cfg[@]}" node "$CP_DIR/node_pair.js" 60
shim_pid=$CP_PID
cp_bg "$T_TMP/override" "${CP_SHIM[@]}" "${cfg[@]}" KAP_OVERRIDE=1 node "$CP_DIR/node_pair.js" 60
override_pid=$CP_PID
cp_bg "$T_TMP/noshim" "${CP_NOSHIM[@]}" "${cfg[@]}" node "$CP_DIR/node_pair.js" 60
noshim_pid=$CP_PID

# The values libuv gives setKeepAlive(true, 20000), read from the process
# without the shim: the shim must leave exactly these with override off.
app_values=

for mode in noshim shim override; do
	if ! cp_wait_line "$T_TMP/$mode" '^ready$' >/dev/null; then
		t_fail "node_${mode}_started" "no ready line: $(cat "$T_TMP/$mode.err")"
		continue
	fi
	pid=${mode}_pid
	pid=${!pid}
	kinds=(v4 app)
	grep -q '^v6 [0-9]*$' "$T_TMP/$mode" && kinds+=(v6)
	for kind in "${kinds[@]}"; do
		port=$(sed -n "s/^$kind \([0-9]*\)$/\1/p" "$T_TMP/$mode")
		n=node_${kind}
		case $mode/$kind in
		noshim/app)
			row=$(cp_row "$pid" dport = :"$port")
			app_values=$(cp_exact "$row")
			t_contains node_app_sets_its_own_keepalive "keepalive=1 idle=20 " "$app_values"
			cp_expect "${n}_accepted_noshim" "$pid" none none "$CP_UNTOUCHED" sport = :"$port"
			;;
		noshim/*)
			cp_expect "${n}_connected_noshim" "$pid" none none "$CP_UNTOUCHED" dport = :"$port"
			cp_expect "${n}_accepted_noshim" "$pid" none none "$CP_UNTOUCHED" sport = :"$port"
			;;
		shim/app)
			# Override off: every value libuv set is the program's.
			cp_expect "${n}_connected_app_wins" "$pid" 15 20 "$app_values" dport = :"$port"
			cp_expect "${n}_accepted" "$pid" 25 33 "$want" sport = :"$port"
			;;
		override/app)
			cp_expect "${n}_connected_override" "$pid" 25 33 "$want" dport = :"$port"
			;;
		shim/* | override/*)
			cp_expect "${n}_connected_$mode" "$pid" 25 33 "$want" dport = :"$port"
			cp_expect "${n}_accepted_$mode" "$pid" 25 33 "$want" sport = :"$port"
			;;
		esac
	done
	[ "$mode" = noshim ] || cp_quiet "node_${mode}_prints_nothing" "$T_TMP/$mode.err"
done
grep -q '^v6 [0-9]*$' "$T_TMP/shim" || t_skip node_v6 "no IPv6 on loopback: $(grep '^v6' "$T_TMP/shim")"
cp_stop "$shim_pid" "$override_pid" "$noshim_pid"
t_done
