// zarr: metadata parsing and printing, arrays round-tripped over every dtype, byte order,
// memory order, codec and chunking, box reads and writes against an in-memory reference,
// missing and edge chunks, 0-d and empty arrays, groups, attributes, and every error path.
#include <doctest/doctest.h>

#include <cmath>
#include <thread>

#include <nlohmann/json.hpp>

#include "test_helpers.hpp"

using namespace chunkarr;
using json = nlohmann::json;

namespace {

// .zarray as zarr-python 2.13 writes it.
const char* const zarr_python_zarray = R"({
    "chunks": [
        100,
        50
    ],
    "compressor": {
        "blocksize": 0,
        "clevel": 5,
        "cname": "lz4",
        "id": "blosc",
        "shuffle": 1
    },
    "dimension_separator": "/",
    "dtype": "<f8",
    "fill_value": "NaN",
    "filters": null,
    "order": "F",
    "shape": [
        1000,
        120
    ],
    "zarr_format": 2
})";

json base_zarray() {
  return json::parse(zarr_python_zarray);
}

array_metadata parse(const json& doc) {
  return array_metadata::parse(doc.dump(), "x.zarr/.zarray");
}

array_metadata make_meta(shape_t shape, shape_t chunks, dtype t, const char* codec_spec,
                         memory_order order = memory_order::c, fill_value fill = 0.0,
                         char separator = '.') {
  array_metadata m;
  m.shape = std::move(shape);
  m.chunks = std::move(chunks);
  m.dtype = t;
  m.compressor = make_codec(codec_spec);
  m.order = order;
  m.fill = fill;
  m.dimension_separator = separator;
  return m;
}

}  // namespace

TEST_CASE("metadata: zarr-python's .zarray parses field by field") {
  const array_metadata m = array_metadata::parse(zarr_python_zarray, "x");
  CHECK(m.shape == shape_t{1000, 120});
  CHECK(m.chunks == shape_t{100, 50});
  CHECK(m.dtype == dtype::from_typestr("<f8"));
  REQUIRE(m.compressor);
  CHECK(m.compressor->spec() == "blosc:lz4:5:shuffle:0");
  CHECK(std::isnan(std::get<double>(m.fill)));
  CHECK(m.order == memory_order::f);
  CHECK(m.dimension_separator == '/');
  CHECK(m.chunk_key(shape_t{3, 1}) == "3/1");
  CHECK(m.chunk_bytes() == 100 * 50 * 8);
  // Printed back, it is the same document (key order and indentation as zarr-python's).
  CHECK(json::parse(m.to_json()) == base_zarray());
  CHECK(m.to_json() == zarr_python_zarray);
}

TEST_CASE("metadata: fill values of every form") {
  struct row {
    const char* dtype;
    json fill;
    json printed;
  };
  const double inf = std::numeric_limits<double>::infinity();
  for (const row& r : {row{"<f4", "Infinity", "Infinity"}, row{"<f4", "-Infinity", "-Infinity"},
                       row{"<f8", 0, 0.0}, row{"<f8", 1.5, 1.5}, row{"<f8", nullptr, nullptr},
                       row{"<i4", -7, -7}, row{"<i8", 0.0, 0}, row{"|u1", 255, 255},
                       row{">u8", 18446744073709551615ull, 18446744073709551615ull},
                       row{"<i8", -9223372036854775807ll - 1, -9223372036854775807ll - 1},
                       row{"|b1", true, true}, row{"|b1", false, false}, row{"|b1", 0, false}}) {
    CAPTURE(r.dtype);
    CAPTURE(r.fill.dump());
    json doc = base_zarray();
    doc["dtype"] = r.dtype;
    doc["fill_value"] = r.fill;
    const array_metadata m = parse(doc);
    CHECK(json::parse(m.to_json())["fill_value"] == r.printed);
  }
  json doc = base_zarray();
  doc["dtype"] = "<f4";
  doc["fill_value"] = "-Infinity";
  const bytes element = parse(doc).fill_element();
  float f;
  std::memcpy(&f, element.data(), 4);
  CHECK(f == -static_cast<float>(inf));
  doc["dtype"] = ">u2";
  doc["fill_value"] = 513;
  const bytes u = parse(doc).fill_element();
  std::uint16_t v;
  std::memcpy(&v, u.data(), 2);
  CHECK(v == 513);  // native order in memory, whatever the dtype's order on disk
}

