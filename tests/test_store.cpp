// store: one conformance suite for the directory and memory stores, plus what only the
// directory store can get wrong (atomic renames, temp files, the file system).
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <functional>
#include <thread>

#include "test_helpers.hpp"

using namespace chunkarr;

namespace {

bytes text(std::string_view s) {
  return bytes(reinterpret_cast<const std::byte*>(s.data()),
               reinterpret_cast<const std::byte*>(s.data()) + s.size());
}

// Runs `body` once per store kind, each on a fresh, empty store.
void for_each_store(const std::function<void(kvstore&)>& body) {
  {
    INFO("memory store");
    auto s = make_memory_store();
    body(*s);
  }
  {
    INFO("directory store");
    test::temp_dir dir;
    auto s = make_directory_store(dir.path() / "root");
    body(*s);
  }
}

}  // namespace

TEST_CASE("chunk buffers start on a cache line, large ones on a page, however they grow") {
  auto offset = [](const bytes& b, std::uintptr_t to) {
    return reinterpret_cast<std::uintptr_t>(b.data()) % to;
  };
  for (std::size_t size : {1, 63, 64, 100, 4095, 4096, 5000, 1 << 20, (8 << 20) + 16}) {
    CAPTURE(size);
    bytes b(size);
    CHECK(offset(b, 64) == 0);
    if (size >= 4096) CHECK(offset(b, 4096) == 0);
    b.resize(size * 3 + 1);  // reallocates
    CHECK(offset(b, b.capacity() >= 4096 ? 4096 : 64) == 0);
    const bytes copy = b;
    CHECK(offset(copy, 64) == 0);
    CHECK(copy.size() == b.size());
  }
  // A directory store reads a value into a buffer of the same kind.
  test::temp_dir dir;
  const auto s = make_directory_store(dir.path() / "root");
  bytes value(300000);
  for (std::size_t i = 0; i < value.size(); ++i) value[i] = static_cast<std::byte>(i * 7);
  s->set("a/0.0", value);
  bytes read(17);
  REQUIRE(s->get_into("a/0.0", read));
  CHECK(read == value);
  CHECK(offset(read, 4096) == 0);
}

TEST_CASE("store conformance: get, set, overwrite, erase") {
  for_each_store([](kvstore& s) {
    CHECK_FALSE(s.get("a/.zarray").has_value());
    CHECK_FALSE(s.exists("a/.zarray"));
    s.set("a/.zarray", text("{}"));
    REQUIRE(s.get("a/.zarray").has_value());
    CHECK(*s.get("a/.zarray") == text("{}"));
    CHECK(s.exists("a/.zarray"));
    CHECK(s.size_of("a/.zarray") == 2u);
    CHECK_FALSE(s.size_of("a/zzz").has_value());
    s.set("a/.zarray", text("{\"x\": 1}"));  // overwrite
    CHECK(*s.get("a/.zarray") == text("{\"x\": 1}"));
    const bytes binary = test::sample_bytes(100000, 1);  // NUL bytes included
    s.set("a/0.0", binary);
    CHECK(*s.get("a/0.0") == binary);
    // get_into reuses a buffer of any size, and leaves it alone for a missing key.
    bytes buffer = test::sample_bytes(300000, 2);
    REQUIRE(s.get_into("a/0.0", buffer));
    CHECK(buffer == binary);
    REQUIRE(s.get_into("a/.zarray", buffer));
    CHECK(buffer == text("{\"x\": 1}"));
    CHECK_FALSE(s.get_into("a/missing", buffer));
    CHECK(buffer == text("{\"x\": 1}"));
    s.set("empty", bytes{});
    REQUIRE(s.get("empty").has_value());
    CHECK(s.get("empty")->empty());
    CHECK(s.erase("a/0.0"));
    CHECK_FALSE(s.erase("a/0.0"));
    CHECK_FALSE(s.get("a/0.0").has_value());
    CHECK_FALSE(s.get("a").has_value());  // a "directory" is not a key
  });
}

