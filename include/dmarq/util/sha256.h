// SHA-256 of a byte string, as lower-case hex (OpenSSL's libcrypto does the work).
#pragma once

#include <string>
#include <string_view>

namespace dmarq::util {

std::string sha256_hex(std::string_view bytes);
// The same digest in base64 (RFC 4648), as a Content-Security-Policy hash source wants it.
std::string sha256_base64(std::string_view bytes);

}  // namespace dmarq::util
