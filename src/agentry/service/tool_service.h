// The tool registry (DESIGN §5 "Tools and instructions"): create, read,
// merge-patch, delete and list an organization's tools. Every method blocks
// on the store (call it from a worker). Thread-safe.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>

#include "agentry/common/clock.h"
#include "agentry/common/status.h"
#include "agentry/domain/tool.h"
#include "agentry/service/principal.h"
#include "agentry/store/store.h"

namespace agentry {

class ToolService {
 public:
  // `store` and `clock` must outlive the service.
  ToolService(Store& store, const Clock& clock);

  // A create body: configuration members plus an optional `id` (generated
  // as tol_… when absent). kInvalidRequest naming the field; kConflict
  // (field "id") for a taken id.
  Result<Tool> Create(const Principal& caller, const boost::json::object& body);

  // kNotFound when absent or another organization's.
  Result<Tool> Get(const Principal& caller, std::string_view id);

  Result<Page<Tool>> List(const Principal& caller, const PageRequest& page);

  // JSON Merge Patch on the configuration; `if_match` is the raw If-Match
  // header ("" when absent) → kPreconditionFailed when stale.
  Result<Tool> Patch(const Principal& caller, std::string_view id,
                     const boost::json::object& patch,
                     std::string_view if_match);

  Status Delete(const Principal& caller, std::string_view id,
                std::string_view if_match);

  // The strong ETag of a tool's answer.
  static std::string Etag(const Tool& tool);
  // True when `if_match` names the tool's current ETag, is "*" or is empty.
  static bool IfMatchHolds(std::string_view if_match, const Tool& tool);

 private:
  Store& store_;
  const Clock& clock_;
};

// The native answer of a tool: {id, name, description, parameters, enabled,
// created_at, updated_at}.
std::string SerializeTool(const Tool& tool);

}  // namespace agentry
