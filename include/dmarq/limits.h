// Limits: every bound dmarq puts on untrusted input, in one place.
//
// Each stage checks its limits before it hands bytes to a library, and an
// input that crosses one is rejected with an Issue that names the limit.
// The defaults are generous for real reports (the largest real aggregate
// reports are a few MB of XML) and small enough that a hostile input cannot
// make the process use more than a few tens of MB.
#pragma once

#include <cstddef>
#include <cstdint>

namespace dmarq {

struct Limits {
  // Whole message or file as read from a source.
  std::size_t max_message_bytes = 48u << 20;
  // MIME
  int max_mime_depth = 16;
  std::size_t max_mime_parts = 256;
  std::size_t max_header_line = 64u << 10;  // one unfolded header field
  std::size_t max_header_fields = 10000;    // fields in one header block
  // Archives
  std::size_t max_archive_entries = 64;
  uint64_t max_entry_bytes = 1ull << 30;   // one decompressed member
  uint64_t max_total_bytes = 2ull << 30;   // all members of one archive
  uint64_t max_ratio = 1000;               // decompressed / compressed
  // XML
  int max_xml_depth = 32;
  std::size_t max_text_bytes = 64u << 10;   // one element's text
  uint64_t max_records = 10'000'000;        // per report
  std::size_t max_auth_results = 100;       // dkim/spf results per record
};

}  // namespace dmarq
