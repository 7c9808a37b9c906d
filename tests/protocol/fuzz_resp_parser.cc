// libFuzzer target for the request parser and the reply reader.
//
// The input is parsed twice: once whole, and once as a connection would receive it, in chunks
// whose sizes come from the input's own bytes, with the buffer moved to a new allocation before
// every call. Both must give the same commands and the same final status. Any mismatch, broken
// invariant or sanitizer report aborts.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/resp_parser.h"
#include "protocol/resp_reader.h"

namespace {

using stockd::protocol::RespParser;
using stockd::protocol::RespReader;
using Status = RespParser::Status;

// Small limits so that the fuzzer reaches every limit's edge with short inputs.
constexpr RespParser::Limits kFuzzLimits{
    .bulk_length_bytes_max = 64, .multibulk_length_max = 16, .inline_bytes_max = 48};
// Chunks are 1..kChunkBytesMax bytes long.
constexpr size_t kChunkBytesMax = 32;

struct Outcome {
  std::vector<std::vector<std::string>> commands;
  Status last = Status::kNeedMore;
  std::string error;
  size_t unconsumed_bytes = 0;

  bool operator==(const Outcome&) const = default;
};

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_resp_parser invariant broken: %s\n", what);
    std::abort();
  }
}

// Checks one kCommand against the buffer it was parsed from and records it.
void Record(const RespParser& parser, std::string_view buffer, Outcome* outcome) {
  Check(parser.consumed() > 0, "a command consumed nothing");
  Check(parser.consumed() <= buffer.size(), "consumed more than the input");
  std::vector<std::string> args;
  for (std::string_view arg : parser.args()) {
    // Multibulk arguments are always views into the input; inline ones may be decoded copies.
    if (buffer[0] == '*') {
      Check(arg.data() >= buffer.data() &&
                arg.data() + arg.size() <= buffer.data() + parser.consumed(),
            "a multibulk argument points outside its request");
    }
    args.emplace_back(arg);
  }
  if (buffer[0] != '*') {
    Check(parser.consumed() <= kFuzzLimits.inline_bytes_max + 1, "inline line over the limit");
  }
  outcome->commands.push_back(std::move(args));
}

Outcome ParseWhole(std::string_view input) {
  RespParser parser(kFuzzLimits);
  Outcome outcome;
  std::string_view rest = input;
  while (true) {
    const Status status = parser.Parse(rest);
    if (status == Status::kCommand) {
      Record(parser, rest, &outcome);
      rest.remove_prefix(parser.consumed());
      continue;
    }
    outcome.last = status;
    if (status == Status::kError) {
      outcome.error = parser.error();
      Check(parser.Parse(rest) == Status::kError, "an error did not stick");
    }
    break;
  }
  outcome.unconsumed_bytes = rest.size();
  return outcome;
}

Outcome ParseInChunks(std::string_view input) {
  RespParser parser(kFuzzLimits);
  Outcome outcome;
  std::string buffer;
  size_t fed = 0;
  size_t chunk_seed = 0;
  while (true) {
    std::string moved(buffer);  // a new allocation: the parser must not keep pointers
    buffer.swap(moved);
    const Status status = parser.Parse(buffer);
    if (status == Status::kCommand) {
      Record(parser, buffer, &outcome);
      buffer.erase(0, parser.consumed());
      continue;
    }
    if (status == Status::kError) {
      outcome.last = status;
      outcome.error = parser.error();
      break;
    }
    if (parser.bytes_needed_hint() != 0) {
      Check(parser.bytes_needed_hint() > buffer.size(), "hint asks for bytes already there");
    }
    if (fed == input.size()) break;
    // The chunk size comes from the input itself, so the fuzzer explores splits too.
    const auto byte = static_cast<unsigned char>(input[chunk_seed++ % input.size()]);
    const size_t chunk = std::min<size_t>(1 + byte % kChunkBytesMax, input.size() - fed);
    buffer.append(input.substr(fed, chunk));
    fed += chunk;
  }
  // Bytes never fed count too: after an error, the stream stops wherever the error was seen.
  outcome.unconsumed_bytes = buffer.size() + (input.size() - fed);
  return outcome;
}

void ReadReplies(std::string_view input) {
  // Every complete reply at the front, then at most one partial or malformed one.
  while (!input.empty()) {
    size_t consumed = 0;
    std::string error;
    const auto value = RespReader::Read(input, &consumed, &error);
    if (!value) {
      Check(consumed == 0, "consumed set without a value");
      return;
    }
    Check(consumed > 0 && consumed <= input.size(), "reader consumed out of range");
    Check(error.empty(), "reader set an error and returned a value");
    (void)value->ToString();
    input.remove_prefix(consumed);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const Outcome whole = ParseWhole(input);
  const Outcome chunked = ParseInChunks(input);
  Check(whole == chunked, "chunked parsing differs from whole-input parsing");
  ReadReplies(input);
  return 0;
}
