/* SPDX-License-Identifier: MIT */
/* umbra status: the node and a one-line summary per peer. Also the shared
 * pieces of the control-plane commands (fetch, JSON output). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "ctl/client.h"
#include "util/error.h"

enum { CLI_TIMEOUT_MS = 5000 };

int um_cli_request(const char *request, char **reply)
{
	int status = 0;
	int r = um_control_call(um_cli.socket_path, request, CLI_TIMEOUT_MS, reply, &status);

	if (r) {
		fprintf(stderr, "umbra: %s: %s%s\n", um_cli.socket_path, um_strerror(r),
			r == -ENOENT || r == -ECONNREFUSED ? " (is umbrad running?)" : "");
		return r;
	}
	if (status) {
		fprintf(stderr, "umbra: the daemon refused: %s\n", um_strerror(status));
		free(*reply);
		*reply = NULL;
		return -status;
	}
	return 0;
}

int um_cli_fetch(struct um_status *status, char **reply)
{
	int r = um_cli_request("get=1\n\n", reply);

	if (r)
		return r;
	r = um_status_parse(status, *reply);
	if (r) {
		free(*reply);
		*reply = NULL;
	}
	return r;
}

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static bool is_number(const char *s)
{
	if (*s == '-')
		s++;
	if (!*s || (*s == '0' && s[1]))
		return false;
	return strspn(s, "0123456789") == strlen(s);
}

/* Keys whose values are text even when they look like numbers. */
static bool is_text_key(const char *key)
{
	static const char *const text[] = {"peer", "id", "node_id", "endpoint", "state", "device",
					   "mode", "address", "version", "path", "relay", "direct_endpoint",
					   "home_relay", "observed_endpoint", "uplink", "uplink_state",
					   "uplink_observed"};
	for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++)
		if (!strcmp(key, text[i]))
			return true;
	return false;
}

/* One block as a JSON object: "peer" becomes "name", drop_* go into a
 * "dropped" object, repeated allowed_ip into an "allowed_ips" array. */
void um_cli_json_block(FILE *f, const struct um_status_block *b)
{
	bool first = true, any;

	fputc('{', f);
	for (size_t i = 0; i < b->n_fields; i++) {
		const char *k = b->fields[i].key, *v = b->fields[i].value;
		if (!strncmp(k, "drop_", 5) || !strcmp(k, "allowed_ip") || !strncmp(k, "relay_", 6) ||
		    !strncmp(k, "uplink", 6))
			continue;
		fprintf(f, "%s", first ? "" : ",");
		first = false;
		json_string(f, !strcmp(k, "peer") ? "name" : k);
		fputc(':', f);
		if (!is_text_key(k) && is_number(v))
			fputs(v, f);
		else
			json_string(f, v);
	}
	any = false;
	for (size_t i = 0; i < b->n_fields; i++) {
		if (strncmp(b->fields[i].key, "drop_", 5) || !is_number(b->fields[i].value))
			continue;
		fprintf(f, "%s", any ? "," : first ? "\"dropped\":{" : ",\"dropped\":{");
		any = true;
		first = false;
		json_string(f, b->fields[i].key + 5);
		fprintf(f, ":%s", b->fields[i].value);
	}
	if (any)
		fputc('}', f);
	if (um_status_get(b, "allowed_ip") || um_status_get(b, "peer")) {
		fprintf(f, "%s\"allowed_ips\":[", first ? "" : ",");
		any = false;
		for (size_t i = 0; i < b->n_fields; i++) {
			if (strcmp(b->fields[i].key, "allowed_ip"))
				continue;
			fprintf(f, "%s", any ? "," : "");
			any = true;
			json_string(f, b->fields[i].value);
		}
		fputc(']', f);
	}
	fputc('}', f);
}

void um_cli_json_peers(FILE *f, const struct um_status *s)
{
	fputc('[', f);
	for (size_t i = 0; i < s->n_peers; i++) {
		if (i)
			fputc(',', f);
		um_cli_json_block(f, &s->peers[i]);
	}
	fputc(']', f);
}