TEST_CASE("metadata: malformed and unsupported .zarray fields are refused by name") {
  struct bad {
    const char* field;
    json value;  // "<remove>" removes the field
    const char* says;
  };
  const bad cases[] = {
      {"zarr_format", 3, "zarr_format"},
      {"zarr_format", "<remove>", "zarr_format"},
      {"shape", "<remove>", "'shape' is missing"},
      {"shape", "1000", "'shape' must be a list"},
      {"shape", json::array({1000, 1.5}), "'shape' must be a list of integers"},
      {"shape", json::array({-1, 120}), "negative"},
      {"shape", json::array({1000}), "do not match"},
      {"shape", json::array({4611686018427387904ll, 4611686018427387904ll}), "overflow"},
      {"shape", json::array({18446744073709551615ull, 1}), "too large"},
      {"chunks", json::array({0, 50}), "positive"},
      {"chunks", json::array({100000, 100000}), "2 GiB"},
      {"dtype", "<M8[ns]", "datetime"},
      {"dtype", "|S10", "strings"},
      {"dtype", "<U3", "strings"},
      {"dtype", "<f2", "float16"},
      {"dtype", json::array({json::array({"a", "<f4"})}), "structured"},
      {"dtype", "<remove>", "'dtype' is missing"},
      {"compressor", json{{"id", "lzma"}}, "lzma"},
      {"compressor", json{{"id", "blosc"}, {"cname", "snappy"}}, "snappy"},
      {"fill_value", "<remove>", "'fill_value' is missing"},
      {"fill_value", "nan", "fill_value"},
      {"fill_value", json::array({1}), "fill_value"},
      {"order", "X", "'order'"},
      {"filters", json::array({json{{"id", "delta"}, {"dtype", "<f8"}}}), "delta"},
      {"filters", 5, "'filters'"},
      {"dimension_separator", "-", "dimension_separator"},
  };
  for (const bad& b : cases) {
    CAPTURE(b.field);
    CAPTURE(b.value.dump());
    json doc = base_zarray();
    if (b.value == "<remove>")
      doc.erase(b.field);
    else
      doc[b.field] = b.value;
    try {
      parse(doc);
      FAIL("accepted");
    } catch (const error& e) {
      const std::string message = e.what();
      CHECK(message.find("x.zarr/.zarray") != std::string::npos);
      CHECK(message.find(b.says) != std::string::npos);
    }
  }
  struct fill_case {
    const char* dtype;
    json fill;
  };
  for (const fill_case& f :
       {fill_case{"|u1", 256}, fill_case{"|u1", -1}, fill_case{"<i4", 1.5}, fill_case{"|i1", 200},
        fill_case{"<i4", "NaN"}, fill_case{"|b1", 2}, fill_case{"<f8", "Inf"}}) {
    CAPTURE(f.dtype);
    CAPTURE(f.fill.dump());
    json doc = base_zarray();
    doc["dtype"] = f.dtype;
    doc["fill_value"] = f.fill;
    CHECK_THROWS_WITH_AS(parse(doc), doctest::Contains("fill_value"), format_error);
  }
  // The last: a number JSON cannot hold (found by fuzz_metadata; it escaped as nlohmann's
  // out_of_range, without the file's name).
  for (const char* text : {"", "{", "[1, 2]", "null", "{\"zarr_format\": 2,}",
                           "{\"zarr_format\": 2, \"shape\": [1e400]}"}) {
    CAPTURE(text);
    CHECK_THROWS_WITH_AS(array_metadata::parse(text, "x.zarr/.zarray"),
                         doctest::Contains("x.zarr/.zarray"), format_error);
  }
}

