// stockd: the server binary. Usage mirrors redis-server:
//   stockd [config-file] [--directive value ...]
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "server/config.h"
#include "server/server.h"
#include "storage/log.h"

namespace {

void Usage() {
  std::fprintf(stderr,
               "Usage: stockd [/path/to/stockd.conf] [--directive value ...]\n"
               "       stockd -v or --version\n"
               "       stockd -h or --help\n\n"
               "Examples:\n"
               "       stockd                      (run with defaults: 127.0.0.1:6379)\n"
               "       stockd --port 7777 --shards 2\n"
               "       stockd /etc/stockd.conf --loglevel verbose\n");
}

}  // namespace

int main(int argc, char** argv) {
  using namespace stockd;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 1 && (args[0] == "-v" || args[0] == "--version")) {
    std::printf("stockd v=%s redis_compat=%s\n", STOCKD_VERSION, STOCKD_REDIS_VERSION);
    return 0;
  }
  if (args.size() == 1 && (args[0] == "-h" || args[0] == "--help")) {
    Usage();
    return 0;
  }
  server::Config config;
  std::string error;
  if (!config.LoadFromArgs(args, &error)) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return 1;
  }
  if (!log::SetOutput(config.logfile, &error)) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return 1;
  }
  // Absolute, as Redis reports it (CONFIG GET dir), and so that <dir>/wal names the same place
  // after the chdir below.
  {
    std::error_code ec;
    std::filesystem::path abs = std::filesystem::absolute(config.dir, ec);
    if (!ec) config.dir = abs.lexically_normal().string();
  }
  if (chdir(config.dir.c_str()) != 0) {
    log::Warning("Can't chdir to '{}': {}", config.dir, std::strerror(errno));
    return 1;
  }
  log::Notice("stockd {} (Redis {} compatible) starting, pid={}", STOCKD_VERSION,
              STOCKD_REDIS_VERSION, getpid());
  server::Server server(&config);
  if (!server.Start(&error)) {
    log::Warning("{}", error);
    return 1;
  }
  if (!config.pidfile.empty()) {
    std::ofstream(config.pidfile) << getpid() << "\n";
  }
  log::Notice("Running with {} shards, {} databases", server.engine().shard_count(),
              config.databases);
  log::Notice("Ready to accept connections tcp on port {}", server.port());
  server.WaitForShutdown();
  if (!config.pidfile.empty()) unlink(config.pidfile.c_str());
  return 0;
}
