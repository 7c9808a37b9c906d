// The snapshot value encoding (storage/value_codec.h) at snapshot scale: encode and decode time
// for many small SKUs (a SKU.SET and two reservations each, the shape of a catalogue during a
// sale) and for one SKU with many orders (a hot item at the end of a sale). Decoding includes
// the CheckInvariants run that every decoded SKU gets.
//
//   build/bench/codec_bench [--skus N] [--orders N]
//
// Links jemalloc, as the server does: decode time is mostly allocation.
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "storage/sku.h"
#include "storage/value.h"
#include "storage/value_codec.h"

namespace {

using stockd::storage::OrderKind;
using stockd::storage::Sku;
using stockd::storage::SkuError;
using stockd::storage::SkuSetArgs;
using stockd::storage::Value;
using stockd::storage::ValueType;
using Clock = std::chrono::steady_clock;

constexpr size_t kSkusDefault = 1'000'000;
constexpr size_t kOrdersDefault = 1'000'000;
constexpr int64_t kStartMs = 1'700'000'000'000;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// CPU time of this thread: on a machine shared with other work, wall time overstates the cost.
double CpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "codec_bench: %s\n", what);
    std::exit(1);
  }
}

// SKU.SET and two reservations by two users, with the default TTL.
Value SmallSku(size_t i) {
  auto sku = std::make_unique<Sku>();
  int64_t now = kStartMs + static_cast<int64_t>(i % 1000);
  SkuSetArgs set;
  set.on_hand = 100;
  Check(sku->Set(set, now) == SkuError::kNone, "set");
  const stockd::storage::Order* o;
  Check(sku->Reserve("ord-" + std::to_string(i), 1, "user-" + std::to_string(i), -1,
                     OrderKind::kReserve, now + 1, &o) == SkuError::kNone,
        "reserve");
  Check(sku->Reserve("ord-" + std::to_string(i + 1), 2, "user-" + std::to_string(i + 1), -1,
                     OrderKind::kReserve, now + 2, &o) == SkuError::kNone,
        "reserve");
  return Value::Of(ValueType::kSku, std::move(sku));
}

// One SKU with `orders` orders by distinct users: mostly open reservations with the default TTL
// (the deadline FIFO), one in eight with its own TTL (the ordered index), one in eight
// committed. The journal ring is full.
Value BigSku(size_t orders) {
  auto sku = std::make_unique<Sku>();
  SkuSetArgs set;
  set.on_hand = static_cast<int64_t>(orders) * 2;
  Check(sku->Set(set, kStartMs) == SkuError::kNone, "set");
  const stockd::storage::Order* o;
  for (size_t i = 0; i < orders; ++i) {
    int64_t now = kStartMs + static_cast<int64_t>(i / 16);
    std::string id = "order-" + std::to_string(i);
    int64_t ttl = i % 8 == 3 ? 60'000 + static_cast<int64_t>(i % 1000) : -1;
    Check(sku->Reserve(id, 1, "user-" + std::to_string(i), ttl, OrderKind::kReserve, now, &o) ==
              SkuError::kNone,
          "reserve");
    if (i % 8 == 5) Check(sku->Commit(id, now, &o) == SkuError::kNone, "commit");
  }
  return Value::Of(ValueType::kSku, std::move(sku));
}

// Encodes every value (each into a scratch buffer, as a snapshot writer would before handing it
// to RocksDB), drops the originals, then decodes them all from one buffer, as recovery would.
// Prints the times.
void Run(const char* name, std::vector<Value> values) {
  std::string scratch;
  size_t bytes = 0;
  Clock::time_point start = Clock::now();
  double cpu_start = CpuSeconds();
  for (const Value& v : values) {
    scratch.clear();
    stockd::storage::EncodeValue(v, &scratch);
    bytes += scratch.size();
  }
  double encode_s = SecondsSince(start);
  double encode_cpu_s = CpuSeconds() - cpu_start;
  std::string buf;
  buf.reserve(bytes);
  for (const Value& v : values) stockd::storage::EncodeValue(v, &buf);
  size_t n = values.size();
  values.clear();
  values.shrink_to_fit();
  std::printf("%s: values=%zu bytes=%zu (%.1f per value)\n  encode %.3f s wall, %.3f s cpu\n", name,
              n, buf.size(), static_cast<double>(buf.size()) / static_cast<double>(n), encode_s,
              encode_cpu_s);

  {
    std::vector<Value> decoded;
    decoded.reserve(n);
    std::string error;
    std::string_view in = buf;
    start = Clock::now();
    cpu_start = CpuSeconds();
    while (!in.empty()) {
      Value v;
      Check(stockd::storage::DecodeValue(&in, &v, &error), error.c_str());
      decoded.push_back(std::move(v));
    }
    double decode_s = SecondsSince(start);
    double decode_cpu_s = CpuSeconds() - cpu_start;
    Check(decoded.size() == n, "value count");
    std::printf("  decode %.3f s wall, %.3f s cpu\n", decode_s, decode_cpu_s);
  }
}

}  // namespace

int main(int argc, char** argv) {
  size_t skus = kSkusDefault, orders = kOrdersDefault;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--skus") == 0) {
      skus = std::strtoull(argv[i + 1], nullptr, 10);
    } else if (std::strcmp(argv[i], "--orders") == 0) {
      orders = std::strtoull(argv[i + 1], nullptr, 10);
    } else {
      std::fprintf(stderr, "usage: codec_bench [--skus N] [--orders N]\n");
      return 2;
    }
  }
  // Building the values by their operations first, for scale: it is what replaying their log
  // records would cost at least (without parsing or dispatch).
  Clock::time_point start = Clock::now();
  double cpu_start = CpuSeconds();
  std::vector<Value> small;
  small.reserve(skus);
  for (size_t i = 0; i < skus; ++i) small.push_back(SmallSku(i));
  std::printf("built %zu small SKUs by their operations: %.3f s wall, %.3f s cpu\n", skus,
              SecondsSince(start), CpuSeconds() - cpu_start);
  Run("small SKUs (set + 2 reserves)", std::move(small));

  start = Clock::now();
  cpu_start = CpuSeconds();
  std::vector<Value> big;
  big.push_back(BigSku(orders));
  std::printf("built a SKU with %zu orders by its operations: %.3f s wall, %.3f s cpu\n", orders,
              SecondsSince(start), CpuSeconds() - cpu_start);
  Run("one SKU with many orders", std::move(big));
  return 0;
}
