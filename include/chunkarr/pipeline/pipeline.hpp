// Storing with provenance, incremental recompute and resume, and verify.
//
// Every array `store` writes records where it came from in its attributes (`.zattrs`, key
// `chunkarr`): the version, the expression (its canonical text when given, and a digest of what
// it computes), each input (location, dtype, shape, chunks, a digest of its metadata and one
// over its chunks' digests), the options that affect values (dtype, codec, chunks) and the
// time. Beside them, in the array's directory, a manifest (`.chunkarr-manifest`) keeps for each
// output chunk the digest of its values (XXH3-128 of the decoded chunk) and of what it was
// computed from: the expression and the digests of the input chunks its task read.
//
// With `incremental`, storing to an output that exists with a manifest recomputes only the
// chunks whose inputs changed (by digest, not by time: an input chunk's digest is cached by
// its file's size, time and inode, and recomputed when any of them changes); a changed
// expression, dtype, codec, chunking or version recomputes everything. Chunks are written in
// place under a name that no reader takes for the output (`OUT.chunkarr-partial`), recorded in
// the manifest as each completes, and moved to `OUT` when all are: a run that is killed leaves
// the partial array, and the next run computes only the chunks it has not recorded. One
// incremental writer of an output at a time: each holds a lock (flock) on `OUT.chunkarr-lock`
// from its start until it commits, and another fails at once naming it (a killed writer's lock
// ends with it; the file is removed by the writer that holds it last).
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "chunkarr/exec/compute.hpp"

namespace chunkarr {

/// What a store did.
struct store_report {
  index_t chunks = 0;       // in the output
  index_t computed = 0;     // chunks computed by this run
  index_t reused = 0;       // chunks kept from before: their inputs had not changed
  bool up_to_date = false;  // nothing needed computing
  bool resumed = false;     // a run that had not finished was taken up
  // Why every chunk was computed ("no earlier output", "the expression changed", …), or why
  // those chunks were (e.g. "2 input chunks changed").
  std::string reason;
};

/// What `store` writes, and how to run it.
struct store_options {
  shape_t chunks;                             // the output's chunks; default: the expression's
  std::string codec = "blosc:lz4:5:shuffle";  // codec spec of the output
  bool overwrite = false;                     // replace an existing output (once complete)
  // Write chunks whose every element is the fill value (zarr-python's write_empty_chunks);
  // false leaves them out (and removes an old one), as they read the same.
  bool write_empty_chunks = true;
  // Update an output this expression stored before, computing only the chunks whose inputs
  // changed, or finish one a killed run left; an output that exists without chunkarr's
  // manifest is refused unless `overwrite`. Local directories only.
  bool incremental = false;
  // Keep the manifest (chunk digests and what each chunk was computed from): what incremental
  // updates and verify need. Without it a store skips the digests (a few percent faster).
  bool manifest = true;
  // Incremental: recompute every chunk, whatever the manifest says.
  bool force = false;
  // The expression's text, recorded in the provenance (canonical_expression makes it the same
  // however it was spelled), and the names of the inputs in it, in the order of inputs_of (as
  // `eval -i NAME=PATH` names them). Informative: what decides a recompute is the digest of
  // the expression itself.
  std::string expression;
  std::vector<std::string> input_names;
  store_report* report = nullptr;  // filled in when set
  compute_options compute;         // memory limit, threads, progress, stats, temp directory
};

/// Writes `a` as a new Zarr array at a location (a directory path, `file://…`,
/// `memory://name/path`), chunk by chunk, staged by the store and committed only when every
/// chunk is written: nothing at `path` looks complete before it is, and with `overwrite` an
/// old array there is replaced only then. Records provenance and the manifest (see above).
zarr_array store(const array& a, const std::filesystem::path& path,
                 const store_options& options = {});

/// What an incremental `store` with these options would do now, without writing anything:
/// `computed` is the chunks it would compute, `reason` why (or `up_to_date`).
store_report store_status(const array& a, const std::filesystem::path& path,
                          const store_options& options);

/// Records provenance in the attributes of `out`, an array made other than by `store` (a
/// copy): the version, `operation` as its expression, its inputs (name, location), its dtype,
/// codec and chunks, the time. No manifest: such an output cannot be updated incrementally.
void record_provenance(const zarr_array& out, const std::string& operation,
                       const std::vector<std::pair<std::string, std::string>>& inputs);

/// The names of `a`'s stored inputs in the order of inputs_of (store_options::input_names):
/// each the name in `named` of the array that reads it, else "inputK".
std::vector<std::string> input_names(const array& a, const std::map<std::string, array>& named);

/// The array at `spec`: a Zarr array (a directory, `file://…`, `memory://…`) or an HDF5
/// dataset (`file.h5:/group/dataset`).
array open_input(const std::string& spec);

/// What verify found.
struct verify_report {
  bool ok = false;
  index_t chunks = 0;   // checked
  std::string problem;  // the first difference: "chunk 3.0: values differ from its recorded digest"
  std::string source;   // an output of copy or convert: the source it was compared with
};

struct verify_options {
  // Check the stored chunks against the digests in the manifest only, without recomputing.
  bool digests_only = false;
  // What to recompute: by default the recorded expression text over the recorded inputs (an
  // output stored from C++ without `expression` text needs this: the same array again).
  std::optional<array> expression;
  compute_options compute;  // for the recomputation
};

/// Checks an output `store` wrote: that it is complete, that each chunk's values match the
/// digest recorded for them, and (unless digests_only) that recomputing its expression from its
/// recorded inputs gives the same bits, chunk for chunk. An output of `copy` or `convert` (no
/// manifest; a Zarr array, or an HDF5 dataset `file.h5:/x`) is compared with its recorded
/// source value for value (NaN equals NaN), chunk by chunk. Throws format_error when the
/// output has no provenance.
verify_report verify(const std::filesystem::path& path, const verify_options& options = {});

}  // namespace chunkarr
