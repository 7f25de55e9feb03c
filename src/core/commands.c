/* commands.c -- the command table rows and the COMMAND command generated from them.
 *
 * Adding a command means adding one row here (and its handler elsewhere): COMMAND, COMMAND INFO,
 * COMMAND DOCS, COMMAND LIST, arity checks, MULTI, -LOADING and the stats all follow from the
 * row. Rows of other subsystems (the vector commands) live in their own tables and are merged
 * at start-up by commandTableInit() so this file does not grow with every feature. */
#include "commands.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cmd_conn.h"
#include "config.h"
#include "db.h"
#include "debug.h"
#include "info.h"
#include "pause.h"
#include "latencymon.h"
#include "memory.h"
#include "monitor.h"
#include "multi.h"
#include "pubsub.h"
#include "server.h"
#include "slowlog.h"
#include "tracking.h"
#include "util.h"

/* ---- argument documentation (COMMAND DOCS); only what clients display ---- */
#define ARGS_END                                                                                   \
    { NULL, 0, NULL, 0, NULL }
static const qvCommandArg args_key[] = {{"key", ARG_KEY, NULL, 0, NULL}, ARGS_END};
static const qvCommandArg args_keys[] = {{"key", ARG_KEY, NULL, ARGF_MULTIPLE, NULL}, ARGS_END};
static const qvCommandArg args_ping[] = {{"message", ARG_STRING, NULL, ARGF_OPTIONAL, NULL},
                                         ARGS_END};
static const qvCommandArg args_echo[] = {{"message", ARG_STRING, NULL, 0, NULL}, ARGS_END};
static const qvCommandArg args_hello_auth[] = {
    {"username", ARG_STRING, NULL, 0, NULL}, {"password", ARG_STRING, NULL, 0, NULL}, ARGS_END};
static const qvCommandArg args_hello_proto[] = {
    {"protover", ARG_INTEGER, NULL, 0, NULL},
    {"auth", ARG_BLOCK, "AUTH", ARGF_OPTIONAL, args_hello_auth},
    {"clientname", ARG_STRING, "SETNAME", ARGF_OPTIONAL, NULL},
    ARGS_END};
static const qvCommandArg args_hello[] = {
    {"arguments", ARG_BLOCK, NULL, ARGF_OPTIONAL, args_hello_proto}, ARGS_END};
static const qvCommandArg args_auth[] = {{"username", ARG_STRING, NULL, ARGF_OPTIONAL, NULL},
                                         {"password", ARG_STRING, NULL, 0, NULL},
                                         ARGS_END};
static const qvCommandArg args_select[] = {{"index", ARG_INTEGER, NULL, 0, NULL}, ARGS_END};
static const qvCommandArg args_swapdb[] = {
    {"index1", ARG_INTEGER, NULL, 0, NULL}, {"index2", ARG_INTEGER, NULL, 0, NULL}, ARGS_END};
static const qvCommandArg args_move[] = {
    {"key", ARG_KEY, NULL, 0, NULL}, {"db", ARG_INTEGER, NULL, 0, NULL}, ARGS_END};
static const qvCommandArg args_pattern[] = {{"pattern", ARG_PATTERN, NULL, 0, NULL}, ARGS_END};
static const qvCommandArg args_scan[] = {{"cursor", ARG_INTEGER, NULL, 0, NULL},
                                         {"pattern", ARG_PATTERN, "MATCH", ARGF_OPTIONAL, NULL},
                                         {"count", ARG_INTEGER, "COUNT", ARGF_OPTIONAL, NULL},
                                         {"type", ARG_STRING, "TYPE", ARGF_OPTIONAL, NULL},
                                         ARGS_END};
static const qvCommandArg args_rename[] = {
    {"key", ARG_KEY, NULL, 0, NULL}, {"newkey", ARG_KEY, NULL, 0, NULL}, ARGS_END};
static const qvCommandArg args_flush_mode[] = {{"async", ARG_PURE_TOKEN, "ASYNC", 0, NULL},
                                               {"sync", ARG_PURE_TOKEN, "SYNC", 0, NULL},
                                               ARGS_END};
static const qvCommandArg args_flush[] = {
    {"flush-type", ARG_ONEOF, NULL, ARGF_OPTIONAL, args_flush_mode}, ARGS_END};
static const qvCommandArg args_info[] = {
    {"section", ARG_STRING, NULL, ARGF_OPTIONAL | ARGF_MULTIPLE, NULL}, ARGS_END};
static const qvCommandArg args_name[] = {{"connection-name", ARG_STRING, NULL, 0, NULL}, ARGS_END};
static const qvCommandArg args_setinfo_attr[] = {{"libname", ARG_STRING, "LIB-NAME", 0, NULL},
                                                 {"libver", ARG_STRING, "LIB-VER", 0, NULL},
                                                 ARGS_END};
static const qvCommandArg args_setinfo[] = {{"attr", ARG_ONEOF, NULL, 0, args_setinfo_attr},
                                            ARGS_END};
static const qvCommandArg args_onoff_vals[] = {
    {"on", ARG_PURE_TOKEN, "ON", 0, NULL}, {"off", ARG_PURE_TOKEN, "OFF", 0, NULL}, ARGS_END};
static const qvCommandArg args_onoff[] = {{"enabled", ARG_ONEOF, NULL, 0, args_onoff_vals},
                                          ARGS_END};
static const qvCommandArg args_reply_vals[] = {{"on", ARG_PURE_TOKEN, "ON", 0, NULL},
                                               {"off", ARG_PURE_TOKEN, "OFF", 0, NULL},
                                               {"skip", ARG_PURE_TOKEN, "SKIP", 0, NULL},
                                               ARGS_END};
static const qvCommandArg args_reply[] = {{"action", ARG_ONEOF, NULL, 0, args_reply_vals},
                                          ARGS_END};
static const qvCommandArg args_client_list[] = {
    {"client-type", ARG_STRING, "TYPE", ARGF_OPTIONAL, NULL},
    {"client-id", ARG_INTEGER, "ID", ARGF_OPTIONAL | ARGF_MULTIPLE, NULL},
    ARGS_END};
static const qvCommandArg args_client_kill[] = {
    {"ip:port", ARG_STRING, NULL, ARGF_OPTIONAL, NULL},
    {"client-id", ARG_INTEGER, "ID", ARGF_OPTIONAL, NULL},
    {"client-type", ARG_STRING, "TYPE", ARGF_OPTIONAL, NULL},
    {"ip:port", ARG_STRING, "ADDR", ARGF_OPTIONAL, NULL},
    {"ip:port", ARG_STRING, "LADDR", ARGF_OPTIONAL, NULL},
    {"yes/no", ARG_STRING, "SKIPME", ARGF_OPTIONAL, NULL},
    {"maxage", ARG_INTEGER, "MAXAGE", ARGF_OPTIONAL, NULL},
    ARGS_END};
