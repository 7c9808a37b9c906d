// Microbenchmarks for the request parser and the reply builder: the per-request costs every
// command pays. bytes_per_second is the input (parser) or output (builder) volume.
#include <benchmark/benchmark.h>

#include <string>
#include <string_view>
#include <vector>

#include "protocol/reply_builder.h"
#include "protocol/resp_parser.h"

namespace stockd::protocol {
namespace {

std::string MultibulkRequest(const std::vector<std::string>& args) {
  std::string request = "*" + std::to_string(args.size()) + "\r\n";
  for (const std::string& arg : args) {
    request += "$" + std::to_string(arg.size()) + "\r\n" + arg + "\r\n";
  }
  return request;
}

// Parses every request in `input`, as a connection does with one read's worth of bytes.
void ParseAll(benchmark::State& state, const std::string& input, int64_t requests_per_input) {
  RespParser parser;
  for (auto _ : state) {
    std::string_view rest = input;
    while (!rest.empty()) {
      if (parser.Parse(rest) != RespParser::Status::kCommand) {
        state.SkipWithError("request did not parse");
        return;
      }
      benchmark::DoNotOptimize(parser.args().data());
      rest.remove_prefix(parser.consumed());
    }
  }
  state.SetItemsProcessed(state.iterations() * requests_per_input);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(input.size()));
}

void BM_ParsePipelineOf16Sets(benchmark::State& state) {
  constexpr int kRequests = 16;
  std::string input;
  for (int i = 0; i < kRequests; ++i) {
    input += MultibulkRequest({"SET", "key:" + std::to_string(i), "value-" + std::to_string(i)});
  }
  ParseAll(state, input, kRequests);
}
BENCHMARK(BM_ParsePipelineOf16Sets);

void BM_ParseGet(benchmark::State& state) {
  ParseAll(state, MultibulkRequest({"GET", "key:123456"}), 1);
}
BENCHMARK(BM_ParseGet);

void BM_ParseInlinePing(benchmark::State& state) { ParseAll(state, "PING\r\n", 1); }
BENCHMARK(BM_ParseInlinePing);

void BM_ParseOneMegabyteBulk(benchmark::State& state) {
  constexpr size_t kValueBytes = 1024 * 1024;
  ParseAll(state, MultibulkRequest({"SET", "key", std::string(kValueBytes, 'v')}), 1);
}
BENCHMARK(BM_ParseOneMegabyteBulk);

// The same bulk arriving in 16 KB reads (Redis's PROTO_IOBUF_LEN): resuming must cost nothing
// per read beyond a length check, or this would be far slower than the one-read case.
void BM_ParseOneMegabyteBulkIn16KbReads(benchmark::State& state) {
  constexpr size_t kValueBytes = 1024 * 1024;
  constexpr size_t kReadBytes = 16 * 1024;
  const std::string input = MultibulkRequest({"SET", "key", std::string(kValueBytes, 'v')});
  RespParser parser;
  for (auto _ : state) {
    RespParser::Status status = RespParser::Status::kNeedMore;
    for (size_t available = kReadBytes; status == RespParser::Status::kNeedMore;
         available += kReadBytes) {
      status = parser.Parse(std::string_view(input).substr(0, available));
    }
    benchmark::DoNotOptimize(parser.args().data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(input.size()));
}
BENCHMARK(BM_ParseOneMegabyteBulkIn16KbReads);

// Builder benchmarks write `kRepliesPerIteration` replies into a reused string, as a connection
// fills its output buffer, and report bytes written.
constexpr int kRepliesPerIteration = 64;

template <typename Write>
void WriteReplies(benchmark::State& state, Write write) {
  std::string out;
  ReplyBuilder builder(&out, static_cast<int>(state.range(0)));
  int64_t bytes = 0;
  for (auto _ : state) {
    out.clear();
    for (int i = 0; i < kRepliesPerIteration; ++i) write(builder, i);
    bytes += static_cast<int64_t>(out.size());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * kRepliesPerIteration);
  state.SetBytesProcessed(bytes);
}

void BM_WriteBulk(benchmark::State& state) {
  const std::string value = "value-0123456789";
  WriteReplies(state, [&](ReplyBuilder& b, int) { b.Bulk(value); });
}
BENCHMARK(BM_WriteBulk)->ArgName("resp")->Arg(2)->Arg(3);

void BM_WriteInteger(benchmark::State& state) {
  WriteReplies(state, [](ReplyBuilder& b, int i) { b.Integer(int64_t{1} << (i % 63)); });
}
BENCHMARK(BM_WriteInteger)->ArgName("resp")->Arg(2)->Arg(3);

// An array of 10 bulk strings (as LRANGE or MGET reply).
void BM_WriteArrayOf10Bulks(benchmark::State& state) {
  const std::string value = "member";
  WriteReplies(state, [&](ReplyBuilder& b, int) {
    b.ArrayHeader(10);
    for (int j = 0; j < 10; ++j) b.Bulk(value);
  });
}
BENCHMARK(BM_WriteArrayOf10Bulks)->ArgName("resp")->Arg(2)->Arg(3);

void BM_WriteDouble(benchmark::State& state) {
  WriteReplies(state, [](ReplyBuilder& b, int i) { b.Double(i * 1.1); });
}
BENCHMARK(BM_WriteDouble)->ArgName("resp")->Arg(2)->Arg(3);

// A map of 4 pairs (as HGETALL or CONFIG GET reply): RESP2 writes a flat array.
void BM_WriteMapOf4Pairs(benchmark::State& state) {
  WriteReplies(state, [](ReplyBuilder& b, int) {
    b.MapHeader(4);
    for (int j = 0; j < 4; ++j) {
      b.Bulk("field");
      b.Integer(j);
    }
  });
}
BENCHMARK(BM_WriteMapOf4Pairs)->ArgName("resp")->Arg(2)->Arg(3);

}  // namespace
}  // namespace stockd::protocol
