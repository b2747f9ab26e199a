// The floor: the I/O and codec work a workload cannot avoid, with N threads and no engine —
// the speed no engine can beat on this machine. Uses chunkarr's codec wrapper only.
//
// usage: chunkarr_floor ZARR_DIR|FILE.h5 THREADS [--region R0:R1,C0:C1] [--passes N]
//                       [--store OUT_DIR] [--offset N]
//   read + decode + sum every chunk file of a float32 Zarr array (C order, '.' keys);
//   --region         only the chunks that touch this box (of a 2-d array)
//   --passes N       all of it N times (a two-pass reduction reads its input twice)
//   --store OUT_DIR  read + decode + encode (the same codec) + write each chunk to OUT_DIR,
//                    durably as chunkarr writes (writeback started per file, every file and
//                    the directory fsynced at the end): the floor of a store to Zarr
//   FILE.h5          its 2-d float32 dataset /a, chunked, no filters or shuffle + deflate:
//                    each chunk's bytes read with pread at the address HDF5 gives (listed
//                    first, serially), decoded, and with --store encoded as Blosc lz4:5
//                    shuffle and written as above: the floor of a conversion to Zarr
//   --offset N       the read and decode buffers start N bytes past a page boundary
//                    (default 0; malloc gives a large buffer 16 bytes past one)
// prints: seconds=<s> bytes=<decoded bytes> sum=<sum>
#include <chunkarr/chunkarr.hpp>
#if CHUNKARR_WITH_HDF5
#include <hdf5.h>
#endif

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

// `size` bytes starting `offset` bytes past a page boundary.
class buffer {
 public:
  buffer(std::size_t size, std::size_t offset)
      : base_(static_cast<std::byte*>(std::aligned_alloc(4096, round_up(size + offset)))),
        data_(base_.get() + offset),
        size_(size) {
    if (!base_) throw std::bad_alloc();
  }
  std::byte* data() const { return data_; }
  std::size_t size() const { return size_; }

 private:
  static std::size_t round_up(std::size_t n) { return (n + 4095) / 4096 * 4096; }
  struct release {
    void operator()(std::byte* p) const { std::free(p); }
  };
  std::unique_ptr<std::byte, release> base_;
  std::byte* data_;
  std::size_t size_;
};

// Reads all of `path` into `into`; its size.
std::size_t read_file(const std::string& path, buffer& into) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(path + ": " + std::strerror(errno));
  std::size_t done = 0;
  for (ssize_t n; (n = ::read(fd, into.data() + done, into.size() - done)) > 0;)
    done += static_cast<std::size_t>(n);
  ::close(fd);
  return done;
}

void write_file(const std::string& path, std::span<const std::byte> data) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || ::write(fd, data.data(), data.size()) != static_cast<ssize_t>(data.size()))
    throw std::runtime_error(path + ": " + std::strerror(errno));
  ::sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
  ::close(fd);
}

void sync_path(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) throw std::runtime_error(path + ": " + std::strerror(errno));
  ::close(fd);
}

#if CHUNKARR_WITH_HDF5
// The HDF5 floor (see the top); prints as main does.
int hdf5_floor(const std::string& file, int threads, const std::string& out_dir,
               std::size_t offset) {
  namespace ca = chunkarr;
  const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  const hid_t d = f < 0 ? -1 : H5Dopen2(f, "/a", H5P_DEFAULT);
  if (d < 0) throw std::runtime_error(file + ": no dataset /a");
  const hid_t space = H5Dget_space(d);
  hsize_t shape[2], chunk[2];
  const hid_t dcpl = H5Dget_create_plist(d);
  if (H5Sget_simple_extent_ndims(space) != 2 || H5Pget_chunk(dcpl, 2, chunk) != 2)
    throw std::runtime_error(file + ": /a is not a chunked 2-d dataset");
  H5Sget_simple_extent_dims(space, shape, nullptr);
  bool deflate = false, shuffle = false;
  for (int i = 0; i < H5Pget_nfilters(dcpl); ++i) {
    unsigned flags = 0;
    std::size_t n = 0;
    const H5Z_filter_t id = H5Pget_filter2(dcpl, i, &flags, &n, nullptr, 0, nullptr, nullptr);
    if (id == H5Z_FILTER_DEFLATE) {
      deflate = true;
    } else if (id == H5Z_FILTER_SHUFFLE) {
      shuffle = true;
    } else {
      throw std::runtime_error(file + ": a filter other than deflate and shuffle");
    }
  }
  struct stored {
    std::string key;
    haddr_t address;
    hsize_t size;
  };
  std::vector<stored> chunks;
  hsize_t count = 0;
  H5Dget_num_chunks(d, space, &count);
  for (hsize_t i = 0; i < count; ++i) {
    hsize_t at[2];
    unsigned mask = 0;
    stored c{};
    H5Dget_chunk_info(d, space, i, at, &mask, &c.address, &c.size);
    c.key = std::to_string(at[0] / chunk[0]) + "." + std::to_string(at[1] / chunk[1]);
    chunks.push_back(c);
  }
  const std::size_t chunk_bytes = chunk[0] * chunk[1] * 4;
  const auto zlib = ca::make_codec("zlib:1");
  const ca::codec_chain lz4({ca::make_codec("blosc:lz4:5:shuffle")});
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (!out_dir.empty()) std::filesystem::create_directories(out_dir);
  std::atomic<std::size_t> next{0};
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  std::vector<double> sums(threads, 0.0);
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      buffer raw(chunk_bytes + chunk_bytes / 16 + 4096, offset);
      buffer inflated(chunk_bytes, offset);
      buffer decoded(chunk_bytes, offset);
      for (std::size_t c = next++; c < chunks.size(); c = next++) {
        const std::size_t n = static_cast<std::size_t>(chunks[c].size);
        if (::pread(fd, raw.data(), n, static_cast<off_t>(chunks[c].address)) !=
            static_cast<ssize_t>(n))
          throw std::runtime_error(file + ": short read");
        std::byte* values = raw.data();
        if (deflate) {
          zlib->decode(std::span<const std::byte>(raw.data(), n),
                       std::span(inflated.data(), chunk_bytes));
          values = inflated.data();
        }
        if (shuffle) {  // HDF5's shuffle: byte k of every element, then byte k + 1, ...
          const std::size_t elements = chunk_bytes / 4;
          const std::byte* in = values;
          std::byte* out = decoded.data();
          for (std::size_t e = 0; e < elements; ++e) {
            out[e * 4] = in[e];
            out[e * 4 + 1] = in[elements + e];
            out[e * 4 + 2] = in[2 * elements + e];
            out[e * 4 + 3] = in[3 * elements + e];
          }
          values = decoded.data();
        }
        const std::span<const std::byte> chunk_values(values, chunk_bytes);
        if (!out_dir.empty()) {
          write_file(out_dir + "/" + chunks[c].key, lz4.encode(chunk_values, 4));
        } else {
          sums[t] += static_cast<double>(reinterpret_cast<const float*>(values)[0]);
        }
      }
    });
  }
  for (auto& th : pool) th.join();
  if (!out_dir.empty()) {
    for (const stored& c : chunks) sync_path(out_dir + "/" + c.key, O_RDONLY);
    sync_path(out_dir, O_RDONLY | O_DIRECTORY);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ::close(fd);
  H5Pclose(dcpl);
  H5Sclose(space);
  H5Dclose(d);
  H5Fclose(f);
  std::printf("seconds=%.6f bytes=%lld sum=%.6g\n", seconds,
              static_cast<long long>(shape[0] * shape[1] * 4), sums[0]);
  return 0;
}
#endif

}  // namespace

