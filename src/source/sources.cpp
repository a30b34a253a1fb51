#include "dmarq/source/sources.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>

#include <fmt/format.h>

namespace fs = std::filesystem;

namespace dmarq::source {

RawMessage read_file(const std::string& path, const Limits& limits) {
  RawMessage msg;
  msg.origin = path;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    msg.read_error = fmt::format("cannot read file: {}", std::strerror(errno));
    return msg;
  }
  in.seekg(0, std::ios::end);
  auto size = static_cast<std::size_t>(in.tellg());
  if (size > limits.max_message_bytes) {
    msg.read_error = fmt::format("file is {} bytes, above the message size limit of {}", size,
                                 limits.max_message_bytes);
    return msg;
  }
  in.seekg(0);
  msg.bytes.resize(size);
  in.read(msg.bytes.data(), static_cast<std::streamsize>(size));
  if (static_cast<std::size_t>(in.gcount()) != size) msg.read_error = "file changed while it was read";
  return msg;
}

// --- files -------------------------------------------------------------------

FileSource::FileSource(const std::vector<std::string>& paths, const Limits& limits) : limits_(limits) {
  for (const auto& p : paths) {
    std::error_code ec;
    auto st = fs::status(p, ec);
    if (ec || !fs::exists(st)) throw std::runtime_error("no such file or directory: " + p);
    if (fs::is_directory(st)) {
      std::vector<std::string> found;
      for (auto it = fs::recursive_directory_iterator(p, fs::directory_options::skip_permission_denied, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_regular_file(ec)) found.push_back(it->path().string());
      }
      if (ec) throw std::runtime_error("cannot read directory " + p + ": " + ec.message());
      std::sort(found.begin(), found.end());
      files_.insert(files_.end(), found.begin(), found.end());
    } else {
      files_.push_back(p);
    }
  }
}

bool FileSource::next(RawMessage& out) {
  if (pos_ >= files_.size()) return false;
  out = read_file(files_[pos_], limits_);
  out.index = pos_++;
  return true;
}

// --- maildir -------------------------------------------------------------------

MaildirSource::MaildirSource(const std::string& dir, const Limits& limits) : dir_(dir), limits_(limits) {
  bool any = false;
  for (const char* sub : {"new", "cur"}) {
    fs::path d = fs::path(dir) / sub;
    std::error_code ec;
    if (!fs::is_directory(d, ec)) continue;
    any = true;
    std::vector<std::string> found;
    for (const auto& entry : fs::directory_iterator(d, ec)) {
      std::string name = entry.path().filename().string();
      if (!name.empty() && name[0] != '.' && entry.is_regular_file(ec)) found.push_back(entry.path().string());
    }
    if (ec) throw std::runtime_error("cannot read " + d.string() + ": " + ec.message());
    std::sort(found.begin(), found.end());
    files_.insert(files_.end(), found.begin(), found.end());
  }
  if (!any) throw std::runtime_error("not a Maildir (no new/ or cur/): " + dir);
}

bool MaildirSource::next(RawMessage& out) {
  if (pos_ >= files_.size()) return false;
  out = read_file(files_[pos_], limits_);
  out.index = pos_++;
  return true;
}

namespace {

// Where the Maildir++ folder `suffix` ("Processed", "Invalid") of `maildir`
// lives: for a root Maildir, `maildir/.Processed`; for a Maildir++ subfolder
// such as `~/Maildir/.dmarc`, its child `~/Maildir/.dmarc.Processed`, which
// is how IMAP servers (Dovecot, Courier) name "dmarc/Processed". When the
// Maildir is itself one of these folders (a retry of `.dmarc.Invalid`), the
// targets are its siblings, so a message rejected again stays where it is.
fs::path folder_path(const std::string& maildir, const std::string& suffix) {
  fs::path dir = fs::path(maildir).lexically_normal();
  if (dir.filename().empty()) dir = dir.parent_path();  // a trailing slash
  std::string base = dir.filename().string();
  bool subfolder = base.size() > 1 && base[0] == '.' && base != ".." && fs::exists(dir / "maildirfolder");
  if (!subfolder) return dir / ("." + suffix);
  for (std::string_view managed : {".Processed", ".Invalid"}) {
    std::string_view b = base;
    if (b.size() >= managed.size() && b.substr(b.size() - managed.size()) == managed) {
      std::string owner(b.substr(0, b.size() - managed.size()));  // "" for the root Maildir's own folder
      return dir.parent_path() / (owner + "." + suffix);
    }
  }
  return dir.parent_path() / (base + "." + suffix);
}

// Creates a Maildir++ folder (cur, new, tmp and the maildirfolder marker).
void create_folder(const fs::path& folder) {
  for (const char* sub : {"cur", "new", "tmp"}) fs::create_directories(folder / sub);
  std::ofstream(folder / "maildirfolder", std::ios::app);
}

}  // namespace

