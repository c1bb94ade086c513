/* SPDX-License-Identifier: MIT */
/* The config parser's driver: lines, sections and the checks that span
 * keys. What each key means (type, default, bounds) is a row in
 * config_keys.c, parsed by the one routine in config_values.c. Each line is
 * handled on its own (no whole-file state but the current section), so the
 * same code serves files, buffers and the fuzzer. */
#include "ctl/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ctl/config_rows.h"
#include "util/error.h"

/* Every [node] and [relay] default comes from its row; [peer] rows' from
 * begin_peer(). */
void um_config_init(struct um_config *config)
{
	memset(config, 0, sizeof(*config));
	for (size_t i = 0; i < um_config_rows_count; i++)
		if (um_config_rows[i].section != UM_SECTION_PEER)
			um_config_row_default(&um_config_rows[i], config);
}

void um_config_free(struct um_config *config)
{
	for (size_t i = 0; i < config->n_peers; i++)
		free(config->peers[i].allowed_ips);
	free(config->peers);
	free(config->relay.allow);
	sodium_memzero(config->relay.admission_key, sizeof(config->relay.admission_key));
	sodium_memzero(config->relay_admission_key, sizeof(config->relay_admission_key));
	um_config_init(config);
}

int um_config_fail(struct um_config_parser *p, const char *key, const char *fmt, ...)
{
	char reason[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (key)
		snprintf(p->error, sizeof(p->error), "%s:%u: key '%s': %s", p->file, p->line, key, reason);
	else
		snprintf(p->error, sizeof(p->error), "%s:%u: %s", p->file, p->line, reason);
	return -UM_ECONFIG;
}

/* ---- rows ---- */

const struct um_config_row *um_config_row_find(int section, const char *name)
{
	for (size_t i = 0; i < um_config_rows_count; i++)
		if (um_config_rows[i].section == section && !strcmp(um_config_rows[i].name, name))
			return &um_config_rows[i];
	return NULL;
}

unsigned um_config_row_bit(const struct um_config_row *row)
{
	unsigned bit = 0;

	for (const struct um_config_row *r = um_config_rows; r < row; r++)
		if (r->section == row->section)
			bit++;
	return bit;
}

void *um_config_row_base(struct um_config_parser *p, int section)
{
	if (section == UM_SECTION_PEER)
		return &p->config->peers[p->config->n_peers - 1];
	return p->config;
}

static uint64_t *section_seen(struct um_config *c, int section)
{
	switch (section) {
	case UM_SECTION_NODE:
		return &c->node_seen;
	case UM_SECTION_RELAY:
		return &c->relay.seen;
	default:
		return &c->peers[c->n_peers - 1].seen;
	}
}

static bool row_given(const struct um_config_row *row, uint64_t seen)
{
	return row && (seen & (1ull << um_config_row_bit(row)));
}

static const char *section_name(int section)
{
	return section == UM_SECTION_NODE ? "node" : section == UM_SECTION_RELAY ? "relay" : "peer";
}

/* One key = value line in the current section: the checks every key shares
 * (unknown, given twice, given in the other of [node]/[relay], excluded by
 * another key, empty), then the row's own parser. */
static int parse_key(struct um_config_parser *p, const char *key, const char *value)
{
	struct um_config *c = p->config;
	int section = p->section;

	if (section == UM_SECTION_NONE)
		return um_config_fail(p, key, "outside any section (start with [node])");
	const struct um_config_row *row = um_config_row_find(section, key);
	uint64_t *seen = section_seen(c, section);
	if (section == UM_SECTION_NODE || section == UM_SECTION_RELAY) {
		/* A field both sections set (control-socket, log-level) may
		 * be given in only one of them. */
		int other = section == UM_SECTION_NODE ? UM_SECTION_RELAY : UM_SECTION_NODE;
		const struct um_config_row *twin = um_config_row_find(other, key);
		if (row && twin && twin->offset == row->offset && row_given(twin, *section_seen(c, other)))
			return um_config_fail(p, key, "already given in [%s]", section_name(other));
	}
	if (!row)
		return um_config_fail(p, key, "unknown key in [%s]", section_name(section));
	if (!row->repeatable && row_given(row, *seen))
		return um_config_fail(p, key, "given twice in this section");
	if (row->conflict) {
		const struct um_config_row *other = um_config_row_find(section, row->conflict);
		if (row_given(other, *seen)) {
			const struct um_config_row *first = other < row ? other : row;
			return um_config_fail(p, key, "give either %s or %s", first->name,
					      first == row ? other->name : row->name);
		}
	}
	if (!*value)
		return um_config_fail(p, key, "empty value");
	int r = um_config_row_set(p, row, um_config_row_base(p, section), value);
	if (r == 0)
		*seen |= 1ull << um_config_row_bit(row);
	return r;
}

/* ---- lines ---- */

static void trim(const char **s, size_t *len)
{
	while (*len && isspace((unsigned char)**s))
		(*s)++, (*len)--;
	while (*len && isspace((unsigned char)(*s)[*len - 1]))
		(*len)--;
}

void um_config_parser_init(struct um_config_parser *parser, struct um_config *config, const char *file)
{
	memset(parser, 0, sizeof(*parser));
	parser->config = config;
	parser->file = file ? file : "(config)";
	parser->section = UM_SECTION_NONE;
}

static int begin_peer(struct um_config_parser *p, const char *name, size_t len)
{
	struct um_config *c = p->config;

	if (len == 0)
		return um_config_fail(p, NULL, "peer section needs a name: [peer \"name\"]");
	if (len >= UM_CONFIG_NAME_MAX)
		return um_config_fail(p, NULL, "peer name longer than %d bytes", UM_CONFIG_NAME_MAX - 1);
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("-_.", name[i]))
			return um_config_fail(p, NULL, "peer names use letters, digits, '-', '_', '.'");
	for (size_t i = 0; i < c->n_peers; i++)
		if (strlen(c->peers[i].name) == len && !memcmp(c->peers[i].name, name, len))
			return um_config_fail(p, NULL, "duplicate peer \"%.*s\" (first at line %u)", (int)len, name,
					      c->peers[i].line);
	if (c->n_peers >= UM_CONFIG_PEERS_MAX)
		return um_config_fail(p, NULL, "more than %d peers", UM_CONFIG_PEERS_MAX);
	struct um_config_peer *grown = realloc(c->peers, (c->n_peers + 1) * sizeof(*grown));
	if (!grown)
		return -UM_ENOMEM;
	c->peers = grown;
	struct um_config_peer *peer = &c->peers[c->n_peers++];
	memset(peer, 0, sizeof(*peer));
	for (size_t i = 0; i < um_config_rows_count; i++)
		if (um_config_rows[i].section == UM_SECTION_PEER)
			um_config_row_default(&um_config_rows[i], peer);
	memcpy(peer->name, name, len);
	peer->line = p->line;
	p->section = UM_SECTION_PEER;
	return 0;
}

