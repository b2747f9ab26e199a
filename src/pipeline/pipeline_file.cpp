// Pipeline files (include/chunkarr/pipeline/pipeline_file.hpp): TOML through toml++
// (libtomlplusplus-dev), header-only here.
#include "chunkarr/pipeline/pipeline_file.hpp"

#include <algorithm>
#include <set>
#include <sstream>

#define TOML_HEADER_ONLY 1
#define TOML_EXCEPTIONS 1
#include <toml++/toml.h>

#include "chunkarr/core/error.hpp"
#include "chunkarr/io/hdf5.hpp"
#include "chunkarr/pipeline/expression.hpp"
#include "chunkarr/store/location.hpp"
#include "chunkarr/zarr/group.hpp"

namespace chunkarr {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void bad(const fs::path& file, const std::string& why) {
  throw_error<format_error>(file.string(), ": ", why);
}

std::string string_of(const toml::node& n, const fs::path& file, const std::string& where) {
  if (const auto* s = n.as_string()) return s->get();
  bad(file, where + " must be a string");
}

// A path as written in the pipeline file: relative to the file's directory.
std::string resolved(const fs::path& base, const std::string& location) {
  if (location.find("://") != std::string::npos) return location;
  if (const auto h5 = parse_hdf5_location(location)) {
    fs::path file = h5->file;
    if (file.is_relative()) file = base / file;
    return file.string() + ":" + h5->object;
  }
  const fs::path p(location);
  return (p.is_relative() ? base / p : p).lexically_normal().string();
}

// The attributes an input's values come with: the array's own, then each group's above it in
// its directory tree (the array's win).
nlohmann::json attributes_of(const std::string& location) {
  nlohmann::json out = nlohmann::json::object();
  auto add = [&out](const nlohmann::json& attrs) {
    if (!attrs.is_object()) return;
    for (const auto& item : attrs.items())
      if (!out.contains(item.key())) out[item.key()] = item.value();
  };
  if (const auto h5 = parse_hdf5_location(location)) {
    // The dataset's, then each group's up to the file's root group.
    std::string object = h5->object;
    while (true) {
      try {
        add(hdf5_attributes({h5->file, object}));
      } catch (const error&) {  // unreadable (or no HDF5 support): no names from there
      }
      if (object == "/" || object.empty()) break;
      const std::size_t slash = object.rfind('/');
      object = slash == 0 || slash == std::string::npos ? "/" : object.substr(0, slash);
    }
    return out;
  }
  if (location.find("://") != std::string::npos) return out;
  fs::path dir = fs::path(location).lexically_normal();
  if (dir.filename().empty()) dir = dir.parent_path();
  bool first = true;
  while (!dir.empty()) {
    const bool array = fs::exists(dir / ".zarray");
    const bool group = fs::exists(dir / ".zgroup");
    if (!(array && first) && !group) break;
    try {
      add(read_attributes(*make_directory_store(dir), ""));
    } catch (const error&) {  // unreadable attributes: no names from there
    }
    first = false;
    if (dir == dir.parent_path()) break;
    dir = dir.parent_path();
  }
  return out;
}

// `text` with each {NAME} replaced by attribute NAME.
std::string fill_template(const std::string& text, const nlohmann::json& attrs,
                          const std::string& step) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '{') {
      out += text[i];
      continue;
    }
    const std::size_t end = text.find('}', i);
    if (end == std::string::npos)
      throw_error<format_error>("step ", step, ": unclosed '{' in output '", text, "'");
    const std::string key = text.substr(i + 1, end - i - 1);
    if (!attrs.contains(key)) {
      std::string known;
      for (const auto& [k, v] : attrs.items()) known += (known.empty() ? "" : ", ") + k;
      throw_error<format_error>(
          "step ", step, ": output '", text, "' names {", key,
          "}, which no input's attributes hold (they hold: ", known.empty() ? "none" : known, ")");
    }
    const nlohmann::json& v = attrs[key];
    out += v.is_string() ? v.get<std::string>() : v.dump();
    i = end;
  }
  return out;
}

}  // namespace

