#pragma once
// Handlers of every command family, one file per family in this folder. The table that names
// each command and points to its handler is server/command_table.cc.
#include <cstdint>
#include <string_view>

#include "server/command.h"

namespace stockd::server {

class Engine;

// connection_family.cc
void CmdPing(CmdArgs, CommandContext&);
void CmdEcho(CmdArgs, CommandContext&);
void CmdHello(CmdArgs, CommandContext&);
void CmdAuth(CmdArgs, CommandContext&);
void CmdSelect(CmdArgs, CommandContext&);
void CmdQuit(CmdArgs, CommandContext&);
void CmdReset(CmdArgs, CommandContext&);
void CmdClientId(CmdArgs, CommandContext&);
void CmdClientSetName(CmdArgs, CommandContext&);
void CmdClientGetName(CmdArgs, CommandContext&);
void CmdClientInfo(CmdArgs, CommandContext&);
void CmdClientList(CmdArgs, CommandContext&);
void CmdClientKill(CmdArgs, CommandContext&);
void CmdClientSetInfo(CmdArgs, CommandContext&);
void CmdClientHelp(CmdArgs, CommandContext&);

// server_family.cc
void CmdInfo(CmdArgs, CommandContext&);
void CmdDbSize(CmdArgs, CommandContext&);
void CmdFlushDb(CmdArgs, CommandContext&);
void CmdFlushAll(CmdArgs, CommandContext&);
void CmdSave(CmdArgs, CommandContext&);
void CmdBgSave(CmdArgs, CommandContext&);
void CmdBgRewriteAof(CmdArgs, CommandContext&);
void CmdLastSave(CmdArgs, CommandContext&);
void CmdTime(CmdArgs, CommandContext&);
void CmdConfigGet(CmdArgs, CommandContext&);
void CmdConfigSet(CmdArgs, CommandContext&);
void CmdConfigResetStat(CmdArgs, CommandContext&);
void CmdConfigHelp(CmdArgs, CommandContext&);
void CmdShutdown(CmdArgs, CommandContext&);
void CmdDebugDigest(CmdArgs, CommandContext&);
void CmdDebugDigestValue(CmdArgs, CommandContext&);
void CmdDebugHelp(CmdArgs, CommandContext&);
void CmdCommand(CmdArgs, CommandContext&);
void CmdCommandCount(CmdArgs, CommandContext&);
void CmdCommandInfo(CmdArgs, CommandContext&);
void CmdCommandDocs(CmdArgs, CommandContext&);
void CmdCommandList(CmdArgs, CommandContext&);
void CmdCommandHelp(CmdArgs, CommandContext&);

// replication_family.cc
void CmdReplicaOf(CmdArgs, CommandContext&);
void CmdFailover(CmdArgs, CommandContext&);
void CmdRole(CmdArgs, CommandContext&);
void CmdReplConf(CmdArgs, CommandContext&);
void CmdReplSync(CmdArgs, CommandContext&);
void CmdWait(CmdArgs, CommandContext&);

// generic_family.cc (keys)
void CmdDel(CmdArgs, CommandContext&);
void CmdExists(CmdArgs, CommandContext&);
void CmdType(CmdArgs, CommandContext&);
void CmdRename(CmdArgs, CommandContext&);
void CmdRenameNx(CmdArgs, CommandContext&);
void CmdRandomKey(CmdArgs, CommandContext&);
void CmdKeys(CmdArgs, CommandContext&);
void CmdScan(CmdArgs, CommandContext&);
void CmdExpire(CmdArgs, CommandContext&);  // EXPIRE PEXPIRE EXPIREAT PEXPIREAT
void CmdTtl(CmdArgs, CommandContext&);     // TTL PTTL EXPIRETIME PEXPIRETIME
void CmdPersist(CmdArgs, CommandContext&);
void CmdObjectEncoding(CmdArgs, CommandContext&);
void CmdObjectRefCount(CmdArgs, CommandContext&);
void CmdObjectFreq(CmdArgs, CommandContext&);
void CmdObjectIdleTime(CmdArgs, CommandContext&);
void CmdObjectHelp(CmdArgs, CommandContext&);
void CmdMemoryUsage(CmdArgs, CommandContext&);
void CmdMemoryHelp(CmdArgs, CommandContext&);

// string_family.cc
void CmdGet(CmdArgs, CommandContext&);
void CmdSet(CmdArgs, CommandContext&);
void CmdSetNx(CmdArgs, CommandContext&);
void CmdSetEx(CmdArgs, CommandContext&);  // SETEX and PSETEX
void CmdGetSet(CmdArgs, CommandContext&);
void CmdGetDel(CmdArgs, CommandContext&);
void CmdGetEx(CmdArgs, CommandContext&);
void CmdMGet(CmdArgs, CommandContext&);
void CmdMSet(CmdArgs, CommandContext&);
void CmdMSetNx(CmdArgs, CommandContext&);
void CmdIncr(CmdArgs, CommandContext&);  // INCR DECR INCRBY DECRBY
void CmdIncrByFloat(CmdArgs, CommandContext&);
void CmdAppend(CmdArgs, CommandContext&);
void CmdStrLen(CmdArgs, CommandContext&);
void CmdGetRange(CmdArgs, CommandContext&);
void CmdSetRange(CmdArgs, CommandContext&);

// list_family.cc
void CmdLPush(CmdArgs, CommandContext&);
void CmdRPush(CmdArgs, CommandContext&);
void CmdLPushX(CmdArgs, CommandContext&);
void CmdRPushX(CmdArgs, CommandContext&);
void CmdLPop(CmdArgs, CommandContext&);
void CmdRPop(CmdArgs, CommandContext&);
void CmdLLen(CmdArgs, CommandContext&);
void CmdLRange(CmdArgs, CommandContext&);
void CmdLIndex(CmdArgs, CommandContext&);
void CmdLSet(CmdArgs, CommandContext&);
void CmdLRem(CmdArgs, CommandContext&);
void CmdLTrim(CmdArgs, CommandContext&);
void CmdLInsert(CmdArgs, CommandContext&);
void CmdLPos(CmdArgs, CommandContext&);
void CmdLMove(CmdArgs, CommandContext&);
void CmdRPopLPush(CmdArgs, CommandContext&);
void CmdBLPop(CmdArgs, CommandContext&);
void CmdBRPop(CmdArgs, CommandContext&);
void CmdBLMove(CmdArgs, CommandContext&);
void CmdBRPopLPush(CmdArgs, CommandContext&);

// hash_family.cc
void CmdHSet(CmdArgs, CommandContext&);
void CmdHSetNx(CmdArgs, CommandContext&);
void CmdHGet(CmdArgs, CommandContext&);
void CmdHMGet(CmdArgs, CommandContext&);
void CmdHMSet(CmdArgs, CommandContext&);
void CmdHGetAll(CmdArgs, CommandContext&);
void CmdHDel(CmdArgs, CommandContext&);
void CmdHExists(CmdArgs, CommandContext&);
void CmdHLen(CmdArgs, CommandContext&);
void CmdHKeys(CmdArgs, CommandContext&);
void CmdHVals(CmdArgs, CommandContext&);
void CmdHIncrBy(CmdArgs, CommandContext&);
void CmdHIncrByFloat(CmdArgs, CommandContext&);
void CmdHStrLen(CmdArgs, CommandContext&);
void CmdHRandField(CmdArgs, CommandContext&);
void CmdHScan(CmdArgs, CommandContext&);

// set_family.cc
void CmdSAdd(CmdArgs, CommandContext&);
void CmdSRem(CmdArgs, CommandContext&);
void CmdSIsMember(CmdArgs, CommandContext&);
void CmdSMIsMember(CmdArgs, CommandContext&);
void CmdSMembers(CmdArgs, CommandContext&);
void CmdSCard(CmdArgs, CommandContext&);
void CmdSPop(CmdArgs, CommandContext&);
void CmdSRandMember(CmdArgs, CommandContext&);
void CmdSMove(CmdArgs, CommandContext&);
void CmdSInter(CmdArgs, CommandContext&);
void CmdSUnion(CmdArgs, CommandContext&);
void CmdSDiff(CmdArgs, CommandContext&);
void CmdSInterStore(CmdArgs, CommandContext&);
void CmdSUnionStore(CmdArgs, CommandContext&);
void CmdSDiffStore(CmdArgs, CommandContext&);
void CmdSInterCard(CmdArgs, CommandContext&);
void CmdSScan(CmdArgs, CommandContext&);

// zset_family.cc
void CmdZAdd(CmdArgs, CommandContext&);
void CmdZIncrBy(CmdArgs, CommandContext&);
void CmdZRem(CmdArgs, CommandContext&);
void CmdZScore(CmdArgs, CommandContext&);
void CmdZMScore(CmdArgs, CommandContext&);
void CmdZCard(CmdArgs, CommandContext&);
void CmdZCount(CmdArgs, CommandContext&);  // ZCOUNT and ZLEXCOUNT
void CmdZRank(CmdArgs, CommandContext&);   // ZRANK and ZREVRANK
void CmdZRange(CmdArgs, CommandContext&);
void CmdZRangeStore(CmdArgs, CommandContext&);
void CmdZRevRange(CmdArgs, CommandContext&);
void CmdZRangeByScore(CmdArgs, CommandContext&);
void CmdZRevRangeByScore(CmdArgs, CommandContext&);
void CmdZRangeByLex(CmdArgs, CommandContext&);
void CmdZRevRangeByLex(CmdArgs, CommandContext&);
void CmdZRemRangeByRank(CmdArgs, CommandContext&);
void CmdZRemRangeByScore(CmdArgs, CommandContext&);
void CmdZRemRangeByLex(CmdArgs, CommandContext&);
void CmdZPop(CmdArgs, CommandContext&);  // ZPOPMIN and ZPOPMAX
void CmdZRandMember(CmdArgs, CommandContext&);
void CmdZScan(CmdArgs, CommandContext&);
void CmdZUnionStore(CmdArgs, CommandContext&);
void CmdZInterStore(CmdArgs, CommandContext&);
void CmdBZPop(CmdArgs, CommandContext&);  // BZPOPMIN BZPOPMAX

// pubsub_family.cc
void CmdSubscribe(CmdArgs, CommandContext&);
void CmdUnsubscribe(CmdArgs, CommandContext&);
void CmdPSubscribe(CmdArgs, CommandContext&);
void CmdPUnsubscribe(CmdArgs, CommandContext&);
void CmdPublish(CmdArgs, CommandContext&);
void CmdPubSubChannels(CmdArgs, CommandContext&);
void CmdPubSubNumSub(CmdArgs, CommandContext&);
void CmdPubSubNumPat(CmdArgs, CommandContext&);
void CmdPubSubHelp(CmdArgs, CommandContext&);

// throttle_family.cc
void CmdClThrottle(CmdArgs, CommandContext&);

// transaction_family.cc
void CmdMulti(CmdArgs, CommandContext&);
void CmdExec(CmdArgs, CommandContext&);
void CmdDiscard(CmdArgs, CommandContext&);
void CmdWatch(CmdArgs, CommandContext&);
void CmdUnwatch(CmdArgs, CommandContext&);

// sku_family.cc (the inventory engine, docs/inventory.md)
void CmdSkuSet(CmdArgs, CommandContext&);
void CmdSkuGet(CmdArgs, CommandContext&);
void CmdSkuRestock(CmdArgs, CommandContext&);
void CmdSkuReserve(CmdArgs, CommandContext&);
void CmdSkuDeduct(CmdArgs, CommandContext&);
void CmdSkuCommit(CmdArgs, CommandContext&);
void CmdSkuCancel(CmdArgs, CommandContext&);
void CmdSkuOrder(CmdArgs, CommandContext&);
void CmdSkuMReserve(CmdArgs, CommandContext&);
void CmdSkuMCommit(CmdArgs, CommandContext&);
void CmdSkuMCancel(CmdArgs, CommandContext&);
void CmdSkuEnter(CmdArgs, CommandContext&);
void CmdSkuTake(CmdArgs, CommandContext&);
void CmdSkuLeave(CmdArgs, CommandContext&);
void CmdSkuToken(CmdArgs, CommandContext&);
void CmdSkuJournal(CmdArgs, CommandContext&);
void CmdSkuHot(CmdArgs, CommandContext&);
void CmdSkuCheck(CmdArgs, CommandContext&);
// A SKU value was moved to `key` (RENAME): file its deadlines under the new name.
void SkuMoved(CommandContext& ctx, std::string_view key);
// The engine's deadline handler: expires what is due on the shard's SKUs.
void RunSkuDeadlines(Engine& engine, uint32_t shard, int64_t now_ms);
// Recovery: replays a kExpireSweep record, the deadline timer's pass over `key` at now_ms.
void ReplaySkuSweep(Engine& engine, int db, int64_t now_ms, std::string_view key,
                    uint64_t items_max);
// Recovery, once the snapshot is loaded and the log replayed (neither files SKU deadlines): files
// every SKU of shard `shard` in its deadline index. On a thread that may touch the shard's data.
void FileSkuDeadlines(Engine& engine, uint32_t shard);

}  // namespace stockd::server
