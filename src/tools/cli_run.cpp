// chunkarr run PIPELINE.toml: run a pipeline's stale steps, and within them only stale chunks.
#include <filesystem>
#include <fstream>
#include <iostream>

#include "tools/cli.hpp"

namespace chunkarr::cli {

void add_run(CLI::App& app, std::function<void()>& run) {
  auto* cmd = app.add_subcommand(
      "run",
      "Run a pipeline file (TOML: [inputs] NAME = PATH, [steps.NAME] expression = ..., output = "
      "..., codec, chunks): its steps in dependency order, each an incremental store that "
      "computes only the chunks whose input chunks changed; up-to-date steps do nothing");
  struct options {
    std::string file;
    bool dry_run = false;
    bool graph = false;
    std::vector<std::string> force;
    std::string memory_limit;
    std::string temp_dir;
    int threads = 0;
    int progress = 0;
  };
  auto o = std::make_shared<options>();
  cmd->add_option("PIPELINE", o->file, "The pipeline file (TOML)")->required();
  cmd->add_flag("-n,--dry-run", o->dry_run,
                "Say which steps are stale and why (an input's chunks changed, the expression, "
                "the version, no output yet); write nothing");
  cmd->add_flag("--graph", o->graph, "Print the step graph in Graphviz DOT; run nothing");
  cmd->add_option("--force", o->force, "Recompute this step whole (repeat for several)");
  cmd->add_option("--memory-limit", o->memory_limit,
                  "Bytes in memory at once (e.g. 512MiB; default min(1 GiB, RAM/4))");
  cmd->add_option("--temp-dir", o->temp_dir,
                  "Where results too large for the memory limit are spilled (default: $TMPDIR "
                  "or /tmp)");
  add_threads_and_progress(cmd, o->threads, o->progress);
  cmd->callback([&run, o] {
    run = [o] {
      if (!std::filesystem::exists(o->file)) {
        throw_error<not_found_error>(o->file, ": no such pipeline file");
      }
      const pipeline p = pipeline::load(o->file);
      if (o->graph) {
        std::cout << p.graph();
        return;
      }
      for (const std::string& f : o->force) {
        const bool known = std::any_of(p.steps.begin(), p.steps.end(),
                                       [&](const pipeline_step& s) { return s.name == f; });
        if (!known) throw usage_error("--force " + f + ": the pipeline has no such step");
      }
      pipeline_run_options r;
      r.dry_run = o->dry_run;
      r.force = o->force;
      if (!o->memory_limit.empty())
        r.compute.memory_limit = parse_size(o->memory_limit, "--memory-limit");
      r.compute.threads = o->threads;
      r.compute.temp_dir = o->temp_dir;
      r.compute.cancel = cancel_on_signals();
      const bool progress = show_progress(o->progress);
      r.on_step = [&](const step_report& s) {
        std::cout << s.name << " -> " << s.output << ": ";
        if (s.store.up_to_date) {
          std::cout << "up to date (" << s.store.chunks << " chunks)\n";
        } else if (o->dry_run) {
          std::cout << "stale: " << s.store.reason;
          if (s.store.chunks > 0)
            std::cout << " (" << s.store.computed << " of " << s.store.chunks << " chunks)";
          std::cout << "\n";
        } else {
          std::cout << "computed " << s.store.computed << " of " << s.store.chunks << " chunks ("
                    << s.store.reason << ")\n";
        }
        std::cout.flush();
      };
      if (progress) r.compute.progress = progress_printer("run");
      p.run(r);
    };
  });
}

}  // namespace chunkarr::cli
