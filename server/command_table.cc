// The command table: every command stockd serves, declared once. Dispatch checks arity, auth and
// MULTI rules from here; COMMAND INFO/DOCS/COUNT/LIST and INFO commandstats are generated from
// here. To find where a command lives: its handler's name is below, and families.h says which
// file in server/commands/ defines it.
#include <absl/container/flat_hash_map.h>

#include <algorithm>
#include <cctype>

#include "server/command.h"
#include "server/commands/families.h"

namespace stockd::server {
namespace {

constexpr uint32_t W = kWrite, R = kReadOnly, F = kFast, A = kAdmin, NA = kNoAuth, NS = kNoScript,
                   LD = kLoading, ST = kStale, OOM = kDenyOom, NM = kNoMulti, CN = kConnection,
                   GL = kGlobal, TX = kTxControl, SB = kSubscribedOk, BL = kBlocking;

// clang-format off
CommandSpec client_subcommands[] = {
  {"id", 2, NS|LD|ST|CN, 0, 0, 0, CmdClientId, "connection", "Returns the unique client ID of the connection.", "5.0.0", "O(1)", ""},
  {"setname", 3, NS|LD|ST|CN, 0, 0, 0, CmdClientSetName, "connection", "Sets the connection name.", "2.6.9", "O(1)", "connection-name"},
  {"getname", 2, NS|LD|ST|CN, 0, 0, 0, CmdClientGetName, "connection", "Returns the name of the connection.", "2.6.9", "O(1)", ""},
  {"info", 2, NS|LD|ST|CN, 0, 0, 0, CmdClientInfo, "connection", "Returns information about the connection.", "6.2.0", "O(1)", ""},
  {"list", -2, A|NS|LD|ST|CN, 0, 0, 0, CmdClientList, "connection", "Lists open connections.", "2.4.0", "O(N) where N is the number of client connections", "[TYPE NORMAL|MASTER|REPLICA|PUBSUB] [ID client-id ...]"},
  {"kill", -3, A|NS|LD|ST|CN, 0, 0, 0, CmdClientKill, "connection", "Terminates open connections.", "2.4.0", "O(N) where N is the number of client connections", "[ID client-id] [TYPE NORMAL|MASTER|SLAVE|REPLICA|PUBSUB] [USER username] [ADDR ip:port] [LADDR ip:port] [SKIPME YES|NO]"},
  {"setinfo", 4, NS|LD|ST|CN, 0, 0, 0, CmdClientSetInfo, "connection", "Sets information specific to the client or connection.", "7.2.0", "O(1)", "LIB-NAME libname|LIB-VER libver"},
  {"help", 2, LD|ST|CN, 0, 0, 0, CmdClientHelp, "connection", "Returns helpful text about the different subcommands.", "5.0.0", "O(1)", ""},
};

CommandSpec config_subcommands[] = {
  {"get", -3, A|NS|LD|ST|CN, 0, 0, 0, CmdConfigGet, "server", "Returns the effective values of configuration parameters.", "2.0.0", "O(N) when N is the number of configuration parameters provided", "parameter ..."},
  {"set", -4, A|NS|LD|ST|CN, 0, 0, 0, CmdConfigSet, "server", "Sets configuration parameters in-flight.", "2.0.0", "O(N) when N is the number of configuration parameters provided", "(parameter value) ..."},
  {"resetstat", 2, A|NS|LD|ST|GL, 0, 0, 0, CmdConfigResetStat, "server", "Resets the server's statistics.", "2.0.0", "O(1)", ""},
  {"help", 2, LD|ST|CN, 0, 0, 0, CmdConfigHelp, "server", "Returns helpful text about the different subcommands.", "5.0.0", "O(1)", ""},
};

// DEBUG: only the read-only digests (replicas and restarts are compared with them); Redis's other
// DEBUG subcommands (crash, reload, sleep, object internals ...) are not offered.
CommandSpec debug_subcommands[] = {
  {"digest", 2, A|LD|R|GL, 0, 0, 0, CmdDebugDigest, "server", "Returns a hex signature of the data in every database.", "1.0.0", "O(N) where N is the number of keys and their elements", ""},
  {"digest-value", -3, A|LD|R|GL, 0, 0, 0, CmdDebugDigestValue, "server", "Returns a hex signature of each key's value.", "1.0.0", "O(N) where N is the number of elements of the keys' values", "key [key ...]"},
  {"help", 2, LD|ST|CN, 0, 0, 0, CmdDebugHelp, "server", "Returns helpful text about the different subcommands.", "1.0.0", "O(1)", ""},
};

CommandSpec command_subcommands[] = {
  {"count", 2, LD|ST|CN, 0, 0, 0, CmdCommandCount, "server", "Returns a count of commands.", "2.8.13", "O(1)", ""},
  {"info", -2, LD|ST|CN, 0, 0, 0, CmdCommandInfo, "server", "Returns information about one, multiple or all commands.", "2.8.13", "O(N) where N is the number of commands to look up", "[command-name ...]"},
  {"docs", -2, LD|ST|CN, 0, 0, 0, CmdCommandDocs, "server", "Returns documentary information about one, multiple or all commands.", "7.0.0", "O(N) where N is the number of commands to look up", "[command-name ...]"},
  {"list", -2, LD|ST|CN, 0, 0, 0, CmdCommandList, "server", "Returns a list of command names.", "7.0.0", "O(N) where N is the total number of Redis commands", "[FILTERBY MODULE module-name|ACLCAT category|PATTERN pattern]"},
  {"help", 2, LD|ST|CN, 0, 0, 0, CmdCommandHelp, "server", "Returns helpful text about the different subcommands.", "5.0.0", "O(1)", ""},
};

CommandSpec object_subcommands[] = {
  {"encoding", 3, R, 2, 2, 1, CmdObjectEncoding, "generic", "Returns the internal encoding of a Redis object.", "2.2.3", "O(1)", "key"},
  {"freq", 3, R, 2, 2, 1, CmdObjectFreq, "generic", "Returns the logarithmic access frequency counter of a Redis object.", "4.0.0", "O(1)", "key"},
  {"idletime", 3, R, 2, 2, 1, CmdObjectIdleTime, "generic", "Returns the time since the last access to a Redis object.", "2.2.3", "O(1)", "key"},
  {"refcount", 3, R, 2, 2, 1, CmdObjectRefCount, "generic", "Returns the reference count of a value of a key.", "2.2.3", "O(1)", "key"},
  {"help", 2, LD|ST|CN, 0, 0, 0, CmdObjectHelp, "generic", "Returns helpful text about the different subcommands.", "6.2.0", "O(1)", ""},
};

CommandSpec memory_subcommands[] = {
  {"usage", -3, R, 2, 2, 1, CmdMemoryUsage, "server", "Estimates the memory usage of a key.", "4.0.0", "O(N) where N is the number of samples.", "key [SAMPLES count]"},
  {"help", 2, LD|ST|CN, 0, 0, 0, CmdMemoryHelp, "server", "Returns helpful text about the different subcommands.", "4.0.0", "O(1)", ""},
};

CommandSpec pubsub_subcommands[] = {
  {"channels", -2, LD|ST|CN, 0, 0, 0, CmdPubSubChannels, "pubsub", "Returns the active channels.", "2.8.0", "O(N) where N is the number of active channels, and assuming constant time pattern matching (relatively short channels and patterns)", "[pattern]"},
  {"numsub", -2, LD|ST|CN, 0, 0, 0, CmdPubSubNumSub, "pubsub", "Returns a count of subscribers to channels.", "2.8.0", "O(N) for the NUMSUB subcommand, where N is the number of requested channels", "[channel ...]"},
  {"numpat", 2, LD|ST|CN, 0, 0, 0, CmdPubSubNumPat, "pubsub", "Returns a count of unique pattern subscriptions.", "2.8.0", "O(1)", ""},
  {"help", 2, LD|ST|CN, 0, 0, 0, CmdPubSubHelp, "pubsub", "Returns helpful text about the different subcommands.", "6.2.0", "O(1)", ""},
};

CommandSpec commands[] = {
  // connection
  {"ping", -1, F|CN|SB, 0, 0, 0, CmdPing, "connection", "Returns the server's liveliness response.", "1.0.0", "O(1)", "[message]"},
  {"echo", 2, F|CN, 0, 0, 0, CmdEcho, "connection", "Returns the given string.", "1.0.0", "O(1)", "message"},
  {"hello", -1, NS|LD|ST|F|NA|CN, 0, 0, 0, CmdHello, "connection", "Handshakes with the server.", "6.0.0", "O(1)", "[protover [AUTH username password] [SETNAME clientname]]"},
  {"auth", -2, NS|LD|ST|F|NA|CN, 0, 0, 0, CmdAuth, "connection", "Authenticates the connection.", "1.0.0", "O(N) where N is the number of passwords defined for the user", "[username] password"},
  {"select", 2, LD|ST|F|CN, 0, 0, 0, CmdSelect, "connection", "Changes the selected database.", "1.0.0", "O(1)", "index"},
  {"quit", -1, A|NS|LD|ST|F|NA|CN|TX|SB, 0, 0, 0, CmdQuit, "connection", "Closes the connection.", "1.0.0", "O(1)", ""},
  {"reset", 1, NS|LD|ST|F|NA|CN|TX|SB, 0, 0, 0, CmdReset, "connection", "Resets the connection.", "6.2.0", "O(1)", ""},
  {"client", -2, 0, 0, 0, 0, nullptr, "connection", "A container for client connection commands.", "2.4.0", "Depends on subcommand.", "", client_subcommands},
  // server
  {"info", -1, LD|ST|GL, 0, 0, 0, CmdInfo, "server", "Returns information and statistics about the server.", "1.0.0", "O(1)", "[section ...]"},
  {"dbsize", 1, R|F|GL, 0, 0, 0, CmdDbSize, "server", "Returns the number of keys in the database.", "1.0.0", "O(1)", ""},
  {"flushdb", -1, W|GL, 0, 0, 0, CmdFlushDb, "server", "Removes all keys from the current database.", "1.0.0", "O(N) where N is the number of keys in the selected database", "[ASYNC|SYNC]"},
  {"flushall", -1, W|GL, 0, 0, 0, CmdFlushAll, "server", "Removes all keys from all databases.", "1.0.0", "O(N) where N is the total number of keys in all databases", "[ASYNC|SYNC]"},
  {"save", 1, A|NS|NM|GL, 0, 0, 0, CmdSave, "server", "Synchronously saves the database(s) to disk.", "1.0.0", "O(N) where N is the total number of keys in all databases", ""},
  {"bgsave", -1, A|NS|NM|GL, 0, 0, 0, CmdBgSave, "server", "Asynchronously saves the database(s) to disk.", "1.0.0", "O(1)", "[SCHEDULE]"},
  {"bgrewriteaof", 1, A|NS|NM|GL, 0, 0, 0, CmdBgRewriteAof, "server", "Asynchronously rewrites the append-only file to disk.", "1.0.0", "O(1)", ""},
  {"lastsave", 1, LD|ST|F|CN, 0, 0, 0, CmdLastSave, "server", "Returns the Unix timestamp of the last successful save to disk.", "1.0.0", "O(1)", ""},
  {"time", 1, LD|ST|F|CN, 0, 0, 0, CmdTime, "server", "Returns the server time.", "2.6.0", "O(1)", ""},
  {"config", -2, 0, 0, 0, 0, nullptr, "server", "A container for server configuration commands.", "2.0.0", "Depends on subcommand.", "", config_subcommands},
  {"debug", -2, 0, 0, 0, 0, nullptr, "server", "A container for debugging commands.", "1.0.0", "Depends on subcommand.", "", debug_subcommands},
  {"shutdown", -1, A|NS|LD|ST|NM|CN, 0, 0, 0, CmdShutdown, "server", "Synchronously saves the database(s) to disk and shuts down the server.", "1.0.0", "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)", "[NOSAVE|SAVE] [NOW] [FORCE] [ABORT]"},
  // replication (docs/replication.md)
  {"replicaof", 3, A|NS|ST|GL, 0, 0, 0, CmdReplicaOf, "server", "Configures a server as replica of another, or promotes it to a master.", "5.0.0", "O(1)", "host port"},
  {"slaveof", 3, A|NS|ST|GL, 0, 0, 0, CmdReplicaOf, "server", "Sets a Redis server as a replica of another, or promotes it to being a master.", "1.0.0", "O(1)", "host port"},
  {"failover", -1, A|NS|ST|CN, 0, 0, 0, CmdFailover, "server", "Starts a coordinated failover from a server to one of its replicas.", "6.2.0", "O(1)", "[TO host port [FORCE]] [ABORT] [TIMEOUT milliseconds]"},
  {"role", 1, NS|LD|ST|F|CN, 0, 0, 0, CmdRole, "server", "Returns the replication role.", "2.8.12", "O(1)", ""},
  {"wait", 3, NS|CN, 0, 0, 0, CmdWait, "generic", "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.", "3.0.0", "O(1)", "numreplicas timeout"},
  {"replconf", -1, A|NS|LD|ST|CN, 0, 0, 0, CmdReplConf, "server", "An internal command for configuring the replication stream.", "3.0.0", "O(1)", "[option value ...]"},
  {"replsync", 4, A|NS|NM|CN, 0, 0, 0, CmdReplSync, "server", "A standby's handshake: asks for the log after its last LSN (stockd's replication protocol).", "0.1.0", "O(1)", "listening-port last-lsn epoch-history"},
  {"command", -1, LD|ST|CN, 0, 0, 0, CmdCommand, "server", "Returns detailed information about all commands.", "2.8.13", "O(N) where N is the total number of commands", "", command_subcommands},
  // keys
  {"del", -2, W, 1, -1, 1, CmdDel, "generic", "Deletes one or more keys.", "1.0.0", "O(N) where N is the number of keys that will be removed.", "key ..."},
  {"unlink", -2, W|F, 1, -1, 1, CmdDel, "generic", "Asynchronously deletes one or more keys.", "4.0.0", "O(1) for each key removed regardless of its size.", "key ..."},
  {"exists", -2, R|F, 1, -1, 1, CmdExists, "generic", "Determines whether one or more keys exist.", "1.0.0", "O(N) where N is the number of keys to check.", "key ..."},
  {"type", 2, R|F, 1, 1, 1, CmdType, "generic", "Determines the type of value stored at a key.", "1.0.0", "O(1)", "key"},
  {"rename", 3, W, 1, 2, 1, CmdRename, "generic", "Renames a key and overwrites the destination.", "1.0.0", "O(1)", "key newkey"},
  {"renamenx", 3, W|F, 1, 2, 1, CmdRenameNx, "generic", "Renames a key only when the target key name doesn't exist.", "1.0.0", "O(1)", "key newkey"},
  {"randomkey", 1, R|GL, 0, 0, 0, CmdRandomKey, "generic", "Returns a random key name from the database.", "1.0.0", "O(1)", ""},
  {"keys", 2, R|GL, 0, 0, 0, CmdKeys, "generic", "Returns all key names that match a pattern.", "1.0.0", "O(N) with N being the number of keys in the database", "pattern"},
  {"scan", -2, R|GL, 0, 0, 0, CmdScan, "generic", "Iterates over the key names in the database.", "2.8.0", "O(1) for every call. O(N) for a complete iteration.", "cursor [MATCH pattern] [COUNT count] [TYPE type]"},
  {"expire", -3, W|F, 1, 1, 1, CmdExpire, "generic", "Sets the expiration time of a key in seconds.", "1.0.0", "O(1)", "key seconds [NX|XX|GT|LT]"},
  {"pexpire", -3, W|F, 1, 1, 1, CmdExpire, "generic", "Sets the expiration time of a key in milliseconds.", "2.6.0", "O(1)", "key milliseconds [NX|XX|GT|LT]"},
  {"expireat", -3, W|F, 1, 1, 1, CmdExpire, "generic", "Sets the expiration time of a key to a Unix timestamp.", "1.2.0", "O(1)", "key unix-time-seconds [NX|XX|GT|LT]"},
  {"pexpireat", -3, W|F, 1, 1, 1, CmdExpire, "generic", "Sets the expiration time of a key to a Unix milliseconds timestamp.", "2.6.0", "O(1)", "key unix-time-milliseconds [NX|XX|GT|LT]"},
  {"ttl", 2, R|F, 1, 1, 1, CmdTtl, "generic", "Returns the expiration time in seconds of a key.", "1.0.0", "O(1)", "key"},
  {"pttl", 2, R|F, 1, 1, 1, CmdTtl, "generic", "Returns the expiration time in milliseconds of a key.", "2.6.0", "O(1)", "key"},
  {"expiretime", 2, R|F, 1, 1, 1, CmdTtl, "generic", "Returns the expiration time of a key as a Unix timestamp.", "7.0.0", "O(1)", "key"},
  {"pexpiretime", 2, R|F, 1, 1, 1, CmdTtl, "generic", "Returns the expiration time of a key as a Unix milliseconds timestamp.", "7.0.0", "O(1)", "key"},
  {"persist", 2, W|F, 1, 1, 1, CmdPersist, "generic", "Removes the expiration time of a key.", "2.2.0", "O(1)", "key"},
  {"object", -2, 0, 0, 0, 0, nullptr, "generic", "A container for object introspection commands.", "2.2.3", "Depends on subcommand.", "", object_subcommands},
  {"memory", -2, 0, 0, 0, 0, nullptr, "server", "A container for memory diagnostics commands.", "4.0.0", "Depends on subcommand.", "", memory_subcommands},
  // strings
  {"get", 2, R|F, 1, 1, 1, CmdGet, "string", "Returns the string value of a key.", "1.0.0", "O(1)", "key"},
  {"set", -3, W|OOM, 1, 1, 1, CmdSet, "string", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", "1.0.0", "O(1)", "key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]"},
  {"setnx", 3, W|OOM|F, 1, 1, 1, CmdSetNx, "string", "Set the string value of a key only when the key doesn't exist.", "1.0.0", "O(1)", "key value"},
  {"setex", 4, W|OOM, 1, 1, 1, CmdSetEx, "string", "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", "2.0.0", "O(1)", "key seconds value"},
  {"psetex", 4, W|OOM, 1, 1, 1, CmdSetEx, "string", "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.", "2.6.0", "O(1)", "key milliseconds value"},
  {"getset", 3, W|OOM|F, 1, 1, 1, CmdGetSet, "string", "Returns the previous string value of a key after setting it to a new value.", "1.0.0", "O(1)", "key value"},
  {"getdel", 2, W|F, 1, 1, 1, CmdGetDel, "string", "Returns the string value of a key after deleting the key.", "6.2.0", "O(1)", "key"},
  {"getex", -2, W|F, 1, 1, 1, CmdGetEx, "string", "Returns the string value of a key after setting its expiration time.", "6.2.0", "O(1)", "key [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|PERSIST]"},
  {"mget", -2, R|F, 1, -1, 1, CmdMGet, "string", "Atomically returns the string values of one or more keys.", "1.0.0", "O(N) where N is the number of keys to retrieve.", "key ..."},
  {"mset", -3, W|OOM, 1, -1, 2, CmdMSet, "string", "Atomically creates or modifies the string values of one or more keys.", "1.0.1", "O(N) where N is the number of keys to set.", "(key value) ..."},
  {"msetnx", -3, W|OOM, 1, -1, 2, CmdMSetNx, "string", "Atomically modifies the string values of one or more keys only when all keys don't exist.", "1.0.1", "O(N) where N is the number of keys to set.", "(key value) ..."},
  {"incr", 2, W|OOM|F, 1, 1, 1, CmdIncr, "string", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", "1.0.0", "O(1)", "key"},
  {"decr", 2, W|OOM|F, 1, 1, 1, CmdIncr, "string", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", "1.0.0", "O(1)", "key"},
  {"incrby", 3, W|OOM|F, 1, 1, 1, CmdIncr, "string", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.", "1.0.0", "O(1)", "key increment"},
  {"decrby", 3, W|OOM|F, 1, 1, 1, CmdIncr, "string", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.", "1.0.0", "O(1)", "key decrement"},
  {"incrbyfloat", 3, W|OOM|F, 1, 1, 1, CmdIncrByFloat, "string", "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.", "2.6.0", "O(1)", "key increment"},
  {"append", 3, W|OOM|F, 1, 1, 1, CmdAppend, "string", "Appends a string to the value of a key. Creates the key if it doesn't exist.", "2.0.0", "O(1)", "key value"},
  {"strlen", 2, R|F, 1, 1, 1, CmdStrLen, "string", "Returns the length of a string value.", "2.2.0", "O(1)", "key"},
  {"getrange", 4, R, 1, 1, 1, CmdGetRange, "string", "Returns a substring of the string stored at a key.", "2.4.0", "O(N) where N is the length of the returned string.", "key start end"},
  {"setrange", 4, W|OOM, 1, 1, 1, CmdSetRange, "string", "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.", "2.2.0", "O(1)", "key offset value"},
  // lists
  {"lpush", -3, W|OOM|F, 1, 1, 1, CmdLPush, "list", "Prepends one or more elements to a list. Creates the key if it doesn't exist.", "1.0.0", "O(1) for each element added", "key element ..."},
  {"rpush", -3, W|OOM|F, 1, 1, 1, CmdRPush, "list", "Appends one or more elements to a list. Creates the key if it doesn't exist.", "1.0.0", "O(1) for each element added", "key element ..."},
  {"lpushx", -3, W|OOM|F, 1, 1, 1, CmdLPushX, "list", "Prepends one or more elements to a list only when the list exists.", "2.2.0", "O(1) for each element added", "key element ..."},
  {"rpushx", -3, W|OOM|F, 1, 1, 1, CmdRPushX, "list", "Appends an element to a list only when the list exists.", "2.2.0", "O(1) for each element added", "key element ..."},
  {"lpop", -2, W|F, 1, 1, 1, CmdLPop, "list", "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.", "1.0.0", "O(N) where N is the number of elements returned", "key [count]"},
  {"rpop", -2, W|F, 1, 1, 1, CmdRPop, "list", "Returns and removes the last elements of a list. Deletes the list if the last element was popped.", "1.0.0", "O(N) where N is the number of elements returned", "key [count]"},
  {"llen", 2, R|F, 1, 1, 1, CmdLLen, "list", "Returns the length of a list.", "1.0.0", "O(1)", "key"},
  {"lrange", 4, R, 1, 1, 1, CmdLRange, "list", "Returns a range of elements from a list.", "1.0.0", "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range.", "key start stop"},
  {"lindex", 3, R, 1, 1, 1, CmdLIndex, "list", "Returns an element from a list by its index.", "1.0.0", "O(1) (a deque: direct access)", "key index"},
  {"lset", 4, W|OOM, 1, 1, 1, CmdLSet, "list", "Sets the value of an element in a list by its index.", "1.0.0", "O(1) (a deque: direct access)", "key index element"},
  {"lrem", 4, W, 1, 1, 1, CmdLRem, "list", "Removes elements from a list. Deletes the list if the last element was removed.", "1.0.0", "O(N+M) where N is the length of the list and M is the number of elements removed.", "key count element"},
  {"ltrim", 4, W, 1, 1, 1, CmdLTrim, "list", "Removes elements from both ends a list. Deletes the list if all elements were trimmed.", "1.0.0", "O(N) where N is the number of elements to be removed by the operation.", "key start stop"},
  {"linsert", 5, W|OOM, 1, 1, 1, CmdLInsert, "list", "Inserts an element before or after another element in a list.", "2.2.0", "O(N) where N is the number of elements to traverse before seeing the value pivot.", "key BEFORE|AFTER pivot element"},
  {"lpos", -3, R, 1, 1, 1, CmdLPos, "list", "Returns the index of matching elements in a list.", "6.0.6", "O(N) where N is the number of elements in the list, for the average case.", "key element [RANK rank] [COUNT num-matches] [MAXLEN len]"},
  {"lmove", 5, W|OOM, 1, 2, 1, CmdLMove, "list", "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.", "6.2.0", "O(1)", "source destination LEFT|RIGHT LEFT|RIGHT"},
  {"rpoplpush", 3, W|OOM, 1, 2, 1, CmdRPopLPush, "list", "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.", "1.2.0", "O(1)", "source destination"},
  {"blpop", -3, W|NS|BL, 1, -2, 1, CmdBLPop, "list", "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", "2.0.0", "O(N) where N is the number of provided keys.", "key ... timeout"},
  {"brpop", -3, W|NS|BL, 1, -2, 1, CmdBRPop, "list", "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", "2.0.0", "O(N) where N is the number of provided keys.", "key ... timeout"},
  {"blmove", 6, W|OOM|NS|BL, 1, 2, 1, CmdBLMove, "list", "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.", "6.2.0", "O(1)", "source destination LEFT|RIGHT LEFT|RIGHT timeout"},
  {"brpoplpush", 4, W|OOM|NS|BL, 1, 2, 1, CmdBRPopLPush, "list", "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.", "2.2.0", "O(1)", "source destination timeout"},
  // hashes
  {"hset", -4, W|OOM|F, 1, 1, 1, CmdHSet, "hash", "Creates or modifies the value of a field in a hash.", "2.0.0", "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs.", "key (field value) ..."},
  {"hsetnx", 4, W|OOM|F, 1, 1, 1, CmdHSetNx, "hash", "Sets the value of a field in a hash only when the field doesn't exist.", "2.0.0", "O(1)", "key field value"},
  {"hget", 3, R|F, 1, 1, 1, CmdHGet, "hash", "Returns the value of a field in a hash.", "2.0.0", "O(1)", "key field"},
  {"hmget", -3, R|F, 1, 1, 1, CmdHMGet, "hash", "Returns the values of all fields in a hash.", "2.0.0", "O(N) where N is the number of fields being requested.", "key field ..."},
  {"hmset", -4, W|OOM|F, 1, 1, 1, CmdHMSet, "hash", "Sets the values of multiple fields.", "2.0.0", "O(N) where N is the number of fields being set.", "key (field value) ..."},
  {"hgetall", 2, R, 1, 1, 1, CmdHGetAll, "hash", "Returns all fields and values in a hash.", "2.0.0", "O(N) where N is the size of the hash.", "key"},
  {"hdel", -3, W|F, 1, 1, 1, CmdHDel, "hash", "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.", "2.0.0", "O(N) where N is the number of fields to be removed.", "key field ..."},
  {"hexists", 3, R|F, 1, 1, 1, CmdHExists, "hash", "Determines whether a field exists in a hash.", "2.0.0", "O(1)", "key field"},
  {"hlen", 2, R|F, 1, 1, 1, CmdHLen, "hash", "Returns the number of fields in a hash.", "2.0.0", "O(1)", "key"},
  {"hkeys", 2, R, 1, 1, 1, CmdHKeys, "hash", "Returns all fields in a hash.", "2.0.0", "O(N) where N is the size of the hash.", "key"},
  {"hvals", 2, R, 1, 1, 1, CmdHVals, "hash", "Returns all values in a hash.", "2.0.0", "O(N) where N is the size of the hash.", "key"},
  {"hincrby", 4, W|OOM|F, 1, 1, 1, CmdHIncrBy, "hash", "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.", "2.0.0", "O(1)", "key field increment"},
  {"hincrbyfloat", 4, W|OOM|F, 1, 1, 1, CmdHIncrByFloat, "hash", "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.", "2.6.0", "O(1)", "key field increment"},
  {"hstrlen", 3, R|F, 1, 1, 1, CmdHStrLen, "hash", "Returns the length of the value of a field.", "3.2.0", "O(1)", "key field"},
  {"hrandfield", -2, R, 1, 1, 1, CmdHRandField, "hash", "Returns one or more random fields from a hash.", "6.2.0", "O(N) where N is the number of fields returned", "key [count [WITHVALUES]]"},
  {"hscan", -3, R, 1, 1, 1, CmdHScan, "hash", "Iterates over fields and values of a hash.", "2.8.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.", "key cursor [MATCH pattern] [COUNT count]"},
  // sets
  {"sadd", -3, W|OOM|F, 1, 1, 1, CmdSAdd, "set", "Adds one or more members to a set. Creates the key if it doesn't exist.", "1.0.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "key member ..."},
  {"srem", -3, W|F, 1, 1, 1, CmdSRem, "set", "Removes one or more members from a set. Deletes the set if the last member was removed.", "1.0.0", "O(N) where N is the number of members to be removed.", "key member ..."},
  {"sismember", 3, R|F, 1, 1, 1, CmdSIsMember, "set", "Determines whether a member belongs to a set.", "1.0.0", "O(1)", "key member"},
  {"smismember", -3, R|F, 1, 1, 1, CmdSMIsMember, "set", "Determines whether multiple members belong to a set.", "6.2.0", "O(N) where N is the number of elements being checked for membership", "key member ..."},
  {"smembers", 2, R, 1, 1, 1, CmdSMembers, "set", "Returns all members of a set.", "1.0.0", "O(N) where N is the set cardinality.", "key"},
  {"scard", 2, R|F, 1, 1, 1, CmdSCard, "set", "Returns the number of members in a set.", "1.0.0", "O(1)", "key"},
  {"spop", -2, W|F, 1, 1, 1, CmdSPop, "set", "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.", "1.0.0", "Without the count argument O(1), otherwise O(N) where N is the value of the passed count.", "key [count]"},
  {"srandmember", -2, R, 1, 1, 1, CmdSRandMember, "set", "Get one or multiple random members from a set", "1.0.0", "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count.", "key [count]"},
  {"smove", 4, W|F, 1, 2, 1, CmdSMove, "set", "Moves a member from one set to another.", "1.0.0", "O(1)", "source destination member"},
  {"sinter", -2, R, 1, -1, 1, CmdSInter, "set", "Returns the intersect of multiple sets.", "1.0.0", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", "key ..."},
  {"sunion", -2, R, 1, -1, 1, CmdSUnion, "set", "Returns the union of multiple sets.", "1.0.0", "O(N) where N is the total number of elements in all given sets.", "key ..."},
  {"sdiff", -2, R, 1, -1, 1, CmdSDiff, "set", "Returns the difference of multiple sets.", "1.0.0", "O(N) where N is the total number of elements in all given sets.", "key ..."},
  {"sinterstore", -3, W|OOM, 1, -1, 1, CmdSInterStore, "set", "Stores the intersect of multiple sets in a key.", "1.0.0", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", "destination key ..."},
  {"sunionstore", -3, W|OOM, 1, -1, 1, CmdSUnionStore, "set", "Stores the union of multiple sets in a key.", "1.0.0", "O(N) where N is the total number of elements in all given sets.", "destination key ..."},
  {"sdiffstore", -3, W|OOM, 1, -1, 1, CmdSDiffStore, "set", "Stores the difference of multiple sets in a key.", "1.0.0", "O(N) where N is the total number of elements in all given sets.", "destination key ..."},
  // SINTERCARD's keys are counted by numkeys, which the legacy (first, last, step) cannot say
  // (Redis 7.0 reports 0, 0, 0 with movablekeys). Locking follows these positions, so they cover
  // every argument from the first key to the end: a trailing LIMIT and its value may lock a shard
  // needlessly, which is harmless; a key left unlocked would be a bug.
  {"sintercard", -3, R, 2, -1, 1, CmdSInterCard, "set", "Returns the number of members of the intersect of multiple sets.", "7.0.0", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", "numkeys key ... [LIMIT limit]"},
  {"sscan", -3, R, 1, 1, 1, CmdSScan, "set", "Iterates over members of a set.", "2.0.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.", "key cursor [MATCH pattern] [COUNT count]"},
  // sorted sets
  {"zadd", -4, W|OOM|F, 1, 1, 1, CmdZAdd, "sorted_set", "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.", "1.2.0", "O(log(N)) for each item added, where N is the number of elements in the sorted set.", "key [NX|XX] [GT|LT] [CH] [INCR] (score member) ..."},
  {"zincrby", 4, W|OOM|F, 1, 1, 1, CmdZIncrBy, "sorted_set", "Increments the score of a member in a sorted set.", "1.2.0", "O(log(N)) where N is the number of elements in the sorted set.", "key increment member"},
  {"zrem", -3, W|F, 1, 1, 1, CmdZRem, "sorted_set", "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.", "1.2.0", "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed.", "key member ..."},
  {"zscore", 3, R|F, 1, 1, 1, CmdZScore, "sorted_set", "Returns the score of a member in a sorted set.", "1.2.0", "O(1)", "key member"},
  {"zmscore", -3, R|F, 1, 1, 1, CmdZMScore, "sorted_set", "Returns the score of one or more members in a sorted set.", "6.2.0", "O(N) where N is the number of members being requested.", "key member ..."},
  {"zcard", 2, R|F, 1, 1, 1, CmdZCard, "sorted_set", "Returns the number of members in a sorted set.", "1.2.0", "O(1)", "key"},
  {"zcount", 4, R|F, 1, 1, 1, CmdZCount, "sorted_set", "Returns the count of members in a sorted set that have scores within a range.", "2.0.0", "O(log(N)) with N being the number of elements in the sorted set.", "key min max"},
  {"zlexcount", 4, R|F, 1, 1, 1, CmdZCount, "sorted_set", "Returns the number of members in a sorted set within a lexicographical range.", "2.8.9", "O(log(N)) with N being the number of elements in the sorted set.", "key min max"},
  {"zrank", 3, R|F, 1, 1, 1, CmdZRank, "sorted_set", "Returns the index of a member in a sorted set ordered by ascending scores.", "2.0.0", "O(log(N))", "key member"},
  {"zrevrank", 3, R|F, 1, 1, 1, CmdZRank, "sorted_set", "Returns the index of a member in a sorted set ordered by descending scores.", "2.0.0", "O(log(N))", "key member"},
  {"zrange", -4, R, 1, 1, 1, CmdZRange, "sorted_set", "Returns members in a sorted set within a range of indexes.", "1.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.", "key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]"},
  {"zrangestore", -5, W|OOM, 1, 2, 1, CmdZRangeStore, "sorted_set", "Stores a range of members from sorted set in a key.", "6.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key.", "dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]"},
  {"zrevrange", -4, R, 1, 1, 1, CmdZRevRange, "sorted_set", "Returns members in a sorted set within a range of indexes in reverse order.", "1.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.", "key start stop [WITHSCORES]"},
  {"zrangebyscore", -4, R, 1, 1, 1, CmdZRangeByScore, "sorted_set", "Returns members in a sorted set within a range of scores.", "1.0.5", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).", "key min max [WITHSCORES] [LIMIT offset count]"},
  {"zrevrangebyscore", -4, R, 1, 1, 1, CmdZRevRangeByScore, "sorted_set", "Returns members in a sorted set within a range of scores in reverse order.", "2.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).", "key max min [WITHSCORES] [LIMIT offset count]"},
  {"zrangebylex", -4, R, 1, 1, 1, CmdZRangeByLex, "sorted_set", "Returns members in a sorted set within a lexicographical range.", "2.8.9", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).", "key min max [LIMIT offset count]"},
  {"zrevrangebylex", -4, R, 1, 1, 1, CmdZRevRangeByLex, "sorted_set", "Returns members in a sorted set within a lexicographical range in reverse order.", "2.8.9", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).", "key max min [LIMIT offset count]"},
  {"zremrangebyrank", 4, W, 1, 1, 1, CmdZRemRangeByRank, "sorted_set", "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.", "2.0.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.", "key start stop"},
  {"zremrangebyscore", 4, W, 1, 1, 1, CmdZRemRangeByScore, "sorted_set", "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.", "1.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.", "key min max"},
  {"zremrangebylex", 4, W, 1, 1, 1, CmdZRemRangeByLex, "sorted_set", "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.", "2.8.9", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.", "key min max"},
  {"zpopmin", -2, W|F, 1, 1, 1, CmdZPop, "sorted_set", "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", "5.0.0", "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.", "key [count]"},
  {"zpopmax", -2, W|F, 1, 1, 1, CmdZPop, "sorted_set", "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", "5.0.0", "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.", "key [count]"},
  {"zrandmember", -2, R, 1, 1, 1, CmdZRandMember, "sorted_set", "Returns one or more random members from a sorted set.", "6.2.0", "O(N) where N is the number of members returned", "key [count [WITHSCORES]]"},
  {"zscan", -3, R, 1, 1, 1, CmdZScan, "sorted_set", "Iterates over members and scores of a sorted set.", "2.8.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.", "key cursor [MATCH pattern] [COUNT count]"},
  // ZUNIONSTORE/ZINTERSTORE: the keys are the destination and numkeys sources after it, which
  // Redis marks "movablekeys"; a legacy (first, last, step) cannot say that, so every argument
  // from the destination on is declared a key. Locking the "shards" of numkeys, WEIGHTS and
  // AGGREGATE arguments too is harmless; missing a source key's shard would be a bug.
  {"zunionstore", -4, W|OOM, 1, -1, 1, CmdZUnionStore, "sorted_set", "Stores the union of multiple sorted sets in a key.", "2.0.0", "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.", "destination numkeys key ... [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX]"},
  {"zinterstore", -4, W|OOM, 1, -1, 1, CmdZInterStore, "sorted_set", "Stores the intersect of multiple sorted sets in a key.", "2.0.0", "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.", "destination numkeys key ... [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX]"},
  {"bzpopmin", -3, W|F|NS|BL, 1, -2, 1, CmdBZPop, "sorted_set", "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", "5.0.0", "O(log(N)) with N being the number of elements in the sorted set.", "key ... timeout"},
  {"bzpopmax", -3, W|F|NS|BL, 1, -2, 1, CmdBZPop, "sorted_set", "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", "5.0.0", "O(log(N)) with N being the number of elements in the sorted set.", "key ... timeout"},
  // pub/sub
  {"subscribe", -2, NS|LD|ST|CN|SB|NM, 0, 0, 0, CmdSubscribe, "pubsub", "Listens for messages published to channels.", "2.0.0", "O(N) where N is the number of channels to subscribe to.", "channel ..."},
  {"unsubscribe", -1, NS|LD|ST|CN|SB|NM, 0, 0, 0, CmdUnsubscribe, "pubsub", "Stops listening to messages posted to channels.", "2.0.0", "O(N) where N is the number of clients already subscribed to a channel.", "[channel ...]"},
  {"psubscribe", -2, NS|LD|ST|CN|SB|NM, 0, 0, 0, CmdPSubscribe, "pubsub", "Listens for messages published to channels that match one or more patterns.", "2.0.0", "O(N) where N is the number of patterns to subscribe to.", "pattern ..."},
  {"punsubscribe", -1, NS|LD|ST|CN|SB|NM, 0, 0, 0, CmdPUnsubscribe, "pubsub", "Stops listening to messages published to channels that match one or more patterns.", "2.0.0", "O(N) where N is the number of patterns to unsubscribe.", "[pattern ...]"},
  {"publish", 3, LD|ST|F|CN, 0, 0, 0, CmdPublish, "pubsub", "Posts a message to a channel.", "2.0.0", "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client).", "channel message"},
  {"pubsub", -2, 0, 0, 0, 0, nullptr, "pubsub", "A container for Pub/Sub commands.", "2.8.0", "Depends on subcommand.", "", pubsub_subcommands},
  // inventory (server/commands/sku_family.cc, docs/inventory.md)
  {"sku.set", -3, W|OOM|F, 1, 1, 1, CmdSkuSet, "inventory", "Creates or reconfigures a SKU: stock on hand, safety stock, per-user limit, reservation timeout, admission queue and tokens.", "0.1.0", "O(1)", "sku on_hand [SAFETY safety] [LIMIT per_user] [TTL ms] [QUEUE capacity|AUTO] [HOLD ms] [TOKENS yes|no]"},
  {"sku.get", 2, R|F, 1, 1, 1, CmdSkuGet, "inventory", "Returns every counter and setting of a SKU.", "0.1.0", "O(1)", "sku"},
  {"sku.restock", 5, W|OOM|F, 1, 1, 1, CmdSkuRestock, "inventory", "Adds units to a SKU's stock on hand, once per restock id.", "0.1.0", "O(1)", "sku qty ID restock_id"},
  {"sku.reserve", -4, W|OOM|F, 1, 1, 1, CmdSkuReserve, "inventory", "Holds units of a SKU for an unpaid order until it is committed, cancelled or expires. Idempotent by order id.", "0.1.0", "O(log N) where N is the number of open reservations of the SKU.", "sku order_id qty [USER user] [TTL ms]"},
  {"sku.deduct", -4, W|OOM|F, 1, 1, 1, CmdSkuDeduct, "inventory", "Sells units of a SKU at once (reserve and commit in one step). Idempotent by order id.", "0.1.0", "O(1)", "sku order_id qty [USER user]"},
  {"sku.commit", 3, W|F, 1, 1, 1, CmdSkuCommit, "inventory", "Commits a reservation on payment: its units become sold.", "0.1.0", "O(log N) where N is the number of open reservations of the SKU.", "sku order_id"},
  {"sku.cancel", 3, W|F, 1, 1, 1, CmdSkuCancel, "inventory", "Cancels a reservation, releasing its units.", "0.1.0", "O(log N) where N is the number of open reservations of the SKU.", "sku order_id"},
  {"sku.order", 3, R|F, 1, 1, 1, CmdSkuOrder, "inventory", "Returns the state, quantity, user and times of an order on a SKU.", "0.1.0", "O(1)", "sku order_id"},
  // The multi-SKU commands' keys follow the order id and options, which a legacy (first, last,
  // step) cannot say (Redis would mark them movablekeys). Locking follows these positions, so
  // they cover every argument from the order id on: locking the "shards" of the order id,
  // options and quantities too is harmless; leaving a SKU's shard unlocked would be a bug.
  {"sku.mreserve", -4, W|OOM, 1, -1, 1, CmdSkuMReserve, "inventory", "Reserves one order over several SKUs, all or nothing, across shards.", "0.1.0", "O(M log N) where M is the number of SKUs in the order.", "order_id [USER user] [TTL ms] (sku qty) ..."},
  {"sku.mcommit", -3, W, 1, -1, 1, CmdSkuMCommit, "inventory", "Commits a multi-SKU order on every SKU named, all or nothing.", "0.1.0", "O(M log N) where M is the number of SKUs in the order.", "order_id sku ..."},
  {"sku.mcancel", -3, W, 1, -1, 1, CmdSkuMCancel, "inventory", "Cancels a multi-SKU order on every SKU named, all or nothing.", "0.1.0", "O(M log N) where M is the number of SKUs in the order.", "order_id sku ..."},
  {"sku.enter", -3, W|OOM|F, 1, 1, 1, CmdSkuEnter, "inventory", "Admits a user to a SKU's bounded admission queue, holding one unit for them, or refuses at once when nothing sellable is left.", "0.1.0", "O(log N) where N is the number of admissions of the SKU.", "sku user [TOKEN token]"},
  {"sku.take", -3, W|NS|BL, 1, 1, 1, CmdSkuTake, "inventory", "Hands admitted users to the order service in FIFO order, optionally waiting for the next one.", "0.1.0", "O(N) where N is the number of users taken.", "sku count [BLOCK ms]"},
  {"sku.leave", 3, W|F, 1, 1, 1, CmdSkuLeave, "inventory", "Releases a user's admission and the unit it held.", "0.1.0", "O(log N) where N is the number of admissions of the SKU.", "sku user"},
  {"sku.token", -3, W|OOM|F, 1, 1, 1, CmdSkuToken, "inventory", "Issues a one-time token that lets a user enter a SKU's admission queue.", "0.1.0", "O(log N) where N is the number of outstanding tokens of the SKU.", "sku user [TTL ms]"},
  {"sku.journal", -2, R, 1, 1, 1, CmdSkuJournal, "inventory", "Returns a SKU's change records (the deduction flow) after a record id, oldest first.", "0.1.0", "O(N) where N is the number of records returned.", "sku [AFTER id] [COUNT count]"},
  {"sku.hot", -1, R|GL, 0, 0, 0, CmdSkuHot, "inventory", "Returns the SKUs with the highest recent request rate.", "0.1.0", "O(S) where S is the number of SKUs tracked (bounded per shard).", "[COUNT count]"},
  {"sku.check", 2, R, 1, 1, 1, CmdSkuCheck, "inventory", "Recounts every inventory invariant of a SKU and reports the first broken one.", "0.1.0", "O(N) where N is the number of orders, admissions and tokens of the SKU.", "sku"},
  // rate limiting. Arity -1 (any count) and keys 1, 1, 1, as redis-cell registers this module
  // command: a wrong argument count reaches the handler, which answers redis-cell's usage error.
  // "since" is the redis-cell version that named it CL.THROTTLE.
  {"cl.throttle", -1, W|OOM|F, 1, 1, 1, CmdClThrottle, "throttle", "Rate-limits an action with the generic cell rate algorithm (GCRA), as the redis-cell module.", "0.2.0", "O(1)", "key max_burst count period [quantity]"},
  // transactions
  {"multi", 1, NS|LD|ST|F|CN|TX, 0, 0, 0, CmdMulti, "transactions", "Starts a transaction.", "1.2.0", "O(1)", ""},
  {"exec", 1, NS|LD|ST|TX, 0, 0, 0, CmdExec, "transactions", "Executes all commands in a transaction.", "1.2.0", "Depends on commands in the transaction", ""},
  {"discard", 1, NS|LD|ST|F|CN|TX, 0, 0, 0, CmdDiscard, "transactions", "Discards a transaction.", "2.0.0", "O(N), when N is the number of queued commands", ""},
  {"watch", -2, NS|LD|ST|F|TX, 1, -1, 1, CmdWatch, "transactions", "Monitors changes to keys to determine the execution of a transaction.", "2.2.0", "O(1) for every key.", "key ..."},
  {"unwatch", 1, NS|LD|ST|F|CN, 0, 0, 0, CmdUnwatch, "transactions", "Forgets about watched keys of a transaction.", "2.2.0", "O(1)", ""},
};
// clang-format on

}  // namespace

std::string CommandSpec::FullName() const {
  if (parent) return std::string(parent->name) + "|" + std::string(name);
  return std::string(name);
}

const CommandTable& CommandTable::Get() {
  static const CommandTable table;
  return table;
}

CommandTable::CommandTable() : specs_(commands) {
  for (CommandSpec& c : commands) {
    c.id = id_count_++;
    by_id_.push_back(&c);
    by_name_.emplace(c.name, &c);
    for (CommandSpec& sub : c.subcommands) {
      sub.parent = &c;
      sub.id = id_count_++;
      by_id_.push_back(&sub);
    }
  }
}

static bool SameName(std::string_view lower, std::string_view any) {
  return lower.size() == any.size() &&
         std::equal(lower.begin(), lower.end(), any.begin(), [](char a, char b) {
           return a == std::tolower(static_cast<unsigned char>(b));
         });
}

const CommandSpec* CommandTable::FindTop(std::string_view name) const {
  // Names are matched case-insensitively; no command name is longer than this.
  constexpr size_t kCommandNameBytesMax = 32;
  if (name.size() > kCommandNameBytesMax) return nullptr;
  char lower[kCommandNameBytesMax];
  for (size_t i = 0; i < name.size(); ++i) {
    lower[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(name[i])));
  }
  auto it = by_name_.find(std::string_view(lower, name.size()));
  return it == by_name_.end() ? nullptr : it->second;
}

const CommandSpec* CommandTable::Find(CmdArgs args, bool* unknown_subcommand) const {
  *unknown_subcommand = false;
  const CommandSpec* top = FindTop(args[0]);
  if (!top || top->subcommands.empty()) return top;
  // A container: COMMAND alone is a command of its own; CLIENT and CONFIG need a subcommand.
  if (args.size() < 2) return top;  // arity decides: COMMAND alone is valid, CLIENT is not
  for (const CommandSpec& sub : top->subcommands) {
    if (SameName(sub.name, args[1])) return &sub;
  }
  *unknown_subcommand = true;
  return nullptr;
}

}  // namespace stockd::server
