// The README's C++ example, built against the installed chunkarr package.
// usage: consumer SAMPLE_DIR OUT_DIR
#include <chunkarr/chunkarr.hpp>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <xtensor/xmath.hpp>

namespace ca = chunkarr;

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  const std::string lfp_path =
      std::string(argv[1]) + "/2018_12_11_experiment_5.zarr/recordings/lfp";
  const std::string out_path = std::string(argv[2]) + "/out.zarr";
  const std::string h5_path = std::string(argv[1]) + "/2018_12_11_experiment_5.h5";
  const std::string exp5_path = std::string(argv[2]) + "/exp5.zarr";
  // --- README example begins ---
  ca::array x = ca::open(lfp_path);                                        // lazy: reads .zarray
  ca::array y = ca::mean(x(ca::all, ca::range(100, 2000)) * 1000.0, {1});  // lazy
  xt::xarray<double> m = ca::compute<double>(y, {.memory_limit = 256 << 20});
  ca::store(ca::sqrt(ca::abs(x)), out_path, {.codec = "blosc:lz4:5:shuffle"});
  std::cout << ca::to_dot(y);
  // --- README example ends ---
#if CHUNKARR_WITH_HDF5  // the package says whether it was built with HDF5
  // --- README HDF5 example begins ---
  ca::array h = ca::open_hdf5({h5_path, "/recordings/lfp"});
  auto per_channel = ca::compute<float>(ca::mean(h, {1}));  // chunk-aligned, all cores
  ca::convert(h5_path, exp5_path);                          // the whole tree
  // --- README HDF5 example ends ---
  const ca::zarr_array converted = ca::zarr_array::open(exp5_path + "/recordings/lfp");
  if (per_channel.size() != 16 || !(per_channel(3) > per_channel(0)) ||
      converted.shape() != ca::shape_t{16, 30000}) {
    std::cerr << "consumer: unexpected HDF5 result\n";
    return 1;
  }
#else
  try {
    ca::open_hdf5({h5_path, "/recordings/lfp"});
    std::cerr << "consumer: open_hdf5 without HDF5 support did not throw\n";
    return 1;
  } catch (const ca::format_error&) {
  }
#endif
  {
    // --- README blocks example begins ---
    // dask's map_blocks: an xtensor view of each block in, the output block out.
    ca::array scaled = ca::map_blocks<float>([](const auto& b) { return xt::eval(b * 2.0f); }, x);
    // dask's map_overlap: each block with one more column each side (read from the
    // neighbours, reflected at the ends); the function's result is trimmed back to the chunk.
    ca::array smooth = ca::map_overlap<float>(
        [](const auto& b) {  // a 3-sample moving average along time
          const auto n = static_cast<long>(b.shape()[1]);
          xt::xarray<float> out = b;
          xt::view(out, xt::all(), xt::range(1, n - 1)) =
              (xt::view(b, xt::all(), xt::range(0, n - 2)) +
               xt::view(b, xt::all(), xt::range(1, n - 1)) +
               xt::view(b, xt::all(), xt::range(2, n))) /
              3.0f;
          return out;
        },
        x, {0, 1}, {ca::boundary_kind::reflect});
    // A reduction with your own state, on the same fixed-order tree as sum (bit-identical for
    // any thread count): the peak-to-peak range of each channel.
    struct range {
      float lo, hi;
    };
    ca::array ptp = ca::reduction<float>(
        x, range{INFINITY, -INFINITY},
        [](range& r, float v) {
          r = {std::min(r.lo, v), std::max(r.hi, v)};
        },
        [](range& r, const range& s) {
          r = {std::min(r.lo, s.lo), std::max(r.hi, s.hi)};
        },
        [](const range& r) { return r.hi - r.lo; }, {1});
    // dask's blockwise: letters name axes; j is not in the output, so each block holds all of
    // it — here each channel's energy, from blocks of whole rows.
    ca::array energy = ca::blockwise<float>(
        [](const auto& b) { return xt::xarray<float>(xt::sum(b[0] * b[1], {1})); }, "i",
        {{x, "ij"}, {x, "ij"}});
    // --- README blocks example ends ---
    ca::array band =
        ca::sosfiltfilt(ca::butter(4, {30, 300}, ca::filter_band::bandpass, 1000.0), x, 1);
    const auto s = ca::compute<float>(scaled), raw = ca::compute<float>(x);
    const auto f = ca::compute<double>(band);
    const auto sm = ca::compute<float>(smooth);
    const auto p = ca::compute<float>(ptp), e = ca::compute<float>(energy);
    const auto row3 = xt::view(raw, 3, xt::all());
    const float energy3 = xt::sum(row3 * row3)();
    if (p(3) != xt::amax(row3)() - xt::amin(row3)() || std::abs(e(3) - energy3) > 1e-4f * energy3) {
      std::cerr << "consumer: unexpected reduction or blockwise result\n";
      return 1;
    }
    const float mean3 = (raw(3, 4095) + raw(3, 4096) + raw(3, 4097)) / 3.0f;  // across chunks
    if (s(3, 5) != 2 * raw(3, 5) || f.shape() != raw.shape() ||
        std::abs(sm(3, 4096) - mean3) > 1e-4f) {
      std::cerr << "consumer: unexpected map_blocks or filter result\n";
      return 1;
    }
  }
  const ca::zarr_array out = ca::zarr_array::open(out_path);
  if (m.size() != 16 || out.shape() != ca::shape_t{16, 30000} || !(m(3) > m(0))) {
    std::cerr << "consumer: unexpected result\n";
    return 1;
  }
  std::cerr << "consumer: chunkarr " << ca::version() << " OK\n";
  return 0;
}
