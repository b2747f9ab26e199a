// store with provenance and a manifest; incremental recompute and resume; verify.
// (include/chunkarr/pipeline/pipeline.hpp says what they promise; manifest.hpp the format.)
#include "chunkarr/pipeline/pipeline.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <set>

#include "chunkarr/codec/codec.hpp"
#include "chunkarr/core/error.hpp"
#include "chunkarr/core/region_copy.hpp"
#include "chunkarr/exec/tracking.hpp"
#include "chunkarr/io/hdf5.hpp"
#include "chunkarr/pipeline/expression.hpp"
#include "chunkarr/store/location.hpp"
#include "chunkarr/version.hpp"
#include "chunkarr/zarr/group.hpp"
#include "chunkarr/zarr/provenance.hpp"
#include "pipeline/manifest.hpp"

namespace chunkarr {

using namespace detail;
namespace fs = std::filesystem;

namespace {

constexpr const char* partial_tag = ".chunkarr-partial";

std::string chunk_name(const shape_t& index) {
  if (index.empty()) return "0";
  std::string out;
  for (std::size_t d = 0; d < index.size(); ++d) out += (d ? "." : "") + std::to_string(index[d]);
  return out;
}

value_stamp stat_stamp(const fs::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return {};
  return {true, static_cast<std::uint64_t>(st.st_size),
          static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
          static_cast<std::uint64_t>(st.st_ino)};
}

// An input of the expression, with what digesting its chunks needs.
struct input_state {
  expression_input in;
  std::string name;
  std::string location;  // absolute
  chunk_grid grid;
  std::size_t itemsize;
  std::optional<value_stamp> file_stamp;  // a chunk_source read from one file

  input_state(expression_input e, std::string n)
      : in(std::move(e)),
        name(std::move(n)),
        grid(in.shape(), chunk_grid_shape(in)),
        itemsize(in.zarr ? in.zarr->dtype().itemsize() : make_dtype(in.source->kind()).itemsize()) {
    if (in.zarr) {
      location = absolute_location(in.zarr->describe());
    } else {
      const std::string file = in.source->file();
      const std::string where = in.source->describe();
      location = where;
      if (!file.empty()) {
        file_stamp = stat_stamp(file);
        if (where.starts_with(file)) location = absolute_location(file) + where.substr(file.size());
      }
    }
  }

  static shape_t chunk_grid_shape(const expression_input& e) {
    shape_t c = e.chunk_shape();
    for (index_t& x : c) x = std::max<index_t>(x, 1);
    return c;
  }

  std::optional<value_stamp> stamp(index_t chunk) const {
    if (in.zarr) return in.zarr->storage()->stamp(in.zarr->chunk_key(grid.unravel(chunk)));
    return file_stamp;
  }

  // The digest of chunk `chunk`'s values (its box, C order, native), read now.
  digest read_digest(index_t chunk) const {
    const box b = grid.chunk_box(grid.unravel(chunk));
    bytes values(static_cast<std::size_t>(b.size()) * itemsize);
    if (in.zarr)
      in.zarr->read(b, values);
    else
      in.source->read(b, values);
    return digest_of(values);
  }

  nlohmann::json identity() const {
    const std::string dtype =
        in.zarr ? in.zarr->dtype().typestr() : make_dtype(in.source->kind()).typestr();
    return {{"location", location},
            {"dtype", dtype},
            {"shape", in.shape()},
            {"chunks", in.chunk_shape()}};
  }

