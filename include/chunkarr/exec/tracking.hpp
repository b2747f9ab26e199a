// What pipelines (chunkarr/pipeline/) need from a run: the inputs an expression reads, a digest
// of what it computes, and a store that says which input regions each output chunk was
// computed from.
//
// The regions are the ones the tasks actually read (every stored source read is logged on the
// thread that made it), not a model of each operation, so they are right for every operation
// there is. An output chunk's regions are its task's; every stage before the output (a
// reduction, say) is read by all of its chunks, so its regions count for all of them.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "chunkarr/core/digest.hpp"
#include "chunkarr/exec/compute.hpp"

namespace chunkarr {

/// A stored input of an expression: a Zarr array or a chunk_source (an HDF5 dataset).
struct expression_input {
  std::shared_ptr<const zarr_array> zarr;  // one of the two is set
  std::shared_ptr<const chunk_source> source;

  const shape_t& shape() const;
  /// The storage chunks (a chunk_source's chunk_shape).
  shape_t chunk_shape() const;
  std::string describe() const;
  /// Which source this is (the same for every array reading it): its zarr or source pointer.
  const void* identity() const {
    return zarr ? static_cast<const void*>(zarr.get()) : static_cast<const void*>(source.get());
  }
};

/// The stored inputs `a` reads, each once, in a fixed order (first reached from the root,
/// depth first, inputs in order): the same for the same expression over the same inputs.
std::vector<expression_input> inputs_of(const array& a);

/// A digest of what `a` computes: every operation with its parameters, shapes, dtypes and
/// chunks, its inputs by their position in inputs_of (not their values, which pipelines digest
/// chunk by chunk). Values held in memory (index lists, from_buffer) are digested too. A
/// user's function (map_blocks, a reduction of one's own) counts by its name only.
digest expression_digest(const array& a);

/// A region of input `input` (its position in inputs_of) that a task read.
struct input_read {
  std::size_t input = 0;
  box region;
};

/// Told what a store computes from what; called on the worker threads, several at once.
class store_observer {
 public:
  virtual ~store_observer() = default;
  /// Input `input` was read over `region`: its values (C order, native byte order).
  virtual void input_values(std::size_t input, const box& region,
                            std::span<const std::byte> values) = 0;
  /// Every region the stages so far (before the output) read; called before the first chunk
  /// computed from them is reported.
  virtual void stage_reads(const std::vector<input_read>& reads) = 0;
  /// Output chunk `index` was written (`stored`), or left out as all fill values (and any old
  /// chunk there erased): its values (the full chunk, edges padded with the fill value), and
  /// the regions its task read before it.
  virtual void chunk_done(const shape_t& index, std::span<const std::byte> values, bool stored,
                          const std::vector<input_read>& reads) = 0;
};

/// store(a, out, options, write_empty_chunks) that computes only the chunks in `only` (every
/// chunk when null) and reports to `observer`. A chunk copied as it is stored in an input is
/// decoded (not encoded again) for the digests.
void store_observed(const array& a, const zarr_array& out, const compute_options& options,
                    bool write_empty_chunks, const std::vector<shape_t>* only,
                    store_observer& observer);

}  // namespace chunkarr
