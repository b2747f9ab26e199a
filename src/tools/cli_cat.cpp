// chunkarr cat PATH [--json]: print an array's values.
#include <iostream>

#include "tools/cli.hpp"
#include "tools/format.hpp"

namespace chunkarr::cli {
namespace {

// Arrays larger than this print summarised, as NumPy's default print threshold does.
constexpr index_t summary_threshold = 1000;
constexpr index_t edge_items = 3;
// Rows of the array read at once for --json: a chunk-row, cut down to stay under this size.
constexpr index_t slab_bytes = index_t{64} << 20;

zarr_array open_array(const std::string& path) {
  const node n = open_node(path);
  if (n.kind != node_kind::array) {
    std::string example = "NAME";
    for (const group_child& child : group_children(*n.storage, n.path)) {
      if (child.kind == node_kind::array) {
        example = child.name;
        break;
      }
    }
    throw_error<not_found_error>(path, " is a Zarr group; cat prints an array inside it, e.g. ",
                                 join_key(path, example), " (chunkarr info ", path, " lists them)");
  }
  return zarr_array::open(n.storage, n.path);
}

void print_json(const zarr_array& a) {
  const array_metadata& m = a.metadata();
  const std::size_t itemsize = m.dtype.itemsize();
  std::string out = "{\"shape\": [";
  for (std::size_t d = 0; d < m.shape.size(); ++d) {
    out += (d ? ", " : "") + std::to_string(m.shape[d]);
  }
  out += "], \"dtype\": \"" + m.dtype.typestr() + "\", \"data\": [";
  std::cout << out;
  if (m.shape.empty()) {
    bytes value(itemsize);
    a.read(box{}, value);
    out.clear();
    append_json_values(out, value.data(), 1, m.dtype.kind, true);
    std::cout << out;
  } else if (element_count(m.shape) > 0) {
    const index_t row_bytes =
        element_count(std::span(m.shape).subspan(1)) * static_cast<index_t>(itemsize);
    const index_t rows = std::max<index_t>(1, std::min(m.chunks[0], slab_bytes / row_bytes));
    bytes buffer;
    for (index_t r0 = 0; r0 < m.shape[0]; r0 += rows) {
      box slab = box::whole(m.shape);
      slab.start[0] = r0;
      slab.stop[0] = std::min(m.shape[0], r0 + rows);
      buffer.resize(static_cast<std::size_t>(slab.size()) * itemsize);
      a.read(slab, buffer);
      // Print in batches, so the text held at once stays small too.
      constexpr index_t batch = 1 << 16;
      for (index_t i = 0; i < slab.size(); i += batch) {
        out.clear();
        append_json_values(out, buffer.data() + i * itemsize, std::min(batch, slab.size() - i),
                           m.dtype.kind, r0 == 0 && i == 0);
        std::cout << out;
      }
    }
  }
  std::cout << "]}\n";
}

void print_text(const zarr_array& a) {
  const array_metadata& m = a.metadata();
  const std::size_t n = m.shape.size();
  const std::size_t itemsize = m.dtype.itemsize();
  const bool summarise = element_count(m.shape) > summary_threshold;
  std::vector<bool> elided(n, false);
  shape_t compact = m.shape;
  for (std::size_t d = 0; d < n; ++d) {
    elided[d] = summarise && m.shape[d] > 2 * edge_items;
    if (elided[d]) compact[d] = 2 * edge_items;
  }
  bytes values(static_cast<std::size_t>(element_count(compact)) * itemsize);
  // Read each corner: along an elided axis the first and the last edge_items indices.
  const index_t corners = index_t{1} << std::count(elided.begin(), elided.end(), true);
  for (index_t corner = 0; corner < corners; ++corner) {
    box part = box::whole(m.shape);
    shape_t origin(n, 0);
    int bit = 0;
    for (std::size_t d = 0; d < n; ++d) {
      if (!elided[d]) continue;
      const bool tail = (corner >> bit++) & 1;
      part.start[d] = tail ? m.shape[d] - edge_items : 0;
      part.stop[d] = part.start[d] + edge_items;
      origin[d] = tail ? edge_items : 0;
    }
    bytes piece(static_cast<std::size_t>(part.size()) * itemsize);
    a.read(part, piece);
    const shape_t extent = part.shape();
    copy_region(piece.data(), extent, shape_t(n, 0), values.data(), compact, origin, extent,
                itemsize);
  }
  std::cout << numpy_str(values.data(), compact, m.dtype.kind, elided, edge_items) << "\n";
}

}  // namespace

void add_cat(CLI::App& app, std::function<void()>& run) {
  auto* cmd = app.add_subcommand(
      "cat", "Print an array's values (NumPy-like text, summarised when large, or JSON)");
  auto path = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  cmd->add_option("PATH", *path, "Zarr array directory (may be inside a group)")->required();
  cmd->add_flag("--json", *as_json,
                "Print {\"shape\": [...], \"dtype\": \"<f8\", \"data\": [...]}: every value, "
                "flat in C order");
  cmd->callback([&run, path, as_json] {
    run = [path, as_json] {
      const zarr_array a = open_array(*path);
      if (*as_json)
        print_json(a);
      else
        print_text(a);
    };
  });
}

}  // namespace chunkarr::cli
