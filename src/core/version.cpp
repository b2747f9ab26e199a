#include "chunkarr/version.hpp"

namespace chunkarr {

const char* version() {
  return "0.1.0";
}

}  // namespace chunkarr