static const qvCommandArg args_config_get[] = {{"parameter", ARG_STRING, NULL, ARGF_MULTIPLE, NULL},
                                               ARGS_END};
static const qvCommandArg args_config_set_pair[] = {
    {"parameter", ARG_STRING, NULL, 0, NULL}, {"value", ARG_STRING, NULL, 0, NULL}, ARGS_END};
static const qvCommandArg args_config_set[] = {
    {"data", ARG_BLOCK, NULL, ARGF_MULTIPLE, args_config_set_pair}, ARGS_END};
static const qvCommandArg args_count_opt[] = {{"count", ARG_INTEGER, NULL, ARGF_OPTIONAL, NULL},
                                              ARGS_END};
static const qvCommandArg args_shutdown_save_vals[] = {
    {"nosave", ARG_PURE_TOKEN, "NOSAVE", 0, NULL},
    {"save", ARG_PURE_TOKEN, "SAVE", 0, NULL},
    ARGS_END};
static const qvCommandArg args_shutdown[] = {
    {"save-selector", ARG_ONEOF, NULL, ARGF_OPTIONAL, args_shutdown_save_vals},
    {"now", ARG_PURE_TOKEN, "NOW", ARGF_OPTIONAL, NULL},
    {"force", ARG_PURE_TOKEN, "FORCE", ARGF_OPTIONAL, NULL},
    {"abort", ARG_PURE_TOKEN, "ABORT", ARGF_OPTIONAL, NULL},
    ARGS_END};
static const qvCommandArg args_command_names[] = {
    {"command-name", ARG_STRING, NULL, ARGF_OPTIONAL | ARGF_MULTIPLE, NULL}, ARGS_END};
static const qvCommandArg args_memory_usage[] = {
    {"key", ARG_KEY, NULL, 0, NULL},
    {"count", ARG_INTEGER, "SAMPLES", ARGF_OPTIONAL, NULL},
    ARGS_END};
static const qvCommandArg args_channels[] = {{"channel", ARG_STRING, NULL, ARGF_MULTIPLE, NULL},
                                             ARGS_END};
static const qvCommandArg args_channels_opt[] = {
    {"channel", ARG_STRING, NULL, ARGF_OPTIONAL | ARGF_MULTIPLE, NULL}, ARGS_END};
static const qvCommandArg args_patterns[] = {{"pattern", ARG_PATTERN, NULL, ARGF_MULTIPLE, NULL},
                                             ARGS_END};
static const qvCommandArg args_patterns_opt[] = {
    {"pattern", ARG_PATTERN, NULL, ARGF_OPTIONAL | ARGF_MULTIPLE, NULL}, ARGS_END};
static const qvCommandArg args_publish[] = {
    {"channel", ARG_STRING, NULL, 0, NULL}, {"message", ARG_STRING, NULL, 0, NULL}, ARGS_END};
static const qvCommandArg args_pattern_opt[] = {{"pattern", ARG_PATTERN, NULL, ARGF_OPTIONAL, NULL},
                                                ARGS_END};
static const qvCommandArg args_debug[] = {
    {"subcommand", ARG_STRING, NULL, 0, NULL},
    {"arg", ARG_STRING, NULL, ARGF_OPTIONAL | ARGF_MULTIPLE, NULL},
    ARGS_END};

static const qvCommandArg args_client_tracking[] = {
    {"status", ARG_ONEOF, NULL, 0, args_onoff_vals},
    {"client-id", ARG_INTEGER, "REDIRECT", ARGF_OPTIONAL, NULL},
    {"prefix", ARG_STRING, "PREFIX", ARGF_OPTIONAL | ARGF_MULTIPLE | ARGF_MULTIPLE_TOKEN, NULL},
    {"bcast", ARG_PURE_TOKEN, "BCAST", ARGF_OPTIONAL, NULL},
    {"optin", ARG_PURE_TOKEN, "OPTIN", ARGF_OPTIONAL, NULL},
    {"optout", ARG_PURE_TOKEN, "OPTOUT", ARGF_OPTIONAL, NULL},
    {"noloop", ARG_PURE_TOKEN, "NOLOOP", ARGF_OPTIONAL, NULL},
    ARGS_END};
static const qvCommandArg args_yesno_vals[] = {
    {"yes", ARG_PURE_TOKEN, "YES", 0, NULL}, {"no", ARG_PURE_TOKEN, "NO", 0, NULL}, ARGS_END};
static const qvCommandArg args_client_caching[] = {{"mode", ARG_ONEOF, NULL, 0, args_yesno_vals},
                                                   ARGS_END};

static const qvCommandArg args_latency_event[] = {{"event", ARG_STRING, NULL, 0, NULL}, ARGS_END};
static const qvCommandArg args_latency_commands[] = {
    {"command", ARG_STRING, NULL, ARGF_OPTIONAL | ARGF_MULTIPLE, NULL}, ARGS_END};
static const qvCommandArg args_latency_events[] = {
    {"event", ARG_STRING, NULL, ARGF_OPTIONAL | ARGF_MULTIPLE, NULL}, ARGS_END};

/* Shorthands keep the rows on one or two lines each. */
#define CONN_FLAGS (CMD_NOSCRIPT | CMD_LOADING | CMD_STALE)
#define CMD_END                                                                                    \
    { NULL }
#define NOKEYS 0, 0, 0