/* "3.2s", "4m 10s", "never". */
void um_cli_format_age(char *out, size_t size, const struct um_status_block *b, const char *key)
{
	unsigned long long ms = um_status_u64(b, key, ~0ULL);

	if (ms == ~0ULL)
		snprintf(out, size, "never");
	else if (ms < 60000)
		snprintf(out, size, "%llu.%llus ago", ms / 1000, ms % 1000 / 100);
	else if (ms < 3600000)
		snprintf(out, size, "%llum %llus ago", ms / 60000, ms / 1000 % 60);
	else
		snprintf(out, size, "%lluh %llum ago", ms / 3600000, ms / 60000 % 60);
}

void um_cli_format_rtt(char *out, size_t size, const struct um_status_block *b)
{
	unsigned long long us = um_status_u64(b, "rtt_us", ~0ULL);
	unsigned long long bound = um_status_u64(b, "rtt_bound_us", ~0ULL);

	if (us != ~0ULL)
		snprintf(out, size, "%llu.%03llu ms", us / 1000, us % 1000);
	else if (bound != ~0ULL)
		snprintf(out, size, "<%llu.%llu ms", bound / 1000, bound % 1000 / 100);
	else
		snprintf(out, size, "-");
}

static const char *or_dash(const char *s)
{
	return s ? s : "-";
}

/* The node block's relay_* keys (umbrad is a relay) as a "relay" object and
 * its uplink* groups (one per configured relay) as a "relays" array. They
 * are walked in the raw reply: there can be more of them than a status
 * block holds. */
static void json_relays(FILE *f, char *raw)
{
	char *cursor = raw, *key, *value;
	bool uplink_open = false;

	fprintf(f, ",\"relays\":[");
	while (um_control_next(&cursor, &key, &value) && strcmp(key, "peer") && strcmp(key, "errno")) {
		if (strncmp(key, "uplink", 6))
			continue;
		if (!strcmp(key, "uplink")) {
			fprintf(f, "%s{\"address\":", uplink_open ? "}," : "");
			json_string(f, value);
			uplink_open = true;
			continue;
		}
		if (!uplink_open)
			continue;
		fputc(',', f);
		json_string(f, key + 7);
		fputc(':', f);
		if (is_number(value))
			fputs(value, f);
		else
			json_string(f, value);
	}
	fprintf(f, "%s]", uplink_open ? "}" : "");
}

static void json_relay_server(FILE *f, char *raw)
{
	char *cursor = raw, *key, *value;
	bool any = false;

	while (um_control_next(&cursor, &key, &value) && strcmp(key, "peer") && strcmp(key, "errno")) {
		if (strncmp(key, "relay_", 6) || !is_number(value))
			continue;
		fprintf(f, "%s", any ? "," : ",\"relay\":{");
		any = true;
		json_string(f, key + 6);
		fprintf(f, ":%s", value);
	}
	if (any)
		fputc('}', f);
}

/* relay_* keys of the raw reply (modified in place) into block. */
static void collect_relay(struct um_status_block *b, char *raw)
{
	char *cursor = raw, *key, *value;

	b->n_fields = 0;
	while (um_control_next(&cursor, &key, &value) && strcmp(key, "peer") && strcmp(key, "errno"))
		if (!strncmp(key, "relay_", 6) && b->n_fields < UM_STATUS_FIELDS_MAX)
			b->fields[b->n_fields++] = (struct um_status_field){key, value};
}

/* One line per configured relay (raw reply, modified in place). */
static void print_uplinks(char *raw)
{
	char *cursor = raw, *key, *value;
	bool open = false;

	while (um_control_next(&cursor, &key, &value) && strcmp(key, "peer") && strcmp(key, "errno")) {
		if (!strcmp(key, "uplink")) {
			printf("%s  relay %-22s", open ? "\n" : "", value);
			open = true;
		} else if (open && !strcmp(key, "uplink_state")) {
			printf(" %-12s", value);
		} else if (open && !strcmp(key, "uplink_rtt_us")) {
			unsigned long long us = strtoull(value, NULL, 10);
			printf(" rtt %llu.%03llu ms", us / 1000, us % 1000);
		} else if (open && !strcmp(key, "uplink_observed")) {
			printf(" we are %s", value);
		}
	}
	if (open)
		printf("\n");
}

