#!/usr/bin/env bash
# Drives a running server with the real redis-cli and redis-benchmark: scripted commands, stdin
# and -x input, --no-raw formatting and error output, a --pipe bulk load of 100,000 SETs, RESP3
# output with -3, --scan, INFO, and a redis-benchmark smoke run.
#
# Run through the wrapper, which starts the server and sets STOCKD_PORT:
#
#   tests/integration/run_with_server.py -- bash tests/integration/redis_cli_test.sh
#
# Prints one line per failed check and "N passed, M failed" at the end; exits 1 on any failure.
# Every expectation was checked against redis-server 7.0.15 and redis-cli 7.0.15.
set -euo pipefail

HOST=${STOCKD_HOST:-127.0.0.1}
PORT=${STOCKD_PORT:?STOCKD_PORT is not set; run through tests/integration/run_with_server.py}
PIPE_KEYS_COUNT=100000
BENCH_REQUESTS_COUNT=20000
BENCH_TIMEOUT_S=90

passed=0
failed=0

cli() { redis-cli -h "$HOST" -p "$PORT" "$@"; }

# expect NAME ACTUAL EXPECTED: exact comparison (carriage returns are not stripped).
expect() {
  if [[ "$2" == "$3" ]]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    printf 'FAIL %s\n  expected: %q\n  actual:   %q\n' "$1" "$3" "$2"
  fi
}

# expect_match NAME ACTUAL EXTENDED_REGEX
expect_match() {
  if [[ "$2" =~ $3 ]]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    printf 'FAIL %s\n  expected to match: %s\n  actual: %q\n' "$1" "$3" "$2"
  fi
}

test_scripted_commands() {
  expect "flushall" "$(cli flushall)" "OK"
  expect "set" "$(cli set k v)" "OK"
  expect "get" "$(cli get k)" "v"
  expect "get missing (raw: empty line)" "$(cli get missing)" ""
  expect "incr" "$(cli incr counter)" "1"
  expect "incrby" "$(cli incrby counter 41)" "42"
  expect "mset" "$(cli mset a 1 b 2)" "OK"
  expect "mget" "$(cli mget a missing b)" $'1\n\n2'
  expect "exists" "$(cli exists a b missing)" "2"
  expect "set ex" "$(cli set t v ex 100)" "OK"
  expect "ttl" "$(cli ttl t)" "100"
  expect "del" "$(cli del a b missing)" "2"
  expect "quoted argument" "$(cli set 'key with space' 'value with space')" "OK"
  expect "get quoted" "$(cli get 'key with space')" "value with space"
  expect "type" "$(cli type k)" "string"
  expect "dbsize" "$(cli dbsize)" "4"
  # Commands on stdin, one per line.
  expect "stdin commands" "$(printf 'SET s1 a\nAPPEND s1 bc\nGET s1\n' | cli)" $'OK\n3\nabc'
  # -x: the last argument comes from stdin, verbatim.
  expect "-x set" "$(printf 'line1\nline2' | cli -x set xval)" "OK"
  expect "-x get" "$(cli get xval)" $'line1\nline2'
  # -n selects a database, -r repeats.
  expect "-n 3 set" "$(cli -n 3 set in3 x)" "OK"
  expect "db 0 does not see db 3" "$(cli get in3)" ""
  expect "-n 3 get" "$(cli -n 3 get in3)" "x"
  expect "-r 5 incr" "$(cli -r 5 incr repeated)" $'1\n2\n3\n4\n5'
  expect "ping" "$(cli ping)" "PONG"
  expect "echo" "$(cli echo 'hello world')" "hello world"
}

test_formatted_output() {
  expect "--no-raw string" "$(cli --no-raw get k)" '"v"'
  expect "--no-raw nil" "$(cli --no-raw get missing)" "(nil)"
  expect "--no-raw integer" "$(cli --no-raw incr counter)" "(integer) 43"
  expect "--no-raw status" "$(cli --no-raw set k v)" "OK"
  expect "--no-raw array" "$(cli --no-raw mget k missing)" $'1) "v"\n2) (nil)'
  expect "--no-raw empty array" "$(cli --no-raw keys 'nomatch*')" "(empty array)"
  expect "--no-raw binary" "$(cli --no-raw echo $'a\tb')" '"a\tb"'
  # Errors: "(error) " prefix when formatted, the bare text when raw.
  expect "--no-raw arity error" "$(cli --no-raw get)" \
    "(error) ERR wrong number of arguments for 'get' command"
  expect "--no-raw integer error" "$(cli --no-raw incr k)" \
    "(error) ERR value is not an integer or out of range"
  expect "--no-raw syntax error" "$(cli --no-raw set k v nx xx)" "(error) ERR syntax error"
  expect "--no-raw unknown command" "$(cli --no-raw nosuchcommand a b)" \
    "(error) ERR unknown command 'nosuchcommand', with args beginning with: 'a' 'b' "
  expect "raw arity error" "$(cli get 2>&1)" "ERR wrong number of arguments for 'get' command"
  expect "--no-raw select out of range" "$(cli --no-raw select 16)" \
    "(error) ERR DB index is out of range"
}

