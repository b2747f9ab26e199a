// Joining and rearranging: concatenate, stack, hstack/vstack/dstack, block against xtensor's
// own concatenate and stack, across dtypes, chunkings (misaligned, size-1, edge chunks, empty
// operands), thread counts and budgets; the chunks of the result; stores that copy stored
// chunks; flip, roll, broadcast_to, tile and pad against xtensor and by hand; errors that
// name the shapes. (NumPy itself checks all of them through eval: tests/test_eval.py.)
#include <doctest/doctest.h>

#include <xtensor/xbuilder.hpp>
#include <xtensor/xindex_view.hpp>
#include <xtensor/xmanipulation.hpp>
#include <xtensor/xview.hpp>

#include "chunkarr/chunkarr.hpp"
#include "test_helpers.hpp"

using namespace chunkarr;

namespace {

// Distinct values per operand, so a part taken from the wrong operand or offset shows.
template <class T>
xt::xarray<T> values(const shape_t& shape, int seed) {
  std::vector<std::size_t> s(shape.begin(), shape.end());
  xt::xarray<T> x(s);
  for (std::size_t i = 0; i < x.size(); ++i) {
    x.data()[i] = static_cast<T>((seed * 1000 + static_cast<int>(i) * 7) % 251 - 100);
  }
  return x;
}

const std::vector<compute_options> settings = {
    {.threads = 1}, {.threads = 2}, {.memory_limit = 1 << 20, .threads = 4}};

}  // namespace

TEST_CASE("concatenate agrees with xtensor along every axis, for any chunking and threads") {
  const shape_t sa{13, 7, 5}, sb{13, 7, 5};
  const auto xa = values<float>(sa, 1);
  for (int axis : {0, 1, 2, -1, -3}) {
    CAPTURE(axis);
    shape_t sc = sa;
    sc[static_cast<std::size_t>(axis < 0 ? axis + 3 : axis)] = 4;
    const auto xb = values<float>(sb, 2);
    const auto xc = values<float>(sc, 3);
    const std::size_t ax = static_cast<std::size_t>(axis < 0 ? axis + 3 : axis);
    const xt::xarray<float> expected = xt::concatenate(xt::xtuple(xa, xb, xc), ax);
    for (const auto& [ca, cb, cc] : std::vector<std::tuple<shape_t, shape_t, shape_t>>{
             {{4, 3, 2}, {4, 3, 2}, {4, 3, 2}},   // the same chunks
             {{13, 7, 5}, {5, 2, 3}, {1, 1, 1}},  // misaligned, whole, size-1
             {{6, 7, 1}, {13, 1, 5}, {2, 4, 5}}}) {
      CAPTURE(to_string(ca));
      CAPTURE(to_string(cb));
      const array a = from_xtensor(xa, ca), b = from_xtensor(xb, cb), c = from_xtensor(xc, cc);
      const array j = concatenate({a, b, c}, axis);
      CHECK(j.shape() == shape_t(expected.shape().begin(), expected.shape().end()));
      for (const compute_options& o : settings) {
        CAPTURE(o.threads);
        CHECK(compute<float>(j, o) == expected);
      }
      // Regions that cross operands: a slice through the joins, a transpose, a rechunk.
      CHECK(compute<float>(j(range(1, {}, 2), range({}, {}, -1), range(1, 4))) ==
            xt::view(expected, xt::range(1, xt::placeholders::_, 2),
                     xt::range(xt::placeholders::_, xt::placeholders::_, -1), xt::range(1, 4)));
      CHECK(compute<float>(rechunk(j, {5, 5, 5})) == expected);
      CHECK(compute<float>(j.transpose()) == xt::transpose(expected));
      CHECK(compute<double>(sum(j, {static_cast<int>(ax)})) ==
            xt::sum(xt::cast<double>(expected), {ax}));
    }
  }
}

TEST_CASE("concatenate promotes as NumPy and drops empty operands") {
  const array f = from_xtensor(values<float>({4, 3}, 1), {3, 2});
  const array i = from_xtensor(values<std::int32_t>({2, 3}, 2), {1, 3});
  const array u = from_xtensor(values<std::uint8_t>({1, 3}, 3));
  const array b = from_xtensor(xt::xarray<bool>({{true, false, true}}));
  CHECK(concatenate({f, i}).dtype().kind == scalar_kind::float64);
  CHECK(concatenate({i, u}).dtype().kind == scalar_kind::int32);
  CHECK(concatenate({u, b}).dtype().kind == scalar_kind::uint8);
  CHECK(concatenate({b, b}).dtype().kind == scalar_kind::bool_);
  const xt::xarray<double> expected = xt::concatenate(
      xt::xtuple(xt::cast<double>(values<float>({4, 3}, 1)),
                 xt::cast<double>(values<std::int32_t>({2, 3}, 2)),
                 xt::cast<double>(values<std::uint8_t>({1, 3}, 3)), xt::xarray<double>{{1, 0, 1}}),
      0);
  CHECK(compute<double>(concatenate({f, i, u, b})) == expected);
  // An empty operand adds no chunks; all empty gives an empty result.
  const array empty = f(range(0, 0));
  const array j = concatenate({empty, f, empty});
  CHECK(j.shape() == shape_t{4, 3});
  CHECK(j.chunks() == f.chunks());
  CHECK(concatenate({empty, empty}).shape() == shape_t{0, 3});
  CHECK(compute<float>(concatenate({empty, empty})).size() == 0);
  // One operand is that operand (cast when needed).
  CHECK(concatenate({f}).node() == f.node());
}

