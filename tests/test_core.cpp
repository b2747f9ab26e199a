// core: dtype, slice and box arithmetic, chunk_grid, region copies, errors.
#include <doctest/doctest.h>

#include <set>
#include <sstream>

#include "test_helpers.hpp"

using namespace chunkarr;

TEST_CASE("dtype parses and prints every supported typestr") {
  struct row {
    const char* typestr;
    scalar_kind kind;
    std::size_t size;
    const char* name;
  };
  const row rows[] = {
      {"|b1", scalar_kind::bool_, 1, "bool"},      {"|i1", scalar_kind::int8, 1, "int8"},
      {"<i2", scalar_kind::int16, 2, "int16"},     {">i4", scalar_kind::int32, 4, "int32"},
      {"<i8", scalar_kind::int64, 8, "int64"},     {"|u1", scalar_kind::uint8, 1, "uint8"},
      {">u2", scalar_kind::uint16, 2, "uint16"},   {"<u4", scalar_kind::uint32, 4, "uint32"},
      {">u8", scalar_kind::uint64, 8, "uint64"},   {"<f4", scalar_kind::float32, 4, "float32"},
      {">f8", scalar_kind::float64, 8, "float64"},
  };
  for (const row& r : rows) {
    CAPTURE(r.typestr);
    const dtype t = dtype::from_typestr(r.typestr);
    CHECK(t.kind == r.kind);
    CHECK(t.itemsize() == r.size);
    CHECK(t.name() == r.name);
    CHECK(t.typestr() == r.typestr);
  }
  CHECK(dtype::from_typestr(">f8").order == byte_order::big);
  CHECK(dtype::from_typestr("<f8").order == byte_order::little);
  CHECK(dtype::from_typestr(">f8").needs_swap() == (native_byte_order() == byte_order::little));
  CHECK_FALSE(dtype::from_typestr("|u1").needs_swap());
  CHECK(dtype::from_typestr("<i4") != dtype::from_typestr(">i4"));
  CHECK(dtype::from_typestr("|i1") == dtype{scalar_kind::int8, byte_order::big});
}

TEST_CASE("dtype refuses unsupported typestrs, naming them") {
  for (const char* bad :
       {"<M8[ns]", "<m8[s]", "|S10", "<U4", "|V8", "|O", "<c8", "<f2", "<i3", "|i4", "i4", "<x4",
        "<f", "", "<fX", "<f-8", "<f 8", "<f99999999999999999999999"}) {
    CAPTURE(bad);
    try {
      dtype::from_typestr(bad);
      FAIL("accepted ", bad);
    } catch (const type_error& e) {
      CHECK(std::string(e.what()).find(std::string("'") + bad + "'") != std::string::npos);
    }
  }
  CHECK_THROWS_WITH_AS(dtype::from_typestr("<f2"), doctest::Contains("float16"), type_error);
}

TEST_CASE("byteswap_elements reverses each element") {
  for (std::size_t itemsize : {1u, 2u, 4u, 8u}) {
    bytes data = test::sample_bytes(itemsize * 13, 7);
    const bytes original = data;
    byteswap_elements(data.data(), 13, itemsize);
    for (std::size_t i = 0; i < 13; ++i) {
      for (std::size_t b = 0; b < itemsize; ++b) {
        CHECK(data[i * itemsize + b] == original[i * itemsize + itemsize - 1 - b]);
      }
    }
  }
}

