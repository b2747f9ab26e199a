// expr: building lazy arrays — shapes, dtypes (NumPy promotion, NEP 50), chunks, and the
// errors a bad expression raises before anything runs.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <sstream>

#include "chunkarr/expr/array.hpp"
#include "chunkarr/zarr/group.hpp"
#include "test_helpers.hpp"

using namespace chunkarr;

namespace {

array of(scalar_kind k, shape_t shape = {4, 6}, shape_t chunks = {2, 3}) {
  return zeros(std::move(shape), make_dtype(k), std::move(chunks));
}

const scalar_kind kinds[] = {scalar_kind::bool_,   scalar_kind::int8,   scalar_kind::int16,
                             scalar_kind::int32,   scalar_kind::int64,  scalar_kind::uint8,
                             scalar_kind::uint16,  scalar_kind::uint32, scalar_kind::uint64,
                             scalar_kind::float32, scalar_kind::float64};

}  // namespace

TEST_CASE("promotion agrees with NumPy's result_type, arrays and weak scalars (NEP 50)") {
  // The reference: NumPy with NEP 50 promotion, for every pair of dtypes and every dtype with
  // a Python bool, int and float.
  const std::string script =
      "import numpy as np\n"
      "np._set_promotion_state('weak')\n"
      "ts=['bool','int8','int16','int32','int64','uint8','uint16','uint32','uint64','float32','"
      "float64']\n"
      "for a in ts:\n"
      " for b in ts: print(np.result_type(np.dtype(a), np.dtype(b)).name)\n"
      " for s in [True, 1, 1.5]: print(np.result_type(np.dtype(a), s).name)\n";
  std::istringstream expected(
      test::run_command(std::string(CHUNKARR_PYTHON) + " -c \"" + script + "\""));
  int checked = 0;
  for (scalar_kind a : kinds) {
    for (scalar_kind b : kinds) {
      std::string name;
      expected >> name;
      CAPTURE(make_dtype(a).name() + " + " + make_dtype(b).name());
      CHECK(result_type(of(a), of(b)).name() == name);
      ++checked;
    }
    for (const scalar& s : {scalar(true), scalar(1), scalar(1.5)}) {
      std::string name;
      expected >> name;
      CAPTURE(make_dtype(a).name());
      CHECK(result_type(of(a), s).name() == name);
      CHECK(result_type(s, of(a)).name() == name);
      ++checked;
    }
  }
  CHECK(checked == 11 * 14);
}

TEST_CASE("operation dtypes follow NumPy") {
  const array i8 = of(scalar_kind::int8), i32 = of(scalar_kind::int32);
  const array f4 = of(scalar_kind::float32), b = of(scalar_kind::bool_);
  const array u8 = of(scalar_kind::uint8);
  CHECK((i32 / i32).dtype().name() == "float64");
  CHECK((f4 / 2).dtype().name() == "float32");
  CHECK((i8 * 2).dtype().name() == "int8");
  CHECK((u8 + 255).dtype().name() == "uint8");
  CHECK_THROWS_WITH_AS(u8 + 256, doctest::Contains("out of bounds for uint8"), value_error);
  CHECK((i8 * 2.0).dtype().name() == "float64");
  CHECK((f4 > 0).dtype().name() == "bool");
  CHECK((b + b).dtype().name() == "bool");
  CHECK(floor_divide(b, b).dtype().name() == "int8");
  CHECK(sqrt(i32).dtype().name() == "float64");
  CHECK(sqrt(f4).dtype().name() == "float32");
  CHECK(sqrt(i8).dtype().name() == "float32");  // NumPy: float16, which chunkarr does not have
  CHECK(cbrt(i32).dtype().name() == "float64");
  CHECK(cbrt(f4).dtype().name() == "float32");
  CHECK(std::string(name_of(unary_op::cbrt)) == "cbrt");
  CHECK(abs(i8).dtype().name() == "int8");
  CHECK(isnan(i32).dtype().name() == "bool");
  CHECK(where(b, i8, f4).dtype().name() == "float32");
  CHECK(clip(i8, 0, 5).dtype().name() == "int8");
  CHECK(sum(i8).dtype().name() == "int64");
  CHECK(sum(u8).dtype().name() == "uint64");
  CHECK(sum(b).dtype().name() == "int64");
  CHECK(sum(f4).dtype().name() == "float32");
  CHECK(mean(i32).dtype().name() == "float64");
  CHECK(mean(f4).dtype().name() == "float32");
  CHECK(var(i8).dtype().name() == "float64");
  CHECK(max(u8).dtype().name() == "uint8");
  CHECK(argmax(f4).dtype().name() == "int64");
  CHECK(any(f4).dtype().name() == "bool");
  CHECK(f4.astype(make_dtype(scalar_kind::int16)).dtype().name() == "int16");
  CHECK_THROWS_AS(b - b, type_error);
  CHECK_THROWS_AS(-b, type_error);
  CHECK_THROWS_WITH_AS(f4 & f4, doctest::Contains("float32"), type_error);
  CHECK_THROWS_AS(~f4, type_error);
}