int status_main(int argc, char **argv)
{
	struct um_status s;
	char *reply, *raw;
	int r;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			um_cli.json = true;
		} else {
			fprintf(stderr, "usage: umbra [--socket PATH] status [--json]\n");
			return 2;
		}
	}
	if ((r = um_cli_request("get=1\n\n", &raw)))
		return 1;
	reply = strdup(raw);
	if (!reply || um_status_parse(&s, reply)) {
		fprintf(stderr, "umbra: out of memory\n");
		free(reply);
		free(raw);
		return 1;
	}
	bool relay_only = !strcmp(or_dash(um_status_get(&s.node, "mode")), "relay");
	if (um_cli.json) {
		char *copy = strdup(raw);
		printf("{\"node\":");
		um_cli_json_block(stdout, &s.node);
		printf(",\"peers\":");
		um_cli_json_peers(stdout, &s);
		if (copy) {
			json_relays(stdout, raw);
			json_relay_server(stdout, copy);
		}
		free(copy);
		printf("}\n");
	} else if (relay_only || strstr(raw, "\nrelay_port=")) {
		struct um_status_block rb;
		const struct um_status_block *n = &rb;
		char *copy = strdup(raw);
		if (!copy) {
			fprintf(stderr, "umbra: out of memory\n");
			goto out;
		}
		collect_relay(&rb, copy);
		printf("relay on UDP port %s: %llu nodes registered (%llu registrations), %llu packets / %llu B "
		       "forwarded\n",
		       or_dash(um_status_get(n, "relay_port")), um_status_u64(n, "relay_registered", 0),
		       um_status_u64(n, "relay_registrations", 0), um_status_u64(n, "relay_forwarded_packets", 0),
		       um_status_u64(n, "relay_forwarded_bytes", 0));
		printf("  dropped: not registered %llu, unknown peer %llu, rate limited %llu, malformed %llu; "
		       "registrations refused: not admitted %llu, bad signature %llu, stale %llu\n",
		       um_status_u64(n, "relay_drop_not_registered", 0), um_status_u64(n, "relay_drop_unknown_peer", 0),
		       um_status_u64(n, "relay_drop_rate_limited_packets", 0) +
			       um_status_u64(n, "relay_drop_rate_limited_bytes", 0),
		       um_status_u64(n, "relay_drop_malformed", 0), um_status_u64(n, "relay_reg_not_admitted", 0),
		       um_status_u64(n, "relay_reg_bad_signature", 0), um_status_u64(n, "relay_reg_stale", 0));
		free(copy);
	}
	if (!um_cli.json && !relay_only) {
		const struct um_status_block *n = &s.node;
		size_t established = 0;
		for (size_t i = 0; i < s.n_peers; i++)
			established += !strcmp(or_dash(um_status_get(&s.peers[i], "state")), "established");
		printf("node %s\n", or_dash(um_status_get(n, "node_id")));
		printf("  device %s (%s, %s)  address %s  listening on port %s\n",
		       or_dash(um_status_get(n, "device")), or_dash(um_status_get(n, "mode")),
		       um_status_u64(n, "up", 0) ? "up" : "down", or_dash(um_status_get(n, "address")),
		       or_dash(um_status_get(n, "listen_port")));
		printf("  peers: %zu configured, %zu established\n", s.n_peers, established);
		char *copy = strdup(raw);
		if (copy)
			print_uplinks(copy);
		free(copy);
		for (size_t i = 0; i < s.n_peers; i++) {
			const struct um_status_block *p = &s.peers[i];
			char age[32], rtt[32];
			um_cli_format_age(age, sizeof(age), p, "last_handshake_age_ms");
			um_cli_format_rtt(rtt, sizeof(rtt), p);
			printf("  %-12s %-16s %-22s %-12s handshake %-12s rtt %s\n", or_dash(um_status_get(p, "peer")),
			       or_dash(um_status_get(p, "short_id")), or_dash(um_status_get(p, "endpoint")),
			       or_dash(um_status_get(p, "state")), age, rtt);
		}
	}
out:
	um_status_free(&s);
	free(reply);
	free(raw);
	return 0;
}