/* clang-format off */
/* One row per command: the table reads as a table. */
static qvCommand client_subcommands[] = {
    {"id", clientIdCommand, 2, CONN_FLAGS, ACL_CONNECTION, NOKEYS, "connection", "Returns the unique client ID of the connection.", "5.0.0", "O(1)"},
    {"setname", clientSetnameCommand, 3, CONN_FLAGS, ACL_CONNECTION, NOKEYS, "connection", "Sets the connection name.", "2.6.9", "O(1)", args_name},
    {"getname", clientGetnameCommand, 2, CONN_FLAGS, ACL_CONNECTION, NOKEYS, "connection", "Returns the name of the connection.", "2.6.9", "O(1)"},
    {"setinfo", clientSetinfoCommand, 4, CONN_FLAGS, ACL_CONNECTION, NOKEYS, "connection", "Sets information specific to the client or connection.", "7.2.0", "O(1)", args_setinfo},
    {"info", clientInfoCommand, 2, CONN_FLAGS, ACL_CONNECTION, NOKEYS, "connection", "Returns information about the connection.", "6.2.0", "O(1)"},
    {"list", clientListCommand, -2, CONN_FLAGS | CMD_ADMIN, ACL_ADMIN | ACL_CONNECTION | ACL_DANGEROUS, NOKEYS, "connection", "Lists open connections.", "2.4.0", "O(N) where N is the number of client connections", args_client_list},
    {"kill", clientKillCommand, -3, CONN_FLAGS | CMD_ADMIN, ACL_ADMIN | ACL_CONNECTION | ACL_DANGEROUS, NOKEYS, "connection", "Terminates open connections.", "2.4.0", "O(N) where N is the number of client connections", args_client_kill},
    {"no-evict", clientNoEvictCommand, 3, CONN_FLAGS | CMD_ADMIN, ACL_ADMIN | ACL_CONNECTION | ACL_DANGEROUS, NOKEYS, "connection", "Sets the client eviction mode of the connection.", "7.0.0", "O(1)", args_onoff},
    {"no-touch", clientNoTouchCommand, 3, CONN_FLAGS, ACL_CONNECTION, NOKEYS, "connection", "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.", "7.2.0", "O(1)", args_onoff},
    {"reply", clientReplyCommand, 3, CONN_FLAGS, ACL_CONNECTION, NOKEYS, "connection", "Instructs the server whether to reply to commands.", "3.2.0", "O(1)", args_reply},
    {"pause", clientPauseCommand, -3, CONN_FLAGS | CMD_ADMIN | CMD_SENTINEL, ACL_ADMIN | ACL_CONNECTION | ACL_DANGEROUS, NOKEYS, "connection", "Suspends commands processing.", "3.0.0", "O(1)"},
    {"unpause", clientUnpauseCommand, 2, CONN_FLAGS | CMD_ADMIN | CMD_SENTINEL, ACL_ADMIN | ACL_CONNECTION | ACL_DANGEROUS, NOKEYS, "connection", "Resumes processing of clients that were paused.", "6.2.0", "O(N) Where N is the number of paused clients"},
    {"tracking", clientTrackingCommand, -3, CONN_FLAGS, ACL_CONNECTION, NOKEYS, "connection", "Controls server-assisted client-side caching for the connection.", "6.0.0", "O(1). Some options may introduce additional complexity.", args_client_tracking},
    {"caching", clientCachingCommand, 3, CONN_FLAGS, ACL_CONNECTION, NOKEYS, "connection", "Instructs the server whether to track the keys in the next request.", "6.0.0", "O(1)", args_client_caching},
    {"getredir", clientGetredirCommand, 2, CONN_FLAGS, ACL_CONNECTION, NOKEYS, "connection", "Returns the client ID to which the connection's tracking notifications are redirected.", "6.0.0", "O(1)"},
    {"trackinginfo", clientTrackinginfoCommand, 2, CONN_FLAGS, ACL_CONNECTION, NOKEYS, "connection", "Returns information about server-assisted client-side caching for the connection.", "6.2.0", "O(1)"},
    {"help", clientHelpCommand, 2, CONN_FLAGS, ACL_CONNECTION, NOKEYS, "connection", "Returns helpful text about the different subcommands.", "5.0.0", "O(1)"},
    CMD_END};

static qvCommand config_subcommands[] = {
    {"get", configGetCommand, -3, CMD_ADMIN | CONN_FLAGS, ACL_ADMIN | ACL_DANGEROUS, NOKEYS, "server", "Returns the effective values of configuration parameters.", "2.0.0", "O(N) when N is the number of configuration parameters provided", args_config_get},
    {"set", configSetCommand, -4, CMD_ADMIN | CONN_FLAGS, ACL_ADMIN | ACL_DANGEROUS, NOKEYS, "server", "Sets configuration parameters in-flight.", "2.0.0", "O(N) when N is the number of configuration parameters provided", args_config_set},
    {"resetstat", configResetStatCommand, 2, CMD_ADMIN | CONN_FLAGS, ACL_ADMIN | ACL_DANGEROUS, NOKEYS, "server", "Resets the server's statistics.", "2.0.0", "O(1)"},
    {"rewrite", configRewriteCommand, 2, CMD_ADMIN | CONN_FLAGS, ACL_ADMIN | ACL_DANGEROUS, NOKEYS, "server", "Persists the effective configuration to file.", "2.8.0", "O(1)"},
    {"help", configHelpCommand, 2, CONN_FLAGS, ACL_SLOW, NOKEYS, "server", "Returns helpful text about the different subcommands.", "5.0.0", "O(1)"},
    CMD_END};

static qvCommand slowlog_subcommands[] = {
    {"get", slowlogGetCommand, -2, CMD_ADMIN | CMD_LOADING | CMD_STALE, ACL_ADMIN | ACL_DANGEROUS, NOKEYS, "server", "Returns the slow log's entries.", "2.2.12", "O(N) where N is the number of entries returned", args_count_opt},
    {"len", slowlogLenCommand, 2, CMD_ADMIN | CMD_LOADING | CMD_STALE, ACL_ADMIN | ACL_DANGEROUS, NOKEYS, "server", "Returns the number of entries in the slow log.", "2.2.12", "O(1)"},
    {"reset", slowlogResetCommand, 2, CMD_ADMIN | CMD_LOADING | CMD_STALE, ACL_ADMIN | ACL_DANGEROUS, NOKEYS, "server", "Clears all entries from the slow log.", "2.2.12", "O(N) where N is the number of entries in the slowlog"},
    {"help", slowlogHelpCommand, 2, CMD_LOADING | CMD_STALE, ACL_SLOW, NOKEYS, "server", "Show helpful text about the different subcommands", "6.2.0", "O(1)"},
    CMD_END};

static qvCommand command_subcommands[] = {
    {"count", commandCountCommand, 2, CMD_LOADING | CMD_STALE, ACL_CONNECTION, NOKEYS, "server", "Returns a count of commands.", "2.8.13", "O(1)"},
    {"info", commandInfoCommand, -2, CMD_LOADING | CMD_STALE, ACL_CONNECTION, NOKEYS, "server", "Returns information about one, multiple or all commands.", "2.8.13", "O(N) where N is the number of commands to look up", args_command_names},
    {"docs", commandDocsCommand, -2, CMD_LOADING | CMD_STALE, ACL_CONNECTION, NOKEYS, "server", "Returns documentary information about one, multiple or all commands.", "7.0.0", "O(N) where N is the number of commands to look up", args_command_names},
    {"list", commandListCommand, -2, CMD_LOADING | CMD_STALE, ACL_CONNECTION, NOKEYS, "server", "Returns a list of command names.", "7.0.0", "O(N) where N is the total number of Redis commands"},
    {"help", commandHelpCommand, 2, CMD_LOADING | CMD_STALE, ACL_CONNECTION, NOKEYS, "server", "Returns helpful text about the different subcommands.", "5.0.0", "O(1)"},
    CMD_END};

