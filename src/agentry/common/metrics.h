// Prometheus-style metrics: lock-free counters and fixed-bucket histograms,
// and a registry that renders the text exposition format.
//
// Counter and Histogram are thread-safe (relaxed atomics). Metrics are
// registered at start-up and live as long as the registry; the registry's
// Register* and Render are thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace agentry {

class Counter {
 public:
  void Add(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Histogram {
 public:
  // `bounds` are the upper bounds of the buckets, ascending.
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);

  const std::vector<double>& bounds() const { return bounds_; }
  // Cumulative count of observations <= bounds()[i]; i == bounds().size()
  // gives the total count.
  uint64_t CumulativeCount(size_t i) const;
  double Sum() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1
  std::atomic<uint64_t> sum_micro_{0};                // sum scaled by 1e6
};

// Renders every registered metric. Labels are given pre-rendered
// (`route="/v1/agents",method="GET"`); values must already be escaped.
class MetricsRegistry {
 public:
  MetricsRegistry();
  ~MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // The returned metric lives as long as the registry.
  Counter* AddCounter(std::string name, std::string help, std::string labels);
  Histogram* AddHistogram(std::string name, std::string help,
                          std::string labels, std::vector<double> bounds);
  // A gauge read at render time.
  void AddGauge(std::string name, std::string help, std::string labels,
                std::function<double()> read);

  std::string Render() const;

  // Escapes a label value (backslash, quote, newline).
  static std::string EscapeLabel(std::string_view v);

 private:
  struct Entry;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Entry>> entries_;  // GUARDED_BY(mu_)
};

}  // namespace agentry