TEST_CASE("arrays round-trip every dtype x byte order x memory order x codec x chunking") {
  const shape_t shape{7, 5};
  const std::vector<shape_t> chunkings{{7, 5}, {3, 2}, {1, 1}, {4, 5}, {10, 10}, {7, 1}};
  const char* const codecs[] = {
      "none", "blosc:lz4:5:shuffle", "blosc:zstd:3:bitshuffle", "zlib:1", "gzip:6", "zstd:3"};
  auto s = make_memory_store();
  int arrays = 0;
  for (int k = 0; k <= static_cast<int>(scalar_kind::float64); ++k) {
    for (byte_order order : {byte_order::little, byte_order::big}) {
      const dtype t{static_cast<scalar_kind>(k), order};
      const bytes data = test::sample_elements(t.kind, element_count(shape), k);
      for (memory_order mo : {memory_order::c, memory_order::f}) {
        for (const char* c : codecs) {
          for (const shape_t& chunks : chunkings) {
            CAPTURE(t.typestr());
            CAPTURE(std::string(c));
            CAPTURE(to_string(chunks));
            CAPTURE(mo == memory_order::f);
            const zarr_array a =
                zarr_array::create(s, "a", make_meta(shape, chunks, t, c, mo), true);
            a.write(box::whole(shape), data);
            // Reopened from its stored metadata, it reads back what was written.
            const zarr_array b = zarr_array::open(s, "a");
            CHECK(b.metadata().to_json() == a.metadata().to_json());
            bytes back(data.size());
            b.read(box::whole(shape), back);
            CHECK(back == data);
            // One sub-box, against the reference.
            const box part{{1, 1}, {6, 4}};
            bytes piece(static_cast<std::size_t>(part.size()) * t.itemsize());
            b.read(part, piece);
            CHECK(piece == test::naive_extract(data, shape, part, t.itemsize()));
            ++arrays;
          }
        }
      }
    }
  }
  CHECK(arrays == 11 * 2 * 2 * 6 * 6);
}

TEST_CASE("on disk: byte order, memory order and edge padding are as the spec says") {
  // A 3x5 array of >i4 in (2, 4) chunks, F order, uncompressed: chunk (1, 1) is the edge chunk
  // holding the single element (2, 4), padded with the fill value to 2x4 elements.
  auto s = make_memory_store();
  const zarr_array a = zarr_array::create(s, "",
                                          make_meta({3, 5}, {2, 4}, dtype::from_typestr(">i4"),
                                                    "none", memory_order::f, std::int64_t{-1}));
  std::vector<std::int32_t> values(15);
  for (int i = 0; i < 15; ++i) values[i] = 1000 + i;
  a.write_from<std::int32_t>(box::whole(a.shape()), values);
  const bytes edge = *s->get("1.1");
  REQUIRE(edge.size() == 2 * 4 * 4);
  auto big_endian_at = [&](const bytes& b, int i) {
    return static_cast<std::int32_t>((std::to_integer<std::uint32_t>(b[4 * i]) << 24) |
                                     (std::to_integer<std::uint32_t>(b[4 * i + 1]) << 16) |
                                     (std::to_integer<std::uint32_t>(b[4 * i + 2]) << 8) |
                                     std::to_integer<std::uint32_t>(b[4 * i + 3]));
  };
  CHECK(big_endian_at(edge, 0) == 1014);  // element (2, 4)
  for (int i = 1; i < 8; ++i) CHECK(big_endian_at(edge, i) == -1);
  // Chunk (0, 0) in Fortran order: (0,0), (1,0), (0,1), (1,1), ...
  const bytes first = *s->get("0.0");
  CHECK(big_endian_at(first, 0) == 1000);
  CHECK(big_endian_at(first, 1) == 1005);
  CHECK(big_endian_at(first, 2) == 1001);
  CHECK(big_endian_at(first, 3) == 1006);
}

