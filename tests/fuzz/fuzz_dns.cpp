// Fuzz target: a DNS response from a server, read as the answer to
// "example.com" for each record type dmarq asks about; and the same bytes as
// a name to encode. Built as a libFuzzer target with clang (-DDMARQ_FUZZ=ON)
// and, with GCC, as a replayer over tests/data/dns (see replay_main.cpp).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "dmarq/dns/message.h"

namespace {

using dmarq::dns::Answer;
using dmarq::dns::Status;
using dmarq::dns::Type;

void expect(bool ok) {
  if (!ok) __builtin_trap();
}

constexpr Type kTypes[] = {Type::a,   Type::ns,  Type::cname, Type::soa, Type::ptr,
                           Type::mx,  Type::txt, Type::aaaa,  Type::spf};

bool is_name_type(Type t) { return t == Type::ns || t == Type::cname || t == Type::ptr; }

void check_answer(const Answer& a, std::string_view bytes, Type type) {
  // Records only with ok, and ok only with records; failures say why.
  expect((a.status == Status::ok) == !a.data.empty());
  expect(a.status != Status::temporary || !a.detail.empty());
  expect(a.status != Status::offline);
  expect(a.ttl <= 0x7fffffffu);
  // Names read from the message encode back: the text form loses nothing.
  if (a.status == Status::ok && is_name_type(type))
    for (const auto& name : a.data) expect(dmarq::dns::encode_name(name).has_value());
  // Reading is pure.
  const Answer again = dmarq::dns::parse_response(bytes, "example.com", type);
  expect(again.status == a.status && again.data == a.data && again.ttl == a.ttl && again.detail == a.detail);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  for (Type type : kTypes) check_answer(dmarq::dns::parse_response(bytes, "example.com", type), bytes, type);

  // The bytes as a name: when they encode, our own query reads back, once
  // turned into an empty response, as NODATA for that very name.
  if (const auto wire = dmarq::dns::encode_name(bytes)) {
    expect(!wire->empty() && wire->size() <= 255 && wire->back() == '\0');
    auto query = dmarq::dns::build_query(bytes, Type::txt, 0x1234);
    expect(query.has_value());
    (*query)[2] = static_cast<char>((*query)[2] | 0x80);  // QR: a response
    const Answer a = dmarq::dns::parse_response(*query, bytes, Type::txt);
    expect(a.status == Status::nodata && a.ttl == dmarq::dns::kNegativeTtlWithoutSoa);
    // Without the QR bit it is a query, never an answer.
    (*query)[2] = static_cast<char>((*query)[2] & 0x7f);
    expect(dmarq::dns::parse_response(*query, bytes, Type::txt).status == Status::temporary);
  }
  return 0;
}
