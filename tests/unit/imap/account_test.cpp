#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>

#include "dmarq/imap/account.h"
#include "dmarq/imap/client.h"
#include "support/support.h"

using namespace dmarq;
using imap::Account;
using imap::TlsMode;

namespace {

const std::string kMinimal = R"(
[imap.r]
host = "imap.example.net"
user = "dmarc@example.net"
password_env = "DMARQ_TEST_PW"
)";

void write(const std::filesystem::path& p, const std::string& text, mode_t mode) {
  std::ofstream(p) << text;
  REQUIRE(::chmod(p.c_str(), mode) == 0);
}

}  // namespace

TEST_CASE("imap account: defaults", "[imap]") {
  Account a = imap::parse_account(kMinimal, "cfg.toml", "r");
  CHECK(a.host == "imap.example.net");
  CHECK(a.port == 993);
  CHECK(a.tls == TlsMode::implicit);
  CHECK(a.mailbox == "INBOX");
  CHECK(a.processed_folder == "INBOX/Processed");
  CHECK(a.invalid_folder == "INBOX/Invalid");
  CHECK(a.batch_size == 50);
  CHECK(a.timeout_seconds == 60);
  CHECK(imap::search_criteria(a) == "ALL");
}

TEST_CASE("imap account: every key", "[imap]") {
  Account a = imap::parse_account(R"(
[imap.r]
host = "127.0.0.1"
port = 10143
tls = "starttls"
ca_file = "/tmp/ca.pem"
user = "u"
password_command = "echo x"
mailbox = "Reports"
processed_folder = "Reports/Done"
invalid_folder = "Junk/dmarq"
search = "since:2026-10-05"
batch_size = 7
timeout_seconds = 3
)", "cfg.toml", "r");
  CHECK(a.port == 10143);
  CHECK(a.tls == TlsMode::starttls);
  CHECK(a.ca_file == "/tmp/ca.pem");
  CHECK(a.password_from == Account::PasswordFrom::command);
  CHECK(a.processed_folder == "Reports/Done");
  CHECK(a.invalid_folder == "Junk/dmarq");
  CHECK(imap::search_criteria(a) == "SINCE 5-Oct-2026");
  CHECK(a.batch_size == 7);
  CHECK(a.timeout_seconds == 3);
}

TEST_CASE("imap account: mistakes are errors that name the place", "[imap]") {
  struct Case {
    const char* name;
    std::string extra;  // appended to a minimal account (keys may repeat a minimal one: use another table)
    const char* expect;
  };
  const std::string base = "[imap.r]\nhost = \"imap.example.net\"\nuser = \"u\"\n";
  const Case cases[] = {
      {"no password source", base, "exactly one of password_file"},
      {"two password sources", base + "password_env = \"A\"\npassword_file = \"/x\"\n", "exactly one of"},
      {"password in the config", base + "password = \"hunter2\"\n", "never kept in the config"},
      {"unknown key", base + "password_env = \"A\"\nhots = \"x\"\n", "imap.r.hots: unknown key"},
      {"bad tls", base + "password_env = \"A\"\ntls = \"ssl\"\n", "imap.r.tls"},
      {"plaintext to a remote host", base + "password_env = \"A\"\ntls = \"none\"\n", "only allowed for a loopback"},
      {"port out of range", base + "password_env = \"A\"\nport = 70000\n", "imap.r.port: 70000 is out of range"},
      {"port as text", base + "password_env = \"A\"\nport = \"993\"\n", "expected an integer"},
      {"bad search", base + "password_env = \"A\"\nsearch = \"recent\"\n", "imap.r.search"},
      {"bad since", base + "password_env = \"A\"\nsearch = \"since:yesterday\"\n", "since:YYYY-MM-DD"},
      {"processed is the mailbox", base + "password_env = \"A\"\nprocessed_folder = \"INBOX\"\n", "other than the mailbox"},
      {"empty level", base + "password_env = \"A\"\ninvalid_folder = \"INBOX//x\"\n", "'/' between levels"},
      {"batch too big", base + "password_env = \"A\"\nbatch_size = 100000\n", "batch_size"},
      {"no host", "[imap.r]\nuser = \"u\"\npassword_env = \"A\"\n", "host is required"},
      {"control character", base + "password_env = \"A\"\nmailbox = \"IN\\u0001BOX\"\n", "control character"},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    try {
      imap::parse_account(c.extra, "cfg.toml", "r");
      FAIL("accepted");
    } catch (const config::ConfigError& e) {
      std::string what = e.what();
      CHECK_THAT(what, Catch::Contains(c.expect));
      CHECK_THAT(what, Catch::StartsWith("cfg.toml"));
    }
  }
  CHECK_THROWS_WITH(imap::parse_account(kMinimal, "cfg.toml", "other"), Catch::Contains("no [imap.other] account"));
}

