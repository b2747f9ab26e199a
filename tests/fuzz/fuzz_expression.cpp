// libFuzzer target: the expression language of `chunkarr eval`.
//
// Text is parsed over x (float32, 4 x 3, chunks 3 x 2), y (int16, 3) and b (bool, 4 x 1),
// held in a memory store. Parsing and building must succeed or throw a chunkarr::error; what
// builds and is small is computed (building and computing stopped after two seconds: a slow
// expression is not a finding, a crash or a wrong error type is).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "chunkarr/chunkarr.hpp"
#include "chunkarr/pipeline/expression.hpp"

using namespace chunkarr;

namespace {

array input(const char* name, shape_t shape, shape_t chunks, scalar_kind kind) {
  static auto store = make_memory_store();
  array_metadata m;
  m.shape = std::move(shape);
  m.chunks = std::move(chunks);
  m.dtype = make_dtype(kind);
  m.compressor = make_codec("none");
  const zarr_array z = zarr_array::create(store, name, m, true);
  bytes values(static_cast<std::size_t>(element_count(m.shape)) * m.dtype.itemsize());
  for (std::size_t i = 0; i < values.size(); ++i)
    values[i] = static_cast<std::byte>(kind == scalar_kind::bool_ ? i % 2 : i * 37 + 11);
  z.write(box::whole(m.shape), values);
  return from_zarr(z);
}

const std::map<std::string, array>& inputs() {
  static const std::map<std::string, array> in{
      {"x", input("x", {4, 3}, {3, 2}, scalar_kind::float32)},
      {"y", input("y", {3}, {3}, scalar_kind::int16)},
      {"b", input("b", {4, 1}, {1, 1}, scalar_kind::bool_)},
  };
  return in;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  // Building may compute too (an index array, a mask's counts): the watchdog covers both.
  std::atomic<bool> cancel{false};
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  std::thread watchdog([&] {
    std::unique_lock lock(m);
    if (!cv.wait_for(lock, std::chrono::seconds(2), [&] { return done; })) cancel = true;
  });
  compute_options o;
  o.threads = 1;
  o.memory_limit = 64 << 20;
  o.cancel = &cancel;
  try {
    const array a = parse_expression(text, inputs(), o);
    if (element_count(a.shape()) <= 4096) {
      bytes out(static_cast<std::size_t>(element_count(a.shape())) * a.dtype().itemsize());
      compute_into(a, out, o);
    }
  } catch (const error&) {
  }
  try {  // the text provenance records: the same when canonicalised again
    const std::string canonical = canonical_expression(text);
    if (canonical_expression(canonical) != canonical) std::abort();
    (void)expression_names(text);
  } catch (const error&) {
  }
  {
    std::lock_guard lock(m);
    done = true;
  }
  cv.notify_one();
  watchdog.join();
  return 0;
}
