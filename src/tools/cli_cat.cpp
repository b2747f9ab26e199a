// chunkarr cat PATH [--json]: print an array's values.
#include <iostream>

#include "tools/cli.hpp"
#include "tools/format.hpp"

namespace chunkarr::cli {
void add_cat(CLI::App& app, std::function<void()>& run) {
  auto* cmd = app.add_subcommand(
      "cat", "Print an array's values (NumPy-like text, summarised when large, or JSON)");
  auto path = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  cmd->add_option("PATH", *path,
                  "Zarr array directory (may be inside a group), or an HDF5 dataset "
                  "file.h5:/group/dataset")
      ->required();
  cmd->add_flag("--json", *as_json,
                "Print {\"shape\": [...], \"dtype\": \"<f8\", \"data\": [...]}: every value, "
                "flat in C order");
  cmd->callback([&run, path, as_json] {
    run = [path, as_json] {
      const array a = open_input(*path);
      // Show the dtype as stored (byte order included); values arrive in native order.
      dtype shown = a.dtype();
      if (const auto h5 = parse_hdf5_location(*path)) {
        shown = dtype::from_typestr(list_hdf5(*h5).at(0).type);
      } else {
        const node n = open_node(*path);
        shown = zarr_array::open(n.storage, n.path).dtype();
      }
      const region_reader read = array_reader(a, {});
      if (*as_json) {
        const index_t rows = a.shape().empty() || a.chunks()[0].empty() ? 1 : a.chunks()[0][0];
        print_json(std::cout, read, a.shape(), shown, rows);
      } else {
        print_text(std::cout, read, a.shape(), shown);
      }
    };
  });
}

}  // namespace chunkarr::cli