static int parse_section(struct um_config_parser *p, const char *s, size_t len)
{
	if (len < 2 || s[len - 1] != ']')
		return um_config_fail(p, NULL, "malformed section header (missing ']')");
	s++, len -= 2;
	trim(&s, &len);
	if (len == 4 && !memcmp(s, "node", 4)) {
		if (p->node_seen)
			return um_config_fail(p, NULL, "duplicate [node] section");
		p->node_seen = true;
		p->config->has_node = true;
		p->section = UM_SECTION_NODE;
		return 0;
	}
	if (len == 5 && !memcmp(s, "relay", 5)) {
		if (p->relay_seen)
			return um_config_fail(p, NULL, "duplicate [relay] section");
		p->relay_seen = true;
		p->config->relay.enabled = true;
		p->section = UM_SECTION_RELAY;
		return 0;
	}
	if (len > 4 && !memcmp(s, "peer", 4) && isspace((unsigned char)s[4])) {
		s += 4, len -= 4;
		trim(&s, &len);
		if (len < 2 || s[0] != '"' || s[len - 1] != '"')
			return um_config_fail(p, NULL, "peer name must be quoted: [peer \"name\"]");
		return begin_peer(p, s + 1, len - 2);
	}
	if (len == 4 && !memcmp(s, "peer", 4))
		return um_config_fail(p, NULL, "peer section needs a name: [peer \"name\"]");
	return um_config_fail(p, NULL, "unknown section [%.*s]", (int)(len > 40 ? 40 : len), s);
}

int um_config_parser_line(struct um_config_parser *p, const char *s, size_t len)
{
	char key[64], value[UM_CONFIG_LINE_MAX];

	p->line++;
	if (len && s[len - 1] == '\n')
		len--;
	if (memchr(s, '\0', len))
		return um_config_fail(p, NULL, "NUL byte in line");
	trim(&s, &len);
	if (len == 0 || s[0] == '#' || s[0] == ';')
		return 0;
	if (len >= UM_CONFIG_LINE_MAX)
		return um_config_fail(p, NULL, "line longer than %d bytes", UM_CONFIG_LINE_MAX - 1);
	if (s[0] == '[')
		return parse_section(p, s, len);

	const char *eq = memchr(s, '=', len);
	if (!eq)
		return um_config_fail(p, NULL, "expected 'key = value' or '[section]'");
	const char *k = s, *v = eq + 1;
	size_t klen = (size_t)(eq - s), vlen = len - klen - 1;
	trim(&k, &klen);
	trim(&v, &vlen);
	if (klen == 0)
		return um_config_fail(p, NULL, "missing key before '='");
	if (klen >= sizeof(key))
		return um_config_fail(p, NULL, "key too long");
	memcpy(key, k, klen);
	key[klen] = '\0';
	memcpy(value, v, vlen);
	value[vlen] = '\0';
	return parse_key(p, key, value);
}