TEST_CASE("slice::normalize agrees with Python's slice.indices") {
  // The reference is CPython itself: every combination below, evaluated by Debian's python3.
  const std::string script =
      "vals=[None,-12,-6,-5,-1,0,1,3,4,5,9,12]\n"
      "for n in [0,1,5,10]:\n"
      " for a in vals:\n"
      "  for b in vals:\n"
      "   for s in [None,1,2,3,-1,-2,-3,7]:\n"
      "    r=slice(a,b,s).indices(n)\n"
      "    f=lambda v:'N' if v is None else v\n"
      "    print(n,f(a),f(b),f(s),r[0],r[1],r[2],len(range(*r)))\n";
  const std::string out =
      test::run_command(std::string(CHUNKARR_PYTHON) + " -c \"" + script + "\"");
  std::istringstream lines(out);
  std::string n_s, a_s, b_s, s_s;
  index_t start = 0, stop = 0, step = 0, count = 0;
  int checked = 0;
  auto opt = [](const std::string& s) -> std::optional<index_t> {
    if (s == "N") return std::nullopt;
    return std::stoll(s);
  };
  while (lines >> n_s >> a_s >> b_s >> s_s >> start >> stop >> step >> count) {
    const slice sl{opt(a_s), opt(b_s), opt(s_s)};
    const slice_range r = sl.normalize(std::stoll(n_s));
    CAPTURE(n_s + " " + a_s + ":" + b_s + ":" + s_s);
    CHECK(r.start == start);
    CHECK(r.stop == stop);
    CHECK(r.step == step);
    CHECK(r.count == count);
    ++checked;
  }
  CHECK(checked == 4 * 12 * 12 * 8);
}

TEST_CASE("slice errors and extreme steps") {
  const slice zero_step{{}, {}, 0};
  CHECK_THROWS_AS(zero_step.normalize(5), value_error);
  const slice huge{{}, {}, std::numeric_limits<index_t>::min()};
  CHECK(huge.normalize(5).count == 1);
  CHECK(huge.normalize(5).start == 4);
  CHECK(slice{std::numeric_limits<index_t>::min(), std::numeric_limits<index_t>::max(), {}}
            .normalize(5)
            .count == 5);
  CHECK(normalize_index(-1, 5) == 4);
  CHECK(normalize_index(0, 5) == 0);
  CHECK_THROWS_WITH_AS(normalize_index(5, 5), doctest::Contains("out of bounds"), shape_error);
  CHECK_THROWS_AS(normalize_index(-6, 5), shape_error);
}

TEST_CASE("box arithmetic") {
  const box a{{0, 2}, {4, 6}};
  const box b{{3, 0}, {10, 3}};
  CHECK(a.shape() == shape_t{4, 4});
  CHECK(a.size() == 16);
  CHECK(a.intersect(b) == box{{3, 2}, {4, 3}});
  CHECK(a.intersect(box{{5, 0}, {6, 1}}).empty());
  CHECK(a.intersect(box{{5, 0}, {6, 1}}).size() == 0);
  CHECK(a.contains(box{{1, 3}, {2, 4}}));
  CHECK_FALSE(a.contains(b));
  CHECK(a.relative_to(shape_t{1, 1}) == box{{-1, 1}, {3, 5}});
  CHECK(to_string(a) == "[0:4, 2:6]");
  CHECK(to_string(shape_t{3}) == "(3,)");
  CHECK(to_string(shape_t{}) == "()");
  CHECK(to_string(shape_t{3, 4}) == "(3, 4)");
  CHECK(box::whole(shape_t{}).size() == 1);  // a 0-d array has one element
  CHECK_FALSE(box::whole(shape_t{}).empty());
  auto within = [](box b, shape_t shape) { check_box_within(b, shape); };
  CHECK_THROWS_WITH_AS(within({{0}, {6}}, {5}),
                       doctest::Contains("[0:6] does not lie within shape (5,)"), shape_error);
  CHECK_THROWS_AS(within({{3}, {2}}, {5}), shape_error);
  CHECK_THROWS_AS(within({{0, 0}, {1, 1}}, {5}), shape_error);
}

