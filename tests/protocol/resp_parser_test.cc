#include "protocol/resp_parser.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace stockd::protocol {

// Readable gtest output for statuses (found by argument-dependent lookup, so outside the
// anonymous namespace).
void PrintTo(RespParser::Status status, std::ostream* os) {
  switch (status) {
    case RespParser::Status::kCommand:
      *os << "kCommand";
      return;
    case RespParser::Status::kNeedMore:
      *os << "kNeedMore";
      return;
    case RespParser::Status::kError:
      *os << "kError";
      return;
  }
}

namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using Status = RespParser::Status;
using Args = std::vector<std::string>;

// What a connection would see from feeding a byte stream to the parser.
struct StreamResult {
  std::vector<Args> commands;       // every kCommand, empty ones (blank lines, "*0") included
  Status last = Status::kNeedMore;  // kNeedMore when the stream ran out, else kError
  std::string error;
  size_t unconsumed_bytes = 0;  // of the whole input, fed or not

  bool operator==(const StreamResult&) const = default;
};

std::ostream& operator<<(std::ostream& os, const StreamResult& r) {
  os << "{commands:";
  for (const Args& args : r.commands) {
    os << " [";
    for (const std::string& a : args) os << '"' << a << "\" ";
    os << "]";
  }
  os << " last:";
  PrintTo(r.last, &os);
  return os << " error:\"" << r.error << "\" unconsumed:" << r.unconsumed_bytes << "}";
}

Args Copy(const std::vector<std::string_view>& views) { return Args(views.begin(), views.end()); }

// Feeds `input` to a parser like a connection would: the read boundaries are `cuts` (increasing
// offsets into input), consumed bytes are dropped, and before every Parse() the buffer moves to a
// new allocation, so the parser cannot depend on where the bytes live.
StreamResult ParseStream(std::string_view input, const std::vector<size_t>& cuts,
                         RespParser::Limits limits = {}) {
  RespParser parser(limits);
  StreamResult result;
  std::string buffer;
  size_t fed = 0;
  size_t next_cut = 0;
  while (true) {
    std::string moved(buffer);
    buffer.swap(moved);
    const Status status = parser.Parse(buffer);
    if (status == Status::kCommand) {
      EXPECT_GT(parser.consumed(), 0u);
      EXPECT_LE(parser.consumed(), buffer.size());
      for (std::string_view arg : parser.args()) {
        // Views into the buffer unless decoded from inline quotes.
        if (buffer[0] == '*') {
          EXPECT_GE(arg.data(), buffer.data());
          EXPECT_LE(arg.data() + arg.size(), buffer.data() + buffer.size());
        }
      }
      result.commands.push_back(Copy(parser.args()));
      buffer.erase(0, parser.consumed());
      continue;
    }
    if (status == Status::kError) {
      result.last = Status::kError;
      result.error = parser.error();
      break;
    }
    if (fed == input.size()) break;
    const size_t end = next_cut < cuts.size() ? cuts[next_cut++] : input.size();
    buffer.append(input.substr(fed, end - fed));
    fed = end;
  }
  // Bytes never fed count too: after an error, the stream stops wherever the error was seen.
  result.unconsumed_bytes = buffer.size() + (input.size() - fed);
  return result;
}

StreamResult ParseWhole(std::string_view input, RespParser::Limits limits = {}) {
  return ParseStream(input, {}, limits);
}

// Checks that every way of splitting `input` in two, and byte by byte, parses like the whole.
void ExpectSplitInvariant(std::string_view input, const RespParser::Limits& limits = {}) {
  const StreamResult whole = ParseWhole(input, limits);
  for (size_t cut = 1; cut < input.size(); ++cut) {
    ASSERT_EQ(ParseStream(input, {cut}, limits), whole) << "split at " << cut;
  }
  std::vector<size_t> every_byte;
  for (size_t i = 1; i <= input.size(); ++i) every_byte.push_back(i);
  ASSERT_EQ(ParseStream(input, every_byte, limits), whole) << "byte by byte";
}

