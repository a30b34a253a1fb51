// Reading the config file and the TOML helpers its readers share.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/toml_util.h"
#include "dmarq/config/config_file.h"

namespace dmarq::config {
namespace {

// A config file is a few kB; anything this large is a wrong path.
constexpr std::uintmax_t kMaxConfigBytes = 1u << 20;

}  // namespace

std::string read_config_file(const std::string& path) {
  std::error_code ec;
  auto status = std::filesystem::status(path, ec);
  if (ec) throw ConfigError(path + ": cannot read: " + ec.message());
  if (!std::filesystem::is_regular_file(status)) throw ConfigError(path + ": cannot read: not a regular file");
  auto size = std::filesystem::file_size(path, ec);
  if (ec) throw ConfigError(path + ": cannot read: " + ec.message());
  if (size > kMaxConfigBytes)
    throw ConfigError(path + ": " + std::to_string(size) + " bytes, more than a config file can be (" +
                      std::to_string(kMaxConfigBytes) + ")");
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  if (!in || !(bytes << in.rdbuf())) {
    // An empty file reads as a failed insertion too; that is a valid, empty config.
    if (!in.is_open() || size != 0) throw ConfigError(path + ": cannot read");
  }
  return bytes.str();
}

toml::table parse_toml(std::string_view text, const std::string& origin) {
  // dmarq throws for every environment failure, so it is never built without
  // exceptions; toml++ picks its error style from the same compiler switch.
  static_assert(TOML_EXCEPTIONS, "toml++ must report errors with exceptions");
  try {
    return toml::parse(text, std::string_view(origin));
  } catch (const toml::parse_error& e) {
    fail(origin, e.source(), std::string(e.description()));
  }
}

void fail(const std::string& origin, const toml::source_region& where, const std::string& what) {
  throw ConfigError(origin + ":" + std::to_string(where.begin.line) + ":" + std::to_string(where.begin.column) +
                    ": " + what);
}

std::string_view trim(std::string_view s) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    case toml::node_type::none: break;
  }
  return "nothing";
}

// The value came from the user, who typed it as a TOML string, so TOML-ish
// quoting reads naturally.
std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20 || u == 0x7f) {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out.push_back(hex[u >> 4]);
      out.push_back(hex[u & 15]);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

}  // namespace dmarq::config
