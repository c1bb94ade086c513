/* SPDX-License-Identifier: MIT */
/* umbrad's configuration file: a small INI dialect, parsed line by line.
 *
 *   # comment (also ';'); blank lines ignored; "key = value", spaces optional
 *   [node]
 *   identity = /etc/umbra/node.key     private identity file (required)
 *   listen-port = 51820                 UDP port (0 = any)
 *   device = um0                        TUN/TAP interface name, or none: no
 *                                       device at all (messages only; no
 *                                       CAP_NET_ADMIN, runs as any user; address,
 *                                       mode and mtu are ignored)
 *   mode = tun | tap
 *   address = 100.64.0.1/24             overlay address (CIDR), v4 or v6
 *   control-socket = /run/umbra/umbrad.sock
 *   log-level = error | warn | info | debug
 *   mtu = 1420
 *   heartbeat-interval = 15             seconds, or with a unit: 500ms, 15s, 2m
 *   rekey-interval = 120                same units
 *   relay = [ID@]203.0.113.2:51821      a relay to register with (numeric;
 *                                       ID: the relay's peer ID, pinned; without
 *                                       it the node learns it on first contact
 *                                       and logs it;
 *                                       repeatable, at most UM_CONFIG_RELAYS_MAX)
 *   relay = wss://[ID@]203.0.113.3:443  the same protocol over TLS/WebSocket on
 *                                       TCP; used only when no UDP relay answers
 *   relay-ca = FILE                     verify wss:// relays' certificates against
 *                                       this PEM bundle (default: not verified)
 *   relay-admission-key = <64 hex>      the relays' network admission key
 *   relay-keepalive = 25                keepalive to the relays (default: what
 *                                       the relay advertises, at most this)
 *   direct = true                       hole-punch a direct path to peers reached
 *                                       through a relay (true | false)
 *   connect-timeout = 5s                how long one hole-punching attempt probes
 *   health-interval = 1s                a direct path silent this long falls
 *                                       back to the relay (probes every 1/4)
 *   retry-interval = 60s                a new direct attempt after a failure
 *   stun = 203.0.113.9:3478             a STUN server (numeric; repeatable, at most
 *                                       UM_CONFIG_STUN_MAX): the reflexive address
 *                                       it reports becomes a path candidate
 *   busy-poll-us = 500                  after an idle spell, a worker that sent a
 *                                       packet polls this long for the reply
 *                                       instead of sleeping (0 = off, at most 2000)
 *   quiet-cpu = 0                       the CPU quiet workers gather on (none:
 *                                       never pin; a CPU the daemon may not use:
 *                                       the lowest one it may)
 *   bootstrap = http://HOST:PORT        a relay's bootstrap API (https:// with
 *   bootstrap = 203.0.113.5:51820       TLS), or any node's UDP port (numeric);
 *                                       repeatable, at most UM_CONFIG_BOOTSTRAP_MAX
 *                                       (parsed and stored; the DHT uses them)
 *   network-key = FILE                  a private network's key (umbra network-key):
 *                                       records sealed, found only by members;
 *                                       relays: only the network's (sealed
 *                                       relay records of relays with this key)
 *   public-relays = off                 with network-key: also use public relays
 *                                       found in the DHT (on | off)
 *   dht = on                            the Kademlia DHT (node/dht.c; on | off)
 *   dht-k = 8                           contacts per bucket (1..20)
 *   dht-alpha = 3                       parallel requests per lookup (1..8)
 *   dht-diversity = on                  at most 2 contacts per /24 per bucket, 10
 *                                       per table (off: namespace tests, one /24)
 *   dht-state = FILE                    routing table saved on clean shutdown and
 *                                       loaded at start (rejoin without bootstrap)
 *   store = /var/lib/umbra/messages.db  the message store (SQLite; default:
 *                                       messages.db beside dht-state if set, else
 *                                       beside the control socket)
 *   download-dir = /var/lib/umbra/dl    received files (default: downloads
 *                                       beside the store)
 *   max-file-size = 4294967296          largest file accepted from a peer, in
 *                                       bytes (default 4 GiB)
 *   mailbox = http://H:P[, http://H:P]  our mailbox relays' queue APIs (home,
 *                                       then backup; [relay] queue + api): our
 *                                       signed prekey is published there, our
 *                                       envelopes fetched from there, and peers
 *                                       without a mailbox of their own get
 *                                       theirs queued there (docs/PROTOCOL.md 22)
 *   mailbox-delay = 10s                 a message without a live session this
 *                                       long goes to the peer's mailboxes
 *   mailbox-poll = 30s                  how often our mailboxes are read (also at
 *                                       start, after a relay registration and
 *                                       when a mailbox pushes)
 *
 *   [relay]                             makes umbrad a relay; without [node]
 *                                       it is relay-only (no device, no identity)
 *   identity = /etc/umbra/relay.key     the relay's identity (node format, 0600;
 *                                       absent: a new one each start, so nodes
 *                                       can only learn it, not pin it)
 *   listen = 203.0.113.2:51821          address and port (or listen-port = N:
 *   listen-port = 51821                 any address; default 51821)
 *   allow = <peer ID>[, <peer ID>...]   allow-list (repeatable; empty = anyone)
 *   admission-key = <64 hex>            network admission key (both given:
 *                                       both required)
 *   max-nodes = 65536                   registered nodes cap
 *   registration-timeout = 90s          expiry without keepalive/traffic
 *   keepalive-interval = 25s            advertised to nodes (1 s..1 h)
 *   packets-per-second = 20000          per node, with packet-burst = 2000
 *   bytes-per-second = 25000000         per node, with byte-burst = 2500000
 *   verifications-per-second = 500      global registration signature budget
 *   listen-tls = 203.0.113.3:443        also serve over TLS/WebSocket (TCP)
 *   tls-certificate = FILE              PEM certificate (chain) and key; both
 *   tls-key = FILE                      absent: a self-signed one at start-up
 *   tls-max-connections = 1024          TLS connections cap
 *   api = 203.0.113.2:8080              serve the bootstrap HTTP API here
 *   api-certificate = FILE              with both: HTTPS (PEM certificate
 *   api-key = FILE                      chain and key)
 *   queue = /var/lib/umbra/queue.db     the offline queue of sealed envelopes
 *                                       (SQLite; served on api: no queue
 *                                       without both; http/queue_api.h)
 *   queue-ttl = 72h                     how long an envelope waits (s, m, h,
 *                                       d; 1 s to 365 days; default 72 h)
 *   queue-max-messages = 100            envelopes per recipient
 *   queue-max-bytes = 1048576           envelope bytes per recipient
 *   queue-rate = 100                    queue API requests per second per
 *                                       source address (burst: 4 s worth)
 *   bootstrap = http://HOST:PORT        as in [node]: the relay's own DHT node
 *   dht = on, dht-diversity = on        joins through these (on its UDP port,
 *   dht-state = FILE                    with its identity) and publishes the
 *                                       relay record nodes find relays by
 *   network-key = FILE                  serve that private network: the relay
 *                                       record is sealed under its relay key
 *                                       (found only by members), not public
 *   control-socket, log-level           as in [node] (relay-only: here)
 *
 *   [peer "name"]                       one section per peer, names unique
 *   id = <textual peer ID>              required, checksummed
 *   endpoint = 198.51.100.2:51820       or [2001:db8::2]:51820 (numeric only)
 *   allowed-ips = 100.64.0.2/32, fd00::/64   repeatable: lists accumulate
 *   keepalive = 25                      seconds (0 = off)
 *   accept-files = ask                  files this peer offers: ask (wait for
 *                                       umbra file accept), always or never
 *   mailbox = http://H:P[, http://H:P]  where to queue envelopes for this peer
 *                                       (default: our own mailboxes)
 *
 * Errors are reported as "FILE:LINE: key 'x': reason" (or without the key
 * part for section-level errors). Unknown sections and keys are errors; a key
 * given twice in one section is an error, except allowed-ips which appends;
 * two [node] sections, two peers with the same name or ID, or the same
 * allowed-ips prefix on two peers are errors. Endpoints are numeric: the
 * parser never touches the network (so the fuzzer cannot either).
 *
 * Each key above is one typed row (type, field, default, bounds) in
 * config_keys.c; ctl/config_rows.h describes the rows. A new key is a new
 * row (and, if no type fits, a small parser next to it). */