  digest metadata_digest() const {
    if (in.zarr) {
      const std::optional<bytes> text =
          in.zarr->storage()->get(join_key(in.zarr->path(), ".zarray"));
      if (text) return digest_of(*text);
    }
    const std::string id = identity().dump();
    return digest_of(std::as_bytes(std::span(id.data(), id.size())));
  }
};

std::vector<input_state> input_states(const array& a, const std::vector<std::string>& names) {
  std::vector<input_state> out;
  const std::vector<expression_input> ins = inputs_of(a);
  for (std::size_t k = 0; k < ins.size(); ++k) {
    out.emplace_back(ins[k], k < names.size() ? names[k] : "input" + std::to_string(k));
  }
  return out;
}

digest stage_digest_of(const std::vector<chunk_ref>& reads,
                       const std::function<digest(const chunk_ref&)>& digest_for) {
  hasher h;
  h.add("stage");
  for (const chunk_ref& r : reads) {
    h.add_value(r.input).add_value(r.chunk);
    h.add(digest_for(r));
  }
  return h.finish();
}

digest source_digest_of(const digest& identity, const digest& stage,
                        const std::vector<chunk_ref>& reads,
                        const std::function<digest(const chunk_ref&)>& digest_for) {
  hasher h;
  h.add("chunk").add(identity).add(stage);
  for (const chunk_ref& r : reads) {
    h.add_value(r.input).add_value(r.chunk);
    h.add(digest_for(r));
  }
  return h.finish();
}

// The input chunks that `reads` touch, sorted, each once.
std::vector<chunk_ref> chunks_read(const std::vector<input_state>& inputs,
                                   const std::vector<input_read>& reads) {
  std::vector<chunk_ref> out;
  for (const input_read& r : reads) {
    const chunk_grid& g = inputs[r.input].grid;
    if (r.region.size() == 0) continue;
    for_each_index(g.chunks_touching(r.region), [&](const shape_t& index) {
      out.push_back({static_cast<std::uint32_t>(r.input), g.linear_index(index)});
    });
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// The digests of input chunks, known from the manifest's cache while their stamps hold, else
// read and digested (once each); and the cache entries to record.
class input_digests {
 public:
  input_digests(const std::vector<input_state>& inputs, const manifest* old)
      : inputs_(inputs), old_(old) {}

  /// Digests computed from now on are journaled (a resumed run finds them cached).
  void journal_to(journal* log) { log_ = log; }

  digest get(const chunk_ref& c) {
    {
      std::lock_guard lock(mutex_);
      if (const auto it = known_.find(c); it != known_.end()) return it->second.values;
    }
    const input_state& in = inputs_[c.input];
    const std::optional<value_stamp> stamp = in.stamp(c.chunk);
    if (old_ && stamp) {
      if (const auto it = old_->inputs.find(c);
          it != old_->inputs.end() && it->second.stamp == *stamp) {
        std::lock_guard lock(mutex_);
        return known_.emplace(c, it->second).first->second.values;
      }
    }
    const digest d = in.read_digest(c.chunk);
    remember(c, stamp, d);
    return d;
  }

  // A digest computed from values a task read (its stamp taken now: when the chunk changed
  // since it was read, the stamp differs from the one the values had, and the next run
  // digests it again).
  void offer(const chunk_ref& c, std::span<const std::byte> values) {
    {
      std::lock_guard lock(mutex_);
      if (known_.contains(c)) return;
    }
    const std::optional<value_stamp> stamp = inputs_[c.input].stamp(c.chunk);
    remember(c, stamp, digest_of(values));
  }

  // Whether the digest of `c` differs from the one the manifest cached (read: it changed).
  bool changed(const chunk_ref& c) {
    const digest now = get(c);
    if (!old_) return true;
    const auto it = old_->inputs.find(c);
    return it == old_->inputs.end() || it->second.values != now;
  }

  std::map<chunk_ref, cached_digest> cache() const {
    std::lock_guard lock(mutex_);
    return known_;
  }

  // A digest over the digests of input `k`'s chunks known now.
  digest of_input(std::uint32_t k) const {
    std::lock_guard lock(mutex_);
    hasher h;
    for (const auto& [c, d] : known_) {
      if (c.input != k) continue;
      h.add_value(c.chunk).add(d.values);
    }
    return h.finish();
  }

 private:
  void remember(const chunk_ref& c, const std::optional<value_stamp>& stamp, const digest& d) {
    // Without a stamp the value cannot be trusted next time: a stamp that never matches.
    cached_digest e{stamp.value_or(value_stamp{true, ~std::uint64_t{0}, -1, 0}), d};
    std::lock_guard lock(mutex_);
    if (known_.emplace(c, e).second && log_) log_->input(c, e);
  }

  const std::vector<input_state>& inputs_;
  const manifest* old_;
  journal* log_ = nullptr;
  mutable std::mutex mutex_;
  std::map<chunk_ref, cached_digest> known_;
};

// Records what each chunk was computed from, as the run goes (store_observer).
class tracker final : public store_observer {
 public:
  tracker(const std::vector<input_state>& inputs, input_digests& digests, const digest& identity,
          const chunk_grid& out_grid, journal* log, manifest& m)
      : inputs_(inputs), digests_(digests), identity_(identity), grid_(out_grid), log_(log), m_(m) {
    m_.stage_reads.clear();
    m_.stage = stage_digest_of({}, {});
  }

  void input_values(std::size_t input, const box& region,
                    std::span<const std::byte> values) override {
    const input_state& in = inputs_[input];
    const chunk_grid& g = in.grid;
    if (region.size() == 0) return;
    const box touched = g.chunks_touching(region);
    for_each_index(touched, [&](const shape_t& index) {
      const box c = g.chunk_box(index);
      if (!region.contains(c)) return;  // partly read: digested from a read of its own
      const chunk_ref ref{static_cast<std::uint32_t>(input), g.linear_index(index)};
      if (c == region) {
        digests_.offer(ref, values);
        return;
      }
      bytes part(static_cast<std::size_t>(c.size()) * in.itemsize);
      copy_region(values.data(), region.shape(), c.relative_to(region.start).start, part.data(),
                  c.shape(), shape_t(c.ndim(), 0), c.shape(), in.itemsize);
      digests_.offer(ref, part);
    });
  }

  void stage_reads(const std::vector<input_read>& reads) override {
    std::vector<chunk_ref> refs = chunks_read(inputs_, reads);
    const digest d = stage_digest_of(refs, [&](const chunk_ref& r) { return digests_.get(r); });
    std::lock_guard lock(mutex_);
    m_.stage = d;
    m_.stage_reads = std::move(refs);
    if (log_) log_->stage(m_.stage, m_.stage_reads);
  }

  void chunk_done(const shape_t& index, std::span<const std::byte> values, bool stored,
                  const std::vector<input_read>& reads) override {
    chunk_record r;
    r.stored = stored;
    r.values = digest_of(values);
    r.reads = chunks_read(inputs_, reads);
    digest stage;
    {
      std::lock_guard lock(mutex_);
      stage = m_.stage;
    }
    r.source = source_digest_of(identity_, stage, r.reads,
                                [&](const chunk_ref& c) { return digests_.get(c); });
    const index_t linear = grid_.linear_index(index);
    if (log_) log_->chunk(linear, r);
    std::lock_guard lock(mutex_);
    m_.chunks[linear] = std::move(r);
    ++computed_;
  }

  index_t computed() const { return computed_; }

 private:
  const std::vector<input_state>& inputs_;
  input_digests& digests_;
  digest identity_;
  const chunk_grid& grid_;
  journal* log_;
  manifest& m_;
  std::mutex mutex_;
  index_t computed_ = 0;
};

array_metadata output_metadata(const array& a, const store_options& options,
                               const std::string& where) {
  array_metadata meta;
  meta.shape = a.shape();
  meta.dtype = a.dtype();
  meta.compressor = make_codec(options.codec);
  meta.fill = 0.0;
  if (!options.chunks.empty()) {
    if (options.chunks.size() != meta.shape.size()) {
      throw_error<shape_error>("store: chunks ", to_string(options.chunks), " do not match shape ",
                               to_string(meta.shape));
    }
    meta.chunks = options.chunks;
  } else {
    for (const axis_chunks& axis : a.chunks()) meta.chunks.push_back(axis.empty() ? 1 : axis[0]);
  }
  meta.validate(where);
  return meta;
}

// What the output is computed from: equal headers mean equal values, chunk for chunk, for
// equal input chunks.
nlohmann::json make_header(const array& a, const std::vector<input_state>& inputs,
                           const array_metadata& meta, const store_options& options) {
  nlohmann::json ins = nlohmann::json::array();
  for (const input_state& in : inputs) ins.push_back(in.identity());
  return {{"format", 1},
          {"version", version()},
          {"expression", expression_digest(a).hex()},
          {"inputs", ins},
          {"output",
           {{"shape", meta.shape},
            {"dtype", meta.dtype.typestr()},
            {"chunks", meta.chunks},
            {"codec", options.codec},
            {"write_empty_chunks", options.write_empty_chunks}}}};
}

digest identity_of(const nlohmann::json& header) {
  const std::string text = header.dump();
  return digest_of(std::as_bytes(std::span(text.data(), text.size())));
}

// Why an output made under header `old` must be recomputed whole for `now`, or "".
std::string header_change(const nlohmann::json& old, const nlohmann::json& now) {
  if (old == now) return "";
  auto differs = [&](const char* key) { return !old.contains(key) || old[key] != now[key]; };
  if (differs("format")) return "the manifest's format changed";
  if (differs("version")) {
    return "chunkarr's version changed (" +
           (old.contains("version") ? old["version"].dump() : std::string("none")) + " to " +
           now["version"].dump() + ")";
  }
  if (differs("expression")) return "the expression changed";
  if (differs("inputs")) {
    const nlohmann::json& a = old["inputs"];
    const nlohmann::json& b = now["inputs"];
    if (!a.is_array() || a.size() != b.size()) return "the inputs changed";
    for (std::size_t k = 0; k < b.size(); ++k) {
      if (a[k] == b[k]) continue;
      for (const char* field : {"location", "dtype", "shape", "chunks"}) {
        if (!a[k].contains(field) || a[k][field] != b[k][field])
          return "input " + std::to_string(k) + "'s " + field + " changed";
      }
    }
    return "the inputs changed";
  }
  const nlohmann::json& a = old.contains("output") ? old["output"] : nlohmann::json::object();
  for (const char* field : {"shape", "dtype", "chunks", "codec", "write_empty_chunks"}) {
    if (!a.contains(field) || a[field] != now["output"][field])
      return std::string("the output's ") + field + " changed";
  }
  return "the output's options changed";
}

nlohmann::json provenance(const array& a, const std::vector<input_state>& inputs,
                          input_digests* digests, const array_metadata& meta,
                          const store_options& options, bool with_manifest) {
  nlohmann::json ins = nlohmann::json::array();
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    const input_state& in = inputs[k];
    nlohmann::json j = in.identity();
    j["name"] = in.name;
    j["metadata_digest"] = in.metadata_digest().hex();
    if (digests) j["digest"] = digests->of_input(static_cast<std::uint32_t>(k)).hex();
    ins.push_back(std::move(j));
  }
  nlohmann::json p = {{"version", version()},
                      {"expression", options.expression},
                      {"expression_digest", expression_digest(a).hex()},
                      {"inputs", ins},
                      {"options",
                       {{"dtype", meta.dtype.typestr()},
                        {"codec", options.codec},
                        {"chunks", meta.chunks},
                        {"write_empty_chunks", options.write_empty_chunks}}},
                      {"created", utc_now()}};
  if (with_manifest) p["manifest"] = manifest_name;
  return p;
}

void write_provenance(const zarr_array& out, const nlohmann::json& p) {
  nlohmann::json attrs = out.attributes();
  attrs["chunkarr"] = p;
  out.set_attributes(attrs);
}

// The chunks of `grid` whose records in `m` do not match what they would be computed from now
// (all of them when none are recorded), and how many input chunks changed.
// Drops what a damaged (or edited) manifest says about chunks that do not exist: records of
// output chunks outside `grid`, and records, cache entries and stage reads naming input chunks
// outside the inputs' grids (their chunks are computed again).
void drop_invalid(manifest& m, const std::vector<input_state>& inputs, const chunk_grid& grid) {
  auto valid = [&](const chunk_ref& c) {
    return c.input < inputs.size() && c.chunk >= 0 && c.chunk < inputs[c.input].grid.chunk_count();
  };
  std::erase_if(m.inputs, [&](const auto& e) { return !valid(e.first); });
  if (!std::all_of(m.stage_reads.begin(), m.stage_reads.end(), valid)) {
    m.stage_reads.clear();
    m.chunks.clear();
  }
  std::erase_if(m.chunks, [&](const auto& e) {
    return e.first < 0 || e.first >= grid.chunk_count() ||
           !std::all_of(e.second.reads.begin(), e.second.reads.end(), valid);
  });
}

std::vector<shape_t> stale_chunks(const manifest& m, const chunk_grid& grid, const digest& identity,
                                  input_digests& digests, index_t& changed_inputs) {
  std::set<chunk_ref> referenced(m.stage_reads.begin(), m.stage_reads.end());
  for (const auto& [index, r] : m.chunks) referenced.insert(r.reads.begin(), r.reads.end());
  changed_inputs = 0;
  for (const chunk_ref& c : referenced) changed_inputs += digests.changed(c) ? 1 : 0;
  auto get = [&](const chunk_ref& c) { return digests.get(c); };
  const digest stage = stage_digest_of(m.stage_reads, get);
  std::vector<shape_t> stale;
  for (index_t i = 0; i < grid.chunk_count(); ++i) {
    const auto it = m.chunks.find(i);
    if (it == m.chunks.end() ||
        source_digest_of(identity, stage, it->second.reads, get) != it->second.source) {
      stale.push_back(grid.unravel(i));
    }
  }
  return stale;
}

// A store to a local directory: staged (or, incremental, in a partial array of a fixed name),
// observed, and finished with provenance and a compacted manifest.
// One incremental writer of an output at a time: an exclusive flock on `TARGET.chunkarr-lock`,
// taken before anything is looked at and held until the commit (or the failure), then the file
// removed. A lock file, not the output's directory: that is renamed and replaced on the way, and
// a directory cannot be locked where flock is emulated with byte-range locks (NFS). A killed
// writer's lock ends with it; its file is taken over by the next.
class writer_lock {
 public:
  writer_lock() = default;
  writer_lock(const writer_lock&) = delete;
  writer_lock& operator=(const writer_lock&) = delete;
  ~writer_lock() {
    if (fd_ < 0) return;
    ::unlink(file_.c_str());  // while held: a writer that opened it meanwhile takes a new one
    ::close(fd_);
  }

  // Throws io_error naming `target` when another process writes it.
  void lock(const fs::path& target) {
    file_ = target;
    file_ += ".chunkarr-lock";
    for (int attempt = 0; attempt < 64; ++attempt) {
      const int fd = ::open(file_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
      if (fd < 0) {
        throw_error<io_error>("cannot open ", file_.string(), ": ", std::strerror(errno));
      }
      if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        ::close(fd);
        if (err == EWOULDBLOCK) {
          throw_error<io_error>(target.string(), ": another chunkarr is writing it now (",
                                file_.string(), " is locked); run again when it has finished");
        }
        if (err == ENOLCK || err == ENOSYS || err == EOPNOTSUPP) return;  // no locks here
        throw_error<io_error>("cannot lock ", file_.string(), ": ", std::strerror(err));
      }
      struct stat held {
      }, now{};
      if (::fstat(fd, &held) == 0 && ::stat(file_.c_str(), &now) == 0 &&
          held.st_ino == now.st_ino && held.st_dev == now.st_dev) {
        fd_ = fd;
        return;
      }
      ::close(fd);  // removed by the writer that held it: the next file is the lock now
    }
    throw_error<io_error>("cannot lock ", file_.string(), ": it keeps being replaced");
  }

 private:
  fs::path file_;
  int fd_ = -1;
};

std::optional<zarr_array> store_local(const array& a, const fs::path& target, const location& where,
                                      const store_options& options, store_report* status) {
  const array_metadata meta = output_metadata(a, options, target.string());
  const std::vector<input_state> inputs = input_states(a, options.input_names);
  const nlohmann::json header = make_header(a, inputs, meta, options);
  const digest identity = identity_of(header);
  const chunk_grid grid(meta.shape, meta.chunks);
  store_report report;
  report.chunks = grid.chunk_count();
  const bool dry = status != nullptr;
  if (!dry) create_parent_groups(where);

  fs::path partial = target;
  partial += partial_tag;
  std::error_code ec;
  std::optional<manifest> old;  // the records a run can keep
  bool in_place = false;        // working in `partial` as it is (resume, update)
  writer_lock lock;             // held until the commit
  if (options.incremental && !dry) lock.lock(target);
  if (options.incremental) {
    if (fs::exists(fs::symlink_status(partial, ec))) {
      old = load_manifest(partial / manifest_name);
      if (old && !options.force && header_change(old->header, header).empty()) {
        in_place = true;
        report.resumed = true;
      } else {
        old.reset();
        if (!dry) {
          fs::remove_all(partial, ec);
          if (ec) throw_error<io_error>("cannot remove ", partial.string(), ": ", ec.message());
        }
      }
    }
    if (!in_place && fs::exists(fs::symlink_status(target, ec))) {
      old = load_manifest(target / manifest_name);
      if (!old && !options.overwrite) {
        throw_error<io_error>(target.string(),
                              " exists and has no chunkarr manifest (it was not stored by "
                              "chunkarr, or its manifest is damaged): overwrite to replace it");
      }
      if (old) {
        report.reason = options.force ? "forced" : header_change(old->header, header);
        if (report.reason.empty())
          in_place = true;
        else
          old.reset();
      } else {
        report.reason = "the output has no manifest";
      }
    } else if (!in_place) {
      report.reason = "no earlier output";
    }
  } else if (fs::exists(fs::symlink_status(target, ec)) && !options.overwrite) {
    throw_error<io_error>(target.string(), " already exists (overwrite to replace it)");
  }

  if (old) drop_invalid(*old, inputs, grid);
  input_digests digests(inputs, old ? &*old : nullptr);
  std::optional<std::vector<shape_t>> only;
  if (in_place) {
    index_t changed = 0;
    only = stale_chunks(*old, grid, identity, digests, changed);
    report.reused = report.chunks - static_cast<index_t>(only->size());
    if (only->empty() && !report.resumed) {
      report.up_to_date = true;
      report.reason = "up to date";
      if (status) *status = report;
      if (options.report) *options.report = report;
      if (dry) return std::nullopt;
      return zarr_array::open(where.store, where.path);
    }
    report.reason = report.resumed ? "resuming: " + std::to_string(only->size()) +
                                         " chunks not recorded as done or changed"
                                   : std::to_string(changed) + " input chunks changed";
  }
  if (dry) {
    report.computed = only ? static_cast<index_t>(only->size()) : report.chunks;
    *status = report;
    return std::nullopt;
  }
  if (in_place) {
    if (!report.resumed) {
      // From here until the commit the output is the partial array: nothing at `target` is
      // taken for complete while chunks are rewritten.
      if (::rename(target.c_str(), partial.c_str()) != 0) {
        throw_error<io_error>("cannot move ", target.string(), " aside to ", partial.string(), ": ",
                              std::strerror(errno));
      }
    }
  }

  std::unique_ptr<staged_directory> staging;
  if (options.incremental) {
    staging = std::make_unique<staged_directory>(target, true, partial);
  } else {
    staging = std::make_unique<staged_directory>(target, options.overwrite);
  }
  const std::shared_ptr<kvstore> dir = make_durable_directory_store(staging->path());
  const zarr_array out = in_place ? zarr_array::open(dir, "") : zarr_array::create(dir, "", meta);
  if (in_place) {  // marked unfinished until the commit
    nlohmann::json attrs = out.attributes();
    if (attrs.contains("chunkarr")) attrs["chunkarr"]["complete"] = false;
    out.set_attributes(attrs);
  }
  manifest m;
  if (old) m = *old;
  m.header = header;
  {
    journal log(staging->path() / manifest_name,
                in_place ? std::optional<std::uint64_t>(old->intact_bytes) : std::nullopt);
    if (!in_place) log.header(header);
    for (const auto& [c, d] : digests.cache()) log.input(c, d);  // digested before the run
    digests.journal_to(&log);
    tracker t(inputs, digests, identity, grid, &log, m);
    if (in_place) {
      // Until the stages before the output run again (when there are any), the chunks are
      // computed from what they read before, as it is now.
      m.stage_reads = old->stage_reads;
      m.stage = stage_digest_of(m.stage_reads, [&](const chunk_ref& c) { return digests.get(c); });
    }
    if (!only || !only->empty()) {  // a resumed run may have nothing left but the commit
      store_observed(a, out, options.compute, options.write_empty_chunks, only ? &*only : nullptr,
                     t);
    }
    digests.journal_to(nullptr);
    report.computed = t.computed();
  }
  m.inputs = digests.cache();
  rewrite_manifest(staging->path() / manifest_name, m);
  nlohmann::json p = provenance(a, inputs, &digests, meta, options, true);
  p["complete"] = true;
  write_provenance(out, p);
  staging->commit();
  if (options.report) *options.report = report;
  return zarr_array::open(where.store, where.path);
}

std::string describe_array(const array& a) {
  return "an array of shape " + to_string(a.shape()) + " " + a.dtype().name();
}

}  // namespace

zarr_array store(const array& a, const fs::path& path, const store_options& options) {
  if (!a) throw_error<value_error>("store: an empty chunkarr::array");
  const location where = resolve_location(path.string());
  if (options.force && !options.incremental) {
    throw_error<value_error>("store: ", path.string(), ": force applies to incremental stores");
  }
  if (options.incremental && !options.manifest) {
    throw_error<value_error>("store: ", path.string(),
                             ": an incremental store needs its manifest (manifest = true)");
  }
  if (!where.directory.empty() && options.manifest)
    return *store_local(a, where.directory, where, options, nullptr);
  if (options.incremental) {
    throw_error<value_error>("store: ", path.string(),
                             ": incremental stores need a local directory (they keep a "
                             "manifest file beside the chunks)");
  }
  // Another kind of store, or no manifest wanted: staged by the store, with provenance only.
  const array_metadata meta = output_metadata(a, options, path.string());
  const std::vector<input_state> inputs = input_states(a, options.input_names);
  create_parent_groups(where);
  const std::unique_ptr<staged_write> staging = where.store->stage(where.path, options.overwrite);
  const zarr_array out = zarr_array::create(staging->store(), staging->path(), meta);
  store(a, out, options.compute, options.write_empty_chunks);
  nlohmann::json p = provenance(a, inputs, nullptr, meta, options, false);
  p["complete"] = true;
  write_provenance(out, p);
  staging->commit();
  if (options.report) {
    const chunk_grid grid(meta.shape, meta.chunks);
    *options.report = {grid.chunk_count(), grid.chunk_count(), 0, false, false, "no manifest"};
  }
  return zarr_array::open(where.store, where.path);
}

void record_provenance(const zarr_array& out, const std::string& operation,
                       const std::vector<std::pair<std::string, std::string>>& inputs) {
  const array_metadata& m = out.metadata();
  write_provenance(out, provenance_record(operation, inputs,
                                          {{"dtype", m.dtype.typestr()},
                                           {"codec", m.compressor ? m.compressor->spec() : "none"},
                                           {"chunks", m.chunks}}));
}

store_report store_status(const array& a, const fs::path& path, const store_options& options) {
  if (!a) throw_error<value_error>("store_status: an empty chunkarr::array");
  const location where = resolve_location(path.string());
  if (where.directory.empty()) {
    throw_error<value_error>("store_status: ", path.string(),
                             ": incremental stores need a local directory");
  }
  store_options o = options;
  o.incremental = true;
  store_report report;
  store_local(a, where.directory, where, o, &report);
  return report;
}

namespace {

// An output `copy` or `convert` made (no manifest: no digests): compared with its recorded
// source, value for value (NaN equal to NaN), chunk by chunk of the output.
verify_report verify_against_source(const array& out, const nlohmann::json& p,
                                    const std::string& shown, const verify_options& options) {
  const std::string operation = p.value("expression", "");
  if (options.digests_only) {
    throw_error<format_error>(shown, ": made by ", operation,
                              ", which records no digests: verify it without --digests (against "
                              "its source)");
  }
  const nlohmann::json& inputs = p.at("inputs");
  if (!inputs.is_array() || inputs.size() != 1 || !inputs[0].is_object() ||
      !inputs[0].contains("location") || !inputs[0]["location"].is_string()) {
    throw_error<format_error>(shown, ": its provenance names no source");
  }
  const std::string source = inputs[0].at("location").get<std::string>();
  verify_report report;
  const array a = open_input(source);
  if (a.shape() != out.shape() || a.dtype().kind != out.dtype().kind) {
    report.problem = "its source " + source + " is now " + describe_array(a) + ", not " +
                     describe_array(out) + " (it changed since the " + operation + ")";
    return report;
  }
  array differs = a != out;
  if (out.dtype().is_float()) differs = differs & ~(isnan(a) & isnan(out));
  shape_t chunk(out.ndim());
  for (std::size_t d = 0; d < chunk.size(); ++d)
    chunk[d] = out.chunks()[d].empty() ? 1 : out.chunks()[d].front();
  const chunk_grid grid(out.shape(), chunk);
  std::mutex mutex;
  index_t first_bad = -1;
  compute_chunks(
      differs, chunk,
      [&](const box& b, std::span<const std::byte> values) {
        if (std::all_of(values.begin(), values.end(),
                        [](std::byte v) { return v == std::byte{0}; }))
          return;
        shape_t index(b.ndim());
        for (std::size_t d = 0; d < index.size(); ++d) index[d] = b.start[d] / chunk[d];
        const index_t i = grid.linear_index(index);
        std::lock_guard lock(mutex);
        if (first_bad < 0 || i < first_bad) first_bad = i;
      },
      element_count(chunk), false, options.compute);
  report.chunks = grid.chunk_count();
  report.source = source;
  if (first_bad >= 0) {
    report.problem = "chunk " + chunk_name(grid.unravel(first_bad)) + ": differs from its source " +
                     source + " (changed since the " + operation + ", or damaged)";
    return report;
  }
  report.ok = true;
  return report;
}

}  // namespace

verify_report verify(const fs::path& path, const verify_options& options) {
  if (const auto h5 = parse_hdf5_location(path.string())) {  // an HDF5 output of convert
    const nlohmann::json attrs = hdf5_attributes(*h5);
    nlohmann::json p;
    if (attrs.contains("chunkarr") && attrs["chunkarr"].is_string())
      p = nlohmann::json::parse(attrs["chunkarr"].get<std::string>(), nullptr, false);
    if (!p.is_object() || !p.contains("inputs")) {
      throw_error<format_error>(path.string(), ": no chunkarr provenance in its attributes");
    }
    if (p.value("complete", nlohmann::json(false)) != true) {
      verify_report incomplete;
      incomplete.problem = "the output is incomplete";
      return incomplete;
    }
    return verify_against_source(open_hdf5(*h5), p, path.string(), options);
  }
  const location where = resolve_location(path.string());
  const zarr_array out = zarr_array::open(where.store, where.path);
  const nlohmann::json attrs = out.attributes();
  if (!attrs.contains("chunkarr") || !attrs["chunkarr"].is_object()) {
    throw_error<format_error>(path.string(), ": no chunkarr provenance in its .zattrs");
  }
  const nlohmann::json& p = attrs["chunkarr"];
  verify_report report;
  if (p.value("complete", nlohmann::json(false)) != true) {
    report.problem = "the output is incomplete (a run did not finish)";
    return report;
  }
  if (!p.contains("manifest") && p.contains("inputs")) {  // copy, convert
    const std::string operation = p.value("expression", "");
    if (operation == "copy" || operation == "convert")
      return verify_against_source(from_zarr(out), p, path.string(), options);
  }
  if (where.directory.empty()) {
    throw_error<format_error>(path.string(), ": verify needs a local directory (the manifest)");
  }
  std::optional<manifest> m = load_manifest(fs::path(where.directory) / manifest_name);
  if (!m) throw_error<format_error>(path.string(), ": its manifest is missing or damaged");
  std::erase_if(m->chunks,
                [&](const auto& e) { return e.first < 0 || e.first >= out.grid().chunk_count(); });
  const chunk_grid& grid = out.grid();
  const std::size_t chunk_bytes = static_cast<std::size_t>(out.metadata().chunk_bytes());
  // The stored chunks against their recorded digests.
  {
    bytes values(chunk_bytes);
    for (index_t i = 0; i < grid.chunk_count(); ++i) {
      const shape_t index = grid.unravel(i);
      const auto it = m->chunks.find(i);
      if (it == m->chunks.end()) {
        report.problem = "chunk " + chunk_name(index) + " is not recorded in the manifest";
        return report;
      }
      out.read_chunk(index, values);
      if (digest_of(values) != it->second.values) {
        report.problem = "chunk " + chunk_name(index) + " (" + out.chunk_key(index) +
                         "): its values differ from the digest recorded when it was written";
        return report;
      }
      ++report.chunks;
    }
  }
  if (options.digests_only) {
    report.ok = true;
    return report;
  }
  // Recomputed from the recorded expression and inputs.
  const std::string text = p.value("expression", "");
  array a;
  if (options.expression) {
    a = *options.expression;
  } else {
    if (text.empty()) {
      throw_error<format_error>(path.string(),
                                ": its provenance has no expression text to recompute (stored "
                                "from C++ without one): verify the digests only, or pass the "
                                "expression");
    }
    std::map<std::string, array> inputs;
    for (const nlohmann::json& in : p.at("inputs")) {
      inputs.emplace(in.at("name").get<std::string>(),
                     open_input(in.at("location").get<std::string>()));
    }
    a = parse_expression(text, inputs, options.compute);
  }
  if (expression_digest(a).hex() != p.value("expression_digest", "")) {
    report.problem = "the expression '" + (options.expression ? describe_array(a) : text) +
                     "' does not compute what the output was stored from (another expression, "
                     "chunkarr version, or inputs of another shape or type)";
    return report;
  }
  {  // inputs that changed since: the recomputation would differ for that reason alone
    std::vector<std::string> names;
    for (const nlohmann::json& in : p.at("inputs")) names.push_back(in.at("name"));
    const std::vector<input_state> states = input_states(a, names);
    drop_invalid(*m, states, out.grid());
    input_digests digests(states, &*m);
    for (const auto& [c, cached] : m->inputs) {
      if (c.input >= states.size() || !digests.changed(c)) continue;
      const input_state& in = states[c.input];
      report.problem = "input '" + in.name + "' (" + in.location + ") changed since the output " +
                       "was stored (its chunk " + chunk_name(in.grid.unravel(c.chunk)) +
                       "): store it again";
      return report;
    }
  }
  const dtype t = dtype::from_typestr(p.at("options").at("dtype").get<std::string>());
  if (a.dtype().kind != t.kind) a = a.astype(t);
  std::mutex mutex;
  index_t first_bad = -1;
  compute_chunks(
      a, out.metadata().chunks,
      [&](const box& b, std::span<const std::byte> values) {
        shape_t index(b.ndim());
        for (std::size_t d = 0; d < index.size(); ++d) index[d] = b.start[d] / grid.chunks()[d];
        const index_t i = grid.linear_index(index);
        const auto it = m->chunks.find(i);
        if (it != m->chunks.end() && digest_of(values) == it->second.values) return;
        std::lock_guard lock(mutex);
        if (first_bad < 0 || i < first_bad) first_bad = i;
      },
      static_cast<index_t>(chunk_bytes), true, options.compute);
  if (first_bad >= 0) {
    report.problem = "chunk " + chunk_name(grid.unravel(first_bad)) +
                     ": recomputing it from its expression and inputs gives other values";
    return report;
  }
  report.ok = true;
  return report;
}

std::vector<std::string> input_names(const array& a, const std::map<std::string, array>& named) {
  std::map<const void*, std::string> by_source;
  for (const auto& [name, arr] : named)
    for (const expression_input& in : inputs_of(arr)) by_source.emplace(in.identity(), name);
  std::vector<std::string> names;
  for (const expression_input& in : inputs_of(a)) {
    const auto it = by_source.find(in.identity());
    names.push_back(it == by_source.end() ? "input" + std::to_string(names.size()) : it->second);
  }
  return names;
}

array open_input(const std::string& spec) {
  if (const auto h5 = parse_hdf5_location(spec)) return open_hdf5(*h5);
  const location where = resolve_location(spec);
  return from_zarr(zarr_array::open(where.store, where.path));
}

}  // namespace chunkarr
