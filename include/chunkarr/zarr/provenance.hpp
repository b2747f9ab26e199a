// Provenance: what made an output, recorded in its attributes under `chunkarr`.
//
// Every command that writes an array records it: `store` and `eval -o` (with the manifest's
// digests, src/pipeline/), `copy` and `convert` (the operation, its source and options). An
// HDF5 output keeps the same JSON as the text of its `chunkarr` attribute (HDF5 attributes
// hold no dictionaries).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace chunkarr {

/// The current time in UTC, as ISO 8601 to the second ("2026-11-27T10:26:50Z").
std::string utc_now();

/// A local path made absolute (the same input from any directory); a URL (`memory://…`) or an
/// HDF5 location's path inside its file (`f.h5:/group/x`: only the file part) as it is.
std::string absolute_location(std::string_view text);

/// The provenance of an array `operation` made ("copy", "convert") from `inputs` (each a name
/// and a location): the version, the operation (as the record's expression), the inputs with
/// absolute locations, `options` (what affects values: dtype, codec, chunks), the time, and
/// `complete: true` (it is written when the array is).
nlohmann::json provenance_record(std::string_view operation,
                                 const std::vector<std::pair<std::string, std::string>>& inputs,
                                 nlohmann::json options);

}  // namespace chunkarr
