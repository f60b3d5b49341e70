// What both backends' agent stores share beyond SQL: how an id-or-key is
// looked up, the not-found status, and the name and enabled flag the
// denormalised columns are set from. Internal to the store backends.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>

#include "agentry/common/status.h"

namespace agentry::store_rows {

// How `id_or_key` is looked up: a UUID (either case) against ids, which are
// stored in lowercase, anything else against keys.
struct AgentRef {
  bool by_id = false;
  std::string value;
};
AgentRef RefOf(std::string_view id_or_key);

// kNotFound "agent <id_or_key> not found".
Status AgentNotFound(std::string_view id_or_key);

// The name and enabled flag of a configuration: what current_name and
// current_enabled are set from. `enabled` defaults to true; a configuration
// without a string name is kInvalidRequest.
struct CurrentView {
  std::string name;
  bool enabled = true;
};
Result<CurrentView> CurrentOf(const boost::json::object& config);

}  // namespace agentry::store_rows