TEST_CASE("concatenate keeps the operands' chunks, refined where they differ") {
  const array a = from_xtensor(values<float>({10, 8}, 1), {4, 3});
  const array b = from_xtensor(values<float>({5, 8}, 2), {2, 5});
  const array j = concatenate({a, b});
  CHECK(j.chunks()[0].lengths() == shape_t{4, 4, 2, 2, 2, 1});
  // Along the other axis, every boundary of either: 0 3 5 6 8.
  CHECK(j.chunks()[1].lengths() == shape_t{3, 2, 1, 2});
  const array same = concatenate({a, a}, 1);
  CHECK(same.chunks()[0] == a.chunks()[0]);
  CHECK(same.chunks()[1].lengths() == shape_t{3, 3, 2, 3, 3, 2});
}

TEST_CASE("stack, hstack, vstack, dstack and block agree with NumPy's definitions") {
  const auto x = values<double>({6, 4}, 1), y = values<double>({6, 4}, 2);
  const array a = from_xtensor(x, {4, 3}), b = from_xtensor(y, {5, 1});
  for (int axis : {0, 1, 2, -1}) {
    CAPTURE(axis);
    const std::size_t ax = static_cast<std::size_t>(axis < 0 ? axis + 3 : axis);
    CHECK(compute<double>(stack({a, b}, axis)) == xt::stack(xt::xtuple(x, y), ax));
  }
  CHECK(compute<double>(hstack({a, b})) == xt::concatenate(xt::xtuple(x, y), 1));
  CHECK(compute<double>(vstack({a, b})) == xt::concatenate(xt::xtuple(x, y), 0));
  CHECK(compute<double>(dstack({a, b})) == xt::stack(xt::xtuple(x, y), 2));
  // 1-d: hstack joins them, vstack makes rows, dstack a (1, N, k) block.
  const auto r = values<double>({5}, 3);
  const array v = from_xtensor(r, {2});
  CHECK(compute<double>(hstack({v, v})) == xt::concatenate(xt::xtuple(r, r)));
  CHECK(compute<double>(vstack({v, v})) == xt::stack(xt::xtuple(r, r)));
  CHECK(dstack({v, v}).shape() == shape_t{1, 5, 2});
  CHECK(atleast_3d(a).shape() == shape_t{6, 4, 1});
  CHECK(atleast_2d(v).shape() == shape_t{1, 5});
  CHECK(expand_dims(a, -1).shape() == shape_t{6, 4, 1});
  CHECK(expand_dims(a, 1).shape() == shape_t{6, 1, 4});
  // block: the inner lists join along the last axis, the outer along the one before.
  const array top = block({{a, b}, {b, a}});
  CHECK(compute<double>(top) == xt::concatenate(xt::xtuple(xt::concatenate(xt::xtuple(x, y), 1),
                                                           xt::concatenate(xt::xtuple(y, x), 1)),
                                                0));
  CHECK(block({a, b}).shape() == shape_t{6, 8});
  CHECK(block({{v}}).shape() == shape_t{1, 5});  // raised to the depth of the lists
}

TEST_CASE("joins store to Zarr and read back equal") {
  test::temp_dir dir;
  const auto x = values<std::int16_t>({9, 11}, 1), y = values<std::int16_t>({9, 11}, 2);
  const array j = stack({from_xtensor(x, {4, 4}), from_xtensor(y, {3, 11})}, 1);
  store(j, (dir.path() / "j.zarr").string());
  const array back = open(dir.path() / "j.zarr");
  CHECK(back.dtype().kind == scalar_kind::int16);
  CHECK(compute<std::int16_t>(back) == xt::stack(xt::xtuple(x, y), 1));
}

TEST_CASE("bad joins are refused when built, naming the shapes") {
  const array a = from_xtensor(values<float>({4, 3}, 1));
  const array r = from_xtensor(values<float>({3}, 1));
  const array s = from_xtensor(values<float>({4, 5}, 1));
  CHECK_THROWS_WITH_AS(concatenate({}), doctest::Contains("need at least one array"), value_error);
  CHECK_THROWS_WITH_AS(concatenate({a, r}),
                       doctest::Contains("the array at index 1 has 1 dimension(s) (shape (3,))"),
                       shape_error);
  CHECK_THROWS_WITH_AS(concatenate({a, s}),
                       doctest::Contains("along dimension 1, the array at index 0 has size 3"),
                       shape_error);
  CHECK_NOTHROW(concatenate({a, s}, 1));
  CHECK_THROWS_WITH_AS(concatenate({a, a}, 2), doctest::Contains("axis 2 is out of bounds"),
                       shape_error);
  CHECK_THROWS_WITH_AS(concatenate({r(0), r(1)}), doctest::Contains("zero-dimensional"),
                       shape_error);
  CHECK_THROWS_WITH_AS(stack({a, s}), doctest::Contains("(4, 3)"), shape_error);
  CHECK_THROWS_WITH_AS(stack({a, a}, 3), doctest::Contains("out of bounds"), shape_error);
  CHECK_THROWS_AS(concatenate({a, array()}), value_error);
  CHECK_THROWS_WITH_AS(block({{a, a}, a}), doctest::Contains("depths are mismatched"), value_error);
  CHECK_THROWS_WITH_AS(block(block_item(std::vector<block_item>{})),
                       doctest::Contains("cannot be empty"), value_error);
}