int main(int argc, char** argv) {
  namespace ca = chunkarr;
  std::string out_dir;
  std::string region;
  std::size_t offset = 0;
  int passes = 1;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--store" && i + 1 < argc) {
      out_dir = argv[++i];
    } else if (a == "--region" && i + 1 < argc) {
      region = argv[++i];
    } else if (a == "--passes" && i + 1 < argc) {
      passes = std::atoi(argv[++i]);
    } else if (a == "--offset" && i + 1 < argc) {
      offset = static_cast<std::size_t>(std::atoll(argv[++i]));
    } else {
      positional.push_back(a);
    }
  }
  if (positional.size() != 2) {
    std::fprintf(stderr,
                 "usage: chunkarr_floor ZARR_DIR|FILE.h5 THREADS [--region R0:R1,C0:C1] "
                 "[--passes N] [--store OUT_DIR] [--offset N]\n");
    return 2;
  }
  try {
    const std::string root = positional[0];
    const int threads = std::atoi(positional[1].c_str());
    if (root.ends_with(".h5")) {
#if CHUNKARR_WITH_HDF5
      return hdf5_floor(root, threads, out_dir, offset);
#else
      throw std::runtime_error("built without HDF5");
#endif
    }
    const auto z = ca::zarr_array::open(root);
    const auto& meta = z.metadata();
    const ca::codec_chain codecs({meta.compressor});
    const auto chunk_bytes = static_cast<std::size_t>(meta.chunk_bytes());
    // The chunks to visit, each `passes` times.
    std::vector<ca::shape_t> keys;
    const ca::chunk_grid& grid = z.grid();
    for (ca::index_t c = 0; c < grid.chunk_count(); ++c) {
      const ca::shape_t index = grid.unravel(c);
      if (!region.empty()) {
        long long r0, r1, c0, c1;
        if (std::sscanf(region.c_str(), "%lld:%lld,%lld:%lld", &r0, &r1, &c0, &c1) != 4)
          throw std::runtime_error("--region: expected R0:R1,C0:C1");
        const ca::box b = grid.chunk_box(index);
        if (b.stop[0] <= r0 || b.start[0] >= r1 || b.stop[1] <= c0 || b.start[1] >= c1) continue;
      }
      keys.push_back(index);
    }
    const auto chunks = static_cast<ca::index_t>(keys.size()) * passes;
    if (!out_dir.empty()) std::filesystem::create_directories(out_dir);
    std::atomic<ca::index_t> next{0};
    std::vector<double> sums(threads, 0.0);
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        buffer raw(chunk_bytes, offset);
        buffer file(chunk_bytes + chunk_bytes / 16 + 4096, offset);  // at most this encoded
        double lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (ca::index_t c = next++; c < chunks; c = next++) {
          const std::string key = meta.chunk_key(keys[static_cast<std::size_t>(c) % keys.size()]);
          const std::size_t n_file = read_file(root + "/" + key, file);
          const std::span<std::byte> decoded(raw.data(), chunk_bytes);
          codecs.decode(std::span<const std::byte>(file.data(), n_file), decoded);
          if (!out_dir.empty()) {
            write_file(out_dir + "/" + key, codecs.encode(decoded, 4));
            continue;
          }
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
    if (!out_dir.empty()) {
      for (const ca::shape_t& index : keys)
        sync_path(out_dir + "/" + meta.chunk_key(index), O_RDONLY);
      sync_path(out_dir, O_RDONLY | O_DIRECTORY);
    }
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
