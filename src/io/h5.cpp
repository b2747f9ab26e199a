#include "io/h5.hpp"

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace chunkarr::detail::h5 {

using nlohmann::json;

void quiet() {
  thread_local bool done = false;
  if (!done) {
    H5::Exception::dontPrint();
    done = true;
  }
}

namespace {
std::shared_mutex& fork_gate() {
  static std::shared_mutex gate;
  return gate;
}
}  // namespace

std::shared_lock<std::shared_mutex> engine_call() {
  quiet();
  return std::shared_lock(fork_gate());
}

std::string last_error() {
  std::string message;
  try {
    H5::Exception::walkErrorStack(
        H5E_WALK_UPWARD,
        [](unsigned, const H5E_error2_t* e, void* data) -> herr_t {
          auto* out = static_cast<std::string*>(data);
          if (out->empty() && e->desc && *e->desc) *out = e->desc;
          return 0;
        },
        &message);
    H5::Exception::clearErrorStack();
  } catch (const H5::Exception&) {
    // The stack cannot be read: the message is all that is lost; the error is still thrown.
  }
  return message;
}

void check(herr_t status, const std::string& what) {
  if (status < 0) fail(what);
}

void rethrow(const H5::Exception& e, const std::string& where) {
  const std::string cause = last_error();
  throw_error<io_error>(where, ": HDF5 failed in ", e.getFuncName(), ": ", e.getDetailMsg(),
                        cause.empty() ? "" : " (HDF5: " + cause + ")");
}

H5::H5File open_file(const std::filesystem::path& file, bool writable) {
  quiet();
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) {
    throw_error<not_found_error>(file.string(), ": no such file");
  }
  if (std::filesystem::is_directory(file, ec)) {
    throw_error<format_error>(file.string(), ": a directory, not an HDF5 file");
  }
  try {
    return H5::H5File(file.string(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY);
  } catch (const H5::Exception&) {
    const std::string cause = last_error();
    throw_error<format_error>(file.string(), ": cannot open as HDF5 (",
                              cause.empty() ? "not an HDF5 file" : cause, ")");
  }
}

H5::H5File create_file(const std::filesystem::path& file) {
  quiet();
  return checked(file.string() + ": cannot create an HDF5 file",
                 [&] { return H5::H5File(file.string(), H5F_ACC_TRUNC); });
}

namespace {

// `type` seen as the subclass that has the calls chunkarr needs (IntType's sign, FloatType's
// exponent bias...); the view shares the id.
template <class T>
T as(const H5::DataType& type) {
  return T(type.getId());
}

std::string order_name(H5T_order_t order) {
  return order == H5T_ORDER_BE ? " (big-endian)" : "";
}

bool is_bool_enum(const H5::DataType& type) {
  const auto e = as<H5::EnumType>(type);
  if (e.getNmembers() != 2 || e.getSuper().getSize() != 1) return false;
  std::int8_t false_value = -1, true_value = -1;
  try {
    e.valueOf("FALSE", &false_value);
    e.valueOf("TRUE", &true_value);
  } catch (const H5::Exception&) {
    H5::Exception::clearErrorStack();  // no member of that name: not h5py's bool
    return false;
  }
  return false_value == 0 && true_value == 1;
}

type_info classify_integer(const H5::DataType& type, bool is_enum) {
  type_info info;
  const auto integer = as<H5::IntType>(type);
  const std::size_t size = integer.getSize();
  const bool is_signed = integer.getSign() == H5T_SGN_2;
  const H5T_order_t order = integer.getOrder();
  const std::size_t precision = integer.getPrecision();
  const std::string name = std::string(is_signed ? "int" : "uint") + std::to_string(size * 8);
  info.name = (is_enum ? "enum of " : "") + name + order_name(order);
  if (precision != size * 8 || integer.getOffset() != 0) {
    info.unsupported = "an integer type with " + std::to_string(precision) + "-bit precision";
    return info;
  }
  scalar_kind kind;
  switch (size) {
    case 1:
      kind = is_signed ? scalar_kind::int8 : scalar_kind::uint8;
      break;
    case 2:
      kind = is_signed ? scalar_kind::int16 : scalar_kind::uint16;
      break;
    case 4:
      kind = is_signed ? scalar_kind::int32 : scalar_kind::uint32;
      break;
    case 8:
      kind = is_signed ? scalar_kind::int64 : scalar_kind::uint64;
      break;
    default:
      info.unsupported = "a " + std::to_string(size) + "-byte integer type";
      return info;
  }
  info.type = dtype{kind, order == H5T_ORDER_BE ? byte_order::big : byte_order::little};
  return info;
}

}  // namespace

type_info classify(const H5::DataType& type) {
  type_info info;
  const H5T_class_t cls = type.getClass();
  switch (cls) {
    case H5T_INTEGER:
      return classify_integer(type, false);
    case H5T_ENUM: {
      if (is_bool_enum(type)) {
        info.name = "bool";
        info.type = make_dtype(scalar_kind::bool_);
        info.bool_enum = true;
        return info;
      }
      return classify_integer(type.getSuper(), true);
    }
    case H5T_FLOAT: {
      const auto real = as<H5::FloatType>(type);
      const std::size_t size = real.getSize();
      const std::size_t precision = real.getPrecision();
      const H5T_order_t order = real.getOrder();
      info.name = "float" + std::to_string(precision) + order_name(order);
      const bool ieee32 = size == 4 && precision == 32 && real.getEbias() == 127;
      const bool ieee64 = size == 8 && precision == 64 && real.getEbias() == 1023;
      if (!ieee32 && !ieee64) {
        if (size > 8) info.name = "long double";
        info.unsupported = size > 8   ? "long double (more than 64 bits) is not supported"
                           : size < 4 ? "float16 is not supported"
                                      : "a non-IEEE floating-point type";
        return info;
      }
      info.type = dtype{ieee32 ? scalar_kind::float32 : scalar_kind::float64,
                        order == H5T_ORDER_BE ? byte_order::big : byte_order::little};
      return info;
    }
    case H5T_BITFIELD: {
      // As h5py reads them: unsigned integers of the same width (PyTables' boolean columns).
      const std::size_t size = type.getSize();
      const H5T_order_t order = as<H5::IntType>(type).getOrder();
      info.name = "bitfield (" + std::to_string(size * 8) + "-bit)" + order_name(order);
      const scalar_kind kinds[] = {scalar_kind::uint8, scalar_kind::uint16, scalar_kind::uint32,
                                   scalar_kind::uint64};
      const int k = size == 1 ? 0 : size == 2 ? 1 : size == 4 ? 2 : size == 8 ? 3 : -1;
      if (k < 0) {
        info.unsupported = "a " + std::to_string(size) + "-byte bitfield type";
        return info;
      }
      info.type = dtype{kinds[k], order == H5T_ORDER_BE ? byte_order::big : byte_order::little};
      return info;
    }
    case H5T_STRING:
      info.name = type.isVariableStr() ? "variable-length string" : "fixed-length string";
      info.unsupported = std::string("strings (") + info.name + ") are not numeric";
      return info;
    default: {
      struct refused {
        H5T_class_t cls;
        const char* name;
        const char* reason;
      };
      static constexpr refused classes[] = {
          {H5T_COMPOUND, "compound", "compound (structured) types are not supported"},
          {H5T_VLEN, "variable-length sequence", "variable-length types are not supported"},
          {H5T_REFERENCE, "reference", "references are not numeric"},
          {H5T_TIME, "time", "HDF5 time types are not supported"},
          {H5T_OPAQUE, "opaque", "opaque types are not supported"},
          {H5T_ARRAY, "array type", "array element types are not supported"},
      };
      info.name = "unknown type";
      info.unsupported = "an unknown HDF5 type class";
      for (const refused& r : classes) {
        if (r.cls != cls) continue;
        info.name = r.name;
        info.unsupported = r.reason;
      }
      return info;
    }
  }
}

H5::DataType memory_type(scalar_kind kind) {
  if (kind == scalar_kind::bool_) return file_type(kind);
  // Indexed by scalar_kind (bool_ is handled above).
  const H5::PredType* native[] = {nullptr,
                                  &H5::PredType::NATIVE_INT8,
                                  &H5::PredType::NATIVE_INT16,
                                  &H5::PredType::NATIVE_INT32,
                                  &H5::PredType::NATIVE_INT64,
                                  &H5::PredType::NATIVE_UINT8,
                                  &H5::PredType::NATIVE_UINT16,
                                  &H5::PredType::NATIVE_UINT32,
                                  &H5::PredType::NATIVE_UINT64,
                                  &H5::PredType::NATIVE_FLOAT,
                                  &H5::PredType::NATIVE_DOUBLE};
  return H5::DataType(*native[static_cast<std::size_t>(kind)]);
}

H5::DataType file_type(scalar_kind kind) {
  if (kind != scalar_kind::bool_) return memory_type(kind);
  const H5::EnumType type{H5::IntType(H5::PredType::NATIVE_INT8)};
  std::int8_t v = 0;
  type.insert("FALSE", &v);
  v = 1;
  type.insert("TRUE", &v);
  return type;
}

H5::DataType native_type(const H5::DataType& type) {
  // H5Tget_native_type: no C++ wrapper in HDF5 1.10.
  const hid_t id = H5Tget_native_type(type.getId(), H5T_DIR_ASCEND);
  if (id < 0) throw H5::DataTypeIException("H5Tget_native_type", "H5Tget_native_type failed");
  H5::DataType native(id);  // 1.10's constructors from an id take a reference of their own...
  native.decRefCount();     // ...so the one H5Tget_native_type handed over is given back
  return native;
}

extent get_extent(const H5::DataSpace& space) {
  extent e;
  try {
    const H5S_class_t cls = space.getSimpleExtentType();
    if (cls == H5S_NULL) {
      e.null = true;
      return e;
    }
    if (cls == H5S_SCALAR) return e;
    std::vector<hsize_t> dims(static_cast<std::size_t>(space.getSimpleExtentNdims()));
    std::vector<hsize_t> maxdims(dims.size());
    space.getSimpleExtentDims(dims.data(), maxdims.data());
    for (std::size_t d = 0; d < dims.size(); ++d) {
      e.shape.push_back(static_cast<index_t>(dims[d]));
      e.maxshape.push_back(maxdims[d] == H5S_UNLIMITED ? -1 : static_cast<index_t>(maxdims[d]));
    }
  } catch (const H5::Exception&) {
    fail<format_error>("unreadable dataspace");
  }
  return e;
}

std::vector<filter> get_filters(const H5::DSetCreatPropList& dcpl) {
  std::vector<filter> out;
  const int n = dcpl.getNfilters();
  for (int i = 0; i < n; ++i) {
    filter f;
    unsigned flags = 0, config = 0;
    std::size_t nvalues = 16;
    unsigned values[16] = {};
    char name[256] = {};
    f.id = dcpl.getFilter(i, flags, nvalues, values, sizeof name, name, config);
    f.name = name[0] ? name : "filter " + std::to_string(f.id);
    f.values.assign(values, values + std::min<std::size_t>(nvalues, 16));
    // H5Zfilter_avail, H5Zget_filter_info: no C++ wrapper in HDF5 1.10. A failure is thrown
    // as the C++ API would, so that the caller names the dataset.
    const htri_t available = H5Zfilter_avail(f.id);
    if (available < 0) throw H5::PropListIException("H5Zfilter_avail", "H5Zfilter_avail failed");
    f.available = available > 0;
    if (f.available) {
      unsigned filter_config = 0;
      if (H5Zget_filter_info(f.id, &filter_config) < 0)
        throw H5::PropListIException("H5Zget_filter_info", "H5Zget_filter_info failed");
      f.available = (filter_config & H5Z_FILTER_CONFIG_DECODE_ENABLED) != 0;
    }
    out.push_back(std::move(f));
  }
  return out;
}

// ---- attributes --------------------------------------------------------------------------

namespace {

// Nests `flat` (row-major values) into lists of `shape`.
json nest(const std::vector<json>& flat, const shape_t& shape, std::size_t axis, std::size_t& pos) {
  if (axis == shape.size()) return flat[pos++];
  json list = json::array();
  for (index_t i = 0; i < shape[axis]; ++i) list.push_back(nest(flat, shape, axis + 1, pos));
  return list;
}

json number_json(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  return v;
}

// Whether `s` is well-formed UTF-8 (RFC 3629: no overlong forms, surrogates or values past
// U+10FFFF), which JSON text must be and HDF5 strings need not be.
bool is_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t more = 0;  // continuation bytes; the first lies in [low, high]
    unsigned char low = 0x80, high = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      more = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      more = 2;
      if (c == 0xE0) low = 0xA0;
      if (c == 0xED) high = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      more = 3;
      if (c == 0xF0) low = 0x90;
      if (c == 0xF4) high = 0x8F;
    } else {
      return false;
    }
    if (s.size() - i <= more) return false;
    for (std::size_t k = 1; k <= more; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if (b < (k == 1 ? low : 0x80) || b > (k == 1 ? high : 0xBF)) return false;
    }
    i += more + 1;
  }
  return true;
}

