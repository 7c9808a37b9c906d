/* hiredis against a running server: SET/GET/INCR/MGET, pipelining with redisAppendCommand and
 * redisGetReply, RESP3 HELLO 3 with a map reply, and error replies.
 *
 * Reads the port from $STOCKD_PORT (host $STOCKD_HOST, default 127.0.0.1); run it through
 * run_with_server.py:
 *
 *     tests/integration/run_with_server.py -- build/tests/integration/hiredis_test
 *
 * Exits 0 when every check passes, otherwise prints each mismatch and exits 1. Every expectation
 * was checked against redis-server 7.0.15.
 *
 * RESP3: hiredis learnt RESP3 (REDIS_REPLY_MAP and friends) in 1.0. Debian 12 ships 0.14, whose
 * reader rejects '%' replies, so without REDIS_REPLY_MAP the HELLO 3 check reads the map on a
 * plain socket instead, and checks its bytes. */
#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

enum {
  kPipelineCommandsCount = 10000,
  kBigValueBytes = 1 << 20,
  kRawReplyBytesMax = 4096,
};

static int failures_count = 0;
static int checks_count = 0;

static void fail(const char *file, int line, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "%s:%d: FAIL: ", file, line);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  failures_count++;
}

#define CHECK(cond, ...)                                  \
  do {                                                    \
    checks_count++;                                       \
    if (!(cond)) fail(__FILE__, __LINE__, __VA_ARGS__);   \
  } while (0)

static const char *type_name(int type) {
  switch (type) {
    case REDIS_REPLY_STRING: return "string";
    case REDIS_REPLY_ARRAY: return "array";
    case REDIS_REPLY_INTEGER: return "integer";
    case REDIS_REPLY_NIL: return "nil";
    case REDIS_REPLY_STATUS: return "status";
    case REDIS_REPLY_ERROR: return "error";
#ifdef REDIS_REPLY_MAP
    case REDIS_REPLY_MAP: return "map";
    case REDIS_REPLY_SET: return "set";
    case REDIS_REPLY_DOUBLE: return "double";
    case REDIS_REPLY_BOOL: return "bool";
#endif
    default: return "other";
  }
}

/* Checks a reply's type and, for strings, statuses and errors, its exact text. Frees the reply. */
static void expect_text(const char *file, int line, redisReply *reply, int type,
                        const char *text) {
  checks_count++;
  if (reply == NULL) {
    fail(file, line, "no reply (connection error) where %s \"%s\" was expected",
         type_name(type), text);
    return;
  }
  if (reply->type != type) {
    fail(file, line, "reply type %s (\"%s\"), expected %s \"%s\"", type_name(reply->type),
         reply->str ? reply->str : "", type_name(type), text);
  } else if (text != NULL &&
             (reply->len != strlen(text) || memcmp(reply->str, text, reply->len) != 0)) {
    fail(file, line, "reply \"%.*s\", expected \"%s\"", (int)reply->len, reply->str, text);
  }
  freeReplyObject(reply);
}

static void expect_integer(const char *file, int line, redisReply *reply, long long value) {
  checks_count++;
  if (reply == NULL) {
    fail(file, line, "no reply where integer %lld was expected", value);
    return;
  }
  if (reply->type != REDIS_REPLY_INTEGER || reply->integer != value) {
    fail(file, line, "reply %s %lld \"%s\", expected integer %lld", type_name(reply->type),
         reply->integer, reply->str ? reply->str : "", value);
  }
  freeReplyObject(reply);
}

#define EXPECT_STATUS(r, text) expect_text(__FILE__, __LINE__, (r), REDIS_REPLY_STATUS, (text))
#define EXPECT_STRING(r, text) expect_text(__FILE__, __LINE__, (r), REDIS_REPLY_STRING, (text))
#define EXPECT_ERROR(r, text) expect_text(__FILE__, __LINE__, (r), REDIS_REPLY_ERROR, (text))
#define EXPECT_NIL(r) expect_text(__FILE__, __LINE__, (r), REDIS_REPLY_NIL, NULL)
#define EXPECT_INTEGER(r, v) expect_integer(__FILE__, __LINE__, (r), (v))