TEST_CASE("random box writes and reads agree with an in-memory reference") {
  std::mt19937 rng(42);
  for (int trial = 0; trial < 60; ++trial) {
    const int ndim = 1 + trial % 3;
    shape_t shape, chunks;
    for (int d = 0; d < ndim; ++d) {
      shape.push_back(std::uniform_int_distribution<index_t>(1, 11)(rng));
      chunks.push_back(std::uniform_int_distribution<index_t>(1, 6)(rng));
    }
    const dtype t = make_dtype(trial % 2 ? scalar_kind::float32 : scalar_kind::int16);
    const auto fill = trial % 2 ? fill_value{std::numeric_limits<double>::quiet_NaN()}
                                : fill_value{std::int64_t{-3}};
    CAPTURE(to_string(shape));
    CAPTURE(to_string(chunks));
    auto s = make_memory_store();
    const zarr_array a =
        zarr_array::create(s, "arr",
                           make_meta(shape, chunks, t, trial % 3 ? "blosc" : "zlib:1",
                                     trial % 4 ? memory_order::c : memory_order::f, fill, '/'));
    // The reference starts as all fill values.
    const bytes fill_bytes = a.metadata().fill_element();
    bytes reference(static_cast<std::size_t>(element_count(shape)) * t.itemsize());
    fill_elements(reference.data(), element_count(shape), fill_bytes.data(), t.itemsize());
    for (int step = 0; step < 8; ++step) {
      const box region = test::random_box(shape, rng, true);
      const bytes values = test::sample_elements(t.kind, region.size(), trial * 10 + step);
      a.write(region, values);
      test::naive_insert(reference, shape, region, values, t.itemsize());
      const box probe = test::random_box(shape, rng, true);
      bytes got(static_cast<std::size_t>(probe.size()) * t.itemsize());
      a.read(probe, got);
      CHECK(got == test::naive_extract(reference, shape, probe, t.itemsize()));
    }
    bytes all(reference.size());
    a.read(box::whole(shape), all);
    CHECK(all == reference);
  }
}

TEST_CASE("missing chunks read as the fill value and are not written by reads") {
  auto s = make_memory_store();
  const zarr_array a =
      zarr_array::create(s, "",
                         make_meta({6, 6}, {3, 3}, make_dtype(scalar_kind::float64), "blosc",
                                   memory_order::c, std::numeric_limits<double>::quiet_NaN()));
  std::vector<double> ones(4, 1.0);
  a.write_from<double>(box{{0, 0}, {2, 2}}, ones);  // touches chunk (0, 0) only
  CHECK(s->list("") == std::vector<std::string>{".zarray", "0.0"});
  const std::vector<double> all = a.read_as<double>(box::whole(a.shape()));
  for (index_t i = 0; i < 6; ++i) {
    for (index_t j = 0; j < 6; ++j) {
      const double v = all[i * 6 + j];
      if (i < 2 && j < 2)
        CHECK(v == 1.0);
      else
        CHECK(std::isnan(v));
    }
  }
  CHECK(a.chunk_exists(shape_t{0, 0}));
  CHECK_FALSE(a.chunk_exists(shape_t{1, 1}));
  CHECK(s->list("").size() == 2);  // reading wrote nothing
  // A null fill value reads as zeros.
  const zarr_array z = zarr_array::create(make_memory_store(), "z",
                                          make_meta({4}, {2}, make_dtype(scalar_kind::int32),
                                                    "none", memory_order::c, std::monostate{}));
  CHECK(z.read_as<std::int32_t>(box::whole(z.shape())) == std::vector<std::int32_t>(4, 0));
  CHECK(json::parse(z.metadata().to_json())["fill_value"].is_null());
}