// Reads `attr` into `out` as `mem`; false (the reason is the caller's) when HDF5 cannot.
bool read_into(const H5::Attribute& attr, const H5::DataType& mem, void* out) {
  try {
    attr.read(mem, out);
    return true;
  } catch (const H5::Exception&) {
    H5::Exception::clearErrorStack();
    return false;
  }
}

// An enum's values as their base integers, widened to T (sign-extended when signed).
template <class T>
bool read_enum(const H5::Attribute& attr, const H5::DataType& type, std::vector<T>& values) {
  const std::size_t size = type.getSize();
  std::vector<std::byte> raw(size * values.size());
  if (!read_into(attr, native_type(type), raw.data())) return false;
  for (std::size_t i = 0; i < values.size(); ++i) {
    T v = 0;
    std::memcpy(&v, raw.data() + i * size, size);
    if constexpr (std::is_signed_v<T>) {
      if (size < 8 && ((v >> (size * 8 - 1)) & 1)) v -= T{1} << (size * 8);
    }
    values[i] = v;
  }
  return true;
}

// Throws H5::Exception when the attribute's type or shape cannot be read.
std::optional<json> read_attribute(const H5::Attribute& attr, std::string& reason) {
  const H5::DataType type = attr.getDataType();
  const H5::DataSpace space = attr.getSpace();
  const extent e = get_extent(space);
  if (e.null) {
    reason = "an empty (null) dataspace";
    return std::nullopt;
  }
  const index_t count = element_count(e.shape);
  std::vector<json> flat;
  flat.reserve(static_cast<std::size_t>(count));
  const H5T_class_t cls = type.getClass();
  if (cls == H5T_STRING) {
    if (type.isVariableStr()) {
      H5::StrType mem(H5::PredType::C_S1, H5T_VARIABLE);
      mem.setCset(as<H5::StrType>(type).getCset());
      std::vector<char*> values(static_cast<std::size_t>(count), nullptr);
      if (!read_into(attr, mem, values.data())) {
        reason = "unreadable string";
        return std::nullopt;
      }
      for (char* v : values) flat.emplace_back(v ? std::string(v) : std::string());
      H5::DataSet::vlenReclaim(values.data(), mem, space);
      for (const json& v : flat) {
        if (!is_utf8(v.get_ref<const std::string&>())) {
          reason = "text that is not UTF-8";
          return std::nullopt;
        }
      }
    } else {
      const std::size_t size = type.getSize();
      std::vector<char> values(size * static_cast<std::size_t>(count));
      if (!read_into(attr, type, values.data())) {
        reason = "unreadable string";
        return std::nullopt;
      }
      const bool space_pad = as<H5::StrType>(type).getStrpad() == H5T_STR_SPACEPAD;
      for (index_t i = 0; i < count; ++i) {
        std::string s(values.data() + static_cast<std::size_t>(i) * size, size);
        s = s.substr(0, s.find('\0'));
        if (space_pad) s.erase(s.find_last_not_of(' ') + 1);
        if (!is_utf8(s)) {
          reason = "text that is not UTF-8";
          return std::nullopt;
        }
        flat.emplace_back(std::move(s));
      }
    }
  } else {
    const type_info info = classify(type);
    if (!info.type) {
      reason = info.name + ": " + info.unsupported;
      return std::nullopt;
    }
    const dtype t = *info.type;
    reason = "unreadable";
    if (t.is_bool()) {
      std::vector<std::int8_t> values(static_cast<std::size_t>(count));
      if (!read_into(attr, memory_type(scalar_kind::bool_), values.data())) return std::nullopt;
      for (auto v : values) flat.emplace_back(v != 0);
    } else if (t.is_float()) {
      std::vector<double> values(static_cast<std::size_t>(count));
      if (!read_into(attr, H5::PredType::NATIVE_DOUBLE, values.data())) return std::nullopt;
      for (double v : values) flat.push_back(number_json(v));
    } else if (t.is_signed_int()) {
      std::vector<std::int64_t> values(static_cast<std::size_t>(count));
      const bool read = cls == H5T_ENUM  // the enum's base integers, as they are
                            ? read_enum(attr, type, values)
                            : read_into(attr, H5::PredType::NATIVE_INT64, values.data());
      if (!read) return std::nullopt;
      for (auto v : values) flat.emplace_back(v);
    } else {
      std::vector<std::uint64_t> values(static_cast<std::size_t>(count));
      // An enum's base integers, or a bitfield's bytes (HDF5 converts bitfields only to
      // bitfields): read in the type's own native form.
      const bool read = cls == H5T_ENUM || cls == H5T_BITFIELD
                            ? read_enum(attr, type, values)
                            : read_into(attr, H5::PredType::NATIVE_UINT64, values.data());
      if (!read) return std::nullopt;
      for (auto v : values) flat.emplace_back(v);
    }
  }
  if (e.shape.empty()) return flat.at(0);
  std::size_t pos = 0;
  return nest(flat, e.shape, 0, pos);
}