#ifndef UM_CTL_CONFIG_H
#define UM_CTL_CONFIG_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "crypto/identity.h"
#include "util/addr.h" /* endpoints and prefixes: um_addr_parse, um_addr_prefix_parse */
#include "util/log.h"

enum {
	UM_CONFIG_NAME_MAX = 64,      /* peer name buffer, incl. NUL */
	UM_CONFIG_PATH_MAX = 4096,    /* identity path buffer, incl. NUL */
	UM_CONFIG_LINE_MAX = 4096,    /* longer lines are an error */
	UM_CONFIG_PEERS_MAX = 4096,   /* peers per file */
	UM_CONFIG_ALLOWED_MAX = 1024, /* allowed-ips prefixes per peer */
	UM_CONFIG_ERROR_MAX = 512,    /* error message buffer */
	UM_CONFIG_RELAYS_MAX = 8,     /* relay = lines per node */
	UM_CONFIG_STUN_MAX = 4,       /* stun = lines per node */
	UM_CONFIG_ALLOW_MAX = 65536,  /* [relay] allow entries */
	UM_CONFIG_KEY_BYTES = 32,     /* admission keys */
	UM_CONFIG_RELAY_PORT = 51821, /* default relay port */
	UM_CONFIG_BOOTSTRAP_MAX = 8,  /* bootstrap = lines per node */
	UM_CONFIG_BOOTSTRAP_URL_MAX = 200,
	UM_CONFIG_MAILBOX_MAX = 512, /* mailbox = URL[, URL]: the text as given */
};

