// chunkarr copy SRC DST: a new array (or group tree) with other chunks, codec or layout.
//
// Each array is a rechunk through the engine (the plan's direct or two-stage copy, under
// --memory-limit), so memory stays bounded however large the array. The destination is built
// beside its final path and renamed into place only when complete: an interrupted copy never
// leaves something that looks like a finished array, and --overwrite loses nothing until then.

#include <nlohmann/json.hpp>

#include "tools/cli.hpp"

namespace chunkarr::cli {
namespace {

namespace fs = std::filesystem;

struct copy_options {
  std::string source;
  std::string destination;
  std::string chunks;
  std::string codec;
  std::string order;
  std::string separator;
  bool overwrite = false;
  int progress = 0;  // +1 --progress, -1 --no-progress, 0 neither
  int threads = 0;   // 0: all cores
  std::string memory_limit;
  std::string temp_dir;
};

array_metadata destination_metadata(const array_metadata& src, const copy_options& o) {
  array_metadata m = src;
  if (!o.chunks.empty()) {
    m.chunks = parse_extents(o.chunks, "--chunks");
    if (m.chunks.size() != m.shape.size()) {
      throw usage_error("--chunks " + o.chunks + " has " + std::to_string(m.chunks.size()) +
                        " extents; the array has " + std::to_string(m.shape.size()) +
                        " dimensions " + to_string(m.shape));
    }
  }
  if (!o.codec.empty()) {
    try {
      m.compressor = make_codec(o.codec);
    } catch (const codec_error& e) {
      throw usage_error(std::string("--codec: ") + e.what());
    }
  }
  if (!o.order.empty()) m.order = o.order == "F" ? memory_order::f : memory_order::c;
  if (!o.separator.empty()) m.dimension_separator = o.separator[0];
  return m;
}

// One array: the engine's rechunk plan (direct, or through an intermediate when the new chunks
// would decode each old one many times) streams it into the new array under the memory
// limit. Chunks that hold only the fill value are left out, as the source's missing ones.
void copy_array(const zarr_array& src, const std::shared_ptr<kvstore>& dst_store,
                const std::string& dst_path, const copy_options& o, const compute_options& c) {
  const array_metadata meta = destination_metadata(src.metadata(), o);
  const zarr_array dst = zarr_array::create(dst_store, dst_path, meta);
  if (const nlohmann::json attributes = src.attributes(); !attributes.empty()) {
    dst.set_attributes(attributes);
  }
  store(from_zarr(src), dst, c, /*write_empty_chunks=*/false);
  record_provenance(dst, "copy", {{"source", src.describe()}});
}

void copy_tree(const std::shared_ptr<kvstore>& src_store, const std::string& src_path,
               const std::shared_ptr<kvstore>& dst_store, const std::string& dst_path,
               const copy_options& o, const compute_options& c) {
  if (node_at(*src_store, src_path) == node_kind::array) {
    copy_array(zarr_array::open(src_store, src_path), dst_store, dst_path, o, c);
    return;
  }
  create_group(*dst_store, dst_path);
  if (const nlohmann::json attributes = read_attributes(*src_store, src_path);
      !attributes.empty()) {
    write_attributes(*dst_store, dst_path, attributes);
  }
  for (const group_child& child : group_children(*src_store, src_path)) {
    copy_tree(src_store, join_key(src_path, child.name), dst_store, join_key(dst_path, child.name),
              o, c);
  }
}

bool is_within(const fs::path& inner, const fs::path& outer) {
  const fs::path a = fs::weakly_canonical(inner);
  const fs::path b = fs::weakly_canonical(outer);
  auto [mismatch, _] = std::mismatch(b.begin(), b.end(), a.begin(), a.end());
  return mismatch == b.end();
}

void run_copy(const copy_options& o) {
  const node src = open_node(o.source);
  const location dst = output_location(o.destination);
  if (dst.is_local_directory() && resolve_location(o.source).is_local_directory()) {
    const fs::path path = fs::path(o.destination).lexically_normal();
    if (is_within(path, o.source) || is_within(o.source, path)) {
      throw usage_error("destination " + o.destination + " and source " + o.source +
                        " overlap; copy to a separate directory");
    }
  }
  std::error_code ec;
  const bool exists = dst.is_local_directory() ? fs::exists(dst.store->describe(), ec)
                                               : !dst.store->list(dst.path).empty();
  if (exists && !o.overwrite) {
    throw_error<io_error>(o.destination, " already exists (use --overwrite to replace it)");
  }
  compute_options c;
  if (!o.memory_limit.empty()) c.memory_limit = parse_size(o.memory_limit, "--memory-limit");
  c.threads = o.threads;
  c.temp_dir = o.temp_dir;
  if (show_progress(o.progress)) c.progress = progress_printer("copy");
  c.cancel = cancel_on_signals();
  const std::unique_ptr<staged_write> staging = dst.store->stage(dst.path, o.overwrite);
  copy_tree(src.storage, src.path, staging->store(), staging->path(), o, c);
  staging->commit();
}

}  // namespace

void add_copy(CLI::App& app, std::function<void()>& run) {
  auto* cmd = app.add_subcommand(
      "copy",
      "Copy an array or group to a new Zarr array with other chunks, codec, order or key "
      "separator, streaming under a memory limit");
  auto o = std::make_shared<copy_options>();
  cmd->add_option("SRC", o->source, "Zarr array or group to read")->required();
  cmd->add_option("DST", o->destination, "Directory to create")->required();
  cmd->add_option("--chunks", o->chunks, "Chunk shape of the copy, e.g. 100,200 (default: SRC's)");
  cmd->add_option("--codec", o->codec,
                  "Codec of the copy: blosc:CNAME:CLEVEL:SHUFFLE (e.g. blosc:lz4:5:shuffle), "
                  "zstd:LEVEL, gzip:LEVEL, zlib:LEVEL or none (default: SRC's)");
  cmd->add_option("--order", o->order, "Memory order inside chunks (default: SRC's)")
      ->check(CLI::IsMember({"C", "F"}));
  cmd->add_option("--separator", o->separator, "Chunk key separator (default: SRC's)")
      ->check(CLI::IsMember({".", "/"}));
  cmd->add_flag("--overwrite", o->overwrite,
                "Replace DST if it exists (only once the copy is complete)");
  cmd->add_option("--memory-limit", o->memory_limit,
                  "Bytes in memory at once (e.g. 256MiB; default min(1 GiB, RAM/4))");
  cmd->add_option("--temp-dir", o->temp_dir,
                  "Where an intermediate copy goes when the new chunks cut across the old ones "
                  "(default: $TMPDIR or /tmp)");
  add_threads_and_progress(cmd, o->threads, o->progress);
  cmd->callback([&run, o] { run = [o] { run_copy(*o); }; });
}

}  // namespace chunkarr::cli
