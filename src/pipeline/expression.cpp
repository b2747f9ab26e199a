#include "chunkarr/pipeline/expression.hpp"

#include "chunkarr/chunkarr.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <iterator>
#include <limits>
#include <optional>
#include <set>
#include <string_view>
#include <utility>
#include <variant>

namespace chunkarr {
namespace {

// ---- tokens ------------------------------------------------------------------------------

enum class tok { end, name, integer, real, string, op };

struct token {
  tok kind = tok::end;
  std::string text;
  std::size_t column = 0;  // 1-based
};

// The expression as messages show it: whole when short, else the part around `column`.
std::string excerpt(const std::string& expr, std::size_t column) {
  constexpr std::size_t room = 40;
  if (expr.size() <= 2 * room) return expr;
  const std::size_t at = std::min(column > 0 ? column - 1 : 0, expr.size());
  const std::size_t from = at > room ? at - room : 0;
  return (from > 0 ? "…" : "") + expr.substr(from, 2 * room) +
         (from + 2 * room < expr.size() ? "…" : "");
}

[[noreturn]] void syntax_error(const std::string& expr, std::size_t column,
                               const std::string& why) {
  throw_error<value_error>("syntax error at column ", column, " of '", excerpt(expr, column),
                           "': ", why);
}

std::vector<token> tokenize(const std::string& s) {
  static const char* const ops[] = {"**", "//", "<=", ">=", "==", "!=", "+", "-", "*",
                                    "/",  "%",  "<",  ">",  "&",  "|",  "^", "~", "(",
                                    ")",  "[",  "]",  ",",  ":",  ".",  "="};
  std::vector<token> out;
  std::size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    token t;
    t.column = i + 1;
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      std::size_t j = i;
      while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_')) ++j;
      t.kind = tok::name;
      t.text = s.substr(i, j - i);
      i = j;
    } else if (std::isdigit(static_cast<unsigned char>(c)) ||
               (c == '.' && i + 1 < s.size() &&
                std::isdigit(static_cast<unsigned char>(s[i + 1])))) {
      std::size_t j = i;
      bool real = false;
      while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '_')) ++j;
      if (j < s.size() && s[j] == '.') {
        real = true;
        ++j;
        while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
      }
      if (j < s.size() && (s[j] == 'e' || s[j] == 'E')) {
        std::size_t k = j + 1;
        if (k < s.size() && (s[k] == '+' || s[k] == '-')) ++k;
        if (k < s.size() && std::isdigit(static_cast<unsigned char>(s[k]))) {
          real = true;
          j = k;
          while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
        }
      }
      t.kind = real ? tok::real : tok::integer;
      t.text = s.substr(i, j - i);
      std::erase(t.text, '_');
      i = j;
    } else if (c == '\'' || c == '"') {
      const std::size_t j = s.find(c, i + 1);
      if (j == std::string::npos) syntax_error(s, i + 1, "unterminated string");
      t.kind = tok::string;
      t.text = s.substr(i + 1, j - i - 1);
      i = j + 1;
    } else {
      bool matched = false;
      for (const char* op : ops) {
        const std::size_t n = std::strlen(op);
        if (s.compare(i, n, op) == 0) {
          t.kind = tok::op;
          t.text = op;
          i += n;
          matched = true;
          break;
        }
      }
      if (!matched) syntax_error(s, i + 1, std::string("unexpected character '") + c + "'");
    }
    out.push_back(std::move(t));
  }
  token end;
  end.column = s.size() + 1;
  out.push_back(end);
  return out;
}

// ---- values ------------------------------------------------------------------------------

struct value;
using tuple_t = std::vector<value>;
struct none_t {};
struct ellipsis_t {};
struct slice_t {
  std::optional<index_t> start, stop, step;
};
struct function_t {
  std::string name;
  std::optional<array> self;               // a bound method
  std::optional<std::uint64_t> generator;  // a method of random(seed)
};
struct namespace_t {};
struct generator_t {  // random(seed): its methods make random arrays
  std::uint64_t seed = 0;
};

struct value {
  std::variant<array, scalar, tuple_t, std::string, none_t, ellipsis_t, slice_t, function_t,
               namespace_t, dtype, generator_t>
      v;
};

std::string type_name(const value& x) {
  static const char* names[] = {"array", "number",   "tuple",  "string", "None",     "...",
                                "slice", "function", "module", "dtype",  "Generator"};
  return names[x.v.index()];
}

// ---- functions ---------------------------------------------------------------------------

// The operation tables (chunkarr/expr/operations.hpp) give most of the functions, by the names
// name_of prints; these are NumPy's other spellings of their entries.
constexpr std::pair<std::string_view, std::string_view> numpy_aliases[] = {
    {"absolute", "abs"},
    {"divide", "true_divide"},
    {"mod", "remainder"},
    {"amin", "min"},
    {"amax", "max"}};
// The functions that are not one table entry: bool casts around one (logical_*) and the rest.
constexpr std::string_view other_functions[] = {"logical_not",
                                                "logical_and",
                                                "logical_or",
                                                "logical_xor",
                                                "where",
                                                "clip",
                                                "transpose",
                                                "astype",
                                                "rechunk",
                                                "concatenate",
                                                "stack",
                                                "hstack",
                                                "vstack",
                                                "dstack",
                                                "block",
                                                "expand_dims",
                                                "atleast_1d",
                                                "atleast_2d",
                                                "atleast_3d",
                                                "squeeze",
                                                "swapaxes",
                                                "moveaxis",
                                                "flip",
                                                "roll",
                                                "broadcast_to",
                                                "tile",
                                                "pad",
                                                "take",
                                                "compress",
                                                "reshape",
                                                "ravel",
                                                "flatten",
                                                "repeat",
                                                "arange",
                                                "linspace",
                                                "eye",
                                                "identity",
                                                "tri",
                                                "indices",
                                                "zeros",
                                                "ones",
                                                "full",
                                                "empty",
                                                "zeros_like",
                                                "ones_like",
                                                "full_like",
                                                "empty_like",
                                                "random",
                                                "default_rng",
                                                "extract",
                                                "meshgrid",
                                                "cumsum",
                                                "cumprod",
                                                "nancumsum",
                                                "nancumprod",
                                                "diff",
                                                "gradient",
                                                "lfilter",
                                                "sosfilt",
                                                "filtfilt",
                                                "sosfiltfilt",
                                                "butter",
                                                "lfilter_zi",
                                                "sosfilt_zi",
                                                "correlate1d",
                                                "convolve1d",
                                                "uniform_filter1d",
                                                "gaussian_filter1d",
                                                "minimum_filter1d",
                                                "maximum_filter1d",
                                                "median_filter1d",
                                                "uniform_filter",
                                                "gaussian_filter",
                                                "nonzero",
                                                "argwhere",
                                                "flatnonzero",
                                                "median",
                                                "nanmedian",
                                                "quantile",
                                                "nanquantile",
                                                "percentile",
                                                "nanpercentile",
                                                "histogram",
                                                "histogram_bin_edges",
                                                "ptp",
                                                "count_nonzero",
                                                "average",
                                                "searchsorted",
                                                "digitize",
                                                "bincount",
                                                "sort",
                                                "argsort",
                                                "partition",
                                                "argpartition",
                                                "topk",
                                                "argtopk"};

template <class Op, std::size_t Count>
constexpr std::optional<Op> table_entry(std::string_view name) {
  for (const auto& [alias, entry] : numpy_aliases) {
    if (name == alias) name = entry;
  }
  for (std::size_t i = 0; i < Count; ++i) {
    if (name == name_of(static_cast<Op>(i))) return static_cast<Op>(i);
  }
  return std::nullopt;
}
constexpr std::optional<unary_op> unary_named(std::string_view name) {
  return table_entry<unary_op, unary_op_count>(name);
}
constexpr std::optional<binary_op> binary_named(std::string_view name) {
  return table_entry<binary_op, binary_op_count>(name);
}
constexpr std::optional<reduce_op> reduction_named(std::string_view name) {
  return table_entry<reduce_op, reduce_op_count>(name);
}
constexpr int tables_naming(std::string_view name) {
  return unary_named(name).has_value() + binary_named(name).has_value() +
         reduction_named(name).has_value();
}

// A name means one thing: every alias names exactly one entry, and no entry's name is in two
// tables or among the other functions.
constexpr bool names_are_unambiguous() {
  for (const auto& alias : numpy_aliases) {
    if (tables_naming(alias.first) != 1) return false;
  }
  for (std::string_view name : other_functions) {
    if (tables_naming(name) != 0) return false;
  }
  for (std::size_t i = 0; i < unary_op_count; ++i) {
    if (tables_naming(name_of(static_cast<unary_op>(i))) != 1) return false;
  }
  for (std::size_t i = 0; i < binary_op_count; ++i) {
    if (tables_naming(name_of(static_cast<binary_op>(i))) != 1) return false;
  }
  for (std::size_t i = 0; i < reduce_op_count; ++i) {
    if (tables_naming(name_of(static_cast<reduce_op>(i))) != 1) return false;
  }
  return true;
}
static_assert(names_are_unambiguous());

bool is_function(std::string_view name) {
  if (tables_naming(name) != 0) return true;
  return std::find(std::begin(other_functions), std::end(other_functions), name) !=
         std::end(other_functions);
}

// ---- the parser (recursive descent, Python's precedence) ---------------------------------

class parser {
 public:
  parser(const std::string& text, const std::map<std::string, array>& inputs,
         const compute_options& build)
      : text_(text), tokens_(tokenize(text)), inputs_(inputs), build_(build) {}

  array parse() {
    value v = expression();
    if (peek().kind != tok::end) unexpected();
    if (auto* a = std::get_if<array>(&v.v)) return *a;
    if (std::holds_alternative<scalar>(v.v)) return to_array(v, peek());
    throw_error<type_error>("'", excerpt(text_, 1), "' is a ", type_name(v), ", not an array");
  }