static redisReply *command(redisContext *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  redisReply *reply = redisvCommand(c, fmt, ap);
  va_end(ap);
  if (reply == NULL) fprintf(stderr, "connection error: %s\n", c->errstr);
  return reply;
}

static redisContext *connect_or_die(const char *host, int port) {
  struct timeval timeout = {10, 0};
  redisContext *c = redisConnectWithTimeout(host, port, timeout);
  if (c == NULL || c->err) {
    fprintf(stderr, "cannot connect to %s:%d: %s\n", host, port, c ? c->errstr : "out of memory");
    exit(1);
  }
  redisSetTimeout(c, timeout);
  return c;
}

static void test_basic_commands(redisContext *c) {
  EXPECT_STATUS(command(c, "PING"), "PONG");
  EXPECT_STATUS(command(c, "SET %s %s", "hiredis:key", "value"), "OK");
  EXPECT_STRING(command(c, "GET %s", "hiredis:key"), "value");
  EXPECT_NIL(command(c, "GET %s", "hiredis:missing"));

  /* Binary-safe keys and values. */
  const char binary[] = {'a', '\0', 'b', '\r', '\n', (char)0xff};
  EXPECT_STATUS(command(c, "SET %b %b", binary, sizeof binary, binary, sizeof binary), "OK");
  redisReply *reply = command(c, "GET %b", binary, sizeof binary);
  CHECK(reply && reply->type == REDIS_REPLY_STRING && reply->len == sizeof binary &&
            memcmp(reply->str, binary, sizeof binary) == 0,
        "binary value did not round-trip");
  if (reply) freeReplyObject(reply);

  /* A 1 MB value. */
  char *big = malloc(kBigValueBytes);
  for (int i = 0; i < kBigValueBytes; i++) big[i] = (char)('a' + i % 26);
  EXPECT_STATUS(command(c, "SET hiredis:big %b", big, (size_t)kBigValueBytes), "OK");
  reply = command(c, "GET hiredis:big");
  CHECK(reply && reply->type == REDIS_REPLY_STRING && reply->len == (size_t)kBigValueBytes &&
            memcmp(reply->str, big, kBigValueBytes) == 0,
        "1 MB value did not round-trip");
  if (reply) freeReplyObject(reply);
  free(big);

  EXPECT_INTEGER(command(c, "INCR hiredis:counter"), 1);
  EXPECT_INTEGER(command(c, "INCRBY hiredis:counter %d", 41), 42);
  EXPECT_INTEGER(command(c, "DECR hiredis:counter"), 41);
  EXPECT_STRING(command(c, "GET hiredis:counter"), "41");

  EXPECT_STATUS(command(c, "MSET hiredis:a 1 hiredis:b 2"), "OK");
  reply = command(c, "MGET hiredis:a hiredis:missing hiredis:b");
  CHECK(reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 3, "MGET shape");
  if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 3) {
    CHECK(reply->element[0]->type == REDIS_REPLY_STRING && strcmp(reply->element[0]->str, "1") == 0,
          "MGET[0]");
    CHECK(reply->element[1]->type == REDIS_REPLY_NIL, "MGET[1] should be nil");
    CHECK(reply->element[2]->type == REDIS_REPLY_STRING && strcmp(reply->element[2]->str, "2") == 0,
          "MGET[2]");
  }
  if (reply) freeReplyObject(reply);

  EXPECT_INTEGER(command(c, "EXISTS hiredis:a hiredis:b hiredis:missing"), 2);
  EXPECT_INTEGER(command(c, "DEL hiredis:a hiredis:b"), 2);
  EXPECT_INTEGER(command(c, "EXPIRE hiredis:key 100"), 1);
  EXPECT_INTEGER(command(c, "TTL hiredis:key"), 100);
}