static qvCommand memory_subcommands[] = {
    {"usage", memoryUsageCommand, -3, CMD_READONLY, ACL_READ, 2, 2, 1, "server", "Estimates the memory usage of a key.", "4.0.0", "O(N) where N is the number of samples.", args_memory_usage},
    {"stats", memoryStatsCommand, 2, 0, ACL_SLOW, NOKEYS, "server", "Returns details about memory usage.", "4.0.0", "O(1)"},
    {"doctor", memoryDoctorCommand, 2, 0, ACL_SLOW, NOKEYS, "server", "Outputs a memory problems report.", "4.0.0", "O(1)"},
    {"malloc-stats", memoryMallocStatsCommand, 2, 0, ACL_SLOW, NOKEYS, "server", "Returns the allocator statistics.", "4.0.0", "Depends on how much memory is allocated, could be slow"},
    {"purge", memoryPurgeCommand, 2, 0, ACL_SLOW, NOKEYS, "server", "Asks the allocator to release memory.", "4.0.0", "Depends on how much memory is allocated, could be slow"},
    {"help", memoryHelpCommand, 2, CMD_LOADING | CMD_STALE, ACL_SLOW, NOKEYS, "server", "Returns helpful text about the different subcommands.", "4.0.0", "O(1)"},
    CMD_END};

static qvCommand latency_subcommands[] = {
    {"latest", latencyLatestCommand, 2, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, ACL_ADMIN | ACL_DANGEROUS, NOKEYS, "server", "Returns the latest latency samples for all events.", "2.8.13", "O(1)"},
    {"history", latencyHistoryCommand, 3, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, ACL_ADMIN | ACL_DANGEROUS, NOKEYS, "server", "Returns timestamp-latency samples for an event.", "2.8.13", "O(1)", args_latency_event},
    {"reset", latencyResetCommand, -2, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, ACL_ADMIN | ACL_DANGEROUS, NOKEYS, "server", "Resets the latency data for one or more events.", "2.8.13", "O(1)", args_latency_events},
    {"histogram", latencyHistogramCommand, -2, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, ACL_ADMIN | ACL_DANGEROUS, NOKEYS, "server", "Returns the cumulative distribution of latencies of a subset or all commands.", "7.0.0", "O(N) where N is the number of commands with latency information being retrieved.", args_latency_commands},
    {"doctor", latencyDoctorCommand, 2, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, ACL_ADMIN | ACL_DANGEROUS, NOKEYS, "server", "Returns a human-readable latency analysis report.", "2.8.13", "O(1)"},
    {"help", latencyHelpCommand, 2, CMD_LOADING | CMD_STALE, ACL_SLOW, NOKEYS, "server", "Returns helpful text about the different subcommands.", "2.8.13", "O(1)"},
    CMD_END};

static qvCommand pubsub_subcommands[] = {
    {"channels", pubsubChannelsCommand, -2, CMD_PUBSUB | CMD_LOADING | CMD_STALE, ACL_PUBSUB, NOKEYS, "pubsub", "Returns the active channels.", "2.8.0", "O(N) where N is the number of active channels", args_pattern_opt},
    {"numsub", pubsubNumsubCommand, -2, CMD_PUBSUB | CMD_LOADING | CMD_STALE, ACL_PUBSUB, NOKEYS, "pubsub", "Returns a count of subscribers to channels.", "2.8.0", "O(N) for the NUMSUB subcommand, where N is the number of requested channels", args_channels_opt},
    {"numpat", pubsubNumpatCommand, 2, CMD_PUBSUB | CMD_LOADING | CMD_STALE, ACL_PUBSUB, NOKEYS, "pubsub", "Returns a count of unique pattern subscriptions.", "2.8.0", "O(1)"},
    CMD_END};