namespace {

zarr_array stored(const std::filesystem::path& dir, const xt::xarray<float>& x, shape_t chunks,
                  const char* codec = "blosc:lz4:5:shuffle", fill_value fill = 0.0,
                  memory_order order = memory_order::c) {
  array_metadata m;
  m.shape = shape_t(x.shape().begin(), x.shape().end());
  m.chunks = std::move(chunks);
  m.dtype = make_dtype(scalar_kind::float32);
  m.compressor = make_codec(codec);
  m.fill = fill;
  m.order = order;
  const zarr_array z = zarr_array::create(make_directory_store(dir), "", m);
  z.write(box::whole(m.shape), std::as_bytes(std::span(x.data(), x.size())));
  return z;
}

}  // namespace

TEST_CASE("a store of arrays joined as they are stored copies their chunks' bytes") {
  test::temp_dir dir;
  const auto x = values<float>({8, 6}, 1), y = values<float>({8, 6}, 2);
  const zarr_array a = stored(dir.path() / "a.zarr", x, {4, 3});
  const zarr_array b = stored(dir.path() / "b.zarr", y, {4, 3});
  auto same_bytes = [](const zarr_array& from, const shape_t& i, const zarr_array& to,
                       const shape_t& j) {
    return from.storage()->get(from.chunk_key(i)) == to.storage()->get(to.chunk_key(j));
  };
  // Chunks written with another Blosc compressor (a Blosc frame names its own, so the array's
  // codec reads them): not what encoding their values again gives, so only a copy of the
  // stored bytes can match them.
  for (const zarr_array* z : {&a, &b}) {
    for (const shape_t& i : {shape_t{1, 1}, shape_t{0, 1}, shape_t{1, 0}}) {
      bytes chunk(static_cast<std::size_t>(z->metadata().chunk_bytes()));
      z->read_chunk(i, chunk);
      const bytes other = make_codec("blosc:zstd:5:noshuffle")->encode(chunk, 4);
      REQUIRE(other != make_codec("blosc:lz4:5:shuffle")->encode(chunk, 4));
      z->storage()->set(z->chunk_key(i), other);
    }
  }
  for (int threads : {1, 2}) {
    CAPTURE(threads);
    const compute_options o{.threads = threads};
    const zarr_array c = store(concatenate({from_zarr(a), from_zarr(b)}),
                               (dir.path() / ("c" + std::to_string(threads))).string(),
                               {.overwrite = true, .compute = o});
    CHECK(compute<float>(from_zarr(c)) == xt::concatenate(xt::xtuple(x, y), 0));
    CHECK(same_bytes(a, {1, 1}, c, {1, 1}));
    CHECK(same_bytes(b, {0, 1}, c, {2, 1}));
    // A new axis: chunks (1, 4, 3) hold what chunks (4, 3) do, element for element.
    const zarr_array s = store(stack({from_zarr(a), from_zarr(b)}, 0),
                               (dir.path() / ("s" + std::to_string(threads))).string(),
                               {.overwrite = true, .compute = o});
    CHECK(compute<float>(from_zarr(s)) == xt::stack(xt::xtuple(x, y), 0));
    CHECK(same_bytes(b, {1, 0}, s, {1, 1, 0}));
  }
  // A reshape that splits off chunk-long axes: chunks (4, 1, 3) of (8, 2, 3) are (4, 3) ones;
  // one that regroups elements across chunks is recomputed.
  const zarr_array split = store(from_zarr(a).reshape({8, 2, 3}), (dir.path() / "split").string());
  CHECK(split.metadata().chunks == shape_t{4, 1, 3});
  CHECK(compute<float>(from_zarr(split)) == xt::xarray<float>(xt::reshape_view(x, {8, 2, 3})));
  CHECK(same_bytes(a, {1, 1}, split, {1, 1, 0}));
  const zarr_array merged = store(from_zarr(a).reshape({4, 12}), (dir.path() / "merged").string());
  CHECK(compute<float>(from_zarr(merged)) == xt::xarray<float>(xt::reshape_view(x, {4, 12})));
  // An aligned slice is its chunks too; a misaligned one, or another codec, is recomputed.
  const zarr_array tail = store(from_zarr(a)(range(4, 8)), (dir.path() / "tail").string());
  CHECK(same_bytes(a, {1, 0}, tail, {0, 0}));
  const zarr_array shifted = store(from_zarr(a)(range(1, 8)), (dir.path() / "shifted").string());
  CHECK(compute<float>(from_zarr(shifted)) == xt::view(x, xt::range(1, 8)));
  const zarr_array other = store(concatenate({from_zarr(a), from_zarr(b)}),
                                 (dir.path() / "zstd").string(), {.codec = "zstd:3"});
  CHECK(compute<float>(from_zarr(other)) == xt::concatenate(xt::xtuple(x, y), 0));
  CHECK_FALSE(same_bytes(a, {0, 0}, other, {0, 0}));
}

TEST_CASE("copied chunks: missing ones read as their source's fill, other forms are recoded") {
  test::temp_dir dir;
  const auto x = values<float>({10, 7}, 1);
  // A source whose fill is 7 and whose chunk (0, 1) is not stored: the output (fill 0) must
  // hold 7s there, not a missing chunk.
  const zarr_array a = stored(dir.path() / "a.zarr", x, {4, 4}, "blosc:lz4:5:shuffle", 7.0);
  a.erase_chunk(shape_t{0, 1});
  xt::xarray<float> expected = x;
  xt::view(expected, xt::range(0, 4), xt::range(4, 7)) = 7.0f;
  const zarr_array c =
      store(concatenate({from_zarr(a), from_zarr(a)}, 1), (dir.path() / "c.zarr").string());
  CHECK(compute<float>(from_zarr(c)) == xt::concatenate(xt::xtuple(expected, expected), 1));
  // Fortran order, or an edge chunk that is not an edge in the output: values, not bytes.
  const zarr_array f =
      stored(dir.path() / "f.zarr", x, {4, 4}, "blosc:lz4:5:shuffle", 0.0, memory_order::f);
  const zarr_array g = store(concatenate({from_zarr(f), from_zarr(f)}), (dir.path() / "g").string(),
                             {.chunks = {4, 4}});
  CHECK(compute<float>(from_zarr(g)) == xt::concatenate(xt::xtuple(x, x), 0));
  const zarr_array h = stored(dir.path() / "h.zarr", x, {4, 4});
  const zarr_array k = store(concatenate({from_zarr(h)(range(0, 8)), from_zarr(h)}),
                             (dir.path() / "k").string(), {.chunks = {4, 4}});
  CHECK(compute<float>(from_zarr(k)) ==
        xt::concatenate(xt::xtuple(xt::view(x, xt::range(0, 8)), x), 0));
}