TEST_CASE("store conformance: list, list_dir and erase_prefix") {
  for_each_store([](kvstore& s) {
    for (const char* key : {"g/.zgroup", "g/a/.zarray", "g/a/0.0", "g/a/1.0", "g/ab/.zarray",
                            "g/b/0/1", "h/x", "top"}) {
      s.set(key, text(key));
    }
    CHECK(s.list("") == std::vector<std::string>{"g/.zgroup", "g/a/.zarray", "g/a/0.0", "g/a/1.0",
                                                 "g/ab/.zarray", "g/b/0/1", "h/x", "top"});
    // A prefix is a directory: "g/a" does not match "g/ab".
    CHECK(s.list("g/a") == std::vector<std::string>{"g/a/.zarray", "g/a/0.0", "g/a/1.0"});
    CHECK(s.list("nothing").empty());
    CHECK(s.list_dir("") == std::vector<std::string>{"g", "h", "top"});
    CHECK(s.list_dir("g") == std::vector<std::string>{".zgroup", "a", "ab", "b"});
    CHECK(s.list_dir("g/b") == std::vector<std::string>{"0"});
    CHECK(s.erase_prefix("g/a") == 3);
    CHECK(s.list("g") == std::vector<std::string>{"g/.zgroup", "g/ab/.zarray", "g/b/0/1"});
    CHECK(s.erase_prefix("missing") == 0);
    CHECK(s.erase_prefix("") == 5);
    CHECK(s.list("").empty());
  });
}

TEST_CASE("store conformance: invalid keys are refused") {
  for_each_store([](kvstore& s) {
    for (const char* key : {"", "/abs", "a//b", "a/../b", "..", ".", "a/", "a/./b", "a\\b"}) {
      CAPTURE(key);
      CHECK_THROWS_AS(s.set(key, text("x")), value_error);
      CHECK_THROWS_AS(s.get(key), value_error);
    }
    CHECK_THROWS_AS(s.list("../x"), value_error);
    CHECK(s.list("").empty());  // "" is a valid prefix
  });
}

TEST_CASE("store conformance: a reader sees a whole value, never a mixture") {
  for_each_store([](kvstore& s) {
    const bytes a(1 << 20, std::byte{0xAA});
    const bytes b(1 << 19, std::byte{0xBB});
    s.set("k", a);
    std::atomic<bool> stop{false};
    std::atomic<int> torn{0}, reads{0};
    std::thread writer([&] {
      for (int i = 0; i < 60 || reads < 200; ++i) s.set("k", i % 2 ? a : b);
      stop = true;
    });
    std::thread reader([&] {
      while (!stop) {
        const auto v = s.get("k");
        ++reads;
        if (!v || (*v != a && *v != b)) ++torn;
      }
    });
    writer.join();
    reader.join();
    CHECK(reads >= 200);
    CHECK(torn == 0);
  });
}

TEST_CASE("store conformance: concurrent writes of different keys all land") {
  for_each_store([](kvstore& s) {
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&s, t] {
        for (int i = 0; i < 50; ++i) {
          s.set("d/" + std::to_string(t) + "." + std::to_string(i),
                test::sample_bytes(1000 + i, t * 100 + i));
        }
      });
    }
    for (auto& th : threads) th.join();
    CHECK(s.list("d").size() == 200);
    for (int t = 0; t < 4; ++t) {
      for (int i = 0; i < 50; ++i) {
        CHECK(*s.get("d/" + std::to_string(t) + "." + std::to_string(i)) ==
              test::sample_bytes(1000 + i, t * 100 + i));
      }
    }
  });
}

TEST_CASE("directory store: keys are files, writes leave no temporary files") {
  test::temp_dir dir;
  auto s = make_directory_store(dir.path());
  s->set("grp/arr/1.2", text("chunk"));
  std::ifstream in(dir.path() / "grp" / "arr" / "1.2", std::ios::binary);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(content == "chunk");
  for (int i = 0; i < 20; ++i) s->set("grp/arr/1.2", test::sample_bytes(5000, i));
  int files = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir.path())) {
    if (e.is_regular_file()) ++files;
  }
  CHECK(files == 1);
  // A file written by something else is visible; a half-written temporary file is not.
  std::ofstream(dir.path() / "grp" / "arr" / "0.0") << "x";
  std::ofstream(dir.path() / "grp" / "arr" / "0.1.chunkarr-tmp-1-2") << "partial";
  CHECK(s->list("grp") == std::vector<std::string>{"grp/arr/0.0", "grp/arr/1.2"});
  CHECK(s->describe() == dir.path().string());
}