#define UM_CONFIG_DEFAULT_SOCKET       "/run/umbra/umbrad.sock"
#define UM_CONFIG_DEFAULT_DEVICE       "umbra0"
#define UM_CONFIG_DEFAULT_BUSY_POLL_US 500
#define UM_CONFIG_BUSY_POLL_MAX_US     2000 /* = UM_BUSY_POLL_MAX_US (net/quiet.h) */

enum um_device_mode {
	UM_MODE_TUN = 0,
	UM_MODE_TAP,
};

/* [peer] accept-files: what happens to a file this peer offers. */
enum um_accept_files {
	UM_ACCEPT_ASK = 0, /* held until the user accepts or rejects it */
	UM_ACCEPT_ALWAYS,
	UM_ACCEPT_NEVER,
};

#define UM_CONFIG_DEFAULT_MAX_FILE_SIZE (4ULL << 30) /* [node] max-file-size */

struct um_config_peer {
	char name[UM_CONFIG_NAME_MAX];
	struct um_peer_id id;
	struct um_addr endpoint;            /* family 0: none (through a relay) */
	struct um_addr_prefix *allowed_ips; /* owned; n_allowed_ips entries */
	size_t n_allowed_ips;
	unsigned keepalive_s; /* 0 = off */
	enum um_accept_files accept_files;
	char mailbox[UM_CONFIG_MAILBOX_MAX]; /* "" = the peer's DHT record, else ours */
	unsigned line;                       /* where the section started, for messages */
	uint64_t seen;                       /* bit per key given (duplicate detection) */
};

/* [node] and [relay] bootstrap = ...: a bootstrap API (http/https URL, host by name or
 * number, kept as text) or a node's UDP endpoint (numeric). */
struct um_config_bootstrap {
	bool http;                             /* else udp */
	char url[UM_CONFIG_BOOTSTRAP_URL_MAX]; /* http: "http(s)://HOST:PORT" */
	struct um_addr udp;                    /* udp: the endpoint */
};

/* [relay]: the relay server (numbers as in relay/relay.h's config). */
struct um_config_relay_server {
	bool enabled;
	char identity_path[UM_CONFIG_PATH_MAX]; /* "" = a new identity each start */
	struct um_addr listen;                  /* family 0: any address, port listen_port */
	uint16_t listen_port;
	struct um_peer_id *allow; /* owned; n_allow entries */
	size_t n_allow;
	uint8_t admission_key[UM_CONFIG_KEY_BYTES];
	bool has_admission_key;
	uint32_t max_nodes;
	uint64_t registration_timeout_ms;
	uint64_t keepalive_interval_ms;
	uint32_t packets_per_s, packet_burst, bytes_per_s, byte_burst, verifications_per_s;
	struct um_addr listen_tls;                /* family 0: no TLS listener */
	char tls_certificate[UM_CONFIG_PATH_MAX]; /* "" = self-signed */
	char tls_key[UM_CONFIG_PATH_MAX];
	uint32_t tls_max_connections;
	struct um_addr api;                       /* family 0: no bootstrap API */
	char api_certificate[UM_CONFIG_PATH_MAX]; /* "" = plain HTTP */
	char api_key[UM_CONFIG_PATH_MAX];
	/* The offline queue (store/queue.h) served on api: "" = none. */
	char queue_path[UM_CONFIG_PATH_MAX];
	uint64_t queue_ttl_ms; /* 0: the queue's default, 72 h */
	uint32_t queue_max_messages;
	uint64_t queue_max_bytes;
	uint32_t queue_rate; /* requests/s per source */
	/* The relay's own DHT node (node/dht.c): on its UDP port, with its
	 * identity; publishes its relay record. k and alpha are the defaults. */
	struct um_config_bootstrap bootstrap[UM_CONFIG_BOOTSTRAP_MAX]; /* bootstrap = lines */
	size_t n_bootstrap;
	bool dht, dht_diversity;
	char dht_state[UM_CONFIG_PATH_MAX];   /* "" = not saved */
	char network_key[UM_CONFIG_PATH_MAX]; /* "" = a public relay record */
	uint64_t seen;
};

