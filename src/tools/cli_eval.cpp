// chunkarr eval EXPR -i NAME=PATH ...: evaluate a NumPy-syntax expression over named arrays.
// chunkarr graph EXPR -i NAME=PATH ...: draw its chunk task graph (Graphviz DOT).
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>

#include "tools/cli.hpp"
#include "tools/format.hpp"

namespace chunkarr::cli {
namespace {

struct eval_options {
  std::string expression;
  std::vector<std::string> inputs;
  bool json = false;
  std::string output;
  std::string chunks;
  std::string codec = "blosc:lz4:5:shuffle";
  bool overwrite = false;
  bool incremental = false;
  bool no_manifest = false;
  std::string memory_limit;
  std::string temp_dir;
  int threads = 0;
  int progress = 0;  // +1 --progress, -1 --no-progress, 0 neither
};

std::map<std::string, array> open_inputs(const std::vector<std::string>& specs) {
  std::map<std::string, array> inputs;
  for (const std::string& spec : specs) {
    const std::size_t eq = spec.find('=');
    const std::string name = spec.substr(0, eq);
    const bool identifier =
        !name.empty() && (std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_') &&
        std::all_of(name.begin(), name.end(),
                    [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
    if (eq == std::string::npos || !identifier || eq + 1 == spec.size()) {
      throw usage_error("-i expects NAME=PATH with NAME an identifier, not '" + spec + "'");
    }
    if (inputs.count(name)) throw usage_error("input '" + name + "' is given twice");
    inputs.emplace(name, open_input(spec.substr(eq + 1)));
  }
  return inputs;
}

compute_options engine_options(const eval_options& o) {
  compute_options c;
  if (!o.memory_limit.empty()) c.memory_limit = parse_size(o.memory_limit, "--memory-limit");
  c.threads = o.threads;
  if (show_progress(o.progress)) c.progress = progress_printer("eval");
  c.cancel = cancel_on_signals();
  c.temp_dir = o.temp_dir;
  return c;
}

void run_eval(const eval_options& o) {
  const std::map<std::string, array> inputs = open_inputs(o.inputs);
  compute_options c = engine_options(o);
  compute_options build = c;
  build.progress = nullptr;  // the progress shown is the result's
  const array result = parse_expression(o.expression, inputs, build);
  if (!o.output.empty()) {
    output_location(o.output);
    store_options so;
    so.compute = c;
    so.codec = o.codec;
    so.overwrite = o.overwrite;
    so.incremental = o.incremental;
    so.manifest = !o.no_manifest;
    if (o.incremental && o.no_manifest)
      throw usage_error("--incremental needs the manifest: drop --no-manifest");
    so.expression = canonical_expression(o.expression);
    so.input_names = input_names(result, inputs);
    store_report report;
    so.report = &report;
    if (!o.chunks.empty()) {
      so.chunks = parse_extents(o.chunks, "--chunks");
      if (so.chunks.size() != result.ndim()) {
        throw usage_error("--chunks " + o.chunks + " has " + std::to_string(so.chunks.size()) +
                          " extents; the result has shape " + to_string(result.shape()));
      }
    }
    try {
      make_codec(o.codec);
    } catch (const codec_error& e) {
      throw usage_error(std::string("--codec: ") + e.what());
    }
    std::error_code ec;
    if (std::filesystem::exists(o.output, ec) && !o.overwrite && !o.incremental) {
      throw_error<io_error>(o.output,
                            " already exists (use --overwrite to replace it, or --incremental "
                            "to update it)");
    }
    store(result, o.output, so);
    if (o.incremental) {
      if (report.up_to_date) {
        std::cerr << o.output << ": up to date (" << report.chunks << " chunks)\n";
      } else {
        std::cerr << o.output << ": computed " << report.computed << " of " << report.chunks
                  << " chunks (" << report.reason << ")\n";
      }
    }
    return;
  }
  check_result_fits(result, c);
  bytes values(static_cast<std::size_t>(result.nbytes()));
  compute_into(result, values, c);
  const shape_t shape = result.shape();
  const std::size_t itemsize = result.dtype().itemsize();
  const region_reader read = [&](const box& b, std::span<std::byte> out) {
    copy_region(values.data(), shape, b.start, out.data(), b.shape(), shape_t(b.ndim(), 0),
                b.shape(), itemsize);
  };
  if (o.json)
    print_json(std::cout, read, shape, result.dtype(), shape.empty() ? 1 : shape[0]);
  else
    print_text(std::cout, read, shape, result.dtype());
}

void add_expression_options(CLI::App* cmd, eval_options& o) {
  cmd->add_option("EXPR", o.expression,
                  "NumPy/Python expression over the inputs, e.g. 'mean(a, axis=0)', "
                  "'(a - a.mean(axis=0))**2', 'a[:, 100:2000].astype(\"f8\")'")
      ->required();
  cmd->add_option("-i,--input", o.inputs,
                  "NAME=PATH: an array named NAME in EXPR (repeat): a Zarr array directory or an "
                  "HDF5 dataset file.h5:/group/dataset")
      ->allow_extra_args(false);
}

}  // namespace

index_t parse_size(const std::string& text, const std::string& flag) {
  std::size_t used = 0;
  double number = 0;
  try {
    number = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  std::string unit = text.substr(used);
  unit.erase(0, unit.find_first_not_of(' '));
  std::transform(unit.begin(), unit.end(), unit.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  static const std::map<std::string, double> units = {{"", 1},
                                                      {"b", 1},
                                                      {"k", 1e3},
                                                      {"kb", 1e3},
                                                      {"kib", 1024.0},
                                                      {"m", 1e6},
                                                      {"mb", 1e6},
                                                      {"mib", 1048576.0},
                                                      {"g", 1e9},
                                                      {"gb", 1e9},
                                                      {"gib", 1073741824.0},
                                                      {"t", 1e12},
                                                      {"tb", 1e12},
                                                      {"tib", 1099511627776.0},
                                                      {"p", 1e15},
                                                      {"pb", 1e15},
                                                      {"pib", 1125899906842624.0}};
  const auto it = units.find(unit);
  if (used == 0 || it == units.end() || !(number > 0) || number * it->second > 9e18) {
    throw usage_error(flag + " expects a size such as 512MiB, 2GB or 1e9, not '" + text + "'");
  }
  return static_cast<index_t>(number * it->second);
}

void add_eval(CLI::App& app, std::function<void()>& run) {
  auto* cmd =
      app.add_subcommand("eval",
                         "Evaluate a NumPy-syntax expression over named arrays (Zarr or HDF5), "
                         "streaming chunks under a "
                         "memory budget; print the result (as cat does) or store it with -o");
  auto o = std::make_shared<eval_options>();
  add_expression_options(cmd, *o);
  cmd->add_flag("--json", o->json, "Print the result as one JSON object (as cat --json)");
  cmd->add_option("-o,--output", o->output, "Store the result as a new Zarr array here");
  cmd->add_option("--chunks", o->chunks,
                  "With -o: chunk shape, e.g. 256,8192 (default: the result's)");
  cmd->add_option("--codec", o->codec, "With -o: codec spec (default blosc:lz4:5:shuffle)");
  cmd->add_flag("--overwrite", o->overwrite, "With -o: replace an existing output when done");
  cmd->add_flag("--incremental", o->incremental,
                "With -o: update an output this expression stored before, computing only the "
                "chunks whose input chunks changed (by digest), or finish one a killed run "
                "left; prints what it did");
  cmd->add_flag("--no-manifest", o->no_manifest,
                "With -o: keep no chunk digests (.chunkarr-manifest), a few percent faster; the "
                "output cannot be updated incrementally or checked by verify");
  cmd->add_option("--memory-limit", o->memory_limit,
                  "Bytes in memory at once: tasks, reductions and the printed result "
                  "(e.g. 512MiB; default min(1 GiB, RAM/4))");
  cmd->add_option("--temp-dir", o->temp_dir,
                  "Where results too large for the memory limit are spilled while the "
                  "expression runs (default: $TMPDIR or /tmp)");
  add_threads_and_progress(cmd, o->threads, o->progress);
  cmd->callback([&run, o] { run = [o] { run_eval(*o); }; });
}

void add_graph(CLI::App& app, std::function<void()>& run) {
  auto* cmd = app.add_subcommand(
      "graph", "Print the chunk task graph of an expression in Graphviz DOT (runs nothing)");
  auto o = std::make_shared<eval_options>();
  add_expression_options(cmd, *o);
  cmd->add_option("-o,--output", o->output, "Write the DOT here instead of standard output");
  cmd->add_flag("--overwrite", o->overwrite, "Replace an existing -o file");
  cmd->callback([&run, o] {
    run = [o] {
      const std::string dot = to_dot(parse_expression(o->expression, open_inputs(o->inputs)));
      if (o->output.empty()) {
        std::cout << dot;
        return;
      }
      // Written beside the file and moved into place: a full disk leaves no empty file, and
      // an existing file is replaced only with --overwrite.
      if (!o->overwrite && std::filesystem::exists(std::filesystem::symlink_status(o->output))) {
        throw_error<io_error>(o->output, " already exists (use --overwrite to replace it)");
      }
      const std::string temp = o->output + ".chunkarr-tmp-" + std::to_string(::getpid()) + "-0";
      struct remover {
        const std::string& p;
        ~remover() { std::remove(p.c_str()); }
      } cleanup{temp};
      {
        std::ofstream file(temp);
        file << dot;
        file.flush();
        if (!file) throw_error<io_error>("cannot write ", o->output, " (disk full?)");
      }
      commit_file(temp, o->output, o->overwrite);
    };
  });
}

}  // namespace chunkarr::cli
