// chunkarr copy SRC DST: a new array (or group tree) with other chunks, codec or layout.
//
// The copy splits the destination's chunks (in C order) into one contiguous run per thread;
// each worker assembles its chunks from the source chunks they overlap, keeping recently
// decoded source chunks in a cache of bounded size, so memory stays at a few chunks per
// thread however large the array. The destination is built beside its
// final path and renamed into place only when complete: an interrupted copy never leaves
// something that looks like a finished array, and --overwrite loses nothing until then.
#include <unistd.h>

#include <atomic>
#include <exception>
#include <iostream>
#include <list>
#include <map>
#include <mutex>
#include <thread>

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
  index_t threads = std::max(
      1u, std::thread::hardware_concurrency());  // +1 --progress, -1 --no-progress, 0 neither
};

// Decoded source chunks, least recently used evicted first once over `capacity` bytes.
class chunk_cache {
 public:
  chunk_cache(const zarr_array& a, index_t capacity) : array_(a), capacity_(capacity) {}

  const bytes& get(const shape_t& index) {
    auto it = entries_.find(index);
    if (it != entries_.end()) {
      order_.splice(order_.begin(), order_, it->second.position);
      return it->second.data;
    }
    const index_t size = array_.metadata().chunk_bytes();
    while (!entries_.empty() && held_ + size > capacity_) {
      entries_.erase(order_.back());
      order_.pop_back();
      held_ -= size;
    }
    order_.push_front(index);
    entry& e = entries_[index];
    e.position = order_.begin();
    e.data.resize(static_cast<std::size_t>(size));
    array_.read_chunk(index, e.data);
    held_ += size;
    return e.data;
  }

 private:
  struct entry {
    bytes data;
    std::list<shape_t>::iterator position;
  };
  const zarr_array& array_;
  index_t capacity_;
  index_t held_ = 0;
  std::list<shape_t> order_;
  std::map<shape_t, entry> entries_;
};

class progress_line {
 public:
  progress_line(bool enabled, index_t total) : enabled_(enabled), total_(total) {}
  void add(index_t n) {
    const index_t done = done_ += n;
    if (enabled_ && (done == total_ || done % 64 == 0)) {
      std::lock_guard lock(mutex_);
      std::fprintf(stderr, "\rcopy: %lld/%lld chunks", static_cast<long long>(done),
                   static_cast<long long>(total_));
      if (done == total_) std::fputc('\n', stderr);
    }
  }

