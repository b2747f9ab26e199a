// The `chunkarr` command-line tool: shared pieces of its subcommands.
//
// Each subcommand registers its options on a CLI11 app and runs on the public API only.
// Errors: a chunkarr::error becomes one line on stderr and exit status 1; a `usage_error`
// (a bad flag value found after parsing) exit status 2, like CLI11's own parse errors.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include <CLI/CLI.hpp>

#include "chunkarr/chunkarr.hpp"

namespace chunkarr::cli {

/// A bad command line noticed after CLI11 parsed it: exit status 2.
class usage_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// An array or group found at a filesystem path.
struct node {
  std::shared_ptr<kvstore> storage;
  std::string path;  // inside `storage`
  node_kind kind = node_kind::none;
  std::string display;  // the path as the user wrote it
};

/// Opens what lives at `path`; not_found_error when nothing does.
node open_node(const std::string& path);

/// An array given on the command line: a Zarr array directory (possibly inside a group) or an
/// HDF5 dataset `file.h5:/group/dataset`. not_found_error for a group or nothing.
array open_input(const std::string& spec);

/// A reader of any box of `a` (computed through the engine), for printing.
std::function<void(const box&, std::span<std::byte>)> array_reader(const array& a,
                                                                   const compute_options& options);

/// Where a command writes: a location on disk (a memory:// store would vanish with the
/// process: usage_error).
location output_location(const std::string& spec);

/// Parses `100,200` into a shape; usage_error naming `flag` otherwise.
shape_t parse_extents(const std::string& text, const std::string& flag);

/// Whether progress should be shown: `--progress`/`--no-progress`, else stderr is a terminal.
bool show_progress(int flag);  // flag: > 0 --progress, < 0 --no-progress, 0 neither

/// `chunkarr eval -a -i a=x.zarr`: an expression that starts with `-` (and so looks like an
/// option) is moved behind `--`, where CLI11 takes it as the EXPR it is.
void expression_after_dashes(std::vector<std::string>& args);

/// From here on, SIGINT, SIGTERM and SIGHUP cancel the run instead of ending the process at
/// once: the engine stops before its next task, the unfinished output is removed (an old one
/// stays as it was), and main then ends the process by the same signal. A second signal ends
/// it at once. Returns the flag to pass as compute_options::cancel.
const std::atomic<bool>* cancel_on_signals();
/// The signal that cancelled the run (0: none).
int cancelling_signal();

/// Prints "LABEL: done/total tasks" on stderr as a run progresses (compute_options::progress).
std::function<void(index_t, index_t)> progress_printer(const std::string& label);

/// Parses a size such as `512MiB`, `2GB`, `1e9` (dask's units); usage_error naming `flag`.
index_t parse_size(const std::string& text, const std::string& flag);

/// `1.5 MiB`
std::string human_bytes(double bytes);

/// `--threads N` and `--progress`/`--no-progress`, as every command that runs the engine has.
void add_threads_and_progress(CLI::App* cmd, int& threads, int& progress);

/// Registers each subcommand on `app`; the callback to run is stored in `run`.
void add_info(CLI::App& app, std::function<void()>& run);
void add_cat(CLI::App& app, std::function<void()>& run);
void add_copy(CLI::App& app, std::function<void()>& run);
void add_eval(CLI::App& app, std::function<void()>& run);
void add_graph(CLI::App& app, std::function<void()>& run);
void add_convert(CLI::App& app, std::function<void()>& run);
void add_verify(CLI::App& app, std::function<void()>& run);
void add_run(CLI::App& app, std::function<void()>& run);

}  // namespace chunkarr::cli
