// Routes: method + path pattern with {param} segments → handler and options.
//
// Build the router at start-up (Add), then only Find(): Find is const and
// thread-safe. Literal segments win over parameters; a path that matches a
// pattern under another method reports the allowed methods (405).
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "agentry/domain/scope.h"
#include "agentry/http/request.h"

namespace agentry::http {

// A handler parses, calls a service and encodes. It returns nullopt only when
// called on an I/O thread (Request::on_io_thread) and it needs to block: the
// server then runs it again on a worker thread.
using Handler = std::function<std::optional<Response>(Request&)>;

// An asynchronous handler runs on the connection's I/O thread and answers
// later, from any thread, by calling `respond` exactly once; the request
// stays valid until then. It must never block (no store reads, no waiting):
// whatever takes time happens elsewhere and ends in `respond` (a lease
// acquisition is decided in memory and answered by the store's writer once
// durable; one waiting for a profile holds no thread at all).
using Respond = std::function<void(Response)>;
using AsyncHandler = std::function<void(Request&, Respond respond)>;

struct RouteOptions {
  // Needs an API key (the auth middleware answers 401 otherwise).
  bool auth = true;
  // Scope checked by the auth middleware before the handler runs.
  std::optional<Scope> scope;
  // A scope that admits the key instead of `scope` (either will do).
  std::optional<Scope> or_scope;
  // Run on the I/O thread first (in-memory handlers); otherwise on a worker.
  bool inline_first = false;
  // Error body shape.
  Dialect dialect = Dialect::kNative;
};

struct Route {
  Method method;
  std::string pattern;  // "/v1/api-keys/{id}", also the metrics label
  RouteOptions options;
  Handler handler;             // null for asynchronous routes
  AsyncHandler async_handler;  // null for synchronous routes
  size_t index = 0;            // dense, for per-route metrics
};

// Splits a request target — origin-form ("/v1/agents/x?limit=5") or
// absolute-form ("http://host/v1/agents/x") — into its percent-decoded path
// segments and query parameters (Boost.URL), reusing the strings already in
// `segments`; `query` is appended to. False when it is not a valid target
// (then both are unspecified).
// A path of only letters, digits, "-", "_", "~" and "/", with at most
// "k=v&…" parameters of the same characters (the common case, ~5,000
// instructions cheaper), is split without Boost.URL, to the same result.
bool SplitTarget(std::string_view target, std::vector<std::string>& segments,
                 std::vector<std::pair<std::string, std::string>>& query);

namespace detail {
// SplitTarget always through Boost.URL: what the fast path must agree with
// (router fuzzer, router_test).
bool SplitTargetWithUrlParser(
    std::string_view target, std::vector<std::string>& segments,
    std::vector<std::pair<std::string, std::string>>& query);
}  // namespace detail

class Router {
 public:
  Router();
  ~Router();

  // Registers a route. Throws std::invalid_argument on a duplicate or a
  // malformed pattern (a start-up bug).
  void Add(Method method, std::string_view pattern, RouteOptions options,
           Handler handler);
  // An asynchronous route (never inline_first).
  void AddAsync(Method method, std::string_view pattern, RouteOptions options,
                AsyncHandler handler);

  struct Match {
    const Route* route = nullptr;  // null: no route for this method
    // Bound {param} values, in pattern order (views into `segments`).
    std::vector<std::pair<std::string_view, std::string_view>> params;
    // When route is null but the path exists: the allowed methods ("GET,
    // POST").
    std::string allow;
  };
  Match Find(Method method, const std::vector<std::string>& segments) const;

  const std::vector<std::unique_ptr<Route>>& routes() const { return routes_; }

 private:
  struct Node;
  bool FindIn(const Node& node, const std::vector<std::string>& segs, size_t i,
              Method method, Match* out, const Node** path_node) const;

  std::unique_ptr<Node> root_;
  std::vector<std::unique_ptr<Route>> routes_;
};

}  // namespace agentry::http
