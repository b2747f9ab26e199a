// The chunkarr side of the benchmarks: one workload, run once through the public C++ API,
// timed inside the process (as bench/dask_runner.py times dask.array).
//
// usage: chunkarr_bench WORKLOAD INPUT THREADS MEMORY_LIMIT_BYTES [OUTPUT]
//   mean mean0 mean1 std1 slice anomaly   reductions of the Zarr array INPUT
//   store                                 sqrt(abs(a))*2+1 stored to the Zarr array OUTPUT
//   convert                               the HDF5 file INPUT converted to the Zarr OUTPUT
//   spill                                 mean(a.astype(f8), axis=0) stored to OUTPUT (a
//                                         result larger than the memory limit)
//   rechunk:R,C                           INPUT rechunked to (R, C) and stored to OUTPUT
//   shared:N                              y = y + y, N times, over a 64x64 array of 8 chunks
//                                         (INPUT unused): planning and computing a shared DAG
// prints: seconds=<s> checksum=<a value of the result, to compare with dask>
#include <chunkarr/chunkarr.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <xtensor/xarray.hpp>
#include <xtensor/xbuilder.hpp>

namespace ca = chunkarr;

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: chunkarr_bench WORKLOAD INPUT THREADS MEMORY_LIMIT [OUTPUT]\n");
    return 2;
  }
  const std::string workload = argv[1], input = argv[2];
  const std::string output = argc > 5 ? argv[5] : "";
  ca::compute_options o;
  o.threads = std::atoi(argv[3]);
  o.memory_limit = std::atoll(argv[4]);
  try {
    const auto start = std::chrono::steady_clock::now();
    double checksum = 0;
    auto first = [&](const ca::array& e) {
      const auto r = ca::compute<double>(e, o);
      checksum = r.size() ? r.data()[r.size() / 2] : 0;
    };
    if (workload.starts_with("shared:")) {
      const int levels = std::atoi(workload.c_str() + 7);
      xt::xarray<double> values = xt::arange<double>(64 * 64) / 4096.0;
      values.reshape({64, 64});
      ca::array y = ca::from_xtensor(values, {8, 64});
      for (int i = 0; i < levels; ++i) y = y + y;
      first(y);
    } else if (workload == "convert") {
      ca::convert_options c;
      c.compute = o;
      c.overwrite = true;
      checksum = static_cast<double>(ca::convert(input, output, c).bytes);
    } else {
      const ca::array a = ca::open(input);
      if (workload == "mean") {
        first(ca::mean(a));
      } else if (workload == "mean0") {
        first(ca::mean(a, {0}));
      } else if (workload == "mean1") {
        first(ca::mean(a, {1}));
      } else if (workload == "std1") {
        first(ca::stddev(a, {1}));
      } else if (workload == "slice") {
        first(ca::sum(a(ca::range(std::nullopt, std::nullopt, 4), ca::range(1000, 100000)), {0}));
      } else if (workload == "anomaly") {
        const ca::array b = a * 1000;
        first(ca::mean(ca::power(b - ca::mean(b, {0}), 2), {0}));
      } else if (workload == "spill") {
        ca::store(ca::mean(a.astype(ca::make_dtype(ca::scalar_kind::float64)), {0}), output,
                  {.overwrite = true, .compute = o});
      } else if (workload.starts_with("rechunk:")) {
        const std::string spec = workload.substr(8);
        const ca::index_t rows = std::atoll(spec.c_str());
        const ca::index_t cols = std::atoll(spec.c_str() + spec.find(',') + 1);
        ca::store(ca::rechunk(a, {rows, cols}), output, {.overwrite = true, .compute = o});
      } else if (workload == "store") {
        ca::store(ca::sqrt(ca::abs(a)) * 2 + 1, output, {.overwrite = true, .compute = o});
      } else {
        std::fprintf(stderr, "unknown workload %s\n", workload.c_str());
        return 2;
      }
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("seconds=%.6f checksum=%.9g\n", seconds, checksum);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "chunkarr_bench: %s\n", e.what());
    return 1;
  }
}