TEST(RespParserTest, MultibulkCommand) {
  RespParser parser;
  const std::string_view input = "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n";
  ASSERT_EQ(parser.Parse(input), Status::kCommand);
  EXPECT_THAT(Copy(parser.args()), ElementsAre("GET", "key"));
  EXPECT_EQ(parser.consumed(), input.size());
  // The views point into the caller's buffer: no copy of the arguments was made.
  EXPECT_EQ(parser.args()[0].data(), input.data() + 8);
}

TEST(RespParserTest, InlineCommand) {
  RespParser parser;
  ASSERT_EQ(parser.Parse("SET k v\r\nGET k\r\n"), Status::kCommand);
  EXPECT_THAT(Copy(parser.args()), ElementsAre("SET", "k", "v"));
  EXPECT_EQ(parser.consumed(), 9u);
}

TEST(RespParserTest, EmptyInputNeedsMore) {
  RespParser parser;
  EXPECT_EQ(parser.Parse(""), Status::kNeedMore);
  EXPECT_EQ(parser.Parse("*"), Status::kNeedMore);
  EXPECT_EQ(parser.Parse("*1"), Status::kNeedMore);
  EXPECT_EQ(parser.Parse("*1\r"), Status::kNeedMore);  // the byte after '\r' must arrive
  EXPECT_EQ(parser.Parse("*1\r\n"), Status::kNeedMore);
  EXPECT_EQ(parser.Parse("*1\r\n$1\r\na\r"), Status::kNeedMore);
  EXPECT_EQ(parser.Parse("*1\r\n$1\r\na\r\n"), Status::kCommand);
}

// Every request shape, alone and all together, split at every byte.
TEST(RespParserTest, EverySplitGivesTheSameResult) {
  const std::vector<std::string> requests = {
      "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n",
      "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n",
      std::string("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$6\r\na\r\n\0b\n\r\n", 32),
      "*0\r\n",
      "*-1\r\n",
      "PING\r\n",
      "PING\n",
      "\r\n",
      "\n",
      "   \t \r\n",
      "SET \"a b\" 'c d' \"\\x41\\n\"\r\n",
      "ECHO \"\"\r\n",
      "*1\r\n$4\r\nPING\r\n",
  };
  std::string all;
  for (const std::string& request : requests) {
    SCOPED_TRACE(request);
    const StreamResult whole = ParseWhole(request);
    ASSERT_EQ(whole.last, Status::kNeedMore);
    ASSERT_EQ(whole.commands.size(), 1u);
    ASSERT_EQ(whole.unconsumed_bytes, 0u);
    ExpectSplitInvariant(request);
    all += request;
  }
  const StreamResult whole = ParseWhole(all);
  EXPECT_EQ(whole.commands.size(), requests.size());
  EXPECT_EQ(whole.unconsumed_bytes, 0u);
  ExpectSplitInvariant(all);
}

TEST(RespParserTest, EverySplitOfAnErrorGivesTheSameError) {
  const RespParser::Limits small{
      .bulk_length_bytes_max = 8, .multibulk_length_max = 4, .inline_bytes_max = 12};
  for (const std::string& input : std::vector<std::string>{
           "*1\r\n$3\r\nGET\r\n*x\r\n",
           "PING\r\n*1\r\nGET\r\n",
           "*1\r\n$9\r\n",
           "*5\r\n",
           "GET \"unbalanced\r\n",
           "GET \"a\r\n",
           "GET a b c d e f g h\r\n",
           "*1\r\n$123456789012345\r\n",
           "*123456789012345\r\n",
       }) {
    SCOPED_TRACE(input);
    ASSERT_EQ(ParseWhole(input, small).last, Status::kError);
    ExpectSplitInvariant(input, small);
  }
}