TEST_CASE("stored_chunks lists the chunks from keys, and nothing that is not one") {
  for (char separator : {'.', '/'}) {
    CAPTURE(separator);
    auto s = make_memory_store();
    const zarr_array a =
        zarr_array::create(s, "g/a",
                           make_meta({10, 7}, {3, 2}, make_dtype(scalar_kind::int16), "none",
                                     memory_order::c, 0.0, separator));
    const std::vector<std::int16_t> one(6, 1);
    a.write_chunk(shape_t{3, 0}, std::as_bytes(std::span(one)));
    a.write_chunk(shape_t{0, 3}, std::as_bytes(std::span(one)));
    a.write_chunk(shape_t{1, 2}, std::as_bytes(std::span(one)));
    const std::string sep(1, separator);
    // Not chunks: out of the grid, malformed, too few or many parts, metadata, leading zeros.
    for (const std::string& bad : std::vector<std::string>{
             "4" + sep + "0", "0" + sep + "4", "x" + sep + "1", "1", "1" + sep + "1" + sep + "1",
             "1" + sep, sep + "1", "-1" + sep + "0", "01" + sep + "1", "1" + sep + "1.tmp",
             ".zattrs"}) {
      if (separator == '/' && (bad.front() == '/' || bad.back() == '/')) continue;  // not keys
      s->set("g/a/" + bad, std::as_bytes(std::span(one)));
    }
    s->set("g/ab/0.0", std::as_bytes(std::span(one)));  // another node
    CHECK(a.stored_chunks() == std::vector<shape_t>{{0, 3}, {1, 2}, {3, 0}});
  }
  auto s = make_memory_store();
  const zarr_array scalar =
      zarr_array::create(s, "", make_meta({}, {}, make_dtype(scalar_kind::float64), "none"));
  CHECK(scalar.stored_chunks().empty());
  const double v = 2.5;
  scalar.write_chunk(shape_t{}, std::as_bytes(std::span(&v, 1)));
  CHECK(scalar.stored_chunks() == std::vector<shape_t>{shape_t{}});
}

TEST_CASE("0-d arrays and zero-length axes") {
  auto s = make_memory_store();
  const zarr_array scalar =
      zarr_array::create(s, "s", make_meta({}, {}, make_dtype(scalar_kind::float64), "zstd:1"));
  CHECK(scalar.read_as<double>(box{}) == std::vector<double>{0.0});
  const std::vector<double> pi{3.25};
  scalar.write_from<double>(box{}, pi);
  CHECK(s->exists("s/0"));
  CHECK(zarr_array::open(s, "s").read_as<double>(box{}) == pi);

  const zarr_array empty = zarr_array::create(
      s, "e", make_meta({0, 5}, {1, 5}, make_dtype(scalar_kind::uint8), "blosc"));
  CHECK(empty.grid().chunk_count() == 0);
  CHECK(empty.read_as<std::uint8_t>(box::whole(empty.shape())).empty());
  CHECK_NOTHROW(empty.write(box::whole(empty.shape()), bytes{}));
  CHECK(s->list("e") == std::vector<std::string>{"e/.zarray"});
}

