// Helpers shared by the readers of the TOML config: parse with positions,
// describe values, and fail with "origin:line:column: what".
#pragma once

#include <string>
#include <string_view>

#include <toml++/toml.h>

#include "dmarq/config/config_file.h"

namespace dmarq::config {

// Parses `text`; a syntax error becomes a ConfigError with its place.
toml::table parse_toml(std::string_view text, const std::string& origin);

// "a table", "a string", ...: for "expected X, found Y" messages.
std::string type_name(const toml::node& node);

// The user's value quoted the TOML way, control bytes as \xNN.
std::string quoted(std::string_view text);

std::string_view trim(std::string_view text);

[[noreturn]] void fail(const std::string& origin, const toml::source_region& where, const std::string& what);

}  // namespace dmarq::config