TEST(RespParserTest, TenThousandPipelinedRequestsInOneBuffer) {
  constexpr int kRequests = 10'000;
  std::string buffer;
  for (int i = 0; i < kRequests; ++i) {
    const std::string key = "key:" + std::to_string(i);
    if (i % 3 == 0) {
      buffer += "GET " + key + "\r\n";
    } else {
      buffer += "*3\r\n$3\r\nSET\r\n$" + std::to_string(key.size()) + "\r\n" + key + "\r\n$" +
                std::to_string(std::to_string(i).size()) + "\r\n" + std::to_string(i) + "\r\n";
    }
  }
  RespParser parser;
  std::string_view rest = buffer;
  int parsed = 0;
  while (!rest.empty()) {
    ASSERT_EQ(parser.Parse(rest), Status::kCommand) << "request " << parsed;
    const std::string key = "key:" + std::to_string(parsed);
    if (parsed % 3 == 0) {
      ASSERT_THAT(Copy(parser.args()), ElementsAre("GET", key));
    } else {
      ASSERT_THAT(Copy(parser.args()), ElementsAre("SET", key, std::to_string(parsed)));
    }
    rest.remove_prefix(parser.consumed());
    ++parsed;
  }
  EXPECT_EQ(parsed, kRequests);
  EXPECT_EQ(parser.Parse(rest), Status::kNeedMore);
}

TEST(RespParserTest, BulkValuesAreBinarySafe) {
  const std::string value("a\r\nb\0c\r\n\r\n$3\r\n*1\r\n", 19);
  const std::string input =
      "*2\r\n$4\r\nECHO\r\n$" + std::to_string(value.size()) + "\r\n" + value + "\r\n";
  RespParser parser;
  ASSERT_EQ(parser.Parse(input), Status::kCommand);
  ASSERT_EQ(parser.args().size(), 2u);
  EXPECT_EQ(parser.args()[1], value);
  EXPECT_EQ(parser.consumed(), input.size());
  ExpectSplitInvariant(input);
}

TEST(RespParserTest, EmptyLinesAreConsumedWithNoArgs) {
  for (const std::string_view input :
       {"\r\n", "\n", "   \r\n", "\t\v\f \n", "*0\r\n", "*-1\r\n", "*-5\r\n"}) {
    RespParser parser;
    ASSERT_EQ(parser.Parse(input), Status::kCommand) << input;
    EXPECT_THAT(parser.args(), IsEmpty()) << input;
    EXPECT_EQ(parser.consumed(), input.size()) << input;
  }
  // The empty request does not disturb the one after it.
  RespParser parser;
  const std::string_view input = "\r\n*0\r\nPING\r\n";
  ASSERT_EQ(parser.Parse(input), Status::kCommand);
  EXPECT_EQ(parser.consumed(), 2u);
  ASSERT_EQ(parser.Parse(input.substr(2)), Status::kCommand);
  EXPECT_EQ(parser.consumed(), 4u);
  ASSERT_EQ(parser.Parse(input.substr(6)), Status::kCommand);
  EXPECT_THAT(Copy(parser.args()), ElementsAre("PING"));
}

struct InlineCase {
  std::string line;
  Args args;
};

TEST(RespParserTest, InlineSplittingFollowsSdssplitargs) {
  const std::vector<InlineCase> cases = {
      {"SET k v\r\n", {"SET", "k", "v"}},
      {"PING\n", {"PING"}},
      {"  SET   k\t\tv  \r\n", {"SET", "k", "v"}},
      {"\vGET k\n", {"GET", "k"}},          // \v and \f are skipped between arguments...
      {"GET a\vb\n", {"GET", "a\vb"}},      // ...but do not end one
      {"GET a\rb\r\n", {"GET", "a", "b"}},  // a CR not before LF ends an argument
      {"SET \"a b\" c\r\n", {"SET", "a b", "c"}},
      {"SET 'a b' c\r\n", {"SET", "a b", "c"}},
      {"ECHO \"\"\r\n", {"ECHO", ""}},
      {"ECHO ''\r\n", {"ECHO", ""}},
      {"ECHO \"\\n\\r\\t\\b\\a\\\\\\\"\"\r\n", {"ECHO", "\n\r\t\b\a\\\""}},
      {"ECHO \"\\x41\\x4a\\x4A\\x00z\"\r\n", {"ECHO", std::string("AJJ\0z", 5)}},
      {"ECHO \"\\x4g\"\r\n", {"ECHO", "x4g"}},  // not two hex digits: \x is just 'x'
      {"ECHO \"\\q\"\r\n", {"ECHO", "q"}},      // unknown escapes give the character
      {"ECHO 'it\\'s'\r\n", {"ECHO", "it's"}},
      {"ECHO 'a\\nb'\r\n", {"ECHO", "a\\nb"}},  // single quotes: only \' is an escape
      {"ECHO 'a\"b'\r\n", {"ECHO", "a\"b"}},
      {"ECHO \"a'b\"\r\n", {"ECHO", "a'b"}},
      {"ECHO foo\"bar baz\"\r\n", {"ECHO", "foobar baz"}},  // a quote may open mid-argument
      {"ECHO \"a\"\tb\r\n", {"ECHO", "a", "b"}},
      {"ECHO \"a\"\r\n", {"ECHO", "a"}},
      {std::string("ECHO a\0b\r\n", 10), {"ECHO", std::string("a\0b", 3)}},
  };
  for (const InlineCase& c : cases) {
    SCOPED_TRACE(c.line);
    RespParser parser;
    ASSERT_EQ(parser.Parse(c.line), Status::kCommand) << parser.error();
    EXPECT_EQ(Copy(parser.args()), c.args);
    EXPECT_EQ(parser.consumed(), c.line.size());
    ExpectSplitInvariant(c.line);
  }
}