TEST_CASE("corrupt, truncated and wrong-sized chunks are codec_errors naming the key") {
  test::temp_dir dir;
  auto s = make_directory_store(dir.path());
  const zarr_array a = zarr_array::create(
      s, "grp/arr", make_meta({8, 8}, {4, 4}, make_dtype(scalar_kind::float32), "blosc"));
  const bytes data = test::sample_elements(scalar_kind::float32, 64, 1);
  a.write(box::whole(a.shape()), data);
  bytes out(data.size());
  const std::string key_text = (dir.path() / "grp/arr/1.0").string();

  bytes chunk = *s->get("grp/arr/1.0");
  s->set("grp/arr/1.0", std::span(chunk).first(chunk.size() / 2));  // truncated
  CHECK_THROWS_WITH_AS(a.read(box::whole(a.shape()), out), doctest::Contains(key_text.c_str()),
                       codec_error);
  s->set("grp/arr/1.0", bytes{});  // empty file
  CHECK_THROWS_WITH_AS(a.read(box::whole(a.shape()), out), doctest::Contains(key_text.c_str()),
                       codec_error);
  // A valid Blosc frame of the wrong size.
  const bytes other = make_codec("blosc")->encode(test::sample_bytes(100, 1), 4);
  s->set("grp/arr/1.0", other);
  CHECK_THROWS_WITH_AS(a.read(box::whole(a.shape()), out), doctest::Contains("expected 64"),
                       codec_error);
  // Garbage.
  s->set("grp/arr/1.0", test::sample_bytes(300, 3));
  CHECK_THROWS_AS(a.read(box::whole(a.shape()), out), codec_error);
  // The other chunks still read.
  bytes corner(16 * 4);
  a.read(box{{0, 0}, {4, 4}}, corner);
  CHECK(corner == test::naive_extract(data, {8, 8}, box{{0, 0}, {4, 4}}, 4));
  // Uncompressed chunks of the wrong size.
  const zarr_array raw =
      zarr_array::create(s, "raw", make_meta({4}, {4}, make_dtype(scalar_kind::int16), "none"));
  s->set("raw/0", test::sample_bytes(7, 1));
  bytes small(8);
  CHECK_THROWS_WITH_AS(raw.read(box::whole(raw.shape()), small), doctest::Contains("raw/0"),
                       codec_error);
}

TEST_CASE("open, create and typed access refuse what does not fit") {
  test::temp_dir dir;
  auto s = make_directory_store(dir.path());
  CHECK_THROWS_WITH_AS(zarr_array::open(s, "nothing"), doctest::Contains("no .zarray"),
                       not_found_error);
  create_group(*s, "g");
  CHECK_THROWS_WITH_AS(zarr_array::open(s, "g"), doctest::Contains("group"), not_found_error);
  const auto meta = make_meta({4}, {2}, make_dtype(scalar_kind::float64), "none");
  const zarr_array a = zarr_array::create(s, "g/a", meta);
  a.write_from<double>(box::whole(a.shape()), std::vector<double>{1, 2, 3, 4});
  CHECK_THROWS_WITH_AS(zarr_array::create(s, "g/a", meta), doctest::Contains("already exists"),
                       io_error);
  CHECK(zarr_array::open(s, "g/a").read_as<double>(box::whole(a.shape())) ==
        std::vector<double>{1, 2, 3, 4});  // the refused create lost nothing
  const zarr_array replaced = zarr_array::create(s, "g/a", meta, true);
  CHECK(s->list("g/a") == std::vector<std::string>{"g/a/.zarray"});
  CHECK_THROWS_WITH_AS(a.read_as<float>(box::whole(a.shape())), doctest::Contains("float64"),
                       type_error);
  bytes wrong(3);
  CHECK_THROWS_AS(a.read(box::whole(a.shape()), wrong), shape_error);
  bytes four(32);
  CHECK_THROWS_AS(a.read(box{{2}, {6}}, four), shape_error);
  CHECK_THROWS_AS(a.read_chunk(shape_t{2}, four), shape_error);
  // Opening a directory on disk directly.
  CHECK(zarr_array::open(dir.path() / "g" / "a").shape() == shape_t{4});
  const std::string text = "{ not json";
  s->set("bad/.zarray", std::as_bytes(std::span(text)));
  CHECK_THROWS_WITH_AS(zarr_array::open(s, "bad"), doctest::Contains("bad/.zarray"), format_error);
}