TEST_CASE("a corrupt chunk is not copied: the store fails naming its key") {
  test::temp_dir dir;
  const auto x = values<float>({8, 6}, 1);
  const zarr_array a = stored(dir.path() / "a.zarr", x, {4, 3});
  a.storage()->set(a.chunk_key(shape_t{1, 0}), std::as_bytes(std::span("not a blosc frame", 17)));
  CHECK_THROWS_WITH_AS(
      store(concatenate({from_zarr(a), from_zarr(a)}), (dir.path() / "c.zarr").string()),
      doctest::Contains("1.0"), codec_error);
  CHECK_FALSE(std::filesystem::exists(dir.path() / "c.zarr"));
}

TEST_CASE("flip, roll, broadcast_to, tile and pad agree with xtensor, with chunks to match") {
  const auto x = values<float>({7, 5}, 1);
  const array a = from_xtensor(x, {3, 2});
  for (const compute_options& o : settings) {
    CAPTURE(o.threads);
    CHECK(compute<float>(flip(a, std::vector<int>{1}), o) == xt::flip(x, 1));
    CHECK(compute<float>(roll(a, {2}, {0}), o) == xt::roll(x, 2, 0));
    CHECK(compute<float>(roll(a, {-7}, {1}), o) == xt::roll(x, -7, 1));
    const xt::xarray<float> row3 = xt::concatenate(xt::xtuple(x, x, x), 1);
    CHECK(compute<float>(tile(a, {2, 3}), o) == xt::concatenate(xt::xtuple(row3, row3), 0));
  }
  // broadcast_to reads the one row again: its chunks along the new extent are the made ones.
  const array row = a(range(2, 3));
  const array wide = broadcast_to(row, {4, 6, 5});
  CHECK(compute<float>(wide) == xt::broadcast(xt::view(x, xt::range(2, 3)), {4, 6, 5}));
  CHECK(wide.chunks()[2] == a.chunks()[1]);
  // pad: by hand, edge and reflect past the array's length (NumPy's periodic extension).
  const array p = pad(a, {{2, 9}, {0, 1}}, pad_mode::reflect);
  REQUIRE(p.shape() == shape_t{18, 6});
  const xt::xarray<float> got = compute<float>(p);
  auto reflect = [](index_t j, index_t n) {
    const index_t m = ((j % (2 * n - 2)) + 2 * n - 2) % (2 * n - 2);
    return m < n ? m : 2 * n - 2 - m;
  };
  bool same = true;
  for (index_t i = 0; i < 18; ++i) {
    for (index_t j = 0; j < 6; ++j) {
      same = same && got(i, j) == x(reflect(i - 2, 7), reflect(j, 5));
    }
  }
  CHECK(same);
  const xt::xarray<float> edge = compute<float>(pad(a, {{1, 1}}, pad_mode::edge));
  CHECK(xt::view(edge, 0, xt::range(1, 6)) == xt::view(x, 0));
  CHECK(edge(8, 0) == x(6, 0));
  CHECK(edge(8, 6) == x(6, 4));
  const xt::xarray<float> constant =
      compute<float>(pad(a, {{1, 2}, {0, 0}}, pad_mode::constant, 7.5));
  CHECK(xt::view(constant, xt::range(1, 8)) == x);
  CHECK(xt::all(xt::equal(xt::view(constant, xt::keep(0, 8, 9)), 7.5f)));
  CHECK(pad(a, {{1, 2}, {0, 0}}).chunks()[1] == a.chunks()[1]);
  // Tiles of tiles: regular chunks stay O(1) (2^32 of them); irregular ones past 2^24 are
  // refused when built, not after minutes of listing.
  const array one = from_xtensor(x, {7, 5});
  CHECK(tile(tile(one, {65536}), {65536}).chunks()[1].size() == index_t{1} << 32);
  CHECK_THROWS_AS(tile(tile(a, {65536}), {65536}), shape_error);
}