// How long a child may take to read an object's variable-length strings. A healthy file
// needs milliseconds; a damaged heap can make libhdf5 loop forever.
constexpr auto child_limit = std::chrono::seconds(10);

// The child's side of read_in_child: reads `names` and writes {name: {"value": v} or
// {"reason": r}} as MessagePack to `fd`. Never returns.
[[noreturn]] void child_reads(H5::H5Object& object, const std::vector<std::string>& names,
                              int fd) noexcept {
  try {
    // The child's only output is `fd`; a crash ends it by the signal (not by a sanitizer's
    // handler, which would print a report to the parent's stderr and exit with a status).
    if (const int null = ::open("/dev/null", O_WRONLY); null >= 0) ::dup2(null, 2);
    ::signal(SIGSEGV, SIG_DFL);
    ::signal(SIGBUS, SIG_DFL);
    quiet();
    json result = json::object();
    for (const std::string& name : names) {
      std::string reason = "unreadable";
      std::optional<json> value;
      try {
        value = read_attribute(object.openAttribute(name), reason);
      } catch (const H5::Exception&) {
        H5::Exception::clearErrorStack();
      }
      result[name] = value ? json{{"value", std::move(*value)}} : json{{"reason", reason}};
    }
    const std::vector<std::uint8_t> message = json::to_msgpack(result);
    for (std::size_t done = 0; done < message.size();) {
      const ssize_t n = ::write(fd, message.data() + done, message.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) ::_exit(3);
      done += static_cast<std::size_t>(n);
    }
    ::_exit(0);
  } catch (...) {
    ::_exit(2);
  }
}