TEST_CASE("directory store: file-system failures are io_errors naming the path") {
  test::temp_dir dir;
  auto s = make_directory_store(dir.path());
  s->set("plain", text("x"));
  // "plain" is a file, so "plain/child" cannot be created.
  CHECK_THROWS_WITH_AS(s->set("plain/child", text("y")), doctest::Contains("plain"), io_error);
  CHECK_FALSE(s->get("plain/child").has_value());
  CHECK(*s->get("plain") == text("x"));  // nothing lost
  // A store over a directory that does not exist reads as empty.
  auto missing = make_directory_store(dir.path() / "nope");
  CHECK(missing->list("").empty());
  CHECK_FALSE(missing->get("a").has_value());
}

TEST_CASE("join_key") {
  CHECK(join_key("", ".zarray") == ".zarray");
  CHECK(join_key("a/b", ".zarray") == "a/b/.zarray");
  CHECK(join_key("a", "") == "a");
}

TEST_CASE("store conformance: a staged tree appears only on commit, whole") {
  for_each_store([](kvstore& s) {
    s.set("keep/x", text("outside"));
    {
      const auto staged = s.stage("a/b", false);
      staged->store()->set(join_key(staged->path(), ".zarray"), text("meta"));
      staged->store()->set(join_key(staged->path(), "0.0"), text("chunk"));
      CHECK(s.list("a/b").empty());  // nothing at the target yet
      staged->commit();
    }
    CHECK(s.list("a/b") == std::vector<std::string>{"a/b/.zarray", "a/b/0.0"});
    CHECK(*s.get("a/b/0.0") == text("chunk"));
    CHECK_THROWS_AS(s.stage("a/b", false)->commit(), io_error);
    {  // uncommitted: nothing written stays, the old tree is untouched
      const auto staged = s.stage("a/b", true);
      staged->store()->set(join_key(staged->path(), "1.0"), text("new"));
    }
    CHECK(s.list("a/b") == std::vector<std::string>{"a/b/.zarray", "a/b/0.0"});
    {  // overwrite: the old tree is replaced whole
      const auto staged = s.stage("a/b", true);
      staged->store()->set(join_key(staged->path(), "1.0"), text("new"));
      staged->commit();
    }
    CHECK(s.list("a/b") == std::vector<std::string>{"a/b/1.0"});
    CHECK(*s.get("keep/x") == text("outside"));
    std::vector<std::string> all = s.list("");
    CHECK(all == std::vector<std::string>{"a/b/1.0", "keep/x"});
    {  // a target that appears while the tree is written is kept, not replaced
      const auto staged = s.stage("c", false);
      staged->store()->set(join_key(staged->path(), "mine"), text("staged"));
      s.set("c/theirs", text("someone else's"));
      CHECK_THROWS_WITH_AS(staged->commit(), doctest::Contains("already exists"), io_error);
    }
    CHECK(s.list("c") == std::vector<std::string>{"c/theirs"});
    {  // ... and replaced whole under overwrite
      const auto staged = s.stage("c", true);
      staged->store()->set(join_key(staged->path(), "mine"), text("staged"));
      s.set("c/theirs", text("again"));
      staged->commit();
    }
    CHECK(s.list("c") == std::vector<std::string>{"c/mine"});
  });
}