TEST_CASE("take and compress: NumPy's selections, chunked by the input chunks they touch") {
  test::temp_dir dir;
  const auto x = values<float>({12, 10}, 1);
  const zarr_array z = stored(dir.path() / "x.zarr", x, {4, 3});
  const array a = from_zarr(z);
  const std::vector<index_t> idx{9, -1, 0, 1, 1, 2, 7};
  const array t = take(a, idx, 1);
  // Runs within one input chunk: {9}, {9}, {0, 1, 1, 2}, {7}.
  CHECK(t.chunks()[1].lengths() == shape_t{1, 1, 3, 1, 1});
  xt::xarray<float> expected = xt::zeros<float>({12, 7});
  for (std::size_t k = 0; k < idx.size(); ++k) {
    const auto col = static_cast<std::size_t>(idx[k] < 0 ? idx[k] + 10 : idx[k]);
    xt::view(expected, xt::all(), k) = xt::view(x, xt::all(), col);
  }
  for (const compute_options& o : settings) {
    CAPTURE(o.threads);
    CHECK(compute<float>(t, o) == expected);
  }
  // Only the chunks the selection touches are read: the others are corrupt, unnoticed.
  const array rows = take(a, {5, 6}, 0);
  for (const shape_t& i : z.stored_chunks()) {
    if (i[0] != 1) z.storage()->set(z.chunk_key(i), std::as_bytes(std::span("junk", 4)));
  }
  CHECK(compute<float>(rows) == xt::view(x, xt::range(5, 7)));
  CHECK_THROWS_AS(compute<float>(take(a, {0}, 0)), codec_error);
  // compress, and both with their indices in arrays (computed when the selection is built).
  const auto y = values<float>({12, 10}, 2);
  const array b = from_xtensor(y, {5, 4});
  const std::vector<bool> keep{true, false, false, true, true};
  CHECK(compute<float>(compress(keep, b, 0)) == xt::view(y, xt::keep(0, 3, 4)));
  const array mask = from_xtensor(
      xt::xarray<bool>{false, true, true, false, false, false, false, false, false, true});
  CHECK(compute<float>(compress(mask, b, 1)) == xt::view(y, xt::all(), xt::keep(1, 2, 9)));
  const array where = from_xtensor(xt::xarray<std::int32_t>{4, -12});
  CHECK(compute<float>(take(b, where, 0)) == xt::view(y, xt::keep(4, 0)));
  CHECK(take(b, std::vector<index_t>{}, 1).shape() == shape_t{12, 0});
  CHECK_THROWS_WITH_AS(take(b, {12}, 0), doctest::Contains("index 12 is out of bounds"),
                       shape_error);
  CHECK_THROWS_WITH_AS(compress(std::vector<bool>(13, true), b, 0), doctest::Contains("length 13"),
                       shape_error);
  CHECK_THROWS_AS(take(b, from_xtensor(xt::xarray<float>{1.0f}), 0), type_error);
  CHECK_THROWS_AS(compress(from_xtensor(xt::xarray<int>{1}), b, 0), type_error);
}

TEST_CASE("vindex: pointwise indexing agrees with a loop over the points, reading what it must") {
  using coords = std::vector<std::vector<index_t>>;
  test::temp_dir dir;
  const auto x = values<std::int32_t>({9, 11, 5}, 2);
  const zarr_array z = stored(dir.path() / "p.zarr", x, {4, 3, 2});
  const array a = from_zarr(z);
  const std::vector<index_t> i{0, 8, -1, 3, 3, 0, 5}, j{10, 0, 2, -11, 4, 10, 6};
  auto at = [](index_t v, std::size_t n) {
    return static_cast<std::size_t>(v < 0 ? v + static_cast<index_t>(n) : v);
  };
  // Two leading axes: (K, 5); three: (K,).
  xt::xarray<std::int32_t> two = xt::zeros<std::int32_t>(std::vector<std::size_t>{i.size(), 5});
  xt::xarray<std::int32_t> three = xt::zeros<std::int32_t>(std::vector<std::size_t>{i.size()});
  for (std::size_t p = 0; p < i.size(); ++p) {
    xt::view(two, p, xt::all()) = xt::view(x, at(i[p], 9), at(j[p], 11), xt::all());
    three(p) = x(at(i[p], 9), at(j[p], 11), p % 5);
  }
  std::vector<index_t> k;
  for (std::size_t p = 0; p < i.size(); ++p) k.push_back(static_cast<index_t>(p % 5));
  for (const compute_options& o : settings) {
    CAPTURE(o.threads);
    CHECK(compute<std::int32_t>(vindex(a, coords{i, j}), o) == two);
    CHECK(compute<std::int32_t>(vindex(a, coords{i, j, k}), o) == three);
    CHECK(compute<std::int32_t>(vindex(a, coords{i}), o) ==
          compute<std::int32_t>(take(a, i, 0), o));
  }
  // Runs of points in one input chunk are one output chunk each.
  CHECK(vindex(a, coords{i, j}).chunks()[0].lengths() == shape_t{1, 2, 1, 1, 1, 1});
  // Index arrays broadcast together, their shape leading the result's.
  const array rows =
      from_xtensor(xt::xarray<std::int64_t>(xt::xtensor<std::int64_t, 2>{{1}, {7}, {-2}}));
  const array cols = from_xtensor(xt::xarray<std::int16_t>{0, 3, 9, 10});
  const xt::xarray<std::int32_t> grid =
      compute<std::int32_t>(vindex(a, std::vector<array>{rows, cols}));
  REQUIRE(grid.shape() == std::vector<std::size_t>{3, 4, 5});
  CHECK(xt::view(grid, 2, 1, xt::all()) == xt::view(x, 7, 3, xt::all()));
  CHECK(xt::view(grid, 1, 3, xt::all()) == xt::view(x, 7, 10, xt::all()));
  // Only the chunks holding points are read: the others are corrupt, unnoticed.
  for (const shape_t& c : z.stored_chunks()) {
    if (c[0] != 0 || c[1] != 0)
      z.storage()->set(z.chunk_key(c), std::as_bytes(std::span("junk", 4)));
  }
  CHECK(compute<std::int32_t>(vindex(a, coords{{0, 3, 1}, {2, 0, 1}})) ==
        xt::xarray<std::int32_t>{{x(0, 2, 0), x(0, 2, 1), x(0, 2, 2), x(0, 2, 3), x(0, 2, 4)},
                                 {x(3, 0, 0), x(3, 0, 1), x(3, 0, 2), x(3, 0, 3), x(3, 0, 4)},
                                 {x(1, 1, 0), x(1, 1, 1), x(1, 1, 2), x(1, 1, 3), x(1, 1, 4)}});
  CHECK_THROWS_AS(compute<std::int32_t>(vindex(a, coords{{0, 8}, {0, 0}})), codec_error);
  CHECK_THROWS_WITH_AS(vindex(a, coords{{9}, {0}}), doctest::Contains("index 9 is out of bounds"),
                       shape_error);
  CHECK_THROWS_AS(vindex(a, coords{{0, 1}, {0}}), shape_error);
  CHECK_THROWS_AS(vindex(a, coords{{0}, {0}, {0}, {0}}), shape_error);
  CHECK_THROWS_AS(vindex(a, std::vector<array>{from_xtensor(xt::xarray<float>{1.0f})}), type_error);
}

