// The pipeline API: store with provenance and a manifest, incremental updates, verify.
#include <doctest/doctest.h>

#include <xtensor/xview.hpp>

#include "chunkarr/chunkarr.hpp"
#include "test_helpers.hpp"

using namespace chunkarr;

namespace {

zarr_array make_input(const std::filesystem::path& path) {
  array_metadata meta;
  meta.shape = {30, 40};
  meta.chunks = {10, 10};
  meta.dtype = make_dtype(scalar_kind::float64);
  meta.compressor = make_codec("blosc:lz4:5:shuffle");
  meta.fill = 0.0;
  const zarr_array z = zarr_array::create(make_directory_store(path), "", meta);
  std::vector<double> values(1200);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = 0.5 * static_cast<double>(i) - 7;
  z.write_from<double>(box::whole(meta.shape), values);
  return z;
}

}  // namespace

TEST_CASE("store incremental: only the chunks whose inputs changed, for any thread count") {
  test::temp_dir dir;
  const zarr_array in = make_input(dir.path() / "in.zarr");
  const std::filesystem::path out = dir.path() / "out.zarr";
  for (int threads : {1, 3}) {
    CAPTURE(threads);
    std::filesystem::remove_all(out);
    store_report report;
    store_options o;
    o.incremental = true;
    o.report = &report;
    o.compute.threads = threads;
    const array x = from_zarr(zarr_array::open(dir.path() / "in.zarr"));
    const array y = sqrt(abs(x)) * 2.0 + x(all, range(0, 40));
    store(y, out, o);
    CHECK(report.computed == 12);
    CHECK(report.reason == "no earlier output");
    store(y, out, o);
    CHECK(report.up_to_date);
    CHECK(report.computed == 0);

    // One element of input chunk (1, 2) changes: only output chunk (1, 2) is recomputed.
    std::vector<double> one{threads * 100.0};
    in.write_from<double>(box{{15, 25}, {16, 26}}, one);
    const array x2 = from_zarr(zarr_array::open(dir.path() / "in.zarr"));
    const array y2 = sqrt(abs(x2)) * 2.0 + x2(all, range(0, 40));
    store(y2, out, o);
    CHECK(report.computed == 1);
    CHECK(report.reused == 11);
    CHECK(compute<double>(from_zarr(zarr_array::open(out))) == compute<double>(y2));
    CHECK_THROWS_AS(verify(out), format_error);  // no text to recompute from
    verify_options v;
    v.digests_only = true;
    CHECK(verify(out, v).ok);
    v.digests_only = false;
    v.expression = y2;
    CHECK(verify(out, v).ok);
    v.expression = y2 * 2.0;
    CHECK_FALSE(verify(out, v).ok);

    // Another expression: everything.
    store(y2 + 1.0, out, o);
    CHECK(report.computed == 12);
    CHECK(report.reason == "the expression changed");
    const nlohmann::json p = zarr_array::open(out).attributes().at("chunkarr");
    CHECK(p.at("complete") == true);
    CHECK(p.at("inputs").size() == 1);
    CHECK(p.at("options").at("chunks") == nlohmann::json::array({10, 10}));
  }
}

TEST_CASE("expression_digest: equal for one computation however it is built, else different") {
  test::temp_dir dir;
  make_input(dir.path() / "in.zarr");
  const array x = from_zarr(zarr_array::open(dir.path() / "in.zarr"));
  const array x_again = from_zarr(zarr_array::open(dir.path() / "in.zarr"));
  CHECK(expression_digest(x * 2.0 + 1.0) == expression_digest(x_again * 2.0 + 1.0));
  CHECK(expression_digest(x * 2.0 + 1.0) != expression_digest(x * 2.0 + 2.0));
  CHECK(expression_digest(sum(x, {0})) != expression_digest(sum(x, {1})));
  CHECK(expression_digest(x(range(0, 10), all)) != expression_digest(x(range(0, 11), all)));
  CHECK(expression_digest(rechunk(x, {5, 40})) != expression_digest(x));
  CHECK(inputs_of(x + x_again * x).size() == 2);
  CHECK(canonical_expression("np.sqrt( a )*2") == canonical_expression("sqrt(a) * 2"));
  CHECK(canonical_expression("a[:, 1:3]  -  -b") == "a[:, 1:3] - -b");
  CHECK(canonical_expression("mean(a, axis = (0,1))") == "mean(a, axis=(0, 1))");
  CHECK(canonical_expression("clip(x, 0,. 25)") == "clip(x, 0,. 25)");  // not 0, .25
  CHECK(canonical_expression("a < = b") == "a < =b");                   // not <=
  CHECK(canonical_expression("x= ==u") == "x= == u");  // not "x===u", read "==" "=" again
  for (const char* text : {"x= ==u", "a* **b", "a/ //b", "ump<<rod(y)==u 1:).sqx=X(>=x= ==um"}) {
    const std::string once = canonical_expression(text);
    CHECK(canonical_expression(once) == once);
  }
  CHECK(canonical_expression("a.astype(\"f4\")") == "a.astype('f4')");
  CHECK(expression_names("a + mean(b, axis=0).T + np.pi") == std::vector<std::string>{"a", "b"});
}

TEST_CASE("store to memory records provenance, and incremental stores need a directory") {
  test::temp_dir dir;
  make_input(dir.path() / "in.zarr");
  const array x = from_zarr(zarr_array::open(dir.path() / "in.zarr"));
  store_options o;
  o.expression = "x + 1";
  o.input_names = {"x"};
  const zarr_array m = store(x + 1.0, "memory://pipeline-test/y", o);
  const nlohmann::json p = m.attributes().at("chunkarr");
  CHECK(p.at("expression") == "x + 1");
  CHECK(p.at("inputs").at(0).at("name") == "x");
  CHECK_FALSE(p.contains("manifest"));
  o.incremental = true;
  CHECK_THROWS_AS(store(x + 1.0, "memory://pipeline-test/z", o), value_error);
}

TEST_CASE("digest: XXH3-128 as xxhsum -H2 gives it, whole or in pieces") {
  CHECK(digest_of({}).hex() == "99aa06d3014798d86001c324468d497f");  // XXH3-128 of nothing
  std::vector<std::byte> data(100000);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::byte>(i * 31 + 7);
  hasher h;
  h.add(std::span(data).first(1000)).add(std::span(data).subspan(1000));
  CHECK(h.finish() == digest_of(data));
  CHECK(digest::from_hex(digest_of(data).hex()) == digest_of(data));
  CHECK_FALSE(digest::from_hex("xyz").has_value());
  data[50000] ^= std::byte{1};
  CHECK(h.finish() != digest_of(data));
}