// Reads the variable-length string attributes `names` of `object` in a forked child (see
// h5.hpp), so that libhdf5 crashing or looping on a damaged global heap costs those
// attributes, not the process. What the child read goes into `out`; the rest to `skipped`.
void read_in_child(H5::H5Object& object, const std::vector<std::string>& names, json& out,
                   const std::function<void(const std::string&, const std::string&)>& skipped) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    throw_error<io_error>("cannot read variable-length string attributes: ", std::strerror(errno));
  }
  pid_t pid = -1;
  {
    // No engine thread is inside libhdf5 while the child is made (see engine_call).
    std::unique_lock gate(fork_gate());
    pid = ::fork();
  }
  if (pid == 0) {
    ::close(fds[0]);
    child_reads(object, names, fds[1]);
  }
  const int fork_errno = errno;
  ::close(fds[1]);
  if (pid < 0) {
    ::close(fds[0]);
    throw_error<io_error>("cannot read variable-length string attributes: fork failed: ",
                          std::strerror(fork_errno));
  }
  std::vector<std::uint8_t> message;
  bool timed_out = false, whole = false;  // whole: read to the end of the child's output
  const auto deadline = std::chrono::steady_clock::now() + child_limit;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fds[0], POLLIN, 0};
    const int ready = left.count() > 0 ? ::poll(&p, 1, static_cast<int>(left.count())) : 0;
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      timed_out = true;
      break;
    }
    std::uint8_t buffer[65536];
    const ssize_t n = ready < 0 ? -1 : ::read(fds[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    whole = n == 0;
    if (n <= 0) break;
    message.insert(message.end(), buffer, buffer + n);
  }
  ::close(fds[0]);
  if (!whole) ::kill(pid, SIGKILL);  // timed out, or the pipe failed: waitpid must not wait
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::string failure;
  if (timed_out) {
    failure = "libhdf5 did not finish reading it in " + std::to_string(child_limit.count()) +
              " s (a damaged global heap?)";
  } else if (WIFSIGNALED(status)) {
    failure = std::string("libhdf5 crashed reading it (") + ::strsignal(WTERMSIG(status)) +
              "; a damaged global heap?)";
  } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {  // a sanitizer's report
    failure = "libhdf5 crashed reading it (the reading process ended with status " +
              std::to_string(WEXITSTATUS(status)) + "; a damaged global heap?)";
  }
  if (failure.empty() && !whole) failure = "unreadable (the pipe from the reading process failed)";
  json result;
  if (failure.empty()) {
    result = json::from_msgpack(message, true, false);
    if (result.is_discarded() || !result.is_object()) failure = "unreadable";
  }
  for (const std::string& name : names) {
    const json* entry = failure.empty() && result.contains(name) ? &result[name] : nullptr;
    if (entry && entry->contains("value")) {
      out[name] = (*entry)["value"];
    } else if (skipped) {
      skipped(name, entry && entry->contains("reason") && (*entry)["reason"].is_string()
                        ? (*entry)["reason"].get<std::string>()
                    : failure.empty() ? std::string("unreadable")
                                      : failure);
    }
  }
}

}  // namespace