TEST(RespParserTest, UnbalancedQuotes) {
  for (const std::string_view line : {"SET \"a b\r\n", "SET 'a b\r\n", "SET \"a\"b\r\n",
                                      "SET 'a'b\r\n", "SET \"a\\\"\r\n", "SET \"a\\\r\n", "\"\n"}) {
    RespParser parser;
    ASSERT_EQ(parser.Parse(line), Status::kError) << line;
    EXPECT_EQ(parser.error(), "Protocol error: unbalanced quotes in request");
  }
}

struct ErrorCase {
  std::string input;
  std::string error;
};

TEST(RespParserTest, ErrorTextsMatchRedis) {
  const std::vector<ErrorCase> cases = {
      {"*abc\r\n", "Protocol error: invalid multibulk length"},
      {"*\r\n", "Protocol error: invalid multibulk length"},
      {"*01\r\n", "Protocol error: invalid multibulk length"},
      {"*+1\r\n", "Protocol error: invalid multibulk length"},
      {"*-0\r\n", "Protocol error: invalid multibulk length"},
      {"*1 \r\n", "Protocol error: invalid multibulk length"},
      {"*99999999999999999999\r\n", "Protocol error: invalid multibulk length"},
      {"*1\r\n$-1\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n$abc\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n$\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n$01\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n$-0\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\nGET\r\n", "Protocol error: expected '$', got 'G'"},
      {"*2\r\n$1\r\na\r\n:1\r\n", "Protocol error: expected '$', got ':'"},
      {"*1\r\n\r\n", "Protocol error: expected '$', got '\r'"},
      {"*1" + std::string(kInlineBytesMax, '1'), "Protocol error: too big mbulk count string"},
      {"*1\r\n$" + std::string(kInlineBytesMax, '1'), "Protocol error: too big bulk count string"},
      {std::string(kInlineBytesMax + 1, 'a'), "Protocol error: too big inline request"},
      {"GET \"a\r\n", "Protocol error: unbalanced quotes in request"},
  };
  for (const ErrorCase& c : cases) {
    SCOPED_TRACE(c.input.substr(0, 40));
    RespParser parser;
    ASSERT_EQ(parser.Parse(c.input), Status::kError);
    EXPECT_EQ(parser.error(), c.error);
  }
}

TEST(RespParserTest, ExpectedDollarWaitsForTheWholeLineLikeRedis) {
  RespParser parser;
  EXPECT_EQ(parser.Parse("*1\r\nX"), Status::kNeedMore);
  EXPECT_EQ(parser.Parse("*1\r\nXY\r"), Status::kNeedMore);
  ASSERT_EQ(parser.Parse("*1\r\nXY\r\n"), Status::kError);
  EXPECT_EQ(parser.error(), "Protocol error: expected '$', got 'X'");
}

TEST(RespParserTest, BulkTerminatorIsSkippedUncheckedLikeRedis) {
  // Redis skips the two bytes after a bulk body without looking at them; so do we.
  RespParser parser;
  ASSERT_EQ(parser.Parse("*2\r\n$1\r\naXY$1\r\nb\r\n"), Status::kCommand);
  EXPECT_THAT(Copy(parser.args()), ElementsAre("a", "b"));
}

