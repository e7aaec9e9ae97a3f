-- POST /point with random coordinates, the guide's write.
math.randomseed(11)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  local body = string.format('{"name":"bench","longitude":%.5f,"latitude":%.5f}',
    math.random() * 360 - 180, math.random() * 180 - 90)
  return wrk.format(nil, "/point", nil, body)
end