json read_attributes(H5::H5Object& object,
                     const std::function<void(const std::string&, const std::string&)>& skipped) {
  std::vector<std::string> names;
  try {
    object.iterateAttrs(
        [](H5::H5Object&, const H5std_string name, void* data) {
          static_cast<std::vector<std::string>*>(data)->push_back(name);
        },
        nullptr, &names);
  } catch (const H5::Exception&) {
    // Reported like an attribute that cannot be read; the ones listed so far are still read.
    const std::string cause = last_error();
    if (skipped) {
      skipped("*", "the attributes cannot be listed" +
                       (cause.empty() ? std::string() : " (HDF5: " + cause + ")"));
    }
  }
  json out = json::object();
  std::vector<std::string> in_child;  // variable-length strings
  for (const std::string& name : names) {
    std::string reason = "unreadable";
    std::optional<json> value;
    try {
      if (!is_utf8(name)) {
        reason = "a name that is not UTF-8";
      } else if (const H5::Attribute attr = object.openAttribute(name);
                 attr.getDataType().getClass() == H5T_STRING &&
                 attr.getDataType().isVariableStr()) {
        in_child.push_back(name);
        continue;
      } else {
        value = read_attribute(attr, reason);
      }
    } catch (const H5::Exception&) {
      H5::Exception::clearErrorStack();  // reported below with `reason`
    }
    if (value) {
      out[name] = std::move(*value);
    } else if (skipped) {
      skipped(name, reason);
    }
  }
  if (!in_child.empty()) read_in_child(object, in_child, out, skipped);
  return out;
}

