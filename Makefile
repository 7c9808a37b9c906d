# A new user's commands. See README.md.
BUILD_DIR ?= build
FUZZ_DIR  ?= build-fuzz
JOBS      ?= $(shell nproc)
PORT      ?= 6379
FUZZ_SECONDS ?= 30
CMAKE_FLAGS ?=

.PHONY: all deps build run test unit integration crash-soak chaos fuzz bench bench-inventory \
	bench-durable bench-micro bench-wal bench-recovery bench-replication format clean

all: build

deps:
	@bash tools/install-deps.sh

$(BUILD_DIR)/build.ninja $(BUILD_DIR)/Makefile:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

build: deps $(BUILD_DIR)/Makefile
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	mkdir -p data
	$(BUILD_DIR)/stockd --port $(PORT) --bind 127.0.0.1 --dir ./data

# Every test: a bounded fuzz run of the RESP parser, then unit (gtest via ctest) and integration
# (real server, real clients) tests. ctest runs last so its summary closes the output.
test: build
	$(MAKE) --no-print-directory fuzz
	cd $(BUILD_DIR) && ctest --output-on-failure -j 2 --timeout 600

unit: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L unit

integration: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L integration

# The kill -9 test (tests/integration/test_crash.py) for many cycles instead of make test's few:
# CRASH_CYCLES kill/restart/verify rounds (about 3 s each).
CRASH_CYCLES ?= 300
crash-soak: build
	STOCKD_CRASH_CYCLES=$(CRASH_CYCLES) STOCKD_SERVER=$(abspath $(BUILD_DIR))/stockd \
	  /usr/bin/python3 tests/integration/test_crash.py -v

# The chaos tool (tools/chaos.py): a primary and a standby under a mixed load while the link is
# cut and delayed, the standby killed and the primary killed or paused; CHAOS_CYCLES failovers
# (about 6 s each), every acknowledged write checked after each. CHAOS_ARGS="--mode async" for
# asynchronous replication (losses reported, not failed on), "--seed N" to repeat a run.
CHAOS_CYCLES ?= 100
CHAOS_ARGS ?=
chaos: build
	/usr/bin/python3 tools/chaos.py --cycles $(CHAOS_CYCLES) --stockd $(abspath $(BUILD_DIR))/stockd \
	  $(CHAOS_ARGS)

fuzz: deps
	cmake -S . -B $(FUZZ_DIR) -DSTOCKD_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
	cmake --build $(FUZZ_DIR) -j $(JOBS) --target fuzz_resp_parser
	mkdir -p $(FUZZ_DIR)/corpus
	@echo "fuzz: RESP parser for $(FUZZ_SECONDS) s (log: $(FUZZ_DIR)/fuzz.log)"
	@$(FUZZ_DIR)/tests/fuzz_resp_parser -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
	  $(FUZZ_DIR)/corpus tests/protocol/fuzz_seeds > $(FUZZ_DIR)/fuzz.log 2>&1 \
	  && grep '^Done' $(FUZZ_DIR)/fuzz.log \
	  || (tail -50 $(FUZZ_DIR)/fuzz.log; echo "fuzz: FAILED (crash input saved in the working directory)"; exit 1)

bench: build
	bash bench/compare

# Flash-sale deduction: Redis + Lua scripts (EVALSHA) against stockd's SKU.* commands.
bench-inventory: build
	bash bench/inventory

# The same workloads with both servers logging every write (appendfsync always and everysec):
# throughput ratios, group-commit batch sizes and this disk's fsync latency.
bench-durable: build
	bash bench/durable

bench-micro: build
	$(BUILD_DIR)/bench/protocol_bench

# Recovery after kill -9: 1M SKUs in a snapshot plus 10M log records after it (several minutes,
# about 6 GB of memory); RECOVERY_ARGS="--skus 50000 --records 500000" for a quick run.
RECOVERY_ARGS ?=
bench-recovery: build
	/usr/bin/python3 bench/recovery.py $(RECOVERY_ARGS)

# Replication's cost: durable SKU.RESERVE with a sync standby, an async one, and none
# (bench/replication.py; REPLICATION_ARGS="-R 5 -n 200000" for the figures in the docs).
bench-replication: build
	/usr/bin/python3 bench/replication.py $(REPLICATION_ARGS)

# The WAL writer alone: records/s, group-commit batch sizes and fsync latency on this disk.
bench-wal: build
	$(BUILD_DIR)/bench/wal_bench --seconds 3

format:
	find protocol storage server replication tools tests bench -name '*.h' -o -name '*.cc' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR) $(FUZZ_DIR)
