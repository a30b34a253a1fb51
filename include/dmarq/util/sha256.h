// SHA-256 of a byte string, as lower-case hex (OpenSSL's libcrypto does the work).
#pragma once

#include <string>
#include <string_view>

namespace dmarq::util {

std::string sha256_hex(std::string_view bytes);

}  // namespace dmarq::util