namespace {

// The shape of a rectangular nested list of scalars, or nullopt.
std::optional<shape_t> list_shape(const json& v) {
  if (!v.is_array()) return shape_t{};
  if (v.empty()) return shape_t{0};
  std::optional<shape_t> inner = list_shape(v[0]);
  if (!inner) return std::nullopt;
  for (const json& e : v) {
    std::optional<shape_t> s = list_shape(e);
    if (!s || *s != *inner) return std::nullopt;
  }
  shape_t out{static_cast<index_t>(v.size())};
  out.insert(out.end(), inner->begin(), inner->end());
  return out;
}

void flatten(const json& v, std::vector<const json*>& out) {
  if (!v.is_array()) {
    out.push_back(&v);
    return;
  }
  for (const json& e : v) flatten(e, out);
}

}  // namespace

void write_attributes(const H5::H5Object& object, const json& attrs,
                      const std::function<void(const std::string&, const std::string&)>& skipped) {
  if (!attrs.is_object()) return;
  for (const auto& item : attrs.items()) {
    // Named, not bound: lambdas below capture them (Clang 14 cannot capture a binding).
    const std::string& name = item.key();
    const json& value = item.value();
    const std::optional<shape_t> shape = list_shape(value);
    std::vector<const json*> flat;
    flatten(value, flat);
    auto skip = [&](const std::string& reason) {
      if (skipped) skipped(name, reason);
    };
    if (!shape) {
      skip("a list that is not rectangular");
      continue;
    }
    enum { none, boolean, integer, unsigned_integer, real, text } kind = none;
    bool mixed = false;
    for (const json* e : flat) {
      auto k = e->is_boolean() ? boolean
               : e->is_number_unsigned()
                   ? (e->get<std::uint64_t>() >
                              static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())
                          ? unsigned_integer
                          : integer)
               : e->is_number_integer() ? integer
               : e->is_number_float()   ? real
               : e->is_string()         ? text
                                        : none;
      if (k == none) {
        mixed = true;
        break;
      }
      if (kind == none) {
        kind = k;
      } else if (kind != k) {
        const bool numeric = (kind == integer || kind == real || kind == unsigned_integer) &&
                             (k == integer || k == real || k == unsigned_integer);
        if (!numeric) {
          mixed = true;
          break;
        }
        kind = (kind == real || k == real) ? real : unsigned_integer;
      }
    }
    if (mixed || (kind == none && !flat.empty())) {
      skip(value.is_object() ? "an object (JSON dictionary)"
           : value.is_null() ? "null"
                             : "a list of mixed or non-scalar values");
      continue;
    }
    if (kind == none) kind = real;  // an empty list
    std::vector<hsize_t> dims(shape->begin(), shape->end());
    std::vector<std::byte> buffer;
    std::vector<std::string> strings;
    std::vector<const char*> pointers;
    const void* data = nullptr;
    switch (kind) {
      case boolean: {
        for (const json* e : flat)
          buffer.push_back(std::byte{e->get<bool>() ? std::uint8_t{1} : std::uint8_t{0}});
        data = buffer.data();
        break;
      }
      case integer:
      case unsigned_integer:
      case real: {
        buffer.resize(flat.size() * 8);
        for (std::size_t i = 0; i < flat.size(); ++i) {
          if (kind == integer) {
            const std::int64_t v = flat[i]->get<std::int64_t>();
            std::memcpy(buffer.data() + i * 8, &v, 8);
          } else if (kind == unsigned_integer) {
            const std::uint64_t v = flat[i]->get<std::uint64_t>();
            std::memcpy(buffer.data() + i * 8, &v, 8);
          } else {
            const double v = flat[i]->get<double>();
            std::memcpy(buffer.data() + i * 8, &v, 8);
          }
        }
        data = buffer.data();
        break;
      }
      case text: {
        for (const json* e : flat) strings.push_back(e->get<std::string>());
        for (const std::string& s : strings) pointers.push_back(s.c_str());
        data = pointers.data();
        break;
      }
      default:
        continue;
    }
    checked("cannot write attribute " + name, [&] {
      const H5::DataSpace space = dims.empty()
                                      ? H5::DataSpace(H5S_SCALAR)
                                      : H5::DataSpace(static_cast<int>(dims.size()), dims.data());
      H5::DataType type;
      if (kind == boolean) {
        type = file_type(scalar_kind::bool_);
      } else if (kind == text) {
        H5::StrType utf8(H5::PredType::C_S1, H5T_VARIABLE);
        utf8.setCset(H5T_CSET_UTF8);
        type = utf8;
      } else {
        type = memory_type(kind == integer            ? scalar_kind::int64
                           : kind == unsigned_integer ? scalar_kind::uint64
                                                      : scalar_kind::float64);
      }
      if (object.attrExists(name)) object.removeAttr(name);
      object.createAttribute(name, type, space).write(type, data);
    });
  }
}