pipeline pipeline::load(const fs::path& file) {
  toml::table doc;
  try {
    doc = toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    std::ostringstream why;
    why << "line " << e.source().begin.line << ": " << e.description();
    bad(file, why.str());
  }
  pipeline p;
  p.base = file.parent_path().empty() ? fs::path(".") : file.parent_path();
  for (const auto& [key, value] : doc) {
    if (key != "inputs" && key != "steps")
      bad(file, "unknown table '" + std::string(key.str()) + "' (inputs and steps are known)");
  }
  if (const toml::table* ins = doc["inputs"].as_table()) {
    for (const auto& [name, value] : *ins) {
      p.inputs[std::string(name.str())] =
          resolved(p.base, string_of(value, file, "inputs." + std::string(name.str())));
    }
  }
  const toml::table* steps = doc["steps"].as_table();
  if (!steps || steps->empty()) bad(file, "no [steps.NAME] tables");
  std::map<std::string, pipeline_step> by_name;
  std::vector<std::pair<std::uint32_t, std::string>> in_file;  // (line, name)
  for (const auto& [name_key, value] : *steps) {
    in_file.emplace_back(value.source().begin.line, std::string(name_key.str()));
    const std::string name(name_key.str());
    const toml::table* t = value.as_table();
    if (!t) bad(file, "steps." + name + " must be a table");
    if (p.inputs.contains(name)) bad(file, "step " + name + " has an input's name");
    pipeline_step s;
    s.name = name;
    bool has_expression = false, has_output = false;
    for (const auto& [k, v] : *t) {
      const std::string key(k.str());
      const std::string where = "steps." + name + "." + key;
      if (key == "expression") {
        s.expression = string_of(v, file, where);
        has_expression = true;
      } else if (key == "output") {
        s.output = string_of(v, file, where);
        has_output = true;
      } else if (key == "codec") {
        s.codec = string_of(v, file, where);
      } else if (key == "chunks") {
        const toml::array* a = v.as_array();
        if (!a) bad(file, where + " must be a list of positive integers");
        for (const toml::node& e : *a) {
          const auto n = e.value<std::int64_t>();
          if (!n || *n <= 0) bad(file, where + " must be a list of positive integers");
          s.chunks.push_back(*n);
        }
      } else {
        bad(file, "unknown key " + where + " (expression, output, codec and chunks are known)");
      }
    }
    if (!has_expression) bad(file, "steps." + name + " has no expression");
    if (!has_output) bad(file, "steps." + name + " has no output");
    by_name.emplace(name, std::move(s));
  }
  // Dependency order: a step after every step it reads (else in the file's order); a cycle is
  // refused.
  std::sort(in_file.begin(), in_file.end());
  std::map<std::string, std::vector<std::string>> reads;
  for (const auto& [name, s] : by_name) {
    for (const std::string& n : expression_names(s.expression)) {
      if (by_name.contains(n) || p.inputs.contains(n)) reads[name].push_back(n);
    }
    if (reads[name].empty()) {
      bad(file, "step " + name + " reads no input or step (its expression names none of them)");
    }
  }
  std::set<std::string> done;
  while (done.size() < by_name.size()) {
    bool progressed = false;
    for (const auto& [line, name] : in_file) {
      if (done.contains(name)) continue;
      const bool ready = std::all_of(reads[name].begin(), reads[name].end(), [&](const auto& n) {
        return p.inputs.contains(n) || done.contains(n);
      });
      if (!ready) continue;
      p.steps.push_back(by_name.at(name));
      done.insert(name);
      progressed = true;
      break;  // the earliest ready step first, every time
    }
    if (!progressed) {
      std::string cycle;
      for (const auto& [name, s] : by_name)
        if (!done.contains(name)) cycle += (cycle.empty() ? "" : ", ") + name;
      bad(file, "the steps " + cycle + " read each other in a cycle");
    }
  }
  for (pipeline_step& s : p.steps) {
    if (s.output.find("://") == std::string::npos && fs::path(s.output).is_relative())
      s.output = (p.base / s.output).lexically_normal().string();
  }
  return p;
}

std::vector<std::string> pipeline::reads(const pipeline_step& s) const {
  std::vector<std::string> out;
  for (const std::string& n : expression_names(s.expression)) {
    const bool step = std::any_of(steps.begin(), steps.end(),
                                  [&](const pipeline_step& t) { return t.name == n; });
    if (step || inputs.contains(n)) out.push_back(n);
  }
  return out;
}

std::vector<step_report> pipeline::run(const pipeline_run_options& options) const {
  std::vector<step_report> reports;
  std::map<std::string, std::string> location = inputs;  // names -> what they are read from
  std::map<std::string, nlohmann::json> attrs;
  std::map<std::string, bool> stale;  // steps that computed (or, dry, would compute) chunks
  for (const auto& [name, where] : inputs) attrs[name] = attributes_of(where);
  for (const pipeline_step& s : steps) {
    step_report r;
    r.name = s.name;
    r.forced = std::find(options.force.begin(), options.force.end(), s.name) != options.force.end();
    nlohmann::json a = nlohmann::json::object();
    std::map<std::string, array> operands;
    std::string stale_read;
    for (const std::string& n : reads(s)) {
      for (const auto& [k, v] : attrs[n].items())
        if (!a.contains(k)) a[k] = v;
      if (stale[n]) stale_read = n;
    }
    r.output = fill_template(s.output, a, s.name);
    attrs[s.name] = a;
    location[s.name] = r.output;
    if (options.dry_run && !stale_read.empty()) {
      // What it reads will change first: which of its chunks then change is not known yet.
      r.store.reason = "step " + stale_read + " is stale";
      stale[s.name] = true;
      reports.push_back(r);
      if (options.on_step) options.on_step(r);
      continue;
    }
    for (const std::string& n : reads(s)) operands.emplace(n, open_input(location.at(n)));
    const array value = parse_expression(s.expression, operands, options.compute);
    store_options o;
    o.chunks = s.chunks;
    o.codec = s.codec;
    o.incremental = true;
    o.force = r.forced;
    o.expression = canonical_expression(s.expression);
    o.input_names = input_names(value, operands);
    o.compute = options.compute;
    o.report = &r.store;
    if (options.dry_run)
      r.store = store_status(value, r.output, o);
    else
      store(value, r.output, o);
    stale[s.name] = !r.store.up_to_date;
    reports.push_back(r);
    if (options.on_step) options.on_step(r);
  }
  return reports;
}

std::string pipeline::graph() const {
  auto quoted = [](const std::string& s) { return nlohmann::json(s).dump(); };
  std::string out = "digraph pipeline {\n  rankdir=LR;\n";
  for (const auto& [name, where] : inputs) {
    out += "  " + quoted(name) + " [shape=cylinder, label=" + quoted(name + "\n" + where) + "];\n";
  }
  for (const pipeline_step& s : steps) {
    out += "  " + quoted(s.name) +
           " [shape=box, label=" + quoted(s.name + "\n" + s.expression + "\n-> " + s.output) +
           "];\n";
    for (const std::string& n : reads(s)) out += "  " + quoted(n) + " -> " + quoted(s.name) + ";\n";
  }
  return out + "}\n";
}

}  // namespace chunkarr