struct um_config {
	bool has_node; /* a [node] section (else relay-only) */
	char identity_path[UM_CONFIG_PATH_MAX];
	uint16_t listen_port;
	char device[IFNAMSIZ];
	bool no_device; /* device = none: no TUN/TAP (device keeps its default) */
	enum um_device_mode mode;
	struct um_addr_prefix address; /* host bits kept (the interface address) */
	bool has_address;
	char control_socket[sizeof(((struct sockaddr_un *)0)->sun_path)];
	enum um_log_level log_level;
	unsigned mtu;
	unsigned busy_poll_us; /* net/quiet.h; 0 = off */
	bool gather;           /* quiet-cpu: false = none */
	unsigned gather_cpu;
	uint64_t heartbeat_ms;
	uint64_t rekey_ms;
	struct um_config_peer *peers; /* owned; n_peers entries */
	size_t n_peers;
	struct um_addr relays[UM_CONFIG_RELAYS_MAX]; /* relay = lines */
	bool relay_tls[UM_CONFIG_RELAYS_MAX];        /* wss:// (TLS on TCP) */
	bool relay_has_id[UM_CONFIG_RELAYS_MAX];     /* ID@ given: the relay's pinned peer ID */
	struct um_peer_id relay_ids[UM_CONFIG_RELAYS_MAX];
	size_t n_relays;
	uint8_t relay_admission_key[UM_CONFIG_KEY_BYTES];
	bool has_relay_admission_key;
	uint64_t relay_keepalive_ms;       /* 0 = what the relay advertises */
	char relay_ca[UM_CONFIG_PATH_MAX]; /* "" = wss:// relays not verified */
	bool direct;                       /* hole punching (node/path.c) */
	uint64_t connect_timeout_ms, health_interval_ms, retry_interval_ms;
	struct um_addr stun[UM_CONFIG_STUN_MAX]; /* stun = lines */
	size_t n_stun;
	struct um_config_bootstrap bootstrap[UM_CONFIG_BOOTSTRAP_MAX]; /* bootstrap = lines */
	size_t n_bootstrap;
	char network_key[UM_CONFIG_PATH_MAX]; /* "" = public records */
	bool public_relays;                   /* with network_key: public relays too */
	bool dht;                             /* node/dht.c */
	unsigned dht_k, dht_alpha;
	bool dht_diversity;
	char dht_state[UM_CONFIG_PATH_MAX]; /* "" = not saved */
	/* Messaging (node/messaging.c). "" = the defaults the node derives
	 * (see the comment above). */
	char store_path[UM_CONFIG_PATH_MAX];
	char download_dir[UM_CONFIG_PATH_MAX];
	uint64_t max_file_size; /* bytes */
	/* Store-and-forward (node/offline.c): our mailbox relays' queue APIs
	 * ("http://H:P[, http://H:P]": home, then backup; "" = none), how long
	 * a message waits for a live session before it is queued, how often
	 * the mailboxes are polled. */
	char mailbox[UM_CONFIG_MAILBOX_MAX];
	uint64_t mailbox_delay_ms, mailbox_poll_ms;
	struct um_config_relay_server relay;
	uint64_t node_seen;
};

/* Streaming parser: feed one line at a time (with or without its '\n'). */
struct um_config_parser {
	struct um_config *config;
	const char *file; /* name used in messages; borrowed */
	unsigned line;
	enum { UM_SECTION_NONE, UM_SECTION_NODE, UM_SECTION_PEER, UM_SECTION_RELAY } section;
	bool node_seen, relay_seen;
	char error[UM_CONFIG_ERROR_MAX];
};

/* Defaults for every field; config owns nothing yet. */
void um_config_init(struct um_config *config);
/* Frees what config owns and resets it to defaults. */
void um_config_free(struct um_config *config);

void um_config_parser_init(struct um_config_parser *parser, struct um_config *config, const char *file);
/* Parses one line (len bytes, NUL not needed). Returns 0, or -UM_ECONFIG with
 * parser->error set, or -UM_ENOMEM. */
int um_config_parser_line(struct um_config_parser *parser, const char *line, size_t len);
/* End of input: checks required keys. Returns 0 or -UM_ECONFIG. */
int um_config_parser_finish(struct um_config_parser *parser);

/* Whole buffer / whole file. On error, error (size error_size, may be NULL)
 * holds the message and config is freed back to defaults. On success the
 * caller owns config's allocations (um_config_free). */
int um_config_parse_buffer(struct um_config *config, const char *text, size_t len, const char *file, char *error,
			   size_t error_size);
int um_config_load(struct um_config *config, const char *path, char *error, size_t error_size);

/* Small parsers, shared with the control protocol and tests. All return 0 or
 * -UM_EINVAL / -UM_ERANGE and never touch the network. Endpoints and
 * prefixes: util/addr.h. */
/* "15", "15s", "500ms", "2m" -> milliseconds, 0 < ms <= 1 day. */
int um_duration_parse(const char *text, uint64_t *ms);
/* A decimal number <= max, no sign, no trailing text. */
int um_config_parse_uint(const char *text, unsigned long long max, unsigned long long *out);

#endif