TEST_CASE("a scalar computed from Python scalars stays weak against an integer array") {
  // Regression: promote_nodes read a weak int64 operand's value from fill_value, which only a
  // literal has; a computed weak scalar (an elementwise node over weak scalars) has none, and
  // meeting an integer array it was a null read (segfault), in apply, where and result_type.
  const array i32 = of(scalar_kind::int32), f4 = of(scalar_kind::float32);
  const auto weak = [](scalar s) { return add(s, false); };  // `chunkarr eval`'s 0-d scalar
  const array six = multiply(2, 3);                          // 2*3
  CHECK(six.shape() == shape_t{});
  CHECK(six.dtype().name() == "int64");

  const array added = i32 + six;                 // x + 2*3
  const array greater = i32 > six;               // x > 2*3
  const array absolute = abs(weak(-5)) + i32;    // abs(-5) + x
  const array chosen = where(true, 5, 6) + i32;  // where(True, 5, 6) + x
  const array inverted = ~weak(5) + i32;         // ~5 + x
  CHECK(added.dtype().name() == "int32");
  CHECK(greater.dtype().name() == "bool");
  CHECK(absolute.dtype().name() == "int32");
  CHECK(chosen.dtype().name() == "int32");
  CHECK(inverted.dtype().name() == "int32");
  for (const array& r : {added, greater, absolute, chosen, inverted}) {
    CHECK(r.shape() == shape_t{4, 6});
  }
  // The other operand order, where() and result_type take the same path.
  CHECK((six + i32).dtype().name() == "int32");
  CHECK(where(i32 > 0, i32, six).dtype().name() == "int32");
  CHECK(result_type(i32, six).name() == "int32");
  // A computed Python float: int32 + float -> float64, float32 + float -> float32.
  CHECK((i32 + multiply(2, 3.0)).dtype().name() == "float64");
  CHECK((f4 + multiply(2, 3.0)).dtype().name() == "float32");
}

TEST_CASE("broadcasting shapes and chunks") {
  const array big = zeros({100, 30}, make_dtype(scalar_kind::float32), {16, 7});
  const array row = zeros({30}, make_dtype(scalar_kind::float32), {30});
  const array col = zeros({100, 1}, make_dtype(scalar_kind::float32), {50, 1});
  const array sum3 = big + row + col;
  CHECK(sum3.shape() == shape_t{100, 30});
  // The largest operand's chunks win.
  CHECK(sum3.chunks()[0] == shape_t{16, 16, 16, 16, 16, 16, 4});
  CHECK(sum3.chunks()[1] == shape_t{7, 7, 7, 7, 2});
  CHECK((row + col).shape() == shape_t{100, 30});
  CHECK((big * 2).shape() == shape_t{100, 30});
  const array other = zeros({100, 29}, make_dtype(scalar_kind::float32));
  CHECK_THROWS_WITH_AS(big + other, doctest::Contains("(100, 30) (100, 29)"), shape_error);
}

