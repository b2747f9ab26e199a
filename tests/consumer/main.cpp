// Writes and reads a small array through the installed chunkarr package.
#include <chunkarr/chunkarr.hpp>

#include <cstdio>
#include <vector>

int main() {
  namespace ca = chunkarr;
  ca::array_metadata meta;
  meta.shape = {4, 6};
  meta.chunks = {3, 4};
  meta.dtype = ca::make_dtype(ca::scalar_kind::int32);
  meta.compressor = ca::make_codec("blosc:lz4:5:shuffle");
  const auto a = ca::zarr_array::create(ca::make_memory_store(), "x", meta);
  std::vector<std::int32_t> values(24);
  for (int i = 0; i < 24; ++i) values[i] = i * i;
  a.write_from<std::int32_t>(ca::box::whole(a.shape()), values);
  if (a.read_as<std::int32_t>(ca::box::whole(a.shape())) != values) {
    std::puts("consumer: values differ");
    return 1;
  }
  std::printf("consumer: chunkarr %s OK\n", ca::version());
  return 0;
}
