#include "agentry/store/postgres/pg_util.h"

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace agentry::pg {

std::string ToJson(const boost::json::object& object) {
  return boost::json::serialize(object);
}

std::string ToJsonArray(const std::vector<std::string>& items) {
  boost::json::array array;
  array.reserve(items.size());
  for (const std::string& s : items) array.emplace_back(s);
  return boost::json::serialize(array);
}

Result<boost::json::object> ParseObject(const std::string& text,
                                        std::string_view what) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) {
    return Status::Internal("stored " + std::string(what) +
                            " is not a JSON object");
  }
  return std::move(v.get_object());
}

Result<std::vector<std::string>> ParseStringArray(const std::string& text,
                                                  std::string_view what) {
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(text, ec);
  if (ec || !v.is_array()) {
    return Status::Internal("stored " + std::string(what) +
                            " is not a JSON array");
  }
  std::vector<std::string> out;
  out.reserve(v.get_array().size());
  for (const boost::json::value& item : v.get_array()) {
    if (!item.is_string()) {
      return Status::Internal("stored " + std::string(what) +
                              " holds a non-string");
    }
    const boost::json::string& s = item.get_string();
    out.emplace_back(s.data(), s.size());
  }
  return out;
}

Status CheckLimit(size_t limit) {
  if (limit < 1 || limit > 200) {
    return Status::InvalidRequest("limit must be between 1 and 200", "limit");
  }
  return Status::Ok();
}

}  // namespace agentry::pg
