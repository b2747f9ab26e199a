// chunkarr: the command-line tool.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>
#include <new>
#include <set>
#include <vector>

#include "tools/cli.hpp"

namespace chunkarr::cli {

node open_node(const std::string& path) {
  const location where = resolve_location(path);
  node n{where.store, where.path, node_kind::none, path};
  n.kind = node_at(*n.storage, n.path);
  if (n.kind != node_kind::none) return n;
  std::error_code ec;
  if (where.is_local_directory() && !std::filesystem::exists(where.store->describe(), ec)) {
    throw_error<not_found_error>(path, ": no such file or directory");
  }
  throw_error<format_error>(path, ": not a Zarr array or group (no .zarray or .zgroup)");
}

array open_input(const std::string& spec) {
  if (const auto h5 = parse_hdf5_location(spec)) {
    if (h5->object == "/") {
      throw_error<not_found_error>(spec, " is an HDF5 file; name a dataset in it, e.g. ",
                                   h5->file.string(), ":/group/dataset (chunkarr info ",
                                   h5->file.string(), " lists them)");
    }
    return open_hdf5(*h5);
  }
  const node n = open_node(spec);
  if (n.kind != node_kind::array) {
    std::string example = "NAME";
    for (const group_child& child : group_children(*n.storage, n.path)) {
      if (child.kind == node_kind::array) {
        example = child.name;
        break;
      }
    }
    throw_error<not_found_error>(spec, " is a Zarr group; name an array inside it, e.g. ",
                                 join_key(spec, example), " (chunkarr info ", spec, " lists them)");
  }
  return from_zarr(zarr_array::open(n.storage, n.path));
}

std::function<void(const box&, std::span<std::byte>)> array_reader(const array& a,
                                                                   const compute_options& options) {
  return [a, options](const box& b, std::span<std::byte> out) {
    std::vector<index_spec> subscripts;
    for (std::size_t d = 0; d < b.ndim(); ++d) subscripts.push_back(range(b.start[d], b.stop[d]));
    compute_into(b.ndim() == 0 ? a : a(subscripts), out, options);
  };
}

shape_t parse_extents(const std::string& text, const std::string& flag) {
  shape_t out;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const std::size_t next = std::min(text.find(',', pos), text.size());
    const std::string part = text.substr(pos, next - pos);
    std::size_t used = 0;
    long long value = 0;
    try {
      value = std::stoll(part, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (part.empty() || used != part.size() || value <= 0) {
      throw usage_error(flag + " expects positive integers separated by commas, not '" + text +
                        "'");
    }
    out.push_back(value);
    pos = next + 1;
  }
  return out;
}

bool show_progress(int flag) {
  if (flag != 0) return flag > 0;
  return ::isatty(STDERR_FILENO) == 1;
}

location output_location(const std::string& spec) {
  location where = resolve_location(spec);
  if (!where.is_local_directory()) {
    throw usage_error(spec + ": a memory:// store lives only inside one process; write to a path");
  }
  return where;
}

void expression_after_dashes(std::vector<std::string>& args) {
  if (args.empty() || (args[0] != "eval" && args[0] != "graph")) return;
  if (std::find(args.begin(), args.end(), "--") != args.end()) return;
  static const std::set<std::string> with_value = {
      "-i",      "--input",        "-o",         "--output", "--chunks",
      "--codec", "--memory-limit", "--temp-dir", "--threads"};
  static const std::set<std::string> flags = {"--json",        "--overwrite", "--progress",
                                              "--no-progress", "-h",          "--help"};
  for (std::size_t k = 1; k < args.size(); ++k) {
    const std::string& a = args[k];
    if (with_value.count(a)) {
      ++k;  // its value, whatever it looks like
      continue;
    }
    if (a.starts_with("--") || flags.count(a)) continue;
    if (a.size() > 2 && with_value.count(a.substr(0, 2))) continue;  // -ia=x.zarr
    if (a.size() < 2 || a[0] != '-') return;  // the expression is where CLI11 will find it
    // `-a`, `-x * 2`, `-1 + a`: an expression, not an option. Moved behind `--`.
    std::string expression = a;
    args.erase(args.begin() + static_cast<std::ptrdiff_t>(k));
    args.push_back("--");
    args.push_back(std::move(expression));
    return;
  }
}

namespace {

std::atomic<bool> cancel_flag{false};
volatile sig_atomic_t cancel_signal = 0;

extern "C" void on_cancel_signal(int sig) {
  cancel_signal = sig;
  cancel_flag.store(true, std::memory_order_relaxed);
}

}  // namespace

void add_threads_and_progress(CLI::App* cmd, int& threads, int& progress) {
  cmd->add_option("--threads", threads, "Worker threads (default: all cores)")
      ->check(CLI::Range(1, 1024));
  cmd->add_flag("--progress,!--no-progress", progress,
                "Show progress on stderr (default: when stderr is a terminal)");
}

const std::atomic<bool>* cancel_on_signals() {
  static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");
  struct sigaction action {};
  action.sa_handler = on_cancel_signal;
  action.sa_flags = SA_RESETHAND;  // a second signal ends the process at once
  sigemptyset(&action.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &action, nullptr);
  return &cancel_flag;
}

int cancelling_signal() {
  return cancel_signal;
}

std::function<void(index_t, index_t)> progress_printer(const std::string& label) {
  auto mutex = std::make_shared<std::mutex>();
  return [mutex, label](index_t done, index_t total) {
    std::lock_guard lock(*mutex);
    if (done == total || done % 16 == 0) {
      std::fprintf(stderr, "\r%s: %lld/%lld tasks", label.c_str(), static_cast<long long>(done),
                   static_cast<long long>(total));
      if (done == total) std::fputc('\n', stderr);
    }
  };
}

std::string human_bytes(double bytes) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int u = 0;
  while (bytes >= 1024 && u < 5) {
    bytes /= 1024;
    ++u;
  }
  char text[32];
  std::snprintf(text, sizeof text, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
  return text;
}

}  // namespace chunkarr::cli

namespace {

// An error is one line on stderr, whatever a library put in its message (HDF5's span lines).
std::string one_line(std::string_view message) {
  std::string out;
  for (char c : message) {
    if (c == '\n' || c == '\r') {
      if (!out.empty() && out.back() != ' ') out += "; ";
    } else {
      out += c;
    }
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == ';')) out.pop_back();
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  namespace cli = chunkarr::cli;
  CLI::App app{
      "chunkarr: N-dimensional arrays larger than memory, stored as compressed Zarr chunks.\n"
      "Exit status: 0 success, 1 data or runtime error, 2 usage error."};
  app.set_version_flag("--version", chunkarr::version());
  app.require_subcommand(1);
  std::function<void()> run;
  cli::add_info(app, run);
  cli::add_cat(app, run);
  cli::add_copy(app, run);
  cli::add_eval(app, run);
  cli::add_graph(app, run);
  cli::add_convert(app, run);
  cli::add_verify(app, run);
  cli::add_run(app, run);
  try {
    std::vector<std::string> args(argv + 1, argv + argc);
    cli::expression_after_dashes(args);
    std::reverse(args.begin(), args.end());  // CLI11 takes a vector in reverse order
    app.parse(args);
    run();
    std::cout.flush();
    if (!std::cout) {
      std::cerr << "chunkarr: error: cannot write to standard output\n";
      return 1;
    }
    return 0;
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  } catch (const cli::usage_error& e) {
    std::cerr << "chunkarr: usage error: " << e.what()
              << "\nRun with --help for more information.\n";
    return 2;
  } catch (const chunkarr::cancelled_error&) {
    // The unfinished output is gone; end as the signal would have ended us.
    const int sig = cli::cancelling_signal();
    std::cerr << "chunkarr: interrupted (" << (sig ? strsignal(sig) : "cancelled")
              << "); no unfinished output was left (an --incremental store or a run keeps "
                 "the chunks it finished in OUT.chunkarr-partial, for the next run to resume)\n";
    if (sig) {
      signal(sig, SIG_DFL);
      raise(sig);
    }
    return 1;
  } catch (const chunkarr::error& e) {
    std::cerr << "chunkarr: error: " << one_line(e.what()) << "\n";
    // Everything is committed or removed by now. Exit without the libraries' cleanup: after a
    // failed flush on a full disk, libhdf5 1.10 crashes closing that file again at exit.
    std::cout.flush();
    std::cerr.flush();
    std::fflush(nullptr);
    std::_Exit(1);
  } catch (const std::bad_alloc&) {
    std::cerr << "chunkarr: error: out of memory\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "chunkarr: error: " << one_line(e.what()) << "\n";
    return 1;
  }
}
