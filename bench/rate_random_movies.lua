-- wrk script: PATCH /api/movie/{id}/meta with a random rating of a random
-- movie, as the user of $TOKEN; the ids come from the file $IDS_FILE (one
-- per line). Used by api_load.sh, engine_write_latency.sh and rating_ab.sh.
local ids = {}
for line in io.lines(os.getenv("IDS_FILE")) do ids[#ids + 1] = line end
wrk.method = "PATCH"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
request = function()
    local id = ids[math.random(#ids)]
    return wrk.format(nil, "/api/movie/" .. id .. "/meta", nil, '{"rating": ' .. math.random(0, 5) .. '}')
end