int um_config_parser_finish(struct um_config_parser *p)
{
	struct um_config *c = p->config;

	if (!p->node_seen && !p->relay_seen) {
		snprintf(p->error, sizeof(p->error), "%s: missing [node] section", p->file);
		return -UM_ECONFIG;
	}
	if (p->relay_seen) {
		/* The TLS keys go together, and only with a TLS listener. */
		const struct um_config_relay_server *r = &c->relay;
		const char *missing = NULL;
		if (r->tls_certificate[0] && !r->tls_key[0])
			missing = "tls-key";
		else if (r->tls_key[0] && !r->tls_certificate[0])
			missing = "tls-certificate";
		else if ((r->tls_key[0] ||
			  row_given(um_config_row_find(UM_SECTION_RELAY, "tls-max-connections"), r->seen)) &&
			 r->listen_tls.family == UM_ADDR_NONE)
			missing = "listen-tls";
		if (missing) {
			snprintf(p->error, sizeof(p->error), "%s: [relay]: key '%s': required with the other TLS keys",
				 p->file, missing);
			return -UM_ECONFIG;
		}
		/* The same for the bootstrap API's HTTPS. */
		if (r->api_certificate[0] && !r->api_key[0])
			missing = "api-key";
		else if (r->api_key[0] && !r->api_certificate[0])
			missing = "api-certificate";
		else if (r->api_key[0] && r->api.family == UM_ADDR_NONE)
			missing = "api";
		if (missing) {
			snprintf(p->error, sizeof(p->error), "%s: [relay]: key '%s': required with the other API keys",
				 p->file, missing);
			return -UM_ECONFIG;
		}
	}
	if (!p->node_seen) {
		/* Relay-only: peers mean nothing without a node. */
		if (c->n_peers) {
			snprintf(p->error, sizeof(p->error), "%s:%u: [peer \"%s\"] needs a [node] section", p->file,
				 c->peers[0].line, c->peers[0].name);
			return -UM_ECONFIG;
		}
		return 0;
	}
	for (size_t i = 0; i < um_config_rows_count; i++) {
		const struct um_config_row *row = &um_config_rows[i];
		if (!row->required)
			continue;
		if (row->section == UM_SECTION_NODE && !row_given(row, c->node_seen)) {
			snprintf(p->error, sizeof(p->error), "%s: [node]: key '%s': required", p->file, row->name);
			return -UM_ECONFIG;
		}
		if (row->section != UM_SECTION_PEER)
			continue;
		for (size_t j = 0; j < c->n_peers; j++) {
			if (!row_given(row, c->peers[j].seen)) {
				snprintf(p->error, sizeof(p->error), "%s:%u: [peer \"%s\"]: key '%s': required",
					 p->file, c->peers[j].line, c->peers[j].name, row->name);
				return -UM_ECONFIG;
			}
		}
	}
	return 0;
}

static void report(const struct um_config_parser *p, int r, char *error, size_t error_size)
{
	if (!error || !error_size)
		return;
	if (r == -UM_ENOMEM)
		snprintf(error, error_size, "%s:%u: out of memory", p->file, p->line);
	else
		snprintf(error, error_size, "%s", p->error);
}

int um_config_parse_buffer(struct um_config *config, const char *text, size_t len, const char *file, char *error,
			   size_t error_size)
{
	struct um_config_parser p;
	int r = 0;

	um_config_init(config);
	um_config_parser_init(&p, config, file);
	while (len) {
		const char *nl = memchr(text, '\n', len);
		size_t line_len = nl ? (size_t)(nl - text) + 1 : len;
		r = um_config_parser_line(&p, text, line_len);
		if (r)
			goto out;
		text += line_len;
		len -= line_len;
	}
	r = um_config_parser_finish(&p);
out:
	if (r) {
		report(&p, r, error, error_size);
		um_config_free(config);
	}
	return r;
}

int um_config_load(struct um_config *config, const char *path, char *error, size_t error_size)
{
	struct um_config_parser p;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int r = 0;

	um_config_init(config);
	FILE *f = fopen(path, "re");
	if (!f) {
		r = -errno;
		if (error)
			snprintf(error, error_size, "%s: %s", path, strerror(errno));
		return r;
	}
	um_config_parser_init(&p, config, path);
	while ((n = getline(&line, &cap, f)) > 0) {
		r = um_config_parser_line(&p, line, (size_t)n);
		if (r)
			goto out;
	}
	if (ferror(f)) {
		r = -EIO;
		snprintf(p.error, sizeof(p.error), "%s: read error", path);
		goto out;
	}
	r = um_config_parser_finish(&p);
out:
	free(line);
	fclose(f);
	if (r) {
		report(&p, r, error, error_size);
		um_config_free(config);
	}
	return r;
}
