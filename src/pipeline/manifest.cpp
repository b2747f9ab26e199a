#include "pipeline/manifest.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>

#include "chunkarr/codec/codec.hpp"

#include "chunkarr/core/error.hpp"

namespace chunkarr::detail {

namespace {

// The line's CRC-32, 8 hex digits.
std::string check_of(std::string_view text) {
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x",
                static_cast<unsigned>(crc32(std::as_bytes(std::span(text.data(), text.size())))));
  return hex;
}

std::string refs_text(const std::vector<chunk_ref>& refs) {
  std::string out = std::to_string(refs.size());
  for (const chunk_ref& r : refs) {
    out += ' ';
    out += std::to_string(r.input);
    out += ':';
    out += std::to_string(r.chunk);
  }
  return out;
}

// Reads whitespace-separated fields of one line.
class fields {
 public:
  explicit fields(std::string_view text) : rest_(text) {}
  std::optional<std::string_view> next() {
    while (!rest_.empty() && rest_.front() == ' ') rest_.remove_prefix(1);
    if (rest_.empty()) return std::nullopt;
    const std::size_t end = std::min(rest_.find(' '), rest_.size());
    std::string_view f = rest_.substr(0, end);
    rest_.remove_prefix(end);
    return f;
  }
  template <class T>
  std::optional<T> number() {
    const auto f = next();
    if (!f) return std::nullopt;
    T v{};
    const auto [p, ec] = std::from_chars(f->data(), f->data() + f->size(), v);
    if (ec != std::errc() || p != f->data() + f->size()) return std::nullopt;
    return v;
  }
  std::optional<digest> hash() {
    const auto f = next();
    return f ? digest::from_hex(*f) : std::nullopt;
  }
  std::optional<chunk_ref> ref() {
    const auto f = next();
    if (!f) return std::nullopt;
    const std::size_t colon = f->find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    chunk_ref r;
    const auto a = std::from_chars(f->data(), f->data() + colon, r.input);
    const auto b = std::from_chars(f->data() + colon + 1, f->data() + f->size(), r.chunk);
    if (a.ec != std::errc() || b.ec != std::errc() || b.ptr != f->data() + f->size() || r.chunk < 0)
      return std::nullopt;
    return r;
  }
  std::optional<std::vector<chunk_ref>> refs() {
    const auto n = number<std::size_t>();
    if (!n || *n > (std::size_t{1} << 32)) return std::nullopt;
    std::vector<chunk_ref> out;
    for (std::size_t i = 0; i < *n; ++i) {
      const auto r = ref();
      if (!r) return std::nullopt;
      out.push_back(*r);
    }
    return out;
  }
  bool done() {
    while (!rest_.empty() && rest_.front() == ' ') rest_.remove_prefix(1);
    return rest_.empty();
  }

 private:
  std::string_view rest_;
};

std::string input_line(const chunk_ref& c, const cached_digest& d) {
  return "I " + std::to_string(c.input) + " " + std::to_string(c.chunk) + " " +
         std::to_string(d.stamp.exists ? 1 : 0) + " " + std::to_string(d.stamp.size) + " " +
         std::to_string(d.stamp.mtime_ns) + " " + std::to_string(d.stamp.inode) + " " +
         d.values.hex();
}

std::string stage_line(const digest& d, const std::vector<chunk_ref>& reads) {
  return "S " + d.hex() + " " + refs_text(reads);
}

std::string chunk_line(index_t index, const chunk_record& r) {
  return "C " + std::to_string(index) + " " + (r.stored ? "1 " : "0 ") + r.values.hex() + " " +
         r.source.hex() + " " + refs_text(r.reads);
}

std::string sealed(std::string line) {
  const std::string check = check_of(line);
  return line + " ~" + check + "\n";
}

// Applies one intact line to `m`; false when it does not parse.
bool apply(std::string_view text, manifest& m) {
  fields f(text);
  const auto type = f.next();
  if (!type) return false;
  if (*type == "I") {
    chunk_ref c;
    cached_digest d;
    const auto input = f.number<std::uint32_t>();
    const auto chunk = f.number<index_t>();
    const auto exists = f.number<int>();
    const auto size = f.number<std::uint64_t>();
    const auto mtime = f.number<std::int64_t>();
    const auto inode = f.number<std::uint64_t>();
    const auto values = f.hash();
    if (!input || !chunk || !exists || !size || !mtime || !inode || !values || !f.done())
      return false;
    c = {*input, *chunk};
    d.stamp = {*exists != 0, *size, *mtime, *inode};
    d.values = *values;
    m.inputs[c] = d;
    return true;
  }
  if (*type == "S") {
    const auto d = f.hash();
    auto reads = f.refs();
    if (!d || !reads || !f.done()) return false;
    m.stage = *d;
    m.stage_reads = std::move(*reads);
    return true;
  }
  if (*type == "C") {
    const auto index = f.number<index_t>();
    const auto stored = f.number<int>();
    const auto values = f.hash();
    const auto source = f.hash();
    auto reads = f.refs();
    if (!index || !stored || !values || !source || !reads || !f.done()) return false;
    m.chunks[*index] = {*stored != 0, *values, *source, std::move(*reads)};
    return true;
  }
  return false;
}

}  // namespace

