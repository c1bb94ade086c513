# SPDX-License-Identifier: MIT
# Sourced by the bench scripts: two namespaces joined by a veth pair,
# 198.51.100.1/24 in the first and .2 in the second, links and lo up.
#   bench_veth_pair NS_A NS_B VETH_A VETH_B || exit 1
bench_veth_pair() {
	local ns_a=$1 ns_b=$2 veth_a=$3 veth_b=$4 ns
	ip netns add "$ns_a" && ip netns add "$ns_b" || return 1
	ip link add "$veth_a" netns "$ns_a" type veth peer name "$veth_b" netns "$ns_b" || return 1
	ip -n "$ns_a" addr add 198.51.100.1/24 dev "$veth_a"
	ip -n "$ns_b" addr add 198.51.100.2/24 dev "$veth_b"
	for ns in "$ns_a" "$ns_b"; do ip -n "$ns" link set lo up; done
	ip -n "$ns_a" link set "$veth_a" up
	ip -n "$ns_b" link set "$veth_b" up
}