TEST_CASE("chunk_grid counts, bounds and touched chunks") {
  const chunk_grid g({10, 7, 1}, {4, 3, 1});
  CHECK(g.chunk_counts() == shape_t{3, 3, 1});
  CHECK(g.chunk_count() == 9);
  CHECK(g.chunk_elements() == 12);
  CHECK(g.chunk_box(shape_t{2, 2, 0}) == box{{8, 6, 0}, {10, 7, 1}});  // edge chunk, clipped
  CHECK(g.chunk_box(shape_t{0, 1, 0}) == box{{0, 3, 0}, {4, 6, 1}});
  CHECK_THROWS_AS(g.chunk_box(shape_t{3, 0, 0}), shape_error);
  CHECK_THROWS_AS(g.chunk_box(shape_t{0, 0}), shape_error);
  CHECK_THROWS_AS(g.chunk_box(shape_t{-1, 0, 0}), shape_error);

  // chunks_touching against brute force over many random boxes and grids.
  std::mt19937 rng(3);
  for (int trial = 0; trial < 300; ++trial) {
    shape_t shape, chunks;
    const int ndim = 1 + trial % 3;
    for (int d = 0; d < ndim; ++d) {
      shape.push_back(std::uniform_int_distribution<index_t>(0, 12)(rng));
      chunks.push_back(std::uniform_int_distribution<index_t>(1, 5)(rng));
    }
    const chunk_grid grid(shape, chunks);
    const box region = test::random_box(shape, rng, true);
    std::set<shape_t> expected, got;
    for (index_t i = 0; i < grid.chunk_count(); ++i) {
      const shape_t index = grid.unravel(i);
      if (!grid.chunk_box(index).intersect(region).empty()) expected.insert(index);
    }
    for_each_index(grid.chunks_touching(region), [&](const shape_t& i) { got.insert(i); });
    CAPTURE(to_string(shape));
    CAPTURE(to_string(region));
    CHECK(got == expected);
  }
}

TEST_CASE("chunk_grid: 0-d, zero-length axes, unravel order") {
  const chunk_grid scalar({}, {});
  CHECK(scalar.chunk_count() == 1);
  CHECK(scalar.chunk_box(shape_t{}) == box{});
  const chunk_grid empty({0, 5}, {1, 5});
  CHECK(empty.chunk_count() == 0);
  CHECK(empty.chunk_counts() == shape_t{0, 1});
  int visits = 0;
  for_each_index(empty.chunks_touching(box::whole(empty.shape())),
                 [&](const shape_t&) { ++visits; });
  CHECK(visits == 0);

  const chunk_grid g({5, 6, 7}, {2, 4, 3});
  std::vector<shape_t> walk;
  for_each_index(box{{0, 0, 0}, g.chunk_counts()}, [&](const shape_t& i) { walk.push_back(i); });
  REQUIRE(walk.size() == static_cast<std::size_t>(g.chunk_count()));
  for (index_t i = 0; i < g.chunk_count(); ++i) CHECK(g.unravel(i) == walk[i]);
}

TEST_CASE("chunk_grid refuses absurd shapes with shape_error") {
  const index_t big = index_t{1} << 62;
  auto grid = [](shape_t shape, shape_t chunks) { return chunk_grid(shape, chunks); };
  CHECK_THROWS_WITH_AS(grid({big, big}, {1, 1}), doctest::Contains("overflow"), shape_error);
  CHECK_THROWS_WITH_AS(grid({big, 4}, {1, 1}), doctest::Contains("overflow"), shape_error);
  CHECK_THROWS_WITH_AS(grid({-1, 4}, {1, 1}), doctest::Contains("negative"), shape_error);
  CHECK_THROWS_WITH_AS(grid({4, 4}, {0, 1}), doctest::Contains("positive"), shape_error);
  CHECK_THROWS_WITH_AS(grid({4, 4}, {2}), doctest::Contains("do not match"), shape_error);
  CHECK_THROWS_WITH_AS(chunk_grid(shape_t(33, 1), shape_t(33, 1)), doctest::Contains("at most 32"),
                       shape_error);
  CHECK_NOTHROW(chunk_grid(shape_t(32, 1), shape_t(32, 1)));
  CHECK_THROWS_AS(checked_mul(big, 4, "x"), shape_error);
  CHECK(checked_mul(big, 1, "x") == big);
}