test_pipe_bulk_load() {
  cli flushall > /dev/null
  local output
  output=$(awk -v n="$PIPE_KEYS_COUNT" 'BEGIN {
      for (i = 0; i < n; i++) {
        k = "key:" i; v = "value:" i
        printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(k), k, length(v), v
      }
    }' | cli --pipe 2>&1)
  expect_match "--pipe summary" "$output" "errors: 0, replies: ${PIPE_KEYS_COUNT}\$"
  expect "dbsize after --pipe" "$(cli dbsize)" "$PIPE_KEYS_COUNT"
  expect "a loaded value" "$(cli get key:12345)" "value:12345"
  expect "last loaded value" "$(cli get "key:$((PIPE_KEYS_COUNT - 1))")" \
    "value:$((PIPE_KEYS_COUNT - 1))"
  # A bulk load with an error reports it.
  output=$(printf 'SET ok 1\r\nINCR ok\r\nSET broken\r\n' | cli --pipe 2>&1 || true)
  expect_match "--pipe with an error" "$output" "errors: 1, replies: 3\$"
  expect "del the key of the error load" "$(cli del ok)" "1"
}

test_scan() {
  # Keys from test_pipe_bulk_load, plus one that does not match.
  cli set other:1 x > /dev/null
  expect "--scan key:*" "$(cli --scan --pattern 'key:*' | sort -u | wc -l)" "$PIPE_KEYS_COUNT"
  expect "--scan key:1*" "$(cli --scan --pattern 'key:1*' | sort -u | wc -l)" "11111"
  expect "--scan key:9999*" "$(cli --scan --pattern 'key:9999*' | sort)" \
    $'key:9999\nkey:99990\nkey:99991\nkey:99992\nkey:99993\nkey:99994\nkey:99995\nkey:99996\nkey:99997\nkey:99998\nkey:99999'
  expect "--scan all" "$(cli --scan | sort -u | wc -l)" "$((PIPE_KEYS_COUNT + 1))"
}

test_info() {
  local info
  info=$(cli info | tr -d '\r')
  expect_match "info has # Server" "$info" $'(^|\n)# Server\n'
  expect_match "info has # Clients" "$info" $'\n# Clients\n'
  expect_match "info has # Keyspace" "$info" $'\n# Keyspace\n'
  expect_match "info redis_version" "$info" $'\nredis_version:[0-9]+\\.[0-9]+\\.[0-9]+'
  expect_match "info tcp_port" "$info" $'\ntcp_port:'"$PORT"$'\n'
  expect "info keyspace" "$(cli info keyspace | tr -d '\r')" \
    $'# Keyspace\ndb0:keys='"$((PIPE_KEYS_COUNT + 1))"',expires=0,avg_ttl=0'
  expect "info keyspace uses CRLF" "$(cli info keyspace | head -1 | od -An -c | tr -s ' ')" \
    " # K e y s p a c e \\r \\n"
}

test_resp3_output() {
  local hello
  hello=$(cli -3 --no-raw hello 3)
  expect_match "-3 hello server" "$hello" '^1# "server" => "[^"]+"'
  expect_match "-3 hello version" "$hello" $'\n2# "version" => "[0-9]+\\.[0-9]+\\.[0-9]+'
  expect_match "-3 hello proto" "$hello" $'\n3# "proto" => \\(integer\\) 3\n'
  expect_match "-3 hello id" "$hello" $'\n4# "id" => \\(integer\\) [0-9]+\n'
  expect_match "-3 hello mode" "$hello" $'\n5# "mode" => "standalone"\n'
  expect_match "-3 hello role" "$hello" $'\n6# "role" => "master"\n'
  expect_match "-3 hello modules" "$hello" $'\n7# "modules" => \\(empty array\\)$'
  expect "-3 config get map" "$(cli -3 --no-raw config get maxmemory)" '1# "maxmemory" => "0"'
  expect "-3 null" "$(cli -3 --no-raw get missing)" "(nil)"
  # Raw mode prints a map pair on one line, key and value separated by a space.
  expect "-3 raw config get" "$(cli -3 config get maxmemory)" "maxmemory 0"
  expect "RESP2 config get array" "$(cli --no-raw config get maxmemory)" $'1) "maxmemory"\n2) "0"'
}

test_benchmark_smoke() {
  local output
  output=$(timeout "$BENCH_TIMEOUT_S" redis-benchmark -h "$HOST" -p "$PORT" -t set,get,incr,ping \
    -P 16 -n "$BENCH_REQUESTS_COUNT" -q 2>&1 | tr '\r' '\n') || {
    failed=$((failed + 1))
    printf 'FAIL redis-benchmark did not finish in %s s:\n%s\n' "$BENCH_TIMEOUT_S" "$output"
    return
  }
  local test rps
  for test in PING_INLINE PING_MBULK SET GET INCR; do
    rps=$(printf '%s\n' "$output" |
      sed -nE "s/^${test}: ([0-9.]+) requests per second.*/\\1/p" | tail -1)
    if [[ -n "$rps" ]] && awk -v r="$rps" 'BEGIN { exit !(r > 0) }'; then
      passed=$((passed + 1))
      echo "redis-benchmark ${test}: ${rps} rps"
    else
      failed=$((failed + 1))
      printf 'FAIL redis-benchmark %s reported no nonzero rps; output:\n%s\n' "$test" "$output"
    fi
  done
  expect "server alive after benchmark" "$(cli ping)" "PONG"
}

test_scripted_commands
test_formatted_output
test_pipe_bulk_load
test_scan
test_info
test_resp3_output
test_benchmark_smoke

echo "redis_cli_test: ${passed} passed, ${failed} failed"
[[ $failed -eq 0 ]]