static qvCommand core_commands[] = {
    /* connection */
    {"ping", pingCommand, -1, CMD_FAST | CMD_SENTINEL | CMD_PUBSUB_CTX, ACL_FAST | ACL_CONNECTION, NOKEYS, "connection", "Returns the server's liveliness response.", "1.0.0", "O(1)", args_ping},
    {"echo", echoCommand, 2, CMD_LOADING | CMD_STALE | CMD_FAST, ACL_FAST | ACL_CONNECTION, NOKEYS, "connection", "Returns the given string.", "1.0.0", "O(1)", args_echo},
    {"hello", helloCommand, -1, CONN_FLAGS | CMD_FAST | CMD_NO_AUTH | CMD_SENTINEL | CMD_ALLOW_BUSY, ACL_FAST | ACL_CONNECTION, NOKEYS, "connection", "Handshakes with the server.", "6.0.0", "O(1)", args_hello},
    {"auth", authCommand, -2, CONN_FLAGS | CMD_FAST | CMD_NO_AUTH | CMD_SENTINEL | CMD_ALLOW_BUSY, ACL_FAST | ACL_CONNECTION, NOKEYS, "connection", "Authenticates the connection.", "1.0.0", "O(N) where N is the number of passwords defined for the user", args_auth},
    {"quit", quitCommand, -1, CONN_FLAGS | CMD_FAST | CMD_NO_AUTH | CMD_ALLOW_BUSY | CMD_PUBSUB_CTX | CMD_TX_CONTROL, ACL_FAST | ACL_CONNECTION, NOKEYS, "connection", "Closes the connection.", "1.0.0", "O(1)"},
    {"reset", resetCommand, 1, CONN_FLAGS | CMD_FAST | CMD_NO_AUTH | CMD_ALLOW_BUSY | CMD_PUBSUB_CTX | CMD_TX_CONTROL, ACL_FAST | ACL_CONNECTION, NOKEYS, "connection", "Resets the connection.", "6.2.0", "O(1)"},
    {"select", selectCommand, 2, CMD_LOADING | CMD_STALE | CMD_FAST | CMD_LOGGED_CONTEXT, ACL_FAST | ACL_CONNECTION, NOKEYS, "connection", "Changes the selected database.", "1.0.0", "O(1)", args_select},
    {"client", NULL, -2, CMD_SENTINEL, ACL_SLOW, NOKEYS, "connection", "A container for client connection commands.", "2.4.0", "Depends on subcommand.", NULL, client_subcommands},
    /* server */
    {"time", timeCommand, 1, CMD_LOADING | CMD_STALE | CMD_FAST, ACL_FAST, NOKEYS, "server", "Returns the server time.", "2.6.0", "O(1)"},
    {"dbsize", dbsizeCommand, 1, CMD_READONLY | CMD_FAST, ACL_KEYSPACE | ACL_READ | ACL_FAST, NOKEYS, "server", "Returns the number of keys in the database.", "1.0.0", "O(1)"},
    {"flushall", flushallCommand, -1, CMD_WRITE, ACL_KEYSPACE | ACL_WRITE | ACL_DANGEROUS, NOKEYS, "server", "Removes all keys from all databases.", "1.0.0", "O(N) where N is the total number of keys in all databases", args_flush},
    {"flushdb", flushdbCommand, -1, CMD_WRITE, ACL_KEYSPACE | ACL_WRITE | ACL_DANGEROUS, NOKEYS, "server", "Remove all keys from the current database.", "1.0.0", "O(N) where N is the number of keys in the selected database", args_flush},
    {"info", infoCommand, -1, CMD_LOADING | CMD_STALE | CMD_SENTINEL, ACL_DANGEROUS, NOKEYS, "server", "Returns information and statistics about the server.", "1.0.0", "O(1)", args_info},
    {"config", NULL, -2, 0, ACL_SLOW, NOKEYS, "server", "A container for server configuration commands.", "2.0.0", "Depends on subcommand.", NULL, config_subcommands},
    {"slowlog", NULL, -2, 0, ACL_SLOW, NOKEYS, "server", "A container for slow log commands.", "2.2.12", "Depends on subcommand.", NULL, slowlog_subcommands},
    {"command", commandCommand, -1, CMD_LOADING | CMD_STALE | CMD_SENTINEL, ACL_CONNECTION, NOKEYS, "server", "Returns detailed information about all commands.", "2.8.13", "O(N) where N is the total number of Redis commands", NULL, command_subcommands},
    {"memory", NULL, -2, 0, ACL_SLOW, NOKEYS, "server", "A container for memory diagnostics commands.", "4.0.0", "Depends on subcommand.", NULL, memory_subcommands},
    {"shutdown", shutdownCommand, -1, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_NO_MULTI | CMD_SENTINEL | CMD_ALLOW_BUSY, ACL_ADMIN | ACL_DANGEROUS, NOKEYS, "server", "Synchronously saves the database(s) to disk and shuts down the server.", "1.0.0", "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)", args_shutdown},
    {"latency", NULL, -2, 0, ACL_SLOW, NOKEYS, "server", "A container for latency diagnostics commands.", "2.8.13", "Depends on subcommand.", NULL, latency_subcommands},
    {"monitor", monitorCommand, 1, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_NO_MULTI, ACL_ADMIN | ACL_DANGEROUS, NOKEYS, "server", "Listens for all requests received by the server in real-time.", "1.0.0", "O(1)"},
    {"debug", debugCommand, -2, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_PROTECTED, ACL_ADMIN | ACL_DANGEROUS, NOKEYS, "server", "A container for debugging commands.", "1.0.0", "Depends on subcommand.", args_debug},
    /* generic keyspace */
    {"del", delCommand, -2, CMD_WRITE, ACL_KEYSPACE | ACL_WRITE, 1, -1, 1, "generic", "Deletes one or more keys.", "1.0.0", "O(N) where N is the number of keys that will be removed.", args_keys},
    {"unlink", unlinkCommand, -2, CMD_WRITE | CMD_FAST, ACL_KEYSPACE | ACL_WRITE | ACL_FAST, 1, -1, 1, "generic", "Asynchronously deletes one or more keys.", "4.0.0", "O(1) for each key removed regardless of its size.", args_keys},
    {"exists", existsCommand, -2, CMD_READONLY | CMD_FAST, ACL_KEYSPACE | ACL_READ | ACL_FAST, 1, -1, 1, "generic", "Determines whether one or more keys exist.", "1.0.0", "O(N) where N is the number of keys to check.", args_keys},
    {"type", typeCommand, 2, CMD_READONLY | CMD_FAST, ACL_KEYSPACE | ACL_READ | ACL_FAST, 1, 1, 1, "generic", "Determines the type of value stored at a key.", "1.0.0", "O(1)", args_key},
    {"keys", keysCommand, 2, CMD_READONLY, ACL_KEYSPACE | ACL_READ | ACL_DANGEROUS, NOKEYS, "generic", "Returns all key names that match a pattern.", "1.0.0", "O(N) with N being the number of keys in the database", args_pattern},
    {"scan", scanCommand, -2, CMD_READONLY, ACL_KEYSPACE | ACL_READ, NOKEYS, "generic", "Iterates over the key names in the database.", "2.8.0", "O(1) for every call. O(N) for a complete iteration.", args_scan},
    {"rename", renameCommand, 3, CMD_WRITE, ACL_KEYSPACE | ACL_WRITE, 1, 2, 1, "generic", "Renames a key and overwrites the destination.", "1.0.0", "O(1)", args_rename},
    {"renamenx", renamenxCommand, 3, CMD_WRITE | CMD_FAST, ACL_KEYSPACE | ACL_WRITE | ACL_FAST, 1, 2, 1, "generic", "Renames a key only when the target key name doesn't exist.", "1.0.0", "O(1)", args_rename},
    {"swapdb", swapdbCommand, 3, CMD_WRITE | CMD_FAST, ACL_KEYSPACE | ACL_WRITE | ACL_FAST | ACL_DANGEROUS, NOKEYS, "server", "Swaps two Redis databases.", "4.0.0", "O(N) where N is the count of clients watching or blocking on keys from both databases.", args_swapdb},
    {"move", moveCommand, 3, CMD_WRITE | CMD_FAST, ACL_KEYSPACE | ACL_WRITE | ACL_FAST, 1, 1, 1, "generic", "Moves a key to another database.", "1.0.0", "O(1)", args_move},
    {"randomkey", randomkeyCommand, 1, CMD_READONLY, ACL_KEYSPACE | ACL_READ, NOKEYS, "generic", "Returns a random key name from the database.", "1.0.0", "O(1)"},
    /* transactions */
    {"multi", multiCommand, 1, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_ALLOW_BUSY | CMD_TX_CONTROL, ACL_FAST | ACL_TRANSACTION, NOKEYS, "transactions", "Starts a transaction.", "1.2.0", "O(1)"},
    {"exec", execCommand, 1, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_SKIP_SLOWLOG | CMD_TX_CONTROL, ACL_SLOW | ACL_TRANSACTION, NOKEYS, "transactions", "Executes all commands in a transaction.", "1.2.0", "Depends on commands in the transaction"},
    {"discard", discardCommand, 1, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_ALLOW_BUSY | CMD_TX_CONTROL, ACL_FAST | ACL_TRANSACTION, NOKEYS, "transactions", "Discards a transaction.", "2.0.0", "O(N), when N is the number of queued commands"},
    {"watch", watchCommand, -2, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_ALLOW_BUSY | CMD_TX_CONTROL, ACL_FAST | ACL_TRANSACTION, 1, -1, 1, "transactions", "Monitors changes to keys to determine the execution of a transaction.", "2.2.0", "O(1) for every key.", args_keys},
    {"unwatch", unwatchCommand, 1, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_ALLOW_BUSY, ACL_FAST | ACL_TRANSACTION, NOKEYS, "transactions", "Forgets about watched keys of a transaction.", "2.2.0", "O(1)"},
    /* pub/sub */
    {"subscribe", subscribeCommand, -2, CMD_PUBSUB | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_SENTINEL | CMD_PUBSUB_CTX, ACL_PUBSUB | ACL_SLOW, NOKEYS, "pubsub", "Listens for messages published to channels.", "2.0.0", "O(N) where N is the number of channels to subscribe to.", args_channels},
    {"unsubscribe", unsubscribeCommand, -1, CMD_PUBSUB | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_SENTINEL | CMD_PUBSUB_CTX, ACL_PUBSUB | ACL_SLOW, NOKEYS, "pubsub", "Stops listening to messages posted to channels.", "2.0.0", "O(N) where N is the number of channels to unsubscribe.", args_channels_opt},
    {"psubscribe", psubscribeCommand, -2, CMD_PUBSUB | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_SENTINEL | CMD_PUBSUB_CTX, ACL_PUBSUB | ACL_SLOW, NOKEYS, "pubsub", "Listens for messages published to channels that match one or more patterns.", "2.0.0", "O(N) where N is the number of patterns to subscribe to.", args_patterns},
    {"punsubscribe", punsubscribeCommand, -1, CMD_PUBSUB | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_SENTINEL | CMD_PUBSUB_CTX, ACL_PUBSUB | ACL_SLOW, NOKEYS, "pubsub", "Stops listening to messages published to channels that match one or more patterns.", "2.0.0", "O(N) where N is the number of patterns to unsubscribe.", args_patterns_opt},
    {"publish", publishCommand, 3, CMD_PUBSUB | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_SENTINEL, ACL_PUBSUB | ACL_FAST, NOKEYS, "pubsub", "Posts a message to a channel.", "2.0.0", "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client).", args_publish},
    {"pubsub", NULL, -2, 0, ACL_SLOW, NOKEYS, "pubsub", "A container for Pub/Sub commands.", "2.8.0", "Depends on subcommand.", NULL, pubsub_subcommands},
    CMD_END};
