// Pipelines of named steps: a Makefile for arrays (`chunkarr run PIPELINE.toml`).
//
//   [inputs]
//   lfp = "data/samples/2018_12_11_experiment_5.zarr/recordings/lfp"
//
//   [steps.centred]
//   expression = "lfp - mean(lfp, axis=1, keepdims=True)"
//   output = "out/{experiment}_centred.zarr"      # {NAME}: an input's attribute
//   codec = "blosc:zstd:5:shuffle"                # optional, as store's
//   chunks = [8, 4096]                            # optional
//
//   [steps.noise]
//   expression = "median(abs(centred), axis=1) / 0.6745"   # reads the step above
//   output = "out/{experiment}_noise.zarr"
//
// A step reads inputs and earlier steps by name; the steps form a DAG, run in dependency order,
// each an incremental store: a step whose inputs did not change is up to date and computes
// nothing, and within a step only the chunks whose input chunks changed are computed. Relative
// paths are relative to the pipeline file. `{NAME}` in an output is the attribute NAME of the
// step's inputs (a Zarr input's own `.zattrs`, then its groups' up the directory tree; an HDF5
// dataset's own attributes, then its groups' up to the file's root; a step passes on its
// inputs'): outputs named by experiment and date.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "chunkarr/pipeline/pipeline.hpp"

namespace chunkarr {

struct pipeline_step {
  std::string name;
  std::string expression;
  std::string output;  // may hold {attribute} templates
  std::string codec = "blosc:lz4:5:shuffle";
  shape_t chunks;  // empty: the expression's
};

/// What one step did (or, in a dry run, would do).
struct step_report {
  std::string name;
  std::string output;  // the output's path, templates filled in
  store_report store;
  bool forced = false;
};

struct pipeline_run_options {
  bool dry_run = false;            // say what is stale and why; write nothing
  std::vector<std::string> force;  // steps recomputed whole
  compute_options compute;         // memory limit, threads, progress, cancel
  // Told as each step finishes (or, in a dry run, is judged).
  std::function<void(const step_report&)> on_step;
};

class pipeline {
 public:
  /// Reads a pipeline file (TOML). Throws format_error naming the file, the step and the key
  /// for a malformed one: a missing expression or output, an unknown key, a step that reads
  /// an unknown name, a cycle.
  static pipeline load(const std::filesystem::path& file);

  std::map<std::string, std::string> inputs;  // name -> location
  std::vector<pipeline_step> steps;           // in dependency order once loaded
  std::filesystem::path base;                 // relative paths are relative to it

  /// The names (inputs and steps) that step `s` reads.
  std::vector<std::string> reads(const pipeline_step& s) const;
  /// Runs (or judges) every step in order.
  std::vector<step_report> run(const pipeline_run_options& options = {}) const;
  /// The step DAG in Graphviz DOT: inputs and steps, an edge for each name a step reads.
  std::string graph() const;
};

}  // namespace chunkarr
