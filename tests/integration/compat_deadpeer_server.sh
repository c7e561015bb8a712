#!/usr/bin/env bash
# A dead peer seen from the SERVER side. Two network namespaces joined by a
# veth pair: servers in one (one under the shim with KAP_IDLE=2
# KAP_INTERVAL=1 KAP_COUNT=3, one without it), clients in the other. Each
# client sends one byte, then nftables black-holes the client namespace.
#   - the shim's server's blocking recv() fails with ETIMEDOUT within
#     idle + interval x count = 5 s (+ margin) of the byte;
#   - tcpdump on the server's veth shows the probes: the first 2 s after the
#     byte, then 1 s apart, 3 of them, then the reset 1 s after the last;
#   - negative control: the server without the shim is still blocked at the
#     deadline and sent no probe.
# Needs root (namespaces, nftables, tcpdump); everything is deleted on exit.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=compat/compat_lib.sh
. "$TESTS_DIR/integration/compat/compat_lib.sh"
cp_require
if ! is_root; then
	t_skip deadpeer "needs root for network namespaces, nftables and tcpdump"
	exit 0
fi
cp_need deadpeer ip nft tcpdump || exit 0

NS_S=kapdps$$
NS_C=kapdpc$$
# Private namespaces: these addresses and names exist only inside them.
NET=10.232.$(($$ % 256))
SRV=$NET.1
CLI=$NET.2
dp_cleanup() {
	t_cleanup
	ip netns del "$NS_S" 2>/dev/null
	ip netns del "$NS_C" 2>/dev/null
}
trap dp_cleanup EXIT

setup() {
	ip netns add "$NS_S" && ip netns add "$NS_C" &&
		ip link add kapdp0 netns "$NS_S" type veth peer name kapdp1 netns "$NS_C" &&
		ip -n "$NS_S" addr add "$SRV/30" dev kapdp0 &&
		ip -n "$NS_C" addr add "$CLI/30" dev kapdp1 &&
		ip -n "$NS_S" link set kapdp0 up && ip -n "$NS_C" link set kapdp1 up &&
		ip -n "$NS_S" link set lo up && ip -n "$NS_C" link set lo up
}
if ! err=$(setup 2>&1); then
	t_skip deadpeer "cannot create namespaces and veth: $err"
	exit 0
fi
t_pass deadpeer_namespaces

IN_S=(ip netns exec "$NS_S")
IN_C=(ip netns exec "$NS_C")
PORT_SHIM=7001
PORT_NOSHIM=7002
IDLE=2 INTVL=1 CNT=3

cp_bg "$T_TMP/tcpdump" "${IN_S[@]}" tcpdump -i kapdp0 -nn -tt -l tcp
cp_wait_line "$T_TMP/tcpdump.err" 'listening on' >/dev/null ||
	t_fail deadpeer_tcpdump "$(cat "$T_TMP/tcpdump.err")"

cp_bg "$T_TMP/shim" "${IN_S[@]}" "${CP_SHIM[@]}" KAP_IDLE=$IDLE KAP_INTERVAL=$INTVL KAP_COUNT=$CNT \
	python3 "$CP_DIR/deadpeer_server.py" "$SRV" $PORT_SHIM
cp_bg "$T_TMP/noshim" "${IN_S[@]}" "${CP_NOSHIM[@]}" KAP_IDLE=$IDLE KAP_INTERVAL=$INTVL \
	KAP_COUNT=$CNT python3 "$CP_DIR/deadpeer_server.py" "$SRV" $PORT_NOSHIM
client='
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
s.send(b"x")
time.sleep(60)
'
for m in shim noshim; do
	cp_wait_line "$T_TMP/$m" '^listening$' >/dev/null || t_fail "deadpeer_${m}_listening" \
		"$(cat "$T_TMP/$m.err")"