/* clang-format on */

/* ---- registry ---- */

#define MAX_TABLES 16
static qvCommand *tables[MAX_TABLES];
static int table_count;
static dict *commands_dict; /* lower-case name -> qvCommand (top level only) */

void commandRegisterTable(qvCommand *table) {
    if (table_count < MAX_TABLES) tables[table_count++] = table;
}

static void lowerInto(char *dst, size_t cap, const char *s, size_t len) {
    if (len >= cap) len = cap - 1;
    for (size_t i = 0; i < len; i++) dst[i] = (char)tolower((unsigned char)s[i]);
    dst[len] = '\0';
}

static int command_ids; /* ids handed out by commandTableInit */

int commandCount(void) {
    return command_ids;
}

void commandTableInit(void) {
    commandRegisterTable(core_commands);
    commands_dict = dictCreate(NULL);
    command_ids = 0;
    for (int t = 0; t < table_count; t++) {
        for (qvCommand *cmd = tables[t]; cmd->name; cmd++) {
            cmd->id = command_ids++;
            snprintf(cmd->fullname, sizeof(cmd->fullname), "%s", cmd->name);
            /* Redis's vector-set commands are module commands, registered in upper case, and a
             * module command reports its name as registered: the arity error says 'VADD',
             * COMMAND INFO/DOCS/LIST and INFO commandstats say VADD. Lookup stays
             * case-insensitive (the dict key is the lower-case name). */
            if (cmd->group && !strcmp(cmd->group, "module"))
                for (char *p = cmd->fullname; *p; p++) *p = (char)toupper((unsigned char)*p);
            dictAdd(commands_dict, cmd->name, strlen(cmd->name), cmd);
            if (!cmd->subcommands) continue;
            for (qvCommand *sub = cmd->subcommands; sub->name; sub++) {
                sub->id = command_ids++;
                sub->parent = cmd;
                snprintf(sub->fullname, sizeof(sub->fullname), "%s|%s", cmd->name, sub->name);
            }
        }
    }
}

static qvCommand *findSubcommand(qvCommand *cmd, const char *name, size_t len) {
    for (qvCommand *sub = cmd->subcommands; sub && sub->name; sub++)
        if (strlen(sub->name) == len && strncasecmp(sub->name, name, len) == 0) return sub;
    return NULL;
}

qvCommand *lookupCommand(const char *const *argv, const size_t *argvlen, int argc,
                         int *unknown_sub) {
    char name[64];
    *unknown_sub = 0;
    if (argvlen[0] >= sizeof(name)) return NULL;
    lowerInto(name, sizeof(name), argv[0], argvlen[0]);
    qvCommand *cmd = dictFetchValue(commands_dict, name, argvlen[0]);
    if (!cmd || !cmd->subcommands) return cmd;
    if (argc == 1) return cmd; /* a bare container fails its arity check (or runs, for COMMAND) */
    qvCommand *sub = findSubcommand(cmd, argv[1], argvlen[1]);
    if (sub) return sub;
    if (cmd->proc) return cmd; /* e.g. COMMAND has its own handler too */
    *unknown_sub = 1;
    return cmd;
}

qvCommand *lookupCommandByName(const char *fullname) {
    const char *bar = strchr(fullname, '|');
    size_t len = bar ? (size_t)(bar - fullname) : strlen(fullname);
    char name[64];
    if (len >= sizeof(name)) return NULL;
    lowerInto(name, sizeof(name), fullname, len);
    qvCommand *cmd = dictFetchValue(commands_dict, name, len);
    if (!cmd || !bar) return cmd;
    return findSubcommand(cmd, bar + 1, strlen(bar + 1));
}

void commandForEach(void (*fn)(qvCommand *cmd, void *priv), void *priv) {
    for (int t = 0; t < table_count; t++) {
        for (qvCommand *cmd = tables[t]; cmd->name; cmd++) {
            fn(cmd, priv);
            for (qvCommand *sub = cmd->subcommands; sub && sub->name; sub++) fn(sub, priv);
        }
    }
}

static void resetOne(qvCommand *cmd, void *priv) {
    (void)priv;
    cmd->calls = cmd->usec = cmd->rejected_calls = cmd->failed_calls = 0;
}

void commandResetStats(void) {
    commandForEach(resetOne, NULL);
}

static long topLevelCount(void) {
    long n = 0;
    for (int t = 0; t < table_count; t++)
        for (qvCommand *cmd = tables[t]; cmd->name; cmd++) n++;
    return n;
}

/* ---- COMMAND output ---- */

static const struct {
    uint64_t flag;
    const char *name;
} flag_names[] = {
    {CMD_WRITE, "write"},
    {CMD_READONLY, "readonly"},
    {CMD_DENYOOM, "denyoom"},
    {CMD_ADMIN, "admin"},
    {CMD_PUBSUB, "pubsub"},
    {CMD_NOSCRIPT, "noscript"},
    {CMD_LOADING, "loading"},
    {CMD_STALE, "stale"},
    {CMD_SKIP_MONITOR, "skip_monitor"},
    {CMD_SKIP_SLOWLOG, "skip_slowlog"},
    {CMD_FAST, "fast"},
    {CMD_NO_AUTH, "no_auth"},
    {CMD_SENTINEL, "sentinel"},
    {CMD_NO_MULTI, "no_multi"},
    {CMD_ALLOW_BUSY, "allow_busy"},
    {CMD_PROTECTED, "protected"},
};

