// chunkarr cat PATH [--json]: print an array's values.
#include <iostream>

#include "tools/cli.hpp"
#include "tools/format.hpp"

namespace chunkarr::cli {
namespace {

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
      const array_metadata& m = a.metadata();
      const region_reader read = [&a](const box& b, std::span<std::byte> out) { a.read(b, out); };
      if (*as_json) {
        print_json(std::cout, read, m.shape, m.dtype, m.chunks.empty() ? 1 : m.chunks[0]);
      } else {
        print_text(std::cout, read, m.shape, m.dtype);
      }
    };
  });
}

}  // namespace chunkarr::cli
