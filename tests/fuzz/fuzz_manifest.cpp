// libFuzzer target: a manifest (.chunkarr-manifest) as a crash or an editor may leave it.
//
// Any bytes load as a manifest or as none; one that loads must write back (rewrite_manifest)
// to a file that loads to the same records. Anything but a chunkarr::error escaping is a
// finding.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "chunkarr/chunkarr.hpp"
#include "pipeline/manifest.hpp"

using namespace chunkarr;
using namespace chunkarr::detail;

namespace {

bool same(const manifest& a, const manifest& b) {
  if (a.header != b.header || a.stage != b.stage || a.stage_reads != b.stage_reads ||
      a.inputs.size() != b.inputs.size() || a.chunks.size() != b.chunks.size())
    return false;
  for (const auto& [c, d] : a.inputs) {
    const auto it = b.inputs.find(c);
    if (it == b.inputs.end() || !(it->second.stamp == d.stamp) || it->second.values != d.values)
      return false;
  }
  for (const auto& [i, r] : a.chunks) {
    const auto it = b.chunks.find(i);
    if (it == b.chunks.end() || it->second.stored != r.stored || it->second.values != r.values ||
        it->second.source != r.source || it->second.reads != r.reads)
      return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                           ("chunkarr-fuzz-manifest-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::filesystem::path in = dir / "in", out = dir / "out";
  {
    std::ofstream f(in, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    const std::optional<manifest> m = load_manifest(in);
    if (!m) return 0;
    std::filesystem::remove(out);
    rewrite_manifest(out, *m);
    const std::optional<manifest> again = load_manifest(out);
    if (!again || !same(*m, *again)) std::abort();  // what was read must write back the same
  } catch (const error&) {
  }
  return 0;
}