/* In the order of Redis's ACL CAT, then Quiver's own. */
static const struct {
    uint64_t flag;
    const char *name;
} acl_names[] = {
    {ACL_KEYSPACE, "@keyspace"},
    {ACL_READ, "@read"},
    {ACL_WRITE, "@write"},
    {ACL_SET, "@set"},
    {ACL_SORTEDSET, "@sortedset"},
    {ACL_LIST, "@list"},
    {ACL_HASH, "@hash"},
    {ACL_STRING, "@string"},
    {ACL_BITMAP, "@bitmap"},
    {ACL_HYPERLOGLOG, "@hyperloglog"},
    {ACL_GEO, "@geo"},
    {ACL_STREAM, "@stream"},
    {ACL_PUBSUB, "@pubsub"},
    {ACL_ADMIN, "@admin"},
    {ACL_FAST, "@fast"},
    {ACL_SLOW, "@slow"},
    {ACL_BLOCKING, "@blocking"},
    {ACL_DANGEROUS, "@dangerous"},
    {ACL_CONNECTION, "@connection"},
    {ACL_TRANSACTION, "@transaction"},
    {ACL_SCRIPTING, "@scripting"},
    {ACL_VECTOR, "@vector"},
};

/* Redis derives some categories from the flags; so do we, so rows stay short. */
static uint64_t effectiveAcl(const qvCommand *cmd) {
    uint64_t acl = cmd->acl;
    if (cmd->flags & CMD_WRITE) acl |= ACL_WRITE;
    if (cmd->flags & CMD_READONLY) acl |= ACL_READ;
    if (cmd->flags & CMD_ADMIN) acl |= ACL_ADMIN | ACL_DANGEROUS;
    if (cmd->flags & CMD_PUBSUB) acl |= ACL_PUBSUB;
    if (cmd->flags & CMD_FAST) acl |= ACL_FAST;
    if (!(acl & ACL_FAST)) acl |= ACL_SLOW;
    if (cmd->group && !strcmp(cmd->group, "module")) acl |= ACL_VECTOR;
    return acl;
}

uint64_t commandAclCategories(const qvCommand *cmd) {
    return effectiveAcl(cmd);
}

uint64_t commandAclCategoryByName(const char *name) {
    for (size_t i = 0; i < sizeof(acl_names) / sizeof(acl_names[0]); i++)
        if (!strcasecmp(acl_names[i].name + 1, name)) return acl_names[i].flag;
    return 0;
}

const char *commandAclCategoryAt(int i, uint64_t *flag) {
    if (i < 0 || (size_t)i >= sizeof(acl_names) / sizeof(acl_names[0])) return NULL;
    *flag = acl_names[i].flag;
    return acl_names[i].name + 1;
}

static void addReplyCommandInfo(qvClient *c, const qvCommand *cmd) {
    int nflags = 0;
    for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++)
        if (cmd->flags & flag_names[i].flag) nflags++;
    uint64_t acl = effectiveAcl(cmd);
    int nacl = 0;
    for (size_t i = 0; i < sizeof(acl_names) / sizeof(acl_names[0]); i++)
        if (acl & acl_names[i].flag) nacl++;

    addReplyArrayLen(c, 10);
    addReplyBulkCString(c, cmd->fullname);
    addReplyLongLong(c, cmd->arity);
    addReplySetLen(c, nflags);
    for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++)
        if (cmd->flags & flag_names[i].flag) addReplyStatus(c, flag_names[i].name);
    addReplyLongLong(c, cmd->first_key);
    addReplyLongLong(c, cmd->last_key);
    addReplyLongLong(c, cmd->key_step);
    addReplySetLen(c, nacl);
    for (size_t i = 0; i < sizeof(acl_names) / sizeof(acl_names[0]); i++)
        if (acl & acl_names[i].flag) addReplyStatus(c, acl_names[i].name);
    addReplyArrayLen(c, 0); /* tips */
    /* Key specs, derived from first/last/step. */
    if (cmd->first_key > 0) {
        addReplyArrayLen(c, 1);
        addReplyMapLen(c, 3);
        addReplyBulkCString(c, "flags");
        addReplyArrayLen(c, 1);
        addReplyStatus(c, (cmd->flags & CMD_WRITE) ? "RW" : "RO");
        addReplyBulkCString(c, "begin_search");
        addReplyMapLen(c, 2);
        addReplyBulkCString(c, "type");
        addReplyBulkCString(c, "index");
        addReplyBulkCString(c, "spec");
        addReplyMapLen(c, 1);
        addReplyBulkCString(c, "index");
        addReplyLongLong(c, cmd->first_key);
        addReplyBulkCString(c, "find_keys");
        addReplyMapLen(c, 2);
        addReplyBulkCString(c, "type");
        addReplyBulkCString(c, "range");
        addReplyBulkCString(c, "spec");
        addReplyMapLen(c, 3);
        addReplyBulkCString(c, "lastkey");
        addReplyLongLong(c, cmd->last_key < 0 ? -1 : cmd->last_key - cmd->first_key);
        addReplyBulkCString(c, "keystep");
        addReplyLongLong(c, cmd->key_step);
        addReplyBulkCString(c, "limit");
        addReplyLongLong(c, 0);
    } else {
        addReplyArrayLen(c, 0);
    }
    long nsub = 0;
    for (const qvCommand *sub = cmd->subcommands; sub && sub->name; sub++) nsub++;
    addReplyArrayLen(c, nsub);
    for (const qvCommand *sub = cmd->subcommands; sub && sub->name; sub++)
        addReplyCommandInfo(c, sub);
}

static const char *argTypeName(qvArgType t) {
    switch (t) {
        case ARG_STRING: return "string";
        case ARG_INTEGER: return "integer";
        case ARG_DOUBLE: return "double";
        case ARG_KEY: return "key";
        case ARG_PATTERN: return "pattern";
        case ARG_UNIX_TIME: return "unix-time";
        case ARG_PURE_TOKEN: return "pure-token";
        case ARG_ONEOF: return "oneof";
        case ARG_BLOCK: return "block";
    }
    return "string";
}

