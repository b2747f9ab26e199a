// libFuzzer target: Zarr metadata (.zarray, .zgroup, .zattrs) as read from any store.
//
// A document is parsed as a .zarray; one that parses must describe a valid chunk grid, print
// back to JSON that parses to the same metadata, and open as an array in a memory store whose
// chunk keys and grid agree. Every document is also parsed as attributes. Anything but a
// chunkarr::error escaping is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "chunkarr/chunkarr.hpp"

using namespace chunkarr;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    (void)parse_json(text, "fuzz/.zattrs");
  } catch (const error&) {
  }
  try {
    const array_metadata m = array_metadata::parse(text, "fuzz/.zarray");
    const array_metadata again = array_metadata::parse(m.to_json(), "fuzz/.zarray (printed)");
    if (again.to_json() != m.to_json()) std::abort();  // printing must round-trip
    auto store = make_memory_store();
    const std::string printed = m.to_json();
    store->set("a/.zarray", std::as_bytes(std::span(printed.data(), printed.size())));
    const zarr_array z = zarr_array::open(store, "a");
    const chunk_grid& g = z.grid();
    if (g.chunk_count() > 0) {
      const shape_t last = g.unravel(g.chunk_count() - 1);
      const box b = g.chunk_box(last);
      if (b.empty() && element_count(z.shape()) > 0) std::abort();
      (void)z.chunk_key(last);
    }
    (void)z.stored_chunks();
  } catch (const error&) {
  }
  return 0;
}
