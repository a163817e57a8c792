// Enumerations whose values index a table of names (cells, class methods): the one lookup
// in each direction, so each table is the only list of its names.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

namespace rnnlm {

// The value named `name`, or nothing.
template <typename Enum, std::size_t N>
std::optional<Enum> enum_from_name(const std::array<const char*, N>& names, std::string_view name) {
  for (std::size_t i = 0; i < N; ++i) {
    if (name == names[i]) return static_cast<Enum>(i);
  }
  return std::nullopt;
}

// The name of `value` ("?" outside the table).
template <typename Enum, std::size_t N>
const char* enum_name(const std::array<const char*, N>& names, Enum value) {
  const auto i = static_cast<std::size_t>(value);
  return i < N ? names[i] : "?";
}

}  // namespace rnnlm