void MaildirSource::finish(const RawMessage& msg, Disposition disposition) {
  fs::path from(msg.origin);
  bool ok = disposition == Disposition::processed;
  fs::path folder = folder_path(dir_, ok ? "Processed" : "Invalid");
  bool& created = ok ? processed_created_ : invalid_created_;
  if (!created) {
    create_folder(folder);
    created = true;
  }
  std::string name = from.filename().string();
  if (name.find(":2,") == std::string::npos) name += ":2,S";  // seen
  fs::path to = folder / "cur" / name;
  std::error_code same_ec;
  if (fs::equivalent(from.parent_path(), to.parent_path(), same_ec) && from.filename() == to.filename())
    return;  // already where it belongs (a retried message rejected again)
  for (int n = 1; fs::exists(to); ++n) to = folder / "cur" / fmt::format("{}.{}", name, n);
  std::error_code ec;
  fs::rename(from, to, ec);
  if (ec) throw std::runtime_error(fmt::format("cannot move {} to {}: {}", from.string(), to.string(), ec.message()));
}

// --- mbox ----------------------------------------------------------------------

MboxSource::MboxSource(const std::string& path, const Limits& limits)
    : path_(path), in_(path, std::ios::binary), limits_(limits) {
  if (!in_) throw std::runtime_error("cannot open mbox " + path + ": " + std::strerror(errno));
}

namespace {

// std::getline with a bound: a hostile mbox may hold one line of gigabytes.
// Reads one line (without its '\n') of at most `max` bytes; a longer line is
// cut and `cut` set. False at the end of input when nothing was read.
bool bounded_getline(std::istream& in, std::string& line, std::size_t max, bool& cut) {
  line.clear();
  std::streambuf* sb = in.rdbuf();
  bool any = false;
  for (;;) {
    int c = sb->sbumpc();
    if (c == std::char_traits<char>::eof()) {
      in.setstate(any ? std::ios::eofbit : std::ios::eofbit | std::ios::failbit);
      return any;
    }
    any = true;
    if (c == '\n') return true;
    if (line.size() < max) line.push_back(static_cast<char>(c));
    else cut = true;
  }
}

}  // namespace

bool MboxSource::next(RawMessage& out) {
  out = RawMessage{};
  std::string line;
  bool cut = false;
  if (!started_) {
    started_ = true;
    if (!bounded_getline(in_, line, limits_.max_message_bytes, cut)) return false;
    // A file that does not start with a separator still holds one message.
    if (line.rfind("From ", 0) != 0) pending_ = line + '\n';
  } else if (!in_) {
    return false;
  }
  std::size_t size = 0;
  bool too_large = false, prev_blank = false, any = false;
  auto append = [&](std::string_view text) {
    any = true;
    size += text.size() + 1;
    if (size > limits_.max_message_bytes) {
      too_large = true;
      return;
    }
    out.bytes.append(text);
    out.bytes.push_back('\n');
  };
  if (!pending_.empty()) {
    line = pending_;
    line.pop_back();
    pending_.clear();
    append(line);
  }
  while (bounded_getline(in_, line, limits_.max_message_bytes, cut)) {
    std::string_view view = line;
    if (view.rfind("From ", 0) == 0 && prev_blank) break;  // the next message's separator
    // mboxrd: one '>' was added in front of every ">*From " line.
    std::size_t gt = view.find_first_not_of('>');
    if (gt > 0 && gt != std::string_view::npos && view.substr(gt, 5) == "From ") view.remove_prefix(1);
    append(view);
    std::string_view bare = line;
    if (!bare.empty() && bare.back() == '\r') bare.remove_suffix(1);
    prev_blank = bare.empty();
  }
  if (!any) return false;
  // The blank line before a separator belongs to the mbox format.
  if (prev_blank && out.bytes.size() >= 2 && out.bytes.compare(out.bytes.size() - 2, 2, "\n\n") == 0)
    out.bytes.pop_back();
  out.index = count_++;
  out.origin = fmt::format("{}#{}", path_, count_);
  if (too_large || cut) {
    out.bytes.clear();
    out.read_error = fmt::format("message is {} bytes, above the message size limit of {}", size,
                                 limits_.max_message_bytes);
  }
  return true;
}

}  // namespace dmarq::source