TEST_CASE("concurrent chunk writes and reads are safe") {
  for (int threads : {1, 2, 4}) {
    CAPTURE(threads);
    test::temp_dir dir;
    auto s = make_directory_store(dir.path());
    const shape_t shape{64, 48};
    const zarr_array a = zarr_array::create(
        s, "", make_meta(shape, {8, 8}, make_dtype(scalar_kind::float32), "blosc:zstd:1:shuffle"));
    const bytes data = test::sample_elements(scalar_kind::float32, element_count(shape), 9);
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        bytes chunk(static_cast<std::size_t>(a.metadata().chunk_bytes()));
        for (index_t i = t; i < a.grid().chunk_count(); i += threads) {
          const shape_t index = a.grid().unravel(i);
          const box b = a.grid().chunk_box(index);
          a.write_chunk(index, test::naive_extract(data, shape, b, 4));
        }
      });
    }
    for (auto& th : pool) th.join();
    pool.clear();
    std::atomic<int> mismatches{0};
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        std::mt19937 rng(t);
        for (int k = 0; k < 50; ++k) {
          const box b = test::random_box(shape, rng);
          bytes got(static_cast<std::size_t>(b.size()) * 4);
          a.read(b, got);
          if (got != test::naive_extract(data, shape, b, 4)) ++mismatches;
        }
      });
    }
    for (auto& th : pool) th.join();
    CHECK(mismatches == 0);
  }
}

TEST_CASE("groups: nested creation, children, attributes") {
  auto s = make_memory_store();
  create_group(*s, "exp/recordings");
  CHECK(node_at(*s, "") == node_kind::group);
  CHECK(node_at(*s, "exp") == node_kind::group);
  CHECK(node_at(*s, "exp/recordings") == node_kind::group);
  CHECK(node_at(*s, "nothing") == node_kind::none);
  zarr_array::create(s, "exp/recordings/lfp",
                     make_meta({4}, {2}, make_dtype(scalar_kind::float32), "none"));
  create_group(*s, "exp/meta");
  s->set("exp/notes.txt", bytes{});  // not a node: not a child
  const auto children = group_children(*s, "exp");
  REQUIRE(children.size() == 2);
  CHECK(children[0].name == "meta");
  CHECK(children[0].kind == node_kind::group);
  CHECK(children[1].name == "recordings");
  CHECK(group_children(*s, "exp/recordings")[0].kind == node_kind::array);
  CHECK_THROWS_AS(group_children(*s, "exp/recordings/lfp"), not_found_error);
  CHECK_THROWS_AS(create_group(*s, "exp/recordings/lfp/sub"), io_error);

  CHECK(read_attributes(*s, "exp") == json::object());
  const json attrs = {{"rate", 1000}, {"units", "uV"}, {"dims", {"channel", "time"}}};
  write_attributes(*s, "exp", attrs);
  CHECK(read_attributes(*s, "exp") == attrs);
  const zarr_array lfp = zarr_array::open(s, "exp/recordings/lfp");
  lfp.set_attributes({{"k", 1.5}});
  CHECK(lfp.attributes()["k"] == 1.5);
  CHECK_THROWS_AS(write_attributes(*s, "exp", json::array({1})), value_error);
  const std::string bad = "[1, 2]";
  s->set("exp/.zattrs", std::as_bytes(std::span(bad)));
  CHECK_THROWS_WITH_AS(read_attributes(*s, "exp"), doctest::Contains("exp/.zattrs"), format_error);
}

TEST_CASE("a new node inside a group gets group parents, outside a group, plain folders") {
  test::temp_dir dir;
  const auto ten = arange(10, make_dtype(scalar_kind::int32));
  const auto group_dir = make_directory_store(dir.path() / "exp.zarr");
  create_group(*group_dir, "");
  store(ten, dir.path() / "exp.zarr/new/sub/x");
  CHECK(node_at(*group_dir, "new") == node_kind::group);
  CHECK(node_at(*group_dir, "new/sub") == node_kind::group);
  CHECK(group_children(*group_dir, "new/sub").at(0).name == "x");
  // Not inside a group: the folders are created, nothing becomes a group.
  store(ten, dir.path() / "plain/a/x");
  CHECK(node_at(*make_directory_store(dir.path()), "plain/a") == node_kind::none);
  CHECK(node_at(*make_directory_store(dir.path()), "plain") == node_kind::none);
  CHECK(compute<std::int32_t>(open(dir.path() / "plain/a/x"))(9) == 9);
  // Inside a store, every parent of a new node is a group, as zarr-python makes them.
  const auto mem = named_memory_store("parents-test");
  store(ten, "memory://parents-test/g/a/x");
  CHECK(node_at(*mem, "") == node_kind::group);
  CHECK(node_at(*mem, "g") == node_kind::group);
  CHECK(node_at(*mem, "g/a") == node_kind::group);
}

