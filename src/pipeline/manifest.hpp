// The manifest of a stored array (internal): `.chunkarr-manifest` in its directory.
//
// A journal of text lines, each ending in ` ~` and a check (the CRC-32 of the text before it,
// 8 hex digits), appended as the run goes and read back with the last line for each key winning:
//
//   H {json}                                  what the output is computed from (its identity)
//   I input chunk exists size mtime inode D   an input chunk's digest, cached by its stamp
//   S D n input:chunk …                       the chunks the stages before the output read
//   C chunk stored V D n input:chunk …        an output chunk: stored or left out as fill, the
//                                             digest V of its values, D of what it was computed
//                                             from, the input chunks its task read
//
// Chunks are linear indices (C order) in their array's chunk grid. A line cut short by a crash
// fails its check and is ignored, as is anything after it; so a chunk is recorded only after
// its file was written, and a record is never half there.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "chunkarr/core/digest.hpp"
#include "chunkarr/core/index.hpp"
#include "chunkarr/store/store.hpp"

namespace chunkarr::detail {

inline constexpr const char* manifest_name = ".chunkarr-manifest";

/// An input chunk: the input's position in inputs_of, and the chunk's linear index.
struct chunk_ref {
  std::uint32_t input = 0;
  index_t chunk = 0;
  friend bool operator==(const chunk_ref&, const chunk_ref&) = default;
  friend auto operator<=>(const chunk_ref&, const chunk_ref&) = default;
};

struct chunk_record {
  bool stored = true;
  digest values;  // of the chunk's values (the full chunk, edges padded)
  digest source;  // of what it was computed from
  std::vector<chunk_ref> reads;
};

struct cached_digest {
  value_stamp stamp;
  digest values;
};

struct manifest {
  nlohmann::json header;
  std::map<chunk_ref, cached_digest> inputs;
  digest stage;  // of the stages' reads (their digests), as last computed
  std::vector<chunk_ref> stage_reads;
  std::unordered_map<index_t, chunk_record> chunks;
  std::uint64_t intact_bytes = 0;  // read from the file: where its intact lines end
};

/// The manifest in `file`, or nothing when there is none or its header line is not intact.
std::optional<manifest> load_manifest(const std::filesystem::path& file);

/// Appends lines to a manifest, from several threads at once.
class journal {
 public:
  /// Opens `file` for appending (creating it). With `keep`, what follows the first `*keep`
  /// bytes (a line cut short by a crash) is cut off first, so that new lines are read back.
  explicit journal(const std::filesystem::path& file, std::optional<std::uint64_t> keep = {});
  ~journal();
  journal(const journal&) = delete;
  journal& operator=(const journal&) = delete;

  void header(const nlohmann::json& h);
  void input(const chunk_ref& c, const cached_digest& d);
  void stage(const digest& d, const std::vector<chunk_ref>& reads);
  void chunk(index_t index, const chunk_record& r);
  /// Appends `text` as it is (whole lines).
  void append(std::string text);

 private:
  std::filesystem::path file_;
  int fd_ = -1;
  std::mutex mutex_;
};

/// Writes `m` to `file` as a fresh journal (one line per key), beside it first and then moved
/// over it.
void rewrite_manifest(const std::filesystem::path& file, const manifest& m);

}  // namespace chunkarr::detail