TEST_CASE("extract and a[mask]: the masked elements in C order, in any chunking and budget") {
  // Each chunking flattens differently: chunks spanning the trailing axes need no rechunk,
  // the others are rechunked first (spilled under a small budget).
  struct layout {
    shape_t shape, chunks;
  };
  const std::vector<layout> layouts = {{{37, 23}, {8, 5}},     {{37, 23}, {1, 23}},
                                       {{5, 7, 9}, {2, 3, 4}}, {{100}, {7}},
                                       {{64, 64}, {64, 1}},    {{3, 1, 4}, {1, 1, 1}}};
  for (const layout& l : layouts) {
    CAPTURE(to_string(l.shape));
    CAPTURE(to_string(l.chunks));
    const auto x = values<std::int16_t>(l.shape, 3);
    const array a = from_xtensor(x, l.chunks);
    for (int threshold : {-200, 0, 60, 200}) {
      CAPTURE(threshold);
      const xt::xarray<std::int16_t> expected = xt::filter(x, x > threshold);
      for (const compute_options& o : settings) {
        CAPTURE(o.threads);
        const array e = extract(a > threshold, a, o);
        CHECK(e.shape() == shape_t{static_cast<index_t>(expected.size())});
        CHECK(compute<std::int16_t>(e, o) == expected);
        CHECK(compute<std::int16_t>(e * 2, {.memory_limit = 256 << 10, .threads = 2}) ==
              xt::xarray<std::int16_t>(expected * 2));
      }
    }
    // A condition of another dtype (nonzero is true) and another shape of the same size.
    const auto c = values<float>({static_cast<index_t>(x.size())}, 4);
    const xt::xarray<std::int16_t> expected = xt::filter(xt::flatten(x), xt::not_equal(c, 0.0f));
    CHECK(compute<std::int16_t>(extract(from_xtensor(c, {5}), a)) == expected);
  }
  // Only the chunks that select are output chunks: one per input chunk, each its count.
  const auto y = values<float>({10, 6}, 5);
  const array b = from_xtensor(y, {2, 6});
  xt::xarray<bool> m = xt::zeros<bool>({10, 6});
  m(0, 1) = m(0, 5) = m(7, 0) = true;
  const array e = extract(from_xtensor(m, {5, 6}), b);
  CHECK(e.chunks()[0].lengths() == shape_t{2, 1});
  CHECK(compute<float>(e) == xt::xarray<float>{y(0, 1), y(0, 5), y(7, 0)});
  CHECK(extract(from_xtensor(xt::xarray<bool>(xt::zeros<bool>({10, 6}))), b).shape() == shape_t{0});
  test::temp_dir dir;
  store(e, (dir.path() / "e.zarr").string());
  CHECK(compute<float>(open(dir.path() / "e.zarr")) == compute<float>(e));
  CHECK_THROWS_WITH_AS(extract(from_xtensor(m, {5, 6}), b({range(0, 9)})),
                       doctest::Contains("differ in size"), shape_error);
}

namespace {

// A shape whose extents are the products of consecutive runs of `factors` cut at `cuts`.
shape_t grouped(const shape_t& factors, unsigned cuts) {
  shape_t shape{1};
  for (std::size_t i = 0; i < factors.size(); ++i) {
    if (i > 0 && (cuts >> i) & 1u) shape.push_back(1);
    shape.back() *= factors[i];
  }
  return shape;
}

}  // namespace