TEST_CASE("commit_file refuses a target that exists unless overwrite, dead writers' debris goes") {
  test::temp_dir dir;
  const auto write = [](const std::filesystem::path& p, const char* content) {
    std::ofstream(p) << content;
  };
  const auto read = [](const std::filesystem::path& p) {
    std::ifstream in(p);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  const auto target = dir.path() / "out.h5";
  write(dir.path() / "t1", "new");
  commit_file(dir.path() / "t1", target, false);
  CHECK(read(target) == "new");
  CHECK_FALSE(std::filesystem::exists(dir.path() / "t1"));
  write(dir.path() / "t2", "newer");
  CHECK_THROWS_WITH_AS(commit_file(dir.path() / "t2", target, false),
                       doctest::Contains("already exists"), io_error);
  CHECK(read(target) == "new");
  commit_file(dir.path() / "t2", target, true);
  CHECK(read(target) == "newer");
  // Debris: a dead writer's temporary file and staging tree go; a live one's (ours) stays.
  const std::string dead = "2147483000";  // above pid_max: no such process
  write(dir.path() / ("out.h5.chunkarr-tmp-" + dead + "-0"), "partial");
  std::filesystem::create_directories(dir.path() / ("out.h5.chunkarr-tmp-" + dead + "-1-new/x"));
  const auto ours = dir.path() / ("out.h5.chunkarr-tmp-" + std::to_string(::getpid()) + "-0");
  write(ours, "in progress");
  write(dir.path() / ("other.h5.chunkarr-tmp-" + dead + "-0"), "not this target's");
  remove_debris_of_dead_writers(target);
  std::vector<std::string> left;
  for (const auto& e : std::filesystem::directory_iterator(dir.path()))
    left.push_back(e.path().filename().string());
  std::sort(left.begin(), left.end());
  CHECK(left == std::vector<std::string>{"other.h5.chunkarr-tmp-" + dead + "-0", "out.h5",
                                         ours.filename().string()});
}

TEST_CASE("directory store: only regular files are values, anything else fails clearly") {
  test::temp_dir dir;
  auto s = make_directory_store(dir.path());
  s->set("a/0", text("x"));
  REQUIRE(::mkfifo((dir.path() / "a/fifo").c_str(), 0644) == 0);
  std::filesystem::create_symlink("/dev/zero", dir.path() / "a/zero");
  std::filesystem::create_symlink("loop", dir.path() / "a/loop");
  std::filesystem::create_symlink("0", dir.path() / "a/link");  // a link to a file is fine
  for (const char* key : {"a/fifo", "a/zero", "a/loop"}) {
    CAPTURE(key);
    CHECK_THROWS_WITH_AS(s->get(key), doctest::Contains(key), io_error);  // and no hang
    CHECK_THROWS_AS(s->exists(key), io_error);
    CHECK_THROWS_AS(s->size_of(key), io_error);
  }
  CHECK(*s->get("a/link") == text("x"));
  // Listed (so a copy meets them and fails) rather than skipped as if missing.
  CHECK(s->list("a") == std::vector<std::string>{"a/0", "a/fifo", "a/link", "a/loop", "a/zero"});
  // Links to this directory or above are not children (a walk through them never ends).
  std::filesystem::create_symlink(".", dir.path() / "a/self");
  std::filesystem::create_symlink("..", dir.path() / "a/up");
  std::filesystem::create_directory(dir.path() / "b");
  std::filesystem::create_symlink("../b", dir.path() / "a/sibling");
  CHECK(s->list_dir("a") ==
        std::vector<std::string>{"0", "fifo", "link", "loop", "sibling", "zero"});
}

TEST_CASE("store conformance: ranged get") {
  for_each_store([](kvstore& s) {
    s.set("k", text("0123456789"));
    CHECK(*s.get_range("k", 2, 3) == text("234"));
    CHECK(*s.get_range("k", 8, 10) == text("89"));
    CHECK(s.get_range("k", 20, 1)->empty());
    CHECK(!s.get_range("missing", 0, 1));
  });
}

TEST_CASE("locations: plain paths, file:// and memory:// resolve to stores, others are refused") {
  test::temp_dir dir;
  const location plain = resolve_location((dir.path() / "x.zarr").string());
  CHECK(plain.is_local_directory());
  CHECK(plain.path.empty());
  const location url = resolve_location("file://" + (dir.path() / "x.zarr").string());
  CHECK(url.store->describe() == plain.store->describe());
  const location m = resolve_location("memory://scratch/a/b/");
  CHECK(m.path == "a/b");
  CHECK(m.store == resolve_location("memory://scratch").store);
  CHECK(m.store != resolve_location("memory://other").store);
  CHECK_THROWS_WITH_AS(resolve_location("s3://bucket/x.zarr"),
                       doctest::Contains("unsupported location scheme 's3://'"), value_error);
  CHECK_THROWS_AS(resolve_location("file://relative/x.zarr"), value_error);
  CHECK_THROWS_AS(resolve_location("memory:///x"), value_error);
  CHECK_THROWS_AS(resolve_location("memory://s/../x"), value_error);
  // The API stores to and opens from any of them.
  const xt::xarray<double> v = {{1.5, 2.5, 3.5}, {4.0, 5.0, 6.0}};
  const array a = from_xtensor(v, {1, 2});
  store(a * 2.0, "memory://scratch/out");
  CHECK(compute<double>(open("memory://scratch/out")) == v * 2.0);
  CHECK_THROWS_AS(store(a, "memory://scratch/out"), io_error);
  store(a, "memory://scratch/out", {.overwrite = true});
  CHECK(compute<double>(open("memory://scratch/out")) == v);
  store(a, "file://" + (dir.path() / "y.zarr").string());
  CHECK(compute<double>(open(dir.path() / "y.zarr")) == v);
}
