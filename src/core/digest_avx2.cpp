// XXH3 compiled for AVX2 (this file alone is built with -mavx2; digest.cpp calls it only on
// CPUs that have AVX2): nearly twice the speed of the SSE2 build on the chunks pipelines digest.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <cstddef>

namespace chunkarr::detail {

XXH128_hash_t xxh3_128_avx2(const void* data, std::size_t size) {
  return XXH3_128bits(data, size);
}

XXH_errorcode xxh3_128_update_avx2(XXH3_state_t* state, const void* data, std::size_t size) {
  return XXH3_128bits_update(state, data, size);
}

}  // namespace chunkarr::detail
