// The library's version.
#pragma once

#define CHUNKARR_VERSION_MAJOR 0
#define CHUNKARR_VERSION_MINOR 1
#define CHUNKARR_VERSION_PATCH 0

namespace chunkarr {
/// "0.1.0"
const char* version();
}  // namespace chunkarr