TEST_CASE("copy_region matches element-by-element copies") {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 200; ++trial) {
    const int ndim = trial % 4;
    const std::size_t itemsize = std::size_t{1} << (trial % 4);
    shape_t src_shape, dst_shape;
    for (int d = 0; d < ndim; ++d) {
      src_shape.push_back(std::uniform_int_distribution<index_t>(1, 7)(rng));
      dst_shape.push_back(std::uniform_int_distribution<index_t>(1, 7)(rng));
    }
    // A region that fits in both.
    shape_t extent(ndim), src_origin(ndim), dst_origin(ndim);
    for (int d = 0; d < ndim; ++d) {
      extent[d] =
          std::uniform_int_distribution<index_t>(0, std::min(src_shape[d], dst_shape[d]))(rng);
      src_origin[d] = std::uniform_int_distribution<index_t>(0, src_shape[d] - extent[d])(rng);
      dst_origin[d] = std::uniform_int_distribution<index_t>(0, dst_shape[d] - extent[d])(rng);
    }
    const bytes src = test::sample_bytes(element_count(src_shape) * itemsize, trial);
    bytes dst = test::sample_bytes(element_count(dst_shape) * itemsize, trial + 1000);
    bytes expected = dst;
    box from{src_origin, src_origin}, to{dst_origin, dst_origin};
    for (int d = 0; d < ndim; ++d) {
      from.stop[d] += extent[d];
      to.stop[d] += extent[d];
    }
    test::naive_insert(expected, dst_shape, to, test::naive_extract(src, src_shape, from, itemsize),
                       itemsize);
    copy_region(src.data(), src_shape, src_origin, dst.data(), dst_shape, dst_origin, extent,
                itemsize);
    CHECK(dst == expected);
  }
}

TEST_CASE("fortran_to_c and c_to_fortran are inverse transposes") {
  // A 2x3x4 array whose element at (i, j, k) is 100i + 10j + k.
  const shape_t shape{2, 3, 4};
  std::vector<std::int32_t> f_order(24), c_order(24), back(24);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) f_order[i + 2 * j + 6 * k] = 100 * i + 10 * j + k;
  fortran_to_c(reinterpret_cast<const std::byte*>(f_order.data()),
               reinterpret_cast<std::byte*>(c_order.data()), shape, 4);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) CHECK(c_order[12 * i + 4 * j + k] == 100 * i + 10 * j + k);
  c_to_fortran(reinterpret_cast<const std::byte*>(c_order.data()),
               reinterpret_cast<std::byte*>(back.data()), shape, 4);
  CHECK(back == f_order);
}

TEST_CASE("fill_elements repeats one element") {
  for (index_t count : {0, 1, 2, 7, 1000}) {
    const double value = -2.5;
    std::vector<double> out(static_cast<std::size_t>(count) + 1, 9.0);
    fill_elements(reinterpret_cast<std::byte*>(out.data()), count,
                  reinterpret_cast<const std::byte*>(&value), sizeof value);
    for (index_t i = 0; i < count; ++i) CHECK(out[i] == -2.5);
    CHECK(out.back() == 9.0);  // nothing past the end
  }
}

TEST_CASE("errors form one hierarchy and carry their message") {
  try {
    throw_error<codec_error>("key ", "a/0.0", ": ", 42, " bytes");
  } catch (const error& e) {
    CHECK(std::string(e.what()) == "key a/0.0: 42 bytes");
    CHECK(dynamic_cast<const std::runtime_error*>(&e) != nullptr);
  }
  CHECK_THROWS_AS(throw_error<not_found_error>("x"), io_error);
}

