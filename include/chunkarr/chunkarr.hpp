// chunkarr: N-dimensional arrays larger than memory, stored as compressed chunk tiles (Zarr v2).
//
// This header includes the whole public API. See DESIGN.md for the layers.
#pragma once

#include "chunkarr/codec/codec.hpp"
#include "chunkarr/core/chunk_grid.hpp"
#include "chunkarr/core/dtype.hpp"
#include "chunkarr/core/error.hpp"
#include "chunkarr/core/index.hpp"
#include "chunkarr/core/region_copy.hpp"
#include "chunkarr/core/slice.hpp"
#include "chunkarr/exec/compute.hpp"
#include "chunkarr/expr/array.hpp"
#include "chunkarr/expr/blocks.hpp"
#include "chunkarr/expr/filters.hpp"
#include "chunkarr/expr/order.hpp"
#include "chunkarr/expr/random.hpp"
#include "chunkarr/expr/signal.hpp"
#include "chunkarr/io/hdf5.hpp"
#include "chunkarr/store/location.hpp"
#include "chunkarr/store/store.hpp"
#include "chunkarr/version.hpp"
#include "chunkarr/zarr/group.hpp"
#include "chunkarr/zarr/metadata.hpp"
#include "chunkarr/zarr/zarr_array.hpp"
