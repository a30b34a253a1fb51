// The TOML config file that holds known senders ([senders.NAME]) and IMAP
// accounts ([imap.NAME]): reading it, and the one error type for everything
// wrong in it.
#pragma once

#include <stdexcept>
#include <string>

namespace dmarq::config {

// What is wrong with a config file, as "FILE:LINE:COLUMN: key: problem" when
// the problem has a place.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The bytes of the config file at `path`; ConfigError when it is missing,
// not a regular file, unreadable, or larger than any config file can be.
std::string read_config_file(const std::string& path);

}  // namespace dmarq::config