TEST_CASE("axis_chunks agrees with its list of lengths, held in O(1) when regular") {
  std::mt19937 rng(5);
  for (int trial = 0; trial < 400; ++trial) {
    // Regular runs (first, size, clipped last) and arbitrary lists, of 0 to 12 chunks.
    const int n = static_cast<int>(rng() % 13);
    const index_t size = 1 + static_cast<index_t>(rng() % 6);
    shape_t lengths;
    for (int i = 0; i < n; ++i) {
      const bool regular = trial % 2 == 0;
      index_t c = regular ? size : 1 + static_cast<index_t>(rng() % 6);
      if (regular && (i == 0 || i == n - 1)) c = 1 + static_cast<index_t>(rng() % size);
      lengths.push_back(c);
    }
    CAPTURE(to_string(lengths));
    const axis_chunks a(lengths);
    axis_chunks appended;
    for (index_t c : lengths) appended.push_back(c);
    CHECK(a == appended);
    // Two halves appended: the same lengths, held as regularly.
    const std::size_t cut = lengths.empty() ? 0 : rng() % (lengths.size() + 1);
    axis_chunks joined(std::span<const index_t>(lengths.data(), cut));
    joined.append(
        axis_chunks(std::span<const index_t>(lengths.data() + cut, lengths.size() - cut)));
    CHECK(joined.lengths() == lengths);
    CHECK(joined.is_regular() == a.is_regular());
    CHECK(joined == a);
    CHECK(a.size() == static_cast<index_t>(lengths.size()));
    CHECK(a.lengths() == lengths);
    index_t start = 0, longest = 0;
    bool pattern = true;  // the regular form: middle chunks equal, last no longer
    for (std::size_t i = 0; i < lengths.size(); ++i) {
      CHECK(a.start(static_cast<index_t>(i)) == start);
      CHECK(a[static_cast<index_t>(i)] == lengths[i]);
      for (index_t p = start; p < start + lengths[i]; ++p) CHECK(a.find(p) == index_t(i));
      start += lengths[i];
      longest = std::max(longest, lengths[i]);
      if (i >= 2) pattern = pattern && lengths[i - 1] == lengths[1];
    }
    if (lengths.size() >= 2) pattern = pattern && lengths.back() <= lengths[1];
    CHECK(a.extent() == start);
    CHECK(a.start(a.size()) == start);
    CHECK(a.longest() == longest);
    CHECK(a.is_regular() == pattern);
    CHECK(std::vector<index_t>(a.begin(), a.end()) == lengths);
    // The same lengths built by regular() compare equal; one chunk more or less does not.
    if (pattern && n > 0) {
      const axis_chunks r =
          axis_chunks::regular(start, n > 1 ? lengths[1] : lengths[0], lengths[0]);
      CHECK(r == a);
      CHECK(r.lengths() == lengths);
    }
    shape_t longer = lengths;
    longer.push_back(1);
    CHECK_FALSE(axis_chunks(longer) == a);
  }
  // A billion one-element chunks (or a trillion) cost nothing to hold, or to find in.
  const axis_chunks huge = axis_chunks::regular(1'000'000'000'000, 1);
  CHECK(huge.is_regular());
  CHECK(huge.size() == 1'000'000'000'000);
  CHECK(huge.find(999'999'999'999) == 999'999'999'999);
  CHECK(huge.start(7) == 7);
  CHECK(to_string(huge).find("[1000000000000 chunks]") != std::string::npos);
  // Appending regular runs that stay regular costs nothing either; irregular lists are bounded.
  axis_chunks tiled;
  for (int i = 0; i < 1000; ++i) tiled.append(huge);
  CHECK(tiled.is_regular());
  CHECK(tiled.size() == 1'000'000'000'000'000);
  axis_chunks uneven = axis_chunks::regular(axis_chunks::max_irregular / 2, 1);
  uneven.push_back(2);
  CHECK_FALSE(uneven.is_regular());
  CHECK_THROWS_AS(uneven.append(axis_chunks::regular(axis_chunks::max_irregular, 1)), shape_error);
  CHECK(axis_chunks::regular(10, 4) == shape_t{4, 4, 2});
  CHECK(axis_chunks::regular(10, 4, 1) == shape_t{1, 4, 4, 1});
  CHECK(axis_chunks::regular(3, 4, 7) == shape_t{3});
  CHECK(axis_chunks::regular(0, 4).empty());
  CHECK_THROWS_AS(axis_chunks::regular(10, 0), shape_error);
  CHECK_THROWS_AS(axis_chunks({3, 0, 2}), shape_error);
  CHECK_THROWS_AS(axis_chunks({std::numeric_limits<index_t>::max(), 1}), shape_error);
}
