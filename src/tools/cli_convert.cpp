// chunkarr convert SRC DST: HDF5 -> Zarr and Zarr -> HDF5.
#include <cstdio>
#include <iostream>
#include <mutex>

#include "tools/cli.hpp"

namespace chunkarr::cli {
namespace {

struct convert_cli {
  std::string source;
  std::string destination;
  std::string chunks = "auto";
  std::string codec;
  bool skip_unsupported = false;
  bool overwrite = false;
  std::string memory_limit;
  int threads = 0;
  int progress = 0;
};

void run_convert(const convert_cli& o) {
  convert_options c;
  if (o.chunks != "auto") c.chunks = parse_extents(o.chunks, "--chunks");
  c.codec = o.codec;
  const bool to_hdf5 = parse_hdf5_location(o.destination).has_value();
  if (!o.codec.empty() && !to_hdf5) {
    try {
      make_codec(o.codec);
    } catch (const codec_error& e) {
      throw usage_error(std::string("--codec: ") + e.what());
    }
  }
  if (to_hdf5 && !o.codec.empty() && o.codec != "none" && o.codec.rfind("gzip", 0) != 0 &&
      o.codec.rfind("zlib", 0) != 0) {
    throw usage_error("--codec " + o.codec +
                      ": HDF5 output takes gzip[:LEVEL] (deflate with shuffle) or none");
  }
  c.skip_unsupported = o.skip_unsupported;
  c.overwrite = o.overwrite;
  if (!o.memory_limit.empty())
    c.compute.memory_limit = parse_size(o.memory_limit, "--memory-limit");
  c.compute.threads = o.threads;
  c.compute.cancel = cancel_on_signals();
  c.warn = [](const std::string& message) {
    std::fprintf(stderr, "chunkarr: warning: %s\n", message.c_str());
  };
  if (show_progress(o.progress)) {
    auto state = std::make_shared<std::pair<std::mutex, std::string>>();
    c.on_array = [state](const std::string& what, index_t i, index_t n) {
      std::lock_guard lock(state->first);
      state->second = "[" + std::to_string(i + 1) + "/" + std::to_string(n) + "] " + what;
    };
    c.compute.progress = [state](index_t done, index_t total) {
      std::lock_guard lock(state->first);
      if (done == total || done % 16 == 0) {
        std::fprintf(stderr, "\rconvert: %s: %lld/%lld chunks", state->second.c_str(),
                     static_cast<long long>(done), static_cast<long long>(total));
        if (done == total) std::fputc('\n', stderr);
      }
    };
  }
  const convert_report r = convert(o.source, o.destination, c);
  if (show_progress(o.progress) || !r.skipped.empty()) {
    std::fprintf(stderr, "convert: %lld arrays, %lld groups, %lld links, %s%s\n",
                 static_cast<long long>(r.arrays), static_cast<long long>(r.groups),
                 static_cast<long long>(r.links), human_bytes(static_cast<double>(r.bytes)).c_str(),
                 r.skipped.empty()
                     ? ""
                     : (", " + std::to_string(r.skipped.size()) + " datasets skipped").c_str());
  }
}

}  // namespace

void add_convert(CLI::App& app, std::function<void()>& run) {
  auto* cmd = app.add_subcommand(
      "convert",
      "Convert between HDF5 and Zarr: a dataset or a whole group tree with its attributes, "
      "streaming under a memory budget. The direction comes from each side: file.h5[:/path] "
      "(.h5 .hdf5 .he5 .nc, or an HDF5 signature) or a Zarr directory");
  auto o = std::make_shared<convert_cli>();
  cmd->add_option("SRC", o->source,
                  "file.h5, file.h5:/group/dataset, dir.zarr or dir.zarr/sub/path")
      ->required();
  cmd->add_option("DST", o->destination, "Where to write (the other format)")->required();
  cmd->add_option("--chunks", o->chunks,
                  "Chunk shape of every output array with that many axes, e.g. 256,8192; auto "
                  "(default): the source's chunks, or ~8 MiB chunks split along the leading "
                  "axis for unchunked HDF5 datasets");
  cmd->add_option("--codec", o->codec,
                  "To Zarr: a codec spec (default blosc:lz4:5:shuffle). To HDF5: gzip[:LEVEL] "
                  "(deflate with shuffle, default gzip:4) or none");
  cmd->add_flag("--skip-unsupported", o->skip_unsupported,
                "Convert the rest when a dataset cannot be (strings, compound types, missing "
                "filters); each skipped dataset is listed on stderr");
  cmd->add_flag("--overwrite", o->overwrite,
                "Replace DST if it exists (only once the conversion is complete)");
  cmd->add_option("--memory-limit", o->memory_limit,
                  "Bytes in flight at once (e.g. 512MiB; default min(1 GiB, RAM/4))");
  add_threads_and_progress(cmd, o->threads, o->progress);
  cmd->callback([&run, o] { run = [o] { run_convert(*o); }; });
}

}  // namespace chunkarr::cli