std::optional<manifest> load_manifest(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  manifest m;
  std::string line;
  bool first = true;
  while (std::getline(in, line)) {
    if (in.eof()) break;  // no newline: a line cut short
    const std::uint64_t end = m.intact_bytes + line.size() + 1;
    const std::size_t mark = line.rfind(" ~");
    if (mark == std::string::npos || line.substr(mark + 2) != check_of(line.substr(0, mark)))
      break;  // torn or damaged: nothing after it is trusted
    const std::string_view text = std::string_view(line).substr(0, mark);
    if (first) {
      if (!text.starts_with("H ")) return std::nullopt;
      try {
        m.header = nlohmann::json::parse(text.substr(2));
      } catch (const nlohmann::json::exception&) {
        return std::nullopt;
      }
      first = false;
      m.intact_bytes = end;
      continue;
    }
    if (!apply(text, m)) break;
    m.intact_bytes = end;
  }
  if (first) return std::nullopt;
  return m;
}

journal::journal(const std::filesystem::path& file, std::optional<std::uint64_t> keep)
    : file_(file) {
  fd_ = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    throw_error<io_error>("cannot open ", file.string(), ": ", std::strerror(errno));
  }
  if (keep && ::ftruncate(fd_, static_cast<off_t>(*keep)) != 0) {
    const int err = errno;
    ::close(fd_);
    throw_error<io_error>("cannot truncate ", file.string(), ": ", std::strerror(err));
  }
}

journal::~journal() {
  if (fd_ >= 0) ::close(fd_);
}

void journal::append(std::string line) {
  std::lock_guard lock(mutex_);
  std::size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_error<io_error>("cannot write ", file_.string(), ": ", std::strerror(errno));
    }
    done += static_cast<std::size_t>(n);
  }
}

void journal::header(const nlohmann::json& h) {
  append(sealed("H " + h.dump()));
}

void journal::input(const chunk_ref& c, const cached_digest& d) {
  append(sealed(input_line(c, d)));
}

void journal::stage(const digest& d, const std::vector<chunk_ref>& reads) {
  append(sealed(stage_line(d, reads)));
}

void journal::chunk(index_t index, const chunk_record& r) {
  append(sealed(chunk_line(index, r)));
}

void rewrite_manifest(const std::filesystem::path& file, const manifest& m) {
  std::filesystem::path temp = file;
  temp += ".new";
  std::string text = sealed("H " + m.header.dump());
  for (const auto& [c, d] : m.inputs) text += sealed(input_line(c, d));
  text += sealed(stage_line(m.stage, m.stage_reads));
  std::map<index_t, const chunk_record*> ordered;
  for (const auto& [index, r] : m.chunks) ordered.emplace(index, &r);
  for (const auto& [index, r] : ordered) text += sealed(chunk_line(index, *r));
  {
    std::error_code ec;
    std::filesystem::remove(temp, ec);
    journal out(temp);
    out.append(std::move(text));
  }
  if (::rename(temp.c_str(), file.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    throw_error<io_error>("cannot rename ", temp.string(), ": ", std::strerror(err));
  }
}

}  // namespace chunkarr::detail