TEST_CASE("reductions: shapes, keepdims, axes") {
  const array x = zeros({4, 6, 8}, make_dtype(scalar_kind::float64), {2, 3, 4});
  CHECK(sum(x).shape() == shape_t{});
  CHECK(sum(x, {1}).shape() == shape_t{4, 8});
  CHECK(sum(x, {-1, 0}).shape() == shape_t{6});
  CHECK(sum(x, {1}, true).shape() == shape_t{4, 1, 8});
  CHECK(sum(x, {1}).chunks() == chunks_t{{2, 2}, {4, 4}});
  CHECK(argmax(x, {2}).shape() == shape_t{4, 6});
  CHECK_THROWS_WITH_AS(sum(x, {3}), doctest::Contains("axis 3 is out of bounds"), shape_error);
  CHECK_THROWS_WITH_AS(sum(x, {1, -2}), doctest::Contains("duplicate"), shape_error);
  CHECK_THROWS_AS(argmax(x, {0, 1}), shape_error);
  const array empty = zeros({0, 3}, make_dtype(scalar_kind::float64));
  CHECK(sum(empty).shape() == shape_t{});
  CHECK_THROWS_WITH_AS(max(empty), doctest::Contains("zero-size"), shape_error);
}

TEST_CASE("slicing: shapes and chunks follow the input's chunks") {
  const array x = zeros({100, 50}, make_dtype(scalar_kind::int16), {30, 20});
  CHECK(x(5).shape() == shape_t{50});
  CHECK(x(-1, 3).shape() == shape_t{});
  CHECK(x(range(10, 70)).shape() == shape_t{60, 50});
  CHECK(x(range(10, 70)).chunks()[0] == shape_t{20, 30, 10});
  CHECK(x(range({}, {}, 7)).chunks()[0] ==
        shape_t{5, 4, 4, 2});  // 0..28 | 35..56 | 63..84 | 91, 98
  CHECK(x(range({}, {}, -1)).chunks()[0] == shape_t{10, 30, 30, 30});
  CHECK(x(ellipsis, 0).shape() == shape_t{100});
  CHECK(x(newaxis, all, range(0, 5)).shape() == shape_t{1, 100, 5});
  CHECK(x(all, newaxis).shape() == shape_t{100, 1, 50});
  CHECK(x(range(200, 300)).shape() == shape_t{0, 50});
  CHECK(x.T().shape() == shape_t{50, 100});
  CHECK(x.T().chunks()[0] == shape_t{20, 20, 10});
  CHECK(x.transpose({1, 0}).shape() == shape_t{50, 100});
  CHECK_THROWS_AS(x.transpose({0, 0}), shape_error);
  CHECK_THROWS_WITH_AS(x(100), doctest::Contains("out of bounds"), shape_error);
  CHECK_THROWS_WITH_AS(x(0, 0, 0), doctest::Contains("too many indices"), shape_error);
  CHECK_THROWS_AS(x(ellipsis, ellipsis), shape_error);
  CHECK_THROWS_AS(x(range(0, 5, 0)), value_error);
}

TEST_CASE("slices of slices: chunks agree with the input chunks each index passes through") {
  // Brute force: consecutive selected indices in one input chunk make one output chunk.
  auto expected = [](const axis_chunks& in, const slice_range& r) {
    shape_t out;
    index_t previous = -1;
    for (index_t k = 0; k < r.count; ++k) {
      const index_t i = r.start + k * r.step;
      index_t c = 0;
      while (in.start(c + 1) <= i) ++c;
      if (c != previous) out.push_back(0);
      ++out.back();
      previous = c;
    }
    return out;
  };
  std::mt19937 rng(17);
  auto random_slice = [&](index_t n) {
    auto pick = [&]() -> std::optional<index_t> {
      if (rng() % 4 == 0) return std::nullopt;
      return static_cast<index_t>(rng() % (2 * n + 3)) - n - 1;
    };
    index_t step = 1 + static_cast<index_t>(rng() % 4);
    if (rng() % 3 == 0) step = 1;
    if (rng() % 2) step = -step;
    return chunkarr::slice{pick(), pick(), step};
  };
  for (int trial = 0; trial < 300; ++trial) {
    const index_t n = 1 + static_cast<index_t>(rng() % 60);
    const index_t chunk = 1 + static_cast<index_t>(rng() % 9);
    const array x = zeros({n}, make_dtype(scalar_kind::int8), {chunk});
    const chunkarr::slice s1 = random_slice(n);
    const array y = x(index_spec(s1));  // regular or not
    if (y.shape()[0] == 0) continue;
    const chunkarr::slice s2 = random_slice(y.shape()[0]);
    const array z = y(index_spec(s2));
    CAPTURE(n);
    CAPTURE(chunk);
    CAPTURE(to_string(y.chunks()[0]));
    CHECK(y.chunks()[0].lengths() == expected(x.chunks()[0], s1.normalize(n)));
    CHECK(z.chunks()[0].lengths() == expected(y.chunks()[0], s2.normalize(y.shape()[0])));
    CHECK(z.chunks()[0].extent() == z.shape()[0]);
  }
}

