// The floor: read + decompress + sum every chunk file of a Zarr array with N threads and no
// engine — the speed no engine can beat on this machine. Uses chunkarr's codec wrapper only.
//
// usage: chunkarr_floor ZARR_DIR THREADS   (float32 arrays, C order, '.' keys)
// prints: seconds=<s> bytes=<decoded bytes> sum=<sum>
#include <chunkarr/chunkarr.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  namespace ca = chunkarr;
  if (argc != 3) {
    std::fprintf(stderr, "usage: chunkarr_floor ZARR_DIR THREADS\n");
    return 2;
  }
  try {
    const auto z = ca::zarr_array::open(argv[1]);
    const int threads = std::atoi(argv[2]);
    const auto& meta = z.metadata();
    const ca::codec_chain codecs({meta.compressor});
    const auto chunk_bytes = static_cast<std::size_t>(meta.chunk_bytes());
    const ca::index_t chunks = z.grid().chunk_count();
    std::atomic<ca::index_t> next{0};
    std::vector<double> sums(threads, 0.0);
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        std::vector<std::byte> raw(chunk_bytes);
        std::vector<char> file;
        double lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (ca::index_t c = next++; c < chunks; c = next++) {
          const std::string path = std::string(argv[1]) + "/" + meta.chunk_key(z.grid().unravel(c));
          std::ifstream in(path, std::ios::binary | std::ios::ate);
          file.resize(static_cast<std::size_t>(in.tellg()));
          in.seekg(0);
          in.read(file.data(), static_cast<std::streamsize>(file.size()));
          codecs.decode(std::as_bytes(std::span(file)), raw);
          const float* v = reinterpret_cast<const float*>(raw.data());
          const std::size_t n = chunk_bytes / 4;
          std::size_t i = 0;
          for (; i + 8 <= n; i += 8) {
            for (int k = 0; k < 8; ++k) lanes[k] += v[i + k];
          }
          for (; i < n; ++i) lanes[0] += v[i];
        }
        for (double l : lanes) sums[t] += l;
      });
    }
    for (auto& th : pool) th.join();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    double total = 0;
    for (double s : sums) total += s;
    std::printf("seconds=%.6f bytes=%lld sum=%.6g\n", seconds,
                static_cast<long long>(chunks) * static_cast<long long>(chunk_bytes), total);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "chunkarr_floor: %s\n", e.what());
    return 1;
  }
}