TEST_CASE("the sample experiment opens as zarr-python wrote it") {
  auto s = make_directory_store(CHUNKARR_SAMPLES_DIR "/2018_12_11_experiment_5.zarr");
  CHECK(read_attributes(*s, "")["experiment"] == "2018_12_11_experiment_5");
  const zarr_array lfp = zarr_array::open(s, "recordings/lfp");
  CHECK(lfp.shape() == shape_t{16, 30000});
  CHECK(lfp.dtype().name() == "float32");
  CHECK(lfp.attributes()["units"] == "uV");
  const std::vector<float> values = lfp.read_as<float>(box::whole(lfp.shape()));
  // Channel c carries a drift of 15c uV: per-channel means rise with the channel.
  double previous = -1e9;
  for (index_t c = 0; c < 16; ++c) {
    double sum = 0;
    for (index_t t = 0; t < 30000; ++t) sum += values[c * 30000 + t];
    CHECK(sum / 30000 > previous);
    previous = sum / 30000;
  }
  const zarr_array good = zarr_array::open(s, "channels/good");
  bytes flags(16);
  good.read(box::whole(good.shape()), flags);
  CHECK(flags[3] == std::byte{0});
  CHECK(flags[4] == std::byte{1});
}

namespace {

// Fault injection through the store seam: a memory store whose writes start failing after
// `budget` successful ones.
class failing_store final : public kvstore {
 public:
  explicit failing_store(int budget) : inner_(make_memory_store()), budget_(budget) {}
  std::optional<bytes> get(std::string_view key) const override { return inner_->get(key); }
  void set(std::string_view key, std::span<const std::byte> value) override {
    if (budget_-- <= 0) throw_error<io_error>("injected failure writing ", key);
    inner_->set(key, value);
  }
  bool erase(std::string_view key) override { return inner_->erase(key); }
  std::size_t erase_prefix(std::string_view prefix) override {
    return inner_->erase_prefix(prefix);
  }
  bool exists(std::string_view key) const override { return inner_->exists(key); }
  std::vector<std::string> list(std::string_view prefix) const override {
    return inner_->list(prefix);
  }
  std::vector<std::string> list_dir(std::string_view prefix) const override {
    return inner_->list_dir(prefix);
  }
  std::string describe() const override { return "<failing>"; }

 private:
  std::shared_ptr<kvstore> inner_;
  int budget_;
};

}  // namespace

TEST_CASE("a store that fails mid-write surfaces io_error, finished chunks stay whole") {
  auto s = std::make_shared<failing_store>(4);  // .zarray, then three chunks
  const zarr_array a =
      zarr_array::create(s, "", make_meta({6, 4}, {2, 4}, make_dtype(scalar_kind::int32), "blosc"));
  std::vector<std::int32_t> values(24);
  for (int i = 0; i < 24; ++i) values[i] = i;
  // The whole array is three chunk writes; the next write fails.
  a.write_from<std::int32_t>(box::whole(a.shape()), values);
  const std::vector<std::int32_t> first_row(values.begin(), values.begin() + 8);
  CHECK_THROWS_WITH_AS(a.write_from<std::int32_t>(box{{0, 0}, {2, 4}}, first_row),
                       doctest::Contains("injected failure writing 0.0"), io_error);
  // What was written before the failure reads back intact.
  CHECK(a.read_as<std::int32_t>(box::whole(a.shape())) == values);
}