done
cp_bg "$T_TMP/c1" "${IN_C[@]}" python3 -c "$client" "$SRV" $PORT_SHIM
cp_bg "$T_TMP/c2" "${IN_C[@]}" python3 -c "$client" "$SRV" $PORT_NOSHIM
for m in shim noshim; do
	cp_wait_line "$T_TMP/$m" '^data$' >/dev/null || t_fail "deadpeer_${m}_data" "$(cat "$T_TMP/$m.err")"
done
start=$SECONDS

# The client vanishes: nothing in, nothing out.
if ! err=$("${IN_C[@]}" nft -f - 2>&1 <<'EOF'
table inet kap_blackhole {
	chain in { type filter hook input priority 0; policy drop; }
	chain out { type filter hook output priority 0; policy drop; }
}
EOF
); then
	t_fail deadpeer_blackhole "nft: $err"
	exit 1
fi

# Deadline: idle + interval x count + 2 s margin.
deadline=$((IDLE + INTVL * CNT + 2))
line=$(cp_wait_line "$T_TMP/shim" '^recv=' $((deadline * 20)))
t_contains deadpeer_shim_recv_etimedout "recv=ETIMEDOUT" "$line"
elapsed=${line#*elapsed=}
if awk -v e="$elapsed" -v lo=$((IDLE + INTVL * CNT)) -v hi="$deadline" \
	'BEGIN { exit !(e + 0 >= lo - 0.3 && e + 0 <= hi) }'; then
	t_pass deadpeer_shim_within_idle_interval_count
else
	t_fail deadpeer_shim_within_idle_interval_count "elapsed [$elapsed], want $((IDLE + INTVL * CNT))..$deadline s"
fi

# The negative control has had the same time, and more.
while ((SECONDS - start < deadline)); do sleep 0.2; done
t_eq deadpeer_noshim_still_blocked "" "$(grep '^recv=' "$T_TMP/noshim")"
t_eq deadpeer_noshim_no_keepalive_timer none \
	"$(cp_timer_secs "$("${IN_S[@]}" ss -Htnoe state established sport = :$PORT_NOSHIM 2>/dev/null)")"

# probes PORT: from tcpdump's text, the server's packets on PORT after the
# client's last data byte: "probes=N first=S gap=S gap=S ... rst=S", times
# relative to the byte (first) and to the previous packet (gaps, reset).
probes() {
	awk -v srv="$SRV.$1" '
		$3 ~ /^[0-9.]+$/ && $5 == srv ":" && / length [1-9]/ { data = $1; n = 0; rst = ""; next }
		data == "" || $3 != srv { next }
		/Flags \[\.\]/ && / length 0/ && $1 > data + 0.5 { t[++n] = $1 }
		/Flags \[R/ && rst == "" { rst = $1 }
		END {
			printf "probes=%d", n
			if (n) printf " first=%.2f", t[1] - data
			for (i = 2; i <= n; i++) printf " gap=%.2f", t[i] - t[i - 1]
			if (rst != "") printf " rst=%.2f", rst - (n ? t[n] : data)
			print ""
		}' "$T_TMP/tcpdump"
}
# like "probes=3 first=2 gap=1 gap=1 rst=1", each time within 0.3 s.
like() {
	local w g i
	read -r -a w <<<"$1"
	read -r -a g <<<"$2"
	[ "${#w[@]}" = "${#g[@]}" ] || return 1
	for i in "${!w[@]}"; do
		[ "${w[i]%%=*}" = "${g[i]%%=*}" ] || return 1
		awk -v a="${w[i]#*=}" -v b="${g[i]#*=}" 'BEGIN { d = a - b; exit !(d <= 0.3 && d >= -0.3) }' ||
			return 1
	done
}
want="probes=$CNT first=$IDLE gap=$INTVL gap=$INTVL rst=$INTVL"
got=$(probes $PORT_SHIM)
if like "$want" "$got"; then
	t_pass deadpeer_shim_probe_timing
else
	t_fail deadpeer_shim_probe_timing "want [$want] (+-0.3 s), got [$got]"
fi
t_eq deadpeer_noshim_no_probes "probes=0" "$(probes $PORT_NOSHIM)"
t_done
