#include "store/record_writer.h"

#include <string>

namespace dmarq::store {

void RecordWriter::start_transaction() {
  detail::Stmt q(db_, "SELECT coalesce(max(id), 0) + 1 FROM record");
  next_id_ = q.step() ? q.i64(0) : 1;
  buffered_ = 0;
}

int64_t RecordWriter::add(int64_t report, model::Record& record) {
  if (buffered_ == kBatch) flush();
  if (records_.size() <= buffered_) {
    records_.resize(buffered_ + 1);
    ids_.resize(buffered_ + 1);
    reports_.resize(buffered_ + 1);
    ip_text_.resize(buffered_ + 1);
  }
  auto& r = records_[buffered_];
  swap(r, record);  // no copy; both sides keep their capacity
  reports_[buffered_] = report;
  ip_text_[buffered_] = r.source_ip ? r.source_ip->to_string() : std::string();
  int64_t id = ids_[buffered_] = next_id_++;
  ++buffered_;
  return id;
}

detail::Stmt& RecordWriter::statement(Table& table, std::size_t rows) {
  auto it = table.by_rows.find(rows);
  if (it != table.by_rows.end()) return it->second;
  std::string sql = std::string("INSERT INTO ") + table.name + " (" + table.columns + ") VALUES ";
  std::string one = "(";
  for (int i = 0; i < table.arity; ++i) one += i ? ",?" : "?";
  one += ")";
  for (std::size_t r = 0; r < rows; ++r) sql += (r ? "," : "") + one;
  return table.by_rows.emplace(rows, detail::Stmt(db_, sql)).first->second;
}

// Writes `rows` in statements of kBatch rows, then powers of two for the
// rest, so that at most a handful of distinct statements is ever prepared.
template <typename Row, typename Bind>
void RecordWriter::write(Table& table, const std::vector<Row>& rows, Bind bind) {
  std::size_t done = 0;
  while (done < rows.size()) {
    std::size_t left = rows.size() - done, n = kBatch;
    while (n > left) n /= 2;
    auto& stmt = statement(table, n);
    for (std::size_t r = 0; r < n; ++r) bind(stmt, static_cast<int>(r) * table.arity + 1, rows[done + r]);
    stmt.exec();
    done += n;
  }
}

void RecordWriter::flush() {
  if (buffered_ == 0) return;
  recs_.clear();
  dkim_rows_.clear();
  spf_rows_.clear();
  reason_rows_.clear();
  for (std::size_t i = 0; i < buffered_; ++i) {
    recs_.push_back(i);
    const auto& r = records_[i];
    for (std::size_t k = 0; k < r.dkim_results.size(); ++k)
      dkim_rows_.push_back({ids_[i], static_cast<int64_t>(k), &r.dkim_results[k]});
    for (std::size_t k = 0; k < r.spf_results.size(); ++k)
      spf_rows_.push_back({ids_[i], static_cast<int64_t>(k), &r.spf_results[k]});
    for (std::size_t k = 0; k < r.reasons.size(); ++k)
      reason_rows_.push_back({ids_[i], static_cast<int64_t>(k), &r.reasons[k]});
  }

  write(record_, recs_, [&](detail::Stmt& s, int p, std::size_t i) {
    const auto& r = records_[i];
    s.bind(p, ids_[i]).bind(p + 1, reports_[i]);
    if (r.source_ip) {
      s.bind(p + 2, ip_text_[i]);
      s.bind_blob(p + 4, r.source_ip->bytes.data(), 16);
    } else {
      s.bind_null(p + 2).bind_null(p + 4);
    }
    // The text as written is kept only where it says more than the
    // canonical form (an unparseable or non-canonical address).
    if (r.source_ip_text != ip_text_[i]) s.bind(p + 3, r.source_ip_text); else s.bind_null(p + 3);
    s.bind(p + 5, static_cast<int64_t>(r.count)).bind(p + 6, r.disposition).bind(p + 7, r.dkim)
        .bind(p + 8, r.spf).bind(p + 9, r.envelope_to).bind(p + 10, r.envelope_from).bind(p + 11, r.header_from)
        .bind(p + 12, int64_t{r.has_extensions});
  });
  write(dkim_, dkim_rows_, [](detail::Stmt& s, int p, const Child<model::DkimResult>& c) {
    const auto& d = *c.item;
    s.bind(p, c.record).bind(p + 1, c.seq).bind(p + 2, d.domain).bind(p + 3, d.selector).bind(p + 4, d.result)
        .bind(p + 5, d.human_result);
  });
  write(spf_, spf_rows_, [](detail::Stmt& s, int p, const Child<model::SpfResult>& c) {
    const auto& f = *c.item;
    s.bind(p, c.record).bind(p + 1, c.seq).bind(p + 2, f.domain).bind(p + 3, f.scope).bind(p + 4, f.result)
        .bind(p + 5, f.human_result);
  });
  write(reason_, reason_rows_, [](detail::Stmt& s, int p, const Child<model::OverrideReason>& c) {
    const auto& o = *c.item;
    s.bind(p, c.record).bind(p + 1, c.seq).bind(p + 2, o.type).bind(p + 3, o.comment);
  });
  buffered_ = 0;
}

}  // namespace dmarq::store
