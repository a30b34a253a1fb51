#include <catch2/catch.hpp>

#include <cstdlib>

#include "dmarq/util/text.h"

using namespace dmarq::util;

TEST_CASE("text: ISO 8601 in UTC whatever TZ says", "[util]") {
  const char* old = std::getenv("TZ");
  std::string saved = old ? old : "";
  setenv("TZ", "Pacific/Kiritimati", 1);
  tzset();
  CHECK(iso8601_utc(0) == "1970-01-01T00:00:00Z");
  CHECK(iso8601_utc(1793577599) == "2026-11-01T23:59:59Z");
  CHECK(iso_date_utc(1793491200) == "2026-11-01");
  CHECK(iso8601_utc(-1) == "1969-12-31T23:59:59Z");
  if (old) setenv("TZ", saved.c_str(), 1); else unsetenv("TZ");
  tzset();
}

TEST_CASE("text: parse_iso_utc", "[util]") {
  CHECK(parse_iso_utc("2026-11-01") == 1793491200);
  CHECK(parse_iso_utc("2026-11-01T23:59:59Z") == 1793577599);
  // Signs are not digits (from_chars would take them).
  CHECK_FALSE(parse_iso_utc("2024-01-01T-1:-1:-1Z"));
  CHECK_FALSE(parse_iso_utc("-999-01-01"));
  CHECK_FALSE(parse_iso_utc("2024-+1-01"));
  CHECK(parse_iso_utc("2026-11-01T23:59:59") == 1793577599);
  CHECK_FALSE(parse_iso_utc("2026-13-01"));
  CHECK_FALSE(parse_iso_utc("2026-02-30"));
  CHECK_FALSE(parse_iso_utc("yesterday"));
  CHECK_FALSE(parse_iso_utc("2026-11-01T25:00:00Z"));
}

TEST_CASE("text: trimming is XML white space only", "[util]") {
  CHECK(trim_xml_space(" \t\r\nabc \n") == "abc");
  CHECK(trim_xml_space("\xc2\xa0" "abc") == "\xc2\xa0" "abc");  // NBSP is not XML space
  CHECK(iequals("PASS", "pass"));
  CHECK_FALSE(iequals("pass", "passe"));
}