/* redis-cli asserts on these types: name/type/token bulk strings, flags an array of statuses. */
static void addReplyArgDocs(qvClient *c, const qvCommandArg *args) {
    long n = 0;
    for (const qvCommandArg *a = args; a && a->name; a++) n++;
    addReplyArrayLen(c, n);
    for (const qvCommandArg *a = args; a && a->name; a++) {
        int fields =
            2 + (a->token != NULL) + (a->flags != 0) + (a->subargs != NULL) + (a->type == ARG_KEY);
        addReplyMapLen(c, fields);
        addReplyBulkCString(c, "name");
        addReplyBulkCString(c, a->name);
        addReplyBulkCString(c, "type");
        addReplyBulkCString(c, argTypeName(a->type));
        if (a->type == ARG_KEY) {
            addReplyBulkCString(c, "key_spec_index");
            addReplyLongLong(c, 0);
        }
        if (a->token) {
            addReplyBulkCString(c, "token");
            addReplyBulkCString(c, a->token);
        }
        if (a->flags) {
            int nf = !!(a->flags & ARGF_OPTIONAL) + !!(a->flags & ARGF_MULTIPLE) +
                     !!(a->flags & ARGF_MULTIPLE_TOKEN);
            addReplyBulkCString(c, "flags");
            addReplyArrayLen(c, nf);
            if (a->flags & ARGF_OPTIONAL) addReplyStatus(c, "optional");
            if (a->flags & ARGF_MULTIPLE) addReplyStatus(c, "multiple");
            if (a->flags & ARGF_MULTIPLE_TOKEN) addReplyStatus(c, "multiple_token");
        }
        if (a->subargs) {
            addReplyBulkCString(c, "arguments");
            addReplyArgDocs(c, a->subargs);
        }
    }
}

static void addReplyCommandDocs(qvClient *c, const qvCommand *cmd) {
    int nsub = 0;
    for (const qvCommand *sub = cmd->subcommands; sub && sub->name; sub++) nsub++;
    int fields = 4 + (cmd->args != NULL) + (nsub > 0);
    addReplyMapLen(c, fields);
    addReplyBulkCString(c, "summary");
    addReplyBulkCString(c, cmd->summary ? cmd->summary : "");
    addReplyBulkCString(c, "since");
    addReplyBulkCString(c, cmd->since ? cmd->since : "1.0.0");
    addReplyBulkCString(c, "group");
    addReplyBulkCString(c, cmd->group ? cmd->group : "generic");
    addReplyBulkCString(c, "complexity");
    addReplyBulkCString(c, cmd->complexity ? cmd->complexity : "O(1)");
    if (cmd->args) {
        addReplyBulkCString(c, "arguments");
        addReplyArgDocs(c, cmd->args);
    }
    if (nsub) {
        addReplyBulkCString(c, "subcommands");
        addReplyMapLen(c, nsub);
        for (const qvCommand *sub = cmd->subcommands; sub && sub->name; sub++) {
            addReplyBulkCString(c, sub->fullname);
            addReplyCommandDocs(c, sub);
        }
    }
}

void commandCommand(qvClient *c) {
    if (c->argc != 1) {
        addReplyErrorFormat(c, "unknown subcommand '%.128s'. Try COMMAND HELP.", c->argv[1]);
        return;
    }
    addReplyArrayLen(c, topLevelCount());
    for (int t = 0; t < table_count; t++)
        for (qvCommand *cmd = tables[t]; cmd->name; cmd++) addReplyCommandInfo(c, cmd);
}

void commandCountCommand(qvClient *c) {
    addReplyLongLong(c, topLevelCount());
}

void commandInfoCommand(qvClient *c) {
    addReplyArrayLen(c, c->argc == 2 ? topLevelCount() : c->argc - 2);
    if (c->argc == 2) {
        for (int t = 0; t < table_count; t++)
            for (qvCommand *cmd = tables[t]; cmd->name; cmd++) addReplyCommandInfo(c, cmd);
        return;
    }
    for (int i = 2; i < c->argc; i++) {
        qvCommand *cmd = lookupCommandByName(c->argv[i]);
        if (cmd)
            addReplyCommandInfo(c, cmd);
        else
            addReplyNullArray(c);
    }
}

void commandDocsCommand(qvClient *c) {
    if (c->argc == 2) {
        addReplyMapLen(c, topLevelCount());
        for (int t = 0; t < table_count; t++) {
            for (qvCommand *cmd = tables[t]; cmd->name; cmd++) {
                addReplyBulkCString(c, cmd->fullname);
                addReplyCommandDocs(c, cmd);
            }
        }
        return;
    }
    /* Unknown names are left out, as in Redis. */
    int found = 0;
    for (int i = 2; i < c->argc; i++)
        if (lookupCommandByName(c->argv[i])) found++;
    addReplyMapLen(c, found);
    for (int i = 2; i < c->argc; i++) {
        qvCommand *cmd = lookupCommandByName(c->argv[i]);
        if (!cmd) continue;
        addReplyBulkCString(c, cmd->fullname);
        addReplyCommandDocs(c, cmd);
    }
}

static int listOne(qvClient *c, const qvCommand *cmd, const char *acl, const char *pattern) {
    if (pattern && !stringmatch(pattern, cmd->fullname, 1)) return 0;
    if (acl) {
        uint64_t a = effectiveAcl(cmd);
        int match = 0;
        for (size_t i = 0; i < sizeof(acl_names) / sizeof(acl_names[0]); i++)
            if ((a & acl_names[i].flag) && !strcasecmp(acl_names[i].name + 1, acl)) match = 1;
        if (!match) return 0;
    }
    addReplyBulkCString(c, cmd->fullname);
    return 1;
}

/* COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern] */
void commandListCommand(qvClient *c) {
    const char *acl = NULL, *pattern = NULL;
    int module_filter = 0;
    if (c->argc == 5 && !strcasecmp(c->argv[2], "filterby")) {
        if (!strcasecmp(c->argv[3], "module"))
            module_filter = 1;
        else if (!strcasecmp(c->argv[3], "aclcat"))
            acl = c->argv[4];
        else if (!strcasecmp(c->argv[3], "pattern"))
            pattern = c->argv[4];
        else {
            addReplyErrorSyntax(c);
            return;
        }
    } else if (c->argc != 2) {
        addReplyErrorSyntax(c);
        return;
    }
    void *node = addReplyDeferredLen(c);
    long n = 0;
    if (!module_filter) { /* no modules: FILTERBY MODULE matches nothing */
        for (int t = 0; t < table_count; t++) {
            for (qvCommand *cmd = tables[t]; cmd->name; cmd++) {
                n += listOne(c, cmd, acl, pattern);
                for (qvCommand *sub = cmd->subcommands; sub && sub->name; sub++)
                    n += listOne(c, sub, acl, pattern);
            }
        }
    }
    setDeferredArrayLen(c, node, n);
}

void commandHelpCommand(qvClient *c) {
    static const char *const help[] = {
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)",
        "    Return details about all commands.",
        "COUNT",
        "    Return the total number of commands in this server.",
        "LIST",
        "    Return a list of all commands in this server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "HELP",
        "    Print this help.",
        NULL,
    };
    addReplyHelp(c, help);
}
