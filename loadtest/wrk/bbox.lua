-- Random 1°x1° boxes anywhere on Earth: GET /points?bbox=...&limit=100
math.randomseed(42)
request = function()
  local lon = math.random() * 358 - 180
  local lat = math.random() * 178 - 90
  local path = string.format("/points?bbox=%.4f,%.4f,%.4f,%.4f&limit=100", lon, lat, lon + 1, lat + 1)
  return wrk.format("GET", path)
end
