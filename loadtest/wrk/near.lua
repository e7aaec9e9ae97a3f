-- Random centres, 100 km radius: GET /points?near=...&radius=100000&limit=100
math.randomseed(7)
request = function()
  local lon = math.random() * 360 - 180
  local lat = math.random() * 180 - 90
  local path = string.format("/points?near=%.4f,%.4f&radius=100000&limit=100", lon, lat)
  return wrk.format("GET", path)
end