TEST(RespParserTest, ErrorIsStickyUntilReset) {
  RespParser parser;
  ASSERT_EQ(parser.Parse("*x\r\n"), Status::kError);
  EXPECT_EQ(parser.Parse("PING\r\n"), Status::kError);
  EXPECT_EQ(parser.error(), "Protocol error: invalid multibulk length");
  parser.Reset();
  EXPECT_TRUE(parser.error().empty());
  ASSERT_EQ(parser.Parse("PING\r\n"), Status::kCommand);
  EXPECT_THAT(Copy(parser.args()), ElementsAre("PING"));
}

TEST(RespParserTest, ResetForgetsAPartialRequest) {
  RespParser parser;
  ASSERT_EQ(parser.Parse("*2\r\n$3\r\nGET\r\n"), Status::kNeedMore);
  parser.Reset();
  ASSERT_EQ(parser.Parse("PING\r\n"), Status::kCommand);
  EXPECT_THAT(Copy(parser.args()), ElementsAre("PING"));
}

// Limits, each at its edge. Small limits keep this cheap; the defaults get their own test below.
constexpr RespParser::Limits kSmall{
    .bulk_length_bytes_max = 10, .multibulk_length_max = 3, .inline_bytes_max = 16};

TEST(RespParserLimitsTest, BulkLengthAtLimitAcceptedOneOverRefused) {
  RespParser parser(kSmall);
  ASSERT_EQ(parser.Parse("*1\r\n$10\r\n0123456789\r\n"), Status::kCommand);
  EXPECT_EQ(parser.args()[0], "0123456789");
  ASSERT_EQ(parser.Parse("*1\r\n$11\r\n"), Status::kError);
  EXPECT_EQ(parser.error(), "Protocol error: invalid bulk length");
}

TEST(RespParserLimitsTest, MultibulkLengthAtLimitAcceptedOneOverRefused) {
  RespParser parser(kSmall);
  ASSERT_EQ(parser.Parse("*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"), Status::kCommand);
  EXPECT_EQ(parser.args().size(), 3u);
  ASSERT_EQ(parser.Parse("*4\r\n"), Status::kError);
  EXPECT_EQ(parser.error(), "Protocol error: invalid multibulk length");
}

TEST(RespParserLimitsTest, InlineLineAtLimitAcceptedOneOverRefused) {
  // The newline may sit at offset inline_bytes_max (16 bytes before it), not one further.
  const std::string at_limit_lf = std::string(16, 'a') + "\n";      // '\n' at offset 16
  const std::string at_limit_crlf = std::string(15, 'a') + "\r\n";  // '\n' at offset 16
  const std::string over_lf = std::string(17, 'a') + "\n";          // '\n' at offset 17
  const std::string over_crlf = std::string(16, 'a') + "\r\n";      // '\n' at offset 17
  {
    RespParser parser(kSmall);
    ASSERT_EQ(parser.Parse(at_limit_lf), Status::kCommand);
    EXPECT_EQ(parser.args()[0], std::string(16, 'a'));
  }
  {
    RespParser parser(kSmall);
    ASSERT_EQ(parser.Parse(at_limit_crlf), Status::kCommand);
    EXPECT_EQ(parser.args()[0], std::string(15, 'a'));
  }
  for (const std::string& over : {over_lf, over_crlf}) {
    RespParser parser(kSmall);
    ASSERT_EQ(parser.Parse(over), Status::kError);
    EXPECT_EQ(parser.error(), "Protocol error: too big inline request");
  }
  // Without a newline: 16 buffered bytes may still become a request, 17 cannot.
  RespParser parser(kSmall);
  EXPECT_EQ(parser.Parse(std::string(16, 'a')), Status::kNeedMore);
  ASSERT_EQ(parser.Parse(std::string(17, 'a')), Status::kError);
  EXPECT_EQ(parser.error(), "Protocol error: too big inline request");
}

TEST(RespParserLimitsTest, InlineLimitHoldsHoweverTheLineArrives) {
  const std::string over = std::string(17, 'a') + "\n";
  ExpectSplitInvariant(over, kSmall);
  EXPECT_EQ(ParseWhole(over, kSmall).last, Status::kError);
}