// ---- links and objects ---------------------------------------------------------------------

std::vector<link> list_links(const H5::Group& group) {
  struct entry {
    std::string name;
    H5L_type_t type;
  };
  std::vector<entry> entries;
  hsize_t idx = 0;
  // H5Literate: no C++ wrapper in HDF5 1.10 (getNumObjs with getObjnameByIdx looks each
  // name up again, sorting the group's links on every call).
  const herr_t status = H5Literate(
      group.getId(), H5_INDEX_NAME, H5_ITER_INC, &idx,
      [](hid_t, const char* name, const H5L_info_t* info, void* data) -> herr_t {
        static_cast<std::vector<entry>*>(data)->push_back({name, info->type});
        return 0;
      },
      &entries);
  if (status < 0) fail<format_error>("cannot list the group");
  std::vector<link> links;
  for (const entry& e : entries) {
    link l;
    l.name = e.name;
    switch (e.type) {
      case H5L_TYPE_HARD:
        l.what = link::kind::hard;
        break;
      case H5L_TYPE_SOFT:
        l.what = link::kind::soft;
        l.target = checked<format_error>("cannot list the group",
                                         [&] { return group.getLinkval(e.name); });
        break;
      case H5L_TYPE_EXTERNAL: {
        l.what = link::kind::external;
        // H5Lget_val and H5Lunpack_elink_val: no C++ wrapper in HDF5 1.10 that reads an
        // external link's file and object (getLinkval stops at the value's leading flags).
        const H5L_info_t info = checked<format_error>("cannot list the group",
                                                      [&] { return group.getLinkInfo(e.name); });
        std::vector<char> value(info.u.val_size + 1, '\0');
        if (H5Lget_val(group.getId(), e.name.c_str(), value.data(), value.size(), H5P_DEFAULT) < 0)
          fail<format_error>("cannot list the group: external link " + e.name);
        const char* file = nullptr;
        const char* object = nullptr;
        unsigned flags = 0;
        if (H5Lunpack_elink_val(value.data(), value.size(), &flags, &file, &object) < 0)
          fail<format_error>("cannot list the group: external link " + e.name);
        l.target = std::string(file ? file : "?") + ":" + (object ? object : "?");
        break;
      }
      default:
        l.what = link::kind::other;
    }
    links.push_back(std::move(l));
  }
  return links;
}

std::optional<object_info> get_object_info(const H5::H5Location& loc, const std::string& path) {
  H5O_info_t info;
  try {
    loc.getObjinfo(path, info, H5O_INFO_BASIC);
  } catch (const H5::Exception&) {
    H5::Exception::clearErrorStack();  // nothing there (or a dangling link on the way)
    return std::nullopt;
  }
  return object_info{info.type, info.addr};
}

}  // namespace chunkarr::detail::h5
