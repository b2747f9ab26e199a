// chunkarr verify OUT [--digests]: check an output against its manifest and its provenance.
#include <iostream>

#include "tools/cli.hpp"

namespace chunkarr::cli {

void add_verify(CLI::App& app, std::function<void()>& run) {
  auto* cmd = app.add_subcommand(
      "verify",
      "Check an array chunkarr stored: every chunk against the digest recorded when it was "
      "written, then (unless --digests) recompute it from its recorded expression and inputs "
      "and compare bit for bit. An array made by copy or convert (a Zarr array or an HDF5 "
      "dataset file.h5:/x) is compared with its recorded source, value for value. Exit 0 when "
      "all agree, 1 naming the first chunk that does not");
  struct options {
    std::string path;
    bool digests = false;
    std::string memory_limit;
    int threads = 0;
    int progress = 0;
  };
  auto o = std::make_shared<options>();
  cmd->add_option("PATH", o->path,
                  "A Zarr array written by chunkarr eval -o, run, copy or convert (or store), or "
                  "an HDF5 dataset written by convert")
      ->required();
  cmd->add_flag("--digests", o->digests,
                "Only check the stored chunks against their recorded digests (no recompute)");
  cmd->add_option("--memory-limit", o->memory_limit,
                  "Bytes in memory at once while recomputing (e.g. 512MiB; default min(1 GiB, "
                  "RAM/4))");
  add_threads_and_progress(cmd, o->threads, o->progress);
  cmd->callback([&run, o] {
    run = [o] {
      verify_options v;
      v.digests_only = o->digests;
      if (!o->memory_limit.empty())
        v.compute.memory_limit = parse_size(o->memory_limit, "--memory-limit");
      v.compute.threads = o->threads;
      if (show_progress(o->progress)) v.compute.progress = progress_printer("verify");
      v.compute.cancel = cancel_on_signals();
      const verify_report r = verify(o->path, v);
      if (!r.ok) throw_error<value_error>(o->path, ": ", r.problem);
      if (!r.source.empty()) {
        std::cout << o->path << ": " << r.chunks << " chunks equal their source " << r.source
                  << "\n";
      } else {
        std::cout << o->path << ": " << r.chunks << " chunks match their digests"
                  << (o->digests ? "" : " and recompute to the same bits") << "\n";
      }
    };
  });
}

}  // namespace chunkarr::cli