static void test_pipeline(redisContext *c) {
  for (int i = 0; i < kPipelineCommandsCount; i++) {
    if (redisAppendCommand(c, "SET hiredis:p:%d %d", i, i) != REDIS_OK ||
        redisAppendCommand(c, "INCR hiredis:pcounter") != REDIS_OK) {
      fail(__FILE__, __LINE__, "redisAppendCommand failed");
      return;
    }
  }
  redisAppendCommand(c, "MGET hiredis:p:0 hiredis:p:%d", kPipelineCommandsCount - 1);
  int mismatches = 0;
  for (int i = 0; i < kPipelineCommandsCount; i++) {
    redisReply *set_reply = NULL, *incr_reply = NULL;
    if (redisGetReply(c, (void **)&set_reply) != REDIS_OK ||
        redisGetReply(c, (void **)&incr_reply) != REDIS_OK) {
      fail(__FILE__, __LINE__, "redisGetReply failed at %d: %s", i, c->errstr);
      return;
    }
    if (set_reply->type != REDIS_REPLY_STATUS || strcmp(set_reply->str, "OK") != 0 ||
        incr_reply->type != REDIS_REPLY_INTEGER || incr_reply->integer != i + 1) {
      if (mismatches++ < 5) fail(__FILE__, __LINE__, "pipeline reply %d out of order", i);
    }
    freeReplyObject(set_reply);
    freeReplyObject(incr_reply);
  }
  checks_count++;
  redisReply *reply = NULL;
  if (redisGetReply(c, (void **)&reply) != REDIS_OK) {
    fail(__FILE__, __LINE__, "redisGetReply for MGET failed: %s", c->errstr);
    return;
  }
  char last[32];
  snprintf(last, sizeof last, "%d", kPipelineCommandsCount - 1);
  CHECK(reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
            strcmp(reply->element[0]->str, "0") == 0 && strcmp(reply->element[1]->str, last) == 0,
        "pipelined MGET");
  freeReplyObject(reply);

  /* A transaction, pipelined. */
  redisAppendCommand(c, "MULTI");
  redisAppendCommand(c, "SET hiredis:tx 1");
  redisAppendCommand(c, "INCR hiredis:tx");
  redisAppendCommand(c, "EXEC");
  const char *expected_status[] = {"OK", "QUEUED", "QUEUED"};
  for (int i = 0; i < 3; i++) {
    redisGetReply(c, (void **)&reply);
    EXPECT_STATUS(reply, expected_status[i]);
  }
  redisGetReply(c, (void **)&reply);
  CHECK(reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
            reply->element[0]->type == REDIS_REPLY_STATUS &&
            reply->element[1]->type == REDIS_REPLY_INTEGER && reply->element[1]->integer == 2,
        "EXEC reply");
  if (reply) freeReplyObject(reply);
}

static void test_errors(redisContext *c) {
  EXPECT_ERROR(command(c, "GET"), "ERR wrong number of arguments for 'get' command");
  EXPECT_ERROR(command(c, "NOSUCHCOMMAND a"),
               "ERR unknown command 'NOSUCHCOMMAND', with args beginning with: 'a' ");
  EXPECT_ERROR(command(c, "SET k v NX XX"), "ERR syntax error");
  EXPECT_STATUS(command(c, "SET hiredis:text abc"), "OK");
  EXPECT_ERROR(command(c, "INCR hiredis:text"), "ERR value is not an integer or out of range");
  EXPECT_ERROR(command(c, "SELECT 16"), "ERR DB index is out of range");
  EXPECT_ERROR(command(c, "EXEC"), "ERR EXEC without MULTI");
  /* An error leaves the connection usable. */
  EXPECT_STATUS(command(c, "PING"), "PONG");
  CHECK(c->err == 0, "context error after error replies: %s", c->errstr);
}

static void test_hello2(redisContext *c) {
  redisReply *reply = command(c, "HELLO 2");
  CHECK(reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 14,
        "HELLO 2 should be a flat array of 14 elements");
  if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 14) {
    CHECK(strcmp(reply->element[0]->str, "server") == 0, "HELLO 2 first key");
    CHECK(strcmp(reply->element[4]->str, "proto") == 0 &&
              reply->element[5]->type == REDIS_REPLY_INTEGER && reply->element[5]->integer == 2,
          "HELLO 2 proto");
  }
  if (reply) freeReplyObject(reply);
}

