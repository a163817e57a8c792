// A float32 weight array that owns its storage or borrows another array's. Training threads
// get models whose sparsely written arrays are borrowed from the shared model and whose
// densely written ones are private copies (see Model::thread_view).
#pragma once

#include <cstddef>
#include <vector>

namespace rnnlm {

class WeightArray {
 public:
  WeightArray() = default;
  // Copies are deep: a copy owns its data even if the source borrowed.
  WeightArray(const WeightArray& o) : storage_(o.data_, o.data_ + o.size_), data_(storage_.data()), size_(o.size_) {}
  WeightArray& operator=(const WeightArray& o) {
    if (this != &o) {
      storage_.assign(o.data_, o.data_ + o.size_);
      data_ = storage_.data();
      size_ = o.size_;
    }
    return *this;
  }
  WeightArray(WeightArray&& o) noexcept { *this = std::move(o); }
  WeightArray& operator=(WeightArray&& o) noexcept {
    const bool owned = o.data_ == o.storage_.data();
    storage_ = std::move(o.storage_);
    data_ = owned ? storage_.data() : o.data_;
    size_ = o.size_;
    o.data_ = nullptr;
    o.size_ = 0;
    return *this;
  }

  // Owns n copies of `value`.
  void assign(std::size_t n, float value) {
    storage_.assign(n, value);
    data_ = storage_.data();
    size_ = n;
  }
  // Uses `other`'s data from now on (it must outlive this array).
  void borrow(WeightArray& other) {
    storage_ = std::vector<float>();
    data_ = other.data_;
    size_ = other.size_;
  }

  float* data() { return data_; }
  const float* data() const { return data_; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  float& operator[](std::size_t i) { return data_[i]; }
  float operator[](std::size_t i) const { return data_[i]; }
  float* begin() { return data_; }
  float* end() { return data_ + size_; }
  const float* begin() const { return data_; }
  const float* end() const { return data_ + size_; }

 private:
  std::vector<float> storage_;
  float* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace rnnlm