 private:
  bool enabled_;
  index_t total_;
  std::atomic<index_t> done_{0};
  std::mutex mutex_;
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

// How many source chunks a worker walking destination chunks in C order must keep to decode
// each source chunk once. Along the outermost axis where source chunks straddle destination
// chunk boundaries, a source chunk is needed again by the next destination chunk along that
// axis, so every source chunk of that slab must be kept; inside it, the chunks one
// destination chunk spans.
index_t reused_chunks(const chunk_grid& in, const chunk_grid& out) {
  index_t need = 1;
  bool slab = false;
  for (std::size_t d = 0; d < in.ndim(); ++d) {
    const bool straddles =
        out.chunks()[d] % in.chunks()[d] != 0 && out.chunks()[d] < out.shape()[d];
    const index_t spanned = out.chunks()[d] / in.chunks()[d] + (straddles ? 1 : 0);
    need = checked_mul(need,
                       std::clamp<index_t>(slab ? in.chunk_counts()[d] : spanned, 1,
                                           std::max<index_t>(in.chunk_counts()[d], 1)),
                       "chunk count");
    slab = slab || straddles;
  }
  return need;
}

index_t copy_array(const zarr_array& src, const std::shared_ptr<kvstore>& dst_store,
                   const std::string& dst_path, const copy_options& o, bool progress) {
  const array_metadata meta = destination_metadata(src.metadata(), o);
  const zarr_array dst = zarr_array::create(dst_store, dst_path, meta);
  if (const nlohmann::json attributes = src.attributes(); !attributes.empty()) {
    dst.set_attributes(attributes);
  }
  const chunk_grid& in = src.grid();
  const chunk_grid& out = dst.grid();
  const std::size_t itemsize = meta.dtype.itemsize();
  const index_t chunk_bytes = src.metadata().chunk_bytes();
  const int threads = static_cast<int>(std::clamp<index_t>(out.chunk_count(), 1, o.threads));
  // Each worker caches the source chunks it will use again, within 256 MiB in all; past that
  // a source chunk may be decoded more than once, but memory stays bounded.
  const index_t cache_bytes = std::max(
      chunk_bytes, std::min(reused_chunks(in, out) * chunk_bytes, (index_t{256} << 20) / threads));
  const bytes fill = meta.fill_element();
  progress_line line(progress, out.chunk_count());
  std::atomic<bool> failed{false};
  std::exception_ptr first_error;
  std::mutex error_mutex;

  // Worker t copies a contiguous run of destination chunks (C order), so its cache of source
  // chunks sees the locality of that run.
  auto work = [&](index_t begin, index_t end) {
    try {
      chunk_cache cache(src, cache_bytes);
      bytes chunk(static_cast<std::size_t>(meta.chunk_bytes()));
      for (index_t linear = begin; linear < end && !failed; ++linear) {
        const shape_t index = out.unravel(linear);
        const box target = out.chunk_box(index);
        bool any_stored = false;
        for_each_index(in.chunks_touching(target), [&](const shape_t& from) {
          any_stored = any_stored || src.chunk_exists(from);
        });
        if (any_stored) {  // a region with no stored source chunk stays unstored: it reads as fill
          if (target.shape() != meta.chunks) {
            fill_elements(chunk.data(), out.chunk_elements(), fill.data(), itemsize);
          }
          for_each_index(in.chunks_touching(target), [&](const shape_t& from) {
            const box source = in.chunk_box(from);
            const box part = source.intersect(target);
            copy_region(cache.get(from).data(), in.chunks(), part.relative_to(source.start).start,
                        chunk.data(), meta.chunks, part.relative_to(target.start).start,
                        part.shape(), itemsize);
          });
          dst.write_chunk(index, chunk);
        }
        line.add(1);
      }
    } catch (...) {
      std::lock_guard lock(error_mutex);
      if (!failed.exchange(true)) first_error = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  const index_t total = out.chunk_count();
  for (int t = 1; t < threads; ++t) {
    pool.emplace_back(work, total * t / threads, total * (t + 1) / threads);
  }
  work(0, total / threads);
  for (std::thread& worker : pool) worker.join();
  if (first_error) std::rethrow_exception(first_error);
  return total;
}

void copy_tree(const std::shared_ptr<kvstore>& src_store, const std::string& src_path,
               const std::shared_ptr<kvstore>& dst_store, const std::string& dst_path,
               const copy_options& o, bool progress) {
  if (node_at(*src_store, src_path) == node_kind::array) {
    copy_array(zarr_array::open(src_store, src_path), dst_store, dst_path, o, progress);
    return;
  }
  create_group(*dst_store, dst_path);
  if (const nlohmann::json attributes = read_attributes(*src_store, src_path);
      !attributes.empty()) {
    write_attributes(*dst_store, dst_path, attributes);
  }
  for (const group_child& child : group_children(*src_store, src_path)) {
    copy_tree(src_store, join_key(src_path, child.name), dst_store, join_key(dst_path, child.name),
              o, progress);
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
  const fs::path dst = fs::path(o.destination).lexically_normal();
  if (is_within(dst, o.source) || is_within(o.source, dst)) {
    throw usage_error("destination " + o.destination + " and source " + o.source +
                      " overlap; copy to a separate directory");
  }
  std::error_code ec;
  if (fs::exists(dst, ec) && !o.overwrite) {
    throw_error<io_error>(o.destination, " already exists (use --overwrite to replace it)");
  }
  staged_directory staging(dst, o.overwrite);
  copy_tree(src.storage, src.path, make_directory_store(staging.path()), "", o,
            show_progress(o.progress));
  staging.commit();
}

}  // namespace

void add_copy(CLI::App& app, std::function<void()>& run) {
  auto* cmd = app.add_subcommand(
      "copy",
      "Copy an array or group to a new Zarr array with other chunks, codec, order or key "
      "separator; memory stays at a few chunks");
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
  cmd->add_option("--threads", o->threads, "Worker threads (default: all cores)")
      ->check(CLI::Range(1, 1024));
  cmd->add_flag("--progress,!--no-progress", o->progress,
                "Show progress on stderr (default: when stderr is a terminal)");
  cmd->callback([&run, o] { run = [o] { run_copy(*o); }; });
}

}  // namespace chunkarr::cli