#ifdef REDIS_REPLY_MAP
static void test_hello3(const char *host, int port) {
  redisContext *c = connect_or_die(host, port);
  redisReply *reply = command(c, "HELLO 3");
  CHECK(reply && reply->type == REDIS_REPLY_MAP && reply->elements == 14,
        "HELLO 3 should be a map of 7 pairs (hiredis counts 14 elements), got %s",
        reply ? type_name(reply->type) : "no reply");
  if (reply && reply->type == REDIS_REPLY_MAP) {
    int proto_found = 0;
    for (size_t i = 0; i + 1 < reply->elements; i += 2) {
      if (strcmp(reply->element[i]->str, "proto") == 0) {
        proto_found = 1;
        CHECK(reply->element[i + 1]->type == REDIS_REPLY_INTEGER &&
                  reply->element[i + 1]->integer == 3,
              "HELLO 3 proto should be 3");
      }
    }
    CHECK(proto_found, "HELLO 3 map lacks proto");
  }
  if (reply) freeReplyObject(reply);
  reply = command(c, "CONFIG GET maxmemory");
  CHECK(reply && reply->type == REDIS_REPLY_MAP && reply->elements == 2,
        "RESP3 CONFIG GET should be a map");
  if (reply) freeReplyObject(reply);
  reply = command(c, "GET hiredis:missing");
  CHECK(reply && reply->type == REDIS_REPLY_NIL, "RESP3 null");
  if (reply) freeReplyObject(reply);
  EXPECT_STRING(command(c, "GET hiredis:counter"), "41");
  redisFree(c);
}
#else
/* Sends `request` on a fresh socket and reads until `want_bytes` bytes or 5 s have passed. */
static size_t raw_exchange(const char *host, int port, const char *request, char *out,
                           size_t want_bytes) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {0};
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  inet_pton(AF_INET, host, &addr.sin_addr);
  struct timeval timeout = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  size_t got = 0;
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
      write(fd, request, strlen(request)) == (ssize_t)strlen(request)) {
    while (got < want_bytes) {
      ssize_t n = read(fd, out + got, want_bytes - got);
      if (n <= 0) break;
      got += (size_t)n;
      out[got] = '\0';
      if (strstr(out, "$7\r\nmodules\r\n*0\r\n") != NULL) break; /* the HELLO map's last pair */
    }
  }
  close(fd);
  out[got] = '\0';
  return got;
}

static void test_hello3(const char *host, int port) {
  printf("hiredis %d.%d.%d has no RESP3 reader: checking HELLO 3 on a plain socket\n",
         HIREDIS_MAJOR, HIREDIS_MINOR, HIREDIS_PATCH);
  char out[kRawReplyBytesMax + 1];
  raw_exchange(host, port, "HELLO 3\r\n", out, kRawReplyBytesMax);
  const char *map_start = "%7\r\n$6\r\nserver\r\n";
  CHECK(strncmp(out, map_start, strlen(map_start)) == 0,
        "HELLO 3 should start with a map of 7 pairs, got: %.40s", out);
  CHECK(strstr(out, "$5\r\nproto\r\n:3\r\n") != NULL, "HELLO 3 map lacks proto 3");
  CHECK(strstr(out, "$4\r\nmode\r\n$10\r\nstandalone\r\n") != NULL, "HELLO 3 mode");
  CHECK(strstr(out, "$7\r\nmodules\r\n*0\r\n") != NULL, "HELLO 3 modules");
}
#endif

int main(void) {
  const char *host = getenv("STOCKD_HOST") ? getenv("STOCKD_HOST") : "127.0.0.1";
  const char *port_text = getenv("STOCKD_PORT");
  if (port_text == NULL) {
    fprintf(stderr, "STOCKD_PORT is not set; run through tests/integration/run_with_server.py\n");
    return 2;
  }
  int port = atoi(port_text);
  printf("hiredis %d.%d.%d against %s:%d\n", HIREDIS_MAJOR, HIREDIS_MINOR, HIREDIS_PATCH, host,
         port);
  redisContext *c = connect_or_die(host, port);
  EXPECT_STATUS(command(c, "FLUSHALL"), "OK");
  test_basic_commands(c);
  test_pipeline(c);
  test_errors(c);
  test_hello2(c);
  test_hello3(host, port);
  redisFree(c);
  printf("%d checks, %d failed\n", checks_count, failures_count);
  return failures_count == 0 ? 0 : 1;
}