TEST_CASE("an array of a trillion chunks costs what its selection does") {
  const array x = zeros({1'000'000'000'000}, make_dtype(scalar_kind::int8), {1});
  CHECK(x.chunks()[0].size() == 1'000'000'000'000);
  CHECK(x(range(5, 15)).chunks()[0] == shape_t(10, 1));
  CHECK(x(range({}, {}, -1)).chunks()[0].is_regular());
  CHECK(x(range(3, {}, 1)).chunks()[0].size() == 1'000'000'000'000 - 3);
  const array y = zeros({1'000'000'000'000, 3}, make_dtype(scalar_kind::int8), {1000, 3});
  CHECK(y(range(1500, {}, -1)).chunks()[0] == axis_chunks::regular(1501, 1000, 501));
  CHECK(y(range(999'999'999'990, {}), all).T().chunks()[1] == shape_t{10});
  // Steps that divide the chunks take as many from each: regular, however many chunks.
  CHECK(y(range(1, {}, 4), all).chunks()[0] == axis_chunks::regular(250'000'000'000, 250, 250));
  CHECK(y(range({}, {}, -8), all).chunks()[0] == axis_chunks::regular(125'000'000'000, 125));
  CHECK(y(range(2, {}, 8), all).chunks()[0].is_regular());
  // A step as long as the chunks takes one from each; other steps past 2^24 chunks are refused
  // when built, not after listing them.
  CHECK(y(range(7, {}, 1000), all).chunks()[0] == axis_chunks::regular(1'000'000'000, 1));
  CHECK(y(range(7, {}, 4321), all).chunks()[0].is_regular());
  CHECK_THROWS_AS(y(range({}, {}, 3), all), shape_error);
}

TEST_CASE("empty handles and bad sources are refused") {
  const array none;
  CHECK_FALSE(none);
  CHECK_THROWS_AS(none.shape(), value_error);
  CHECK_THROWS_AS(sum(none), value_error);
  const bytes three(3);
  CHECK_THROWS_WITH_AS(from_buffer(three, {2}, make_dtype(scalar_kind::int16)),
                       doctest::Contains("expected 4"), shape_error);
  CHECK_THROWS_AS(zeros({4}, make_dtype(scalar_kind::int8), {0}), shape_error);
  CHECK_THROWS_AS(open("/nonexistent/x.zarr"), not_found_error);
  CHECK(arange(10, make_dtype(scalar_kind::int32), 4).chunks()[0] == shape_t{4, 4, 2});
}

TEST_CASE("expressions deeper than the limit are refused when built, walks never overflow") {
  const array x = arange(12, make_dtype(scalar_kind::float64));
  array y = x;
  for (int i = 1; i < 2048; ++i) y = y + x;  // 2048 deep: accepted, planned and computed
  CHECK(compute<double>(y)(3) == 3.0 * 2048);
  CHECK_THROWS_WITH_AS(y + x, doctest::Contains("more than 2048 operations deep"), value_error);
  // A shared DAG as deep: each node planned once, no recursion along its depth.
  array z = x;
  for (int i = 1; i < 2048; ++i) z = (i % 2 == 0) ? z + z : z * 1.0;
  CHECK(compute<double>(z)(1) == std::pow(2.0, 1023));
}

TEST_CASE("metadata and attributes nested absurdly deep are refused, not recursed into") {
  const std::string deep = "{\"a\":" + std::string(5000, '[') + std::string(5000, ']') + "}";
  CHECK_THROWS_WITH_AS(parse_json(std::string_view(deep), "x/.zattrs"),
                       doctest::Contains("x/.zattrs: JSON nested more than 512 levels deep"),
                       format_error);
  const std::string fine = "{\"a\":" + std::string(500, '[') + std::string(500, ']') + "}";
  CHECK(parse_json(std::string_view(fine), "x/.zattrs").is_object());
}