TEST(RespParserLimitsTest, MultibulkCountLineAtLimitAcceptedOneOverRefused) {
  // "*-" and 14 digits: the '\r' is at offset 16, the limit. A negative count is an empty request.
  const std::string at_limit = "*-12345678901234\r\n";
  RespParser parser(kSmall);
  ASSERT_EQ(parser.Parse(at_limit), Status::kCommand);
  EXPECT_EQ(parser.consumed(), at_limit.size());
  ASSERT_EQ(parser.Parse("*-123456789012345\r\n"), Status::kError);
  EXPECT_EQ(parser.error(), "Protocol error: too big mbulk count string");
  // Without a '\r': 16 bytes wait, 17 are refused.
  RespParser waiting(kSmall);
  EXPECT_EQ(waiting.Parse("*-12345678901234"), Status::kNeedMore);
  ASSERT_EQ(waiting.Parse("*-123456789012345"), Status::kError);
  EXPECT_EQ(waiting.error(), "Protocol error: too big mbulk count string");
}

TEST(RespParserLimitsTest, BulkLengthLineAtLimitAcceptedOneOverRefused) {
  const RespParser::Limits limits{.inline_bytes_max = 4};
  RespParser parser(limits);
  // "$100" puts its '\r' at offset 4 from the line start.
  ASSERT_EQ(parser.Parse("*1\r\n$100\r\n"), Status::kNeedMore);
  RespParser over(limits);
  ASSERT_EQ(over.Parse("*1\r\n$1000\r\n"), Status::kError);
  EXPECT_EQ(over.error(), "Protocol error: too big bulk count string");
  RespParser waiting(limits);
  EXPECT_EQ(waiting.Parse("*1\r\n$100"), Status::kNeedMore);
  ASSERT_EQ(waiting.Parse("*1\r\n$1000"), Status::kError);
  EXPECT_EQ(waiting.error(), "Protocol error: too big bulk count string");
}

TEST(RespParserLimitsTest, DefaultLimitsAtTheirEdges) {
  {
    RespParser parser;
    const std::string bulk = "*1\r\n$" + std::to_string(kBulkLengthBytesMaxDefault) + "\r\n";
    EXPECT_EQ(parser.Parse(bulk), Status::kNeedMore);
    EXPECT_EQ(parser.bytes_needed_hint(), bulk.size() + kBulkLengthBytesMaxDefault + 2);
  }
  {
    RespParser parser;
    ASSERT_EQ(parser.Parse("*1\r\n$" + std::to_string(kBulkLengthBytesMaxDefault + 1) + "\r\n"),
              Status::kError);
    EXPECT_EQ(parser.error(), "Protocol error: invalid bulk length");
  }
  {
    // Accepting the largest count must not reserve memory for it (the test would run out).
    RespParser parser;
    EXPECT_EQ(parser.Parse("*" + std::to_string(kMultibulkLengthMax) + "\r\n"), Status::kNeedMore);
  }
  {
    RespParser parser;
    ASSERT_EQ(parser.Parse("*" + std::to_string(kMultibulkLengthMax + 1) + "\r\n"), Status::kError);
    EXPECT_EQ(parser.error(), "Protocol error: invalid multibulk length");
  }
  {
    RespParser parser;
    const std::string line = std::string(kInlineBytesMax, 'a') + "\n";
    ASSERT_EQ(parser.Parse(line), Status::kCommand);
    EXPECT_EQ(parser.args()[0].size(), kInlineBytesMax);
  }
  {
    RespParser parser;
    ASSERT_EQ(parser.Parse(std::string(kInlineBytesMax + 1, 'a') + "\n"), Status::kError);
    EXPECT_EQ(parser.error(), "Protocol error: too big inline request");
  }
}