TEST_CASE("imap account: plaintext only to a loopback address, said explicitly", "[imap]") {
  for (const char* host : {"127.0.0.1", "127.0.0.2", "::1"}) {
    INFO(host);
    auto a = imap::parse_account(std::string("[imap.r]\nhost = \"") + host +
                                     "\"\nuser = \"u\"\npassword_env = \"A\"\ntls = \"none\"\n",
                                 "c", "r");
    CHECK(a.tls == TlsMode::none);
    CHECK(a.port == 143);
  }
  // A name may resolve anywhere, even "localhost".
  CHECK_THROWS_WITH(imap::parse_account("[imap.r]\nhost = \"localhost\"\nuser = \"u\"\npassword_env = \"A\"\n"
                                        "tls = \"none\"\n",
                                        "c", "r"),
                    Catch::Contains("loopback"));
}

TEST_CASE("imap account: secrets must not be readable by others", "[imap]") {
  test::TempDir dir;
  auto cfg = dir.path() / "cfg.toml";
  auto pw = dir.path() / "pw";
  write(pw, "s3cret\n", 0600);
  write(cfg, "[imap.r]\nhost = \"h\"\nuser = \"u\"\npassword_file = \"" + pw.string() + "\"\n", 0644);
  Account a = imap::load_account(cfg.string(), "r");  // a path is no secret: 0644 is fine
  CHECK(imap::read_password(a) == "s3cret");  // the trailing newline is dropped

  REQUIRE(::chmod(pw.c_str(), 0640) == 0);
  CHECK_THROWS_WITH(imap::read_password(a), Catch::Contains("readable by group or others") && Catch::Contains("chmod 600"));

  write(cfg, "[imap.r]\nhost = \"h\"\nuser = \"u\"\npassword_command = \"printf 'from-cmd'\"\n", 0644);
  CHECK_THROWS_WITH(imap::load_account(cfg.string(), "r"), Catch::Contains("password_command") &&
                                                               Catch::Contains("mode 0644"));
  REQUIRE(::chmod(cfg.c_str(), 0600) == 0);
  CHECK(imap::read_password(imap::load_account(cfg.string(), "r")) == "from-cmd");

  write(cfg, "[imap.r]\nhost = \"h\"\nuser = \"u\"\npassword_command = \"exit 3\"\n", 0600);
  CHECK_THROWS_WITH(imap::read_password(imap::load_account(cfg.string(), "r")), Catch::Contains("failed"));

  ::setenv("DMARQ_TEST_PW", "from-env", 1);
  CHECK(imap::read_password(imap::parse_account(kMinimal, "c", "r")) == "from-env");
  ::unsetenv("DMARQ_TEST_PW");
  CHECK_THROWS_WITH(imap::read_password(imap::parse_account(kMinimal, "c", "r")), Catch::Contains("not set"));
}

TEST_CASE("imap: UID sets are compressed into ranges", "[imap]") {
  CHECK(imap::uid_set({}) == "");
  CHECK(imap::uid_set({5}) == "5");
  CHECK(imap::uid_set({3, 1, 2, 2, 7, 9, 10, 11}) == "1:3,7,9:11");
}
