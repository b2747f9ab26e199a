// An open HDF5 dataset as chunkarr reads it (internal to io/).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "chunkarr/expr/array.hpp"
#include "chunkarr/io/hdf5.hpp"
#include "chunkarr/store/store.hpp"
#include "io/h5.hpp"

namespace chunkarr::detail {

/// h5py's LZF filter: not in libhdf5, decoded by chunkarr (liblzf) from raw chunks.
inline constexpr H5Z_filter_t lzf_filter_id = 32000;

/// Everything chunkarr needs to know about a dataset, read once when it is opened.
struct hdf5_dataset {
  H5::DataSet id;     // keeps the file open while the dataset is in use; copies share it
  std::string where;  // "file.h5:/path", for messages
  std::string file;   // "file.h5"
  h5::extent extent;
  h5::type_info type;
  H5::DataType memory_type;  // what chunkarr reads into: native order, an enum as its integers
  std::string layout;        // chunked, contiguous, compact, virtual
  shape_t storage_chunks;    // chunked layout only
  std::vector<h5::filter> filters;
  bool fill_defined = false;
  bytes fill;  // one element, native order (zeros when undefined)
  index_t stored_bytes = 0;

  /// Why chunkarr cannot read it ("" when it can): a non-numeric type, a filter that is not
  /// available, a virtual layout.
  std::string unsupported() const;
  /// Whether the stored chunks can be read raw and decoded by chunkarr (deflate, shuffle,
  /// Fletcher-32, LZF).
  bool raw_chunks() const;
};

/// Opens the dataset at `path` in `file`, reading its description. Throws not_found_error
/// (nothing there, not a dataset), io_error (cannot open) or format_error (unreadable header),
/// each naming "file:/path".
hdf5_dataset open_dataset(const H5::H5File& file, const std::string& file_name,
                          const std::string& path);

/// The dataset as a chunk_source (chunks: its own, or auto_chunks for unchunked layouts).
/// Throws type_error / codec_error when it is unsupported.
std::shared_ptr<const chunk_source> make_hdf5_source(hdf5_dataset d);

}  // namespace chunkarr::detail