TEST(RespParserTest, BytesNeededHintWhileReadingABulk) {
  RespParser parser;
  // "*1\r\n" (4) + "$10\r\n" (5) + 10 bytes + "\r\n" (2) = 21.
  EXPECT_EQ(parser.Parse("*1\r\n$10"), Status::kNeedMore);
  EXPECT_EQ(parser.bytes_needed_hint(), 0u);  // the length is not known yet
  EXPECT_EQ(parser.Parse("*1\r\n$10\r\nabc"), Status::kNeedMore);
  EXPECT_EQ(parser.bytes_needed_hint(), 21u);
  EXPECT_EQ(parser.Parse("*1\r\n$10\r\n0123456789\r"), Status::kNeedMore);
  EXPECT_EQ(parser.bytes_needed_hint(), 21u);
  EXPECT_EQ(parser.Parse("*1\r\n$10\r\n0123456789\r\n"), Status::kCommand);
  EXPECT_EQ(parser.bytes_needed_hint(), 0u);
}

TEST(RespParserTest, OneMegabyteBulkInFourKilobyteChunks) {
  constexpr size_t kValueBytes = 1024 * 1024;
  constexpr size_t kChunkBytes = 4096;
  std::string value(kValueBytes, '\0');
  for (size_t i = 0; i < value.size(); ++i) value[i] = static_cast<char>(i * 31 + 7);
  const std::string input =
      "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$" + std::to_string(kValueBytes) + "\r\n" + value + "\r\n";
  RespParser parser;
  std::string buffer;
  size_t calls = 0;
  Status status = Status::kNeedMore;
  for (size_t fed = 0; fed < input.size(); fed += kChunkBytes) {
    buffer.append(input.substr(fed, kChunkBytes));
    status = parser.Parse(buffer);
    ++calls;
    if (status != Status::kNeedMore) break;
    if (buffer.size() > 30) {
      EXPECT_EQ(parser.bytes_needed_hint(), input.size());
    }
  }
  ASSERT_EQ(status, Status::kCommand);
  EXPECT_EQ(calls, (input.size() + kChunkBytes - 1) / kChunkBytes);
  EXPECT_EQ(parser.consumed(), input.size());
  ASSERT_EQ(parser.args().size(), 3u);
  EXPECT_TRUE(parser.args()[2] == value);
}

// The contract lets the parser skip bytes it already accepted. Scribbling over them between calls
// proves it does: a parser that rescanned would see the scribbles.
TEST(RespParserTest, ResumeDoesNotRescanAcceptedMultibulkBytes) {
  RespParser parser;
  std::string buffer = "*2\r\n$3\r\nGET\r\n$3\r\nk";
  ASSERT_EQ(parser.Parse(buffer), Status::kNeedMore);
  std::string scribbled(buffer.size(), '!');
  scribbled.replace(8, 3, "GET");  // keep the first argument's bytes: it is read at the end
  scribbled.replace(17, 1, "k");
  scribbled += "ey\r\n";
  ASSERT_EQ(parser.Parse(scribbled), Status::kCommand);
  EXPECT_THAT(Copy(parser.args()), ElementsAre("GET", "key"));
}

TEST(RespParserTest, ResumeDoesNotRescanAnInlineLineForItsNewline) {
  RespParser parser;
  ASSERT_EQ(parser.Parse("ECHO abc"), Status::kNeedMore);
  // A newline planted in the searched part is not seen: the search resumes at byte 8.
  ASSERT_EQ(parser.Parse("ECHO\nabcdef\n"), Status::kCommand);
  EXPECT_EQ(parser.consumed(), 12u);
}

TEST(RespParserTest, ArgsPointIntoTheLatestBuffer) {
  RespParser parser;
  std::string first = "*2\r\n$3\r\nGET\r\n$3\r\nk";
  ASSERT_EQ(parser.Parse(first), Status::kNeedMore);
  const std::string second = first + "ey\r\n";
  first.assign(first.size(), 'x');  // the old buffer is gone as far as the parser may know
  ASSERT_EQ(parser.Parse(second), Status::kCommand);
  EXPECT_EQ(parser.args()[0].data(), second.data() + 8);
  EXPECT_EQ(parser.args()[1].data(), second.data() + 17);
}

TEST(RespParserTest, SetLimitsAppliesToTheNextHeader) {
  RespParser parser;
  parser.set_limits({.bulk_length_bytes_max = 2});
  ASSERT_EQ(parser.Parse("*1\r\n$3\r\n"), Status::kError);
  EXPECT_EQ(parser.error(), "Protocol error: invalid bulk length");
}

}  // namespace
}  // namespace stockd::protocol
