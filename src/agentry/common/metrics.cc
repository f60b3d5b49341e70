#include "agentry/common/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

namespace agentry {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i] = 0;
}

void Histogram::Observe(double v) {
  const size_t i = static_cast<size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  if (v > 0 && std::isfinite(v)) {
    sum_micro_.fetch_add(static_cast<uint64_t>(v * 1e6),
                         std::memory_order_relaxed);
  }
}

uint64_t Histogram::CumulativeCount(size_t i) const {
  uint64_t total = 0;
  for (size_t j = 0; j <= i && j <= bounds_.size(); ++j) {
    total += buckets_[j].load(std::memory_order_relaxed);
  }
  return total;
}

double Histogram::Sum() const {
  return static_cast<double>(sum_micro_.load(std::memory_order_relaxed)) / 1e6;
}

struct MetricsRegistry::Entry {
  std::string name, help, labels;
  std::unique_ptr<Counter> counter;
  std::unique_ptr<Histogram> histogram;
  std::function<double()> gauge;
};

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

Counter* MetricsRegistry::AddCounter(std::string name, std::string help,
                                     std::string labels) {
  auto e = std::make_unique<Entry>();
  e->name = std::move(name);
  e->help = std::move(help);
  e->labels = std::move(labels);
  e->counter = std::make_unique<Counter>();
  Counter* c = e->counter.get();
  std::lock_guard<std::mutex> lock(mu_);
  entries_.push_back(std::move(e));
  return c;
}

Histogram* MetricsRegistry::AddHistogram(std::string name, std::string help,
                                         std::string labels,
                                         std::vector<double> bounds) {
  auto e = std::make_unique<Entry>();
  e->name = std::move(name);
  e->help = std::move(help);
  e->labels = std::move(labels);
  e->histogram = std::make_unique<Histogram>(std::move(bounds));
  Histogram* h = e->histogram.get();
  std::lock_guard<std::mutex> lock(mu_);
  entries_.push_back(std::move(e));
  return h;
}

void MetricsRegistry::AddGauge(std::string name, std::string help,
                               std::string labels,
                               std::function<double()> read) {
  auto e = std::make_unique<Entry>();
  e->name = std::move(name);
  e->help = std::move(help);
  e->labels = std::move(labels);
  e->gauge = std::move(read);
  std::lock_guard<std::mutex> lock(mu_);
  entries_.push_back(std::move(e));
}

std::string MetricsRegistry::EscapeLabel(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

namespace {

std::string WithLabels(const std::string& labels, const std::string& extra) {
  if (labels.empty() && extra.empty()) return "";
  if (labels.empty()) return "{" + extra + "}";
  if (extra.empty()) return "{" + labels + "}";
  return "{" + labels + "," + extra + "}";
}

std::string FormatBound(double b) {
  if (std::isinf(b)) return "+Inf";
  return fmt::format("{}", b);
}

}  // namespace

std::string MetricsRegistry::Render() const {
  std::lock_guard<std::mutex> lock(mu_);
  // Group by name so HELP/TYPE appear once per family.
  std::map<std::string, std::vector<const Entry*>> families;
  for (const auto& e : entries_) families[e->name].push_back(e.get());
  std::string out;
  for (const auto& [name, list] : families) {
    const Entry* first = list.front();
    const char* type =
        first->counter ? "counter" : (first->histogram ? "histogram" : "gauge");
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, first->help, name,
                       type);
    for (const Entry* e : list) {
      if (e->counter) {
        out += fmt::format("{}{} {}\n", name, WithLabels(e->labels, ""),
                           e->counter->Value());
      } else if (e->histogram) {
        const Histogram& h = *e->histogram;
        for (size_t i = 0; i < h.bounds().size(); ++i) {
          out += fmt::format(
              "{}_bucket{} {}\n", name,
              WithLabels(e->labels,
                         "le=\"" + FormatBound(h.bounds()[i]) + "\""),
              h.CumulativeCount(i));
        }
        const uint64_t total = h.CumulativeCount(h.bounds().size());
        out += fmt::format("{}_bucket{} {}\n", name,
                           WithLabels(e->labels, "le=\"+Inf\""), total);
        out += fmt::format("{}_sum{} {}\n", name, WithLabels(e->labels, ""),
                           h.Sum());
        out += fmt::format("{}_count{} {}\n", name, WithLabels(e->labels, ""),
                           total);
      } else {
        out += fmt::format("{}{} {}\n", name, WithLabels(e->labels, ""),
                           e->gauge());
      }
    }
  }
  return out;
}

}  // namespace agentry
