#include "agentry/http/router.h"

#include <array>
#include <boost/url/parse.hpp>
#include <stdexcept>

namespace agentry::http {

namespace {

// Letters, digits, '-', '_', '~': unreserved characters that need no
// decoding ('.' is left out: "." and ".." segments take the slow path).
// One table lookup per character (every request's target is scanned).
constexpr std::array<bool, 256> kPlainSegmentChars = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c) {
    t[c] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '~';
  }
  return t;
}();
constexpr bool PlainSegmentChar(char c) {
  return kPlainSegmentChars[static_cast<unsigned char>(c)];
}

// "/seg/seg…" of plain characters only, optionally followed by
// "?k=v&k=v…" with non-empty plain keys and plain (possibly empty) values:
// split by '/', '&' and '='. False (nothing touched) for anything else.
bool SplitPlainTarget(std::string_view target,
                      std::vector<std::string>& segments,
                      std::vector<std::pair<std::string, std::string>>& query) {
  if (target.empty() || target.front() != '/') return false;
  const size_t qmark = target.find('?');
  const std::string_view path = target.substr(0, qmark);
  for (char c : path) {
    if (c != '/' && !PlainSegmentChar(c)) return false;
  }
  std::string_view params;
  if (qmark != std::string_view::npos) {
    params = target.substr(qmark + 1);
    if (params.empty()) return false;
    bool key = true;  // in a key (before its '=')
    size_t key_chars = 0;
    for (char c : params) {
      if (c == '=' && key && key_chars > 0) {
        key = false;
      } else if (c == '&' && !key) {
        key = true;
        key_chars = 0;
      } else if (PlainSegmentChar(c)) {
        key_chars += key ? 1 : 0;
      } else {
        return false;
      }
    }
    if (key) return false;  // the last parameter has no '='
  }
  size_t n = 0;
  if (path.size() > 1) {
    size_t start = 1;
    while (true) {
      const size_t slash = path.find('/', start);
      const std::string_view seg = path.substr(
          start, slash == std::string_view::npos ? std::string_view::npos
                                                 : slash - start);
      if (n == segments.size()) segments.emplace_back();
      segments[n++].assign(seg.data(), seg.size());
      if (slash == std::string_view::npos) break;
      start = slash + 1;
    }
  }
  segments.resize(n);
  while (!params.empty()) {
    const size_t amp = params.find('&');
    const std::string_view pair = params.substr(0, amp);
    const size_t eq = pair.find('=');
    query.emplace_back(std::string(pair.substr(0, eq)),
                       std::string(pair.substr(eq + 1)));
    if (amp == std::string_view::npos) break;
    params.remove_prefix(amp + 1);
  }
  return true;
}

}  // namespace

bool SplitTarget(std::string_view target, std::vector<std::string>& segments,
                 std::vector<std::pair<std::string, std::string>>& query) {
  if (SplitPlainTarget(target, segments, query)) return true;
  return detail::SplitTargetWithUrlParser(target, segments, query);
}

bool detail::SplitTargetWithUrlParser(
    std::string_view target, std::vector<std::string>& segments,
    std::vector<std::pair<std::string, std::string>>& query) {
  const boost::core::string_view t(target.data(), target.size());
  boost::system::result<boost::urls::url_view> parsed;
  if (t.starts_with("http://") || t.starts_with("https://")) {
    parsed = boost::urls::parse_absolute_uri(t);  // absolute-form
  } else {
    parsed = boost::urls::parse_origin_form(t);
  }
  if (!parsed) return false;
  size_t n = 0;
  for (auto seg : parsed->segments()) {
    if (n == segments.size()) segments.emplace_back();
    segments[n++].assign(seg.data(), seg.size());
  }
  segments.resize(n);
  for (auto p : parsed->params()) {
    query.emplace_back(std::string(p.key),
                       p.has_value ? std::string(p.value) : std::string());
  }
  return true;
}

struct Router::Node {
  std::unordered_map<std::string, std::unique_ptr<Node>> literal;
  std::unique_ptr<Node> param;
  std::string param_name;
  std::array<const Route*, kMethodCount> by_method{};

  bool HasAny() const {
    for (const Route* r : by_method) {
      if (r) return true;
    }
    return false;
  }
};

Router::Router() : root_(std::make_unique<Node>()) {}
Router::~Router() = default;

void Router::Add(Method method, std::string_view pattern, RouteOptions options,
                 Handler handler) {
  if (pattern.empty() || pattern.front() != '/') {
    throw std::invalid_argument("route pattern must start with /: " +
                                std::string(pattern));
  }
  Node* node = root_.get();
  std::string_view rest = pattern.substr(1);
  while (true) {
    const size_t slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    if (seg.size() >= 2 && seg.front() == '{' && seg.back() == '}') {
      std::string name(seg.substr(1, seg.size() - 2));
      if (!node->param) {
        node->param = std::make_unique<Node>();
        node->param->param_name = name;
      } else if (node->param->param_name != name) {
        throw std::invalid_argument("conflicting parameter names in " +
                                    std::string(pattern));
      }
      node = node->param.get();
    } else {
      auto& child = node->literal[std::string(seg)];
      if (!child) child = std::make_unique<Node>();
      node = child.get();
    }
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  auto& slot = node->by_method[static_cast<size_t>(method)];
  if (slot) {
    throw std::invalid_argument("duplicate route " +
                                std::string(MethodName(method)) + " " +
                                std::string(pattern));
  }
  auto route = std::make_unique<Route>();
  route->method = method;
  route->pattern = std::string(pattern);
  route->options = options;
  route->handler = std::move(handler);
  route->index = routes_.size();
  slot = route.get();
  routes_.push_back(std::move(route));
}

void Router::AddAsync(Method method, std::string_view pattern,
                      RouteOptions options, AsyncHandler handler) {
  options.inline_first = false;
  Add(method, pattern, options, nullptr);
  routes_.back()->async_handler = std::move(handler);
}

bool Router::FindIn(const Node& node, const std::vector<std::string>& segs,
                    size_t i, Method method, Match* out,
                    const Node** path_node) const {
  if (i == segs.size()) {
    Method m = method == Method::kHead ? Method::kGet : method;
    const Route* r = node.by_method[static_cast<size_t>(method)];
    if (!r) r = node.by_method[static_cast<size_t>(m)];
    if (r) {
      out->route = r;
      return true;
    }
    if (!*path_node && node.HasAny()) *path_node = &node;
    return false;
  }
  auto it = node.literal.find(segs[i]);
  if (it != node.literal.end() &&
      FindIn(*it->second, segs, i + 1, method, out, path_node)) {
    return true;
  }
  if (node.param && !segs[i].empty()) {
    out->params.emplace_back(node.param->param_name, segs[i]);
    if (FindIn(*node.param, segs, i + 1, method, out, path_node)) return true;
    out->params.pop_back();
  }
  return false;
}

Router::Match Router::Find(Method method,
                           const std::vector<std::string>& segments) const {
  Match m;
  const Node* path_node = nullptr;
  if (FindIn(*root_, segments, 0, method, &m, &path_node)) return m;
  m.params.clear();
  if (path_node) {
    for (size_t i = 0; i < kMethodCount; ++i) {
      if (path_node->by_method[i]) {
        if (!m.allow.empty()) m.allow += ", ";
        m.allow += MethodName(static_cast<Method>(i));
        if (static_cast<Method>(i) == Method::kGet) m.allow += ", HEAD";
      }
    }
  }
  return m;
}

}  // namespace agentry::http