 private:
  const token& peek() const { return tokens_[pos_]; }
  token next() { return tokens_[pos_++]; }
  bool accept(const char* op) {
    if (peek().kind == tok::op && peek().text == op) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(const char* op) {
    if (!accept(op)) {
      syntax_error(text_, peek().column,
                   std::string("expected '") + op + "', found " + describe(peek()));
    }
  }
  static std::string describe(const token& t) {
    return t.kind == tok::end ? "the end of the expression" : "'" + t.text + "'";
  }
  [[noreturn]] void unexpected() {
    syntax_error(text_, peek().column, "unexpected " + describe(peek()));
  }

  array to_array(const value& v, const token& at) {
    if (auto* a = std::get_if<array>(&v.v)) return *a;
    if (auto* s = std::get_if<scalar>(&v.v)) {
      return apply(binary_op::add, operand(*s), operand(scalar(false)));  // a weak 0-d array
    }
    throw_error<type_error>("column ", at.column, " of '", excerpt(text_, at.column),
                            "': expected an array or a number, not a ", type_name(v));
  }
  operand to_operand(const value& v, const token& at) {
    if (auto* s = std::get_if<scalar>(&v.v)) return operand(*s);
    return operand(to_array(v, at));
  }

  value binary(binary_op op, const value& a, const value& b, const token& at) {
    return value{apply(op, to_operand(a, at), to_operand(b, at))};
  }

  // Parentheses, call arguments, subscripts and unary signs nest by recursion: bounded well
  // below where the stack would run out, with an error naming where.
  static constexpr int max_depth = 200;
  class nesting {
   public:
    explicit nesting(parser& p) : p_(p) {
      if (++p_.depth_ > max_depth) {
        syntax_error(p_.text_, p_.peek().column,
                     "nested more than " + std::to_string(max_depth) + " levels deep");
      }
    }
    ~nesting() { --p_.depth_; }
    nesting(const nesting&) = delete;
    nesting& operator=(const nesting&) = delete;

   private:
    parser& p_;
  };

  value expression() {
    const nesting guard(*this);
    return comparison();
  }

  value comparison() {
    value left = bit_or();
    std::optional<value> result;
    while (peek().kind == tok::op) {
      static const std::pair<const char*, binary_op> ops[] = {
          {"<", binary_op::less},    {"<=", binary_op::less_equal},
          {">", binary_op::greater}, {">=", binary_op::greater_equal},
          {"==", binary_op::equal},  {"!=", binary_op::not_equal}};
      const binary_op* op = nullptr;
      for (const auto& [text, o] : ops) {
        if (peek().text == text) op = &o;
      }
      if (!op) break;
      const token at = next();
      value right = bit_or();
      value cmp = binary(*op, left, right, at);
      result = result ? binary(binary_op::bitwise_and, *result, cmp, at) : cmp;  // a < b < c
      left = right;
    }
    return result ? *result : left;
  }

  value bit_or() {
    value v = bit_xor();
    while (peek().kind == tok::op && peek().text == "|") {
      const token at = next();
      v = binary(binary_op::bitwise_or, v, bit_xor(), at);
    }
    return v;
  }
  value bit_xor() {
    value v = bit_and();
    while (peek().kind == tok::op && peek().text == "^") {
      const token at = next();
      v = binary(binary_op::bitwise_xor, v, bit_and(), at);
    }
    return v;
  }
  value bit_and() {
    value v = sum();
    while (peek().kind == tok::op && peek().text == "&") {
      const token at = next();
      v = binary(binary_op::bitwise_and, v, sum(), at);
    }
    return v;
  }
  value sum() {
    value v = product();
    while (peek().kind == tok::op && (peek().text == "+" || peek().text == "-")) {
      const token at = next();
      v = binary(at.text == "+" ? binary_op::add : binary_op::subtract, v, product(), at);
    }
    return v;
  }
  value product() {
    value v = unary();
    while (peek().kind == tok::op && (peek().text == "*" || peek().text == "/" ||
                                      peek().text == "//" || peek().text == "%")) {
      const token at = next();
      const binary_op op = at.text == "*"    ? binary_op::multiply
                           : at.text == "/"  ? binary_op::true_divide
                           : at.text == "//" ? binary_op::floor_divide
                                             : binary_op::remainder;
      v = binary(op, v, unary(), at);
    }
    return v;
  }
  value unary() {
    if (peek().kind == tok::op &&
        (peek().text == "-" || peek().text == "+" || peek().text == "~")) {
      const nesting guard(*this);
      const token at = next();
      value v = unary();
      if (at.text == "+") return v;
      if (auto* s = std::get_if<scalar>(&v.v); s && at.text == "-") {  // fold literals: -1
        return std::visit(
            [](auto x) -> value {
              if constexpr (std::is_same_v<decltype(x), bool>)
                return value{scalar(-std::int64_t{x})};
              else
                return value{scalar(-x)};
            },
            s->value);
      }
      return value{
          apply(at.text == "-" ? unary_op::negative : unary_op::bitwise_not, to_array(v, at))};
    }
    return power();
  }
  value power() {
    value base = postfix();
    if (peek().kind == tok::op && peek().text == "**") {
      const nesting guard(*this);
      const token at = next();
      value exponent = unary();  // right-associative; binds tighter than a unary on its left
      return binary(binary_op::power, base, exponent, at);
    }
    return base;
  }

  value postfix() {
    value v = atom();
    while (peek().kind == tok::op) {
      if (peek().text == "(") {
        const token at = next();
        v = call(v, at);
      } else if (peek().text == "[") {
        const token at = next();
        v = subscript(v, at);
      } else if (peek().text == ".") {
        next();
        const token name = next();
        if (name.kind != tok::name) syntax_error(text_, name.column, "expected a name after '.'");
        v = attribute(v, name);
      } else {
        break;
      }
    }
    return v;
  }

  value atom() {
    const token t = next();
    switch (t.kind) {
      case tok::integer: {
        try {
          return value{scalar(static_cast<std::int64_t>(std::stoll(t.text)))};
        } catch (const std::out_of_range&) {
          syntax_error(text_, t.column, "integer " + t.text + " does not fit in 64 bits");
        }
      }
      case tok::real:  // as Python: 1e309 is inf, 1e-400 is 0
        return value{scalar(std::strtod(t.text.c_str(), nullptr))};
      case tok::string:
        return value{t.text};
      case tok::name:
        return name(t);
      case tok::op:
        if (t.text == "(") {
          if (accept(")")) return value{tuple_t{}};
          value first = expression();
          if (accept(")")) return first;
          tuple_t items{first};
          while (accept(",")) {
            if (peek().kind == tok::op && peek().text == ")") break;
            items.push_back(expression());
          }
          expect(")");
          return value{items};
        }
        if (t.text == "[") {  // a list: as a tuple wherever one is taken
          const nesting guard(*this);
          tuple_t items;
          while (!accept("]")) {
            items.push_back(expression());
            if (accept("]")) break;
            expect(",");
          }
          return value{items};
        }
        if (t.text == "." && accept(".")) {  // "..." arrives as three dots
          expect(".");
          return value{ellipsis_t{}};
        }
        break;
      case tok::end:
        break;
    }
    --pos_;
    unexpected();
  }

  value name(const token& t) {
    if (auto it = inputs_.find(t.text); it != inputs_.end()) return value{it->second};
    if (t.text == "True") return value{scalar(true)};
    if (t.text == "False") return value{scalar(false)};
    if (t.text == "None" || t.text == "newaxis") return value{none_t{}};
    if (t.text == "nan" || t.text == "NaN")
      return value{scalar(std::numeric_limits<double>::quiet_NaN())};
    if (t.text == "inf") return value{scalar(std::numeric_limits<double>::infinity())};
    if (t.text == "pi") return value{scalar(3.141592653589793)};
    if (t.text == "e") return value{scalar(2.718281828459045)};
    if (t.text == "np" || t.text == "numpy" || t.text == "scipy" || t.text == "signal" ||
        t.text == "ndimage")
      return value{namespace_t{}};
    if (is_function(t.text)) return value{function_t{t.text, std::nullopt, std::nullopt}};
    try {
      return value{parse_dtype(t.text)};
    } catch (const type_error&) {
    }
    std::string names;
    for (const auto& [n, a] : inputs_) names += (names.empty() ? "" : ", ") + n;
    throw_error<value_error>("column ", t.column, " of '", excerpt(text_, t.column),
                             "': unknown name '", t.text,
                             "' (inputs: ", names.empty() ? "none" : names, ")");
  }

  value attribute(const value& v, const token& name) {
    if (std::holds_alternative<namespace_t>(v.v)) {
      if (is_function(name.text)) return value{function_t{name.text, std::nullopt, std::nullopt}};
      return this->name(name);  // np.nan, np.float32, np.newaxis
    }
    if (const auto* g = std::get_if<generator_t>(&v.v)) {
      if (random_methods.count(name.text))
        return value{function_t{name.text, std::nullopt, g->seed}};
    }
    if (const auto* f = std::get_if<function_t>(&v.v); f && f->name == "random" && !f->generator) {
      if (name.text == "default_rng")
        return value{function_t{name.text, std::nullopt, std::nullopt}};  // np.random
    }
    if (auto* a = std::get_if<array>(&v.v)) {
      if (name.text == "T") return value{a->T()};
      if (is_function(name.text)) return value{function_t{name.text, *a, std::nullopt}};
    }
    throw_error<value_error>("column ", name.column, " of '", excerpt(text_, name.column), "': '",
                             type_name(v), "' has no attribute '", name.text, "'");
  }

  struct arguments {
    std::vector<std::pair<value, token>> positional;
    std::map<std::string, std::pair<value, token>> keywords;

    // The i-th positional argument, else the keyword; null when neither was given.
    const std::pair<value, token>* get(std::size_t i, const std::string& keyword) const {
      if (i < positional.size()) return &positional[i];
      if (auto it = keywords.find(keyword); it != keywords.end()) return &it->second;
      return nullptr;
    }
  };

  const std::pair<value, token>& required(const arguments& args, std::size_t i,
                                          const std::string& keyword, const std::string& fn,
                                          const token& at) {
    const auto* a = args.get(i, keyword);
    if (!a) bad_call(fn, at, "missing argument '" + keyword + "'");
    return *a;
  }

  // At most `most` positional arguments and no keyword beyond `keywords`.
  void accept_only(const arguments& args, std::size_t most,
                   std::initializer_list<std::string_view> keywords, const std::string& fn,
                   const token& at) {
    if (args.positional.size() > most) bad_call(fn, at, "too many arguments");
    for (const auto& entry : args.keywords) {
      if (std::find(keywords.begin(), keywords.end(), entry.first) == keywords.end())
        bad_call(fn, at, "unexpected keyword argument '" + entry.first + "'");
    }
  }

  static inline const std::set<std::string> random_methods = {
      "random", "uniform", "standard_normal", "normal", "integers", "poisson"};

  value call(const value& f, const token& at) {
    const auto* fn = std::get_if<function_t>(&f.v);
    if (!fn) syntax_error(text_, at.column, "a " + type_name(f) + " is not callable");
    arguments args;
    if (fn->self) args.positional.push_back({value{*fn->self}, at});
    if (!accept(")")) {
      while (true) {
        const token start = peek();
        if (start.kind == tok::name && tokens_[pos_ + 1].kind == tok::op &&
            tokens_[pos_ + 1].text == "=") {
          pos_ += 2;
          args.keywords[start.text] = {expression(), start};
        } else {
          if (!args.keywords.empty()) {
            syntax_error(text_, start.column, "positional argument follows keyword argument");
          }
          args.positional.push_back({expression(), start});
        }
        if (accept(")")) break;
        expect(",");
        if (accept(")")) break;
      }
    }
    if (fn->generator) return random_method(fn->name, *fn->generator, args, at);
    return apply_function(fn->name, args, at);
  }

  [[noreturn]] void bad_call(const std::string& fn, const token& at, std::string why) {
    if (why.rfind(fn + ": ", 0) == 0) why.erase(0, fn.size() + 2);  // the library's own prefix
    throw_error<value_error>("column ", at.column, " of '", excerpt(text_, at.column), "': ", fn,
                             "(): ", why);
  }

  axes_t axes_of(const value& v, const std::string& fn, const token& at) {
    if (std::holds_alternative<none_t>(v.v)) return {};
    if (integer_of(v)) return {small_int_of(v, fn, at)};
    if (auto* t = std::get_if<tuple_t>(&v.v)) {
      axes_t axes;
      for (const value& item : *t) {
        if (!integer_of(item)) bad_call(fn, at, "axis must be integers");
        axes.push_back(small_int_of(item, fn, at));
      }
      if (axes.empty())
        bad_call(fn, at, "axis=() reduces nothing; chunkarr needs at least one axis");
      return axes;
    }
    bad_call(fn, at, "axis must be an integer, a tuple of integers or None");
  }

  bool bool_of(const value& v, const std::string& fn, const token& at) {
    const auto* s = std::get_if<scalar>(&v.v);
    if (!s || !std::holds_alternative<bool>(s->value)) bad_call(fn, at, "expected True or False");
    return std::get<bool>(s->value);
  }
  // An integer literal, or arithmetic on integer literals (`37 * 23`, `2**10 - 1`: a weak
  // 0-d array, read from no input, computed here); nullopt for anything else.
  static std::optional<index_t> integer_of(const value& v) {
    if (const auto* s = std::get_if<scalar>(&v.v)) {
      if (const auto* i = std::get_if<std::int64_t>(&s->value)) return *i;
      return std::nullopt;
    }
    const auto* a = std::get_if<array>(&v.v);
    if (!a || a->ndim() != 0 || !a->is_weak_scalar() ||
        !(a->dtype().is_signed_int() || a->dtype().is_unsigned_int())) {
      return std::nullopt;
    }
    std::int64_t x = 0;
    compute_options o;
    o.threads = 1;
    compute_into(a->astype(make_dtype(scalar_kind::int64)),
                 std::as_writable_bytes(std::span<std::int64_t>(&x, 1)), o);
    return x;
  }

  index_t int_of(const value& v, const std::string& fn, const token& at) {
    const std::optional<index_t> i = integer_of(v);
    if (!i) bad_call(fn, at, "expected an integer");
    return *i;
  }

  // An integer that must fit an int (an axis, ddof): larger ones cannot be valid.
  int small_int_of(const value& v, const std::string& fn, const token& at) {
    const index_t i = int_of(v, fn, at);
    if (i < std::numeric_limits<int>::min() || i > std::numeric_limits<int>::max())
      bad_call(fn, at, std::to_string(i) + " is out of range");
    return static_cast<int>(i);
  }

  value apply_function(const std::string& fn, arguments& args, const token& at) {
    auto arg = [&](std::size_t i, const char* keyword) -> std::optional<std::pair<value, token>> {
      if (i < args.positional.size()) return args.positional[i];
      if (auto it = args.keywords.find(keyword); it != args.keywords.end()) return it->second;
      return std::nullopt;
    };
    auto require = [&](std::size_t i, const char* keyword) {
      auto a = arg(i, keyword);
      if (!a) bad_call(fn, at, std::string("missing argument '") + keyword + "'");
      return *a;
    };
    auto arr = [&](std::size_t i, const char* keyword) {
      auto [v, t] = require(i, keyword);
      return to_array(v, t);
    };
    auto opnd = [&](std::size_t i, const char* keyword) {
      auto [v, t] = require(i, keyword);
      return to_operand(v, t);
    };
    auto limit = [&](std::size_t most) {
      if (args.positional.size() > most) bad_call(fn, at, "too many arguments");
    };

    if (fn == "logical_not") {
      limit(1);
      return value{apply(unary_op::invert, arr(0, "x").astype(make_dtype(scalar_kind::bool_)))};
    }
    if (auto op = unary_named(fn)) {
      limit(1);
      return value{apply(*op, arr(0, "x"))};
    }
    if (fn == "logical_and" || fn == "logical_or" || fn == "logical_xor") {
      limit(2);
      const dtype b = make_dtype(scalar_kind::bool_);
      const binary_op op = fn == "logical_and"  ? binary_op::bitwise_and
                           : fn == "logical_or" ? binary_op::bitwise_or
                                                : binary_op::bitwise_xor;
      return value{apply(op, arr(0, "x1").astype(b), arr(1, "x2").astype(b))};
    }
    if (auto op = binary_named(fn)) {
      limit(2);
      return value{apply(*op, opnd(0, "x1"), opnd(1, "x2"))};
    }
    if (auto op = reduction_named(fn)) {
      limit(2);
      const array a = arr(0, "a");
      axes_t axes;
      if (auto ax = arg(1, "axis")) axes = axes_of(ax->first, fn, ax->second);
      bool keepdims = false;
      if (auto k = arg(99, "keepdims")) keepdims = bool_of(k->first, fn, k->second);
      int ddof = 0;
      if (auto d = arg(99, "ddof")) ddof = small_int_of(d->first, fn, d->second);
      for (const auto& [key, unused] : args.keywords) {
        if (key != "axis" && key != "keepdims" && key != "ddof") {
          bad_call(fn, at, "unexpected keyword argument '" + key + "'");
        }
      }
      return value{reduce(*op, a, axes, keepdims, ddof)};
    }
    if (fn == "ptp" || fn == "count_nonzero" || fn == "average") {
      // NumPy's ptp(a, axis, out, keepdims), count_nonzero(a, axis, *, keepdims) and
      // average(a, axis, weights, returned, *, keepdims).
      const bool avg = fn == "average";
      accept_only(args, avg ? 3 : 2, {"a", "axis", "out", "keepdims", "weights", "returned"}, fn,
                  at);
      if (!avg && args.keywords.count("weights"))
        bad_call(fn, at, "unexpected keyword argument 'weights'");
      const array a = arr(0, "a");
      axes_t axes;
      if (auto ax = arg(1, "axis")) axes = axes_of(ax->first, fn, ax->second);
      bool keepdims = false;
      if (auto k = arg(99, "keepdims")) keepdims = bool_of(k->first, fn, k->second);
      if (auto o = arg(99, "out"); o && !std::holds_alternative<none_t>(o->first.v))
        bad_call(fn, at, "out= is not supported");
      if (auto r = arg(99, "returned"); r && bool_of(r->first, fn, r->second))
        bad_call(fn, at, "returned=True is not supported (compute sum(w) alongside)");
      std::optional<array> weights;
      if (auto w = arg(avg ? 2 : 99, "weights"); w && !std::holds_alternative<none_t>(w->first.v))
        weights = to_array(w->first, w->second);
      return placed(fn, at, [&] {
        if (fn == "ptp") return value{ptp(a, axes, keepdims)};
        if (fn == "count_nonzero") return value{count_nonzero(a, axes, keepdims)};
        return value{average(a, axes, weights, keepdims)};
      });
    }
    if (fn == "sort" || fn == "argsort" || fn == "partition" || fn == "argpartition") {
      // NumPy's sort(a, axis=-1, kind=None, order=None), argsort(likewise) and
      // partition(a, kth, axis=-1, kind='introselect', order=None): every kind sorts as
      // kind='stable' does (ties, -0.0 and 0.0 among them, keep their order).
      const bool part = fn.ends_with("partition");
      accept_only(args, part ? 5 : 4, {"a", "kth", "axis", "kind", "order"}, fn, at);
      const std::size_t shift = part ? 1 : 0;
      const array a = arr(0, "a");
      std::optional<int> axis = -1;
      if (auto ax = arg(1 + shift, "axis")) {
        if (std::holds_alternative<none_t>(ax->first.v))
          axis = std::nullopt;
        else
          axis = small_int_of(ax->first, fn, ax->second);
      }
      if (auto k = arg(2 + shift, "kind"); k && !std::holds_alternative<none_t>(k->first.v)) {
        const auto* name = std::get_if<std::string>(&k->first.v);
        static const std::set<std::string> sorts = {"quicksort", "mergesort", "heapsort", "stable"};
        if (!name || (part ? *name != "introselect" : !sorts.count(*name)))
          bad_call(fn, at,
                   part ? "kind must be 'introselect'"
                        : "kind must be 'quicksort', 'mergesort', 'heapsort' or 'stable'");
      }
      if (auto o = arg(3 + shift, "order"); o && !std::holds_alternative<none_t>(o->first.v))
        bad_call(fn, at, "order= (fields of a structured array) is not supported");
      std::vector<index_t> kth;
      if (part) {
        const std::pair<value, token> k = require(1, "kth");
        if (const auto* t = std::get_if<tuple_t>(&k.first.v)) {
          for (const value& item : *t) kth.push_back(int_of(item, fn, k.second));
        } else {
          kth.push_back(int_of(k.first, fn, k.second));
        }
      }
      return placed(fn, at, [&] {
        if (fn == "sort") return value{chunkarr::sort(a, axis)};
        if (fn == "argsort") return value{argsort(a, axis)};
        if (fn == "partition") return value{chunkarr::partition(a, kth, axis)};
        return value{argpartition(a, kth, axis)};
      });
    }
    if (fn == "topk" || fn == "argtopk") {
      // dask's topk(a, k, axis=-1, split_every=None) and argtopk.
      accept_only(args, 4, {"a", "k", "axis", "split_every"}, fn, at);
      const array a = arr(0, "a");
      const std::pair<value, token> kv = require(1, "k");
      const index_t k = int_of(kv.first, fn, kv.second);
      int axis = -1;
      if (auto ax = arg(2, "axis")) axis = small_int_of(ax->first, fn, ax->second);
      return placed(fn, at,
                    [&] { return value{fn == "topk" ? topk(a, k, axis) : argtopk(a, k, axis)}; });
    }
    if (fn == "searchsorted" || fn == "digitize") {
      // NumPy's searchsorted(a, v, side='left') (a: a list or a small array, sorted) and
      // digitize(x, bins, right=False).
      const bool search = fn == "searchsorted";
      accept_only(args, 3, {"a", "v", "side", "x", "bins", "right"}, fn, at);
      // (named, not structured bindings: clang 14 cannot capture those in lambdas)
      const std::pair<value, token>& one = required(args, 0, search ? "a" : "x", fn, at);
      const std::pair<value, token>& two = required(args, 1, search ? "v" : "bins", fn, at);
      const value &first = one.first, &second = two.first;
      const token &first_at = one.second, &second_at = two.second;
      bool right = false;
      if (search) {
        if (auto sd = arg(2, "side")) {
          const auto* name = std::get_if<std::string>(&sd->first.v);
          if (!name || (*name != "left" && *name != "right"))
            bad_call(fn, at, "side must be 'left' or 'right'");
          right = *name == "right";
        }
      } else if (auto r = arg(2, "right")) {
        right = bool_of(r->first, fn, r->second);
      }
      return placed(fn, at, [&] {
        if (search)
          return value{
              searchsorted(doubles_of(first, fn, first_at), to_array(second, second_at), right)};
        return value{digitize(to_array(first, first_at), doubles_of(second, fn, second_at), right)};
      });
    }
    if (fn == "bincount") {  // NumPy's bincount(x, weights=None, minlength=0)
      accept_only(args, 3, {"x", "weights", "minlength"}, fn, at);
      const array x = arr(0, "x");
      std::optional<array> weights;
      if (auto w = arg(1, "weights"); w && !std::holds_alternative<none_t>(w->first.v))
        weights = to_array(w->first, w->second);
      index_t minlength = 0;
      if (auto m = arg(2, "minlength")) minlength = int_of(m->first, fn, m->second);
      return placed(fn, at, [&] { return value{bincount(x, weights, minlength, build_)}; });
    }
    if (fn == "extract") {  // NumPy's extract(condition, arr): arr.ravel()[condition.ravel()]
      accept_only(args, 2, {"condition", "arr"}, fn, at);
      try {
        return value{extract(arr(0, "condition"), arr(1, "arr"), build_)};
      } catch (const shape_error& e) {
        bad_call(fn, at, e.what());
      }
    }
    if (fn == "nonzero" || fn == "argwhere" || fn == "flatnonzero") {  // indices of true
      accept_only(args, 1, {"a"}, fn, at);
      const array a = arr(0, "a");
      return placed(fn, at, [&] {
        if (fn == "argwhere") return value{argwhere(a, build_)};
        if (fn == "flatnonzero") return value{flatnonzero(a, build_)};
        tuple_t items;
        for (array& i : nonzero(a, build_)) items.push_back(value{std::move(i)});
        return value{items};
      });
    }
    if (fn == "random" || fn == "default_rng") {
      accept_only(args, 1, {"seed"}, fn, at);
      const auto& [v, t] = required(args, 0, "seed", fn, at);
      const index_t seed = int_of(v, fn, t);
      if (seed < 0) bad_call(fn, at, "the seed must be a non-negative integer");
      return value{generator_t{static_cast<std::uint64_t>(seed)}};
    }
    if (fn == "meshgrid") {  // NumPy's: a tuple of arrays, 'xy' indexing unless 'ij'
      std::vector<array> xs;
      for (std::size_t i = 0; i < args.positional.size(); ++i) xs.push_back(arr(i, "x"));
      bool matrix = false;
      for (const auto& [key, item] : args.keywords) {
        const auto* mode = std::get_if<std::string>(&item.first.v);
        if (key != "indexing") bad_call(fn, at, "unexpected keyword argument '" + key + "'");
        if (!mode || (*mode != "xy" && *mode != "ij"))
          bad_call(fn, at, "indexing must be 'xy' or 'ij'");
        matrix = *mode == "ij";
      }
      tuple_t grids;
      for (array& g : meshgrid(xs, matrix)) grids.push_back(value{std::move(g)});
      return value{grids};
    }
    if (fn == "where") {
      limit(3);
      return value{chunkarr::where(opnd(0, "condition"), opnd(1, "x"), opnd(2, "y"))};
    }
    if (fn == "clip") {
      limit(3);
      return value{clip(arr(0, "a"), opnd(1, "a_min"), opnd(2, "a_max"))};
    }
    if (fn == "astype") {
      limit(2);
      const array a = arr(0, "self");
      auto [v, t] = require(1, "dtype");
      if (auto* d = std::get_if<dtype>(&v.v)) return value{a.astype(*d)};
      if (auto* s = std::get_if<std::string>(&v.v)) return value{a.astype(parse_dtype(*s))};
      bad_call(fn, at, "expected a dtype such as 'f4' or float32");
    }
    if (fn == "transpose") {
      const array a = arr(0, "a");
      std::vector<int> axes;
      for (std::size_t i = 1; i < args.positional.size(); ++i) {
        const value& v = args.positional[i].first;
        if (auto* t = std::get_if<tuple_t>(&v.v)) {
          for (const value& item : *t) axes.push_back(small_int_of(item, fn, at));
        } else {
          axes.push_back(small_int_of(v, fn, at));
        }
      }
      if (auto ax = arg(99, "axes")) {
        for (const value& item : std::get<tuple_t>(ax->first.v)) {
          axes.push_back(small_int_of(item, fn, at));
        }
      }
      return value{a.transpose(axes)};
    }
    if (fn == "rechunk") {  // dask's: rechunk(a, (1000, -1)), a.rechunk(1000) for 1-d
      limit(2);
      const array a = arr(0, "x");
      auto [v, t] = require(1, "chunks");
      shape_t chunks;
      if (auto* items = std::get_if<tuple_t>(&v.v)) {
        for (const value& item : *items) chunks.push_back(int_of(item, fn, t));
      } else {
        chunks.push_back(int_of(v, fn, t));
      }
      try {
        return value{chunkarr::rechunk(a, chunks)};
      } catch (const shape_error& e) {
        bad_call(fn, at, e.what());
      }
    }
    if (value made; creation_function(fn, args, at, made)) return made;
    if (value joined; join_function(fn, args, at, joined)) return joined;
    if (value scanned; signal_function(fn, args, at, scanned)) return scanned;
    if (value filtered; filter_function(fn, args, at, filtered)) return filtered;
    if (value ordered; order_function(fn, args, at, ordered)) return ordered;
    if (fn == "histogram" || fn == "histogram_bin_edges") return histogram_function(fn, args, at);
    bad_call(fn, at, "unknown function");
  }

  // numpy.histogram(a, bins=10, range=None, density=None, weights=None): a tuple (counts,
  // edges); histogram_bin_edges(a, bins=10, range=None, weights=None): the edges. bins is a
  // count or the edges.
  value histogram_function(const std::string& fn, arguments& args, const token& at) {
    const bool edges_only = fn == "histogram_bin_edges";
    std::vector<std::string> order = {"a", "bins", "range"};
    if (!edges_only) order.push_back("density");
    order.push_back("weights");
    if (args.positional.size() > order.size()) bad_call(fn, at, "too many arguments");
    for (const auto& entry : args.keywords) {
      if (std::find(order.begin(), order.end(), entry.first) == order.end())
        bad_call(fn, at, "unexpected keyword argument '" + entry.first + "'");
    }
    auto get = [&](const std::string& key) -> const std::pair<value, token>* {
      const auto pos = std::find(order.begin(), order.end(), key) - order.begin();
      const auto* a = args.get(static_cast<std::size_t>(pos), key);
      return a && !std::holds_alternative<none_t>(a->first.v) ? a : nullptr;
    };
    const auto* in = get("a");
    if (!in) bad_call(fn, at, "missing argument 'a'");
    const array a = to_array(in->first, in->second);
    std::optional<std::pair<double, double>> range;
    if (const auto* r = get("range")) {
      const std::vector<double> two = doubles_of(r->first, fn, r->second);
      if (two.size() != 2) bad_call(fn, at, "range must be (min, max)");
      range = std::pair{two[0], two[1]};
    }
    std::optional<array> weights;
    if (const auto* w = get("weights")) weights = to_array(w->first, w->second);
    const auto* d = get("density");
    const bool density = d && bool_of(d->first, fn, d->second);
    return placed(fn, at, [&] {
      histogram_result h;
      const auto* b = get("bins");
      if (b && (std::holds_alternative<tuple_t>(b->first.v) ||
                (std::holds_alternative<array>(b->first.v) &&
                 std::get<array>(b->first.v).ndim() == 1))) {
        if (range) bad_call(fn, at, "range is for a number of bins, not for their edges");
        h = histogram(a, doubles_of(b->first, fn, b->second), weights, density);
      } else {
        if (b && std::holds_alternative<std::string>(b->first.v))
          bad_call(fn, at, "bins by name ('auto', 'fd', ...) are not supported; give a number");
        const index_t bins = b ? int_of(b->first, fn, b->second) : 10;
        h = histogram(a, bins, range, weights, density);
      }
      if (edges_only) return value{h.edges};
      return value{tuple_t{value{h.counts}, value{h.edges}}};
    });
  }

  // median, quantile, percentile and their nan forms, with NumPy's arguments: (a, [q,] axis,
  // out, overwrite_input, [method,] keepdims); out must be None, overwrite_input changes
  // nothing here (nothing is overwritten), interpolation= is method's old name.
  bool order_function(const std::string& fn, arguments& args, const token& at, value& result) {
    static const std::set<std::string> names = {"median",      "nanmedian",  "quantile",
                                                "nanquantile", "percentile", "nanpercentile"};
    if (!names.count(fn)) return false;
    const bool is_median = fn == "median" || fn == "nanmedian";
    std::vector<std::string> order = {"a"};
    if (!is_median) order.push_back("q");
    order.insert(order.end(), {"axis", "out", "overwrite_input"});
    if (!is_median) order.push_back("method");
    order.push_back("keepdims");
    if (args.positional.size() > order.size()) bad_call(fn, at, "too many arguments");
    for (const auto& entry : args.keywords) {
      if (std::find(order.begin(), order.end(), entry.first) == order.end() &&
          (is_median || entry.first != "interpolation"))
        bad_call(fn, at, "unexpected keyword argument '" + entry.first + "'");
    }
    auto get = [&](const std::string& key) -> const std::pair<value, token>* {
      const auto pos = std::find(order.begin(), order.end(), key) - order.begin();
      const auto* a = args.get(static_cast<std::size_t>(pos), key);
      return a && !std::holds_alternative<none_t>(a->first.v) ? a : nullptr;
    };
    if (get("out")) bad_call(fn, at, "out= is not supported");
    if (const auto* o = get("overwrite_input")) bool_of(o->first, fn, o->second);
    const auto* in = get("a");
    if (!in) bad_call(fn, at, "missing argument 'a'");
    const array a = to_array(in->first, in->second);
    const auto* ax = get("axis");
    const axes_t axes = ax ? axes_of(ax->first, fn, ax->second) : axes_t{};
    const auto* kd = get("keepdims");
    const bool keepdims = kd && bool_of(kd->first, fn, kd->second);
    quantile_method method = quantile_method::linear;
    const auto* m = get("method");
    if (const auto* old = args.get(99, "interpolation")) {
      if (m) bad_call(fn, at, "method= and interpolation= both given");
      m = old;
    }
    if (m) {
      const auto* name = std::get_if<std::string>(&m->first.v);
      if (!name) bad_call(fn, at, "method must be a string such as 'linear'");
      method = placed(fn, at, [&] { return quantile_method_named(*name); });
    }
    return placed(fn, at, [&] {
      if (fn == "median") {
        result = value{median(a, axes, keepdims)};
      } else if (fn == "nanmedian") {
        result = value{nanmedian(a, axes, keepdims)};
      } else {
        const auto* q = get("q");
        if (!q) bad_call(fn, at, "missing argument 'q'");
        const bool one =
            !std::holds_alternative<tuple_t>(q->first.v) &&
            !(std::holds_alternative<array>(q->first.v) && std::get<array>(q->first.v).ndim() > 0);
        const std::vector<double> qs = doubles_of(q->first, fn, q->second);
        if (!one && qs.empty()) bad_call(fn, at, "q is empty");
        const bool nan = fn.starts_with("nan");
        const bool percent = fn.ends_with("percentile");
        if (one) {
          result = value{percent ? (nan ? nanpercentile(a, qs[0], axes, method, keepdims)
                                        : percentile(a, qs[0], axes, method, keepdims))
                                 : (nan ? nanquantile(a, qs[0], axes, method, keepdims)
                                        : quantile(a, qs[0], axes, method, keepdims))};
        } else {
          result = value{percent ? (nan ? nanpercentile(a, qs, axes, method, keepdims)
                                        : percentile(a, qs, axes, method, keepdims))
                                 : (nan ? nanquantile(a, qs, axes, method, keepdims)
                                        : quantile(a, qs, axes, method, keepdims))};
        }
      }
      return true;
    });
  }

  // Numbers from a list or a small array (filter coefficients), in C order.
  std::vector<double> doubles_of(const value& v, const std::string& fn, const token& at,
                                 shape_t* shape = nullptr) {
    if (const auto* items = std::get_if<tuple_t>(&v.v)) {
      std::vector<double> out;
      shape_t inner;
      for (const value& item : *items) {
        if (std::holds_alternative<tuple_t>(item.v)) {
          shape_t row;
          const std::vector<double> part = doubles_of(item, fn, at, &row);
          if (!inner.empty() && row != inner) bad_call(fn, at, "the rows differ in length");
          inner = row;
          out.insert(out.end(), part.begin(), part.end());
        } else {
          out.push_back(number_of(item, fn, at));
        }
      }
      if (shape) {
        *shape = {static_cast<index_t>(items->size())};
        shape->insert(shape->end(), inner.begin(), inner.end());
      }
      return out;
    }
    const array a = to_array(v, at);
    if (a.size() > (1 << 20)) bad_call(fn, at, "coefficients of more than 2^20 values");
    std::vector<double> out(static_cast<std::size_t>(a.size()));
    compute_options o;
    o.threads = 1;
    compute_into(a.astype(make_dtype(scalar_kind::float64)),
                 std::as_writable_bytes(std::span<double>(out)), o);
    if (shape) *shape = a.shape();
    return out;
  }

  sos_t sos_of(const value& v, const std::string& fn, const token& at) {
    shape_t shape;
    const std::vector<double> flat = doubles_of(v, fn, at, &shape);
    if (shape.size() != 2 || shape[1] != 6)
      bad_call(fn, at, "sos must be an array of shape (n_sections, 6)");
    sos_t sos(static_cast<std::size_t>(shape[0]));
    for (std::size_t i = 0; i < flat.size(); ++i) sos[i / 6][i % 6] = flat[i];
    return sos;
  }

  static array float64_array(const std::vector<double>& values, shape_t shape) {
    return from_buffer(std::as_bytes(std::span<const double>(values)), std::move(shape),
                       make_dtype(scalar_kind::float64));
  }

  // scipy.ndimage's filters: f(input, <weights, size or sigma>, axis, …, mode, cval, …).
  bool filter_function(const std::string& fn, arguments& args, const token& at, value& result) {
    static const std::set<std::string> names = {
        "correlate1d",       "convolve1d",       "uniform_filter1d",
        "gaussian_filter1d", "minimum_filter1d", "maximum_filter1d",
        "median_filter1d",   "uniform_filter",   "gaussian_filter"};
    if (!names.count(fn)) return false;
    const bool nd = fn == "uniform_filter" || fn == "gaussian_filter";
    const bool gaussian = fn == "gaussian_filter1d" || fn == "gaussian_filter";
    const bool weighted = fn == "correlate1d" || fn == "convolve1d";
    const char* second = weighted ? "weights" : gaussian ? "sigma" : "size";
    // scipy's positional order after (input, second): axis (1-d forms), order (Gaussians),
    // output, mode, cval, then origin or truncate.
    std::vector<std::string> order = {"input", second};
    if (!nd) order.push_back("axis");
    if (gaussian) order.push_back("order");
    order.insert(order.end(), {"output", "mode", "cval"});
    order.push_back(gaussian ? "truncate" : "origin");
    std::vector<std::string_view> keywords(order.begin(), order.end());
    if (fn == "gaussian_filter1d") keywords.push_back("radius");
    if (args.positional.size() > order.size()) bad_call(fn, at, "too many arguments");
    for (const auto& entry : args.keywords) {
      if (std::find(keywords.begin(), keywords.end(), entry.first) == keywords.end())
        bad_call(fn, at, "unexpected keyword argument '" + entry.first + "'");
    }
    auto get = [&](const std::string& key) -> const std::pair<value, token>* {
      const auto at_pos = std::find(order.begin(), order.end(), key) - order.begin();
      return args.get(static_cast<std::size_t>(at_pos), key);
    };
    auto given = [&](const std::string& key) {
      const auto* a = get(key);
      return a && !std::holds_alternative<none_t>(a->first.v) ? a : nullptr;
    };
    if (given("output")) bad_call(fn, at, "output= is not supported (use astype)");
    filter_mode mode = filter_mode::reflect;
    if (const auto* m = given("mode")) {
      static const std::map<std::string, filter_mode> modes = {
          {"reflect", filter_mode::reflect},   {"grid-mirror", filter_mode::reflect},
          {"mirror", filter_mode::mirror},     {"nearest", filter_mode::nearest},
          {"wrap", filter_mode::wrap},         {"grid-wrap", filter_mode::wrap},
          {"constant", filter_mode::constant}, {"grid-constant", filter_mode::constant}};
      const auto* name = std::get_if<std::string>(&m->first.v);
      if (!name || !modes.count(*name))
        bad_call(fn, at, "mode must be 'reflect', 'mirror', 'nearest', 'wrap' or 'constant'");
      mode = modes.at(*name);
    }
    const auto* c = given("cval");
    const double cval = c ? number_of(c->first, fn, c->second) : 0.0;
    const auto* in = get("input");
    if (!in) bad_call(fn, at, "missing argument 'input'");
    const array a = to_array(in->first, in->second);
    const auto* sec = get(second);
    if (!sec) bad_call(fn, at, std::string("missing argument '") + second + "'");
    const auto* ax = given("axis");
    const int axis = ax ? small_int_of(ax->first, fn, ax->second) : -1;
    const auto* og = given("origin");
    const index_t origin = og ? int_of(og->first, fn, og->second) : 0;
    const auto* od = given("order");
    const int deriv = od ? small_int_of(od->first, fn, od->second) : 0;
    const auto* tr = given("truncate");
    const double truncate = tr ? number_of(tr->first, fn, tr->second) : 4.0;
    return placed(fn, at, [&] {
      if (weighted) {
        std::vector<double> w = doubles_of(sec->first, fn, sec->second);
        result = value{fn == "correlate1d" ? correlate1d(a, w, axis, mode, cval, origin)
                                           : convolve1d(a, w, axis, mode, cval, origin)};
      } else if (fn == "gaussian_filter1d") {
        std::optional<index_t> radius;
        if (const auto* r = given("radius")) radius = int_of(r->first, fn, r->second);
        result = value{gaussian_filter1d(a, number_of(sec->first, fn, sec->second), axis, deriv,
                                         mode, cval, truncate, radius)};
      } else if (fn == "gaussian_filter") {
        if (origin != 0) bad_call(fn, at, "origin is not supported");
        std::vector<double> sigmas;
        for (const value& item : tuple_or_one(sec->first))
          sigmas.push_back(number_of(item, fn, sec->second));
        result = value{gaussian_filter(a, sigmas, deriv, mode, cval, truncate)};
      } else if (fn == "uniform_filter") {
        if (origin != 0) bad_call(fn, at, "origin is not supported");
        std::vector<index_t> sizes;
        for (const value& item : tuple_or_one(sec->first))
          sizes.push_back(int_of(item, fn, sec->second));
        result = value{uniform_filter(a, sizes, mode, cval)};
      } else {
        const index_t size = int_of(sec->first, fn, sec->second);
        result =
            value{fn == "uniform_filter1d"   ? uniform_filter1d(a, size, axis, mode, cval, origin)
                  : fn == "minimum_filter1d" ? minimum_filter1d(a, size, axis, mode, cval, origin)
                  : fn == "maximum_filter1d" ? maximum_filter1d(a, size, axis, mode, cval, origin)
                                             : median_filter1d(a, size, axis, mode, cval, origin)};
      }
      return true;
    });
  }

  // Scans and scipy.signal's filters.
  bool signal_function(const std::string& fn, arguments& args, const token& at, value& result) {
    auto get = [&](std::size_t i, const char* keyword) { return args.get(i, keyword); };
    auto require = [&](std::size_t i, const char* keyword) -> const std::pair<value, token>& {
      return required(args, i, keyword, fn, at);
    };
    auto axis_or = [&](std::size_t i, std::optional<int> otherwise) -> std::optional<int> {
      const auto* a = get(i, "axis");
      if (!a || std::holds_alternative<none_t>(a->first.v)) return otherwise;
      return small_int_of(a->first, fn, a->second);
    };
    auto pad_of = [&](std::size_t i) {
      const auto* a = get(i, "padtype");
      if (!a) return pad_type::odd;
      if (std::holds_alternative<none_t>(a->first.v)) return pad_type::none;
      const auto* name = std::get_if<std::string>(&a->first.v);
      if (name && *name == "odd") return pad_type::odd;
      if (name && *name == "even") return pad_type::even;
      if (name && *name == "constant") return pad_type::constant;
      bad_call(fn, at, "padtype must be 'odd', 'even', 'constant' or None");
    };
    auto padlen_of = [&](std::size_t i) -> std::optional<index_t> {
      const auto* a = get(i, "padlen");
      if (!a || std::holds_alternative<none_t>(a->first.v)) return std::nullopt;
      return int_of(a->first, fn, a->second);
    };
    return placed(fn, at, [&] {
      if (fn == "cumsum" || fn == "cumprod" || fn == "nancumsum" || fn == "nancumprod") {
        accept_only(args, 2, {"a", "axis"}, fn, at);
        const auto& [v, t] = require(0, "a");
        const array a = to_array(v, t);
        const std::optional<int> d = axis_or(1, std::nullopt);
        result = value{fn == "cumsum"      ? cumsum(a, d)
                       : fn == "cumprod"   ? cumprod(a, d)
                       : fn == "nancumsum" ? nancumsum(a, d)
                                           : nancumprod(a, d)};
      } else if (fn == "diff") {
        accept_only(args, 3, {"a", "n", "axis"}, fn, at);
        const auto& [v, t] = require(0, "a");
        const auto* n = get(1, "n");
        result = value{
            diff(to_array(v, t), n ? small_int_of(n->first, fn, n->second) : 1, *axis_or(2, -1))};
      } else if (fn == "gradient") {  // gradient(f, spacing=1, axis=None)
        accept_only(args, 2, {"f", "axis"}, fn, at);
        const auto& [v, t] = require(0, "f");
        const array f = to_array(v, t);
        const auto* h = get(1, "varargs");
        const double spacing = h ? number_of(h->first, fn, h->second) : 1.0;
        std::vector<int> axes;
        if (const auto* a = get(99, "axis"); a && !std::holds_alternative<none_t>(a->first.v)) {
          axes = ints_of(a->first, fn, a->second);
        } else {
          for (std::size_t d = 0; d < f.ndim(); ++d) axes.push_back(static_cast<int>(d));
        }
        if (axes.empty()) bad_call(fn, at, "gradient of a 0-d array");
        tuple_t grads;
        for (int d : axes) grads.push_back(value{gradient(f, d, spacing)});
        result = grads.size() == 1 ? grads.front() : value{grads};
      } else if (fn == "lfilter" || fn == "filtfilt") {
        const bool twice = fn == "filtfilt";
        if (twice)
          accept_only(args, 6, {"b", "a", "x", "axis", "padtype", "padlen"}, fn, at);
        else
          accept_only(args, 4, {"b", "a", "x", "axis"}, fn, at);
        const auto& [bv, bt] = require(0, "b");
        const auto& [av, atok] = require(1, "a");
        const auto& [xv, xt] = require(2, "x");
        std::vector<double> b = doubles_of(bv, fn, bt), a = doubles_of(av, fn, atok);
        const array x = to_array(xv, xt);
        const int d = *axis_or(3, -1);
        result = value{twice ? filtfilt(b, a, x, d, pad_of(4), padlen_of(5)) : lfilter(b, a, x, d)};
      } else if (fn == "sosfilt" || fn == "sosfiltfilt") {
        const bool twice = fn == "sosfiltfilt";
        if (twice)
          accept_only(args, 5, {"sos", "x", "axis", "padtype", "padlen"}, fn, at);
        else
          accept_only(args, 3, {"sos", "x", "axis"}, fn, at);
        const auto& [sv, st] = require(0, "sos");
        const auto& [xv, xt] = require(1, "x");
        const sos_t sos = sos_of(sv, fn, st);
        const array x = to_array(xv, xt);
        const int d = *axis_or(2, -1);
        result =
            value{twice ? sosfiltfilt(sos, x, d, pad_of(3), padlen_of(4)) : sosfilt(sos, x, d)};
      } else if (fn == "lfilter_zi") {
        accept_only(args, 2, {"b", "a"}, fn, at);
        const auto& [bv, bt] = require(0, "b");
        const auto& [av, atok] = require(1, "a");
        const std::vector<double> zi = lfilter_zi(doubles_of(bv, fn, bt), doubles_of(av, fn, atok));
        result = value{float64_array(zi, {static_cast<index_t>(zi.size())})};
      } else if (fn == "sosfilt_zi") {
        accept_only(args, 1, {"sos"}, fn, at);
        const auto& [sv, st] = require(0, "sos");
        std::vector<double> flat;
        for (const auto& pair : sosfilt_zi(sos_of(sv, fn, st)))
          flat.insert(flat.end(), pair.begin(), pair.end());
        result = value{float64_array(flat, {static_cast<index_t>(flat.size() / 2), 2})};
      } else if (fn ==
                 "butter") {  // butter(N, Wn, btype='low', analog=False, output='ba', fs=None)
        accept_only(args, 6, {"N", "Wn", "btype", "analog", "output", "fs"}, fn, at);
        const auto& [nv, nt] = require(0, "N");
        const auto& [wv, wt] = require(1, "Wn");
        std::vector<double> wn;
        for (const value& item : tuple_or_one(wv)) wn.push_back(number_of(item, fn, wt));
        static const std::map<std::string, filter_band> bands = {
            {"lowpass", filter_band::lowpass},   {"low", filter_band::lowpass},
            {"lp", filter_band::lowpass},        {"l", filter_band::lowpass},
            {"highpass", filter_band::highpass}, {"high", filter_band::highpass},
            {"hp", filter_band::highpass},       {"h", filter_band::highpass},
            {"bandpass", filter_band::bandpass}, {"band", filter_band::bandpass},
            {"pass", filter_band::bandpass},     {"bp", filter_band::bandpass},
            {"bandstop", filter_band::bandstop}, {"stop", filter_band::bandstop},
            {"bands", filter_band::bandstop},    {"bs", filter_band::bandstop}};
        filter_band band = filter_band::lowpass;
        if (const auto* b = get(2, "btype")) {
          const auto* name = std::get_if<std::string>(&b->first.v);
          if (!name || !bands.count(*name))
            bad_call(fn, at, "btype must be 'lowpass', 'highpass', 'bandpass' or 'bandstop'");
          band = bands.at(*name);
        }
        if (const auto* an = get(3, "analog"); an && bool_of(an->first, fn, an->second))
          bad_call(fn, at, "analog filters are not supported (digital only)");
        std::string output = "ba";
        if (const auto* o = get(4, "output")) {
          const auto* name = std::get_if<std::string>(&o->first.v);
          if (!name || (*name != "ba" && *name != "sos"))
            bad_call(fn, at, "output must be 'ba' or 'sos' ('zpk' is not supported)");
          output = *name;
        }
        std::optional<double> fs;
        if (const auto* f = get(5, "fs"); f && !std::holds_alternative<none_t>(f->first.v))
          fs = number_of(f->first, fn, f->second);
        const int order = small_int_of(nv, fn, nt);
        if (output == "sos") {
          const sos_t sos = butter(order, wn, band, fs);
          std::vector<double> flat;
          for (const auto& row : sos) flat.insert(flat.end(), row.begin(), row.end());
          result = value{float64_array(flat, {static_cast<index_t>(sos.size()), 6})};
        } else {
          const auto [b, a] = butter_ba(order, wn, band, fs);
          result = value{tuple_t{value{float64_array(b, {static_cast<index_t>(b.size())})},
                                 value{float64_array(a, {static_cast<index_t>(a.size())})}}};
        }
      } else {
        return false;
      }
      return true;
    });
  }

  // A tuple's items, or the value itself as the one item.
  static tuple_t tuple_or_one(const value& v) {
    if (const auto* items = std::get_if<tuple_t>(&v.v)) return *items;
    return {v};
  }

  // An integer or a tuple of integers (axes).
  std::vector<int> ints_of(const value& v, const std::string& fn, const token& at) {
    std::vector<int> out;
    for (const value& item : tuple_or_one(v)) out.push_back(small_int_of(item, fn, at));
    return out;
  }

  // NumPy's pad_width: n, (n,), (before, after), or ((before, after), …) one per axis.
  std::vector<std::pair<index_t, index_t>> pad_widths(const value& v, const std::string& fn,
                                                      const token& at) {
    const tuple_t items = tuple_or_one(v);
    std::vector<std::pair<index_t, index_t>> out;
    if (!items.empty() && std::holds_alternative<tuple_t>(items.front().v)) {
      for (const value& pair : items) {
        const tuple_t ends = tuple_or_one(pair);
        if (ends.size() != 2 && ends.size() != 1)
          bad_call(fn, at, "each pad width is (before, after)");
        out.push_back({int_of(ends.front(), fn, at), int_of(ends.back(), fn, at)});
      }
      return out;
    }
    if (items.size() == 1) return {{int_of(items[0], fn, at), int_of(items[0], fn, at)}};
    if (items.size() == 2) return {{int_of(items[0], fn, at), int_of(items[1], fn, at)}};
    bad_call(fn, at, "pad_width must be n, (before, after) or ((before, after), ...) per axis");
  }

  // The arrays of a list or tuple argument (concatenate's, stack's, …).
  std::vector<array> arrays_of(const value& v, const std::string& fn, const token& at) {
    const auto* items = std::get_if<tuple_t>(&v.v);
    if (!items) {
      const std::string what = type_name(v);
      bad_call(fn, at,
               "expected a list or tuple of arrays, not " +
                   std::string(what == "array" ? "an " : "a ") + what);
    }
    std::vector<array> out;
    for (const value& item : *items) out.push_back(to_array(item, at));
    return out;
  }

  block_item block_of(const value& v, const token& at) {
    if (const auto* items = std::get_if<tuple_t>(&v.v)) {
      std::vector<block_item> entries;
      for (const value& item : *items) entries.push_back(block_of(item, at));
      return block_item(std::move(entries));
    }
    return block_item(to_array(v, at));
  }

  // A number (an integer or a float literal, or integer arithmetic on literals).
  double number_of(const value& v, const std::string& fn, const token& at) {
    if (const auto* s = std::get_if<scalar>(&v.v)) {
      if (const auto* d = std::get_if<double>(&s->value)) return *d;
    }
    if (const std::optional<index_t> i = integer_of(v)) return static_cast<double>(*i);
    bad_call(fn, at, "expected a number");
  }

  dtype dtype_of(const value& v, const std::string& fn, const token& at) {
    if (const auto* d = std::get_if<dtype>(&v.v)) return *d;
    if (const auto* s = std::get_if<std::string>(&v.v)) return parse_dtype(*s);
    bad_call(fn, at, "expected a dtype such as 'f4' or float32");
  }

  // Runs `build`, reporting the library's errors as this call's, at its column.
  template <class F>
  auto placed(const std::string& fn, const token& at, F&& build) -> decltype(build()) {
    try {
      return build();
    } catch (const shape_error& e) {
      bad_call(fn, at, e.what());
    } catch (const type_error& e) {
      bad_call(fn, at, e.what());
    } catch (const value_error& e) {
      if (std::string(e.what()).rfind("column ", 0) == 0) throw;  // already placed
      bad_call(fn, at, e.what());
    }
  }

  // arange, linspace, eye, identity, tri, indices, zeros, ones, full, empty and the _like
  // forms, with NumPy's arguments and a `chunks` keyword (an int or a tuple).
  bool creation_function(const std::string& fn, arguments& args, const token& at, value& result) {
    static const std::set<std::string> names = {
        "arange", "linspace", "eye",   "identity",   "tri",       "indices",   "zeros",
        "ones",   "full",     "empty", "zeros_like", "ones_like", "full_like", "empty_like"};
    if (!names.count(fn)) return false;
    auto get = [&](std::size_t i, const char* keyword) { return args.get(i, keyword); };
    auto require = [&](std::size_t i, const char* keyword) -> const std::pair<value, token>& {
      return required(args, i, keyword, fn, at);
    };
    auto only = [&](std::size_t most, std::initializer_list<std::string_view> keywords) {
      std::vector<std::string_view> known(keywords);
      known.insert(known.end(), {"chunks", "dtype"});
      if (args.positional.size() > most) bad_call(fn, at, "too many arguments");
      for (const auto& entry : args.keywords) {
        if (std::find(known.begin(), known.end(), entry.first) == known.end())
          bad_call(fn, at, "unexpected keyword argument '" + entry.first + "'");
      }
    };
    const auto* dt = get(99, "dtype");
    auto dtype_or = [&](scalar_kind k) {
      if (!dt || std::holds_alternative<none_t>(dt->first.v)) return make_dtype(k);
      return dtype_of(dt->first, fn, dt->second);
    };
    shape_t chunks;
    if (const auto* c = get(99, "chunks")) {
      for (const value& item : tuple_or_one(c->first))
        chunks.push_back(int_of(item, fn, c->second));
    }
    auto shape_of = [&](const std::pair<value, token>& v) {
      shape_t shape;
      for (const value& item : tuple_or_one(v.first)) shape.push_back(int_of(item, fn, v.second));
      return shape;
    };
    auto optional_int = [&](std::size_t i, const char* keyword) -> std::optional<index_t> {
      const auto* a = get(i, keyword);
      if (!a || std::holds_alternative<none_t>(a->first.v)) return std::nullopt;
      return int_of(a->first, fn, a->second);
    };
    const index_t chunk = chunks.empty() ? 0 : chunks.front();
    return placed(fn, at, [&] {
      if (fn == "arange") {
        only(4, {"start", "stop", "step"});
        const auto& first = require(0, "start");
        const auto* stop = get(1, "stop");
        const auto* step = get(2, "step");
        // All integers: int64, as NumPy; any float: float64.
        bool integers = integer_of(first.first).has_value();
        for (const auto* a : {stop, step}) integers = integers && (!a || integer_of(a->first));
        const dtype t = dtype_or(integers ? scalar_kind::int64 : scalar_kind::float64);
        const double a = number_of(first.first, fn, first.second);
        result =
            value{stop ? arange(a, number_of(stop->first, fn, stop->second),
                                step ? number_of(step->first, fn, step->second) : 1.0, t, chunk)
                       : arange(0.0, a, 1.0, t, chunk)};
      } else if (fn == "linspace") {
        only(4, {"start", "stop", "num", "endpoint"});
        const auto& a = require(0, "start");
        const auto& b = require(1, "stop");
        const auto* num = get(2, "num");
        const auto* endpoint = get(3, "endpoint");
        result = value{linspace(number_of(a.first, fn, a.second), number_of(b.first, fn, b.second),
                                num ? int_of(num->first, fn, num->second) : 50,
                                endpoint ? bool_of(endpoint->first, fn, endpoint->second) : true,
                                dtype_or(scalar_kind::float64), chunk)};
      } else if (fn == "eye" || fn == "tri") {
        only(3, {"N", "M", "k"});
        const auto& n = require(0, "N");
        const std::optional<index_t> m = optional_int(1, "M");
        const index_t k = optional_int(2, "k").value_or(0);
        const dtype t = dtype_or(scalar_kind::float64);
        const index_t rows = int_of(n.first, fn, n.second);
        result = value{fn == "eye" ? eye(rows, m, k, t, chunks) : tri(rows, m, k, t, chunks)};
      } else if (fn == "identity") {
        only(1, {"n"});
        const auto& n = require(0, "n");
        result =
            value{identity(int_of(n.first, fn, n.second), dtype_or(scalar_kind::float64), chunks)};
      } else if (fn == "indices") {
        only(1, {"dimensions"});
        result = value{
            indices(shape_of(require(0, "dimensions")), dtype_or(scalar_kind::int64), chunks)};
      } else if (fn == "zeros" || fn == "ones" || fn == "empty" || fn == "full") {
        const bool is_full = fn == "full";
        only(is_full ? 2 : 1, {"shape", "fill_value"});
        const shape_t shape = shape_of(require(0, "shape"));
        scalar fill = fn == "ones" ? scalar(1) : scalar(0);
        scalar_kind kind = scalar_kind::float64;
        if (is_full) {
          const auto& [v, t] = require(1, "fill_value");
          const auto* s = std::get_if<scalar>(&v.v);
          if (!s) bad_call(fn, at, "fill_value must be one number");
          fill = *s;
          kind = std::holds_alternative<bool>(s->value)           ? scalar_kind::bool_
                 : std::holds_alternative<std::int64_t>(s->value) ? scalar_kind::int64
                                                                  : scalar_kind::float64;
        }
        if (!chunks.empty() && chunks.size() != shape.size()) {
          bad_call(fn, at,
                   "chunks " + to_string(chunks) + " do not match shape " + to_string(shape));
        }
        result =
            value{full(shape, fill, dtype_or(kind), chunks.empty() ? auto_chunks(shape) : chunks)};
      } else {  // the _like forms
        const bool is_full = fn == "full_like";
        only(is_full ? 2 : 1, {"a", "fill_value"});
        const auto& [v, t] = require(0, "a");
        scalar fill = fn == "ones_like" ? scalar(1) : scalar(0);
        if (is_full) {
          const auto& [fv, ft] = require(1, "fill_value");
          const auto* s = std::get_if<scalar>(&fv.v);
          if (!s) bad_call(fn, at, "fill_value must be one number");
          fill = *s;
        }
        std::optional<dtype> type;
        if (dt && !std::holds_alternative<none_t>(dt->first.v))
          type = dtype_of(dt->first, fn, dt->second);
        array made = full_like(to_array(v, t), fill, type);
        if (!chunks.empty()) made = rechunk(made, chunks);
        result = value{made};
      }
      return true;
    });
  }

  // concatenate, stack, hstack, vstack, dstack, block, expand_dims, atleast_Nd.
  // random(seed) / default_rng(seed) and the methods of the generator it gives, with NumPy
  // Generator's arguments and a `chunks` keyword (also `dtype` on the float distributions).
  value random_method(const std::string& method, std::uint64_t seed, const arguments& args,
                      const token& at) {
    const std::string fn = "random." + method;
    const random_generator g(seed);
    shape_t chunks;
    if (const auto* c = args.get(99, "chunks")) {
      for (const value& item : tuple_or_one(c->first))
        chunks.push_back(int_of(item, fn, c->second));
    }
    auto size = [&](std::size_t i) {
      shape_t shape;
      const auto* a = args.get(i, "size");
      if (!a || std::holds_alternative<none_t>(a->first.v)) return shape;  // 0-d, as NumPy
      for (const value& item : tuple_or_one(a->first)) shape.push_back(int_of(item, fn, a->second));
      return shape;
    };
    auto number = [&](std::size_t i, const char* keyword, double otherwise) {
      const auto* a = args.get(i, keyword);
      return a ? number_of(a->first, fn, a->second) : otherwise;
    };
    auto type = [&](std::size_t i, scalar_kind otherwise) {
      const auto* a = args.get(i, "dtype");
      if (!a || std::holds_alternative<none_t>(a->first.v)) return make_dtype(otherwise);
      return dtype_of(a->first, fn, a->second);
    };
    return placed(fn, at, [&]() -> value {
      if (method == "random" || method == "standard_normal") {
        accept_only(args, 2, {"size", "dtype", "chunks"}, fn, at);
        const shape_t shape = size(0);
        const dtype t = type(1, scalar_kind::float64);
        return value{method == "random" ? g.random(shape, t, chunks)
                                        : g.standard_normal(shape, t, chunks)};
      }
      if (method == "uniform" || method == "normal") {  // (low, high) or (loc, scale)
        const bool uniform = method == "uniform";
        const char* first = uniform ? "low" : "loc";
        const char* second = uniform ? "high" : "scale";
        accept_only(args, 3, {first, second, "size", "dtype", "chunks"}, fn, at);
        const double a = number(0, first, 0.0), b = number(1, second, 1.0);
        const shape_t shape = size(2);
        const dtype t = type(99, scalar_kind::float64);
        return value{uniform ? g.uniform(a, b, shape, t, chunks)
                             : g.normal(a, b, shape, t, chunks)};
      }
      if (method == "integers") {
        accept_only(args, 5, {"low", "high", "size", "dtype", "endpoint", "chunks"}, fn, at);
        const auto& low = required(args, 0, "low", fn, at);
        const auto* high = args.get(1, "high");
        const auto* endpoint = args.get(4, "endpoint");
        index_t lo = int_of(low.first, fn, low.second), hi = 0;
        if (high && !std::holds_alternative<none_t>(high->first.v)) {
          hi = int_of(high->first, fn, high->second);
        } else {
          std::swap(lo, hi);  // integers(high): [0, high)
        }
        return value{g.integers(lo, hi, size(2), type(3, scalar_kind::int64), chunks,
                                endpoint && bool_of(endpoint->first, fn, endpoint->second))};
      }
      accept_only(args, 2, {"lam", "size", "chunks"}, fn, at);  // poisson
      return value{g.poisson(number(0, "lam", 1.0), size(1), chunks)};
    });
  }

  bool join_function(const std::string& fn, arguments& args, const token& at, value& result) {
    auto only = [&](std::size_t most, std::initializer_list<std::string_view> keywords) {
      accept_only(args, most, keywords, fn, at);
    };
    auto get = [&](std::size_t i, const char* keyword) { return args.get(i, keyword); };
    auto require = [&](std::size_t i, const char* keyword) -> const std::pair<value, token>& {
      return required(args, i, keyword, fn, at);
    };
    auto axis = [&](std::size_t i) {
      const auto* a = get(i, "axis");
      if (!a) return 0;
      if (std::holds_alternative<none_t>(a->first.v)) {
        bad_call(fn, at, "axis=None is not supported");
      }
      return small_int_of(a->first, fn, a->second);
    };
    return placed(fn, at, [&] {
      if (fn == "concatenate" || fn == "stack") {
        only(2, {"arrays", "axis"});
        const auto& [v, t] = require(0, "arrays");
        std::vector<array> arrays = arrays_of(v, fn, t);
        const auto* ax = get(1, "axis");
        if (fn == "concatenate" && ax && std::holds_alternative<none_t>(ax->first.v)) {
          for (array& a : arrays) a = ravel(a);  // NumPy joins the flattened arrays
          result = value{concatenate(arrays, 0)};
        } else {
          result = value{fn == "stack" ? stack(arrays, axis(1)) : concatenate(arrays, axis(1))};
        }
      } else if (fn == "hstack" || fn == "vstack" || fn == "dstack") {
        only(1, {"tup"});
        const auto& [v, t] = require(0, "tup");
        const std::vector<array> arrays = arrays_of(v, fn, t);
        result = value{fn == "hstack"   ? hstack(arrays)
                       : fn == "vstack" ? vstack(arrays)
                                        : dstack(arrays)};
      } else if (fn == "block") {
        only(1, {"arrays"});
        const auto& [v, t] = require(0, "arrays");
        result = value{block(block_of(v, t))};
      } else if (fn == "expand_dims") {
        only(2, {"a", "axis"});
        const auto& [v, t] = require(0, "a");
        const auto& [ax, axt] = require(1, "axis");
        result = value{expand_dims(to_array(v, t), small_int_of(ax, fn, axt))};
      } else if (fn == "atleast_1d" || fn == "atleast_2d" || fn == "atleast_3d") {
        only(1, {});
        const auto& [v, t] = require(0, "arys");
        const array a = to_array(v, t);
        result = value{fn == "atleast_1d"   ? atleast_1d(a)
                       : fn == "atleast_2d" ? atleast_2d(a)
                                            : atleast_3d(a)};
      } else if (fn == "squeeze" || fn == "flip") {
        only(2, {"a", "axis", "m"});
        const auto& [v, t] = require(0, fn == "flip" ? "m" : "a");
        std::optional<std::vector<int>> axes;
        if (const auto* ax = get(1, "axis"); ax && !std::holds_alternative<none_t>(ax->first.v))
          axes = ints_of(ax->first, fn, ax->second);
        result = value{fn == "flip" ? flip(to_array(v, t), axes) : squeeze(to_array(v, t), axes)};
      } else if (fn == "swapaxes") {
        only(3, {"a", "axis1", "axis2"});
        const auto& [v, t] = require(0, "a");
        const auto& [a1, t1] = require(1, "axis1");
        const auto& [a2, t2] = require(2, "axis2");
        result =
            value{swapaxes(to_array(v, t), small_int_of(a1, fn, t1), small_int_of(a2, fn, t2))};
      } else if (fn == "moveaxis") {
        only(3, {"a", "source", "destination"});
        const auto& [v, t] = require(0, "a");
        const auto& [src, st] = require(1, "source");
        const auto& [dst, dt] = require(2, "destination");
        result = value{moveaxis(to_array(v, t), ints_of(src, fn, st), ints_of(dst, fn, dt))};
      } else if (fn == "roll") {
        only(3, {"a", "shift", "axis"});
        const auto& [v, t] = require(0, "a");
        const auto& [sh, sht] = require(1, "shift");
        std::vector<int> axes;
        if (const auto* ax = get(2, "axis"); ax && !std::holds_alternative<none_t>(ax->first.v))
          axes = ints_of(ax->first, fn, ax->second);
        std::vector<index_t> shifts;
        for (const value& item : tuple_or_one(sh)) shifts.push_back(int_of(item, fn, sht));
        result = value{roll(to_array(v, t), shifts, axes)};
      } else if (fn == "reshape") {
        // np.reshape(a, (2, 3)), a.reshape((2, 3)), a.reshape(2, 3), a.reshape(-1)
        const auto& [v, t] = require(0, "a");
        for (const auto& entry : args.keywords) {
          if (entry.first != "shape" && entry.first != "newshape" && entry.first != "a")
            bad_call(fn, at, "unexpected keyword argument '" + entry.first + "'");
        }
        shape_t extents;
        if (args.positional.size() > 2) {
          for (std::size_t i = 1; i < args.positional.size(); ++i)
            extents.push_back(int_of(args.positional[i].first, fn, args.positional[i].second));
        } else {
          const auto* sh = get(1, "shape");
          if (!sh) sh = get(99, "newshape");
          if (!sh) bad_call(fn, at, "missing argument 'shape'");
          for (const value& item : tuple_or_one(sh->first))
            extents.push_back(int_of(item, fn, sh->second));
        }
        result = value{reshape(to_array(v, t), extents)};
      } else if (fn == "repeat") {
        only(3, {"a", "repeats", "axis"});
        const auto& [v, t] = require(0, "a");
        const auto& [rp, rt] = require(1, "repeats");
        std::vector<index_t> counts;
        for (const value& item : tuple_or_one(rp)) counts.push_back(int_of(item, fn, rt));
        std::optional<int> d;
        if (const auto* ax = get(2, "axis"); ax && !std::holds_alternative<none_t>(ax->first.v))
          d = small_int_of(ax->first, fn, ax->second);
        result = value{repeat(to_array(v, t), counts, d)};
      } else if (fn == "ravel" || fn == "flatten") {
        only(1, {"a"});
        const auto& [v, t] = require(0, "a");
        result = value{ravel(to_array(v, t))};
      } else if (fn == "broadcast_to" || fn == "tile") {
        only(2, {"array", "shape", "A", "reps"});
        const auto& [v, t] = require(0, fn == "tile" ? "A" : "array");
        const auto& [sh, sht] = require(1, fn == "tile" ? "reps" : "shape");
        shape_t extents;
        for (const value& item : tuple_or_one(sh)) extents.push_back(int_of(item, fn, sht));
        result = value{fn == "tile" ? tile(to_array(v, t), extents)
                                    : broadcast_to(to_array(v, t), extents)};
      } else if (fn == "take" || fn == "compress") {
        const bool is_take = fn == "take";
        only(3, {"a", "indices", "condition", "axis"});
        const auto& [first, ft] = require(0, is_take ? "a" : "condition");
        const auto& [second, st] = require(1, is_take ? "indices" : "a");
        array a = to_array(is_take ? first : second, is_take ? ft : st);
        const auto* ax = get(2, "axis");
        const bool no_axis = !ax || std::holds_alternative<none_t>(ax->first.v);
        if (no_axis) a = ravel(a);  // NumPy works on the flattened array
        const int d = no_axis ? 0 : small_int_of(ax->first, fn, ax->second);
        const value& index = is_take ? second : first;
        const token& it = is_take ? st : ft;
        if (const auto* items = std::get_if<tuple_t>(&index.v)) {
          std::vector<index_t> ints;
          std::vector<bool> flags;
          for (const value& item : *items) {
            if (is_take) {
              ints.push_back(int_of(item, fn, it));
            } else {
              flags.push_back(bool_of(item, fn, it));
            }
          }
          result = value{is_take ? take(a, ints, d) : compress(flags, a, d)};
        } else {
          const array idx = to_array(index, it);
          result = value{is_take ? take(a, idx, d, build_) : compress(idx, a, d, build_)};
        }
      } else if (fn == "pad") {
        only(3, {"array", "pad_width", "mode", "constant_values"});
        const auto& [v, t] = require(0, "array");
        const auto& [w, wt] = require(1, "pad_width");
        pad_mode mode = pad_mode::constant;
        if (const auto* m = get(2, "mode")) {
          const auto* name = std::get_if<std::string>(&m->first.v);
          static const std::map<std::string, pad_mode> modes = {{"constant", pad_mode::constant},
                                                                {"edge", pad_mode::edge},
                                                                {"reflect", pad_mode::reflect},
                                                                {"symmetric", pad_mode::symmetric},
                                                                {"wrap", pad_mode::wrap}};
          if (!name || !modes.count(*name)) {
            bad_call(fn, at,
                     "mode must be one of 'constant', 'edge', 'reflect', 'symmetric', 'wrap'");
          }
          mode = modes.at(*name);
        }
        scalar constant = 0;
        if (const auto* c = get(99, "constant_values")) {
          const auto* s = std::get_if<scalar>(&c->first.v);
          if (!s) bad_call(fn, at, "constant_values must be one number");
          if (mode != pad_mode::constant)
            bad_call(fn, at, "constant_values applies to mode 'constant' only");
          constant = *s;
        }
        result = value{pad(to_array(v, t), pad_widths(w, fn, wt), mode, constant)};
      } else {
        return false;
      }
      return true;
    });
  }

  // a[i, j, …]: several integer arrays (lists, inputs, expressions) as the leading subscripts
  // index pointwise (broadcast together, as NumPy and dask's vindex); the subscripts after
  // them index the trailing axes.
  value pointwise(const array& a, const std::pair<value, token>& first, std::size_t slot,
                  const std::vector<std::pair<value, token>>& others,
                  const std::vector<index_spec>& specs) {
    if (slot != 0) {
      syntax_error(text_, first.second.column,
                   "several index arrays must be the leading subscripts (as a[i, j, 2:5])");
    }
    std::vector<array> indices;
    auto index_array = [&](const std::pair<value, token>& item) {
      if (const auto* list = std::get_if<tuple_t>(&item.first.v)) {
        std::vector<std::int64_t> ints;
        for (const value& x : *list) {
          const std::optional<index_t> i = integer_of(x);
          if (!i) syntax_error(text_, item.second.column, "pointwise index lists hold integers");
          ints.push_back(*i);
        }
        return from_buffer(std::as_bytes(std::span<const std::int64_t>(ints)),
                           {static_cast<index_t>(ints.size())}, make_dtype(scalar_kind::int64));
      }
      const array i = to_array(item.first, item.second);
      if (i.dtype().is_bool()) {
        syntax_error(text_, item.second.column,
                     "a boolean array cannot index pointwise with others; use one mask");
      }
      return i;
    };
    indices.push_back(index_array(first));
    for (const auto& item : others) indices.push_back(index_array(item));
    try {
      array out = vindex(a, indices, build_);
      // The points' axes, then what the subscripts after the arrays leave of the others.
      const std::size_t point_axes = out.ndim() - (a.ndim() - indices.size());
      std::vector<index_spec> rest(point_axes, all);
      rest.insert(rest.end(), specs.begin() + static_cast<std::ptrdiff_t>(indices.size()),
                  specs.end());
      return value{out(rest)};
    } catch (const shape_error& e) {
      throw_error<shape_error>("column ", first.second.column, " of '",
                               excerpt(text_, first.second.column), "': ", e.what());
    } catch (const type_error& e) {
      throw_error<type_error>("column ", first.second.column, " of '",
                              excerpt(text_, first.second.column), "': ", e.what());
    }
  }

  // After '[': subscripts up to ']'. One of them may be an integer or boolean array (a list,
  // an input, an expression): that axis is taken after the basic indexing of the others.
  value subscript(const value& v, const token& at) {
    if (const auto* items = std::get_if<tuple_t>(&v.v)) {  // meshgrid(x, y)[0]: one item
      const token where = peek();
      const value index = expression();
      expect("]");
      const std::optional<index_t> i = integer_of(index);
      const auto n = static_cast<index_t>(items->size());
      if (!i) syntax_error(text_, where.column, "a tuple is indexed by one integer");
      if (*i < -n || *i >= n) {
        syntax_error(text_, where.column,
                     "tuple index " + std::to_string(*i) + " out of range (" + std::to_string(n) +
                         " items)");
      }
      return (*items)[static_cast<std::size_t>(*i < 0 ? *i + n : *i)];
    }
    const array a = to_array(v, at);
    std::vector<index_spec> specs;
    std::optional<std::pair<value, token>> fancy;
    std::size_t fancy_slot = 0;
    std::vector<std::pair<value, token>> others;  // index arrays after the first
    while (true) {
      const token start = peek();
      if (auto item = subscript_item()) {
        specs.push_back(*item);
      } else {
        if (fancy) {
          if (specs.size() != fancy_slot + 1 + others.size()) {
            syntax_error(text_, start.column,
                         "several index arrays must be the leading subscripts, side by side "
                         "(pointwise, as a[i, j] or a[i, j, 2:5]); index one axis at a time "
                         "otherwise, as a[idx][:, idx2]");
          }
          others.push_back({fancy_value_, start});
        } else {
          fancy = {fancy_value_, start};
          fancy_slot = specs.size();
        }
        specs.push_back(all);
      }
      if (accept("]")) break;
      expect(",");
      if (accept("]")) break;
    }
    if (!fancy) return value{a(specs)};
    if (!others.empty()) return pointwise(a, *fancy, fancy_slot, others, specs);
    // The axis the array indexes, after the subscripts before it.
    std::size_t consumed = 0;
    for (const index_spec& sp : specs) {
      if (sp.what != index_spec::kind::ellipsis && sp.what != index_spec::kind::newaxis) ++consumed;
    }
    std::size_t axis = 0;
    for (std::size_t k = 0; k < fancy_slot; ++k) {
      switch (specs[k].what) {
        case index_spec::kind::slice:
        case index_spec::kind::newaxis:
          ++axis;
          break;
        case index_spec::kind::ellipsis:
          axis += a.ndim() > consumed ? a.ndim() - consumed : 0;
          break;
        case index_spec::kind::integer:
          break;
      }
    }
    const array basic = a(specs);
    const value& index = fancy->first;
    const token& where = fancy->second;
    const int d = static_cast<int>(axis);
    const index_t extent = basic.shape()[axis];
    auto mask_length = [&](index_t length) {
      if (length != extent) {
        throw_error<shape_error>("column ", where.column, " of '", excerpt(text_, where.column),
                                 "': boolean index did not match indexed array along axis ", axis,
                                 "; the axis is ", extent, " long but the boolean index is ",
                                 length);
      }
    };
    if (const auto* items = std::get_if<tuple_t>(&index.v)) {
      std::vector<index_t> ints;
      std::vector<bool> flags;
      for (const value& item : *items) {
        const auto* sc = std::get_if<scalar>(&item.v);
        if (sc && std::holds_alternative<bool>(sc->value)) {
          flags.push_back(std::get<bool>(sc->value));
        } else if (const std::optional<index_t> i = integer_of(item)) {
          ints.push_back(*i);
        } else {
          syntax_error(text_, where.column, "an index list holds integers or booleans");
        }
      }
      if (!flags.empty() && !ints.empty())
        syntax_error(text_, where.column, "an index list holds integers or booleans, not both");
      if (!flags.empty()) {
        mask_length(static_cast<index_t>(flags.size()));
        return value{compress(flags, basic, d)};
      }
      return value{take(basic, ints, d)};
    }
    const array idx = to_array(index, where);
    if (idx.dtype().is_bool()) {
      if (idx.ndim() == 0)
        syntax_error(text_, where.column, "a 0-d boolean index is not supported");
      // A mask of k axes selects along axes [axis, axis + k) of the array, which become one.
      const shape_t& shape = basic.shape();
      const std::size_t k = idx.ndim();
      if (axis + k > shape.size()) {
        throw_error<shape_error>("column ", where.column, " of '", excerpt(text_, where.column),
                                 "': too many indices: a boolean index of shape ",
                                 to_string(idx.shape()), " on axis ", axis,
                                 " of an array of shape ", to_string(shape));
      }
      for (std::size_t j = 0; j < k; ++j) {
        if (idx.shape()[j] != shape[axis + j]) {
          throw_error<shape_error>(
              "column ", where.column, " of '", excerpt(text_, where.column),
              "': boolean index did not match indexed array along axis ", axis + j,
              "; the axis is ", shape[axis + j], " long but the boolean index is ", idx.shape()[j],
              " (index shape ", to_string(idx.shape()), ", array shape ", to_string(shape), ")");
        }
      }
      if (k == 1) return value{compress(idx, basic, d, build_)};
      if (k == shape.size()) return value{extract(idx, basic, build_)};  // a[a > 0]: 1-D, C order
      shape_t merged(shape.begin(), shape.begin() + static_cast<std::ptrdiff_t>(axis));
      merged.push_back(element_count(idx.shape()));
      merged.insert(merged.end(), shape.begin() + static_cast<std::ptrdiff_t>(axis + k),
                    shape.end());
      return value{compress(ravel(idx), basic.reshape(merged), d, build_)};
    }
    return value{take(basic, idx, d, build_)};
  }

  // One subscript, or nullopt for an array index (left in fancy_value_).
  std::optional<index_spec> subscript_item() {
    if (peek().kind == tok::op && peek().text == ".") {
      next();
      expect(".");
      expect(".");
      return ellipsis;
    }
    if (peek().kind == tok::name && (peek().text == "None" || peek().text == "newaxis")) {
      next();
      return newaxis;
    }
    std::optional<index_t> start;
    if (!(peek().kind == tok::op &&
          (peek().text == ":" || peek().text == "]" || peek().text == ","))) {
      const token t = peek();
      value v = expression();
      const std::optional<index_t> integer = integer_of(v);
      if (!integer && !std::holds_alternative<none_t>(v.v)) {
        if (peek().kind == tok::op && peek().text == ":")
          syntax_error(text_, t.column, "slice indices must be integers or None");
        if (std::holds_alternative<tuple_t>(v.v) || std::holds_alternative<array>(v.v)) {
          fancy_value_ = std::move(v);
          return std::nullopt;
        }
        syntax_error(text_, t.column,
                     "indices must be integers, slices, ..., None, or integer or boolean arrays");
      }
      start = integer;
    }
    if (!accept(":")) {
      if (!start) unexpected();
      return index_spec(static_cast<long long>(*start));
    }
    std::optional<index_t> stop = optional_index();
    std::optional<index_t> step;
    if (accept(":")) step = optional_index();
    if (step && *step == 0) syntax_error(text_, peek().column, "slice step cannot be zero");
    return index_spec(chunkarr::slice{start, stop, step});
  }

  std::optional<index_t> optional_index() {
    if (peek().kind == tok::op &&
        (peek().text == ":" || peek().text == "]" || peek().text == ",")) {
      return std::nullopt;
    }
    const token t = peek();
    value v = expression();
    if (std::holds_alternative<none_t>(v.v)) return std::nullopt;
    const std::optional<index_t> i = integer_of(v);
    if (!i) syntax_error(text_, t.column, "slice indices must be integers or None");
    return i;
  }

  const std::string& text_;
  value fancy_value_;  // the array index subscript_item found
  std::vector<token> tokens_;
  const std::map<std::string, array>& inputs_;
  compute_options build_;  // for what building computes: index arrays, masks, their counts
  std::size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

dtype parse_dtype(const std::string& text) {
  static const std::map<std::string, scalar_kind> names = {
      {"bool", scalar_kind::bool_},     {"bool_", scalar_kind::bool_},
      {"?", scalar_kind::bool_},        {"b1", scalar_kind::bool_},
      {"int8", scalar_kind::int8},      {"i1", scalar_kind::int8},
      {"int16", scalar_kind::int16},    {"i2", scalar_kind::int16},
      {"int32", scalar_kind::int32},    {"i4", scalar_kind::int32},
      {"int64", scalar_kind::int64},    {"i8", scalar_kind::int64},
      {"int", scalar_kind::int64},      {"uint8", scalar_kind::uint8},
      {"u1", scalar_kind::uint8},       {"uint16", scalar_kind::uint16},
      {"u2", scalar_kind::uint16},      {"uint32", scalar_kind::uint32},
      {"u4", scalar_kind::uint32},      {"uint64", scalar_kind::uint64},
      {"u8", scalar_kind::uint64},      {"float32", scalar_kind::float32},
      {"f4", scalar_kind::float32},     {"float64", scalar_kind::float64},
      {"f8", scalar_kind::float64},     {"float", scalar_kind::float64},
      {"double", scalar_kind::float64}, {"single", scalar_kind::float32}};
  if (auto it = names.find(text); it != names.end()) return make_dtype(it->second);
  if (!text.empty() && (text[0] == '<' || text[0] == '>' || text[0] == '|' || text[0] == '=')) {
    return make_dtype(dtype::from_typestr(text).kind);
  }
  throw_error<type_error>("data type '", text, "' not understood");
}

std::vector<std::string> expression_names(const std::string& text) {
  const std::vector<token> tokens = tokenize(text);
  std::vector<std::string> out;
  for (std::size_t i = 0; i + 1 < tokens.size(); ++i) {
    const token& t = tokens[i];
    if (t.kind != tok::name) continue;
    const token& next = tokens[i + 1];
    if (i > 0 && tokens[i - 1].kind == tok::op && tokens[i - 1].text == ".") continue;
    if (next.kind == tok::op && (next.text == "(" || next.text == "=" || next.text == "."))
      continue;
    if (std::find(out.begin(), out.end(), t.text) == out.end()) out.push_back(t.text);
  }
  return out;
}

std::string canonical_expression(const std::string& text) {
  const std::vector<token> tokens = tokenize(text);
  std::string out;
  const token* previous = nullptr;
  auto is_op = [](const token* t, std::string_view op) {
    return t && t->kind == tok::op && t->text == op;
  };
  auto operand_end = [](const token* t) {  // a token after which + and - are binary
    return t && (t->kind != tok::op || t->text == ")" || t->text == "]");
  };
  bool unary = false;  // the previous token was a unary sign
  for (std::size_t i = 0; i + 1 < tokens.size(); ++i) {
    const token& t = tokens[i];
    // np.sqrt, numpy.sqrt: sqrt (not after a dot: a.np is an attribute)
    if (t.kind == tok::name && (t.text == "np" || t.text == "numpy") &&
        is_op(&tokens[i + 1], ".") && !is_op(previous, ".") && i + 2 < tokens.size() &&
        tokens[i + 2].kind == tok::name) {
      ++i;  // the dot too
      continue;
    }
    std::string piece;
    if (t.kind == tok::string) {  // in single quotes, unless it holds one
      const char quote = t.text.find('\'') == std::string::npos ? '\'' : '"';
      piece = quote + t.text + quote;
    } else {
      piece = t.text;
    }
    bool space = false;
    if (previous) {
      const bool tight_after = is_op(previous, "(") || is_op(previous, "[") ||
                               is_op(previous, ".") || is_op(previous, "~") || unary ||
                               is_op(previous, ":");
      const bool tight_before =
          t.kind == tok::op &&
          (t.text == ")" || t.text == "]" || t.text == "," || t.text == "." || t.text == ":" ||
           ((t.text == "(" || t.text == "[") && operand_end(previous)));
      const bool keyword = is_op(&t, "=") || is_op(previous, "=");
      space = !tight_after && !tight_before && !keyword;
      // A dot beside a number would join it when read again ("0,. 25" is not "0, .25").
      const auto number = [](const token* k) {
        return k && (k->kind == tok::integer || k->kind == tok::real);
      };
      if ((is_op(previous, ".") && number(&t)) || (is_op(&t, ".") && number(previous)))
        space = true;
      // Nor may two operators join into another ("< =" is not "<=", "= ==" is not "== =").
      // Operators are read greedily, two characters at most: a one-character operator joins
      // the next one's first character when the two make an operator.
      if (previous->kind == tok::op && t.kind == tok::op && previous->text.size() == 1) {
        const std::string joined = previous->text + t.text.front();
        for (const char* two : {"**", "//", "<=", ">=", "==", "!="})
          if (joined == two) space = true;
      }
    }
    unary = t.kind == tok::op && (t.text == "-" || t.text == "+") && !operand_end(previous);
    if (space) out += ' ';
    out += piece;
    previous = &t;
  }
  return out;
}

array parse_expression(const std::string& text, const std::map<std::string, array>& inputs,
                       const compute_options& build) {
  parser p(text, inputs, build);
  return p.parse();
}

}  // namespace chunkarr