TEST_CASE("reshape agrees with xtensor's for merges, splits and both, in any chunking") {
  // Shapes from one list of factors grouped two ways: every merge and split between them.
  std::mt19937 rng(11);
  const std::vector<shape_t> factor_lists = {{2, 3, 4}, {5, 2, 3, 2}, {3, 1, 4, 2}, {7, 4}};
  for (int trial = 0; trial < 60; ++trial) {
    const shape_t& factors = factor_lists[static_cast<std::size_t>(trial) % factor_lists.size()];
    const shape_t from = grouped(factors, static_cast<unsigned>(rng()));
    const shape_t to = grouped(factors, static_cast<unsigned>(rng()));
    shape_t chunks;
    for (index_t n : from) chunks.push_back(1 + static_cast<index_t>(rng() % n));
    CAPTURE(to_string(from));
    CAPTURE(to_string(to));
    CAPTURE(to_string(chunks));
    const auto x = values<std::int32_t>(from, trial);
    const array a = from_xtensor(x, chunks);
    const array r = reshape(a, to);
    REQUIRE(r.shape() == to);
    std::vector<std::size_t> s(to.begin(), to.end());
    const xt::xarray<std::int32_t> expected = xt::reshape_view(x, s);
    // Each output chunk is one run of the flat order: the chunks tile the shape.
    for (std::size_t d = 0; d < to.size(); ++d) CHECK(r.chunks()[d].extent() == to[d]);
    for (const compute_options& o : settings) {
      CAPTURE(o.threads);
      CHECK(compute<std::int32_t>(r, o) == expected);
    }
    // Regions that are not chunks gather: a strided slice, a reversal, a transpose.
    std::vector<index_spec> sub;
    for (index_t n : to) sub.push_back(n > 2 ? range(1, {}, 2) : range({}, {}, -1));
    const xt::xarray<std::int32_t> got = compute<std::int32_t>(r(sub));
    xt::xstrided_slice_vector xs;
    for (index_t n : to) {
      if (n > 2) {
        xs.push_back(xt::range(1, xt::placeholders::_, 2));
      } else {
        xs.push_back(xt::range(xt::placeholders::_, xt::placeholders::_, -1));
      }
    }
    CHECK(got == xt::xarray<std::int32_t>(xt::strided_view(expected, xs)));
    CHECK(compute<std::int32_t>(r.T()) == xt::transpose(expected));
    CHECK(compute<std::int32_t>(ravel(r)) == xt::flatten(x));
    CHECK(compute<std::int32_t>(r.reshape(from)) == x);  // and back
  }
}

TEST_CASE("reshape keeps chunks that already fit and rechunks only the axes it must") {
  const array a = zeros({1024, 524288}, make_dtype(scalar_kind::float32), {256, 8192});
  // Splitting time into trials of a chunk's length: nothing to rechunk.
  const array trials = a.reshape({1024, 64, 8192});
  CHECK(trials.chunks()[0] == a.chunks()[0]);
  CHECK(trials.chunks()[1] == axis_chunks::regular(64, 1));
  CHECK(trials.chunks()[2] == shape_t{8192});
  // Splitting into trials of 3000 samples: time rechunked to multiples of 3000 (6000: about
  // the chunk's 8192), channels as they were.
  const array uneven = a(all, range(0, 3000 * 150)).reshape({1024, 150, 3000});
  CHECK(uneven.chunks()[0] == a.chunks()[0]);
  CHECK(uneven.chunks()[1] == axis_chunks::regular(150, 2));
  // Merging whole trailing axes keeps the leading chunks, scaled.
  const array t = zeros({60, 4, 5}, make_dtype(scalar_kind::int16), {7, 4, 5});
  CHECK(t.reshape({240, 5}).chunks()[0] == axis_chunks::regular(240, 28));
  CHECK(t.reshape({1200}).chunks()[0] == axis_chunks::regular(1200, 140));
  // Merging cut trailing axes makes them whole, with about as many elements a chunk.
  const array m = zeros({100, 30}, make_dtype(scalar_kind::int16), {10, 7});
  CHECK(m.ravel().chunks()[0] == axis_chunks::regular(3000, 60));
  // Length-1 axes come and go without a rechunk; a trillion elements cost nothing to plan.
  const array big = zeros({1'000'000, 1'000'000}, make_dtype(scalar_kind::int8), {1000, 1000});
  CHECK(big.reshape({1'000'000, 1, 1000, 1000}).chunks()[2] == axis_chunks::regular(1000, 1));
  CHECK(big.reshape({1, 1'000'000, 1'000'000, 1}).chunks()[1] == big.chunks()[0]);
}

TEST_CASE("reshape stores to Zarr, handles -1, 0-d and empty arrays, and refuses bad shapes") {
  test::temp_dir dir;
  const auto x = values<float>({6, 35}, 4);
  const array a = from_xtensor(x, {4, 8});
  store(a.reshape({-1, 7}), (dir.path() / "r.zarr").string());
  const array back = open(dir.path() / "r.zarr");
  CHECK(back.shape() == shape_t{30, 7});
  CHECK(compute<float>(back) == xt::xarray<float>(xt::reshape_view(x, {30, 7})));
  // 0-d to 1 x 1 and back; empty arrays to any shape of no elements.
  const array one = a(2, 3);
  CHECK(compute<float>(one.reshape({1, 1}))(0, 0) == x(2, 3));
  CHECK(compute<float>(one.reshape({1, 1}).reshape({}))() == x(2, 3));
  CHECK(a(range(0, 0)).reshape({5, 0, 3}).shape() == shape_t{5, 0, 3});
  CHECK_THROWS_WITH_AS(a.reshape({8, -1}),
                       doctest::Contains("cannot reshape array of size 210 (shape (6, 35)) into "
                                         "shape (8, -1)"),
                       value_error);
  CHECK_THROWS_WITH_AS(a.reshape({-1, -1}), doctest::Contains("one unknown dimension"),
                       value_error);
  CHECK_THROWS_WITH_AS(a.reshape({-3, -70}), doctest::Contains("negative dimensions"), value_error);
  CHECK_THROWS_AS(a.reshape({index_t{1} << 62, 8}), value_error);
  CHECK_THROWS_AS(a(range(0, 0)).reshape({-1, 0}), value_error);
  // The flattened forms roll, take and compress fall back on.
  CHECK(compute<float>(roll(a, {40})) == xt::roll(x, 40));
}

