#include <string>

#include "agentry/http/ops.h"

namespace agentry {
extern const char kOpenApiJson[];  // generated from http/openapi.json
}  // namespace agentry

namespace agentry::http {

const std::string& OpenApiDocument() {
  static const std::string doc(kOpenApiJson);
  return doc;
}

}  // namespace agentry::http
