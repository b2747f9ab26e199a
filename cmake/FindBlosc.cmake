# Finds the Blosc 1 library, which ships no CMake package config on Debian.
# Defines Blosc::blosc and Blosc_FOUND.
find_path(Blosc_INCLUDE_DIR NAMES blosc.h)
find_library(Blosc_LIBRARY NAMES blosc)
if(Blosc_INCLUDE_DIR AND EXISTS "${Blosc_INCLUDE_DIR}/blosc.h")
  file(STRINGS "${Blosc_INCLUDE_DIR}/blosc.h" _blosc_version_line
       REGEX "^#define BLOSC_VERSION_STRING[ \t]+\"[^\"]+\"")
  string(REGEX REPLACE ".*\"([^\"]+)\".*" "\\1" Blosc_VERSION "${_blosc_version_line}")
endif()
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(Blosc
  REQUIRED_VARS Blosc_LIBRARY Blosc_INCLUDE_DIR
  VERSION_VAR Blosc_VERSION)
if(Blosc_FOUND AND NOT TARGET Blosc::blosc)
  add_library(Blosc::blosc UNKNOWN IMPORTED)
  set_target_properties(Blosc::blosc PROPERTIES
    IMPORTED_LOCATION "${Blosc_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${Blosc_INCLUDE_DIR}")
endif()
mark_as_advanced(Blosc_INCLUDE_DIR Blosc_LIBRARY)