TEST_CASE("repeat agrees with xtensor's: one count for all (read again) or one per element") {
  const auto x = values<std::int16_t>({5, 6}, 2);
  const array a = from_xtensor(x, {2, 4});
  for (const compute_options& o : settings) {
    CAPTURE(o.threads);
    CHECK(compute<std::int16_t>(repeat(a, {3}, 0), o) == xt::repeat(x, 3, 0));
    CHECK(compute<std::int16_t>(repeat(a, {2}, -1), o) == xt::repeat(x, 2, 1));
    CHECK(compute<std::int16_t>(repeat(a, {1, 0, 2, 3, 1}, 0), o) ==
          xt::repeat(x, std::vector<std::size_t>{1, 0, 2, 3, 1}, 0));
  }
  // Chunks: the input's, as many times as long; the flattened form without an axis.
  CHECK(repeat(a, {3}, 0).chunks()[0] == shape_t{6, 6, 3});
  CHECK(compute<std::int16_t>(repeat(a, {2})) == xt::repeat(xt::flatten(x), 2, 0));
  CHECK(repeat(a, {0}, 1).shape() == shape_t{5, 0});
  // A count for all reads each element again: a billion repetitions plan in O(1).
  CHECK(repeat(a, {1'000'000'000}, 1).shape() == shape_t{5, 6'000'000'000});
  CHECK_THROWS_AS(repeat(a, {-1}, 0), value_error);
  CHECK_THROWS_WITH_AS(repeat(a, {1, 2}, 0), doctest::Contains("(5,) (2,)"), shape_error);
  CHECK_THROWS_AS(repeat(a, {index_t{1} << 62}, 0), shape_error);
}

TEST_CASE("creation functions agree with xtensor's and NumPy's definitions, in any chunks") {
  const dtype f8 = make_dtype(scalar_kind::float64), i8 = make_dtype(scalar_kind::int64);
  for (const compute_options& o : settings) {
    CAPTURE(o.threads);
    CHECK(compute<std::int64_t>(arange(2, 11, 3, i8, 2), o) == xt::xarray<std::int64_t>{2, 5, 8});
    CHECK(compute<double>(arange(1.0, -1.0, -0.5, f8), o) ==
          xt::xarray<double>{1.0, 0.5, 0.0, -0.5});
    CHECK(compute<double>(linspace(0, 1, 11, true, f8, 3), o) == xt::linspace<double>(0, 1, 11));
    CHECK(compute<double>(linspace(0, 1, 10, false, f8), o) ==
          xt::linspace<double>(0, 1, 10, false));
    CHECK(compute<double>(eye(5, 7, 2, f8, {2, 3}), o) == xt::eye<double>({5, 7}, 2));
    CHECK(compute<double>(identity(4), o) == xt::eye<double>(4));
  }
  // linspace puts stop itself last, and integer dtypes round down as NumPy's do.
  CHECK(compute<double>(linspace(0.1, 0.7, 7))(6) == 0.7);
  CHECK(compute<std::int32_t>(linspace(-3, 3, 5, true, make_dtype(scalar_kind::int32))) ==
        xt::xarray<std::int32_t>{-3, -2, 0, 1, 3});
  // tri: ones at and below diagonal k.
  const xt::xarray<std::int8_t> t =
      compute<std::int8_t>(tri(3, 4, 1, make_dtype(scalar_kind::int8)));
  CHECK(t == xt::xarray<std::int8_t>{{1, 1, 0, 0}, {1, 1, 1, 0}, {1, 1, 1, 1}});
  // indices and meshgrid: index grids, 'xy' swapping the first two axes.
  const xt::xarray<std::int64_t> g = compute<std::int64_t>(indices({2, 3}, i8, {1, 2}));
  CHECK(g == xt::xarray<std::int64_t>{{{0, 0, 0}, {1, 1, 1}}, {{0, 1, 2}, {0, 1, 2}}});
  const array x = arange(3, i8), y = arange(2, i8);
  const std::vector<array> xy = meshgrid({x, y});
  REQUIRE(xy.size() == 2);
  CHECK(compute<std::int64_t>(xy[0]) == xt::xarray<std::int64_t>{{0, 1, 2}, {0, 1, 2}});
  CHECK(compute<std::int64_t>(xy[1]) == xt::xarray<std::int64_t>{{0, 0, 0}, {1, 1, 1}});
  CHECK(meshgrid({x, y}, true)[0].shape() == shape_t{3, 2});
  // _like: a's shape and chunks (irregular ones too), a's dtype unless given.
  const array a = concatenate({from_xtensor(values<float>({3, 4}, 1), {2, 3}),
                               from_xtensor(values<float>({5, 4}, 2), {5, 1})});
  const array l = full_like(a, 2.5);
  CHECK(l.chunks() == a.chunks());
  CHECK(l.dtype().kind == scalar_kind::float32);
  CHECK(xt::all(xt::equal(compute<float>(l), 2.5f)));
  CHECK(zeros_like(a, i8).dtype().kind == scalar_kind::int64);
  CHECK(xt::all(xt::equal(compute<float>(ones_like(a)), 1.0f)));
  // Default chunks: about 2^22 elements, trailing axes whole first; an eye of 10^6 x 10^6
  // plans without holding anything.
  CHECK(auto_chunks({100, 1000, 1000}) == shape_t{4, 1000, 1000});
  CHECK(auto_chunks({10, 10}) == shape_t{10, 10});
  CHECK(eye(1'000'000).chunks()[1] == axis_chunks::regular(1'000'000, 1'000'000));
  CHECK(compute<double>(sum(eye(3000, std::nullopt, 0, f8, {1000, 1000})))() == 3000);
  CHECK_THROWS_AS(arange(0, 1, 0, f8), value_error);
  CHECK_THROWS_AS(eye(-1), value_error);
  CHECK_THROWS_AS(indices({2, 3}, i8, {1}), shape_error);
}
